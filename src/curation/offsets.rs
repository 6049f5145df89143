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
