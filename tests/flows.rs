//! Flows checked against meters that share no code with labelbench: the rules of docs/flows.md
//! re-implemented over tshark's fields (tests/scripts/flows_independent.py), and tshark's own
//! TCP conversations.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{bin, have_python, have_tshark, real, run_ok, script};

const PRESETS: [&str; 3] = ["smart-home", "nfstream", "zeek"];

/// Every capture in ../shared/real/, one project each (the two lab captures also together).
fn real_capture_sets(r: &Path) -> Vec<Vec<PathBuf>> {
    let lab = r.join("fit-iot-dataset/pcaps");
    let mut sets = vec![vec![
        lab.join("blink-cam-01.pcap"),
        lab.join("schlage-lock-01.pcap"),
    ]];
    for f in [
        "fit-iot-dataset/pcaps/blink-cam-01.pcap",
        "fit-iot-dataset/pcaps/schlage-lock-01.pcap",
        "iot-sentinel/D-LinkCam/Setup-A-1-STA.pcap",
        "iot-sentinel/HueBridge/Setup-A-1-STA.pcap",
        "iot-sentinel/TP-LinkPlugHS110/Setup-A-1-STA.pcap",
        "moniotr/yi_camera_sample.pcap",
        "pcap-vectors/ntp.pcap",
        "pcap-vectors/test001-be.pcapng",
        "pcap-vectors/test016-le.pcapng",
    ] {
        sets.push(vec![r.join(f)]);
    }
    sets
}

/// Writes a project over `captures` with these flow options and exports its tables as CSV;
/// returns the flows.csv path.
fn export_flows(dir: &Path, name: &str, captures: &[PathBuf], flow_args: &[&str]) -> PathBuf {
    let proj = dir.join(format!("{name}.labelbench.json"));
    let mut new = Command::new(bin());
    new.arg("new").arg(&proj);
    for c in captures {
        new.arg("--capture").arg(c);
    }
    run_ok(new.args(flow_args));
    let out = dir.join(format!("{name}-export"));
    run_ok(
        Command::new(bin())
            .arg("export")
            .arg(&proj)
            .arg("--out")
            .arg(&out)
            .args(["--format", "csv"]),
    );
    out.join("flows.csv")
}

fn meter(captures: &[PathBuf], args: &[&str], flows_csv: &Path) -> std::process::Output {
    Command::new("python3")
        .arg(script("flows_independent.py"))
        .args(args)
        .args(captures)
        .arg("--compare")
        .arg(flows_csv)
        .output()
        .unwrap()
}

fn assert_agrees(out: std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: the independent meter disagrees\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Same flows (endpoints, first/last time, packets and bytes per direction, end reason) as
/// the independent meter, on every real capture, for every preset.
#[test]
fn flows_equal_the_independent_meter_on_every_real_capture() {
    let Some(r) = real() else { return };
    if !have_tshark() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, set) in real_capture_sets(&r).iter().enumerate() {
        for p in PRESETS {
            let csv = export_flows(
                dir.path(),
                &format!("c{i}-{p}"),
                set,
                &["--flow-timeouts", p],
            );
            assert_agrees(meter(set, &["--preset", p], &csv), &format!("{set:?} {p}"));
        }
    }
}

/// The same on a simulated lab (hourly captures of several devices, connections torn down and
/// held open): a few hours of it, merged across files.
#[test]
fn flows_equal_the_independent_meter_on_a_simulated_lab() {
    if !have_tshark() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim");
    crate::common::sim(&sim, 4, 1, 11, None);
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(sim.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pcaps.sort();
    let some = &pcaps[2..5];
    for p in PRESETS {
        let csv = export_flows(
            dir.path(),
            &format!("sim-{p}"),
            some,
            &["--flow-timeouts", p],
        );
        let text = std::fs::read_to_string(&csv).unwrap();
        assert!(
            text.contains(",fin,"),
            "the simulated hours have TCP teardowns"
        );
        assert_agrees(meter(some, &["--preset", p], &csv), &format!("sim {p}"));
    }
}

/// With the zeek preset, TCP flows are tshark's TCP conversations (`tcp.stream`) on the
/// captures where no connection is quiet for over 5 minutes; the lock's MQTT connection, whose
/// keepalives come every 300 s, is the one where they are not.
#[test]
fn zeek_preset_tcp_flows_are_tsharks_conversations() {
    let Some(r) = real() else { return };
    if !have_tshark() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, f) in [
        "fit-iot-dataset/pcaps/blink-cam-01.pcap",
        "iot-sentinel/D-LinkCam/Setup-A-1-STA.pcap",
        "iot-sentinel/HueBridge/Setup-A-1-STA.pcap",
        "iot-sentinel/TP-LinkPlugHS110/Setup-A-1-STA.pcap",
    ]
    .iter()
    .enumerate()
    {
        let set = vec![r.join(f)];
        let csv = export_flows(
            dir.path(),
            &format!("z{i}"),
            &set,
            &["--flow-timeouts", "zeek"],
        );
        assert_agrees(meter(&set, &["--tcp-streams"], &csv), f);
    }
    // The lock's MQTT connections: quiet for up to 58 minutes once, 5 minutes between
    // keepalives otherwise. An hour's TCP idle keeps each whole (one flow per tshark
    // conversation); Zeek's 5 minutes split them.
    let lock = vec![r.join("fit-iot-dataset/pcaps/schlage-lock-01.pcap")];
    let csv = export_flows(dir.path(), "lock", &lock, &["--tcp-idle", "3600"]);
    assert_agrees(meter(&lock, &["--tcp-streams"], &csv), "lock, TCP idle 1 h");
    let csv = export_flows(dir.path(), "lock-zeek", &lock, &["--flow-timeouts", "zeek"]);
    assert!(!meter(&lock, &["--tcp-streams"], &csv).status.success());
}

/// The nfstream preset against nfstream itself (tests/scripts/flows_nfstream.py): equal where
/// the definitions agree; the script checks each remaining difference has its documented cause.
#[test]
fn nfstream_preset_matches_nfstream_where_the_definitions_agree() {
    let Some(r) = real() else { return };
    if !have_python(&["nfstream"]) {
        return;
    }
    let tcprewrite = Command::new("tcprewrite").arg("--version").output();
    if !tcprewrite.is_ok_and(|o| o.status.success()) {
        crate::common::missing("tcprewrite (tcpreplay)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (i, set) in real_capture_sets(&r).iter().skip(1).take(6).enumerate() {
        let csv = export_flows(
            dir.path(),
            &format!("n{i}"),
            set,
            &["--flow-timeouts", "nfstream"],
        );
        let out = Command::new("python3")
            .arg(script("flows_nfstream.py"))
            .arg(&set[0])
            .arg("--compare")
            .arg(&csv)
            .arg("--work")
            .arg(dir.path())
            .output()
            .unwrap();
        assert_agrees(out, &format!("nfstream {set:?}"));
    }
}

/// Options set the timeouts one by one; the project and the export's manifest record them.
#[test]
fn flow_timeouts_are_project_settings_recorded_in_the_manifest() {
    let Some(r) = real() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lock = vec![r.join("fit-iot-dataset/pcaps/schlage-lock-01.pcap")];
    let csv = export_flows(
        dir.path(),
        "custom",
        &lock,
        &[
            "--flow-timeouts",
            "zeek",
            "--tcp-idle",
            "600",
            "--active-timeout",
            "3600",
        ],
    );
    let proj: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("custom.labelbench.json")).unwrap())
            .unwrap();
    let f = &proj["flows"];
    assert_eq!(f["preset"], "custom");
    assert_eq!(f["tcp_idle_ns"], 600_000_000_000i64);
    assert_eq!(f["udp_idle_ns"], 60_000_000_000i64);
    assert_eq!(f["active_ns"], 3_600_000_000_000i64);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(csv.parent().unwrap().join("manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["settings"]["flows"], *f);
    // No flow outlives the active timeout's hour, and none is split at a gap under 600 s.
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut rdr = text.lines();
    let head: Vec<&str> = rdr.next().unwrap().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (first, last, end) = (col("first_ns"), col("last_ns"), col("end"));
    let mut ends = std::collections::BTreeMap::new();
    for l in rdr {
        let v: Vec<&str> = l.split(',').collect();
        let d = v[last].parse::<i64>().unwrap() - v[first].parse::<i64>().unwrap();
        assert!(d <= 3_600_000_000_000, "{l}");
        *ends.entry(v[end].to_string()).or_insert(0) += 1;
    }
    assert!(ends.get("active").copied().unwrap_or(0) > 0, "{ends:?}");
    // A bad value is refused with the option's name.
    let e = crate::common::run_bad(
        Command::new(bin())
            .arg("new")
            .arg(dir.path().join("bad.labelbench.json"))
            .arg("--capture")
            .arg(&lock[0])
            .args(["--linger", "1000"]),
    );
    assert!(e.contains("linger"), "{e}");
}
