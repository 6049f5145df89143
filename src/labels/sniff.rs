//! Which kind of log a file is, told from its content (never from its name alone), with the
//! reason in words a user can check: the lab's quoted CSV with minute or second times, JSON
//! lines of notifications or of Zeek, Zeek's TSV headers, a list of experiment captures, a CSV
//! with a header whose time, device and class columns can be named.

use std::path::Path;

use super::*;

/// How much of a file the sniffer reads: enough rows to see a schedule grid.
const HEAD_BYTES: usize = 1 << 20;
/// Rows looked at.
const HEAD_ROWS: usize = 5_000;

/// A log's kind as told from its content.
#[derive(Clone, Debug, PartialEq)]
pub struct Sniffed {
    pub kind: SourceKind,
    /// Why, in a phrase ("minute times, 100 % on a 15-minute grid: scheduled triggers").
    pub why: String,
    /// The column mapping of a generic CSV.
    pub csv: Option<CsvColumns>,
}

/// Reads the head of `path` and tells its kind.
pub fn sniff_file(path: &Path) -> Result<Sniffed, String> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(HEAD_BYTES as u64).read_to_end(&mut head))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if head.iter().all(u8::is_ascii_whitespace) {
        return by_name(path).ok_or_else(|| format!("{}: empty", path.display()));
    }
    sniff(&head).map_err(|e| format!("{}: {e}", path.display()))
}

/// An empty log has no content to tell its kind by; a name as the lab's tools write them
/// (ifttt-actions.csv, smartthings-events.csv…) still does, so that rows appended later load.
fn by_name(path: &Path) -> Option<Sniffed> {
    let name = path.file_name()?.to_string_lossy().to_lowercase();
    let kind = if name.contains("action") || name.contains("trigger") {
        SourceKind::IftttTrigger
    } else if name.contains("ifttt") {
        SourceKind::Ifttt
    } else if name.contains("smartthings") {
        SourceKind::Smartthings
    } else if name.ends_with(".jsonl") && name.contains("notif") {
        SourceKind::NotificationsJsonl
    } else if name.contains("android") || name.contains("notif") {
        SourceKind::NotificationsCsv
    } else if name.starts_with("conn.") && name.contains("log") {
        SourceKind::Zeek
    } else {
        return None;
    };
    Some(Sniffed {
        kind,
        why: format!("an empty file: kind from its name, {name}"),
        csv: None,
    })
}

/// Tells the kind of a log from its first bytes (a whole file or its head).
pub fn sniff(bytes: &[u8]) -> Result<Sniffed, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        // A head cut inside a multi-byte character is still text.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid up to here")
        }
        Err(_) => return Err("binary data, not a text log".into()),
    };
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .take(HEAD_ROWS)
        .collect();
    let Some(first) = lines.first() else {
        return Err("empty".into());
    };
    if lines.iter().take(20).any(|l| l.starts_with("#fields")) || first.starts_with("#separator") {
        return Ok(found(
            SourceKind::Zeek,
            "Zeek TSV headers (#separator, #fields)",
        ));
    }
    if first.trim_start().starts_with('{') {
        return sniff_json_lines(&lines);
    }
    if let Some(s) = sniff_experiments(&lines) {
        return Ok(s);
    }
    sniff_csv(text)
}

fn found(kind: SourceKind, why: &str) -> Sniffed {
    Sniffed {
        kind,
        why: why.to_string(),
        csv: None,
    }
}

fn sniff_json_lines(lines: &[&str]) -> Result<Sniffed, String> {
    let mut keys = std::collections::BTreeSet::new();
    for l in lines.iter().take(50) {
        if let Ok(serde_json::Value::Object(o)) = serde_json::from_str(l) {
            keys.extend(o.keys().cloned());
        }
    }
    let has = |k: &str| keys.contains(k);
    if has("package") && (has("title") || has("text")) {
        return Ok(found(
            SourceKind::NotificationsJsonl,
            "JSON lines with package and title/text: companion-app notifications",
        ));
    }
    if has("id.orig_h") || (has("ts") && has("uid")) {
        return Ok(found(
            SourceKind::Zeek,
            "JSON lines with Zeek's ts, uid and id.orig_h",
        ));
    }
    let names: Vec<&str> = keys.iter().map(String::as_str).take(8).collect();
    Err(format!(
        "JSON lines with fields {}: not a kind labelbench can tell (name the kind as KIND:PATH)",
        names.join(", ")
    ))
}

/// A list of experiment capture paths (`…/device/activity/start.duration s.pcap`).
fn sniff_experiments(lines: &[&str]) -> Option<Sniffed> {
    let paths = lines
        .iter()
        .filter(|l| crate::capture::capture_suffix(l.trim()).is_some())
        .filter(|l| parse_experiment(l.trim()).is_some())
        .count();
    (paths * 10 >= lines.len() * 9).then(|| {
        found(
            SourceKind::Experiments,
            "one capture path a line with device/activity/start.duration: an experiment list",
        )
    })
}

/// The lab's quoted three-field CSV, else a CSV with a header naming its columns.
fn sniff_csv(text: &str) -> Result<Sniffed, String> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    read::for_each_csv_row(text.as_bytes(), false, |_, rec, _| {
        if let Ok(r) = rec {
            if rows.len() < HEAD_ROWS {
                rows.push(r);
            }
        }
    });
    let lab: Vec<(NaiveDateTime, Precision, &str, String)> = rows
        .iter()
        .filter(|r| r.len() == 3)
        .filter_map(|r| {
            let (t, p) = parse_lab_time(&r[0])?;
            Some((t, p, r[1].trim(), strip_class(&r[2])))
        })
        .collect();
    if !rows.is_empty() && lab.len() * 10 >= rows.len() * 9 {
        return Ok(sniff_lab_csv(&lab));
    }
    sniff_header_csv(&rows)
}

/// The lab's kinds share one layout; the times' precision, a schedule grid and the classes
/// tell them apart.
fn sniff_lab_csv(rows: &[(NaiveDateTime, Precision, &str, String)]) -> Sniffed {
    use chrono::Timelike;
    let n = rows.len();
    let minute = rows.iter().filter(|r| r.1 == Precision::Minute).count();
    if minute * 2 > n {
        for period in [60, 30, 15, 10, 5] {
            let on = rows.iter().filter(|r| r.0.minute() % period == 0).count();
            if on * 10 >= n * 8 {
                return found(
                    SourceKind::IftttTrigger,
                    &format!(
                        "the lab's CSV with minute times, {} % on a {period}-minute grid: \
                         scheduled triggers",
                        on * 100 / n
                    ),
                );
            }
        }
        return found(
            SourceKind::Ifttt,
            "the lab's CSV with minute times off any schedule grid: applet logs",
        );
    }
    // SmartThings' API history reports state changes and readings the phone apps never
    // notify about: motionstart/motionend, temperature, signal strength.
    let reading = |c: &str| {
        c.ends_with("start")
            || c.ends_with("end")
            || [
                "temp", "lqi", "rssi", "humidity", "water", "dry", "wet", "power",
            ]
            .contains(&c)
    };
    let st = rows
        .iter()
        .filter(|r| reading(&r.3) || r.2.starts_with("smartthings"))
        .count();
    if st * 20 >= n {
        found(
            SourceKind::Smartthings,
            &format!(
                "the lab's CSV with second times; {} % of rows are SmartThings readings or \
                 devices (motionstart, temp, smartthings-…): the SmartThings API history",
                st * 100 / n
            ),
        )
    } else {
        found(
            SourceKind::NotificationsCsv,
            "the lab's CSV with second times and notification classes (motion, sound, ring): \
             companion-app notifications",
        )
    }
}

const TIME_COLUMNS: [&str; 8] = [
    "time",
    "timestamp",
    "ts",
    "datetime",
    "date",
    "start",
    "start_time",
    "ts_start",
];
const DEVICE_COLUMNS: [&str; 8] = [
    "device",
    "device_name",
    "devicename",
    "host",
    "name",
    "id.orig_h",
    "ip",
    "mac",
];
const END_COLUMNS: [&str; 5] = ["end", "end_time", "ts_end", "stop", "stop_time"];
const CLASS_COLUMNS: [&str; 8] = [
    "class",
    "label",
    "event",
    "activity",
    "state",
    "action",
    "detailed-label",
    "event_type",
];

/// A CSV with a header: the time, device and class columns by their names, the time format
/// by the first row's value.
fn sniff_header_csv(rows: &[Vec<String>]) -> Result<Sniffed, String> {
    let Some(header) = rows.first() else {
        return Err("no rows".into());
    };
    let first_line: String = header.join(",").chars().take(80).collect();
    let find = |names: &[&str]| {
        names.iter().find_map(|n| {
            header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(n))
                .map(|i| (i, header[i].trim().to_string()))
        })
    };
    let (Some(time), Some(device), Some(class)) = (
        find(&TIME_COLUMNS),
        find(&DEVICE_COLUMNS),
        find(&CLASS_COLUMNS),
    ) else {
        return Err(format!(
            "not a known log layout (first line {first_line:?}); for a CSV with a header, \
             name its columns: --source csv:PATH --time-col … --device-col … --class-col …"
        ));
    };
    let end = find(&END_COLUMNS);
    let sample = rows
        .get(1)
        .and_then(|r| r.get(time.0))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let utc: Tz = chrono_tz::UTC;
    let format = ["epoch", "epoch-ms", "iso8601"]
        .into_iter()
        .find(|f| {
            let plausible = match *f {
                // Epoch seconds of this century, not a row number.
                "epoch" => sample
                    .parse::<f64>()
                    .is_ok_and(|v| (9e8..1e10).contains(&v)),
                "epoch-ms" => sample
                    .parse::<i64>()
                    .is_ok_and(|v| (9e11..1e13).contains(&(v as f64))),
                _ => true,
            };
            plausible && matches!(parse_generic_time(&sample, f, &utc), Some(Ok(_)))
        })
        .ok_or_else(|| {
            format!(
                "a CSV with columns {} (time), {} (device), {} (class) whose times look like \
                 {sample:?}: give --time-format (a chrono format such as %d/%m/%Y %H:%M:%S)",
                time.1, device.1, class.1
            )
        })?;
    Ok(Sniffed {
        kind: SourceKind::Csv,
        why: format!(
            "a CSV with a header: time {} ({format}){}, device {}, class {}",
            time.1,
            end.as_ref()
                .map_or(String::new(), |e| format!(" to {}", e.1)),
            device.1,
            class.1
        ),
        csv: Some(CsvColumns {
            time: time.1,
            device: device.1,
            class: class.1,
            time_format: format.to_string(),
            has_header: true,
            end: end.map(|e| e.1),
        }),
    })
}

/// A `--source` argument: `KIND:PATH[@TZ]` as given, or `PATH[@TZ]` whose kind is sniffed
/// from the file (returned with the reason, for the user to check).
pub fn source_from_cli(arg: &str) -> Result<(SourceSpec, Option<Sniffed>), String> {
    if let Some((kind, _)) = arg.split_once(':') {
        if SourceKind::parse(kind).is_some() {
            return SourceSpec::parse_cli(arg).map(|s| (s, None));
        }
    }
    let (path, tz) = match arg.rsplit_once('@') {
        Some((p, tz)) if !Path::new(arg).exists() => (p, tz),
        _ => (arg, "UTC"),
    };
    if !Path::new(path).is_file() {
        // `KIND:PATH` with a kind that is no kind reads better as that than as a missing file.
        let kind_like = arg
            .split_once(':')
            .is_some_and(|(k, _)| !k.is_empty() && !k.contains(['/', '\\', '.']));
        return Err(match kind_like {
            true => SourceSpec::parse_cli(arg).err().unwrap_or_default(),
            false => format!("{path}: no such file"),
        });
    }
    tz.parse::<Tz>()
        .map_err(|_| format!("{arg}: unknown time zone {tz:?}"))?;
    let sniffed = sniff_file(Path::new(path))
        .map_err(|e| format!("{e}; give the kind as KIND:PATH (one of {})", kinds()))?;
    let mut spec = SourceSpec::new(sniffed.kind, path.to_string(), tz.to_string());
    spec.csv.clone_from(&sniffed.csv);
    Ok((spec, Some(sniffed)))
}

fn kinds() -> String {
    SourceKind::ALL.map(|k| k.as_str()).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_layout_is_told_with_its_reason() {
        let trig = "\"March 08, 2021 at 09:00AM\",\"a\",\"event_on\"\n\
                    \"March 08, 2021 at 09:15AM\",\"a\",\"event_off\"\n";
        assert_eq!(
            sniff(trig.as_bytes()).unwrap().kind,
            SourceKind::IftttTrigger
        );
        let applet = "\"March 08, 2021 at 09:03AM\",\"a\",\"event_motion\"\n\
                      \"March 08, 2021 at 09:17AM\",\"a\",\"event_motion\"\n";
        assert_eq!(sniff(applet.as_bytes()).unwrap().kind, SourceKind::Ifttt);
        let st = "\"March 08, 2021 at 09:03:12AM\",\"m\",\"event_motionstart\"\n";
        assert_eq!(sniff(st.as_bytes()).unwrap().kind, SourceKind::Smartthings);
        let app = "\"March 08, 2021 at 09:03:12AM\",\"cam\",\"event_motion\"\r\n";
        assert_eq!(
            sniff(app.as_bytes()).unwrap().kind,
            SourceKind::NotificationsCsv
        );
        let n = "{\"date\":\"x\",\"package\":\"p\",\"title\":\"t\"}\n";
        assert_eq!(
            sniff(n.as_bytes()).unwrap().kind,
            SourceKind::NotificationsJsonl
        );
        let z = "{\"ts\":1.5,\"uid\":\"C1\",\"id.orig_h\":\"10.0.0.1\",\"label\":\"x\"}\n";
        assert_eq!(sniff(z.as_bytes()).unwrap().kind, SourceKind::Zeek);
        let csv = "ts,host,label\n1540469302.5,10.0.0.1,on\n";
        let s = sniff(csv.as_bytes()).unwrap();
        assert_eq!(s.kind, SourceKind::Csv);
        let c = s.csv.unwrap();
        assert_eq!((c.time.as_str(), c.time_format.as_str()), ("ts", "epoch"));
        assert_eq!((c.device.as_str(), c.class.as_str()), ("host", "label"));
        let iso = "Time,Device,Event\n2021-03-08T09:00:00Z,a,on\n";
        assert_eq!(
            sniff(iso.as_bytes()).unwrap().csv.unwrap().time_format,
            "iso8601"
        );
    }

    #[test]
    fn what_cannot_be_told_says_why() {
        assert!(sniff(b"").unwrap_err().contains("empty"));
        assert!(sniff(b"\x00\xff\xfe").unwrap_err().contains("binary"));
        let e = sniff(b"a,b,c\n1,2,3\n").unwrap_err();
        assert!(e.contains("--time-col"), "{e}");
        let e = sniff(b"time,device,class\n08/03/2021 9am,a,b\n").unwrap_err();
        assert!(e.contains("--time-format"), "{e}");
        let e = sniff(b"{\"a\":1}\n").unwrap_err();
        assert!(e.contains("KIND:PATH"), "{e}");
    }
}
