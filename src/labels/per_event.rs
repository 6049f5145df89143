//! Per-event captures as labels: a dataset where every experiment is its own capture and its
//! label is in the path (Mon(IoT)r's `traffic/us/yi-camera/android_lan_watch/
//! 2019-04-26_21:42:57.31s.pcap`, IoT Inspector's and PingPong's one-pcap-per-activity). One
//! event per capture file matched by the source's glob, with its device, class, start and
//! duration from the path by a pattern of named fields; a field the path lacks comes from the
//! capture (its first packet and its span).

use std::path::Path;

use rayon::prelude::*;
use regex::Regex;

use super::read::{Reader, Row};
use super::*;

/// Mon(IoT)r's layout, the default pattern.
pub const MONIOTR_PATTERN: &str = "{device}/{class}/{start:%Y-%m-%d_%H:%M:%S}.{duration}s.pcap";

/// A path pattern: `{device}`, `{class}`, `{start:FORMAT}` (a chrono format of the local
/// start), `{duration}` (seconds) and `*` (any text inside one path component); other text is
/// literal. It matches the end of a path, as many components as it has.
#[derive(Clone, Debug)]
pub struct PathPattern {
    re: Regex,
    start_format: Option<String>,
}

/// What a path says about its experiment.
#[derive(Clone, Debug, PartialEq)]
pub struct PathFields {
    pub device: Option<String>,
    pub class: Option<String>,
    pub start: Option<NaiveDateTime>,
    pub duration_ns: Option<i64>,
}

impl PathPattern {
    pub fn parse(pattern: &str) -> Result<PathPattern, String> {
        let mut re = String::from("(?:^|/)");
        let mut start_format = None;
        let mut rest = pattern;
        let mut seen = Vec::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('{') {
                let (field, tail) = after
                    .split_once('}')
                    .ok_or_else(|| format!("pattern {pattern:?}: a `{{` without its `}}`"))?;
                let (name, fmt) = field.split_once(':').unwrap_or((field, ""));
                if seen.contains(&name) {
                    return Err(format!("pattern {pattern:?}: {{{name}}} twice"));
                }
                seen.push(name);
                re.push_str(&match name {
                    "device" | "class" => format!("(?P<{name}>[^/]+?)"),
                    "duration" => "(?P<duration>[0-9]+(?:\\.[0-9]+)?)".to_string(),
                    "start" if !fmt.is_empty() => {
                        start_format = Some(fmt.to_string());
                        "(?P<start>[^/]+?)".to_string()
                    }
                    "start" => {
                        return Err(format!(
                            "pattern {pattern:?}: {{start}} needs its format, e.g. \
                             {{start:%Y-%m-%d_%H:%M:%S}}"
                        ))
                    }
                    other => {
                        return Err(format!(
                            "pattern {pattern:?}: unknown field {{{other}}} (device, class, \
                             start:FORMAT, duration)"
                        ))
                    }
                });
                rest = tail;
            } else if let Some(tail) = rest.strip_prefix('*') {
                re.push_str("[^/]*?");
                rest = tail;
            } else {
                let n = rest.find(['{', '*']).unwrap_or(rest.len());
                re.push_str(&regex::escape(&rest[..n]));
                rest = &rest[n..];
            }
        }
        if !seen.contains(&"class") {
            return Err(format!(
                "pattern {pattern:?}: no {{class}} field to label the event"
            ));
        }
        re.push('$');
        let re = Regex::new(&re).map_err(|e| format!("pattern {pattern:?}: {e}"))?;
        Ok(PathPattern { re, start_format })
    }

    /// The fields of `path` (with `/` separators), or why it does not match.
    pub fn fields(&self, path: &str) -> Result<PathFields, String> {
        let path = path.replace('\\', "/");
        let c = self
            .re
            .captures(&path)
            .ok_or("the path does not match the pattern")?;
        let text = |n: &str| c.name(n).map(|m| m.as_str().to_string());
        let start = match (text("start"), &self.start_format) {
            (Some(s), Some(f)) => Some(
                NaiveDateTime::parse_from_str(&s, f)
                    .map_err(|e| format!("start {s:?} does not read as {f:?}: {e}"))?,
            ),
            _ => None,
        };
        let duration_ns = match text("duration") {
            Some(d) => {
                let secs: f64 = d.parse().map_err(|_| format!("bad duration {d:?}"))?;
                Some((secs * 1e9).round() as i64)
            }
            None => None,
        };
        Ok(PathFields {
            device: text("device"),
            class: text("class"),
            start,
            duration_ns,
        })
    }
}

/// The first and last packet time of a capture.
fn capture_span(path: &Path) -> Result<(i64, i64), String> {
    let mut span: Option<(i64, i64)> = None;
    crate::capture::for_each_record(path, |_, ts, _, _| {
        span = Some(span.map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))));
    })?;
    span.ok_or_else(|| "no packets".to_string())
}

/// What a path says, and its capture's first and last packet time where the path lacks a
/// start or a duration.
type FieldsAndSpan = (PathFields, Option<(i64, i64)>);

/// See [`FieldsAndSpan`].
fn fields_and_span(pattern: &PathPattern, file: &Path) -> Result<FieldsAndSpan, String> {
    let f = pattern.fields(&file.display().to_string())?;
    if f.device.is_none() || f.class.is_none() {
        return Ok((f, None));
    }
    match (f.start, f.duration_ns) {
        (Some(_), Some(_)) => Ok((f, None)),
        _ => match capture_span(file) {
            Ok(s) => Ok((f, Some(s))),
            Err(why) => Err(format!(
                "no time in the path and none from the capture: {why}"
            )),
        },
    }
}

/// One event per capture matched by `glob`, in path order; a path that does not match the
/// pattern, or a capture that cannot give a missing time, is an error naming that file.
pub(crate) fn read_per_event_captures(
    r: &mut Reader,
    glob: &Path,
    spec: &SourceSpec,
) -> Result<(), String> {
    let pattern = PathPattern::parse(spec.pattern.as_deref().unwrap_or(MONIOTR_PATTERN))?;
    let files = crate::capture::expand_captures(Path::new("."), &[glob.display().to_string()])?;
    // Paths are read and, where a path has no times, captures scanned on all cores (a
    // per-event dataset holds tens of thousands of small files); rows keep path order.
    let read: Vec<Result<FieldsAndSpan, String>> = files
        .par_iter()
        .map(|file| fields_and_span(&pattern, file))
        .collect();
    for (k, (file, got)) in files.iter().zip(read).enumerate() {
        let line = k + 1;
        r.load.rows += 1;
        let shown = file.display().to_string();
        let fail = |r: &mut Reader, why: String| {
            r.load.errors.push(RowError {
                file: shown.clone(),
                line,
                reason: why,
            })
        };
        let (f, span) = match got {
            Ok(x) => x,
            Err(why) => {
                fail(r, why);
                continue;
            }
        };
        let (Some(device), Some(class)) = (f.device.clone(), f.class.clone()) else {
            fail(
                r,
                "the pattern names no {device}: add it to the pattern".into(),
            );
            continue;
        };
        let (ns, local_ns, time_text) = match (f.start, span) {
            (Some(t), _) => match r.resolve(&t) {
                Some((ns, local)) => (ns, local, t.to_string()),
                None => {
                    fail(r, out_of_range(&t.to_string()));
                    continue;
                }
            },
            (None, Some((a, _))) => (a, None, crate::timefmt::utc(a)),
            (None, None) => {
                fail(r, "no start time in the path or the capture".into());
                continue;
            }
        };
        let duration_ns = f
            .duration_ns
            .or(span.map(|(a, b)| b - a))
            .unwrap_or(0)
            .max(0);
        r.rows.push(Row {
            line,
            raw: shown,
            time_text,
            ns,
            local_ns,
            precision: Precision::Second,
            device,
            class,
            duration_ns,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_read_the_fields_of_a_path() {
        let p = PathPattern::parse(MONIOTR_PATTERN).unwrap();
        let f = p
            .fields("traffic/us/yi-camera/android_lan_watch/2019-04-26_21:42:57.31s.pcap")
            .unwrap();
        assert_eq!(f.device.as_deref(), Some("yi-camera"));
        assert_eq!(f.class.as_deref(), Some("android_lan_watch"));
        assert_eq!(f.duration_ns, Some(31_000_000_000));
        assert_eq!(f.start.unwrap().to_string(), "2019-04-26 21:42:57");
        let p = PathPattern::parse("{device}_{class}.pcap").unwrap();
        let f = p.fields("pingpong/TP_LINK_LOCAL_ON.pcap").unwrap();
        assert_eq!(f.device.as_deref(), Some("TP"));
        let p = PathPattern::parse("{device}/{class}.pcap").unwrap();
        let f = p.fields("a/tplink-plug/on.pcap").unwrap();
        assert_eq!(
            (f.device.unwrap(), f.class.unwrap()),
            ("tplink-plug".into(), "on".into())
        );
        assert!(f.start.is_none() && f.duration_ns.is_none());
        assert!(p.fields("a/b/on.pcapng").is_err());
        assert!(PathPattern::parse("{device}/{when}.pcap")
            .unwrap_err()
            .contains("unknown field"));
        assert!(PathPattern::parse("{device}.pcap")
            .unwrap_err()
            .contains("{class}"));
        assert!(PathPattern::parse("{device}/{class}/{start}.pcap")
            .unwrap_err()
            .contains("format"));
    }
}
