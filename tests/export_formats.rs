//! Exports the field's own tools read: the labelled Zeek conn.log (read back by zat and
//! parsezeeklogs, and by labelbench's own `zeek` source), byte-identical re-runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{
    bin, epoch_text_ns, export_csv, have_python, real_lab_project, run_ok, script,
};

fn lab(dir: &Path) -> Option<PathBuf> {
    real_lab_project(
        dir,
        &[
            "ifttt:ifttt-events.csv",
            "smartthings:smartthings-events.csv",
            "notifications-csv:android-events.csv",
        ],
    )
}

/// On the real lab: zat reads every IP flow of flows.csv from the conn.log with the same
/// times, counts, Community IDs and devices, and the labels the documented rule gives when
/// recomputed from features.csv and devices.csv; parsezeeklogs reads as many rows.
#[test]
fn the_conn_log_reads_back_with_zeek_tools() {
    let dir = tempfile::tempdir().unwrap();
    let Some(proj) = lab(dir.path()) else { return };
    let out = dir.path().join("out");
    export_csv(&proj, &out);
    if !have_python(&["pandas", "zat", "parsezeeklogs"]) {
        return;
    }
    let o = Command::new("python3")
        .arg(script("conn_log_check.py"))
        .arg(&out)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert!(v["rows"].as_u64().unwrap() > 300, "{v}");
    assert!(v["labelled"].as_u64().unwrap() > 20, "{v}");
    assert_eq!(v["parsezeeklogs_rows"], v["rows"], "{v}");
    // And on the bundled sample (a simulated day, hub children, ten devices).
    let sample = dir.path().join("sample");
    std::fs::create_dir(&sample).unwrap();
    let proj = crate::gui::sample_copy(&sample);
    let out = dir.path().join("sample-out");
    export_csv(&proj, &out);
    let v = check("conn_log_check.py", &out, &[]);
    assert!(v["rows"].as_u64().unwrap() > 1000, "{v}");
    assert!(v["labelled"].as_u64().unwrap() > 100, "{v}");
}

/// labelbench's own `zeek` source reads the conn.log back: one event per class of each
/// labelled flow, at the flow's start to the microsecond, on the flow's device.
#[test]
fn the_conn_log_reads_back_as_a_zeek_source() {
    use labelbench::labels::{load_source, SourceSpec};
    let dir = tempfile::tempdir().unwrap();
    let Some(proj) = lab(dir.path()) else { return };
    let out = dir.path().join("out");
    export_csv(&proj, &out);
    let log = out.join("flows.conn.log");
    let registry = labelbench::traffic::devices::Registry::load(
        &crate::common::real()
            .unwrap()
            .join("fit-iot-dataset/devices.json"),
    )
    .unwrap();
    let spec = SourceSpec::parse_cli(&format!("zeek:{}", log.display())).unwrap();
    let (events, load) = load_source(&spec, &log, 0, &registry, &Default::default()).unwrap();
    assert!(
        load.errors.is_empty(),
        "{:?}",
        &load.errors[..load.errors.len().min(3)]
    );
    // The rows as written, split by hand.
    let text = std::fs::read_to_string(&log).unwrap();
    let fields: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("#fields\t"))
        .unwrap()
        .split('\t')
        .collect();
    let col = |n: &str| fields.iter().position(|f| *f == n).unwrap();
    let mut want: Vec<(i64, String, String)> = Vec::new();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let r: Vec<&str> = l.split('\t').collect();
        if r[col("label")] == "-" {
            continue;
        }
        let (s, us) = r[col("ts")].split_once('.').unwrap();
        let ns = s.parse::<i64>().unwrap() * 1_000_000_000 + us.parse::<i64>().unwrap() * 1000;
        for class in r[col("label")].split(',') {
            want.push((ns, r[col("device")].to_string(), class.to_string()));
        }
    }
    let mut got: Vec<(i64, String, String)> = events
        .iter()
        .map(|e| (e.original_ns, e.device_text.clone(), e.class.clone()))
        .collect();
    want.sort();
    got.sort();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    assert!(events
        .iter()
        .all(|e| e.device != labelbench::traffic::NO_DEVICE));
}

/// The same inputs and journal export to byte-identical files, in CSV and in Parquet.
#[test]
fn exports_are_byte_identical_when_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let proj = crate::gui::sample_copy(dir.path());
    for format in ["csv", "parquet"] {
        let outs: Vec<PathBuf> = (0..2)
            .map(|k| dir.path().join(format!("{format}-{k}")))
            .collect();
        for o in &outs {
            run_ok(
                Command::new(bin())
                    .arg("export")
                    .arg(&proj)
                    .arg("--out")
                    .arg(o)
                    .args(["--format", format]),
            );
        }
        let mut names: Vec<String> = std::fs::read_dir(&outs[0])
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        assert!(names.contains(&"flows.conn.log".to_string()), "{names:?}");
        for n in &names {
            let a = std::fs::read(outs[0].join(n)).unwrap();
            let b = std::fs::read(outs[1].join(n)).unwrap();
            assert!(a == b, "{format}: {n} differs between two exports");
        }
    }
}

/// Runs a check script on an export; its JSON summary.
fn check(script_name: &str, out: &Path, extra: &[&str]) -> serde_json::Value {
    let o = Command::new("python3")
        .arg(script(script_name))
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    let last = text.lines().last().unwrap_or("");
    assert!(
        o.status.success(),
        "{script_name}: {text}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(last).unwrap()
}

/// The dataset card: mlcroissant validates croissant.json and loads every record set with the
/// row count of its table, in CSV and in Parquet; README.md names the sources, the curation
/// counts with the journal's hash, the classes and the window.
#[test]
fn the_dataset_card_validates_and_loads_with_mlcroissant() {
    let dir = tempfile::tempdir().unwrap();
    let Some(proj) = lab(dir.path()) else { return };
    for format in ["csv", "parquet"] {
        let out = dir.path().join(format);
        run_ok(
            Command::new(bin())
                .arg("export")
                .arg(&proj)
                .arg("--out")
                .arg(&out)
                .args(["--format", format]),
        );
        let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
        for want in [
            "## Label sources and curation",
            "America/New_York",
            "smartthings-events.csv",
            "## Classes by device",
            "| schlage-lock-01 | lock |",
            "[t − 5 s, t + 25 s]",
            "fill in the licence",
        ] {
            assert!(readme.contains(want), "{want:?} not in README.md");
        }
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        let outputs = manifest["outputs"].as_array().unwrap();
        for f in [
            "README.md",
            "croissant.json",
            "flows.conn.log",
            &format!("events.{format}"),
        ] {
            let o = outputs
                .iter()
                .find(|o| o["file"] == f)
                .unwrap_or_else(|| panic!("{f}"));
            assert_eq!(o["sha256"].as_str().unwrap().len(), 64);
        }
        if !have_python(&["mlcroissant", "pandas", "pyarrow"]) {
            return;
        }
        let v = check("croissant_check.py", &out, &[]);
        assert_eq!(
            v["record_sets"]["events"],
            manifest["rows"][format!("events.{format}")]
        );
        assert_eq!(
            v["record_sets"]["flows"],
            manifest["rows"][format!("flows.{format}")]
        );
    }
}

/// Parquet that every engine reads right: pyarrow, polars and a local Spark session see the
/// same rows and the same UTC microsecond timestamps, equal to the exact `_ns` columns, and
/// the files carry labelbench's version and the dataset's hash.
#[test]
fn parquet_timestamps_read_the_same_in_pyarrow_polars_and_spark() {
    let dir = tempfile::tempdir().unwrap();
    let proj = crate::gui::sample_copy(dir.path());
    let out = dir.path().join("out");
    run_ok(
        Command::new(bin())
            .arg("export")
            .arg(&proj)
            .arg("--out")
            .arg(&out)
            .args(["--format", "parquet"]),
    );
    if !have_python(&["pyarrow", "polars", "pyspark"]) {
        return;
    }
    let v = check("parquet_engines.py", &out, &[]);
    let events = &v["tables"]["events.parquet"];
    assert!(events["rows"].as_u64().unwrap() > 100, "{v}");
    assert_eq!(events["spark_rows"], events["rows"], "{v}");
}

/// `tshark -T fields` rows of a capture: (time in ns, frame length, captured length, MD5 of the
/// bytes, comment).
fn tshark_frames(path: &Path, filter: Option<&str>) -> Vec<(i64, u32, u32, String, String)> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(path)
        .args(["-o", "frame.generate_md5_hash:TRUE", "-T", "fields"]);
    for f in [
        "frame.time_epoch",
        "frame.len",
        "frame.cap_len",
        "frame.md5_hash",
        "frame.comment",
    ] {
        cmd.args(["-e", f]);
    }
    if let Some(f) = filter {
        cmd.args(["-Y", f]);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                epoch_text_ns(f[0]),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].to_string(),
                f.get(4).unwrap_or(&"").to_string(),
            )
        })
        .collect()
}

/// Annotated pcapng on the real lab: per device, tshark reads the same packets (times, lengths,
/// bytes) as from the source capture filtered by the device's MAC, and exactly the packets
/// inside an exported event's window (recomputed from features.csv) carry a comment naming
/// each such event.
#[test]
fn annotated_pcapng_carries_the_labels_tshark_shows() {
    let dir = tempfile::tempdir().unwrap();
    let Some(proj) = lab(dir.path()) else { return };
    if !crate::common::have_tshark() {
        return;
    }
    let out = dir.path().join("out");
    run_ok(
        Command::new(bin())
            .arg("export")
            .arg(&proj)
            .arg("--out")
            .arg(&out)
            .args(["--format", "csv", "--pcapng", "--pcap-slices"]),
    );
    // Per-event slices are annotated pcapng too: every packet names its slice's event.
    let mut slices = 0;
    for f in std::fs::read_dir(out.join("slices")).unwrap() {
        let p = f.unwrap().path();
        assert_eq!(p.extension().unwrap(), "pcapng", "{}", p.display());
        let id = p
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .rsplit('_')
            .next()
            .unwrap()
            .to_string();
        for (_, _, _, _, comment) in tshark_frames(&p, None) {
            assert!(
                comment.contains(&format!("labelbench event {id} ")),
                "{comment}"
            );
        }
        slices += 1;
    }
    assert!(slices > 50, "{slices}");
    let feats = std::fs::read_to_string(out.join("features.csv")).unwrap();
    let real = crate::common::real().unwrap().join("fit-iot-dataset");
    let registry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(real.join("devices.json")).unwrap()).unwrap();
    let mut labelled_total = 0;
    for device in ["blink-cam-01", "schlage-lock-01"] {
        let mac = registry["devices"][device]["ether"]
            .as_str()
            .unwrap()
            .to_string();
        let windows: Vec<(i64, i64, String)> = feats
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<&str>>())
            .filter(|f| f[1] == device)
            .map(|f| {
                (
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                    f[0].to_string(),
                )
            })
            .collect();
        let got = tshark_frames(&out.join(format!("pcapng/{device}.pcapng")), None);
        let src = tshark_frames(
            &real.join(format!("pcaps/{device}.pcap")),
            Some(&format!("eth.addr == {mac}")),
        );
        assert_eq!(got.len(), src.len(), "{device}");
        let strip = |v: &[(i64, u32, u32, String, String)]| -> Vec<(i64, u32, u32, String)> {
            v.iter().map(|x| (x.0, x.1, x.2, x.3.clone())).collect()
        };
        assert!(
            strip(&got) == strip(&src),
            "{device}: packets differ from the source"
        );
        for (ns, _, _, _, comment) in &got {
            let mut want: Vec<&str> = windows
                .iter()
                .filter(|w| w.0 <= *ns && *ns <= w.1)
                .map(|w| w.2.as_str())
                .collect();
            want.sort();
            let mut ids: Vec<&str> = comment
                .split("labelbench event ")
                .filter_map(|c| c.split_whitespace().next())
                .collect();
            ids.sort();
            assert_eq!(ids, want, "{device} packet at {ns}: {comment:?}");
            labelled_total += usize::from(!want.is_empty());
        }
    }
    assert!(labelled_total > 1000, "{labelled_total}");
    // tshark's own filter finds those packets and no others.
    let n = tshark_frames(
        &out.join("pcapng/schlage-lock-01.pcapng"),
        Some("frame.comment"),
    )
    .len();
    assert!(n > 100, "{n}");
}
