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
        let evs = clock_events(events, si);
        if evs.len() < 10 {
            continue;
        }
        // A source whose clock steps is fitted by the step first.
        let stepping = format!("step:{si}:");
        if out.iter().any(|x| x.key.starts_with(&stepping)) {
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

/// Fewest events on each side of a clock step.
const STEP_MIN_SIDE: usize = 15;
/// Smallest clock step suggested.
const STEP_MIN_NS: i64 = 20 * S;

/// Clock steps of minute-precision sources: a logger clock (or a service's lateness) that
/// jumps during the capture. Each sampled event's lag to the activity found within 3 minutes of
/// it is taken in time order; the split that most lowers the summed absolute deviation from
/// each side's median is a step when the medians differ by 20 s or more, each side holds at
/// least 15 events, the split removes at least 30 % of the deviation, and the two sides are
/// told apart (|2·AUC − 1| ≥ 0.5, its confidence). Accepting adds the step from that instant
/// on, as an edit.
pub(crate) fn clock_steps(s: &Session, m: &Measured, out: &mut Vec<Suggestion>) {
    for (si, src) in s.sources.iter().enumerate() {
        let Some(lags) = m.lags.get(&si) else {
            continue;
        };
        let Some((k, left, right, gain)) = best_split(lags) else {
            continue;
        };
        let d = right - left;
        if d.abs() < STEP_MIN_NS || gain < 0.3 {
            continue;
        }
        let at = (lags[k - 1].0 + lags[k].0) / 2;
        let separation = separation(&lags[..k], &lags[k..]);
        if separation < 0.5 {
            continue;
        }
        let mut to = s.labels.steps.get(si).cloned().unwrap_or_default();
        to.push((at, d));
        out.push(Suggestion {
            key: format!("step:{si}:{at}"),
            kind: SuggestionKind::SourceOffset,
            event: None,
            device: None,
            reason: format!(
                "{} ({}): its clock steps by {:+.0} s around {}: add the step from then on",
                src.spec.path,
                src.spec.kind.as_str(),
                d as f64 / 1e9,
                crate::timefmt::utc_short(at)
            ),
            evidence: format!(
                "median lag to the device's activity {:+.0} s over {} events before, {:+.0} s \
                 over {} after; the split removes {:.0} % of the spread; a lag before exceeds \
                 one after in {:.0} % of pairs",
                left as f64 / 1e9,
                k,
                right as f64 / 1e9,
                lags.len() - k,
                gain * 100.0,
                (separation + 1.0) / 2.0 * 100.0
            ),
            confidence: separation.clamp(0.0, 0.99),
            at_ns: Some(at),
            edit: Some(Edit::SetSourceSteps {
                source: si as u16,
                from: s.labels.steps.get(si).cloned().unwrap_or_default(),
                to,
            }),
        });
    }
}

/// How well two runs of lags are told apart: |2·AUC − 1|, where AUC is the share of (left,
/// right) pairs with the left lag the greater (ties count half): 0 for the same distribution,
/// 1 when every left lag lies on one side of every right one.
fn separation(left: &[(i64, i64)], right: &[(i64, i64)]) -> f64 {
    let mut greater = 0f64;
    for a in left {
        for b in right {
            greater += match a.1.cmp(&b.1) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            };
        }
    }
    let auc = greater / (left.len() * right.len()).max(1) as f64;
    (2.0 * auc - 1.0).abs()
}

/// The split of time-ordered `(t, lag)` pairs into two runs that most lowers the summed
/// absolute deviation from each run's median: (first index of the second run, left median,
/// right median, share of the deviation removed).
fn best_split(lags: &[(i64, i64)]) -> Option<(usize, i64, i64, f64)> {
    let n = lags.len();
    if n < 2 * STEP_MIN_SIDE {
        return None;
    }
    let dev = |v: &[i64]| -> (i64, f64) {
        let mut w = v.to_vec();
        w.sort_unstable();
        let m = w[w.len() / 2];
        (m, w.iter().map(|x| (x - m).abs() as f64).sum())
    };
    let all: Vec<i64> = lags.iter().map(|x| x.1).collect();
    let (_, total) = dev(&all);
    if total <= 0.0 {
        return None;
    }
    let mut best: Option<(usize, i64, i64, f64)> = None;
    // Candidate splits every few events keep this linear-ish on long sources.
    let stride = (n / 100).max(1);
    for k in (STEP_MIN_SIDE..=n - STEP_MIN_SIDE).step_by(stride) {
        let (ml, cl) = dev(&all[..k]);
        let (mr, cr) = dev(&all[k..]);
        let gain = 1.0 - (cl + cr) / total;
        if best.is_none_or(|b| gain > b.3) {
            best = Some((k, ml, mr, gain));
        }
    }
    best
}

#[cfg(test)]
mod step_tests {
    use super::*;

    #[test]
    fn a_step_in_the_lags_is_found_where_it_happens() {
        let lags: Vec<(i64, i64)> = (0..60)
            .map(|i| {
                (
                    i * 1000,
                    if i < 35 {
                        20 * S + (i % 7) * S
                    } else {
                        -40 * S + (i % 5) * S
                    },
                )
            })
            .collect();
        let (k, l, r, gain) = best_split(&lags).unwrap();
        assert_eq!(k, 35);
        assert!(
            (l - 23 * S).abs() <= 3 * S && (r + 38 * S).abs() <= 3 * S,
            "{l} {r}"
        );
        assert!(gain > 0.8);
        let flat: Vec<(i64, i64)> = (0..60).map(|i| (i, (i % 9) * S)).collect();
        assert!(best_split(&flat).unwrap().3 < 0.3);
    }
}
