//! Scale-out: `extract` to a traffic dataset, projects that read one, device-group exports and
//! the Spark recipe, each checked against the single-machine path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use labelbench::export::{export, ExportOptions, Format};
use labelbench::project::session::{OpenOptions, Session};
use labelbench::traffic::dataset::{self, TrafficFilter};
use labelbench::traffic::devices::Registry;
use polars::prelude::*;

use crate::common::{bin, have_python, run_bad, run_ok, script, tree};

fn pcaps(lab: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(lab.join("pcaps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn extract_all(files: &[PathBuf], reg: &Registry, out: &Path) {
    labelbench::export::extract::prepare_out(out, files).unwrap();
    for f in files {
        labelbench::export::extract::extract_file(f, reg, &Default::default(), out).unwrap();
    }
}

/// A project file beside `lab`'s sample project that reads `traffic` instead of its captures.
fn traffic_project(lab: &Path, traffic: &str) -> PathBuf {
    let mut p: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lab.join("sample.labelbench.json")).unwrap())
            .unwrap();
    p["captures"] = serde_json::json!([]);
    p["traffic"] = traffic.into();
    let out = lab.join("traffic.labelbench.json");
    std::fs::write(&out, serde_json::to_vec_pretty(&p).unwrap()).unwrap();
    out
}

/// A simulated lab's captures extracted to `traffic/` beside its project, and a project that
/// reads them: (the lab's folder, that project).
pub(crate) fn as_traffic_dataset(project: &Path) -> (PathBuf, PathBuf) {
    let lab = project.parent().unwrap().to_path_buf();
    let reg = Registry::load(&lab.join("devices.json")).unwrap();
    extract_all(&pcaps(&lab), &reg, &lab.join("traffic"));
    let tp = traffic_project(&lab, "traffic");
    (lab, tp)
}

#[test]
fn extract_is_deterministic_and_reads_back_as_the_captures() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 6, 1, 5, Some(20_000));
    let lab = r.project.parent().unwrap();
    let files = pcaps(lab);
    assert!(files.len() >= 24, "{files:?}");
    let reg = Registry::load(&lab.join("devices.json")).unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    extract_all(&files, &reg, &a);
    extract_all(&files, &reg, &b);
    let ta = tree(&a);
    assert_eq!(ta, tree(&b), "two extracts of the same files differ");
    // A rerun into the same dataset rewrites the same files: nothing is added.
    extract_all(&files[..3], &reg, &a);
    assert_eq!(ta, tree(&a));
    let partitions = ta
        .keys()
        .filter(|k| k.to_string_lossy().starts_with("packets/date="))
        .count();
    assert!(partitions >= files.len(), "{partitions} packet partitions");

    let timeouts = Default::default();
    let mut r1 = reg.clone();
    let whole = labelbench::traffic::ingest(&files, &mut r1, None, &timeouts);
    let mut r2 = reg.clone();
    let back = dataset::load(&a, &mut r2, &timeouts, &TrafficFilter::default()).unwrap();
    assert_eq!(back.packets, whole.packets);
    assert_eq!(back.flows, whole.flows);
    assert_eq!(back.by_device, whole.by_device);
    assert_eq!(r1.devices, r2.devices);

    // One device's read holds exactly its packets and flows.
    let dev = r1.by_name("kasa-plug-01").unwrap_or(0);
    let name = r1.devices[dev as usize].name.clone();
    let mut r3 = reg.clone();
    let filter = TrafficFilter::parse_devices(&name);
    let one = dataset::load(&a, &mut r3, &timeouts, &filter).unwrap();
    let d3 = r3.by_name(&name).unwrap();
    let ts = |t: &labelbench::traffic::Traffic, d: u16| -> Vec<i64> {
        t.by_device[d as usize]
            .iter()
            .map(|&i| t.packets.ts[i as usize])
            .collect()
    };
    assert_eq!(ts(&one, d3), ts(&whole, dev));
    assert!(
        one.packets.len() < whole.packets.len() / 2,
        "read more than one device"
    );
    let flows = |t: &labelbench::traffic::Traffic, d: u16, r: &Registry| -> Vec<(i64, i64, u64)> {
        let mut v: Vec<_> = t
            .flows
            .iter()
            .filter(|f| f.device == d)
            .map(|f| (f.first_ns, f.last_ns, f.packets()))
            .collect();
        v.sort();
        assert!(!v.is_empty(), "{}", r.devices[d as usize].name);
        v
    };
    assert_eq!(flows(&one, d3, &r3), flows(&whole, dev, &r1));
}

pub(crate) fn read_table(dir: &Path, name: &str) -> DataFrame {
    let f = std::fs::File::open(dir.join(format!("{name}.parquet"))).unwrap();
    ParquetReader::new(f).finish().unwrap()
}

/// An export of one time slice of a traffic-dataset project (`--from`, `--to`) reads only the
/// packets its events' windows need and writes the whole export's events and features of that
/// slice, row for row. Its flows are the whole export's flows that start in the slice, except
/// that one still open at the slice's end ends `eof`, and a flow begun before the slice and
/// still running in it appears from its first packet in the slice.
#[test]
fn a_time_slice_export_holds_the_whole_exports_rows_of_its_slice() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 6, 3, 5, Some(20_000));
    let (_, tp) = as_traffic_dataset(&r.project);
    let (whole, slice) = (dir.path().join("whole"), dir.path().join("slice"));
    run_ok(
        Command::new(bin())
            .arg("export")
            .arg(&tp)
            .arg("--out")
            .arg(&whole),
    );
    let events = read_table(&whole, "events");
    let t = events.column("adjusted_ns").unwrap().i64().unwrap();
    let (first, last) = (t.min().unwrap(), t.max().unwrap());
    let (a, b) = (first + (last - first) / 3, first + 2 * (last - first) / 3);
    let rfc = |ns: i64| chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339();
    run_ok(
        Command::new(bin())
            .arg("export")
            .arg(&tp)
            .arg("--out")
            .arg(&slice)
            .args(["--from", &rfc(a), "--to", &rfc(b)]),
    );
    let in_slice = |df: DataFrame, c: &str| {
        let t = df.column(c).unwrap().i64().unwrap().clone();
        let m: Vec<bool> = t.into_no_null_iter().map(|v| v >= a && v < b).collect();
        df.filter(&BooleanChunked::from_slice("m".into(), &m))
            .unwrap()
    };
    let evs = in_slice(events, "adjusted_ns");
    assert!(evs.height() >= 50, "{} events in the slice", evs.height());
    assert_eq!(read_table(&slice, "events"), evs);
    let ids: std::collections::BTreeSet<u64> = evs
        .column("event_id")
        .unwrap()
        .u64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let all = read_table(&whole, "features");
    let m: Vec<bool> = all
        .column("event_id")
        .unwrap()
        .u64()
        .unwrap()
        .into_no_null_iter()
        .map(|v| ids.contains(&v))
        .collect();
    let feats = all
        .filter(&BooleanChunked::from_slice("m".into(), &m))
        .unwrap();
    assert_eq!(read_table(&slice, "features"), feats);
    // Flows, keyed by their endpoints and first packet.
    let key = |df: &DataFrame, i: usize| -> String {
        [
            "device", "protocol", "ip_a", "port_a", "mac_a", "ip_b", "port_b", "mac_b", "first_ns",
        ]
        .iter()
        .map(|c| df.column(c).unwrap().get(i).unwrap().to_string())
        .collect::<Vec<_>>()
        .join("|")
    };
    let rest = [
        "last_ns",
        "packets_ab",
        "packets_ba",
        "bytes_ab",
        "bytes_ba",
        "community_id",
    ];
    let rows = |df: &DataFrame| -> BTreeMap<String, (String, String)> {
        (0..df.height())
            .map(|i| {
                let v: Vec<String> = rest
                    .iter()
                    .map(|c| df.column(c).unwrap().get(i).unwrap().to_string())
                    .collect();
                let end = df.column("end").unwrap().get(i).unwrap().to_string();
                (key(df, i), (v.join("|"), end))
            })
            .collect()
    };
    let w = rows(&in_slice(read_table(&whole, "flows"), "first_ns"));
    let sl = rows(&read_table(&slice, "flows"));
    assert!(w.len() >= 100, "{} flows", w.len());
    let mut ended_eof = 0;
    for (k, (v, end)) in &w {
        let (sv, send) = sl
            .get(k)
            .unwrap_or_else(|| panic!("flow {k} missing from the slice"));
        if (sv, send) == (v, end) {
            continue;
        }
        // Only a flow still open at the slice's end differs: cut there, it ends `eof`.
        let last: i64 = v.split('|').next().unwrap().parse().unwrap();
        let open_at_end = last >= b || !["\"fin\"", "\"rst\""].contains(&end.as_str());
        assert!(
            send == "\"eof\"" && open_at_end,
            "flow {k}: {v} {end} / {sv} {send}"
        );
        ended_eof += 1;
    }
    // The slice's other flows are pieces of flows that began before it.
    let whole_flows = read_table(&whole, "flows");
    let earlier: std::collections::BTreeSet<String> = (0..whole_flows.height())
        .filter(|&i| {
            whole_flows
                .column("first_ns")
                .unwrap()
                .get(i)
                .unwrap()
                .try_extract::<i64>()
                .unwrap()
                < a
        })
        .map(|i| key(&whole_flows, i).rsplit_once('|').unwrap().0.to_string())
        .collect();
    let pieces = sl.keys().filter(|k| !w.contains_key(*k)).count();
    for k in sl.keys().filter(|k| !w.contains_key(*k)) {
        assert!(earlier.contains(k.rsplit_once('|').unwrap().0), "flow {k}");
    }
    assert!(
        ended_eof + pieces < w.len() / 10,
        "{ended_eof} eof, {pieces} pieces"
    );
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(slice.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["range_ns"], serde_json::json!([a, b]));
    // A model trained on the slice learns from the slice's events only.
    let train = |args: &[&str]| -> serde_json::Value {
        let out = run_ok(
            Command::new(bin())
                .arg("train")
                .arg(&tp)
                .arg("--json")
                .args(args),
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let sliced = train(&["--from", &rfc(a), "--to", &rfc(b)])["events"]
        .as_u64()
        .unwrap();
    let all = train(&[])["events"].as_u64().unwrap();
    assert!(
        sliced > 0 && sliced as usize <= feats.height() && sliced < all,
        "{sliced} of {all}"
    );
    // A slice that ends before it begins is refused.
    run_bad(
        Command::new(bin())
            .arg("export")
            .arg(&tp)
            .arg("--out")
            .arg(dir.path().join("bad"))
            .args(["--from", &rfc(b), "--to", &rfc(a)]),
    );
}

/// A time slice of a project of captures writes the slice's rows, and its annotated pcapng
/// holds only the slice's packets.
#[test]
fn a_time_slice_of_captures_cuts_the_pcapng_to_the_slice() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 4, 2, 3, Some(10_000));
    let out = dir.path().join("slice");
    let (a, b) = ("2021-03-08T12:00:00Z", "2021-03-09T00:00:00Z");
    run_ok(
        Command::new(bin())
            .arg("export")
            .arg(&r.project)
            .arg("--out")
            .arg(&out)
            .args(["--pcapng", "--from", a, "--to", b]),
    );
    let ns = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
    };
    let (a, b) = (ns(a), ns(b));
    let t = read_table(&out, "events");
    let t = t.column("adjusted_ns").unwrap().i64().unwrap().clone();
    assert!(t.len() > 10, "{} events", t.len());
    assert!(t.into_no_null_iter().all(|t| (a..b).contains(&t)));
    let mut packets = 0;
    for f in std::fs::read_dir(out.join("pcapng")).unwrap() {
        let p = f.unwrap().path();
        labelbench::capture::for_each_record(&p, |_, ts, _, _| {
            assert!((a..b).contains(&ts), "{} at {ts}", p.display());
            packets += 1;
        })
        .unwrap();
    }
    assert!(packets > 1000, "{packets} packets");
}

/// Curating a traffic-dataset project one day at a time (`curate --accept-all --by-day`, each
/// day reading only its packets) meets the curation goals against the simulator's
/// truth, as curating the whole span at once does.
#[test]
fn curating_day_by_day_meets_the_goals_of_curating_at_once() {
    use labelbench::devtools::evaluate::against_ground_truth;
    use labelbench::devtools::sim::{generate, Defects, SimOptions};
    let dir = tempfile::tempdir().unwrap();
    let o = SimOptions {
        devices: 10,
        days: 3,
        seed: 1,
        defects: Defects::real_lab(),
        ..Default::default()
    };
    let r = generate(&dir.path().join("lab"), &o).unwrap();
    let (lab, tp) = as_traffic_dataset(&r.project);
    let gt = lab.join("ground-truth.csv");
    let mut whole = Session::open(&r.project, OpenOptions::default(), None).unwrap();
    let cfg = Default::default();
    labelbench::curation::run_all(&mut whole, &labelbench::curation::Acceptance::all(), &cfg)
        .unwrap();
    let at_once = against_ground_truth(&whole, &gt).unwrap();
    // A slice's suggestions are about its own time (or a source as a whole).
    let out = run_ok(
        Command::new(bin())
            .arg("curate")
            .arg(&tp)
            .arg("--json")
            .args(["--from", "2021-03-09", "--to", "2021-03-10"]),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (a, b) = (1_615_248_000_000_000_000_i64, 1_615_334_400_000_000_000_i64);
    let margin = 5 * 60 * 1_000_000_000;
    let sugg = v["suggestions"].as_array().unwrap();
    assert!(sugg.len() >= 20, "{} suggestions", sugg.len());
    for x in sugg
        .iter()
        .filter(|x| !["source-offset", "time-zone"].contains(&x["kind"].as_str().unwrap()))
    {
        let t = x["at_ns"].as_i64().unwrap();
        assert!(t >= a - margin && t < b + margin, "{x}");
    }
    // One day at a time, each day reading only its packets (`--from DAY --to DAY+1` per day).
    let out = run_ok(Command::new(bin()).arg("curate").arg(&tp).args([
        "--accept-all",
        "--by-day",
        "--json",
    ]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["applied_edits"].as_u64().unwrap() >= 100,
        "{}",
        v["applied_edits"]
    );
    let s = crate::common::open_journaled(&tp);
    let by_day = against_ground_truth(&s, &gt).unwrap();
    eprintln!("at once: {at_once:?}\nby day: {by_day:?}");
    assert!(by_day.minute_events >= 300, "{by_day:?}");
    assert!(
        by_day.dup_precision >= 0.98 && by_day.dup_recall >= 0.98,
        "{by_day:?}"
    );
    assert!(by_day.median_abs_error_s <= 2.0, "{by_day:?}");
    assert!(by_day.p95_abs_error_s <= 10.0, "{by_day:?}");
    assert_eq!(by_day.wrongly_rejected, 0, "{by_day:?}");
}

#[test]
fn device_group_exports_add_up_to_the_whole_export() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 8, 1, 9, Some(30_000));
    let (lab, tp) = as_traffic_dataset(&r.project);
    let o = ExportOptions {
        format: Format::Parquet,
        pcap_slices: false,
        pcapng: false,
        include_rejected: true,
        force: false,
        only_devices: None,
        range: None,
        by_day: false,
    };
    let open = |p: &Path, f: &TrafficFilter| {
        Session::open_filtered(p, OpenOptions::default(), f, None).unwrap()
    };
    let whole_dir = dir.path().join("whole");
    export(&open(&r.project, &Default::default()), &whole_dir, &o, None).unwrap();
    let from_dataset = dir.path().join("from-dataset");
    export(&open(&tp, &Default::default()), &from_dataset, &o, None).unwrap();

    let reg = Registry::load(&lab.join("devices.json")).unwrap();
    let groups = dataset::plan_groups(&lab.join("traffic"), &reg, 3).unwrap();
    assert_eq!(groups.len(), 3, "{groups:?}");
    let mut parts: BTreeMap<&str, Vec<DataFrame>> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        let f = TrafficFilter::parse_devices(&g.join(","));
        let s = open(&tp, &f);
        let set = g
            .iter()
            .map(|n| match n.as_str() {
                "-" => labelbench::traffic::NO_DEVICE,
                n => s.registry.by_name(n).unwrap(),
            })
            .collect();
        let out = dir.path().join(format!("group-{i}"));
        let og = ExportOptions {
            only_devices: Some(set),
            ..o.clone()
        };
        export(&s, &out, &og, None).unwrap();
        for t in ["events", "features", "flows"] {
            parts.entry(t).or_default().push(read_table(&out, t));
        }
    }
    for (t, key) in [
        ("events", "event_id"),
        ("features", "event_id"),
        ("flows", "first_ns"),
    ] {
        let whole = read_table(&whole_dir, t);
        assert!(whole.height() > 0, "{t}");
        assert_eq!(read_table(&from_dataset, t), whole, "{t} from the dataset");
        let mut union = parts[t][0].clone();
        for p in &parts[t][1..] {
            union.vstack_mut(p).unwrap();
        }
        let drop = |df: DataFrame| df.drop("flow_id").unwrap_or(df);
        let (w, u) = (drop(whole), drop(union));
        let cols: Vec<String> = w.get_column_names().iter().map(|s| s.to_string()).collect();
        let keys: Vec<&str> = [key, "device", "ip_a", "port_a", "ip_b", "port_b", "mac_a"]
            .into_iter()
            .filter(|k| cols.iter().any(|c| c == k))
            .collect();
        let sort = |df: DataFrame| {
            df.sort(keys.clone(), SortMultipleOptions::default())
                .unwrap()
        };
        assert_eq!(w.height(), u.height(), "{t}: rows");
        assert_eq!(
            sort(w),
            sort(u),
            "{t}: the groups' rows differ from the whole export's"
        );
    }
}

#[test]
fn extract_and_traffic_projects_refuse_what_they_cannot_do_right() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 4, 1, 2, Some(5_000));
    let lab = r.project.parent().unwrap().to_path_buf();
    let first = pcaps(&lab)[0].clone();
    // A folder of someone else's files is never written into.
    let foreign = dir.path().join("notes");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("todo.txt"), "keep").unwrap();
    let e = run_bad(
        Command::new(bin())
            .arg("extract")
            .arg(&first)
            .arg("--out")
            .arg(&foreign),
    );
    assert!(
        e.contains("notes") && e.contains("refused") || e.contains("not empty"),
        "{e}"
    );
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 1);
    // The captures' own folder is refused too.
    let e = run_bad(
        Command::new(bin())
            .arg("extract")
            .arg(&first)
            .arg("--out")
            .arg(lab.join("pcaps")),
    );
    assert!(e.contains("pcaps"), "{e}");

    // Extracted with one registry, read by device with another: refused, not misfiled.
    let ds = dir.path().join("ds");
    run_ok(
        Command::new(bin())
            .arg("extract")
            .arg(&first)
            .arg("--out")
            .arg(&ds),
    );
    let reg = Registry::load(&lab.join("devices.json")).unwrap();
    let mut r2 = reg.clone();
    let name = reg.devices[0].name.clone();
    let e = dataset::load(
        &ds,
        &mut r2,
        &Default::default(),
        &TrafficFilter::parse_devices(&name),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("another device registry"), "{e}");
    // The same file extracted again with other settings would count its packets twice.
    run_ok(
        Command::new(bin())
            .arg("extract")
            .arg(&first)
            .arg("--out")
            .arg(&ds)
            .args(["--flow-timeouts", "zeek"]),
    );
    let e = dataset::manifest(&ds).unwrap_err().to_string();
    assert!(e.contains("extracted twice"), "{e}");

    // `new --traffic` names the dataset; `--only-devices` with an unknown name is an error.
    let good = dir.path().join("good");
    run_ok(
        Command::new(bin())
            .arg("extract")
            .arg(pcaps(&lab)[1].clone())
            .arg("--devices")
            .arg(lab.join("devices.json"))
            .arg("--out")
            .arg(&good),
    );
    let proj = dir.path().join("t.labelbench.json");
    run_ok(
        Command::new(bin())
            .arg("new")
            .arg(&proj)
            .arg("--traffic")
            .arg(&good)
            .arg("--devices")
            .arg(lab.join("devices.json")),
    );
    let o = run_ok(Command::new(bin()).arg("inspect").arg(&proj));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("traffic dataset"), "{text}");
    let e = run_bad(
        Command::new(bin())
            .arg("export")
            .arg(&proj)
            .arg("--out")
            .arg(dir.path().join("x"))
            .arg("--only-devices=nosuch-device"),
    );
    assert!(e.contains("nosuch-device"), "{e}");
}

/// The Spark recipe in local mode over the bundled sample and a multi-file simulated lab with
/// hubs: events, features and flows equal a single-machine export row for row.
#[test]
fn spark_recipe_equals_single_machine_export() {
    if !have_python(&["pyspark", "polars"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data"),
        &sample,
    );
    let sim = dir.path().join("sim");
    crate::common::sim(&sim, 9, 2, 13, Some(40_000));
    // The multi-day lab's group tasks export by day.
    for (lab, work, by_day) in [
        (&sample, dir.path().join("w1"), None),
        (&sim, dir.path().join("w2"), Some("--by-day")),
    ] {
        std::fs::create_dir_all(&work).unwrap();
        let o = run_ok(
            Command::new("python3")
                .arg(script("spark_check.py"))
                .arg(bin())
                .arg(lab)
                .arg(&work)
                .args(by_day),
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        for t in ["events", "features", "flows"] {
            assert_eq!(v["tables"][t]["equal"], true, "{}: {t}: {v}", lab.display());
        }
        assert_eq!(v["extract_identical"], true, "{v}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else if p.extension().is_none_or(|x| x != "cache") {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// Inputs that are not captures (a Git LFS pointer) are named, and a run where none could be
/// read fails rather than exit 0 with an empty dataset.
#[test]
fn extract_of_only_unreadable_files_fails_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let ptr = dir.path().join("a.pcap");
    std::fs::write(
        &ptr,
        "version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 12\n",
    )
    .unwrap();
    let e = run_bad(
        Command::new(bin())
            .arg("extract")
            .arg(&ptr)
            .arg("--out")
            .arg(dir.path().join("ds")),
    );
    assert!(e.contains("a.pcap") && e.contains("LFS"), "{e}");
}

/// A damaged table of one input is that input's fatal issue, named with the file; the other
/// inputs still load.
#[test]
fn a_damaged_dataset_table_is_named_and_the_rest_loads() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(&dir.path().join("lab"), 4, 1, 3, Some(5_000));
    let lab = r.project.parent().unwrap().to_path_buf();
    let reg = Registry::load(&lab.join("devices.json")).unwrap();
    let ds = dir.path().join("ds");
    let files = pcaps(&lab);
    extract_all(&files[..2], &reg, &ds);
    let conv = std::fs::read_dir(ds.join("conversations"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(&conv).unwrap();
    std::fs::write(&conv, &bytes[..bytes.len() / 2]).unwrap();
    let mut r2 = reg.clone();
    let t = dataset::load(&ds, &mut r2, &Default::default(), &TrafficFilter::default()).unwrap();
    let fatal: Vec<String> = t
        .issues
        .iter()
        .filter(|i| i.fatal)
        .map(|i| i.to_string())
        .collect();
    assert_eq!(fatal.len(), 1, "{fatal:?}");
    let name = conv.file_name().unwrap().to_string_lossy().into_owned();
    assert!(fatal[0].contains(&name), "{fatal:?}");
    assert!(!t.packets.is_empty(), "the other input was not loaded");
}
