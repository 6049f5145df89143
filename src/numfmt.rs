//! Numbers for people: counts with thousands separators, byte sizes and durations.

/// A count with thousands separators (51 M packets are hard to read as 8 bare digits).
pub fn grouped(n: u64) -> String {
    let d = n.to_string();
    let mut out = String::with_capacity(d.len() + d.len() / 3);
    for (i, c) in d.chars().enumerate() {
        if i > 0 && (d.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte size in decimal units (kB, MB, GB), as capture tools print them.
pub fn human_bytes(n: u64) -> String {
    match n {
        0..=999 => format!("{n} B"),
        1_000..=999_999 => format!("{:.1} kB", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.2} GB", n as f64 / 1e9),
    }
}

/// A duration in the unit that reads best: `0.35 s`, `42 s`, `7.5 min`, `3.2 h`, `2.8 d`.
pub fn human_duration(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    let a = s.abs();
    if a < 10.0 {
        format!("{s:.2} s")
    } else if a < 120.0 {
        format!("{s:.0} s")
    } else if a < 2.0 * 3600.0 {
        format!("{:.1} min", s / 60.0)
    } else if a < 48.0 * 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} d", s / 86_400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{grouped, human_bytes, human_duration};

    #[test]
    fn durations_read_in_their_unit() {
        assert_eq!(human_duration(350_000_000), "0.35 s");
        assert_eq!(human_duration(42_000_000_000), "42 s");
        assert_eq!(human_duration(450_000_000_000), "7.5 min");
        assert_eq!(human_duration(-11_520_000_000_000), "-3.2 h");
        assert_eq!(human_duration(245_000_000_000_000), "2.8 d");
    }

    #[test]
    fn grouped_separates_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(516_003), "516,003");
        assert_eq!(grouped(50_993_474), "50,993,474");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn human_bytes_picks_the_unit() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1_500), "1.5 kB");
        assert_eq!(human_bytes(263_796_263), "263.8 MB");
        assert_eq!(human_bytes(15_893_142_008), "15.89 GB");
    }
}
