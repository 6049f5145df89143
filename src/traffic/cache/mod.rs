//! The derived-data cache: a project's parsed packet columns, flow table and per-device index,
//! kept next to the project so reopening a week of captures reads ~17 bytes a packet instead of
//! parsing gigabytes of pcap again.
//!
//! Validity (DESIGN "Architecture"): the cache records, for every capture in order, its path,
//! size, modification time and a SHA-256 over its size and its first and last 64 KiB, plus a
//! SHA-256 of the device registry (attribution depends on it), the tool version and this
//! format's version. Any difference means a miss and a fresh parse. The content hash samples
//! the ends of each file rather than reading it whole: a full hash would cost as much as the
//! `cat` the cache exists to approach, and a capture edited in place without changing its size,
//! mtime or either end is not a case we defend against.
//!
//! Layout: 8-byte magic, u64 header length, JSON header (key, counts, file summaries, capture
//! issues, devices the captures added to the registry), the header's XXH3-64 (checked before
//! its counts size any allocation), then the little-endian columns, the flows as fixed 104-byte
//! records and the per-device index, each cut into LZ4 blocks of at most 1 MiB (timestamps and
//! index lists as differences from the previous value), then an XXH3-64 checksum of everything
//! before it (a damaged cache whose values all look plausible is still caught). LZ4 shrinks a
//! week's 1.6 GB of columns to about a third, and a reopen is bound by reading the file: blocks
//! are decompressed in parallel while the next ones are read. The file is written to a
//! temporary name and renamed, so a crash never leaves a half cache behind; the temporary file
//! of a writer that was killed is removed by the next write. Where the filesystem allows it
//! the cache is written and read with direct I/O (see [`write_file`]): it is read whole once
//! per open, and passing it through page cache cost more kernel CPU than the parse it saves.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::Xxh3;

use crate::capture::{CaptureIssue, ConvKey};
use crate::progress::Progress;
use crate::traffic::devices::Registry;
use crate::traffic::{FileSummary, Flow, FlowEnd, FlowTimeouts, Packets, Traffic};

mod io;

use io::*;

const MAGIC: &[u8; 8] = b"LBCACHE\x01";

/// Bump whenever ingest's output changes, so caches of older builds are not used (6: pcapng
/// interface clocks and out-of-range times; 7: legacy link-type fields with an FCS length,
/// compressed captures; 8: TCP connections as one flow, flow timeouts in the key).
const FORMAT: u32 = 8;

const SAMPLE: u64 = 64 * 1024;

const FLOW_RECORD: usize = 104;

/// What a cache must match to be used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheKey {
    pub tool: String,
    pub format: u32,
    pub registry_sha256: String,
    /// The flow timeouts the flows were assembled with (absent before format 8, whose
    /// headers must still parse to be named as another version's).
    #[serde(default)]
    pub flows: FlowTimeouts,
    pub files: Vec<InputStamp>,
}

/// Identity of one capture file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputStamp {
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i128,
    /// SHA-256 over the size and the first and last 64 KiB.
    pub sample_sha256: String,
}

/// The outcome of a cached load, for `inspect` and the GUI's status line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status")]
pub enum CacheStatus {
    /// Caching was not asked for (`--no-cache`, tests, benchmarks).
    #[default]
    Off,
    /// Loaded from the cache.
    Hit { path: PathBuf },
    /// Parsed afresh and the cache is being (re)written; `reason` says why it was not used.
    Written { path: PathBuf, reason: String },
    /// Parsed afresh; the cache could not be written (read-only folder, full disk).
    WriteFailed { path: PathBuf, error: String },
}

impl std::fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheStatus::Off => write!(f, "off (inputs parsed afresh)"),
            CacheStatus::Hit { path } => write!(f, "loaded from {}", path.display()),
            CacheStatus::Written { path, reason } => {
                write!(
                    f,
                    "parsed afresh ({reason}); cache saved to {}",
                    path.display()
                )
            }
            CacheStatus::WriteFailed { path, error } => {
                write!(
                    f,
                    "parsed afresh; cache {} not written: {error}",
                    path.display()
                )
            }
        }
    }
}

/// Where a project's cache lives: `x.labelbench.json` → `x.labelbench.cache`.
pub fn cache_path(project: &Path) -> PathBuf {
    let s = project.to_string_lossy();
    let stem = s.strip_suffix(".json").unwrap_or(&s);
    PathBuf::from(format!("{stem}.cache"))
}

fn stamp(path: &Path) -> std::io::Result<InputStamp> {
    // A FIFO (a capture piped in) has no identity to key a cache by, and sampling it here
    // would take bytes the parse needs.
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut f = File::open(path)?;
    let meta = f.metadata()?;
    let size = meta.len();
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(-1);
    let mut h = Sha256::new();
    h.update(size.to_le_bytes());
    let mut buf = vec![0u8; SAMPLE as usize];
    let n = read_up_to(&mut f, &mut buf)?;
    h.update(&buf[..n]);
    if size > SAMPLE {
        f.seek(SeekFrom::Start(size.saturating_sub(SAMPLE).max(SAMPLE)))?;
        let n = read_up_to(&mut f, &mut buf)?;
        h.update(&buf[..n]);
    }
    Ok(InputStamp {
        path: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
        size,
        mtime_ns,
        sample_sha256: hex(&h.finalize()),
    })
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = f.read(&mut buf[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The key for these captures read against this registry (before ingest adds devices to it)
/// with flows assembled by these timeouts.
pub fn key(
    files: &[PathBuf],
    registry: &Registry,
    timeouts: &FlowTimeouts,
) -> std::io::Result<CacheKey> {
    let reg = serde_json::to_vec(&registry.devices).map_err(std::io::Error::other)?;
    Ok(CacheKey {
        tool: env!("CARGO_PKG_VERSION").to_string(),
        format: FORMAT,
        registry_sha256: hex(&Sha256::digest(&reg)),
        flows: *timeouts,
        files: files.iter().map(|f| stamp(f)).collect::<Result<_, _>>()?,
    })
}

#[derive(Serialize, Deserialize)]
struct Header {
    key: CacheKey,
    little_endian: bool,
    packets: u64,
    flows: u64,
    /// Length of each device's index list.
    by_device: Vec<u64>,
    files: Vec<FileSummary>,
    issues: Vec<CaptureIssue>,
    unregistered_macs: Vec<([u8; 6], u64)>,
    /// MACs ingest added to the registry as unregistered devices, in order.
    added_devices: Vec<[u8; 6]>,
    registry_len_before: usize,
}

/// Writes the cache for `t`. `added_devices` are the MACs ingest added to a registry of
/// `registry_len_before` devices.
pub fn write(
    path: &Path,
    key: &CacheKey,
    t: &Traffic,
    added_devices: Vec<[u8; 6]>,
    registry_len_before: usize,
) -> std::io::Result<()> {
    let header = Header {
        key: key.clone(),
        little_endian: cfg!(target_endian = "little"),
        packets: t.packets.len() as u64,
        flows: t.flows.len() as u64,
        by_device: t.by_device.iter().map(|v| v.len() as u64).collect(),
        files: t.files.clone(),
        issues: t.issues.clone(),
        unregistered_macs: t.unregistered_macs.clone(),
        added_devices,
        registry_len_before,
    };
    let hj = serde_json::to_vec(&header).map_err(std::io::Error::other)?;
    remove_stale_temps(path);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let body = |out: &mut dyn Write| -> std::io::Result<()> {
        let mut w = Hashing {
            inner: out,
            hash: Xxh3::new(),
        };
        let w = &mut w;
        w.write_all(MAGIC)?;
        w.write_all(&(hj.len() as u64).to_le_bytes())?;
        w.write_all(&hj)?;
        w.write_all(&xxhash_rust::xxh3::xxh3_64(&hj).to_le_bytes())?;
        let p = &t.packets;
        write_delta(w, &p.ts)?;
        write_frames(w, bytemuck::cast_slice(&p.orig_len))?;
        write_frames(w, bytemuck::cast_slice(&p.ip_len))?;
        write_frames(w, bytemuck::cast_slice(&p.tcp_len))?;
        write_frames(w, &p.ttl)?;
        write_frames(w, &p.tcp_flags)?;
        write_frames(w, bytemuck::cast_slice(&p.bits))?;
        write_frames(w, bytemuck::cast_slice(&p.flow))?;
        let mut recs = vec![0u8; t.flows.len() * FLOW_RECORD];
        for (f, rec) in t.flows.iter().zip(recs.chunks_exact_mut(FLOW_RECORD)) {
            encode_flow(f, rec.try_into().expect("record size"));
        }
        write_frames(w, &recs)?;
        for v in &t.by_device {
            write_delta(w, v)?;
        }
        let sum = w.hash.digest();
        w.inner.write_all(&sum.to_le_bytes())
    };
    let res = write_file(&tmp, body).and_then(|()| std::fs::rename(&tmp, path));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Removes temporary caches (`<name>.tmp<PID>`, beside `path`) that a process killed while
/// writing left behind: each is as large as the cache itself. A temporary file is stale when
/// its process is gone (seen through `/proc`) or, where there is no `/proc`, when it is a day
/// old. Files of running writers and anything not named this way are left alone.
fn remove_stale_temps(path: &Path) {
    let (Some(dir), Some(stem)) = (path.parent(), path.file_stem()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!("{}.tmp", stem.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let have_proc = Path::new("/proc/self").exists();
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let stale = if have_proc {
            !Path::new(&format!("/proc/{pid}")).exists()
        } else {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 24 * 3600)
        };
        if stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Loads the cache if it exists and matches `key`, adding the devices it recorded to
/// `registry` (left untouched on a miss). The error says why the cache was not used.
pub fn read(
    path: &Path,
    key: &CacheKey,
    registry: &mut Registry,
    progress: Option<&Progress>,
) -> Result<Traffic, String> {
    let mut f = File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            "no cache yet".to_string()
        } else {
            format!("cannot open cache: {e}")
        }
    })?;
    let total = f.metadata().map(|m| m.len()).unwrap_or(0);
    let (h, prefix) = read_header(&mut f, total)?;
    check_key(&h, key, registry)?;
    // Even an intact header can only announce what LZ4 (at most 255:1) could have packed
    // into this file; anything more would be an allocation the file cannot fill.
    let nidx: u64 = h.by_device.iter().sum();
    let raw_bytes = (h.packets as u128) * Packets::BYTES_PER_PACKET as u128
        + h.flows as u128 * FLOW_RECORD as u128
        + nidx as u128 * 4;
    if raw_bytes > total as u128 * 255 {
        return Err(format!(
            "cache is {total} bytes, too small for the {raw_bytes} its header announces"
        ));
    }
    if let Some(p) = progress {
        p.set_stage("reading derived cache", total);
    }
    let mut hash = Xxh3::new();
    hash.update(&prefix);
    let body_start = prefix.len() as u64;
    let mut r = Hashing {
        inner: body_reader(path, f, body_start).map_err(|e| format!("cache read error: {e}"))?,
        hash,
    };
    let (mut pk, flows, by_device) = read_body(&mut r, &h, (body_start, total), progress)?;
    check_references(&h, &pk, &flows, &by_device)?;
    let ndev = h.registry_len_before + h.added_devices.len();
    for mac in &h.added_devices {
        registry.add_unregistered(*mac);
    }
    if registry.devices.len() != ndev {
        registry.devices.truncate(h.registry_len_before);
        registry.reindex();
        return Err("cache device list disagrees with the registry".into());
    }
    pk.ts.shrink_to_fit();
    Ok(Traffic {
        packets: pk,
        flows,
        by_device,
        files: h.files,
        issues: h.issues,
        unregistered_macs: h.unregistered_macs,
        flow_timeouts: h.key.flows,
    })
}

/// The cache's header, checked against its own checksum, and the bytes it takes (magic,
/// length, JSON, checksum), which the body's checksum covers too.
fn read_header(f: &mut File, total: u64) -> Result<(Header, Vec<u8>), String> {
    let short = |_| "cache too short".to_string();
    let mut magic = [0u8; 8];
    f.read_exact(&mut magic).map_err(short)?;
    if &magic != MAGIC {
        return Err("cache from another format version".into());
    }
    let mut lb = [0u8; 8];
    f.read_exact(&mut lb).map_err(short)?;
    let hl = u64::from_le_bytes(lb);
    if hl > total {
        return Err("cache header length is corrupt".into());
    }
    let mut hj = vec![0u8; hl as usize];
    f.read_exact(&mut hj).map_err(short)?;
    let mut hh = [0u8; 8];
    f.read_exact(&mut hh).map_err(short)?;
    if u64::from_le_bytes(hh) != xxhash_rust::xxh3::xxh3_64(&hj) {
        // Caches before format 4 had no header checksum: name them as old, not damaged.
        let old = serde_json::from_slice::<Header>(&hj).is_ok_and(|h| h.key.format < 4);
        return Err(if old {
            "cache from another labelbench version".into()
        } else {
            "cache header checksum mismatch (the file is damaged)".into()
        });
    }
    let h: Header =
        serde_json::from_slice(&hj).map_err(|e| format!("cache header unreadable: {e}"))?;
    let mut prefix = Vec::with_capacity(24 + hj.len());
    prefix.extend_from_slice(&magic);
    prefix.extend_from_slice(&lb);
    prefix.extend_from_slice(&hj);
    prefix.extend_from_slice(&hh);
    Ok((h, prefix))
}

/// Whether the cache was written for these inputs and settings, by this format, on a machine
/// of this byte order, with this registry.
fn check_key(h: &Header, key: &CacheKey, registry: &Registry) -> Result<(), String> {
    if h.key.tool != key.tool || h.key.format != key.format {
        return Err("cache from another labelbench version".into());
    }
    if h.key.registry_sha256 != key.registry_sha256 {
        return Err("device registry changed".into());
    }
    if h.key.flows != key.flows {
        return Err("flow timeouts changed".into());
    }
    if h.key.files.len() != key.files.len()
        || h.key
            .files
            .iter()
            .zip(&key.files)
            .any(|(a, b)| a.path != b.path)
    {
        return Err("capture list changed".into());
    }
    if let Some((_, b)) = h.key.files.iter().zip(&key.files).find(|(a, b)| a != b) {
        return Err(format!("{} changed", b.path.display()));
    }
    if !h.little_endian || !cfg!(target_endian = "little") {
        return Err("cache written on a machine of another byte order".into());
    }
    if registry.devices.len() != h.registry_len_before {
        return Err("device registry changed".into());
    }
    Ok(())
}

/// The packet columns, the flows and the per-device packet index.
type Body = (Packets, Vec<Flow>, Vec<Vec<u32>>);

/// The columns, flows and device index after the header, and the checksum that ends them;
/// `(start, total)` are the body's first byte and the file's length.
fn read_body<R: Read>(
    r: &mut Hashing<R>,
    h: &Header,
    (start, total): (u64, u64),
    progress: Option<&Progress>,
) -> Result<Body, String> {
    let n = h.packets as usize;
    let mut fr = FrameReader {
        r: &mut *r,
        offset: start,
        total,
        progress,
        bufs: Vec::new(),
    };
    let pk = Packets {
        ts: fr.delta_column(n)?,
        orig_len: fr.column(n)?,
        ip_len: fr.column(n)?,
        tcp_len: fr.column(n)?,
        ttl: fr.column(n)?,
        tcp_flags: fr.column(n)?,
        bits: fr.column(n)?,
        flow: fr.column(n)?,
    };
    let raw: Vec<u8> = fr.column(h.flows as usize * FLOW_RECORD)?;
    let flows: Vec<Flow> = raw
        .chunks_exact(FLOW_RECORD)
        .map(decode_flow)
        .collect::<Result<_, _>>()?;
    drop(raw);
    let mut by_device = Vec::with_capacity(h.by_device.len());
    for &len in &h.by_device {
        by_device.push(fr.delta_column::<u32>(len as usize)?);
    }
    let end = fr.offset;
    let mut sum = [0u8; 8];
    r.inner.read_exact(&mut sum).map_err(|_| {
        format!("cache ends early at byte {end} of {total} bytes (the file is damaged)")
    })?;
    if u64::from_le_bytes(sum) != r.hash.digest() {
        return Err("cache checksum mismatch (the file is damaged)".into());
    }
    let mut extra = [0u8; 1];
    if r.inner
        .read(&mut extra)
        .map_err(|e| format!("cache read error: {e}"))?
        != 0
    {
        return Err(format!(
            "cache is {total} bytes, longer than its contents (the file is damaged)"
        ));
    }
    Ok((pk, flows, by_device))
}

/// References stay in range and lists in order, so a damaged cache cannot index out of
/// bounds later.
fn check_references(
    h: &Header,
    pk: &Packets,
    flows: &[Flow],
    by_device: &[Vec<u32>],
) -> Result<(), String> {
    let n = h.packets as usize;
    let ndev = h.registry_len_before + h.added_devices.len();
    let bad_dev = |d: u16| d as usize >= ndev && d != u16::MAX;
    if pk.flow.par_iter().any(|&x| x as u64 >= h.flows)
        || by_device
            .iter()
            .any(|v| v.last().is_some_and(|&i| i as usize >= n))
        || by_device.len() > ndev
        || flows.par_iter().any(|f| bad_dev(f.device))
    {
        return Err("cache references out of range".into());
    }
    if !pk.ts.par_windows(2).all(|w| w[0] <= w[1]) {
        return Err("cache packets out of time order".into());
    }
    // Strictly increasing lists: in range once the last is, and binary-searchable.
    if !by_device
        .iter()
        .all(|v| v.par_windows(2).all(|w| w[0] < w[1]))
    {
        return Err("cache device index out of order".into());
    }
    Ok(())
}

/// A cache being written in the background after a fresh parse, so the user is not kept
/// waiting for the disk. Dropping it waits for the write to finish (a process that exits right
/// after a load still leaves a complete cache, or none).
pub struct PendingWrite {
    handle: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    path: PathBuf,
}

impl PendingWrite {
    /// Waits for the write; the error names the cache file.
    pub fn wait(mut self) -> Result<(), String> {
        self.join()
    }
    fn join(&mut self) -> Result<(), String> {
        match self.handle.take().map(|h| h.join()) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(format!("{}: cache not written: {e}", self.path.display())),
            Some(Err(_)) => Err(format!("{}: cache writer failed", self.path.display())),
        }
    }
}

impl Drop for PendingWrite {
    fn drop(&mut self) {
        use std::io::IsTerminal;
        // A CLI run that is done but still writing the cache says why it has not exited.
        if self.handle.as_ref().is_some_and(|h| !h.is_finished()) && std::io::stderr().is_terminal()
        {
            eprintln!(
                "labelbench: finishing the derived cache {} …",
                self.path.display()
            );
        }
        if let Err(e) = self.join() {
            // Nobody is left to show it; a missing cache only costs a parse next time.
            eprintln!("labelbench: {e}");
        }
    }
}

impl std::fmt::Debug for PendingWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PendingWrite({})", self.path.display())
    }
}

/// Ingest with the cache: use it when it matches the inputs, else parse and start (re)writing
/// it in the background.
pub fn ingest_cached(
    files: &[PathBuf],
    registry: &mut Registry,
    progress: Option<&Progress>,
    cache: Option<&Path>,
    timeouts: &FlowTimeouts,
) -> (Arc<Traffic>, CacheStatus, Option<PendingWrite>) {
    let parse = |registry: &mut Registry| {
        Arc::new(crate::traffic::ingest(files, registry, progress, timeouts))
    };
    let Some(cpath) = cache else {
        return (parse(registry), CacheStatus::Off, None);
    };
    // A FIFO there would hang the read, a link would send the write elsewhere.
    if let Some(what) = crate::fsguard::not_regular(cpath) {
        let error = format!("is {what}, not a regular file: the cache is not used");
        let path = cpath.to_path_buf();
        return (
            parse(registry),
            CacheStatus::WriteFailed { path, error },
            None,
        );
    }
    if let Some(p) = progress {
        p.set_stage("checking captures", 0);
    }
    // An unreadable capture: ingest reports it with its file name.
    let Ok(key) = key(files, registry, timeouts) else {
        return (parse(registry), CacheStatus::Off, None);
    };
    let before = registry.devices.len();
    let reason = match read(cpath, &key, registry, progress) {
        Ok(t) => {
            let path = cpath.to_path_buf();
            return (Arc::new(t), CacheStatus::Hit { path }, None);
        }
        Err(reason) => reason,
    };
    let t = parse(registry);
    if progress.is_some_and(|p| p.cancelled()) {
        return (t, CacheStatus::Off, None);
    }
    // An incomplete read is never cached: the next load reads the captures again (and says
    // again what went wrong) instead of trusting a short result.
    let not_saved = |why: &str| CacheStatus::WriteFailed {
        path: cpath.to_path_buf(),
        error: format!("{why} (it was not used: {reason})"),
    };
    if t.issues.iter().any(|i| i.fatal) {
        let why = "a capture could not be read whole (see its warning); an incomplete load is \
                   not cached";
        return (t, not_saved(why), None);
    }
    let now: Option<Vec<InputStamp>> = files
        .iter()
        .map(|f| stamp(f))
        .collect::<Result<_, _>>()
        .ok();
    if now.as_ref() != Some(&key.files) {
        return (t, not_saved("a capture changed while it was read"), None);
    }
    let added: Vec<[u8; 6]> = registry.devices[before..]
        .iter()
        .map(|d| d.mac.unwrap_or([0; 6]))
        .collect();
    let (t2, path) = (t.clone(), cpath.to_path_buf());
    let handle = std::thread::Builder::new()
        .name("cache-writer".into())
        .spawn(move || write(&path, &key, &t2, added, before));
    let status = CacheStatus::Written {
        path: cpath.to_path_buf(),
        reason,
    };
    match handle {
        Ok(h) => (
            t,
            status,
            Some(PendingWrite {
                handle: Some(h),
                path: cpath.to_path_buf(),
            }),
        ),
        Err(e) => (
            t,
            CacheStatus::WriteFailed {
                path: cpath.to_path_buf(),
                error: e.to_string(),
            },
            None,
        ),
    }
}

#[cfg(test)]
mod tests;
