//! The append-only, fsync'd edit journal beside a project file, and the lock that lets one
//! process at a time write it.
//!
//! Opening a journal reads it once: the entries read are the snapshot a reader (inspect,
//! export, train) works on, and the manifest of an export names that snapshot's length and
//! SHA-256. A reader never changes the file, not even a torn last line, which a live writer may
//! still be writing. The first append (or [`Journal::lock`]) takes the project's writer lock: a
//! second writer gets "project is open in process N", and a writer whose snapshot is no longer
//! the file's content (another process appended since) is refused rather than interleaving
//! sequence numbers. Holding the lock, a writer cuts a torn last line, which then can only be
//! a crashed write that was never acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::curation::edits::Edit;
use crate::error::{Error, Result};
use crate::fsguard::open_regular;

/// One journal line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub seq: u64,
    /// `apply`, `undo` or `redo`.
    pub step: String,
    pub edit: Edit,
}

/// A project's edit journal, as read when it was opened plus what this process appended.
#[derive(Debug)]
pub struct Journal {
    pub path: PathBuf,
    /// The append handle, opened (and the file created) with the writer lock.
    file: Option<File>,
    /// The writer lock, held from the first append (or [`Journal::lock`]) until drop.
    lock: Option<File>,
    /// Bytes of the file when it was read (complete entries and a torn tail).
    read_len: u64,
    /// Bytes of complete entries: read ones and appended ones.
    good_len: u64,
    /// SHA-256 over the complete entries' bytes.
    sha: sha2::Sha256,
}

/// What reading a journal found.
#[derive(Debug, Default)]
pub struct JournalReplay {
    pub entries: Vec<JournalEntry>,
    /// A torn (incomplete) last line: (line number, bytes). It is ignored by readers and cut
    /// by the writer once it holds the lock.
    pub torn: Option<(usize, usize)>,
}

/// Where the writer lock of the journal at `journal` lives.
pub fn lock_path(journal: &Path) -> PathBuf {
    let mut s = journal.as_os_str().to_os_string();
    s.push(".lock");
    PathBuf::from(s)
}

/// Reads the whole of `path` without following a link or blocking on a FIFO; an absent file
/// reads as empty.
fn read_snapshot(path: &Path) -> Result<Vec<u8>> {
    match open_regular(path, OpenOptions::new().read(true)) {
        Ok(mut f) => {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
            Ok(bytes)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Splits journal bytes into entries; returns them, the bytes of the complete ones and the
/// torn tail. A damaged line followed by more entries is an error.
fn parse(path: &Path, bytes: &[u8]) -> Result<(JournalReplay, usize)> {
    let mut replay = JournalReplay::default();
    let mut good = 0usize;
    let mut n = 0usize;
    // A UTF-8 byte-order mark (an editor's save) is not part of the first entry.
    let start = if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    good += start;
    let mut rest = &bytes[start..];
    while !rest.is_empty() {
        n += 1;
        let (line, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..=i], true),
            None => (rest, false),
        };
        let parsed = serde_json::from_slice::<JournalEntry>(line);
        match (complete, parsed) {
            (true, Ok(e)) => {
                replay.entries.push(e);
                good += line.len();
            }
            (false, _) => {
                replay.torn = Some((n, line.len()));
                break;
            }
            (true, Err(e)) => {
                // Only the last line may be damaged by a crash.
                let after = &rest[line.len()..];
                if after.iter().all(|b| b.is_ascii_whitespace()) {
                    replay.torn = Some((n, rest.len()));
                    break;
                }
                return Err(Error::Parse {
                    file: path.to_path_buf(),
                    line: n,
                    reason: format!("corrupt journal entry: {e}"),
                });
            }
        }
        rest = &rest[line.len()..];
    }
    Ok((replay, good))
}

impl Journal {
    /// Reads the journal at `path` (absent: empty). Nothing is written or locked.
    pub fn open(path: &Path) -> Result<(Journal, JournalReplay)> {
        let bytes = read_snapshot(path)?;
        let (replay, good) = parse(path, &bytes)?;
        let mut sha = sha2::Sha256::new();
        sha.update(&bytes[..good]);
        Ok((
            Journal {
                path: path.to_path_buf(),
                file: None,
                lock: None,
                read_len: bytes.len() as u64,
                good_len: good as u64,
                sha,
            },
            replay,
        ))
    }

    /// The complete entries' bytes and SHA-256: what this process read and appended.
    pub fn digest(&self) -> (u64, String) {
        (self.good_len, format!("{:x}", self.sha.clone().finalize()))
    }

    /// When another process holds the writer lock, says which (edits here will be refused).
    /// Probes without keeping the lock and without creating the lock file.
    pub fn held_elsewhere(&self) -> Option<String> {
        if self.lock.is_some() {
            return None;
        }
        let lp = lock_path(&self.path);
        let mut f = open_regular(&lp, OpenOptions::new().read(true)).ok()?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
        // SAFETY: flock on a file descriptor this function owns; closing it releases the lock.
        if unsafe { libc::flock(fd, libc::LOCK_SH | libc::LOCK_NB) } == 0 {
            return None;
        }
        let mut pid = String::new();
        let _ = f.read_to_string(&mut pid);
        let who = match pid.trim().parse::<u32>() {
            Ok(p) => format!("process {p}"),
            Err(_) => "another process".into(),
        };
        Some(format!(
            "{}: project is open in {who}, which is writing its edit journal: edits made here \
             will be refused until it is closed",
            self.path.display()
        ))
    }

    /// Whether this process holds the writer lock.
    pub fn is_locked(&self) -> bool {
        self.lock.is_some()
    }

    /// Takes the writer lock (once), cuts a torn last line and opens the file for appending.
    /// Fails when another process holds the lock, or wrote to the journal since it was read.
    pub fn lock(&mut self) -> Result<()> {
        if self.lock.is_some() {
            return Ok(());
        }
        let lp = lock_path(&self.path);
        let mut lock = open_regular(
            &lp,
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
        )
        .map_err(|e| Error::io(&lp, e))?;
        // SAFETY: flock on a file descriptor this function owns.
        if unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&lock),
                libc::LOCK_EX | libc::LOCK_NB,
            )
        } != 0
        {
            let mut pid = String::new();
            let _ = lock.read_to_string(&mut pid);
            let who = match pid.trim().parse::<u32>() {
                Ok(p) => format!("process {p}"),
                Err(_) => "another process".into(),
            };
            return Err(Error::invalid(
                &self.path,
                format!(
                    "project is open in {who}, which is writing its edit journal: close it \
                     first (reading, inspecting and exporting work meanwhile)"
                ),
            ));
        }
        let _ = lock.set_len(0);
        let _ = write!(lock, "{}", std::process::id());
        let now = match std::fs::symlink_metadata(&self.path) {
            Ok(m) => m.len(),
            Err(_) => 0,
        };
        if now != self.read_len {
            return Err(Error::invalid(
                &self.path,
                format!(
                    "the edit journal changed since this project was opened ({} bytes read, {now} \
                     now): another process edited it; reopen the project",
                    self.read_len
                ),
            ));
        }
        let file = open_regular(&self.path, OpenOptions::new().append(true).create(true))
            .map_err(|e| Error::io(&self.path, e))?;
        if self.read_len > self.good_len {
            file.set_len(self.good_len)
                .map_err(|e| Error::io(&self.path, e))?;
            file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        }
        if now == 0 {
            // Make a new file's directory entry durable too.
            if let Some(dir) = self.path.parent().and_then(|d| File::open(d).ok()) {
                let _ = dir.sync_all();
            }
        }
        self.file = Some(file);
        self.lock = Some(lock);
        Ok(())
    }

    /// Appends and fsyncs one entry; when this returns Ok the step is durable.
    pub fn append(&mut self, entry: &JournalEntry) -> Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(|e| Error::Other(e.to_string()))?;
        line.push(b'\n');
        self.lock()?;
        let file = self.file.as_mut().expect("opened by lock");
        file.write_all(&line)
            .map_err(|e| Error::io(&self.path, e))?;
        file.sync_data().map_err(|e| Error::io(&self.path, e))?;
        self.good_len += line.len() as u64;
        self.read_len = self.good_len;
        self.sha.update(&line);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> JournalEntry {
        JournalEntry {
            seq,
            step: "apply".into(),
            edit: Edit::Retime {
                id: 1,
                from: None,
                to: Some(seq as i64),
            },
        }
    }

    #[test]
    fn a_second_writer_is_refused_and_a_stale_one_too() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.labelbench.edits.jsonl");
        let (mut a, _) = Journal::open(&p).unwrap();
        let (mut b, _) = Journal::open(&p).unwrap();
        a.append(&entry(0)).unwrap();
        let e = b.append(&entry(0)).unwrap_err().to_string();
        assert!(
            e.contains(&format!("process {}", std::process::id())),
            "{e}"
        );
        drop(a);
        // The lock is free now, but b's snapshot is stale.
        let e = b.append(&entry(0)).unwrap_err().to_string();
        assert!(e.contains("changed since this project was opened"), "{e}");
        let (_, r) = Journal::open(&p).unwrap();
        assert_eq!(r.entries.len(), 1);
    }

    #[test]
    fn readers_leave_a_torn_line_and_the_digest_names_the_snapshot() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.labelbench.edits.jsonl");
        let (mut a, _) = Journal::open(&p).unwrap();
        a.append(&entry(0)).unwrap();
        let whole = std::fs::read(&p).unwrap();
        let mut torn = whole.clone();
        torn.extend_from_slice(b"{\"seq\":1,\"st");
        std::fs::write(&p, &torn).unwrap();
        let (r, replay) = Journal::open(&p).unwrap();
        assert_eq!(replay.torn, Some((2, 12)));
        assert_eq!(std::fs::read(&p).unwrap(), torn, "a reader never cuts");
        let want = format!("{:x}", sha2::Sha256::digest(&whole));
        assert_eq!(r.digest(), (whole.len() as u64, want));
        drop(a);
        let (mut w, _) = Journal::open(&p).unwrap();
        w.lock().unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), whole, "the writer cuts");
    }

    #[test]
    fn a_fifo_or_a_link_at_the_journal_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("precious.txt");
        std::fs::write(&target, "keep me\n").unwrap();
        let p = t.path().join("x.labelbench.edits.jsonl");
        std::os::unix::fs::symlink(&target, &p).unwrap();
        let e = Journal::open(&p).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
        let f = t.path().join("y.labelbench.edits.jsonl");
        let c = std::ffi::CString::new(f.to_str().unwrap()).unwrap();
        // SAFETY: a valid path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = Journal::open(&f).unwrap_err().to_string();
        assert!(e.contains("FIFO"), "{e}");
    }
}
