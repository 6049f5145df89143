//! Creating a project file: the one rule the CLI's `new` and the window's New project dialog
//! share. Every input is checked before anything is written; the project's paths are stored
//! relative to its folder; an existing project file is replaced only when asked.

use std::path::{Path, PathBuf};

use crate::labels::SourceSpec;
use crate::project::{relative_capture, relative_to, Project};

/// The end of the error for a project file that exists and was not to be replaced; the front
/// ends add how to replace it.
pub const ALREADY_EXISTS: &str = "already exists";

/// What a new project names.
#[derive(Clone, Debug, Default)]
pub struct NewProject {
    /// The project file to write (`*.labelbench.json`).
    pub path: PathBuf,
    /// Capture files and globs, relative to the current folder (or absolute).
    pub captures: Vec<String>,
    /// A traffic dataset from `labelbench extract`, read instead of captures.
    pub traffic: Option<PathBuf>,
    /// The device registry, if any.
    pub devices: Option<PathBuf>,
    /// Label sources, their paths relative to the current folder (or absolute).
    pub sources: Vec<SourceSpec>,
    /// Replace an existing project file.
    pub replace: bool,
    /// When flows end.
    pub flows: crate::traffic::FlowTimeouts,
}

/// A project written by [`create`].
#[derive(Clone, Debug)]
pub struct Created {
    pub project: Project,
    /// Capture files the capture arguments matched.
    pub capture_files: usize,
    /// Capture files that are not captures, each with the reason (a Git LFS pointer, another
    /// format); the project keeps them, so that it reads them once they are fetched.
    pub unreadable: Vec<(PathBuf, String)>,
}

/// The project's name: its file name without `.labelbench.json`.
pub fn name_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    name.trim_end_matches(".json")
        .trim_end_matches(".labelbench")
        .to_string()
}

/// Checks every input and writes the project file. The error is one line naming the input.
pub fn create(spec: &NewProject) -> Result<Created, String> {
    if spec.path.exists() && !spec.replace {
        return Err(format!("{}: {ALREADY_EXISTS}", spec.path.display()));
    }
    let dir = spec
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(format!("{}: folder does not exist", dir.display()));
    }
    let captures: Vec<String> = spec
        .captures
        .iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    if let Some(t) = &spec.traffic {
        if !captures.is_empty() {
            return Err(format!(
                "{}: a project reads either captures or a traffic dataset, not both",
                t.display()
            ));
        }
        let rows = crate::traffic::dataset::manifest(t).map_err(|e| e.to_string())?;
        if rows.is_empty() {
            return Err(format!(
                "{}: the traffic dataset holds no capture yet",
                t.display()
            ));
        }
    } else if captures.is_empty() {
        return Err("add at least one capture file or glob".into());
    }
    // Check that every capture argument names something, then store it relative to the project.
    let files = crate::capture::expand_captures(Path::new("."), &captures)?;
    let unreadable: Vec<(PathBuf, String)> = files
        .iter()
        .filter_map(|f| crate::capture::probe(f).err().map(|e| (f.clone(), e)))
        .collect();
    if !files.is_empty() && unreadable.len() == files.len() {
        let (f, why) = &unreadable[0];
        return Err(format!(
            "none of the {} capture files can be read; {}: {why}",
            files.len(),
            f.display()
        ));
    }
    spec.flows.check()?;
    let mut p = Project::new(&name_of(&spec.path));
    p.flows = spec.flows;
    p.captures = captures.iter().map(|c| relative_capture(dir, c)).collect();
    p.traffic = spec.traffic.as_ref().map(|t| relative_to(dir, t));
    let mut registry = crate::traffic::devices::Registry::default();
    if let Some(d) = &spec.devices {
        if !d.is_file() {
            return Err(format!("{}: device registry not found", d.display()));
        }
        registry = crate::traffic::devices::Registry::load(d).map_err(|e| e.to_string())?;
        p.devices = Some(relative_to(dir, d));
    }
    for (i, s) in spec.sources.iter().enumerate() {
        let mut s = s.clone();
        let per_event = s.kind == crate::labels::SourceKind::PerEventCaptures;
        if !per_event && !Path::new(&s.path).is_file() {
            return Err(format!("{}: label source not found", s.path));
        }
        s.tz.parse::<chrono_tz::Tz>()
            .map_err(|_| format!("{}: unknown time zone {:?}", s.path, s.tz))?;
        if let Some(p) = &s.pattern {
            crate::labels::PathPattern::parse(p)?;
        }
        check_readable(&s, i, &registry)?;
        s.path = match per_event {
            true => relative_capture(dir, &s.path),
            false => relative_to(dir, Path::new(&s.path)),
        };
        p.sources.push(s);
    }
    p.check_sources(dir)?;
    p.save(&spec.path).map_err(|e| e.to_string())?;
    Ok(Created {
        project: p,
        capture_files: files.len(),
        unreadable,
    })
}

/// A source that names the wrong kind or columns yields no events: say so now, with the
/// first row's error, rather than write a project that opens with an empty log.
fn check_readable(
    s: &SourceSpec,
    index: usize,
    registry: &crate::traffic::devices::Registry,
) -> Result<(), String> {
    let path = Path::new(&s.path);
    let index = u16::try_from(index).unwrap_or(u16::MAX - 1);
    let no_map = std::collections::BTreeMap::new();
    let (events, load) =
        crate::labels::load_source(s, path, index, registry, &no_map).map_err(|e| e.to_string())?;
    match load.errors.first() {
        Some(first) if events.is_empty() => Err(format!(
            "{}: no event could be read as {} ({} rows, all with errors); line {}: {}",
            s.path,
            s.kind.as_str(),
            load.rows,
            first.line,
            first.reason
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_is_named_by_its_file_and_never_replaced_unasked() {
        let t = tempfile::tempdir().unwrap();
        let cap = t.path().join("a.pcap");
        // A pcap header and no packets.
        let mut pcap = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        pcap.extend_from_slice(&[0; 8]);
        pcap.extend_from_slice(&[0xff, 0xff, 0, 0, 1, 0, 0, 0]);
        std::fs::write(&cap, &pcap).unwrap();
        let spec = NewProject {
            path: t.path().join("lab-week.labelbench.json"),
            captures: vec![cap.display().to_string()],
            ..Default::default()
        };
        let c = create(&spec).unwrap();
        assert_eq!(c.project.name, "lab-week");
        assert_eq!(c.project.captures, vec!["a.pcap".to_string()]);
        let e = create(&spec).unwrap_err();
        assert!(e.contains("already exists"), "{e}");
        create(&NewProject {
            replace: true,
            ..spec
        })
        .unwrap();
    }
}
