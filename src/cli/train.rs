//! `labelbench train`: features, cross-validation and the report.

use std::path::PathBuf;

use anyhow::Context;

use super::*;

#[derive(clap::Args)]
pub struct Args {
    /// Project file (*.labelbench.json); the report is saved next to it.
    pub project: PathBuf,
    /// forest, extra-trees, tree (linfa-trees), cart (our CART as one tree) or random (a
    /// stratified guess) [project's; default forest].
    #[arg(long, value_parser = ["forest", "extra-trees", "tree", "cart", "random"])]
    pub model: Option<String>,
    /// Compare models per device on the same folds, e.g. `tree,forest,extra-trees` (a random
    /// baseline is added): prints the table, saves PROJECT.model_comparison.csv, and the
    /// report of the first model, with the comparison in it, as PROJECT.model_report.json.
    #[arg(long, value_name = "MODELS", conflicts_with_all = ["model", "scope"])]
    pub compare: Option<String>,
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
    /// Train on the events from this UTC instant on (`2021-03-08` or an RFC 3339 time); a
    /// project reading a traffic dataset reads only those events' windows.
    #[arg(long, value_name = "TIME", value_parser = super::parse_utc, conflicts_with = "compare")]
    pub from: Option<i64>,
    /// Train on the events before this UTC instant (see --from).
    #[arg(long, value_name = "TIME", value_parser = super::parse_utc, conflicts_with = "compare")]
    pub to: Option<i64>,
    /// For a project reading a traffic dataset: compute the features one UTC day at a time
    /// (memory follows the largest day), then train on every day's rows at once.
    #[arg(long, conflicts_with = "compare")]
    pub by_day: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let Args {
        project,
        model,
        compare,
        scope,
        folds,
        seed,
        trees,
        bootstrap,
        time_blocked,
        idle,
        json,
        from,
        to,
        by_day,
    } = a;
    let range = time_range(from, to)?;
    let mut s = match (by_day, range) {
        // The labels and the journal, without a packet: the days bring their own.
        (true, _) => {
            require_project(&project)?;
            let opts = OpenOptions {
                journal: true,
                cache: true,
            };
            Session::open_without_packets(&project, opts, &Default::default()).map_err(bad)?
        }
        (false, Some(r)) => open_slice(&project, &Default::default(), r)?,
        (false, None) => open_session(&project, true, true)?,
    };
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
    let saved = project.with_extension("model_report.json");
    if let Some(list) = compare {
        return run_compare(&s, &ts, &list, &saved, json);
    }
    let r = match by_day {
        true => train_by_day(&project, &s, &ts, range)?,
        false => labelbench::learn::train_slice(&s, &ts, range, None).map_err(bad)?,
    };
    let text = serde_json::to_string_pretty(&r)?;
    std::fs::write(&saved, &text).with_context(|| format!("writing {}", saved.display()))?;
    if json {
        outln!("{text}");
    } else {
        out!("{}", labelbench::learn::render(&r));
        outln!("\nreport saved to {}", saved.display());
    }
    Ok(())
}

/// `--by-day`: the feature rows of each UTC day (with packets or events, within `range`) from
/// that day's slice, then one model over all of them; `s` is the project without packets.
fn train_by_day(
    project: &Path,
    s: &Session,
    ts: &labelbench::project::TrainSettings,
    range: Option<(i64, i64)>,
) -> anyhow::Result<labelbench::learn::Report> {
    let (mut rows, mut left) = (Vec::new(), labelbench::learn::features::LeftOut::default());
    for slice in s.day_slices(range).map_err(bad)? {
        let d = open_slice(project, &Default::default(), slice)?;
        // The window as the command line set it (idle windows), on this day's traffic.
        let (r, l) =
            labelbench::learn::features::slice_rows(&d, &s.project.window, ts.seed, slice, |_| {
                true
            });
        rows.extend(r);
        left.add(&l);
    }
    rows.sort_by_key(|r| r.event_id);
    labelbench::learn::train_feature_rows(s, &rows, left, ts, None).map_err(bad)
}

fn run_compare(
    s: &labelbench::project::session::Session,
    ts: &labelbench::project::TrainSettings,
    list: &str,
    saved: &std::path::Path,
    json: bool,
) -> anyhow::Result<()> {
    use labelbench::learn::compare;
    let models = compare::parse_models(list).map_err(|e| bad(labelbench::Error::Other(e)))?;
    let r = compare::compare_and_save(s, ts, &models, Some(saved), None).map_err(bad)?;
    let table = r.comparison.expect("compare_and_save fills the comparison");
    let csv_path = compare::csv_path(saved);
    if json {
        outln!("{}", serde_json::to_string_pretty(&table)?);
    } else {
        out!("{}", compare::render(&table));
        outln!(
            "\nreport saved to {}, table to {}",
            saved.display(),
            csv_path.display()
        );
    }
    Ok(())
}
