use super::*;

#[test]
fn lab_time_precision() {
    let (_, p) = parse_lab_time("March 08, 2021 at 01:05PM").unwrap();
    assert_eq!(p, Precision::Minute);
    let (t, p) = parse_lab_time("March 12, 2021 at 01:46:05PM").unwrap();
    assert_eq!(p, Precision::Second);
    assert_eq!(t.format("%H:%M:%S").to_string(), "13:46:05");
    assert!(parse_lab_time("Mar 8 2021").is_none());
}

#[test]
fn dst_gap_and_fold() {
    let tz: Tz = "America/New_York".parse().unwrap();
    let gap = NaiveDateTime::parse_from_str("2021-03-14 02:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
    let (ns, r) = resolve_local(&tz, &gap).unwrap();
    assert_eq!(r, Resolved::Gap);
    // 02:30 EST = 07:30 UTC.
    assert_eq!(ns, 1615707000 * 1_000_000_000);
    let fold = NaiveDateTime::parse_from_str("2021-11-07 01:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
    let (ns, r) = resolve_local(&tz, &fold).unwrap();
    assert_eq!(r, Resolved::Fold);
    // Earlier instant: 01:30 EDT = 05:30 UTC.
    assert_eq!(ns, 1636263000 * 1_000_000_000);
    let before = NaiveDateTime::parse_from_str("2021-03-08 13:05:00", "%Y-%m-%d %H:%M:%S").unwrap();
    assert_eq!(
        resolve_local(&tz, &before).unwrap().0,
        1615226700 * 1_000_000_000
    );
}

#[test]
fn experiment_paths() {
    let (d, c, t, dur) =
        parse_experiment("traffic/us/yi-camera/android_lan_watch/2019-04-26_21:42:57.31s.pcap")
            .unwrap();
    assert_eq!(
        (d.as_str(), c.as_str(), dur),
        ("yi-camera", "android_lan_watch", 31_000_000_000)
    );
    assert_eq!(t.format("%H:%M:%S").to_string(), "21:42:57");
    assert!(parse_experiment("garbage").is_none());
}

#[test]
fn default_rules_match_vendor_wording() {
    let rules = compile_rules(&[]).unwrap();
    let find = |pkg: &str, title: &str, text: &str| {
        rules.iter().find_map(|r| {
            if r.package != pkg {
                return None;
            }
            let f = if r.field_title { title } else { text };
            let c = r.re.captures(f)?;
            Some((c["dev"].to_string(), r.class.clone()))
        })
    };
    assert_eq!(
        find("com.tplink.kasa_android", "kasa cam 01 detected motion", ""),
        Some(("kasa cam 01".into(), "motion".into()))
    );
    assert_eq!(
        find("com.allegion.leopard", "", "schlage lock 01 unlocked"),
        Some(("schlage lock 01".into(), "unlock".into()))
    );
    assert_eq!(
        find("com.allegion.leopard", "", "schlage lock 01 is locked"),
        Some(("schlage lock 01".into(), "lock".into()))
    );
    assert_eq!(
        find(
            "com.allegion.leopard",
            "",
            "Access code Admin unlocked schlage lock 01"
        ),
        Some(("schlage lock 01".into(), "unlock".into()))
    );
    assert_eq!(
        find(
            "com.nest.android",
            "Motion \u{1F3E0} Office (nest cam 01)",
            ""
        ),
        Some(("nest cam 01".into(), "motion".into()))
    );
    assert_eq!(
        find(
            "com.ringapp",
            "",
            "Melbourne ring contact sensor 01 [in IoT Lab] opened at 3:01 PM"
        ),
        Some(("ring contact sensor 01".into(), "open".into()))
    );
    assert_eq!(
        find(
            "com.sifely.smartlock",
            "",
            "\"Admin\" unlocked (\"sifely lock 01\")."
        ),
        Some(("sifely lock 01".into(), "unlock".into()))
    );
    assert_eq!(
        find(
            "com.simplisafe.mobile",
            "",
            "\"simplisafe cam 01\" Camera Detected Motion on 3/12"
        ),
        Some(("simplisafe cam 01".into(), "motion".into()))
    );
    assert_eq!(find("com.unknown", "x detected motion", ""), None);
}

/// The same lines written with every line ending a lab's tools produce.
fn line_ending_variants(lines: &[&str]) -> Vec<(&'static str, Vec<u8>)> {
    let join = |eols: &[&str], last: bool| {
        let mut v = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            v.extend_from_slice(l.as_bytes());
            if i + 1 < lines.len() || last {
                v.extend_from_slice(eols[i % eols.len()].as_bytes());
            }
        }
        v
    };
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(join(&["\r\n"], true));
    vec![
        ("LF", join(&["\n"], true)),
        ("CRLF", join(&["\r\n"], true)),
        ("BOM + CRLF", bom),
        ("no final newline", join(&["\n"], false)),
        ("mixed CRLF, LF, CR", join(&["\r\n", "\n", "\r"], true)),
    ]
}

#[test]
fn every_source_kind_reads_the_same_events_whatever_the_line_endings() {
    let lab = [
        r#""March 08, 2021 at 01:05PM","cam-1","event_motion""#,
        "",
        r#""March 08, 2021 at 01:06:09PM","cam-1","event_sound""#,
        r#""March 14, 2021 at 02:30AM","lock-1","event_lock""#,
    ];
    let jsonl = [
        r#"{"package":"com.allegion.leopard","title":"Schlage Home","text":"front door locked","date":"March 08, 2021 at 01:05:09PM"}"#,
        "",
        r#"{"package":"com.allegion.leopard","title":"Schlage Home","text":"front door unlocked","date":"March 08, 2021 at 01:07:10PM"}"#,
    ];
    let csv = [
        "time,device,class",
        "2021-03-08 13:05:09,cam-1,motion",
        "",
        "2021-03-08T13:06:00,cam-1,event_sound",
    ];
    let experiments = [
        "traffic/us/yi-camera/android_lan_watch/2019-04-26_21:42:57.31s.pcap",
        "",
        "traffic/us/yi-camera/power/2019-04-26_21:50:00.12s.pcap",
    ];
    let cases: Vec<(SourceKind, &[&str], Vec<u32>)> = vec![
        (SourceKind::Ifttt, &lab, vec![1, 3, 4]),
        (SourceKind::IftttTrigger, &lab, vec![1, 3, 4]),
        (SourceKind::Smartthings, &lab, vec![1, 3, 4]),
        (SourceKind::NotificationsCsv, &lab, vec![1, 3, 4]),
        (SourceKind::NotificationsJsonl, &jsonl, vec![1, 3]),
        (SourceKind::Csv, &csv, vec![2, 4]),
        (SourceKind::Experiments, &experiments, vec![1, 3]),
    ];
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::default();
    for (kind, lines, want_lines) in cases {
        let mut spec =
            SourceSpec::parse_cli(&format!("{}:x@America/New_York", kind.as_str())).unwrap();
        spec.rules = vec![];
        let mut baseline: Option<Vec<Event>> = None;
        for (name, bytes) in line_ending_variants(lines) {
            let p = dir.path().join("log");
            std::fs::write(&p, &bytes).unwrap();
            let (ev, load) = load_source(&spec, &p, 2, &reg, &Default::default()).unwrap();
            assert!(load.errors.is_empty(), "{kind:?} {name}: {:?}", load.errors);
            let got: Vec<u32> = ev.iter().map(|e| e.line).collect();
            assert_eq!(got, want_lines, "{kind:?} {name}: line numbers");
            for e in &ev {
                assert_eq!(e.id, 2_000_000 + e.line as u64, "{kind:?} {name}: ids");
                assert!(
                    !e.raw.contains(['\r', '\n', '\u{feff}']),
                    "{kind:?} {name}: {:?}",
                    e.raw
                );
                assert_eq!(
                    e.raw,
                    lines[e.line as usize - 1],
                    "{kind:?} {name}: raw text"
                );
            }
            match &baseline {
                None => baseline = Some(ev),
                Some(b) => assert_eq!(&ev, b, "{kind:?} {name}: events differ from LF"),
            }
        }
    }
}

#[test]
fn registries_read_the_same_whatever_the_line_endings() {
    let json = [
        "{\"devices\": {",
        "  \"cam-1\": {\"description\": \"Camera\", \"address\": \"192.168.1.2\", \"ether\": \"aa:bb:cc:dd:ee:01\"}",
        "}, \"hubs\": {}}",
    ];
    let csv = [
        "name,mac,ip,description,hub",
        "cam-1,aa:bb:cc:dd:ee:01,192.168.1.2,Camera,",
        "",
        "lock-1,aa:bb:cc:dd:ee:02,192.168.1.3,Lock,",
    ];
    let dir = tempfile::tempdir().unwrap();
    for (ext, lines) in [("json", &json[..]), ("csv", &csv[..])] {
        let mut baseline: Option<Vec<crate::traffic::devices::Device>> = None;
        for (name, bytes) in line_ending_variants(lines) {
            let p = dir.path().join(format!("devices.{ext}"));
            std::fs::write(&p, &bytes).unwrap();
            let r = Registry::load(&p).unwrap_or_else(|e| panic!("{ext} {name}: {e}"));
            match &baseline {
                None => baseline = Some(r.devices),
                Some(b) => assert_eq!(&r.devices, b, "{ext} {name}"),
            }
        }
    }
}
