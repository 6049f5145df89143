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
use crate::traffic::{FileSummary, Flow, FlowEnd, Packets, Traffic};

const MAGIC: &[u8; 8] = b"LBCACHE\x01";
/// Bump whenever ingest's output changes, so caches of older builds are not used (6: pcapng
/// interface clocks and out-of-range times; 7: legacy link-type fields with an FCS length,
/// compressed captures).
const FORMAT: u32 = 7;
const SAMPLE: u64 = 64 * 1024;
const FLOW_RECORD: usize = 104;

/// What a cache must match to be used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheKey {
    pub tool: String,
    pub format: u32,
    pub registry_sha256: String,
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

/// The key for these captures read against this registry (before ingest adds devices to it).
pub fn key(files: &[PathBuf], registry: &Registry) -> std::io::Result<CacheKey> {
    let reg = serde_json::to_vec(&registry.devices).map_err(std::io::Error::other)?;
    Ok(CacheKey {
        tool: env!("CARGO_PKG_VERSION").to_string(),
        format: FORMAT,
        registry_sha256: hex(&Sha256::digest(&reg)),
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

/// Writes a new file through `body` and syncs it. Where the filesystem takes direct I/O
/// (`O_DIRECT`, Linux), the data goes from an aligned buffer straight to the device: a
/// week's 1.9 GB cache then costs 0.2 s of CPU instead of the 5 s the kernel spends filling
/// page cache with it on a 2-core machine, which a background write took from the GUI. Any
/// failure of the direct path (tmpfs and some FUSE filesystems refuse it) retries buffered.
pub fn write_file(
    path: &Path,
    body: impl Fn(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        if write_direct(path, &body).is_ok() {
            return Ok(());
        }
    }
    let mut w = BufWriter::with_capacity(8 << 20, File::create(path)?);
    body(&mut w)?;
    let f = w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()
}

#[cfg(target_os = "linux")]
fn write_direct(
    path: &Path,
    body: &impl Fn(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)?;
    let mut w = DirectWriter::new(f);
    body(&mut w)?;
    // Whole blocks go direct; the last partial block is appended through the page cache.
    let tail = w.flush_blocks()?;
    drop(w);
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(&tail)?;
    f.sync_all()
}

/// Passes bytes through, hashing them on the way.
struct Hashing<T> {
    inner: T,
    hash: Xxh3,
}

impl<T: Write> Write for Hashing<T> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(b)?;
        self.hash.update(&b[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<T: Read> Read for Hashing<T> {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(b)?;
        self.hash.update(&b[..n]);
        Ok(n)
    }
}

/// A reader for the cache from byte `from` on. It reads with direct I/O where the filesystem
/// allows it, for the same reason [`write_file`] writes that way: filling page cache with a
/// 1.9 GB file costs seconds of kernel CPU (measured: a week's reopen took 3.9–5.1 s right
/// after a direct write, against 1.4 s with the file cached, and direct reads need neither).
/// `f` (positioned at `from`) is the buffered fallback.
fn body_reader(path: &Path, f: File, from: u64) -> std::io::Result<Box<dyn Read>> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let direct = || -> std::io::Result<DirectReader> {
            let d = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECT)
                .open(path)?;
            let mut r = DirectReader::new(d)?;
            // Direct reads start at offset 0; skip the header already read. A filesystem
            // that opens with O_DIRECT but refuses the reads fails here, before any column.
            std::io::copy(&mut (&mut r).take(from), &mut std::io::sink())?;
            Ok(r)
        };
        if let Ok(r) = direct() {
            return Ok(Box::new(r));
        }
    }
    let _ = path;
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, f)))
}

/// Serves reads from whole aligned blocks that a background thread reads ahead with direct
/// I/O, so the disk keeps streaming while the caller copies and checks columns.
#[cfg(target_os = "linux")]
struct DirectReader {
    rx: std::sync::mpsc::Receiver<std::io::Result<(Vec<u8>, usize, usize)>>,
    back: std::sync::mpsc::SyncSender<Vec<u8>>,
    /// The block being served: buffer, aligned start in it, bytes in it, bytes served.
    cur: Option<(Vec<u8>, usize, usize)>,
    pos: usize,
    done: bool,
}

#[cfg(target_os = "linux")]
impl DirectReader {
    fn new(mut file: File) -> std::io::Result<Self> {
        const AHEAD: usize = 3;
        let (tx, rx) = std::sync::mpsc::sync_channel(AHEAD);
        let (back, free) = std::sync::mpsc::sync_channel::<Vec<u8>>(AHEAD + 1);
        std::thread::Builder::new()
            .name("cache-reader".into())
            .spawn(move || {
                let mut made = 0;
                loop {
                    let mut mem = match free.try_recv() {
                        Ok(m) => m,
                        Err(_) if made < AHEAD + 1 => {
                            made += 1;
                            vec![0u8; DIRECT_BUF + DIRECT_ALIGN]
                        }
                        Err(_) => match free.recv() {
                            Ok(m) => m,
                            Err(_) => return,
                        },
                    };
                    let start = mem.as_ptr().align_offset(DIRECT_ALIGN);
                    let buf = &mut mem[start..start + DIRECT_BUF];
                    // Fill the whole block: a short read anywhere but at the end of the file
                    // would leave the next offset unaligned.
                    let mut n = 0;
                    let res = loop {
                        if n == buf.len() {
                            break Ok(());
                        }
                        match file.read(&mut buf[n..]) {
                            Ok(0) => break Ok(()),
                            Ok(k) => n += k,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(e) => break Err(e),
                        }
                    };
                    let last = res.is_err() || n < DIRECT_BUF;
                    if tx.send(res.map(|()| (mem, start, n))).is_err() || last {
                        return;
                    }
                }
            })?;
        Ok(DirectReader {
            rx,
            back,
            cur: None,
            pos: 0,
            done: false,
        })
    }
}

#[cfg(target_os = "linux")]
impl Read for DirectReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some((mem, start, len)) = &self.cur {
                if self.pos < *len {
                    let k = out.len().min(len - self.pos);
                    let at = start + self.pos;
                    out[..k].copy_from_slice(&mem[at..at + k]);
                    self.pos += k;
                    return Ok(k);
                }
                let short = *len < DIRECT_BUF;
                if let Some((mem, _, _)) = self.cur.take() {
                    let _ = self.back.try_send(mem);
                }
                if short {
                    self.done = true;
                }
            }
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(block)) => {
                    self.cur = Some(block);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
    }
}

/// Direct I/O wants buffers, offsets and lengths in multiples of the device's block size;
/// 4 KiB covers the devices in use.
const DIRECT_ALIGN: usize = 4096;
const DIRECT_BUF: usize = 8 << 20;

/// Collects writes in a block-aligned buffer and writes it out whole.
struct DirectWriter {
    file: File,
    /// Over-allocated by one block so an aligned window of `DIRECT_BUF` bytes fits in it.
    mem: Vec<u8>,
    start: usize,
    len: usize,
}

impl DirectWriter {
    fn new(file: File) -> Self {
        let mem = vec![0u8; DIRECT_BUF + DIRECT_ALIGN];
        let start = mem.as_ptr().align_offset(DIRECT_ALIGN);
        DirectWriter {
            file,
            mem,
            start,
            len: 0,
        }
    }
    /// Writes out the buffer's whole blocks and returns what is left (less than a block).
    fn flush_blocks(&mut self) -> std::io::Result<Vec<u8>> {
        let whole = self.len / DIRECT_ALIGN * DIRECT_ALIGN;
        let buf = &self.mem[self.start..self.start + self.len];
        self.file.write_all(&buf[..whole])?;
        let rest = buf[whole..].to_vec();
        self.len = 0;
        Ok(rest)
    }
}

impl Write for DirectWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(DIRECT_BUF - self.len);
        let at = self.start + self.len;
        self.mem[at..at + n].copy_from_slice(&data[..n]);
        self.len += n;
        if self.len == DIRECT_BUF {
            self.file
                .write_all(&self.mem[self.start..self.start + DIRECT_BUF])?;
            self.len = 0;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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
    let mut magic = [0u8; 8];
    f.read_exact(&mut magic)
        .map_err(|_| "cache too short".to_string())?;
    if &magic != MAGIC {
        return Err("cache from another format version".into());
    }
    let mut lb = [0u8; 8];
    f.read_exact(&mut lb)
        .map_err(|_| "cache too short".to_string())?;
    let hl = u64::from_le_bytes(lb);
    if hl > total {
        return Err("cache header length is corrupt".into());
    }
    let mut hj = vec![0u8; hl as usize];
    f.read_exact(&mut hj)
        .map_err(|_| "cache too short".to_string())?;
    let mut hh = [0u8; 8];
    f.read_exact(&mut hh)
        .map_err(|_| "cache too short".to_string())?;
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
    if h.key.tool != key.tool || h.key.format != key.format {
        return Err("cache from another labelbench version".into());
    }
    if h.key.registry_sha256 != key.registry_sha256 {
        return Err("device registry changed".into());
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
    let n = h.packets as usize;
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
    hash.update(&magic);
    hash.update(&lb);
    hash.update(&hj);
    hash.update(&hh);
    let mut r = Hashing {
        inner: body_reader(path, f, 24 + hl).map_err(|e| format!("cache read error: {e}"))?,
        hash,
    };
    let mut fr = FrameReader {
        r: &mut r,
        offset: 24 + hl,
        total,
        progress,
        bufs: Vec::new(),
    };
    let mut pk = Packets {
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
    // Sanity: references stay in range, so a damaged cache cannot index out of bounds later.
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
    })
}

/// Raw bytes per LZ4 block: a multiple of every element size, small enough that a batch of
/// blocks decompresses in parallel while the reader thread fetches the next.
const FRAME: usize = 1 << 20;
/// Blocks compressed or decompressed together, in parallel.
const BATCH: usize = 16;

/// Columns stored as differences from the previous value (sorted timestamps, index lists):
/// small numbers that LZ4 packs, where the values themselves barely shrink. Each block starts
/// from zero, so blocks decode independently, in parallel.
trait Delta: bytemuck::Pod + Send + Sync {
    const ZERO: Self;
    fn minus(self, prev: Self) -> Self;
    fn plus(self, d: Self) -> Self;
}

/// Wrapping arithmetic, so any column round-trips, sorted or not.
macro_rules! impl_delta {
    ($($t:ty),*) => {$(
        impl Delta for $t {
            const ZERO: $t = 0;
            fn minus(self, prev: $t) -> $t {
                self.wrapping_sub(prev)
            }
            fn plus(self, d: $t) -> $t {
                self.wrapping_add(d)
            }
        }
    )*};
}
impl_delta!(i64, u32);

/// Writes `nframes` blocks, block `i` made by `frame(i)`, as `u32 raw length, u32 compressed
/// length, LZ4 block`; batches are compressed in parallel and written in order.
fn write_frames_with<'a>(
    w: &mut dyn Write,
    nframes: usize,
    frame: impl Fn(usize) -> std::borrow::Cow<'a, [u8]> + Sync,
) -> std::io::Result<()> {
    for start in (0..nframes).step_by(BATCH) {
        let blocks: Vec<std::io::Result<Vec<u8>>> = (start..nframes.min(start + BATCH))
            .into_par_iter()
            .map(|i| {
                let raw = frame(i);
                let bound = lz4::block::compress_bound(raw.len())?;
                let mut out = vec![0u8; 8 + bound];
                let c = lz4::block::compress_to_buffer(&raw, None, false, &mut out[8..])?;
                out[..4].copy_from_slice(&(raw.len() as u32).to_le_bytes());
                out[4..8].copy_from_slice(&(c as u32).to_le_bytes());
                out.truncate(8 + c);
                Ok(out)
            })
            .collect();
        for b in blocks {
            w.write_all(&b?)?;
        }
    }
    Ok(())
}

fn write_frames(w: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    let chunks: Vec<&[u8]> = bytes.chunks(FRAME).collect();
    write_frames_with(w, chunks.len(), |i| std::borrow::Cow::Borrowed(chunks[i]))
}

fn write_delta<T: Delta>(w: &mut dyn Write, col: &[T]) -> std::io::Result<()> {
    let per = FRAME / std::mem::size_of::<T>();
    write_frames_with(w, col.len().div_ceil(per), |i| {
        let start = i * per;
        let chunk = &col[start..col.len().min(start + per)];
        let mut out = Vec::with_capacity(std::mem::size_of_val(chunk));
        let mut prev = T::ZERO;
        for &x in chunk {
            out.extend_from_slice(bytemuck::bytes_of(&x.minus(prev)));
            prev = x;
        }
        std::borrow::Cow::Owned(out)
    })
}

/// Reads the blocks [`write_frames_with`] wrote, checking each against the length the header
/// implies, so damage is an error rather than a wrong-sized column or a panic.
struct FrameReader<'a, R: Read> {
    r: &'a mut R,
    /// File offset reached, for messages.
    offset: u64,
    total: u64,
    progress: Option<&'a Progress>,
    /// Compressed blocks of the batch in flight (reused).
    bufs: Vec<Vec<u8>>,
}

impl<R: Read> FrameReader<'_, R> {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), String> {
        self.r.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                format!(
                    "cache ends early at byte {} of {} bytes (the file is damaged)",
                    self.offset, self.total
                )
            } else {
                format!("cache read error: {e}")
            }
        })?;
        self.offset += buf.len() as u64;
        Ok(())
    }

    /// Fills `dst` from consecutive blocks, running `post` on each decoded block.
    fn fill(&mut self, dst: &mut [u8], post: impl Fn(&mut [u8]) + Sync) -> Result<(), String> {
        let mut rest = dst;
        while !rest.is_empty() {
            let take = rest.len().min(FRAME * BATCH);
            let (cur, tail) = std::mem::take(&mut rest).split_at_mut(take);
            rest = tail;
            let nblocks = cur.len().div_ceil(FRAME);
            if self.bufs.len() < nblocks {
                self.bufs.resize_with(nblocks, Vec::new);
            }
            let mut bufs = std::mem::take(&mut self.bufs);
            let mut got = 0u64;
            for (k, buf) in bufs.iter_mut().enumerate().take(nblocks) {
                let at = self.offset;
                let want = FRAME.min(cur.len() - k * FRAME);
                let mut lens = [0u8; 8];
                self.read_exact(&mut lens)?;
                let raw = u32::from_le_bytes(lens[..4].try_into().expect("4 bytes")) as usize;
                let comp = u32::from_le_bytes(lens[4..].try_into().expect("4 bytes")) as usize;
                let bound = lz4::block::compress_bound(want).unwrap_or(0);
                if raw != want || comp > bound {
                    return Err(format!(
                        "cache block at byte {at} announces {raw} bytes in {comp}, expected {want} (the file is damaged)"
                    ));
                }
                buf.resize(comp, 0);
                self.read_exact(buf)?;
                got += 8 + comp as u64;
            }
            cur.par_chunks_mut(FRAME)
                .zip(bufs[..nblocks].par_iter())
                .try_for_each(|(d, c)| {
                    match lz4::block::decompress_to_buffer(c, Some(d.len() as i32), d) {
                        Ok(k) if k == d.len() => {
                            post(d);
                            Ok(())
                        }
                        _ => {
                            Err("cache block does not decompress (the file is damaged)".to_string())
                        }
                    }
                })?;
            self.bufs = bufs;
            if let Some(p) = self.progress {
                p.add(got);
            }
        }
        Ok(())
    }

    fn column<T: bytemuck::Pod + bytemuck::Zeroable>(
        &mut self,
        n: usize,
    ) -> Result<Vec<T>, String> {
        let mut v: Vec<T> = vec![T::zeroed(); n];
        self.fill(bytemuck::cast_slice_mut(&mut v), |_| ())?;
        Ok(v)
    }

    fn delta_column<T: Delta>(&mut self, n: usize) -> Result<Vec<T>, String> {
        let mut v: Vec<T> = vec![T::zeroed(); n];
        // Blocks are FRAME-aligned offsets into `v`, so each is whole elements of T.
        self.fill(bytemuck::cast_slice_mut(&mut v), |block| {
            let mut acc = T::ZERO;
            for x in bytemuck::cast_slice_mut::<u8, T>(block) {
                acc = acc.plus(*x);
                *x = acc;
            }
        })?;
        Ok(v)
    }
}

fn encode_flow(f: &Flow, b: &mut [u8; FLOW_RECORD]) {
    let k = &f.key;
    b[0] = k.proto;
    b[1..3].copy_from_slice(&k.ethertype.to_le_bytes());
    b[3] = k.is_l2 as u8 | (k.v6 as u8) << 1;
    b[4..20].copy_from_slice(&k.ip_a);
    b[20..36].copy_from_slice(&k.ip_b);
    b[36..38].copy_from_slice(&k.port_a.to_le_bytes());
    b[38..40].copy_from_slice(&k.port_b.to_le_bytes());
    b[40..46].copy_from_slice(&k.mac_a);
    b[46..52].copy_from_slice(&k.mac_b);
    b[52..60].copy_from_slice(&f.first_ns.to_le_bytes());
    b[60..68].copy_from_slice(&f.last_ns.to_le_bytes());
    b[68..76].copy_from_slice(&f.pkts_ab.to_le_bytes());
    b[76..84].copy_from_slice(&f.pkts_ba.to_le_bytes());
    b[84..92].copy_from_slice(&f.bytes_ab.to_le_bytes());
    b[92..100].copy_from_slice(&f.bytes_ba.to_le_bytes());
    b[100..102].copy_from_slice(&f.device.to_le_bytes());
    b[102] = match f.end {
        FlowEnd::Eof => 0,
        FlowEnd::Idle => 1,
        FlowEnd::Active => 2,
        FlowEnd::Fin => 3,
        FlowEnd::Rst => 4,
    };
    b[103] = f.first_ba as u8;
}

fn decode_flow(b: &[u8]) -> Result<Flow, String> {
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or_default());
    let arr16 = |o: usize| -> [u8; 16] { b[o..o + 16].try_into().unwrap_or_default() };
    let arr6 = |o: usize| -> [u8; 6] { b[o..o + 6].try_into().unwrap_or_default() };
    Ok(Flow {
        key: ConvKey {
            proto: b[0],
            ethertype: u16_at(1),
            is_l2: b[3] & 1 != 0,
            v6: b[3] & 2 != 0,
            ip_a: arr16(4),
            ip_b: arr16(20),
            port_a: u16_at(36),
            port_b: u16_at(38),
            mac_a: arr6(40),
            mac_b: arr6(46),
        },
        first_ns: u64_at(52) as i64,
        last_ns: u64_at(60) as i64,
        pkts_ab: u64_at(68),
        pkts_ba: u64_at(76),
        bytes_ab: u64_at(84),
        bytes_ba: u64_at(92),
        device: u16_at(100),
        end: match b[102] {
            0 => FlowEnd::Eof,
            1 => FlowEnd::Idle,
            2 => FlowEnd::Active,
            3 => FlowEnd::Fin,
            4 => FlowEnd::Rst,
            x => return Err(format!("cache flow record has unknown end {x}")),
        },
        first_ba: b[103] != 0,
    })
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
) -> (Arc<Traffic>, CacheStatus, Option<PendingWrite>) {
    let parse =
        |registry: &mut Registry| Arc::new(crate::traffic::ingest(files, registry, progress));
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
    let Ok(key) = key(files, registry) else {
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
mod tests {
    use super::*;

    fn reader(bytes: &[u8]) -> (std::io::Cursor<&[u8]>, u64) {
        (std::io::Cursor::new(bytes), bytes.len() as u64)
    }

    /// Columns come back exactly through the LZ4 blocks: empty, one value, a whole block,
    /// and across batch boundaries; differences wrap without loss; damage is an error.
    #[test]
    fn frames_round_trip_and_damage_is_an_error() {
        let per = FRAME / 8;
        for n in [0, 1, per, per + 1, per * BATCH + 3] {
            let mut x: u64 = 7;
            let ts: Vec<i64> = (0..n)
                .map(|i| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    match i % 5 {
                        0 => i64::MIN,
                        1 => i64::MAX,
                        _ => (x >> 20) as i64 - (1 << 40),
                    }
                })
                .collect();
            let idx: Vec<u32> = (0..n as u32)
                .map(|i| i.wrapping_mul(2_654_435_761))
                .collect();
            let small: Vec<u8> = (0..n).map(|i| (i % 7) as u8).collect();
            let mut out: Vec<u8> = Vec::new();
            write_delta(&mut out, &ts).unwrap();
            write_delta(&mut out, &idx).unwrap();
            write_frames(&mut out, &small).unwrap();
            let (mut cur, total) = reader(&out);
            let mut fr = FrameReader {
                r: &mut cur,
                offset: 0,
                total,
                progress: None,
                bufs: Vec::new(),
            };
            assert_eq!(fr.delta_column::<i64>(n).unwrap(), ts, "{n}");
            assert_eq!(fr.delta_column::<u32>(n).unwrap(), idx, "{n}");
            assert_eq!(fr.column::<u8>(n).unwrap(), small, "{n}");
            assert_eq!(fr.offset, total);
        }
        let col: Vec<u32> = (0..100_000).map(|i| i / 3).collect();
        let mut good: Vec<u8> = Vec::new();
        write_frames(&mut good, bytemuck::cast_slice(&col)).unwrap();
        let read = |bytes: &[u8], n: usize| {
            let (mut cur, total) = reader(bytes);
            FrameReader {
                r: &mut cur,
                offset: 0,
                total,
                progress: None,
                bufs: Vec::new(),
            }
            .column::<u32>(n)
        };
        assert_eq!(read(&good, col.len()).unwrap(), col);
        // A column of another length than the header announces.
        let e = read(&good, col.len() - 1).unwrap_err();
        assert!(e.contains("damaged"), "{e}");
        // A cut file, and a corrupt compressed length.
        let e = read(&good[..good.len() - 10], col.len()).unwrap_err();
        assert!(e.contains("ends early"), "{e}");
        let mut bad = good.clone();
        bad[7] = 0x7f;
        let e = read(&bad, col.len()).unwrap_err();
        assert!(e.contains("damaged"), "{e}");
        // Garbage in place of the compressed data decodes to an error, not a panic.
        let mut bad = good.clone();
        for b in &mut bad[8..] {
            *b = 0xff;
        }
        let e = read(&bad, col.len()).unwrap_err();
        assert!(e.contains("damaged"), "{e}");
    }

    /// Every byte arrives in order whatever the write sizes and the total's remainder
    /// modulo the block size, whether the directory takes direct I/O or not.
    #[test]
    fn write_file_keeps_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let mut x: u32 = 1;
        for total in [
            0,
            1,
            4095,
            4096,
            4097,
            DIRECT_BUF - 1,
            DIRECT_BUF,
            2 * DIRECT_BUF + 5000,
        ] {
            let data: Vec<u8> = (0..total)
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (x >> 24) as u8
                })
                .collect();
            let p = dir.path().join(format!("f{total}"));
            write_file(&p, |w| {
                // Uneven pieces, so writes straddle the buffer's end.
                let mut rest = &data[..];
                let mut k = 1;
                while !rest.is_empty() {
                    let n = (k * 7919) % 1_000_003 % (rest.len() + 1);
                    let n = n.max(1).min(rest.len());
                    w.write_all(&rest[..n])?;
                    rest = &rest[n..];
                    k += 1;
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), data, "{total} bytes");
            // And back, from offsets inside and across blocks, in uneven reads.
            for from in [0usize, 1, 4097, DIRECT_BUF + 1] {
                let from = from.min(total);
                let mut f = File::open(&p).unwrap();
                f.seek(SeekFrom::Start(from as u64)).unwrap();
                let mut r = body_reader(&p, f, from as u64).unwrap();
                let mut back = Vec::new();
                let mut piece = vec![0u8; 6151];
                loop {
                    let n = r.read(&mut piece).unwrap();
                    if n == 0 {
                        break;
                    }
                    back.extend_from_slice(&piece[..n]);
                }
                assert!(back == data[from..], "{total} bytes read from {from}");
            }
        }
    }
}
