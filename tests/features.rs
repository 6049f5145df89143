//! Features against an independent computation (tshark + numpy) on the real lab captures.

use std::process::Command;

use crate::common::{bin, have_python, have_tshark, real_lab_project, script};

#[test]
fn numeric_features_match_tshark_and_numpy_on_real_captures() {
    if !have_tshark() || !have_python(&["numpy"]) {
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
    let out = dir.path().join("export");
    let o = Command::new(bin())
        .arg("export")
        .arg(&proj)
        .arg("--out")
        .arg(&out)
        .args(["--format", "csv"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = crate::common::real().unwrap().join("fit-iot-dataset/pcaps");
    for (dev, mac) in [
        ("blink-cam-01", "f4:b8:5e:ff:2b:1b"),
        ("schlage-lock-01", "78:db:2f:db:43:48"),
    ] {
        let o = Command::new("python3")
            .arg(script("check_features.py"))
            .arg(out.join("features.csv"))
            .arg(dev)
            .arg(mac)
            .arg(r.join(format!("{dev}.pcap")))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(text.contains(" 0 mismatches"), "{text}");
    }
}
