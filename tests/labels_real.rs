//! Label sources on the lab's real logs.

use std::collections::BTreeMap;
use std::path::Path;

use labelbench::labels::{load_source, SourceKind, SourceSpec};
use labelbench::traffic;
use labelbench::traffic::devices::Registry;

use crate::common::real;

fn spec(kind: SourceKind, path: &Path, tz: &str) -> SourceSpec {
    SourceSpec {
        kind,
        path: path.display().to_string(),
        tz: tz.into(),
        offset_ns: 0,
        csv: None,
        rules: vec![],
        pattern: None,
    }
}

#[test]
fn all_lab_rows_load_without_errors() {
    let Some(r) = real() else { return };
    let lab = r.join("fit-iot-dataset");
    let reg = Registry::load(&lab.join("devices.json")).unwrap();
    let cases = [
        (SourceKind::Ifttt, "ifttt-events.csv", 613),
        (SourceKind::IftttTrigger, "ifttt-actions.csv", 4_944),
        (SourceKind::Smartthings, "smartthings-events.csv", 5_561),
        (SourceKind::NotificationsCsv, "android-events.csv", 6_336),
    ];
    for (k, f, n) in cases {
        let p = lab.join("labels").join(f);
        let (ev, load) = load_source(
            &spec(k, &p, "America/New_York"),
            &p,
            0,
            &reg,
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(load.rows, n, "{f}");
        assert_eq!(load.errors, vec![], "{f}");
        assert_eq!(ev.len(), n, "{f}");
        assert!(
            ev.windows(2).all(|w| w[0].original_ns <= w[1].original_ns),
            "{f} sorted"
        );
        if k == SourceKind::IftttTrigger {
            // 02:00–02:59 on 2021-03-14 does not exist in New York.
            assert_eq!(load.dst_gap, 28, "{f}");
            assert!(ev
                .iter()
                .all(|e| e.precision == labelbench::labels::Precision::Minute));
        }
        if k == SourceKind::Smartthings {
            assert!(ev
                .iter()
                .all(|e| e.precision == labelbench::labels::Precision::Second));
            assert_eq!(load.dst_gap, 0);
        }
    }
}

/// Events with a traffic burst of their device starting within ±60 s, and all events.
fn fraction_near_traffic(tz: &str, file: &str, kind: SourceKind, device: &str) -> (usize, usize) {
    let r = real().unwrap();
    let lab = r.join("fit-iot-dataset");
    let mut reg = Registry::load(&lab.join("devices.json")).unwrap();
    let pcap = lab.join(format!("pcaps/{device}.pcap"));
    let t = traffic::ingest(
        &[pcap],
        &mut reg,
        None,
        &labelbench::traffic::FlowTimeouts::default(),
    );
    let p = lab.join("labels").join(file);
    let (ev, _) = load_source(&spec(kind, &p, tz), &p, 0, &reg, &BTreeMap::new()).unwrap();
    let dev = reg.by_name(device).unwrap();
    let evs: Vec<_> = ev.iter().filter(|e| e.device == dev).collect();
    let near = evs
        .iter()
        .filter(|e| {
            // A burst of the device's traffic (rate change, not its background chatter).
            labelbench::curation::find_onset(
                &t,
                dev,
                e.original_ns - 60_000_000_000,
                e.original_ns + 60_000_000_000,
                10_000_000_000,
            )
            .is_some_and(|o| o.confidence >= 0.5)
        })
        .count();
    (near, evs.len())
}

#[test]
fn the_time_zone_matters() {
    if real().is_none() {
        return;
    }
    let (n, total) = fraction_near_traffic(
        "America/New_York",
        "android-events.csv",
        SourceKind::NotificationsCsv,
        "schlage-lock-01",
    );
    assert_eq!((n, total), (37, 37));
    let (n, _) = fraction_near_traffic(
        "UTC",
        "android-events.csv",
        SourceKind::NotificationsCsv,
        "schlage-lock-01",
    );
    assert!(n <= 3, "UTC: {n}/37 near traffic");
    let (n, total) = fraction_near_traffic(
        "America/New_York",
        "ifttt-events.csv",
        SourceKind::Ifttt,
        "blink-cam-01",
    );
    assert!(total == 39 && n as f64 >= 0.9 * total as f64, "{n}/{total}");
    let (n, total) =
        fraction_near_traffic("UTC", "ifttt-events.csv", SourceKind::Ifttt, "blink-cam-01");
    assert!((n as f64) < 0.3 * total as f64, "UTC: {n}/{total}");
}

#[test]
fn malformed_rows_are_reported_and_the_rest_loads() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ifttt.csv");
    let text = concat!(
        "\"March 08, 2021 at 01:05PM\",\"wyze-cam-01\",\"event_motion\"\n",
        "\"Marc 08, 2021 at 01:05PM\",\"wyze-cam-01\",\"event_motion\"\n",
        "\"March 08, 2021 at 01:06PM\",\"wyze-cam-01\"\n",
        "\"March 08, 2021 at 01:07PM\",\"wyze-\"cam\"-01\",\"event_motion\"\n",
        "\"March 08, 2021 at 01:08PM\",\"wyze-cam-01\",\"event_motion\"\n",
    );
    std::fs::write(&p, text).unwrap();
    let reg = Registry::default();
    let (ev, load) = load_source(
        &spec(SourceKind::Ifttt, &p, "UTC"),
        &p,
        0,
        &reg,
        &BTreeMap::new(),
    )
    .unwrap();
    let lines: Vec<usize> = load.errors.iter().map(|e| e.line).collect();
    assert!(
        lines.contains(&2) && lines.contains(&3),
        "{:?}",
        load.errors
    );
    assert!(load.errors.iter().all(|e| e.file.contains("ifttt.csv")));
    assert!(ev.iter().any(|e| e.line == 1) && ev.iter().any(|e| e.line == 5));
    assert_eq!(load.unmatched_devices.get("wyze-cam-01"), Some(&2));
    // Binary garbage and empty files: no panic.
    for bytes in [
        vec![0u8, 159, 146, 150, 10, 255, 34, 10],
        vec![],
        b"\"unterminated\n".to_vec(),
    ] {
        std::fs::write(&p, &bytes).unwrap();
        let (ev, load) = load_source(
            &spec(SourceKind::Ifttt, &p, "UTC"),
            &p,
            0,
            &reg,
            &BTreeMap::new(),
        )
        .unwrap();
        assert!(ev.is_empty());
        assert_eq!(load.errors.len(), load.rows);
    }
}

#[test]
fn notification_jsonl_with_vendor_wording() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.jsonl");
    let lines = [
        r#"{"package":"com.tplink.kasa_android","title":"kasa cam 01 detected motion","text":"","date":"March 12, 2021 at 01:46:05PM"}"#,
        r#"{"package":"com.allegion.leopard","title":"Schlage","text":"schlage lock 01 unlocked","date":"March 12, 2021 at 01:47:00PM"}"#,
        r#"{"package":"com.ringapp","title":"Ring","text":"Melbourne ring contact sensor 01 [in IoT Lab] opened at 1:48 PM","date":"March 12, 2021 at 01:48:10PM"}"#,
        r#"{"package":"com.whatsapp","title":"hi","text":"lunch?","date":"March 12, 2021 at 01:49:10PM"}"#,
        r#"{"package":"com.ringapp","title":"#,
    ];
    std::fs::write(&p, lines.join("\n")).unwrap();
    let reg = Registry::from_csv(Path::new("r.csv"), "kasa-cam-01,aa:aa:aa:aa:aa:01,,,\nschlage-lock-01,aa:aa:aa:aa:aa:02,,,\nring-contact-sensor-01,,,,ring-hub-01\n").unwrap();
    let (ev, load) = load_source(
        &spec(SourceKind::NotificationsJsonl, &p, "America/New_York"),
        &p,
        3,
        &reg,
        &BTreeMap::new(),
    )
    .unwrap();
    let got: Vec<(String, String)> = ev
        .iter()
        .map(|e| (reg.devices[e.device as usize].name.clone(), e.class.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("kasa-cam-01".into(), "motion".into()),
            ("schlage-lock-01".into(), "unlock".into()),
            ("ring-contact-sensor-01".into(), "open".into()),
        ]
    );
    assert_eq!(ev[0].id, 3_000_001);
    assert_eq!(load.unmatched_notifications.len(), 1);
    assert_eq!(load.errors.len(), 1);
    assert_eq!(load.errors[0].line, 5);
}

#[test]
fn moniotr_experiment_list() {
    let Some(r) = real() else { return };
    let p = r.join("moniotr/exp_list.txt");
    let reg = Registry::default();
    let (ev, load) = load_source(
        &spec(SourceKind::Experiments, &p, "America/New_York"),
        &p,
        0,
        &reg,
        &BTreeMap::new(),
    )
    .unwrap();
    assert!(load.errors.is_empty(), "{:?}", load.errors);
    assert_eq!(ev.len(), load.rows);
    let watch = ev
        .iter()
        .find(|e| e.raw.contains("2019-04-26_21:42:57.31s"))
        .unwrap();
    // sample-result.csv says this experiment started at 1556329377.198794 (UTC).
    assert_eq!(watch.original_ns, 1_556_329_377_000_000_000);
    assert_eq!(watch.duration_ns, 31_000_000_000);
    assert_eq!(watch.class, "android_lan_watch");
}
