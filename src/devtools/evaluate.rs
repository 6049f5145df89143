//! Curation quality against the simulator's ground truth, and onset agreement on real data.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::curation::{find_onset, CurateSettings};
use crate::error::{Error, Result};
use crate::labels::{Precision, SourceKind, Status};
use crate::project::session::Session;
use crate::traffic::NO_DEVICE;

#[derive(Debug, Default, Serialize, Clone)]
pub struct CurationQuality {
    pub events: usize,
    pub marked_duplicates: usize,
    pub correct_duplicates: usize,
    pub expected_duplicates: usize,
    pub dup_precision: f64,
    pub dup_recall: f64,
    pub minute_events: usize,
    pub median_abs_error_s: f64,
    pub p95_abs_error_s: f64,
    pub median_abs_error_before_s: f64,
    pub p95_abs_error_before_s: f64,
    /// The same for the IFTTT applet log alone (the scheduled triggers dominate the above).
    pub ifttt_events: usize,
    pub ifttt_median_abs_error_s: f64,
    pub ifttt_p95_abs_error_s: f64,
    pub no_traffic_rejected: usize,
    pub no_traffic_rows: usize,
    /// Rejected events that did have traffic (a true event).
    pub wrongly_rejected: usize,
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let k = ((v.len() - 1) as f64 * q).round() as usize;
    v[k]
}

/// Ground truth of one log row: (true event, true time, defect).
type Truth = (Option<u64>, Option<i64>, String);

/// Compares a curated session with `ground-truth.csv` written by the simulator.
pub fn against_ground_truth(s: &Session, gt: &Path) -> Result<CurationQuality> {
    let mut rdr = csv::Reader::from_path(gt).map_err(|e| Error::invalid(gt, e.to_string()))?;
    // (source file, line) → (true event, true ns, defect)
    let mut rows: HashMap<(String, u32), Truth> = HashMap::new();
    let mut per_event: HashMap<u64, usize> = HashMap::new();
    for (i, r) in rdr.records().enumerate() {
        let r = r.map_err(|e| Error::Parse {
            file: gt.to_path_buf(),
            line: i + 2,
            reason: e.to_string(),
        })?;
        if &r[0] != "row" {
            continue;
        }
        let te: Option<u64> = r[3].parse().ok();
        let tn: Option<i64> = r[6].parse().ok();
        if let Some(t) = te {
            *per_event.entry(t).or_default() += 1;
        }
        rows.insert(
            (r[1].to_string(), r[2].parse().unwrap_or(0)),
            (te, tn, r[8].to_string()),
        );
    }
    let truth = |e: &crate::labels::Event| -> Option<&Truth> {
        let src = s.sources.get(e.source as usize)?;
        rows.get(&(src.spec.path.clone(), e.line))
    };
    let by_id: HashMap<u64, &crate::labels::Event> =
        s.labels.events.iter().map(|e| (e.id, e)).collect();
    let mut q = CurationQuality {
        events: s.labels.events.len(),
        expected_duplicates: per_event.values().map(|c| c - 1).sum(),
        ..Default::default()
    };
    let mut err_after = Vec::new();
    let mut err_ifttt = Vec::new();
    let mut err_before = Vec::new();
    for e in &s.labels.events {
        let t = truth(e);
        if t.is_some_and(|t| t.2 == "no-traffic") {
            q.no_traffic_rows += 1;
            if e.status == Status::Rejected {
                q.no_traffic_rejected += 1;
            }
        }
        if e.status == Status::Rejected && t.is_some_and(|t| t.0.is_some()) {
            q.wrongly_rejected += 1;
        }
        if e.status == Status::Duplicate {
            q.marked_duplicates += 1;
            let other = e
                .duplicate_of
                .and_then(|d| by_id.get(&d))
                .and_then(|o| truth(o));
            if let (Some(a), Some(b)) = (t, other) {
                if a.0.is_some() && a.0 == b.0 {
                    q.correct_duplicates += 1;
                }
            }
        }
        if e.precision == Precision::Minute && e.status == Status::Active {
            if let Some((Some(_), Some(tn), _)) = t {
                q.minute_events += 1;
                err_after.push((s.adjusted_ns(e) - tn).abs() as f64 / 1e9);
                err_before.push((e.original_ns - tn).abs() as f64 / 1e9);
                let src = s.sources.get(e.source as usize).map(|x| x.spec.kind);
                if src == Some(SourceKind::Ifttt) {
                    err_ifttt.push((s.adjusted_ns(e) - tn).abs() as f64 / 1e9);
                }
            }
        }
    }
    q.dup_precision = q.correct_duplicates as f64 / q.marked_duplicates.max(1) as f64;
    q.dup_recall = q.correct_duplicates as f64 / q.expected_duplicates.max(1) as f64;
    q.ifttt_events = err_ifttt.len();
    q.ifttt_median_abs_error_s = pct(&mut err_ifttt, 0.5);
    q.ifttt_p95_abs_error_s = pct(&mut err_ifttt, 0.95);
    q.median_abs_error_s = pct(&mut err_after, 0.5);
    q.p95_abs_error_s = pct(&mut err_after, 0.95);
    q.median_abs_error_before_s = pct(&mut err_before, 0.5);
    q.p95_abs_error_before_s = pct(&mut err_before, 0.95);
    Ok(q)
}

#[derive(Debug, Default, Serialize, Clone)]
pub struct OnsetAgreement {
    pub source: String,
    pub kind: String,
    /// Active events whose device has traffic in the captures.
    pub events_with_traffic: usize,
    /// Of those, events with a burst onset within ±5 s of their (adjusted) time.
    pub within_5s: usize,
    /// Of those, events within ±5 s of an independent onset: the traffic device's first packet
    /// after at least 10 s without any of its packets (a definition the detector does not use).
    pub within_5s_independent: usize,
}

/// Quiet time before an independent onset.
pub const INDEPENDENT_QUIET_NS: i64 = 10_000_000_000;

/// Independent onsets of a traffic device: its first packet after at least
/// [`INDEPENDENT_QUIET_NS`] without any of its packets (and its first packet overall).
pub fn independent_onsets(s: &Session, dev: u16) -> Vec<i64> {
    let Some(idx) = s.traffic.by_device.get(dev as usize) else {
        return vec![];
    };
    let ts = &s.traffic.packets.ts;
    let mut out = Vec::new();
    let mut prev: Option<i64> = None;
    for &i in idx {
        let t = ts[i as usize];
        if prev.is_none_or(|p| t - p >= INDEPENDENT_QUIET_NS) {
            out.push(t);
        }
        prev = Some(t);
    }
    out
}

/// For IFTTT and notification sources: how many events sit within 5 s of a burst onset.
pub fn onset_agreement(s: &Session) -> Vec<OnsetAgreement> {
    let cfg = CurateSettings::default();
    let mut out = Vec::new();
    let mut onsets: HashMap<u16, Vec<i64>> = HashMap::new();
    for (si, src) in s.sources.iter().enumerate() {
        if !matches!(
            src.spec.kind,
            SourceKind::Ifttt
                | SourceKind::NotificationsCsv
                | SourceKind::NotificationsJsonl
                | SourceKind::IftttTrigger
        ) {
            continue;
        }
        let mut a = OnsetAgreement {
            source: src.spec.path.clone(),
            kind: src.spec.kind.as_str().into(),
            ..Default::default()
        };
        for e in s.labels.events.iter().filter(|e| {
            e.source as usize == si && e.status == Status::Active && e.device != NO_DEVICE
        }) {
            let dev = s.traffic_device(e.device);
            if s.traffic
                .by_device
                .get(dev as usize)
                .is_none_or(|v| v.is_empty())
            {
                continue;
            }
            a.events_with_traffic += 1;
            let t = s.adjusted_ns(e);
            let ind = onsets
                .entry(dev)
                .or_insert_with(|| independent_onsets(s, dev));
            let k = ind.partition_point(|&x| x < t - 5_000_000_000);
            if ind.get(k).is_some_and(|&x| x <= t + 5_000_000_000) {
                a.within_5s_independent += 1;
            }
            if find_onset(
                &s.traffic,
                dev,
                t - 5_000_000_000,
                t + 5_000_000_000,
                cfg.burst_ns,
            )
            .is_some_and(|o| o.confidence >= 0.3)
            {
                a.within_5s += 1;
            }
        }
        out.push(a);
    }
    out
}
