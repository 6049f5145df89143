//! Export: round trips through polars, pandas/pyarrow, pcap slices, atomicity.

use std::process::Command;

use labelbench::export::{export, ExportOptions, Format};
use labelbench::labels::Status;
use labelbench::project::session::Session;
use polars::prelude::*;

use crate::common::{bin, have_python, have_tshark, script};

fn sim_session(dir: &std::path::Path) -> Session {
    let r = crate::common::sim(dir, 8, 1, 21, Some(60_000));
    let mut s = crate::common::open_journaled(&r.project);
    labelbench::curation::run_all(
        &mut s,
        &labelbench::curation::Acceptance::kinds(
            &[
                labelbench::curation::SuggestionKind::Duplicate,
                labelbench::curation::SuggestionKind::Skew,
                labelbench::curation::SuggestionKind::NoTraffic,
            ],
            0.0,
        ),
        &Default::default(),
    )
    .unwrap();
    s
}

#[test]
fn csv_and_parquet_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim_session(&dir.path().join("p"));
    let n_events = s
        .labels
        .events
        .iter()
        .filter(|e| e.status != Status::Rejected)
        .count();
    let n_active = s
        .labels
        .events
        .iter()
        .filter(|e| e.status == Status::Active)
        .count();
    for fmt in [Format::Csv, Format::Parquet, Format::Json] {
        let out = dir.path().join(format!("out-{fmt:?}"));
        let o = ExportOptions {
            format: fmt,
            pcap_slices: false,
            pcapng: false,
            include_rejected: false,
            force: false,
            only_devices: None,
            range: None,
            by_day: false,
        };
        let r = export(&s, &out, &o, None).unwrap();
        let ext = match fmt {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Json => "json",
        };
        assert_eq!(r.rows[&format!("events.{ext}")], n_events);
        assert_eq!(r.rows[&format!("features.{ext}")], n_active);
        assert_eq!(r.rows[&format!("flows.{ext}")], s.traffic.flows.len());
        if fmt == Format::Json {
            let text = std::fs::read_to_string(out.join("events.json")).unwrap();
            assert_eq!(text.lines().count(), n_events);
            continue;
        }
        let read = |name: &str| -> DataFrame {
            let p = out.join(format!("{name}.{ext}"));
            match fmt {
                Format::Csv => CsvReadOptions::default()
                    .try_into_reader_with_file_path(Some(p))
                    .unwrap()
                    .finish()
                    .unwrap(),
                _ => ParquetReader::new(std::fs::File::open(p).unwrap())
                    .finish()
                    .unwrap(),
            }
        };
        let ev = read("events");
        for c in [
            "event_id",
            "device",
            "class",
            "source_kind",
            "source_path",
            "source_line",
            "precision",
            "original_ns",
            "adjusted_ns",
            "status",
            "duplicate_of",
            "window_start_ns",
            "window_end_ns",
        ] {
            assert!(ev.column(c).is_ok(), "events lacks {c}");
        }
        let ids = ev
            .column("event_id")
            .unwrap()
            .cast(&DataType::Int64)
            .unwrap();
        let adj = ev
            .column("adjusted_ns")
            .unwrap()
            .cast(&DataType::Int64)
            .unwrap();
        for (id, t) in ids.i64().unwrap().iter().zip(adj.i64().unwrap().iter()) {
            let e = s.labels.get(id.unwrap() as u64).unwrap();
            assert_eq!(t.unwrap(), s.adjusted_ns(e));
        }
        let st = ev.column("status").unwrap().str().unwrap().clone();
        assert!(st.iter().any(|x| x == Some("duplicate")));
        let fe = read("features");
        let names: Vec<String> = fe
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let mut want = vec![
            "event_id",
            "device",
            "class",
            "window_start_ns",
            "window_end_ns",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        want.extend(labelbench::learn::features::names());
        assert_eq!(names, want);
        let dev = std::fs::read_to_string(out.join("devices.csv")).unwrap();
        assert!(dev.starts_with("name,mac,ip,description,hub"));
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap())
                .unwrap();
        assert!(m["inputs"].as_array().unwrap().iter().all(|i| i["sha256"]
            .as_str()
            .unwrap()
            .len()
            == 64));
        assert!(m["journal"]["entries"].as_u64().unwrap() > 0);
        if fmt == Format::Parquet && have_python(&["pandas", "pyarrow"]) {
            let o = Command::new("python3")
                .arg(script("check_parquet.py"))
                .arg(&out)
                .arg(n_events.to_string())
                .arg(n_active.to_string())
                .arg(s.traffic.flows.len().to_string())
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

#[test]
fn refuses_non_empty_folder_and_leaves_no_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim_session(&dir.path().join("p"));
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let o = ExportOptions {
        format: Format::Csv,
        pcap_slices: false,
        pcapng: false,
        include_rejected: false,
        force: false,
        only_devices: None,
        range: None,
        by_day: false,
    };
    // A folder of someone else's files is never replaced, with or without --force.
    for force in [false, true] {
        let e = export(&s, &out, &ExportOptions { force, ..o.clone() }, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not empty"), "{e}");
        assert_eq!(
            std::fs::read_to_string(out.join("keep.txt")).unwrap(),
            "mine"
        );
    }
    // A previous export is, with --force.
    let out = dir.path().join("export");
    export(&s, &out, &o, None).unwrap();
    std::fs::write(out.join("stale.txt"), "old").unwrap();
    assert!(export(&s, &out, &o, None).is_err());
    let r = export(&s, &out, &ExportOptions { force: true, ..o }, None).unwrap();
    assert!(!out.join("stale.txt").exists() && out.join("events.csv").exists());
    assert!(r.rows.len() >= 4);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn pcap_slices_reread_with_the_right_counts() {
    let dir = tempfile::tempdir().unwrap();
    let s = sim_session(&dir.path().join("p"));
    let out = dir.path().join("out");
    let o = ExportOptions {
        format: Format::Csv,
        pcap_slices: true,
        pcapng: false,
        include_rejected: false,
        force: false,
        only_devices: None,
        range: None,
        by_day: false,
    };
    let r = export(&s, &out, &o, None).unwrap();
    assert!(r.slices > 10);
    let feats = labelbench::learn::features::extract(&s, &s.project.window, 1);
    let tshark = have_tshark();
    let mut checked = 0;
    for f in feats.iter().take(40) {
        let e = s.labels.get(f.event_id).unwrap();
        let name = format!("{}_{}_{}.pcap", s.event_device_name(e), e.class, e.id);
        let p = out.join("slices").join(name);
        let c = labelbench::capture::read_capture(&p, None);
        assert!(c.issues.is_empty(), "{:?}", c.issues);
        assert_eq!(c.cols.len() as f64, f.values[38], "{}", p.display());
        if tshark {
            let o = Command::new("tshark")
                .arg("-n")
                .arg("-r")
                .arg(&p)
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&o.stdout).lines().count() as f64,
                f.values[38]
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 40);
}

#[test]
fn cli_export_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(dir.path(), 4, 1, 2, Some(20_000));
    let out = dir.path().join("x");
    let ok = Command::new(bin())
        .arg("export")
        .arg(&r.project)
        .arg("--out")
        .arg(&out)
        .args(["--format", "csv"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let again = Command::new(bin())
        .arg("export")
        .arg(&r.project)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    let badfmt = Command::new(bin())
        .arg("export")
        .arg(&r.project)
        .arg("--out")
        .arg(dir.path().join("y"))
        .args(["--format", "xlsx"])
        .output()
        .unwrap();
    assert_eq!(badfmt.status.code(), Some(2));
}
