//! `labelbench new`: write a project file naming captures, a registry and label sources.

use std::path::{Path, PathBuf};

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
    #[command(flatten)]
    pub flows: flow_args::FlowArgs,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let flows = a.flows.timeouts()?;
    cmd_new(
        &a.project,
        &a.captures,
        a.devices.as_deref(),
        (&a.sources, flows),
        a.force,
    )
}

fn cmd_new(
    project: &Path,
    captures: &[String],
    devices: Option<&Path>,
    (sources, flows): (&[String], labelbench::traffic::FlowTimeouts),
    force: bool,
) -> anyhow::Result<()> {
    use labelbench::project::create::{create, NewProject, ALREADY_EXISTS};
    let zone_given: Vec<bool> = sources.iter().map(|s| s.contains('@')).collect();
    let sources = sources
        .iter()
        .map(|s| SourceSpec::parse_cli(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let spec = NewProject {
        path: project.to_path_buf(),
        captures: captures.to_vec(),
        devices: devices.map(Path::to_path_buf),
        sources,
        replace: force,
        flows,
    };
    let c = create(&spec).map_err(|e| match e.ends_with(ALREADY_EXISTS) {
        true => bad(format!("{e} (use --force to overwrite)")),
        false => bad(e),
    })?;
    let n = |k: usize, what: &str| format!("{k} {what}{}", if k == 1 { "" } else { "s" });
    outln!(
        "wrote {} ({} naming {}, {})",
        project.display(),
        n(c.project.captures.len(), "capture pattern"),
        n(c.capture_files, "file"),
        n(c.project.sources.len(), "label source")
    );
    for (f, why) in &c.unreadable {
        outln!("  warning: {}: {why}", f.display());
    }
    outln!("  flows end by {}", c.project.flows.describe());
    for (src, given) in c.project.sources.iter().zip(zone_given) {
        let how = if given {
            "as given".to_string()
        } else {
            "the default: no @ZONE was given; `curate` checks it against the traffic".to_string()
        };
        outln!(
            "  {:<20} {}  local times read in {} ({how})",
            src.kind.as_str(),
            src.path,
            src.tz
        );
    }
    Ok(())
}
