//! Opening the files labelbench itself writes beside a project (journal, lock, cache) only
//! when they are regular files or absent: a FIFO at such a path would hang the program and a
//! symbolic link would let a write land on (or truncate) a file elsewhere.

use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;

/// What is at `path`, in words, when it is not a regular file (`None`: a regular file or
/// nothing). The link itself is looked at, not its target.
pub fn not_regular(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let m = std::fs::symlink_metadata(path).ok()?;
    let t = m.file_type();
    if t.is_file() {
        None
    } else if t.is_symlink() {
        Some("a symbolic link")
    } else if t.is_dir() {
        Some("a folder")
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_socket() {
        Some("a socket")
    } else {
        Some("a device file")
    }
}

/// Opens `path` with `opts` without following a symbolic link and without blocking on a FIFO,
/// then checks that what was opened is a regular file. The error says what was found instead.
pub fn open_regular(path: &Path, opts: &mut std::fs::OpenOptions) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(what) = not_regular(path) {
        return Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            format!("is {what}, not a regular file: labelbench will not open it"),
        ));
    }
    let f = opts
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                std::io::Error::new(
                    ErrorKind::InvalidInput,
                    "is a symbolic link, not a regular file: labelbench will not open it",
                )
            } else {
                e
            }
        })?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::new(
            ErrorKind::InvalidInput,
            "is not a regular file: labelbench will not open it",
        ));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_and_links_are_refused_without_blocking() {
        let t = tempfile::tempdir().unwrap();
        let fifo = t.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open_regular(&fifo, std::fs::OpenOptions::new().read(true)).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let target = t.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open_regular(&link, std::fs::OpenOptions::new().append(true)).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert!(not_regular(&t.path().join("absent")).is_none());
        open_regular(&target, std::fs::OpenOptions::new().read(true)).unwrap();
    }
}
