//! Shared helpers: where the real data is, and the binary under test.

use std::path::PathBuf;

/// `../shared/real/` beside the checkout, or None (with a printed reason) when absent.
pub fn real() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/real");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_labelbench"))
}

/// True when `tshark` can be run (CI installs it).
pub fn have_tshark() -> bool {
    std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
