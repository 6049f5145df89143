//! `labelbench gui` (and `labelbench` alone): the workbench window.

use std::path::PathBuf;

use super::*;

#[derive(clap::Args)]
pub struct Args {
    /// Project file (*.labelbench.json) to open.
    pub project: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    match a.project {
        Some(p) => {
            require_project(&p)?;
            run_gui(Some(p))
        }
        None => run_gui(Some(default_project())),
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
fn run_gui(project: Option<PathBuf>) -> anyhow::Result<()> {
    labelbench::gui::run(project).map_err(|e| anyhow!("GUI failed: {e}"))
}

#[cfg(not(feature = "gui"))]
fn run_gui(_project: Option<PathBuf>) -> anyhow::Result<()> {
    Err(anyhow!(
        "this build has no GUI (built without the `gui` feature)"
    ))
}
