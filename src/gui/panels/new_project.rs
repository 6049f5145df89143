//! The New project dialog: captures, registry and label sources, typed, browsed or dropped,
//! checked before the project is written.

use super::*;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewProjectSpec {
    pub project: PathBuf,
    pub captures: Vec<String>,
    pub devices: String,
    pub sources: Vec<(SourceKind, String, String)>,
    /// When flows end.
    pub flows: crate::traffic::FlowTimeouts,
}

impl NewProjectSpec {
    /// Writes the project file (paths relative to it) and returns its path. An existing
    /// project file is never replaced from the dialog: the error asks for another name.
    pub fn write(&self) -> Result<PathBuf, String> {
        let spec = crate::project::create::NewProject {
            path: self.project.clone(),
            captures: self.captures.clone(),
            devices: Some(self.devices.trim())
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
            sources: self
                .sources
                .iter()
                .map(|(kind, path, tz)| SourceSpec {
                    kind: *kind,
                    path: path.clone(),
                    tz: tz.clone(),
                    offset_ns: 0,
                    csv: None,
                    rules: vec![],
                })
                .collect(),
            replace: false,
            flows: self.flows,
        };
        crate::project::create::create(&spec).map_err(|e| {
            match e.ends_with(crate::project::create::ALREADY_EXISTS) {
                true => format!("{e}: choose another name, or open it"),
                false => e,
            }
        })?;
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
pub(crate) enum DroppedKind {
    Capture,
    Registry,
    /// A label log; `named` when its name says which kind (not the generic CSV fallback).
    Log {
        kind: SourceKind,
        named: bool,
    },
}

impl DroppedKind {
    pub(crate) fn of(path: &Path) -> DroppedKind {
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
    pub(crate) fn add_file(&mut self, f: &Path, kind: DroppedKind) {
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
    pub(crate) fn add_folder(&mut self, dir: &Path) -> bool {
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
pub(crate) fn browse_button(ui: &mut egui::Ui, hover: &str) -> bool {
    ui.add_enabled(
        crate::gui::portal::file_dialogs_available(),
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
pub(crate) fn browse_file(ui: &mut egui::Ui, title: &str) -> Option<PathBuf> {
    browse_button(ui, "Native file dialog")
        .then(|| pick_file(title))
        .flatten()
}

/// The native file dialog, where there can be one.
pub(crate) fn pick_file(title: &str) -> Option<PathBuf> {
    // rfd needs a desktop portal at run time; without one it returns None and the typed path
    // field still works.
    crate::gui::portal::file_dialogs_available()
        .then(|| rfd::FileDialog::new().set_title(title).pick_file())
        .flatten()
}

pub(crate) fn new_project_dialog(app: &mut App, ctx: &egui::Context) {
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
            egui::CollapsingHeader::new(format!("flows: {}", d.spec.flows.preset.as_str()))
                .id_salt("new-flows")
                .show(ui, |ui| {
                    flow_timeouts_editor(ui, &mut d.spec.flows, "new-flows")
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
