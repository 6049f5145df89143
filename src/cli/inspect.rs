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
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let Args {
        project,
        json,
        no_cache,
    } = a;
    let mut s = open_session(&project, true, !no_cache)?;
    s.finish_cache_write();
    let r = labelbench::project::inspect::inspect(&s);
    if json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        out!("{}", labelbench::project::inspect::render_text(&r));
    }
    Ok(())
}
