//! Stage 6, export: the cleaned dataset with provenance: events, features, flows, devices, the
//! model report and a manifest, written with polars into a staging folder that is swapped into
//! place whole ([`outdir`]).
//!
//! May use every stage before it; nothing uses it but the front ends.

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
    let t0 = std::time::Instant::now();
    crate::export::outdir::check_target(out, OutputKind::Export, o.force, &s.protected_paths())?;
    let staging = Staging::new(out)?;
    match write_all(s, &staging.dir, o, report_json) {
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

fn write_all(
    s: &Session,
    dir: &Path,
    o: &ExportOptions,
    report_json: Option<&Path>,
) -> Result<ExportReport> {
    let ext = o.format.ext();
    let mut rows = BTreeMap::new();
    let w = s.project.window;
    let inputs = input_hashes(s)?;
    // The journal as this session read and extended it, not as the file is now: another
    // process may be appending to it meanwhile.
    let journal = s.history.journal.as_ref().map(|j| j.path.clone());
    let (jlen, jhash) = match s.history.journal.as_ref() {
        Some(j) if j.digest().0 > 0 => {
            let (n, h) = j.digest();
            (n, Some(h))
        }
        _ => (0, None),
    };
    // One hash names the dataset: its inputs, the journal and the settings.
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
    let mut feats: Vec<FeatureRow> = features::extract(s, &w, s.project.training.seed);
    feats.retain(|r| o.exports_device(r.device) && o.exports_time(r.adjusted_ns));
    let left_out = features::feature_events_where(s, &w, |e| o.exports_time(s.adjusted_ns(e))).1;
    let fmap: HashMap<u64, &FeatureRow> = feats.iter().map(|r| (r.event_id, r)).collect();
    let evs: Vec<&crate::labels::Event> = s
        .labels
        .events
        .iter()
        .filter(|e| o.include_rejected || e.status != Status::Rejected)
        .filter(|e| o.exports_device(e.device) && o.exports_time(s.adjusted_ns(e)))
        .collect();
    let schemas = std::sync::Mutex::new(BTreeMap::new());
    let cx = Tables {
        s,
        dir,
        o,
        ext,
        evs: &evs,
        feats: &feats,
        w,
        kv: &kv,
        schemas: &schemas,
    };
    write_events(&cx, &mut rows)?;
    write_features(&cx, &mut rows)?;
    write_flows(&cx, &mut rows)?;
    rows.insert("flows.conn.log".into(), zeek::write_conn_log(&cx)?);
    write_devices(&cx, &mut rows)?;
    if let Some(r) = report_json.filter(|r| r.is_file()) {
        std::fs::copy(r, dir.join("model_report.json")).map_err(|e| Error::io(r, e))?;
    }
    let slice_files = if o.pcap_slices {
        pcap_slices(s, &evs, &fmap, &dir.join("slices"), o.pcapng)?
    } else {
        Vec::new()
    };
    let slices = slice_files.len();
    let pcapng_files = if o.pcapng {
        pcapng::annotated_pcapng(s, &evs, &fmap, &dir.join("pcapng"), o.range)?
    } else {
        Vec::new()
    };
    let title = format!("{}: labelled IoT traffic", s.project.name);
    card::write_croissant(&cx, &title)?;
    card::write_readme(&cx, &title, &rows)?;
    let outputs = output_hashes(dir, &rows)?;
    let manifest = serde_json::json!({
        "tool": "labelbench",
        "version": env!("CARGO_PKG_VERSION"),
        "dataset_sha256": dataset_sha,
        "project": s.project_path.as_ref().map(|p| p.display().to_string()),
        "settings": s.project,
        "range_ns": o.range,
        "source_offsets_ns": s.labels.offsets,
        "source_clock_steps_ns": s.labels.steps,
        "source_clock_drift_ns": s.labels.drifts,
        "source_zones": s.labels.zones,
        "left_out": left_out,
        "inputs": inputs,
        "outputs": outputs,
        "journal": {"path": journal.map(|p| p.display().to_string()), "entries": s.history.log.len(), "bytes": jlen, "sha256": jhash},
        "format": o.format,
        "include_rejected": o.include_rejected,
        "rows": rows,
        "pcap_slices": slices,
        "slice_files": slice_files,
        "pcapng_files": pcapng_files,
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
        left_out,
        rows,
        slices,
        seconds: 0.0,
    })
}

#[cfg(test)]
mod tests;
