//! The lab's registry as its repository ships it: `devices/devices.py`, a Python file of
//! literal assignments (`devices = {…}` then `hubs = {…}`). It is read, never run: the
//! assignments' literals are turned into the JSON form of `devices.json`, keeping every line
//! where it was so that errors name the file's own lines.

/// Whether `text` looks like a Python registry: a line assigning `devices` or `hubs`.
pub fn looks_like_python(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        ["devices", "hubs"].iter().any(|n| {
            l.strip_prefix(n).is_some_and(|r| {
                r.trim_start().starts_with('=') && !r.trim_start().starts_with("==")
            })
        })
    })
}

/// The JSON object `{"devices": …, "hubs": …}` built from the file's `devices` and `hubs`
/// assignments, with the file's line breaks kept (line N of the JSON is line N of the file).
/// Other literal assignments are skipped; anything else (an import, a function, a call) is an
/// error at its line, since the file is not run.
pub fn python_registry_to_json(text: &str) -> Result<String, (usize, String)> {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    out.push('{');
    let mut i = 0;
    let mut line = 1;
    let mut kept = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            out.push('\n');
            line += 1;
            i += 1;
        } else if c.is_ascii_whitespace() || c == b';' {
            i += 1;
        } else if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            let name = &text[start..i];
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            if b.get(i) != Some(&b'=') || b.get(i + 1) == Some(&b'=') {
                return Err((line, not_literal(text, start)));
            }
            i += 1;
            let end = literal_end(b, i, &mut 0).map_err(|(at, why)| (line_at(b, at), why))?;
            let literal = &text[i..end];
            let json = literal_to_json(literal).map_err(|(at, why)| (line_at(b, i + at), why))?;
            if name == "devices" || name == "hubs" {
                if kept > 0 {
                    out.push(',');
                }
                out.push_str(&format!("\"{name}\":"));
                out.push_str(&json);
                kept += 1;
            } else {
                out.extend(std::iter::repeat_n('\n', literal.matches('\n').count()));
            }
            line += literal.matches('\n').count();
            i = end;
        } else {
            return Err((line, not_literal(text, i)));
        }
    }
    if kept == 0 {
        return Err((1, "no `devices = {…}` assignment".into()));
    }
    // The closing brace goes on the last line, so the JSON has the file's line count.
    let trailing = out.ends_with('\n');
    if trailing {
        out.pop();
    }
    out.push('}');
    if trailing {
        out.push('\n');
    }
    Ok(out)
}

fn line_at(b: &[u8], at: usize) -> usize {
    1 + b[..at.min(b.len())].iter().filter(|&&c| c == b'\n').count()
}

fn not_literal(text: &str, at: usize) -> String {
    let l = text[at..].lines().next().unwrap_or("").trim();
    let l: String = l.chars().take(60).collect();
    format!(
        "`{l}` is not a literal assignment: a Python registry is read without running it, \
         as `devices = {{…}}` and `hubs = {{…}}` of dict literals"
    )
}

/// Where the literal that starts at `i` (after `=`) ends: its brackets closed, or the end of
/// its line for a plain value. Strings may hold brackets and `#`.
fn literal_end(b: &[u8], mut i: usize, depth: &mut i32) -> Result<usize, (usize, String)> {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    let start = i;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => i = string_end(b, i)?,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'{' | b'[' | b'(' => {
                *depth += 1;
                i += 1;
            }
            b'}' | b']' | b')' => {
                *depth -= 1;
                i += 1;
                if *depth < 0 {
                    return Err((i - 1, "unbalanced bracket".into()));
                }
                if *depth == 0 {
                    return Ok(i);
                }
            }
            b'\n' if *depth == 0 => return Ok(i),
            _ => i += 1,
        }
    }
    if *depth > 0 {
        return Err((start, "the literal starting here is never closed".into()));
    }
    Ok(i)
}

/// The index after the string literal whose opening quote is at `i`.
fn string_end(b: &[u8], i: usize) -> Result<usize, (usize, String)> {
    let q = b[i];
    if b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q) {
        return Err((i, "triple-quoted strings are not read".into()));
    }
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'\n' => return Err((i, "a string is not closed on its line".into())),
            c if c == q => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err((i, "a string is not closed".into()))
}

/// A Python literal as JSON: single-quoted strings double-quoted, `True`/`False`/`None` as
/// `true`/`false`/`null`, tuples as arrays, comments and trailing commas dropped. Line breaks
/// stay. Errors carry a byte offset into `lit`.
fn literal_to_json(lit: &str) -> Result<String, (usize, String)> {
    let b = lit.as_bytes();
    let mut out = String::with_capacity(lit.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' => {
                let end = string_end(b, i)?;
                out.push('"');
                let inner = &lit[i + 1..end - 1];
                let mut chars = inner.chars();
                while let Some(ch) = chars.next() {
                    match ch {
                        '\\' => match chars.next() {
                            Some('\'') => out.push('\''),
                            Some(e) => {
                                out.push('\\');
                                out.push(e);
                            }
                            None => out.push_str("\\\\"),
                        },
                        '"' => out.push_str("\\\""),
                        ch => out.push(ch),
                    }
                }
                out.push('"');
                i = end;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b',' => {
                // A trailing comma (before a closing bracket) is Python's, not JSON's.
                let mut j = i + 1;
                loop {
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if b.get(j) == Some(&b'#') {
                        while j < b.len() && b[j] != b'\n' {
                            j += 1;
                        }
                        continue;
                    }
                    break;
                }
                if !matches!(b.get(j), Some(b'}' | b']' | b')')) {
                    out.push(',');
                }
                i += 1;
            }
            b'(' => {
                out.push('[');
                i += 1;
            }
            b')' => {
                out.push(']');
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push_str(match &lit[s..i] {
                    "True" => "true",
                    "False" => "false",
                    "None" => "null",
                    w => {
                        return Err((
                            s,
                            format!("`{w}` is a name, not a literal (the file is not run)"),
                        ))
                    }
                });
            }
            _ => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_become_json_on_the_same_lines() {
        let py = "# the lab's devices\nimport_ok = 1\ndevices = {\n  'cam': {'ether': \"aa:bb:cc:dd:ee:ff\", 'ok': True,},  # a camera\n}\nhubs = {\"h\": ('cam',)}\n";
        let j = python_registry_to_json(py).unwrap();
        assert_eq!(j.lines().count(), py.lines().count());
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v["devices"]["cam"]["ether"], "aa:bb:cc:dd:ee:ff");
        assert_eq!(v["devices"]["cam"]["ok"], true);
        assert_eq!(v["hubs"]["h"][0], "cam");
        assert!(j.lines().nth(3).unwrap().contains("cam"));
    }

    #[test]
    fn code_is_refused_at_its_line_not_run() {
        let (line, why) =
            python_registry_to_json("devices = {}\nimport os\nos.system('x')\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(why.contains("not a literal assignment"), "{why}");
        let (line, why) =
            python_registry_to_json("devices = {\n 'a': open('f'),\n}\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(why.contains("`open` is a name"), "{why}");
        let (line, _) = python_registry_to_json("x = 1\ndevices = {\n 'a': 'b'\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(python_registry_to_json("x = 1\n").is_err());
        assert!(looks_like_python("hubs = {}"));
        assert!(!looks_like_python("name,mac\nhubs,aa"));
    }
}
