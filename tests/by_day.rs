//! Days and slices of a traffic dataset. `export --by-day`: a project exported a UTC day at a
//! time gives the rows of an export at once: events, features, devices, and flows (carried
//! over midnight) written in daily parts. `inspect --from/--to`: one slice's counts.

use std::path::Path;
use std::process::Command;

use polars::prelude::*;

use crate::common::{bin, have_python, run_bad, run_ok, script};
use crate::scale::{as_traffic_dataset, read_table};
use labelbench::traffic::dataset::TrafficFilter;

/// Every part of `dir/flows/`, stacked and ordered by `flow_id`.
fn flow_parts(dir: &Path) -> (DataFrame, usize) {
    let mut parts: Vec<_> = std::fs::read_dir(dir.join("flows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    parts.sort();
    let mut all: Option<DataFrame> = None;
    for p in &parts {
        let df = ParquetReader::new(std::fs::File::open(p).unwrap())
            .finish()
            .unwrap();
        match &mut all {
            None => all = Some(df),
            Some(a) => {
                a.vstack_mut(&df).unwrap();
            }
        }
    }
    let all = all.unwrap();
    let ids: Vec<u64> = all
        .column("flow_id")
        .unwrap()
        .u64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let mut order: Vec<IdxSize> = (0..ids.len() as IdxSize).collect();
    order.sort_by_key(|&i| ids[i as usize]);
    let sorted = all.take(&IdxCa::from_vec("i".into(), order)).unwrap();
    (sorted, parts.len())
}

/// The data rows of conn logs, ordered by their `flow_id` column.
fn conn_rows(paths: &[std::path::PathBuf]) -> Vec<String> {
    let mut rows: Vec<String> = paths
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    rows.sort_by_key(|l| l.split('\t').nth(15).unwrap().parse::<u64>().unwrap());
    rows
}

fn export(project: &Path, out: &Path, extra: &[&str]) {
    run_ok(
        Command::new(bin())
            .arg("export")
            .arg(project)
            .arg("--out")
            .arg(out)
            .args(extra),
    );
}

#[test]
fn a_by_day_export_equals_the_export_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 6, 3, 5, Some(20_000));
    let (_, tp) = as_traffic_dataset(&r.project);
    // Curated first, so that events move by the journal's edits.
    run_ok(
        Command::new(bin())
            .arg("curate")
            .arg(&tp)
            .arg("--accept-all"),
    );
    let (whole, by_day) = (dir.path().join("whole"), dir.path().join("by-day"));
    export(&tp, &whole, &[]);
    export(&tp, &by_day, &["--by-day", "--pcap-slices"]);
    for t in ["events", "features"] {
        assert_eq!(read_table(&by_day, t), read_table(&whole, t), "{t}");
    }
    let (flows, parts) = flow_parts(&by_day);
    let at_once = read_table(&whole, "flows");
    assert!(parts >= 3, "{parts} parts");
    assert_eq!(flows, at_once);
    // Some flows run over midnight: the stream carried them from one day's pass to the next.
    let first = at_once.column("first_ns").unwrap().i64().unwrap();
    let last = at_once.column("last_ns").unwrap().i64().unwrap();
    let day = 86_400_000_000_000i64;
    let over_midnight = first
        .into_no_null_iter()
        .zip(last.into_no_null_iter())
        .filter(|(a, b)| a.div_euclid(day) != b.div_euclid(day))
        .count();
    assert!(over_midnight > 0);
    let mut conn: Vec<_> = std::fs::read_dir(by_day.join("conn"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    conn.sort();
    assert_eq!(conn_rows(&conn), conn_rows(&[whole.join("flows.conn.log")]));
    // Devices: the same rows (unregistered devices may come in another order).
    let devices = |d: &Path| {
        let mut lines: Vec<String> = std::fs::read_to_string(d.join("devices.csv"))
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(devices(&by_day), devices(&whole));
    // The slices are the whole export's, file for file.
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d.join("slices"))
            .map(|r| {
                r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    export(&tp, &dir.path().join("whole-slices"), &["--pcap-slices"]);
    let slices = names(&by_day);
    assert!(!slices.is_empty());
    assert_eq!(slices, names(&dir.path().join("whole-slices")));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(by_day.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["by_day"], true);
    if have_python(&["mlcroissant", "pandas", "pyarrow"]) {
        let o = Command::new("python3")
            .arg(script("croissant_check.py"))
            .arg(&by_day)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(v["record_sets"]["flows"], at_once.height());
    }
}

/// One device group by day is that group's export at once; a time range bounds the days.
#[test]
fn a_by_day_export_takes_device_groups_and_time_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 6, 3, 7, Some(20_000));
    let (_, tp) = as_traffic_dataset(&r.project);
    let s = labelbench::project::session::Session::open(&tp, Default::default(), None).unwrap();
    let busiest = s
        .labels
        .events
        .iter()
        .map(|e| s.event_device_name(e).to_string())
        .filter(|n| !n.is_empty() && n != "-")
        .max_by_key(|n| {
            s.labels
                .events
                .iter()
                .filter(|e| s.event_device_name(e) == n)
                .count()
        })
        .unwrap();
    let group = format!("--only-devices={busiest}");
    let (whole, by_day) = (dir.path().join("whole"), dir.path().join("by-day"));
    export(&tp, &whole, &[&group]);
    export(&tp, &by_day, &[&group, "--by-day"]);
    assert_eq!(read_table(&by_day, "events"), read_table(&whole, "events"));
    assert_eq!(
        read_table(&by_day, "features"),
        read_table(&whole, "features")
    );
    assert_eq!(flow_parts(&by_day).0, read_table(&whole, "flows"));
    // The second day alone: its events, as `--from/--to` writes them.
    let day2 = s.traffic.first_ns().unwrap().div_euclid(86_400_000_000_000) + 1;
    let date = chrono::DateTime::from_timestamp_nanos(day2 * 86_400_000_000_000)
        .format("%Y-%m-%d")
        .to_string();
    let next = chrono::DateTime::from_timestamp_nanos((day2 + 1) * 86_400_000_000_000)
        .format("%Y-%m-%d")
        .to_string();
    let (one, slice) = (dir.path().join("one"), dir.path().join("slice"));
    export(&tp, &one, &["--by-day", "--from", &date, "--to", &next]);
    export(&tp, &slice, &["--from", &date, "--to", &next]);
    let evs = read_table(&one, "events");
    assert!(evs.height() > 10, "{} events", evs.height());
    assert_eq!(evs, read_table(&slice, "events"));
    assert_eq!(flow_parts(&one).1, 1);
}

#[test]
fn by_day_commands_refuse_what_they_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 3, 1, 3, Some(2_000));
    let out = dir.path().join("out");
    let err = run_bad(
        Command::new(bin())
            .arg("export")
            .arg(&r.project)
            .arg("--out")
            .arg(&out)
            .arg("--by-day"),
    );
    assert!(err.contains("traffic dataset"), "{err}");
    assert!(!out.exists());
    let err = run_bad(
        Command::new(bin())
            .arg("export")
            .arg(&r.project)
            .arg("--out")
            .arg(&out)
            .args(["--by-day", "--pcapng"]),
    );
    assert!(err.contains("--pcapng"), "{err}");
    for cmd in ["curate", "train"] {
        let err = run_bad(Command::new(bin()).arg(cmd).arg(&r.project).arg("--by-day"));
        assert!(err.contains("traffic dataset"), "{cmd}: {err}");
    }
}

/// `inspect --from/--to` counts the packets, flows (by first packet) and events (by adjusted
/// time) of the slice, reading only the slice from a dataset; a project of captures gives the
/// same counts, and exactly the whole span's flows that start in the slice.
#[test]
fn inspect_of_a_slice_counts_what_lies_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 5, 2, 11, Some(20_000));
    let (_, tp) = as_traffic_dataset(&r.project);
    let s =
        labelbench::project::session::Session::open(&r.project, Default::default(), None).unwrap();
    let t = &s.traffic;
    let (first, last) = (t.first_ns().unwrap(), t.last_ns().unwrap());
    let (a, b) = (first + (last - first) / 4, first + (last - first) / 2);
    let packets = t
        .packets
        .ts
        .iter()
        .filter(|&&x| (a..b).contains(&x))
        .count();
    let flows = t
        .flows
        .iter()
        .filter(|f| (a..b).contains(&f.first_ns))
        .count();
    let events = s
        .labels
        .events
        .iter()
        .filter(|e| (a..b).contains(&s.adjusted_ns(e)))
        .count();
    assert!(packets > 1000 && flows > 10 && events > 10);
    let rfc = |ns: i64| chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339();
    for project in [&tp, &r.project] {
        let o = run_ok(Command::new(bin()).arg("inspect").arg(project).args([
            "--json",
            "--from",
            &rfc(a),
            "--to",
            &rfc(b),
        ]));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["packets"], packets, "{}", project.display());
        let n = v["flows"].as_u64().unwrap() as usize;
        if project == &r.project {
            assert_eq!(n, flows);
        } else {
            // Read alone, the slice's packets of flows begun before it start flows of its own
            // (docs/scale.md): a few more, never fewer.
            assert!(
                (flows..=flows + flows / 20).contains(&n),
                "{n} against {flows}"
            );
        }
        assert_eq!(v["events"], events);
        assert_eq!(v["range_ns"], serde_json::json!([a, b]));
        let device_packets: u64 = v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["packets"].as_u64().unwrap())
            .sum();
        assert!(device_packets >= packets as u64);
    }
}

/// A dataset extracted from one long capture holds a busy device's day in several row groups;
/// a slice reads only those whose `ts_ns` statistics reach it, and gets the same packets as a
/// whole read cut to the slice.
#[test]
fn a_slice_of_one_long_capture_reads_the_row_groups_it_needs() {
    if !crate::common::have_tshark() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 3, 1, 17, Some(600_000));
    let lab = r.project.parent().unwrap();
    let mut hours: Vec<_> = std::fs::read_dir(lab.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    hours.sort();
    let day = dir.path().join("day.pcap");
    run_ok(
        Command::new("mergecap")
            .args(["-a", "-F", "pcap", "-w"])
            .arg(&day)
            .args(&hours),
    );
    let reg = labelbench::traffic::devices::Registry::load(&lab.join("devices.json")).unwrap();
    let data = dir.path().join("traffic");
    labelbench::export::extract::prepare_out(&data, std::slice::from_ref(&day)).unwrap();
    labelbench::export::extract::extract_file(&day, &reg, &Default::default(), &data).unwrap();
    // The busiest part spans several row groups.
    let mut parts: Vec<(u64, std::path::PathBuf)> = Vec::new();
    let mut stack = vec![data.join("packets")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                parts.push((std::fs::metadata(&p).unwrap().len(), p));
            }
        }
    }
    parts.sort();
    let busiest = &parts.last().unwrap().1;
    let mut rd = ParquetReader::new(std::fs::File::open(busiest).unwrap());
    let groups = rd.get_metadata().unwrap().row_groups.len();
    assert!(groups >= 3, "{groups} row groups in {}", busiest.display());
    // Two hours in the middle of the day, read alone and cut from a whole read.
    let mut whole_reg = reg.clone();
    let timeouts = labelbench::traffic::FlowTimeouts::default();
    let all = TrafficFilter::default();
    let whole = labelbench::traffic::dataset::load(&data, &mut whole_reg, &timeouts, &all).unwrap();
    let (first, last) = (whole.first_ns().unwrap(), whole.last_ns().unwrap());
    let a = first + (last - first) / 2;
    let b = a + 2 * 3_600_000_000_000;
    let slice = TrafficFilter {
        range: Some((a, b)),
        ..Default::default()
    };
    let mut slice_reg = reg.clone();
    let part =
        labelbench::traffic::dataset::load(&data, &mut slice_reg, &timeouts, &slice).unwrap();
    let want: Vec<i64> = whole
        .packets
        .ts
        .iter()
        .copied()
        .filter(|t| (a..=b).contains(t))
        .collect();
    assert!(want.len() > 10_000, "{} packets", want.len());
    assert_eq!(part.packets.ts, want);
    assert_eq!(
        part.packets.orig_len.iter().map(|&x| x as u64).sum::<u64>(),
        {
            let ts = &whole.packets.ts;
            (0..ts.len())
                .filter(|&i| (a..=b).contains(&ts[i]))
                .map(|i| whole.packets.orig_len[i] as u64)
                .sum::<u64>()
        }
    );
}

/// `train --by-day` computes the features a day at a time and trains on all of them: the same
/// report as training at once (but the time it took).
#[test]
fn training_by_day_gives_the_report_of_training_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 6, 3, 5, Some(20_000));
    let (_, tp) = as_traffic_dataset(&r.project);
    let train = |extra: &[&str]| -> serde_json::Value {
        let o = run_ok(
            Command::new(bin())
                .arg("train")
                .arg(&tp)
                .arg("--json")
                .args(extra),
        );
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        drop_times(&mut v);
        v
    };
    /// The report without the times it took (per device too).
    fn drop_times(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("fit_seconds");
                m.values_mut().for_each(drop_times);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(drop_times),
            _ => {}
        }
    }
    let (at_once, by_day) = (train(&[]), train(&["--by-day"]));
    assert!(
        at_once["events"].as_u64().unwrap() > 100,
        "{}",
        at_once["events"]
    );
    for (k, v) in at_once.as_object().unwrap() {
        assert!(&by_day[k] == v, "{k} differs");
    }
    assert_eq!(
        by_day.as_object().unwrap().len(),
        at_once.as_object().unwrap().len()
    );
}

/// A dataset input whose tables cannot be read is named (on stderr and in the manifest) and
/// the rest is exported, at once and by day alike.
#[test]
fn an_unreadable_input_is_named_and_the_rest_exported_by_day() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 4, 2, 9, Some(10_000));
    let (lab, tp) = as_traffic_dataset(&r.project);
    let packets = lab.join("traffic").join("packets");
    let day = std::fs::read_dir(&packets)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let device = std::fs::read_dir(&day)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let part = std::fs::read_dir(&device)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&part, b"not parquet").unwrap();
    let (whole, by_day) = (dir.path().join("whole"), dir.path().join("by-day"));
    for (out, extra) in [(&whole, None), (&by_day, Some("--by-day"))] {
        let o = run_ok(
            Command::new(bin())
                .arg("export")
                .arg(&tp)
                .arg("--out")
                .arg(out)
                .args(extra),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("warning:") && err.contains("cannot be read"),
            "{err}"
        );
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(m["input_problems"].as_array().unwrap().len(), 1, "{m}");
    }
    assert_eq!(read_table(&by_day, "events"), read_table(&whole, "events"));
    assert_eq!(flow_parts(&by_day).0, read_table(&whole, "flows"));
}

/// On the real lab as a traffic dataset, a by-day export equals the export at once and the
/// export of the captures. Its cameras sit behind hubs yet send their own packets: a day's
/// slice, or the day-at-a-time flow pass, must label their own traffic, as a whole load does.
#[test]
fn the_real_lab_exports_the_same_by_day_as_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let Some(captures) = crate::common::real_lab_project(dir.path(), &["ifttt:ifttt-events.csv"])
    else {
        return;
    };
    let lab = crate::common::real().unwrap().join("fit-iot-dataset");
    let mut pcaps: Vec<_> = std::fs::read_dir(lab.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pcaps.sort();
    let data = dir.path().join("traffic");
    run_ok(
        Command::new(bin())
            .arg("extract")
            .args(&pcaps)
            .arg("--devices")
            .arg(lab.join("devices.json"))
            .arg("--out")
            .arg(&data),
    );
    let mut p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&captures).unwrap()).unwrap();
    p["captures"] = serde_json::json!([]);
    p["traffic"] = "traffic".into();
    let tp = dir.path().join("traffic.labelbench.json");
    std::fs::write(&tp, serde_json::to_vec(&p).unwrap()).unwrap();
    let (cap, whole, by_day) = (
        dir.path().join("captures-export"),
        dir.path().join("whole"),
        dir.path().join("by-day"),
    );
    export(&captures, &cap, &[]);
    export(&tp, &whole, &[]);
    export(&tp, &by_day, &["--by-day"]);
    let feats = read_table(&cap, "features");
    assert!(feats.height() >= 20, "{} feature rows", feats.height());
    for t in ["events", "features"] {
        assert_eq!(read_table(&whole, t), read_table(&cap, t), "{t}");
        assert_eq!(read_table(&by_day, t), read_table(&whole, t), "{t}");
    }
    assert_eq!(flow_parts(&by_day).0, read_table(&whole, "flows"));
    let mut conn: Vec<_> = std::fs::read_dir(by_day.join("conn"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    conn.sort();
    let labelled = conn_rows(&[whole.join("flows.conn.log")]);
    assert!(labelled.iter().any(|l| l.split('\t').nth(18) != Some("-")));
    assert_eq!(conn_rows(&conn), labelled);
}
