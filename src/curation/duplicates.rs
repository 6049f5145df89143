//! Duplicate labels: the same device and class from one source within its precision, and the
//! same event logged by two sources (the second-precision source is authoritative).

use super::*;

/// Duplicate suggestions; returns the ids suggested as duplicates.
pub(crate) fn duplicates(
    s: &Session,
    events: &[&Event],
    cfg: &CurateSettings,
    out: &mut Vec<Suggestion>,
) -> std::collections::HashSet<u64> {
    let mut groups: HashMap<(u16, &str), Vec<&Event>> = HashMap::new();
    for e in events {
        if e.device != NO_DEVICE {
            groups
                .entry((e.device, e.class.as_str()))
                .or_default()
                .push(e);
        }
    }
    let mut dup_ids = std::collections::HashSet::new();
    let mut keys: Vec<_> = groups.keys().copied().collect();
    keys.sort();
    for key in keys {
        let mut g = groups[&key].clone();
        g.sort_by_key(|e| (s.adjusted_ns(e), e.id));
        // Same source: within the precision interval (minute) or the repeat window (second).
        let mut keeper: HashMap<u16, &Event> = HashMap::new();
        for e in &g {
            let t = s.adjusted_ns(e);
            if let Some(k) = keeper.get(&e.source) {
                let tk = s.adjusted_ns(k);
                let win = match e.precision {
                    Precision::Minute => 60 * S,
                    Precision::Second => cfg.repeat_window_ns,
                };
                let same_text = e.time_text == k.time_text;
                if t - tk < win
                    && (e.precision == Precision::Second || same_text || t - tk < 60 * S)
                {
                    let conf = if same_text {
                        0.99
                    } else if e.precision == Precision::Minute {
                        0.9
                    } else {
                        0.9 - 0.4 * (t - tk) as f64 / cfg.repeat_window_ns as f64
                    };
                    dup_ids.insert(e.id);
                    out.push(Suggestion {
                        key: format!("dup:{}", e.id),
                        kind: SuggestionKind::Duplicate,
                        event: Some(e.id),
                        device: Some(s.device_name(e.device).to_string()),
                        reason: format!(
                            "same device, class and source {:.0} s after event {}",
                            (t - tk) as f64 / 1e9,
                            k.id
                        ),
                        evidence: format!(
                            "line {} {:?} vs line {} {:?}",
                            e.line, e.time_text, k.line, k.time_text
                        ),
                        confidence: conf,
                        at_ns: Some(t),
                        edit: Some(Edit::mark_duplicate(e, k.id)),
                    });
                    continue;
                }
            }
            keeper.insert(e.source, e);
        }
        // Cross-source: a less precise event matched by a more authoritative one within its
        // uncertainty interval.
        let rest: Vec<&Event> = g
            .iter()
            .copied()
            .filter(|e| !dup_ids.contains(&e.id))
            .collect();
        for e in &rest {
            let ke = kind_of(s, e);
            let ae = authority(ke, e.precision);
            let t = s.adjusted_ns(e);
            let (lo, hi) = match e.precision {
                Precision::Minute => {
                    let (a, b) = uncertainty(ke, e.precision, t);
                    (a, b + 10 * S)
                }
                Precision::Second => (t - 10 * S, t + 10 * S),
            };
            let best = rest
                .iter()
                .filter(|o| o.source != e.source && authority(kind_of(s, o), o.precision) > ae)
                .filter(|o| {
                    let to = s.adjusted_ns(o);
                    to >= lo && to <= hi
                })
                .min_by_key(|o| ((s.adjusted_ns(o) - t).abs(), o.id));
            if let Some(o) = best {
                dup_ids.insert(e.id);
                let dt = (s.adjusted_ns(o) - t) as f64 / 1e9;
                out.push(Suggestion {
                    key: format!("dup:{}", e.id),
                    kind: SuggestionKind::Duplicate,
                    event: Some(e.id),
                    device: Some(s.device_name(e.device).to_string()),
                    reason: format!(
                        "matched by {} event {} ({:+.0} s), which is more precise",
                        s.source_kind_str(o),
                        o.id,
                        dt
                    ),
                    evidence: format!(
                        "{} line {} vs {} line {}",
                        s.source_kind_str(e),
                        e.line,
                        s.source_kind_str(o),
                        o.line
                    ),
                    confidence: if e.precision == Precision::Minute {
                        0.95
                    } else {
                        0.8
                    },
                    at_ns: Some(t),
                    edit: Some(Edit::mark_duplicate(e, o.id)),
                });
            }
        }
    }
    dup_ids
}
