//! The command line: one file per subcommand, each with its arguments (`Args`) and `run`.
//! `main.rs` only parses and dispatches; exit codes are decided there, from the error kinds
//! defined here.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use clap::Subcommand;

use labelbench::labels::SourceSpec;
use labelbench::progress::Progress;
use labelbench::project::session::{OpenOptions, Session};
use labelbench::traffic::dataset::TrafficFilter;

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

pub mod bench;
pub mod curate;
pub mod demo_data;
pub mod export;
pub mod extract;
pub mod flow_args;
pub mod gui;
pub mod inspect;
pub mod journal_stress;
pub mod new;
pub mod train;

#[derive(Subcommand)]
pub enum Cmd {
    /// Open the workbench window (default: the bundled sample project).
    Gui(gui::Args),
    /// Write a new project file.
    New(Box<new::Args>),
    /// Load a project and summarise packets, flows, devices, events and warnings.
    Inspect(inspect::Args),
    /// Suggest label fixes (duplicates, skew, offsets, source health) and optionally accept them.
    Curate(curate::Args),
    /// Compute features, cross-validate a model and print (and save) the report.
    Train(train::Args),
    /// Export the cleaned dataset (events, features, flows, devices, manifest).
    Export(export::Args),
    /// Read capture files into a traffic dataset of Parquet tables, one file at a time (the
    /// step a Spark job runs per file; docs/scale.md).
    Extract(extract::Args),
    /// Generate a simulated smart-home project (captures, registry, logs, ground truth).
    DemoData(demo_data::Args),
    /// Test helper: apply N retime edits, printing `ack SEQ ID TO` after each is durable.
    #[command(hide = true)]
    JournalStress(journal_stress::Args),
    /// Benchmarks (release build; see docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        what: bench::BenchCmd,
    },
}

/// Runs one subcommand; `None` opens the window on the bundled sample.
pub fn run(cmd: Option<Cmd>) -> anyhow::Result<()> {
    match cmd {
        None => gui::run(gui::Args {
            project: None,
            from: None,
            to: None,
        }),
        Some(Cmd::Gui(a)) => gui::run(a),
        Some(Cmd::New(a)) => new::run(*a),
        Some(Cmd::Inspect(a)) => inspect::run(a),
        Some(Cmd::Curate(a)) => curate::run(a),
        Some(Cmd::Train(a)) => train::run(a),
        Some(Cmd::Export(a)) => export::run(a),
        Some(Cmd::Extract(a)) => extract::run(a),
        Some(Cmd::DemoData(a)) => demo_data::run(a),
        Some(Cmd::JournalStress(a)) => journal_stress::run(a),
        Some(Cmd::Bench { what }) => bench::run(what),
    }
}

/// An error caused by the user's input: exit code 2.
#[derive(Debug)]
pub struct BadInput(String);
impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for BadInput {}

pub fn bad(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(BadInput(e.to_string()))
}

/// An error of a command that writes its output: a refusal or a bad input is the user's (exit
/// code 2); a failed write (a full disk, a read-only folder) is not (exit code 1).
pub fn write_err(e: labelbench::Error) -> anyhow::Error {
    match e {
        labelbench::Error::Io { .. } | labelbench::Error::Other(_) => anyhow::Error::new(e),
        e => bad(e),
    }
}

/// Whether the error is stdout's reader having gone away (`| head`): not a failure of ours.
pub fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|x| x.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The exit code of a failed command: 2 for bad input, 1 for other failures (a full disk).
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<BadInput>().is_some() {
        2
    } else {
        1
    }
}

/// Runs `f` on a worker thread while drawing a progress bar on stderr (only on a terminal).
fn with_progress<T: Send + 'static>(f: impl FnOnce(Arc<Progress>) -> T + Send + 'static) -> T {
    let h = labelbench::progress::Job::spawn("load", move |p| {
        p.set_stage("opening", 0);
        f(p)
    });
    let p = h.progress.clone();
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(1000);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg:>21} [{bar:40}] {percent:>3}% {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        while !h.finished() {
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
    open_session_filtered(path, journal, cache, &Default::default())
}

/// [`open_session`] reading only the filter's devices of a traffic dataset.
fn open_session_filtered(
    path: &Path,
    journal: bool,
    cache: bool,
    filter: &TrafficFilter,
) -> anyhow::Result<Session> {
    require_project(path)?;
    let p = path.to_path_buf();
    let f = filter.clone();
    let s = with_progress(move |pr| {
        Session::open_filtered(&p, OpenOptions { journal, cache }, &f, Some(&pr))
    })
    .map_err(bad)?;
    check_captures_read(&s)?;
    Ok(s)
}

/// Every capture failing is no project to work on, however the rest loaded.
fn check_captures_read(s: &Session) -> anyhow::Result<()> {
    let t = &s.traffic;
    if !s.capture_files.is_empty() && t.packets.is_empty() {
        if let Some(first) = t.issues.iter().find(|i| i.fatal) {
            return Err(bad(format!(
                "none of the project's {} capture files could be read; {first}",
                s.capture_files.len()
            )));
        }
    }
    Ok(())
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

/// A UTC instant from a date (midnight UTC) or an RFC 3339 time, as ns.
pub(crate) fn parse_utc(v: &str) -> Result<i64, String> {
    let t = match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        Ok(d) => d.and_hms_opt(0, 0, 0).map(|d| d.and_utc()),
        Err(_) => chrono::DateTime::parse_from_rfc3339(v)
            .ok()
            .map(|d| d.with_timezone(&chrono::Utc)),
    };
    t.and_then(|d| d.timestamp_nanos_opt()).ok_or_else(|| {
        format!("{v:?} is not a date (2021-03-08) or an RFC 3339 time (2021-03-08T12:00:00Z)")
    })
}

/// `--from`/`--to` as a half-open UTC range (`None` when neither is given); a range that ends
/// before it begins is bad input.
pub(crate) fn time_range(from: Option<i64>, to: Option<i64>) -> anyhow::Result<Option<(i64, i64)>> {
    let range = match (from, to) {
        (None, None) => return Ok(None),
        (a, b) => (a.unwrap_or(i64::MIN), b.unwrap_or(i64::MAX)),
    };
    if range.0 >= range.1 {
        return Err(bad(format!(
            "--from {} is not before --to {}",
            labelbench::timefmt::utc_short(range.0),
            labelbench::timefmt::utc_short(range.1)
        )));
    }
    Ok(Some(range))
}

/// [`Session::open_slice`] with the command line's progress bar and checks.
pub(crate) fn open_slice(
    project: &std::path::Path,
    filter: &TrafficFilter,
    range: (i64, i64),
) -> anyhow::Result<Session> {
    require_project(project)?;
    let p = project.to_path_buf();
    let f = filter.clone();
    let s = with_progress(move |pr| {
        let opts = OpenOptions {
            journal: true,
            cache: true,
        };
        Session::open_slice(&p, opts, &f, range, Some(&pr))
    })
    .map_err(bad)?;
    check_captures_read(&s)?;
    Ok(s)
}
