//! Opening what a lab actually has: its registry as a Python file, Git LFS pointers in place
//! of captures, Zeek logs, logs whose kind is sniffed from their content, a whole folder.

use std::path::Path;
use std::process::Command;

use labelbench::traffic::devices::Registry;

use crate::common::{bin, real, run_bad, run_ok};

/// The lab's `devices/devices.py`, read without running it, is the registry `devices.json`
/// (derived from it) gives: the same devices, MACs, addresses, descriptions and hubs.
#[test]
fn the_labs_devices_py_is_the_registry_devices_json_gives() {
    let Some(r) = real() else { return };
    let lab = r.join("fit-iot-dataset");
    let py = Registry::load(&lab.join("devices/devices.py")).unwrap();
    let json = Registry::load(&lab.join("devices.json")).unwrap();
    assert!(py.len() > 50, "{} devices", py.len());
    assert_eq!(py.devices, json.devices);
}

/// A file that is no registry says what a registry may be; Python code is refused at its
/// line, not run.
#[test]
fn a_file_that_is_no_registry_says_what_is_expected() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "our lab's devices\n").unwrap();
    let e = Registry::load(&notes).unwrap_err().to_string();
    assert!(e.contains("notes.txt") && e.contains("devices.py"), "{e}");
    let code = dir.path().join("devices.py");
    let marker = dir.path().join("ran");
    std::fs::write(
        &code,
        format!(
            "import os\nos.system('touch {}')\ndevices = {{}}\n",
            marker.display()
        ),
    )
    .unwrap();
    let e = Registry::load(&code).unwrap_err().to_string();
    assert!(e.contains("devices.py:1") || e.contains("line 1"), "{e}");
    assert!(e.contains("not a literal assignment"), "{e}");
    assert!(!marker.exists());
    // The same through `new`: exit code 2, the file and line named.
    let cap = dir.path().join("c.pcap");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/pcaps/capture-20210308-05.pcap"),
        &cap,
    )
    .unwrap();
    let err = run_bad(
        Command::new(bin())
            .arg("new")
            .arg(dir.path().join("p.labelbench.json"))
            .arg("--capture")
            .arg(&cap)
            .arg("--devices")
            .arg(&code),
    );
    assert!(err.contains("not a literal assignment"), "{err}");
    let _ = run_ok;
}

const LFS_POINTER: &str = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 61236372\n";

/// A Git LFS pointer in place of a capture is named as one with the way to fetch it; a
/// project whose captures all fail to read is an error, not a quiet success.
#[test]
fn git_lfs_pointers_are_named_and_an_unreadable_project_fails() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pointer = d.join("wyze-cam-01.pcap");
    std::fs::write(&pointer, LFS_POINTER).unwrap();
    let real_cap = d.join("blink.pcap");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/pcaps/capture-20210308-05.pcap"),
        &real_cap,
    )
    .unwrap();
    let new = |name: &str, caps: &[&Path]| {
        let mut c = Command::new(bin());
        c.arg("new").arg(d.join(name));
        for p in caps {
            c.arg("--capture").arg(p);
        }
        c
    };
    let e = run_bad(&mut new("only.labelbench.json", &[&pointer]));
    assert!(
        e.contains("Git LFS pointer") && e.contains("git lfs pull"),
        "{e}"
    );
    assert!(e.contains("58.4 MB") || e.contains("61.2 MB"), "{e}");
    assert!(!d.join("only.labelbench.json").exists());
    let out = run_ok(&mut new("both.labelbench.json", &[&pointer, &real_cap]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("warning") && text.contains("wyze-cam-01.pcap"),
        "{text}"
    );
    // inspect reads the capture and names the pointer among its warnings.
    let out = run_ok(
        Command::new(bin())
            .arg("inspect")
            .arg(d.join("both.labelbench.json"))
            .arg("--no-cache"),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Git LFS pointer"), "{text}");
    // Once the real capture is a pointer too, nothing can be read: exit code 2.
    std::fs::write(&real_cap, LFS_POINTER).unwrap();
    let e = run_bad(
        Command::new(bin())
            .arg("inspect")
            .arg(d.join("both.labelbench.json"))
            .arg("--no-cache"),
    );
    assert!(e.contains("none of the project's 2 capture files"), "{e}");
    assert!(e.contains("Git LFS pointer"), "{e}");
}

/// IoT-23's labelled conn.log (TSV whose last three fields are joined by three spaces) reads as
/// one event per flow at its exact `ts`, lasting its `duration`, on the registry device with
/// the flow's address; the same rows as Zeek JSON lines read as the same events.
#[test]
fn iot23_zeek_logs_read_as_tsv_and_as_json_lines() {
    use labelbench::labels::{load_source, SourceKind, SourceSpec};
    use std::collections::BTreeMap;
    let Some(r) = real() else { return };
    let log = r.join("iot23/conn.log.labeled");
    let dir = tempfile::tempdir().unwrap();
    let reg_path = dir.path().join("devices.csv");
    std::fs::write(
        &reg_path,
        "name,mac,ip,description,hub\nhue-bridge,00:17:88:00:00:01,192.168.1.132,Philips Hue bridge,\n",
    )
    .unwrap();
    let registry = Registry::load(&reg_path).unwrap();
    let spec = SourceSpec::parse_cli(&format!("zeek:{}", log.display())).unwrap();
    let (events, load) = load_source(&spec, &log, 0, &registry, &BTreeMap::new()).unwrap();
    assert!(load.errors.is_empty(), "{:?}", load.errors);
    // Independent of the reader: the data lines of the file, split the way IoT-23 writes them.
    let text = std::fs::read_to_string(&log).unwrap();
    let fields: Vec<&str> = text
        .lines()
        .find_map(|l| l.strip_prefix("#fields\t"))
        .unwrap()
        .split(['\t', ' '])
        .filter(|f| !f.is_empty())
        .collect();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['\t', ' ']).filter(|f| !f.is_empty()).collect())
        .collect();
    assert_eq!(rows.len(), 452);
    assert_eq!(events.len(), 452);
    let col = |name: &str| fields.iter().position(|f| *f == name).unwrap();
    let mut expect: Vec<(i64, String, i64)> = rows
        .iter()
        .map(|row| {
            let ts = row[col("ts")];
            let (s, us) = ts.split_once('.').unwrap();
            let ns = s.parse::<i64>().unwrap() * 1_000_000_000 + us.parse::<i64>().unwrap() * 1000;
            let dur = match row[col("duration")] {
                "-" => 0,
                d => (d.parse::<f64>().unwrap() * 1e9).round() as i64,
            };
            (ns, row[col("label")].to_string(), dur)
        })
        .collect();
    expect.sort();
    let mut got: Vec<(i64, String, i64)> = events
        .iter()
        .map(|e| (e.original_ns, e.class.clone(), e.duration_ns))
        .collect();
    got.sort();
    assert_eq!(got, expect);
    assert!(events
        .iter()
        .all(|e| registry.devices[e.device as usize].name == "hue-bridge"));

    // The same rows as Zeek's JSON lines (its `LogAscii::use_json` form).
    let json: String = rows
        .iter()
        .map(|row| {
            let mut o = serde_json::Map::new();
            for (f, v) in fields.iter().zip(row) {
                if *v == "-" {
                    continue;
                }
                let value = match *f {
                    "ts" | "duration" => serde_json::Value::Number(
                        serde_json::Number::from_f64(v.parse().unwrap()).unwrap(),
                    ),
                    _ => serde_json::Value::String(v.to_string()),
                };
                o.insert(f.to_string(), value);
            }
            serde_json::Value::Object(o).to_string() + "\n"
        })
        .collect();
    let jpath = dir.path().join("conn.json");
    std::fs::write(&jpath, json).unwrap();
    let spec = SourceSpec::parse_cli(&format!("zeek:{}", jpath.display())).unwrap();
    assert_eq!(spec.kind, SourceKind::Zeek);
    let (jevents, load) = load_source(&spec, &jpath, 0, &registry, &BTreeMap::new()).unwrap();
    assert!(load.errors.is_empty(), "{:?}", load.errors);
    let mut jgot: Vec<(i64, String, u16)> = jevents
        .iter()
        .map(|e| (e.original_ns, e.class.clone(), e.device))
        .collect();
    jgot.sort();
    let mut tgot: Vec<(i64, String, u16)> = events
        .iter()
        .map(|e| (e.original_ns, e.class.clone(), e.device))
        .collect();
    tgot.sort();
    assert_eq!(jgot, tgot);
}

/// A Zeek log without the named label column, and a row with too few fields, are named by
/// file and line; the other rows still load.
#[test]
fn zeek_logs_with_bad_rows_name_the_line() {
    use labelbench::labels::{load_source, SourceSpec};
    use std::collections::BTreeMap;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("conn.log");
    std::fs::write(
        &p,
        "#separator \\x09\n#unset_field\t-\n#fields\tts\tid.orig_h\tduration\tlabel\n\
         1540469302.538640\t10.0.0.1\t0.5\ton\n1540469303\t10.0.0.1\n\
         1540469304.25\t10.0.0.2\t-\toff\n",
    )
    .unwrap();
    let registry = Registry::default();
    let spec = SourceSpec::parse_cli(&format!("zeek:{}", p.display())).unwrap();
    let (events, load) = load_source(&spec, &p, 0, &registry, &BTreeMap::new()).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(load.errors.len(), 1);
    assert_eq!(load.errors[0].line, 5);
    assert_eq!(events[1].duration_ns, 0);
    assert_eq!(events[0].duration_ns, 500_000_000);
    let none = dir.path().join("nolabel.log");
    std::fs::write(&none, "#fields\tts\tid.orig_h\n1\t10.0.0.1\n").unwrap();
    let spec = SourceSpec::parse_cli(&format!("zeek:{}", none.display())).unwrap();
    let (events, load) = load_source(&spec, &none, 0, &registry, &BTreeMap::new()).unwrap();
    assert!(events.is_empty());
    assert!(
        load.errors[0].reason.contains("no label column"),
        "{:?}",
        load.errors
    );
}

/// Every log in `../shared/real/` and the sample is told its right kind from its content, and
/// `new --source PATH` without a kind prints the kind and why.
#[test]
fn each_real_and_sample_log_is_told_its_kind() {
    use labelbench::labels::sniff::sniff_file;
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/labels");
    let mut cases = vec![
        (sample.join("ifttt-actions.csv"), "ifttt-trigger"),
        (sample.join("ifttt-events.csv"), "ifttt"),
        (sample.join("notifications.jsonl"), "notifications-jsonl"),
        (sample.join("smartthings-events.csv"), "smartthings"),
    ];
    if let Some(r) = real() {
        let lab = r.join("fit-iot-dataset/labels");
        cases.extend([
            (lab.join("ifttt-actions.csv"), "ifttt-trigger"),
            (lab.join("ifttt-events.csv"), "ifttt"),
            (lab.join("android-events.csv"), "notifications-csv"),
            (lab.join("smartthings-events.csv"), "smartthings"),
            (r.join("iot23/conn.log.labeled"), "zeek"),
            (r.join("moniotr/exp_list.txt"), "experiments"),
            (r.join("moniotr/sample-result.csv"), "csv"),
        ]);
    }
    for (path, kind) in &cases {
        let s = sniff_file(path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.kind.as_str(), *kind, "{}: {}", path.display(), s.why);
        assert!(!s.why.is_empty());
    }
    // Mon(IoT)r's result table: epoch seconds in `ts`, the device, the activity in `state`.
    if let Some(r) = real() {
        let s = sniff_file(&r.join("moniotr/sample-result.csv")).unwrap();
        let c = s.csv.unwrap();
        assert_eq!(
            (c.time.as_str(), c.device.as_str(), c.class.as_str()),
            ("ts", "device", "state")
        );
        assert_eq!(c.time_format, "epoch");
    }
    // Through `new`: the kind and the reason are printed, and the project keeps the kind.
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("p.labelbench.json");
    let out = run_ok(
        Command::new(bin())
            .arg("new")
            .arg(&proj)
            .arg("--capture")
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("sample-data/pcaps/capture-20210308-05.pcap"),
            )
            .arg("--source")
            .arg(format!(
                "{}@America/New_York",
                sample.join("ifttt-actions.csv").display()
            ))
            .arg("--source")
            .arg(format!(
                "notifications-csv:{}",
                sample.join("smartthings-events.csv").display()
            )),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("kind told from its content") && text.contains("15-minute grid"),
        "{text}"
    );
    assert!(text.contains("kind as given"), "{text}");
    let p: serde_json::Value = serde_json::from_slice(&std::fs::read(&proj).unwrap()).unwrap();
    assert_eq!(p["sources"][0]["kind"], "ifttt-trigger");
    assert_eq!(p["sources"][0]["tz"], "America/New_York");
    assert_eq!(p["sources"][1]["kind"], "notifications-csv");
    // A file whose kind cannot be told says so and asks for KIND:PATH.
    let odd = dir.path().join("odd.csv");
    std::fs::write(&odd, "a,b,c\n1,2,3\n").unwrap();
    let e = run_bad(
        Command::new(bin())
            .arg("new")
            .arg(dir.path().join("q.labelbench.json"))
            .arg("--capture")
            .arg(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("sample-data/pcaps/capture-20210308-05.pcap"),
            )
            .arg("--source")
            .arg(&odd),
    );
    assert!(e.contains("odd.csv") && e.contains("KIND:PATH"), "{e}");
}

/// A generic CSV's columns are given on the command line and stored in the project.
#[test]
fn csv_columns_are_given_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.csv");
    std::fs::write(&log, "when;host;what\n1615190150.5;kasa-cam-01;motion\n").unwrap();
    // Semicolons are no CSV the reader splits: the whole line is one column, and the header
    // lacks the named columns.
    let proj = dir.path().join("p.labelbench.json");
    let cap =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data/pcaps/capture-20210308-05.pcap");
    let e = run_bad(
        Command::new(bin())
            .arg("new")
            .arg(&proj)
            .arg("--capture")
            .arg(&cap)
            .arg("--source")
            .arg(format!("csv:{}", log.display()))
            .args([
                "--time-col",
                "when",
                "--device-col",
                "host",
                "--class-col",
                "what",
            ]),
    );
    assert!(e.contains("events.csv") && e.contains("when"), "{e}");
    std::fs::write(&log, "when,host,what\n1615190150.5,kasa-cam-01,motion\n").unwrap();
    run_ok(
        Command::new(bin())
            .arg("new")
            .arg(&proj)
            .arg("--capture")
            .arg(&cap)
            .arg("--source")
            .arg(format!("csv:{}@Europe/Prague", log.display()))
            .args([
                "--time-col",
                "when",
                "--device-col",
                "host",
                "--class-col",
                "what",
            ])
            .args(["--time-format", "epoch"]),
    );
    let p: serde_json::Value = serde_json::from_slice(&std::fs::read(&proj).unwrap()).unwrap();
    let c = &p["sources"][0]["csv"];
    assert_eq!(c["time"], "when");
    assert_eq!(c["device"], "host");
    assert_eq!(c["class"], "what");
    assert_eq!(c["time_format"], "epoch");
    let s = crate::common::open_journaled(&proj);
    assert_eq!(s.labels.events.len(), 1);
    assert_eq!(s.labels.events[0].original_ns, 1_615_190_150_500_000_000);
    assert_eq!(s.labels.events[0].class, "motion");
}

/// `new --from` on the lab's repository as cloned (pcaps/, labels/, devices/devices.py, a Git
/// LFS pointer and the paper) writes the project built by hand from the same files, and lists
/// every file it left out with the reason.
#[test]
fn a_cloned_lab_folder_opens_in_one_command() {
    let Some(r) = real() else { return };
    let lab = r.join("fit-iot-dataset");
    let dir = tempfile::tempdir().unwrap();
    let clone = dir.path().join("IoT-Dataset");
    for sub in ["pcaps", "labels", "devices", ".git"] {
        std::fs::create_dir_all(clone.join(sub)).unwrap();
    }
    let copy = |from: &str, to: &str| std::fs::copy(lab.join(from), clone.join(to)).unwrap();
    copy("pcaps/blink-cam-01.pcap", "pcaps/blink-cam-01.pcap");
    copy("pcaps/schlage-lock-01.pcap", "pcaps/schlage-lock-01.pcap");
    copy("devices/devices.py", "devices/devices.py");
    let logs = [
        "ifttt-events",
        "ifttt-actions",
        "smartthings-events",
        "android-events",
    ];
    for l in logs {
        copy(&format!("labels/{l}.csv"), &format!("labels/{l}.csv"));
    }
    std::fs::write(clone.join("pcaps/wyze-cam-01.pcap"), LFS_POINTER).unwrap();
    std::fs::write(clone.join("paper.pdf"), b"%PDF-1.5\n%binary\n").unwrap();
    std::fs::write(clone.join("README.md"), "# IoT-Dataset\n").unwrap();
    std::fs::write(clone.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();

    let from = dir.path().join("from.labelbench.json");
    let out = run_ok(
        Command::new(bin())
            .arg("new")
            .arg(&from)
            .arg("--from")
            .arg(&clone)
            .args(["--tz", "America/New_York"]),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "wyze-cam-01.pcap: a Git LFS pointer",
        "paper.pdf: a PDF document",
        "README.md: documentation",
        ".git: a hidden folder",
        "devices from IoT-Dataset/devices/devices.py",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
    let hand = dir.path().join("hand.labelbench.json");
    let kinds = [
        ("ifttt", "ifttt-events"),
        ("ifttt-trigger", "ifttt-actions"),
        ("smartthings", "smartthings-events"),
        ("notifications-csv", "android-events"),
    ];
    let mut cmd = Command::new(bin());
    cmd.arg("new")
        .arg(&hand)
        .arg("--capture")
        .arg(clone.join("pcaps/blink-cam-01.pcap"))
        .arg("--capture")
        .arg(clone.join("pcaps/schlage-lock-01.pcap"))
        .arg("--devices")
        .arg(clone.join("devices/devices.py"));
    for (k, f) in kinds {
        cmd.arg("--source").arg(format!(
            "{k}:{}@America/New_York",
            clone.join(format!("labels/{f}.csv")).display()
        ));
    }
    run_ok(&mut cmd);
    let a = crate::common::open_journaled(&from);
    let b = crate::common::open_journaled(&hand);
    assert_eq!(a.registry.devices, b.registry.devices);
    assert_eq!(a.traffic.packets.len(), b.traffic.packets.len());
    assert_eq!(a.traffic.packets.len(), 11_150 + 24_022);
    let key = |s: &labelbench::project::session::Session| {
        let mut v: Vec<(i64, String, String, &'static str)> = s
            .labels
            .events
            .iter()
            .map(|e| {
                (
                    e.original_ns,
                    s.event_device_name(e).to_string(),
                    e.class.clone(),
                    s.source_kind_str(e),
                )
            })
            .collect();
        v.sort();
        v
    };
    let (ka, kb) = (key(&a), key(&b));
    assert_eq!(ka.len(), 613 + 4_944 + 5_561 + 6_336);
    assert!(ka == kb, "the events differ");
}
