//! The time-zone check: does a source's naive local time fit its devices' traffic better when
//! read in another zone?
//!
//! Every IANA zone is a candidate reading. Zones that put the sampled events at the same
//! instants (the same offsets, DST included, over the source's span) form one reading, named by
//! its best-known member. A reading's score is the number of sampled events of devices with
//! traffic that have a burst onset inside their uncertainty interval. When another reading
//! scores clearly better than the zone given, the check suggests it; accepting changes the
//! source's zone as an edit that re-resolves its times.

use std::collections::BTreeMap;

use chrono::{Offset, TimeZone};
use chrono_tz::{OffsetName, Tz};

use super::*;

/// Events sampled per source: enough to tell zones apart, few enough to score every reading.
const SAMPLE: usize = 240;
/// A reading must explain at least this many more events than the given zone.
const MIN_GAIN: usize = 5;

/// Zones named first when several fit equally: the well-known zone of each offset and rule.
const PREFERRED: [&str; 52] = [
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Halifax",
    "America/St_Johns",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Mexico_City",
    "America/Bogota",
    "America/Toronto",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Prague",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Asia/Jerusalem",
    "Asia/Dubai",
    "Asia/Tehran",
    "Asia/Kabul",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Hong_Kong",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Perth",
    "Australia/Darwin",
    "Australia/Adelaide",
    "Australia/Brisbane",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Africa/Cairo",
    "Africa/Nairobi",
];

/// How well one reading of a source's times fits the traffic.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneScore {
    pub zone: String,
    /// Other zones with the same offsets over the sampled events.
    pub equivalent: usize,
    /// Sampled events with a burst onset in their uncertainty interval.
    pub near: usize,
}

/// The zone check of one source: the given reading, the best one, and the events scored.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneCheck {
    pub source: usize,
    pub given: ZoneScore,
    pub best: ZoneScore,
    pub sampled: usize,
}

/// Scores every distinct zone reading of source `si`; `None` when the source has no naive
/// local times on devices with traffic.
pub fn check_zone(s: &Session, si: usize, cfg: &CurateSettings) -> Option<ZoneCheck> {
    use rayon::prelude::*;
    let kind = s.sources.get(si)?.spec.kind;
    let offset = s.labels.offsets.get(si).copied().unwrap_or(0);
    let has_traffic = |d: u16| {
        d != NO_DEVICE
            && s.traffic
                .by_device
                .get(s.traffic_device(d) as usize)
                .is_some_and(|v| !v.is_empty())
    };
    let all: Vec<&Event> = s
        .labels
        .events
        .iter()
        .filter(|e| {
            e.source as usize == si
                && e.status != Status::Duplicate
                && e.local_ns.is_some()
                && has_traffic(e.device)
        })
        .collect();
    if all.is_empty() {
        return None;
    }
    let step = all.len().div_ceil(SAMPLE);
    let sample: Vec<&Event> = all.iter().step_by(step).copied().collect();
    let given_zone = s.source_zone(si).to_string();
    let readings = distinct_readings(&sample, &given_zone);
    let scored: Vec<ZoneScore> = readings
        .par_iter()
        .map(|(zone, times, equivalent)| ZoneScore {
            zone: zone.clone(),
            equivalent: *equivalent,
            near: sample
                .iter()
                .zip(times)
                .filter(|(e, &t)| {
                    let (lo, hi) = uncertainty(Some(kind), e.precision, t + offset);
                    let dev = s.traffic_device(e.device);
                    find_onset(&s.traffic, dev, lo, hi, cfg.burst_ns)
                        .is_some_and(|o| o.confidence >= 0.3)
                })
                .count(),
        })
        .collect();
    let given = scored.iter().find(|z| z.zone == given_zone)?.clone();
    // Highest score; ties go to the given zone, then to the order of `readings`.
    let best = scored
        .iter()
        .fold(&given, |b, z| if z.near > b.near { z } else { b })
        .clone();
    Some(ZoneCheck {
        source: si,
        given,
        best,
        sampled: sample.len(),
    })
}

/// The distinct readings of the sampled wall-clock times: (zone, instants, how many other zones
/// give the same instants), the given zone first, then preferred zones, then the rest by name.
fn distinct_readings(sample: &[&Event], given: &str) -> Vec<(String, Vec<i64>, usize)> {
    let mut names: Vec<&str> = vec![given];
    names.extend(PREFERRED.iter().copied().filter(|z| *z != given));
    let mut rest: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
    rest.sort_unstable();
    names.extend(
        rest.into_iter()
            .filter(|z| *z != given && !PREFERRED.contains(z)),
    );
    let mut seen: BTreeMap<Vec<i64>, usize> = BTreeMap::new();
    let mut out: Vec<(String, Vec<i64>, usize)> = Vec::new();
    for name in names {
        let Ok(tz) = name.parse::<Tz>() else {
            continue;
        };
        let times: Option<Vec<i64>> = sample
            .iter()
            .map(|e| {
                let w = crate::labels::wall_time(e.local_ns?);
                crate::labels::resolve_local(&tz, &w).map(|x| x.0)
            })
            .collect();
        let Some(times) = times else {
            continue;
        };
        match seen.get(&times) {
            Some(&k) => out[k].2 += 1,
            None => {
                seen.insert(times.clone(), out.len());
                out.push((name.to_string(), times, 0));
            }
        }
    }
    out
}

/// `EST/EDT`, `UTC`, `+0530`: the abbreviations a zone uses over `[a, b]`.
pub fn zone_abbreviations(zone: &str, a: i64, b: i64) -> String {
    let Ok(tz) = zone.parse::<Tz>() else {
        return zone.to_string();
    };
    let mut names: Vec<String> = Vec::new();
    let n = 8;
    for k in 0..=n {
        let t = a + (b - a) / n * k;
        let d = chrono::DateTime::from_timestamp_nanos(t).naive_utc();
        let off = tz.offset_from_utc_datetime(&d);
        let name = match off.abbreviation() {
            Some(x) => x.to_string(),
            None => {
                let secs = off.fix().local_minus_utc();
                format!("UTC{:+03}:{:02}", secs / 3600, (secs.abs() % 3600) / 60)
            }
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.join("/")
}

/// A suggestion per source whose times fit another zone clearly better; then, for sources with
/// no events on devices with traffic, the zone their sibling sources were found to fit.
pub(crate) fn zones(s: &Session, cfg: &CurateSettings, out: &mut Vec<Suggestion>) {
    let mut found: Vec<(usize, String, String)> = Vec::new();
    let mut unchecked: Vec<usize> = Vec::new();
    for si in 0..s.sources.len() {
        match check_zone(s, si, cfg) {
            Some(c) => {
                if let Some(x) = zone_suggestion(s, &c) {
                    found.push((si, c.given.zone.clone(), c.best.zone.clone()));
                    out.push(x);
                }
            }
            None => unchecked.push(si),
        }
    }
    // The logs of one lab are written the same way: when every source that could be checked
    // agrees on one correction, sources that could not be checked and were read in the same
    // zone are offered it too, at a confidence that says it is inferred.
    let Some((_, from, to)) = found.first().cloned() else {
        return;
    };
    if found.iter().any(|f| f.1 != from || f.2 != to) {
        return;
    }
    let names: Vec<String> = found.iter().map(|f| file_name(s, f.0)).collect();
    for si in unchecked {
        let naive = s
            .labels
            .events
            .iter()
            .any(|e| e.source as usize == si && e.local_ns.is_some());
        if !naive || s.source_zone(si) != from {
            continue;
        }
        out.push(Suggestion {
            key: format!("zone:{si}"),
            kind: SuggestionKind::TimeZone,
            event: None,
            device: None,
            reason: format!(
                "{}: read as {from}, like {} whose times fit {to}: read it as {to} too",
                file_name(s, si),
                names.join(", ")
            ),
            evidence: "none of its events is of a device with traffic, so its own times cannot \
                       be checked; inferred from the other sources"
                .into(),
            confidence: 0.6,
            at_ns: None,
            edit: Some(Edit::SetSourceZone {
                source: si as u16,
                from: from.clone(),
                to: to.clone(),
            }),
        });
    }
}

fn file_name(s: &Session, si: usize) -> String {
    s.sources[si].path.file_name().map_or_else(
        || s.sources[si].spec.path.clone(),
        |f| f.to_string_lossy().into_owned(),
    )
}

/// The suggestion for one checked source, when another reading is clearly better.
fn zone_suggestion(s: &Session, c: &ZoneCheck) -> Option<Suggestion> {
    let si = c.source;
    if c.best.zone == c.given.zone || c.best.near < c.given.near + MIN_GAIN.min(c.sampled) {
        return None;
    }
    // A clear winner explains many more events than the zone given, and than chance.
    if (c.best.near as f64) < 1.5 * c.given.near as f64 {
        return None;
    }
    let (a, b) = s
        .labels
        .events
        .iter()
        .filter(|e| e.source as usize == si)
        .fold((i64::MAX, i64::MIN), |(a, b), e| {
            (a.min(e.original_ns), b.max(e.original_ns))
        });
    let also = if c.best.equivalent > 0 {
        format!(
            "; {} other zones read these times the same way",
            c.best.equivalent
        )
    } else {
        String::new()
    };
    Some(Suggestion {
        key: format!("zone:{si}"),
        kind: SuggestionKind::TimeZone,
        event: None,
        device: None,
        reason: format!(
            "{}: {}/{} events near traffic as {}, {}/{} as {} ({})",
            file_name(s, si),
            c.given.near,
            c.sampled,
            c.given.zone,
            c.best.near,
            c.sampled,
            c.best.zone,
            zone_abbreviations(&c.best.zone, a, b)
        ),
        evidence: format!(
            "burst onsets inside each event's uncertainty interval, {} events sampled of \
             devices with traffic{also}",
            c.sampled
        ),
        // Of the events the given zone leaves without traffic, the share the new one explains.
        confidence: ((c.best.near - c.given.near) as f64
            / (c.sampled - c.given.near).max(1) as f64)
            .clamp(0.0, 0.99),
        at_ns: None,
        edit: Some(Edit::SetSourceZone {
            source: si as u16,
            from: c.given.zone.clone(),
            to: c.best.zone.clone(),
        }),
    })
}
