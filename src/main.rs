//! The `labelbench` binary: the GUI with no subcommand, the same core headless otherwise.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use clap::{CommandFactory, Parser, Subcommand};

use labelbench::labels::SourceSpec;
use labelbench::progress::Progress;
use labelbench::project::session::{OpenOptions, Session};
use labelbench::project::{relative_capture, relative_to, Project};

#[derive(Parser)]
#[command(
    name = "labelbench",
    version,
    about = "Label IoT network traffic with device events"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Open the workbench window (default: the bundled sample project).
    Gui {
        /// Project file (*.labelbench.json) to open.
        project: Option<PathBuf>,
    },
    /// Write a new project file.
    New {
        /// Project file to write (*.labelbench.json); inputs are stored relative to it.
        project: PathBuf,
        /// Capture file or glob (repeatable), e.g. 'pcaps/*.pcap'.
        #[arg(long = "capture", required = true)]
        captures: Vec<String>,
        /// Device registry: the lab's devices.json or CSV name,mac,ip,description,hub.
        #[arg(long)]
        devices: Option<PathBuf>,
        /// Label source KIND:PATH[@TZ] (repeatable). Kinds: ifttt, ifttt-trigger, smartthings,
        /// notifications-jsonl, notifications-csv, csv, experiments.
        #[arg(long = "source")]
        sources: Vec<String>,
        /// Overwrite an existing project file.
        #[arg(long)]
        force: bool,
    },
    /// Load a project and summarise packets, flows, devices, events and warnings.
    Inspect {
        /// Project file (*.labelbench.json).
        project: PathBuf,
        /// Print one JSON object instead of text (field names in the README).
        #[arg(long)]
        json: bool,
        /// Parse the captures afresh instead of reading the derived cache (NAME.labelbench.cache
        /// beside the project), and do not write one.
        #[arg(long)]
        no_cache: bool,
    },
    /// Suggest label fixes (duplicates, skew, offsets, source health) and optionally accept them.
    Curate {
        /// Project file (*.labelbench.json); accepted edits go to its journal.
        project: PathBuf,
        /// Accept every suggestion that has an edit.
        #[arg(long, conflicts_with = "accept")]
        accept_all: bool,
        /// Accept these kinds: duplicates, skew, offsets, no-traffic, wrong-device, mislabels.
        #[arg(long, value_delimiter = ',')]
        accept: Vec<String>,
        /// Accept only suggestions at or above this confidence (0-1).
        #[arg(long, default_value_t = 0.0)]
        min_confidence: f64,
        /// Order of the listing: kind (then time), confidence (most confident first) or time.
        #[arg(long, default_value = "kind")]
        order: String,
        /// Suggestions listed in the text output: per kind when ordered by kind, else in all
        /// (0: every one). Defaults to 12 per kind and 30 otherwise.
        #[arg(long)]
        limit: Option<usize>,
        /// Print every suggestion and the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compute features, cross-validate a model and print (and save) the report.
    Train {
        /// Project file (*.labelbench.json); the report is saved next to it.
        project: PathBuf,
        /// forest, tree (linfa-trees) or cart (our CART as one tree) [project's; default forest].
        #[arg(long)]
        model: Option<String>,
        /// device (one model per device) or global (device:class) [project's; default device].
        #[arg(long)]
        scope: Option<String>,
        /// Cross-validation folds, at least 2 [project's; default 4].
        #[arg(long)]
        folds: Option<usize>,
        /// Seed of the folds and the forest [project's; default 1].
        #[arg(long)]
        seed: Option<u64>,
        /// Trees in the forest [project's; default 60].
        #[arg(long)]
        trees: Option<usize>,
        /// Bootstrap samples per tree (the paper's forest does not).
        #[arg(long)]
        bootstrap: bool,
        /// Keep events close in time in the same fold.
        #[arg(long)]
        time_blocked: bool,
        /// Add an `idle` class of background windows.
        #[arg(long)]
        idle: bool,
        /// Print the report as JSON (it is saved as PROJECT.model_report.json either way).
        #[arg(long)]
        json: bool,
    },
    /// Export the cleaned dataset (events, features, flows, devices, manifest).
    Export {
        /// Project file (*.labelbench.json).
        project: PathBuf,
        /// Output folder (created; must be empty unless --force).
        #[arg(long)]
        out: PathBuf,
        /// parquet (default), csv or json (JSON lines).
        #[arg(long, default_value = "parquet")]
        format: String,
        /// One pcap per event with its device's packets in its window.
        #[arg(long)]
        pcap_slices: bool,
        /// Also export rejected events.
        #[arg(long)]
        include_rejected: bool,
        /// Replace a non-empty output folder.
        #[arg(long)]
        force: bool,
        /// Print the output folder, rows per table, slices and time as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Generate a simulated smart-home project (captures, registry, logs, ground truth).
    DemoData {
        /// Output folder for the project (pcaps/, labels/, devices.json, ground truth).
        #[arg(long)]
        out: PathBuf,
        /// Network devices (hub children come on top).
        #[arg(long, default_value_t = 10)]
        devices: usize,
        /// Days simulated (one pcap per hour).
        #[arg(long, default_value_t = 1)]
        days: u32,
        /// Seed: the same seed and settings give the same files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Target total packets (scales background traffic).
        #[arg(long)]
        scale: Option<u64>,
        /// Multiplier on the devices' spontaneous event rates (the lab week's 16.7 K log rows: 1.7).
        #[arg(long, default_value_t = 1.0)]
        label_rate: f64,
        /// Replace a previous demo-data project in `--out` (never any other folder).
        #[arg(long)]
        force: bool,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Test helper: apply N retime edits, printing `ack SEQ ID TO` after each is durable.
    #[command(hide = true)]
    JournalStress {
        project: PathBuf,
        #[arg(long, default_value_t = 1000)]
        edits: u64,
    },
    /// Benchmarks (release build; see README).
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
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
        #[arg(long, default_value = "global")]
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

/// `println!` that returns the write error instead of panicking, so a closed pipe
/// (`labelbench curate P --json | head`) ends the command quietly (see [`main`]).
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($t)*)?
    }};
}

/// `print!` that returns the write error (see [`outln`]).
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($t)*)?
    }};
}

/// An error caused by the user's input: exit code 2.
#[derive(Debug)]
struct BadInput(String);
impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for BadInput {}

fn bad(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(BadInput(e.to_string()))
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(with_gui_shorthand(std::env::args_os().collect()));
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("labelbench: {msg}");
            if e.downcast_ref::<BadInput>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

/// Whether the error is stdout's reader having gone away (`| head`): not a failure of ours.
fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|x| x.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `labelbench PROJECT` means `labelbench gui PROJECT`: how a file manager's "Open with", or a
/// user who just made a project, calls it. A lone argument that is no subcommand or option
/// and is a file (or names a project, `*.json`, so a missing one is reported as such) gets
/// `gui` put in front; anything else is left for clap to parse or reject.
fn with_gui_shorthand(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if let [_, arg] = args.as_slice() {
        let s = arg.to_string_lossy();
        let cmd = Cli::command();
        let known = s == "help" || cmd.get_subcommands().any(|c| c.get_name() == s);
        if !known && !s.starts_with('-') && (Path::new(arg).is_file() || s.ends_with(".json")) {
            args.insert(1, "gui".into());
        }
    }
    args
}

/// Runs `f` on a worker thread while drawing a progress bar on stderr (only on a terminal).
fn with_progress<T: Send + 'static>(f: impl FnOnce(Arc<Progress>) -> T + Send + 'static) -> T {
    let p = Arc::new(Progress::new());
    p.set_stage("opening", 0);
    let p2 = p.clone();
    let h = std::thread::Builder::new()
        .name("load".into())
        .spawn(move || f(p2))
        .expect("spawn worker");
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(1000);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:>21} [{bar:40}] {percent:>3}% {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        while !h.is_finished() {
            bar.set_message(p.stage());
            bar.set_position((p.fraction() * 1000.0) as u64);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        bar.finish_and_clear();
    }
    h.join().expect("worker panicked")
}

/// Opens a project; benchmarks pass `cache: false` so they measure parsing.
fn open_session(path: &Path, journal: bool, cache: bool) -> anyhow::Result<Session> {
    require_project(path)?;
    let p = path.to_path_buf();
    with_progress(move |pr| Session::open(&p, OpenOptions { journal, cache }, Some(&pr)))
        .map_err(bad)
}

/// The one check (and message) for a project path given on the command line.
fn require_project(path: &Path) -> anyhow::Result<()> {
    if path.is_file() {
        Ok(())
    } else if path.is_dir() {
        let mut inside: Vec<String> = std::fs::read_dir(path)
            .map(|r| {
                r.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        inside.retain(|n| n.ends_with(".labelbench.json"));
        inside.sort();
        let hint = match inside.len() {
            0 => String::new(),
            _ => format!(" (project files in it: {})", inside.join(", ")),
        };
        Err(bad(format!(
            "{}: is a folder, not a project file{hint}",
            path.display()
        )))
    } else {
        Err(bad(format!("{}: project file not found", path.display())))
    }
}

fn default_project() -> PathBuf {
    let local = PathBuf::from("sample-data/sample.labelbench.json");
    if local.is_file() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-data/sample.labelbench.json")
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        None => run_gui(Some(default_project())),
        Some(Cmd::Gui { project: Some(p) }) => {
            require_project(&p)?;
            run_gui(Some(p))
        }
        Some(Cmd::Gui { project: None }) => run_gui(Some(default_project())),
        Some(Cmd::New {
            project,
            captures,
            devices,
            sources,
            force,
        }) => cmd_new(&project, &captures, devices.as_deref(), &sources, force),
        Some(Cmd::Inspect {
            project,
            json,
            no_cache,
        }) => {
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
        Some(Cmd::DemoData {
            out,
            devices,
            days,
            seed,
            scale,
            label_rate,
            force,
            json,
        }) => {
            if devices == 0 || days == 0 {
                return Err(bad("demo-data: --devices and --days must be at least 1"));
            }
            if !(label_rate > 0.0 && label_rate <= 100.0) {
                return Err(bad("demo-data: --label-rate must be in (0, 100]"));
            }
            let o = labelbench::devtools::sim::SimOptions {
                devices,
                days,
                seed,
                scale_packets: scale,
                label_rate,
                ..Default::default()
            };
            let r = labelbench::devtools::sim::write_project(&out, &o, force).map_err(bad)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                outln!(
                    "wrote {}: {} devices ({} on the network), {} days, {} packets in {} pcaps ({:.1} MB), {} true events, log rows ifttt {} / triggers {} / smartthings {} / notifications {}; {:.2} s, {:.2} M packets/s",
                    r.project.display(), r.devices, r.network_devices, r.days, r.packets, r.pcap_files,
                    r.pcap_bytes as f64 / 1e6, r.true_events, r.log_rows[0], r.log_rows[1], r.log_rows[2],
                    r.log_rows[3], r.seconds, r.packets_per_s / 1e6
                );
            }
            Ok(())
        }
        Some(Cmd::Train {
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
        }) => {
            let mut s = open_session(&project, true, true)?;
            let mut ts = s.project.training.clone();
            if let Some(m) = model {
                ts.model = m;
            }
            if let Some(x) = scope {
                ts.scope = x;
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
            std::fs::write(&saved, &text)
                .with_context(|| format!("writing {}", saved.display()))?;
            if json {
                outln!("{text}");
            } else {
                out!("{}", labelbench::learn::render(&r));
                outln!("\nreport saved to {}", saved.display());
            }
            Ok(())
        }
        Some(Cmd::Export {
            project,
            out,
            format,
            pcap_slices,
            include_rejected,
            force,
            json,
        }) => {
            let fmt = labelbench::export::Format::parse(&format).ok_or_else(|| {
                bad(format!(
                    "--format: unknown format {format:?} (parquet, csv, json)"
                ))
            })?;
            let s = open_session(&project, true, true)?;
            let o = labelbench::export::ExportOptions {
                format: fmt,
                pcap_slices,
                include_rejected,
                force,
            };
            let report = project.with_extension("model_report.json");
            let r = labelbench::export::export(&s, &out, &o, Some(&report)).map_err(bad)?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                for (f, n) in &r.rows {
                    outln!("  {f:<20} {n:>9} rows");
                }
                if pcap_slices {
                    outln!("  slices/             {:>9} pcaps", r.slices);
                }
                outln!("exported to {} in {:.2} s", r.out.display(), r.seconds);
            }
            Ok(())
        }
        Some(Cmd::Curate {
            project,
            accept_all,
            accept,
            min_confidence,
            order,
            limit,
            json,
        }) => cmd_curate(
            &project,
            accept_all,
            &accept,
            min_confidence,
            &order,
            limit,
            json,
        ),
        Some(Cmd::JournalStress { project, edits }) => {
            use std::io::Write;
            let mut s = open_session(&project, true, true)?;
            s.lock_journal()?;
            let ids: Vec<u64> = s.labels.events.iter().map(|e| e.id).collect();
            if ids.is_empty() {
                return Err(bad(format!("{}: no events to edit", project.display())));
            }
            let mut out = std::io::stdout().lock();
            for k in 0..edits {
                let id = ids[(k as usize * 7) % ids.len()];
                let from = s.labels.get(id).and_then(|e| e.retime_ns);
                let to = 1_600_000_000_000_000_000 + k as i64;
                let seq = s
                    .apply(labelbench::curation::edits::Edit::Retime {
                        id,
                        from,
                        to: Some(to),
                    })
                    .map_err(bad)?;
                writeln!(out, "ack {seq} {id} {to}")?;
                out.flush()?;
            }
            Ok(())
        }
        Some(Cmd::Bench { what }) => match what {
            BenchCmd::Curation {
                out,
                seeds,
                devices,
                days,
                json,
            } => {
                let rows = labelbench::devtools::bench::curation(&out, &seeds, &devices, days)
                    .map_err(bad)?;
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
            } => {
                let t = std::time::Instant::now();
                let mut s = open_session(&project, false, false)?;
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
                    &labelbench::curation::SuggestionKind::ALL,
                    0.0,
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
                    scope: scope.clone(),
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
                outln!("train     {:>7.2} s  forest, {} scope, {} folds, {} classes: accuracy {:.4}, macro F1 {:.4}", t.elapsed().as_secs_f64(), scope, ts.folds, r.classes.len(), r.accuracy, r.macro_f1);
                let t = std::time::Instant::now();
                let tree = labelbench::learn::train_rows(
                    &s,
                    &rows,
                    &labelbench::project::TrainSettings {
                        scope: scope.clone(),
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
                        scope: scope.clone(),
                        ..ts.clone()
                    },
                    labelbench::learn::Model::Cart,
                    labelbench::learn::forest::MaxFeatures::All,
                )
                .map_err(bad)?;
                outln!("trees     {tt:>7.2} s  linfa-trees accuracy {:.4} vs our CART {:.4} (max depth {})", tree.accuracy, cart.accuracy, ts.max_depth);
                std::fs::create_dir_all(&out)?;
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
                    let e = labelbench::export::export(&s, &out.join(name), &o, Some(&rep))
                        .map_err(bad)?;
                    outln!(
                        "export    {:>7.2} s  {name}: {:?}",
                        t.elapsed().as_secs_f64(),
                        e.rows
                    );
                }
                Ok(())
            }
            BenchCmd::Onsets { project } => {
                let mut s = open_session(&project, false, false)?;
                let before = labelbench::devtools::evaluate::onset_agreement(&s);
                let t = std::time::Instant::now();
                let (_, applied) = labelbench::curation::run_all(
                    &mut s,
                    &labelbench::curation::SuggestionKind::ALL,
                    0.0,
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
                let r = labelbench::devtools::bench::ingest(
                    &files, &registry, !no_tshark, runs, !no_cache,
                );
                if json {
                    outln!("{}", serde_json::to_string_pretty(&r)?);
                } else {
                    out!("{}", r.render());
                }
                Ok(())
            }
        },
    }
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

fn cmd_curate(
    project: &Path,
    accept_all: bool,
    accept: &[String],
    min_conf: f64,
    order: &str,
    limit: Option<usize>,
    json: bool,
) -> anyhow::Result<()> {
    use labelbench::curation::{self, SuggestionKind, SuggestionOrder};
    let order = match order {
        "kind" => SuggestionOrder::Kind,
        "confidence" => SuggestionOrder::Confidence,
        "time" => SuggestionOrder::Time,
        o => {
            return Err(bad(format!(
                "--order: unknown order {o:?} (kind, confidence or time)"
            )))
        }
    };
    let kinds: Vec<SuggestionKind> = if accept_all {
        SuggestionKind::ALL.to_vec()
    } else {
        accept
            .iter()
            .map(|k| {
                SuggestionKind::parse(k).ok_or_else(|| {
                    bad(format!(
                        "--accept: unknown kind {k:?} (one of {})",
                        SuggestionKind::ALL.map(|k| k.as_str()).join(", ")
                    ))
                })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let mut s = open_session(project, true, true)?;
    if !kinds.is_empty() {
        // A second writer is told now, not after the suggestions are computed.
        s.lock_journal()?;
    }
    let t = std::time::Instant::now();
    let cfg = curation::CurateSettings::default();
    let (sugg, applied) = if kinds.is_empty() {
        (curation::suggest(&s, &cfg), 0)
    } else {
        curation::run_all(&mut s, &kinds, min_conf, &cfg).map_err(bad)?
    };
    let secs = t.elapsed().as_secs_f64();
    let mut sugg: Vec<&curation::Suggestion> = sugg.iter().collect();
    order.sort(&mut sugg);
    let (a, d, r) = s.status_counts();
    if json {
        let v = serde_json::json!({
            "suggestions": sugg,
            "applied_edits": applied,
            "seconds": secs,
            "events": {"active": a, "duplicate": d, "rejected": r},
            "offsets_ns": s.labels.offsets,
            "journal": s.history.journal.as_ref().map(|j| j.path.display().to_string()),
        });
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let line = |x: &curation::Suggestion| {
        format!(
            "{:<22} {:>4.2}  {}{}  [{}]",
            x.key,
            x.confidence,
            x.device
                .as_deref()
                .map(|d| format!("{d}: "))
                .unwrap_or_default(),
            x.reason,
            x.evidence
        )
    };
    let shown = |default: usize| match limit {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => default,
    };
    if order == SuggestionOrder::Kind {
        let per_kind = shown(12);
        for k in SuggestionKind::ALL {
            let of: Vec<_> = sugg.iter().filter(|x| x.kind == k).collect();
            if of.is_empty() {
                continue;
            }
            outln!("{} ({})", k.as_str(), of.len());
            for x in of.iter().take(per_kind) {
                outln!("  {}", line(x));
            }
            if of.len() > per_kind {
                outln!(
                    "  … {} more (--limit 0 lists all; --json prints all)",
                    of.len() - per_kind
                );
            }
        }
    } else {
        // One list across kinds, in the asked order.
        let all = shown(30);
        for x in sugg.iter().take(all) {
            outln!("{:<18} {}", x.kind.as_str(), line(x));
        }
        if sugg.len() > all {
            outln!(
                "… {} more (--limit 0 lists all; --json prints all)",
                sugg.len() - all
            );
        }
    }
    outln!(
        "\n{} suggestions in {:.2} s; {} edits applied and journaled; events: active {}, duplicate {}, rejected {}",
        sugg.len(),
        secs,
        applied,
        a,
        d,
        r
    );
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::with_gui_shorthand;
    use std::ffi::OsString;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_lone_project_path_opens_the_gui() {
        let sample = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/sample-data/sample.labelbench.json"
        );
        assert_eq!(
            with_gui_shorthand(args(&["labelbench", sample])),
            args(&["labelbench", "gui", sample])
        );
        // A missing project goes to `gui` too, which reports it as not found.
        assert_eq!(
            with_gui_shorthand(args(&["labelbench", "lab.labelbench.json"])),
            args(&["labelbench", "gui", "lab.labelbench.json"])
        );
        // Subcommands, options and other words are clap's.
        for a in [
            &["labelbench", "inspect"][..],
            &["labelbench", "help"],
            &["labelbench", "--version"],
            &["labelbench", "inspct"],
            &["labelbench"],
            &["labelbench", "inspect", sample],
        ] {
            assert_eq!(with_gui_shorthand(args(a)), args(a));
        }
    }
}
