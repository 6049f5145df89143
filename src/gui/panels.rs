//! Panels and dialogs. They read the session and push commands; they never change labels.

use std::path::{Path, PathBuf};

use eframe::egui::{self, RichText};

use super::app::{App, Command, Tab};
use super::theme;
use crate::curation::edits::Edit;
use crate::curation::SuggestionKind;
use crate::export::Format;
use crate::labels::{SourceKind, SourceSpec, Status};
use crate::numfmt::{grouped, human_bytes};
use crate::project::{relative_capture, relative_to, Project};
use crate::traffic::NO_DEVICE;

// ---------------------------------------------------------------------------------------------
// New project

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewProjectSpec {
    pub project: PathBuf,
    pub captures: Vec<String>,
    pub devices: String,
    pub sources: Vec<(SourceKind, String, String)>,
}

impl NewProjectSpec {
    /// Writes the project file (paths relative to it) and returns its path.
    pub fn write(&self) -> Result<PathBuf, String> {
        let dir = self
            .project
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(format!("{}: folder does not exist", dir.display()));
        }
        if self.captures.iter().all(|c| c.trim().is_empty()) {
            return Err("add at least one capture file or glob".into());
        }
        crate::capture::expand_captures(Path::new("."), &self.captures)?;
        let mut p = Project::new("project");
        p.captures = self
            .captures
            .iter()
            .filter(|c| !c.trim().is_empty())
            .map(|c| relative_capture(dir, c.trim()))
            .collect();
        if !self.devices.trim().is_empty() {
            crate::traffic::devices::Registry::load(Path::new(self.devices.trim()))
                .map_err(|e| e.to_string())?;
            p.devices = Some(relative_to(dir, Path::new(self.devices.trim())));
        }
        for (k, path, tz) in &self.sources {
            if !Path::new(path).is_file() {
                return Err(format!("{path}: label source not found"));
            }
            tz.parse::<chrono_tz::Tz>()
                .map_err(|_| format!("{tz}: unknown time zone"))?;
            p.sources.push(SourceSpec {
                kind: *k,
                path: relative_to(dir, Path::new(path)),
                tz: tz.clone(),
                offset_ns: 0,
                csv: None,
                rules: vec![],
            });
        }
        p.check_sources(dir)?;
        p.save(&self.project).map_err(|e| e.to_string())?;
        Ok(self.project.clone())
    }
}

#[derive(Clone, Debug, Default)]
pub struct NewProjectDialog {
    pub open: bool,
    pub spec: NewProjectSpec,
    pub project_text: String,
    pub capture_text: String,
    pub new_kind: Option<SourceKind>,
    pub new_path: String,
    pub new_tz: String,
}

/// What a dropped file is taken for, by its name.
enum DroppedKind {
    Capture,
    Registry,
    /// A label log; `named` when its name says which kind (not the generic CSV fallback).
    Log {
        kind: SourceKind,
        named: bool,
    },
}

impl DroppedKind {
    fn of(path: &Path) -> DroppedKind {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if crate::capture::capture_suffix(&name).is_some() {
            return DroppedKind::Capture;
        }
        if name.contains("device") {
            return DroppedKind::Registry;
        }
        let named = |kind| DroppedKind::Log { kind, named: true };
        if name.contains("action") {
            named(SourceKind::IftttTrigger)
        } else if name.contains("ifttt") {
            named(SourceKind::Ifttt)
        } else if name.contains("smartthings") {
            named(SourceKind::Smartthings)
        } else if name.ends_with(".jsonl") {
            named(SourceKind::NotificationsJsonl)
        } else if name.contains("android") || name.contains("notif") {
            named(SourceKind::NotificationsCsv)
        } else if name.ends_with(".txt") {
            DroppedKind::Log {
                kind: SourceKind::Experiments,
                named: false,
            }
        } else {
            DroppedKind::Log {
                kind: SourceKind::Csv,
                named: false,
            }
        }
    }
}

impl NewProjectDialog {
    /// Files dropped on the window fill the dialog: captures, registry, logs. A file already in
    /// the dialog is not added again (dropped twice, a log would be loaded twice). A dropped
    /// folder adds a glob per capture extension in it and in its subfolders, and the registry
    /// and logs whose names say what they are (a README or a ground-truth table is not taken
    /// for a log). Returns what could not be used, for the error list.
    pub fn add_dropped(&mut self, files: &[PathBuf]) -> Vec<String> {
        self.open = true;
        let mut problems = Vec::new();
        for f in files {
            if f.is_dir() {
                if !self.add_folder(f) {
                    problems.push(format!(
                        "{}: no captures, device registry or label logs recognised in this folder",
                        f.display()
                    ));
                }
            } else {
                self.add_file(f, DroppedKind::of(f));
            }
            if self.project_text.is_empty() {
                let dir = if f.is_dir() {
                    Some(f.as_path())
                } else {
                    f.parent()
                };
                if let Some(dir) = dir {
                    self.project_text = dir.join("project.labelbench.json").display().to_string();
                }
            }
        }
        problems
    }

    /// Adds one file as what `kind` says, unless it is in the dialog already.
    fn add_file(&mut self, f: &Path, kind: DroppedKind) {
        let s = f.display().to_string();
        if self.spec.captures.contains(&s) || self.spec.sources.iter().any(|x| x.1 == s) {
            return;
        }
        match kind {
            DroppedKind::Capture => self.spec.captures.push(s),
            DroppedKind::Registry => self.spec.devices = s,
            DroppedKind::Log { kind, .. } => {
                self.spec.sources.push((kind, s, "America/New_York".into()))
            }
        }
    }

    /// See [`NewProjectDialog::add_dropped`]; false when nothing in the folder was usable.
    fn add_folder(&mut self, dir: &Path) -> bool {
        let listing = |d: &Path| -> Vec<PathBuf> {
            let mut v: Vec<PathBuf> = std::fs::read_dir(d)
                .map(|r| r.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            v.sort();
            v
        };
        let mut found = false;
        let top = listing(dir);
        let subs = top.iter().filter(|p| p.is_dir());
        for d in std::iter::once(dir).chain(subs.map(PathBuf::as_path)) {
            let mut globs: Vec<String> = Vec::new();
            for f in listing(d).into_iter().filter(|p| p.is_file()) {
                match DroppedKind::of(&f) {
                    DroppedKind::Capture => {
                        let name = f.file_name().unwrap_or_default().to_string_lossy();
                        let suffix = crate::capture::capture_suffix(&name).unwrap_or_default();
                        // The folder's own name taken literally, should it hold `[` or `*`.
                        let lit = glob::Pattern::escape(&d.display().to_string());
                        let g = Path::new(&lit).join(format!("*{suffix}"));
                        let g = g.display().to_string();
                        if !globs.contains(&g) {
                            globs.push(g);
                        }
                    }
                    DroppedKind::Registry if self.spec.devices.is_empty() => {
                        self.spec.devices = f.display().to_string();
                        found = true;
                    }
                    k @ DroppedKind::Log { named: true, .. } => {
                        self.add_file(&f, k);
                        found = true;
                    }
                    _ => {}
                }
            }
            for g in globs {
                found = true;
                if !self.spec.captures.contains(&g) {
                    self.spec.captures.push(g);
                }
            }
        }
        found
    }
}

/// A "Browse…" button for a native file or folder dialog; disabled, with the reason, where
/// no dialog can appear (a clicked button that silently did nothing was worse).
fn browse_button(ui: &mut egui::Ui, hover: &str) -> bool {
    ui.add_enabled(
        super::portal::file_dialogs_available(),
        egui::Button::new("Browse…"),
    )
    .on_hover_text(hover)
    .on_disabled_hover_text(
        "No desktop file dialog here (no D-Bus session bus, or no XDG desktop portal on \
             it): type or paste the path, or drop the file on the window",
    )
    .clicked()
}

/// A "Browse…" button that asks for one file; the file, once picked.
fn browse_file(ui: &mut egui::Ui, title: &str) -> Option<PathBuf> {
    browse_button(ui, "Native file dialog")
        .then(|| pick_file(title))
        .flatten()
}

/// The native file dialog, where there can be one.
fn pick_file(title: &str) -> Option<PathBuf> {
    // rfd needs a desktop portal at run time; without one it returns None and the typed path
    // field still works.
    super::portal::file_dialogs_available()
        .then(|| rfd::FileDialog::new().set_title(title).pick_file())
        .flatten()
}

// ---------------------------------------------------------------------------------------------

pub fn menu_bar(app: &mut App, ui: &mut egui::Ui) {
    egui::Panel::top("menu").show(ui, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New project…").on_hover_text("Create a project from captures, a device registry and label logs (or drop files on the window)").clicked() {
                    app.ui.new_project.open = true;
                    ui.close();
                }
                if ui.button("Open…  (Ctrl+O)").on_hover_text("Open a .labelbench.json project").clicked() {
                    if let Some(p) = pick_file("Open project") {
                        app.commands.push(Command::Open(p));
                    } else {
                        app.ui.open_dialog = true;
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
                if ui.add_enabled(app.session.is_some(), egui::Button::new("Save  (Ctrl+S)")).on_hover_text("Write the project file (settings, source offsets); edits are already journaled").clicked() {
                    app.commands.push(Command::Save);
                    ui.close();
                }
                if ui.add_enabled(app.session.is_some(), egui::Button::new("Export…  (Ctrl+E)")).on_hover_text("Export the cleaned dataset").clicked() {
                    app.ui.export.open = true;
                    ui.close();
                }
                ui.separator();
                if ui.button("Quit").on_hover_text("Close the window").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("Edit", |ui| {
                let (u, r) = app.session.as_ref().map(|s| (s.history.undo_label(), s.history.redo_label())).unwrap_or((None, None));
                if ui.add_enabled(u.is_some(), egui::Button::new(format!("Undo {}", u.clone().unwrap_or_default()))).on_hover_text("Ctrl+Z").clicked() {
                    app.commands.push(Command::Undo);
                    ui.close();
                }
                if ui.add_enabled(r.is_some(), egui::Button::new(format!("Redo {}", r.clone().unwrap_or_default()))).on_hover_text("Ctrl+Shift+Z").clicked() {
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
                if ui.button("Keyboard shortcuts  (F1)").on_hover_text("List every shortcut").clicked() {
                    app.ui.help = true;
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
            if let Some(m) = &app.ui.message {
                ui.label(RichText::new(m).color(theme::muted(dark)));
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
                });
            }
        });
    });
}

pub fn devices_panel(app: &mut App, ui: &mut egui::Ui) {
    egui::Panel::left("devices")
        .resizable(true)
        .default_size(230.0)
        .show(ui, |ui| {
            ui.heading("Devices");
            ui.add(
                egui::TextEdit::singleline(&mut app.ui.device_filter).hint_text("search devices…"),
            )
            .on_hover_text("Filter devices and lanes by name");
            ui.checkbox(&mut app.ui.show_hidden, "show hidden")
                .on_hover_text("Show hidden lanes and unregistered MACs");
            let s = app.session.as_ref().expect("panel needs a session");
            let st = &app.dev_stats;
            let mut evc = vec![0usize; s.registry.len()];
            for e in &s.labels.events {
                if e.device != NO_DEVICE {
                    evc[e.device as usize] += 1;
                }
            }
            let filter = app.ui.device_filter.to_lowercase();
            let mut cmds = Vec::new();
            egui::ScrollArea::vertical()
                .id_salt("devlist")
                .show(ui, |ui| {
                    let n = s.registry.len() as u16;
                    let row = |ui: &mut egui::Ui, d: u16, indent: bool, cmds: &mut Vec<Command>| {
                        let dev = &s.registry.devices[d as usize];
                        if !filter.is_empty() && !dev.name.to_lowercase().contains(&filter) {
                            return;
                        }
                        if !dev.registered && !app.ui.show_hidden {
                            return;
                        }
                        ui.horizontal(|ui| {
                            if indent {
                                ui.add_space(14.0);
                            }
                            let mut visible = !app.ui.hidden.contains(&d);
                            if ui
                                .checkbox(&mut visible, "")
                                .on_hover_text("Show this device's lane")
                                .changed()
                            {
                                cmds.push(Command::ToggleHidden(d));
                            }
                            let sel = app.ui.selected_device == Some(d);
                            let r = ui.selectable_label(sel, &dev.name).on_hover_text(format!(
                                "{} · {}\nMAC {}\n{} packets, {} bytes, {} flows, {} events",
                                dev.kind(),
                                dev.description,
                                if dev.mac.is_some() {
                                    dev.mac_string()
                                } else {
                                    "— (uses its hub's traffic)".into()
                                },
                                st[d as usize].packets,
                                st[d as usize].bytes,
                                st[d as usize].flows,
                                evc[d as usize]
                            ));
                            if r.clicked() {
                                cmds.push(Command::SelectDevice(Some(d)));
                            }
                            ui.label(
                                RichText::new(format!(
                                    "{} pk · {} ev",
                                    compact(st.get(d as usize).map(|x| x.packets).unwrap_or(0)),
                                    evc[d as usize]
                                ))
                                .small()
                                .weak(),
                            )
                            .on_hover_text("packets and events of this device");
                        });
                    };
                    for d in 0..n {
                        let dev = &s.registry.devices[d as usize];
                        if dev.hub.is_some() && s.registry.hub_of(d).is_some() {
                            continue;
                        }
                        let has = st.get(d as usize).is_some_and(|x| x.packets > 0)
                            || evc[d as usize] > 0;
                        if !has && !app.ui.show_hidden {
                            continue;
                        }
                        row(ui, d, false, &mut cmds);
                        for c in s.registry.children(d) {
                            row(ui, c, true, &mut cmds);
                        }
                    }
                });
            app.commands.extend(cmds);
        });
}

pub fn inspector_panel(app: &mut App, ui: &mut egui::Ui) {
    egui::Panel::right("inspector")
        .resizable(true)
        .default_size(330.0)
        .show(ui, |ui| {
            ui.heading("Inspector");
            let s = app.session.as_ref().expect("panel needs a session");
            let tz = app.tz();
            let Some(e) = app.ui.selected_event.and_then(|id| s.labels.get(id)) else {
                if let Some(d) = app.ui.selected_device {
                    device_card(app, ui, d, &tz);
                    ui.separator();
                }
                ui.label(
                    RichText::new("Select an event on the timeline or in the table.").italics(),
                );
                return;
            };
            let mut cmds = Vec::new();
            egui::ScrollArea::vertical().id_salt("insp").show(ui, |ui| {
                ui.label(RichText::new(format!("event {}", e.id)).strong());
                key_values(ui, "prov", |kv| {
                    kv("device", s.event_device_name(e).to_string());
                    kv("class", e.class.clone());
                    kv(
                        "status",
                        match e.duplicate_of {
                            Some(d) => format!("duplicate of {d}"),
                            None => e.status.as_str().into(),
                        },
                    );
                    kv("source", s.source_kind_str(e).into());
                    if let Some(src) = s.sources.get(e.source as usize) {
                        kv("file", src.spec.path.clone());
                        kv("zone", src.spec.tz.clone());
                    }
                    kv("line", e.line.to_string());
                    kv("logged as", e.time_text.clone());
                    kv("precision", e.precision.as_str().into());
                    kv("original", crate::timefmt::local(e.original_ns, &tz));
                    kv("adjusted", crate::timefmt::local(s.adjusted_ns(e), &tz));
                    kv("UTC", crate::timefmt::utc(s.adjusted_ns(e)));
                });
                ui.label(RichText::new("raw text").small());
                ui.add(egui::Label::new(RichText::new(&e.raw).monospace().small()).wrap());
                ui.horizontal_wrapped(|ui| {
                    match e.status {
                        Status::Active => {
                            if ui
                                .button("Reject")
                                .on_hover_text("Mark this label as wrong (undoable)")
                                .clicked()
                            {
                                cmds.push(Command::Apply(Edit::reject(e)));
                            }
                        }
                        _ => {
                            if ui
                                .button("Restore")
                                .on_hover_text("Make this label active again")
                                .clicked()
                            {
                                cmds.push(Command::Apply(Edit::restore(e)));
                            }
                        }
                    }
                    if e.retime_ns.is_some()
                        && ui
                            .button("Reset time")
                            .on_hover_text("Drop the per-event retime")
                            .clicked()
                    {
                        cmds.push(Command::Apply(Edit::Retime {
                            id: e.id,
                            from: e.retime_ns,
                            to: None,
                        }));
                    }
                    if ui
                        .button("-1 s")
                        .on_hover_text("Retime one second earlier")
                        .clicked()
                    {
                        cmds.push(Command::Apply(Edit::Retime {
                            id: e.id,
                            from: e.retime_ns,
                            to: Some(s.adjusted_ns(e) - 1_000_000_000),
                        }));
                    }
                    if ui
                        .button("+1 s")
                        .on_hover_text("Retime one second later")
                        .clicked()
                    {
                        cmds.push(Command::Apply(Edit::Retime {
                            id: e.id,
                            from: e.retime_ns,
                            to: Some(s.adjusted_ns(e) + 1_000_000_000),
                        }));
                    }
                });
                ui.separator();
                ui.label(RichText::new("edit history").strong());
                let hist: Vec<String> = s
                    .history
                    .log
                    .iter()
                    .filter(|j| {
                        let mut ids = vec![];
                        j.edit.event_ids(&mut ids);
                        ids.contains(&e.id)
                    })
                    .map(|j| format!("#{} {}: {}", j.seq, j.step, j.edit.describe()))
                    .collect();
                if hist.is_empty() {
                    ui.label(RichText::new("(no edits)").italics());
                }
                for h in hist.iter().rev().take(20) {
                    ui.label(RichText::new(h).small());
                }
                ui.separator();
                let w = s.project.window;
                let key = (e.id, app.ui.sugg_generation);
                if app.ui.inspector_cache.as_ref().is_none_or(|c| c.0 != key) {
                    let t = s.adjusted_ns(e);
                    let td = s.traffic_device(e.device);
                    let f = crate::learn::features::window_features(
                        &s.traffic,
                        td,
                        t - w.before_ns,
                        t + w.after_ns,
                    );
                    let feats: Vec<(String, f64)> =
                        crate::learn::features::names().into_iter().zip(f).collect();
                    let mut near: Vec<&crate::traffic::Flow> = s
                        .traffic
                        .flows
                        .iter()
                        .filter(|f| {
                            f.device == td
                                && f.last_ns >= t - 60_000_000_000
                                && f.first_ns <= t + 60_000_000_000
                        })
                        .collect();
                    near.sort_by_key(|f| f.first_ns);
                    let mut lines: Vec<String> = near
                        .iter()
                        .take(25)
                        .map(|f| {
                            let ep = f.endpoints();
                            format!(
                                "{:+.1} s {} {} · {} pkts {} B",
                                (f.first_ns - t) as f64 / 1e9,
                                f.protocol_name(),
                                ep,
                                f.packets(),
                                f.bytes()
                            )
                        })
                        .collect();
                    if near.len() > 25 {
                        lines.push(format!("… {} more", near.len() - 25));
                    }
                    app.ui.inspector_cache = Some((key, feats, lines));
                }
                let cache = app.ui.inspector_cache.as_ref().expect("filled above");
                ui.label(
                    RichText::new(format!(
                        "window features (-{:.0} s to +{:.0} s)",
                        w.before_ns as f64 / 1e9,
                        w.after_ns as f64 / 1e9
                    ))
                    .strong(),
                );
                egui::Grid::new("feats")
                    .num_columns(2)
                    .striped(true)
                    .show(ui, |ui| {
                        for (n, v) in &cache.1 {
                            if n.ends_with("_var") {
                                continue;
                            }
                            ui.label(RichText::new(n).small());
                            ui.label(RichText::new(feature_value(*v)).small().monospace());
                            ui.end_row();
                        }
                    });
                ui.separator();
                ui.label(RichText::new("nearby flows (±60 s)").strong());
                for l in &cache.2 {
                    ui.label(RichText::new(l).small().monospace());
                }
            });
            app.commands.extend(cmds);
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
                .on_hover_text("Undo the last edit (Ctrl+Z)")
                .clicked()
            {
                app.commands.push(Command::Undo);
            }
            if ui
                .add_enabled(can_r, egui::Button::new("Redo"))
                .on_hover_text("Redo (Ctrl+Shift+Z)")
                .clicked()
            {
                app.commands.push(Command::Redo);
            }
            if ui
                .button("Export…")
                .on_hover_text("Export the cleaned dataset (Ctrl+E)")
                .clicked()
            {
                app.ui.export.open = true;
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
            Tab::Events => super::tables::events_table(app, ui),
            Tab::Suggestions => super::tables::suggestions(app, ui),
            Tab::Training => super::training::training(app, ui),
            Tab::Journal => super::tables::journal(app, ui),
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
            app.ui.open_dialog = true;
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

/// A dialog window, first shown in the middle of the window (egui's default corner put it
/// over the menu bar).
fn dialog(title: &str, ctx: &egui::Context) -> egui::Window<'static> {
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
                        for (k, v) in [
                            ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo"),
                            ("Ctrl+S", "save the project"),
                            ("Ctrl+O", "open a project"),
                            ("Ctrl+E", "export"),
                            ("N / P", "next / previous event"),
                            ("Shift+N / Shift+P", "next / previous suggestion"),
                            ("A", "accept the selected suggestion"),
                            ("F", "zoom to the selected event"),
                            ("+ / -", "zoom in / out"),
                            ("Left / Right", "pan"),
                            ("Home", "whole capture"),
                            ("Esc", "close the dialog, else clear the selection"),
                            ("F1 or ?", "this help"),
                            ("mouse wheel / drag", "zoom / pan the timeline"),
                            ("drag a marker", "retime the event (one undo step)"),
                            (
                                "Shift+drag a marker",
                                "shift its whole source's clock offset",
                            ),
                        ] {
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
}

fn export_dialog(app: &mut App, ctx: &egui::Context) {
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

fn new_project_dialog(app: &mut App, ctx: &egui::Context) {
    if !app.ui.new_project.open {
        return;
    }
    let mut open = true;
    let mut create = false;
    dialog("New project", ctx)
        .open(&mut open)
        .default_width(620.0)
        .show(ctx, |ui| {
            let d = &mut app.ui.new_project;
            ui.label(
                RichText::new(
                    "Drop captures, devices.json and label logs on the window, or type paths.",
                )
                .italics(),
            );
            ui.horizontal(|ui| {
                ui.label("project file");
                ui.add(
                    egui::TextEdit::singleline(&mut d.project_text)
                        .desired_width(420.0)
                        .hint_text("lab.labelbench.json"),
                )
                .on_hover_text(
                    "Where to write the project (paths inside are stored relative to it)",
                );
            });
            ui.label(RichText::new("captures").strong());
            let mut remove = None;
            for (i, c) in d.spec.captures.iter().enumerate() {
                ui.horizontal(|ui| {
                    ui.label(c);
                    if ui.small_button("x").on_hover_text("Remove").clicked() {
                        remove = Some(i);
                    }
                });
            }
            if let Some(i) = remove {
                d.spec.captures.remove(i);
            }
            ui.horizontal(|ui| {
                ui.add(
                    egui::TextEdit::singleline(&mut d.capture_text)
                        .desired_width(380.0)
                        .hint_text("pcaps/*.pcap"),
                )
                .on_hover_text("A capture file or glob");
                if ui
                    .button("Add")
                    .on_hover_text("Add this capture path or glob")
                    .clicked()
                    && !d.capture_text.trim().is_empty()
                {
                    d.spec.captures.push(d.capture_text.trim().to_string());
                    d.capture_text.clear();
                }
                if let Some(p) = browse_file(ui, "Capture") {
                    d.spec.captures.push(p.display().to_string());
                }
            });
            ui.horizontal(|ui| {
                ui.label("device registry");
                ui.add(
                    egui::TextEdit::singleline(&mut d.spec.devices)
                        .desired_width(380.0)
                        .hint_text("devices.json or devices.csv"),
                )
                .on_hover_text("The lab's devices.json or CSV name,mac,ip,description,hub");
                if let Some(p) = browse_file(ui, "Device registry") {
                    d.spec.devices = p.display().to_string();
                }
            });
            ui.label(RichText::new("label sources").strong());
            let mut remove = None;
            for (i, (k, p, tz)) in d.spec.sources.iter().enumerate() {
                ui.horizontal(|ui| {
                    ui.label(format!("{} · {} · {}", k.as_str(), p, tz));
                    if ui.small_button("x").on_hover_text("Remove").clicked() {
                        remove = Some(i);
                    }
                });
            }
            if let Some(i) = remove {
                d.spec.sources.remove(i);
            }
            ui.horizontal(|ui| {
                egui::ComboBox::from_id_salt("newkind")
                    .selected_text(d.new_kind.map(|k| k.as_str()).unwrap_or("kind"))
                    .show_ui(ui, |ui| {
                        for k in SourceKind::ALL {
                            ui.selectable_value(&mut d.new_kind, Some(k), k.as_str());
                        }
                    })
                    .response
                    .on_hover_text("What kind of log this is");
                ui.add(
                    egui::TextEdit::singleline(&mut d.new_path)
                        .desired_width(240.0)
                        .hint_text("labels/ifttt-events.csv"),
                )
                .on_hover_text("Path of the log");
                if let Some(p) = browse_file(ui, "Label log") {
                    d.new_path = p.display().to_string();
                }
                if d.new_tz.is_empty() {
                    d.new_tz = "America/New_York".into();
                }
                ui.add(egui::TextEdit::singleline(&mut d.new_tz).desired_width(130.0))
                    .on_hover_text("IANA time zone of the log's local times");
                // Nothing to add until the log has a kind and a path: say so instead of
                // ignoring the click.
                let ready = d.new_kind.is_some() && !d.new_path.trim().is_empty();
                if ui
                    .add_enabled(ready, egui::Button::new("Add"))
                    .on_hover_text("Add this label source")
                    .on_disabled_hover_text("Choose the log's kind and give its path first")
                    .clicked()
                {
                    if let Some(k) = d.new_kind {
                        d.spec.sources.push((
                            k,
                            d.new_path.trim().to_string(),
                            d.new_tz.trim().to_string(),
                        ));
                        d.new_path.clear();
                    }
                }
            });
            if ui
                .button("Create and open")
                .on_hover_text("Write the project file and load it")
                .clicked()
            {
                create = true;
            }
        });
    if create {
        let mut spec = app.ui.new_project.spec.clone();
        spec.project = PathBuf::from(app.ui.new_project.project_text.trim());
        app.commands.push(Command::CreateProject(spec));
        app.ui.new_project.open = false;
    }
    if !open {
        app.ui.new_project.open = false;
    }
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

/// A feature value as read: sums, counts, minima and maxima of lengths are whole numbers and
/// show without decimals; means, spreads and times keep three.
fn feature_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// The Inspector's summary of a selected device: identity, where its traffic comes from, and
/// what the captures and the logs hold for it.
fn device_card(app: &App, ui: &mut egui::Ui, d: u16, tz: &chrono_tz::Tz) {
    let Some(s) = app.session.as_ref() else {
        return;
    };
    let Some(dev) = s.registry.devices.get(d as usize) else {
        return;
    };
    ui.label(RichText::new(&dev.name).strong());
    if dev.description.is_empty() {
        ui.label(dev.kind());
    } else {
        ui.label(format!("{} — {}", dev.kind(), dev.description));
    }
    let children: Vec<&str> = s
        .registry
        .devices
        .iter()
        .filter(|c| c.hub.as_deref() == Some(dev.name.as_str()))
        .map(|c| c.name.as_str())
        .collect();
    let mut events = [0usize; 3];
    let mut classes: std::collections::BTreeMap<&str, usize> = Default::default();
    for e in s.labels.events.iter().filter(|e| e.device == d) {
        events[match e.status {
            crate::labels::Status::Active => 0,
            crate::labels::Status::Duplicate => 1,
            crate::labels::Status::Rejected => 2,
        }] += 1;
        *classes.entry(e.class.as_str()).or_default() += 1;
    }
    key_values(ui, "devcard", |kv| {
        kv(
            "MAC",
            match (&dev.mac, &dev.hub) {
                (Some(_), _) => dev.mac_string(),
                (None, Some(_)) => "none (its traffic is its hub's)".into(),
                (None, None) => "none".into(),
            },
        );
        if !dev.ips.is_empty() {
            let ips: Vec<String> = dev.ips.iter().map(|ip| ip.to_string()).collect();
            kv("IP", ips.join(", "));
        }
        if let Some(h) = &dev.hub {
            kv("behind hub", h.clone());
        }
        if !children.is_empty() {
            kv("hub of", children.join(", "));
        }
        if !dev.registered {
            kv("registry", "not registered (seen in the captures)".into());
        }
        match (app.dev_stats.get(d as usize), &dev.hub) {
            (Some(st), _) if st.packets > 0 => kv(
                "traffic",
                format!(
                    "{} packets · {} · {} flows",
                    compact(st.packets),
                    human_bytes(st.bytes),
                    compact(st.flows)
                ),
            ),
            (_, Some(h)) => kv("traffic", format!("none of its own (through {h})")),
            _ => kv("traffic", "none in the captures".into()),
        }
        if let Some(st) = app.dev_stats.get(d as usize) {
            if let (Some(a), Some(b)) = (st.first_ns, st.last_ns) {
                kv("seen", crate::timefmt::local_range(a, b, tz));
            }
        }
        kv(
            "events",
            format!(
                "{} active · {} duplicate · {} rejected",
                events[0], events[1], events[2]
            ),
        );
        if !classes.is_empty() {
            let c: Vec<String> = classes.iter().map(|(k, n)| format!("{k} {n}")).collect();
            kv("classes", c.join(", "));
        }
    });
}

/// A striped two-column grid of named values, as the Inspector's cards show them.
fn key_values(ui: &mut egui::Ui, id: &str, add: impl FnOnce(&mut dyn FnMut(&str, String))) {
    egui::Grid::new(id)
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            add(&mut |k: &str, v: String| {
                ui.label(k);
                ui.label(v);
                ui.end_row();
            })
        });
}
