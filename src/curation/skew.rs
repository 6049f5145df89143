//! Minute-level skew: a minute-precision label moved to its device's traffic onset.

use super::*;

pub(crate) fn skew(
    s: &Session,
    events: &[&Event],
    dups: &std::collections::HashSet<u64>,
    cfg: &CurateSettings,
    out: &mut Vec<Suggestion>,
) {
    let found: Vec<(Suggestion, bool)> = {
        use rayon::prelude::*;
        events
            .par_iter()
            .filter(|e| {
                e.precision == Precision::Minute
                    && e.retime_ns.is_none()
                    && !dups.contains(&e.id)
                    && e.device != NO_DEVICE
            })
            .filter_map(|e| {
                let t = s.adjusted_ns(e);
                let kind = kind_of(s, e);
                let (lo, hi) = uncertainty(kind, e.precision, t);
                let dev = s.traffic_device(e.device);
                match find_onset(&s.traffic, dev, lo, hi, cfg.burst_ns) {
                    Some(o) if o.confidence >= 0.3 => Some((
                        Suggestion {
                            key: format!("skew:{}", e.id),
                            kind: SuggestionKind::Skew,
                            event: Some(e.id),
                            device: Some(s.device_name(e.device).to_string()),
                            reason: format!(
                                "traffic burst of {} starts {:+.1} s from the logged minute",
                                s.device_name(dev),
                                (o.t - t) as f64 / 1e9
                            ),
                            evidence: format!(
                                "{}; searched {:+.0}..{:+.0} s",
                                onset_evidence(&s.traffic, &o),
                                (lo - t) as f64 / 1e9,
                                (hi - t) as f64 / 1e9
                            ),
                            confidence: o.confidence,
                            at_ns: Some(o.t),
                            edit: Some(Edit::Retime {
                                id: e.id,
                                from: e.retime_ns,
                                to: Some(o.t),
                            }),
                        },
                        true,
                    )),
                    // Only where the captures see the device at all: a device never captured
                    // cannot show that a trigger had no effect.
                    _ if kind == Some(SourceKind::IftttTrigger)
                        && s.traffic
                            .by_device
                            .get(dev as usize)
                            .is_some_and(|v| !v.is_empty()) =>
                    {
                        Some((
                            Suggestion {
                                key: format!("notraffic:{}", e.id),
                                kind: SuggestionKind::NoTraffic,
                                event: Some(e.id),
                                device: Some(s.device_name(e.device).to_string()),
                                reason: "scheduled trigger produced no traffic burst".into(),
                                evidence: format!(
                                    "no rise in {}'s traffic within the scheduled minute",
                                    s.device_name(dev)
                                ),
                                confidence: 0.8,
                                at_ns: Some(t),
                                edit: Some(Edit::reject(e)),
                            },
                            false,
                        ))
                    }
                    _ => wrong_device(s, e, lo, hi, cfg).map(|x| (x, false)),
                }
            })
            .collect()
    };
    out.extend(found.into_iter().map(|x| x.0));
}
