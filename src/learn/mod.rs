//! Stage 5, learning: per-event traffic features ([`features`]), the decision tree
//! (linfa-trees) and the project's random forest ([`forest`]), seeded k-fold cross-validation
//! (stratified, or time-blocked against leakage), per-device and global scopes, and a report
//! with the events behind every confusion-matrix cell.
//!
//! May use: [`crate::traffic`], [`crate::labels`], [`crate::project`].

pub mod compare;
pub mod features;
pub mod forest;
pub mod models;

pub use models::Model;

use std::collections::BTreeMap;
use std::time::Instant;

use linfa::Dataset;
use ndarray::{Array1, Array2};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::learn::features::FeatureRow;
use crate::project::session::Session;
use crate::project::TrainSettings;
use forest::MaxFeatures;

/// One model per device (as in the paper) or one global model over `device:class`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Device,
    Global,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "device" => Some(Scope::Device),
            "global" => Some(Scope::Global),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Device => "device",
            Scope::Global => "global",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ClassMetrics {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Mislabel {
    pub event_id: u64,
    pub label: String,
    pub predicted: String,
    pub confidence: f64,
}

/// Cross-validated evaluation of one scope unit (a device, or everything).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub model: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    pub folds: usize,
    pub seed: u64,
    pub time_blocked: bool,
    pub events: usize,
    pub accuracy: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub weighted_precision: f64,
    pub weighted_recall: f64,
    pub weighted_f1: f64,
    pub classes: Vec<String>,
    /// Rows = true class, columns = predicted, in `classes` order.
    pub confusion: Vec<Vec<usize>>,
    /// Event ids behind every cell.
    pub cell_events: Vec<Vec<Vec<u64>>>,
    pub per_class: Vec<ClassMetrics>,
    /// (feature, mean decrease in impurity), largest first.
    pub importances: Vec<(String, f64)>,
    /// Classes left out for having too few events.
    pub dropped_classes: Vec<(String, usize)>,
    pub possible_mislabels: Vec<Mislabel>,
    /// (event id, fold) of every evaluated event, so other tools can reuse the same folds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event_folds: Vec<(u64, usize)>,
    pub fit_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<Report>>,
    /// Per-device scope: devices with feature rows that got no model, with the reason (one
    /// class, as the three Blink cameras of the real lab; too few events a class).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices_left_out: Vec<(String, String)>,
    /// Active events without a training row, by reason.
    #[serde(default)]
    pub left_out: features::LeftOut,
    /// `train --compare`: every compared model's scores per device on the same folds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<compare::Comparison>,
}

/// Stratified fold assignment: each class shuffled (seeded) and dealt round-robin.
pub fn stratified_folds(y: &[usize], k: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut fold = vec![0; y.len()];
    let ncls = y.iter().max().map(|m| m + 1).unwrap_or(0);
    let mut offset = 0;
    for c in 0..ncls {
        let mut idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c).collect();
        idx.shuffle(&mut rng);
        for (j, &i) in idx.iter().enumerate() {
            fold[i] = (j + offset) % k;
        }
        offset += idx.len();
    }
    fold
}

/// Time-blocked folds: events closer than `gap_ns` form one group, groups are cut into k
/// contiguous time blocks of similar size, so near-duplicate events never straddle train/test.
pub fn time_blocked_folds(times: &[i64], k: usize, gap_ns: i64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by_key(|&i| (times[i], i));
    let n = times.len();
    let mut fold = vec![0; n];
    let mut f = 0;
    let per = n.div_ceil(k.max(1));
    let mut in_fold = 0;
    for (j, &i) in order.iter().enumerate() {
        if j > 0 && in_fold >= per && times[i] - times[order[j - 1]] > gap_ns && f + 1 < k {
            f += 1;
            in_fold = 0;
        }
        fold[i] = f;
        in_fold += 1;
    }
    fold
}

struct Unit<'a> {
    rows: Vec<&'a FeatureRow>,
    labels: Vec<String>,
}

/// Trains and evaluates with the settings; returns the report (global or per device).
pub fn train(s: &Session, ts: &TrainSettings) -> crate::Result<Report> {
    train_with(s, ts, None)
}

/// As [`train`], reporting folds done to `progress` and stopping (with
/// [`crate::Error::Cancelled`]) when it is cancelled: between folds, and for the forest and
/// CART models between trees.
pub fn train_with(
    s: &Session,
    ts: &TrainSettings,
    progress: Option<&crate::progress::Progress>,
) -> crate::Result<Report> {
    train_slice(s, ts, None, progress)
}

/// As [`train_with`] on the events whose adjusted time lies in `range` (`[start, end)`, UTC
/// ns; `None`: all): one time slice of a project opened for it (`train --from … --to …`).
pub fn train_slice(
    s: &Session,
    ts: &TrainSettings,
    range: Option<(i64, i64)>,
    progress: Option<&crate::progress::Progress>,
) -> crate::Result<Report> {
    let range = range.unwrap_or((i64::MIN, i64::MAX));
    let (rows, left_out) = features::slice_rows(s, &s.project.window, ts.seed, range, |_| true);
    train_feature_rows(s, &rows, left_out, ts, progress)
}

/// Trains and evaluates on feature rows computed beforehand (a day at a time: `train
/// --by-day`), with the settings' model; `left_out` goes into the report. `s` names the
/// devices.
pub fn train_feature_rows(
    s: &Session,
    rows: &[FeatureRow],
    left_out: features::LeftOut,
    ts: &TrainSettings,
    progress: Option<&crate::progress::Progress>,
) -> crate::Result<Report> {
    let mf = MaxFeatures::parse(&ts.max_features)
        .ok_or_else(|| crate::Error::Other(format!("bad max_features {:?}", ts.max_features)))?;
    if ts.folds < 2 {
        return Err(crate::Error::Other("folds must be at least 2".into()));
    }
    let mut r = train_rows_with(s, rows, ts, ts.model, mf, progress)?;
    r.left_out = left_out;
    Ok(r)
}

pub fn train_rows(
    s: &Session,
    rows: &[FeatureRow],
    ts: &TrainSettings,
    model: Model,
    mf: MaxFeatures,
) -> crate::Result<Report> {
    train_rows_with(s, rows, ts, model, mf, None)
}

pub fn train_rows_with(
    s: &Session,
    rows: &[FeatureRow],
    ts: &TrainSettings,
    model: Model,
    mf: MaxFeatures,
    progress: Option<&crate::progress::Progress>,
) -> crate::Result<Report> {
    let t0 = Instant::now();
    let model_name = model.as_str();
    match ts.scope {
        Scope::Global => {
            let u = Unit {
                rows: rows.iter().collect(),
                labels: rows
                    .iter()
                    .map(|r| format!("{}:{}", s.device_name(r.device), r.class))
                    .collect(),
            };
            if let Some(p) = progress {
                p.set_stage("cross-validation", ts.folds as u64);
            }
            let mut r = evaluate(&u, ts, model, mf, model_name, "global", None, progress)?;
            r.fit_seconds = t0.elapsed().as_secs_f64();
            Ok(r)
        }
        Scope::Device => {
            let mut by_dev: BTreeMap<String, Vec<&FeatureRow>> = BTreeMap::new();
            for r in rows {
                by_dev
                    .entry(s.device_name(r.device).to_string())
                    .or_default()
                    .push(r);
            }
            let mut reports = Vec::new();
            let mut left_out = Vec::new();
            if let Some(p) = progress {
                p.set_stage(
                    "cross-validation per device",
                    (by_dev.len() * ts.folds) as u64,
                );
            }
            for (name, rs) in by_dev {
                let u = Unit {
                    labels: rs.iter().map(|r| r.class.clone()).collect(),
                    rows: rs,
                };
                match evaluate(
                    &u,
                    ts,
                    model,
                    mf,
                    model_name,
                    "device",
                    Some(name.clone()),
                    progress,
                ) {
                    Ok(r) => reports.push(r),
                    Err(crate::Error::Cancelled) => return Err(crate::Error::Cancelled),
                    Err(e) => left_out.push((name, e.to_string())),
                }
            }
            if reports.is_empty() {
                let why: Vec<String> = left_out.iter().map(|(d, w)| format!("{d}: {w}")).collect();
                return Err(crate::Error::Other(format!(
                    "no device has two classes with enough events to train ({})",
                    why.join("; ")
                )));
            }
            // Pooled view: every device's out-of-fold predictions as device:class.
            let mut pooled_labels: Vec<(String, String, u64)> = Vec::new();
            for r in &reports {
                let dev = r.device.clone().unwrap_or_default();
                for (i, row) in r.cell_events.iter().enumerate() {
                    for (j, cell) in row.iter().enumerate() {
                        for &id in cell {
                            pooled_labels.push((
                                format!("{dev}:{}", r.classes[i]),
                                format!("{dev}:{}", r.classes[j]),
                                id,
                            ));
                        }
                    }
                }
            }
            let mut pooled = metrics_from_pairs(&pooled_labels);
            pooled.model = model_name.into();
            pooled.scope = "device".into();
            pooled.folds = ts.folds;
            pooled.seed = ts.seed;
            pooled.time_blocked = ts.time_blocked;
            pooled.importances = mean_importances(&reports);
            pooled.dropped_classes = reports
                .iter()
                .flat_map(|r| {
                    r.dropped_classes
                        .iter()
                        .map(|(c, n)| (format!("{}:{c}", r.device.clone().unwrap_or_default()), *n))
                })
                .collect();
            pooled.possible_mislabels = reports
                .iter()
                .flat_map(|r| r.possible_mislabels.clone())
                .collect();
            pooled.possible_mislabels.sort_by_key(|m| m.event_id);
            pooled.fit_seconds = t0.elapsed().as_secs_f64();
            pooled.devices = Some(reports);
            pooled.devices_left_out = left_out;
            Ok(pooled)
        }
    }
}

fn mean_importances(reports: &[Report]) -> Vec<(String, f64)> {
    let mut acc: BTreeMap<String, f64> = BTreeMap::new();
    for r in reports {
        for (n, v) in &r.importances {
            *acc.entry(n.clone()).or_default() += v / reports.len() as f64;
        }
    }
    let mut v: Vec<(String, f64)> = acc.into_iter().collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

#[allow(clippy::too_many_arguments)]
fn evaluate(
    u: &Unit,
    ts: &TrainSettings,
    model: Model,
    mf: MaxFeatures,
    model_name: &str,
    scope: &str,
    device: Option<String>,
    progress: Option<&crate::progress::Progress>,
) -> crate::Result<Report> {
    // Classes with enough events (at least the number of folds and the configured minimum).
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for l in &u.labels {
        *counts.entry(l.as_str()).or_default() += 1;
    }
    let min = ts.min_class_events.max(ts.folds);
    let classes: Vec<String> = counts
        .iter()
        .filter(|(_, &n)| n >= min)
        .map(|(c, _)| c.to_string())
        .collect();
    let dropped: Vec<(String, usize)> = counts
        .iter()
        .filter(|(_, &n)| n < min)
        .map(|(c, &n)| (c.to_string(), n))
        .collect();
    let keep: Vec<usize> = (0..u.rows.len())
        .filter(|&i| classes.binary_search(&u.labels[i]).is_ok())
        .collect();
    if classes.len() < 2 || keep.is_empty() {
        let have: Vec<String> = counts.iter().map(|(c, n)| format!("{c} {n}")).collect();
        let why = match counts.len() {
            1 => format!("one class only ({})", have.join(", ")),
            _ => format!(
                "fewer than two classes with {min} or more events ({})",
                have.join(", ")
            ),
        };
        return Err(crate::Error::Other(why));
    }
    let n = keep.len();
    let nf = features::N_FEATURES;
    let x = Array2::from_shape_fn((n, nf), |(i, j)| u.rows[keep[i]].values[j]);
    let y: Vec<usize> = keep
        .iter()
        .map(|&i| classes.binary_search(&u.labels[i]).unwrap_or(0))
        .collect();
    let ids: Vec<u64> = keep.iter().map(|&i| u.rows[i].event_id).collect();
    let times: Vec<i64> = keep.iter().map(|&i| u.rows[i].adjusted_ns).collect();
    let folds = if ts.time_blocked {
        time_blocked_folds(&times, ts.folds, 600_000_000_000)
    } else {
        stratified_folds(&y, ts.folds, ts.seed)
    };
    let k = classes.len();
    let mut pred = vec![0usize; n];
    let mut conf = vec![1.0f64; n];
    let mut imp = vec![0.0f64; nf];
    let t0 = Instant::now();
    for f in 0..ts.folds {
        if let Some(p) = progress {
            if p.cancelled() {
                return Err(crate::Error::Cancelled);
            }
            p.add(1);
        }
        let tr: Vec<usize> = (0..n).filter(|&i| folds[i] != f).collect();
        let te: Vec<usize> = (0..n).filter(|&i| folds[i] == f).collect();
        if tr.is_empty() || te.is_empty() {
            continue;
        }
        let xtr = x.select(ndarray::Axis(0), &tr);
        let ytr = Array1::from_iter(tr.iter().map(|&i| y[i]));
        let xte = x.select(ndarray::Axis(0), &te);
        let ds = Dataset::new(xtr, ytr);
        let stop = || progress.is_some_and(|p| p.cancelled());
        let fit = models::fit_fold(model, ts, mf, k, f, ds, &xte, &stop)?
            .ok_or(crate::Error::Cancelled)?;
        for (r, &i) in te.iter().enumerate() {
            pred[i] = fit.predicted[r];
            conf[i] = fit.confidence[r];
        }
        for (j, v) in fit.importances.iter().enumerate() {
            imp[j] += v / ts.folds as f64;
        }
    }
    let fit_seconds = t0.elapsed().as_secs_f64();
    let pairs: Vec<(String, String, u64)> = (0..n)
        .map(|i| (classes[y[i]].clone(), classes[pred[i]].clone(), ids[i]))
        .collect();
    let mut r = metrics_from_pairs(&pairs);
    // Keep every trained class in the matrix even if never predicted.
    r.model = model_name.into();
    r.scope = scope.into();
    r.device = device;
    r.folds = ts.folds;
    r.seed = ts.seed;
    r.time_blocked = ts.time_blocked;
    r.dropped_classes = dropped;
    let names = features::names();
    let mut im: Vec<(String, f64)> = names.into_iter().zip(imp).collect();
    im.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    r.importances = im;
    r.possible_mislabels = (0..n)
        .filter(|&i| pred[i] != y[i] && conf[i] >= 0.8 && model.gives_confidence())
        .map(|i| Mislabel {
            event_id: ids[i],
            label: classes[y[i]].clone(),
            predicted: classes[pred[i]].clone(),
            confidence: conf[i],
        })
        .collect();
    r.event_folds = ids.iter().zip(&folds).map(|(&id, &f)| (id, f)).collect();
    r.event_folds.sort();
    r.fit_seconds = fit_seconds;
    Ok(r)
}

/// Confusion matrix and metrics from (true, predicted, event id) triples; classes sorted.
/// The report with `device:class` pooled into `class` across devices (lock against unlock,
/// on against off, whatever the device), from the events behind every cell.
pub fn pool_by_class(r: &Report) -> Report {
    let bare = |c: &str| c.rsplit_once(':').map_or(c, |x| x.1).to_string();
    let mut pairs = Vec::new();
    for (i, row) in r.cell_events.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            for &id in cell {
                pairs.push((bare(&r.classes[i]), bare(&r.classes[j]), id));
            }
        }
    }
    let mut out = metrics_from_pairs(&pairs);
    out.model.clone_from(&r.model);
    out.scope = format!("{} by class", r.scope);
    out.folds = r.folds;
    out.seed = r.seed;
    out.importances.clone_from(&r.importances);
    out.fit_seconds = r.fit_seconds;
    out
}

pub fn metrics_from_pairs(pairs: &[(String, String, u64)]) -> Report {
    let mut classes: Vec<String> = pairs
        .iter()
        .flat_map(|p| [p.0.clone(), p.1.clone()])
        .collect();
    classes.sort();
    classes.dedup();
    let k = classes.len();
    let ix = |c: &str| classes.binary_search_by(|x| x.as_str().cmp(c)).unwrap_or(0);
    let mut cm = vec![vec![0usize; k]; k];
    let mut cells = vec![vec![Vec::<u64>::new(); k]; k];
    for (t, p, id) in pairs {
        let (a, b) = (ix(t), ix(p));
        cm[a][b] += 1;
        cells[a][b].push(*id);
    }
    for row in &mut cells {
        for c in row {
            c.sort();
        }
    }
    let n = pairs.len();
    let correct: usize = (0..k).map(|i| cm[i][i]).sum();
    let mut per_class = Vec::new();
    let (mut mp, mut mr, mut mf, mut wp, mut wr, mut wf) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let mut present = 0;
    for i in 0..k {
        let tp = cm[i][i] as f64;
        let support: usize = cm[i].iter().sum();
        let predicted: usize = (0..k).map(|r| cm[r][i]).sum();
        let p = if predicted > 0 {
            tp / predicted as f64
        } else {
            0.0
        };
        let r = if support > 0 {
            tp / support as f64
        } else {
            0.0
        };
        let f = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        if support > 0 {
            present += 1;
            mp += p;
            mr += r;
            mf += f;
        }
        let w = support as f64 / n.max(1) as f64;
        wp += w * p;
        wr += w * r;
        wf += w * f;
        per_class.push(ClassMetrics {
            class: classes[i].clone(),
            precision: p,
            recall: r,
            f1: f,
            support,
        });
    }
    let pc = present.max(1) as f64;
    Report {
        model: String::new(),
        scope: String::new(),
        device: None,
        folds: 0,
        seed: 0,
        time_blocked: false,
        events: n,
        accuracy: correct as f64 / n.max(1) as f64,
        macro_precision: mp / pc,
        macro_recall: mr / pc,
        macro_f1: mf / pc,
        weighted_precision: wp,
        weighted_recall: wr,
        weighted_f1: wf,
        classes,
        confusion: cm,
        cell_events: cells,
        per_class,
        importances: vec![],
        dropped_classes: vec![],
        left_out: Default::default(),
        possible_mislabels: vec![],
        event_folds: vec![],
        fit_seconds: 0.0,
        devices: None,
        devices_left_out: vec![],
        comparison: None,
    }
}

/// A readable report.
pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} model, {} scope, {} folds{}, seed {}: {} events",
        r.model,
        r.scope,
        r.folds,
        if r.time_blocked {
            " (time-blocked)"
        } else {
            " (stratified)"
        },
        r.seed,
        r.events
    );
    let _ = writeln!(
        o,
        "accuracy {:.3}   macro P/R/F1 {:.3}/{:.3}/{:.3}   weighted F1 {:.3}   fit {:.2} s",
        r.accuracy, r.macro_precision, r.macro_recall, r.macro_f1, r.weighted_f1, r.fit_seconds
    );
    if let Some(line) = r.left_out.describe() {
        let _ = writeln!(o, "{line}");
    }
    for (d, why) in &r.devices_left_out {
        let _ = writeln!(o, "no model for {d}: {why}");
    }
    if let Some(devs) = &r.devices {
        let _ = writeln!(o, "\nper device");
        for d in devs {
            let _ = writeln!(
                o,
                "  {:<26} {:>5} events {:>2} classes  accuracy {:.3}  macro F1 {:.3}",
                d.device.as_deref().unwrap_or(""),
                d.events,
                d.classes.len(),
                d.accuracy,
                d.macro_f1
            );
        }
    }
    let _ = writeln!(
        o,
        "\n{:<34} {:>9} {:>9} {:>9} {:>8}",
        "class", "precision", "recall", "f1", "support"
    );
    for c in &r.per_class {
        let _ = writeln!(
            o,
            "{:<34} {:>9.3} {:>9.3} {:>9.3} {:>8}",
            c.class, c.precision, c.recall, c.f1, c.support
        );
    }
    if r.classes.len() <= 16 {
        let _ = writeln!(o, "\nconfusion (rows = true, columns = predicted)");
        for (i, row) in r.confusion.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:>5}")).collect();
            let _ = writeln!(o, "  {:<30} {}", r.classes[i], cells.join(""));
        }
    }
    let _ = writeln!(o, "\ntop features");
    for (n, v) in r.importances.iter().take(8) {
        let _ = writeln!(o, "  {n:<16} {v:.3}");
    }
    if !r.possible_mislabels.is_empty() {
        let _ = writeln!(
            o,
            "\n{} possible mislabels (out-of-fold prediction ≥ 0.8 disagrees)",
            r.possible_mislabels.len()
        );
        for m in r.possible_mislabels.iter().take(10) {
            let _ = writeln!(
                o,
                "  event {}: labelled {}, predicted {} ({:.2})",
                m.event_id, m.label, m.predicted, m.confidence
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_folds_balance_classes() {
        let y: Vec<usize> = (0..100).map(|i| i % 3).collect();
        let f = stratified_folds(&y, 4, 1);
        for fold in 0..4 {
            let n = f.iter().filter(|&&x| x == fold).count();
            assert!((24..=26).contains(&n));
        }
        assert_eq!(f, stratified_folds(&y, 4, 1));
        assert_ne!(f, stratified_folds(&y, 4, 2));
    }

    #[test]
    fn time_blocks_keep_close_events_together() {
        let times: Vec<i64> = (0..40)
            .map(|i| (i / 2) as i64 * 3_600_000_000_000 + (i % 2) as i64)
            .collect();
        let f = time_blocked_folds(&times, 4, 600_000_000_000);
        for i in (0..40).step_by(2) {
            assert_eq!(f[i], f[i + 1]);
        }
        assert!(f.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*f.iter().max().unwrap(), 3);
    }

    #[test]
    fn metrics_by_hand() {
        let p = |a: &str, b: &str, id| (a.to_string(), b.to_string(), id);
        let r = metrics_from_pairs(&[
            p("on", "on", 1),
            p("on", "off", 2),
            p("off", "off", 3),
            p("off", "off", 4),
        ]);
        assert_eq!(r.classes, vec!["off", "on"]);
        assert_eq!(r.confusion, vec![vec![2, 0], vec![1, 1]]);
        assert_eq!(r.cell_events[1][0], vec![2]);
        assert!((r.accuracy - 0.75).abs() < 1e-12);
        // off: P = 2/3, R = 1; on: P = 1, R = 0.5
        assert!((r.per_class[0].precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.macro_recall - 0.75).abs() < 1e-12);
    }
}
