//! Stage 4, curation: suggestions (duplicates, minute-level skew, per-source offsets, source
//! health, wrong devices), the edits that accepting them applies, and the journal.
//!
//! Each suggestion carries its reason, evidence, a confidence and (when it can be accepted) the
//! edit that accepting applies. Edits ([`edits`]) are the only way labels change; every step is
//! fsync'd to the project's journal ([`journal`]) before it is acknowledged.
//! May use: [`crate::traffic`], [`crate::labels`], [`crate::project`].

mod duplicates;
pub mod edits;
mod health;
pub mod journal;
mod mislabels;
mod offsets;
mod onsets;
mod skew;
mod wrong_device;

use duplicates::*;
use health::*;
pub use mislabels::*;
use offsets::*;
pub use onsets::*;
use skew::*;
use wrong_device::*;

use std::collections::HashMap;

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
mod tests;
