//! Small commands: a lock hub or plug acts on a command that is one small segment pushed by
//! the cloud on its persistent connection and a short status reply, amid keepalives of fixed
//! sizes. Such a command adds a few hundred bytes and does not stand out as a burst; it stands
//! out by what changes: a packet size or direction the device's recent traffic does not have,
//! a segment the remote side pushes, a new connection.

use std::collections::HashMap;

use super::*;

/// The device's recent traffic that defines "usual": this long before the searched interval.
pub const BASELINE_NS: i64 = 600 * S;
/// A (direction, IP length) seen in at least this share of the baseline is usual.
const USUAL_SHARE: f64 = 0.02;
/// Fewest baseline packets for the baseline to say what is usual.
const MIN_BASELINE: usize = 20;

/// A command found by change, or the evidence that none was there.
#[derive(Clone, Debug, PartialEq)]
pub enum CommandSearch {
    Found(Onset),
    /// Nothing new in the interval: how many packets the device had in it (all of usual
    /// sizes) and in its baseline.
    Absent {
        in_interval: usize,
        baseline: usize,
    },
}

/// Looks for the first command of `dev` in `[lo, hi]`: packets whose (direction, IP length)
/// its previous ten minutes do not have, a segment with payload pushed by the remote side, a
/// connection opened by either side (TCP only: lookups and time sync are housekeeping). Sizes
/// count only when the baseline's segments with payload keep to a few of them (80 % of them
/// in sizes of at least 2 % of the baseline each). Each candidate scores its novelty (one minus the share of baseline packets
/// like it), doubled for a remote push answered by a new-sized reply within 2 s; the best
/// candidate (the earliest of equals) is the command. `None` when the baseline is too thin to
/// say what is usual.
pub fn find_command(
    t: &Traffic,
    dev: u16,
    mac: Option<[u8; 6]>,
    lo: i64,
    hi: i64,
) -> Option<CommandSearch> {
    let idx = t.by_device.get(dev as usize)?;
    let pk = &t.packets;
    let sent = |i: usize| sent_by(t, mac, i);
    let base = &idx[t.device_range(dev, lo - BASELINE_NS, lo - 1)];
    if base.len() < MIN_BASELINE {
        return None;
    }
    let key = |i: usize| (sent(i), pk.ip_len[i]);
    let mut usual: HashMap<(bool, u16), usize> = HashMap::new();
    for &i in base {
        *usual.entry(key(i as usize)).or_default() += 1;
    }
    let share = |i: usize| usual.get(&key(i)).copied().unwrap_or(0) as f64 / base.len() as f64;
    // Usual: seen at least twice and in at least 2 % of the baseline.
    let is_usual =
        |i: usize| usual.get(&key(i)).copied().unwrap_or(0) >= 2 && share(i) >= USUAL_SHARE;
    // Sizes tell a command apart only when the device's segments with payload keep to a few
    // sizes (fixed keepalives); a device whose every segment has its own size is judged by
    // connections alone. Pure ACKs are left out: a burst of them says nothing about sizes.
    let with_payload: Vec<usize> = base
        .iter()
        .map(|&i| i as usize)
        .filter(|&i| pk.tcp_len[i] > 0)
        .collect();
    let covered = with_payload.iter().filter(|&&i| is_usual(i)).count();
    let sizes_tell =
        with_payload.len() >= MIN_BASELINE / 2 && covered as f64 >= 0.8 * with_payload.len() as f64;
    let inside = &idx[t.device_range(dev, lo, hi)];
    let mut cands: Vec<(f64, usize)> = Vec::new();
    for (k, &i) in inside.iter().enumerate() {
        let i = i as usize;
        // Commands travel over TCP; lookups, time and address traffic are the device's own
        // housekeeping, however rare.
        if pk.bits[i] & bits::TCP == 0 {
            continue;
        }
        let syn = pk.tcp_flags[i] & tcpf::SYN != 0;
        let novelty = 1.0 - share(i);
        if !syn && (!sizes_tell || pk.tcp_len[i] == 0 || is_usual(i)) {
            continue;
        }
        let mut score = if syn { 1.0 } else { novelty };
        // A remote push (payload towards the device) answered by a new-sized reply.
        let pushed = pk.tcp_len[i] > 0 && !sent(i);
        if pushed {
            let answered = inside[k + 1..]
                .iter()
                .map(|&j| j as usize)
                .take_while(|&j| pk.ts[j] <= pk.ts[i] + 2 * S)
                .any(|j| sent(j) && !is_usual(j));
            if answered {
                score *= 2.0;
            }
        }
        cands.push((score, i));
    }
    let best = cands.iter().map(|c| c.0).fold(0.0, f64::max);
    let Some(&(score, i)) = cands.iter().find(|c| c.0 >= best && best > 0.0) else {
        return Some(CommandSearch::Absent {
            in_interval: inside.len(),
            baseline: base.len(),
        });
    };
    Some(CommandSearch::Found(Onset {
        t: pk.ts[i],
        burst_t: pk.ts[i],
        first_packet: i as u32,
        excess_bytes: 0.0,
        confidence: (0.4 + 0.25 * score).clamp(0.0, 0.95),
    }))
}

/// Whether the device with this MAC sent packet `i`: the flow key's endpoint A sends the
/// packets without [`bits::DIR_BA`], endpoint B those with it.
fn sent_by(t: &Traffic, mac: Option<[u8; 6]>, i: usize) -> bool {
    let (Some(mac), Some(f)) = (mac, t.flows.get(t.packets.flow[i] as usize)) else {
        return false;
    };
    let from_b = t.packets.bits[i] & bits::DIR_BA != 0;
    (if from_b { f.key.mac_b } else { f.key.mac_a }) == mac
}

/// Evidence for a command found by change.
pub fn command_evidence(t: &Traffic, o: &Onset) -> String {
    let i = o.first_packet as usize;
    format!(
        "{} of {} bytes, a size its last 10 minutes of traffic do not have",
        describe_packet(t, i),
        t.packets.ip_len[i]
    )
}
