//! Learning on simulator data: determinism, the tree cross-check, report structure.

use labelbench::learn::{forest::MaxFeatures, train, train_rows, Model};
use labelbench::project::session::{OpenOptions, Session};
use labelbench::project::TrainSettings;

fn session(dir: &std::path::Path) -> Session {
    let r = crate::common::sim(dir, 12, 2, 31, Some(400_000));
    let mut s = Session::open(&r.project, OpenOptions::default(), None).unwrap();
    labelbench::curation::run_all(
        &mut s,
        &labelbench::curation::Acceptance::all(),
        &Default::default(),
    )
    .unwrap();
    s
}

fn strip_time(mut v: serde_json::Value) -> serde_json::Value {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("fit_seconds");
                m.values_mut().for_each(walk);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[test]
fn same_seed_same_report_and_cells_hold_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path());
    for scope in [
        labelbench::learn::Scope::Device,
        labelbench::learn::Scope::Global,
    ] {
        let ts = TrainSettings {
            scope,
            ..Default::default()
        };
        let a = serde_json::to_string(&strip_time(
            serde_json::to_value(train(&s, &ts).unwrap()).unwrap(),
        ))
        .unwrap();
        let b = serde_json::to_string(&strip_time(
            serde_json::to_value(train(&s, &ts).unwrap()).unwrap(),
        ))
        .unwrap();
        assert_eq!(a, b, "{scope:?}: report differs between runs");
        let r = train(&s, &ts).unwrap();
        let n: usize = r.cell_events.iter().flatten().map(|c| c.len()).sum();
        assert_eq!(n, r.events);
        let total: usize = r.confusion.iter().flatten().sum();
        assert_eq!(total, r.events);
        assert_eq!(r.per_class.len(), r.classes.len());
        assert!(r.accuracy > 0.5, "{scope:?}: {}", r.accuracy);
        assert_eq!(r.importances.len(), 40);
        if scope == labelbench::learn::Scope::Device {
            assert!(r.devices.as_ref().unwrap().len() >= 4);
        }
    }
    let tb = TrainSettings {
        time_blocked: true,
        scope: labelbench::learn::Scope::Global,
        ..Default::default()
    };
    assert!(train(&s, &tb).unwrap().time_blocked);
}

#[test]
fn linfa_tree_and_our_cart_agree() {
    let dir = tempfile::tempdir().unwrap();
    let s = session(dir.path());
    let rows = labelbench::learn::features::extract(&s, &s.project.window, 1);
    let ts = TrainSettings {
        scope: labelbench::learn::Scope::Global,
        max_depth: 15,
        ..Default::default()
    };
    let tree = train_rows(&s, &rows, &ts, Model::Tree, MaxFeatures::All).unwrap();
    let cart = train_rows(&s, &rows, &ts, Model::Cart, MaxFeatures::All).unwrap();
    eprintln!(
        "linfa-trees {:.4}, our CART {:.4}",
        tree.accuracy, cart.accuracy
    );
    assert!(
        (tree.accuracy - cart.accuracy).abs() <= 0.02,
        "tree {} vs cart {}",
        tree.accuracy,
        cart.accuracy
    );
}

#[test]
fn training_stops_when_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(dir.path(), 6, 1, 5, Some(60_000));
    let s = Session::open(&r.project, OpenOptions::default(), None).unwrap();
    let p = labelbench::progress::Progress::new();
    let ts = TrainSettings {
        scope: labelbench::learn::Scope::Global,
        ..Default::default()
    };
    assert!(labelbench::learn::train_with(&s, &ts, Some(&p)).is_ok());
    assert!(p.fraction() > 0.99, "folds reported: {}", p.fraction());
    p.cancel();
    assert!(matches!(
        labelbench::learn::train_with(&s, &ts, Some(&p)),
        Err(labelbench::Error::Cancelled)
    ));
}

/// `train --compare` on a simulated per-event dataset: the table (stdout, CSV, and in
/// model_report.json) has every model per device on the same folds, and scikit-learn's
/// DecisionTree, RandomForest, ExtraTrees and stratified guess, trained on the exported
/// features with those folds, give means close to labelbench's; every learned model beats
/// the random baseline in both.
#[test]
fn the_classifier_comparison_agrees_with_scikit_learn() {
    use crate::common::{bin, export_csv, have_python, run_ok, script};
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("pe");
    run_ok(
        Command::new(bin())
            .arg("demo-data")
            .arg("--out")
            .arg(&d)
            .args(["--per-event-captures", "--days", "2", "--scale", "200000"]),
    );
    let proj = d.join("sample.labelbench.json");
    let o = run_ok(
        Command::new(bin())
            .arg("train")
            .arg(&proj)
            .args(["--compare", "tree,forest,extra-trees"]),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("extra-trees") && text.contains("random"),
        "{text}"
    );
    let csv = std::fs::read_to_string(d.join("sample.labelbench.model_comparison.csv")).unwrap();
    let devices = csv.lines().filter(|l| l.contains(",forest,")).count();
    assert!(devices >= 9, "{csv}");
    assert_eq!(csv.lines().count(), 1 + 4 * devices, "{csv}");
    let out = d.join("out");
    export_csv(&proj, &out);
    if !have_python(&["pandas", "sklearn"]) {
        return;
    }
    let o = run_ok(
        Command::new("python3")
            .arg(script("compare_sklearn.py"))
            .arg(&out),
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mean = |m: &str, k: &str| v["mean"][m][k].as_f64().unwrap();
    for m in ["tree", "forest", "extra-trees", "random"] {
        let (ours, theirs) = (
            mean(m, "labelbench_precision"),
            mean(m, "sklearn_precision"),
        );
        assert!(
            (ours - theirs).abs() < 0.06,
            "{m}: labelbench {ours} scikit-learn {theirs}"
        );
    }
    for m in ["tree", "forest", "extra-trees"] {
        for who in ["labelbench_precision", "sklearn_precision"] {
            assert!(mean(m, who) > mean("random", who) + 0.15, "{m} {who}: {v}");
        }
    }
}
