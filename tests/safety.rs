//! Nothing lost, nobody harmed: outputs never replace what they did not write, inputs and the
//! journal are never changed behind the user's back, bad inputs are errors and not panics.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::{bin, run_bad, run_ok};

/// Every file under `dir` with its bytes' SHA-256 (folders as empty entries).
fn tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    use sha2::Digest;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
                out.insert(rel, String::new());
            } else {
                let h = sha2::Sha256::digest(std::fs::read(&p).unwrap());
                out.insert(rel, format!("{h:x}"));
            }
        }
    }
    out
}

/// A small simulated project in `dir/lab`; returns the project file.
fn lab(dir: &Path) -> PathBuf {
    crate::common::sim(&dir.join("lab"), 4, 1, 5, Some(20_000)).project
}

fn export(project: &Path, out: &Path, force: bool) -> Command {
    let mut c = Command::new(bin());
    c.arg("export")
        .arg(project)
        .arg("--out")
        .arg(out)
        .arg("--format")
        .arg("csv");
    if force {
        c.arg("--force");
    }
    c
}

#[test]
fn export_force_never_replaces_the_project_or_its_inputs() {
    let t = tempfile::tempdir().unwrap();
    let p = lab(t.path());
    let labdir = p.parent().unwrap().to_path_buf();
    // The derived cache is written by the first open; everything after must change nothing.
    run_ok(Command::new(bin()).arg("inspect").arg(&p));
    let before = tree(t.path());
    for out in [labdir.clone(), labdir.join("pcaps"), labdir.join("labels")] {
        let e = run_bad(&mut export(&p, &out, true));
        assert!(e.contains("holds the project's own file or input"), "{e}");
    }
    let e = run_bad(&mut export(&p, t.path(), true));
    assert!(e.contains("refused"), "{e}");
    let e = run_bad(&mut export(&p, Path::new("/"), true));
    assert!(e.contains("file-system root"), "{e}");
    let e = run_bad(export(&p, Path::new("."), true).current_dir(&labdir));
    assert!(e.contains("refused"), "{e}");
    // A folder of other files: refused, and the refusal does not suggest --force.
    let notes = t.path().join("notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(notes.join("thesis.tex"), "x").unwrap();
    let e = run_bad(&mut export(&p, &notes, false));
    assert!(
        e.contains("not a previous labelbench export") && !e.contains("use --force"),
        "{e}"
    );
    let e = run_bad(&mut export(&p, &notes, true));
    assert!(e.contains("not a previous labelbench export"), "{e}");
    std::fs::remove_dir_all(&notes).unwrap();
    assert_eq!(tree(t.path()), before, "a refused export changed nothing");

    // A previous export is replaced with --force only, and nothing beside it changes.
    let out = t.path().join("out");
    run_ok(&mut export(&p, &out, false));
    let e = run_bad(&mut export(&p, &out, false));
    assert!(e.contains("use --force"), "{e}");
    let dead = t.path().join(".out.partial-2147483630");
    std::fs::create_dir(&dead).unwrap();
    std::fs::write(dead.join("events.csv"), "half").unwrap();
    let lab_before = tree(&labdir);
    run_ok(&mut export(&p, &out, true));
    assert!(
        !dead.exists(),
        "a killed export's staging folder is cleaned up"
    );
    assert_eq!(tree(&labdir), lab_before);
    let names: Vec<String> = std::fs::read_dir(t.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn demo_data_never_overwrites_a_folder_without_force() {
    let t = tempfile::tempdir().unwrap();
    let demo = |out: &Path, force: bool| {
        let mut c = Command::new(bin());
        c.args([
            "demo-data",
            "--devices",
            "2",
            "--days",
            "1",
            "--scale",
            "3000",
            "--out",
        ])
        .arg(out);
        if force {
            c.arg("--force");
        }
        c
    };
    let p = t.path().join("p");
    run_ok(&mut demo(&p, false));
    // An edit on the project, then an attempt to write a new one over it.
    std::fs::write(p.join("sample.labelbench.edits.jsonl"), "").unwrap();
    let before = tree(&p);
    let e = run_bad(&mut demo(&p, false));
    assert!(e.contains("use --force"), "{e}");
    assert_eq!(tree(&p), before);
    run_ok(&mut demo(&p, true));
    assert!(!p.join("sample.labelbench.edits.jsonl").exists());
    // Not a demo project: refused even with --force.
    let other = t.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("keep.txt"), "x").unwrap();
    let e = run_bad(&mut demo(&other, true));
    assert!(e.contains("not a previous demo-data project"), "{e}");
    assert!(other.join("keep.txt").exists());
}

#[test]
fn a_second_writer_is_told_who_holds_the_project() {
    let t = tempfile::tempdir().unwrap();
    let p = lab(t.path());
    let mut s = crate::common::open_journaled(&p);
    s.lock_journal().unwrap();
    let out = Command::new(bin())
        .args(["curate", "--accept-all"])
        .arg(&p)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "project is open in process {}",
            std::process::id()
        )),
        "{err}"
    );
    // Readers work meanwhile.
    run_ok(Command::new(bin()).arg("inspect").arg(&p));
    drop(s);
    run_ok(Command::new(bin()).args(["curate", "--accept-all"]).arg(&p));
}

/// Runs `cmd` with a deadline: a hang is a failure, not a stuck test run.
fn output_within(cmd: &mut Command, secs: u64) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed().as_secs() > secs {
            let _ = child.kill();
            panic!("{cmd:?} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: a valid path; mkfifo only creates the node.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn fifos_and_links_at_the_journal_or_cache_are_refused_not_followed() {
    let t = tempfile::tempdir().unwrap();
    let p = lab(t.path());
    let journal = labelbench::project::Project::journal_path(&p);
    mkfifo(&journal);
    let out = output_within(Command::new(bin()).arg("inspect").arg(&p), 60);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("FIFO"), "{err}");
    std::fs::remove_file(&journal).unwrap();
    let precious = t.path().join("precious.txt");
    std::fs::write(&precious, "keep me\n").unwrap();
    std::os::unix::fs::symlink(&precious, &journal).unwrap();
    let out = output_within(
        Command::new(bin()).args(["curate", "--accept-all"]).arg(&p),
        60,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("symbolic link"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me\n");
    std::fs::remove_file(&journal).unwrap();
    // A FIFO at the cache path: the captures are parsed and the cache left alone.
    let cache = labelbench::traffic::cache::cache_path(&p);
    let _ = std::fs::remove_file(&cache);
    mkfifo(&cache);
    let out = output_within(Command::new(bin()).arg("inspect").arg(&p), 60);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("not a regular file"), "{text}");
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let t = tempfile::tempdir().unwrap();
    let p = lab(t.path());
    let out = t.path().join("out");
    let runs: Vec<Vec<std::ffi::OsString>> = vec![
        vec!["curate".into(), p.clone().into(), "--json".into()],
        vec!["inspect".into(), p.clone().into(), "--json".into()],
        vec!["train".into(), p.clone().into(), "--json".into()],
        vec![
            "export".into(),
            p.clone().into(),
            "--out".into(),
            out.into(),
            "--json".into(),
        ],
        vec![
            "demo-data".into(),
            "--devices".into(),
            "1".into(),
            "--scale".into(),
            "2000".into(),
            "--out".into(),
            t.path().join("d").into(),
        ],
    ];
    for args in runs {
        let mut child = Command::new(bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before anything is written.
        drop(child.stdout.take());
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
    }
}

/// A project over the lab's captures with one generic CSV source of `rows` read by `csv`.
fn csv_project(dir: &Path, rows: &str, csv: serde_json::Value) -> PathBuf {
    let lab = lab(dir);
    std::fs::write(dir.join("lab/labels/extra.csv"), rows).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&lab).unwrap()).unwrap();
    v["sources"] = serde_json::json!([{
        "kind": "csv", "path": "labels/extra.csv", "tz": "UTC", "csv": csv
    }]);
    std::fs::write(&lab, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    lab
}

#[test]
fn a_column_number_out_of_range_is_an_error_naming_the_project() {
    let t = tempfile::tempdir().unwrap();
    let csv = serde_json::json!({"time": "18446744073709551615", "device": "1", "class": "2",
        "time_format": "epoch", "has_header": false});
    let p = csv_project(t.path(), "1615200000,cam,motion\n", csv);
    let e = run_bad(Command::new(bin()).arg("inspect").arg(&p));
    assert!(
        e.contains(&p.display().to_string()) && e.contains("not a column number"),
        "{e}"
    );
}

#[test]
fn out_of_range_times_are_row_errors_with_their_line() {
    let t = tempfile::tempdir().unwrap();
    for (fmt, rows, bad_lines) in [
        (
            "epoch",
            "1615200000,a,on\ninf,a,on\n-1e300,a,on\nnan,a,on\n",
            vec![2, 3, 4],
        ),
        (
            "epoch-ms",
            "1615200000000,a,on\n9223372036854775807,a,on\n",
            vec![2],
        ),
        (
            "iso8601",
            "2021-03-08T10:00:00Z,a,on\n9999-03-08T10:00:00Z,a,on\n",
            vec![2],
        ),
    ] {
        let csv = serde_json::json!({"time": "0", "device": "1", "class": "2",
            "time_format": fmt, "has_header": false});
        let dir = t.path().join(fmt);
        let p = csv_project(&dir, rows, csv);
        let s = crate::common::open_journaled(&p);
        let load = &s.sources[0].load;
        let lines: Vec<usize> = load.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, bad_lines, "{fmt}: {:?}", load.errors);
        assert!(load
            .errors
            .iter()
            .all(|e| e.reason.contains("out of range")));
        assert_eq!(s.labels.events.len(), 1, "{fmt}");
    }
    // The lab's own format, year 9999.
    let dir = t.path().join("lab-format");
    let _ = lab(&dir);
    let log = dir.join("lab/labels/ifttt-events.csv");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("\"March 08, 9999 at 01:05PM\",\"x\",\"event_on\"\n");
    let n = text.lines().count();
    std::fs::write(&log, text).unwrap();
    let s = crate::common::open_journaled(&dir.join("lab/sample.labelbench.json"));
    let errs = &s.sources[0].load.errors;
    assert!(
        errs.iter()
            .any(|e| e.line == n && e.reason.contains("out of range")),
        "{errs:?}"
    );
}

#[test]
fn a_byte_order_mark_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let p = lab(t.path());
    let plain = crate::common::open_journaled(&p);
    let dir = p.parent().unwrap();
    for f in [
        "sample.labelbench.json",
        "devices.json",
        "labels/notifications.jsonl",
        "labels/ifttt-events.csv",
    ] {
        let path = dir.join(f);
        let mut b = b"\xEF\xBB\xBF".to_vec();
        b.extend(std::fs::read(&path).unwrap());
        std::fs::write(&path, b).unwrap();
    }
    let bom = crate::common::open_journaled(&p);
    assert_eq!(bom.registry.devices.len(), plain.registry.devices.len());
    let key = |s: &labelbench::project::session::Session| -> Vec<(u64, i64, String, String)> {
        s.labels
            .events
            .iter()
            .map(|e| (e.id, e.original_ns, e.class.clone(), e.raw.clone()))
            .collect()
    };
    assert_eq!(key(&bom), key(&plain));
    for src in &bom.sources {
        assert!(src.load.errors.is_empty(), "{:?}", src.load.errors);
    }
}

#[test]
fn a_device_named_twice_in_devices_json_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("devices.json");
    std::fs::write(
        &p,
        "{\"devices\": {\n \"cam\": {\"ether\": \"00:11:22:33:44:55\"},\n \
         \"cam\": {\"ether\": \"00:11:22:33:44:66\"}\n}}\n",
    )
    .unwrap();
    let e = labelbench::traffic::devices::Registry::load(&p)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"cam\" is listed twice") && e.contains("line 3"),
        "{e}"
    );
}

#[test]
fn a_fifo_capture_is_read_and_a_link_loop_is_named() {
    let t = tempfile::tempdir().unwrap();
    let p = lab(t.path());
    let dir = p.parent().unwrap();
    let first = {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("pcaps"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v[0].clone()
    };
    let bytes = std::fs::read(&first).unwrap();
    let want = labelbench::capture::read_capture(&first, None)
        .cols
        .rows
        .len();
    let fifo = t.path().join("live.pcap");
    mkfifo(&fifo);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(&fifo, bytes).unwrap())
    };
    let new = t.path().join("fifo.labelbench.json");
    run_ok(
        Command::new(bin())
            .arg("new")
            .arg(&new)
            .arg("--capture")
            .arg(&fifo),
    );
    let out = output_within(
        Command::new(bin()).args(["inspect", "--json"]).arg(&new),
        60,
    );
    writer.join().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(v["packets"].as_u64(), Some(want as u64), "{v}");

    let a = t.path().join("a.pcap");
    let b = t.path().join("b.pcap");
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    let e = run_bad(
        Command::new(bin())
            .arg("new")
            .arg(t.path().join("loop.labelbench.json"))
            .arg("--capture")
            .arg(&a),
    );
    assert!(e.contains("loops"), "{e}");
}

#[test]
fn a_load_with_a_fatal_issue_is_never_cached() {
    let t = tempfile::tempdir().unwrap();
    let p = lab(t.path());
    let dir = p.parent().unwrap();
    let mut caps: Vec<PathBuf> = std::fs::read_dir(dir.join("pcaps"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    caps.sort();
    // Cut the last capture inside a record.
    let last = caps.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(last)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    let out = run_ok(Command::new(bin()).arg("inspect").arg(&p));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("not cached"), "{text}");
    assert!(!labelbench::traffic::cache::cache_path(&p).exists());
}

#[test]
fn zero_filled_tails_are_the_end_of_the_data() {
    let t = tempfile::tempdir().unwrap();
    let p = lab(t.path());
    let dir = p.parent().unwrap();
    let cap = std::fs::read_dir(dir.join("pcaps"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .min()
        .unwrap();
    let plain = labelbench::capture::read_capture(&cap, None);
    assert!(plain.issues.is_empty(), "{:?}", plain.issues);
    let mut bytes = std::fs::read(&cap).unwrap();
    let at = bytes.len() as u64;
    bytes.resize(bytes.len() + (1 << 20), 0);
    let zeros = t.path().join("zeros.pcap");
    std::fs::write(&zeros, &bytes).unwrap();
    let z = labelbench::capture::read_capture(&zeros, None);
    assert_eq!(z.cols.rows, plain.cols.rows);
    assert_eq!(z.issues.len(), 1, "{:?}", z.issues);
    let i = &z.issues[0];
    assert!(!i.fatal && i.byte_offset == at, "{i}");
    assert!(
        i.reason.contains("zero-filled") && i.reason.contains("1048576 bytes"),
        "{i}"
    );
}

#[test]
fn a_failed_cache_write_is_reported_as_failed() {
    let t = tempfile::tempdir().unwrap();
    let p = lab(t.path());
    // A folder where the cache's temporary file goes makes the write fail.
    let cache = labelbench::traffic::cache::cache_path(&p);
    let tmp = cache.with_extension(format!("tmp{}", std::process::id()));
    std::fs::create_dir(&tmp).unwrap();
    let o = labelbench::project::session::OpenOptions {
        journal: true,
        cache: true,
    };
    let mut s = labelbench::project::session::Session::open(&p, o, None).unwrap();
    s.finish_cache_write();
    assert!(
        matches!(
            s.cache_status,
            labelbench::traffic::cache::CacheStatus::WriteFailed { .. }
        ),
        "{:?}",
        s.cache_status
    );
    assert!(!cache.exists());
}

#[test]
fn a_corrupt_pcapng_block_is_named_by_type_and_length_not_dumped() {
    let t = tempfile::tempdir().unwrap();
    let mut b = Vec::new();
    // Section header block (28 bytes, little-endian), then an enhanced packet block whose
    // trailing length disagrees with its leading one, padded with 60 KB of data.
    b.extend_from_slice(&0x0a0d_0d0au32.to_le_bytes());
    b.extend_from_slice(&28u32.to_le_bytes());
    b.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(-1i64).to_le_bytes());
    b.extend_from_slice(&28u32.to_le_bytes());
    // Interface 0, time 0, 4 of 4 bytes captured, then 60 KB of garbage where options go.
    let mut body = vec![0u8; 12];
    body.extend_from_slice(&4u32.to_le_bytes());
    body.extend_from_slice(&4u32.to_le_bytes());
    body.extend_from_slice(&[1, 2, 3, 4]);
    body.resize(body.len() + 60_000, 0x41);
    let len = 12 + body.len() as u32;
    b.extend_from_slice(&6u32.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(&body);
    b.extend_from_slice(&(len + 4).to_le_bytes());
    let p = t.path().join("bad.pcapng");
    std::fs::write(&p, &b).unwrap();
    let r = labelbench::capture::read_capture(&p, None);
    let i = r.issues.iter().find(|i| i.fatal).expect("a fatal issue");
    assert!(
        i.reason.len() < 300,
        "{} bytes: {}",
        i.reason.len(),
        &i.reason[..300]
    );
    assert!(
        i.reason.contains("corrupt block (type 0x00000006"),
        "{}",
        i.reason
    );
    assert_eq!(i.byte_offset, 28);
}

/// A failed write is a failure (exit code 1), not bad input (2): here the output's parent is a
/// file, so the staging folder cannot be made.
#[test]
fn a_failed_write_exits_1() {
    let t = tempfile::tempdir().unwrap();
    let p = lab(t.path());
    let blocker = t.path().join("not-a-folder");
    std::fs::write(&blocker, "x").unwrap();
    let out = export(&p, &blocker.join("out"), false).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not-a-folder"), "{err}");
}
