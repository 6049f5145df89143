//! `labelbench train`: features, cross-validation and the report.

use std::path::PathBuf;

use anyhow::Context;

use super::*;

#[derive(clap::Args)]
pub struct Args {
    /// Project file (*.labelbench.json); the report is saved next to it.
    pub project: PathBuf,
    /// forest, tree (linfa-trees) or cart (our CART as one tree) [project's; default forest].
    #[arg(long, value_parser = ["forest", "tree", "cart"])]
    pub model: Option<String>,
    /// device (one model per device) or global (device:class) [project's; default device].
    #[arg(long, value_parser = ["device", "global"])]
    pub scope: Option<String>,
    /// Cross-validation folds, at least 2 [project's; default 4].
    #[arg(long)]
    pub folds: Option<usize>,
    /// Seed of the folds and the forest [project's; default 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Trees in the forest [project's; default 60].
    #[arg(long)]
    pub trees: Option<usize>,
    /// Bootstrap samples per tree (the paper's forest does not).
    #[arg(long)]
    pub bootstrap: bool,
    /// Keep events close in time in the same fold.
    #[arg(long)]
    pub time_blocked: bool,
    /// Add an `idle` class of background windows.
    #[arg(long)]
    pub idle: bool,
    /// Print the report as JSON (it is saved as PROJECT.model_report.json either way).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let Args {
        project,
        model,
        scope,
        folds,
        seed,
        trees,
        bootstrap,
        time_blocked,
        idle,
        json,
    } = a;
    let mut s = open_session(&project, true, true)?;
    let mut ts = s.project.training.clone();
    if let Some(m) = model {
        ts.model = labelbench::learn::Model::parse(&m).expect("checked by clap");
    }
    if let Some(x) = scope {
        ts.scope = labelbench::learn::Scope::parse(&x).expect("checked by clap");
    }
    if let Some(x) = folds {
        ts.folds = x;
    }
    if let Some(x) = seed {
        ts.seed = x;
    }
    if let Some(x) = trees {
        ts.trees = x;
    }
    ts.bootstrap |= bootstrap;
    ts.time_blocked |= time_blocked;
    s.project.window.idle_class |= idle;
    let r = labelbench::learn::train(&s, &ts).map_err(bad)?;
    let text = serde_json::to_string_pretty(&r)?;
    let saved = project.with_extension("model_report.json");
    std::fs::write(&saved, &text).with_context(|| format!("writing {}", saved.display()))?;
    if json {
        outln!("{text}");
    } else {
        out!("{}", labelbench::learn::render(&r));
        outln!("\nreport saved to {}", saved.display());
    }
    Ok(())
}
