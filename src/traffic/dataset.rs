//! Traffic datasets: the Parquet tables `labelbench extract` writes for each capture file, and
//! reading them back into a [`Traffic`] equal to ingesting the captures themselves.
//!
//! A dataset folder holds, per input file (named by its part key, see `docs/formats.md`):
//! - `packets/date=YYYY-MM-DD/device=NAME/part-KEY.parquet`: one row per packet of that device
//!   on that UTC day (Hive partitions, as Spark writes them; a packet of no device is under
//!   `device=__HIVE_DEFAULT_PARTITION__`);
//! - `conversations/part-KEY.parquet`: the conversation keys the packets' `conv` column indexes;
//! - `flows/date=YYYY-MM-DD/part-KEY.parquet`: the flows of that file alone;
//! - `manifest/part-KEY.json`: the input's path, size, hash, times, link types and issues.
//!
//! Reading picks the partitions of the devices asked for, so a device group's packets are read
//! without the rest; flows are then assembled afresh over every file's packets of the group,
//! which stitches flows that a file boundary cut.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::devices::Registry;
use super::{build, FlowTimeouts, Traffic};
use crate::capture::{self, CaptureIssue, ConvKey, FileCols, FileParse, PacketRow};
use crate::error::{Error, Result};

/// Width of the timeline bins `extract` writes (`bins/`): one minute.
pub const BIN_NS: i64 = 60_000_000_000;

/// The file that marks a folder as a labelbench traffic dataset.
pub const MARKER: &str = "labelbench-traffic.json";
/// The partition value of packets that belong to no device (Spark's name for a null).
pub const NO_DEVICE_PART: &str = "__HIVE_DEFAULT_PARTITION__";
/// How a device filter names "no device" (packets and events attributed to none).
pub const NO_DEVICE_NAME: &str = "-";

/// One input file of a dataset, as `extract` read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManifestRow {
    /// The capture's path as given to `extract`.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
    /// Names this input's files: a hash of the input's SHA-256, labelbench's version and the
    /// settings, so a rerun writes the same names and bytes.
    pub part: String,
    pub labelbench: String,
    /// The settings the tables depend on (flow timeouts, the registry's digest), as JSON.
    pub settings: String,
    pub registry_sha256: String,
    pub format: String,
    pub packets: u64,
    pub bytes_read: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    pub first_utc: Option<String>,
    pub last_utc: Option<String>,
    pub link_types: Vec<i32>,
    /// Partition folders written: `date=…/device=…`.
    pub partitions: Vec<String>,
    /// Packets in each of `partitions`.
    pub partition_packets: Vec<u64>,
    /// Device pairs (primary, second registered device) of device-to-device packets: a read of
    /// the second device also reads those packets from the primary's partition.
    pub device_pairs: Vec<(String, String)>,
    pub issues: Vec<CaptureIssue>,
}

/// A digest of what device attribution depends on: the registered devices' names, MACs, IPs
/// and hubs. A dataset read with a device filter must have been extracted with the same.
pub fn registry_digest(reg: &Registry) -> String {
    let mut h = sha2::Sha256::new();
    for d in reg.devices.iter().filter(|d| d.registered) {
        let line = serde_json::json!([d.name, d.mac_string(), d.ips, d.hub]);
        h.update(line.to_string().as_bytes());
        h.update(b"\n");
    }
    format!("{:x}", h.finalize())
}

/// A partition value as Hive and Spark escape it in a path (`%XX` for characters that are not
/// safe in a folder name).
pub fn escape_partition(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@' | b'+') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// The partition folder name of a device (`None`: no device).
pub fn device_partition(name: Option<&str>) -> String {
    format!(
        "device={}",
        name.map(escape_partition)
            .unwrap_or_else(|| NO_DEVICE_PART.into())
    )
}

/// Whether `dir` is a traffic dataset (has the marker).
pub fn is_dataset(dir: &Path) -> bool {
    dir.join(MARKER).is_file()
}

/// The dataset's manifest rows, ordered by path (the order a project lists sorted captures).
pub fn manifest(dir: &Path) -> Result<Vec<ManifestRow>> {
    if !is_dataset(dir) {
        return Err(Error::invalid(
            dir,
            format!("not a labelbench traffic dataset (no {MARKER}; write one with `labelbench extract`)"),
        ));
    }
    let mdir = dir.join("manifest");
    let mut rows = Vec::new();
    let rd = std::fs::read_dir(&mdir).map_err(|e| Error::io(&mdir, e))?;
    for e in rd {
        let p = e.map_err(|e| Error::io(&mdir, e))?.path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        let row: ManifestRow =
            serde_json::from_str(&text).map_err(|e| Error::invalid(&p, e.to_string()))?;
        rows.push(row);
    }
    rows.sort_by(|a, b| a.path.cmp(&b.path).then(a.part.cmp(&b.part)));
    let mut by_sha: BTreeMap<&str, &ManifestRow> = BTreeMap::new();
    for r in &rows {
        if let Some(o) = by_sha.insert(&r.sha256, r) {
            if o.settings != r.settings || o.labelbench != r.labelbench {
                return Err(Error::invalid(
                    dir,
                    format!(
                        "{} was extracted twice with different settings or versions \
                         (parts {} and {}): its packets would be read twice; remove one \
                         manifest/part-*.json and its tables, or extract into a new folder",
                        r.path, o.part, r.part
                    ),
                ));
            }
        }
    }
    Ok(rows)
}

/// Which packets to read from a dataset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrafficFilter {
    /// Device names (and [`NO_DEVICE_NAME`]) whose packets to read; `None`: all.
    pub devices: Option<BTreeSet<String>>,
    /// Only packets in `[start, end]` (UTC ns): inputs whose span misses it and day
    /// partitions outside it are not opened. `None`: all.
    pub range: Option<(i64, i64)>,
}

impl TrafficFilter {
    /// Parses `a,b,-`.
    pub fn parse_devices(list: &str) -> TrafficFilter {
        let set: BTreeSet<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        TrafficFilter {
            devices: Some(set),
            range: None,
        }
    }
    /// Whether a packet at `t` is read.
    pub fn wants_time(&self, t: i64) -> bool {
        self.range.is_none_or(|(a, b)| (a..=b).contains(&t))
    }
    /// Whether a UTC day partition (`date=YYYY-MM-DD/…`) can hold packets of the range.
    fn wants_partition(&self, partition: &str) -> bool {
        let Some((a, b)) = self.range else {
            return true;
        };
        // A partition whose name cannot be read is read rather than silently skipped.
        partition_day(partition).is_none_or(|d| d <= b && d + 86_400_000_000_000 > a)
    }
    pub fn wants(&self, name: Option<&str>) -> bool {
        match &self.devices {
            None => true,
            Some(set) => set.contains(name.unwrap_or(NO_DEVICE_NAME)),
        }
    }
}

/// The first instant (UTC ns) of a day partition's day (`date=YYYY-MM-DD/…`).
pub fn partition_day(partition: &str) -> Option<i64> {
    partition
        .strip_prefix("date=")
        .and_then(|p| p.split('/').next())
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|d| d.and_utc().timestamp_nanos_opt())
}

/// The device a partition (`date=…/device=NAME`) holds the packets of ([`NO_DEVICE_NAME`]
/// for packets of no device).
fn partition_device(partition: &str) -> Option<String> {
    let dev = partition
        .split('/')
        .nth(1)
        .and_then(|d| d.strip_prefix("device="))?;
    Some(match dev {
        NO_DEVICE_PART => NO_DEVICE_NAME.to_string(),
        d => unescape_partition(d),
    })
}

/// The devices the whole dataset holds packets of, as their own or as the second device of a
/// device-to-device packet: whatever part of it a project reads, a device behind a hub is
/// labelled on its own traffic when it has any, as a load of the whole dataset decides.
pub fn devices_with_packets(dir: &Path) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for row in manifest(dir)? {
        for (part, k) in row.partitions.iter().zip(&row.partition_packets) {
            if *k > 0 {
                out.extend(partition_device(part));
            }
        }
        out.extend(row.device_pairs.iter().map(|(_, second)| second.clone()));
    }
    Ok(out)
}

/// The partitions of one input to read for `filter`, each with whether only its
/// device-to-device packets are wanted (those whose second device was asked for): a device's
/// own partitions, and the partitions of primaries it shares packets with.
fn partitions_to_read(row: &ManifestRow, filter: &TrafficFilter) -> Vec<(String, bool)> {
    let mut parts = devices_to_read(row, filter);
    parts.retain(|(p, _)| filter.wants_partition(p));
    parts
}

/// [`partitions_to_read`] by device alone.
fn devices_to_read(row: &ManifestRow, filter: &TrafficFilter) -> Vec<(String, bool)> {
    let Some(set) = &filter.devices else {
        return row.partitions.iter().map(|p| (p.clone(), false)).collect();
    };
    let own: BTreeSet<String> = set
        .iter()
        .map(|n| device_partition((n != NO_DEVICE_NAME).then_some(n.as_str())))
        .collect();
    let shared: BTreeSet<String> = row
        .device_pairs
        .iter()
        .filter(|(_, second)| set.contains(second))
        .map(|(primary, _)| device_partition(Some(primary)))
        .collect();
    row.partitions
        .iter()
        .filter_map(|p| {
            let dev = p.split('/').nth(1)?;
            if own.contains(dev) {
                Some((p.clone(), false))
            } else if shared.contains(dev) {
                Some((p.clone(), true))
            } else {
                None
            }
        })
        .collect()
}

/// A 32-bit column's value as the narrower field it holds (`None` when missing or too wide).
fn narrow<T: TryFrom<u32>>(v: Option<u32>) -> Option<T> {
    v.and_then(|v| T::try_from(v).ok())
}

fn col_err(p: &Path, e: PolarsError) -> Error {
    Error::invalid(p, e.to_string())
}

/// A numeric column's values, which must all be present.
fn dense<T: PolarsNumericType>(df: &DataFrame, name: &str, p: &Path) -> Result<Vec<T::Native>> {
    let s = df
        .column(name)
        .map_err(|e| col_err(p, e))?
        .as_materialized_series();
    let ca: &ChunkedArray<T> = s.unpack::<T>().map_err(|e| col_err(p, e))?;
    if ca.null_count() > 0 {
        return Err(Error::invalid(p, format!("column {name}: missing values")));
    }
    Ok(ca.into_no_null_iter().collect())
}

fn read_parquet(p: &Path) -> Result<DataFrame> {
    let f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
    ParquetReader::new(f).finish().map_err(|e| col_err(p, e))
}

/// A packets part read for the time range `[a, b]`: the leading and trailing row groups whose
/// `ts_ns` statistics (min and max, written by every Parquet writer) lie wholly outside it are
/// not read. Rows inside the groups read are still checked one by one.
fn read_packets_part(p: &Path, range: Option<(i64, i64)>) -> Result<DataFrame> {
    let Some(range) = range else {
        return read_parquet(p);
    };
    let f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
    let mut r = ParquetReader::new(f);
    let md = r.get_metadata().map_err(|e| col_err(p, e))?.clone();
    let groups: Vec<(usize, Option<(i64, i64)>)> = md
        .row_groups
        .iter()
        .map(|rg| {
            let span = rg
                .columns_under_root_iter("ts_ns")
                .and_then(|mut c| c.next())
                .and_then(|c| c.statistics(&md.footer_buf))
                .and_then(|s| s.ok())
                .and_then(|s| s.into_int64())
                .and_then(|s| Some((s.min_value?, s.max_value?)));
            (rg.num_rows(), span)
        })
        .collect();
    let (offset, len) = rows_in_range(&groups, range);
    r.with_slice(Some((offset, len)))
        .finish()
        .map_err(|e| col_err(p, e))
}

/// The rows `(offset, len)` to read of row groups `(rows, ts span)` for the range `[a, b]`:
/// all but the leading and trailing groups whose span lies wholly outside it (a group without
/// statistics is read).
fn rows_in_range(groups: &[(usize, Option<(i64, i64)>)], (a, b): (i64, i64)) -> (usize, usize) {
    let outside = |g: &&(usize, Option<(i64, i64)>)| g.1.is_some_and(|(lo, hi)| hi < a || lo > b);
    let head = groups.iter().take_while(outside).count();
    let tail = groups[head..].iter().rev().take_while(outside).count();
    let rows = |g: &[(usize, Option<(i64, i64)>)]| g.iter().map(|x| x.0).sum::<usize>();
    (
        rows(&groups[..head]),
        rows(&groups[head..groups.len() - tail]),
    )
}

/// The conversation keys of one input, by conversation id.
fn read_conversations(p: &Path) -> Result<Vec<ConvKey>> {
    let df = read_parquet(p)?;
    let c = |n: &str| df.column(n).map_err(|e| col_err(p, e));
    let proto = c("proto")?.u32().map_err(|e| col_err(p, e))?.clone();
    let ethertype = c("ethertype")?.u32().map_err(|e| col_err(p, e))?.clone();
    let is_l2 = c("is_l2")?.bool().map_err(|e| col_err(p, e))?.clone();
    let v6 = c("v6")?.bool().map_err(|e| col_err(p, e))?.clone();
    let ip_a = c("ip_a_raw")?.binary().map_err(|e| col_err(p, e))?.clone();
    let ip_b = c("ip_b_raw")?.binary().map_err(|e| col_err(p, e))?.clone();
    let port_a = c("port_a")?.u32().map_err(|e| col_err(p, e))?.clone();
    let port_b = c("port_b")?.u32().map_err(|e| col_err(p, e))?.clone();
    let mac_a = c("mac_a_raw")?.u64().map_err(|e| col_err(p, e))?.clone();
    let mac_b = c("mac_b_raw")?.u64().map_err(|e| col_err(p, e))?.clone();
    let bad = || Error::invalid(p, "a conversation key with a missing field");
    let ip16 = |b: Option<&[u8]>| -> Result<[u8; 16]> {
        b.and_then(|b| <[u8; 16]>::try_from(b).ok()).ok_or_else(bad)
    };
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        out.push(ConvKey {
            proto: narrow(proto.get(i)).ok_or_else(bad)?,
            ethertype: narrow(ethertype.get(i)).ok_or_else(bad)?,
            is_l2: is_l2.get(i).ok_or_else(bad)?,
            v6: v6.get(i).ok_or_else(bad)?,
            ip_a: ip16(ip_a.get(i))?,
            ip_b: ip16(ip_b.get(i))?,
            port_a: narrow(port_a.get(i)).ok_or_else(bad)?,
            port_b: narrow(port_b.get(i)).ok_or_else(bad)?,
            mac_a: capture::word_mac(mac_a.get(i).ok_or_else(bad)?),
            mac_b: capture::word_mac(mac_b.get(i).ok_or_else(bad)?),
        });
    }
    Ok(out)
}

/// Appends the packets of one partition file, as `(record, row)`; with `peers`, only those whose
/// second device is one of them.
fn read_packets(
    p: &Path,
    peers: Option<&BTreeSet<String>>,
    filter: &TrafficFilter,
    out: &mut Vec<(u64, PacketRow)>,
) -> Result<()> {
    let df = read_packets_part(p, filter.range)?;
    let record = dense::<UInt64Type>(&df, "record", p)?;
    let ts = dense::<Int64Type>(&df, "ts_ns", p)?;
    let orig_len = dense::<UInt32Type>(&df, "orig_len", p)?;
    let ip_len = dense::<UInt32Type>(&df, "ip_len", p)?;
    let tcp_len = dense::<UInt32Type>(&df, "tcp_len", p)?;
    let ttl = dense::<UInt32Type>(&df, "ttl", p)?;
    let flags = dense::<UInt32Type>(&df, "tcp_flags", p)?;
    let bits = dense::<UInt32Type>(&df, "bits", p)?;
    let conv = dense::<UInt32Type>(&df, "conv", p)?;
    let peer: Option<Vec<Option<&str>>> = match peers {
        Some(_) => {
            let c = df.column("peer").map_err(|e| col_err(p, e))?;
            Some(c.str().map_err(|e| col_err(p, e))?.iter().collect())
        }
        None => None,
    };
    let bad = |i: usize| Error::invalid(p, format!("row {i}: a value too wide for its field"));
    out.reserve(df.height());
    for i in 0..df.height() {
        if let (Some(set), Some(peer)) = (peers, &peer) {
            if !peer[i].is_some_and(|n| set.contains(n)) {
                continue;
            }
        }
        if !filter.wants_time(ts[i]) {
            continue;
        }
        let row = PacketRow {
            ts: ts[i],
            orig_len: orig_len[i],
            conv: conv[i],
            ip_len: narrow(Some(ip_len[i])).ok_or_else(|| bad(i))?,
            tcp_len: narrow(Some(tcp_len[i])).ok_or_else(|| bad(i))?,
            bits: narrow(Some(bits[i])).ok_or_else(|| bad(i))?,
            ttl: narrow(Some(ttl[i])).ok_or_else(|| bad(i))?,
            tcp_flags: narrow(Some(flags[i])).ok_or_else(|| bad(i))?,
        };
        out.push((record[i], row));
    }
    Ok(())
}

/// One input read back as its capture reader would have parsed it (only the packets of the
/// partitions read, in record order; conversation ids renumbered over those packets).
fn read_input(dir: &Path, row: &ManifestRow, filter: &TrafficFilter) -> Result<FileParse> {
    let mut recs: Vec<(u64, PacketRow)> = Vec::new();
    for (part, shared_only) in partitions_to_read(row, filter) {
        let p = dir
            .join("packets")
            .join(&part)
            .join(format!("part-{}.parquet", row.part));
        let peers = filter.devices.as_ref().filter(|_| shared_only);
        read_packets(&p, peers, filter, &mut recs)?;
    }
    recs.sort_unstable_by_key(|(r, _)| *r);
    recs.dedup_by_key(|(r, _)| *r);
    let cp = dir
        .join("conversations")
        .join(format!("part-{}.parquet", row.part));
    let all = read_conversations(&cp)?;
    let mut remap: Vec<u32> = vec![u32::MAX; all.len()];
    let mut convs = Vec::new();
    let mut rows = Vec::with_capacity(recs.len());
    for (_, mut r) in recs {
        let c = r.conv as usize;
        let key = *all.get(c).ok_or_else(|| {
            Error::invalid(
                &cp,
                format!("conversation {c} named by a packet is missing"),
            )
        })?;
        if remap[c] == u32::MAX {
            remap[c] = convs.len() as u32;
            convs.push(key);
        }
        r.conv = remap[c];
        rows.push(r);
    }
    let format = match row.format.as_str() {
        "pcap" => "pcap",
        "pcapng" => "pcapng",
        _ => "unknown",
    };
    Ok(FileParse {
        path: PathBuf::from(&row.path),
        format,
        cols: FileCols { rows },
        convs,
        issues: row.issues.clone(),
        bytes_read: row.bytes_read,
        link_types: row.link_types.clone(),
        span: None,
    })
}

/// Reads a dataset's packets (those `filter` asks for) and assembles their flows: the same
/// [`Traffic`] as ingesting the captures, restricted to the devices asked for.
pub fn load(
    dir: &Path,
    registry: &mut Registry,
    timeouts: &FlowTimeouts,
    filter: &TrafficFilter,
) -> Result<Traffic> {
    let parsed = read_inputs(dir, registry, filter)?;
    Ok(build(parsed, registry, timeouts))
}

/// The packets `filter` asks for, one parse per input in manifest order, as the capture
/// readers would have given them: what [`load`] assembles, and what a flow stream
/// ([`crate::traffic::FlowStream`]) is fed a day at a time.
pub fn read_inputs(
    dir: &Path,
    registry: &Registry,
    filter: &TrafficFilter,
) -> Result<Vec<FileParse>> {
    let mut rows = manifest(dir)?;
    // An input whose packets all lie outside the range is not opened.
    if let Some((a, b)) = filter.range {
        rows.retain(|r| r.first_ns.is_none_or(|f| f <= b) && r.last_ns.is_none_or(|l| l >= a));
    }
    if filter.devices.is_some() {
        let mine = registry_digest(registry);
        if let Some(r) = rows.iter().find(|r| r.registry_sha256 != mine) {
            return Err(Error::invalid(
                dir,
                format!(
                    "{} was extracted with another device registry: its packets are filed \
                     under other devices; extract again with this project's registry, or \
                     read the whole dataset",
                    r.path
                ),
            ));
        }
    }
    // An input whose tables cannot be read is a fatal issue of that input, as an unreadable
    // capture is: the rest still loads.
    let parsed: Vec<FileParse> = rows
        .par_iter()
        .map(|r| {
            read_input(dir, r, filter).unwrap_or_else(|e| {
                let mut fp = FileParse::empty(Path::new(&r.path));
                fp.issues.push(CaptureIssue {
                    file: PathBuf::from(&r.path),
                    packet_index: 0,
                    byte_offset: 0,
                    reason: format!("its tables in the traffic dataset cannot be read: {e}"),
                    fatal: true,
                });
                fp
            })
        })
        .collect();
    Ok(parsed)
}

/// Splits the project's devices into at most `n` groups of about equal packets (largest first,
/// each to the lightest group), for one export task per group: every registered device, every
/// device the dataset's partitions name, and [`NO_DEVICE_NAME`] once. A device behind a hub
/// goes with its hub, whose packets its events label.
pub fn plan_groups(dir: &Path, registry: &Registry, n: usize) -> Result<Vec<Vec<String>>> {
    let mut packets: BTreeMap<String, u64> = BTreeMap::new();
    for d in registry.devices.iter().filter(|d| d.registered) {
        packets.entry(d.name.clone()).or_default();
    }
    packets.entry(NO_DEVICE_NAME.to_string()).or_default();
    for row in manifest(dir)? {
        for (part, k) in row.partitions.iter().zip(&row.partition_packets) {
            let Some(name) = partition_device(part) else {
                continue;
            };
            *packets.entry(name).or_default() += k;
        }
    }
    // Units: a hub with the devices behind it, or a device alone.
    let mut units: BTreeMap<String, (u64, Vec<String>)> = BTreeMap::new();
    for (name, k) in &packets {
        let hub = registry
            .by_name(name)
            .and_then(|d| registry.hub_of(d))
            .map(|h| registry.devices[h as usize].name.clone());
        let u = units
            .entry(hub.unwrap_or_else(|| name.clone()))
            .or_default();
        u.0 += k;
        u.1.push(name.clone());
    }
    let mut units: Vec<(u64, Vec<String>)> = units.into_values().collect();
    units.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let n = n.clamp(1, units.len().max(1));
    let mut groups: Vec<(u64, Vec<String>)> = vec![(0, Vec::new()); n];
    for (k, names) in units {
        let g = (0..n).min_by_key(|&i| (groups[i].0, i)).unwrap_or(0);
        groups[g].0 += k;
        groups[g].1.extend(names);
    }
    Ok(groups
        .into_iter()
        .map(|(_, mut g)| {
            g.sort();
            g
        })
        .filter(|g| !g.is_empty())
        .collect())
}

/// The inverse of [`escape_partition`].
pub fn unescape_partition(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(x)) => {
                out.push(x);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The slice a window opens of a dataset holding more than `budget` packets: its first UTC
/// day with packets (`[day, day + 1)`), with the dataset's packet total; `None` when the whole
/// dataset fits.
pub fn first_day_beyond(dir: &Path, budget: u64) -> Result<Option<((i64, i64), u64)>> {
    const DAY_NS: i64 = 86_400_000_000_000;
    let rows = manifest(dir)?;
    let total: u64 = rows.iter().map(|r| r.packets).sum();
    let first = rows.iter().filter_map(|r| r.first_ns).min();
    Ok(match first {
        Some(t) if total > budget => {
            let day = t.div_euclid(DAY_NS) * DAY_NS;
            Some(((day, day + DAY_NS), total))
        }
        _ => None,
    })
}

/// The inputs as an export's manifest lists them (path, bytes, SHA-256 as hashed at extract).
pub fn inputs(dir: &Path) -> Result<Vec<(String, u64, String)>> {
    Ok(manifest(dir)?
        .into_iter()
        .map(|r| (r.path, r.bytes, r.sha256))
        .collect())
}

/// One device's timeline bins: (bin start, bytes, packets) in time order.
pub type DeviceBins = Vec<(i64, f64, u32)>;

/// The dataset's timeline bins per registry device, merged over its inputs, as (bin start,
/// bytes, packets) in time order; `None` when an input has none (extracted before bins were
/// written) or a bin names a device the registry lacks.
pub fn read_bins(dir: &Path, registry: &Registry) -> Result<Option<Vec<DeviceBins>>> {
    let mut per: Vec<BTreeMap<i64, (f64, u32)>> = vec![BTreeMap::new(); registry.len()];
    for row in manifest(dir)? {
        let p = dir.join("bins").join(format!("part-{}.parquet", row.part));
        if !p.is_file() {
            return Ok(None);
        }
        let df = read_parquet(&p)?;
        let dev = df.column("device").map_err(|e| col_err(&p, e))?;
        let dev: Vec<Option<&str>> = dev.str().map_err(|e| col_err(&p, e))?.iter().collect();
        let bin = dense::<Int64Type>(&df, "bin_ns", &p)?;
        let packets = dense::<UInt32Type>(&df, "packets", &p)?;
        let bytes = dense::<UInt64Type>(&df, "bytes", &p)?;
        for i in 0..df.height() {
            let Some(d) = dev[i].and_then(|n| registry.by_name(n)) else {
                return Ok(None);
            };
            let e = per[d as usize].entry(bin[i]).or_default();
            e.0 += bytes[i] as f64;
            e.1 += packets[i];
        }
    }
    Ok(Some(
        per.into_iter()
            .map(|m| m.into_iter().map(|(k, (b, p))| (k, b, p)).collect())
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_groups_outside_the_range_are_skipped_at_either_end_only() {
        let g = [
            (10, Some((0, 9))),
            (10, Some((10, 19))),
            (10, None),
            (10, Some((30, 39))),
            (10, Some((40, 49))),
        ];
        assert_eq!(rows_in_range(&g, (12, 33)), (10, 30));
        assert_eq!(rows_in_range(&g, (0, 100)), (0, 50));
        // A group without statistics is read, and so is everything between kept groups.
        assert_eq!(rows_in_range(&g, (45, 100)), (20, 30));
        assert_eq!(rows_in_range(&g, (100, 200)), (20, 10));
        assert_eq!(rows_in_range(&g[..2], (100, 200)), (20, 0));
        assert_eq!(rows_in_range(&[], (0, 1)), (0, 0));
    }
}
