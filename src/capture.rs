//! Capture reading: pcap and pcapng through pcap-parser, headers through etherparse.
//!
//! Files are read in fixed-size chunks (memory stays proportional to the packets kept, not to
//! file size) and every packet is reduced to a 24-byte row holding a per-file conversation id;
//! `traffic::ingest` merges the files into columns and builds flows.

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

use crate::mapguard::GuardedMap;
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

pub const MAC_NONE: [u8; 6] = [0; 6];

/// A bidirectional conversation key in canonical endpoint order (A <= B), including the MACs of
/// each endpoint (needed to attribute packets to devices).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConvKey {
    /// IP protocol number for IP conversations; 0 for layer-2 ones.
    pub proto: u8,
    /// 0 for IP; ethertype (or 0 for 802.3/LLC) for layer-2 conversations.
    pub ethertype: u16,
    pub is_l2: bool,
    pub ip_a: [u8; 16],
    pub ip_b: [u8; 16],
    pub port_a: u16,
    pub port_b: u16,
    pub mac_a: [u8; 6],
    pub mac_b: [u8; 6],
    pub v6: bool,
}

/// One multiply-fold of two words (the 128-bit product's halves xored), as in foldhash.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = a as u128 * b as u128;
    p as u64 ^ (p >> 64) as u64
}

/// The same hash the readers use per packet ([`RawKey`]): the key's words folded in four
/// independent multiplies rather than eleven field-by-field hasher calls. Equal keys give
/// equal words, as `Eq` requires.
impl std::hash::Hash for ConvKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash64());
    }
}

impl ConvKey {
    /// The key's 64-bit hash (see the `Hash` impl).
    #[inline]
    pub fn hash64(&self) -> u64 {
        RawKey::from_conv(self).hash64()
    }
}

const SEEDS: [u64; 8] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
    0x4528_21e6_38d0_1377,
    0xbe54_66cf_34e9_0c6c,
    0xc0ac_29b7_c97c_50dd,
    0x3f84_d5b5_b547_0917,
];

impl ConvKey {
    /// The flow identity (DESIGN "Flow"): the 5-tuple for IP, (ethertype, MAC pair) for L2.
    /// ICMP conversations carry type and code in the port fields; an ICMP flow is all ICMP
    /// between two hosts, as the 5-tuple (without ports) says.
    pub fn flow_identity(&self) -> ConvKey {
        if self.is_l2 {
            *self
        } else if matches!(self.proto, 1 | 58) {
            ConvKey {
                mac_a: MAC_NONE,
                mac_b: MAC_NONE,
                port_a: 0,
                port_b: 0,
                ..*self
            }
        } else {
            ConvKey {
                mac_a: MAC_NONE,
                mac_b: MAC_NONE,
                ..*self
            }
        }
    }
}

/// One decoded packet (transient; only its compact form is kept).
///
/// `repr(C)` so that `ip_len` and `tcp_len` are not neighbours: the row builder read the
/// pair with one 8-byte load, which cannot be store-forwarded from the two 4-byte writes
/// decoding has just made, and stalled every packet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Decoded {
    /// IPv6, or IPv4 mapped into IPv6 (`::ffff:a.b.c.d`), as a big-endian number (so numeric
    /// order is byte order); zero without IP (bits::IP unset).
    pub src_ip: u128,
    pub dst_ip: u128,
    /// The MAC as a big-endian 48-bit number ([`mac_word`]); 0 ([`MAC_NONE`]) when the link
    /// layer has none. A word, not bytes: the interning that reads it right after decoding
    /// would otherwise load across the halves of a split 6-byte store, which cannot be
    /// store-forwarded and stalled every packet.
    pub src_mac: u64,
    pub dst_mac: u64,
    pub ip_len: u32,
    pub sport: u16,
    pub dport: u16,
    pub tcp_len: u32,
    pub vlan: Option<u16>,
    pub ethertype: u16,
    pub bits: u16,
    pub ttl: u8,
    pub ip_proto: u8,
    pub tcp_flags: u8,
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

/// Largest record we accept; anything larger is a corrupt length field.
const MAX_RECORD: usize = 1 << 20;
const CHUNK: usize = 1 << 20;
/// Parsed bytes of a mapped capture released from the resident set at a time.
const RELEASE_STEP: usize = 8 << 20;

/// Hands out the unparsed tail of a capture, either read in chunks into one reused buffer or
/// memory-mapped ([`Chunked::mapped`]). Whole files are read: on this host, copying the page
/// cache out costs less than mapping it in and out again (ingest of the lab week 1.51-1.54 s
/// read against 1.65-1.68 s mapped, three alternating rounds; on the previous host, whose
/// copies were 2-3 times slower, mapping was 8 % faster). Segments of one large pcap are
/// mapped, since finding where a segment starts needs the whole file at hand. Anything that
/// cannot be mapped (pipes, special files, a failed map) is read.
///
/// A mapped file that shrinks while it is read (see [`crate::mapguard`]) ends the read with an
/// error; the records already handed out that were read from where the file no longer
/// reaches are counted in `dropped`, for the caller to take back.
struct Chunked {
    file: File,
    map: Option<GuardedMap>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `avail()[0]`.
    offset: u64,
    eof: bool,
    /// Index in the map up to which cache lines were prefetched.
    pf: usize,
    /// Index in the map below which pages were released (see [`GuardedMap::release_before`]).
    released: usize,
    /// End offsets of the last records handed out from the map (a ring). Cells, because the
    /// parsed record still borrows the reader when it is noted.
    ends: [Cell<u64>; ENDS],
    records: Cell<usize>,
    /// Records handed out that lie past the point where the file was cut, and the offset of
    /// the first of them.
    dropped: Cell<usize>,
    dropped_from: Cell<u64>,
    /// The file's length when a read (not mapped) file was opened: a read file that is shorter
    /// at the end was cut while it was read (0 for pipes and unknown lengths: never checked).
    open_len: u64,
    /// A compressed file's decompressor: records are read from its output, and `offset`
    /// counts decompressed bytes.
    packed: Option<Packed>,
    /// A read error met after some bytes of a fill had arrived: those are parsed first, and
    /// the next fill returns it (a cut compressed stream keeps the packets it still holds).
    failed: Option<std::io::Error>,
}

/// How a capture file is stored: as is, or compressed whole, as tcpdump's `-z gzip` leaves
/// rotated files and as capture archives are often kept. Detected by magic, like the capture
/// format; tshark reads the same files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

impl Compression {
    /// The compression whose magic `head` begins with (`None`: stored as is).
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        match head {
            [0x1f, 0x8b, ..] => Some(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
    /// A decompressor reading `src` (every gzip member, every zstd frame).
    fn reader(self, src: Counted) -> std::io::Result<Box<dyn Read>> {
        Ok(match self {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(src)?),
        })
    }
}

/// How capture file names end: the formats' usual extensions, compressed or not (longest
/// first, so the compressed ones win).
const CAPTURE_SUFFIXES: [&str; 9] = [
    ".pcapng.gz",
    ".pcapng.zst",
    ".pcap.gz",
    ".pcap.zst",
    ".cap.gz",
    ".cap.zst",
    ".pcapng",
    ".pcap",
    ".cap",
];

/// The capture ending of a file name (case-insensitive), as the name spells it: for telling
/// captures among dropped files and making a glob for their kind. Reading goes by magic.
pub fn capture_suffix(name: &str) -> Option<&str> {
    let lower = name.to_ascii_lowercase();
    CAPTURE_SUFFIXES
        .iter()
        .find(|s| lower.ends_with(*s))
        .map(|s| &name[name.len() - s.len()..])
}

/// Compressions labelbench does not read, by magic, for an error that says what the file is.
fn other_compression(head: &[u8]) -> Option<&'static str> {
    match head {
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Some("an xz-compressed file"),
        [b'B', b'Z', b'h', ..] => Some("a bzip2-compressed file"),
        [0x04, 0x22, 0x4d, 0x18, ..] => Some("an lz4-compressed file"),
        [b'P', b'K', 3, 4, ..] => Some("a zip archive"),
        _ => None,
    }
}

/// What reads a compressed capture ([`Chunked::packed`]).
struct Packed {
    kind: Compression,
    reader: Box<dyn Read>,
    /// Compressed bytes taken from the file so far.
    taken: Rc<Cell<u64>>,
}

/// A compressed file's bytes as its decompressor takes them, counted (for progress, and for
/// how far into the file a read got).
struct Counted {
    head: std::io::Cursor<Vec<u8>>,
    file: File,
    taken: Rc<Cell<u64>>,
}

impl Read for Counted {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = match self.head.read(out)? {
            0 => self.file.read(out)?,
            n => n,
        };
        self.taken.set(self.taken.get() + n as u64);
        Ok(n)
    }
}

/// Records remembered for taking back: a file cut inside a page reads as zeros up to the page
/// end (no fault), which is at most 4 KiB / 16 bytes = 256 records.
const ENDS: usize = 512;

impl Chunked {
    /// Reads `file` in chunks; a compressed file is decompressed as it is read. Its first
    /// bytes are read, not peeked, so that pipes work too.
    fn read(mut file: File) -> std::io::Result<Self> {
        let open_len = file.metadata().map_or(0, |m| m.len());
        let mut head = Vec::with_capacity(8);
        (&mut file).take(8).read_to_end(&mut head)?;
        let packed = match Compression::sniff(&head) {
            Some(z) => {
                let taken = Rc::new(Cell::new(0));
                let src = Counted {
                    head: std::io::Cursor::new(std::mem::take(&mut head)),
                    file: file.try_clone()?,
                    taken: Rc::clone(&taken),
                };
                Some(Packed {
                    kind: z,
                    reader: z.reader(src)?,
                    taken,
                })
            }
            None => None,
        };
        let end = head.len();
        Ok(Chunked {
            open_len,
            buf: head,
            end,
            packed,
            ..Self::with_map(file, None)
        })
    }
    /// Maps `file` (read in chunks if it cannot be mapped).
    fn mapped(file: File) -> Self {
        let map = GuardedMap::new(&file);
        Self::with_map(file, map)
    }
    /// How [`Part`] is best read: see [`Chunked`].
    fn for_part(file: File, part: Part) -> std::io::Result<Self> {
        match part {
            Part::Segment { .. } => Ok(Self::mapped(file)),
            Part::Whole | Part::From(_) => Self::read(file),
        }
    }
    /// How far into the file itself reading got: `offset`, or the compressed bytes taken.
    fn file_pos(&self) -> u64 {
        match &self.packed {
            Some(p) => p.taken.get(),
            None => self.offset,
        }
    }
    fn with_map(file: File, map: Option<GuardedMap>) -> Self {
        let eof = map.is_some();
        let end = map.as_ref().map_or(0, |m| m.bytes().len());
        Chunked {
            file,
            map,
            buf: Vec::new(),
            start: 0,
            end,
            offset: 0,
            eof,
            pf: 0,
            released: 0,
            ends: [const { Cell::new(0) }; ENDS],
            records: Cell::new(0),
            dropped: Cell::new(0),
            dropped_from: Cell::new(0),
            open_len: 0,
            packed: None,
            failed: None,
        }
    }
    /// Checks that the next `used` bytes (a record or block about to be used) are still
    /// backed by the file.
    #[inline(always)]
    fn check(&self, used: usize) -> Result<(), String> {
        match &self.map {
            Some(m) if !m.readable_to(self.start + used) => Err(self.lost()),
            _ => Ok(()),
        }
    }
    /// Notes that a packet record ending `used` bytes on was handed out.
    #[inline(always)]
    fn note_record(&self, used: usize) {
        if self.map.is_some() {
            let r = self.records.get();
            self.ends[r % ENDS].set(self.offset + used as u64);
            self.records.set(r + 1);
        }
    }
    /// After the last record: a mapped file that is now shorter than its map was partly read
    /// from zeros; a read file that is shorter than when it was opened lost its tail (what was
    /// read before the cut is the file's own bytes, so it is all kept).
    fn check_end(&self) -> Result<(), String> {
        let now = self.file.metadata().map_or(u64::MAX, |x| x.len());
        match &self.map {
            Some(m) if now < m.bytes().len() as u64 || m.lost_from().is_some() => Err(self.lost()),
            None if now < self.open_len => Err(format!(
                "the capture shrank from {} to {now} bytes while it was read (another program \
                 truncated or rewrote it); what followed byte {} was not read",
                self.open_len,
                self.offset.min(now)
            )),
            _ => Ok(()),
        }
    }
    /// The reason for a lost part of the map; sets `dropped` to the records handed out past
    /// the cut.
    #[cold]
    fn lost(&self) -> String {
        let Some(m) = &self.map else {
            return "read error".into();
        };
        let now = self.file.metadata().ok().map(|x| x.len());
        let lost = m.lost_from().map_or(u64::MAX, |l| l as u64);
        let cut = now.unwrap_or(u64::MAX).min(lost);
        let records = self.records.get();
        let end_of = |back: usize| self.ends[(records - 1 - back) % ENDS].get();
        let n = records.min(ENDS);
        let mut k = 0;
        while k < n && end_of(k) > cut {
            k += 1;
        }
        self.dropped.set(k);
        self.dropped_from.set(if k == 0 {
            self.offset
        } else if records > k {
            end_of(k)
        } else {
            cut
        });
        match now {
            Some(now) if now < m.bytes().len() as u64 => format!(
                "the capture shrank from {} to {now} bytes while it was read (another program \
                 truncated or rewrote it); what followed byte {} was not kept",
                m.bytes().len(),
                self.dropped_from.get().min(now)
            ),
            _ => format!(
                "the capture could not be read from byte {} on (a storage error while it was \
                 mapped)",
                self.dropped_from.get()
            ),
        }
    }
    /// Prefetches the mapped bytes a little ahead of the parse. The hardware prefetcher stops
    /// at every 4 KiB page, so without this each page's first records waited on memory.
    #[inline(always)]
    fn prefetch(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if let Some(m) = &self.map {
            let m = m.bytes();
            // Measured on the lab week: 2-4 KiB ahead is best; 512 B is too late, 8 KiB
            // starts to evict what is being parsed.
            const AHEAD: usize = 4096;
            let want = (self.start + AHEAD).min(m.len());
            while self.pf < want {
                // SAFETY: `pf < m.len()`, so the address is inside the map; a prefetch never
                // faults anyway.
                unsafe {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        m.as_ptr().add(self.pf) as *const i8,
                    )
                };
                self.pf += 64;
            }
        }
    }
    #[inline(always)]
    fn avail(&self) -> &[u8] {
        match &self.map {
            Some(m) => &m.bytes()[self.start..self.end],
            None => &self.buf[self.start..self.end],
        }
    }
    #[inline(always)]
    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
        if self.start - self.released >= RELEASE_STEP {
            self.release();
        }
    }
    /// Moves on to file offset `to` (not before the current one), e.g. to a segment's start.
    fn skip_to(&mut self, to: u64) -> std::io::Result<()> {
        let ahead = to.saturating_sub(self.offset);
        if self.map.is_some() || ahead <= (self.end - self.start) as u64 {
            let to = (self.start as u64 + ahead).min(self.end as u64) as usize;
            self.offset += (to - self.start) as u64;
            self.start = to;
            if self.map.is_some() {
                // Nothing before `to` was read through this map: nothing to prefetch or
                // release there (page-aligned for the release; 64 KiB covers any page size).
                self.pf = self.pf.max(to);
                self.released = self.released.max(to & !0xffff);
            }
            return Ok(());
        }
        use std::io::{Seek, SeekFrom};
        self.file.seek(SeekFrom::Start(to))?;
        self.offset = to;
        self.start = 0;
        self.end = 0;
        self.released = 0;
        self.eof = false;
        Ok(())
    }
    /// Releases the mapped pages already parsed, so the resident set holds a few MB of each
    /// capture being read rather than all of it.
    #[cold]
    fn release(&mut self) {
        match &self.map {
            Some(m) => self.released = m.release_before(self.released, self.start),
            None => self.released = self.start,
        }
    }
    /// Read more bytes so that at least `want` are available (or EOF). Returns false on EOF
    /// without progress.
    fn fill(&mut self, want: usize) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            self.released = 0;
        }
        let target = want.max(CHUNK);
        if self.buf.len() < target {
            self.buf.resize(target, 0);
        }
        let mut progressed = false;
        while self.end < target {
            let into = &mut self.buf[self.end..];
            let got = match &mut self.packed {
                Some(p) => p.reader.read(into).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("the {} data is corrupt or cut short ({e})", p.kind.name()),
                    )
                }),
                None => self.file.read(into),
            };
            let n = match got {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if progressed => {
                    self.failed = Some(e);
                    break;
                }
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
                break;
            }
            self.end += n;
            progressed = true;
        }
        Ok(progressed)
    }
}

/// Slots of [`Sink::recent`] (a power of two).
const RECENT: usize = 4096;

/// Interns conversations of one file and accumulates its packet rows.
struct Sink {
    cols: FileCols,
    convs: Vec<RawKey>,
    /// Conversation ids, hashed by their keys in `convs` (keys are stored once).
    table: hashbrown::HashTable<u32>,
    /// A direct-mapped cache in front of `table`, holding keys inline: a hit costs one load
    /// after hashing instead of the table's chain of control byte, id and key.
    recent: Vec<Slot>,
    /// Conversations already handed on with earlier pieces.
    handed_convs: usize,
    /// Rows already handed on with earlier pieces.
    handed_rows: u64,
}

/// A [`Sink::recent`] entry: a key and its id in one aligned cache line. As `(RawKey, u32)`
/// it took 80 bytes (the key's `u128`s align it to 16), so most look-ups touched two lines.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Slot([u64; 8]);

impl Slot {
    /// Holds no packet's key (see [`RawKey::NONE`]).
    const EMPTY: Slot = Slot::new(&RawKey::NONE, 0);

    #[inline(always)]
    const fn new(k: &RawKey, id: u32) -> Slot {
        Slot([
            k.ip_a as u64,
            (k.ip_a >> 64) as u64,
            k.ip_b as u64,
            (k.ip_b >> 64) as u64,
            k.mac_a,
            k.mac_b,
            k.small,
            id as u64,
        ])
    }
    /// Branch-free, like [`RawKey`]'s comparison.
    #[inline(always)]
    fn holds(&self, k: &RawKey) -> bool {
        let w = &self.0;
        ((w[0] ^ k.ip_a as u64)
            | (w[1] ^ (k.ip_a >> 64) as u64)
            | (w[2] ^ k.ip_b as u64)
            | (w[3] ^ (k.ip_b >> 64) as u64)
            | (w[4] ^ k.mac_a)
            | (w[5] ^ k.mac_b)
            | (w[6] ^ k.small))
            == 0
    }
}

impl Sink {
    fn new(rows: Vec<PacketRow>) -> Self {
        Sink {
            cols: FileCols { rows },
            convs: Vec::new(),
            table: hashbrown::HashTable::new(),
            recent: vec![Slot::EMPTY; RECENT],
            handed_convs: 0,
            handed_rows: 0,
        }
    }

    /// Packets taken so far (the index in the part read of the next one).
    fn packets(&self) -> u64 {
        self.handed_rows + self.cols.rows.len() as u64
    }

    /// Hands the rows so far on as a piece (see [`read_capture_pieces`]), keeping back the
    /// last [`ENDS`]: a file cut while mapped takes back at most that many records, and those
    /// must still be here to be taken back.
    #[cold]
    #[inline(never)]
    fn hand_off(
        &mut self,
        path: &Path,
        format: &'static str,
        bytes: u64,
        start: Option<u64>,
        emit: Emit<'_>,
    ) {
        let rows = &mut self.cols.rows;
        let kept: Vec<PacketRow> = rows[rows.len().saturating_sub(ENDS)..].to_vec();
        rows.truncate(rows.len() - kept.len());
        self.handed_rows += rows.len() as u64;
        let convs = self.convs[self.handed_convs..]
            .iter()
            .map(|&k| k.to_conv())
            .collect();
        self.handed_convs = self.convs.len();
        let mut piece = FileParse::empty(path);
        piece.format = format;
        piece.bytes_read = bytes;
        piece.span = start.map(|s| (s, bytes));
        piece.convs = convs;
        piece.cols.rows = std::mem::take(rows);
        let mut fresh = emit(piece);
        fresh.clear();
        fresh.extend_from_slice(&kept);
        *rows = fresh;
    }
    #[inline(always)]
    fn push(&mut self, ts: i64, orig_len: u32, d: &Decoded) {
        let (key, ba) = RawKey::of(d);
        let slot = &mut self.recent[key.slot()];
        let id = if slot.holds(&key) {
            slot.0[7] as u32
        } else {
            let h = key.hash64();
            let convs = &mut self.convs;
            let id = match self.table.find(h, |&i| convs[i as usize] == key) {
                Some(&i) => i,
                None => {
                    let i = convs.len() as u32;
                    convs.push(key);
                    self.table
                        .insert_unique(h, i, |&j| convs[j as usize].hash64());
                    i
                }
            };
            *slot = Slot::new(&key, id);
            id
        };
        self.cols.rows.push(PacketRow {
            ts,
            orig_len,
            conv: id,
            ip_len: d.ip_len.min(u16::MAX as u32) as u16,
            tcp_len: d.tcp_len.min(u16::MAX as u32) as u16,
            bits: d.bits | if ba { bits::DIR_BA } else { 0 },
            ttl: d.ttl,
            tcp_flags: d.tcp_flags,
        });
    }
}

#[inline]
fn v4_mapped(a: [u8; 4]) -> u128 {
    0xffff_u128 << 32 | u32::from_be_bytes(a) as u128
}

/// A MAC as a big-endian 48-bit number, so numeric order is byte order.
#[inline]
pub fn mac_word(m: &[u8; 6]) -> u64 {
    u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]])
}

/// The inverse of [`mac_word`].
pub fn word_mac(w: u64) -> [u8; 6] {
    let b = w.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// A [`ConvKey`] in machine words, for interning: building, comparing and hashing it per
/// packet costs a few word operations instead of byte-array shuffles. Numeric order of the
/// big-endian words is the byte order [`ConvKey`] uses.
#[derive(Clone, Copy, Eq)]
struct RawKey {
    ip_a: u128,
    ip_b: u128,
    mac_a: u64,
    mac_b: u64,
    /// proto | ethertype << 8 | is_l2 << 24 | v6 << 25 | port_a << 32 | port_b << 48.
    small: u64,
}

/// Branch-free: every packet compares its key once against the recent-conversation cache, and
/// the derived field-by-field comparison cost a branch per field.
impl PartialEq for RawKey {
    #[inline(always)]
    fn eq(&self, o: &Self) -> bool {
        ((self.ip_a ^ o.ip_a)
            | (self.ip_b ^ o.ip_b)
            | ((self.mac_a ^ o.mac_a) | (self.mac_b ^ o.mac_b) | (self.small ^ o.small)) as u128)
            == 0
    }
}

impl RawKey {
    /// Matches no packet's key: the layer-2 bit and ports are never set together.
    const NONE: RawKey = RawKey {
        ip_a: 0,
        ip_b: 0,
        mac_a: 0,
        mac_b: 0,
        small: u64::MAX,
    };

    #[inline(always)]
    fn of(d: &Decoded) -> (RawKey, bool) {
        let smac = d.src_mac;
        let dmac = d.dst_mac;
        if d.bits & bits::IP != 0 {
            // Read, compared and moved as 64-bit halves: decoding has just stored each address
            // as two 8-byte writes, and a 16-byte load across them cannot be store-forwarded
            // (it stalled every packet).
            let s = ((d.src_ip >> 64) as u64, d.src_ip as u64);
            let t = ((d.dst_ip >> 64) as u64, d.dst_ip as u64);
            let ba = (s, d.sport) > (t, d.dport);
            let (a, b, pa, pb, mac_a, mac_b) = if ba {
                (t, s, d.dport, d.sport, dmac, smac)
            } else {
                (s, t, d.sport, d.dport, smac, dmac)
            };
            let ip_a = (a.0 as u128) << 64 | a.1 as u128;
            let ip_b = (b.0 as u128) << 64 | b.1 as u128;
            let v6 = (d.bits & bits::IPV6 != 0) as u64;
            let small = d.ip_proto as u64 | v6 << 25 | (pa as u64) << 32 | (pb as u64) << 48;
            (
                RawKey {
                    ip_a,
                    ip_b,
                    mac_a,
                    mac_b,
                    small,
                },
                ba,
            )
        } else {
            let ba = smac > dmac;
            let (mac_a, mac_b) = if ba { (dmac, smac) } else { (smac, dmac) };
            let small = (d.ethertype as u64) << 8 | 1 << 24;
            (
                RawKey {
                    ip_a: 0,
                    ip_b: 0,
                    mac_a,
                    mac_b,
                    small,
                },
                ba,
            )
        }
    }

    /// The key's slot in the recent-conversation cache: one multiply over the xor of its words
    /// (the full [`RawKey::hash64`] is only needed on a miss). A slot only has to spread
    /// conversations; IPv6 prefixes are left out of it.
    #[inline(always)]
    fn slot(&self) -> usize {
        let x = self.ip_a as u64
            ^ (self.ip_b as u64).rotate_left(21)
            ^ self.mac_a
            ^ self.mac_b.rotate_left(11)
            ^ self.small.rotate_left(37);
        (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize & (RECENT - 1)
    }

    #[inline(always)]
    fn hash64(&self) -> u64 {
        let h = fold(self.ip_a as u64 ^ SEEDS[0], self.ip_b as u64 ^ SEEDS[1])
            ^ fold(
                (self.ip_a >> 64) as u64 ^ SEEDS[2],
                (self.ip_b >> 64) as u64 ^ SEEDS[3],
            )
            ^ fold(self.mac_a ^ SEEDS[4], self.mac_b ^ SEEDS[5])
            ^ fold(self.small ^ SEEDS[6], SEEDS[7]);
        fold(h, SEEDS[7])
    }

    fn to_conv(self) -> ConvKey {
        let s = self.small;
        ConvKey {
            proto: s as u8,
            ethertype: (s >> 8) as u16,
            is_l2: s >> 24 & 1 != 0,
            ip_a: self.ip_a.to_be_bytes(),
            ip_b: self.ip_b.to_be_bytes(),
            port_a: (s >> 32) as u16,
            port_b: (s >> 48) as u16,
            mac_a: word_mac(self.mac_a),
            mac_b: word_mac(self.mac_b),
            v6: s >> 25 & 1 != 0,
        }
    }

    fn from_conv(k: &ConvKey) -> RawKey {
        RawKey {
            ip_a: u128::from_be_bytes(k.ip_a),
            ip_b: u128::from_be_bytes(k.ip_b),
            mac_a: mac_word(&k.mac_a),
            mac_b: mac_word(&k.mac_b),
            small: k.proto as u64
                | (k.ethertype as u64) << 8
                | (k.is_l2 as u64) << 24
                | (k.v6 as u64) << 25
                | (k.port_a as u64) << 32
                | (k.port_b as u64) << 48,
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

/// Nominal bytes per segment when one large legacy pcap is read by several readers at once.
pub const SEGMENT: u64 = 128 << 20;

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

/// How many segments of `bytes` a capture is read in ([`Part::Segment`]): one unless it is a
/// legacy pcap (not the modified format) of at least two segments. pcapng is never split: its
/// blocks depend on the interfaces described before them.
pub fn segments_of(path: &Path, bytes: u64) -> usize {
    File::open(path).map_or(1, |f| segments_of_file(&f, bytes))
}

/// [`segments_of`] for a file already open (its read position is left where it was).
pub fn segments_of_file(f: &File, bytes: u64) -> usize {
    use std::os::unix::fs::FileExt;
    let len = f.metadata().map_or(0, |m| m.len());
    let mut head = [0u8; 4];
    if bytes == 0 || len < 2 * bytes || f.read_exact_at(&mut head, 0).is_err() {
        return 1;
    }
    // The modified format's records are not what segment starts are looked for by.
    let modified = head == [0x34, 0xcd, 0xb2, 0xa1] || head == [0xa1, 0xb2, 0xcd, 0x34];
    match sniff_format(&head) {
        Some("pcap") if !modified => len.div_ceil(bytes) as usize,
        _ => 1,
    }
}

/// Records a candidate segment start must lead through (each a plausible record header,
/// ending where the next begins) to be taken. A wrong guess costs time, not correctness: the
/// merge keeps a segment only if the segment before it ended exactly on its start.
const CHAIN: usize = 32;

/// Where segment `k` of `s` starts in `map` (a legacy pcap whose byte order and timestamp
/// unit are `be` and `ns`), if a plausible record boundary lies in its nominal range.
fn segment_start(map: &[u8], be: bool, ns: bool, s: (usize, u64), k: usize) -> Option<usize> {
    let (count, bytes) = s;
    if k == 0 {
        return Some(24.min(map.len()));
    }
    if k >= count {
        return Some(map.len());
    }
    let lo = (k as u64 * bytes).min(map.len() as u64) as usize;
    let hi = ((k as u64 + 1) * bytes).min(map.len() as u64) as usize;
    (lo..hi).find(|&p| plausible_chain(&map[p..], be, ns))
}

/// Whether `b` begins with [`CHAIN`] plausible records (or fewer that end exactly at its end).
fn plausible_chain(mut b: &[u8], be: bool, ns: bool) -> bool {
    let frac_limit = if ns { 1_000_000_000 } else { 1_000_000 };
    let mut prev_sec: Option<u32> = None;
    for _ in 0..CHAIN {
        if b.is_empty() {
            return true;
        }
        let parsed = if be {
            pcap_parser::parse_pcap_frame_be(b)
        } else {
            pcap_parser::parse_pcap_frame(b)
        };
        let Ok((rest, blk)) = parsed else {
            return false;
        };
        let plausible = blk.ts_usec < frac_limit
            && blk.caplen as usize <= MAX_RECORD
            && blk.origlen >= blk.caplen
            && blk.origlen as usize <= MAX_RECORD
            && prev_sec.is_none_or(|p| blk.ts_sec.abs_diff(p) <= 86_400);
        if !plausible {
            return false;
        }
        prev_sec = Some(blk.ts_sec);
        b = rest;
    }
    true
}

/// The byte range `[start, end)` that segment `index` of `count` reads in `map`; `None` when
/// no record boundary lies in its nominal range (the segment before reads on to the next).
fn segment_range(
    map: &[u8],
    be: bool,
    ns: bool,
    index: usize,
    count: usize,
    bytes: u64,
) -> Option<(usize, usize)> {
    let s = (count, bytes);
    let start = segment_start(map, be, ns, s, index)?;
    let end = (index + 1..=count)
        .find_map(|k| segment_start(map, be, ns, s, k))
        .unwrap_or(map.len());
    Some((start, end))
}

/// Where each of `count` segments of `bytes` of a legacy pcap starts (`None`: it reads
/// nothing), as the readers locate them: for tests.
#[cfg(test)]
pub(crate) fn segment_starts(path: &Path, count: usize, bytes: u64) -> Vec<Option<u64>> {
    let file = File::open(path).unwrap();
    let map = GuardedMap::new(&file).unwrap();
    let (_, hdr) = pcap_parser::parse_pcap_header(map.bytes()).unwrap();
    let (be, ns) = (hdr.is_bigendian(), hdr.is_nanosecond_precision());
    (0..count)
        .map(|k| segment_start(map.bytes(), be, ns, (count, bytes), k).map(|x| x as u64))
        .collect()
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
        _ => {
            let head: Vec<String> = rd
                .avail()
                .iter()
                .take(4)
                .map(|b| format!("{b:02x}"))
                .collect();
            let head = head.join(" ");
            Err((
                0,
                match (packed, other_compression(rd.avail())) {
                    (Some(z), _) => format!(
                        "not a pcap or pcapng file once its {} compression is undone (unknown \
                         magic {head})",
                        z.name()
                    ),
                    (None, Some(what)) => format!(
                        "{what}, which labelbench does not read: decompress it first (pcap and \
                         pcapng are read as they are or compressed with gzip or zstd)"
                    ),
                    (None, None) => format!("not a pcap or pcapng file (unknown magic {head})"),
                },
            ))
        }
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

fn io_err(idx: u64, e: std::io::Error) -> (u64, String) {
    (idx, format!("read error: {e}"))
}

/// What a reading loop reports besides the records.
struct Meta {
    path: PathBuf,
    issues: Vec<CaptureIssue>,
    link_types: Vec<i32>,
}

/// `visit` receives each record: link type, timestamp (ns), original length, captured bytes.
/// It is generic so that decoding inlines into the record loop.
fn read_pcap<V: FnMut(Linktype, i64, u32, &[u8], u64)>(
    rd: &mut Chunked,
    out: &mut Meta,
    progress: Option<&Progress>,
    (part, span_start): (Part, &Cell<Option<u64>>),
    visit: &mut V,
) -> ReadResult {
    let hdr = match pcap_parser::parse_pcap_header(rd.avail()) {
        Ok((_, h)) => h,
        Err(_) if rd.avail().starts_with(&[0xa1, 0xb2, 0xcd, 0x34]) => {
            return Err((
                0,
                "big-endian modified (Kuznetzov) pcap format is not supported".into(),
            ))
        }
        Err(_) => return Err((0, "truncated pcap global header".into())),
    };
    // The modified (Kuznetzov) format of old Red Hat tcpdumps adds 8 bytes to each record
    // header; pcap-parser reads it little-endian only, as it writes it (so does editcap).
    let modified = hdr.is_modified_format();
    rd.consume(24);
    let be = hdr.is_bigendian();
    let ns = hdr.is_nanosecond_precision();
    let lt = legacy_linktype(hdr.network);
    out.link_types.push(lt.0);
    // The part to read: records from `start` until one would begin at `end`. A segment whose
    // end is not a record boundary (the next one's start was a wrong guess) reads on to the
    // end of the file; the merge then drops the segments after it.
    let (start, mut end) = match part {
        Part::Whole => (24, u64::MAX),
        Part::From(at) => (at, u64::MAX),
        Part::Segment {
            index,
            count,
            bytes,
        } => match &rd.map {
            Some(m) => match segment_range(m.bytes(), be, ns, index, count, bytes) {
                Some((a, b)) => (a as u64, b as u64),
                None => return Ok(()),
            },
            None if index == 0 => (24, u64::MAX),
            None => return Ok(()),
        },
    };
    if part != Part::Whole {
        if start > 24 {
            rd.skip_to(start).map_err(|e| io_err(0, e))?;
        }
        span_start.set(Some(rd.offset));
    }
    let mut idx: u64 = 0;
    let mut last_report = rd.file_pos();
    loop {
        if rd.offset >= end {
            if rd.offset == end {
                break;
            }
            end = u64::MAX;
        }
        rd.prefetch();
        let parsed = if be {
            pcap_parser::parse_pcap_frame_be(rd.avail())
        } else if modified {
            pcap_parser::parse_pcap_frame_modified(rd.avail())
        } else {
            pcap_parser::parse_pcap_frame(rd.avail())
        };
        // Matched by reference so the record's fields are read one by one: moving the whole
        // result out cost a store-forwarding stall per packet (a twelfth of ingest time).
        let mut zero_header = false;
        match &parsed {
            Ok((_, blk))
                if blk.ts_sec == 0 && blk.ts_usec == 0 && blk.caplen == 0 && blk.origlen == 0 =>
            {
                zero_header = true;
            }
            Ok((rest, blk)) => {
                let used = rd.avail().len() - rest.len();
                rd.check(used).map_err(|r| (idx, r))?;
                rd.note_record(used);
                let frac = blk.ts_usec as i64;
                let ts = blk.ts_sec as i64 * 1_000_000_000 + if ns { frac } else { frac * 1000 };
                if blk.caplen > blk.origlen && blk.origlen != 0 {
                    out.issues.push(CaptureIssue {
                        file: out.path.clone(),
                        packet_index: idx,
                        byte_offset: rd.offset,
                        reason: format!(
                            "captured length {} exceeds original length {}",
                            blk.caplen, blk.origlen
                        ),
                        fatal: false,
                    });
                }
                visit(lt, ts, blk.origlen.max(blk.caplen), blk.data, rd.offset);
                rd.consume(used);
                idx += 1;
            }
            Err(nom_err) => {
                let need = match nom_err {
                    pcap_parser::nom::Err::Incomplete(pcap_parser::nom::Needed::Size(n)) => n.get(),
                    pcap_parser::nom::Err::Incomplete(_) => 16,
                    _ => return Err((idx, "corrupt packet record".into())),
                };
                let have = rd.avail().len();
                if have + need > MAX_RECORD + 16 {
                    return Err((
                        idx,
                        format!(
                            "corrupt record length ({} bytes announced)",
                            have + need - 16
                        ),
                    ));
                }
                if !rd.fill(have + need).map_err(|e| io_err(idx, e))? {
                    if rd.avail().is_empty() {
                        break;
                    }
                    if rd.avail().iter().all(|&b| b == 0) {
                        out.issues.push(zero_tail(&out.path, idx, rd));
                        break;
                    }
                    return Err((
                        idx,
                        format!(
                            "truncated last record ({} of {} bytes present)",
                            rd.avail().len(),
                            have + need
                        ),
                    ));
                }
            }
        }
        if zero_header {
            // A record header of zeros followed by more zeros (or the end) is not a packet:
            // a pre-allocated file or a crash left zeros where records were to be written.
            if zeros_follow(rd, 16).map_err(|e| io_err(idx, e))? {
                out.issues.push(zero_tail(&out.path, idx, rd));
                break;
            }
            rd.check(16).map_err(|r| (idx, r))?;
            rd.note_record(16);
            visit(lt, 0, 0, &[], rd.offset);
            rd.consume(16);
            idx += 1;
        }
        if let Some(p) = progress {
            if rd.file_pos() - last_report > (1 << 20) {
                p.add(rd.file_pos() - last_report);
                last_report = rd.file_pos();
            }
            if p.cancelled() {
                return Err((idx, "cancelled".into()));
            }
        }
    }
    if let Some(p) = progress {
        p.add(rd.file_pos() - last_report);
    }
    rd.check_end().map_err(|r| (idx, r))
}

/// Whether the `n` bytes after the next `at` are all zero, or the data ends before them.
fn zeros_follow(rd: &mut Chunked, at: usize) -> std::io::Result<bool> {
    let full = rd.fill(at + 16)?;
    let a = rd.avail();
    let next = &a[at.min(a.len())..a.len().min(at + 16)];
    Ok(next.iter().all(|&b| b == 0) && (full || next.len() < 16))
}

/// The warning for a run of zeros where the next record or block should begin: the data ends
/// there, as tshark reads it.
#[cold]
fn zero_tail(path: &Path, idx: u64, rd: &Chunked) -> CaptureIssue {
    let len = rd.file.metadata().map_or(0, |m| m.len());
    let rest = match &rd.packed {
        None if len >= rd.offset => format!(" ({} bytes to the end of the file)", len - rd.offset),
        _ => String::new(),
    };
    CaptureIssue {
        file: path.to_path_buf(),
        packet_index: idx,
        byte_offset: rd.offset,
        reason: format!(
            "zero-filled data where the next record should begin{rest}: read as the end of the \
             capture (a file pre-allocated, or cut short by a crash)"
        ),
        fatal: false,
    }
}

/// The link type of a legacy pcap header's link-type field. Newer libpcap writes an FCS
/// length into its top bits (a flag in bit 26, the length in 16-bit words in bits 28-31)
/// when frames keep their frame check sequence; read whole, such a field named no known
/// link type and every packet lost its headers. Ethernet frames need nothing more: the
/// trailing FCS lies past the IP datagram, whose own length bounds what is decoded, and is
/// part of the original length, as in tshark's `frame.len`. A field with reserved bits
/// (16-25) set is kept whole, so it is reported as an unsupported link type.
fn legacy_linktype(field: Linktype) -> Linktype {
    let raw = field.0 as u32;
    if raw & 0x03ff_0000 != 0 {
        field
    } else {
        Linktype((raw & 0xffff) as i32)
    }
}

struct Iface {
    linktype: Linktype,
    /// Units per second.
    resol: u64,
    offset_s: i64,
}

fn read_pcapng<V: FnMut(Linktype, i64, u32, &[u8], u64)>(
    rd: &mut Chunked,
    out: &mut Meta,
    progress: Option<&Progress>,
    visit: &mut V,
) -> ReadResult {
    let mut be = false;
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut last_ts: i64 = 0;
    let mut idx: u64 = 0;
    let mut last_report = 0u64;
    let mut seen_shb = false;
    let mut unrepresentable = OutOfRange::default();
    loop {
        rd.prefetch();
        let avail = rd.avail();
        if avail.is_empty() {
            if !rd.fill(12).map_err(|e| io_err(idx, e))? {
                break;
            }
            continue;
        }
        // No block has type 0 and length 0: zeros here are where blocks were to be written.
        if seen_shb && avail.len() >= 8 && avail[..8] == [0; 8] {
            out.issues.push(zero_tail(&out.path, idx, rd));
            break;
        }
        // Section headers carry their own byte order.
        let is_shb = avail.len() >= 4 && avail[..4] == [0x0a, 0x0d, 0x0d, 0x0a];
        let parsed = if is_shb {
            pcap_parser::parse_sectionheaderblock(avail).map(|(r, b)| (r, Block::SectionHeader(b)))
        } else if be {
            pcap_parser::parse_block_be(avail)
        } else {
            pcap_parser::parse_block_le(avail)
        };
        match parsed {
            Ok((rest, block)) => {
                let used = avail.len() - rest.len();
                rd.check(used).map_err(|r| (idx, r))?;
                match block {
                    Block::SectionHeader(shb) => {
                        be = shb.big_endian();
                        ifaces.clear();
                        seen_shb = true;
                    }
                    Block::InterfaceDescription(idb) => {
                        let n = ifaces.len();
                        let mut warn = |why: String, then: &str| {
                            out.issues.push(CaptureIssue {
                                file: out.path.clone(),
                                packet_index: idx,
                                byte_offset: rd.offset,
                                reason: format!("interface {n}: {why}; {then}"),
                                fatal: false,
                            })
                        };
                        let resol = iface_resolution(&idb).unwrap_or_else(|why| {
                            warn(why, "its times are read as microseconds");
                            1_000_000
                        });
                        let offset_s = iface_offset(&idb, be).unwrap_or_else(|why| {
                            warn(why, "no offset is added to its times");
                            0
                        });
                        out.link_types.push(idb.linktype.0);
                        ifaces.push(Iface {
                            linktype: idb.linktype,
                            resol,
                            offset_s,
                        });
                    }
                    Block::EnhancedPacket(epb) => {
                        let units = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                        let (lt, ns) = packet_clock(&ifaces, epb.if_id, units, idx)?;
                        let ns = ns.unwrap_or_else(|| {
                            unrepresentable.note(out, idx, rd.offset);
                            last_ts
                        });
                        last_ts = ns;
                        visit(lt, ns, epb.origlen.max(epb.caplen), epb.data, rd.offset);
                        idx += 1;
                        rd.note_record(used);
                    }
                    // pcap-parser gives an unknown block's type as read little-endian.
                    Block::Unknown(ub)
                        if OBSOLETE_PACKET_BLOCK
                            == if be {
                                ub.block_type.swap_bytes()
                            } else {
                                ub.block_type
                            } =>
                    {
                        let pb = ObsoletePacket::parse(ub.data, be).ok_or_else(|| {
                            (
                                idx,
                                "corrupt block (packet block shorter than its lengths)".into(),
                            )
                        })?;
                        let (lt, ns) = packet_clock(&ifaces, pb.if_id.into(), pb.units, idx)?;
                        let ns = ns.unwrap_or_else(|| {
                            unrepresentable.note(out, idx, rd.offset);
                            last_ts
                        });
                        last_ts = ns;
                        visit(
                            lt,
                            ns,
                            pb.orig_len.max(pb.data.len() as u32),
                            pb.data,
                            rd.offset,
                        );
                        idx += 1;
                        rd.note_record(used);
                    }
                    Block::SimplePacket(spb) => {
                        let Some(ifc) = ifaces.first() else {
                            return Err((idx, "simple packet before any interface".into()));
                        };
                        // Simple packets have no timestamp; keep the previous one.
                        visit(ifc.linktype, last_ts, spb.origlen, spb.data, rd.offset);
                        idx += 1;
                        rd.note_record(used);
                    }
                    _ => {}
                }
                rd.consume(used);
            }
            Err(e) => {
                let need = match e {
                    pcap_parser::nom::Err::Incomplete(pcap_parser::nom::Needed::Size(n)) => n.get(),
                    pcap_parser::nom::Err::Incomplete(_) => 12,
                    pcap_parser::nom::Err::Error(PcapError::Incomplete(n))
                    | pcap_parser::nom::Err::Failure(PcapError::Incomplete(n)) => n,
                    pcap_parser::nom::Err::Error(pe) | pcap_parser::nom::Err::Failure(pe) => {
                        let what = if !seen_shb {
                            "missing section header block".to_string()
                        } else {
                            corrupt_block(avail, be, &pe)
                        };
                        return Err((idx, what));
                    }
                };
                let have = avail.len();
                if have + need > MAX_RECORD + 64 {
                    return Err((
                        idx,
                        format!("corrupt block length ({} bytes announced)", have + need),
                    ));
                }
                if !rd.fill(have + need).map_err(|e| io_err(idx, e))? {
                    if rd.avail().is_empty() {
                        break;
                    }
                    return Err((
                        idx,
                        format!(
                            "truncated last block ({} of {} bytes present)",
                            rd.avail().len(),
                            have + need
                        ),
                    ));
                }
            }
        }
        if let Some(p) = progress {
            if rd.file_pos() - last_report > (1 << 20) {
                p.add(rd.file_pos() - last_report);
                last_report = rd.file_pos();
            }
            if p.cancelled() {
                return Err((idx, "cancelled".into()));
            }
        }
    }
    if let Some(p) = progress {
        p.add(rd.file_pos() - last_report);
    }
    rd.check_end().map_err(|r| (idx, r))
}

/// Why a pcapng block could not be read, by its type and announced length (never its bytes,
/// which a damaged file can make a megabyte long).
fn corrupt_block(b: &[u8], be: bool, e: &PcapError<&[u8]>) -> String {
    let word = |at: usize| {
        b.get(at..at + 4).map(|w| {
            let w: [u8; 4] = w.try_into().expect("four bytes");
            if be {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        })
    };
    let why = match e {
        PcapError::Eof => "unexpected end of data".to_string(),
        PcapError::ReadError => "read error".to_string(),
        PcapError::Incomplete(n) => format!("{n} more bytes needed"),
        PcapError::HeaderNotRecognized => "header not recognized".to_string(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("malformed content ({kind:?})")
        }
        _ => "malformed content".to_string(),
    };
    match (word(0), word(4)) {
        (Some(t), Some(len)) => {
            format!("corrupt block (type {t:#010x}, announced length {len} bytes: {why})")
        }
        _ => format!("corrupt block ({why})"),
    }
}

/// An interface's timestamp units per second (`if_tsresol`), or why it cannot be used. Read
/// from the option here because pcap-parser 0.17 rejects every power-of-two resolution (its
/// bound check includes the mode bit).
fn iface_resolution(idb: &pcap_parser::InterfaceDescriptionBlock<'_>) -> Result<u64, String> {
    match idb.if_tsresol() {
        None => Ok(1_000_000),
        Some(Err(_)) => Err("its if_tsresol option is not one byte long".into()),
        Some(Ok(r)) if r & 0x80 != 0 && r & 0x7f <= 63 => Ok(1u64 << (r & 0x7f)),
        Some(Ok(r)) if r <= 19 => Ok(10u64.pow(r.into())),
        Some(Ok(r)) => Err(format!(
            "its timestamp resolution {r:#04x} is not supported"
        )),
    }
}

/// An interface's `if_tsoffset` in seconds, or why it cannot be used. Read from the option
/// in the section's byte order: pcap-parser 0.17 reads it little-endian in every section.
fn iface_offset(idb: &pcap_parser::InterfaceDescriptionBlock<'_>, be: bool) -> Result<i64, String> {
    let code = pcap_parser::pcapng::OptionCode::IfTsoffset;
    let Some(o) = idb.options.iter().find(|o| o.code == code) else {
        return Ok(0);
    };
    match o.as_bytes().ok().and_then(|v| <[u8; 8]>::try_from(v).ok()) {
        Some(v) if be => Ok(i64::from_be_bytes(v)),
        Some(v) => Ok(i64::from_le_bytes(v)),
        None => Err("its if_tsoffset option is not eight bytes long".into()),
    }
}

/// pcapng's obsolete Packet Block (the format's first packet block, replaced by the enhanced
/// one), still read by tshark; pcap-parser hands it over as an unknown block.
const OBSOLETE_PACKET_BLOCK: u32 = 2;

/// The fields of an obsolete Packet Block: an enhanced packet block with a 16-bit interface id
/// and a drop count.
struct ObsoletePacket<'a> {
    if_id: u16,
    units: u64,
    orig_len: u32,
    data: &'a [u8],
}

impl<'a> ObsoletePacket<'a> {
    /// From the block's body (after type and length) in the section's byte order; `None`
    /// when the body is shorter than its fixed fields and captured length.
    fn parse(body: &'a [u8], be: bool) -> Option<Self> {
        // The `N` bytes at `i`, most significant first whatever the section's byte order.
        fn at<const N: usize>(body: &[u8], i: usize, be: bool) -> Option<[u8; N]> {
            let mut w: [u8; N] = body.get(i..i + N)?.try_into().ok()?;
            if !be {
                w.reverse();
            }
            Some(w)
        }
        let u16_at = |i| at(body, i, be).map(u16::from_be_bytes);
        let u32_at = |i| at(body, i, be).map(u32::from_be_bytes);
        let cap = u32_at(12)? as usize;
        Some(ObsoletePacket {
            if_id: u16_at(0)?,
            units: (u32_at(4)? as u64) << 32 | u32_at(8)? as u64,
            orig_len: u32_at(16)?,
            data: body.get(20..20usize.checked_add(cap)?)?,
        })
    }
}

/// A packet's link type and time ([`epb_time`]) from its interface; an unknown interface
/// ends the read at packet `idx`.
#[inline]
fn packet_clock(
    ifaces: &[Iface],
    if_id: u32,
    units: u64,
    idx: u64,
) -> Result<(Linktype, Option<i64>), (u64, String)> {
    match ifaces.get(if_id as usize) {
        Some(ifc) => Ok((ifc.linktype, epb_time(units, ifc))),
        None => Err((idx, format!("packet refers to unknown interface {if_id}"))),
    }
}

/// An enhanced packet block's time in ns since the epoch: its units at the interface's
/// resolution plus the interface's `if_tsoffset`. `None` beyond what an `i64` of ns holds
/// (after 2262), which plain arithmetic would wrap into a plausible but wrong time, and
/// before 1970 (only a negative offset gets there): a corrupt timestamp or offset. Packet
/// times are then never negative, as in legacy pcap, and any two of them are less than
/// `i64::MAX` ns apart, so spans never overflow.
fn epb_time(units: u64, ifc: &Iface) -> Option<i64> {
    let ns = (units as u128 * 1_000_000_000 / ifc.resol as u128) as i128;
    let ns = i64::try_from(ns + ifc.offset_s as i128 * 1_000_000_000).ok()?;
    (ns >= 0).then_some(ns)
}

/// Packets of one pcapng file whose time is out of range ([`epb_time`]). They are kept, with
/// the previous packet's time (as simple packets are), so packet counts still match other
/// tools; one warning per file names the first and counts them all.
#[derive(Default)]
struct OutOfRange {
    /// The warning's place in [`Meta::issues`], once there is one.
    at: Option<usize>,
    count: u64,
}

impl OutOfRange {
    #[cold]
    #[inline(never)]
    fn note(&mut self, out: &mut Meta, idx: u64, offset: u64) {
        self.count += 1;
        let reason = format!(
            "timestamp out of range (before 1970 or after 2262: a corrupt time or interface \
             offset): {} packet(s) from here on given the previous packet's time (the epoch before \
             any)",
            self.count
        );
        match self.at {
            Some(i) => out.issues[i].reason = reason,
            None => {
                self.at = Some(out.issues.len());
                out.issues.push(CaptureIssue {
                    file: out.path.clone(),
                    packet_index: idx,
                    byte_offset: offset,
                    reason,
                    fatal: false,
                });
            }
        }
    }
}

const LT_ETHERNET: i32 = 1;
const LT_RAW: i32 = 101;
const LT_RAW_OLD: i32 = 12;
const LT_IPV4: i32 = 228;
const LT_IPV6: i32 = 229;
const LT_SLL: i32 = 113;
const LT_SLL2: i32 = 276;

/// Decodes one frame of the given link type. An unknown link type adds one issue and yields a
/// packet with only its lengths and timestamp.
///
/// Ethernet, raw IP and SLL frames take [`decode_ether_type`]'s path over etherparse's layer
/// slices; it gives exactly what [`decode_link_full`] gives (a test checks every packet of the
/// real captures) without building a whole `LaxSlicedPacket` per packet, whose copies cost a
/// sixth of ingest time.
pub fn decode_link(
    lt: Linktype,
    data: &[u8],
    path: &Path,
    issues: &mut Vec<CaptureIssue>,
) -> Decoded {
    let mut d = Decoded::default();
    decode_link_into(lt, data, path, issues, &mut d);
    d
}

/// [`decode_link`] into a caller's `Decoded` (reset first). The ingest loop decodes in place:
/// returning the struct by value meant a wide copy of freshly written fields per packet,
/// which stalled on store forwarding.
#[inline(always)]
pub fn decode_link_into(
    lt: Linktype,
    data: &[u8],
    path: &Path,
    issues: &mut Vec<CaptureIssue>,
    d: &mut Decoded,
) {
    *d = Decoded::default();
    // The protocol bits are gathered in a register and stored once: or-ing them into
    // `d.bits` piecemeal compiled to byte-wide stores, and every later 16-bit load of the
    // field then waited for them to reach the cache (a store-forwarding stall per packet).
    let b = match lt.0 {
        LT_ETHERNET => match Ethernet2Slice::from_slice_without_fcs(data) {
            Ok(e) => {
                d.src_mac = mac_word(&e.source());
                d.dst_mac = mac_word(&e.destination());
                let et = e.ether_type();
                d.ethertype = et.0;
                match decode_ether_type(d, et, e.payload_slice()) {
                    Some(b) => b,
                    None => {
                        *d = decode_link_full(lt, data, path, issues);
                        return;
                    }
                }
            }
            Err(_) => bits::MALFORMED,
        },
        LT_RAW | LT_RAW_OLD | LT_IPV4 | LT_IPV6 => decode_ip(d, data).unwrap_or(bits::MALFORMED),
        _ => {
            *d = decode_link_full(lt, data, path, issues);
            return;
        }
    };
    d.bits = b;
}

/// Decodes what follows an Ethernet header (VLAN tags, then IP or ARP), as etherparse's
/// `LaxSlicedPacket::from_ether_type` would, returning the packet's [`bits`]; `None` for
/// MACsec, which only the full path handles.
#[inline(always)]
fn decode_ether_type(d: &mut Decoded, outer: EtherType, mut payload: &[u8]) -> Option<u16> {
    let mut et = outer;
    let mut tags = 0;
    loop {
        match et {
            EtherType::VLAN_TAGGED_FRAME
            | EtherType::PROVIDER_BRIDGING
            | EtherType::VLAN_DOUBLE_TAGGED_FRAME => {
                if tags == LaxSlicedPacket::LINK_EXTS_CAP {
                    break;
                }
                let Ok(v) = SingleVlanSlice::from_slice(payload) else {
                    break;
                };
                tags += 1;
                if d.vlan.is_none() {
                    d.vlan = Some(v.vlan_identifier().value());
                }
                et = v.ether_type();
                d.ethertype = et.0;
                payload = v.payload_slice();
            }
            EtherType::MACSEC => return None,
            _ => break,
        }
    }
    if outer.0 < 0x0600 {
        // 802.3 frame: the field is a length, the payload is LLC.
        d.ethertype = 0;
        return Some(bits::LLC);
    }
    let mut b = 0;
    if d.ethertype == 0x888e {
        b |= bits::EAPOL;
    }
    if matches!(et, EtherType::IPV4 | EtherType::IPV6) {
        b |= decode_ip(d, payload).unwrap_or(0);
    }
    Some(b)
}

/// An IP packet and its transport layer, as etherparse's `LaxIpSlice` slices them; returns
/// the packet's [`bits`], `None` when the IP header itself is unreadable.
///
/// IPv4 without an authentication header, nearly every packet, goes through etherparse's
/// `Ipv4HeaderSlice` with the payload bounded the way `LaxIpv4Slice` bounds it: the same
/// fields (a test compares every packet of the real captures with the `LaxSlicedPacket`
/// path) for half the instructions. Everything else takes `LaxIpSlice`.
#[inline(always)]
fn decode_ip(d: &mut Decoded, data: &[u8]) -> Option<u16> {
    if data.first().is_some_and(|b| b >> 4 == 4) {
        if let Ok(h) = etherparse::Ipv4HeaderSlice::from_slice(data) {
            if h.protocol() != etherparse::IpNumber::AUTHENTICATION_HEADER {
                let hl = h.slice().len();
                let total = h.total_len() as usize;
                let (payload, len_source, incomplete) = if total < hl {
                    (&data[hl..], etherparse::LenSource::Slice, false)
                } else if total > data.len() {
                    (&data[hl..], etherparse::LenSource::Slice, true)
                } else {
                    (
                        &data[hl..total],
                        etherparse::LenSource::Ipv4HeaderTotalLen,
                        false,
                    )
                };
                let ipp = etherparse::LaxIpPayloadSlice {
                    incomplete,
                    ip_number: h.protocol(),
                    fragmented: h.is_fragmenting_payload(),
                    len_source,
                    payload,
                };
                let declared = fill_ipv4_header(d, &h);
                return Some(bits::IP | fill_payload(d, declared, &ipp, true));
            }
        }
    }
    // By reference, like the pcap record: no wide copy of a freshly written result.
    match &LaxIpSlice::from_slice(data) {
        Ok((ip, ext_err)) => {
            let (b, declared, ipp) = match ip {
                LaxIpSlice::Ipv4(v4) => fill_ipv4(d, v4),
                LaxIpSlice::Ipv6(v6) => fill_ipv6(d, v6),
            };
            Some(b | fill_payload(d, declared, ipp, ext_err.is_none()))
        }
        Err(_) => None,
    }
}

/// The transport layer, sliced the way etherparse's lax cursor does: no transport slice for
/// fragments or after an extension-header error. Returns the transport's [`bits`].
#[inline(always)]
fn fill_payload(
    d: &mut Decoded,
    declared_payload: u32,
    ipp: &etherparse::LaxIpPayloadSlice<'_>,
    exts_ok: bool,
) -> u16 {
    let transport = if ipp.fragmented || !exts_ok {
        None
    } else {
        match ipp.ip_number {
            etherparse::IpNumber::ICMP => etherparse::Icmpv4Slice::from_slice(ipp.payload)
                .ok()
                .map(TransportSlice::Icmpv4),
            etherparse::IpNumber::IPV6_ICMP => etherparse::Icmpv6Slice::from_slice(ipp.payload)
                .ok()
                .map(TransportSlice::Icmpv6),
            etherparse::IpNumber::UDP => etherparse::UdpSlice::from_slice_lax(ipp.payload)
                .ok()
                .map(TransportSlice::Udp),
            etherparse::IpNumber::TCP => etherparse::TcpSlice::from_slice(ipp.payload)
                .ok()
                .map(TransportSlice::Tcp),
            _ => None,
        }
    };
    fill_transport(d, declared_payload, ipp, transport.as_ref())
}

/// The same decoding through etherparse's `LaxSlicedPacket` (the reference for
/// [`decode_link`], and the path for MACsec and Linux cooked captures).
pub fn decode_link_full(
    lt: Linktype,
    data: &[u8],
    path: &Path,
    issues: &mut Vec<CaptureIssue>,
) -> Decoded {
    let mut d = Decoded::default();
    match lt.0 {
        LT_ETHERNET => match LaxSlicedPacket::from_ethernet(data) {
            Ok(p) => fill_from_sliced(&mut d, &p),
            Err(_) => d.bits |= bits::MALFORMED,
        },
        LT_RAW | LT_RAW_OLD | LT_IPV4 | LT_IPV6 => match LaxSlicedPacket::from_ip(data) {
            Ok(p) => fill_from_sliced(&mut d, &p),
            Err(_) => d.bits |= bits::MALFORMED,
        },
        LT_SLL => match etherparse::LinuxSllSlice::from_slice(data) {
            Ok(sll) => {
                let addr = sll.sender_address_full();
                if sll.sender_address_valid_length() == 6 {
                    d.src_mac = mac_word(&[addr[0], addr[1], addr[2], addr[3], addr[4], addr[5]]);
                }
                if let etherparse::LinuxSllProtocolType::EtherType(et) = sll.protocol_type() {
                    let p = LaxSlicedPacket::from_ether_type(et, sll.payload_slice());
                    d.ethertype = et.0;
                    fill_from_sliced(&mut d, &p);
                } else {
                    d.bits |= bits::LLC;
                }
            }
            Err(_) => d.bits |= bits::MALFORMED,
        },
        LT_SLL2 => {
            // etherparse has no SLL2 slice; its 20-byte header starts with the ethertype and
            // ends with the 8-byte sender address (tcpdump's sll2 layout).
            if data.len() >= 20 {
                let et = u16::from_be_bytes([data[0], data[1]]);
                if data[11] == 6 {
                    let mut m = [0u8; 6];
                    m.copy_from_slice(&data[12..18]);
                    d.src_mac = mac_word(&m);
                }
                d.ethertype = et;
                let p = LaxSlicedPacket::from_ether_type(etherparse::EtherType(et), &data[20..]);
                fill_from_sliced(&mut d, &p);
            } else {
                d.bits |= bits::MALFORMED;
            }
        }
        other => {
            issues.push(CaptureIssue {
                file: path.to_path_buf(),
                packet_index: 0,
                byte_offset: 0,
                reason: format!(
                    "{UNSUPPORTED_LINK} {other}: packets kept with timestamps and lengths only"
                ),
                fatal: false,
            });
        }
    }
    d
}

fn fill_from_sliced(d: &mut Decoded, p: &LaxSlicedPacket<'_>) {
    let mut outer_et: Option<u16> = None;
    if let Some(LinkSlice::Ethernet2(e)) = &p.link {
        d.src_mac = mac_word(&e.source());
        d.dst_mac = mac_word(&e.destination());
        outer_et = Some(e.ether_type().0);
        d.ethertype = e.ether_type().0;
    }
    for ext in &p.link_exts {
        if let etherparse::LaxLinkExtSlice::Vlan(v) = ext {
            if d.vlan.is_none() {
                d.vlan = Some(v.vlan_identifier().value());
            }
            d.ethertype = v.ether_type().0;
        }
    }
    if outer_et.is_some_and(|et| et < 0x0600) {
        // 802.3 frame: the field is a length, the payload is LLC.
        d.bits |= bits::LLC;
        d.ethertype = 0;
        return;
    }
    if d.ethertype == 0x888e {
        d.bits |= bits::EAPOL;
    }
    let Some(net) = &p.net else {
        return;
    };
    let (b, declared_payload, ipp) = match net {
        LaxNetSlice::Ipv4(v4) => fill_ipv4(d, v4),
        LaxNetSlice::Ipv6(v6) => fill_ipv6(d, v6),
        LaxNetSlice::Arp(_) => return,
    };
    d.bits |= b | fill_transport(d, declared_payload, ipp, p.transport.as_ref());
}

/// IPv4 fields; returns the layer's bits, the payload length the header declares and the
/// payload slice.
#[inline]
fn fill_ipv4<'a>(
    d: &mut Decoded,
    v4: &'a etherparse::LaxIpv4Slice<'_>,
) -> (u16, u32, &'a etherparse::LaxIpPayloadSlice<'a>) {
    (bits::IP, fill_ipv4_header(d, &v4.header()), v4.payload())
}

/// IPv4 header fields (the caller adds [`bits::IP`]); returns the payload length the header
/// declares.
#[inline(always)]
fn fill_ipv4_header(d: &mut Decoded, h: &etherparse::Ipv4HeaderSlice<'_>) -> u32 {
    d.ip_len = h.total_len() as u32;
    d.ttl = h.ttl();
    d.src_ip = v4_mapped(h.source());
    d.dst_ip = v4_mapped(h.destination());
    d.ethertype = 0x0800;
    let hl = h.ihl() as u32 * 4;
    d.ip_len.saturating_sub(hl)
}

/// IPv6 fields; returns the layer's bits, the payload length after extension headers and
/// the payload slice.
#[inline]
fn fill_ipv6<'a>(
    d: &mut Decoded,
    v6: &'a etherparse::LaxIpv6Slice<'_>,
) -> (u16, u32, &'a etherparse::LaxIpPayloadSlice<'a>) {
    let h = v6.header();
    d.ip_len = h.payload_length() as u32 + 40;
    d.ttl = h.hop_limit();
    d.src_ip = u128::from_be_bytes(h.source());
    d.dst_ip = u128::from_be_bytes(h.destination());
    d.ethertype = 0x86dd;
    let ext = v6.extensions().slice().len() as u32;
    (
        bits::IP | bits::IPV6,
        (h.payload_length() as u32).saturating_sub(ext),
        v6.payload(),
    )
}

/// Transport fields; returns the transport's [`bits`] (see [`decode_link_into`] for why
/// they are not or-ed into `d` here).
#[inline(always)]
fn fill_transport(
    d: &mut Decoded,
    declared_payload: u32,
    ipp: &etherparse::LaxIpPayloadSlice<'_>,
    transport: Option<&TransportSlice<'_>>,
) -> u16 {
    d.ip_proto = ipp.ip_number.0;
    match transport {
        Some(TransportSlice::Tcp(t)) => {
            let (sport, dport) = (t.source_port(), t.destination_port());
            let tcp_len = declared_payload.saturating_sub(t.data_offset() as u32 * 4);
            d.sport = sport;
            d.dport = dport;
            d.tcp_flags = tcp_flag_byte(t.fin(), t.syn(), t.rst(), t.psh(), t.ack());
            d.tcp_len = tcp_len;
            bits::TCP | classify_tcp(sport, dport, tcp_len, t.payload())
        }
        Some(TransportSlice::Udp(u)) => {
            let (sport, dport) = (u.source_port(), u.destination_port());
            d.sport = sport;
            d.dport = dport;
            bits::UDP | classify_udp(sport, dport, declared_payload.saturating_sub(8))
        }
        // ICMP type and code take the place of the ports (Zeek's and Community ID's
        // convention), so a flow can carry its Community ID.
        Some(TransportSlice::Icmpv4(i)) => {
            d.sport = i.type_u8() as u16;
            d.dport = i.code_u8() as u16;
            bits::ICMP
        }
        Some(TransportSlice::Icmpv6(i)) => {
            d.sport = i.type_u8() as u16;
            d.dport = i.code_u8() as u16;
            bits::ICMP
        }
        _ => {
            let raw = ipp.payload;
            let ports = (raw.len() >= 4).then(|| {
                (
                    u16::from_be_bytes([raw[0], raw[1]]),
                    u16::from_be_bytes([raw[2], raw[3]]),
                )
            });
            match ipp.ip_number {
                etherparse::IpNumber::TCP => {
                    // etherparse only slices a complete TCP header; in headers-only captures the
                    // options may be cut. Ports, data offset and flags sit at fixed offsets
                    // (RFC 9293), which is what Wireshark reads for a partial header too.
                    let (sport, dport) = ports.unwrap_or((0, 0));
                    d.sport = sport;
                    d.dport = dport;
                    let mut tcp_len = 0;
                    if raw.len() >= 14 {
                        let off = (raw[12] >> 4) as u32 * 4;
                        let f = raw[13];
                        d.tcp_flags = tcp_flag_byte(
                            f & 1 != 0,
                            f & 2 != 0,
                            f & 4 != 0,
                            f & 8 != 0,
                            f & 16 != 0,
                        );
                        tcp_len = declared_payload.saturating_sub(off);
                        d.tcp_len = tcp_len;
                    }
                    bits::TCP | classify_tcp(sport, dport, tcp_len, &[])
                }
                etherparse::IpNumber::UDP => {
                    let (sport, dport) = ports.unwrap_or((0, 0));
                    d.sport = sport;
                    d.dport = dport;
                    bits::UDP | classify_udp(sport, dport, declared_payload.saturating_sub(8))
                }
                etherparse::IpNumber::ICMP | etherparse::IpNumber::IPV6_ICMP => {
                    // A header cut short still shows its type and code (not in a fragment).
                    if raw.len() >= 2 && !ipp.fragmented {
                        d.sport = raw[0] as u16;
                        d.dport = raw[1] as u16;
                    }
                    bits::ICMP
                }
                _ if declared_payload > 0 => bits::DATA,
                _ => 0,
            }
        }
    }
}

fn tcp_flag_byte(fin: bool, syn: bool, rst: bool, psh: bool, ack: bool) -> u8 {
    let f = |on: bool, bit: u8| if on { bit } else { 0 };
    f(fin, tcpf::FIN)
        | f(syn, tcpf::SYN)
        | f(rst, tcpf::RST)
        | f(psh, tcpf::PSH)
        | f(ack, tcpf::ACK)
}

const TLS_PORTS: [u16; 5] = [443, 8443, 8883, 993, 995];
const HTTP_PORTS: [u16; 3] = [80, 8080, 8000];

/// Recognises the application protocol of a TCP segment and returns its [`bits`]. With the
/// payload captured it looks at the bytes; when the snap length cut the payload, it falls
/// back to well-known ports.
#[inline(always)]
fn classify_tcp(sport: u16, dport: u16, tcp_len: u32, payload: &[u8]) -> u16 {
    let has_port = |p: u16| sport == p || dport == p;
    if has_port(53) {
        return bits::DNS;
    }
    if tcp_len == 0 {
        return 0;
    }
    if !payload.is_empty() {
        if is_tls_record(payload) {
            return if tls_has_certificate(payload) {
                bits::TLS | bits::X509
            } else {
                bits::TLS
            };
        }
        if is_http(payload) {
            return bits::HTTP;
        }
        // Otherwise a continuation segment of a TLS or HTTP stream on its usual port, below.
    }
    if TLS_PORTS.iter().any(|&p| has_port(p)) {
        bits::TLS
    } else if HTTP_PORTS.iter().any(|&p| has_port(p)) {
        bits::HTTP
    } else {
        bits::DATA
    }
}

#[inline(always)]
fn classify_udp(sport: u16, dport: u16, payload_len: u32) -> u16 {
    let has_port = |p: u16| sport == p || dport == p;
    if has_port(53) {
        bits::DNS
    } else if has_port(123) {
        bits::NTP
    } else if has_port(1900) {
        bits::SSDP
    } else if payload_len > 0 {
        bits::DATA
    } else {
        0
    }
}

fn is_tls_record(p: &[u8]) -> bool {
    p.len() >= 5 && (20..=23).contains(&p[0]) && p[1] == 3 && p[2] <= 4
}

/// Walks the TLS records and handshake messages present in the captured bytes looking for a
/// Certificate message (handshake type 11), which TLS 1.2 and older send in the clear.
fn tls_has_certificate(p: &[u8]) -> bool {
    let mut o = 0usize;
    while o + 5 <= p.len() {
        let ct = p[o];
        if !(20..=23).contains(&ct) || p[o + 1] != 3 {
            return false;
        }
        let len = u16::from_be_bytes([p[o + 3], p[o + 4]]) as usize;
        let body = &p[o + 5..(o + 5 + len).min(p.len())];
        if ct == 22 {
            let mut h = 0usize;
            while h + 4 <= body.len() {
                if body[h] == 11 {
                    return true;
                }
                let hl = ((body[h + 1] as usize) << 16)
                    | ((body[h + 2] as usize) << 8)
                    | body[h + 3] as usize;
                h += 4 + hl;
            }
        }
        o += 5 + len;
    }
    false
}

fn is_http(p: &[u8]) -> bool {
    const M: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"HTTP/1.",
        b"CONNECT ",
    ];
    M.iter().any(|m| p.starts_with(m))
}

/// Calls `visit(link type, ts ns, original length, captured bytes)` for every record of a
/// capture (used to cut pcap slices with the original bytes). Stops at the first fatal problem.
pub fn for_each_record(
    path: &Path,
    mut visit: impl FnMut(Linktype, i64, u32, &[u8]),
) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut rd = Chunked::read(file).map_err(|e| format!("cannot read: {e}"))?;
    rd.fill(CHUNK).map_err(|e| format!("cannot read: {e}"))?;
    let mut meta = Meta {
        path: path.to_path_buf(),
        issues: Vec::new(),
        link_types: Vec::new(),
    };
    let mut visit =
        |lt: Linktype, ts: i64, orig: u32, data: &[u8], _at: u64| visit(lt, ts, orig, data);
    let res = match sniff_format(rd.avail()) {
        Some("pcap") => read_pcap(
            &mut rd,
            &mut meta,
            None,
            (Part::Whole, &Cell::new(None)),
            &mut visit,
        ),
        Some(_) => read_pcapng(&mut rd, &mut meta, None, &mut visit),
        None => Err((0, "not a pcap or pcapng file".into())),
    };
    res.map_err(|(i, r)| format!("packet {i} at byte offset {}: {r}", rd.offset))
}

/// Expands capture arguments (paths or globs, relative to `base`) into file paths: each
/// pattern's matches sorted, patterns in the order given. A file named twice (a repeated or
/// overlapping pattern, or another spelling of its path) is kept once, where it first appears:
/// read twice, every packet would be counted twice. Directories a glob matches are not
/// captures and are passed over; a folder a glob cannot list is an error, not a silent gap.
/// A pattern naming an existing file is that file, whatever characters its name holds; a
/// folder is an error that suggests a glob.
/// Why a capture named literally cannot be read (`None`: a regular file or a FIFO, which is
/// read as a stream, as `tcpdump -w - | …` writes one).
pub fn unreadable_capture(p: &Path) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() || m.file_type().is_fifo() => None,
        Ok(m) if m.is_dir() => Some("is a folder".into()),
        Ok(_) => Some("is not a regular file or a FIFO".into()),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            Some("is a symbolic link that loops (it leads back to itself)".into())
        }
        Err(_) => match std::fs::read_link(p) {
            Ok(to) => Some(format!(
                "is a symbolic link to {}, which does not exist",
                to.display()
            )),
            Err(_) => Some("capture file not found".into()),
        },
    }
}

pub fn expand_captures(base: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for pat in patterns {
        let full = if Path::new(pat).is_absolute() {
            PathBuf::from(pat)
        } else {
            base.join(pat)
        };
        // A file that exists under the name as written is taken literally: `lab [2021]/a.pcap`
        // read as a glob would look for `lab 2/a.pcap` and the like.
        if pat.contains(['*', '?', '[']) && unreadable_capture(&full).is_some() {
            // The base folder is taken literally too; only the pattern is a glob.
            let s = if Path::new(pat).is_absolute() {
                pat.clone()
            } else {
                let b = glob::Pattern::escape(&base.to_string_lossy());
                Path::new(&b).join(pat).to_string_lossy().into_owned()
            };
            let g = glob::glob(&s).map_err(|e| format!("{pat}: bad glob: {e}"))?;
            let mut hits = Vec::new();
            for hit in g {
                let p = hit.map_err(|e| {
                    format!("{pat}: cannot list {}: {}", e.path().display(), e.error())
                })?;
                if p.is_file() {
                    hits.push(p);
                }
            }
            if hits.is_empty() {
                return Err(format!("{pat}: no file matches"));
            }
            hits.sort();
            out.extend(hits);
        } else {
            if full.is_dir() {
                let glob = Path::new(pat).join("*.pcap*");
                return Err(format!(
                    "{}: is a folder; name its captures with a glob, such as '{}'",
                    full.display(),
                    glob.display()
                ));
            }
            if let Some(why) = unreadable_capture(&full) {
                return Err(format!("{}: {why}", full.display()));
            }
            out.push(full);
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian microsecond pcap of `n` 60-byte ARP frames, timestamps 1000 s + i.
    fn small_pcap(n: u32) -> Vec<u8> {
        let mut b = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&65535u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        for i in 0..n {
            b.extend_from_slice(&(1000 + i).to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            b.extend_from_slice(&60u32.to_le_bytes());
            b.extend_from_slice(&60u32.to_le_bytes());
            let mut frame = [0u8; 60];
            frame[..6].copy_from_slice(&[0xff; 6]);
            frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
            frame[12..14].copy_from_slice(&[0x08, 0x06]);
            b.extend_from_slice(&frame);
        }
        b
    }

    /// [`small_pcap`]`(n)` written to `dir`, opened (mapped), then cut to `cut` bytes by
    /// "another program".
    #[cfg(target_os = "linux")]
    fn mapped_then_cut(dir: &Path, n: u32, cut: u64) -> (PathBuf, Chunked) {
        let p = dir.join(format!("cut-{n}-{cut}.pcap"));
        std::fs::write(&p, small_pcap(n)).unwrap();
        let rd = Chunked::mapped(File::open(&p).unwrap());
        assert!(rd.map.is_some(), "mapped");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(cut)
            .unwrap();
        (p, rd)
    }

    /// Capture arguments name each file once, in the order first given, whatever mix of
    /// globs and paths names it; folders a glob matches are passed over; a pattern with no
    /// file, or a missing file, is an error naming it.
    #[test]
    fn capture_arguments_name_each_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        for f in ["b.pcap", "a.pcap", "c.pcapng"] {
            std::fs::write(base.join(f), small_pcap(1)).unwrap();
        }
        std::fs::create_dir(base.join("d.pcap")).unwrap();
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let names = |a: &[&str]| -> Vec<String> {
            expand_captures(base, &args(a))
                .unwrap()
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(&["*.pcap"]), ["a.pcap", "b.pcap"]);
        assert_eq!(
            names(&["c.pcapng", "*.pcap", "./b.pcap", "*"]),
            ["c.pcapng", "a.pcap", "b.pcap"]
        );
        let abs = base.join("a.pcap").to_string_lossy().into_owned();
        assert_eq!(names(&[&abs, "a.pcap", "[ab].pcap"]), ["a.pcap", "b.pcap"]);
        let e = expand_captures(base, &args(&["*.pcap", "x/*.pcap"])).unwrap_err();
        assert_eq!(e, "x/*.pcap: no file matches");
        let e = expand_captures(base, &args(&["d.*"])).unwrap_err();
        assert_eq!(e, "d.*: no file matches");
        let e = expand_captures(base, &args(&["gone.pcap"])).unwrap_err();
        assert!(e.ends_with("gone.pcap: capture file not found"), "{e}");
        std::fs::create_dir(base.join("lab [1]")).unwrap();
        std::fs::write(base.join("lab [1]").join("x.pcap"), small_pcap(1)).unwrap();
        assert_eq!(names(&["lab [1]/x.pcap"]), ["x.pcap"]);
        assert_eq!(names(&["lab [[]1[]]/*.pcap"]), ["x.pcap"]);
        // The base folder (the project's) is taken literally under a relative glob.
        let lab = expand_captures(&base.join("lab [1]"), &args(&["*.pcap"])).unwrap();
        assert_eq!(lab, [base.join("lab [1]").join("x.pcap")]);
        let e = expand_captures(base, &args(&["d.pcap"])).unwrap_err();
        assert!(
            e.ends_with(
                "d.pcap: is a folder; name its captures with a glob, such as 'd.pcap/*.pcap*'"
            ),
            "{e}"
        );
    }

    /// Reading on from a record boundary ([`Part::From`]) gives the records from there, both
    /// from a map and from a file read with `read` (which seeks past its first chunk), and a
    /// segment of an unmapped file other than the first reads nothing.
    #[test]
    fn reading_from_an_offset_gives_the_records_from_there() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("from.pcap");
        // 20,000 records of 76 bytes: 1.5 MB, more than the first 1 MiB chunk.
        std::fs::write(&p, small_pcap(20_000)).unwrap();
        for (mapped, first) in [(true, 100u64), (false, 100), (false, 19_000)] {
            let f = File::open(&p).unwrap();
            let rd = if mapped {
                Chunked::mapped(f)
            } else {
                Chunked::read(f).unwrap()
            };
            let at = Part::From(24 + 76 * first);
            let out = read_opened(&p, Ok(rd), None, Vec::new(), None, at);
            assert!(out.issues.is_empty(), "{:?}", out.issues);
            let ts: Vec<i64> = out.cols.rows.iter().map(|r| r.ts).collect();
            let want: Vec<i64> = (first as i64..20_000)
                .map(|i| (1000 + i) * 1_000_000_000)
                .collect();
            assert_eq!(ts, want, "mapped {mapped}, from record {first}");
            assert_eq!(out.span, Some((24 + 76 * first, 24 + 76 * 20_000)));
        }
        let rd = Chunked::read(File::open(&p).unwrap()).unwrap();
        let seg = Part::Segment {
            index: 1,
            count: 2,
            bytes: 1 << 19,
        };
        let out = read_opened(&p, Ok(rd), None, Vec::new(), None, seg);
        assert!(out.cols.is_empty() && out.span.is_none() && out.issues.is_empty());
    }

    /// A capture cut by another program after it was mapped: the packets wholly before the
    /// cut are kept (none read from zeros past it), and the error names the packet and byte.
    /// Cuts inside a page that is followed by lost pages (SIGBUS, caught), inside the last
    /// page (no fault at all: found by the length check at the end), and to nothing.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_capture_cut_while_mapped_keeps_what_precedes_the_cut() {
        let dir = tempfile::tempdir().unwrap();
        for (n, cut) in [(400u32, 3 * 4096 + 100u64), (200, 14_000), (400, 0)] {
            let (p, rd) = mapped_then_cut(dir.path(), n, cut);
            let out = read_opened(&p, Ok(rd), None, Vec::new(), None, Part::Whole);
            let whole = (cut.saturating_sub(24) / 76) as usize;
            let ts: Vec<i64> = out.cols.rows.iter().map(|r| r.ts).collect();
            let want: Vec<i64> = (0..whole as i64)
                .map(|i| (1000 + i) * 1_000_000_000)
                .collect();
            assert_eq!(ts, want, "n {n} cut {cut}");
            let i = out.issues.last().expect("an issue");
            assert!(i.fatal && i.reason.contains("shrank"), "{i}");
            assert_eq!(i.packet_index, whole as u64, "{i}");
            if cut > 0 {
                assert_eq!(i.byte_offset, 24 + 76 * whole as u64, "{i}");
            }
        }
    }

    /// A capture cut by another program while it is read (not mapped): what was read is the
    /// file's own bytes and is kept, and the shrink is an error naming the packet and byte,
    /// whether the cut falls on a record boundary (otherwise a silent early end) or inside one.
    #[test]
    fn a_capture_cut_while_read_keeps_what_precedes_the_cut() {
        let dir = tempfile::tempdir().unwrap();
        // 20,000 records of 76 bytes: 1.5 MB, so the cut lies past the first 1 MiB chunk.
        for cut in [24 + 76 * 15_000u64, 24 + 76 * 15_000 + 30] {
            let p = dir.path().join(format!("read-cut-{cut}.pcap"));
            std::fs::write(&p, small_pcap(20_000)).unwrap();
            let mut rd = Chunked::read(File::open(&p).unwrap()).unwrap();
            assert!(rd.map.is_none());
            rd.fill(CHUNK).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .unwrap()
                .set_len(cut)
                .unwrap();
            let out = read_opened(&p, Ok(rd), None, Vec::new(), None, Part::Whole);
            let ts: Vec<i64> = out.cols.rows.iter().map(|r| r.ts).collect();
            let want: Vec<i64> = (0..15_000).map(|i| (1000 + i) * 1_000_000_000).collect();
            assert_eq!(ts, want, "cut {cut}");
            let i = out.issues.last().expect("an issue");
            assert!(i.fatal && i.reason.contains("shrank"), "{i}");
            assert_eq!(i.packet_index, 15_000, "{i}");
            assert_eq!(i.byte_offset, 24 + 76 * 15_000, "{i}");
        }
    }

    /// The same cut, read in pieces ([`read_capture_pieces`]) of the smallest size: pieces
    /// were handed on before the cut, and the records past it are still taken back.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_capture_cut_while_read_in_pieces_keeps_what_precedes_the_cut() {
        let dir = tempfile::tempdir().unwrap();
        // 2,000 whole records, then zeros to the page end: pieces are handed on every 512
        // records from the 1,024th, so one is handed on amid the records read from zeros.
        let (n, cut) = (3000u32, 24 + 76 * 2000 + 30u64);
        let (p, rd) = mapped_then_cut(dir.path(), n, cut);
        let mut pieces: Vec<FileParse> = Vec::new();
        let mut emit = |fp: FileParse| {
            pieces.push(fp);
            Vec::new()
        };
        let last = read_opened(
            &p,
            Ok(rd),
            None,
            Vec::new(),
            Some((1, &mut emit)),
            Part::Whole,
        );
        assert!(pieces.len() >= 2, "{} pieces before the cut", pieces.len());
        assert!(pieces.iter().all(|f| f.issues.is_empty()));
        let whole = (cut.saturating_sub(24) / 76) as usize;
        let ts: Vec<i64> = pieces
            .iter()
            .chain([&last])
            .flat_map(|f| f.cols.rows.iter().map(|r| r.ts))
            .collect();
        let want: Vec<i64> = (0..whole as i64)
            .map(|i| (1000 + i) * 1_000_000_000)
            .collect();
        assert_eq!(ts, want);
        let i = last.issues.last().expect("an issue");
        assert!(i.fatal && i.reason.contains("shrank"), "{i}");
        assert_eq!(
            (i.packet_index, i.byte_offset),
            (whole as u64, 24 + 76 * whole as u64)
        );
    }

    /// Whether this process has the page at `addr` mapped in (bit 63 of its pagemap entry,
    /// readable without privileges).
    #[cfg(target_os = "linux")]
    fn resident(addr: usize) -> bool {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = File::open("/proc/self/pagemap").unwrap();
        f.seek(SeekFrom::Start((addr / 4096 * 8) as u64)).unwrap();
        let mut e = [0u8; 8];
        f.read_exact(&mut e).unwrap();
        u64::from_le_bytes(e) >> 63 == 1
    }

    /// A mapped capture leaves the process's resident set as it is parsed: the pages read
    /// [`RELEASE_STEP`] bytes back are no longer mapped in, while the last ones still are.
    #[cfg(target_os = "linux")]
    #[test]
    fn parsed_pages_of_a_mapped_capture_leave_the_resident_set() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.pcap");
        let n = 150_000u32;
        std::fs::write(&p, small_pcap(n)).unwrap();
        let mut rd = Chunked::mapped(File::open(&p).unwrap());
        let (base, len) = {
            let m = rd.map.as_ref().expect("mapped").bytes();
            (m.as_ptr() as usize, m.len())
        };
        assert!(len > RELEASE_STEP + (1 << 20));
        let mut meta = Meta {
            path: p.clone(),
            issues: Vec::new(),
            link_types: Vec::new(),
        };
        let mut count = 0u32;
        let mut visit = |_: Linktype, _: i64, _: u32, data: &[u8], _: u64| {
            assert_eq!(data[12..14], [0x08, 0x06]);
            count += 1;
        };
        read_pcap(
            &mut rd,
            &mut meta,
            None,
            (Part::Whole, &Cell::new(None)),
            &mut visit,
        )
        .unwrap();
        assert_eq!(count, n);
        for off in [0, 4096, RELEASE_STEP / 2, RELEASE_STEP - 4096] {
            assert!(!resident(base + off), "page at {off} still mapped in");
        }
        assert!(resident(base + len - 1), "the last page was just read");
    }

    /// A pcapng block of type `t` (body padded to 4 bytes) in either byte order.
    fn ng_block(be: bool, t: u32, mut body: Vec<u8>) -> Vec<u8> {
        let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        body.resize(body.len().next_multiple_of(4), 0);
        let len = (12 + body.len()) as u32;
        let mut b = [w(t), w(len)].concat();
        b.extend(body);
        b.extend(w(len));
        b
    }

    /// A pcapng with one Ethernet interface whose options are `if_tsresol` and `if_tsoffset`
    /// when given, and one ARP frame per timestamp (in the interface's units).
    fn pcapng_clock(be: bool, resol: Option<u8>, offset_s: Option<i64>, units: &[u64]) -> Vec<u8> {
        let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut shb = w32(0x1A2B_3C4D).to_vec();
        shb.extend([w16(1), w16(0)].concat());
        shb.extend((-1i64).to_le_bytes());
        let mut idb = [w16(1), w16(0)].concat();
        idb.extend(w32(65535));
        if let Some(r) = resol {
            idb.extend([w16(9), w16(1)].concat());
            idb.extend([r, 0, 0, 0]);
        }
        if let Some(o) = offset_s {
            idb.extend([w16(14), w16(8)].concat());
            idb.extend(if be { o.to_be_bytes() } else { o.to_le_bytes() });
        }
        idb.extend([0; 4]);
        let mut out = [ng_block(be, 0x0A0D_0D0A, shb), ng_block(be, 1, idb)].concat();
        let frame = arp_frame();
        for &u in units {
            let mut epb = w32(0).to_vec();
            epb.extend(w32((u >> 32) as u32));
            epb.extend(w32(u as u32));
            epb.extend([w32(42), w32(42)].concat());
            epb.extend(&frame);
            out.extend(ng_block(be, 6, epb));
        }
        out
    }

    /// A 42-byte broadcast ARP frame from 02:00:00:00:00:01.
    fn arp_frame() -> Vec<u8> {
        let mut frame = vec![0xff; 6];
        frame.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        frame.resize(42, 0);
        frame
    }

    /// `bytes` written to `dir/name` and read back as a capture.
    fn read_bytes(dir: &Path, name: &str, bytes: Vec<u8>) -> FileParse {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        read_capture(&p, None)
    }

    fn pcapng_with_offset(offset_s: i64, units: &[u64]) -> Vec<u8> {
        pcapng_clock(false, None, Some(offset_s), units)
    }

    #[test]
    fn pcapng_times_out_of_range_are_warned_not_wrapped() {
        let dir = tempfile::tempdir().unwrap();
        let read = |name: &str, bytes: Vec<u8>| read_bytes(dir.path(), name, bytes);
        let us = 1_600_000_000_000_000u64;
        // A sane offset is added to every packet.
        let ok = read("ok.pcapng", pcapng_with_offset(100, &[us, us + 1_000_000]));
        let ts: Vec<i64> = ok.cols.rows.iter().map(|r| r.ts).collect();
        assert_eq!(ts, [1_600_000_100_000_000_000, 1_600_000_101_000_000_000]);
        assert!(ok.issues.is_empty(), "{:?}", ok.issues);
        // 2^62 s times 1e9 wraps to exactly 0 in i64: it used to be silently ignored.
        let bad = read("offset.pcapng", pcapng_with_offset(1 << 62, &[us, us]));
        assert_eq!(bad.cols.len(), 2);
        assert!(bad.cols.rows.iter().all(|r| r.ts == 0));
        assert_eq!(bad.issues.len(), 1, "{:?}", bad.issues);
        let i = &bad.issues[0];
        assert_eq!((i.packet_index, i.byte_offset, i.fatal), (0, 64, false));
        assert!(i.reason.contains("out of range") && i.reason.contains("2 packet(s)"));
        // One corrupt time among good ones: it takes the time before it; counts are kept.
        let one = read("one.pcapng", pcapng_with_offset(0, &[us, u64::MAX, us + 2]));
        let ts: Vec<i64> = one.cols.rows.iter().map(|r| r.ts).collect();
        let t0 = us as i64 * 1000;
        assert_eq!(ts, [t0, t0, t0 + 2000]);
        assert_eq!(one.issues.len(), 1);
        assert_eq!(one.issues[0].packet_index, 1);
        assert!(one.issues[0].reason.contains("1 packet(s)"));
        // A negative offset that takes packets before 1970: out of range as well.
        let early = read(
            "early.pcapng",
            pcapng_with_offset(-2_000_000_000, &[us, us]),
        );
        assert!(early.cols.rows.iter().all(|r| r.ts == 0));
        assert!(
            early.issues[0].reason.contains("before 1970")
                && early.issues[0].reason.contains("2 packet(s)")
        );
        // A small negative offset that stays after 1970 is applied.
        let fine = read("fine.pcapng", pcapng_with_offset(-100, &[us]));
        assert_eq!(fine.cols.rows[0].ts, 1_599_999_900_000_000_000);
        assert!(fine.issues.is_empty());
    }

    /// Newer libpcap writes the FCS length into the link-type field of a legacy pcap whose
    /// frames keep their FCS (checked with tshark: the same frame length, IP length and UDP
    /// length as without the field's top bits); reserved bits make the link type unknown.
    #[test]
    fn a_legacy_link_type_field_with_an_fcs_length_is_ethernet() {
        let dir = tempfile::tempdir().unwrap();
        let mut frame = vec![
            1, 0, 0x5e, 0, 0, 0xfb, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 8, 0,
        ];
        // IPv4 (total length 33) and UDP 5353 -> 5353 (length 13), then a 4-byte FCS.
        frame.extend([
            0x45, 0, 0, 33, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 224, 0, 0, 251,
        ]);
        frame.extend([0x14, 0xe9, 0x14, 0xe9, 0, 13, 0, 0]);
        frame.extend(b"hello");
        frame.extend([0xde, 0xad, 0xbe, 0xef]);
        let pcap = |field: u32| {
            let mut b = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
            b.extend([0; 8]);
            b.extend(65535u32.to_le_bytes());
            b.extend(field.to_le_bytes());
            for t in [1_600_000_000u32, 1_600_000_001] {
                b.extend(
                    [t, 0, frame.len() as u32, frame.len() as u32]
                        .map(u32::to_le_bytes)
                        .concat(),
                );
                b.extend(&frame);
            }
            b
        };
        let fcs = read_bytes(dir.path(), "fcs.pcap", pcap(1 | 1 << 26 | 2 << 28));
        assert!(fcs.issues.is_empty(), "{:?}", fcs.issues);
        assert_eq!(fcs.link_types, [1]);
        assert_eq!(fcs.cols.len(), 2);
        for r in &fcs.cols.rows {
            assert_eq!((r.orig_len, r.ip_len, r.ttl), (51, 33, 64));
            assert_eq!(r.bits & (bits::IP | bits::UDP), bits::IP | bits::UDP);
        }
        assert_eq!(fcs.convs.len(), 1);
        assert_eq!(fcs.convs[0].port_a, 5353);
        let reserved = read_bytes(dir.path(), "reserved.pcap", pcap(1 | 1 << 16));
        assert_eq!(reserved.cols.len(), 2);
        assert_eq!(reserved.issues.len(), 1, "{:?}", reserved.issues);
        assert!(reserved.issues[0]
            .reason
            .contains("unsupported link type 65537"));
    }

    #[test]
    fn pcapng_interface_clocks_in_both_byte_orders() {
        let dir = tempfile::tempdir().unwrap();
        let times = |name: &str, bytes: Vec<u8>| {
            let fp = read_bytes(dir.path(), name, bytes);
            let ts: Vec<i64> = fp.cols.rows.iter().map(|r| r.ts).collect();
            (ts, fp.issues)
        };
        let s = 1_600_000_000u64;
        let want = vec![1_600_000_100_000_000_000i64, 1_600_000_100_500_000_000];
        // Microseconds (the default) and nanoseconds, an offset, both byte orders.
        for be in [false, true] {
            let us = pcapng_clock(
                be,
                None,
                Some(100),
                &[s * 1_000_000, s * 1_000_000 + 500_000],
            );
            assert_eq!(times("us.pcapng", us), (want.clone(), vec![]), "be {be}");
            let ns = pcapng_clock(
                be,
                Some(9),
                Some(100),
                &[s * 1_000_000_000, s * 1_000_000_000 + 500_000_000],
            );
            assert_eq!(times("ns.pcapng", ns), (want.clone(), vec![]), "be {be}");
            // A power-of-two resolution: 2^20 units a second.
            let p2 = pcapng_clock(
                be,
                Some(0x80 | 20),
                Some(100),
                &[s << 20, (s << 20) + (1 << 19)],
            );
            assert_eq!(times("p2.pcapng", p2), (want.clone(), vec![]), "be {be}");
        }
        // A resolution no integer holds: a warning naming the interface, then microseconds.
        let (ts, issues) = times(
            "bad.pcapng",
            pcapng_clock(false, Some(25), None, &[s * 1_000_000]),
        );
        assert_eq!(ts, [1_600_000_000_000_000_000]);
        assert_eq!(issues.len(), 1);
        assert_eq!((issues[0].packet_index, issues[0].byte_offset), (0, 28));
        assert!(issues[0]
            .reason
            .starts_with("interface 0: its timestamp resolution 0x19"));
    }

    #[test]
    fn obsolete_packet_blocks_read_like_enhanced_ones() {
        let dir = tempfile::tempdir().unwrap();
        let read = |name: &str, bytes: Vec<u8>| read_bytes(dir.path(), name, bytes);
        let units = [1_600_000_000_000_000u64, 1_600_000_000_250_000];
        for be in [false, true] {
            let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
            let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
            let enhanced = read("epb.pcapng", pcapng_clock(be, None, None, &units));
            // The same packets as obsolete Packet Blocks (type 2).
            let mut old = pcapng_clock(be, None, None, &[]);
            let frame = arp_frame();
            for u in units {
                let mut body = [w16(0), w16(0)].concat();
                body.extend([w32((u >> 32) as u32), w32(u as u32), w32(42), w32(42)].concat());
                body.extend(&frame);
                old.extend(ng_block(be, 2, body));
            }
            let obsolete = read("pb.pcapng", old.clone());
            assert_eq!(enhanced.cols.len(), 2);
            assert_eq!(obsolete.cols.rows, enhanced.cols.rows, "be {be}");
            assert_eq!(obsolete.convs, enhanced.convs);
            assert!(obsolete.issues.is_empty(), "{:?}", obsolete.issues);
            // A block whose captured length runs past its end: the packets before it stay.
            let mut body = [w16(0), w16(0)].concat();
            body.extend([w32(0), w32(0), w32(400), w32(400)].concat());
            body.extend(&frame);
            old.extend(ng_block(be, 2, body));
            let cut = read("cut.pcapng", old);
            assert_eq!(cut.cols.rows, enhanced.cols.rows);
            let i = cut.issues.last().unwrap();
            assert!(i.fatal && i.packet_index == 2, "{i:?}");
            assert!(
                i.reason.contains("packet block shorter than its lengths"),
                "{i:?}"
            );
        }
    }

    #[test]
    fn capture_suffixes_as_spelled() {
        assert_eq!(capture_suffix("a.pcap"), Some(".pcap"));
        assert_eq!(capture_suffix("b.PCAPNG.GZ"), Some(".PCAPNG.GZ"));
        assert_eq!(capture_suffix("c.cap.zst"), Some(".cap.zst"));
        assert_eq!(capture_suffix("d.pcap.xz"), None);
        assert_eq!(capture_suffix("notes.gz"), None);
    }

    #[test]
    fn sniff() {
        assert_eq!(sniff_format(&[0xd4, 0xc3, 0xb2, 0xa1]), Some("pcap"));
        assert_eq!(sniff_format(&[0x0a, 0x0d, 0x0d, 0x0a]), Some("pcapng"));
        assert_eq!(sniff_format(b"GIF8"), None);
        assert_eq!(sniff_format(b"ab"), None);
    }

    #[test]
    fn tls_certificate_detection() {
        // Handshake record with a ServerHello (2) then a Certificate (11).
        let mut p = vec![22, 3, 3, 0, 12, 2, 0, 0, 0, 11, 0, 0, 4, 0, 0, 0, 0];
        assert!(is_tls_record(&p));
        assert!(tls_has_certificate(&p));
        p[9] = 12;
        assert!(!tls_has_certificate(&p));
    }

    #[test]
    fn truncated_tcp_header_uses_ip_lengths() {
        // Ethernet + IPv4 (total 1500) + first 16 bytes of a TCP header with 32-byte offset.
        let mut f = vec![0u8; 14 + 20 + 16];
        f[12] = 0x08;
        f[14] = 0x45;
        f[16..18].copy_from_slice(&1500u16.to_be_bytes());
        f[22] = 64;
        f[23] = 6;
        f[34..36].copy_from_slice(&443u16.to_be_bytes());
        f[36..38].copy_from_slice(&50000u16.to_be_bytes());
        f[46] = 8 << 4;
        f[47] = tcpf::ACK | tcpf::PSH;
        let mut iss = Vec::new();
        let d = decode_link(Linktype(1), &f, Path::new("x"), &mut iss);
        assert_eq!(d.ip_len, 1500);
        assert_eq!(d.tcp_len, 1500 - 20 - 32);
        assert_eq!(d.sport, 443);
        assert!(d.bits & bits::TLS != 0);
        assert_eq!(d.ttl, 64);
    }
}
