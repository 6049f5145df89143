//! One large legacy pcap read by several readers at once: where each segment starts (a
//! plausible record boundary) and how many segments a file is read in.

use super::*;

/// Nominal bytes per segment when one large legacy pcap is read by several readers at once.
pub const SEGMENT: u64 = 128 << 20;

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
pub(crate) const CHAIN: usize = 32;

/// Where segment `k` of `s` starts in `map` (a legacy pcap whose byte order and timestamp
/// unit are `be` and `ns`), if a plausible record boundary lies in its nominal range.
pub(crate) fn segment_start(
    map: &[u8],
    be: bool,
    ns: bool,
    s: (usize, u64),
    k: usize,
) -> Option<usize> {
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
pub(crate) fn plausible_chain(mut b: &[u8], be: bool, ns: bool) -> bool {
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
pub(crate) fn segment_range(
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
