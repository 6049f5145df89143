//! `labelbench new`: write a project file naming captures, a registry and label sources.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::*;

#[derive(clap::Args)]
pub struct Args {
    /// Project file to write (*.labelbench.json); inputs are stored relative to it.
    pub project: PathBuf,
    /// Capture file or glob (repeatable), e.g. 'pcaps/*.pcap'.
    #[arg(long = "capture", required = true)]
    pub captures: Vec<String>,
    /// Device registry: the lab's devices.json or CSV name,mac,ip,description,hub.
    #[arg(long)]
    pub devices: Option<PathBuf>,
    /// Label source KIND:PATH[@TZ] (repeatable). Kinds: ifttt, ifttt-trigger, smartthings,
    /// notifications-jsonl, notifications-csv, csv, experiments.
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// Overwrite an existing project file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    cmd_new(
        &a.project,
        &a.captures,
        a.devices.as_deref(),
        &a.sources,
        a.force,
    )
}

fn cmd_new(
    project: &Path,
    captures: &[String],
    devices: Option<&Path>,
    sources: &[String],
    force: bool,
) -> anyhow::Result<()> {
    if project.exists() && !force {
        return Err(bad(format!(
            "{}: already exists (use --force to overwrite)",
            project.display()
        )));
    }
    let dir = project
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(bad(format!("{}: folder does not exist", dir.display())));
    }
    let name = project
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut p = Project::new(
        name.trim_end_matches(".json")
            .trim_end_matches(".labelbench"),
    );
    // Check that every capture argument names something, then store it relative to the project.
    let files = labelbench::capture::expand_captures(Path::new("."), captures).map_err(bad)?;
    p.captures = captures.iter().map(|c| relative_capture(dir, c)).collect();
    if let Some(d) = devices {
        if !d.is_file() {
            return Err(bad(format!("{}: device registry not found", d.display())));
        }
        labelbench::traffic::devices::Registry::load(d).map_err(bad)?;
        p.devices = Some(relative_to(dir, d));
    }
    for s in sources {
        let mut spec = SourceSpec::parse_cli(s).map_err(bad)?;
        if !Path::new(&spec.path).is_file() {
            return Err(bad(format!("{}: label source not found", spec.path)));
        }
        spec.path = relative_to(dir, Path::new(&spec.path));
        p.sources.push(spec);
    }
    p.check_sources(dir).map_err(bad)?;
    p.save(project)
        .with_context(|| format!("writing {}", project.display()))?;
    let n = |k: usize, what: &str| format!("{k} {what}{}", if k == 1 { "" } else { "s" });
    outln!(
        "wrote {} ({} naming {}, {})",
        project.display(),
        n(p.captures.len(), "capture pattern"),
        n(files.len(), "file"),
        n(p.sources.len(), "label source")
    );
    Ok(())
}
