//! Labels of a device without traffic at their time while another device of the same kind has a
//! burst then.

use super::*;

/// An event whose device shows no burst while a sibling behind the same hub does.
pub(crate) fn wrong_device(
    s: &Session,
    e: &Event,
    lo: i64,
    hi: i64,
    cfg: &CurateSettings,
) -> Option<Suggestion> {
    // Only a device the captures do see can be said to be silent; one never captured (its MAC
    // absent from every file) tells nothing.
    let own = s.traffic_device(e.device);
    if s.traffic
        .by_device
        .get(own as usize)
        .is_none_or(|v| v.is_empty())
    {
        return None;
    }
    let hub = s.registry.hub_of(e.device)?;
    let mut best: Option<(u16, Onset)> = None;
    for sib in s.registry.children(hub) {
        if sib == e.device || s.traffic_device(sib) == s.traffic_device(e.device) {
            continue;
        }
        if let Some(o) = find_onset(&s.traffic, sib, lo, hi, cfg.burst_ns) {
            if o.confidence >= 0.5 && best.is_none_or(|b| o.excess_bytes > b.1.excess_bytes) {
                best = Some((sib, o));
            }
        }
    }
    let (sib, o) = best?;
    Some(Suggestion {
        key: format!("wrongdev:{}", e.id),
        kind: SuggestionKind::WrongDevice,
        event: Some(e.id),
        device: Some(s.device_name(e.device).to_string()),
        reason: format!(
            "no traffic of {} but {} has a burst",
            s.device_name(e.device),
            s.device_name(sib)
        ),
        evidence: format!("burst at {:+.1} s", (o.t - s.adjusted_ns(e)) as f64 / 1e9),
        confidence: o.confidence * 0.8,
        at_ns: Some(o.t),
        edit: Some(Edit::ReassignDevice {
            id: e.id,
            from: e.device,
            to: sib,
        }),
    })
}
