//! Formatting of i64 ns UTC times for people (ISO 8601, optional IANA zone).

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;

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
    }
}
