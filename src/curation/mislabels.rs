//! Possible mislabels: events whose out-of-fold prediction confidently disagrees with their
//! label, from a trained model's report. Accepting one relabels the event to the prediction.

use super::*;
use crate::learn::Report;

/// Out-of-fold predictions that confidently disagree with the label, as suggestions.
pub fn mislabel_suggestions(s: &Session, r: &Report) -> Vec<Suggestion> {
    r.possible_mislabels
        .iter()
        .filter_map(|m| {
            let e = s.labels.get(m.event_id)?;
            // Global scope labels are device:class.
            let pred = m
                .predicted
                .rsplit(':')
                .next()
                .unwrap_or(&m.predicted)
                .to_string();
            Some(Suggestion {
                key: format!("mislabel:{}", m.event_id),
                kind: SuggestionKind::Mislabel,
                event: Some(m.event_id),
                device: Some(s.event_device_name(e).to_string()),
                reason: format!("check this label: the model says {pred}, not {}", e.class),
                evidence: format!(
                    "out-of-fold probability {:.2} ({} model)",
                    m.confidence, r.model
                ),
                confidence: m.confidence,
                at_ns: Some(s.adjusted_ns(e)),
                edit: Some(Edit::Relabel {
                    id: e.id,
                    from: e.class.clone(),
                    to: pred,
                }),
            })
        })
        .collect()
}
