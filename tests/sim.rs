//! The simulator: determinism, ground truth, scale flags, and the bundled sample.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use labelbench::devtools::sim::{generate, SimOptions};
use labelbench::project::session::{OpenOptions, Session};

/// The simulator's files, without those a load or training adds beside the project.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    const ADDED: [&str; 5] = [
        "README.md",
        "sample.labelbench.edits.jsonl",
        "sample.labelbench.model_report.json",
        "sample.labelbench.model_comparison.csv",
        "sample.labelbench.cache",
    ];
    let mut out = crate::common::tree(dir);
    out.retain(|p, _| {
        let name = p.file_name().unwrap().to_string_lossy();
        !ADDED.contains(&name.as_ref()) && !p.to_string_lossy().contains(".labelbench.tmp")
    });
    out
}

#[test]
fn sample_data_matches_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let o = SimOptions {
        devices: 10,
        days: 1,
        seed: 1,
        scale_packets: Some(80_000),
        ..Default::default()
    };
    generate(dir.path(), &o).unwrap();
    let committed = files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data"));
    let fresh = files(dir.path());
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>()
    );
    for (k, v) in &fresh {
        assert!(committed[k] == *v, "sample-data/{} differs from the simulator's output; regenerate it (see sample-data/README.md)", k.display());
    }
}

#[test]
fn deterministic_and_seed_sensitive() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let o = SimOptions {
        devices: 6,
        days: 1,
        seed: 9,
        scale_packets: Some(40_000),
        ..Default::default()
    };
    generate(a.path(), &o).unwrap();
    generate(b.path(), &o).unwrap();
    generate(
        c.path(),
        &SimOptions {
            seed: 10,
            ..o.clone()
        },
    )
    .unwrap();
    assert_eq!(files(a.path()), files(b.path()));
    assert_ne!(files(a.path()), files(c.path()));
}

#[test]
fn scale_flags_and_clean_loading() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(dir.path(), 20, 2, 3, Some(300_000));
    assert_eq!(r.network_devices, 20);
    assert_eq!(r.pcap_files, 48);
    let err = (r.packets as f64 - 300_000.0).abs() / 300_000.0;
    assert!(err < 0.1, "asked 300000 packets, got {}", r.packets);
    let s = Session::open(&r.project, OpenOptions::default(), None).unwrap();
    assert_eq!(s.traffic.packets.len() as u64, r.packets);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    assert!(s.traffic.issues.is_empty());
    for src in &s.sources {
        assert!(src.load.errors.is_empty(), "{:?}", src.load.errors);
        assert_eq!(src.load.rows, src.load.events);
    }
    let reg = &s.registry;
    assert!(
        reg.devices
            .iter()
            .filter(|d| d.registered && d.hub.is_some())
            .count()
            >= 5
    );
}

#[test]
fn ground_truth_explains_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let o = SimOptions {
        devices: 16,
        days: 2,
        seed: 5,
        scale_packets: Some(200_000),
        ..Default::default()
    };
    generate(dir.path(), &o).unwrap();
    let mut rdr = csv::Reader::from_path(dir.path().join("ground-truth.csv")).unwrap();
    let mut rows_per_file: BTreeMap<String, usize> = BTreeMap::new();
    let mut events = 0;
    let mut defects: BTreeMap<String, usize> = BTreeMap::new();
    for r in rdr.records() {
        let r = r.unwrap();
        match &r[0] {
            "event" => events += 1,
            "row" => {
                *rows_per_file.entry(r[1].to_string()).or_default() += 1;
                let has_truth = !r[3].is_empty();
                let defect = r[8].to_string();
                assert!(
                    has_truth || defect == "no-traffic",
                    "row without truth: {r:?}"
                );
                *defects.entry(defect).or_default() += 1;
            }
            x => panic!("unknown record {x}"),
        }
    }
    assert!(events > 100);
    for (f, n) in &rows_per_file {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(text.lines().count(), *n, "{f}");
    }
    for d in ["duplicate", "repeat", "no-traffic"] {
        assert!(
            defects.get(d).copied().unwrap_or(0) > 0,
            "no {d} defects: {defects:?}"
        );
    }
}

/// A simulated project in `dir`; returns its pcaps in name (= time) order.
fn sim_pcaps(dir: &Path, devices: usize, seed: u64, packets: u64) -> Vec<PathBuf> {
    let o = SimOptions {
        devices,
        days: 1,
        seed,
        scale_packets: Some(packets),
        ..Default::default()
    };
    generate(dir, &o).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Ingests `files` with the project's registry in `dir`.
fn ingest(dir: &Path, files: &[PathBuf]) -> labelbench::traffic::Traffic {
    let mut reg = labelbench::traffic::devices::Registry::load(&dir.join("devices.json")).unwrap();
    labelbench::traffic::ingest(
        files,
        &mut reg,
        None,
        &labelbench::traffic::FlowTimeouts::default(),
    )
}

/// Packet columns, flows and the per-device index are identical.
fn assert_same_traffic(a: &labelbench::traffic::Traffic, b: &labelbench::traffic::Traffic) {
    assert_eq!(a.packets.len(), b.packets.len());
    assert_eq!(a.packets.ts, b.packets.ts);
    assert_eq!(a.packets.orig_len, b.packets.orig_len);
    assert_eq!(a.packets.bits, b.packets.bits);
    assert_eq!(a.packets.flow, b.packets.flow);
    let key = |t: &labelbench::traffic::Traffic| -> Vec<_> {
        t.flows
            .iter()
            .map(|f| {
                (
                    f.key,
                    f.first_ns,
                    f.last_ns,
                    f.packets(),
                    f.bytes(),
                    f.end,
                    f.first_ba,
                )
            })
            .collect()
    };
    assert_eq!(key(a), key(b));
    assert_eq!(a.by_device, b.by_device);
}

/// Files given out of time order take the sort-then-assemble path; the result must equal the
/// incremental path's.
#[test]
fn file_order_does_not_change_the_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = sim_pcaps(dir.path(), 5, 6, 80_000);
    let a = ingest(dir.path(), &files);
    files.reverse();
    let b = ingest(dir.path(), &files);
    assert_same_traffic(&a, &b);
}

/// A file whose records jump back in time part-way through switches the merge to the
/// sort-then-assemble path mid-file; the result must equal reading the files in order.
#[test]
fn a_backward_jump_inside_a_file_is_sorted_out() {
    use pcap_parser::{LegacyPcapBlock, PcapHeader, ToVec};
    let dir = tempfile::tempdir().unwrap();
    let files = sim_pcaps(dir.path(), 4, 9, 30_000);
    assert!(files.len() >= 3);
    // One nanosecond pcap holding the later half of the hours first, then the earlier half.
    let mut hdr = PcapHeader::new();
    hdr.magic_number = 0xa1b2_3c4d;
    hdr.snaplen = 65_535;
    let mut out = None;
    let half = files.len() / 2;
    for f in files[half..].iter().chain(&files[..half]) {
        labelbench::capture::for_each_record(f, |lt, ts, orig, data| {
            let o = out.get_or_insert_with(|| {
                hdr.network = lt;
                hdr.to_vec_raw().unwrap()
            });
            let b = LegacyPcapBlock {
                ts_sec: (ts / 1_000_000_000) as u32,
                ts_usec: (ts % 1_000_000_000) as u32,
                caplen: data.len() as u32,
                origlen: orig,
                data,
            };
            o.extend(b.to_vec_raw().unwrap());
        })
        .unwrap();
    }
    let jumbled = dir.path().join("jumbled.pcap");
    std::fs::write(&jumbled, out.unwrap()).unwrap();
    let a = ingest(dir.path(), &files);
    let b = ingest(dir.path(), &[jumbled]);
    assert_same_traffic(&a, &b);
}

/// `ifttt_clock_drift_ns_per_day` makes the IFTTT logger's clock gain linearly: in the ground
/// truth, logged minus true time of its rows rises by the drift a day (least squares over the
/// rows; the polling delay and the minute's truncation are noise around the line).
#[test]
fn an_ifttt_clock_drifts_linearly() {
    let dir = tempfile::tempdir().unwrap();
    let o = SimOptions {
        devices: 10,
        days: 3,
        seed: 4,
        scale_packets: Some(200_000),
        defects: labelbench::devtools::sim::Defects {
            ifttt_clock_drift_ns_per_day: 600_000_000_000,
            ..Default::default()
        },
        ..Default::default()
    };
    generate(dir.path(), &o).unwrap();
    let gt = std::fs::read_to_string(dir.path().join("ground-truth.csv")).unwrap();
    let pts: Vec<(f64, f64)> = gt
        .lines()
        .filter(|l| l.starts_with("row,labels/ifttt-events.csv"))
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let (t, logged): (i64, i64) = (f[6].parse().unwrap(), f[7].parse().unwrap());
            (
                (t - o.start_ns) as f64 / 86_400e9,
                (logged - t) as f64 / 1e9,
            )
        })
        .collect();
    assert!(pts.len() > 30, "{}", pts.len());
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let slope = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    assert!((slope - 600.0).abs() < 30.0, "{slope} s a day");
}
