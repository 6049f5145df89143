//! Stage 1, capture reading: pcap and pcapng through pcap-parser, headers through etherparse.
//!
//! Owns: reading a capture file (plain, gzip or zstd; a FIFO as a stream; a large legacy pcap in
//! segments read at once), the file formats' clocks, link-layer decoding, protocol bits and the
//! per-file conversation keys. Every packet is reduced to a 24-byte row holding a per-file
//! conversation id; [`crate::traffic`] merges the files into columns and builds flows.
//! May use: [`crate::error`], [`crate::progress`]. Nothing here knows about devices or labels.

mod classify;
mod conv;
mod decode;
mod files;
pub mod mapguard;
mod pcap;
mod pcapng;
mod segments;
mod sink;
mod source;
pub mod write;

use classify::*;
pub use conv::*;
pub use decode::*;
pub use files::*;
use pcap::*;
use pcapng::*;
pub use segments::*;
use sink::*;
pub use source::*;

use std::cell::Cell;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use etherparse::{
    EtherType, Ethernet2Slice, LaxIpSlice, LaxNetSlice, LaxSlicedPacket, LinkSlice,
    SingleVlanSlice, TransportSlice,
};
use pcap_parser::pcapng::Block;
use pcap_parser::{Linktype, PcapError};

use crate::capture::mapguard::GuardedMap;
use crate::progress::Progress;
/// Per-packet protocol bits (DESIGN "Features per event") plus layer bits.
pub mod bits {
    pub const DATA: u16 = 1 << 0;
    pub const TLS: u16 = 1 << 1;
    pub const DNS: u16 = 1 << 2;
    pub const EAPOL: u16 = 1 << 3;
    pub const ICMP: u16 = 1 << 4;
    pub const X509: u16 = 1 << 5;
    pub const HTTP: u16 = 1 << 6;
    pub const NTP: u16 = 1 << 7;
    pub const SSDP: u16 = 1 << 8;
    pub const LLC: u16 = 1 << 9;
    /// The packet has an IPv4 or IPv6 header (ip.len and ip.ttl are valid).
    pub const IP: u16 = 1 << 10;
    /// The packet is TCP (tcp.len is valid).
    pub const TCP: u16 = 1 << 11;
    pub const UDP: u16 = 1 << 12;
    pub const IPV6: u16 = 1 << 13;
    /// Packet travels from the conversation's endpoint B to A (canonical order).
    pub const DIR_BA: u16 = 1 << 14;
    /// The record was cut before its IP/transport headers could be read.
    pub const MALFORMED: u16 = 1 << 15;
    /// The ten protocol-presence flags in feature column order.
    pub const FLAGS: [u16; 10] = [DATA, TLS, DNS, EAPOL, ICMP, X509, HTTP, NTP, SSDP, LLC];
}

/// TCP flag bits as stored per packet.
pub mod tcpf {
    pub const FIN: u8 = 1;
    pub const SYN: u8 = 2;
    pub const RST: u8 = 4;
    pub const PSH: u8 = 8;
    pub const ACK: u8 = 16;
}

/// A problem found while reading a capture, located by packet index and byte offset.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaptureIssue {
    pub file: PathBuf,
    /// 0-based index of the packet record concerned (records read before it are kept).
    pub packet_index: u64,
    pub byte_offset: u64,
    pub reason: String,
    /// True when reading stopped at this point.
    pub fatal: bool,
}

/// How the warning for a link type this reader cannot decode begins: it is given once per file,
/// at the first packet of that type.
const UNSUPPORTED_LINK: &str = "unsupported link type";

impl CaptureIssue {
    /// A warning about a link type given once per file (see [`UNSUPPORTED_LINK`]): readers of
    /// later segments of the same file give it again, and the merge keeps only the first.
    pub fn once_per_file(&self) -> bool {
        !self.fatal && self.reason.starts_with(UNSUPPORTED_LINK)
    }
}

impl std::fmt::Display for CaptureIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: packet {} at byte offset {}: {}",
            self.file.display(),
            self.packet_index,
            self.byte_offset,
            self.reason
        )
    }
}

/// One packet of one file, before the global merge: a single 24-byte row per packet, so the
/// reader appends once per packet; the merge spreads rows into the global columns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct PacketRow {
    pub ts: i64,
    pub orig_len: u32,
    /// Index into [`FileParse::convs`].
    pub conv: u32,
    pub ip_len: u16,
    pub tcp_len: u16,
    pub bits: u16,
    pub ttl: u8,
    pub tcp_flags: u8,
}

/// The packets of one file in record order.
#[derive(Default, Debug)]
pub struct FileCols {
    pub rows: Vec<PacketRow>,
}

impl FileCols {
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    pub fn first_ts(&self) -> Option<i64> {
        self.rows.first().map(|r| r.ts)
    }
    pub fn last_ts(&self) -> Option<i64> {
        self.rows.last().map(|r| r.ts)
    }
}

/// The result of reading one capture file.
#[derive(Debug)]
pub struct FileParse {
    pub path: PathBuf,
    pub format: &'static str,
    pub cols: FileCols,
    pub convs: Vec<ConvKey>,
    pub issues: Vec<CaptureIssue>,
    pub bytes_read: u64,
    pub link_types: Vec<i32>,
    /// For a [`Part::Segment`] or [`Part::From`] read: the bytes `[start, end)` whose records
    /// were read (the merge checks that each segment starts where the one before ended).
    /// `None` for a whole file, and for a segment that read nothing.
    pub span: Option<(u64, u64)>,
}

impl FileParse {
    /// A file with nothing read yet.
    pub fn empty(path: &Path) -> FileParse {
        FileParse {
            path: path.to_path_buf(),
            format: "unknown",
            cols: FileCols::default(),
            convs: Vec::new(),
            issues: Vec::new(),
            bytes_read: 0,
            link_types: Vec::new(),
            span: None,
        }
    }
}

/// Detects the capture format by its magic number.
pub fn sniff_format(head: &[u8]) -> Option<&'static str> {
    if head.len() < 4 {
        return None;
    }
    let m = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    match m {
        0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0xa1b2_cd34 | 0x34cd_b2a1 => {
            Some("pcap")
        }
        0x0a0d_0d0a => Some("pcapng"),
        _ => None,
    }
}

/// Reads one capture file completely. Problems are returned as issues; the packets read before
/// a fatal problem are kept.
pub fn read_capture(path: &Path, progress: Option<&Progress>) -> FileParse {
    read_capture_into(path, progress, Vec::new())
}

/// [`read_capture`] appending to `rows` (cleared first): the ingest reuses one buffer per file
/// in flight, so the pages of the row buffers are faulted in once, not once per file.
pub fn read_capture_into(
    path: &Path,
    progress: Option<&Progress>,
    rows: Vec<PacketRow>,
) -> FileParse {
    read_capture_part((path, None), progress, rows, Part::Whole)
}

/// [`read_capture_into`] for part of a file (see [`read_capture_pieces`]).
pub fn read_capture_part(
    (path, opened): (&Path, Option<&File>),
    progress: Option<&Progress>,
    mut rows: Vec<PacketRow>,
    part: Part,
) -> FileParse {
    rows.clear();
    let rd = reopen(path, opened).and_then(|f| Chunked::for_part(f, part));
    read_opened(path, rd, progress, rows, None, part)
}

/// The file to read `path` from: `opened` (a capture read in segments is opened once, so a
/// capture moved or replaced during the read is still read whole from the file first opened),
/// rewound, or else `path` opened now.
fn reopen(path: &Path, opened: Option<&File>) -> std::io::Result<File> {
    match opened {
        Some(f) => {
            use std::io::{Seek, SeekFrom};
            let mut f = f.try_clone()?;
            f.seek(SeekFrom::Start(0))?;
            Ok(f)
        }
        None => File::open(path),
    }
}

/// Which part of a capture a read covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Whole,
    /// Segment `index` of `count` of a legacy pcap, each nominally `bytes` long: from the
    /// first plausible record boundary at or after `index * bytes` to the next segment's
    /// start (or the end of the file). Only a mapped file is split: unmapped, segment 0 reads
    /// the whole file and the others read nothing.
    Segment {
        index: usize,
        count: usize,
        bytes: u64,
    },
    /// From byte offset `.0` (a record boundary) to the end of the file.
    From(u64),
}

/// Packets per piece that [`read_capture_pieces`] hands on while it reads.
pub const PIECE: usize = 1 << 19;

/// Where a reader hands a finished piece of a file; returns an empty row buffer to go on with.
pub type Emit<'a> = &'a mut dyn FnMut(FileParse) -> Vec<PacketRow>;

/// [`read_capture_into`] handing the file on in pieces of [`PIECE`] packets as it is read, so
/// the merge works on a large capture while it is still being read, and the rows of one
/// capture never pile up whole (one 51 M-packet file held 1.2 GB of rows before its merge
/// began, and read and merge took turns instead of overlapping).
///
/// A piece is a [`FileParse`] whose `convs` are the conversations first seen in it (row
/// `conv` ids count on from the earlier pieces), whose `bytes_read` is how far into the file it
/// reaches (0 when the file is read rather than mapped), and which carries no issues or link
/// types. The returned last piece carries the rest, the exact `bytes_read`, every issue and
/// every link type.
///
/// `piece` is the packets per piece ([`PIECE`] for the ingest; at least `2 * ENDS` are used).
///
/// `part` says which part of the file to read: a [`Part::Segment`] lets several readers read
/// one large legacy pcap at once (its issues' packet indices count from the segment's start).
///
/// `opened` is the file to read when it is already open (see [`reopen`]); `None` opens `path`.
pub fn read_capture_pieces(
    (path, opened): (&Path, Option<&File>),
    progress: Option<&Progress>,
    mut rows: Vec<PacketRow>,
    piece: usize,
    part: Part,
    emit: Emit<'_>,
) -> FileParse {
    rows.clear();
    let rd = reopen(path, opened).and_then(|f| Chunked::for_part(f, part));
    read_opened(path, rd, progress, rows, Some((piece, emit)), part)
}

/// Whether the file at `path` starts like a capture (pcap, pcapng, or one compressed with gzip
/// or zstd); if not, why not, as a reader would say (a Git LFS pointer, another format). A
/// FIFO or other special file is taken on trust: reading its start would take its data.
pub fn probe(path: &Path) -> Result<(), String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Ok(());
    }
    let mut head = Vec::with_capacity(512);
    File::open(path)
        .and_then(|f| f.take(512).read_to_end(&mut head))
        .map_err(|e| e.to_string())?;
    if sniff_format(&head).is_some() || Compression::sniff(&head).is_some() {
        return Ok(());
    }
    if head.is_empty() {
        return Err("empty file".into());
    }
    Err(not_a_capture(&head, None))
}

/// Why bytes that are no capture cannot be read: named by their magic, or by the compression
/// they are in (undone or not).
fn not_a_capture(head: &[u8], packed: Option<Compression>) -> String {
    if let Some(size) = source::lfs_pointer(head) {
        let size = size.map_or(String::new(), |n| {
            format!(" of {}", crate::numfmt::human_bytes(n))
        });
        return format!(
            "a Git LFS pointer, not the capture itself: the repository was cloned without its \
             large files; fetch this one{size} with `git lfs pull` in the repository (after \
             `git lfs install`)"
        );
    }
    let magic: Vec<String> = head.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let magic = magic.join(" ");
    match (packed, other_compression(head)) {
        (Some(z), _) => format!(
            "not a pcap or pcapng file once its {} compression is undone (unknown magic {magic})",
            z.name()
        ),
        (None, Some(what)) => format!(
            "{what}, which labelbench does not read: decompress it first (pcap and pcapng are \
             read as they are or compressed with gzip or zstd)"
        ),
        (None, None) => format!("not a pcap or pcapng file (unknown magic {magic})"),
    }
}

/// [`read_capture_into`] once the file is opened (tests cut the file at this point).
fn read_opened(
    path: &Path,
    rd: std::io::Result<Chunked>,
    progress: Option<&Progress>,
    rows: Vec<PacketRow>,
    pieces: Option<(usize, Emit<'_>)>,
    part: Part,
) -> FileParse {
    let mut out = FileParse::empty(path);
    let issue = |idx: u64, off: u64, reason: String, fatal: bool| CaptureIssue {
        file: path.to_path_buf(),
        packet_index: idx,
        byte_offset: off,
        reason,
        fatal,
    };
    let mut rd = match rd {
        Ok(rd) => rd,
        Err(e) => {
            out.issues
                .push(issue(0, 0, format!("cannot open: {e}"), true));
            return out;
        }
    };
    if let Err(e) = rd.fill(CHUNK) {
        out.issues
            .push(issue(0, 0, format!("cannot read: {e}"), true));
        return out;
    }
    if rd.avail().is_empty() {
        out.issues
            .push(issue(0, 0, "empty file (no capture header)".into(), true));
        return out;
    }
    let mut sink = Sink::new(rows);
    let mut meta = Meta {
        path: path.to_path_buf(),
        issues: Vec::new(),
        link_types: Vec::new(),
    };
    let mut link_issues: Vec<CaptureIssue> = Vec::new();
    let mut warned: Vec<i32> = Vec::new();
    let format = match sniff_format(rd.avail()) {
        Some("pcap") => "pcap",
        Some(_) => "pcapng",
        None => "unknown",
    };
    let packed = rd.packed.as_ref().map(|p| p.kind);
    // The format as reported: a compressed capture says how it is stored.
    let shown = match (format, packed) {
        ("pcap", Some(Compression::Gzip)) => "pcap+gzip",
        ("pcapng", Some(Compression::Gzip)) => "pcapng+gzip",
        ("pcap", Some(Compression::Zstd)) => "pcap+zstd",
        ("pcapng", Some(Compression::Zstd)) => "pcapng+zstd",
        _ => format,
    };
    let (piece, mut emit) = match pieces {
        Some((n, e)) => (n.max(2 * ENDS), Some(e)),
        None => (usize::MAX, None),
    };
    // Where a piece ends in the file is read off its last record's address in the map (0
    // when the file is read, not mapped): nothing is added to the per-packet work.
    let map_base = rd.map.as_ref().map_or(0, |m| m.bytes().as_ptr() as usize);
    // Where a read of part of the file began (set once the part is located).
    let span_start: Cell<Option<u64>> = Cell::new(None);
    let mut visit = |lt: Linktype, ts: i64, orig: u32, data: &[u8], at: u64| {
        let mut iss = Vec::new();
        // A local per packet, with decoding inlined, so the compiler can keep the fields in
        // registers: read back from memory, fields just written piecewise stalled on store
        // forwarding.
        let mut d = Decoded::default();
        decode_link_into(lt, data, path, &mut iss, &mut d);
        if !iss.is_empty() {
            let at = (sink.packets(), at);
            note_link_issues(&mut warned, &mut link_issues, lt, iss, at);
        }
        sink.push(ts, orig, &d);
        if sink.cols.rows.len() >= piece {
            if let Some(e) = emit.as_deref_mut() {
                let end = (data.as_ptr() as usize + data.len()).saturating_sub(map_base);
                let end = if map_base == 0 { 0 } else { end as u64 };
                sink.hand_off(path, shown, end, span_start.get(), e);
            }
        }
    };
    out.format = shown;
    let res = match (format, part) {
        ("pcap", _) => read_pcap(
            &mut rd,
            &mut meta,
            progress,
            (part, &span_start),
            &mut visit,
        ),
        // Only legacy pcap is split; a capture that is no longer one reads nothing here,
        // and the merge reads on from where the segment before ended.
        (_, Part::Segment { index: 1.., .. } | Part::From(_)) => Ok(()),
        ("pcapng", _) => read_pcapng(&mut rd, &mut meta, progress, &mut visit),
        _ => Err((0, not_a_capture(rd.avail(), packed))),
    };
    out.issues.extend(meta.issues);
    out.issues.extend(link_issues);
    // In packet order (a fatal issue, pushed below, comes last anyway): the link-type warnings
    // were gathered apart, and a file read in segments lists its issues segment by segment.
    out.issues.sort_by_key(|i| i.packet_index);
    out.link_types = meta.link_types;
    if let Err((idx, mut reason)) = res {
        // A header that read as zeros because the file was cut meanwhile: say so.
        if rd.dropped.get() == 0 {
            if let Err(r) = rd.check_end() {
                reason = r;
            }
        }
        let dropped = rd.dropped.get();
        let (idx, off) = if dropped > 0 {
            // Records read from where the file no longer reaches are taken back.
            let keep = sink.cols.rows.len().saturating_sub(dropped);
            sink.cols.rows.truncate(keep);
            (idx.saturating_sub(dropped as u64), rd.dropped_from.get())
        } else {
            (idx, rd.offset)
        };
        out.issues.push(issue(idx, off, reason, true));
    }
    out.bytes_read = rd.file_pos();
    out.span = span_start.get().map(|start| (start, rd.offset));
    if let Some(z) = packed {
        for i in &mut out.issues {
            i.reason.push_str(&format!(
                "; the byte offset counts the {} data decompressed",
                z.name()
            ));
        }
    }
    out.cols = sink.cols;
    out.convs = sink.convs[sink.handed_convs..]
        .iter()
        .map(|k| k.to_conv())
        .collect();
    out
}

/// Keeps the first warning about each link type, named by the packet it was first seen at
/// (`at`: packet index in the part read, byte offset): a pcapng interface may be added after
/// thousands of packets of others. Out of line, off the per-packet path.
#[cold]
#[inline(never)]
fn note_link_issues(
    warned: &mut Vec<i32>,
    link_issues: &mut Vec<CaptureIssue>,
    lt: Linktype,
    issues: Vec<CaptureIssue>,
    (packet_index, byte_offset): (u64, u64),
) {
    if !warned.contains(&lt.0) {
        warned.push(lt.0);
        link_issues.extend(issues.into_iter().map(|i| CaptureIssue {
            packet_index,
            byte_offset,
            ..i
        }));
    }
}

type ReadResult = Result<(), (u64, String)>;

/// Adds the bytes read since the last report to `progress` (every MiB) and stops the read
/// when the user cancelled it.
fn report_progress(
    progress: Option<&Progress>,
    rd: &Chunked,
    last_report: &mut u64,
    idx: u64,
) -> ReadResult {
    let Some(p) = progress else { return Ok(()) };
    if rd.file_pos() - *last_report > (1 << 20) {
        p.add(rd.file_pos() - *last_report);
        *last_report = rd.file_pos();
    }
    if p.cancelled() {
        return Err((idx, "cancelled".into()));
    }
    Ok(())
}

/// The end of a record loop: the last bytes reported, and a file cut meanwhile named as such.
fn finish_read(
    progress: Option<&Progress>,
    rd: &Chunked,
    last_report: u64,
    idx: u64,
) -> ReadResult {
    if let Some(p) = progress {
        p.add(rd.file_pos() - last_report);
    }
    rd.check_end().map_err(|r| (idx, r))
}

fn io_err(idx: u64, e: std::io::Error) -> (u64, String) {
    (idx, format!("read error: {e}"))
}

/// What a reading loop reports besides the records.
struct Meta {
    path: PathBuf,
    issues: Vec<CaptureIssue>,
    link_types: Vec<i32>,
}

#[cfg(test)]
mod tests;
