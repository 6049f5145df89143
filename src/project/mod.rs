//! The project: its file (captures, registry, label sources and settings; saved atomically), a
//! loaded [`session`] of everything it names, and the [`inspect`] summary of one.
//!
//! May use every stage; the front ends (CLI, GUI) work on a [`session::Session`].

pub mod create;
mod infer_macs;
pub mod inspect;
pub mod scan;
pub mod session;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::labels::SourceSpec;

pub const PROJECT_VERSION: u32 = 1;

/// Feature window around an event's adjusted time (DESIGN "Features per event").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowSettings {
    pub before_ns: i64,
    pub after_ns: i64,
    /// Sample `idle` windows where no event of the device is near.
    #[serde(default)]
    pub idle_class: bool,
    /// An event with a duration (an experiment, a per-event capture, a Zeek flow, a CSV
    /// interval) is its own window, `[t, t + duration]`, rather than the fixed one.
    #[serde(default = "follow_by_default")]
    pub follow_duration: bool,
}

fn follow_by_default() -> bool {
    true
}

impl Default for WindowSettings {
    fn default() -> Self {
        WindowSettings {
            before_ns: 5_000_000_000,
            after_ns: 25_000_000_000,
            idle_class: false,
            follow_duration: true,
        }
    }
}

impl WindowSettings {
    /// The feature window of an event at `t` (its adjusted time) lasting `duration_ns`.
    pub fn window(&self, t: i64, duration_ns: i64) -> (i64, i64) {
        if self.follow_duration && duration_ns > 0 {
            (t, t.saturating_add(duration_ns))
        } else {
            (t - self.before_ns, t + self.after_ns)
        }
    }

    /// The window in words, for the card and the Inspector.
    pub fn describe(&self) -> String {
        let fixed = format!(
            "[t − {} s, t + {} s]",
            self.before_ns as f64 / 1e9,
            self.after_ns as f64 / 1e9
        );
        if self.follow_duration {
            format!("{fixed} around the adjusted time t; an event with a duration is its own span [t, t + duration]")
        } else {
            format!("{fixed} around the adjusted time t")
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub model: crate::learn::Model,
    pub scope: crate::learn::Scope,
    pub folds: usize,
    pub seed: u64,
    pub trees: usize,
    pub max_depth: usize,
    pub bootstrap: bool,
    /// `sqrt`, `log2`, `all`, or a number.
    pub max_features: String,
    pub min_samples_leaf: usize,
    pub class_weight_balanced: bool,
    pub time_blocked: bool,
    /// Classes with fewer events than this (per scope) are left out of training.
    pub min_class_events: usize,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            model: crate::learn::Model::Forest,
            scope: crate::learn::Scope::Device,
            folds: 4,
            seed: 1,
            trees: 60,
            max_depth: 15,
            bootstrap: false,
            max_features: "sqrt".into(),
            min_samples_leaf: 1,
            class_weight_balanced: false,
            time_blocked: false,
            min_class_events: 4,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub version: u32,
    #[serde(default)]
    pub name: String,
    /// Paths or globs relative to the project file.
    pub captures: Vec<String>,
    /// A traffic dataset written by `labelbench extract` (a folder relative to the project
    /// file), read instead of captures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<String>,
    /// Device registry (devices.json or CSV), relative to the project file.
    #[serde(default)]
    pub devices: Option<String>,
    #[serde(default)]
    pub sources: Vec<SourceSpec>,
    /// Log device name → registry name, for names the automatic matching misses.
    #[serde(default)]
    pub device_map: BTreeMap<String, String>,
    #[serde(default)]
    pub window: WindowSettings,
    #[serde(default)]
    pub training: TrainSettings,
    /// When flows end (`docs/flows.md`).
    #[serde(default)]
    pub flows: crate::traffic::FlowTimeouts,
}

impl Project {
    pub fn new(name: &str) -> Project {
        Project {
            version: PROJECT_VERSION,
            name: name.to_string(),
            captures: vec![],
            traffic: None,
            devices: None,
            sources: vec![],
            device_map: BTreeMap::new(),
            window: WindowSettings::default(),
            training: TrainSettings::default(),
            flows: crate::traffic::FlowTimeouts::default(),
        }
    }

    /// The first label source that repeats an earlier one (same kind, same file however its
    /// path is spelled), as (earlier, later) indices: its events would be loaded twice and
    /// every one of them would look like a duplicate. `base` is the project's folder.
    pub fn repeated_source(&self, base: &Path) -> Option<(usize, usize)> {
        let key = |s: &SourceSpec| {
            let p = crate::labels::source_path(base, s);
            (s.kind, std::fs::canonicalize(&p).unwrap_or(p))
        };
        let keys: Vec<_> = self.sources.iter().map(key).collect();
        (1..keys.len()).find_map(|j| (0..j).find(|&i| keys[i] == keys[j]).map(|i| (i, j)))
    }

    /// [`Project::repeated_source`] as an error message for the tools that build a project.
    pub fn check_sources(&self, base: &Path) -> std::result::Result<(), String> {
        match self.repeated_source(base) {
            Some((_, j)) => {
                let s = &self.sources[j];
                Err(format!(
                    "{}: label source given twice as {} (its events would be loaded twice)",
                    crate::labels::source_path(base, s).display(),
                    s.kind.as_str()
                ))
            }
            None => Ok(()),
        }
    }

    pub fn load(path: &Path) -> Result<Project> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let p: Project = serde_json::from_str(text).map_err(|e| Error::Parse {
            file: path.to_path_buf(),
            line: e.line(),
            reason: format!("project file: {e}"),
        })?;
        if p.version > PROJECT_VERSION {
            return Err(Error::invalid(
                path,
                format!(
                    "project version {} is newer than this tool ({PROJECT_VERSION})",
                    p.version
                ),
            ));
        }
        for (i, src) in p.sources.iter().enumerate() {
            let Some(c) = src.csv.as_ref().filter(|c| !c.has_header) else {
                continue;
            };
            for (what, col) in [
                ("time", &c.time),
                ("device", &c.device),
                ("class", &c.class),
            ] {
                if col.trim().parse::<u16>().is_err() {
                    return Err(Error::invalid(
                        path,
                        format!(
                            "source {} ({}): csv {what} column {col:?} is not a column number \
                             (a CSV without a header names its columns 0, 1, 2, … up to 65535)",
                            i + 1,
                            src.path
                        ),
                    ));
                }
            }
        }
        Ok(p)
    }

    /// Writes the project atomically: a temp file in the same folder, fsync, rename.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Other(e.to_string()))?;
        write_atomic(path, text.as_bytes())
    }

    /// The journal of edits that belongs to this project file.
    pub fn journal_path(path: &Path) -> PathBuf {
        let s = path.to_string_lossy();
        let stem = s.strip_suffix(".json").unwrap_or(&s);
        PathBuf::from(format!("{stem}.edits.jsonl"))
    }
}

/// Writes a file atomically (temp + fsync + rename + directory fsync).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Expresses `target` relative to `base_dir` when it lies below it, else absolute.
pub fn relative_to(base_dir: &Path, target: &Path) -> String {
    let abs_base = std::path::absolute(base_dir).unwrap_or_else(|_| base_dir.to_path_buf());
    let abs_t = std::path::absolute(target).unwrap_or_else(|_| target.to_path_buf());
    let bc: Vec<_> = abs_base.components().collect();
    let tc: Vec<_> = abs_t.components().collect();
    let common = bc.iter().zip(&tc).take_while(|(a, b)| a == b).count();
    // Sharing only the root (or a Windows prefix and root): the input is not kept with the
    // project, so the path the user gave reads better than a climb to `/`.
    let roots = bc
        .iter()
        .take_while(|c| matches!(c, Component::Prefix(_) | Component::RootDir))
        .count();
    if common <= roots {
        return abs_t.to_string_lossy().to_string();
    }
    let mut out = PathBuf::new();
    for _ in common..bc.len() {
        out.push("..");
    }
    for c in &tc[common..] {
        out.push(c.as_os_str());
    }
    out.to_string_lossy().to_string()
}

/// A capture argument (a file or a glob) as stored in a project in `base_dir`: relative to
/// it. A glob is made relative to the folder's name as a glob spells it, so that a folder
/// whose name holds `[` or `*` (escaped in the pattern) still prefixes it, and
/// [`crate::capture::expand_captures`] reads the rest against the folder taken literally.
pub fn relative_capture(base_dir: &Path, pattern: &str) -> String {
    let p = Path::new(pattern);
    if !pattern.contains(['*', '?', '[']) || p.is_file() {
        return relative_to(base_dir, p);
    }
    let abs_base = std::path::absolute(base_dir).unwrap_or_else(|_| base_dir.to_path_buf());
    let escaped = glob::Pattern::escape(&abs_base.to_string_lossy());
    relative_to(Path::new(&escaped), p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two sources repeat each other when kind and file are the same, however the path is
    /// spelled; the same file as another kind is another source.
    #[test]
    fn a_repeated_source_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir(base.join("labels")).unwrap();
        std::fs::write(base.join("labels/a.csv"), "x\n").unwrap();
        std::fs::write(base.join("labels/b.csv"), "x\n").unwrap();
        let spec = |kind: &str, path: &str| SourceSpec {
            kind: crate::labels::SourceKind::parse(kind).unwrap(),
            path: path.into(),
            tz: "UTC".into(),
            offset_ns: 0,
            csv: None,
            rules: vec![],
            pattern: None,
        };
        let mut p = Project::new("t");
        p.sources = vec![
            spec("ifttt", "labels/a.csv"),
            spec("ifttt-trigger", "labels/a.csv"),
            spec("ifttt", "labels/b.csv"),
        ];
        assert_eq!(p.repeated_source(base), None);
        assert!(p.check_sources(base).is_ok());
        p.sources.push(spec("ifttt", "labels/../labels/b.csv"));
        assert_eq!(p.repeated_source(base), Some((2, 3)));
        let e = p.check_sources(base).unwrap_err();
        assert!(
            e.ends_with(
                "b.csv: label source given twice as ifttt (its events would be \
                             loaded twice)"
            ),
            "{e}"
        );
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_to(Path::new("/a/b"), Path::new("/a/b/c/d.pcap")),
            "c/d.pcap"
        );
        assert_eq!(
            relative_to(Path::new("/a/b"), Path::new("/a/x.json")),
            "../x.json"
        );
        // Only the root in common: absolute, as given.
        assert_eq!(
            relative_to(Path::new("/tmp/lab"), Path::new("/data/pcaps/a.pcap")),
            "/data/pcaps/a.pcap"
        );
        // A glob under a folder whose name a glob must escape.
        assert_eq!(
            relative_capture(Path::new("/tmp/lab [1]"), "/tmp/lab [[]1[]]/pcaps/*.pcap"),
            "pcaps/*.pcap"
        );
        assert_eq!(
            relative_capture(Path::new("/tmp/lab"), "/tmp/lab/pcaps/*.pcap"),
            "pcaps/*.pcap"
        );
    }

    #[test]
    fn journal_name() {
        assert_eq!(
            Project::journal_path(Path::new("/x/lab.labelbench.json")),
            PathBuf::from("/x/lab.labelbench.edits.jsonl")
        );
    }
}
