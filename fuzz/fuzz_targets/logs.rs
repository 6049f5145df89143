//! Any bytes as an event log of every kind (Zeek too), sniffed for its kind, and as a device
//! registry (JSON, Python literals, CSV): loading never panics;
//! bad rows become row errors naming their line; no event time is out of range (a time that
//! parses to an instant before 1677 or after 2262, or to infinity, is a row error instead).
#![no_main]

use std::collections::BTreeMap;

use labelbench::traffic::devices::Registry;
use labelbench::labels::{load_source, representable, SourceKind, SourceSpec};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let dir = common::scratch();
    let path = dir.path().join("log.txt");
    std::fs::write(&path, data).unwrap();
    // A registry that the log's device names can match.
    let reg_path = dir.path().join("devices.csv");
    std::fs::write(
        &reg_path,
        "name,mac,ip,description,hub\n\
         kasa-cam-01,50:c7:bf:00:00:01,192.168.1.10,camera,\n\
         hue-hub-01,00:17:88:00:00:02,192.168.1.11,hub,\n\
         hue-light-01,,,light,hue-hub-01\n",
    )
    .unwrap();
    let registry = Registry::load(&reg_path).unwrap();
    let map = BTreeMap::from([("cam".to_string(), "kasa-cam-01".to_string())]);
    let mut specs: Vec<serde_json::Value> = SourceKind::ALL
        .iter()
        .map(|kind| serde_json::json!({"kind": kind.as_str()}))
        .collect();
    // The generic CSV reader with each time format, columns by number.
    for fmt in ["epoch", "epoch-ms", "iso8601", "%d/%m/%Y %H:%M"] {
        specs.push(serde_json::json!({"kind": "csv", "csv": {
            "time": "0", "device": "1", "class": "2", "time_format": fmt, "has_header": false
        }}));
    }
    for mut spec in specs {
        spec["path"] = "log.txt".into();
        spec["tz"] = "America/New_York".into();
        let spec: SourceSpec = serde_json::from_value(spec).unwrap();
        if let Ok((events, load)) = load_source(&spec, &path, 0, &registry, &map) {
            // Every row error names this file and a line that exists.
            let lines = data.split(|&b| b == b'\n').count();
            for e in &load.errors {
                assert_eq!(e.file, path.display().to_string());
                assert!(e.line <= lines, "line {} of {lines}: {}", e.line, e.reason);
            }
            for e in &events {
                assert!(representable(e.original_ns), "line {}: {}", e.line, e.original_ns);
            }
            assert!(
                events.len() <= lines,
                "{} events from {lines} lines",
                events.len()
            );
        }
    }
    // The same bytes as a registry (JSON, Python literals or CSV, chosen by content), and
    // through the Python reader directly: an error names a line of the file.
    let _ = Registry::load(&path);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err((line, _)) = labelbench::traffic::devices_py::python_registry_to_json(text) {
            assert!(line >= 1 && line <= text.split('\n').count(), "line {line}");
        }
    }
    // Sniffing never panics, and the kind it tells loads without panicking.
    if let Ok(sniffed) = labelbench::labels::sniff::sniff(data) {
        let spec = SourceSpec {
            kind: sniffed.kind,
            path: "log.txt".into(),
            tz: "UTC".into(),
            offset_ns: 0,
            csv: sniffed.csv,
            rules: vec![],
            pattern: None,
        };
        let _ = load_source(&spec, &path, 0, &registry, &map);
    }
});
