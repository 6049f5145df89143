//! The Training tab's classifier comparison: per device, each model's macro precision and
//! recall on the same folds as a heatmap (the paper's Figure 1), the best per device outlined
//! and in strong type, the stratified random guess in the last column.

use eframe::egui::{self, RichText, Stroke};

use super::theme;
use crate::learn::compare::{Comparison, Score};

pub fn comparison(ui: &mut egui::Ui, c: &Comparison, dark: bool) {
    ui.label(
        RichText::new(format!(
            "macro precision / recall per device, {} folds, seed {}{}; outlined: best on the device; random: a guess drawn from the class frequencies",
            c.folds,
            c.seed,
            if c.time_blocked { ", time-blocked" } else { "" }
        ))
        .small(),
    );
    egui::ScrollArea::horizontal()
        .id_salt("comparison")
        .show(ui, |ui| {
            egui::Grid::new("comparison-grid")
                .spacing([3.0, 3.0])
                .show(ui, |ui| {
                    ui.label(RichText::new("device").strong());
                    ui.label(RichText::new("events").strong());
                    for m in &c.models {
                        ui.label(RichText::new(m).strong());
                    }
                    ui.end_row();
                    for d in &c.devices {
                        ui.label(&d.device);
                        ui.label(d.events.to_string());
                        for s in &d.scores {
                            cell(ui, &d.device, s, d.best.contains(&s.model), dark);
                        }
                        ui.end_row();
                    }
                    let best = crate::learn::compare::best_of(&c.mean);
                    ui.label(RichText::new("mean").strong());
                    ui.label("");
                    for s in &c.mean {
                        cell(ui, "mean", s, best.contains(&s.model), dark);
                    }
                    ui.end_row();
                });
        });
}

fn cell(ui: &mut egui::Ui, row: &str, s: &Score, best: bool, dark: bool) {
    let v = s.macro_precision as f32;
    let text = if v > 0.55 || dark {
        theme::on_heat()
    } else {
        ui.visuals().text_color()
    };
    let mut label = RichText::new(format!("{:.2} / {:.2}", s.macro_precision, s.macro_recall))
        .monospace()
        .color(text);
    if best {
        label = label.strong();
    }
    let stroke = if best {
        Stroke::new(2.0, theme::selection(dark))
    } else {
        Stroke::NONE
    };
    egui::Frame::new()
        .fill(theme::heat(v, dark))
        .stroke(stroke)
        .inner_margin(egui::Margin::symmetric(6, 3))
        .show(ui, |ui| ui.label(label))
        .response
        .on_hover_text(format!(
            "{row}, {}: macro precision {:.3}, macro recall {:.3}, accuracy {:.3}{}",
            s.model,
            s.macro_precision,
            s.macro_recall,
            s.accuracy,
            if best { " (best)" } else { "" }
        ));
}
