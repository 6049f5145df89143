//! Zeek logs with labels (IoT-23's `conn.log.labeled` and the like): Zeek's TSV layout
//! (`#separator`, `#fields`, `#types`, `#unset_field` headers) or its JSON-lines form. One
//! event per row at `ts`, lasting `duration` when the log has it; the device is found by the
//! registry's addresses (`id.orig_h`, then `id.resp_h`) or MACs (`orig_l2_addr`,
//! `resp_l2_addr`); the class is the label column (`label` by default, else
//! `detailed-label`, or the one the source names).

use std::net::IpAddr;

use super::read::{text_lines, Reader, Row};
use super::*;

/// Zeek's header keys that are not data.
const UNSET: &str = "-";

/// The label column to use: the source's own choice, else `label`, else `detailed-label`.
fn label_column<'a>(spec: &SourceSpec, fields: &'a [String]) -> Result<&'a str, String> {
    let named = spec.csv.as_ref().map(|c| c.class.as_str());
    let wanted: Vec<&str> = match named {
        Some(c) if c != "class" => vec![c],
        _ => vec!["label", "detailed-label"],
    };
    wanted
        .iter()
        .find_map(|w| fields.iter().find(|f| f == w))
        .map(String::as_str)
        .ok_or_else(|| {
            format!(
                "no label column {} among the log's fields ({})",
                wanted.join(" or "),
                fields.join(", ")
            )
        })
}

// Zeek's `ts` and `duration` are decimal seconds, read exactly (no float rounding).
use super::time::exact_epoch_ns as epoch_ns;

/// A `ts` from the JSON form: epoch seconds (number or string) or an ISO 8601 time.
fn json_ts(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => epoch_ns(&n.to_string()),
        serde_json::Value::String(s) => epoch_ns(s).or_else(|| {
            chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .and_then(|t| t.timestamp_nanos_opt())
        }),
        _ => None,
    }
}

/// The registry device whose address or MAC one of the row's endpoints has, by name; else
/// the originator's address (counted as an unmatched device name).
fn device_of(registry: &Registry, get: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    // A log that names the device (labelbench's own export does) is taken at its word.
    if let Some(d) = get("device") {
        return Some(d);
    }
    let by_ip = ["id.orig_h", "id.resp_h"].iter().find_map(|k| {
        let ip: IpAddr = get(k)?.parse().ok()?;
        registry.by_ip(&ip)
    });
    let by_mac = || {
        ["orig_l2_addr", "resp_l2_addr"].iter().find_map(|k| {
            let mac = crate::traffic::devices::parse_mac(&get(k)?)?;
            registry.by_mac(&mac)
        })
    };
    match by_ip.or_else(by_mac) {
        Some(d) => Some(registry.devices[d as usize].name.clone()),
        None => get("id.orig_h"),
    }
}

/// Splits a TSV line by the separator; a line with fewer fields than the header also splits
/// on runs of spaces (IoT-23's labelled logs join their last three fields with three spaces).
fn split_row(line: &str, sep: &str, want: usize) -> Vec<String> {
    let f: Vec<String> = line.split(sep).map(str::to_string).collect();
    if f.len() >= want || want == 0 {
        return f;
    }
    let more: Vec<String> = f
        .iter()
        .flat_map(|x| x.split("  ").map(str::trim).filter(|s| !s.is_empty()))
        .map(str::to_string)
        .collect();
    if more.len() == want {
        more
    } else {
        f
    }
}

pub(crate) fn read_zeek(r: &mut Reader, bytes: &[u8], spec: &SourceSpec, registry: &Registry) {
    let json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    if json {
        read_zeek_json(r, bytes, spec, registry)
    } else {
        read_zeek_tsv(r, bytes, spec, registry)
    }
}

fn read_zeek_tsv(r: &mut Reader, bytes: &[u8], spec: &SourceSpec, registry: &Registry) {
    let mut sep = "\t".to_string();
    let mut set_sep = ",".to_string();
    let mut unset = UNSET.to_string();
    let mut types: Vec<String> = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut label: Option<String> = None;
    for (line, text) in text_lines(bytes) {
        let Ok(text) = text else {
            r.load.rows += 1;
            r.err(line, "not valid UTF-8".into());
            continue;
        };
        if let Some(h) = text.strip_prefix('#') {
            let (key, value) = h.split_once([' ', '\t']).unwrap_or((h, ""));
            match key {
                "separator" => sep = unescape_hex(value.trim()),
                "unset_field" => unset = value.trim().to_string(),
                "set_separator" => set_sep = unescape_hex(value.trim()),
                "types" => {
                    types = value
                        .split(sep.as_str())
                        .flat_map(|f| f.split_whitespace())
                        .map(str::to_string)
                        .collect()
                }
                "fields" => {
                    fields = value
                        .split(sep.as_str())
                        .flat_map(|f| f.split_whitespace())
                        .map(str::to_string)
                        .collect();
                    match label_column(spec, &fields) {
                        Ok(l) => label = Some(l.to_string()),
                        Err(e) => {
                            r.err(line, e);
                            return;
                        }
                    }
                }
                _ => {}
            }
            continue;
        }
        if text.trim().is_empty() {
            continue;
        }
        r.load.rows += 1;
        let Some(label) = label.as_deref() else {
            r.err(line, "a data row before the `#fields` header".into());
            continue;
        };
        let row = split_row(text, &sep, fields.len());
        if row.len() != fields.len() {
            r.err(
                line,
                format!(
                    "expected {} fields (#fields), got {}",
                    fields.len(),
                    row.len()
                ),
            );
            continue;
        }
        let get = |k: &str| {
            let i = fields.iter().position(|f| f == k)?;
            Some(row[i].clone()).filter(|v| *v != unset && !v.is_empty())
        };
        // A label typed as a set (labelbench's export) holds every class of the row.
        let is_set = fields
            .iter()
            .position(|f| f == label)
            .and_then(|i| types.get(i))
            .is_some_and(|t| t.starts_with("set["));
        let split = is_set.then_some(set_sep.as_str());
        push_row(r, line, text, &get, (label, split), registry);
    }
    if fields.is_empty() && r.load.rows == 0 {
        r.err(1, "no `#fields` header: not a Zeek TSV log".into());
    }
}

fn read_zeek_json(r: &mut Reader, bytes: &[u8], spec: &SourceSpec, registry: &Registry) {
    for (line, text) in text_lines(bytes) {
        let Ok(text) = text else {
            r.load.rows += 1;
            r.err(line, "not valid UTF-8".into());
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        r.load.rows += 1;
        let obj: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(text) {
            Ok(o) => o,
            Err(e) => {
                r.err(line, format!("bad JSON: {e}"));
                continue;
            }
        };
        let keys: Vec<String> = obj.keys().cloned().collect();
        let label = match label_column(spec, &keys) {
            Ok(l) => l.to_string(),
            Err(e) => {
                r.err(line, e);
                continue;
            }
        };
        let get = |k: &str| match obj.get(k)? {
            serde_json::Value::String(s) => Some(s.clone()).filter(|s| s != UNSET),
            serde_json::Value::Null => None,
            v if k == "ts" => json_ts(v).map(|ns| {
                format!(
                    "{}.{:09}",
                    ns.div_euclid(1_000_000_000),
                    ns.rem_euclid(1_000_000_000)
                )
            }),
            v => Some(v.to_string()),
        };
        push_row(r, line, text, &get, (&label, None), registry);
    }
}

/// One row's events (one, or one per class of a set-typed label), from its fields by name.
/// A row whose label is unset is no event (an unlabelled flow), not an error.
fn push_row(
    r: &mut Reader,
    line: usize,
    text: &str,
    get: &dyn Fn(&str) -> Option<String>,
    (label, set_sep): (&str, Option<&str>),
    registry: &Registry,
) {
    let Some(ts_text) = get("ts") else {
        return r.err(line, "no `ts`".into());
    };
    let Some(ns) = epoch_ns(&ts_text) else {
        return r.err(line, format!("bad ts {ts_text:?} (expected epoch seconds)"));
    };
    let Some(class) = get(label) else {
        return;
    };
    let Some(device) = device_of(registry, get) else {
        return r.err(line, "no `id.orig_h` to find the device by".into());
    };
    let duration_ns = get("duration")
        .and_then(|d| epoch_ns(&d))
        .filter(|d| *d >= 0)
        .unwrap_or(0);
    let classes: Vec<&str> = match set_sep {
        Some(sep) => class.split(sep).collect(),
        None => vec![class.as_str()],
    };
    for c in classes {
        r.rows.push(Row {
            line,
            raw: text.to_string(),
            time_text: ts_text.clone(),
            ns,
            local_ns: None,
            precision: Precision::Second,
            device: device.clone(),
            class: unescape_field(c.trim()),
            duration_ns,
        });
    }
}

/// A field with Zeek's `\xNN` escapes undone (separators and control bytes inside a value).
fn unescape_field(s: &str) -> String {
    if !s.contains("\\x") {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 2..i + 4)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (
            b[i],
            b.get(i + 1),
            hex.and_then(|h| u8::from_str_radix(h, 16).ok()),
        ) {
            (b'\\', Some(b'x'), Some(v)) => {
                out.push(v);
                i += 4;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Zeek writes its separator as `\x09`.
fn unescape_hex(s: &str) -> String {
    match s
        .strip_prefix("\\x")
        .and_then(|h| u8::from_str_radix(h, 16).ok())
    {
        Some(b) => (b as char).to_string(),
        None if s.is_empty() => "\t".into(),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_rows_read_as_zeek_writes_them() {
        assert_eq!(
            epoch_ns("1540469302.538640"),
            Some(1_540_469_302_538_640_000)
        );
        assert_eq!(epoch_ns("12"), Some(12_000_000_000));
        assert_eq!(epoch_ns("1.2.3"), None);
        assert_eq!(epoch_ns("99999999999999999"), None);
        assert_eq!(unescape_hex("\\x09"), "\t");
        assert_eq!(unescape_field("a\\x09b\\x2cc"), "a\tb,c");
        assert_eq!(unescape_field("\\x2d"), "-");
        let row = split_row("1\tC\t-   benign   -", "\t", 5);
        assert_eq!(row, vec!["1", "C", "-", "benign", "-"]);
    }
}
