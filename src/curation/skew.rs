//! Minute-level skew: a minute-precision label moved to its device's traffic onset, or to its
//! command when the device's activity is a small command among keepalives; and scheduled
//! triggers with no traffic, on evidence of absence.

use super::*;

/// How far an event's activity is looked for around its logged time when measuring a
/// source's delays and clock.
pub(crate) const LAG_SEARCH_NS: i64 = 180 * S;
/// Events sampled per source for its lags.
const LAG_SAMPLE: usize = 400;

/// What one suggestion pass measures once and several detectors read.
pub(crate) struct Measured {
    /// Traffic devices that carry the events of several labelled devices (a hub's children): a
    /// connection or new packet size there cannot be told to be one event's command.
    pub(crate) shared: HashSet<u16>,
    /// Per minute-precision source: (logged ns, activity − adjusted time) of its sampled
    /// events whose activity was found within 3 minutes, in logged-time order.
    pub(crate) lags: HashMap<usize, Vec<(i64, i64)>>,
}

impl Measured {
    pub(crate) fn new(s: &Session, events: &[&Event], cfg: &CurateSettings) -> Measured {
        use rayon::prelude::*;
        let mut labelled: HashMap<u16, std::collections::BTreeSet<u16>> = HashMap::new();
        for e in events.iter().filter(|e| e.device != NO_DEVICE) {
            labelled
                .entry(s.traffic_device(e.device))
                .or_default()
                .insert(e.device);
        }
        let shared: HashSet<u16> = labelled
            .into_iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(d, _)| d)
            .collect();
        let lags = (0..s.sources.len())
            .filter_map(|si| {
                let evs = clock_events(events, si);
                if evs.is_empty() {
                    return None;
                }
                let step = evs.len().div_ceil(LAG_SAMPLE);
                let lags: Vec<(i64, i64)> = evs
                    .par_iter()
                    .step_by(step)
                    .filter_map(|e| {
                        let t = s.adjusted_ns(e);
                        let dev = s.traffic_device(e.device);
                        let (lo, hi) = (t - LAG_SEARCH_NS, t + LAG_SEARCH_NS);
                        match activity(s, dev, lo, hi, cfg, shared.contains(&dev)) {
                            Activity::Found(o, _) => Some((e.original_ns, o.t - t)),
                            Activity::Absent(..) => None,
                        }
                    })
                    .collect();
                Some((si, lags))
            })
            .collect();
        Measured { shared, lags }
    }
}

/// The events of source `si` a clock or delay estimate reads: minute precision, of a device,
/// not retimed by hand; in logged-time order.
pub(crate) fn clock_events<'a>(events: &[&'a Event], si: usize) -> Vec<&'a Event> {
    let mut v: Vec<&Event> = events
        .iter()
        .copied()
        .filter(|e| {
            e.source as usize == si
                && e.precision == Precision::Minute
                && e.device != NO_DEVICE
                && e.retime_ns.is_none()
        })
        .collect();
    v.sort_by_key(|e| (e.original_ns, e.id));
    v
}

pub(crate) fn skew(
    s: &Session,
    events: &[&Event],
    dups: &HashSet<u64>,
    cfg: &CurateSettings,
    m: &Measured,
    out: &mut Vec<Suggestion>,
) {
    use rayon::prelude::*;
    let windows: HashMap<u16, (i64, i64)> = (0..s.sources.len())
        .filter(|&si| s.sources[si].spec.kind == SourceKind::IftttTrigger)
        .filter_map(|si| trigger_window(m.lags.get(&si)?).map(|w| (si as u16, w)))
        .collect();
    let found: Vec<Suggestion> = events
        .par_iter()
        .filter(|e| {
            e.precision == Precision::Minute
                && e.retime_ns.is_none()
                && !dups.contains(&e.id)
                && e.device != NO_DEVICE
        })
        .filter_map(|e| {
            let t = s.adjusted_ns(e);
            let kind = kind_of(s, e);
            let (lo, hi) = search_interval(s, &windows, e);
            let dev = s.traffic_device(e.device);
            let searched = format!(
                "searched {:+.0}..{:+.0} s",
                (lo - t) as f64 / 1e9,
                (hi - t) as f64 / 1e9
            );
            match activity(s, dev, lo, hi, cfg, m.shared.contains(&dev)) {
                Activity::Found(o, evidence) => Some(Suggestion {
                    key: format!("skew:{}", e.id),
                    kind: SuggestionKind::Skew,
                    event: Some(e.id),
                    device: Some(s.device_name(e.device).to_string()),
                    reason: format!(
                        "traffic of {} starts {:+.1} s from the logged minute",
                        s.device_name(dev),
                        (o.t - t) as f64 / 1e9
                    ),
                    evidence: format!("{evidence}; {searched}"),
                    confidence: o.confidence,
                    at_ns: Some(o.t),
                    edit: Some(Edit::Retime {
                        id: e.id,
                        from: e.retime_ns,
                        to: Some(o.t),
                    }),
                }),
                // Only where the captures see the device at all: a device never captured
                // cannot show that a trigger had no effect.
                Activity::Absent(evidence, confidence)
                    if kind == Some(SourceKind::IftttTrigger)
                        && s.traffic
                            .by_device
                            .get(dev as usize)
                            .is_some_and(|v| !v.is_empty()) =>
                {
                    Some(Suggestion {
                        key: format!("notraffic:{}", e.id),
                        kind: SuggestionKind::NoTraffic,
                        event: Some(e.id),
                        device: Some(s.device_name(e.device).to_string()),
                        reason: "scheduled trigger produced no traffic".into(),
                        evidence: format!("{evidence}; {searched}"),
                        confidence,
                        at_ns: Some(t),
                        edit: Some(Edit::reject(e)),
                    })
                }
                Activity::Absent(..) => wrong_device(s, e, lo, hi, cfg),
            }
        })
        .collect();
    let mut found = found;
    claim_distinct_onsets(s, events, &windows, cfg, m, &mut found);
    out.extend(found);
}

/// The interval a minute-precision event's activity is searched in: its source's measured
/// trigger window, else its uncertainty interval.
fn search_interval(s: &Session, windows: &HashMap<u16, (i64, i64)>, e: &Event) -> (i64, i64) {
    let t = s.adjusted_ns(e);
    match windows.get(&e.source) {
        Some(&(a, b)) => (t + a, t + b),
        None => uncertainty(kind_of(s, e), e.precision, t),
    }
}

/// Labels of several devices behind one hub, logged for the same minute, each land on a
/// command of their own: when several skew suggestions name the same onset, the first (in log
/// order) keeps it and each next one takes the hub's strongest other activity in its interval,
/// before or after the onsets already claimed. Which light's command is which cannot be told
/// from the hub's traffic, but no command is labelled twice while another goes unlabelled.
fn claim_distinct_onsets(
    s: &Session,
    events: &[&Event],
    windows: &HashMap<u16, (i64, i64)>,
    cfg: &CurateSettings,
    m: &Measured,
    found: &mut [Suggestion],
) {
    let by_id: HashMap<u64, &Event> = events.iter().map(|e| (e.id, *e)).collect();
    let mut groups: std::collections::BTreeMap<(u16, i64), Vec<usize>> = Default::default();
    for (i, sg) in found.iter().enumerate() {
        if let (SuggestionKind::Skew, Some(id), Some(at)) = (sg.kind, sg.event, sg.at_ns) {
            if let Some(e) = by_id.get(&id) {
                groups
                    .entry((s.traffic_device(e.device), at))
                    .or_default()
                    .push(i);
            }
        }
    }
    for ((dev, at), mut idx) in groups.into_iter().filter(|(_, v)| v.len() > 1) {
        idx.sort_by_key(|&i| found[i].event);
        // Another command looks like the claimed one: a burst of at least half its excess
        // bytes. Smaller activity is background, and two commands merged into one burst stay
        // on it together.
        let Some(first) = found[idx[0]].event.and_then(|id| by_id.get(&id)) else {
            continue;
        };
        let (lo, hi) = search_interval(s, windows, first);
        let Some(claimed_burst) = find_onset(&s.traffic, dev, lo, hi, cfg.burst_ns) else {
            continue;
        };
        let min_excess = claimed_burst.excess_bytes * 0.5;
        let mut claimed = vec![at];
        for &i in &idx[1..] {
            let Some(e) = found[i].event.and_then(|id| by_id.get(&id)) else {
                continue;
            };
            let (lo, hi) = search_interval(s, windows, e);
            let shared = m.shared.contains(&dev);
            let Some((o, evidence)) = free_activity(s, dev, (lo, hi), &claimed, cfg, shared)
                .filter(|(o, _)| o.excess_bytes >= min_excess)
            else {
                continue;
            };
            claimed.push(o.t);
            let t = s.adjusted_ns(e);
            let sg = &mut found[i];
            sg.reason = format!(
                "traffic of {} starts {:+.1} s from the logged minute",
                s.device_name(dev),
                (o.t - t) as f64 / 1e9
            );
            sg.evidence = format!(
                "{evidence}; the activity at {:+.1} s is another label's of the same minute",
                (at - t) as f64 / 1e9
            );
            sg.confidence = o.confidence;
            sg.at_ns = Some(o.t);
            sg.edit = Some(Edit::Retime {
                id: e.id,
                from: e.retime_ns,
                to: Some(o.t),
            });
        }
    }
}

/// The strongest activity of `dev` in `(lo, hi)` that starts at least a burst away from every
/// claimed onset: searched in the gaps between them.
fn free_activity(
    s: &Session,
    dev: u16,
    (lo, hi): (i64, i64),
    claimed: &[i64],
    cfg: &CurateSettings,
    shared: bool,
) -> Option<(Onset, String)> {
    let mut cuts: Vec<i64> = claimed.to_vec();
    cuts.sort_unstable();
    let mut gaps = Vec::new();
    let mut from = lo;
    for c in cuts {
        gaps.push((from, (c - cfg.burst_ns).min(hi)));
        from = from.max(c + cfg.burst_ns);
    }
    gaps.push((from, hi));
    // An onset is walked back over its lead-in, so a burst found in a gap may be the tail of
    // a claimed one: such a find moves the gap's start past it and the gap is searched again.
    let near_claimed = |t: i64| claimed.iter().any(|&c| (t - c).abs() < cfg.burst_ns);
    let mut best: Option<(Onset, String)> = None;
    for (mut a, b) in gaps {
        for _ in 0..8 {
            if b <= a {
                break;
            }
            let Activity::Found(o, ev) = activity(s, dev, a, b, cfg, shared) else {
                break;
            };
            if near_claimed(o.t) {
                a = o.burst_t.max(a) + cfg.burst_ns;
                continue;
            }
            if best.as_ref().is_none_or(|x| o.confidence > x.0.confidence) {
                best = Some((o, ev));
            }
            break;
        }
    }
    best
}

/// What a device did inside an interval.
pub(crate) enum Activity {
    /// Its activity begins at the onset; the evidence says how it was found.
    Found(Onset, String),
    /// Nothing was found: what was looked for, and how sure the absence is.
    Absent(String, f64),
}

/// A burst (bytes above background), else (on a device that carries one labelled device's
/// events) a command found by change; when neither, the evidence of absence.
pub(crate) fn activity(
    s: &Session,
    dev: u16,
    lo: i64,
    hi: i64,
    cfg: &CurateSettings,
    shared: bool,
) -> Activity {
    if let Some(o) =
        find_onset(&s.traffic, dev, lo, hi, cfg.burst_ns).filter(|o| o.confidence >= 0.3)
    {
        return Activity::Found(o, onset_evidence(&s.traffic, &o));
    }
    let mac = s.registry.devices.get(dev as usize).and_then(|d| d.mac);
    let name = s.device_name(dev);
    if shared {
        return Activity::Absent(
            format!(
                "no burst from {name}, which carries several devices' events: a small command \
                 there cannot be told to be this one's"
            ),
            0.8,
        );
    }
    match find_command(&s.traffic, dev, mac, lo, hi) {
        Some(CommandSearch::Found(o)) => Activity::Found(o, command_evidence(&s.traffic, &o)),
        Some(CommandSearch::Absent {
            in_interval,
            baseline,
        }) if in_interval > 0 => Activity::Absent(
            format!(
                "{name} was online ({in_interval} packets, all of sizes and directions its \
                 previous 10 minutes had: {baseline} packets) but showed no burst, no new \
                 connection and no pushed command"
            ),
            0.95,
        ),
        Some(CommandSearch::Absent { baseline, .. }) => Activity::Absent(
            format!(
                "{name} sent and received nothing, after {baseline} packets in the previous \
                 10 minutes: offline, or the capture missed it"
            ),
            0.6,
        ),
        None => Activity::Absent(
            format!(
                "no burst from {name}, and too little traffic in the previous 10 minutes to \
                 tell a small command from its usual packets"
            ),
            0.5,
        ),
    }
}

/// The interval a scheduled-trigger source's actions are searched in, relative to the logged
/// minute, from the source's measured delays ([`Measured::lags`]): their 1st to 99th
/// percentile, widened by 10 s and never narrower than the minute itself. `None` below 20
/// measured delays (the fixed `[minute, minute + 60 s]` then applies).
fn trigger_window(lags: &[(i64, i64)]) -> Option<(i64, i64)> {
    if lags.len() < 20 {
        return None;
    }
    let mut lags: Vec<i64> = lags.iter().map(|x| x.1).collect();
    lags.sort_unstable();
    let q = |p: f64| lags[((lags.len() - 1) as f64 * p).round() as usize];
    Some(((q(0.01) - 10 * S).min(0), (q(0.99) + 10 * S).max(60 * S)))
}
