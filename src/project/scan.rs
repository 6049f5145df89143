//! A lab's folder as its authors publish it, sorted into what a project needs: the captures
//! (by their bytes, compressed or not), the device registry (devices.json, devices.py or a CSV)
//! and the label logs (each kind told from its content), with every other file named with the
//! reason it was left out (a Git LFS pointer, a paper, a README, an unknown format).

use std::path::{Path, PathBuf};

use crate::labels::sniff::{sniff_file, Sniffed};
use crate::traffic::devices::Registry;

/// Folders deeper than this are not walked (a symlink loop or a copied system tree).
const MAX_DEPTH: usize = 12;

/// What [`scan_folder`] found.
#[derive(Clone, Debug, Default)]
pub struct FolderScan {
    pub captures: Vec<PathBuf>,
    pub registry: Option<PathBuf>,
    /// Label logs with the kind told from their content.
    pub logs: Vec<(PathBuf, Sniffed)>,
    /// Files left out, each with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// When every capture's path is a label in Mon(IoT)r's layout and no log was found, the
    /// folder is a per-event capture dataset: one glob per capture suffix under it.
    pub per_event: Vec<String>,
}

/// Sorts every file under `dir` (hidden folders such as `.git` excepted) into captures,
/// registry, logs and skipped files. Files are visited in name order, so the result is the
/// same on every machine.
pub fn scan_folder(dir: &Path) -> Result<FolderScan, String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a folder", dir.display()));
    }
    let mut files = Vec::new();
    let mut hidden = Vec::new();
    walk(dir, 0, &mut files, &mut hidden);
    let mut scan = FolderScan::default();
    for h in hidden {
        scan.skipped.push((
            h,
            "a hidden folder (version control or tool data): not walked".into(),
        ));
    }
    let mut registries: Vec<PathBuf> = Vec::new();
    for f in files {
        match classify(&f) {
            Found::Capture => scan.captures.push(f),
            Found::Registry => registries.push(f),
            Found::Log(s) => scan.logs.push((f, s)),
            Found::Skipped(why) => scan.skipped.push((f, why)),
        }
    }
    // devices.json first (the lab derives it from devices.py), then Python, then CSV.
    let rank = |p: &PathBuf| match p.extension().and_then(|e| e.to_str()) {
        Some("json") => 0,
        Some("py") => 1,
        _ => 2,
    };
    registries.sort_by_key(|p| (rank(p), p.components().count(), p.clone()));
    let mut registries = registries.into_iter();
    scan.registry = registries.next();
    for other in registries {
        let used = scan.registry.as_ref().map(|r| r.display().to_string());
        scan.skipped.push((
            other,
            format!(
                "another device registry ({} is used)",
                used.unwrap_or_default()
            ),
        ));
    }
    scan.skipped.sort();
    scan.per_event = per_event_globs(dir, &scan);
    Ok(scan)
}

/// See [`FolderScan::per_event`].
fn per_event_globs(dir: &Path, scan: &FolderScan) -> Vec<String> {
    let pattern = crate::labels::PathPattern::parse(crate::labels::MONIOTR_PATTERN)
        .expect("the default pattern parses");
    let all_labelled = scan
        .captures
        .iter()
        .all(|c| pattern.fields(&c.display().to_string()).is_ok());
    if scan.captures.is_empty() || !scan.logs.is_empty() || !all_labelled {
        return Vec::new();
    }
    let mut suffixes: Vec<String> = scan
        .captures
        .iter()
        .filter_map(|c| {
            let name = c.file_name()?.to_string_lossy().to_string();
            crate::capture::capture_suffix(&name).map(str::to_string)
        })
        .collect();
    suffixes.sort();
    suffixes.dedup();
    let root = glob::Pattern::escape(&dir.display().to_string());
    suffixes
        .iter()
        .map(|s| {
            Path::new(&root)
                .join(format!("**/*{s}"))
                .display()
                .to_string()
        })
        .collect()
}

fn walk(dir: &Path, depth: usize, files: &mut Vec<PathBuf>, hidden: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<std::fs::DirEntry> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            if e.file_name().to_string_lossy().starts_with('.') {
                hidden.push(path);
            } else if depth < MAX_DEPTH {
                walk(&path, depth + 1, files, hidden);
            }
        } else if t.is_file() || (t.is_symlink() && path.is_file()) {
            files.push(path);
        }
    }
}

enum Found {
    Capture,
    Registry,
    Log(Sniffed),
    Skipped(String),
}

/// What one file is, by its bytes first and its name only where bytes cannot tell.
fn classify(f: &Path) -> Found {
    let name = f
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let probe = crate::capture::probe(f);
    if probe.is_ok() {
        return Found::Capture;
    }
    if crate::capture::capture_suffix(&name).is_some() {
        return Found::Skipped(probe.unwrap_err());
    }
    if let Some(why) = not_data(f, &name) {
        return Found::Skipped(why);
    }
    let registry_like = name.contains("device") || (name.ends_with(".py") && is_python_registry(f));
    if registry_like {
        if let Ok(r) = Registry::load(f) {
            if !r.devices.is_empty() {
                return Found::Registry;
            }
        }
    }
    if name.ends_with(".py") {
        return Found::Skipped("Python code, not a registry of literals (it is never run)".into());
    }
    if name.contains("truth") {
        return Found::Skipped(
            "a ground-truth table (an answer key, not a log); add it with --source if it is \
             one"
            .into(),
        );
    }
    match sniff_file(f) {
        Ok(s) => Found::Log(s),
        Err(e) => {
            let e = e
                .split_once(": ")
                .map_or(e.clone(), |(_, why)| why.to_string());
            Found::Skipped(format!("not a label log: {e}"))
        }
    }
}

fn is_python_registry(f: &Path) -> bool {
    std::fs::read_to_string(f).is_ok_and(|t| crate::traffic::devices_py::looks_like_python(&t))
}

/// Documents, papers, images and projects: named by their magic or their name.
fn not_data(f: &Path, name: &str) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 8];
    let n = std::fs::File::open(f)
        .and_then(|mut h| h.read(&mut head))
        .unwrap_or(0);
    let head = &head[..n];
    if head.starts_with(b"%PDF") {
        return Some("a PDF document (a paper?), not a capture, registry or log".into());
    }
    if head.starts_with(b"\x89PNG")
        || head.starts_with(b"\xFF\xD8\xFF")
        || head.starts_with(b"GIF8")
    {
        return Some("an image".into());
    }
    if head.starts_with(b"PK\x03\x04") {
        return Some("a zip archive: unpack it and scan again".into());
    }
    if name.ends_with(".labelbench.json") {
        return Some("a labelbench project".into());
    }
    let doc = ["readme", "license", "licence", "changelog", "citation"];
    if doc.iter().any(|d| name.starts_with(d))
        || [".md", ".rst", ".html", ".tex", ".bib", ".ipynb"]
            .iter()
            .any(|e| name.ends_with(e))
    {
        return Some("documentation".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_folder_sorts_into_captures_registry_and_logs() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
        let s = scan_folder(&dir).unwrap();
        assert_eq!(s.captures.len(), 24);
        assert_eq!(
            s.registry.as_deref(),
            Some(dir.join("devices.json").as_path())
        );
        let kinds: Vec<(String, &str)> = s
            .logs
            .iter()
            .map(|(p, k)| {
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                (name, k.kind.as_str())
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("ifttt-actions.csv".to_string(), "ifttt-trigger"),
                ("ifttt-events.csv".to_string(), "ifttt"),
                ("notifications.jsonl".to_string(), "notifications-jsonl"),
                ("smartthings-events.csv".to_string(), "smartthings"),
            ]
        );
        let skipped: Vec<String> = s
            .skipped
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().to_string())
            .collect();
        for name in ["README.md", "ground-truth.csv", "sample.labelbench.json"] {
            assert!(skipped.iter().any(|s| s == name), "{skipped:?}");
        }
    }
}
