//! `labelbench extract`: one capture file to Parquet tables in a traffic dataset
//! ([`crate::traffic::dataset`]), as a pure function of the file, the registry and the flow
//! timeouts. Every file is written under a temporary name and renamed into place, and named by
//! a key over the input's hash, labelbench's version and the settings, so a rerun or a retried
//! task writes the same names with the same bytes and never adds rows twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use sha2::Digest;

use super::tables::{flows_frame, polars_err};
use crate::capture::{self, FileParse, PacketRow};
use crate::error::{Error, Result};
use crate::traffic::dataset::{self, ManifestRow, MARKER};
use crate::traffic::devices::Registry;
use crate::traffic::{attribute, build, FlowTimeouts, NO_DEVICE};

/// Writes `bytes` to `path` through a temporary sibling and a rename, so a reader (or a task
/// killed half-way) never leaves a partial file under the final name.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Rows per Parquet row group: a few minutes of a busy device, so that a reader of a time
/// slice skips the row groups whose `ts_ns` statistics lie outside it.
pub const ROW_GROUP_ROWS: usize = 65_536;

fn parquet_bytes(df: &mut DataFrame, p: &Path) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf)
        .with_row_group_size(Some(ROW_GROUP_ROWS))
        .finish(df)
        .map_err(|e| polars_err(p, e))?;
    Ok(buf)
}

/// Prepares `out` to receive a dataset: refuses a folder that holds anything else, or one that
/// holds an input; writes the marker.
pub fn prepare_out(out: &Path, protected: &[PathBuf]) -> Result<()> {
    // Tasks that start together on a new folder: another one may be writing the marker.
    let entries: Vec<String> = std::fs::read_dir(out)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let temp_marker = format!(".{MARKER}.tmp-");
    let marker_being_written =
        !entries.is_empty() && entries.iter().all(|n| n.starts_with(&temp_marker));
    if !marker_being_written {
        // An existing dataset is added to: its parts are named by their inputs.
        let add_to_dataset = true;
        super::outdir::check_target(
            out,
            super::outdir::OutputKind::TrafficDataset,
            add_to_dataset,
            protected,
        )?;
    }
    let marker = serde_json::json!({"tool": "labelbench", "kind": "traffic-dataset", "layout": 1});
    write_atomically(&out.join(MARKER), format!("{marker}\n").as_bytes())
}

/// The UTC date of a time, as the partition names it.
fn date_of(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%Y-%m-%d")
        .to_string()
}

/// The key that names an input's files.
fn part_key(sha: &str, settings: &str) -> String {
    let mut h = sha2::Sha256::new();
    h.update(format!("{sha}\n{}\n{settings}\n", env!("CARGO_PKG_VERSION")).as_bytes());
    format!("{:x}", h.finalize())[..32].to_string()
}

/// The packet table of one partition: rows `idx` of the file. Small integers are stored as
/// 32-bit columns (Parquet's smallest integer type; its encodings pack them).
fn packets_frame(rows: &[PacketRow], idx: &[u32], peer: &[Option<String>]) -> Result<DataFrame> {
    let pick = |f: fn(&PacketRow) -> u32| -> Vec<u32> {
        idx.iter().map(|&i| f(&rows[i as usize])).collect()
    };
    let cols = vec![
        Column::new(
            "record".into(),
            idx.iter().map(|&i| i as u64).collect::<Vec<u64>>(),
        ),
        Column::new(
            "ts_ns".into(),
            idx.iter()
                .map(|&i| rows[i as usize].ts)
                .collect::<Vec<i64>>(),
        ),
        Column::new("orig_len".into(), pick(|r| r.orig_len)),
        Column::new("ip_len".into(), pick(|r| r.ip_len as u32)),
        Column::new("tcp_len".into(), pick(|r| r.tcp_len as u32)),
        Column::new("ttl".into(), pick(|r| r.ttl as u32)),
        Column::new("tcp_flags".into(), pick(|r| r.tcp_flags as u32)),
        Column::new("bits".into(), pick(|r| r.bits as u32)),
        Column::new("conv".into(), pick(|r| r.conv)),
        Column::new(
            "peer".into(),
            idx.iter()
                .map(|&i| peer[rows[i as usize].conv as usize].clone())
                .collect::<Vec<Option<String>>>(),
        ),
    ];
    DataFrame::new_infer_height(cols).map_err(|e| Error::Other(e.to_string()))
}

/// The conversations table: each key exactly (raw address bytes) and as people read it.
fn conversations_frame(
    fp: &FileParse,
    names: &[(Option<String>, Option<String>)],
) -> Result<DataFrame> {
    let k = &fp.convs;
    let ip = |a: &[u8; 16], c: &capture::ConvKey| {
        crate::traffic::ip_from16(a, c.v6, c.is_l2).map(|x| x.to_string())
    };
    let mac = |m: &[u8; 6]| (*m != capture::MAC_NONE).then(|| crate::traffic::devices::fmt_mac(m));
    let cols = vec![
        Column::new("conv".into(), (0..k.len() as u32).collect::<Vec<u32>>()),
        Column::new(
            "proto".into(),
            k.iter().map(|c| c.proto as u32).collect::<Vec<u32>>(),
        ),
        Column::new(
            "ethertype".into(),
            k.iter().map(|c| c.ethertype as u32).collect::<Vec<u32>>(),
        ),
        Column::new(
            "is_l2".into(),
            k.iter().map(|c| c.is_l2).collect::<Vec<bool>>(),
        ),
        Column::new("v6".into(), k.iter().map(|c| c.v6).collect::<Vec<bool>>()),
        Column::new(
            "ip_a".into(),
            k.iter().map(|c| ip(&c.ip_a, c)).collect::<Vec<_>>(),
        ),
        Column::new(
            "port_a".into(),
            k.iter().map(|c| c.port_a as u32).collect::<Vec<u32>>(),
        ),
        Column::new(
            "mac_a".into(),
            k.iter().map(|c| mac(&c.mac_a)).collect::<Vec<_>>(),
        ),
        Column::new(
            "ip_b".into(),
            k.iter().map(|c| ip(&c.ip_b, c)).collect::<Vec<_>>(),
        ),
        Column::new(
            "port_b".into(),
            k.iter().map(|c| c.port_b as u32).collect::<Vec<u32>>(),
        ),
        Column::new(
            "mac_b".into(),
            k.iter().map(|c| mac(&c.mac_b)).collect::<Vec<_>>(),
        ),
        Column::new(
            "device".into(),
            names.iter().map(|n| n.0.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "peer".into(),
            names.iter().map(|n| n.1.clone()).collect::<Vec<_>>(),
        ),
        Series::new(
            "ip_a_raw".into(),
            k.iter().map(|c| c.ip_a.to_vec()).collect::<Vec<Vec<u8>>>(),
        )
        .into(),
        Series::new(
            "ip_b_raw".into(),
            k.iter().map(|c| c.ip_b.to_vec()).collect::<Vec<Vec<u8>>>(),
        )
        .into(),
        Column::new(
            "mac_a_raw".into(),
            k.iter()
                .map(|c| capture::mac_word(&c.mac_a))
                .collect::<Vec<u64>>(),
        ),
        Column::new(
            "mac_b_raw".into(),
            k.iter()
                .map(|c| capture::mac_word(&c.mac_b))
                .collect::<Vec<u64>>(),
        ),
    ];
    DataFrame::new_infer_height(cols).map_err(|e| Error::Other(e.to_string()))
}

/// Extracts one capture into the dataset at `out` (prepared by [`prepare_out`]) and returns its
/// manifest row (also written as `manifest/part-KEY.json`).
pub fn extract_file(
    path: &Path,
    registry: &Registry,
    timeouts: &FlowTimeouts,
    out: &Path,
) -> Result<ManifestRow> {
    let (bytes, sha) = super::sha256_file(path)?;
    let reg_sha = dataset::registry_digest(registry);
    let settings = serde_json::json!({"flows": timeouts, "registry_sha256": reg_sha}).to_string();
    let key = part_key(&sha, &settings);
    let fp = crate::traffic::read_guarded(path, || capture::read_capture(path, None));
    // Attribution per conversation, exactly as the merge does it.
    let mut reg = registry.clone();
    let attributed: Vec<(u16, u16)> = fp.convs.iter().map(|c| attribute(c, &mut reg)).collect();
    let name = |d: u16| (d != NO_DEVICE).then(|| reg.devices[d as usize].name.clone());
    let names: Vec<(Option<String>, Option<String>)> = attributed
        .iter()
        .map(|&(d, p)| (name(d), name(p)))
        .collect();
    let peers: Vec<Option<String>> = names.iter().map(|n| n.1.clone()).collect();
    let rows = &fp.cols.rows;
    // Partitions: (date, device) → rows in record order.
    let mut parts: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        let dev = names[r.conv as usize].0.as_deref();
        parts
            .entry((date_of(r.ts), dataset::device_partition(dev)))
            .or_default()
            .push(i as u32);
    }
    let mut partitions = Vec::new();
    let mut partition_packets = Vec::new();
    for ((date, dev), idx) in &parts {
        let rel = format!("date={date}/{dev}");
        let p = out
            .join("packets")
            .join(&rel)
            .join(format!("part-{key}.parquet"));
        let mut df = packets_frame(rows, idx, &peers)?;
        write_atomically(&p, &parquet_bytes(&mut df, &p)?)?;
        partitions.push(rel);
        partition_packets.push(idx.len() as u64);
    }
    let cp = out
        .join("conversations")
        .join(format!("part-{key}.parquet"));
    let mut df = conversations_frame(&fp, &names)?;
    write_atomically(&cp, &parquet_bytes(&mut df, &cp)?)?;
    let mut pairs: Vec<(String, String)> = names
        .iter()
        .filter_map(|(d, p)| Some((d.clone()?, p.clone()?)))
        .collect();
    pairs.sort();
    pairs.dedup();
    let mut row = manifest_row(
        &fp,
        (path, bytes, sha),
        (&key, &settings, &reg_sha),
        partitions,
        pairs,
    );
    row.partition_packets = partition_packets;
    let bp = out.join("bins").join(format!("part-{key}.parquet"));
    let mut df = bins_frame(rows, &names)?;
    write_atomically(&bp, &parquet_bytes(&mut df, &bp)?)?;
    write_flows(fp, registry, timeouts, out, &key)?;
    let mp = out.join("manifest").join(format!("part-{key}.json"));
    let text = serde_json::to_string_pretty(&row).map_err(|e| Error::Other(e.to_string()))?;
    write_atomically(&mp, format!("{text}\n").as_bytes())?;
    Ok(row)
}

/// The file's traffic per device in UTC-aligned bins of [`dataset::BIN_NS`], counted as the
/// window's lanes count it (a device-to-device packet in both devices' lanes), so a window
/// can draw a dataset's whole span without reading its packets.
fn bins_frame(rows: &[PacketRow], names: &[(Option<String>, Option<String>)]) -> Result<DataFrame> {
    // Devices by name, and each conversation's (device, peer) as indices into them.
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    for n in names.iter().flat_map(|(d, p)| [d, p]).flatten() {
        let k = ids.len();
        ids.entry(n.as_str()).or_insert(k);
    }
    let conv: Vec<[Option<usize>; 2]> = names
        .iter()
        .map(|(d, p)| [d, p].map(|n| n.as_deref().map(|n| ids[n])))
        .collect();
    // Per device, its bins as packets arrive (a capture is in time order, or nearly).
    let mut per: Vec<Vec<(i64, u32, u64)>> = vec![Vec::new(); ids.len()];
    for r in rows {
        let b = r.ts.div_euclid(dataset::BIN_NS) * dataset::BIN_NS;
        for d in conv[r.conv as usize].into_iter().flatten() {
            match per[d].last_mut() {
                Some(l) if l.0 == b => {
                    l.1 += 1;
                    l.2 += r.orig_len as u64;
                }
                _ => per[d].push((b, 1, r.orig_len as u64)),
            }
        }
    }
    let mut bins: BTreeMap<(&str, i64), (u32, u64)> = BTreeMap::new();
    for (name, &d) in &ids {
        for &(b, p, n) in &per[d] {
            let e = bins.entry((name, b)).or_default();
            e.0 += p;
            e.1 += n;
        }
    }
    let cols = vec![
        Column::new(
            "device".into(),
            bins.keys().map(|k| k.0).collect::<Vec<&str>>(),
        ),
        Column::new(
            "bin_ns".into(),
            bins.keys().map(|k| k.1).collect::<Vec<i64>>(),
        ),
        Column::new(
            "packets".into(),
            bins.values().map(|v| v.0).collect::<Vec<u32>>(),
        ),
        Column::new(
            "bytes".into(),
            bins.values().map(|v| v.1).collect::<Vec<u64>>(),
        ),
    ];
    DataFrame::new_infer_height(cols).map_err(|e| Error::Other(e.to_string()))
}

fn manifest_row(
    fp: &FileParse,
    (path, bytes, sha): (&Path, u64, String),
    (key, settings, reg_sha): (&str, &str, &str),
    partitions: Vec<String>,
    device_pairs: Vec<(String, String)>,
) -> ManifestRow {
    let rows = &fp.cols.rows;
    let first = rows.iter().map(|r| r.ts).min();
    let last = rows.iter().map(|r| r.ts).max();
    ManifestRow {
        path: path.display().to_string(),
        bytes,
        sha256: sha,
        part: key.to_string(),
        labelbench: env!("CARGO_PKG_VERSION").to_string(),
        settings: settings.to_string(),
        registry_sha256: reg_sha.to_string(),
        format: fp.format.to_string(),
        packets: rows.len() as u64,
        bytes_read: fp.bytes_read,
        first_ns: first,
        last_ns: last,
        first_utc: first.map(crate::timefmt::utc),
        last_utc: last.map(crate::timefmt::utc),
        link_types: fp.link_types.clone(),
        partitions,
        partition_packets: Vec::new(),
        device_pairs,
        issues: fp.issues.clone(),
    }
}

/// The flows of this file alone, by the UTC date of their first packet (a flow a file boundary
/// cuts ends there as `end of capture`; reading the dataset assembles flows afresh).
fn write_flows(
    fp: FileParse,
    registry: &Registry,
    timeouts: &FlowTimeouts,
    out: &Path,
    key: &str,
) -> Result<()> {
    let mut reg = registry.clone();
    let t = build(vec![fp], &mut reg, timeouts);
    let mut by_date: BTreeMap<String, Vec<&crate::traffic::Flow>> = BTreeMap::new();
    for f in &t.flows {
        by_date.entry(date_of(f.first_ns)).or_default().push(f);
    }
    let name = |d: u16| {
        reg.devices
            .get(d as usize)
            .map(|x| x.name.clone())
            .unwrap_or_default()
    };
    for (date, fl) in by_date {
        let p = out
            .join("flows")
            .join(format!("date={date}"))
            .join(format!("part-{key}.parquet"));
        let ids: Vec<u64> = (0..fl.len() as u64).collect();
        let mut df = flows_frame(&fl, &ids, &name, &p)?;
        write_atomically(&p, &parquet_bytes(&mut df, &p)?)?;
    }
    Ok(())
}
