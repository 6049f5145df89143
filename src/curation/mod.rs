//! Stage 4, curation: suggestions (duplicates, minute-level skew, per-source offsets, source
//! health, wrong devices), the edits that accepting them applies, and the journal.
//!
//! Each suggestion carries its reason, evidence, a confidence and (when it can be accepted) the
//! edit that accepting applies. Edits ([`edits`]) are the only way labels change; every step is
//! fsync'd to the project's journal ([`journal`]) before it is acknowledged.
//! May use: [`crate::traffic`], [`crate::labels`], [`crate::project`].

pub mod edits;
pub mod journal;

use std::collections::HashMap;

use serde::Serialize;

use crate::capture::{bits, tcpf};
use crate::curation::edits::Edit;
use crate::labels::{Event, Precision, SourceKind, Status, INSERTED_SOURCE};
use crate::project::session::Session;
use crate::traffic::{Traffic, NO_DEVICE};

const S: i64 = 1_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuggestionKind {
    Duplicate,
    Skew,
    SourceOffset,
    NoTraffic,
    UnlabelledBurst,
    SourceSilent,
    WrongDevice,
    Mislabel,
}

impl SuggestionKind {
    pub const ALL: [SuggestionKind; 8] = [
        SuggestionKind::Duplicate,
        SuggestionKind::Skew,
        SuggestionKind::SourceOffset,
        SuggestionKind::NoTraffic,
        SuggestionKind::UnlabelledBurst,
        SuggestionKind::SourceSilent,
        SuggestionKind::WrongDevice,
        SuggestionKind::Mislabel,
    ];
    pub fn as_str(&self) -> &'static str {
        match self {
            SuggestionKind::Duplicate => "duplicates",
            SuggestionKind::Skew => "skew",
            SuggestionKind::SourceOffset => "offsets",
            SuggestionKind::NoTraffic => "no-traffic",
            SuggestionKind::UnlabelledBurst => "unlabelled-bursts",
            SuggestionKind::SourceSilent => "silent",
            SuggestionKind::WrongDevice => "wrong-device",
            SuggestionKind::Mislabel => "mislabels",
        }
    }
    pub fn parse(s: &str) -> Option<SuggestionKind> {
        let s = s.trim().trim_end_matches('s');
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.as_str().trim_end_matches('s') == s)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Suggestion {
    /// Stable key, e.g. `dup:3000012`.
    pub key: String,
    pub kind: SuggestionKind,
    pub event: Option<u64>,
    pub device: Option<String>,
    pub reason: String,
    pub evidence: String,
    /// 0..=1.
    pub confidence: f64,
    /// Time the suggestion concerns (for jumping to it).
    pub at_ns: Option<i64>,
    /// What accepting applies; None for informational findings.
    #[serde(skip)]
    pub edit: Option<Edit>,
}

/// Orders a list of suggestions can be shown in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SuggestionOrder {
    /// By kind, then time: the order [`suggest`] returns, to work through one problem at a time.
    #[default]
    Kind,
    /// Most confident first, to accept the surest fixes before looking at the doubtful ones.
    Confidence,
    /// By the time concerned across all kinds (undated findings last), to walk the capture.
    Time,
}

impl SuggestionOrder {
    pub const ALL: [SuggestionOrder; 3] = [
        SuggestionOrder::Kind,
        SuggestionOrder::Confidence,
        SuggestionOrder::Time,
    ];
    pub fn label(&self) -> &'static str {
        match self {
            SuggestionOrder::Kind => "by kind",
            SuggestionOrder::Confidence => "most confident first",
            SuggestionOrder::Time => "by time",
        }
    }
    /// Sorts `v` (stable: ties keep their kind-then-time order).
    pub fn sort(self, v: &mut [&Suggestion]) {
        match self {
            SuggestionOrder::Kind => v.sort_by_key(|s| s.kind),
            SuggestionOrder::Confidence => v.sort_by(|a, b| b.confidence.total_cmp(&a.confidence)),
            SuggestionOrder::Time => v.sort_by_key(|s| (s.at_ns.is_none(), s.at_ns)),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct CurateSettings {
    /// Second-precision repeats closer than this are duplicates.
    pub repeat_window_ns: i64,
    /// Traffic window after an onset used to score it.
    pub burst_ns: i64,
    /// A source silent for longer than this (and 8× its median gap) is reported.
    pub silent_ns: i64,
}

impl Default for CurateSettings {
    fn default() -> Self {
        CurateSettings {
            repeat_window_ns: 30 * S,
            burst_ns: 10 * S,
            silent_ns: 4 * 3600 * S,
        }
    }
}

/// Where an event's true time may lie, given its logged time and source.
/// IFTTT applets log after a polling delay (the truth is up to a minute before the logged
/// minute, or inside it); scheduled triggers act after the scheduled minute.
pub fn uncertainty(kind: Option<SourceKind>, precision: Precision, t: i64) -> (i64, i64) {
    match (kind, precision) {
        (Some(SourceKind::IftttTrigger), Precision::Minute) => (t, t + 60 * S),
        (_, Precision::Minute) => (t - 60 * S, t + 60 * S),
        (_, Precision::Second) => (t - 15 * S, t + 15 * S),
    }
}

/// A detected burst onset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Onset {
    pub t: i64,
    /// Bytes after the onset minus what the background rate predicts.
    pub excess_bytes: f64,
    pub confidence: f64,
}

/// Finds the onset of the strongest traffic burst of `dev` starting in `[lo, hi]`.
/// Candidates are new TCP connections opened by the device (SYN) and packets that start a
/// rise in rate; each is scored by the bytes in the next `burst_ns` above the background rate
/// measured in the five minutes before the interval — rate change, not mere presence, so
/// devices with constant background traffic still give sharp onsets.
pub fn find_onset(t: &Traffic, dev: u16, lo: i64, hi: i64, burst_ns: i64) -> Option<Onset> {
    if dev == NO_DEVICE {
        return None;
    }
    let pk = &t.packets;
    let idx = t.by_device.get(dev as usize)?;
    let bg_lo = lo - 300 * S;
    let r_bg = t.device_range(dev, bg_lo, lo - 1);
    // Background rate: median bytes per burst-length window before the interval (robust to a
    // previous event inside it).
    let nwin = ((lo - bg_lo) / burst_ns).max(1) as usize;
    let mut wins = vec![0f64; nwin];
    for &i in &idx[r_bg.clone()] {
        let k = ((pk.ts[i as usize] - bg_lo) / burst_ns) as usize;
        if k < nwin {
            wins[k] += pk.orig_len[i as usize] as f64;
        }
    }
    wins.sort_by(|a, b| a.total_cmp(b));
    let bg = wins[nwin / 2];
    let r = t.device_range(dev, lo, hi + burst_ns);
    let cand = &idx[r];
    if cand.is_empty() {
        return None;
    }
    let ts: Vec<i64> = cand.iter().map(|&i| pk.ts[i as usize]).collect();
    let mut cum = Vec::with_capacity(cand.len() + 1);
    cum.push(0f64);
    for &i in cand {
        cum.push(cum.last().copied().unwrap_or(0.0) + pk.orig_len[i as usize] as f64);
    }
    let mut best: Option<Onset> = None;
    let mut prev_t = i64::MIN;
    for (k, &i) in cand.iter().enumerate() {
        let tk = ts[k];
        if tk > hi {
            break;
        }
        let i = i as usize;
        let syn = pk.bits[i] & bits::TCP != 0
            && pk.tcp_flags[i] & tcpf::SYN != 0
            && pk.tcp_flags[i] & tcpf::ACK == 0;
        // A packet after a quiet gap also starts a candidate burst.
        let gap = tk - prev_t > 2 * S;
        prev_t = tk;
        if !(syn || gap || k == 0) {
            continue;
        }
        let end = ts.partition_point(|&x| x < tk + burst_ns);
        let bytes = cum[end] - cum[k];
        let excess = bytes - bg;
        let bonus = if syn { 1.15 } else { 1.0 };
        let score = excess * bonus;
        if score > 0.0 && best.is_none_or(|b| score > b.excess_bytes * 1.0001) {
            best = Some(Onset {
                t: tk,
                excess_bytes: score,
                confidence: 0.0,
            });
        }
    }
    best.map(|mut b| {
        // Confidence: how far the burst stands above the background.
        let ratio = b.excess_bytes / (bg + 2000.0);
        b.confidence = (ratio / (ratio + 1.0)).clamp(0.0, 0.99);
        b
    })
}

fn kind_of(s: &Session, e: &Event) -> Option<SourceKind> {
    if e.source == INSERTED_SOURCE {
        None
    } else {
        s.sources.get(e.source as usize).map(|x| x.spec.kind)
    }
}

/// Authority of a source in cross-source matching (higher wins).
fn authority(kind: Option<SourceKind>, p: Precision) -> u8 {
    let base = match kind {
        Some(SourceKind::Smartthings) => 6,
        Some(SourceKind::NotificationsJsonl) | Some(SourceKind::NotificationsCsv) => 5,
        Some(SourceKind::Experiments) => 4,
        Some(SourceKind::Csv) => 3,
        None => 7,
        Some(SourceKind::IftttTrigger) => 2,
        Some(SourceKind::Ifttt) => 1,
    };
    if p == Precision::Second {
        base + 10
    } else {
        base
    }
}

/// Computes all suggestions on the session's current labels.
pub fn suggest(s: &Session, cfg: &CurateSettings) -> Vec<Suggestion> {
    let mut out = Vec::new();
    let events: Vec<&Event> = s
        .labels
        .events
        .iter()
        .filter(|e| e.status == Status::Active)
        .collect();
    let dups = duplicates(s, &events, cfg, &mut out);
    skew(s, &events, &dups, cfg, &mut out);
    offsets(s, &events, &dups, cfg, &mut out);
    silent(s, &mut out, cfg);
    unlabelled(s, cfg, &mut out);
    out.sort_by(|a, b| (a.kind, a.at_ns, &a.key).cmp(&(b.kind, b.at_ns, &b.key)));
    out
}

/// Duplicate suggestions; returns the ids suggested as duplicates.
fn duplicates(
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

fn skew(
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
            .filter(|e| e.precision == Precision::Minute && e.retime_ns.is_none() && !dups.contains(&e.id) && e.device != NO_DEVICE)
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
                                "{:.0} bytes above background within {:.0} s of the onset; searched {:+.0}..{:+.0} s",
                                o.excess_bytes,
                                cfg.burst_ns as f64 / 1e9,
                                (lo - t) as f64 / 1e9,
                                (hi - t) as f64 / 1e9
                            ),
                            confidence: o.confidence,
                            at_ns: Some(o.t),
                            edit: Some(Edit::Retime { id: e.id, from: e.retime_ns, to: Some(o.t) }),
                        },
                        true,
                    )),
                    // Only where the captures see the device at all: a device never captured
                    // cannot show that a trigger had no effect.
                    _ if kind == Some(SourceKind::IftttTrigger)
                        && s.traffic.by_device.get(dev as usize).is_some_and(|v| !v.is_empty()) =>
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

/// An event whose device shows no burst while a sibling behind the same hub does.
fn wrong_device(
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

/// Per-source clock offsets for second-precision sources: the median lag between logged
/// times and burst onsets.
fn offsets(
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

/// Stretches where a source logged nothing for much longer than usual.
fn silent(s: &Session, out: &mut Vec<Suggestion>, cfg: &CurateSettings) {
    for (si, src) in s.sources.iter().enumerate() {
        let ts: Vec<i64> = s
            .labels
            .events
            .iter()
            .filter(|e| e.source as usize == si)
            .map(|e| e.original_ns)
            .collect();
        let Some((med, gaps)) = silences(ts, cfg.silent_ns) else {
            continue;
        };
        for Silence {
            from: a,
            to: b,
            daily,
        } in gaps
        {
            let hours = (b - a) as f64 / 3600e9;
            let (note, confidence) = if daily {
                // The same pause every day is the source's schedule (a nightly trigger
                // window), not an outage: still listed, at a confidence a filter can hide.
                (
                    "; the same pause recurs at this time on other days (its schedule?)",
                    0.3,
                )
            } else {
                ("", (1.0 - med as f64 / (b - a) as f64).clamp(0.0, 0.99))
            };
            out.push(Suggestion {
                key: format!("silent:{si}:{a}"),
                kind: SuggestionKind::SourceSilent,
                event: None,
                device: None,
                reason: format!("{} logged nothing for {:.1} h", src.spec.path, hours),
                evidence: format!(
                    "{} .. {} UTC; it usually logs every {}{note}",
                    crate::timefmt::utc_short(a),
                    crate::timefmt::utc_short(b),
                    human_span(med)
                ),
                confidence,
                at_ns: Some(a),
                edit: None,
            });
        }
    }
}

/// A stretch without log rows.
#[derive(Debug, PartialEq)]
struct Silence {
    from: i64,
    to: i64,
    /// Another silence starts within an hour of the same time of day and lasts about as
    /// long.
    daily: bool,
}

/// The median gap between a source's distinct log times and the gaps longer than both
/// `min_ns` and eight times that median; `None` below ten distinct times. Equal times are merged
/// first: a scheduled trigger logs many applets in the same minute, and counting those zero
/// gaps made the usual gap 0.
fn silences(mut ts: Vec<i64>, min_ns: i64) -> Option<(i64, Vec<Silence>)> {
    const DAY: i64 = 86_400_000_000_000;
    const HOUR: i64 = 3_600_000_000_000;
    ts.sort_unstable();
    ts.dedup();
    if ts.len() < 10 {
        return None;
    }
    let mut gaps: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let med = gaps[gaps.len() / 2];
    // For events logged at random (Poisson) times, a gap above eight medians (5.5 mean gaps)
    // has a chance of 0.4 %: with the floor, rare enough to be worth a look.
    let thr = min_ns.max(med.saturating_mul(8));
    let long: Vec<(i64, i64)> = ts
        .windows(2)
        .filter(|w| w[1] - w[0] > thr)
        .map(|w| (w[0], w[1]))
        .collect();
    let alike = |x: (i64, i64), y: (i64, i64)| {
        let d = (x.0 - y.0).rem_euclid(DAY);
        let (lx, ly) = ((x.1 - x.0) as f64, (y.1 - y.0) as f64);
        d.min(DAY - d) <= HOUR && lx.max(ly) <= 1.5 * lx.min(ly)
    };
    let out = long
        .iter()
        .enumerate()
        .map(|(i, &x)| Silence {
            from: x.0,
            to: x.1,
            daily: long
                .iter()
                .enumerate()
                .filter(|&(j, &y)| j != i && alike(x, y))
                .count()
                >= 1,
        })
        .collect();
    Some((med, out))
}

/// `90 s`, `15 min`, `2.5 h`.
fn human_span(ns: i64) -> String {
    let s = ns as f64 / 1e9;
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// Bursts (new connections carrying much more than the background) that no label explains.
fn unlabelled(s: &Session, cfg: &CurateSettings, out: &mut Vec<Suggestion>) {
    use rayon::prelude::*;
    let t = &s.traffic;
    let pk = &t.packets;
    // Times of all events per traffic device.
    let mut ev_t: HashMap<u16, Vec<i64>> = HashMap::new();
    for e in &s.labels.events {
        if e.device != NO_DEVICE {
            ev_t.entry(s.traffic_device(e.device))
                .or_default()
                .push(s.adjusted_ns(e));
        }
    }
    for v in ev_t.values_mut() {
        v.sort();
    }
    let labelled_devs: Vec<u16> = {
        let mut v: Vec<u16> = ev_t.keys().copied().collect();
        v.sort();
        v
    };
    let found: Vec<Suggestion> = labelled_devs
        .par_iter()
        .flat_map_iter(|&dev| {
            let idx = &t.by_device[dev as usize];
            let times = &ev_t[&dev];
            let mut res = Vec::new();
            let mut last_report = i64::MIN;
            // Median bytes per burst window over the device's whole capture as background.
            let mut k = 0usize;
            let mut bursts = Vec::new();
            while k < idx.len() {
                let i = idx[k] as usize;
                let syn = pk.bits[i] & bits::TCP != 0
                    && pk.tcp_flags[i] & tcpf::SYN != 0
                    && pk.tcp_flags[i] & tcpf::ACK == 0;
                if syn {
                    let t0 = pk.ts[i];
                    let mut bytes = 0f64;
                    let mut j = k;
                    while j < idx.len() && pk.ts[idx[j] as usize] < t0 + cfg.burst_ns {
                        if pk.flow[idx[j] as usize] == pk.flow[i] {
                            bytes += pk.orig_len[idx[j] as usize] as f64;
                        }
                        j += 1;
                    }
                    bursts.push((t0, bytes));
                }
                k += 1;
            }
            if bursts.is_empty() {
                return res;
            }
            let mut sizes: Vec<f64> = bursts.iter().map(|b| b.1).collect();
            sizes.sort_by(|a, b| a.total_cmp(b));
            let p90 = sizes[sizes.len() * 9 / 10];
            for (t0, bytes) in bursts {
                if bytes < p90.max(20_000.0) || t0 - last_report < 300 * S {
                    continue;
                }
                let near = times.partition_point(|&x| x < t0 - 120 * S);
                if times.get(near).is_some_and(|&x| x <= t0 + 120 * S) {
                    continue;
                }
                last_report = t0;
                res.push(Suggestion {
                    key: format!("burst:{dev}:{t0}"),
                    kind: SuggestionKind::UnlabelledBurst,
                    event: None,
                    device: Some(s.device_name(dev).to_string()),
                    reason: format!(
                        "a {:.0} kB connection burst of {} has no label within 2 min",
                        bytes / 1000.0,
                        s.device_name(dev)
                    ),
                    evidence: format!("new TCP connection at {}", crate::timefmt::utc_short(t0)),
                    confidence: (bytes / (bytes + p90)).clamp(0.0, 0.99),
                    at_ns: Some(t0),
                    edit: None,
                });
            }
            res
        })
        .collect();
    out.extend(found);
}

/// Accepts suggestions of the given kinds at or above `min_conf` as one undoable batch.
/// Returns the number of edits applied.
pub fn accept(
    s: &mut Session,
    sugg: &[Suggestion],
    kinds: &[SuggestionKind],
    min_conf: f64,
) -> crate::Result<usize> {
    let edits: Vec<Edit> = sugg
        .iter()
        .filter(|x| kinds.contains(&x.kind) && x.confidence >= min_conf)
        .filter_map(|x| x.edit.clone())
        .collect();
    let n = edits.len();
    if n == 0 {
        return Ok(0);
    }
    let label = format!(
        "accept {} suggestions ({})",
        n,
        kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    s.apply(Edit::Batch { label, edits })?;
    Ok(n)
}

/// The standard pipeline: duplicates and offsets first, then skew and health on the
/// de-duplicated, offset-corrected labels. Returns all suggestions seen and edits applied.
pub fn run_all(
    s: &mut Session,
    kinds: &[SuggestionKind],
    min_conf: f64,
    cfg: &CurateSettings,
) -> crate::Result<(Vec<Suggestion>, usize)> {
    let mut applied = 0;
    let first = suggest(s, cfg);
    let early: Vec<SuggestionKind> = kinds
        .iter()
        .copied()
        .filter(|k| matches!(k, SuggestionKind::Duplicate | SuggestionKind::SourceOffset))
        .collect();
    applied += accept(s, &first, &early, min_conf)?;
    let second = if applied > 0 {
        suggest(s, cfg)
    } else {
        first.clone()
    };
    let late: Vec<SuggestionKind> = kinds
        .iter()
        .copied()
        .filter(|k| !early.contains(k))
        .collect();
    applied += accept(s, &second, &late, min_conf)?;
    let mut all = first;
    let keys: std::collections::HashSet<String> = all.iter().map(|x| x.key.clone()).collect();
    all.extend(second.into_iter().filter(|x| !keys.contains(&x.key)));
    Ok((all, applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    #[test]
    fn suggestion_orders_are_stable_and_put_undated_findings_last() {
        let sg = |key: &str, kind, confidence, at_ns| Suggestion {
            key: key.into(),
            kind,
            event: None,
            device: None,
            reason: String::new(),
            evidence: String::new(),
            confidence,
            at_ns,
            edit: None,
        };
        use SuggestionKind::*;
        let all = [
            sg("a", Duplicate, 0.9, Some(30)),
            sg("b", Duplicate, 0.99, Some(40)),
            sg("c", Skew, 0.9, Some(10)),
            sg("d", SourceSilent, 0.3, None),
            sg("e", SourceSilent, 0.99, Some(20)),
        ];
        let keys = |o: SuggestionOrder| {
            // From the kind order (as `suggest` returns it), sorted again by `o`.
            let mut v: Vec<&Suggestion> = all.iter().collect();
            o.sort(&mut v);
            v.iter().map(|s| s.key.as_str()).collect::<String>()
        };
        assert_eq!(keys(SuggestionOrder::Kind), "abcde");
        // Ties (b and e; a and c) keep their kind-then-time order.
        assert_eq!(keys(SuggestionOrder::Confidence), "beacd");
        assert_eq!(keys(SuggestionOrder::Time), "ceabd");
    }

    #[test]
    fn silences_measure_the_usual_gap_and_tell_a_schedule_from_an_outage() {
        const H: i64 = 60 * MIN;
        // A schedule logging three applets every 15 minutes from 08:00 to 22:00 for four
        // days, and an outage from 12:00 to 17:00 on the third day.
        let mut ts = Vec::new();
        for day in 0..4 {
            for k in 0..=56 {
                let t = day * 24 * H + 8 * H + k * 15 * MIN;
                if day == 2 && t > 2 * 24 * H + 12 * H && t < 2 * 24 * H + 17 * H {
                    continue;
                }
                ts.extend([t, t, t]);
            }
        }
        let (med, long) = silences(ts, 4 * H).unwrap();
        assert_eq!(med, 15 * MIN);
        assert_eq!(human_span(med), "15 min");
        let night = |d: i64| Silence {
            from: d * 24 * H + 22 * H,
            to: (d + 1) * 24 * H + 8 * H,
            daily: true,
        };
        let outage = Silence {
            from: 2 * 24 * H + 12 * H,
            to: 2 * 24 * H + 17 * H,
            daily: false,
        };
        assert_eq!(long, vec![night(0), night(1), outage, night(2)]);
        // Nothing longer than the floor, and too few distinct times.
        let even: Vec<i64> = (0..40).map(|k| k * 15 * MIN).collect();
        assert_eq!(silences(even, 4 * H).unwrap().1, vec![]);
        assert!(silences(vec![0; 50], MIN).is_none());
        assert_eq!(human_span(90_000_000_000), "90 s");
        assert_eq!(human_span(9 * H), "9.0 h");
    }
}
