//! Label-source health: sources that went silent and bursts no label explains.

use super::*;

/// Stretches where a source logged nothing for much longer than usual.
pub(crate) fn silent(s: &Session, out: &mut Vec<Suggestion>, cfg: &CurateSettings) {
    for (si, src) in s.sources.iter().enumerate() {
        let ts: Vec<i64> = s
            .labels
            .events
            .iter()
            .filter(|e| e.source as usize == si)
            .map(|e| e.original_ns)
            .collect();
        let Some((med, gaps)) = silences(ts, cfg.silent_ns) else {
            continue;
        };
        for Silence {
            from: a,
            to: b,
            daily,
        } in gaps
        {
            let hours = (b - a) as f64 / 3600e9;
            let (note, confidence) = if daily {
                // The same pause every day is the source's schedule (a nightly trigger
                // window), not an outage: still listed, at a confidence a filter can hide.
                (
                    "; the same pause recurs at this time on other days (its schedule?)",
                    0.3,
                )
            } else {
                ("", (1.0 - med as f64 / (b - a) as f64).clamp(0.0, 0.99))
            };
            out.push(Suggestion {
                key: format!("silent:{si}:{a}"),
                kind: SuggestionKind::SourceSilent,
                event: None,
                device: None,
                reason: format!("{} logged nothing for {:.1} h", src.spec.path, hours),
                evidence: format!(
                    "{} .. {} UTC; it usually logs every {}{note}",
                    crate::timefmt::utc_short(a),
                    crate::timefmt::utc_short(b),
                    human_span(med)
                ),
                confidence,
                at_ns: Some(a),
                edit: None,
            });
        }
    }
}

/// A stretch without log rows.
#[derive(Debug, PartialEq)]
pub(crate) struct Silence {
    pub(crate) from: i64,
    pub(crate) to: i64,
    /// Another silence starts within an hour of the same time of day and lasts about as
    /// long.
    pub(crate) daily: bool,
}

/// The median gap between a source's distinct log times and the gaps longer than both
/// `min_ns` and eight times that median; `None` below ten distinct times. Equal times are merged
/// first: a scheduled trigger logs many applets in the same minute, and counting those zero
/// gaps made the usual gap 0.
pub(crate) fn silences(mut ts: Vec<i64>, min_ns: i64) -> Option<(i64, Vec<Silence>)> {
    const DAY: i64 = 86_400_000_000_000;
    const HOUR: i64 = 3_600_000_000_000;
    ts.sort_unstable();
    ts.dedup();
    if ts.len() < 10 {
        return None;
    }
    let mut gaps: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let med = gaps[gaps.len() / 2];
    // For events logged at random (Poisson) times, a gap above eight medians (5.5 mean gaps)
    // has a chance of 0.4 %: with the floor, rare enough to be worth a look.
    let thr = min_ns.max(med.saturating_mul(8));
    let long: Vec<(i64, i64)> = ts
        .windows(2)
        .filter(|w| w[1] - w[0] > thr)
        .map(|w| (w[0], w[1]))
        .collect();
    let alike = |x: (i64, i64), y: (i64, i64)| {
        let d = (x.0 - y.0).rem_euclid(DAY);
        let (lx, ly) = ((x.1 - x.0) as f64, (y.1 - y.0) as f64);
        d.min(DAY - d) <= HOUR && lx.max(ly) <= 1.5 * lx.min(ly)
    };
    let out = long
        .iter()
        .enumerate()
        .map(|(i, &x)| Silence {
            from: x.0,
            to: x.1,
            daily: long
                .iter()
                .enumerate()
                .filter(|&(j, &y)| j != i && alike(x, y))
                .count()
                >= 1,
        })
        .collect();
    Some((med, out))
}

/// `90 s`, `15 min`, `2.5 h`.
pub(crate) fn human_span(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// Bursts (new connections carrying much more than the background) that no label explains.
pub(crate) fn unlabelled(s: &Session, cfg: &CurateSettings, out: &mut Vec<Suggestion>) {
    use rayon::prelude::*;
    let t = &s.traffic;
    let pk = &t.packets;
    // Times of all events per traffic device.
    let mut ev_t: HashMap<u16, Vec<i64>> = HashMap::new();
    for e in &s.labels.events {
        if e.device != NO_DEVICE {
            ev_t.entry(s.traffic_device(e.device))
                .or_default()
                .push(s.adjusted_ns(e));
        }
    }
    for v in ev_t.values_mut() {
        v.sort();
    }
    let labelled_devs: Vec<u16> = {
        let mut v: Vec<u16> = ev_t.keys().copied().collect();
        v.sort();
        v
    };
    let found: Vec<Suggestion> = labelled_devs
        .par_iter()
        .flat_map_iter(|&dev| {
            let idx = &t.by_device[dev as usize];
            let times = &ev_t[&dev];
            let mut res = Vec::new();
            let mut last_report = i64::MIN;
            // Median bytes per burst window over the device's whole capture as background.
            let mut k = 0usize;
            let mut bursts = Vec::new();
            while k < idx.len() {
                let i = idx[k] as usize;
                let syn = pk.bits[i] & bits::TCP != 0
                    && pk.tcp_flags[i] & tcpf::SYN != 0
                    && pk.tcp_flags[i] & tcpf::ACK == 0;
                if syn {
                    let t0 = pk.ts[i];
                    let mut bytes = 0f64;
                    let mut j = k;
                    while j < idx.len() && pk.ts[idx[j] as usize] < t0 + cfg.burst_ns {
                        if pk.flow[idx[j] as usize] == pk.flow[i] {
                            bytes += pk.orig_len[idx[j] as usize] as f64;
                        }
                        j += 1;
                    }
                    bursts.push((t0, bytes, pk.flow[i]));
                }
                k += 1;
            }
            if bursts.is_empty() {
                return res;
            }
            let mut sizes: Vec<f64> = bursts.iter().map(|b| b.1).collect();
            sizes.sort_by(|a, b| a.total_cmp(b));
            let p90 = sizes[sizes.len() * 9 / 10];
            for (t0, bytes, flow) in bursts {
                if bytes < p90.max(20_000.0) || t0 - last_report < 300 * S {
                    continue;
                }
                let near = times.partition_point(|&x| x < t0 - 120 * S);
                if times.get(near).is_some_and(|&x| x <= t0 + 120 * S) {
                    continue;
                }
                last_report = t0;
                res.push(Suggestion {
                    key: format!("burst:{dev}:{t0}"),
                    kind: SuggestionKind::UnlabelledBurst,
                    event: None,
                    device: Some(s.device_name(dev).to_string()),
                    reason: format!(
                        "a {:.0} kB connection burst of {} has no label within 2 min",
                        bytes / 1000.0,
                        s.device_name(dev)
                    ),
                    evidence: match t.flows.get(flow as usize) {
                        Some(f) => format!(
                            "new TCP connection at {}: {}, {} packets over {} (ended: {})",
                            crate::timefmt::utc_short(t0),
                            f.endpoints(),
                            f.packets(),
                            crate::numfmt::human_duration(f.last_ns - f.first_ns),
                            f.end.as_str()
                        ),
                        None => format!("new TCP connection at {}", crate::timefmt::utc_short(t0)),
                    },
                    confidence: (bytes / (bytes + p90)).clamp(0.0, 0.99),
                    at_ns: Some(t0),
                    edit: None,
                });
            }
            res
        })
        .collect();
    out.extend(found);
}
