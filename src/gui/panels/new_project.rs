//! The New project dialog: captures, registry and label sources, typed, browsed or dropped,
//! checked before the project is written.

use super::*;

/// A label source in the dialog: its spec, and why its kind is what it is when it was told
/// from the file's content.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSource {
    pub spec: SourceSpec,
    pub why: Option<String>,
}

impl NewSource {
    fn new(kind: SourceKind, path: String, tz: String) -> NewSource {
        NewSource {
            spec: SourceSpec::new(kind, path, tz),
            why: None,
        }
    }

    /// A log whose kind was told from its content.
    fn sniffed(path: String, tz: String, s: crate::labels::sniff::Sniffed) -> NewSource {
        let mut n = NewSource::new(s.kind, path, tz);
        n.spec.csv = s.csv;
        n.why = Some(s.why);
        n
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewProjectSpec {
    pub project: PathBuf,
    pub captures: Vec<String>,
    pub devices: String,
    pub sources: Vec<NewSource>,
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
            traffic: None,
            devices: Some(self.devices.trim())
                .filter(|d| !d.is_empty())
                .map(PathBuf::from),
            sources: self.sources.iter().map(|s| s.spec.clone()).collect(),
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
    /// The kind of the log to add; `None` tells it from the file's content.
    pub new_kind: Option<SourceKind>,
    pub new_path: String,
    pub new_tz: String,
    /// Columns of a `csv` log to add.
    pub new_csv: crate::labels::CsvColumns,
    /// Why the last log could not be added, or the project not written.
    pub error: Option<String>,
    /// Files of dropped folders that were left out, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

/// What a dropped file is taken for: a capture by its bytes, a registry by its name and
/// content, a log by its content.
pub(crate) enum DroppedKind {
    Capture,
    Registry,
    Log(crate::labels::sniff::Sniffed),
    /// Not usable, with the reason.
    Unknown(String),
}

impl DroppedKind {
    pub(crate) fn of(path: &Path) -> DroppedKind {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if crate::capture::capture_suffix(&name).is_some() || crate::capture::probe(path).is_ok() {
            return DroppedKind::Capture;
        }
        if (name.contains("device") || name.ends_with(".py"))
            && crate::traffic::devices::Registry::load(path).is_ok()
        {
            return DroppedKind::Registry;
        }
        match crate::labels::sniff::sniff_file(path) {
            Ok(s) => DroppedKind::Log(s),
            Err(e) => {
                DroppedKind::Unknown(format!("{e}; add it under label sources with its kind"))
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
                match DroppedKind::of(f) {
                    DroppedKind::Unknown(why) => problems.push(why),
                    k => self.add_file(f, k),
                }
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
        if self.spec.captures.contains(&s) || self.spec.sources.iter().any(|x| x.spec.path == s) {
            return;
        }
        match kind {
            DroppedKind::Capture => self.spec.captures.push(s),
            DroppedKind::Registry => self.spec.devices = s,
            DroppedKind::Log(sniffed) => {
                let tz = self.zone();
                self.spec.sources.push(NewSource::sniffed(s, tz, sniffed))
            }
            DroppedKind::Unknown(_) => {}
        }
    }

    /// The zone new logs are read in: the one typed in the dialog.
    fn zone(&self) -> String {
        match self.new_tz.trim() {
            "" => "America/New_York".into(),
            tz => tz.to_string(),
        }
    }

    /// See [`NewProjectDialog::add_dropped`]; false when nothing in the folder was usable.
    /// Captures become one glob per folder and suffix, so that files fetched later (a Git LFS
    /// pull) are read too; what the folder scan left out is listed in the dialog.
    pub(crate) fn add_folder(&mut self, dir: &Path) -> bool {
        let Ok(scan) = crate::project::scan::scan_folder(dir) else {
            return false;
        };
        let mut found = false;
        // A folder of per-event captures: one glob, and the same glob as the labels.
        for g in &scan.per_event {
            found = true;
            if !self.spec.captures.contains(g) {
                self.spec.captures.push(g.clone());
                let mut source =
                    NewSource::new(SourceKind::PerEventCaptures, g.clone(), self.zone());
                source.why = Some("every capture's path reads as device/activity/start.duration (Mon(IoT)r's layout)".into());
                self.spec.sources.push(source);
            }
        }
        let per_file = match scan.per_event.is_empty() {
            true => scan.captures.as_slice(),
            false => &[],
        };
        for c in per_file {
            let name = c.file_name().unwrap_or_default().to_string_lossy();
            let suffix = crate::capture::capture_suffix(&name).unwrap_or(".pcap");
            let folder = c.parent().unwrap_or(dir);
            // The folder's own name taken literally, should it hold `[` or `*`.
            let lit = glob::Pattern::escape(&folder.display().to_string());
            let g = Path::new(&lit)
                .join(format!("*{suffix}"))
                .display()
                .to_string();
            found = true;
            if !self.spec.captures.contains(&g) {
                self.spec.captures.push(g);
            }
        }
        if let Some(r) = &scan.registry {
            found = true;
            if self.spec.devices.is_empty() {
                self.spec.devices = r.display().to_string();
            }
        }
        for (f, sniffed) in scan.logs {
            found = true;
            self.add_file(&f, DroppedKind::Log(sniffed));
        }
        for s in scan.skipped {
            if !self.skipped.contains(&s) {
                self.skipped.push(s);
            }
        }
        found
    }

    /// Adds the log typed in the dialog, its kind as chosen or told from its content.
    pub(crate) fn add_typed_source(&mut self) {
        let path = self.new_path.trim().to_string();
        let tz = self.zone();
        if let Err(e) = tz.parse::<chrono_tz::Tz>() {
            self.error = Some(format!("{tz}: unknown time zone ({e})"));
            return;
        }
        let source = match self.new_kind {
            Some(kind) => {
                let mut n = NewSource::new(kind, path, tz);
                if kind == SourceKind::Csv {
                    n.spec.csv = Some(self.new_csv.clone());
                }
                n
            }
            None => match crate::labels::sniff::sniff_file(Path::new(&path)) {
                Ok(s) => NewSource::sniffed(path, tz, s),
                Err(e) => {
                    self.error = Some(format!("{e}: choose its kind"));
                    return;
                }
            },
        };
        self.error = None;
        self.spec.sources.push(source);
        self.new_path.clear();
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
                        .hint_text("devices.json, devices.py or devices.csv"),
                )
                .on_hover_text("The lab's devices.json, its devices.py (read, never run) or CSV name,mac,ip,description,hub");
                if let Some(p) = browse_file(ui, "Device registry") {
                    d.spec.devices = p.display().to_string();
                }
            });
            label_sources(ui, d);
            egui::CollapsingHeader::new(format!("flows: {}", d.spec.flows.preset.as_str()))
                .id_salt("new-flows")
                .show(ui, |ui| {
                    flow_timeouts_editor(ui, &mut d.spec.flows, "new-flows")
                });
            if let Some(e) = &d.error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
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

/// The label sources: those added (kind, path, zone, and why the kind when it was told from
/// the content), the row that adds one, and what dropped folders left out.
fn label_sources(ui: &mut egui::Ui, d: &mut NewProjectDialog) {
    ui.label(RichText::new("label sources").strong());
    let mut remove = None;
    for (i, s) in d.spec.sources.iter().enumerate() {
        ui.horizontal(|ui| {
            let r = ui.label(format!(
                "{} · {} · {}",
                s.spec.kind.as_str(),
                s.spec.path,
                s.spec.tz
            ));
            match &s.why {
                Some(why) => r.on_hover_text(format!("Kind told from the content: {why}")),
                None => r.on_hover_text("Kind as chosen"),
            };
            if ui.small_button("x").on_hover_text("Remove").clicked() {
                remove = Some(i);
            }
        });
        if let Some(why) = &s.why {
            ui.label(RichText::new(format!("    {why}")).small().weak());
        }
    }
    if let Some(i) = remove {
        d.spec.sources.remove(i);
    }
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("newkind")
            .selected_text(
                d.new_kind
                    .map(|k| k.as_str())
                    .unwrap_or("kind from content"),
            )
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut d.new_kind, None, "kind from content");
                for k in SourceKind::ALL {
                    ui.selectable_value(&mut d.new_kind, Some(k), k.as_str());
                }
            })
            .response
            .on_hover_text(
                "What kind of log this is; \"kind from content\" reads the file to tell",
            );
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
        // Nothing to add until the log has a path: say so instead of ignoring the click.
        let ready = !d.new_path.trim().is_empty();
        if ui
            .add_enabled(ready, egui::Button::new("Add"))
            .on_hover_text("Add this label source")
            .on_disabled_hover_text("Give the log's path first")
            .clicked()
        {
            d.add_typed_source();
        }
    });
    if d.new_kind == Some(SourceKind::Csv) {
        csv_columns(ui, &mut d.new_csv);
    }
    if !d.skipped.is_empty() {
        egui::CollapsingHeader::new(format!("{} files left out", d.skipped.len()))
            .id_salt("new-skipped")
            .show(ui, |ui| {
                for (f, why) in &d.skipped {
                    ui.label(format!("{}: {why}", f.display()));
                }
            });
    }
}

/// The columns of a generic CSV log.
fn csv_columns(ui: &mut egui::Ui, c: &mut crate::labels::CsvColumns) {
    ui.horizontal(|ui| {
        for (label, value, hover) in [
            (
                "time",
                &mut c.time,
                "Column of the time (a header name, or a 0-based index)",
            ),
            ("device", &mut c.device, "Column naming the device"),
            ("class", &mut c.class, "Column of the event's class"),
            (
                "format",
                &mut c.time_format,
                "iso8601, epoch (seconds), epoch-ms, or a chrono format such as %d/%m/%Y %H:%M:%S",
            ),
        ] {
            ui.label(label);
            ui.add(egui::TextEdit::singleline(value).desired_width(90.0))
                .on_hover_text(hover);
        }
        ui.checkbox(&mut c.has_header, "header row");
    });
}
