//! Formatting of i64 ns UTC times for people (ISO 8601, optional IANA zone).

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Nanoseconds in a second: the one spelling of the core's time unit.
pub const NS_PER_S: i64 = 1_000_000_000;

/// `2021-03-08T18:05:00.000000000Z`.
pub fn utc(ns: i64) -> String {
    let d: DateTime<Utc> = Utc.timestamp_nanos(ns);
    d.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// Short UTC form with milliseconds, for tables.
pub fn utc_short(ns: i64) -> String {
    let d: DateTime<Utc> = Utc.timestamp_nanos(ns);
    d.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// Local wall-clock time in `tz` with its abbreviation.
pub fn local(ns: i64, tz: &Tz) -> String {
    tz.timestamp_nanos(ns)
        .format("%Y-%m-%d %H:%M:%S%.3f %Z")
        .to_string()
}

/// A time range in `tz`: the end drops its date and zone when they repeat the start's, so a
/// view within one day reads short and a view across days (or a DST change) stays unambiguous.
pub fn local_range(a: i64, b: i64, tz: &Tz) -> String {
    let (da, db) = (tz.timestamp_nanos(a), tz.timestamp_nanos(b));
    let same = da.date_naive() == db.date_naive()
        && da.format("%Z").to_string() == db.format("%Z").to_string();
    let end = if same {
        db.format("%H:%M:%S%.3f").to_string()
    } else {
        local(b, tz)
    };
    format!("{} -> {end}", local(a, tz))
}

/// A duration in seconds, compact.
pub fn secs(ns: i64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats() {
        assert_eq!(
            super::utc(1_615_226_700_000_000_000),
            "2021-03-08T18:05:00.000000000Z"
        );
        let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            super::local(1_615_226_700_000_000_000, &tz),
            "2021-03-08 13:05:00.000 EST"
        );
        let h = 3_600_000_000_000;
        let a = 1_615_226_700_000_000_000;
        assert_eq!(
            super::local_range(a, a + 2 * h, &tz),
            "2021-03-08 13:05:00.000 EST -> 15:05:00.000"
        );
        // Across days, and across the DST change of 2021-03-14, the end keeps date and zone.
        assert_eq!(
            super::local_range(a, a + 24 * h, &tz),
            "2021-03-08 13:05:00.000 EST -> 2021-03-09 13:05:00.000 EST"
        );
        assert_eq!(
            super::local_range(a, a + 7 * 24 * h, &tz),
            "2021-03-08 13:05:00.000 EST -> 2021-03-15 14:05:00.000 EDT"
        );
    }
}
