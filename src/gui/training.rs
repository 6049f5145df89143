//! The Training tab: settings, background training, the confusion matrix as a clickable
//! heatmap, per-class metrics and feature importances.

use crate::learn::{Model, Scope};
use eframe::egui::{self, RichText, Sense};

use super::app::{App, Command};
use super::theme;
use crate::learn::Report;

pub fn training(app: &mut App, ui: &mut egui::Ui) {
    let mut cmds = Vec::new();
    let running = app.jobs.train.is_some();
    ui.horizontal_wrapped(|ui| {
        let t = &mut app.ui.train;
        egui::ComboBox::from_id_salt("model")
            .selected_text(t.model.as_str())
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut t.model, Model::Forest, "forest");
                ui.selectable_value(&mut t.model, Model::ExtraTrees, "extra-trees (random thresholds)");
                ui.selectable_value(&mut t.model, Model::Tree, "tree (linfa-trees)");
                ui.selectable_value(&mut t.model, Model::Cart, "cart (one CART tree)");
                ui.selectable_value(&mut t.model, Model::Random, "random (baseline guess)");
            })
            .response
            .on_hover_text("Random forest or extra-trees (60 trees, entropy), a single decision tree, or a guess from the class frequencies");
        egui::ComboBox::from_id_salt("scope")
            .selected_text(t.scope.as_str())
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut t.scope, Scope::Device, "per device");
                ui.selectable_value(&mut t.scope, Scope::Global, "global (device:class)");
            })
            .response
            .on_hover_text("One model per device (as in the paper) or one over device:class");
        ui.add(egui::DragValue::new(&mut t.folds).range(2..=10).prefix("folds ")).on_hover_text("k-fold cross-validation");
        ui.add(egui::DragValue::new(&mut t.seed).prefix("seed ")).on_hover_text("Same inputs and seed give the same report");
        ui.add(egui::DragValue::new(&mut t.trees).range(1..=500).prefix("trees ")).on_hover_text("Trees in the forest");
        ui.checkbox(&mut t.bootstrap, "bootstrap").on_hover_text("Bootstrap samples per tree (the paper's forest does not)");
        ui.checkbox(&mut t.time_blocked, "time-blocked folds").on_hover_text("Keep events close in time in the same fold (random folds over near-duplicate events inflate scores)");
        ui.checkbox(&mut t.class_weight_balanced, "balanced").on_hover_text("Weight classes inversely to their frequency");
        if ui.add_enabled(!running, egui::Button::new("Train model")).on_hover_text("Compute features and cross-validate in the background").clicked() {
            cmds.push(Command::Train);
        }
        if ui
            .add_enabled(!running, egui::Button::new("Compare classifiers"))
            .on_hover_text("Tree, forest and extra-trees per device on the same folds, beside a random guess (the paper's Figure 1); saved beside the project as model_report.json and model_comparison.csv")
            .clicked()
        {
            cmds.push(Command::CompareModels);
        }
        if running {
            ui.spinner();
            if ui.button("Cancel").on_hover_text("Stop training (the result is discarded)").clicked() {
                cmds.push(Command::CancelJob);
            }
        }
    });
    app.commands.extend(cmds);
    let Some(r) = app.ui.report.clone() else {
        ui.label(RichText::new("No model yet: choose settings and press Train.").italics());
        return;
    };
    let view: Report = match (app.ui.report_device, &r.devices) {
        (Some(i), Some(d)) if i < d.len() => d[i].clone(),
        _ if app.ui.report_by_class => crate::learn::pool_by_class(&r),
        _ => r.clone(),
    };
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!(
            "{} · {} · accuracy {:.3} · macro F1 {:.3} · weighted F1 {:.3} · {} events · fit {}",
            r.model, r.scope, view.accuracy, view.macro_f1, view.weighted_f1, view.events, fit_time(r.fit_seconds)
        ))
        .strong());
        if let Some(devs) = &r.devices {
            egui::ComboBox::from_id_salt("repdev")
                .selected_text(app.ui.report_device.and_then(|i| devs.get(i)).and_then(|d| d.device.clone()).unwrap_or_else(|| "all devices (pooled)".into()))
                .show_ui(ui, |ui| {
                    if ui.selectable_value(&mut app.ui.report_device, None, "all devices (pooled)").clicked() {
                        app.ui.cell = None;
                    }
                    for (i, d) in devs.iter().enumerate() {
                        let label = format!("{} ({:.2})", d.device.clone().unwrap_or_default(), d.accuracy);
                        if ui.selectable_value(&mut app.ui.report_device, Some(i), label).clicked() {
                            app.ui.cell = None;
                        }
                    }
                })
                .response
                .on_hover_text("Which device's confusion matrix to show");
        }
        if app.ui.report_device.is_none()
            && ui
                .checkbox(&mut app.ui.report_by_class, "classes across devices")
                .on_hover_text("Pool device:class into class: lock against unlock, on against off, on every device")
                .changed()
        {
            app.ui.cell = None;
        }
    });
    if !r.devices_left_out.is_empty() {
        let list: Vec<String> = r
            .devices_left_out
            .iter()
            .map(|(d, why)| format!("{d} ({why})"))
            .collect();
        ui.label(
            RichText::new(format!("no model for: {}", list.join("; ")))
                .small()
                .weak(),
        )
        .on_hover_text("Per-device training needs two classes with enough events on a device");
    }
    let dark = ui.visuals().dark_mode;
    if let Some(c) = &r.comparison {
        egui::CollapsingHeader::new("Classifier comparison")
            .default_open(true)
            .show(ui, |ui| super::comparison::comparison(ui, c, dark));
        ui.label(
            RichText::new(format!("below: the {} model's confusion matrix", r.model))
                .small()
                .weak(),
        );
    }
    // The matrix gets the widest share: with equal thirds, 17 classes already needed
    // scrolling sideways at 1600 px while the middle column stood mostly empty.
    weighted_columns(ui, [0.45, 0.25, 0.30], |[m, e, p]| {
        confusion(app, m, &view, dark);
        cell_events(app, e, &view);
        metrics_and_importances(p, &view);
    });
}

/// [`egui::Ui::columns`] with the width split by `weights` (summing to 1).
fn weighted_columns<const N: usize>(
    ui: &mut egui::Ui,
    weights: [f32; N],
    add: impl FnOnce(&mut [egui::Ui; N]),
) {
    let spacing = ui.spacing().item_spacing.x;
    let width = ui.available_width() - spacing * (N as f32 - 1.0);
    let top_left = ui.cursor().min;
    let bottom = ui.max_rect().bottom();
    let mut x = top_left.x;
    let mut cols: [egui::Ui; N] = std::array::from_fn(|i| {
        let w = (width * weights[i]).floor();
        let rect = egui::Rect::from_min_max(egui::pos2(x, top_left.y), egui::pos2(x + w, bottom));
        x += w + spacing;
        let mut c = ui.new_child(
            egui::UiBuilder::new()
                .max_rect(rect)
                .layout(egui::Layout::top_down_justified(egui::Align::LEFT)),
        );
        c.set_width(w);
        c
    });
    add(&mut cols);
    let height = cols.iter().map(|c| c.min_size().y).fold(0.0, f32::max);
    ui.advance_cursor_after_rect(egui::Rect::from_min_size(
        top_left,
        egui::vec2(ui.available_width(), height),
    ));
}

fn confusion(app: &mut App, ui: &mut egui::Ui, r: &Report, dark: bool) {
    ui.label(RichText::new("confusion (rows = true, columns = predicted)").small());
    let k = r.classes.len();
    let label_font = egui::FontId::proportional(10.0);
    // As wide as the longest (shortened) class name needs, so the cells get the rest.
    let label_w = r
        .classes
        .iter()
        .map(|c| {
            ui.painter()
                .layout_no_wrap(short(c), label_font.clone(), egui::Color32::WHITE)
                .size()
                .x
        })
        .fold(40.0f32, f32::max)
        .min(170.0)
        + 8.0;
    // As large as both the width and the height allow (the "Taller" panel shows a whole
    // matrix of 20-odd classes without scrolling), within readable bounds.
    let fit_w = (ui.available_width() - label_w) / k.max(1) as f32;
    let fit_h = (ui.available_height() - 8.0) / k.max(1) as f32;
    let cell = fit_w.min(fit_h).clamp(14.0, 44.0);
    egui::ScrollArea::both().id_salt("cm").show(ui, |ui| {
        // Column labels, turned upright, above the cells.
        let head_h = label_w.min(120.0);
        let (head, _) = ui.allocate_exact_size(
            egui::vec2(label_w + cell * k as f32, head_h),
            Sense::hover(),
        );
        let hp = ui.painter_at(head);
        for j in 0..k {
            let galley = hp.layout_no_wrap(
                short(&r.classes[j]),
                label_font.clone(),
                ui.visuals().text_color(),
            );
            let x = head.left() + label_w + j as f32 * cell + (cell - galley.size().y) / 2.0;
            let pos = egui::pos2(x, head.bottom() - 2.0);
            hp.add(
                egui::epaint::TextShape::new(pos, galley, ui.visuals().text_color())
                    .with_angle(-std::f32::consts::FRAC_PI_2),
            );
            let col = egui::Rect::from_min_size(
                egui::pos2(head.left() + label_w + j as f32 * cell, head.top()),
                egui::vec2(cell, head_h),
            );
            let name = format!("column {}", r.classes[j]);
            ui.interact(col, ui.scope_id().with(("col", j)), Sense::hover())
                .on_hover_text(&r.classes[j])
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &name));
        }
        let (rect, _) = ui.allocate_exact_size(
            egui::vec2(label_w + cell * k as f32, cell * k as f32 + 4.0),
            Sense::hover(),
        );
        let painter = ui.painter_at(rect);
        let font = egui::FontId::proportional((cell * 0.4).clamp(8.0, 13.0));
        for i in 0..k {
            let row_total: usize = r.confusion[i].iter().sum();
            let y = rect.top() + i as f32 * cell;
            painter.text(
                egui::pos2(rect.left() + label_w - 4.0, y + cell / 2.0),
                egui::Align2::RIGHT_CENTER,
                short(&r.classes[i]),
                label_font.clone(),
                ui.visuals().text_color(),
            );
            for j in 0..k {
                let v = r.confusion[i][j];
                let frac = if row_total > 0 {
                    v as f32 / row_total as f32
                } else {
                    0.0
                };
                let cr = egui::Rect::from_min_size(
                    egui::pos2(rect.left() + label_w + j as f32 * cell, y),
                    egui::vec2(cell - 1.0, cell - 1.0),
                );
                let id = ui.scope_id().with(("cell", i, j));
                let resp = ui.interact(cr, id, Sense::click());
                let name = format!("cell {} -> {}: {}", r.classes[i], r.classes[j], v);
                resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &name));
                let mut fill = theme::heat(frac, dark);
                if app.ui.cell == Some((i, j)) {
                    fill = theme::selection(dark);
                }
                painter.rect_filled(cr, 1.0, fill);
                if v > 0 {
                    let tc = if frac > 0.55 || app.ui.cell == Some((i, j)) {
                        theme::on_heat()
                    } else {
                        ui.visuals().text_color()
                    };
                    painter.text(
                        cr.center(),
                        egui::Align2::CENTER_CENTER,
                        v.to_string(),
                        font.clone(),
                        tc,
                    );
                }
                if resp.clicked() {
                    app.ui.cell = Some((i, j));
                }
                resp.on_hover_text(format!(
                    "true {} predicted {}: {} events ({:.0} % of the row) — click to list them",
                    r.classes[i],
                    r.classes[j],
                    v,
                    frac * 100.0
                ));
            }
        }
    });
}

fn short(s: &str) -> String {
    if s.chars().count() > 24 {
        format!(
            "…{}",
            s.chars()
                .rev()
                .take(23)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<String>()
        )
    } else {
        s.to_string()
    }
}

fn cell_events(app: &mut App, ui: &mut egui::Ui, r: &Report) {
    let Some((i, j)) = app
        .ui
        .cell
        .filter(|(i, j)| *i < r.classes.len() && *j < r.classes.len())
    else {
        ui.label(RichText::new("Click a cell to list its events.").italics());
        return;
    };
    let ids = &r.cell_events[i][j];
    ui.label(
        RichText::new(format!(
            "{} events: true {}, predicted {}",
            ids.len(),
            r.classes[i],
            r.classes[j]
        ))
        .strong(),
    );
    let mut cmds = Vec::new();
    if let Some(s) = app.session.as_ref() {
        let tz = app.tz();
        egui::ScrollArea::vertical().id_salt("cellev").show_rows(
            ui,
            18.0,
            ids.len(),
            |ui, range| {
                // One line a row (the rows are 18 px): a long name is cut, not wrapped.
                ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
                for id in &ids[range] {
                    let txt = match s.labels.get(*id) {
                        Some(e) => format!(
                            "{} {} {}",
                            id,
                            s.event_device_name(e),
                            chrono::TimeZone::timestamp_nanos(&tz, s.adjusted_ns(e))
                                .format("%b %d %H:%M:%S")
                        ),
                        None => format!("{id} (removed since training)"),
                    };
                    let sel = app.ui.selected_event == Some(*id);
                    if ui
                        .selectable_label(sel, RichText::new(txt))
                        .on_hover_text("Select and show on the timeline")
                        .clicked()
                    {
                        cmds.push(Command::SelectEvent(Some(*id)));
                    }
                }
            },
        );
    }
    app.commands.extend(cmds);
}

fn metrics_and_importances(ui: &mut egui::Ui, r: &Report) {
    // Both ways: a grid of long class names must not widen the column past the panel.
    egui::ScrollArea::both()
        .id_salt("metrics")
        .max_height(ui.available_height() * 0.5)
        .show(ui, |ui| {
            egui::Grid::new("pc")
                .striped(true)
                .num_columns(5)
                .show(ui, |ui| {
                    for h in ["class", "P", "R", "F1", "n"] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for c in &r.per_class {
                        ui.label(short(&c.class));
                        ui.label(format!("{:.2}", c.precision));
                        ui.label(format!("{:.2}", c.recall));
                        ui.label(format!("{:.2}", c.f1));
                        ui.label(c.support.to_string());
                        ui.end_row();
                    }
                });
        });
    ui.label(RichText::new("feature importances (mean decrease in impurity)").small());
    importance_bars(ui, &r.importances);
}

/// The twelve largest importances as horizontal bars, each named and valued (a bar chart's
/// axis could name only its first and last bars).
fn importance_bars(ui: &mut egui::Ui, importances: &[(String, f64)]) {
    let top = &importances[..importances.len().min(12)];
    let max = top.iter().map(|x| x.1).fold(0.0, f64::max).max(1e-12);
    let colour = theme::traffic(ui.visuals().dark_mode);
    egui::ScrollArea::vertical()
        .id_salt("importances")
        .show(ui, |ui| {
            egui::Grid::new("importance-bars")
                .num_columns(3)
                .spacing([6.0, 2.0])
                .show(ui, |ui| {
                    let bar_w = (ui.available_width() - 220.0).clamp(60.0, 260.0);
                    for (name, v) in top {
                        ui.label(name);
                        let (rect, _) =
                            ui.allocate_exact_size(egui::vec2(bar_w, 12.0), Sense::hover());
                        let w = (bar_w * (*v / max) as f32).max(1.0);
                        ui.painter().rect_filled(
                            egui::Rect::from_min_size(rect.min, egui::vec2(w, rect.height())),
                            2.0,
                            colour,
                        );
                        ui.label(format!("{v:.3}"));
                        ui.end_row();
                    }
                });
        });
}

/// A fit time readable at both ends: a small project trains in milliseconds ("0.0 s" said
/// nothing), the lab week in seconds.
fn fit_time(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else {
        format!("{secs:.1} s")
    }
}
