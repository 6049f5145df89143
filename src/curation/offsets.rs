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
        // A source whose clock steps or drifts is fitted by that change first.
        let (stepping, drifting) = (format!("step:{si}:"), format!("drift:{si}"));
        if out
            .iter()
            .any(|x| x.key.starts_with(&stepping) || x.key == drifting)
        {
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

/// Half the width of the band a minute-precision lag scatters in around its source's clock:
/// the logged minute hides up to a minute of the true time.
const LAG_BAND_NS: i64 = 30 * S;
/// Where a lag's misfit stops counting: a lag further than this from a model is activity of
/// another kind found by the search (or none of the event's own), whatever the distance.
const LAG_CAP_NS: i64 = 60 * S;

/// A model's misfit to lags: the mean distance, in seconds, of each lag from the model's lag
/// at its time, each capped at [`LAG_CAP_NS`], over the lags the model can explain (those
/// whose model lag lies within the 3-minute search: under a clock that drifted further, the
/// search finds other activity, at random), with how many those are.
fn misfit(lags: &[(i64, i64)], model: impl Fn(i64) -> i64) -> (f64, usize) {
    let (mut sum, mut n) = (0.0, 0usize);
    for &(t, l) in lags {
        let m = model(t);
        if m.abs() <= LAG_SEARCH_NS {
            sum += (l - m).abs().min(LAG_CAP_NS) as f64 / 1e9;
            n += 1;
        }
    }
    match n {
        0 => (f64::INFINITY, 0),
        _ => (sum / n as f64, n),
    }
}

/// Clock changes of minute-precision sources: a logger clock (or a service's lateness) that
/// jumps, or drifts, during the capture. Each sampled event's lag to the activity found within
/// 3 minutes of it is taken in time order, and two models are fitted to the lags:
/// - a **step**: the split that most lowers the summed absolute deviation from each side's
///   median, when the medians differ by 20 s or more, each side holds at least 15 events, the
///   split removes at least 30 % of the deviation and the two sides are told apart
///   (|2·AUC − 1| ≥ 0.5, its confidence);
/// - a **drift**: the line of least [`misfit`] (each lag's distance from it, capped at 60 s,
///   over the lags it puts within the search: where a clock drifted further than the search
///   reaches, the activity found is other activity, at random), over lines through pairs of
///   lags an hour or more apart that explain at least 15 lags and a sixth of all, refined by
///   the Theil–Sen slope of the lags within ±30 s of it. It is a drift when it changes by 20 s
///   or more across those lags, holds at least 15 of them, has at most 70 % of the best
///   constant's misfit, and |Kendall τ| of time and lag over the lags it holds, its
///   confidence, is 0.3 or more (0 for no trend, 1 for lags that only rise or only fall).
///
/// When both pass, the model of less misfit wins. Lags repeated exactly (one event logged
/// several times) count once. Accepting adds the step from that instant on, or the drift (the
/// line moved so that it runs through the middle of the source's search interval, between the
/// first and last lag it holds) to the source's drift anchors, as an edit.
pub(crate) fn clock_changes(s: &Session, m: &Measured, out: &mut Vec<Suggestion>) {
    for si in 0..s.sources.len() {
        let Some(lags) = m.lags.get(&si) else {
            continue;
        };
        let step = best_split(lags).filter(|&(k, left, right, gain)| {
            (right - left).abs() >= STEP_MIN_NS
                && gain >= 0.3
                && separation(&lags[..k], &lags[k..]) >= 0.5
        });
        let drift = fit_line(lags).filter(|f| {
            let change = f.slope * (f.t1 - f.t0) as f64;
            change.abs() >= STEP_MIN_NS as f64
                && f.inliers >= STEP_MIN_SIDE
                && f.misfit <= 0.7 * f.constant_misfit
                && f.tau.abs() >= 0.3
        });
        let step_misfit = |(k, left, right, _): (usize, i64, i64, f64)| {
            let ((a, na), (b, nb)) = (misfit(&lags[..k], |_| left), misfit(&lags[k..], |_| right));
            (a * na as f64 + b * nb as f64) / (na + nb).max(1) as f64
        };
        match (step, drift) {
            (Some(st), Some(d)) if d.misfit < step_misfit(st) => {
                out.push(drift_suggestion(s, si, lags, &d))
            }
            (Some(st), _) => out.push(step_suggestion(s, si, lags, st)),
            (None, Some(d)) => out.push(drift_suggestion(s, si, lags, &d)),
            (None, None) => {}
        }
    }
}

fn step_suggestion(
    s: &Session,
    si: usize,
    lags: &[(i64, i64)],
    (k, left, right, gain): (usize, i64, i64, f64),
) -> Suggestion {
    let src = &s.sources[si];
    let d = right - left;
    let at = (lags[k - 1].0 + lags[k].0) / 2;
    let separation = separation(&lags[..k], &lags[k..]);
    let mut to = s.labels.steps.get(si).cloned().unwrap_or_default();
    to.push((at, d));
    Suggestion {
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
    }
}

fn drift_suggestion(s: &Session, si: usize, lags: &[(i64, i64)], f: &LineFit) -> Suggestion {
    use crate::curation::clock;
    let src = &s.sources[si];
    let (lo, hi) = uncertainty(Some(src.spec.kind), Precision::Minute, 0);
    let target = (lo + hi) / 2;
    let lag_at = |t: i64| f.lag_at(t);
    let from = s.labels.drifts.get(si).cloned().unwrap_or_default();
    // The anchors sit at the source's first and last events, on the fitted line, so the
    // Suggestions tab's fields name the offset where the log begins and ends.
    let times = s
        .labels
        .events
        .iter()
        .filter(|e| e.source as usize == si)
        .map(|e| e.original_ns);
    let (a, b) = times.fold((f.t0, f.t1), |(a, b), t| (a.min(t), b.max(t)));
    let to = clock::add_linear(&from, (a, lag_at(a) - target), (b, lag_at(b) - target));
    Suggestion {
        key: format!("drift:{si}"),
        kind: SuggestionKind::SourceOffset,
        event: None,
        device: None,
        reason: format!(
            "{} ({}): its clock drifts {:+.1} s a day: follow the drift",
            src.spec.path,
            src.spec.kind.as_str(),
            f.slope * 86_400.0
        ),
        evidence: format!(
            "lag to the device's activity goes from {:+.0} s to {:+.0} s between {} and {}: \
             {} of the {} sampled events it explains lie within ±30 s of it (of {} sampled); \
             they lie {:.0} s from it on average against {:.0} s from the best constant offset; \
             Kendall tau of time and lag over them {:+.2}",
            lag_at(f.t0) as f64 / 1e9,
            lag_at(f.t1) as f64 / 1e9,
            crate::timefmt::utc_short(f.t0),
            crate::timefmt::utc_short(f.t1),
            f.inliers,
            f.explained,
            lags.len(),
            f.misfit,
            f.constant_misfit,
            f.tau
        ),
        confidence: f.tau.abs().clamp(0.0, 0.99),
        at_ns: Some((f.t0 + f.t1) / 2),
        edit: Some(Edit::SetSourceDrift {
            source: si as u16,
            from,
            to,
        }),
    }
}

/// A line through time-ordered `(t, lag)` pairs that most of them follow.
struct LineFit {
    /// Lag change per ns of logged time.
    slope: f64,
    /// The lag the line gives at `t0`.
    lag0: i64,
    /// First and last lag within ±[`LAG_BAND_NS`] of the line.
    t0: i64,
    t1: i64,
    /// Lags within ±[`LAG_BAND_NS`] of the line.
    inliers: usize,
    /// Lags the line puts within the search (see [`misfit`]).
    explained: usize,
    /// The line's mean [`misfit`], and the best constant's.
    misfit: f64,
    constant_misfit: f64,
    /// Kendall's τ between time and lag over the lags within the line's band.
    tau: f64,
}

impl LineFit {
    fn lag_at(&self, t: i64) -> i64 {
        self.lag0 + (self.slope * (t - self.t0) as f64).round() as i64
    }
}

/// The line of least [`misfit`] through `(t, lag)`: over lines through pairs of distinct lags
/// at least an hour apart (every lag of up to 150; evenly spread ones beyond) that explain at
/// least 15 lags and a sixth of all, then refined by the Theil–Sen slope of the lags within
/// ±[`LAG_BAND_NS`] of it where that fits as well.
fn fit_line(lags: &[(i64, i64)]) -> Option<LineFit> {
    const HOUR: i64 = 3600 * S;
    let mut lags = lags.to_vec();
    lags.sort_unstable();
    lags.dedup();
    let lags = &lags[..];
    let least = STEP_MIN_SIDE.max(lags.len() / 6);
    if lags.len() < least {
        return None;
    }
    let line =
        |slope: f64, (ta, la): (i64, i64)| move |t: i64| la + (slope * (t - ta) as f64) as i64;
    let fit =
        |slope: f64, a: (i64, i64)| Some(misfit(lags, line(slope, a))).filter(|m| m.1 >= least);
    let stride = lags.len().div_ceil(150);
    let picks: Vec<(i64, i64)> = lags.iter().copied().step_by(stride).collect();
    let mut best: Option<(f64, f64, (i64, i64))> = None;
    for (i, &a) in picks.iter().enumerate() {
        for &b in &picks[i + 1..] {
            if b.0 - a.0 < HOUR {
                continue;
            }
            let slope = (b.1 - a.1) as f64 / (b.0 - a.0) as f64;
            if let Some((cost, _)) = fit(slope, a) {
                if best.is_none_or(|x| cost < x.0) {
                    best = Some((cost, slope, a));
                }
            }
        }
    }
    let (mut cost, mut slope, mut a) = best?;
    let near = |slope: f64, a: (i64, i64)| -> Vec<(i64, i64)> {
        let f = line(slope, a);
        lags.iter()
            .copied()
            .filter(|&(t, l)| (l - f(t)).abs() <= LAG_BAND_NS)
            .collect()
    };
    if let Some((ts, through)) = theil_sen(&near(slope, a)) {
        if let Some((refined, _)) = fit(ts, through).filter(|m| m.0 <= cost) {
            (cost, slope, a) = (refined, ts, through);
        }
    }
    let held = near(slope, a);
    let (t0, t1) = (held.first()?.0, held.last()?.0);
    // The best constant: the least misfit over the lags' own values (within the search, a
    // constant explains every lag).
    let constant_misfit = lags
        .iter()
        .map(|&(_, c)| misfit(lags, |_| c).0)
        .fold(f64::INFINITY, f64::min);
    Some(LineFit {
        slope,
        lag0: line(slope, a)(t0),
        t0,
        t1,
        inliers: held.len(),
        explained: misfit(lags, line(slope, a)).1,
        misfit: cost,
        constant_misfit,
        tau: kendall_tau(&held),
    })
}

/// The Theil–Sen line through time-ordered points: the median of the pairwise slopes, through
/// the median residual at the first point's time.
fn theil_sen(pts: &[(i64, i64)]) -> Option<(f64, (i64, i64))> {
    let mut slopes = Vec::new();
    for (i, p) in pts.iter().enumerate() {
        for q in &pts[i + 1..] {
            if q.0 > p.0 {
                slopes.push((q.1 - p.1) as f64 / (q.0 - p.0) as f64);
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    let k = slopes.len() / 2;
    let slope = *slopes.select_nth_unstable_by(k, f64::total_cmp).1;
    let t0 = pts[0].0;
    let mut resid: Vec<i64> = pts
        .iter()
        .map(|&(t, l)| l - (slope * (t - t0) as f64) as i64)
        .collect();
    resid.sort_unstable();
    Some((slope, (t0, resid[resid.len() / 2])))
}

/// Kendall's τ between time and lag: +1 when every later lag is greater, −1 when smaller.
fn kendall_tau(lags: &[(i64, i64)]) -> f64 {
    let (mut concordant, mut discordant) = (0i64, 0i64);
    for (i, a) in lags.iter().enumerate() {
        for b in &lags[i + 1..] {
            let order = (b.0 - a.0).signum() * (b.1 - a.1).signum();
            concordant += (order > 0) as i64;
            discordant += (order < 0) as i64;
        }
    }
    let pairs = (lags.len() * lags.len().saturating_sub(1) / 2).max(1) as f64;
    (concordant - discordant) as f64 / pairs
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

    #[test]
    fn a_drift_is_fitted_through_the_lags_that_follow_it() {
        const DAY: i64 = 86_400 * S;
        // 120 lags over 4 days of a clock gaining 60 s a day, with the minute's scatter, until
        // the activity lies beyond the 3-minute search (day 2.7): from then on the search finds
        // other activity, at random.
        let drift: Vec<(i64, i64)> = (0..120)
            .map(|i| {
                let t = i * DAY / 30;
                let scatter = (((i * 2_246_822_519) >> 11) % 50 - 25) * S;
                let truth = -20 * S - 60 * t / 86_400;
                let lag = if truth.abs() <= LAG_SEARCH_NS {
                    truth + scatter
                } else {
                    (((i * 2_654_435_761) >> 9) % 360 - 180) * S
                };
                (t, lag)
            })
            .collect();
        let f = fit_line(&drift).unwrap();
        assert!(
            (f.slope * 86_400.0 + 60.0).abs() < 8.0,
            "{}",
            f.slope * 86_400.0
        );
        assert!(
            f.inliers >= 60 && f.misfit < 0.7 * f.constant_misfit && f.tau < -0.7,
            "{} {} {} {}",
            f.inliers,
            f.misfit,
            f.constant_misfit,
            f.tau
        );
        assert!(f.t1 >= 75 * DAY / 30 && f.t0 == 0, "{} {}", f.t0, f.t1);
        // A flat source: the best line fits hardly better than a constant.
        let flat: Vec<(i64, i64)> = (0..120)
            .map(|i| (i * DAY / 30, (((i * 2_246_822_519) >> 11) % 50 - 25) * S))
            .collect();
        let f = fit_line(&flat).unwrap();
        assert_eq!(f.inliers, 120);
        assert!(
            f.misfit > 0.85 * f.constant_misfit,
            "{} {}",
            f.misfit,
            f.constant_misfit
        );
    }
}
