//! A source's clock as a function of time: a constant offset, steps from given instants on,
//! and a drift that is linear between anchors, as Wireshark's two-packet time adjustment
//! is for captures.
//!
//! Every instant here is a logged time (before any adjustment) in ns UTC; every offset is in
//! ns and is added to the logged time.

/// The drift part of a source's clock at logged instant `t`: linear between consecutive
/// anchors `(logged ns, offset ns)`, extended beyond the first and last anchor along the
/// nearest segment (a clock that drifts keeps drifting); one anchor is a constant; none is 0.
/// `anchors` is sorted by time with distinct times.
pub fn drift_at(anchors: &[(i64, i64)], t: i64) -> i64 {
    match anchors {
        [] => 0,
        [(_, o)] => *o,
        _ => {
            // The segment that holds `t`, or the end segment nearest it.
            let k = anchors
                .partition_point(|(a, _)| *a <= t)
                .clamp(1, anchors.len() - 1);
            let ((t0, o0), (t1, o1)) = (anchors[k - 1], anchors[k]);
            let span = (t1 - t0).max(1) as i128;
            let v = o0 as i128 + (o1 - o0) as i128 * (t as i128 - t0 as i128) / span;
            v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
        }
    }
}

/// The summed offset of steps taken at or before logged instant `t`.
pub fn steps_at(steps: &[(i64, i64)], t: i64) -> i64 {
    steps
        .iter()
        .take_while(|(at, _)| *at <= t)
        .map(|(_, d)| d)
        .sum()
}

/// Seconds of offset gained per day along the segment from anchor `a` to anchor `b`.
pub fn seconds_per_day(a: (i64, i64), b: (i64, i64)) -> f64 {
    let days = (b.0 - a.0) as f64 / 86_400e9;
    if days == 0.0 {
        return 0.0;
    }
    (b.1 - a.1) as f64 / 1e9 / days
}

/// A drift for people: "+20.0 s a day" for one segment, each segment's rate for several.
pub fn describe_drift(anchors: &[(i64, i64)]) -> String {
    match anchors {
        [] => "no drift".into(),
        [(_, o)] => format!("{:+.1} s", *o as f64 / 1e9),
        _ => anchors
            .windows(2)
            .map(|w| {
                format!(
                    "{:+.1} s a day from {} UTC",
                    seconds_per_day(w[0], w[1]),
                    crate::timefmt::utc_short(w[0].0)
                )
            })
            .collect::<Vec<_>>()
            .join(", then "),
    }
}

/// Anchors sorted by time, one per instant (the last given wins).
pub fn normalized(anchors: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut v = anchors.to_vec();
    v.sort_by_key(|a| a.0);
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for a in v {
        match out.last_mut() {
            Some(l) if l.0 == a.0 => *l = a,
            _ => out.push(a),
        }
    }
    out
}

/// The anchors of `current` plus a linear correction through `(t0, c0)` and `(t1, c1)`,
/// anchored at every instant either has: the sum of two piecewise-linear curves is exact at
/// those instants.
pub fn add_linear(
    current: &[(i64, i64)],
    (t0, c0): (i64, i64),
    (t1, c1): (i64, i64),
) -> Vec<(i64, i64)> {
    let line = [(t0, c0), (t1, c1)];
    let mut at: Vec<i64> = current.iter().map(|a| a.0).chain([t0, t1]).collect();
    at.sort_unstable();
    at.dedup();
    at.into_iter()
        .map(|t| (t, drift_at(current, t) + drift_at(&line, t)))
        .collect()
}

/// `anchors` with one more anchor at `t` on the curve as it is: the curve does not change, but
/// its two sides can now be set apart.
pub fn split_at(anchors: &[(i64, i64)], t: i64) -> Vec<(i64, i64)> {
    let mut v = anchors.to_vec();
    if !v.iter().any(|a| a.0 == t) {
        v.push((t, drift_at(anchors, t)));
    }
    normalized(&v)
}

#[cfg(test)]
mod tests {
    use super::*;
    const S: i64 = 1_000_000_000;
    const DAY: i64 = 86_400 * S;

    #[test]
    fn drift_is_linear_between_anchors_and_beyond_them() {
        let a = [(0, 0), (DAY, 20 * S)];
        assert_eq!(drift_at(&a, DAY / 2), 10 * S);
        assert_eq!(drift_at(&a, 2 * DAY), 40 * S);
        assert_eq!(drift_at(&a, -DAY), -20 * S);
        assert_eq!(drift_at(&[], 5), 0);
        assert_eq!(drift_at(&[(7, 3 * S)], 1_000), 3 * S);
        let bent = [(0, 0), (DAY, 20 * S), (2 * DAY, 0)];
        assert_eq!(drift_at(&bent, DAY + DAY / 4), 15 * S);
        assert_eq!(drift_at(&bent, 3 * DAY), -20 * S);
        assert!((seconds_per_day(a[0], a[1]) - 20.0).abs() < 1e-9);
        assert_eq!(
            describe_drift(&a),
            "+20.0 s a day from 1970-01-01 00:00:00.000 UTC"
        );
    }

    #[test]
    fn a_split_keeps_the_curve_and_a_correction_adds_to_it() {
        let a = vec![(0, 0), (2 * DAY, 40 * S)];
        let s = split_at(&a, DAY);
        assert_eq!(s, vec![(0, 0), (DAY, 20 * S), (2 * DAY, 40 * S)]);
        for t in [-DAY, 0, DAY / 3, DAY, 3 * DAY / 2, 5 * DAY] {
            assert_eq!(drift_at(&s, t), drift_at(&a, t), "at {t}");
        }
        let sum = add_linear(&a, (0, -10 * S), (2 * DAY, 10 * S));
        assert_eq!(sum, vec![(0, -10 * S), (2 * DAY, 50 * S)]);
        assert_eq!(normalized(&[(5, 1), (1, 2), (5, 3)]), vec![(1, 2), (5, 3)]);
        assert_eq!(steps_at(&[(0, S), (10, 2 * S)], 5), S);
    }
}
