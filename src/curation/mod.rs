//! Stage 4, curation: suggestions (duplicates, minute-level skew, per-source offsets, source
//! health, wrong devices), the edits that accepting them applies, and the journal.
//!
//! Each suggestion carries its reason, evidence, a confidence and (when it can be accepted) the
//! edit that accepting applies. Edits ([`edits`]) are the only way labels change; every step is
//! fsync'd to the project's journal ([`journal`]) before it is acknowledged.
//! May use: [`crate::traffic`], [`crate::labels`], [`crate::project`].

pub mod clock;
mod commands;
mod duplicates;
pub mod edits;
mod health;
pub mod journal;
mod mislabels;
mod offsets;
mod onsets;
mod skew;
mod wrong_device;
mod zones;

pub use commands::*;
use duplicates::*;
use health::*;
pub use mislabels::*;
use offsets::*;
pub use onsets::*;
use skew::*;
use wrong_device::*;
pub use zones::*;

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::capture::{bits, tcpf};
use crate::curation::edits::Edit;
use crate::labels::{Event, Precision, SourceKind, Status, INSERTED_SOURCE};
use crate::project::session::Session;
use crate::traffic::{Traffic, NO_DEVICE};

use crate::timefmt::NS_PER_S as S;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuggestionKind {
    TimeZone,
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
    pub const ALL: [SuggestionKind; 9] = [
        SuggestionKind::TimeZone,
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
            SuggestionKind::TimeZone => "zones",
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
        self.sort_by(v, |s| s)
    }

    /// Sorts items that each hold a suggestion (stable, as [`Self::sort`]).
    pub fn sort_by<T>(self, v: &mut [T], get: impl Fn(&T) -> &Suggestion) {
        match self {
            SuggestionOrder::Kind => v.sort_by_key(|x| get(x).kind),
            SuggestionOrder::Confidence => {
                v.sort_by(|a, b| get(b).confidence.total_cmp(&get(a).confidence))
            }
            SuggestionOrder::Time => v.sort_by_key(|x| {
                let s = get(x);
                (s.at_ns.is_none(), s.at_ns)
            }),
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
    /// Only the events whose adjusted time lies in `[start, end)` (UTC ns), and what happens
    /// then: one time slice of a project whose traffic was read for that slice. Source-wide
    /// findings (zones, clocks) rest on the slice's events. `None`: all.
    pub range: Option<(i64, i64)>,
}

/// How far before and after a time slice curation reads traffic: the lag search (±3 min)
/// around a slice-edge event, plus the 10 minutes of background before it.
pub const SLICE_MARGIN_NS: i64 = 15 * 60 * S;

impl Default for CurateSettings {
    fn default() -> Self {
        CurateSettings {
            repeat_window_ns: 30 * S,
            burst_ns: 10 * S,
            silent_ns: 4 * 3600 * S,
            range: None,
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
        Some(SourceKind::Experiments) | Some(SourceKind::PerEventCaptures) => 4,
        Some(SourceKind::Csv) | Some(SourceKind::Zeek) => 3,
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
    let in_range = |t: i64| cfg.range.is_none_or(|(a, b)| (a..b).contains(&t));
    let events: Vec<&Event> = s
        .labels
        .events
        .iter()
        .filter(|e| e.status == Status::Active && in_range(s.adjusted_ns(e)))
        .collect();
    zones(s, cfg, &mut out);
    let dups = duplicates(s, &events, cfg, &mut out);
    let measured = Measured::new(s, &events, cfg);
    skew(s, &events, &dups, cfg, &measured, &mut out);
    offsets(s, &events, &dups, cfg, &mut out);
    clock_changes(s, &measured, &mut out);
    minute_offsets(s, &events, cfg, &mut out);
    silent(s, &mut out, cfg);
    unlabelled(s, cfg, &mut out);
    if cfg.range.is_some() {
        // A slice's findings: about its events, its time, or a source as a whole.
        let ids: HashSet<u64> = events.iter().map(|e| e.id).collect();
        out.retain(|x| match x.event {
            Some(id) => ids.contains(&id),
            None => {
                matches!(
                    x.kind,
                    SuggestionKind::SourceOffset | SuggestionKind::TimeZone
                ) || x.at_ns.is_some_and(in_range)
            }
        });
    }
    out.sort_by(|a, b| (a.kind, a.at_ns, &a.key).cmp(&(b.kind, b.at_ns, &b.key)));
    out
}

/// Accepts suggestions of the given kinds at or above `min_conf` as one undoable batch.
/// Returns the number of edits applied.
pub fn accept(
    s: &mut Session,
    sugg: &[Suggestion],
    kinds: &[SuggestionKind],
    min_conf: f64,
) -> crate::Result<usize> {
    let acc = Acceptance::kinds(kinds, min_conf);
    let these: Vec<&Suggestion> = sugg.iter().filter(|x| acc.admits(x)).collect();
    accept_these(s, &these)
}

/// Which suggestions a bulk accept takes: kinds, a minimum confidence, and higher floors for
/// kinds whose mistakes cost more.
#[derive(Clone, Debug, PartialEq)]
pub struct Acceptance {
    pub kinds: Vec<SuggestionKind>,
    pub min_confidence: f64,
    /// Per-kind minimum confidence above `min_confidence`.
    pub floors: Vec<(SuggestionKind, f64)>,
    /// Keys never accepted (suggestions the analyst dismissed).
    pub skip: std::collections::HashSet<String>,
}

/// The minimum confidence of "accept all" (CLI `--accept-all`, the window's "Accept all
/// shown"): below it a suggestion rests on too little evidence to apply unseen.
pub const ACCEPT_ALL_MIN_CONFIDENCE: f64 = 0.5;
/// Rejecting an event as "no traffic" loses it from the dataset: accept-all does so only on
/// strong evidence of absence.
pub const ACCEPT_ALL_NO_TRAFFIC_MIN: f64 = 0.9;

impl Acceptance {
    /// Accept-all: every kind computed from labels and traffic (mislabels need a model and are
    /// accepted only by name), at [`ACCEPT_ALL_MIN_CONFIDENCE`], no-traffic at
    /// [`ACCEPT_ALL_NO_TRAFFIC_MIN`].
    pub fn all() -> Acceptance {
        Acceptance {
            kinds: SuggestionKind::ALL
                .into_iter()
                .filter(|k| *k != SuggestionKind::Mislabel)
                .collect(),
            min_confidence: ACCEPT_ALL_MIN_CONFIDENCE,
            floors: vec![(SuggestionKind::NoTraffic, ACCEPT_ALL_NO_TRAFFIC_MIN)],
            skip: Default::default(),
        }
    }
    /// Exactly these kinds at or above `min_confidence`.
    pub fn kinds(kinds: &[SuggestionKind], min_confidence: f64) -> Acceptance {
        Acceptance {
            kinds: kinds.to_vec(),
            min_confidence,
            floors: vec![],
            skip: Default::default(),
        }
    }
    /// Whether a suggestion of this kind and confidence is taken.
    pub fn admits(&self, x: &Suggestion) -> bool {
        let floor = self
            .floors
            .iter()
            .filter(|f| f.0 == x.kind)
            .fold(self.min_confidence, |m, f| m.max(f.1));
        self.kinds.contains(&x.kind)
            && x.edit.is_some()
            && x.confidence >= floor
            && !self.skip.contains(&x.key)
    }
}

/// Rounds of [`run_all`] before it stops even if suggestions keep coming.
pub const MAX_ROUNDS: usize = 8;

/// The stage a kind is accepted in: time zones first (they move every time of a source), then
/// clock offsets (matching events across sources needs them), then duplicates, then
/// per-event fixes on the de-duplicated, offset-corrected labels.
fn stage(k: SuggestionKind) -> u8 {
    match k {
        SuggestionKind::TimeZone => 0,
        SuggestionKind::SourceOffset => 1,
        SuggestionKind::Duplicate => 2,
        _ => 3,
    }
}

/// The standard pipeline, run to a fixed point: each round recomputes the suggestions and
/// accepts the admitted ones of the earliest stage that has any, as one undoable batch, until a
/// round admits nothing (retimed events can become duplicates; a new zone can reveal an offset)
/// or [`MAX_ROUNDS`] have run. Returns every suggestion seen (the latest of each key) and the
/// number of edits applied.
pub fn run_all(
    s: &mut Session,
    acc: &Acceptance,
    cfg: &CurateSettings,
) -> crate::Result<(Vec<Suggestion>, usize)> {
    let mut applied = 0;
    let mut seen: HashMap<String, Suggestion> = HashMap::new();
    for _ in 0..MAX_ROUNDS {
        let sugg = suggest(s, cfg);
        let admitted: Vec<&Suggestion> = sugg.iter().filter(|x| acc.admits(x)).collect();
        let first = admitted.iter().map(|x| stage(x.kind)).min();
        let batch: Vec<&Suggestion> = admitted
            .into_iter()
            .filter(|x| Some(stage(x.kind)) == first)
            .collect();
        let n = accept_these(s, &batch)?;
        applied += n;
        for x in sugg {
            seen.insert(x.key.clone(), x);
        }
        if n == 0 {
            break;
        }
    }
    let mut all: Vec<Suggestion> = seen.into_values().collect();
    all.sort_by(|a, b| (a.kind, a.at_ns, &a.key).cmp(&(b.kind, b.at_ns, &b.key)));
    Ok((all, applied))
}

/// Applies the edits of these suggestions as one undoable batch named after their kinds.
fn accept_these(s: &mut Session, sugg: &[&Suggestion]) -> crate::Result<usize> {
    let edits: Vec<Edit> = sugg.iter().filter_map(|x| x.edit.clone()).collect();
    let n = edits.len();
    if n == 0 {
        return Ok(0);
    }
    let mut kinds: Vec<&str> = sugg.iter().map(|x| x.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let label = format!("accept {} suggestions ({})", n, kinds.join(", "));
    s.apply(Edit::Batch { label, edits })?;
    Ok(n)
}

#[cfg(test)]
mod tests;
