//! Stage 3, labels: event logs read into events: their kinds, time zones and precision, and
//! the device each names.
//!
//! May use: [`crate::traffic::devices`] (names to devices), [`crate::capture`] (the times of
//! per-event captures), [`crate::error`].

mod per_event;
mod read;
mod rules;
pub mod sniff;
mod time;
mod zeek;

pub use per_event::{PathFields, PathPattern, MONIOTR_PATTERN};
pub use read::*;
pub use rules::*;
pub use time::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{LocalResult, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::traffic::devices::Registry;
use crate::traffic::NO_DEVICE;

/// The kinds of event log the CLI accepts (`--source KIND:PATH[@TZ]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Ifttt,
    IftttTrigger,
    Smartthings,
    NotificationsJsonl,
    NotificationsCsv,
    Csv,
    Experiments,
    /// A Zeek log (conn.log and the like) with a label column: TSV or JSON lines.
    Zeek,
    /// One capture per event, the label in its path; the source's path is a glob.
    PerEventCaptures,
}

impl SourceKind {
    pub const ALL: [SourceKind; 9] = [
        SourceKind::Ifttt,
        SourceKind::IftttTrigger,
        SourceKind::Smartthings,
        SourceKind::NotificationsJsonl,
        SourceKind::NotificationsCsv,
        SourceKind::Csv,
        SourceKind::Experiments,
        SourceKind::Zeek,
        SourceKind::PerEventCaptures,
    ];
    pub fn as_str(&self) -> &'static str {
        match self {
            SourceKind::Ifttt => "ifttt",
            SourceKind::IftttTrigger => "ifttt-trigger",
            SourceKind::Smartthings => "smartthings",
            SourceKind::NotificationsJsonl => "notifications-jsonl",
            SourceKind::NotificationsCsv => "notifications-csv",
            SourceKind::Csv => "csv",
            SourceKind::Experiments => "experiments",
            SourceKind::Zeek => "zeek",
            SourceKind::PerEventCaptures => "per-event-captures",
        }
    }
    pub fn parse(s: &str) -> Option<SourceKind> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Second,
    Minute,
}

impl Precision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Precision::Second => "second",
            Precision::Minute => "minute",
        }
    }
    pub fn ns(&self) -> i64 {
        match self {
            Precision::Second => 1_000_000_000,
            Precision::Minute => 60_000_000_000,
        }
    }
}

/// Columns and time format of a generic CSV source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CsvColumns {
    /// Column names (when `has_header`) or 0-based indices as strings.
    pub time: String,
    pub device: String,
    pub class: String,
    /// `iso8601`, `epoch` (seconds, may have a fraction), `epoch-ms`, or a chrono format string.
    pub time_format: String,
    pub has_header: bool,
    /// The column of the interval's end, in the same format, for logs of intervals
    /// (`start,end`): the event then lasts from its time to its end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

impl Default for CsvColumns {
    fn default() -> Self {
        CsvColumns {
            time: "time".into(),
            device: "device".into(),
            class: "class".into(),
            time_format: "iso8601".into(),
            has_header: true,
            end: None,
        }
    }
}

/// A notification-to-event rule: when `package` matches and `field` matches `pattern` (a
/// regex with a named group `dev`), emit `class` for that device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotificationRule {
    pub package: String,
    /// `title` or `text`.
    pub field: String,
    pub pattern: String,
    pub class: String,
}

/// A label source as stored in the project file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceSpec {
    pub kind: SourceKind,
    /// Relative to the project file.
    pub path: String,
    /// IANA zone of naive local times.
    #[serde(default = "utc")]
    pub tz: String,
    /// Clock offset added to every time of this source (the logger's clock error).
    #[serde(default)]
    pub offset_ns: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<CsvColumns>,
    /// Extra notification rules, tried before the defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<NotificationRule>,
    /// For `per-event-captures`: the path pattern (default Mon(IoT)r's layout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

fn utc() -> String {
    "UTC".into()
}

impl SourceSpec {
    /// A source of `kind` at `path` read in `tz`, with no offset, rules or pattern, and the
    /// default columns for `csv`.
    pub fn new(kind: SourceKind, path: String, tz: String) -> SourceSpec {
        SourceSpec {
            kind,
            path,
            tz,
            offset_ns: 0,
            csv: (kind == SourceKind::Csv).then(CsvColumns::default),
            rules: vec![],
            pattern: None,
        }
    }

    /// Parses `KIND:PATH[@TZ]`.
    pub fn parse_cli(s: &str) -> Result<SourceSpec, String> {
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("{s}: expected KIND:PATH[@TZ]"))?;
        let kind = SourceKind::parse(kind).ok_or_else(|| {
            format!(
                "{s}: unknown source kind {kind:?} (one of {})",
                SourceKind::ALL.map(|k| k.as_str()).join(", ")
            )
        })?;
        let (path, tz) = match rest.rsplit_once('@') {
            Some((p, tz)) => (p.to_string(), tz.to_string()),
            None => (rest.to_string(), "UTC".to_string()),
        };
        tz.parse::<Tz>()
            .map_err(|_| format!("{s}: unknown time zone {tz:?}"))?;
        Ok(SourceSpec::new(kind, path, tz))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Duplicate,
    Rejected,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Duplicate => "duplicate",
            Status::Rejected => "rejected",
        }
    }
}

/// One label with its provenance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable id: source index × 1,000,000 + line number (inserted events count from 10^12).
    pub id: u64,
    /// Registry index, or [`NO_DEVICE`] when the log's name matched no device.
    pub device: u16,
    /// The device name as written in the log.
    pub device_text: String,
    /// Class without the `event_` prefix.
    pub class: String,
    /// Index into the session's sources (`u16::MAX` for inserted events).
    pub source: u16,
    pub line: u32,
    pub raw: String,
    pub time_text: String,
    /// UTC time as read, before any offset.
    pub original_ns: i64,
    /// The wall-clock time as written, as ns as if it were UTC, for times the source's zone
    /// resolved (a zone change re-resolves it); `None` for absolute times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_ns: Option<i64>,
    pub precision: Precision,
    /// Labelled interval length (experiment lists), else 0.
    pub duration_ns: i64,
    /// Per-event retime relative to `original_ns + source offset`, set by edits.
    pub retime_ns: Option<i64>,
    pub status: Status,
    pub duplicate_of: Option<u64>,
    /// Ids of the edits that touched this event.
    pub edits: Vec<u64>,
}

/// Ids of inserted events start here.
pub const INSERTED_ID_BASE: u64 = 1_000_000_000_000;

/// Source index of inserted events.
pub const INSERTED_SOURCE: u16 = u16::MAX;

/// A row-level problem in a log file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// The outcome of reading one source file.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SourceLoad {
    pub rows: usize,
    pub events: usize,
    pub errors: Vec<RowError>,
    /// Rows whose local time fell in a DST gap (resolved with the pre-transition offset).
    pub dst_gap: usize,
    /// Rows whose local time was ambiguous (resolved to the earlier instant).
    pub dst_fold: usize,
    /// Log device names that matched no registry device, with counts.
    pub unmatched_devices: BTreeMap<String, usize>,
    /// Notifications no rule mapped to an event: (line, package, title/text).
    pub unmatched_notifications: Vec<(usize, String, String)>,
    pub minute_rows: usize,
    pub second_rows: usize,
}

/// How a naive local time was resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolved {
    Unique,
    Gap,
    Fold,
}

/// Resolves a source path relative to the project directory.
pub fn source_path(base: &Path, spec: &SourceSpec) -> PathBuf {
    let p = Path::new(&spec.path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

#[cfg(test)]
mod tests;
