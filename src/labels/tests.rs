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
