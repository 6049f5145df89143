//! Stage 3, labels: event logs read into events: their kinds, time zones and precision, and
//! the device each names.
//!
//! May use: [`crate::traffic::devices`] (names to devices), [`crate::error`].

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
}

impl SourceKind {
    pub const ALL: [SourceKind; 7] = [
        SourceKind::Ifttt,
        SourceKind::IftttTrigger,
        SourceKind::Smartthings,
        SourceKind::NotificationsJsonl,
        SourceKind::NotificationsCsv,
        SourceKind::Csv,
        SourceKind::Experiments,
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
        }
    }
    pub fn parse(s: &str) -> Option<SourceKind> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
    /// Whether this source's times are authoritative (second precision) in cross-source
    /// duplicate matching.
    pub fn is_second_precision_kind(&self) -> bool {
        !matches!(self, SourceKind::Ifttt | SourceKind::IftttTrigger)
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
}

impl Default for CsvColumns {
    fn default() -> Self {
        CsvColumns {
            time: "time".into(),
            device: "device".into(),
            class: "class".into(),
            time_format: "iso8601".into(),
            has_header: true,
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
}

fn utc() -> String {
    "UTC".into()
}

impl SourceSpec {
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
        Ok(SourceSpec {
            kind,
            path,
            tz,
            offset_ns: 0,
            csv: if kind == SourceKind::Csv {
                Some(CsvColumns::default())
            } else {
                None
            },
            rules: vec![],
        })
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

/// Resolves a naive local time in `tz`. Documented rule: a time in a DST gap (it never
/// happened on the wall clock) is read with the offset in effect just before the transition,
/// i.e. 02:30 on a spring-forward night is 02:30 standard time = 03:30 daylight time; an
/// ambiguous time in a fold is the earlier of its two instants.
///
/// `None` when the instant lies outside [`representable`] times.
pub fn resolve_local(tz: &Tz, t: &NaiveDateTime) -> Option<(i64, Resolved)> {
    let (ns, r) = match tz.from_local_datetime(t) {
        LocalResult::Single(d) => (ns_of(&d)?, Resolved::Unique),
        LocalResult::Ambiguous(a, b) => (ns_of(&a)?.min(ns_of(&b)?), Resolved::Fold),
        LocalResult::None => {
            // Offset before the transition: the offset of the instant 3 hours earlier.
            let before = *t - chrono::Duration::hours(3);
            let off = match tz.from_local_datetime(&before) {
                LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => {
                    use chrono::Offset;
                    d.offset().fix().local_minus_utc() as i64
                }
                LocalResult::None => 0,
            };
            let naive_ns = t.and_utc().timestamp_nanos_opt()?;
            (naive_ns.checked_sub(off * 1_000_000_000)?, Resolved::Gap)
        }
    };
    representable(ns).then_some((ns, r))
}

/// Nanoseconds in a day: the margin kept from the ends of `i64` time.
const DAY_NS: i64 = 86_400 * 1_000_000_000;

/// Whether an event time leaves room for its feature window and clock offsets: `i64`
/// nanoseconds reach from 1677-09-21 to 2262-04-11, and a time within a day of either end is
/// refused as out of range (a window around it would wrap and end before it starts).
pub fn representable(ns: i64) -> bool {
    (i64::MIN + DAY_NS..=i64::MAX - DAY_NS).contains(&ns)
}

/// The row error for a time that parses but lies outside [`representable`] times.
pub fn out_of_range(text: &str) -> String {
    format!(
        "time {text:?} is out of range (labelbench represents times from 1677-09-22 to \
         2262-04-10 UTC)"
    )
}

fn ns_of<T: TimeZone>(d: &chrono::DateTime<T>) -> Option<i64> {
    d.timestamp_nanos_opt()
}

/// Parses the lab's `March 08, 2021 at 01:05PM` (minute) or `… 01:05:09PM` (second).
pub fn parse_lab_time(s: &str) -> Option<(NaiveDateTime, Precision)> {
    let s = s.trim();
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%B %d, %Y at %I:%M:%S%p") {
        return Some((t, Precision::Second));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%B %d, %Y at %I:%M%p") {
        return Some((t, Precision::Minute));
    }
    None
}

pub fn strip_class(c: &str) -> String {
    c.trim()
        .strip_prefix("event_")
        .unwrap_or(c.trim())
        .to_string()
}

/// The default notification rules for the lab's vendors (wordings from the lab's converter).
pub fn default_rules() -> Vec<NotificationRule> {
    let r = |package: &str, field: &str, pattern: &str, class: &str| NotificationRule {
        package: package.into(),
        field: field.into(),
        pattern: pattern.into(),
        class: class.into(),
    };
    vec![
        r(
            "com.tplink.kasa_android",
            "title",
            r"^(?P<dev>.+?) detected motion",
            "motion",
        ),
        r(
            "com.tplink.kasa_android",
            "title",
            r"^(?P<dev>.+?) detected sound",
            "sound",
        ),
        r(
            "com.merkuryinnovations.geeni",
            "text",
            r"^(?P<dev>.+?) has detected movement",
            "motion",
        ),
        r(
            "com.merkuryinnovations.geeni",
            "text",
            r"^(?P<dev>.+?) has detected sound",
            "sound",
        ),
        r(
            "com.merkuryinnovations.geeni",
            "text",
            r"^(?P<dev>.+?) someone is knocking",
            "ring",
        ),
        r(
            "com.nest.android",
            "title",
            r"^\W*Motion\b.*\((?P<dev>[^()]+)\)\s*$",
            "motion",
        ),
        r(
            "com.nest.android",
            "title",
            r"^\W*Sound\b.*\((?P<dev>[^()]+)\)\s*$",
            "sound",
        ),
        r(
            "com.nest.android",
            "title",
            r"^\W*Doorbell\b.*\((?P<dev>[^()]+)\)\s*$",
            "ring",
        ),
        r(
            "com.nest.android",
            "title",
            r"^\W*Person\b.*\((?P<dev>[^()]+)\)\s*$",
            "person",
        ),
        r(
            "com.ringapp",
            "title",
            r"There is motion at your (?P<dev>.+?)\s*$",
            "motion",
        ),
        r(
            "com.ringapp",
            "title",
            r"Someone is at your (?P<dev>.+?)\s*$",
            "ring",
        ),
        r(
            "com.ringapp",
            "text",
            r"^Melbourne (?P<dev>.+?)(?: \[in IoT Lab\])? detected motion at",
            "motion",
        ),
        r(
            "com.ringapp",
            "text",
            r"^Melbourne (?P<dev>.+?)(?: \[in IoT Lab\])? opened at",
            "open",
        ),
        r(
            "com.ringapp",
            "text",
            r"^Melbourne (?P<dev>.+?)(?: \[in IoT Lab\])? closed at",
            "close",
        ),
        r(
            "com.ringapp",
            "text",
            r"^Melbourne (?P<dev>.+?)(?: \[in IoT Lab\])? reported low battery at",
            "batt",
        ),
        r(
            "com.simplisafe.mobile",
            "text",
            r#""(?P<dev>[^"]+)" Camera Detected Motion on"#,
            "motion",
        ),
        r(
            "com.simplisafe.mobile",
            "text",
            r#"Someone is at your "(?P<dev>[^"]+)" on"#,
            "ring",
        ),
        r(
            "com.nightowl.connect",
            "text",
            r"There is motion at your (?P<dev>.+?)\s*$",
            "motion",
        ),
        r(
            "com.nightowl.connect",
            "text",
            r"Someone just rang your (?P<dev>.+?)\s*$",
            "ring",
        ),
        r(
            "com.allegion.leopard",
            "text",
            r"^Access code \S+ unlocked (?P<dev>.+?)\s*$",
            "unlock",
        ),
        r(
            "com.allegion.leopard",
            "text",
            r"^(?P<dev>.+?) (?:is )?unlocked\s*$",
            "unlock",
        ),
        r(
            "com.allegion.leopard",
            "text",
            r"^(?P<dev>.+?) (?:is )?locked\s*$",
            "lock",
        ),
        r(
            "com.allegion.leopard",
            "text",
            r"^(?P<dev>.+?) (?:is )?battery low\s*$",
            "batt",
        ),
        r(
            "com.sifely.smartlock",
            "text",
            r#"^"[^"]*" unlocked \("?(?P<dev>[^")]+)"?\)"#,
            "unlock",
        ),
    ]
}

#[derive(Clone)]
struct CompiledRule {
    package: String,
    field_title: bool,
    re: Regex,
    class: String,
}

fn compile_rule(r: &NotificationRule) -> Result<CompiledRule, String> {
    Ok(CompiledRule {
        package: r.package.clone(),
        field_title: r.field == "title",
        re: Regex::new(&r.pattern)
            .map_err(|e| format!("bad notification rule {:?}: {e}", r.pattern))?,
        class: r.class.clone(),
    })
}

/// The user's rules, then the defaults. The defaults are compiled once per process: compiled on
/// every load, their automata held the `logs` fuzz target to 9 small logs a second.
fn compile_rules(user: &[NotificationRule]) -> Result<Vec<CompiledRule>, String> {
    static DEFAULTS: std::sync::OnceLock<Vec<CompiledRule>> = std::sync::OnceLock::new();
    let defaults = DEFAULTS.get_or_init(|| {
        default_rules()
            .iter()
            .map(|r| compile_rule(r).expect("the default notification rules compile"))
            .collect()
    });
    let mut rules = user
        .iter()
        .map(compile_rule)
        .collect::<Result<Vec<_>, _>>()?;
    rules.extend(defaults.iter().cloned());
    Ok(rules)
}

/// A row before device matching and id assignment.
struct Row {
    line: usize,
    raw: String,
    time_text: String,
    ns: i64,
    precision: Precision,
    device: String,
    class: String,
    duration_ns: i64,
}

/// Reads one source. Row errors are collected; the rest of the file loads.
pub fn load_source(
    spec: &SourceSpec,
    path: &Path,
    source_index: u16,
    registry: &Registry,
    device_map: &BTreeMap<String, String>,
) -> Result<(Vec<Event>, SourceLoad), crate::error::Error> {
    let bytes = std::fs::read(path).map_err(|e| crate::error::Error::io(path, e))?;
    // A UTF-8 byte-order mark (Excel and Windows editors write one) is not content.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let tz: Tz = spec.tz.parse().map_err(|_| {
        crate::error::Error::invalid(path, format!("unknown time zone {:?}", spec.tz))
    })?;
    let fname = path.display().to_string();
    let mut load = SourceLoad::default();
    let mut rows: Vec<Row> = Vec::new();
    let err = |load: &mut SourceLoad, line: usize, reason: String| {
        load.errors.push(RowError {
            file: fname.clone(),
            line,
            reason,
        })
    };
    let resolve = |load: &mut SourceLoad, t: &NaiveDateTime| {
        let (ns, r) = resolve_local(&tz, t)?;
        match r {
            Resolved::Gap => load.dst_gap += 1,
            Resolved::Fold => load.dst_fold += 1,
            Resolved::Unique => {}
        }
        Some(ns)
    };
    match spec.kind {
        SourceKind::Ifttt
        | SourceKind::IftttTrigger
        | SourceKind::Smartthings
        | SourceKind::NotificationsCsv => {
            for_each_csv_row(bytes, false, |line, rec, raw| {
                load.rows += 1;
                let rec = match rec {
                    Ok(r) => r,
                    Err(e) => return err(&mut load, line, e),
                };
                if rec.len() != 3 {
                    return err(
                        &mut load,
                        line,
                        format!("expected 3 fields (time, device, event), got {}", rec.len()),
                    );
                }
                let Some((t, prec)) = parse_lab_time(&rec[0]) else {
                    return err(
                        &mut load,
                        line,
                        format!(
                            "bad date {:?} (expected e.g. \"March 08, 2021 at 01:05PM\")",
                            rec[0]
                        ),
                    );
                };
                if rec[1].trim().is_empty() || rec[2].trim().is_empty() {
                    return err(&mut load, line, "empty device or event field".into());
                }
                let Some(ns) = resolve(&mut load, &t) else {
                    return err(&mut load, line, out_of_range(&rec[0]));
                };
                rows.push(Row {
                    line,
                    raw: raw.to_string(),
                    time_text: rec[0].clone(),
                    ns,
                    precision: prec,
                    device: rec[1].trim().to_string(),
                    class: strip_class(&rec[2]),
                    duration_ns: 0,
                });
            });
        }
        SourceKind::NotificationsJsonl => {
            let rules =
                compile_rules(&spec.rules).map_err(|r| crate::error::Error::invalid(path, r))?;
            for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
                let line = i + 1;
                let raw = trim_cr(raw);
                if raw.iter().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                load.rows += 1;
                let Ok(text) = std::str::from_utf8(raw) else {
                    err(&mut load, line, "not valid UTF-8".into());
                    continue;
                };
                #[derive(Deserialize)]
                struct Note {
                    package: String,
                    #[serde(default)]
                    title: String,
                    #[serde(default)]
                    text: String,
                    date: String,
                }
                let note: Note = match serde_json::from_str(text) {
                    Ok(n) => n,
                    Err(e) => {
                        err(&mut load, line, format!("bad JSON: {e}"));
                        continue;
                    }
                };
                let Some((t, prec)) = parse_lab_time(&note.date) else {
                    err(&mut load, line, format!("bad date {:?}", note.date));
                    continue;
                };
                let hit = rules.iter().find_map(|r| {
                    if r.package != note.package {
                        return None;
                    }
                    let field = if r.field_title {
                        &note.title
                    } else {
                        &note.text
                    };
                    let c = r.re.captures(field)?;
                    Some((c.name("dev")?.as_str().trim().to_string(), r.class.clone()))
                });
                let Some((dev, class)) = hit else {
                    let shown = if note.title.is_empty() {
                        note.text
                    } else {
                        note.title
                    };
                    load.unmatched_notifications
                        .push((line, note.package, shown));
                    continue;
                };
                let Some(ns) = resolve(&mut load, &t) else {
                    err(&mut load, line, out_of_range(&note.date));
                    continue;
                };
                rows.push(Row {
                    line,
                    raw: text.to_string(),
                    time_text: note.date,
                    ns,
                    precision: prec,
                    device: dev,
                    class,
                    duration_ns: 0,
                });
            }
        }
        SourceKind::Csv => {
            let cols = spec.csv.clone().unwrap_or_default();
            let mut idx: Option<(usize, usize, usize)> = None;
            if !cols.has_header {
                let p = |s: &str| s.parse::<usize>().ok();
                match (p(&cols.time), p(&cols.device), p(&cols.class)) {
                    (Some(a), Some(b), Some(c)) => idx = Some((a, b, c)),
                    _ => {
                        return Err(crate::error::Error::invalid(
                            path,
                            "CSV without header needs numeric column indices",
                        ))
                    }
                }
            }
            let mut header_err: Option<String> = None;
            for_each_csv_row(bytes, false, |line, rec, raw| {
                if header_err.is_some() {
                    return;
                }
                let rec = match rec {
                    Ok(r) => r,
                    Err(e) => {
                        load.rows += 1;
                        return err(&mut load, line, e);
                    }
                };
                let Some((ti, di, ci)) = idx else {
                    let find = |n: &str| rec.iter().position(|h| h.trim() == n);
                    match (find(&cols.time), find(&cols.device), find(&cols.class)) {
                        (Some(a), Some(b), Some(c)) => idx = Some((a, b, c)),
                        _ => {
                            header_err = Some(format!(
                                "line {line}: header lacks columns {:?}, {:?}, {:?}",
                                cols.time, cols.device, cols.class
                            ))
                        }
                    }
                    return;
                };
                load.rows += 1;
                let need = ti.max(di).max(ci).saturating_add(1);
                if rec.len() < need {
                    return err(
                        &mut load,
                        line,
                        format!("expected at least {need} fields, got {}", rec.len()),
                    );
                }
                let tt = rec[ti].trim();
                let parsed = parse_generic_time(tt, &cols.time_format, &tz);
                let (ns, prec, r) = match parsed {
                    Some(Ok(x)) => x,
                    Some(Err(())) => return err(&mut load, line, out_of_range(tt)),
                    None => {
                        return err(
                            &mut load,
                            line,
                            format!("bad time {tt:?} for format {:?}", cols.time_format),
                        )
                    }
                };
                match r {
                    Resolved::Gap => load.dst_gap += 1,
                    Resolved::Fold => load.dst_fold += 1,
                    Resolved::Unique => {}
                }
                rows.push(Row {
                    line,
                    raw: raw.to_string(),
                    time_text: tt.to_string(),
                    ns,
                    precision: prec,
                    device: rec[di].trim().to_string(),
                    class: strip_class(&rec[ci]),
                    duration_ns: 0,
                });
            });
            if let Some(h) = header_err {
                return Err(crate::error::Error::invalid(path, h));
            }
        }
        SourceKind::Experiments => {
            for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
                let line = i + 1;
                let raw = trim_cr(raw);
                if raw.iter().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                load.rows += 1;
                let Ok(text) = std::str::from_utf8(raw) else {
                    err(&mut load, line, "not valid UTF-8".into());
                    continue;
                };
                match parse_experiment(text.trim()) {
                    Some((dev, class, t, dur)) => {
                        let Some(ns) = resolve(&mut load, &t) else {
                            err(&mut load, line, out_of_range(text.trim()));
                            continue;
                        };
                        rows.push(Row {
                            line,
                            raw: text.to_string(),
                            time_text: t.format("%Y-%m-%d_%H:%M:%S").to_string(),
                            ns,
                            precision: Precision::Second,
                            device: dev,
                            class,
                            duration_ns: dur,
                        });
                    }
                    None => err(
                        &mut load,
                        line,
                        "expected country/device/activity/YYYY-MM-DD_HH:MM:SS.<dur>s.pcap".into(),
                    ),
                }
            }
        }
    }
    // Device matching and event construction; out-of-order rows are sorted.
    let mut events = Vec::with_capacity(rows.len());
    for r in rows {
        let dev = registry
            .match_name(&r.device)
            .or_else(|| {
                device_map
                    .get(&r.device)
                    .and_then(|n| registry.match_name(n))
            })
            .unwrap_or_else(|| {
                *load.unmatched_devices.entry(r.device.clone()).or_default() += 1;
                NO_DEVICE
            });
        match r.precision {
            Precision::Minute => load.minute_rows += 1,
            Precision::Second => load.second_rows += 1,
        }
        events.push(Event {
            id: source_index as u64 * 1_000_000 + r.line as u64,
            device: dev,
            device_text: r.device,
            class: r.class,
            source: source_index,
            line: r.line as u32,
            raw: r.raw,
            time_text: r.time_text,
            original_ns: r.ns,
            precision: r.precision,
            duration_ns: r.duration_ns,
            retime_ns: None,
            status: Status::Active,
            duplicate_of: None,
            edits: vec![],
        });
    }
    events.sort_by_key(|e| (e.original_ns, e.id));
    load.events = events.len();
    Ok((events, load))
}

fn trim_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

/// Iterates CSV records with their 1-based line numbers; invalid UTF-8 and malformed quoting
/// are reported per record instead of aborting the file.
fn for_each_csv_row(
    bytes: &[u8],
    has_headers: bool,
    mut f: impl FnMut(usize, Result<Vec<String>, String>, &str),
) {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(has_headers)
        .flexible(true)
        .from_reader(bytes);
    let mut rec = csv::ByteRecord::new();
    loop {
        let start_line = rdr.position().line() as usize;
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let line = rec
                    .position()
                    .map(|p| p.line() as usize)
                    .unwrap_or(start_line);
                let start = rec.position().map(|p| p.byte() as usize).unwrap_or(0);
                let end = rdr.position().byte() as usize;
                let raw_bytes = &bytes[start.min(bytes.len())..end.min(bytes.len())];
                let raw = String::from_utf8_lossy(raw_bytes);
                let raw = raw.trim_end_matches(['\r', '\n']);
                if rec
                    .iter()
                    .all(|f| f.iter().all(|b| b.is_ascii_whitespace()))
                {
                    continue;
                }
                let fields: Result<Vec<String>, String> = rec
                    .iter()
                    .map(|f| {
                        std::str::from_utf8(f)
                            .map(|s| s.to_string())
                            .map_err(|_| "not valid UTF-8 (binary data?)".to_string())
                    })
                    .collect();
                // A stray quote inside a field makes the CSV reader swallow following lines.
                let fields = fields.and_then(|v| {
                    if v.iter().any(|s| s.contains('\n')) {
                        Err("unbalanced quotes (field spans lines)".to_string())
                    } else {
                        Ok(v)
                    }
                });
                f(line, fields, raw);
            }
            Err(e) => {
                let line = e
                    .position()
                    .map(|p| p.line() as usize)
                    .unwrap_or(start_line);
                f(line, Err(format!("malformed CSV: {e}")), "");
            }
        }
    }
}

/// A generic CSV time: `None` when it does not parse, `Some(Err(()))` when it parses to an
/// instant outside [`representable`] times (epoch `inf`, `9999-03-08`, epoch-ms overflow).
fn parse_generic_time(
    s: &str,
    fmt: &str,
    tz: &Tz,
) -> Option<Result<(i64, Precision, Resolved), ()>> {
    let checked =
        |x: Option<(i64, Resolved)>, p: Precision| Some(x.map(|(ns, r)| (ns, p, r)).ok_or(()));
    match fmt {
        "epoch" => {
            let v: f64 = s.parse().ok()?;
            let ns = v * 1e9;
            // `as` saturates (and turns NaN into 0): check the range first.
            let ok = ns.is_finite() && ns.abs() < i64::MAX as f64 && representable(ns as i64);
            Some(if ok {
                Ok((ns.round() as i64, Precision::Second, Resolved::Unique))
            } else {
                Err(())
            })
        }
        "epoch-ms" => {
            let v: i64 = s.parse().ok()?;
            Some(
                match v.checked_mul(1_000_000).filter(|&n| representable(n)) {
                    Some(ns) => Ok((ns, Precision::Second, Resolved::Unique)),
                    None => Err(()),
                },
            )
        }
        "iso8601" => {
            if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
                let ns = ns_of(&d).filter(|&n| representable(n));
                return checked(ns.map(|n| (n, Resolved::Unique)), Precision::Second);
            }
            for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
                if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                    return checked(resolve_local(tz, &t), Precision::Second);
                }
            }
            for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
                if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
                    return checked(resolve_local(tz, &t), Precision::Minute);
                }
            }
            None
        }
        f => {
            if let Ok(d) = chrono::DateTime::parse_from_str(s, f) {
                let ns = ns_of(&d).filter(|&n| representable(n));
                return checked(ns.map(|n| (n, Resolved::Unique)), Precision::Second);
            }
            let t = NaiveDateTime::parse_from_str(s, f).ok()?;
            let prec = if f.contains("%S") || f.contains("%T") {
                Precision::Second
            } else {
                Precision::Minute
            };
            checked(resolve_local(tz, &t), prec)
        }
    }
}

/// `traffic/us/yi-camera/android_lan_watch/2019-04-26_21:42:57.31s.pcap` →
/// (device, activity, local start, duration).
pub fn parse_experiment(s: &str) -> Option<(String, String, NaiveDateTime, i64)> {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() < 4 {
        return None;
    }
    let n = parts.len();
    let file = parts[n - 1];
    let class = parts[n - 2].to_string();
    let device = parts[n - 3].to_string();
    let stem = file.strip_suffix(".pcap")?;
    let (stamp, dur) = stem.rsplit_once('.')?;
    let dur_s: f64 = dur.strip_suffix('s')?.parse().ok()?;
    let t = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d_%H:%M:%S").ok()?;
    if device.is_empty() || class.is_empty() {
        return None;
    }
    Some((device, class, t, (dur_s * 1e9) as i64))
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
mod tests {
    use super::*;

    #[test]
    fn lab_time_precision() {
        let (_, p) = parse_lab_time("March 08, 2021 at 01:05PM").unwrap();
        assert_eq!(p, Precision::Minute);
        let (t, p) = parse_lab_time("March 12, 2021 at 01:46:05PM").unwrap();
        assert_eq!(p, Precision::Second);
        assert_eq!(t.format("%H:%M:%S").to_string(), "13:46:05");
        assert!(parse_lab_time("Mar 8 2021").is_none());
    }

    #[test]
    fn dst_gap_and_fold() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let gap =
            NaiveDateTime::parse_from_str("2021-03-14 02:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let (ns, r) = resolve_local(&tz, &gap).unwrap();
        assert_eq!(r, Resolved::Gap);
        // 02:30 EST = 07:30 UTC.
        assert_eq!(ns, 1615707000 * 1_000_000_000);
        let fold =
            NaiveDateTime::parse_from_str("2021-11-07 01:30:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let (ns, r) = resolve_local(&tz, &fold).unwrap();
        assert_eq!(r, Resolved::Fold);
        // Earlier instant: 01:30 EDT = 05:30 UTC.
        assert_eq!(ns, 1636263000 * 1_000_000_000);
        let before =
            NaiveDateTime::parse_from_str("2021-03-08 13:05:00", "%Y-%m-%d %H:%M:%S").unwrap();
        assert_eq!(
            resolve_local(&tz, &before).unwrap().0,
            1615226700 * 1_000_000_000
        );
    }

    #[test]
    fn experiment_paths() {
        let (d, c, t, dur) =
            parse_experiment("traffic/us/yi-camera/android_lan_watch/2019-04-26_21:42:57.31s.pcap")
                .unwrap();
        assert_eq!(
            (d.as_str(), c.as_str(), dur),
            ("yi-camera", "android_lan_watch", 31_000_000_000)
        );
        assert_eq!(t.format("%H:%M:%S").to_string(), "21:42:57");
        assert!(parse_experiment("garbage").is_none());
    }

    #[test]
    fn default_rules_match_vendor_wording() {
        let rules = compile_rules(&[]).unwrap();
        let find = |pkg: &str, title: &str, text: &str| {
            rules.iter().find_map(|r| {
                if r.package != pkg {
                    return None;
                }
                let f = if r.field_title { title } else { text };
                let c = r.re.captures(f)?;
                Some((c["dev"].to_string(), r.class.clone()))
            })
        };
        assert_eq!(
            find("com.tplink.kasa_android", "kasa cam 01 detected motion", ""),
            Some(("kasa cam 01".into(), "motion".into()))
        );
        assert_eq!(
            find("com.allegion.leopard", "", "schlage lock 01 unlocked"),
            Some(("schlage lock 01".into(), "unlock".into()))
        );
        assert_eq!(
            find("com.allegion.leopard", "", "schlage lock 01 is locked"),
            Some(("schlage lock 01".into(), "lock".into()))
        );
        assert_eq!(
            find(
                "com.allegion.leopard",
                "",
                "Access code Admin unlocked schlage lock 01"
            ),
            Some(("schlage lock 01".into(), "unlock".into()))
        );
        assert_eq!(
            find(
                "com.nest.android",
                "Motion \u{1F3E0} Office (nest cam 01)",
                ""
            ),
            Some(("nest cam 01".into(), "motion".into()))
        );
        assert_eq!(
            find(
                "com.ringapp",
                "",
                "Melbourne ring contact sensor 01 [in IoT Lab] opened at 3:01 PM"
            ),
            Some(("ring contact sensor 01".into(), "open".into()))
        );
        assert_eq!(
            find(
                "com.sifely.smartlock",
                "",
                "\"Admin\" unlocked (\"sifely lock 01\")."
            ),
            Some(("sifely lock 01".into(), "unlock".into()))
        );
        assert_eq!(
            find(
                "com.simplisafe.mobile",
                "",
                "\"simplisafe cam 01\" Camera Detected Motion on 3/12"
            ),
            Some(("simplisafe cam 01".into(), "motion".into()))
        );
        assert_eq!(find("com.unknown", "x detected motion", ""), None);
    }
}
