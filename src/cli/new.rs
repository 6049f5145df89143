//! `labelbench new`: write a project file naming captures, a registry and label sources.

use std::path::{Path, PathBuf};

use labelbench::labels::sniff::{source_from_cli, Sniffed};
use labelbench::labels::SourceKind;

use super::*;

#[derive(clap::Args)]
pub struct Args {
    /// Project file to write (*.labelbench.json); inputs are stored relative to it.
    pub project: PathBuf,
    /// A lab's folder as cloned: its captures, registry and label logs are found and each
    /// log's kind told from its content; every file left out is listed with the reason.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Time zone of the logs' local times, for logs found by --from and --source without @ZONE
    /// (an IANA name such as America/New_York).
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,
    /// Capture file or glob (repeatable), e.g. 'pcaps/*.pcap'.
    #[arg(long = "capture", required_unless_present_any = ["from", "per_event_captures", "traffic"])]
    pub captures: Vec<String>,
    /// A traffic dataset written by `labelbench extract`, read instead of captures (only the
    /// packets a command needs are read; see docs/scale.md).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["captures", "per_event_captures", "from"])]
    pub traffic: Option<PathBuf>,
    /// A dataset of one capture per event, the label in each path (repeatable glob, e.g.
    /// 'traffic/**/*.pcap'): the captures, and one event per file with its device, class,
    /// start and duration read by --path-pattern; its local times are in --tz.
    #[arg(long = "per-event-captures", value_name = "GLOB")]
    pub per_event_captures: Vec<String>,
    /// The path pattern of --per-event-captures: {device}, {class}, {start:FORMAT},
    /// {duration} (seconds) and * matched against the end of each path. Default: Mon(IoT)r's
    /// {device}/{class}/{start:%Y-%m-%d_%H:%M:%S}.{duration}s.pcap; a field the path lacks
    /// comes from the capture (its first packet, its span).
    #[arg(long, value_name = "PATTERN")]
    pub path_pattern: Option<String>,
    /// Device registry: devices.json, the lab's devices.py (read, never run) or CSV
    /// name,mac,ip,description,hub.
    #[arg(long)]
    pub devices: Option<PathBuf>,
    /// Label source [KIND:]PATH[@ZONE] (repeatable); without KIND the kind is told from the
    /// file's content and printed with the reason. Kinds: ifttt, ifttt-trigger, smartthings,
    /// notifications-jsonl, notifications-csv, csv, experiments, zeek. With --from, a --source
    /// naming a file the folder holds overrides the kind found for it.
    #[arg(long = "source")]
    pub sources: Vec<String>,
    #[command(flatten)]
    pub csv: CsvArgs,
    /// Overwrite an existing project file.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub flows: flow_args::FlowArgs,
}

/// The columns of `csv` sources (every `csv` source on the command line).
#[derive(clap::Args, Default)]
pub struct CsvArgs {
    /// Time column of csv sources (a header name, or a 0-based index with --no-header).
    #[arg(long, value_name = "COLUMN")]
    pub time_col: Option<String>,
    /// Device column of csv sources.
    #[arg(long, value_name = "COLUMN")]
    pub device_col: Option<String>,
    /// Class column of csv sources.
    #[arg(long, value_name = "COLUMN")]
    pub class_col: Option<String>,
    /// Time format of csv sources: iso8601, epoch (seconds), epoch-ms, or a chrono format such
    /// as '%d/%m/%Y %H:%M:%S'.
    #[arg(long, value_name = "FORMAT")]
    pub time_format: Option<String>,
    /// Column of the interval's end, for csv logs of intervals (each event then spans from
    /// its time to its end).
    #[arg(long, value_name = "COLUMN")]
    pub end_col: Option<String>,
    /// csv sources have no header row (columns are then 0-based indices).
    #[arg(long)]
    pub no_header: bool,
}

impl CsvArgs {
    fn apply(&self, c: &mut labelbench::labels::CsvColumns) {
        let set = |field: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                *field = v.clone();
            }
        };
        set(&mut c.time, &self.time_col);
        set(&mut c.device, &self.device_col);
        set(&mut c.class, &self.class_col);
        set(&mut c.time_format, &self.time_format);
        if self.end_col.is_some() {
            c.end.clone_from(&self.end_col);
        }
        if self.no_header {
            c.has_header = false;
        }
    }
}

/// How a source's zone was chosen, for the summary.
enum Zone {
    Given,
    TzOption,
    Default,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    use labelbench::project::create::{create, NewProject, ALREADY_EXISTS};
    let flows = a.flows.timeouts()?;
    if let Some(tz) = &a.tz {
        tz.parse::<chrono_tz::Tz>()
            .map_err(|_| bad(format!("--tz: unknown time zone {tz:?}")))?;
    }
    let mut sources: Vec<(SourceSpec, Option<Sniffed>, Zone)> = Vec::new();
    for s in &a.sources {
        let (mut spec, sniffed) = source_from_cli(s).map_err(bad)?;
        let zone = match (s.contains('@'), &a.tz) {
            (true, _) => Zone::Given,
            (false, Some(tz)) => {
                spec.tz = tz.clone();
                Zone::TzOption
            }
            (false, None) => Zone::Default,
        };
        sources.push((spec, sniffed, zone));
    }
    let mut captures = a.captures.clone();
    let mut devices = a.devices.clone();
    for glob in &a.per_event_captures {
        captures.push(glob.clone());
        let (mut spec, zone) = found_source(&a, SourceKind::PerEventCaptures, glob.clone());
        spec.pattern.clone_from(&a.path_pattern);
        sources.push((spec, None, zone));
    }
    let scan = match &a.from {
        Some(dir) => Some(scan_into(
            dir,
            &a,
            &mut captures,
            &mut devices,
            &mut sources,
        )?),
        None => None,
    };
    for (spec, _, _) in sources.iter_mut() {
        if spec.kind == SourceKind::Csv {
            a.csv.apply(spec.csv.get_or_insert_with(Default::default));
        }
    }
    let spec = NewProject {
        path: a.project.clone(),
        captures,
        traffic: a.traffic.clone(),
        devices,
        sources: sources.iter().map(|s| s.0.clone()).collect(),
        replace: a.force,
        flows,
    };
    let c = create(&spec).map_err(|e| match e.ends_with(ALREADY_EXISTS) {
        true => bad(format!("{e} (use --force to overwrite)")),
        false => bad(e),
    })?;
    print_summary(&a.project, &c, scan.as_ref(), &sources)
}

/// A source `new` found rather than was given as `KIND:PATH@ZONE`: read in --tz, else UTC.
fn found_source(a: &Args, kind: SourceKind, path: String) -> (SourceSpec, Zone) {
    match &a.tz {
        Some(tz) => (SourceSpec::new(kind, path, tz.clone()), Zone::TzOption),
        None => (SourceSpec::new(kind, path, "UTC".into()), Zone::Default),
    }
}

/// Adds what `dir` holds to the command line's own inputs: captures, the registry unless
/// one was given, and each log unless a --source names the same file (that kind wins).
fn scan_into(
    dir: &Path,
    a: &Args,
    captures: &mut Vec<String>,
    devices: &mut Option<PathBuf>,
    sources: &mut Vec<(SourceSpec, Option<Sniffed>, Zone)>,
) -> anyhow::Result<labelbench::project::scan::FolderScan> {
    let scan = labelbench::project::scan::scan_folder(dir).map_err(bad)?;
    if scan.per_event.is_empty() {
        captures.extend(
            scan.captures
                .iter()
                .map(|c| glob::Pattern::escape(&c.display().to_string())),
        );
    }
    // A folder of per-event captures: the captures are the labels too.
    for glob in &scan.per_event {
        captures.push(glob.clone());
        let (spec, zone) = found_source(a, SourceKind::PerEventCaptures, glob.clone());
        let why = Sniffed {
            kind: SourceKind::PerEventCaptures,
            why: "every capture's path reads as device/activity/start.duration (Mon(IoT)r's layout): one event per capture".into(),
            csv: None,
        };
        sources.push((spec, Some(why), zone));
    }
    if devices.is_none() {
        devices.clone_from(&scan.registry);
    }
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    };
    for (path, sniffed) in &scan.logs {
        if sources.iter().any(|s| same(Path::new(&s.0.path), path)) {
            continue;
        }
        let (mut spec, zone) = found_source(a, sniffed.kind, path.display().to_string());
        spec.csv.clone_from(&sniffed.csv);
        sources.push((spec, Some(sniffed.clone()), zone));
    }
    if scan.captures.is_empty() && a.captures.is_empty() {
        let skipped = scan.skipped.iter().filter(|(p, _)| {
            labelbench::capture::capture_suffix(&p.display().to_string()).is_some()
        });
        let why = match skipped.clone().next() {
            Some((p, why)) => format!(
                "; {} capture files cannot be read, e.g. {}: {why}",
                skipped.count(),
                p.display()
            ),
            None => String::new(),
        };
        return Err(bad(format!("{}: no captures found{why}", dir.display())));
    }
    Ok(scan)
}

fn print_summary(
    project: &Path,
    c: &labelbench::project::create::Created,
    scan: Option<&labelbench::project::scan::FolderScan>,
    sources: &[(SourceSpec, Option<Sniffed>, Zone)],
) -> anyhow::Result<()> {
    let n = |k: usize, what: &str| format!("{k} {what}{}", if k == 1 { "" } else { "s" });
    outln!(
        "wrote {} ({} naming {}, {})",
        project.display(),
        n(c.project.captures.len(), "capture pattern"),
        n(c.capture_files, "file"),
        n(c.project.sources.len(), "label source")
    );
    if let Some(d) = &c.project.devices {
        outln!("  devices from {d}");
    }
    for (f, why) in &c.unreadable {
        outln!("  warning: {}: {why}", f.display());
    }
    outln!("  flows end by {}", c.project.flows.describe());
    for (src, (_, sniffed, zone)) in c.project.sources.iter().zip(sources) {
        let absolute = src.kind == SourceKind::Zeek
            || src
                .csv
                .as_ref()
                .is_some_and(|c| c.time_format.starts_with("epoch"));
        let how = match zone {
            _ if absolute => "times are absolute (epoch seconds): no zone applies".to_string(),
            Zone::Given => format!("local times read in {} (as given)", src.tz),
            Zone::TzOption => format!("local times read in {} (--tz)", src.tz),
            Zone::Default => format!(
                "local times read in {} (the default: give @ZONE or --tz; `curate` checks it \
                 against the traffic)",
                src.tz
            ),
        };
        outln!("  {:<20} {}  {how}", src.kind.as_str(), src.path);
        match sniffed {
            Some(s) => outln!("  {:<20} kind told from its content: {}", "", s.why),
            None => outln!("  {:<20} kind as given", ""),
        }
    }
    if let Some(scan) = scan {
        for (f, why) in &scan.skipped {
            outln!("  skipped {}: {why}", f.display());
        }
    }
    Ok(())
}
