//! Reading a capture's bytes: mapped or in chunks, decompressing gzip and zstd as they are
//! read, telling a cut file from a whole one.

use super::*;

/// Largest record we accept; anything larger is a corrupt length field.
pub(crate) const MAX_RECORD: usize = 1 << 20;

pub(crate) const CHUNK: usize = 1 << 20;

/// Parsed bytes of a mapped capture released from the resident set at a time.
pub(crate) const RELEASE_STEP: usize = 8 << 20;

/// Hands out the unparsed tail of a capture, either read in chunks into one reused buffer or
/// memory-mapped ([`Chunked::mapped`]). Whole files are read: on this host, copying the page
/// cache out costs less than mapping it in and out again (ingest of the lab week 1.51-1.54 s
/// read against 1.65-1.68 s mapped, three alternating rounds; on the previous host, whose
/// copies were 2-3 times slower, mapping was 8 % faster). Segments of one large pcap are
/// mapped, since finding where a segment starts needs the whole file at hand. Anything that
/// cannot be mapped (pipes, special files, a failed map) is read.
///
/// A mapped file that shrinks while it is read (see [`crate::capture::mapguard`]) ends the read with an
/// error; the records already handed out that were read from where the file no longer
/// reaches are counted in `dropped`, for the caller to take back.
pub(crate) struct Chunked {
    pub(crate) file: File,
    pub(crate) map: Option<GuardedMap>,
    pub(crate) buf: Vec<u8>,
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// File offset of `avail()[0]`.
    pub(crate) offset: u64,
    pub(crate) eof: bool,
    /// Index in the map up to which cache lines were prefetched.
    pub(crate) pf: usize,
    /// Index in the map below which pages were released (see [`GuardedMap::release_before`]).
    pub(crate) released: usize,
    /// End offsets of the last records handed out from the map (a ring). Cells, because the
    /// parsed record still borrows the reader when it is noted.
    pub(crate) ends: [Cell<u64>; ENDS],
    pub(crate) records: Cell<usize>,
    /// Records handed out that lie past the point where the file was cut, and the offset of
    /// the first of them.
    pub(crate) dropped: Cell<usize>,
    pub(crate) dropped_from: Cell<u64>,
    /// The file's length when a read (not mapped) file was opened: a read file that is shorter
    /// at the end was cut while it was read (0 for pipes and unknown lengths: never checked).
    pub(crate) open_len: u64,
    /// A compressed file's decompressor: records are read from its output, and `offset`
    /// counts decompressed bytes.
    pub(crate) packed: Option<Packed>,
    /// A read error met after some bytes of a fill had arrived: those are parsed first, and
    /// the next fill returns it (a cut compressed stream keeps the packets it still holds).
    pub(crate) failed: Option<std::io::Error>,
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
    pub(crate) fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
    /// A decompressor reading `src` (every gzip member, every zstd frame).
    pub(crate) fn reader(self, src: Counted) -> std::io::Result<Box<dyn Read>> {
        Ok(match self {
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(src)?),
        })
    }
}

/// How capture file names end: the formats' usual extensions, compressed or not (longest
/// first, so the compressed ones win).
pub(crate) const CAPTURE_SUFFIXES: [&str; 9] = [
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
/// The size of the file a Git LFS pointer stands for, when `head` is the start of one: a
/// repository cloned without Git LFS has these three lines in place of its large files.
pub fn lfs_pointer(head: &[u8]) -> Option<Option<u64>> {
    let text = std::str::from_utf8(&head[..head.len().min(512)]).ok()?;
    if !text.starts_with("version https://git-lfs.github.com/spec/") {
        return None;
    }
    let size = text
        .lines()
        .find_map(|l| l.strip_prefix("size "))
        .and_then(|n| n.trim().parse().ok());
    Some(size)
}

pub(crate) fn other_compression(head: &[u8]) -> Option<&'static str> {
    match head {
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Some("an xz-compressed file"),
        [b'B', b'Z', b'h', ..] => Some("a bzip2-compressed file"),
        [0x04, 0x22, 0x4d, 0x18, ..] => Some("an lz4-compressed file"),
        [b'P', b'K', 3, 4, ..] => Some("a zip archive"),
        _ => None,
    }
}

/// What reads a compressed capture ([`Chunked::packed`]).
pub(crate) struct Packed {
    pub(crate) kind: Compression,
    pub(crate) reader: Box<dyn Read>,
    /// Compressed bytes taken from the file so far.
    pub(crate) taken: Rc<Cell<u64>>,
}

/// A compressed file's bytes as its decompressor takes them, counted (for progress, and for
/// how far into the file a read got).
pub(crate) struct Counted {
    pub(crate) head: std::io::Cursor<Vec<u8>>,
    pub(crate) file: File,
    pub(crate) taken: Rc<Cell<u64>>,
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
pub(crate) const ENDS: usize = 512;

impl Chunked {
    /// Reads `file` in chunks; a compressed file is decompressed as it is read. Its first
    /// bytes are read, not peeked, so that pipes work too.
    pub(crate) fn read(mut file: File) -> std::io::Result<Self> {
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
    pub(crate) fn mapped(file: File) -> Self {
        let map = GuardedMap::new(&file);
        Self::with_map(file, map)
    }
    /// How [`Part`] is best read: see [`Chunked`].
    pub(crate) fn for_part(file: File, part: Part) -> std::io::Result<Self> {
        match part {
            Part::Segment { .. } => Ok(Self::mapped(file)),
            Part::Whole | Part::From(_) => Self::read(file),
        }
    }
    /// How far into the file itself reading got: `offset`, or the compressed bytes taken.
    pub(crate) fn file_pos(&self) -> u64 {
        match &self.packed {
            Some(p) => p.taken.get(),
            None => self.offset,
        }
    }
    pub(crate) fn with_map(file: File, map: Option<GuardedMap>) -> Self {
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
    pub(crate) fn check(&self, used: usize) -> Result<(), String> {
        match &self.map {
            Some(m) if !m.readable_to(self.start + used) => Err(self.lost()),
            _ => Ok(()),
        }
    }
    /// Notes that a packet record ending `used` bytes on was handed out.
    #[inline(always)]
    pub(crate) fn note_record(&self, used: usize) {
        if self.map.is_some() {
            let r = self.records.get();
            self.ends[r % ENDS].set(self.offset + used as u64);
            self.records.set(r + 1);
        }
    }
    /// After the last record: a mapped file that is now shorter than its map was partly read
    /// from zeros; a read file that is shorter than when it was opened lost its tail (what was
    /// read before the cut is the file's own bytes, so it is all kept).
    pub(crate) fn check_end(&self) -> Result<(), String> {
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
    pub(crate) fn lost(&self) -> String {
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
    pub(crate) fn prefetch(&mut self) {
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
    pub(crate) fn avail(&self) -> &[u8] {
        match &self.map {
            Some(m) => &m.bytes()[self.start..self.end],
            None => &self.buf[self.start..self.end],
        }
    }
    #[inline(always)]
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
        if self.start - self.released >= RELEASE_STEP {
            self.release();
        }
    }
    /// Moves on to file offset `to` (not before the current one), e.g. to a segment's start.
    pub(crate) fn skip_to(&mut self, to: u64) -> std::io::Result<()> {
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
    pub(crate) fn release(&mut self) {
        match &self.map {
            Some(m) => self.released = m.release_before(self.released, self.start),
            None => self.released = self.start,
        }
    }
    /// Read more bytes so that at least `want` are available (or EOF). Returns false on EOF
    /// without progress.
    pub(crate) fn fill(&mut self, want: usize) -> std::io::Result<bool> {
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
