//! The classifier comparison of the event-classification paper (Charyyev & Gunes, Figure 1):
//! per device, the cross-validated macro precision and recall of several models trained on
//! the same folds, the best per device, and a stratified random guess as the baseline.

use serde::Serialize;

use super::features::{self, FeatureRow};
use super::forest::MaxFeatures;
use super::{train_rows_with, Model, Report, Scope};
use crate::project::session::Session;
use crate::project::TrainSettings;

/// One model's cross-validated scores on one device (or their mean over devices).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Score {
    pub model: String,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub accuracy: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeviceScores {
    pub device: String,
    pub events: usize,
    pub classes: usize,
    /// In [`Comparison::models`] order.
    pub scores: Vec<Score>,
    /// The model(s) with the highest macro precision, the random baseline aside.
    pub best: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Models compared, the random baseline last.
    pub models: Vec<String>,
    pub folds: usize,
    pub seed: u64,
    pub time_blocked: bool,
    pub devices: Vec<DeviceScores>,
    /// Per model, the unweighted mean over devices.
    pub mean: Vec<Score>,
    /// Devices with feature rows that got no model, with the reason.
    pub devices_left_out: Vec<(String, String)>,
}

/// Reads a `--compare` list (`tree,forest,extra-trees`); the random baseline is always
/// added, last.
pub fn parse_models(list: &str) -> Result<Vec<Model>, String> {
    let mut models = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let m = Model::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Model::ALL.iter().map(|m| m.as_str()).collect();
            format!("unknown model {name:?} (known: {})", known.join(", "))
        })?;
        if !models.contains(&m) && m != Model::Random {
            models.push(m);
        }
    }
    if models.is_empty() {
        return Err("no model to compare".into());
    }
    models.push(Model::Random);
    Ok(models)
}

/// Trains every model of `models` per device on the same features and folds. Returns the
/// comparison and each model's full report (in `models` order).
pub fn compare(
    s: &Session,
    ts: &TrainSettings,
    models: &[Model],
    progress: Option<&crate::progress::Progress>,
) -> crate::Result<(Comparison, Vec<Report>)> {
    let mf = MaxFeatures::parse(&ts.max_features)
        .ok_or_else(|| crate::Error::Other(format!("bad max_features {:?}", ts.max_features)))?;
    if ts.folds < 2 {
        return Err(crate::Error::Other("folds must be at least 2".into()));
    }
    let rows: Vec<FeatureRow> = features::extract(s, &s.project.window, ts.seed);
    let ts = TrainSettings {
        scope: Scope::Device,
        ..ts.clone()
    };
    let left_out = features::feature_events(s, &s.project.window).1;
    let mut reports = Vec::with_capacity(models.len());
    for &m in models {
        let mut r = train_rows_with(s, &rows, &ts, m, mf, progress)?;
        r.left_out = left_out;
        reports.push(r);
    }
    Ok((comparison_of(&reports, &ts), reports))
}

/// [`compare`], then the first model's report with the table in it, saved as `report`
/// (`PROJECT.model_report.json`) with the table beside it as CSV ([`csv_path`]).
pub fn compare_and_save(
    s: &Session,
    ts: &TrainSettings,
    models: &[Model],
    report: Option<&std::path::Path>,
    progress: Option<&crate::progress::Progress>,
) -> crate::Result<Report> {
    let (table, mut reports) = compare(s, ts, models, progress)?;
    let mut first = reports.swap_remove(0);
    first.comparison = Some(table);
    if let Some(path) = report {
        let text =
            serde_json::to_string_pretty(&first).map_err(|e| crate::Error::Other(e.to_string()))?;
        std::fs::write(path, text).map_err(|e| crate::Error::io(path, e))?;
        if let Some(t) = &first.comparison {
            write_csv(t, &csv_path(path))?;
        }
    }
    Ok(first)
}

/// Where the table's CSV goes beside a `PROJECT.model_report.json`:
/// `PROJECT.model_comparison.csv`.
pub fn csv_path(report: &std::path::Path) -> std::path::PathBuf {
    let name = report
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("model_report.json");
    let base = name.strip_suffix("model_report.json").unwrap_or("");
    report.with_file_name(format!("{base}model_comparison.csv"))
}

/// The table from per-device reports of several models over the same rows and folds.
pub fn comparison_of(reports: &[Report], ts: &TrainSettings) -> Comparison {
    let models: Vec<String> = reports.iter().map(|r| r.model.clone()).collect();
    let first = reports.first();
    let names: Vec<String> = first
        .and_then(|r| r.devices.as_ref())
        .map(|d| d.iter().filter_map(|r| r.device.clone()).collect())
        .unwrap_or_default();
    let devices: Vec<DeviceScores> = names
        .iter()
        .map(|name| {
            let per: Vec<&Report> = reports
                .iter()
                .filter_map(|r| {
                    r.devices
                        .as_ref()?
                        .iter()
                        .find(|d| d.device.as_deref() == Some(name))
                })
                .collect();
            let scores: Vec<Score> = per.iter().map(|r| score_of(r)).collect();
            DeviceScores {
                device: name.clone(),
                events: per.first().map_or(0, |r| r.events),
                classes: per.first().map_or(0, |r| r.classes.len()),
                best: best_of(&scores),
                scores,
            }
        })
        .collect();
    let mean = models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let n = devices.len().max(1) as f64;
            let sum = |f: fn(&Score) -> f64| -> f64 {
                devices
                    .iter()
                    .filter_map(|d| d.scores.get(i))
                    .map(f)
                    .sum::<f64>()
                    / n
            };
            Score {
                model: m.clone(),
                macro_precision: sum(|s| s.macro_precision),
                macro_recall: sum(|s| s.macro_recall),
                accuracy: sum(|s| s.accuracy),
            }
        })
        .collect();
    Comparison {
        models,
        folds: ts.folds,
        seed: ts.seed,
        time_blocked: ts.time_blocked,
        devices,
        mean,
        devices_left_out: first
            .map(|r| r.devices_left_out.clone())
            .unwrap_or_default(),
    }
}

fn score_of(r: &Report) -> Score {
    Score {
        model: r.model.clone(),
        macro_precision: r.macro_precision,
        macro_recall: r.macro_recall,
        accuracy: r.accuracy,
    }
}

/// Models whose macro precision is the highest of the row (ties all count), the random
/// baseline aside.
pub fn best_of(scores: &[Score]) -> Vec<String> {
    let learned = scores.iter().filter(|s| s.model != Model::Random.as_str());
    let top = learned
        .clone()
        .map(|s| s.macro_precision)
        .fold(f64::NEG_INFINITY, f64::max);
    learned
        .filter(|s| (s.macro_precision - top).abs() < 1e-12)
        .map(|s| s.model.clone())
        .collect()
}

/// The table as text: a row per device, `precision/recall` per model, `*` on the best.
pub fn render(c: &Comparison) -> String {
    use std::fmt::Write;
    let w = c
        .devices
        .iter()
        .map(|d| d.device.len())
        .chain([6])
        .max()
        .unwrap_or(6);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "macro precision / recall per device, {} folds, seed {}{} (* best)",
        c.folds,
        c.seed,
        if c.time_blocked { ", time-blocked" } else { "" }
    );
    let _ = write!(out, "{:<w$} {:>6}", "device", "events");
    for m in &c.models {
        let _ = write!(out, " {m:>13}");
    }
    out.push('\n');
    let cell = |s: &Score, best: bool| {
        format!(
            "{}{:.2}/{:.2}",
            if best { "*" } else { "" },
            s.macro_precision,
            s.macro_recall
        )
    };
    for d in &c.devices {
        let _ = write!(out, "{:<w$} {:>6}", d.device, d.events);
        for s in &d.scores {
            let _ = write!(out, " {:>13}", cell(s, d.best.contains(&s.model)));
        }
        out.push('\n');
    }
    let _ = write!(out, "{:<w$} {:>6}", "mean", "");
    let best = best_of(&c.mean);
    for s in &c.mean {
        let _ = write!(out, " {:>13}", cell(s, best.contains(&s.model)));
    }
    out.push('\n');
    for (d, why) in &c.devices_left_out {
        let _ = writeln!(out, "left out {d}: {why}");
    }
    out
}

/// The table as CSV rows (device, model, events, classes, macro precision, macro recall,
/// accuracy, best), devices in name order and models in comparison order, `mean` last.
pub fn write_csv(c: &Comparison, path: &std::path::Path) -> crate::Result<()> {
    let io = |e: csv::Error| crate::Error::Other(format!("{}: {e}", path.display()));
    let mut w = csv::Writer::from_path(path).map_err(io)?;
    w.write_record([
        "device",
        "model",
        "events",
        "classes",
        "macro_precision",
        "macro_recall",
        "accuracy",
        "best",
    ])
    .map_err(io)?;
    let mean_best = best_of(&c.mean);
    let rows = c
        .devices
        .iter()
        .map(|d| (d.device.as_str(), d.events, d.classes, &d.scores, &d.best))
        .chain([("mean", 0, 0, &c.mean, &mean_best)]);
    for (device, events, classes, scores, best) in rows {
        for s in scores {
            w.write_record([
                device.to_string(),
                s.model.clone(),
                events.to_string(),
                classes.to_string(),
                format!("{:.6}", s.macro_precision),
                format!("{:.6}", s.macro_recall),
                format!("{:.6}", s.accuracy),
                best.contains(&s.model).to_string(),
            ])
            .map_err(io)?;
        }
    }
    w.flush().map_err(|e| crate::Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_lists_are_read_with_the_baseline_last() {
        let m = parse_models("tree, forest,extra-trees,forest").unwrap();
        assert_eq!(
            m,
            vec![Model::Tree, Model::Forest, Model::ExtraTrees, Model::Random]
        );
        assert!(parse_models("tree,svm").unwrap_err().contains("svm"));
        assert!(parse_models("").is_err());
    }

    #[test]
    fn the_best_is_the_highest_precision_but_never_the_baseline() {
        let s = |m: &str, p: f64| Score {
            model: m.into(),
            macro_precision: p,
            macro_recall: 0.0,
            accuracy: 0.0,
        };
        let scores = [
            s("tree", 0.7),
            s("forest", 0.8),
            s("extra-trees", 0.8),
            s("random", 0.9),
        ];
        assert_eq!(best_of(&scores), vec!["forest", "extra-trees"]);
    }
}
