//! The CLI contract: `new`, `inspect --json`, exit codes.

use std::process::Command;

use crate::common::{bin, real, run_bad};

#[test]
fn new_then_inspect_json_on_real_lab_data() {
    let Some(r) = real() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lab = r.join("fit-iot-dataset");
    let proj = dir.path().join("lab.labelbench.json");
    // A file named again by a second argument is read once (its packets are not doubled).
    let made = crate::common::run_ok(
        Command::new(bin())
            .arg("new")
            .arg(&proj)
            .arg("--capture")
            .arg(lab.join("pcaps/*.pcap"))
            .arg("--capture")
            .arg(lab.join("pcaps/blink-cam-01.pcap"))
            .arg("--devices")
            .arg(lab.join("devices.json"))
            .arg("--source")
            .arg(format!(
                "ifttt:{}@America/New_York",
                lab.join("labels/ifttt-events.csv").display()
            ))
            .arg("--source")
            .arg(format!(
                "ifttt-trigger:{}@America/New_York",
                lab.join("labels/ifttt-actions.csv").display()
            )),
    );
    let said = String::from_utf8_lossy(&made.stdout);
    assert!(
        said.contains("(2 capture patterns naming 2 files, 2 label sources)"),
        "{said}"
    );
    let text = std::fs::read_to_string(&proj).unwrap();
    assert!(
        !text.contains(&*dir.path().to_string_lossy()),
        "paths are relative"
    );
    let out = crate::common::run_ok(Command::new(bin()).arg("inspect").arg(&proj).arg("--json"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["packets"], 35_172);
    for k in [
        "bytes",
        "flows",
        "first_ns",
        "last_ns",
        "devices",
        "events",
        "events_by_source",
        "errors",
        "warnings",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    assert_eq!(v["events"], 613 + 4944);
    let srcs = v["events_by_source"].as_array().unwrap();
    assert_eq!(srcs[0]["rows"], 613);
    assert_eq!(srcs[1]["dst_gap_rows"], 28);
    assert!(srcs[1]["path"].as_str().unwrap().contains(".."));
    let lock = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "schlage-lock-01")
        .unwrap();
    assert!(lock["packets"].as_u64().unwrap() > 10_000);
    assert_eq!(lock["mac"].as_str().unwrap().len(), 17);
    // Text output too.
    let out = Command::new(bin())
        .arg("inspect")
        .arg(&proj)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("schlage-lock-01") && s.contains("flows"), "{s}");
    // A hub's child has no MAC: the text names the hub whose traffic stands for it.
    let august = s.lines().find(|l| l.contains("august-lock-01")).unwrap();
    assert!(august.contains("via august-hub-01"), "{august}");
    // The device table stays aligned when a hub's name is longer than a MAC
    // ("via smartthings-hub-01"): every row's packets column ends where the header's does.
    let head = s
        .lines()
        .find(|l| l.trim_start().starts_with("name "))
        .unwrap();
    let end = head.find("packets").unwrap() + "packets".len();
    let table = s.lines().skip_while(|l| *l != head).skip(1);
    let rows: Vec<&str> = table.take_while(|l| !l.trim().is_empty()).collect();
    assert!(
        rows.iter().any(|l| l.contains("via smartthings-hub-01")),
        "{s}"
    );
    for l in &rows {
        let digits = l[..end].trim_end();
        assert!(
            digits.len() == end && digits.ends_with(|c: char| c.is_ascii_digit()),
            "{l}\n{head}"
        );
    }
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("p.labelbench.json");
    std::fs::write(&proj, "{ not json").unwrap();
    let e = run_bad(Command::new(bin()).arg("inspect").arg(&proj));
    assert!(
        e.contains("p.labelbench.json") && e.contains("line 1"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1);
    let e = run_bad(
        Command::new(bin())
            .args(["new", "x.json", "--capture", "nope/*.pcap"])
            .current_dir(dir.path()),
    );
    assert!(e.contains("nope/*.pcap"), "{e}");
}

/// A label source given twice (same kind, same file, however spelled) is refused by `new`,
/// which would otherwise load each of its events twice; a project edited by hand to list one
/// twice still loads, with a warning naming both.
#[test]
fn a_label_source_given_twice_is_refused() {
    let Some(r) = real() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lab = r.join("fit-iot-dataset");
    let proj = dir.path().join("twice.labelbench.json");
    let src = |p: std::path::PathBuf| format!("ifttt:{}@America/New_York", p.display());
    let events = lab.join("labels/ifttt-events.csv");
    let again = lab.join("labels/../labels/ifttt-events.csv");
    let e = run_bad(
        Command::new(bin())
            .arg("new")
            .arg(&proj)
            .arg("--capture")
            .arg(lab.join("pcaps/*.pcap"))
            .args(["--source", &src(events.clone()), "--source", &src(again)]),
    );
    assert!(
        e.contains("ifttt-events.csv: label source given twice as ifttt"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1);
    assert!(!proj.exists());
    // The same file as another kind is another source.
    let trig = format!("ifttt-trigger:{}@America/New_York", events.display());
    crate::common::run_ok(
        Command::new(bin())
            .arg("new")
            .arg(&proj)
            .arg("--capture")
            .arg(lab.join("pcaps/*.pcap"))
            .args(["--source", &src(events.clone()), "--source", &trig]),
    );
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&proj).unwrap()).unwrap();
    v["sources"][1]["kind"] = "ifttt".into();
    std::fs::write(&proj, v.to_string()).unwrap();
    let out = crate::common::run_ok(
        Command::new(bin())
            .arg("inspect")
            .arg(&proj)
            .args(["--json", "--no-cache"]),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warned = v["warnings"].as_array().unwrap().iter().any(|w| {
        w.as_str()
            .unwrap()
            .contains("label sources 1 and 2 are the same file read as ifttt")
    });
    assert!(warned, "{}", v["warnings"]);
}

/// `labelbench PROJECT` is `labelbench gui PROJECT`; a project that is not there is reported
/// before any window opens (so this runs without a display), and a mistyped subcommand is
/// still a usage error, not a project. A project whose registry has gone names it.
#[test]
fn a_missing_project_is_reported_before_a_window_opens() {
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("gone.labelbench.json");
    for args in [
        vec![proj.as_os_str()],
        vec!["gui".as_ref(), proj.as_os_str()],
    ] {
        let out = Command::new(bin()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(
            e.contains("gone.labelbench.json: project file not found"),
            "{args:?}: {e}"
        );
    }
    // A folder is named as one, with the project files it holds.
    std::fs::write(dir.path().join("b.labelbench.json"), "{}").unwrap();
    std::fs::write(dir.path().join("a.labelbench.json"), "{}").unwrap();
    for args in [["inspect"], ["gui"]] {
        let mut cmd = Command::new(bin());
        let e = run_bad(cmd.args(args).arg(dir.path()));
        assert!(
            e.contains("is a folder, not a project file (project files in it: a.labelbench.json, b.labelbench.json)"),
            "{args:?}: {e}"
        );
    }
    // A project whose device registry has gone says which file is missing, and what it is.
    let reg = dir.path().join("devices.csv");
    std::fs::write(&reg, "cam,aa:bb:cc:dd:ee:01,,,\n").unwrap();
    let pcap = real()
        .map(|r| r.join("fit-iot-dataset/pcaps/schlage-lock-01.pcap"))
        .filter(|p| p.is_file());
    if let Some(pcap) = pcap {
        crate::common::run_ok(
            Command::new(bin())
                .arg("new")
                .arg(&proj)
                .arg("--capture")
                .arg(&pcap)
                .arg("--devices")
                .arg(&reg),
        );
        std::fs::remove_file(&reg).unwrap();
        let e = run_bad(Command::new(bin()).arg("inspect").arg(&proj));
        assert!(e.contains("devices.csv: device registry not found"), "{e}");
    }
    let out = Command::new(bin()).arg("inspct").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"));
}

/// `curate --order` lists suggestions in the asked order and changes nothing without
/// `--accept`; an unknown order is a usage error.
#[test]
fn curate_lists_suggestions_in_the_asked_order() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::sim(dir.path(), 4, 2, 3, Some(20_000));
    let proj = dir.path().join("sample.labelbench.json");
    let list = |order: &str| -> Vec<serde_json::Value> {
        let out = crate::common::run_ok(
            Command::new(bin())
                .args(["curate", "--json", "--order", order])
                .arg(&proj),
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["applied_edits"], 0);
        v["suggestions"].as_array().unwrap().clone()
    };
    let by_kind = list("kind");
    let conf = list("confidence");
    let time = list("time");
    assert!(by_kind.len() > 10, "{}", by_kind.len());
    assert_eq!(conf.len(), by_kind.len());
    let c: Vec<f64> = conf
        .iter()
        .map(|s| s["confidence"].as_f64().unwrap())
        .collect();
    assert!(c.windows(2).all(|w| w[0] >= w[1]));
    let c0: Vec<f64> = by_kind
        .iter()
        .map(|s| s["confidence"].as_f64().unwrap())
        .collect();
    assert_ne!(c, c0, "kind order is not already by confidence");
    let t: Vec<Option<i64>> = time.iter().map(|s| s["at_ns"].as_i64()).collect();
    let dated = t.iter().take_while(|x| x.is_some()).count();
    assert!(t[dated..].iter().all(Option::is_none));
    assert!(t[..dated].windows(2).all(|w| w[0] <= w[1]));
    assert!(!dir.path().join("sample.labelbench.edits.jsonl").exists());

    // The text listing: `--limit 0` lists every suggestion, `--limit 2` two per kind and says
    // how many more there are.
    let text = |args: &[&str]| {
        let out = crate::common::run_ok(Command::new(bin()).arg("curate").args(args).arg(&proj));
        String::from_utf8(out.stdout).unwrap()
    };
    let all = text(&["--limit", "0"]);
    let listed = all
        .lines()
        .filter(|l| l.starts_with("  ") && !l.contains(" more ("))
        .count();
    assert_eq!(listed, by_kind.len(), "{all}");
    assert!(!all.contains(" more ("));
    let two = text(&["--limit", "2"]);
    let mut kinds: Vec<&str> = by_kind
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    kinds.dedup();
    let listed = two
        .lines()
        .filter(|l| l.starts_with("  ") && !l.contains(" more ("))
        .count();
    let want: usize = kinds
        .iter()
        .map(|k| by_kind.iter().filter(|s| s["kind"] == *k).count().min(2))
        .sum();
    assert_eq!(listed, want, "{two}");
    assert!(two.contains(" more (--limit 0 lists all"), "{two}");

    let e = run_bad(
        Command::new(bin())
            .args(["curate", "--order", "loudest"])
            .arg(&proj),
    );
    assert!(e.contains("--order"), "{e}");
}

/// `bench ingest` reports what it measured, with and without a registry: the same packets and
/// flows, a working cache reopen, and with the lab's devices.json every device registered and
/// one index entry per attributed packet instead of a second one for the unregistered gateway.
#[test]
fn bench_ingest_reports_figures_with_and_without_a_registry() {
    // Inputs that do not read whole: the report says so, and gives no figure per packet
    // when no packet was read.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"hello, not a capture").unwrap();
    let out = crate::common::run_ok(
        Command::new(bin())
            .args(["bench", "ingest"])
            .arg(&junk)
            .args(["--runs", "1", "--no-tshark", "--no-cache"]),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let out = crate::common::run_ok(
        Command::new(bin())
            .args(["bench", "ingest"])
            .arg(&junk)
            .args(["--runs", "1", "--no-tshark", "--no-cache", "--json"]),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["peak_bytes_per_packet"].is_null(), "{v}");
    assert_eq!(v["warnings"].as_array().unwrap().len(), 1);
    assert!(
        text.contains("warnings     1 (the figures count only the packets read):")
            && text.contains("junk.pcap: packet 0 at byte offset 0: not a pcap or pcapng file")
            && text.contains("no packets read, so no figure per packet"),
        "{text}"
    );

    let Some(r) = real() else { return };
    let lab = r.join("fit-iot-dataset");
    let pcaps = [
        lab.join("pcaps/blink-cam-01.pcap"),
        lab.join("pcaps/schlage-lock-01.pcap"),
    ];
    let run = |devices: Option<&std::path::Path>| -> serde_json::Value {
        let mut cmd = Command::new(bin());
        cmd.args(["bench", "ingest"])
            .args(&pcaps)
            .args(["--runs", "2", "--no-tshark", "--json"]);
        if let Some(d) = devices {
            cmd.arg("--devices").arg(d);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let bare = run(None);
    let lab_reg = run(Some(&lab.join("devices.json")));
    for v in [&bare, &lab_reg] {
        assert_eq!(v["packets"], 11_150 + 24_022);
        assert_eq!(v["labelbench_runs_s"].as_array().unwrap().len(), 2);
        assert!(v["cat_s"].as_f64().unwrap() > 0.0);
        assert!(v["ratio_vs_cat"].as_f64().unwrap() > 0.0);
        assert!(v["tshark_s"].is_null());
        assert!(
            v["cache_load_s"].as_f64().is_some(),
            "the cache reopen failed: {v}"
        );
        assert!(v["peak_bytes_per_packet"].as_f64().unwrap() > 0.0);
        assert_eq!(v["warnings"].as_array().unwrap().len(), 0);
    }
    assert_eq!(bare["flows"], lab_reg["flows"]);
    assert_eq!(bare["registered_devices"], 0);
    assert_eq!(lab_reg["registered_devices"], 72);
    let (b, l) = (
        bare["index_entries"].as_u64().unwrap(),
        lab_reg["index_entries"].as_u64().unwrap(),
    );
    assert!(
        b > 35_172 * 3 / 2,
        "without a registry the peers are indexed too: {b}"
    );
    assert!(l <= 35_172 && l > 30_000, "{l}");
    // A registry that cannot be read is bad input naming the file.
    let e = run_bad(
        Command::new(bin())
            .args(["bench", "ingest"])
            .args(&pcaps)
            .args(["--runs", "1", "--no-tshark", "--no-cache", "--devices"])
            .arg(lab.join("no-such-devices.json")),
    );
    assert!(e.contains("no-such-devices.json"), "{e}");
}

/// Option values are checked before any project is loaded: a missing project with a bad value
/// reports the value (exit code 2), not the project.
#[test]
fn option_values_are_checked_before_loading() {
    for args in [
        &["train", "missing.labelbench.json", "--model", "bogus"][..],
        &["train", "missing.labelbench.json", "--scope", "lab"],
        &[
            "export",
            "missing.labelbench.json",
            "--out",
            "x",
            "--format",
            "xlsx",
        ],
        &["curate", "missing.labelbench.json", "--order", "size"],
    ] {
        let err =
            crate::common::run_bad(std::process::Command::new(crate::common::bin()).args(args));
        assert!(
            err.contains("invalid value") && err.contains("possible values"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("not found"), "{args:?}: {err}");
    }
}
