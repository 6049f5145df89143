//! The parse floor for `bench ingest`'s comparison: pcap-parser's idiomatic reader and
//! etherparse's `SlicedPacket` over the same files on all cores, with no packet store, no
//! conversations, no flows and no index. What labelbench's ingest costs above this is its
//! own work.
//!
//! The second line adds what the issue names as its yardstick, "a bare pcap-parser +
//! etherparse flow table": a std HashMap from 5-tuple to counters, one per file.
//!
//! A third line times the crates' least work: pcap-parser's record parse over a mapped
//! file and etherparse's per-layer slices, reading the fields a row needs.
//!
//! A fourth line times labelbench's own reader (`capture::read_capture_into`: the file read in
//! chunks as ingest reads whole files, its decoding and conversation interning into rows) on
//! all cores, the rows dropped: what is left of ingest after it is the merge (columns, flows,
//! index) and its fresh memory.
//!
//! The last lines put the floor in `cat`'s units, measured in the same run: `cat` of the
//! files, and the page faults of a store of [`STORE_BYTES_PER_PACKET`] bytes a packet (the
//! columns and the device index ingest fills) touched on all cores. The crates' least work
//! plus those faults is what any ingest that keeps DESIGN.md's store must spend at least,
//! before interning a conversation, building a flow or copying a column.
//!
//! `cargo run --release --example parse_floor -- /tmp/lab57/pcaps/*.pcap`

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError};
use rayon::prelude::*;

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: parse_floor FILE.pcap…");
        std::process::exit(2);
    }
    let sum = AtomicU64::new(0);
    let (secs, n) = all_files(&files, |p| idiomatic(p, false), &sum);
    println!(
        "parse floor  {secs:.3} s  {n} packets  {:.2} M packets/s  ({} threads, best of 3, checksum {})",
        n as f64 / secs / 1e6,
        rayon::current_num_threads(),
        sum.load(Ordering::Relaxed)
    );
    // The issue's own yardstick, "a bare pcap-parser + etherparse flow table": the same
    // reader with a std HashMap from each packet's canonical 5-tuple to its counters, one
    // table per file (no merge across files, no timeouts, no store).
    let (secs, n) = all_files(&files, |p| idiomatic(p, true), &sum);
    println!(
        "bare flows   {secs:.3} s  {n} packets  {:.2} M packets/s  (the same with a HashMap flow table per file, best of 3)",
        n as f64 / secs / 1e6,
    );
    // The crates' least work: pcap-parser's record parse over a mapped file and etherparse's
    // per-layer slices (Ethernet, IPv4, TCP/UDP), reading the fields a row needs, nothing kept.
    let mut best = f64::INFINITY;
    let mut n = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let (k, chk) = files
            .par_iter()
            .map(|path| slices_only(path))
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 ^ b.1));
        best = best.min(t.elapsed().as_secs_f64());
        n = k;
        sum.fetch_xor(chk, Ordering::Relaxed);
    }
    println!(
        "slices only  {best:.3} s  {n} packets  {:.2} M packets/s  (pcap-parser frames + etherparse layer slices, mapped, best of 3)",
        n as f64 / best / 1e6
    );
    let slices_best = best;
    // labelbench's reader, best of three (row buffers recycled per thread, as ingest does).
    let paths: Vec<std::path::PathBuf> = files.iter().map(Into::into).collect();
    let mut best = f64::INFINITY;
    let mut n = 0;
    for _ in 0..3 {
        let t = Instant::now();
        n = paths
            .par_iter()
            .map_init(Vec::new, |rows, f| {
                let fp = labelbench::capture::read_capture_into(f, None, std::mem::take(rows));
                let k = fp.cols.len();
                *rows = fp.cols.rows;
                k
            })
            .sum::<usize>();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "reader only  {best:.3} s  {n} packets  {:.2} M packets/s  (labelbench's reader, rows dropped)",
        n as f64 / best / 1e6
    );
    // Fresh memory for the store, each page written once, on all cores; `vec!` of zeros
    // gets untouched pages from the kernel, so every first write is a page fault, as in
    // ingest.
    let bytes = n * STORE_BYTES_PER_PACKET;
    let mut faults = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let mut store = vec![0u8; bytes];
        store.par_chunks_mut(1 << 20).for_each(|c| {
            for page in c.chunks_mut(4096) {
                page[0] = 1;
            }
        });
        faults = faults.min(t.elapsed().as_secs_f64());
        sum.fetch_add(store[bytes / 2] as u64, Ordering::Relaxed);
    }
    println!(
        "store faults {faults:.3} s  {:.0} MB of fresh memory ({STORE_BYTES_PER_PACKET} bytes a packet), first write of each page on all cores, best of 3",
        bytes as f64 / 1e6
    );
    let mut cat = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let ok = Command::new("cat")
            .args(&files)
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            cat = cat.min(t.elapsed().as_secs_f64());
        }
    }
    let floor = slices_best + faults;
    if cat.is_finite() {
        println!(
            "cat          {cat:.3} s  (best of 3)\nfloor        {floor:.3} s = {:.2}× cat  (slices only + store faults: no conversations, flows, index or column copies yet)",
            floor / cat
        );
    } else {
        println!(
            "cat          not available\nfloor        {floor:.3} s  (slices only + store faults)"
        );
    }
}

/// The columns and one device-index entry per packet (with a registry, nearly every packet
/// has one entry).
const STORE_BYTES_PER_PACKET: usize = labelbench::traffic::Packets::BYTES_PER_PACKET + 4;

/// Runs `one` over every file on all cores, three times; returns (best seconds, packets) and
/// folds the checksums into `sum`. Best of three: the first pass over the files after a pause
/// can take three times as long on this VM.
fn all_files(
    files: &[String],
    one: impl Fn(&str) -> (u64, u64) + Sync,
    sum: &AtomicU64,
) -> (f64, u64) {
    let (mut best, mut n) = (f64::INFINITY, 0);
    for _ in 0..3 {
        let t = Instant::now();
        n = files
            .par_iter()
            .map(|p| {
                let (k, s) = one(p);
                sum.fetch_add(s, Ordering::Relaxed);
                k
            })
            .sum::<u64>();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, n)
}

/// Canonical (lower endpoint first) 5-tuple of a bare flow table.
type Tuple = (u8, [u8; 16], u16, [u8; 16], u16);

/// One file through pcap-parser's idiomatic reader and etherparse's `SlicedPacket`, reading a
/// field of each layer; with `flows`, each packet also counted into a HashMap flow table.
/// Returns (packets, checksum).
fn idiomatic(path: &str, flows: bool) -> (u64, u64) {
    let Ok(file) = std::fs::File::open(path) else {
        eprintln!("{path}: cannot open");
        return (0, 0);
    };
    let mut rd = match LegacyPcapReader::new(1 << 20, file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{path}: not a legacy pcap ({e:?})");
            return (0, 0);
        }
    };
    let mut table: HashMap<Tuple, (u64, u64)> = HashMap::new();
    let (mut n, mut s) = (0u64, 0u64);
    loop {
        match rd.next() {
            Ok((used, block)) => {
                if let PcapBlockOwned::Legacy(b) = block {
                    n += 1;
                    // Read a field of each layer so the parse cannot be optimised away.
                    if let Ok(p) = etherparse::SlicedPacket::from_ethernet(b.data) {
                        let mut t: Tuple = (0, [0; 16], 0, [0; 16], 0);
                        if let Some(etherparse::NetSlice::Ipv4(ip)) = &p.net {
                            s += ip.header().total_len() as u64;
                            t.0 = ip.header().protocol().0;
                            t.1[..4].copy_from_slice(&ip.header().source());
                            t.3[..4].copy_from_slice(&ip.header().destination());
                        }
                        match &p.transport {
                            Some(etherparse::TransportSlice::Tcp(tcp)) => {
                                s += tcp.source_port() as u64;
                                (t.2, t.4) = (tcp.source_port(), tcp.destination_port());
                            }
                            Some(etherparse::TransportSlice::Udp(udp)) => {
                                (t.2, t.4) = (udp.source_port(), udp.destination_port());
                            }
                            _ => {}
                        }
                        if flows {
                            if (t.3, t.4) < (t.1, t.2) {
                                t = (t.0, t.3, t.4, t.1, t.2);
                            }
                            let e = table.entry(t).or_default();
                            e.0 += 1;
                            e.1 += b.origlen as u64;
                        }
                    }
                }
                rd.consume(used);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if rd.refill().is_err() {
                    break;
                }
            }
            Err(e) => {
                eprintln!("{path}: {e:?}");
                break;
            }
        }
    }
    (n, s + table.len() as u64)
}

/// One file through `parse_pcap_frame` and etherparse's layer slices; returns (packets, checksum).
fn slices_only(path: &str) -> (u64, u64) {
    let Ok(f) = std::fs::File::open(path) else {
        return (0, 0);
    };
    // SAFETY: the benchmark's inputs are not modified while it runs.
    let Ok(m) = (unsafe { memmap2::Mmap::map(&f) }) else {
        return (0, 0);
    };
    let Ok((mut b, hdr)) = pcap_parser::parse_pcap_header(&m) else {
        return (0, 0);
    };
    let (mut n, mut s) = (0u64, 0u64);
    while let Ok((rest, blk)) = if hdr.is_bigendian() {
        pcap_parser::parse_pcap_frame_be(b)
    } else {
        pcap_parser::parse_pcap_frame(b)
    } {
        n += 1;
        s = s.wrapping_add(blk.ts_sec as u64 ^ blk.ts_usec as u64 ^ blk.origlen as u64);
        if let Ok(e) = etherparse::Ethernet2Slice::from_slice_without_fcs(blk.data) {
            s = s.wrapping_add(u64::from_be_bytes([
                0,
                0,
                e.source()[0],
                e.source()[5],
                0,
                0,
                0,
                0,
            ]));
            if let Ok(h) = etherparse::Ipv4HeaderSlice::from_slice(e.payload_slice()) {
                s = s.wrapping_add(h.total_len() as u64 + h.ttl() as u64);
                s ^= u32::from_be_bytes(h.source()) as u64
                    ^ (u32::from_be_bytes(h.destination()) as u64) << 20;
                let p = &e.payload_slice()[h.slice().len()..];
                if h.protocol() == etherparse::IpNumber::TCP {
                    if let Ok(t) = etherparse::TcpSlice::from_slice(p) {
                        s = s.wrapping_add(
                            t.source_port() as u64
                                ^ (t.destination_port() as u64) << 16
                                ^ (t.header_len() as u64) << 32
                                ^ (t.fin() as u64) << 40,
                        );
                    }
                } else if let Ok(u) = etherparse::UdpSlice::from_slice_lax(p) {
                    s = s
                        .wrapping_add(u.source_port() as u64 ^ (u.destination_port() as u64) << 16);
                }
            }
        }
        b = rest;
    }
    (n, s)
}
