//! `labelbench inspect`: load a project and summarise it.

use std::path::PathBuf;

use super::*;

#[derive(clap::Args)]
pub struct Args {
    /// Project file (*.labelbench.json).
    pub project: PathBuf,
    /// Print one JSON object instead of text (field names in the README).
    #[arg(long)]
    pub json: bool,
    /// Parse the captures afresh instead of reading the derived cache (NAME.labelbench.cache
    /// beside the project), and do not write one.
    #[arg(long)]
    pub no_cache: bool,
    /// For a project that reads a traffic dataset: print (as JSON) its devices split into at
    /// most N groups of about equal packets, one `export --only-devices` task each, without
    /// reading any packet.
    #[arg(long, value_name = "N")]
    pub device_groups: Option<usize>,
    /// Only packets, flows (by first packet) and events (by adjusted time) from this UTC
    /// instant on (`2021-03-08` or RFC 3339); a project reading a traffic dataset reads only
    /// that slice's packets.
    #[arg(long, value_name = "TIME", value_parser = super::parse_utc)]
    pub from: Option<i64>,
    /// Only before this UTC instant (see --from).
    #[arg(long, value_name = "TIME", value_parser = super::parse_utc)]
    pub to: Option<i64>,
}

/// `--device-groups N`: the plan from the project file, its registry and the dataset manifest.
fn print_device_groups(project: &Path, n: usize) -> anyhow::Result<()> {
    use labelbench::project::Project;
    require_project(project)?;
    let p = Project::load(project).map_err(bad)?;
    let base = project
        .parent()
        .filter(|b| !b.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(dir) = &p.traffic else {
        return Err(bad(format!(
            "{}: --device-groups needs a project that reads a traffic dataset (labelbench new \
             --traffic DIR)",
            project.display()
        )));
    };
    let reg = match &p.devices {
        Some(d) => labelbench::traffic::devices::Registry::load(&base.join(d)).map_err(bad)?,
        None => Default::default(),
    };
    let groups =
        labelbench::traffic::dataset::plan_groups(&base.join(dir), &reg, n).map_err(bad)?;
    outln!("{}", serde_json::to_string(&groups)?);
    Ok(())
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let Args {
        project,
        json,
        no_cache,
        device_groups,
        from,
        to,
    } = a;
    if let Some(n) = device_groups {
        return print_device_groups(&project, n);
    }
    let range = super::time_range(from, to)?;
    // A slice reads only its packets: `[from, to)` is `[from, to − 1 ns]`.
    let filter = TrafficFilter {
        range: range.map(|(a, b)| (a, b.saturating_sub(1))),
        ..Default::default()
    };
    let mut s = open_session_filtered(&project, true, !no_cache, &filter)?;
    s.finish_cache_write();
    let r = labelbench::project::inspect::inspect_slice(&s, range);
    if json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        out!("{}", labelbench::project::inspect::render_text(&r));
    }
    Ok(())
}
