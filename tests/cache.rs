//! The derived cache: a reopen reads it and gets exactly what a fresh parse gives; any change
//! to a capture or the registry, or a damaged cache, falls back to parsing.

use std::path::Path;

use labelbench::project::session::{OpenOptions, Session};
use labelbench::traffic::cache::{cache_path, CacheStatus};

use crate::common::{bin, sim};

fn open(p: &Path, cache: bool) -> Session {
    let mut s = Session::open(
        p,
        OpenOptions {
            journal: false,
            cache,
        },
        None,
    )
    .unwrap();
    // Wait for the background write so the next open sees it.
    if let Some(w) = s.cache_writer.take() {
        w.wait().unwrap();
    }
    s
}

/// Everything derived from the captures, as comparable text.
fn fingerprint(s: &Session) -> String {
    let t = &s.traffic;
    let p = &t.packets;
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}",
        p.ts,
        p.orig_len,
        p.ip_len,
        p.tcp_len,
        p.ttl,
        p.tcp_flags,
        p.bits,
        p.flow,
        t.flows,
        t.by_device,
        t.unregistered_macs,
        s.registry.devices,
        s.labels.events.len(),
    )
}

#[test]
fn reopen_reads_the_cache_and_matches_a_fresh_parse() {
    let dir = tempfile::tempdir().unwrap();
    let r = sim(dir.path(), 4, 1, 5, Some(20_000));
    let fresh = open(&r.project, false);
    assert_eq!(fresh.cache_status, CacheStatus::Off);
    assert!(!cache_path(&r.project).exists(), "no cache without asking");

    let first = open(&r.project, true);
    match &first.cache_status {
        CacheStatus::Written { reason, .. } => assert_eq!(reason, "no cache yet"),
        other => panic!("expected a fresh parse, got {other:?}"),
    }
    assert!(cache_path(&r.project).is_file());
    let second = open(&r.project, true);
    assert!(
        matches!(second.cache_status, CacheStatus::Hit { .. }),
        "{:?}",
        second.cache_status
    );
    assert!(fresh.traffic.packets.len() > 10_000);
    assert_eq!(fingerprint(&fresh), fingerprint(&second));
    assert_eq!(fingerprint(&fresh), fingerprint(&first));
}

#[test]
fn changed_inputs_or_a_damaged_cache_mean_a_fresh_parse() {
    let dir = tempfile::tempdir().unwrap();
    let r = sim(dir.path(), 3, 1, 6, Some(10_000));
    let reference = fingerprint(&open(&r.project, false));
    open(&r.project, true);
    let cp = cache_path(&r.project);

    // A damaged (truncated) cache: parse, rewrite, same result.
    let len = std::fs::metadata(&cp).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&cp).unwrap();
    f.set_len(len - 100).unwrap();
    drop(f);
    let s = open(&r.project, true);
    match &s.cache_status {
        CacheStatus::Written { reason, .. } => assert!(reason.contains("bytes"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fingerprint(&s), reference);
    assert!(matches!(
        open(&r.project, true).cache_status,
        CacheStatus::Hit { .. }
    ));

    // Damage anywhere is caught: in the header (its own checksum, before its counts are
    // trusted), in the compressed body (a block that no longer decodes, or decodes to other
    // plausible values, which only the whole-file checksum can tell), or in that checksum.
    let good = std::fs::read(&cp).unwrap();
    let hl = u64::from_le_bytes(good[8..16].try_into().unwrap()) as usize;
    for (at, want) in [
        (16 + hl / 2, "header checksum"),
        (good.len() / 2, "damaged"),
        (good.len() - 3, "checksum mismatch"),
    ] {
        let mut bytes = good.clone();
        bytes[at] ^= 1;
        std::fs::write(&cp, &bytes).unwrap();
        let s = open(&r.project, true);
        match &s.cache_status {
            CacheStatus::Written { reason, .. } => {
                assert!(reason.contains(want), "byte {at}: {reason}")
            }
            other => panic!("byte {at}: {other:?}"),
        }
        assert_eq!(fingerprint(&s), reference);
    }

    // Garbage in place of the cache.
    std::fs::write(&cp, b"not a cache at all").unwrap();
    let s = open(&r.project, true);
    assert!(matches!(s.cache_status, CacheStatus::Written { .. }));
    assert_eq!(fingerprint(&s), reference);

    // A registry edit (these are the project's own generated files, not shared inputs).
    let dj = dir.path().join("devices.json");
    let text = std::fs::read_to_string(&dj).unwrap();
    let first_name = {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["devices"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone()
    };
    std::fs::write(
        &dj,
        text.replacen(&format!("\"{first_name}\""), "\"renamed-device\"", 1),
    )
    .unwrap();
    let s = open(&r.project, true);
    match &s.cache_status {
        CacheStatus::Written { reason, .. } => assert_eq!(reason, "device registry changed"),
        other => panic!("{other:?}"),
    }
    assert!(s.registry.by_name("renamed-device").is_some());

    // Other flow timeouts: the flows are assembled afresh, and the cache says why.
    let mut project: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&r.project).unwrap()).unwrap();
    project["flows"] = serde_json::to_value(labelbench::traffic::FlowTimeouts::preset(
        labelbench::traffic::FlowPreset::Zeek,
    ))
    .unwrap();
    std::fs::write(&r.project, serde_json::to_vec_pretty(&project).unwrap()).unwrap();
    let s = open(&r.project, true);
    match &s.cache_status {
        CacheStatus::Written { reason, .. } => assert_eq!(reason, "flow timeouts changed"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.traffic.flow_timeouts.preset,
        labelbench::traffic::FlowPreset::Zeek
    );
    let s = open(&r.project, true);
    assert!(matches!(s.cache_status, CacheStatus::Hit { .. }));
    assert_eq!(
        s.traffic.flow_timeouts.preset,
        labelbench::traffic::FlowPreset::Zeek
    );

    // A capture that changed (appended to, so size and tail differ).
    let pcap = std::fs::read_dir(dir.path().join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let mut bytes = std::fs::read(&pcap).unwrap();
    let n = bytes.len();
    let rec = bytes[24..24 + 16 + 60.min(n - 40)].to_vec();
    bytes.extend_from_slice(&rec[..16.min(rec.len())]);
    std::fs::write(&pcap, &bytes).unwrap();
    let s = open(&r.project, true);
    // The appended half record is a fatal issue: the load is not cached, and says why the old
    // cache was not used.
    match &s.cache_status {
        CacheStatus::WriteFailed { error, .. } => {
            assert!(error.contains("could not be read whole"), "{error}");
            assert!(error.ends_with("changed)"), "{error}");
            assert!(
                error.contains(pcap.file_name().unwrap().to_str().unwrap()),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The torn record is reported by ingest as before.
    assert!(s
        .warnings
        .iter()
        .any(|w| w.contains("truncated last record")));
}

#[test]
fn inspect_reports_the_cache_and_no_cache_skips_it() {
    let dir = tempfile::tempdir().unwrap();
    let r = sim(dir.path(), 2, 1, 7, Some(5_000));
    let run = |extra: &[&str]| -> serde_json::Value {
        let out = crate::common::run_ok(
            std::process::Command::new(bin())
                .arg("inspect")
                .arg(&r.project)
                .arg("--json")
                .args(extra),
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let a = run(&[]);
    assert_eq!(a["cache"]["status"], "written");
    let b = run(&[]);
    assert_eq!(b["cache"]["status"], "hit");
    let c = run(&["--no-cache"]);
    assert_eq!(c["cache"]["status"], "off");
    assert_eq!(a["packets"], b["packets"]);
    assert_eq!(a["devices"], b["devices"]);
    assert_eq!(a["devices"], c["devices"]);
    assert_eq!(a["flow_counts"], c["flow_counts"]);
}

/// A temporary cache left by a writer that died is removed by the next write; one of a
/// running process, and files not named like ours, stay.
#[test]
fn a_dead_writers_temporary_cache_is_removed_by_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let r = sim(dir.path(), 2, 1, 3, Some(3_000));
    let cp = cache_path(&r.project);
    let stem = cp.file_stem().unwrap().to_string_lossy().to_string();
    let sibling = |n: &str| cp.with_file_name(n);
    // No process has this id (Linux caps ids at 2^22).
    let dead = sibling(&format!("{stem}.tmp999999999"));
    let running = sibling(&format!("{stem}.tmp1"));
    let unrelated = [
        sibling(&format!("{stem}.tmpnotapid")),
        sibling("other.labelbench.tmp999999999"),
    ];
    for p in [&dead, &running].into_iter().chain(&unrelated) {
        std::fs::write(p, b"partial cache").unwrap();
    }
    let s = open(&r.project, true);
    assert!(matches!(s.cache_status, CacheStatus::Written { .. }));
    assert!(!dead.exists(), "a dead writer's temporary cache stays");
    if Path::new("/proc/1").exists() {
        assert!(
            running.exists(),
            "a running process's temporary cache was removed"
        );
    }
    for p in &unrelated {
        assert!(p.exists(), "{} was removed", p.display());
    }
}
