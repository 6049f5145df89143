//! Minute-level skew: a minute-precision label moved to its device's traffic onset, or to its
//! command when the device's activity is a small command among keepalives; and scheduled
//! triggers with no traffic, on evidence of absence.

use super::*;

/// How far a scheduled trigger's action is looked for around its minute when measuring the
/// source's delays.
const DELAY_SEARCH_NS: i64 = 180 * S;

pub(crate) fn skew(
    s: &Session,
    events: &[&Event],
    dups: &std::collections::HashSet<u64>,
    cfg: &CurateSettings,
    out: &mut Vec<Suggestion>,
) {
    use rayon::prelude::*;
    // Traffic devices that carry the events of several labelled devices (a hub's children): a
    // connection or new packet size there cannot be told to be this event's command.
    let mut labelled: HashMap<u16, std::collections::BTreeSet<u16>> = HashMap::new();
    for e in events.iter().filter(|e| e.device != NO_DEVICE) {
        labelled
            .entry(s.traffic_device(e.device))
            .or_default()
            .insert(e.device);
    }
    let shared = |dev: u16| labelled.get(&dev).is_some_and(|v| v.len() > 1);
    let windows: HashMap<u16, (i64, i64)> = (0..s.sources.len())
        .filter(|&si| s.sources[si].spec.kind == SourceKind::IftttTrigger)
        .filter_map(|si| trigger_window(s, events, si, cfg, &shared).map(|w| (si as u16, w)))
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
            let (lo, hi) = match windows.get(&e.source) {
                Some(&(a, b)) => (t + a, t + b),
                None => uncertainty(kind, e.precision, t),
            };
            let dev = s.traffic_device(e.device);
            let searched = format!(
                "searched {:+.0}..{:+.0} s",
                (lo - t) as f64 / 1e9,
                (hi - t) as f64 / 1e9
            );
            match activity(s, dev, lo, hi, cfg, shared(dev)) {
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
    out.extend(found);
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
/// minute, from the source's measured delays: the 1st to 99th percentile of the lags between
/// each sampled trigger and the activity found within 3 minutes of it, widened by 10 s and
/// never narrower than the minute itself. `None` below 20 measured delays (the fixed
/// `[minute, minute + 60 s]` then applies).
fn trigger_window(
    s: &Session,
    events: &[&Event],
    si: usize,
    cfg: &CurateSettings,
    shared: &(dyn Fn(u16) -> bool + Sync),
) -> Option<(i64, i64)> {
    use rayon::prelude::*;
    let evs: Vec<&&Event> = events
        .iter()
        .filter(|e| e.source as usize == si && e.device != NO_DEVICE && e.retime_ns.is_none())
        .collect();
    let step = evs.len().div_ceil(200).max(1);
    let mut lags: Vec<i64> = evs
        .par_iter()
        .step_by(step)
        .filter_map(|e| {
            let t = s.adjusted_ns(e);
            let dev = s.traffic_device(e.device);
            match activity(
                s,
                dev,
                t - DELAY_SEARCH_NS,
                t + DELAY_SEARCH_NS,
                cfg,
                shared(dev),
            ) {
                Activity::Found(o, _) => Some(o.t - t),
                Activity::Absent(..) => None,
            }
        })
        .collect();
    if lags.len() < 20 {
        return None;
    }
    lags.sort_unstable();
    let q = |p: f64| lags[((lags.len() - 1) as f64 * p).round() as usize];
    Some(((q(0.01) - 10 * S).min(0), (q(0.99) + 10 * S).max(60 * S)))
}
