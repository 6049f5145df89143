//! Panels and dialogs. They read the session and push commands; they never change labels.

mod devices;
mod dialogs;
mod flow_settings;
mod inspector;
mod new_project;

pub use devices::*;
pub use dialogs::*;
pub use flow_settings::*;
pub use inspector::*;
pub use new_project::*;

use std::path::{Path, PathBuf};

use eframe::egui::{self, RichText};

use crate::curation::edits::Edit;
use crate::curation::SuggestionKind;
use crate::export::Format;
use crate::gui::app::keys::{keys_of, Action};
use crate::gui::app::{App, Command, Tab};
use crate::gui::theme;
use crate::labels::{SourceKind, SourceSpec, Status};
use crate::numfmt::{grouped, human_bytes};
use crate::traffic::NO_DEVICE;

pub fn menu_bar(app: &mut App, ui: &mut egui::Ui) {
    egui::Panel::top("menu").show(ui, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New project…").on_hover_text("Create a project from captures, a device registry and label logs (or drop files on the window)").clicked() {
                    app.ui.new_project.open = true;
                    ui.close();
                }
                if ui.add(egui::Button::new("Open…").shortcut_text(keys_of(Action::OpenProject))).on_hover_text("Open a .labelbench.json project").clicked() {
                    if let Some(p) = pick_file("Open project") {
                        app.commands.push(Command::Open(p));
                    } else {
                        app.commands.push(Command::ShowOpen);
                    }
                    ui.close();
                }
                ui.menu_button("Open recent", |ui| {
                    if app.settings.recent.is_empty() {
                        ui.label("(none yet)");
                    }
                    for p in app.settings.recent.clone() {
                        if ui.button(p.display().to_string()).on_hover_text("Open this project again").clicked() {
                            app.commands.push(Command::Open(p));
                            ui.close();
                        }
                    }
                });
                if ui.add_enabled(app.session.is_some(), egui::Button::new("Save").shortcut_text(keys_of(Action::Save))).on_hover_text("Write the project file (settings, source offsets); edits are already journaled").clicked() {
                    app.commands.push(Command::Save);
                    ui.close();
                }
                if ui.add_enabled(app.session.is_some(), egui::Button::new("Project settings…")).on_hover_text("Flow timeouts of this project").clicked() {
                    app.commands.push(Command::ShowProjectSettings);
                    ui.close();
                }
                if ui.add_enabled(app.session.is_some(), egui::Button::new("Export…").shortcut_text(keys_of(Action::Export))).on_hover_text("Export the cleaned dataset").clicked() {
                    app.commands.push(Command::ShowExport);
                    ui.close();
                }
                ui.separator();
                if ui.button("Quit").on_hover_text("Close the window").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Edit", |ui| {
                let (u, r) = app.session.as_ref().map(|s| (s.history.undo_label(), s.history.redo_label())).unwrap_or((None, None));
                if ui.add_enabled(u.is_some(), egui::Button::new(format!("Undo {}", u.clone().unwrap_or_default()))).on_hover_text(keys_of(Action::Undo)).clicked() {
                    app.commands.push(Command::Undo);
                    ui.close();
                }
                if ui.add_enabled(r.is_some(), egui::Button::new(format!("Redo {}", r.clone().unwrap_or_default()))).on_hover_text(keys_of(Action::Redo)).clicked() {
                    app.commands.push(Command::Redo);
                    ui.close();
                }
            });
            ui.menu_button("View", |ui| {
                if ui.selectable_label(app.settings.dark, "Dark theme").on_hover_text("Dark colours").clicked() {
                    app.commands.push(Command::Dark(true));
                }
                if ui.selectable_label(!app.settings.dark, "Light theme").on_hover_text("Light colours").clicked() {
                    app.commands.push(Command::Dark(false));
                }
                ui.checkbox(&mut app.ui.show_hidden, "Show hidden and unregistered devices").on_hover_text("Also draw lanes you hid and MACs not in the registry");
            });
            ui.menu_button("Curate", |ui| {
                if ui.button("Suggestions").on_hover_text("Show the suggestions list").clicked() {
                    app.ui.tab = Tab::Suggestions;
                    ui.close();
                }
                if ui.button("Refresh suggestions").on_hover_text("Recompute duplicates, skew, offsets and source health").clicked() {
                    app.commands.push(Command::RefreshSuggestions);
                    ui.close();
                }
                if ui.button("Next suggestion  (Shift+N)").on_hover_text("Jump to the next suggestion").clicked() {
                    app.commands.push(Command::StepSuggestion(true));
                    ui.close();
                }
            });
            ui.menu_button("Train", |ui| {
                if ui.add_enabled(app.session.is_some() && app.jobs.train.is_none(), egui::Button::new("Train and evaluate")).on_hover_text("Cross-validate the model set in the Training tab").clicked() {
                    app.commands.push(Command::Train);
                    ui.close();
                }
                if ui.button("Training tab").on_hover_text("Model settings and results").clicked() {
                    app.ui.tab = Tab::Training;
                    ui.close();
                }
            });
            ui.menu_button("Help", |ui| {
                if ui.add(egui::Button::new("Keyboard shortcuts").shortcut_text(keys_of(Action::Help))).on_hover_text("List every shortcut").clicked() {
                    if !app.ui.help {
                        app.commands.push(Command::ToggleHelp);
                    }
                    ui.close();
                }
            });
        });
    });
}

pub fn status_bar(app: &mut App, ui: &mut egui::Ui) {
    egui::Panel::bottom("status").show(ui, |ui| {
        ui.horizontal(|ui| {
            let dark = ui.visuals().dark_mode;
            let mut jobs: Vec<(String, f32)> = Vec::new();
            if let Some((j, p)) = &app.jobs.load {
                jobs.push((format!("loading {} — {}", p.display(), j.progress.stage()), j.progress.known_fraction().unwrap_or(-1.0)));
            }
            if let Some(j) = &app.jobs.train {
                jobs.push((format!("{}: {}", j.name, j.progress.stage()), j.progress.known_fraction().unwrap_or(-1.0)));
            }
            if let Some(j) = &app.jobs.export {
                jobs.push((format!("{}: {}", j.name, j.progress.stage()), -1.0));
            }
            if app.jobs.suggest.is_some() {
                jobs.push(("computing suggestions".into(), -1.0));
            }
            for (label, f) in &jobs {
                ui.label(label);
                if *f >= 0.0 {
                    ui.add(egui::ProgressBar::new(*f).desired_width(160.0).show_percentage());
                } else {
                    ui.spinner();
                }
            }
            let cancellable = app.jobs.load.is_some() || app.jobs.train.is_some() || app.jobs.export.is_some();
            if cancellable && ui.button("Cancel").on_hover_text("Cancel the running job").clicked() {
                app.commands.push(Command::CancelJob);
            }
            // The message takes the room the counts leave, cut short with its whole text on
            // hover, so a long one never runs under the counts.
            let message = |ui: &mut egui::Ui, m: &str| {
                ui.add(egui::Label::new(RichText::new(m).color(theme::muted(dark))).truncate())
                    .on_hover_text(m);
            };
            if let (Some(m), None) = (&app.ui.message, &app.session) {
                message(ui, m);
            }
            if !app.errors.is_empty() {
                let n = app.errors.len();
                let text = if n == 1 { "1 problem".to_string() } else { format!("{n} problems") };
                ui.menu_button(RichText::new(text).color(theme::error(dark)), |ui| {
                    egui::ScrollArea::vertical().max_height(300.0).show(ui, |ui| {
                        for e in &app.errors {
                            ui.label(e);
                        }
                    });
                    if ui.button("Clear").on_hover_text("Forget these messages").clicked() {
                        app.errors.clear();
                        ui.close();
                    }
                })
                .response
                .on_hover_text("Warnings and errors, with the file and line they concern");
            }
            if let Some(s) = &app.session {
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    let (a, d, r) = s.status_counts();
                    let g = |n: usize| grouped(n as u64);
                    ui.label(format!(
                        "{} packets · {} flows · events {} active / {} dup / {} rejected · {} journaled edits",
                        g(s.traffic.packets.len()),
                        g(s.traffic.flows.len()),
                        g(a),
                        g(d),
                        g(r),
                        g(s.history.log.len())
                    ));
                    if let Some(m) = &app.ui.message {
                        // From the left, in the width the counts leave.
                        ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                            message(ui, m)
                        });
                    }
                });
            }
        });
    });
}

pub fn bottom_panel(app: &mut App, ui: &mut egui::Ui) {
    // Two panels with their own ids, so each keeps the height the user dragged it to.
    let panel = if app.ui.tall_tabs {
        egui::Panel::bottom("tabs-tall").default_size((ui.available_height() * 0.7).max(300.0))
    } else {
        egui::Panel::bottom("tabs").default_size(300.0)
    };
    panel.resizable(true).show(ui, |ui| {
        ui.horizontal(|ui| {
            let n_sugg = app.visible_suggestions().len();
            ui.selectable_value(&mut app.ui.tab, Tab::Events, "Events")
                .on_hover_text("All labels: sort, filter, select");
            ui.selectable_value(
                &mut app.ui.tab,
                Tab::Suggestions,
                format!("Suggestions ({n_sugg})"),
            )
            .on_hover_text("Duplicates, skew, offsets, source health, possible mislabels");
            ui.selectable_value(&mut app.ui.tab, Tab::Training, "Training")
                .on_hover_text("Train a model and inspect its confusion matrix");
            ui.selectable_value(&mut app.ui.tab, Tab::Journal, "Journal")
                .on_hover_text("Every edit, in order (the journal is the source of truth)");
            ui.separator();
            let (can_u, can_r) = app
                .session
                .as_ref()
                .map(|s| (s.history.can_undo(), s.history.can_redo()))
                .unwrap_or((false, false));
            if ui
                .add_enabled(can_u, egui::Button::new("Undo"))
                .on_hover_text(format!("Undo the last edit ({})", keys_of(Action::Undo)))
                .clicked()
            {
                app.commands.push(Command::Undo);
            }
            if ui
                .add_enabled(can_r, egui::Button::new("Redo"))
                .on_hover_text(format!("Redo ({})", keys_of(Action::Redo)))
                .clicked()
            {
                app.commands.push(Command::Redo);
            }
            if ui
                .button("Export…")
                .on_hover_text(format!(
                    "Export the cleaned dataset ({})",
                    keys_of(Action::Export)
                ))
                .clicked()
            {
                app.commands.push(Command::ShowExport);
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let (text, hover) = if app.ui.tall_tabs {
                    ("Shorter", "Give the timeline its height back")
                } else {
                    (
                        "Taller",
                        "Give these tabs most of the window height (a large confusion \
                             matrix, long tables); drag the panel's edge for any other height",
                    )
                };
                if ui.button(text).on_hover_text(hover).clicked() {
                    app.ui.tall_tabs = !app.ui.tall_tabs;
                }
            });
        });
        ui.separator();
        match app.ui.tab {
            Tab::Events => crate::gui::tables::events_table(app, ui),
            Tab::Suggestions => crate::gui::tables::suggestions(app, ui),
            Tab::Training => crate::gui::training::training(app, ui),
            Tab::Journal => crate::gui::tables::journal(app, ui),
        }
        // A tab with little to show (Training before a model) would otherwise shrink the
        // panel, and the timeline above would jump at every tab switch.
        ui.take_available_space();
    });
}

pub fn welcome(app: &mut App, ui: &mut egui::Ui) {
    ui.vertical_centered(|ui| {
        ui.add_space(80.0);
        ui.heading("labelbench");
        ui.label("Label IoT network traffic with device events.");
        ui.add_space(20.0);
        if app.jobs.load.is_some() {
            ui.spinner();
            ui.label("loading…");
            return;
        }
        // A project that failed to open says why here, not only behind the status bar's
        // problem count.
        if !app.errors.is_empty() {
            let dark = ui.visuals().dark_mode;
            ui.label(
                RichText::new("The project could not be opened:")
                    .color(theme::error(dark))
                    .strong(),
            );
            for e in app.errors.iter().take(5) {
                ui.label(RichText::new(e).color(theme::error(dark)));
            }
            if app.errors.len() > 5 {
                ui.label(format!(
                    "… {} more (see the status bar)",
                    app.errors.len() - 5
                ));
            }
            ui.add_space(12.0);
        }
        if ui
            .button("Open project…")
            .on_hover_text("Open a .labelbench.json project")
            .clicked()
        {
            app.commands.push(Command::ShowOpen);
        }
        if ui
            .button("New project…")
            .on_hover_text("Create a project from captures and logs")
            .clicked()
        {
            app.ui.new_project.open = true;
        }
        ui.label(RichText::new("or drop a project, captures and logs on this window").italics());
        for p in app.settings.recent.clone() {
            if ui
                .link(p.display().to_string())
                .on_hover_text("Open this recent project")
                .clicked()
            {
                app.commands.push(Command::Open(p));
            }
        }
    });
}

/// 1234567 → "1.2M".
fn compact(n: u64) -> String {
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// A suggestion kind's label for lists.
pub fn kind_label(k: SuggestionKind) -> &'static str {
    match k {
        SuggestionKind::TimeZone => "time zone",
        SuggestionKind::Duplicate => "duplicate",
        SuggestionKind::Skew => "skew",
        SuggestionKind::SourceOffset => "source offset",
        SuggestionKind::NoTraffic => "no traffic",
        SuggestionKind::UnlabelledBurst => "unlabelled burst",
        SuggestionKind::SourceSilent => "silent source",
        SuggestionKind::WrongDevice => "wrong device",
        SuggestionKind::Mislabel => "possible mislabel",
    }
}
