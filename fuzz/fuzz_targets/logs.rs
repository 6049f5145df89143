//! Any bytes as an event log of every kind, and as a device registry: loading never panics;
//! bad rows become row errors naming their line.
#![no_main]

use std::collections::BTreeMap;

use labelbench::devices::Registry;
use labelbench::labels::{load_source, SourceKind, SourceSpec};
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
    for kind in SourceKind::ALL {
        let spec: SourceSpec = serde_json::from_value(serde_json::json!({
            "kind": kind.as_str(),
            "path": "log.txt",
            "tz": "America/New_York",
        }))
        .unwrap();
        if let Ok((events, load)) = load_source(&spec, &path, 0, &registry, &map) {
            // Every row error names this file and a line that exists.
            let lines = data.split(|&b| b == b'\n').count();
            for e in &load.errors {
                assert_eq!(e.file, path.display().to_string());
                assert!(e.line <= lines, "line {} of {lines}: {}", e.line, e.reason);
            }
            assert!(
                events.len() <= lines,
                "{} events from {lines} lines",
                events.len()
            );
        }
    }
    // The same bytes as a registry (JSON or CSV, chosen by content).
    let _ = Registry::load(&path);
});
