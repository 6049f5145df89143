//! Per-source clock offsets estimated from all of a source's events against their onsets.

use super::*;

/// Per-source clock offsets for second-precision sources: the median lag between logged
/// times and burst onsets.
pub(crate) fn offsets(
    s: &Session,
    events: &[&Event],
    dups: &std::collections::HashSet<u64>,
    cfg: &CurateSettings,
    out: &mut Vec<Suggestion>,
) {
    use rayon::prelude::*;
    for (si, src) in s.sources.iter().enumerate() {
        let evs: Vec<&&Event> = events
            .iter()
            .filter(|e| {
                e.source as usize == si
                    && e.precision == Precision::Second
                    && !dups.contains(&e.id)
                    && e.device != NO_DEVICE
                    && e.retime_ns.is_none()
            })
            .collect();
        if evs.len() < 5 {
            continue;
        }
        let mut lags: Vec<i64> = evs
            .par_iter()
            .filter_map(|e| {
                let t = s.adjusted_ns(e);
                let dev = s.traffic_device(e.device);
                find_onset(&s.traffic, dev, t - 20 * S, t + 20 * S, cfg.burst_ns)
                    .filter(|o| o.confidence >= 0.5)
                    .map(|o| o.t - t)
            })
            .collect();
        if lags.len() < 5 {
            continue;
        }
        lags.sort();
        let med = lags[lags.len() / 2];
        let q1 = lags[lags.len() / 4];
        let q3 = lags[lags.len() * 3 / 4];
        let cur = s.labels.offsets.get(si).copied().unwrap_or(0);
        // Round to 100 ms: the logs have second precision.
        let new = cur + (med as f64 / 1e8).round() as i64 * 100_000_000;
        if (new - cur).abs() < 500_000_000 {
            continue;
        }
        let spread = (q3 - q1) as f64 / 1e9;
        let conf = (lags.len() as f64 / evs.len() as f64) * (1.0 / (1.0 + spread / 5.0));
        out.push(Suggestion {
            key: format!("offset:{si}"),
            kind: SuggestionKind::SourceOffset,
            event: None,
            device: None,
            reason: format!(
                "{} ({}) logs {:+.1} s from burst onsets: set its clock offset to {:+.1} s",
                src.spec.path,
                src.spec.kind.as_str(),
                -(med as f64) / 1e9,
                new as f64 / 1e9
            ),
            evidence: format!(
                "{} of {} events have a burst within ±20 s; lag quartiles {:+.1} / {:+.1} / {:+.1} s",
                lags.len(),
                evs.len(),
                q1 as f64 / 1e9,
                med as f64 / 1e9,
                q3 as f64 / 1e9
            ),
            confidence: conf.clamp(0.0, 0.99),
            at_ns: None,
            edit: Some(Edit::SetSourceOffset { source: si as u16, from: cur, to: new }),
        });
    }
}

/// How far a minute-precision source's clock offset is searched, each way.
pub const MINUTE_OFFSET_RANGE_NS: i64 = 180 * S;
/// Events sampled per source for the minute-offset estimate.
const MINUTE_SAMPLE: usize = 400;

/// Per-source clock offsets for minute-precision sources. A logger whose clock runs fast, or a
/// systematic polling delay, pushes true times out of the interval each logged minute is
/// searched in. Each sampled event's strongest burst within three minutes of its interval is
/// taken as its traffic; for every candidate offset from −3 to +3 min (1 s steps) this counts
/// the events whose burst lies inside their uncertainty interval shifted by it. When the
/// current offset is not among the best, the estimate is the best offset nearest it, moved up
/// to 5 s into the best run (its middle when the run is short), and is suggested when it
/// explains clearly more events than the current offset does. Events other sources also
/// logged count too: their traffic is theirs all the same, and matching them across sources
/// needs the offset first.
pub(crate) fn minute_offsets(
    s: &Session,
    events: &[&Event],
    cfg: &CurateSettings,
    out: &mut Vec<Suggestion>,
) {
    use rayon::prelude::*;
    for (si, src) in s.sources.iter().enumerate() {
        let kind = Some(src.spec.kind);
        let evs: Vec<&&Event> = events
            .iter()
            .filter(|e| {
                e.source as usize == si
                    && e.precision == Precision::Minute
                    && e.device != NO_DEVICE
                    && e.retime_ns.is_none()
            })
            .collect();
        if evs.len() < 10 {
            continue;
        }
        let step = evs.len().div_ceil(MINUTE_SAMPLE);
        let cur = s.labels.offsets.get(si).copied().unwrap_or(0);
        // The strongest onset near each sampled event, relative to its logged time (with the
        // current offset).
        let rel: Vec<i64> = evs
            .par_iter()
            .step_by(step)
            .map(|e| {
                let t = s.adjusted_ns(e);
                let (lo, hi) = uncertainty(kind, Precision::Minute, t);
                let dev = s.traffic_device(e.device);
                find_onset(
                    &s.traffic,
                    dev,
                    lo - MINUTE_OFFSET_RANGE_NS,
                    hi + MINUTE_OFFSET_RANGE_NS,
                    cfg.burst_ns,
                )
                .filter(|o| o.confidence >= 0.3)
                .map(|o| o.t - t)
            })
            .filter_map(|x| x)
            .collect();
        if rel.len() < 10 {
            continue;
        }
        let (a, b) = uncertainty(kind, Precision::Minute, 0);
        let steps = MINUTE_OFFSET_RANGE_NS / S;
        let score = |d: i64| {
            rel.iter()
                .filter(|&&x| x >= a + d * S && x <= b + d * S)
                .count()
        };
        let scores: Vec<usize> = (-steps..=steps).map(score).collect();
        let at = |d: i64| scores[(d + steps) as usize];
        let best = scores.iter().copied().max().unwrap_or(0);
        let zero = at(0);
        if zero == best {
            continue;
        }
        // The best offset nearest the current one, moved into its run.
        let Some(d0) = (0..=steps).flat_map(|k| [k, -k]).find(|&d| at(d) == best) else {
            continue;
        };
        let (mut l, mut r) = (d0, d0);
        while l > -steps && at(l - 1) == best {
            l -= 1;
        }
        while r < steps && at(r + 1) == best {
            r += 1;
        }
        let inward = ((r - l) / 2).min(5);
        let d = if d0 > 0 { d0 + inward } else { d0 - inward };
        let gain = best - zero;
        if gain < 3.max(rel.len() / 50) {
            continue;
        }
        let new = cur + d * S;
        let missed = rel.len() - zero;
        let conf = (gain as f64 / missed.max(1) as f64).clamp(0.0, 0.99);
        out.push(Suggestion {
            key: format!("offset:{si}"),
            kind: SuggestionKind::SourceOffset,
            event: None,
            device: None,
            reason: format!(
                "{} ({}, minute precision): its minutes fit the traffic best shifted by {:+} s: \
                 set its clock offset to {:+.0} s",
                src.spec.path,
                src.spec.kind.as_str(),
                d,
                new as f64 / 1e9
            ),
            evidence: format!(
                "{best} of {} sampled events have a burst onset in their interval shifted by \
                 {l:+}..{r:+} s, against {zero} unshifted",
                rel.len()
            ),
            confidence: conf,
            at_ns: None,
            edit: Some(Edit::SetSourceOffset {
                source: si as u16,
                from: cur,
                to: new,
            }),
        });
    }
}
