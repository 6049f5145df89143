//! Stage 6, export: the cleaned dataset with provenance: events, features, flows, devices, the
//! model report and a manifest, written with polars into a staging folder that is swapped into
//! place whole ([`outdir`]).
//!
//! May use every stage before it; nothing uses it but the front ends.

pub mod by_day;
mod card;
mod community_id;
pub mod extract;
pub mod outdir;
mod pcapng;
mod slices;
mod tables;
mod zeek;

pub use community_id::*;
use slices::*;
use tables::*;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;
use sha2::Digest;

use crate::error::{Error, Result};
use crate::export::outdir::{OutputKind, Staging};
use crate::labels::{Status, INSERTED_SOURCE};
use crate::learn::features::{self, FeatureRow};
use crate::project::session::Session;
use crate::traffic::{Flow, NO_DEVICE};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Parquet,
    Csv,
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "parquet" => Some(Format::Parquet),
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
    fn ext(&self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ExportOptions {
    pub format: Format,
    pub pcap_slices: bool,
    /// One pcapng per device with the labels as packet comments.
    pub pcapng: bool,
    pub include_rejected: bool,
    pub force: bool,
    /// Only these devices' events, flows and device rows ([`NO_DEVICE`] for events of no
    /// device): one device group of a scaled-out export (`docs/scale.md`). `None`: all.
    pub only_devices: Option<std::collections::BTreeSet<u16>>,
    /// Only events whose adjusted time, and flows whose first packet, lie in `[start, end)`
    /// (UTC ns): one time slice of a dataset (`docs/scale.md`). `None`: all.
    pub range: Option<(i64, i64)>,
    /// Read and write a day at a time ([`by_day::export_by_day`]): a project reading a
    /// traffic dataset, memory bounded by its largest day.
    pub by_day: bool,
}

impl ExportOptions {
    /// Whether rows of this device belong in this export.
    pub fn exports_device(&self, dev: u16) -> bool {
        self.only_devices
            .as_ref()
            .is_none_or(|set| set.contains(&dev))
    }
    /// Whether an event at this adjusted time, or a flow starting then, belongs in this export.
    pub fn exports_time(&self, t: i64) -> bool {
        self.range.is_none_or(|(a, b)| (a..b).contains(&t))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ExportReport {
    pub out: PathBuf,
    pub rows: std::collections::BTreeMap<String, usize>,
    pub slices: usize,
    pub seconds: f64,
    /// Active events with no feature row or slice, by reason.
    pub left_out: features::LeftOut,
    /// Inputs that could not be read: the export holds the rest.
    pub input_problems: Vec<String>,
}

/// Rows per file, with the parts of a table written in parts (`flows/part-….parquet`,
/// `conn/conn.….log`) summed under one pattern (`flows/part-*.parquet`): what people read.
pub fn grouped_rows(rows: &BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (file, n) in rows {
        let key = match file.split_once('/') {
            Some((dir, name)) => {
                let stem = name.find(['-', '.']).map_or(name, |i| &name[..=i]);
                let ext = name.rsplit('.').next().unwrap_or("");
                format!("{dir}/{stem}*.{ext}")
            }
            None => file.clone(),
        };
        *out.entry(key).or_insert(0) += n;
    }
    out
}

fn sha256_file(p: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| Error::io(p, e))?;
        if k == 0 {
            break;
        }
        n += k as u64;
        h.update(&buf[..k]);
    }
    Ok((n, format!("{:x}", h.finalize())))
}

/// Exports the session into `out`.
pub fn export(
    s: &Session,
    out: &Path,
    o: &ExportOptions,
    report_json: Option<&Path>,
) -> Result<ExportReport> {
    write_staged(out, o.force, &s.protected_paths(), |dir| {
        write_all(s, dir, o, report_json)
    })
}

/// Writes an export into a staging folder beside `out` and swaps it into place whole once
/// `write` succeeds (abandoning it otherwise); `out` must be free, or a previous export with
/// `force`, and none of `protected`.
fn write_staged(
    out: &Path,
    force: bool,
    protected: &[PathBuf],
    write: impl FnOnce(&Path) -> Result<ExportReport>,
) -> Result<ExportReport> {
    let t0 = std::time::Instant::now();
    crate::export::outdir::check_target(out, OutputKind::Export, force, protected)?;
    let staging = Staging::new(out)?;
    match write(&staging.dir) {
        Ok(mut rep) => {
            staging.commit()?;
            rep.out = out.to_path_buf();
            rep.seconds = t0.elapsed().as_secs_f64();
            Ok(rep)
        }
        Err(e) => {
            staging.abandon();
            Err(e)
        }
    }
}

/// What the exported traffic held: the card's totals and the devices table's counts.
#[derive(Clone, Debug, Default)]
pub(crate) struct TrafficSummary {
    packets: u64,
    bytes: u64,
    first_ns: Option<i64>,
    last_ns: Option<i64>,
    /// Per registry device.
    stats: Vec<crate::traffic::DeviceStats>,
    /// Inputs that could not be read (the rest was exported), one line each.
    problems: Vec<String>,
}

impl TrafficSummary {
    fn of(s: &Session) -> TrafficSummary {
        let t = &s.traffic;
        TrafficSummary {
            packets: t.packets.len() as u64,
            bytes: t.total_bytes(),
            first_ns: t.first_ns(),
            last_ns: t.last_ns(),
            stats: crate::traffic::device_stats(t, s.registry.len()),
            problems: t
                .issues
                .iter()
                .filter(|i| i.fatal)
                .map(|i| i.to_string())
                .collect(),
        }
    }
}

/// What every table of an export is written from.
#[derive(Clone, Copy)]
struct Tables<'a> {
    s: &'a Session,
    dir: &'a Path,
    o: &'a ExportOptions,
    ext: &'a str,
    evs: &'a [&'a crate::labels::Event],
    feats: &'a [FeatureRow],
    w: crate::project::WindowSettings,
    traffic: &'a TrafficSummary,
    /// Key-value metadata of every Parquet file.
    kv: &'a [(String, String)],
    /// The columns of each table written, by file name, for the Croissant card.
    schemas: &'a std::sync::Mutex<BTreeMap<String, Vec<(String, &'static str)>>>,
}

/// The inputs as the manifest lists them: path, size, SHA-256 (hashed on all cores).
fn input_hashes(s: &Session) -> Result<Vec<serde_json::Value>> {
    let mut out = Vec::new();
    // A traffic dataset's captures were hashed when they were extracted.
    let mut inputs: Vec<PathBuf> = match s.traffic_dir() {
        Some(dir) => {
            for (path, bytes, sha) in crate::traffic::dataset::inputs(&dir)? {
                out.push(serde_json::json!({"path": path, "bytes": bytes, "sha256": sha}));
            }
            Vec::new()
        }
        None => s.capture_files.clone(),
    };
    if let Some(d) = &s.project.devices {
        inputs.push(s.base_dir.join(d));
    }
    // A per-event capture source is its captures, listed above.
    inputs.extend(
        s.sources
            .iter()
            .filter(|x| x.spec.kind != crate::labels::SourceKind::PerEventCaptures)
            .map(|x| x.path.clone()),
    );
    let hashes: Vec<Result<(u64, String)>> = inputs.par_iter().map(|p| sha256_file(p)).collect();
    for (p, h) in inputs.iter().zip(hashes) {
        let (size, sha) = h?;
        out.push(
            serde_json::json!({"path": p.display().to_string(), "bytes": size, "sha256": sha}),
        );
    }
    Ok(out)
}

/// Every file under `dir` but the manifest, with its size and SHA-256, in name order.
fn output_hashes(dir: &Path, rows: &BTreeMap<String, usize>) -> Result<Vec<serde_json::Value>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let p = e.map_err(|e| Error::io(&d, e))?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let hashes: Vec<Result<(u64, String)>> = files.par_iter().map(|p| sha256_file(p)).collect();
    let mut out = Vec::new();
    for (p, h) in files.iter().zip(hashes) {
        let (size, sha) = h?;
        let rel = p.strip_prefix(dir).unwrap_or(p).display().to_string();
        let mut v = serde_json::json!({"file": rel, "bytes": size, "sha256": sha});
        if let Some(n) = rows.get(&rel) {
            v["rows"] = (*n).into();
        }
        out.push(v);
    }
    Ok(out)
}

/// What names the dataset: its inputs, the journal as this session read and extended it, and
/// the settings, hashed into one SHA-256 that every Parquet file carries.
struct Provenance {
    inputs: Vec<serde_json::Value>,
    dataset_sha: String,
    journal: serde_json::Value,
    kv: Vec<(String, String)>,
}

impl Provenance {
    fn of(s: &Session) -> Result<Provenance> {
        let inputs = input_hashes(s)?;
        // The journal as this session read and extended it, not as the file is now: another
        // process may be appending to it meanwhile.
        let path = s.history.journal.as_ref().map(|j| j.path.clone());
        let (jlen, jhash) = match s.history.journal.as_ref() {
            Some(j) if j.digest().0 > 0 => {
                let (n, h) = j.digest();
                (n, Some(h))
            }
            _ => (0, None),
        };
        let mut h = sha2::Sha256::new();
        h.update(serde_json::to_vec(&inputs).unwrap_or_default());
        h.update(jhash.clone().unwrap_or_default());
        h.update(serde_json::to_vec(&s.project).unwrap_or_default());
        let dataset_sha = format!("{:x}", h.finalize());
        let kv = vec![
            (
                "labelbench.version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            ("labelbench.dataset_sha256".to_string(), dataset_sha.clone()),
        ];
        let journal = serde_json::json!({"path": path.map(|p| p.display().to_string()), "entries": s.history.log.len(), "bytes": jlen, "sha256": jhash});
        Ok(Provenance {
            inputs,
            dataset_sha,
            journal,
            kv,
        })
    }
}

/// The events an export writes: active ones (and rejected ones when asked) of its devices and
/// time.
fn exported_events<'a>(s: &'a Session, o: &ExportOptions) -> Vec<&'a crate::labels::Event> {
    s.labels
        .events
        .iter()
        .filter(|e| o.include_rejected || e.status != Status::Rejected)
        .filter(|e| o.exports_device(e.device) && o.exports_time(s.adjusted_ns(e)))
        .collect()
}

fn write_all(
    s: &Session,
    dir: &Path,
    o: &ExportOptions,
    report_json: Option<&Path>,
) -> Result<ExportReport> {
    let ext = o.format.ext();
    let mut rows = BTreeMap::new();
    let w = s.project.window;
    let prov = Provenance::of(s)?;
    let mut feats: Vec<FeatureRow> = features::extract(s, &w, s.project.training.seed);
    feats.retain(|r| o.exports_device(r.device) && o.exports_time(r.adjusted_ns));
    let left_out = features::feature_events_where(s, &w, |e| o.exports_time(s.adjusted_ns(e))).1;
    let fmap: HashMap<u64, &FeatureRow> = feats.iter().map(|r| (r.event_id, r)).collect();
    let evs = exported_events(s, o);
    let schemas = std::sync::Mutex::new(BTreeMap::new());
    let traffic = TrafficSummary::of(s);
    let cx = Tables {
        s,
        dir,
        o,
        ext,
        evs: &evs,
        feats: &feats,
        w,
        traffic: &traffic,
        kv: &prov.kv,
        schemas: &schemas,
    };
    write_events(&cx, &mut rows)?;
    write_features(&cx, &mut rows)?;
    write_flows(&cx, &mut rows)?;
    rows.insert("flows.conn.log".into(), zeek::write_conn_log(&cx)?);
    write_devices(&cx, &mut rows)?;
    let slice_files = if o.pcap_slices {
        pcap_slices(s, &evs, &fmap, &dir.join("slices"), o.pcapng)?
    } else {
        Vec::new()
    };
    let pcapng_files = if o.pcapng {
        pcapng::annotated_pcapng(s, &evs, &fmap, &dir.join("pcapng"), o.range)?
    } else {
        Vec::new()
    };
    let written = Written {
        rows,
        slice_files,
        pcapng_files,
        left_out,
    };
    write_card_and_manifest(&cx, &prov, written, report_json)
}

/// The files written besides the card and the manifest, and the events left out.
struct Written {
    rows: BTreeMap<String, usize>,
    slice_files: Vec<SliceFile>,
    pcapng_files: Vec<pcapng::PcapngFile>,
    left_out: features::LeftOut,
}

/// The model report's copy, the dataset card (Croissant and README) and the manifest, over
/// the files written before.
fn write_card_and_manifest(
    cx: &Tables<'_>,
    prov: &Provenance,
    w: Written,
    report_json: Option<&Path>,
) -> Result<ExportReport> {
    let (s, dir, o) = (cx.s, cx.dir, cx.o);
    if let Some(r) = report_json.filter(|r| r.is_file()) {
        std::fs::copy(r, dir.join("model_report.json")).map_err(|e| Error::io(r, e))?;
    }
    let title = format!("{}: labelled IoT traffic", s.project.name);
    card::write_croissant(cx, &title)?;
    card::write_readme(cx, &title, &w.rows)?;
    let outputs = output_hashes(dir, &w.rows)?;
    let slices = w.slice_files.len();
    let manifest = serde_json::json!({
        "tool": "labelbench",
        "version": env!("CARGO_PKG_VERSION"),
        "dataset_sha256": prov.dataset_sha,
        "project": s.project_path.as_ref().map(|p| p.display().to_string()),
        "settings": s.project,
        "range_ns": o.range,
        "by_day": o.by_day,
        "source_offsets_ns": s.labels.offsets,
        "source_clock_steps_ns": s.labels.steps,
        "source_clock_drift_ns": s.labels.drifts,
        "source_zones": s.labels.zones,
        "left_out": w.left_out,
        "input_problems": cx.traffic.problems,
        "inputs": prov.inputs,
        "outputs": outputs,
        "journal": prov.journal,
        "format": o.format,
        "include_rejected": o.include_rejected,
        "rows": w.rows,
        "pcap_slices": slices,
        "slice_files": w.slice_files,
        "pcapng_files": w.pcapng_files,
        "time_columns": "i64 ns since the Unix epoch (UTC), ISO 8601 *_utc strings, and in Parquet/JSON UTC timestamp columns in microseconds",
    });
    let mp = dir.join("manifest.json");
    std::fs::write(
        &mp,
        serde_json::to_string_pretty(&manifest).map_err(|e| Error::Other(e.to_string()))?,
    )
    .map_err(|e| Error::io(&mp, e))?;
    Ok(ExportReport {
        out: dir.to_path_buf(),
        left_out: w.left_out,
        rows: w.rows,
        slices,
        seconds: 0.0,
        input_problems: cx.traffic.problems.clone(),
    })
}

#[cfg(test)]
mod tests;
