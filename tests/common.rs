//! Shared helpers: where the real data is, and the binary under test.

use std::path::PathBuf;

/// Says that a test skips its check because `what` is missing; fails the test instead when
/// `CI=true`, so that a CI run without the data or tools cannot pass silently.
pub fn missing(what: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is missing, and CI=true requires it");
    }
    eprintln!("skipping: {what} is missing");
}

/// `../shared/real/` beside the checkout, or None (see [`missing`]) when absent.
pub fn real() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/real");
    if p.is_dir() {
        Some(p)
    } else {
        missing(&p.display().to_string());
        None
    }
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_labelbench"))
}

/// True when `tshark` can be run (CI installs it; see [`missing`]).
pub fn have_tshark() -> bool {
    let ok = std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        missing("tshark");
    }
    ok
}

/// True when python3 can import all `modules` (CI installs them).
pub fn have_python(modules: &[&str]) -> bool {
    let code = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let ok = std::process::Command::new("python3")
        .args(["-c", &code])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        missing(&format!("python3 with {}", modules.join(", ")));
    }
    ok
}

pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

/// Writes a project over the real lab captures with the given label sources.
pub fn real_lab_project(dir: &std::path::Path, sources: &[&str]) -> Option<PathBuf> {
    let r = real()?;
    let lab = r.join("fit-iot-dataset");
    let proj = dir.join("lab.labelbench.json");
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("new")
        .arg(&proj)
        .arg("--capture")
        .arg(lab.join("pcaps/*.pcap"))
        .arg("--devices")
        .arg(lab.join("devices.json"));
    for s in sources {
        let (kind, file) = s.split_once(':').unwrap();
        cmd.arg("--source").arg(format!(
            "{kind}:{}@America/New_York",
            lab.join("labels").join(file).display()
        ));
    }
    run_ok(&mut cmd);
    Some(proj)
}

/// A simulated project (see `labelbench demo-data`) in `dir`.
pub fn sim(
    dir: &std::path::Path,
    devices: usize,
    days: u32,
    seed: u64,
    scale: Option<u64>,
) -> labelbench::devtools::sim::SimReport {
    let o = labelbench::devtools::sim::SimOptions {
        devices,
        days,
        seed,
        scale_packets: scale,
        ..Default::default()
    };
    labelbench::devtools::sim::generate(dir, &o).unwrap()
}

/// Opens a project with its edit journal (no derived cache).
pub fn open_journaled(p: &std::path::Path) -> labelbench::project::session::Session {
    let o = labelbench::project::session::OpenOptions {
        journal: true,
        ..Default::default()
    };
    labelbench::project::session::Session::open(p, o, None).unwrap()
}

/// Runs a command, asserting it succeeds (stderr in the message), and returns its output.
/// Runs a command that must fail as bad input (exit code 2); returns its stderr.
pub fn run_bad(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    err
}

pub fn run_ok(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `data` compressed with gzip or zstd, as a capture may be stored.
pub fn compress(data: &[u8], zstd: bool) -> Vec<u8> {
    if zstd {
        zstd::encode_all(data, 3).unwrap()
    } else {
        use std::io::Write;
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }
}

/// Exports `proj` as CSV into `out` through the CLI.
pub fn export_csv(proj: &std::path::Path, out: &std::path::Path) {
    run_ok(
        std::process::Command::new(bin())
            .arg("export")
            .arg(proj)
            .arg("--out")
            .arg(out)
            .args(["--format", "csv"]),
    );
}

/// tshark's `frame.time_epoch` text (`1556329377.198775000`) as ns, exactly.
pub fn epoch_text_ns(s: &str) -> i64 {
    let (whole, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
    whole.parse::<i64>().unwrap() * 1_000_000_000
        + format!("{frac:0<9}")[..9].parse::<i64>().unwrap()
}

/// Every file under `dir` (by its path relative to `dir`) with its bytes.
pub fn tree(dir: &std::path::Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}
