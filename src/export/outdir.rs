//! Replacing an output folder without harming anything else: the guard that decides whether a
//! folder may be written or replaced, and the staging folder that is swapped in atomically.
//!
//! Only two commands write a folder of their own: `export` (a cleaned dataset) and `demo-data`
//! (a simulated project). Both stage their output in a hidden sibling folder and swap it in
//! when it is complete, so a kill leaves either the old output or the new one, never a mix.
//! `--force` replaces only a folder that the same command wrote before, recognised by its own
//! files, and never a folder that holds the project or its inputs, the file-system root, the
//! home folder or the current folder.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What an output folder holds once written, and so what `--force` may replace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// A cleaned dataset: recognised by a `manifest.json` whose `tool` is `labelbench`.
    Export,
    /// A simulated project from `demo-data`: `sample.labelbench.json` beside `ground-truth.csv`.
    DemoProject,
    /// A traffic dataset from `extract`: recognised by its marker file.
    TrafficDataset,
}

impl OutputKind {
    fn noun(self) -> &'static str {
        match self {
            OutputKind::Export => "labelbench export",
            OutputKind::DemoProject => "demo-data project",
            OutputKind::TrafficDataset => "labelbench traffic dataset",
        }
    }

    /// Whether `dir` holds what this kind of output writes.
    pub fn recognises(self, dir: &Path) -> bool {
        match self {
            OutputKind::Export => std::fs::read(dir.join("manifest.json"))
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .is_some_and(|m| m.get("tool").and_then(|t| t.as_str()) == Some("labelbench")),
            OutputKind::DemoProject => {
                dir.join("sample.labelbench.json").is_file()
                    && dir.join("ground-truth.csv").is_file()
            }
            OutputKind::TrafficDataset => crate::traffic::dataset::is_dataset(dir),
        }
    }
}

/// `p` made absolute with its symbolic links resolved; for a path that does not exist yet, its
/// deepest existing ancestor is resolved and the rest appended.
fn resolved(p: &Path) -> PathBuf {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("/"))
            .join(p)
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

/// Why `out` may not be written at all, whatever `--force` says.
fn forbidden(out: &Path, protected: &[PathBuf]) -> Option<String> {
    let target = resolved(out);
    if target.parent().is_none() {
        return Some("is the file-system root".into());
    }
    if std::env::var_os("HOME").is_some_and(|h| resolved(Path::new(&h)) == target) {
        return Some("is the home folder".into());
    }
    if std::env::current_dir().is_ok_and(|c| resolved(&c) == target) {
        return Some("is the current folder".into());
    }
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned());
    if name.is_none() || matches!(name.as_deref(), Some(".") | Some("..")) {
        return Some("is not a folder name (give the output folder by name)".into());
    }
    for p in protected {
        let p = resolved(p);
        if p.starts_with(&target) {
            let what = if p == target { "is" } else { "holds" };
            return Some(format!(
                "{what} the project's own file or input {} (choose an output folder outside it)",
                p.display()
            ));
        }
    }
    None
}

/// Checks that `out` may be written by a command producing `kind`: it is absent or empty, or
/// it is a previous output of the same kind and `force` is set. `protected` lists the paths
/// that must survive (the project file, its journal, every input).
pub fn check_target(
    out: &Path,
    kind: OutputKind,
    force: bool,
    protected: &[PathBuf],
) -> Result<()> {
    if let Some(why) = forbidden(out, protected) {
        return Err(Error::invalid(
            out,
            format!("refused: the output folder {why}"),
        ));
    }
    let meta = match std::fs::symlink_metadata(out) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(out, e)),
    };
    if meta.file_type().is_symlink() {
        return Err(Error::invalid(
            out,
            "refused: the output folder is a symbolic link (give the folder it points to)",
        ));
    }
    if !meta.is_dir() {
        return Err(Error::invalid(out, "exists and is not a folder"));
    }
    let empty = std::fs::read_dir(out)
        .map_err(|e| Error::io(out, e))?
        .next()
        .is_none();
    if empty {
        return Ok(());
    }
    let previous = kind.recognises(out);
    match (previous, force) {
        (true, true) => Ok(()),
        (true, false) => Err(Error::invalid(
            out,
            format!(
                "holds a previous {} (use --force to replace it)",
                kind.noun()
            ),
        )),
        (false, _) => Err(Error::invalid(
            out,
            format!(
                "folder exists, is not empty and is not a previous {}: choose another folder \
                 (--force replaces only a previous {})",
                kind.noun(),
                kind.noun()
            ),
        )),
    }
}

/// Whether process `pid` is alive (a process of another user counts as alive).
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks whether the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// A hidden sibling folder an output is written into before it is swapped in.
#[derive(Debug)]
pub struct Staging {
    pub dir: PathBuf,
    out: PathBuf,
    aside: PathBuf,
}

fn sibling(out: &Path, what: &str, pid: u32) -> PathBuf {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent.join(format!(".{name}.{what}-{pid}"))
}

/// Removes the staging and set-aside folders that killed runs writing `out` left behind (their
/// process is gone); returns how many were removed.
pub fn clean_leftovers(out: &Path) -> usize {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = out.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return 0;
    };
    let Ok(rd) = std::fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for e in rd.flatten() {
        let file = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&format!(".{name}.")) else {
            continue;
        };
        let pid = ["partial-", "old-"]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
            .and_then(|p| p.parse::<u32>().ok());
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if pid.is_some_and(|p| is_dir && !alive(p)) && std::fs::remove_dir_all(e.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

impl Staging {
    /// Cleans what killed runs left and creates an empty staging folder beside `out`.
    pub fn new(out: &Path) -> Result<Staging> {
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        clean_leftovers(out);
        let pid = std::process::id();
        let dir = sibling(out, "partial", pid);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Staging {
            dir,
            out: out.to_path_buf(),
            aside: sibling(out, "old", pid),
        })
    }

    /// Puts the staged folder in place of `out` and removes what was there. On Linux the two
    /// are exchanged in one step; elsewhere the old folder is renamed aside first, so at no
    /// moment does `out` hold a mix of old and new files.
    pub fn commit(self) -> Result<()> {
        let out = self.out.clone();
        if std::fs::symlink_metadata(&out).is_err() {
            return std::fs::rename(&self.dir, &out).map_err(|e| Error::io(&out, e));
        }
        if !exchange(&self.dir, &out) {
            std::fs::rename(&out, &self.aside).map_err(|e| Error::io(&out, e))?;
            if let Err(e) = std::fs::rename(&self.dir, &out) {
                let _ = std::fs::rename(&self.aside, &out);
                return Err(Error::io(&out, e));
            }
            let _ = std::fs::remove_dir_all(&self.aside);
            return Ok(());
        }
        // After the exchange the staging path holds the old output.
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }

    /// Removes the staging folder after a failed run.
    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Swaps two paths atomically (Linux `renameat2(RENAME_EXCHANGE)`); false where unsupported.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (Ok(ca), Ok(cb)) = (
        std::ffi::CString::new(a.as_os_str().as_bytes()),
        std::ffi::CString::new(b.as_os_str().as_bytes()),
    ) else {
        return false;
    };
    // SAFETY: both are valid NUL-terminated paths; AT_FDCWD resolves them like open(2).
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    r == 0
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export_like(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("manifest.json"), r#"{"tool":"labelbench"}"#).unwrap();
        std::fs::write(dir.join("events.csv"), "old").unwrap();
    }

    #[test]
    fn force_replaces_only_a_previous_export_outside_the_inputs() {
        let t = tempfile::tempdir().unwrap();
        let proj = t.path().join("p");
        std::fs::create_dir_all(proj.join("pcaps")).unwrap();
        let project = proj.join("x.labelbench.json");
        let capture = proj.join("pcaps/a.pcap");
        std::fs::write(&project, "{}").unwrap();
        std::fs::write(&capture, "pcap").unwrap();
        let protected = vec![project.clone(), capture.clone()];
        let k = OutputKind::Export;
        // The project folder and its captures folder: refused, with or without --force.
        for out in [&proj, &proj.join("pcaps"), &t.path().to_path_buf()] {
            let e = check_target(out, k, true, &protected)
                .unwrap_err()
                .to_string();
            assert!(e.contains("holds the project's own file or input"), "{e}");
        }
        let e = check_target(&capture, k, true, &protected).unwrap_err();
        assert!(e.to_string().contains("is the project's own file"), "{e}");
        let e = check_target(Path::new("/"), k, true, &[]).unwrap_err();
        assert!(e.to_string().contains("file-system root"), "{e}");
        let e = check_target(Path::new("."), k, true, &[]).unwrap_err();
        assert!(e.to_string().contains("is the current folder"), "{e}");
        let e = check_target(&proj.join("pcaps/.."), k, true, &[]).unwrap_err();
        assert!(e.to_string().contains("not a folder name"), "{e}");
        // A folder of someone else's files: refused even with --force.
        let other = t.path().join("notes");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join("thesis.tex"), "x").unwrap();
        let e = check_target(&other, k, true, &protected).unwrap_err();
        assert!(
            e.to_string().contains("not a previous labelbench export"),
            "{e}"
        );
        // A previous export: --force needed, then allowed.
        let old = t.path().join("out");
        export_like(&old);
        let e = check_target(&old, k, false, &protected).unwrap_err();
        assert!(e.to_string().contains("use --force"), "{e}");
        check_target(&old, k, true, &protected).unwrap();
        // A demo project is not an export, and an export is not a demo project.
        assert!(!OutputKind::DemoProject.recognises(&old));
        check_target(&t.path().join("new"), k, false, &protected).unwrap();
    }

    #[test]
    fn commit_swaps_and_leftovers_of_dead_runs_are_cleaned() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        export_like(&out);
        // A killed run's staging folder (pid 0x7fff_fff0 is not running).
        let dead = t.path().join(".out.partial-2147483632");
        std::fs::create_dir_all(&dead).unwrap();
        let st = Staging::new(&out).unwrap();
        assert!(!dead.exists(), "a dead run's staging folder is cleaned");
        std::fs::write(st.dir.join("manifest.json"), r#"{"tool":"labelbench"}"#).unwrap();
        std::fs::write(st.dir.join("events.csv"), "new").unwrap();
        st.commit().unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("events.csv")).unwrap(),
            "new"
        );
        let names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out")]);
    }
}
