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
        /// Labs: `default` (the lab's own defects), `real-lab` (every defect found on real
        /// labs: see `demo-data --real-lab-defects`), `no-zone` (the same with no zone named),
        /// `small-commands` (see `demo-data --small-commands`), `drift` (real-lab with an IFTTT
        /// clock gaining 120 s a day).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "default,real-lab,no-zone"
        )]
        labs: Vec<String>,
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
    /// Curation quality of `curate --accept-all` on one simulated project (from `demo-data`)
    /// against its ground truth; edits are applied in memory only.
    Quality {
        /// Project file written by `demo-data` (ground-truth.csv beside it).
        project: PathBuf,
    },
    /// Event/burst-onset agreement on a (real) project, before and after curation.
    Onsets {
        /// Project file (*.labelbench.json); edits are applied in memory only.
        project: PathBuf,
    },
    /// A per-event capture dataset (one capture per event; `demo-data --per-event-captures`):
    /// files/s of a fresh load (captures, flows and every path read as an event) and of the
    /// feature table, against `tshark` run once per file as the paper's pipeline does, timed
    /// on a seeded sample of the files.
    PerEvent {
        /// Project file whose captures are the per-event files.
        project: PathBuf,
        /// Files run through tshark (0: skip the baseline).
        #[arg(long, default_value_t = 100)]
        tshark_sample: usize,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
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
        #[command(flatten)]
        flows: super::flow_args::FlowArgs,
    },
}

pub fn run(what: BenchCmd) -> anyhow::Result<()> {
    match what {
        BenchCmd::Curation {
            out,
            seeds,
            devices,
            days,
            labs,
            json,
        } => {
            let rows = labelbench::devtools::bench::curation(&out, &seeds, &devices, days, &labs)
                .map_err(bad)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                out!("{}", labelbench::devtools::bench::render_curation(&rows));
            }
            Ok(())
        }
        BenchCmd::Frames { project, frames } => bench_frames(&project, frames),
        BenchCmd::PerEvent {
            project,
            tshark_sample,
            json,
        } => per_event(&project, tshark_sample, json),
        BenchCmd::Pipeline {
            project,
            out,
            scope,
        } => pipeline(&project, &out, scope),
        BenchCmd::Quality { project } => {
            let mut s = open_session(&project, false, false)?;
            let (_, applied) = labelbench::curation::run_all(
                &mut s,
                &labelbench::curation::Acceptance::all(),
                &Default::default(),
            )
            .map_err(bad)?;
            let gt = project.with_file_name("ground-truth.csv");
            let q = labelbench::devtools::evaluate::against_ground_truth(&s, &gt).map_err(bad)?;
            outln!("{applied} edits");
            outln!("{}", serde_json::to_string_pretty(&q)?);
            Ok(())
        }
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
            let pct = |k: usize, n: usize| {
                format!("{k}/{n} ({:.1} %)", 100.0 * k as f64 / n.max(1) as f64)
            };
            outln!("share of active events within 5 s of an onset, before -> after curation");
            outln!(
                "{:<20} {:<24} {:>34} {:>34}",
                "kind",
                "source",
                "detector's onset",
                "independent onset"
            );
            for (b, a) in before.iter().zip(&after) {
                let file = std::path::Path::new(&b.source)
                    .file_name()
                    .map_or(b.source.clone(), |f| f.to_string_lossy().into_owned());
                if b.events_with_traffic == 0 {
                    outln!(
                        "{:<20} {:<24} no events of devices the captures see",
                        b.kind,
                        file
                    );
                    continue;
                }
                outln!(
                    "{:<20} {:<24} {:>34} {:>34}",
                    b.kind,
                    file,
                    format!(
                        "{} -> {}",
                        pct(b.within_5s, b.events_with_traffic),
                        pct(a.within_5s, a.events_with_traffic)
                    ),
                    format!(
                        "{} -> {}",
                        pct(b.within_5s_independent, b.events_with_traffic),
                        pct(a.within_5s_independent, a.events_with_traffic)
                    )
                );
            }
            outln!(
                "detector's onset: a burst `curate` would align to (confidence 0.3 or more); \
                 independent onset: the device's first packet after 10 s without any"
            );
            Ok(())
        }
        BenchCmd::Ingest {
            files,
            no_tshark,
            no_cache,
            runs,
            devices,
            json,
            flows,
        } => {
            let timeouts = flows.timeouts()?;
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
            let r = labelbench::devtools::bench::ingest(
                &files,
                &registry,
                (!no_tshark, runs, !no_cache),
                &timeouts,
            );
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
            pcapng: false,
            pcap_slices: false,
            include_rejected: false,
            force: true,
            only_devices: None,
            range: None,
            by_day: false,
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

/// See [`BenchCmd::PerEvent`].
fn per_event(project: &Path, tshark_sample: usize, json: bool) -> anyhow::Result<()> {
    use anyhow::Context;
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let t0 = std::time::Instant::now();
    let s = open_session(project, false, false)?;
    let load_s = t0.elapsed().as_secs_f64();
    let files = s.capture_files.clone();
    let t1 = std::time::Instant::now();
    let rows = labelbench::learn::features::extract(&s, &s.project.window, 1);
    let features_s = t1.elapsed().as_secs_f64();
    let mut sample = files.clone();
    sample.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    sample.truncate(tshark_sample);
    let t2 = std::time::Instant::now();
    for f in &sample {
        let o = std::process::Command::new("tshark")
            .arg("-r")
            .arg(f)
            .args(["-T", "fields", "-e", "frame.time_epoch", "-e", "ip.len"])
            .args(["-e", "ip.ttl", "-e", "tcp.len", "-e", "_ws.col.Protocol"])
            .output()
            .with_context(|| "running tshark (install it, or pass --tshark-sample 0)")?;
        if !o.status.success() {
            return Err(bad(format!("tshark failed on {}", f.display())));
        }
    }
    let tshark_s = t2.elapsed().as_secs_f64();
    let n = files.len() as f64;
    let tshark_rate = (!sample.is_empty()).then(|| sample.len() as f64 / tshark_s);
    let v = serde_json::json!({
        "files": files.len(),
        "packets": s.traffic.packets.len(),
        "events": s.labels.events.len(),
        "feature_rows": rows.len(),
        "load_seconds": load_s,
        "load_files_per_s": n / load_s,
        "features_seconds": features_s,
        "tshark_sample": sample.len(),
        "tshark_files_per_s": tshark_rate,
        "tshark_all_files_seconds": tshark_rate.map(|r| n / r),
        "speedup_vs_tshark": tshark_rate.map(|r| (n / load_s) / r),
    });
    if json {
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    outln!(
        "{} files, {} packets, {} events: loaded in {load_s:.2} s ({:.0} files/s), features of {} events in {features_s:.2} s",
        files.len(),
        s.traffic.packets.len(),
        s.labels.events.len(),
        n / load_s,
        rows.len()
    );
    if let Some(r) = tshark_rate {
        outln!(
            "tshark once per file: {r:.1} files/s on {} sampled files, so {:.0} s for all ({:.0}x labelbench's load)",
            sample.len(),
            n / r,
            (n / load_s) / r
        );
    }
    Ok(())
}
