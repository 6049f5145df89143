//! `labelbench bench …`: the benchmarks (release build; see docs/benchmarks.md).

use std::path::{Path, PathBuf};

use super::*;

#[derive(clap::Subcommand)]
pub enum BenchCmd {
    /// Curation quality on simulator projects against their ground truth, and time taken.
    Curation {
        /// Where to generate the projects.
        #[arg(long)]
        out: PathBuf,
        /// Simulator seeds (one project per seed and device count).
        #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
        seeds: Vec<u64>,
        /// Device counts.
        #[arg(long, value_delimiter = ',', default_value = "10,30")]
        devices: Vec<usize>,
        /// Days per project.
        #[arg(long, default_value_t = 2)]
        days: u32,
        /// Print the rows as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Time every stage on one project: load, curate, features, train, export.
    Pipeline {
        /// Project file (*.labelbench.json); it is not modified.
        project: PathBuf,
        /// Where to write the export (and features.csv for cross-checks).
        #[arg(long)]
        out: PathBuf,
        /// Training scope: global or device.
        #[arg(long, default_value = "global", value_parser = ["global", "device"])]
        scope: String,
    },
    /// Frame time of the full UI (headless, CPU) zoomed out, zoomed in and panning.
    Frames {
        /// Project file (*.labelbench.json).
        project: PathBuf,
        /// Frames timed per scenario.
        #[arg(long, default_value_t = 200)]
        frames: usize,
    },
    /// Event/burst-onset agreement on a (real) project, before and after curation.
    Onsets {
        /// Project file (*.labelbench.json); edits are applied in memory only.
        project: PathBuf,
    },
    /// Ingest + flows vs `cat` and `tshark` on the same files.
    Ingest {
        /// Capture files (pcap or pcapng), merged in time order like a project's captures.
        files: Vec<PathBuf>,
        /// Skip the tshark baseline (slow on big inputs).
        #[arg(long)]
        no_tshark: bool,
        /// Skip writing and reopening the derived cache.
        #[arg(long)]
        no_cache: bool,
        /// Ingest this many times and report the median.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Device registry (the lab's devices.json, or CSV) to attribute packets with, as a
        /// project load does; without it every MAC is an unregistered device.
        #[arg(long)]
        devices: Option<PathBuf>,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(what: BenchCmd) -> anyhow::Result<()> {
    match what {
        BenchCmd::Curation {
            out,
            seeds,
            devices,
            days,
            json,
        } => {
            let rows =
                labelbench::devtools::bench::curation(&out, &seeds, &devices, days).map_err(bad)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                out!("{}", labelbench::devtools::bench::render_curation(&rows));
            }
            Ok(())
        }
        BenchCmd::Frames { project, frames } => bench_frames(&project, frames),
        BenchCmd::Pipeline {
            project,
            out,
            scope,
        } => pipeline(&project, &out, scope),
        BenchCmd::Onsets { project } => {
            let mut s = open_session(&project, false, false)?;
            let before = labelbench::devtools::evaluate::onset_agreement(&s);
            let t = std::time::Instant::now();
            let (_, applied) = labelbench::curation::run_all(
                &mut s,
                &labelbench::curation::Acceptance::all(),
                &Default::default(),
            )
            .map_err(bad)?;
            let secs = t.elapsed().as_secs_f64();
            let after = labelbench::devtools::evaluate::onset_agreement(&s);
            outln!("curation: {applied} edits in {secs:.2} s (not journaled)");
            for (b, a) in before.iter().zip(&after) {
                outln!(
                "{:<20} {:<40} within 5 s of a burst onset: before {}/{} ({:.1} %), after {}/{} ({:.1} %)",
                b.kind, b.source, b.within_5s, b.events_with_traffic,
                100.0 * b.within_5s as f64 / b.events_with_traffic.max(1) as f64,
                a.within_5s, a.events_with_traffic,
                100.0 * a.within_5s as f64 / a.events_with_traffic.max(1) as f64
            );
            }
            Ok(())
        }
        BenchCmd::Ingest {
            files,
            no_tshark,
            no_cache,
            runs,
            devices,
            json,
        } => {
            if files.is_empty() {
                return Err(bad("bench ingest: give at least one capture file"));
            }
            for f in &files {
                if !f.is_file() {
                    return Err(bad(format!("{}: capture file not found", f.display())));
                }
            }
            let registry = match &devices {
                Some(d) => labelbench::traffic::devices::Registry::load(d).map_err(bad)?,
                None => labelbench::traffic::devices::Registry::default(),
            };
            let r =
                labelbench::devtools::bench::ingest(&files, &registry, !no_tshark, runs, !no_cache);
            if json {
                outln!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                out!("{}", r.render());
            }
            Ok(())
        }
    }
}

#[cfg(feature = "gui")]
fn bench_frames(project: &Path, frames: usize) -> anyhow::Result<()> {
    let t = std::time::Instant::now();
    let s = open_session(project, false, false)?;
    outln!(
        "loaded {} packets, {} flows, {} events in {:.1} s",
        s.traffic.packets.len(),
        s.traffic.flows.len(),
        s.labels.events.len(),
        t.elapsed().as_secs_f64()
    );
    let (install_s, stats) = labelbench::gui::bench_frames(s, frames);
    outln!("timeline bins, device totals and flow lists built in {install_s:.2} s");
    for r in stats {
        outln!(
            "{:<28} {} frames: median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            r.scenario,
            r.frames,
            r.median_ms,
            r.p99_ms,
            r.max_ms
        );
    }
    Ok(())
}

#[cfg(not(feature = "gui"))]
fn bench_frames(_project: &Path, _frames: usize) -> anyhow::Result<()> {
    Err(anyhow!("this build has no GUI"))
}

/// Times every stage on one project: load, curate, features, train, export.
fn pipeline(project: &Path, out: &Path, scope: String) -> anyhow::Result<()> {
    let scope = labelbench::learn::Scope::parse(&scope).expect("checked by clap");
    let t = std::time::Instant::now();
    let mut s = open_session(project, false, false)?;
    let load = t.elapsed().as_secs_f64();
    outln!(
        "load      {load:>7.2} s  {} packets, {} flows, {} events",
        s.traffic.packets.len(),
        s.traffic.flows.len(),
        s.labels.events.len()
    );
    let t = std::time::Instant::now();
    let (sugg, applied) = labelbench::curation::run_all(
        &mut s,
        &labelbench::curation::Acceptance::all(),
        &Default::default(),
    )
    .map_err(bad)?;
    outln!(
        "curate    {:>7.2} s  {} suggestions, {} edits",
        t.elapsed().as_secs_f64(),
        sugg.len(),
        applied
    );
    let t = std::time::Instant::now();
    let rows = labelbench::learn::features::extract(&s, &s.project.window, 1);
    outln!(
        "features  {:>7.2} s  {} rows x {} features",
        t.elapsed().as_secs_f64(),
        rows.len(),
        labelbench::learn::features::N_FEATURES
    );
    let ts = labelbench::project::TrainSettings {
        scope,
        ..s.project.training.clone()
    };
    let t = std::time::Instant::now();
    let r = labelbench::learn::train_rows(
        &s,
        &rows,
        &ts,
        labelbench::learn::Model::Forest,
        labelbench::learn::forest::MaxFeatures::Sqrt,
    )
    .map_err(bad)?;
    outln!("train     {:>7.2} s  forest, {} scope, {} folds, {} classes: accuracy {:.4}, macro F1 {:.4}", t.elapsed().as_secs_f64(), scope.as_str(), ts.folds, r.classes.len(), r.accuracy, r.macro_f1);
    let t = std::time::Instant::now();
    let tree = labelbench::learn::train_rows(
        &s,
        &rows,
        &labelbench::project::TrainSettings {
            scope,
            ..ts.clone()
        },
        labelbench::learn::Model::Tree,
        labelbench::learn::forest::MaxFeatures::All,
    )
    .map_err(bad)?;
    let tt = t.elapsed().as_secs_f64();
    let cart = labelbench::learn::train_rows(
        &s,
        &rows,
        &labelbench::project::TrainSettings {
            scope,
            ..ts.clone()
        },
        labelbench::learn::Model::Cart,
        labelbench::learn::forest::MaxFeatures::All,
    )
    .map_err(bad)?;
    outln!(
        "trees     {tt:>7.2} s  linfa-trees accuracy {:.4} vs our CART {:.4} (max depth {})",
        tree.accuracy,
        cart.accuracy,
        ts.max_depth
    );
    std::fs::create_dir_all(out)?;
    let rep = out.join("model_report.json");
    std::fs::write(&rep, serde_json::to_string_pretty(&r)?)?;
    for (fmt, name) in [
        (labelbench::export::Format::Parquet, "export-parquet"),
        (labelbench::export::Format::Csv, "export-csv"),
    ] {
        let t = std::time::Instant::now();
        let o = labelbench::export::ExportOptions {
            format: fmt,
            pcap_slices: false,
            include_rejected: false,
            force: true,
        };
        let e = labelbench::export::export(&s, &out.join(name), &o, Some(&rep)).map_err(bad)?;
        outln!(
            "export    {:>7.2} s  {name}: {:?}",
            t.elapsed().as_secs_f64(),
            e.rows
        );
    }
    Ok(())
}
