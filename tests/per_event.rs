//! One capture per event: Mon(IoT)r's experiment list against its capture, a folder of
//! per-event captures whose paths are the labels, and windows that follow the label.

use std::path::Path;
use std::process::Command;

use crate::common::{bin, epoch_text_ns, export_csv, open_journaled, real, run_bad, run_ok};

/// The Yi camera of the Mon(IoT)r sample, by the MAC that sends most of its packets.
const YI_REGISTRY: &str = "name,mac,ip,description,hub\nyi-camera,b0:d5:9d:b9:f0:b4,,Yi camera,\n";

fn features_windows(out: &Path) -> Vec<(String, i64, i64)> {
    let text = std::fs::read_to_string(out.join("features.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[2].to_string(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
            )
        })
        .collect()
}

/// A project in `dir` over the Mon(IoT)r Yi capture (in `moniotr`) with the Yi registry and
/// one label source (`new --source` syntax).
fn yi_project(dir: &Path, moniotr: &Path, source: &str) -> std::path::PathBuf {
    let reg = dir.join("devices.csv");
    std::fs::write(&reg, YI_REGISTRY).unwrap();
    let proj = dir.join("yi.labelbench.json");
    run_ok(
        Command::new(bin())
            .arg("new")
            .arg(&proj)
            .arg("--capture")
            .arg(moniotr.join("yi_camera_sample.pcap"))
            .arg("--devices")
            .arg(&reg)
            .arg("--source")
            .arg(source),
    );
    proj
}

/// The capture's span as tshark reads it (first and last packet, ns).
fn tshark_span(p: &Path) -> Option<(i64, i64)> {
    if !crate::common::have_tshark() {
        return None;
    }
    let o = Command::new("tshark")
        .arg("-r")
        .arg(p)
        .args(["-T", "fields", "-e", "frame.time_epoch"])
        .output()
        .unwrap();
    let ns: Vec<i64> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(epoch_text_ns)
        .collect();
    Some((*ns.iter().min()?, *ns.iter().max()?))
}

/// Mon(IoT)r's experiment list with its one capture: the experiment whose path matches the
/// capture (US Eastern local start, 31 s) gets the capture's 30.6 s span as its window; the
/// 249 others have no traffic and are left out.
#[test]
fn an_experiment_gets_its_captures_span_as_window() {
    let Some(r) = real() else { return };
    let m = r.join("moniotr");
    let dir = tempfile::tempdir().unwrap();
    let proj = yi_project(
        dir.path(),
        &m,
        &format!(
            "experiments:{}@America/New_York",
            m.join("exp_list.txt").display()
        ),
    );
    let out = dir.path().join("out");
    export_csv(&proj, &out);
    let w = features_windows(&out);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].0, "android_lan_watch");
    let span = w[0].2 - w[0].1;
    assert!((30_600_000_000..30_700_000_000).contains(&span), "{span}");
    if let Some((a, b)) = tshark_span(&m.join("yi_camera_sample.pcap")) {
        assert_eq!((w[0].1, w[0].2), (a, b));
    }
    // With the fixed window, the same event gets [t − 5 s, t + 25 s].
    let mut p: serde_json::Value = serde_json::from_slice(&std::fs::read(&proj).unwrap()).unwrap();
    p["window"]["follow_duration"] = false.into();
    std::fs::write(&proj, serde_json::to_vec_pretty(&p).unwrap()).unwrap();
    let out2 = dir.path().join("out2");
    export_csv(&proj, &out2);
    let w = features_windows(&out2);
    assert_eq!(w[0].2 - w[0].1, 30_000_000_000);
}

/// A folder of per-event captures in Mon(IoT)r's layout is a project in one command: one event
/// per file with its device, class, start (read in the given zone) and duration from the path;
/// its window is its own capture; a path the pattern does not read is an error naming the file.
/// A user pattern takes what the path lacks from the capture.
#[test]
fn per_event_captures_are_the_labels() {
    let Some(r) = real() else { return };
    let sample = r.join("moniotr/yi_camera_sample.pcap");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let exp = d.join("traffic/us/yi-camera/android_lan_watch");
    std::fs::create_dir_all(&exp).unwrap();
    std::fs::copy(&sample, exp.join("2019-04-26_21:42:57.31s.pcap")).unwrap();
    std::fs::copy(&sample, exp.join("no-time-here.pcap")).unwrap();
    let reg = d.join("devices.csv");
    std::fs::write(&reg, YI_REGISTRY).unwrap();
    let proj = d.join("per-event.labelbench.json");
    let out = run_ok(
        Command::new(bin())
            .arg("new")
            .arg(&proj)
            .arg("--per-event-captures")
            .arg(d.join("traffic/**/*.pcap"))
            .arg("--devices")
            .arg(&reg)
            .args(["--tz", "America/New_York"]),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("per-event-captures"), "{text}");
    let s = open_journaled(&proj);
    let src = &s.sources[0];
    assert_eq!(src.load.rows, 2);
    assert_eq!(src.load.errors.len(), 1, "{:?}", src.load.errors);
    assert!(src.load.errors[0].file.ends_with("no-time-here.pcap"));
    assert!(
        src.load.errors[0].reason.contains("does not match"),
        "{:?}",
        src.load.errors
    );
    let e = &s.labels.events[0];
    assert_eq!(
        (e.class.as_str(), s.event_device_name(e)),
        ("android_lan_watch", "yi-camera")
    );
    // 21:42:57 in New York (EDT) is 01:42:57 UTC the next day.
    assert_eq!(e.original_ns, 1_556_329_377_000_000_000);
    assert_eq!(e.duration_ns, 31_000_000_000);
    let outd = d.join("out");
    export_csv(&proj, &outd);
    let w = features_windows(&outd);
    assert_eq!(w.len(), 1);
    if let Some(span) = tshark_span(&sample) {
        assert_eq!((w[0].1, w[0].2), span);
    }

    // A user pattern without times: start and duration from the capture.
    let proj2 = d.join("pattern.labelbench.json");
    run_ok(
        Command::new(bin())
            .arg("new")
            .arg(&proj2)
            .arg("--per-event-captures")
            .arg(exp.join("no-time-here.pcap"))
            .args(["--path-pattern", "{device}/{class}/*.pcap"])
            .arg("--devices")
            .arg(&reg),
    );
    let s = open_journaled(&proj2);
    assert!(
        s.sources[0].load.errors.is_empty(),
        "{:?}",
        s.sources[0].load.errors
    );
    let e = &s.labels.events[0];
    assert_eq!(e.class, "android_lan_watch");
    if let Some((a, b)) = tshark_span(&sample) {
        assert_eq!((e.original_ns, e.duration_ns), (a, b - a));
    }
    // A pattern with an unknown field is refused before anything is written.
    let err = run_bad(
        Command::new(bin())
            .arg("new")
            .arg(d.join("bad.labelbench.json"))
            .arg("--per-event-captures")
            .arg(exp.join("no-time-here.pcap"))
            .args(["--path-pattern", "{device}/{activity}.pcap"]),
    );
    assert!(err.contains("unknown field {activity}"), "{err}");

    // Without a registry the camera's MAC is not guessed: the phone that watches it on the
    // LAN is a local sender in the capture too, and the session names both.
    let proj3 = d.join("bare.labelbench.json");
    run_ok(
        Command::new(bin())
            .arg("new")
            .arg(&proj3)
            .arg("--per-event-captures")
            .arg(exp.join("2019-04-26_21:42:57.31s.pcap")),
    );
    let s = open_journaled(&proj3);
    assert!(
        s.warnings.iter().any(|w| w.starts_with("yi-camera: no MAC")
            && w.contains("several local senders")
            && w.contains("b0:d5:9d:b9:f0:b4")),
        "{:?}",
        s.warnings
    );
}

/// A CSV of intervals (`start,end`) gives each event its own span as its window.
#[test]
fn csv_intervals_are_their_own_windows() {
    let Some(r) = real() else { return };
    let m = r.join("moniotr");
    let dir = tempfile::tempdir().unwrap();
    // Mon(IoT)r's own result table: ts, ts_end, …, state, device; its kind and columns are
    // told from its content, the end column too.
    let proj = yi_project(
        dir.path(),
        &m,
        &m.join("sample-result.csv").display().to_string(),
    );
    let out = dir.path().join("out");
    export_csv(&proj, &out);
    let w = features_windows(&out);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].1, 1_556_329_377_198_794_000);
    assert_eq!(w[0].2, 1_556_329_407_828_307_000);
}

/// `new --from` on a folder of per-event captures in Mon(IoT)r's layout makes them the
/// labels too, and says so.
#[test]
fn a_folder_of_per_event_captures_opens_with_from() {
    let Some(r) = real() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("moniotr");
    let exp = d.join("traffic/us/yi-camera/android_lan_watch");
    std::fs::create_dir_all(&exp).unwrap();
    std::fs::copy(
        r.join("moniotr/yi_camera_sample.pcap"),
        exp.join("2019-04-26_21:42:57.31s.pcap"),
    )
    .unwrap();
    std::fs::write(d.join("devices.csv"), YI_REGISTRY).unwrap();
    let proj = dir.path().join("m.labelbench.json");
    let out = run_ok(
        Command::new(bin())
            .arg("new")
            .arg(&proj)
            .arg("--from")
            .arg(&d)
            .args(["--tz", "America/New_York"]),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("per-event-captures") && text.contains("Mon(IoT)r's layout"),
        "{text}"
    );
    let s = open_journaled(&proj);
    assert_eq!(s.labels.events.len(), 1);
    assert_eq!(s.labels.events[0].class, "android_lan_watch");
    assert_eq!(s.traffic.packets.len(), 1631);
}

/// `demo-data --per-event-captures` writes one capture per true event in Mon(IoT)r's layout;
/// the project it writes reads every path back as that event (device, class, local start a
/// few seconds before the true onset), and tshark finds every packet of a file inside the
/// span its path names and to or from the MAC of the device that carries the event.
#[test]
fn the_simulator_writes_a_per_event_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("pe");
    let wrote = run_ok(
        Command::new(bin())
            .arg("demo-data")
            .arg("--out")
            .arg(&d)
            .args(["--per-event-captures", "--devices", "6", "--scale", "60000"])
            .arg("--json"),
    );
    let wrote: serde_json::Value = serde_json::from_slice(&wrote.stdout).unwrap();
    assert!(!d.join("pcaps").exists());
    let truth = std::fs::read_to_string(d.join("ground-truth.csv")).unwrap();
    let mut events: Vec<(String, String, i64)> = truth
        .lines()
        .filter(|l| l.starts_with("event,"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[4].to_string(), f[5].to_string(), f[6].parse().unwrap())
        })
        .collect();
    events.sort();
    let s = open_journaled(&d.join("sample.labelbench.json"));
    assert!(
        s.sources[0].load.errors.is_empty(),
        "{:?}",
        s.sources[0].load.errors
    );
    let mut read: Vec<(String, String, i64)> = s
        .labels
        .events
        .iter()
        .map(|e| {
            (
                s.event_device_name(e).to_string(),
                e.class.clone(),
                e.original_ns,
            )
        })
        .collect();
    read.sort();
    assert_eq!(read.len(), events.len());
    for (r, t) in read.iter().zip(&events) {
        assert_eq!((&r.0, &r.1), (&t.0, &t.1));
        let lead = t.2 - r.2;
        assert!(
            (3_000_000_000..4_000_000_000).contains(&lead),
            "{r:?} {t:?}"
        );
    }
    assert!(s
        .labels
        .events
        .iter()
        .all(|e| e.duration_ns == 30_000_000_000));
    let registry = labelbench::traffic::devices::Registry::load(&d.join("devices.json")).unwrap();
    macs_are_inferred_without_a_registry(&d, &registry);
    let o = run_ok(
        Command::new(bin())
            .args(["bench", "per-event", "--tshark-sample", "0", "--json"])
            .arg(d.join("sample.labelbench.json")),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files"].as_u64().unwrap() as usize, events.len(), "{v}");
    assert_eq!(v["feature_rows"], v["events"], "{v}");
    // What demo-data says it wrote is what the files hold.
    assert_eq!(v["packets"], wrote["packets"], "{v} {wrote}");
    assert_eq!(v["files"], wrote["pcap_files"], "{v} {wrote}");
    if !crate::common::have_tshark() {
        return;
    }
    let mut checked = 0;
    for e in s.labels.events.iter().step_by(17) {
        let file = d.join(&e.raw); // an absolute path replaces `d`
        let name = s.event_device_name(e);
        let dev = registry.devices.iter().find(|x| x.name == name).unwrap();
        let carrier = dev
            .hub
            .as_ref()
            .and_then(|h| registry.devices.iter().find(|x| &x.name == h))
            .unwrap_or(dev);
        let mac = labelbench::traffic::devices::fmt_mac(&carrier.mac.unwrap());
        let o = run_ok(Command::new("tshark").arg("-r").arg(&file).args([
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "eth.src",
            "-e",
            "eth.dst",
        ]));
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let t = epoch_text_ns(f[0]);
            assert!(
                t >= e.original_ns && t < e.original_ns + e.duration_ns,
                "{line}"
            );
            assert!(f[1] == mac || f[2] == mac, "{line} not {mac}");
        }
        checked += 1;
    }
    assert!(checked >= 5);
}

/// The simulated per-event dataset opened without its registry: every device alone behind its
/// MAC gets the registry's MAC back from its captures; the children of one hub share the hub's
/// MAC, so none of them is given it, and the session says why.
fn macs_are_inferred_without_a_registry(
    d: &Path,
    registry: &labelbench::traffic::devices::Registry,
) {
    let proj = d.join("sample.labelbench.json");
    let mut p: serde_json::Value = serde_json::from_slice(&std::fs::read(&proj).unwrap()).unwrap();
    p["devices"] = serde_json::Value::Null;
    let bare = d.join("bare.labelbench.json");
    std::fs::write(&bare, serde_json::to_vec(&p).unwrap()).unwrap();
    let s = open_journaled(&bare);
    let mut inferred = 0;
    for dev in &registry.devices {
        let siblings = registry
            .devices
            .iter()
            .filter(|x| x.hub.is_some() && x.hub == dev.hub)
            .count();
        let mac = match (&dev.hub, dev.mac) {
            (None, Some(m)) => m,
            (Some(h), _) if siblings == 1 => registry.devices
                [registry.by_name(h).unwrap() as usize]
                .mac
                .unwrap(),
            _ => {
                if s.labels
                    .events
                    .iter()
                    .any(|e| s.event_device_name(e) == dev.name)
                {
                    assert!(
                        s.warnings.iter().any(|w| w
                            .starts_with(&format!("{}: its captures show", dev.name))
                            && w.contains("a hub?")),
                        "{}: {:?}",
                        dev.name,
                        s.warnings
                    );
                }
                continue;
            }
        };
        let Some(i) = s.registry.by_name(&dev.name) else {
            continue;
        };
        assert_eq!(
            s.registry.devices[i as usize].mac,
            Some(mac),
            "{}",
            dev.name
        );
        inferred += 1;
    }
    assert!(inferred >= 4, "{:?}", s.warnings);
}
