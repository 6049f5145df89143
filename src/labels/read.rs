//! Reading a label source file into events: each kind's rows, with file and line for every
//! row error.

use super::*;

pub fn strip_class(c: &str) -> String {
    c.trim()
        .strip_prefix("event_")
        .unwrap_or(c.trim())
        .to_string()
}

/// A row before device matching and id assignment.
pub(crate) struct Row {
    pub(crate) line: usize,
    pub(crate) raw: String,
    pub(crate) time_text: String,
    pub(crate) ns: i64,
    /// The wall-clock time as written (ns as if it were UTC) when the source's zone resolved
    /// it; `None` for absolute times (epoch, ISO 8601 with an offset).
    pub(crate) local_ns: Option<i64>,
    pub(crate) precision: Precision,
    pub(crate) device: String,
    pub(crate) class: String,
    pub(crate) duration_ns: i64,
}

/// Reads one source. Row errors are collected; the rest of the file loads.
pub fn load_source(
    spec: &SourceSpec,
    path: &Path,
    source_index: u16,
    registry: &Registry,
    device_map: &BTreeMap<String, String>,
) -> Result<(Vec<Event>, SourceLoad), crate::error::Error> {
    // A per-event capture source names a glob of captures, not a file to read.
    let bytes = match spec.kind {
        SourceKind::PerEventCaptures => Vec::new(),
        _ => std::fs::read(path).map_err(|e| crate::error::Error::io(path, e))?,
    };
    // A UTF-8 byte-order mark (Excel and Windows editors write one) is not content.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let tz: Tz = spec.tz.parse().map_err(|_| {
        crate::error::Error::invalid(path, format!("unknown time zone {:?}", spec.tz))
    })?;
    let mut r = Reader {
        fname: path.display().to_string(),
        tz,
        load: SourceLoad::default(),
        rows: Vec::new(),
    };
    match spec.kind {
        SourceKind::Ifttt
        | SourceKind::IftttTrigger
        | SourceKind::Smartthings
        | SourceKind::NotificationsCsv => read_lab_csv(&mut r, bytes),
        SourceKind::NotificationsJsonl => read_notifications_jsonl(&mut r, bytes, spec, path)?,
        SourceKind::Csv => read_generic_csv(&mut r, bytes, spec, path)?,
        SourceKind::Experiments => read_experiments(&mut r, bytes),
        SourceKind::Zeek => super::zeek::read_zeek(&mut r, bytes, spec, registry),
        SourceKind::PerEventCaptures => {
            super::per_event::read_per_event_captures(&mut r, path, spec)
                .map_err(|e| crate::error::Error::invalid(path, e))?
        }
    }
    let Reader { mut load, rows, .. } = r;
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
            local_ns: r.local_ns,
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

/// A source being read: its rows so far and what went wrong with the others.
pub(crate) struct Reader {
    pub(crate) fname: String,
    pub(crate) tz: Tz,
    pub(crate) load: SourceLoad,
    pub(crate) rows: Vec<Row>,
}

impl Reader {
    pub(crate) fn err(&mut self, line: usize, reason: String) {
        self.load.errors.push(RowError {
            file: self.fname.clone(),
            line,
            reason,
        })
    }

    /// A local time in the source's zone, counting DST gaps and folds: the instant and the
    /// wall-clock time (ns as if UTC); `None` out of range.
    pub(crate) fn resolve(&mut self, t: &NaiveDateTime) -> Option<(i64, Option<i64>)> {
        let (ns, r) = resolve_local(&self.tz, t)?;
        match r {
            Resolved::Gap => self.load.dst_gap += 1,
            Resolved::Fold => self.load.dst_fold += 1,
            Resolved::Unique => {}
        }
        Some((ns, wall_ns(t)))
    }
}

/// The lab's quoted CSV (`"March 08, 2021 at 01:05PM","device","event_x"`): IFTTT, scheduled
/// triggers, SmartThings and converted notifications.
fn read_lab_csv(r: &mut Reader, bytes: &[u8]) {
    for_each_csv_row(bytes, false, |line, rec, raw| {
        r.load.rows += 1;
        let rec = match rec {
            Ok(fields) => fields,
            Err(e) => return r.err(line, e),
        };
        if rec.len() != 3 {
            return r.err(
                line,
                format!("expected 3 fields (time, device, event), got {}", rec.len()),
            );
        }
        let Some((t, prec)) = parse_lab_time(&rec[0]) else {
            return r.err(
                line,
                format!(
                    "bad date {:?} (expected e.g. \"March 08, 2021 at 01:05PM\")",
                    rec[0]
                ),
            );
        };
        if rec[1].trim().is_empty() || rec[2].trim().is_empty() {
            return r.err(line, "empty device or event field".into());
        }
        let Some((ns, local_ns)) = r.resolve(&t) else {
            return r.err(line, out_of_range(&rec[0]));
        };
        r.rows.push(Row {
            line,
            raw: raw.to_string(),
            time_text: rec[0].clone(),
            ns,
            local_ns,
            precision: prec,
            device: rec[1].trim().to_string(),
            class: strip_class(&rec[2]),
            duration_ns: 0,
        });
    });
}

/// Raw companion-app notifications, one JSON object a line, mapped by the rules.
fn read_notifications_jsonl(
    r: &mut Reader,
    bytes: &[u8],
    spec: &SourceSpec,
    path: &Path,
) -> crate::Result<()> {
    let rules = compile_rules(&spec.rules).map_err(|r| crate::error::Error::invalid(path, r))?;
    for (line, text) in text_lines(bytes) {
        r.load.rows += 1;
        let Ok(text) = text else {
            r.err(line, "not valid UTF-8".into());
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
                r.err(line, format!("bad JSON: {e}"));
                continue;
            }
        };
        let Some((t, prec)) = parse_lab_time(&note.date) else {
            r.err(line, format!("bad date {:?}", note.date));
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
            r.load
                .unmatched_notifications
                .push((line, note.package, shown));
            continue;
        };
        let Some((ns, local_ns)) = r.resolve(&t) else {
            r.err(line, out_of_range(&note.date));
            continue;
        };
        r.rows.push(Row {
            line,
            raw: text.to_string(),
            time_text: note.date,
            ns,
            local_ns,
            precision: prec,
            device: dev,
            class,
            duration_ns: 0,
        });
    }
    Ok(())
}

/// A generic CSV whose columns and time format the project file names.
fn read_generic_csv(
    r: &mut Reader,
    bytes: &[u8],
    spec: &SourceSpec,
    path: &Path,
) -> crate::Result<()> {
    let cols = spec.csv.clone().unwrap_or_default();
    let mut idx: Option<(usize, usize, usize)> = None;
    // The end column of an interval log, once found.
    let mut end_idx: Option<usize> = None;
    if !cols.has_header {
        let p = |s: &str| s.parse::<usize>().ok();
        end_idx = cols.end.as_deref().and_then(p);
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
            Ok(fields) => fields,
            Err(e) => {
                r.load.rows += 1;
                return r.err(line, e);
            }
        };
        let Some((ti, di, ci)) = idx else {
            let find = |n: &str| rec.iter().position(|h| h.trim() == n);
            end_idx = cols.end.as_deref().and_then(find);
            match (find(&cols.time), find(&cols.device), find(&cols.class)) {
                (Some(a), Some(b), Some(c)) if cols.end.is_none() || end_idx.is_some() => {
                    idx = Some((a, b, c))
                }
                _ => {
                    header_err = Some(format!(
                        "line {line}: header lacks columns {:?}, {:?}, {:?}{}",
                        cols.time,
                        cols.device,
                        cols.class,
                        cols.end
                            .as_ref()
                            .map_or(String::new(), |e| format!(", {e:?}"))
                    ))
                }
            }
            return;
        };
        r.load.rows += 1;
        let need = ti.max(di).max(ci).saturating_add(1);
        if rec.len() < need {
            return r.err(
                line,
                format!("expected at least {need} fields, got {}", rec.len()),
            );
        }
        let tt = rec[ti].trim();
        let parsed = parse_generic_time(tt, &cols.time_format, &r.tz);
        let (ns, prec, resolved, local_ns) = match parsed {
            Some(Ok(x)) => x,
            Some(Err(())) => return r.err(line, out_of_range(tt)),
            None => {
                return r.err(
                    line,
                    format!("bad time {tt:?} for format {:?}", cols.time_format),
                )
            }
        };
        match resolved {
            Resolved::Gap => r.load.dst_gap += 1,
            Resolved::Fold => r.load.dst_fold += 1,
            Resolved::Unique => {}
        }
        let duration_ns = match end_idx.map(|k| rec.get(k).map(|v| v.trim())) {
            None => 0,
            Some(et) => match et.map(|et| (et, parse_generic_time(et, &cols.time_format, &r.tz))) {
                Some((_, Some(Ok((end, ..))))) if end >= ns => end - ns,
                Some((et, Some(Ok(_)))) => {
                    return r.err(line, format!("interval ends at {et:?}, before it starts"))
                }
                Some((et, _)) => {
                    return r.err(
                        line,
                        format!("bad end time {et:?} for format {:?}", cols.time_format),
                    )
                }
                None => return r.err(line, "no end time in this row".into()),
            },
        };
        r.rows.push(Row {
            line,
            raw: raw.to_string(),
            time_text: tt.to_string(),
            ns,
            local_ns,
            precision: prec,
            device: rec[di].trim().to_string(),
            class: strip_class(&rec[ci]),
            duration_ns,
        });
    });
    if let Some(h) = header_err {
        return Err(crate::error::Error::invalid(path, h));
    }
    Ok(())
}

/// A Mon(IoT)r experiment list: one capture path a line, the label in the path.
fn read_experiments(r: &mut Reader, bytes: &[u8]) {
    for (line, text) in text_lines(bytes) {
        r.load.rows += 1;
        let Ok(text) = text else {
            r.err(line, "not valid UTF-8".into());
            continue;
        };
        match parse_experiment(text.trim()) {
            Some((dev, class, t, dur)) => {
                let Some((ns, local_ns)) = r.resolve(&t) else {
                    r.err(line, out_of_range(text.trim()));
                    continue;
                };
                r.rows.push(Row {
                    line,
                    raw: text.to_string(),
                    time_text: t.format("%Y-%m-%d_%H:%M:%S").to_string(),
                    ns,
                    local_ns,
                    precision: Precision::Second,
                    device: dev,
                    class,
                    duration_ns: dur,
                });
            }
            None => r.err(
                line,
                "expected country/device/activity/YYYY-MM-DD_HH:MM:SS.<dur>s.pcap".into(),
            ),
        }
    }
}

/// The non-blank lines of a line-per-record source with their 1-based numbers, ended by `\n`,
/// `\r\n` or a lone `\r` (files edited on several systems mix them); a line that is not UTF-8
/// is an `Err` for its reader to report with its number.
pub(crate) fn text_lines(
    bytes: &[u8],
) -> impl Iterator<Item = (usize, Result<&str, std::str::Utf8Error>)> {
    let mut rest = bytes;
    let mut line = 0usize;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        line += 1;
        let end = rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        let raw = &rest[..end];
        let skip = match rest.get(end..end + 2) {
            Some(b"\r\n") => 2,
            _ if end < rest.len() => 1,
            _ => 0,
        };
        rest = &rest[end + skip..];
        if !raw.iter().all(|b| b.is_ascii_whitespace()) {
            return Some((line, std::str::from_utf8(raw)));
        }
    })
}

/// 1-based line numbers of byte offsets, counted forward (offsets must not decrease): `\n`,
/// `\r\n` and a lone `\r` each end a line.
#[derive(Default)]
struct LineCounter {
    pos: usize,
    ended: usize,
}

impl LineCounter {
    fn line_at(&mut self, bytes: &[u8], at: usize) -> usize {
        let at = at.min(bytes.len());
        while self.pos < at {
            match bytes[self.pos] {
                b'\n' => self.ended += 1,
                b'\r' if bytes.get(self.pos + 1) != Some(&b'\n') => self.ended += 1,
                _ => {}
            }
            self.pos += 1;
        }
        self.ended + 1
    }
}

/// Iterates CSV records with their 1-based line numbers; invalid UTF-8 and malformed quoting
/// are reported per record instead of aborting the file.
pub(crate) fn for_each_csv_row(
    bytes: &[u8],
    has_headers: bool,
    mut f: impl FnMut(usize, Result<Vec<String>, String>, &str),
) {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(has_headers)
        .flexible(true)
        .from_reader(bytes);
    let mut rec = csv::ByteRecord::new();
    let mut lines = LineCounter::default();
    loop {
        let start_line = rdr.position().line() as usize;
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                // The reader ends a record at `\r` and leaves a CRLF's `\n` to the next
                // record's position: skip terminators and count lines from the bytes.
                let mut start = rec.position().map_or(0, |p| p.byte() as usize);
                while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
                    start += 1;
                }
                let line = lines.line_at(bytes, start);
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
