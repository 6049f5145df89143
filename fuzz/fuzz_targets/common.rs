//! Shared by the fuzz targets (each includes it with `#[path]`).

/// A fresh folder for one input's files: memory-backed where there is one, so each input
/// costs no disk write.
pub fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.into()
    } else {
        std::env::temp_dir()
    };
    tempfile::tempdir_in(base).unwrap()
}
