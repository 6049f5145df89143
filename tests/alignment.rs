//! Alignment on data nobody tuned for: time zones, lead-ins, clock offsets, events outside the
//! captures, accept-all to a fixed point; measured against independent definitions.

use labelbench::curation::{run_all, suggest, Acceptance, SuggestionKind};
use labelbench::devtools::evaluate::{against_ground_truth, onset_agreement};
use labelbench::devtools::sim::{generate, Defects, SimOptions};
use labelbench::project::session::{OpenOptions, Session};

use crate::common::{bin, real_lab_project, run_ok};

/// The real lab's IFTTT and notification logs, with or without their zone.
fn real_lab(dir: &std::path::Path, zone: bool) -> Option<Session> {
    let proj = real_lab_project(
        dir,
        &[
            "ifttt:ifttt-events.csv",
            "notifications-csv:android-events.csv",
        ],
    )?;
    if !zone {
        let text = std::fs::read_to_string(&proj).unwrap();
        std::fs::write(&proj, text.replace("America/New_York", "UTC")).unwrap();
    }
    Some(Session::open(&proj, OpenOptions::default(), None).unwrap())
}

#[test]
fn the_zone_check_finds_new_york_for_logs_read_as_utc_and_is_quiet_when_right() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = real_lab(dir.path(), false) else {
        return;
    };
    let zones: Vec<_> = suggest(&s, &Default::default())
        .into_iter()
        .filter(|x| x.kind == SuggestionKind::TimeZone)
        .collect();
    assert_eq!(zones.len(), 2, "{zones:#?}");
    for z in &zones {
        assert!(
            z.reason.contains("as UTC") && z.reason.contains("as America/New_York (EST/EDT)"),
            "{}",
            z.reason
        );
        assert!(z.confidence >= 0.9, "{z:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let s = real_lab(dir.path(), true).unwrap();
    assert!(suggest(&s, &Default::default())
        .iter()
        .all(|x| x.kind != SuggestionKind::TimeZone));
}

#[test]
fn accept_all_aligns_the_real_camera_labels_to_independent_onsets_with_or_without_the_zone() {
    let mut shares = Vec::new();
    for zone in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let Some(mut s) = real_lab(dir.path(), zone) else {
            return;
        };
        run_all(&mut s, &Acceptance::all(), &Default::default()).unwrap();
        assert_eq!(s.source_zone(0), "America/New_York");
        let a = onset_agreement(&s);
        let ifttt = a.iter().find(|x| x.kind == "ifttt").unwrap();
        let share = ifttt.within_5s_independent as f64 / ifttt.events_with_traffic as f64;
        // About 0.95 is the ceiling: two labels have no traffic near them.
        assert!(share >= 0.85, "{ifttt:?}");
        shares.push((ifttt.within_5s_independent, ifttt.events_with_traffic));
        // Nothing accept-all would take is left: it ran to a fixed point.
        let left: Vec<_> = suggest(&s, &Default::default())
            .into_iter()
            .filter(|x| Acceptance::all().admits(x))
            .collect();
        assert!(left.is_empty(), "{left:#?}");
    }
    assert_eq!(
        shares[0], shares[1],
        "the zone check recovers what the given zone gives"
    );
}

#[test]
fn skew_evidence_names_the_lead_in_before_the_upload() {
    let dir = tempfile::tempdir().unwrap();
    let Some(s) = real_lab(dir.path(), true) else {
        return;
    };
    let skews: Vec<_> = suggest(&s, &Default::default())
        .into_iter()
        .filter(|x| x.kind == SuggestionKind::Skew && x.device.as_deref() == Some("blink-cam-01"))
        .collect();
    assert!(!skews.is_empty());
    let with_lead = skews
        .iter()
        .filter(|x| x.evidence.contains("s before the burst"))
        .count();
    assert!(with_lead * 2 > skews.len(), "{skews:#?}");
}

#[test]
fn simulated_real_lab_defects_are_curated_to_the_targets() {
    for (defects, seed) in [
        (Defects::real_lab(), 21),
        (
            Defects {
                omit_zone: true,
                ..Defects::real_lab()
            },
            22,
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let o = SimOptions {
            devices: 24,
            days: 2,
            seed,
            defects,
            ..Default::default()
        };
        let r = generate(dir.path(), &o).unwrap();
        let raw = std::fs::read(dir.path().join("labels/ifttt-events.csv")).unwrap();
        assert!(
            raw.windows(2).any(|w| w == b"\r\n"),
            "the logs are written with CRLF"
        );
        let mut s = Session::open(&r.project, OpenOptions::default(), None).unwrap();
        run_all(&mut s, &Acceptance::all(), &Default::default()).unwrap();
        assert!((0..4).all(|i| s.source_zone(i) == "America/Chicago"));
        let q = against_ground_truth(&s, &dir.path().join("ground-truth.csv")).unwrap();
        assert!(q.dup_precision >= 0.98 && q.dup_recall >= 0.98, "{q:?}");
        assert!(
            q.median_abs_error_s <= 2.0 && q.p95_abs_error_s <= 10.0,
            "{q:?}"
        );
        // The cameras known only to IFTTT keep minute labels that land on their wake-up.
        assert!(q.ifttt_events >= 5, "{q:?}");
        assert!(
            q.ifttt_median_abs_error_s <= 2.0 && q.ifttt_p95_abs_error_s <= 10.0,
            "{q:?}"
        );
        // The fast IFTTT clock is found (the simulator's clock runs 30 s fast).
        let off = s.labels.offsets[0] as f64 / 1e9;
        assert!((-36.0..=-24.0).contains(&off), "IFTTT offset {off}");
    }
}

/// An IFTTT clock gaining 120 s a day (8 minutes over 4 days) is followed by a drift, and its
/// labels land on their activity.
#[test]
fn a_drifting_clock_is_followed_as_a_drift() {
    let dir = tempfile::tempdir().unwrap();
    let o = SimOptions {
        devices: 10,
        days: 4,
        seed: 1,
        defects: Defects::drift(),
        ..Default::default()
    };
    let r = generate(dir.path(), &o).unwrap();
    let mut s = Session::open(&r.project, OpenOptions::default(), None).unwrap();
    let before = against_ground_truth(&s, &dir.path().join("ground-truth.csv")).unwrap();
    run_all(&mut s, &Acceptance::all(), &Default::default()).unwrap();
    let q = against_ground_truth(&s, &dir.path().join("ground-truth.csv")).unwrap();
    assert!(before.ifttt_median_abs_error_s > 100.0, "{before:?}");
    assert!(q.ifttt_events >= 20, "{q:?}");
    assert!(
        q.ifttt_median_abs_error_s <= 2.0 && q.ifttt_p95_abs_error_s <= 10.0,
        "{q:?}"
    );
    assert!(q.dup_precision >= 0.98 && q.dup_recall >= 0.95, "{q:?}");
    // The drift found runs against the clock's gain: about -120 s a day.
    let a = &s.labels.drifts[0];
    assert!(a.len() >= 2, "{a:?}");
    let rate = labelbench::curation::clock::seconds_per_day(a[0], a[a.len() - 1]);
    assert!((-140.0..=-100.0).contains(&rate), "{rate} s a day: {a:?}");
    // An edit in the journal, undone as one step.
    let drift_edits = s
        .history
        .log
        .iter()
        .filter(|j| {
            serde_json::to_string(&j.edit)
                .unwrap()
                .contains("set-source-drift")
        })
        .count();
    assert!(drift_edits >= 1);
}

#[test]
fn events_outside_every_capture_get_no_feature_row_training_row_or_slice() {
    let Some(r) = crate::common::real() else {
        return;
    };
    let m = r.join("moniotr");
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("devices.csv");
    std::fs::write(
        &reg,
        "name,mac,ip,description,hub\nyi-camera,b0:d5:9d:b9:f0:b4,,Yi camera,\n",
    )
    .unwrap();
    let proj = dir.path().join("m.labelbench.json");
    run_ok(
        std::process::Command::new(bin())
            .arg("new")
            .arg(&proj)
            .arg("--capture")
            .arg(m.join("yi_camera_sample.pcap"))
            .arg("--devices")
            .arg(&reg)
            .arg("--source")
            .arg(format!(
                "experiments:{}@America/New_York",
                m.join("exp_list.txt").display()
            )),
    );
    let s = Session::open(&proj, OpenOptions::default(), None).unwrap();
    let (evs, left) = labelbench::learn::features::feature_events(&s, &s.project.window);
    // Each experiment's window is its own span (its capture's, where loaded): only the one
    // this capture holds overlaps it.
    assert_eq!((evs.len(), left.outside_captures), (1, 249), "{left:?}");
    assert_eq!(
        labelbench::learn::features::extract(&s, &s.project.window, 1).len(),
        1
    );
    let text = |o: std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let out = text(run_ok(
        std::process::Command::new(bin()).arg("inspect").arg(&proj),
    ));
    assert!(
        out.contains("249 whose window lies outside every capture's time span"),
        "{out}"
    );
    let exp = dir.path().join("exp");
    let out = text(run_ok(
        std::process::Command::new(bin())
            .arg("export")
            .arg(&proj)
            .arg("--out")
            .arg(&exp)
            .arg("--pcap-slices")
            .arg("--format")
            .arg("csv"),
    ));
    assert!(out.contains("249 whose window lies outside"), "{out}");
    assert_eq!(std::fs::read_dir(exp.join("slices")).unwrap().count(), 1);
}

#[test]
fn small_pushed_commands_among_keepalives_are_found_not_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let o = SimOptions {
        devices: 10,
        days: 2,
        seed: 31,
        defects: Defects::small_commands(),
        ..Default::default()
    };
    let r = generate(dir.path(), &o).unwrap();
    let mut s = Session::open(&r.project, OpenOptions::default(), None).unwrap();
    let found = suggest(&s, &Default::default());
    // Plug commands are one ~271-byte push among 85/89-byte keepalives: found by change.
    let by_change = found
        .iter()
        .filter(|x| x.kind == SuggestionKind::Skew && x.evidence.contains("do not have"))
        .count();
    assert!(by_change >= 50, "{by_change} commands found by change");
    // A "no traffic" finding states what was expected and not seen.
    for x in found.iter().filter(|x| x.kind == SuggestionKind::NoTraffic) {
        assert!(
            x.evidence.contains("no burst") || x.evidence.contains("sent and received nothing"),
            "{x:?}"
        );
    }
    run_all(&mut s, &Acceptance::all(), &Default::default()).unwrap();
    // The trigger logger's clock steps by +60 s half-way: followed as a step of about −60 s.
    let steps = &s.labels.steps[1];
    assert_eq!(steps.len(), 1, "{steps:?}");
    let (at, d) = steps[0];
    let mid = o.start_ns + o.days as i64 * 43_200_000_000_000;
    assert!(
        (at - mid).abs() < 12 * 3_600_000_000_000,
        "step at {at}, mid {mid}"
    );
    assert!((-75.0..=-45.0).contains(&(d as f64 / 1e9)), "step {d}");
    let q = against_ground_truth(&s, &dir.path().join("ground-truth.csv")).unwrap();
    let true_trigger_events = q.minute_events.max(1);
    assert!(
        q.wrongly_rejected * 50 <= true_trigger_events,
        "at most 2 % of true events rejected as no traffic: {q:?}"
    );
    assert!(q.median_abs_error_s <= 2.0, "{q:?}");
}

/// Two lights behind one hub, triggered for the same minute but switched seconds apart: each
/// label lands on a command of its own (which light's is which the hub's traffic cannot
/// tell), not both on one while the other goes unlabelled. Judged against the simulator's
/// true times.
#[test]
fn sibling_commands_behind_one_hub_land_on_a_command_each() {
    const S: i64 = 1_000_000_000;
    let dir = tempfile::tempdir().unwrap();
    let o = SimOptions {
        devices: 10,
        days: 2,
        seed: 1,
        defects: Defects::small_commands(),
        ..Default::default()
    };
    let r = generate(dir.path(), &o).unwrap();
    let mut s = Session::open(&r.project, OpenOptions::default(), None).unwrap();
    run_all(&mut s, &Acceptance::all(), &Default::default()).unwrap();
    let gt = r.project.parent().unwrap().join("ground-truth.csv");
    let mut truth: std::collections::HashMap<(String, u32), i64> = Default::default();
    for rec in csv::Reader::from_path(&gt).unwrap().records() {
        let rec = rec.unwrap();
        if let (true, Ok(t), Ok(line)) = (&rec[0] == "row", rec[6].parse(), rec[2].parse()) {
            truth.insert((rec[1].to_string(), line), t);
        }
    }
    // Active minute labels of different devices on one traffic device, logged for one minute.
    let mut groups: std::collections::BTreeMap<(u16, i64, u16), Vec<(i64, i64)>> =
        Default::default();
    for e in s.labels.events.iter().filter(|e| {
        e.status == labelbench::labels::Status::Active
            && e.precision == labelbench::labels::Precision::Minute
    }) {
        let path = s.sources[e.source as usize].spec.path.clone();
        if let Some(&t) = truth.get(&(path, e.line)) {
            groups
                .entry((e.source, e.original_ns, s.traffic_device(e.device)))
                .or_default()
                .push((t, s.adjusted_ns(e)));
        }
    }
    let near = |a: i64, t: i64| (a - t).abs() <= 10 * S;
    let (mut apart, mut each) = (0, 0);
    for g in groups.values().filter(|g| g.len() == 2) {
        let ((t1, a1), (t2, a2)) = (g[0], g[1]);
        if (t1 - t2).abs() > 12 * S {
            apart += 1;
            if (near(a1, t1) && near(a2, t2)) || (near(a1, t2) && near(a2, t1)) {
                each += 1;
            }
        }
    }
    assert!(apart >= 30, "{apart} pairs switched apart");
    assert!(
        each * 10 >= apart * 9,
        "{each} of {apart} pairs on a command each"
    );
}

#[test]
fn a_zone_edit_recounts_the_rows_in_the_dst_gap() {
    let dir = tempfile::tempdir().unwrap();
    let Some(proj) = real_lab_project(dir.path(), &["ifttt-trigger:ifttt-actions.csv"]) else {
        return;
    };
    let text = std::fs::read_to_string(&proj).unwrap();
    std::fs::write(&proj, text.replace("America/New_York", "UTC")).unwrap();
    let mut s = Session::open(&proj, OpenOptions::default(), None).unwrap();
    assert_eq!(labelbench::project::inspect::inspect(&s).dst_gap_rows, 0);
    s.apply(labelbench::curation::edits::Edit::SetSourceZone {
        source: 0,
        from: "UTC".into(),
        to: "America/New_York".into(),
    })
    .unwrap();
    // The lab's scheduled triggers have 28 rows inside 2021-03-14 02:00-02:59 local.
    assert_eq!(labelbench::project::inspect::inspect(&s).dst_gap_rows, 28);
}

/// The independent onset share computed from tshark's packet times and the exported events
/// (tests/scripts/onsets_independent.py) equals the one `bench onsets` reports.
#[test]
fn the_independent_onset_measure_agrees_with_tshark() {
    if !crate::common::have_tshark() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(proj) = real_lab_project(
        dir.path(),
        &[
            "ifttt:ifttt-events.csv",
            "notifications-csv:android-events.csv",
        ],
    ) else {
        return;
    };
    run_ok(
        std::process::Command::new(bin())
            .arg("curate")
            .arg(&proj)
            .arg("--accept-all"),
    );
    let exp = dir.path().join("exp");
    run_ok(
        std::process::Command::new(bin())
            .arg("export")
            .arg(&proj)
            .arg("--out")
            .arg(&exp)
            .arg("--format")
            .arg("csv"),
    );
    let pcaps: Vec<std::path::PathBuf> = ["blink-cam-01", "schlage-lock-01"]
        .iter()
        .map(|n| {
            crate::common::real()
                .unwrap()
                .join(format!("fit-iot-dataset/pcaps/{n}.pcap"))
        })
        .collect();
    let out = run_ok(
        std::process::Command::new("python3")
            .arg(crate::common::script("onsets_independent.py"))
            .arg(exp.join("events.csv"))
            .args(&pcaps)
            .arg("--json"),
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The curated labels, as the journal replays them.
    let s = crate::common::open_journaled(&proj);
    let ours = onset_agreement(&s);
    for kind in ["ifttt", "notifications-csv"] {
        let theirs = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["source_kind"] == kind)
            .unwrap();
        let mine = ours.iter().find(|a| a.kind == kind).unwrap();
        assert_eq!(
            (
                theirs["within"].as_u64().unwrap() as usize,
                theirs["events"].as_u64().unwrap() as usize
            ),
            (mine.within_5s_independent, mine.events_with_traffic),
            "{kind}"
        );
    }
}
