//! The dialogs (export, new project) and the window they share.

use super::*;

/// A dialog window, first shown in the middle of the window (egui's default corner put it
/// over the menu bar).
pub(crate) fn dialog(title: &str, ctx: &egui::Context) -> egui::Window<'static> {
    egui::Window::new(title.to_string())
        .collapsible(false)
        .pivot(egui::Align2::CENTER_CENTER)
        .default_pos(ctx.content_rect().center())
}

pub fn dialogs(app: &mut App, ctx: &egui::Context) {
    if app.ui.open_dialog {
        let mut open = true;
        dialog("Open project", ctx).open(&mut open).show(ctx, |ui| {
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut app.ui.open_path)
                        .desired_width(380.0)
                        .hint_text("path/to/project.labelbench.json"),
                )
                .on_hover_text("Type or paste the project path");
                if let Some(p) = browse_file(ui, "Open project") {
                    app.ui.open_path = p.display().to_string();
                }
            });
            if ui
                .button("Open")
                .on_hover_text("Load this project")
                .clicked()
            {
                app.commands
                    .push(Command::Open(PathBuf::from(app.ui.open_path.trim())));
                app.ui.open_dialog = false;
            }
        });
        if !open {
            app.ui.open_dialog = false;
        }
    }
    if app.ui.help {
        let mut open = true;
        dialog("Keyboard shortcuts", ctx)
            .open(&mut open)
            .show(ctx, |ui| {
                egui::Grid::new("keys")
                    .num_columns(2)
                    .striped(true)
                    .show(ui, |ui| {
                        let keys = crate::gui::app::keys::BINDINGS
                            .iter()
                            .map(|b| (b.keys, b.does));
                        let mouse = crate::gui::app::keys::MOUSE.iter().copied();
                        for (k, v) in keys.chain(mouse) {
                            ui.label(RichText::new(k).monospace());
                            ui.label(v);
                            ui.end_row();
                        }
                    });
            });
        if !open {
            app.ui.help = false;
        }
    }
    export_dialog(app, ctx);
    new_project_dialog(app, ctx);
    project_settings_dialog(app, ctx);
}

pub(crate) fn export_dialog(app: &mut App, ctx: &egui::Context) {
    if !app.ui.export.open {
        return;
    }
    if app.ui.export.out.is_empty() {
        if let Some(p) = &app.project_path {
            app.ui.export.out = p
                .with_extension("")
                .with_extension("export")
                .display()
                .to_string();
        }
    }
    let mut open = true;
    let running = app.jobs.export.is_some();
    dialog("Export dataset", ctx)
        .open(&mut open)
        .show(ctx, |ui| {
            let d = &mut app.ui.export;
            ui.horizontal(|ui| {
                ui.label("folder");
                ui.add(egui::TextEdit::singleline(&mut d.out).desired_width(340.0))
                    .on_hover_text("Output folder (written to a temp folder, then renamed)");
                if browse_button(ui, "Native folder dialog") {
                    if let Some(p) = rfd::FileDialog::new().pick_folder() {
                        d.out = p.join("export").display().to_string();
                    }
                }
            });
            ui.horizontal(|ui| {
                ui.label("format");
                ui.selectable_value(&mut d.format, Format::Parquet, "Parquet")
                    .on_hover_text("Typed columns, UTC timestamps");
                ui.selectable_value(&mut d.format, Format::Csv, "CSV")
                    .on_hover_text("Plain text, ns and ISO 8601 times");
                ui.selectable_value(&mut d.format, Format::Json, "JSON lines")
                    .on_hover_text("One JSON object per row");
            });
            ui.checkbox(&mut d.slices, "pcap slice per event")
                .on_hover_text(
                    "One pcap per event with its device's packets in its window, for Wireshark",
                );
            ui.checkbox(&mut d.pcapng, "annotated pcapng per device")
                .on_hover_text(
                    "One pcapng per device; each packet in an event's window carries a comment \
                     naming the event, shown by Wireshark",
                );
            ui.checkbox(&mut d.include_rejected, "include rejected events")
                .on_hover_text("Export rejected labels too (status = rejected)");
            ui.checkbox(&mut d.force, "replace a previous export")
                .on_hover_text(
                    "Replace the folder if it holds an earlier labelbench export; any other \
                     non-empty folder, and the project's own folders, are always refused",
                );
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(
                        !running && !d.out.trim().is_empty(),
                        egui::Button::new("Export"),
                    )
                    .on_hover_text("Write the dataset")
                    .clicked()
                {
                    app.commands.push(Command::Export);
                }
                if running {
                    ui.spinner();
                    ui.label("exporting…");
                }
            });
            match &app.ui.export.result {
                Some(Ok(r)) => {
                    ui.label(format!("exported in {:.2} s:", r.seconds));
                    for (f, n) in &r.rows {
                        ui.label(format!("  {f}: {n} rows"));
                    }
                    if ui
                        .link(r.out.display().to_string())
                        .on_hover_text("Open the folder")
                        .clicked()
                    {
                        ui.ctx().open_url(egui::OpenUrl::new_tab(format!(
                            "file://{}",
                            std::path::absolute(&r.out)
                                .unwrap_or(r.out.clone())
                                .display()
                        )));
                    }
                }
                Some(Err(e)) => {
                    ui.colored_label(theme::error(ui.visuals().dark_mode), e);
                }
                None => {}
            }
        });
    if !open {
        app.ui.export.open = false;
    }
}
