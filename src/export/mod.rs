//! Stage 6, export: the cleaned dataset with provenance: events, features, flows, devices, the
//! model report and a manifest, written with polars into a staging folder that is swapped into
//! place whole ([`outdir`]).
//!
//! May use every stage before it; nothing uses it but the front ends.

pub mod outdir;

use std::collections::HashMap;
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
    pub include_rejected: bool,
    pub force: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExportReport {
    pub out: PathBuf,
    pub rows: std::collections::BTreeMap<String, usize>,
    pub slices: usize,
    pub seconds: f64,
}

/// Community ID v1 (the flow hash Zeek and Suricata use) of a flow.
/// `sport`/`dport` are ports, or ICMP type/code.
pub fn community_id(
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
    seed: u16,
) -> String {
    use base64::Engine;
    let bytes = |a: std::net::IpAddr| -> Vec<u8> {
        match a {
            std::net::IpAddr::V4(v) => v.octets().to_vec(),
            std::net::IpAddr::V6(v) => v.octets().to_vec(),
        }
    };
    let (mut sa, mut da) = (bytes(src), bytes(dst));
    let (mut sp, mut dp) = (sport, dport);
    let mut one_way = false;
    if proto == 1 || proto == 58 {
        // ICMP: map type to its counterpart so both directions hash alike.
        let pairs: &[(u16, u16)] = if proto == 1 {
            &[
                (8, 0),
                (0, 8),
                (13, 14),
                (14, 13),
                (15, 16),
                (16, 15),
                (10, 9),
                (9, 10),
                (17, 18),
                (18, 17),
            ]
        } else {
            &[
                (128, 129),
                (129, 128),
                (133, 134),
                (134, 133),
                (135, 136),
                (136, 135),
                (130, 131),
                (131, 130),
                (144, 145),
                (145, 144),
            ]
        };
        match pairs.iter().find(|p| p.0 == sport) {
            Some(&(_, other)) => dp = other,
            None => one_way = true,
        }
    }
    if !one_way && (sa > da || (sa == da && sp > dp)) {
        std::mem::swap(&mut sa, &mut da);
        std::mem::swap(&mut sp, &mut dp);
    }
    let mut h = sha1::Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(&sa);
    h.update(&da);
    h.update([proto, 0]);
    if matches!(proto, 1 | 6 | 17 | 58 | 132) {
        h.update(sp.to_be_bytes());
        h.update(dp.to_be_bytes());
    }
    format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    )
}

/// The Community ID of a flow (none for layer-2 flows and protocols the spec does not cover).
pub fn flow_community_id(f: &Flow) -> Option<String> {
    if f.key.is_l2 || !matches!(f.key.proto, 1 | 6 | 17 | 58 | 132) {
        return None;
    }
    if matches!(f.key.proto, 1 | 58) {
        // The key holds the first packet's type (sender's side) and code (receiver's side).
        let (a, b) = (f.ip_a()?, f.ip_b()?);
        let (src, dst, ty, code) = if f.first_ba {
            (b, a, f.key.port_b, f.key.port_a)
        } else {
            (a, b, f.key.port_a, f.key.port_b)
        };
        return Some(community_id(src, dst, ty, code, f.key.proto, 0));
    }
    Some(community_id(
        f.ip_a()?,
        f.ip_b()?,
        f.key.port_a,
        f.key.port_b,
        f.key.proto,
        0,
    ))
}

fn polars_err(p: &Path, e: PolarsError) -> Error {
    Error::invalid(p, e.to_string())
}

fn datetime(name: &str, ns: &[i64]) -> PolarsResult<Column> {
    Series::new(name.into(), ns)
        .cast(&DataType::Datetime(
            TimeUnit::Nanoseconds,
            Some(polars::prelude::TimeZone::UTC),
        ))
        .map(Column::from)
}

/// Writes one table in the chosen format.
fn write_table(df: &mut DataFrame, path: &Path, fmt: Format) -> Result<()> {
    let f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    match fmt {
        Format::Parquet => {
            ParquetWriter::new(f)
                .finish(df)
                .map_err(|e| polars_err(path, e))?;
        }
        Format::Csv => {
            // CSV has no timestamp type: drop the typed time columns (ns and ISO columns stay).
            let names: Vec<PlSmallStr> = df
                .columns()
                .iter()
                .filter(|c| matches!(c.dtype(), DataType::Datetime(..)))
                .map(|c| c.name().clone())
                .collect();
            let mut d = df.drop_many(names);
            CsvWriter::new(f)
                .finish(&mut d)
                .map_err(|e| polars_err(path, e))?;
        }
        Format::Json => {
            JsonWriter::new(f)
                .with_json_format(JsonFormat::JsonLines)
                .finish(df)
                .map_err(|e| polars_err(path, e))?;
        }
    }
    Ok(())
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

fn write_all(
    s: &Session,
    dir: &Path,
    o: &ExportOptions,
    report_json: Option<&Path>,
) -> Result<ExportReport> {
    let ext = o.format.ext();
    let mut rows = std::collections::BTreeMap::new();
    let w = s.project.window;
    let feats: Vec<FeatureRow> = features::extract(s, &w, s.project.training.seed);
    let fmap: HashMap<u64, &FeatureRow> = feats.iter().map(|r| (r.event_id, r)).collect();

    // events
    let evs: Vec<&crate::labels::Event> = s
        .labels
        .events
        .iter()
        .filter(|e| o.include_rejected || e.status != Status::Rejected)
        .collect();
    {
        let p = dir.join(format!("events.{ext}"));
        let adj: Vec<i64> = evs.iter().map(|e| s.adjusted_ns(e)).collect();
        let orig: Vec<i64> = evs.iter().map(|e| e.original_ns).collect();
        let mut df = DataFrame::new_infer_height(vec![
            Column::new(
                "event_id".into(),
                evs.iter().map(|e| e.id).collect::<Vec<u64>>(),
            ),
            Column::new(
                "device".into(),
                evs.iter()
                    .map(|e| s.event_device_name(e).to_string())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "mac".into(),
                evs.iter()
                    .map(|e| {
                        if e.device == NO_DEVICE {
                            String::new()
                        } else {
                            s.registry.devices[e.device as usize].mac_string()
                        }
                    })
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "class".into(),
                evs.iter().map(|e| e.class.clone()).collect::<Vec<String>>(),
            ),
            Column::new(
                "source_kind".into(),
                evs.iter()
                    .map(|e| s.source_kind_str(e).to_string())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "source_path".into(),
                evs.iter()
                    .map(|e| {
                        if e.source == INSERTED_SOURCE {
                            String::new()
                        } else {
                            s.sources[e.source as usize].spec.path.clone()
                        }
                    })
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "source_line".into(),
                evs.iter().map(|e| e.line).collect::<Vec<u32>>(),
            ),
            Column::new(
                "raw_text".into(),
                evs.iter().map(|e| e.raw.clone()).collect::<Vec<String>>(),
            ),
            Column::new(
                "time_text".into(),
                evs.iter()
                    .map(|e| e.time_text.clone())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "precision".into(),
                evs.iter()
                    .map(|e| e.precision.as_str())
                    .collect::<Vec<&str>>(),
            ),
            Column::new("original_ns".into(), orig.clone()),
            Column::new("adjusted_ns".into(), adj.clone()),
            Column::new(
                "offset_ns".into(),
                adj.iter()
                    .zip(&orig)
                    .map(|(a, b)| a - b)
                    .collect::<Vec<i64>>(),
            ),
            Column::new(
                "original_utc".into(),
                orig.iter()
                    .map(|&t| crate::timefmt::utc(t))
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "adjusted_utc".into(),
                adj.iter()
                    .map(|&t| crate::timefmt::utc(t))
                    .collect::<Vec<String>>(),
            ),
            datetime("original_time", &orig).map_err(|e| polars_err(&p, e))?,
            datetime("adjusted_time", &adj).map_err(|e| polars_err(&p, e))?,
            Column::new(
                "status".into(),
                evs.iter().map(|e| e.status.as_str()).collect::<Vec<&str>>(),
            ),
            Column::new(
                "duplicate_of".into(),
                evs.iter()
                    .map(|e| e.duplicate_of)
                    .collect::<Vec<Option<u64>>>(),
            ),
            Column::new(
                "window_start_ns".into(),
                adj.iter().map(|t| t - w.before_ns).collect::<Vec<i64>>(),
            ),
            Column::new(
                "window_end_ns".into(),
                adj.iter().map(|t| t + w.after_ns).collect::<Vec<i64>>(),
            ),
            Column::new(
                "edit_ids".into(),
                evs.iter()
                    .map(|e| {
                        e.edits
                            .iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(";")
                    })
                    .collect::<Vec<String>>(),
            ),
        ])
        .map_err(|e| polars_err(&p, e))?;
        rows.insert(format!("events.{ext}"), df.height());
        write_table(&mut df, &p, o.format)?;
    }
    // features (active events, and idle windows when enabled)
    {
        let p = dir.join(format!("features.{ext}"));
        let mut cols = vec![
            Column::new(
                "event_id".into(),
                feats.iter().map(|r| r.event_id).collect::<Vec<u64>>(),
            ),
            Column::new(
                "device".into(),
                feats
                    .iter()
                    .map(|r| s.device_name(r.device).to_string())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "class".into(),
                feats
                    .iter()
                    .map(|r| r.class.clone())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "window_start_ns".into(),
                feats
                    .iter()
                    .map(|r| r.window_start_ns)
                    .collect::<Vec<i64>>(),
            ),
            Column::new(
                "window_end_ns".into(),
                feats.iter().map(|r| r.window_end_ns).collect::<Vec<i64>>(),
            ),
        ];
        for (j, n) in features::names().iter().enumerate() {
            cols.push(Column::new(
                n.as_str().into(),
                feats.iter().map(|r| r.values[j]).collect::<Vec<f64>>(),
            ));
        }
        let mut df = DataFrame::new_infer_height(cols).map_err(|e| polars_err(&p, e))?;
        rows.insert(format!("features.{ext}"), df.height());
        write_table(&mut df, &p, o.format)?;
    }
    // flows
    {
        let p = dir.join(format!("flows.{ext}"));
        let fl = &s.traffic.flows;
        let ip = |x: Option<std::net::IpAddr>| x.map(|a| a.to_string()).unwrap_or_default();
        let first: Vec<i64> = fl.iter().map(|f| f.first_ns).collect();
        let last: Vec<i64> = fl.iter().map(|f| f.last_ns).collect();
        let cids: Vec<Option<String>> = fl.par_iter().map(flow_community_id).collect();
        let mut df = DataFrame::new_infer_height(vec![
            Column::new("flow_id".into(), (0..fl.len() as u64).collect::<Vec<u64>>()),
            Column::new(
                "device".into(),
                fl.iter()
                    .map(|f| s.device_name(f.device).to_string())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "protocol".into(),
                fl.iter()
                    .map(|f| f.protocol_name())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "ip_a".into(),
                fl.iter().map(|f| ip(f.ip_a())).collect::<Vec<String>>(),
            ),
            Column::new(
                "port_a".into(),
                fl.iter().map(|f| f.key.port_a as u32).collect::<Vec<u32>>(),
            ),
            Column::new(
                "mac_a".into(),
                fl.iter()
                    .map(|f| crate::traffic::devices::fmt_mac(&f.key.mac_a))
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "ip_b".into(),
                fl.iter().map(|f| ip(f.ip_b())).collect::<Vec<String>>(),
            ),
            Column::new(
                "port_b".into(),
                fl.iter().map(|f| f.key.port_b as u32).collect::<Vec<u32>>(),
            ),
            Column::new(
                "mac_b".into(),
                fl.iter()
                    .map(|f| crate::traffic::devices::fmt_mac(&f.key.mac_b))
                    .collect::<Vec<String>>(),
            ),
            Column::new("first_ns".into(), first.clone()),
            Column::new("last_ns".into(), last.clone()),
            Column::new(
                "first_utc".into(),
                first
                    .iter()
                    .map(|&t| crate::timefmt::utc(t))
                    .collect::<Vec<String>>(),
            ),
            datetime("first_time", &first).map_err(|e| polars_err(&p, e))?,
            datetime("last_time", &last).map_err(|e| polars_err(&p, e))?,
            Column::new(
                "packets_ab".into(),
                fl.iter().map(|f| f.pkts_ab).collect::<Vec<u64>>(),
            ),
            Column::new(
                "packets_ba".into(),
                fl.iter().map(|f| f.pkts_ba).collect::<Vec<u64>>(),
            ),
            Column::new(
                "bytes_ab".into(),
                fl.iter().map(|f| f.bytes_ab).collect::<Vec<u64>>(),
            ),
            Column::new(
                "bytes_ba".into(),
                fl.iter().map(|f| f.bytes_ba).collect::<Vec<u64>>(),
            ),
            Column::new(
                "end".into(),
                fl.iter()
                    .map(|f| format!("{:?}", f.end).to_lowercase())
                    .collect::<Vec<String>>(),
            ),
            Column::new("community_id".into(), cids),
        ])
        .map_err(|e| polars_err(&p, e))?;
        rows.insert(format!("flows.{ext}"), df.height());
        write_table(&mut df, &p, o.format)?;
    }
    // devices.csv
    {
        let p = dir.join("devices.csv");
        let st = crate::traffic::device_stats(&s.traffic, s.registry.len());
        let mut evc = vec![0u64; s.registry.len()];
        for e in &s.labels.events {
            if e.device != NO_DEVICE {
                evc[e.device as usize] += 1;
            }
        }
        let ds = &s.registry.devices;
        let keep: Vec<usize> = (0..ds.len())
            .filter(|&i| ds[i].registered || st[i].packets > 0)
            .collect();
        let mut df = DataFrame::new_infer_height(vec![
            Column::new(
                "name".into(),
                keep.iter()
                    .map(|&i| ds[i].name.clone())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "mac".into(),
                keep.iter()
                    .map(|&i| ds[i].mac_string())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "ip".into(),
                keep.iter()
                    .map(|&i| {
                        ds[i]
                            .ips
                            .iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(";")
                    })
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "description".into(),
                keep.iter()
                    .map(|&i| ds[i].description.clone())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "hub".into(),
                keep.iter()
                    .map(|&i| ds[i].hub.clone().unwrap_or_default())
                    .collect::<Vec<String>>(),
            ),
            Column::new(
                "kind".into(),
                keep.iter().map(|&i| ds[i].kind()).collect::<Vec<&str>>(),
            ),
            Column::new(
                "registered".into(),
                keep.iter()
                    .map(|&i| ds[i].registered)
                    .collect::<Vec<bool>>(),
            ),
            Column::new(
                "packets".into(),
                keep.iter().map(|&i| st[i].packets).collect::<Vec<u64>>(),
            ),
            Column::new(
                "bytes".into(),
                keep.iter().map(|&i| st[i].bytes).collect::<Vec<u64>>(),
            ),
            Column::new(
                "flows".into(),
                keep.iter().map(|&i| st[i].flows).collect::<Vec<u64>>(),
            ),
            Column::new(
                "events".into(),
                keep.iter().map(|&i| evc[i]).collect::<Vec<u64>>(),
            ),
        ])
        .map_err(|e| polars_err(&p, e))?;
        rows.insert("devices.csv".into(), df.height());
        write_table(&mut df, &p, Format::Csv)?;
    }
    if let Some(r) = report_json.filter(|r| r.is_file()) {
        std::fs::copy(r, dir.join("model_report.json")).map_err(|e| Error::io(r, e))?;
    }
    let slice_files = if o.pcap_slices {
        pcap_slices(s, &evs, &fmap, &dir.join("slices"))?
    } else {
        Vec::new()
    };
    let slices = slice_files.len();
    // manifest
    let mut inputs: Vec<PathBuf> = s.capture_files.clone();
    if let Some(d) = &s.project.devices {
        inputs.push(s.base_dir.join(d));
    }
    inputs.extend(s.sources.iter().map(|x| x.path.clone()));
    let hashes: Vec<Result<(u64, String)>> = inputs.par_iter().map(|p| sha256_file(p)).collect();
    let mut inp = Vec::new();
    for (p, h) in inputs.iter().zip(hashes) {
        let (size, sha) = h?;
        inp.push(
            serde_json::json!({"path": p.display().to_string(), "bytes": size, "sha256": sha}),
        );
    }
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
    let manifest = serde_json::json!({
        "tool": "labelbench",
        "version": env!("CARGO_PKG_VERSION"),
        "project": s.project_path.as_ref().map(|p| p.display().to_string()),
        "settings": s.project,
        "source_offsets_ns": s.labels.offsets,
        "inputs": inp,
        "journal": {"path": journal.map(|p| p.display().to_string()), "entries": s.history.log.len(), "bytes": jlen, "sha256": jhash},
        "format": o.format,
        "include_rejected": o.include_rejected,
        "rows": rows,
        "pcap_slices": slices,
        "slice_files": slice_files,
        "time_columns": "i64 ns since the Unix epoch (UTC), ISO 8601 *_utc strings, and in Parquet/JSON UTC timestamp columns",
    });
    let mp = dir.join("manifest.json");
    std::fs::write(
        &mp,
        serde_json::to_string_pretty(&manifest).map_err(|e| Error::Other(e.to_string()))?,
    )
    .map_err(|e| Error::io(&mp, e))?;
    Ok(ExportReport {
        out: dir.to_path_buf(),
        rows,
        slices,
        seconds: 0.0,
    })
}

/// One pcap per exported active event: its device's packets in its window, bytes as captured.
fn pcap_slices(
    s: &Session,
    evs: &[&crate::labels::Event],
    fmap: &HashMap<u64, &FeatureRow>,
    dir: &Path,
) -> Result<Vec<SliceFile>> {
    use pcap_parser::ToVec;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    // Windows per traffic device: (start, end, event index).
    struct Win {
        lo: i64,
        hi: i64,
        k: usize,
    }
    let mut wins: HashMap<[u8; 6], Vec<Win>> = HashMap::new();
    let mut targets: Vec<&crate::labels::Event> = Vec::new();
    for e in evs {
        let Some(fr) = fmap.get(&e.id) else { continue };
        let td = s.traffic_device(e.device);
        let Some(mac) = s.registry.devices.get(td as usize).and_then(|d| d.mac) else {
            continue;
        };
        wins.entry(mac).or_default().push(Win {
            lo: fr.window_start_ns,
            hi: fr.window_end_ns,
            k: targets.len(),
        });
        targets.push(e);
    }
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); targets.len()];
    let mut linktype = pcap_parser::Linktype(1);
    let (lo_all, hi_all) = wins
        .values()
        .flatten()
        .fold((i64::MAX, i64::MIN), |a, w| (a.0.min(w.lo), a.1.max(w.hi)));
    for (fi, file) in s.traffic.files.iter().enumerate() {
        let (Some(f0), Some(f1)) = (file.first_ns, file.last_ns) else {
            continue;
        };
        if f1 < lo_all || f0 > hi_all {
            continue;
        }
        let path = &s.capture_files[fi.min(s.capture_files.len() - 1)];
        let path = if file.path.is_file() {
            &file.path
        } else {
            path
        };
        crate::capture::for_each_record(path, |lt, ts, orig, data| {
            linktype = lt;
            let mut iss = Vec::new();
            let d = crate::capture::decode_link(lt, data, path, &mut iss);
            for mac in [d.src_mac, d.dst_mac].map(crate::capture::word_mac) {
                if mac == crate::capture::MAC_NONE {
                    continue;
                }
                if let Some(ws) = wins.get(&mac) {
                    for w in ws {
                        if ts >= w.lo && ts <= w.hi {
                            let b = &mut bufs[w.k];
                            b.extend_from_slice(
                                &((ts.div_euclid(1_000_000_000)) as u32).to_le_bytes(),
                            );
                            b.extend_from_slice(
                                &((ts.rem_euclid(1_000_000_000)) as u32).to_le_bytes(),
                            );
                            b.extend_from_slice(&(data.len() as u32).to_le_bytes());
                            b.extend_from_slice(&orig.to_le_bytes());
                            b.extend_from_slice(data);
                        }
                    }
                }
                if d.src_mac == d.dst_mac {
                    break;
                }
            }
        })
        .map_err(|e| Error::invalid(path, e))?;
    }
    let mut hdr = pcap_parser::PcapHeader::new();
    hdr.magic_number = 0xa1b2_3c4d;
    hdr.snaplen = 262_144;
    hdr.network = linktype;
    let head = hdr
        .to_vec_raw()
        .map_err(|e| Error::Other(format!("{e:?}")))?;
    let mut names = Vec::with_capacity(targets.len());
    for (k, e) in targets.iter().enumerate() {
        let device = s.event_device_name(e);
        let name = slice_file_name(device, &e.class, e.id);
        let p = dir.join(&name);
        let mut out = head.clone();
        out.extend_from_slice(&bufs[k]);
        std::fs::write(&p, out).map_err(|e| Error::io(&p, e))?;
        names.push(SliceFile {
            file: format!("slices/{name}"),
            event_id: e.id,
            device: device.to_string(),
            class: e.class.clone(),
        });
    }
    Ok(names)
}

/// One pcap slice as the manifest lists it: the file and the full names it stands for.
#[derive(Clone, Debug, Serialize)]
struct SliceFile {
    file: String,
    event_id: u64,
    device: String,
    class: String,
}

/// Bytes of a device or class name kept in a slice's file name: with the event id and the
/// extension, the name stays well under the 255 bytes file systems allow.
const NAME_PART: usize = 80;

/// `device_class_id.pcap` with characters other than letters, digits and `-` made `_`, each
/// name cut to [`NAME_PART`] bytes (the manifest keeps the full names).
fn slice_file_name(device: &str, class: &str, id: u64) -> String {
    let safe = |x: &str| {
        let mut out = String::new();
        for c in x.chars() {
            let c = if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            };
            if out.len() + c.len_utf8() > NAME_PART {
                break;
            }
            out.push(c);
        }
        out
    };
    format!("{}_{}_{id}.pcap", safe(device), safe(class))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_names_stay_short_and_keep_their_parts() {
        let long = "é".repeat(300);
        let n = slice_file_name("cam-01", &long, 1_000_042);
        assert!(n.len() <= 200, "{}", n.len());
        assert!(
            n.starts_with("cam-01_éé") && n.ends_with("_1000042.pcap"),
            "{n}"
        );
        assert_eq!(slice_file_name("a b", "on/off", 7), "a_b_on_off_7.pcap");
    }

    #[test]
    fn community_id_published_vectors() {
        let a: std::net::IpAddr = "1.2.3.4".parse().unwrap();
        let b: std::net::IpAddr = "5.6.7.8".parse().unwrap();
        assert_eq!(
            community_id(a, b, 1122, 3344, 6, 0),
            "1:wCb3OG7yAFWelaUydu0D+125CLM="
        );
        assert_eq!(
            community_id(b, a, 3344, 1122, 6, 0),
            "1:wCb3OG7yAFWelaUydu0D+125CLM="
        );
        assert_eq!(
            community_id(a, b, 1122, 3344, 17, 0),
            "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="
        );
        assert_eq!(
            community_id(a, b, 1122, 3344, 6, 1),
            "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="
        );
        assert_eq!(
            community_id(a, b, 8, 0, 1, 0),
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="
        );
        assert_eq!(
            community_id(b, a, 0, 0, 1, 0),
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="
        );
        let c: std::net::IpAddr = "fe80:1:203:405:607:809:a0b:c0d".parse().unwrap();
        let d: std::net::IpAddr = "fe80:1011:1213:1415:1617:1819:1a1b:1c1d".parse().unwrap();
        assert_eq!(
            community_id(c, d, 128, 0, 58, 0),
            "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="
        );
    }
}
