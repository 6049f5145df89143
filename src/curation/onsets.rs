//! Where a device's traffic burst begins inside an interval: the onset that skew and offset
//! suggestions align labels to.

use super::*;

/// A detected burst onset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Onset {
    pub t: i64,
    /// Bytes after the onset minus what the background rate predicts.
    pub excess_bytes: f64,
    pub confidence: f64,
}

/// Finds the onset of the strongest traffic burst of `dev` starting in `[lo, hi]`.
/// Candidates are new TCP connections opened by the device (SYN) and packets that start a
/// rise in rate; each is scored by the bytes in the next `burst_ns` above the background rate
/// measured in the five minutes before the interval — rate change, not mere presence, so
/// devices with constant background traffic still give sharp onsets.
pub fn find_onset(t: &Traffic, dev: u16, lo: i64, hi: i64, burst_ns: i64) -> Option<Onset> {
    if dev == NO_DEVICE {
        return None;
    }
    let pk = &t.packets;
    let idx = t.by_device.get(dev as usize)?;
    let bg_lo = lo - 300 * S;
    let r_bg = t.device_range(dev, bg_lo, lo - 1);
    // Background rate: median bytes per burst-length window before the interval (robust to a
    // previous event inside it).
    let nwin = ((lo - bg_lo) / burst_ns).max(1) as usize;
    let mut wins = vec![0f64; nwin];
    for &i in &idx[r_bg.clone()] {
        let k = ((pk.ts[i as usize] - bg_lo) / burst_ns) as usize;
        if k < nwin {
            wins[k] += pk.orig_len[i as usize] as f64;
        }
    }
    wins.sort_by(|a, b| a.total_cmp(b));
    let bg = wins[nwin / 2];
    let r = t.device_range(dev, lo, hi + burst_ns);
    let cand = &idx[r];
    if cand.is_empty() {
        return None;
    }
    let ts: Vec<i64> = cand.iter().map(|&i| pk.ts[i as usize]).collect();
    let mut cum = Vec::with_capacity(cand.len() + 1);
    cum.push(0f64);
    for &i in cand {
        cum.push(cum.last().copied().unwrap_or(0.0) + pk.orig_len[i as usize] as f64);
    }
    let mut best: Option<Onset> = None;
    let mut prev_t = i64::MIN;
    for (k, &i) in cand.iter().enumerate() {
        let tk = ts[k];
        if tk > hi {
            break;
        }
        let i = i as usize;
        let syn = pk.bits[i] & bits::TCP != 0
            && pk.tcp_flags[i] & tcpf::SYN != 0
            && pk.tcp_flags[i] & tcpf::ACK == 0;
        // A packet after a quiet gap also starts a candidate burst.
        let gap = tk - prev_t > 2 * S;
        prev_t = tk;
        if !(syn || gap || k == 0) {
            continue;
        }
        let end = ts.partition_point(|&x| x < tk + burst_ns);
        let bytes = cum[end] - cum[k];
        let excess = bytes - bg;
        let bonus = if syn { 1.15 } else { 1.0 };
        let score = excess * bonus;
        if score > 0.0 && best.is_none_or(|b| score > b.excess_bytes * 1.0001) {
            best = Some(Onset {
                t: tk,
                excess_bytes: score,
                confidence: 0.0,
            });
        }
    }
    best.map(|mut b| {
        // Confidence: how far the burst stands above the background.
        let ratio = b.excess_bytes / (bg + 2000.0);
        b.confidence = (ratio / (ratio + 1.0)).clamp(0.0, 0.99);
        b
    })
}
