//! Where a device's traffic burst begins inside an interval: the onset that skew and offset
//! suggestions align labels to.

use super::*;

/// A detected burst onset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Onset {
    /// When the activity begins: the first packet of the lead-in (a lookup, a DHCP renewal, a
    /// TLS hello) that runs into the burst without a quiet gap, else the burst itself.
    pub t: i64,
    /// Where the strongest burst starts (equal to `t` without a lead-in).
    pub burst_t: i64,
    /// The packet at `t` (an index into the packet store).
    pub first_packet: u32,
    /// Bytes after the onset minus what the background rate predicts.
    pub excess_bytes: f64,
    pub confidence: f64,
}

/// Finds the onset of the strongest traffic burst of `dev` starting in `[lo, hi]`.
/// Candidates are new TCP connections opened by the device (SYN) and packets that start a
/// rise in rate; each is scored by the bytes in the next `burst_ns` above the background rate
/// measured in the five minutes before the interval — rate change, not mere presence, so
/// devices with constant background traffic still give sharp onsets. The onset's time is the
/// start of the burst's lead-in ([`lead_in`]).
pub fn find_onset(t: &Traffic, dev: u16, lo: i64, hi: i64, burst_ns: i64) -> Option<Onset> {
    let (cands, bg) = burst_candidates(t, dev, lo, hi, burst_ns)?;
    let mut best: Option<Onset> = None;
    for c in cands {
        if best.is_none_or(|b| c.excess_bytes > b.excess_bytes * 1.0001) {
            best = Some(c);
        }
    }
    best.map(|b| finish(t, dev, b, bg))
}

/// Every burst of `dev` starting in `[lo, hi]` at confidence `min_conf` or more, strongest
/// first, each at least `burst_ns` from any stronger one: the onsets a clock-offset estimate
/// can match events to when the strongest burst is not necessarily the event's.
pub fn onsets_in(
    t: &Traffic,
    dev: u16,
    lo: i64,
    hi: i64,
    burst_ns: i64,
    min_conf: f64,
) -> Vec<Onset> {
    let Some((mut cands, bg)) = burst_candidates(t, dev, lo, hi, burst_ns) else {
        return vec![];
    };
    cands.sort_by(|a, b| b.excess_bytes.total_cmp(&a.excess_bytes));
    let mut out: Vec<Onset> = Vec::new();
    for c in cands {
        if out.iter().any(|o| (o.burst_t - c.burst_t).abs() < burst_ns) {
            continue;
        }
        let o = finish(t, dev, c, bg);
        if o.confidence >= min_conf {
            out.push(o);
        }
    }
    out
}

/// Confidence from how far a burst stands above the background, and the lead-in's start.
fn finish(t: &Traffic, dev: u16, mut b: Onset, bg: f64) -> Onset {
    let ratio = b.excess_bytes / (bg + 2000.0);
    b.confidence = (ratio / (ratio + 1.0)).clamp(0.0, 0.99);
    if let Some((start, p)) = lead_in(t, dev, b.burst_t) {
        (b.t, b.first_packet) = (start, p);
    }
    b
}

/// The candidate bursts of `dev` starting in `[lo, hi]` with positive excess bytes, and the
/// background (median bytes per `burst_ns` in the five minutes before `lo`).
fn burst_candidates(
    t: &Traffic,
    dev: u16,
    lo: i64,
    hi: i64,
    burst_ns: i64,
) -> Option<(Vec<Onset>, f64)> {
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
    let mut out = Vec::new();
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
        let excess = cum[end] - cum[k] - bg;
        let score = if syn { excess * 1.15 } else { excess };
        if score > 0.0 {
            out.push(Onset {
                t: tk,
                burst_t: tk,
                first_packet: i as u32,
                excess_bytes: score,
                confidence: 0.0,
            });
        }
    }
    Some((out, bg))
}

/// A lead-in runs into its burst with no pause of this length or more between packets: a
/// DHCP client waking retransmits after about 4 s and then 8 s (RFC 2131's backoff, with up
/// to a second of jitter), and a lookup and hello follow within a second or two.
pub const LEAD_GAP_NS: i64 = 12 * S;
/// A lead-in is at most this long; a device busy for longer has no quiet start to find.
pub const LEAD_MAX_NS: i64 = 30 * S;

/// The start of the activity leading into a burst at `burst_t`: walking back over the device's
/// packets while each follows the previous by less than [`LEAD_GAP_NS`], the first packet after
/// such a pause, if it lies within [`LEAD_MAX_NS`] of the burst. A camera waking for motion
/// renews DHCP, looks up its cloud and says hello seconds before it uploads: the event is when
/// it woke. A device whose background traffic never pauses that long is walked back over its
/// wake-up packets alone (DHCP, DNS, EAPOL, ARP, connection opens), and only when that chain
/// starts by renewing its link or address (EAPOL or DHCP): lookups and connections alone are
/// everyday background. `None` when the burst has no lead-in.
pub fn lead_in(t: &Traffic, dev: u16, burst_t: i64) -> Option<(i64, u32)> {
    let idx = t.by_device.get(dev as usize)?;
    let ts = &t.packets.ts;
    let k0 = idx.partition_point(|&i| ts[i as usize] < burst_t);
    let walk = |wake_only: bool| -> Option<(i64, u32)> {
        let mut k = k0;
        let mut cur = (burst_t, None);
        while k > 0 {
            k -= 1;
            let i = idx[k];
            let prev = ts[i as usize];
            if wake_only && !is_wake_up(t, i as usize) && burst_t - prev <= LEAD_MAX_NS {
                continue;
            }
            if cur.0 - prev >= LEAD_GAP_NS {
                break;
            }
            if burst_t - prev > LEAD_MAX_NS {
                // No pause before the window's edge: only the wake-up walk may end here.
                return if wake_only {
                    cur.1.map(|p| (cur.0, p))
                } else {
                    None
                };
            }
            cur = (prev, Some(i));
        }
        cur.1.map(|p| (cur.0, p))
    };
    walk(false).or_else(|| walk(true).filter(|&(_, p)| renews_link(t, p as usize)))
}

/// EAPOL or DHCP: a device (re)joining the network.
fn renews_link(t: &Traffic, i: usize) -> bool {
    let pk = &t.packets;
    if pk.bits[i] & bits::EAPOL != 0 {
        return true;
    }
    t.flows.get(pk.flow[i] as usize).is_some_and(|f| {
        let k = &f.key;
        (k.is_l2 && k.ethertype == 0x888e)
            || (pk.bits[i] & bits::UDP != 0
                && [67, 68].iter().any(|p| k.port_a == *p || k.port_b == *p))
    })
}

/// Packets a device sends or receives when it wakes: address renewal, lookups, link
/// authentication, address resolution, and opening a connection.
fn is_wake_up(t: &Traffic, i: usize) -> bool {
    let pk = &t.packets;
    let b = pk.bits[i];
    if b & (bits::DNS | bits::EAPOL) != 0 {
        return true;
    }
    if b & bits::TCP != 0 && pk.tcp_flags[i] & tcpf::SYN != 0 {
        return true;
    }
    let Some(f) = t.flows.get(pk.flow[i] as usize) else {
        return false;
    };
    let k = &f.key;
    (k.is_l2 && matches!(k.ethertype, 0x0806 | 0x888e))
        || (b & bits::UDP != 0 && [67, 68].iter().any(|p| k.port_a == *p || k.port_b == *p))
}

/// What a packet is, in the words of an onset's evidence: "DNS query", "TCP SYN", "DHCP".
pub fn describe_packet(t: &Traffic, i: usize) -> String {
    let pk = &t.packets;
    let b = pk.bits[i];
    let flow = t.flows.get(pk.flow[i] as usize);
    let ports = flow.map_or((0, 0), |f| (f.key.port_a, f.key.port_b));
    let port = |p: u16| ports.0 == p || ports.1 == p;
    let l2 = flow.filter(|f| f.key.is_l2).map(|f| f.key.ethertype);
    if b & bits::DNS != 0 {
        "DNS query".into()
    } else if b & bits::EAPOL != 0 || l2 == Some(0x888e) {
        "EAPOL handshake".into()
    } else if l2 == Some(0x0806) {
        "ARP".into()
    } else if b & bits::UDP != 0 && (port(67) || port(68)) {
        "DHCP".into()
    } else if b & bits::NTP != 0 {
        "NTP".into()
    } else if b & bits::TCP != 0 && pk.tcp_flags[i] & tcpf::SYN != 0 {
        "TCP SYN".into()
    } else if b & bits::TLS != 0 {
        "TLS record".into()
    } else if let Some(f) = flow {
        format!("{} packet", f.protocol_name().to_uppercase())
    } else {
        "packet".into()
    }
}

/// Evidence for an onset: the burst, and the lead-in's first packet when there is one.
pub fn onset_evidence(t: &Traffic, o: &Onset) -> String {
    if o.t < o.burst_t {
        format!(
            "{} {:.1} s before the burst ({:.0} bytes above background)",
            describe_packet(t, o.first_packet as usize),
            (o.burst_t - o.t) as f64 / 1e9,
            o.excess_bytes
        )
    } else {
        format!(
            "burst starts with a {} ({:.0} bytes above background)",
            describe_packet(t, o.first_packet as usize),
            o.excess_bytes
        )
    }
}
