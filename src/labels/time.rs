//! Label times: naive local times resolved in a source's zone (with the DST rules written here),
//! the lab's own format, generic CSV formats, and the range of times labelbench represents.

use super::*;

/// Resolves a naive local time in `tz`. Documented rule: a time in a DST gap (it never
/// happened on the wall clock) is read with the offset in effect just before the transition,
/// i.e. 02:30 on a spring-forward night is 02:30 standard time = 03:30 daylight time; an
/// ambiguous time in a fold is the earlier of its two instants.
///
/// `None` when the instant lies outside [`representable`] times.
pub fn resolve_local(tz: &Tz, t: &NaiveDateTime) -> Option<(i64, Resolved)> {
    let (ns, r) = match tz.from_local_datetime(t) {
        LocalResult::Single(d) => (ns_of(&d)?, Resolved::Unique),
        LocalResult::Ambiguous(a, b) => (ns_of(&a)?.min(ns_of(&b)?), Resolved::Fold),
        LocalResult::None => {
            // Offset before the transition: the offset of the instant 3 hours earlier.
            let before = *t - chrono::Duration::hours(3);
            let off = match tz.from_local_datetime(&before) {
                LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => {
                    use chrono::Offset;
                    d.offset().fix().local_minus_utc() as i64
                }
                LocalResult::None => 0,
            };
            let naive_ns = t.and_utc().timestamp_nanos_opt()?;
            (naive_ns.checked_sub(off * 1_000_000_000)?, Resolved::Gap)
        }
    };
    representable(ns).then_some((ns, r))
}

/// Nanoseconds in a day: the margin kept from the ends of `i64` time.
pub(crate) const DAY_NS: i64 = 86_400 * crate::timefmt::NS_PER_S;

/// Whether an event time leaves room for its feature window and clock offsets: `i64`
/// nanoseconds reach from 1677-09-21 to 2262-04-11, and a time within a day of either end is
/// refused as out of range (a window around it would wrap and end before it starts).
pub fn representable(ns: i64) -> bool {
    (i64::MIN + DAY_NS..=i64::MAX - DAY_NS).contains(&ns)
}

/// The row error for a time that parses but lies outside [`representable`] times.
pub fn out_of_range(text: &str) -> String {
    format!(
        "time {text:?} is out of range (labelbench represents times from 1677-09-22 to \
         2262-04-10 UTC)"
    )
}

pub(crate) fn ns_of<T: TimeZone>(d: &chrono::DateTime<T>) -> Option<i64> {
    d.timestamp_nanos_opt()
}

/// Parses the lab's `March 08, 2021 at 01:05PM` (minute) or `… 01:05:09PM` (second).
pub fn parse_lab_time(s: &str) -> Option<(NaiveDateTime, Precision)> {
    let s = s.trim();
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%B %d, %Y at %I:%M:%S%p") {
        return Some((t, Precision::Second));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%B %d, %Y at %I:%M%p") {
        return Some((t, Precision::Minute));
    }
    None
}

/// A parsed generic CSV time: instant, precision, how the zone resolved it, and the
/// wall-clock time when the zone was used.
pub(crate) type GenericTime = (i64, Precision, Resolved, Option<i64>);

/// A wall-clock time as nanoseconds as if it were UTC (what a zone change re-resolves).
pub fn wall_ns(t: &NaiveDateTime) -> Option<i64> {
    t.and_utc().timestamp_nanos_opt()
}

/// The wall-clock time of [`wall_ns`] back as a naive time.
pub fn wall_time(ns: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp_nanos(ns).naive_utc()
}

/// A generic CSV time: `None` when it does not parse, `Some(Err(()))` when it parses to an
/// instant outside [`representable`] times (epoch `inf`, `9999-03-08`, epoch-ms overflow).
/// `1540469302.538640` as ns without float rounding; `None` for anything but plain decimals.
pub(crate) fn exact_epoch_ns(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || frac.len() > 9 || !digits(whole) || !digits(frac) {
        return None;
    }
    let w: i64 = whole.parse().ok()?;
    let f: i64 = format!("{frac:0<9}").parse().ok()?;
    let ns = w.checked_mul(1_000_000_000)?.checked_add(f)?;
    Some(if neg { -ns } else { ns })
}

pub(crate) fn parse_generic_time(s: &str, fmt: &str, tz: &Tz) -> Option<Result<GenericTime, ()>> {
    let absolute = |x: Option<(i64, Resolved)>, p: Precision| {
        Some(x.map(|(ns, r)| (ns, p, r, None)).ok_or(()))
    };
    let local = |t: &NaiveDateTime, p: Precision| {
        Some(
            resolve_local(tz, t)
                .map(|(ns, r)| (ns, p, r, wall_ns(t)))
                .ok_or(()),
        )
    };
    match fmt {
        "epoch" => {
            // Decimal seconds exactly (a float would move 1556329377.198794 by 16 ns).
            if let Some(ns) = exact_epoch_ns(s) {
                return Some(if representable(ns) {
                    Ok((ns, Precision::Second, Resolved::Unique, None))
                } else {
                    Err(())
                });
            }
            let v: f64 = s.parse().ok()?;
            let ns = v * 1e9;
            // `as` saturates (and turns NaN into 0): check the range first.
            let ok = ns.is_finite() && ns.abs() < i64::MAX as f64 && representable(ns as i64);
            Some(if ok {
                Ok((ns.round() as i64, Precision::Second, Resolved::Unique, None))
            } else {
                Err(())
            })
        }
        "epoch-ms" => {
            let v: i64 = s.parse().ok()?;
            Some(
                match v.checked_mul(1_000_000).filter(|&n| representable(n)) {
                    Some(ns) => Ok((ns, Precision::Second, Resolved::Unique, None)),
                    None => Err(()),
                },
            )
        }
        "iso8601" => {
            if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
                let ns = ns_of(&d).filter(|&n| representable(n));
                return absolute(ns.map(|n| (n, Resolved::Unique)), Precision::Second);
            }
            for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
                if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                    return local(&t, Precision::Second);
                }
            }
            for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
                if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                    return local(&t, Precision::Minute);
                }
            }
            None
        }
        f => {
            if let Ok(d) = chrono::DateTime::parse_from_str(s, f) {
                let ns = ns_of(&d).filter(|&n| representable(n));
                return absolute(ns.map(|n| (n, Resolved::Unique)), Precision::Second);
            }
            let t = NaiveDateTime::parse_from_str(s, f).ok()?;
            let prec = if f.contains("%S") || f.contains("%T") {
                Precision::Second
            } else {
                Precision::Minute
            };
            local(&t, prec)
        }
    }
}
