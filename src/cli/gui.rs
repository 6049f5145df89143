//! `labelbench gui` (and `labelbench` alone): the workbench window.

use std::path::PathBuf;

use super::*;

#[derive(clap::Args)]
pub struct Args {
    /// Project file (*.labelbench.json) to open.
    pub project: Option<PathBuf>,
    /// For a project reading a traffic dataset: load only the traffic from this UTC instant
    /// (`2021-03-08` or an RFC 3339 time), so a long dataset opens one slice at a time.
    #[arg(long, value_name = "TIME", value_parser = super::parse_utc)]
    pub from: Option<i64>,
    /// Load only the traffic before this UTC instant (see --from).
    #[arg(long, value_name = "TIME", value_parser = super::parse_utc)]
    pub to: Option<i64>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let slice = time_range(a.from, a.to)?;
    match a.project {
        Some(p) => {
            require_project(&p)?;
            run_gui(Some(p), slice)
        }
        None => run_gui(Some(default_project()), slice),
    }
}

fn default_project() -> PathBuf {
    let local = PathBuf::from("sample-data/sample.labelbench.json");
    if local.is_file() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-data/sample.labelbench.json")
}

#[cfg(feature = "gui")]
fn run_gui(project: Option<PathBuf>, slice: Option<(i64, i64)>) -> anyhow::Result<()> {
    labelbench::gui::run(project, slice).map_err(|e| anyhow!("GUI failed: {e}"))
}

#[cfg(not(feature = "gui"))]
fn run_gui(_project: Option<PathBuf>, _slice: Option<(i64, i64)>) -> anyhow::Result<()> {
    Err(anyhow!(
        "this build has no GUI (built without the `gui` feature)"
    ))
}
