//! The cache file's bytes: direct I/O where the file system takes it, checksummed streams, and
//! the column frames (LZ4 blocks, differences for timestamps and index lists).

use super::*;

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
pub(crate) fn write_direct(
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
pub(crate) struct Hashing<T> {
    pub(crate) inner: T,
    pub(crate) hash: Xxh3,
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
pub(crate) fn body_reader(path: &Path, f: File, from: u64) -> std::io::Result<Box<dyn Read>> {
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
pub(crate) struct DirectReader {
    pub(crate) rx: std::sync::mpsc::Receiver<std::io::Result<(Vec<u8>, usize, usize)>>,
    pub(crate) back: std::sync::mpsc::SyncSender<Vec<u8>>,
    /// The block being served: buffer, aligned start in it, bytes in it, bytes served.
    pub(crate) cur: Option<(Vec<u8>, usize, usize)>,
    pub(crate) pos: usize,
    pub(crate) done: bool,
}

#[cfg(target_os = "linux")]
impl DirectReader {
    pub(crate) fn new(mut file: File) -> std::io::Result<Self> {
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
pub(crate) const DIRECT_ALIGN: usize = 4096;

pub(crate) const DIRECT_BUF: usize = 8 << 20;

/// Collects writes in a block-aligned buffer and writes it out whole.
pub(crate) struct DirectWriter {
    pub(crate) file: File,
    /// Over-allocated by one block so an aligned window of `DIRECT_BUF` bytes fits in it.
    pub(crate) mem: Vec<u8>,
    pub(crate) start: usize,
    pub(crate) len: usize,
}

impl DirectWriter {
    pub(crate) fn new(file: File) -> Self {
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
    pub(crate) fn flush_blocks(&mut self) -> std::io::Result<Vec<u8>> {
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

/// Raw bytes per LZ4 block: a multiple of every element size, small enough that a batch of
/// blocks decompresses in parallel while the reader thread fetches the next.
pub(crate) const FRAME: usize = 1 << 20;

/// Blocks compressed or decompressed together, in parallel.
pub(crate) const BATCH: usize = 16;

/// Columns stored as differences from the previous value (sorted timestamps, index lists):
/// small numbers that LZ4 packs, where the values themselves barely shrink. Each block starts
/// from zero, so blocks decode independently, in parallel.
pub(crate) trait Delta: bytemuck::Pod + Send + Sync {
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
pub(crate) fn write_frames_with<'a>(
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

pub(crate) fn write_frames(w: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    let chunks: Vec<&[u8]> = bytes.chunks(FRAME).collect();
    write_frames_with(w, chunks.len(), |i| std::borrow::Cow::Borrowed(chunks[i]))
}

pub(crate) fn write_delta<T: Delta>(w: &mut dyn Write, col: &[T]) -> std::io::Result<()> {
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
pub(crate) struct FrameReader<'a, R: Read> {
    pub(crate) r: &'a mut R,
    /// File offset reached, for messages.
    pub(crate) offset: u64,
    pub(crate) total: u64,
    pub(crate) progress: Option<&'a Progress>,
    /// Compressed blocks of the batch in flight (reused).
    pub(crate) bufs: Vec<Vec<u8>>,
}

impl<R: Read> FrameReader<'_, R> {
    pub(crate) fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), String> {
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
    pub(crate) fn fill(
        &mut self,
        dst: &mut [u8],
        post: impl Fn(&mut [u8]) + Sync,
    ) -> Result<(), String> {
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

    pub(crate) fn column<T: bytemuck::Pod + bytemuck::Zeroable>(
        &mut self,
        n: usize,
    ) -> Result<Vec<T>, String> {
        let mut v: Vec<T> = vec![T::zeroed(); n];
        self.fill(bytemuck::cast_slice_mut(&mut v), |_| ())?;
        Ok(v)
    }

    pub(crate) fn delta_column<T: Delta>(&mut self, n: usize) -> Result<Vec<T>, String> {
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

pub(crate) fn encode_flow(f: &Flow, b: &mut [u8; FLOW_RECORD]) {
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

pub(crate) fn decode_flow(b: &[u8]) -> Result<Flow, String> {
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
