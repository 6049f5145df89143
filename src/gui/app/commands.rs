//! The commands panels push; the app applies them once per frame.

use super::*;

/// Everything a panel can ask for; applied by [`App::apply_commands`].
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Open(PathBuf),
    Save,
    SelectEvent(Option<u64>),
    /// Select an event where it is already on screen (the timeline): the view stays put.
    Pick(Option<u64>),
    SelectDevice(Option<u16>),
    ToggleHidden(u16),
    Apply(Edit),
    Undo,
    Redo,
    /// Accept the suggestions with these keys as one undo step.
    Accept(Vec<String>),
    /// Accept every shown suggestion (this kind, or all computed kinds, at or above this
    /// confidence), recomputing and repeating until nothing new is found.
    AcceptAllShown(Option<crate::curation::SuggestionKind>, f64),
    Dismiss(String),
    RefreshSuggestions,
    /// Show [lo, hi] (ns) on the timeline.
    SetView(i64, i64),
    ZoomToSelection,
    /// Jump to the next (true) or previous event.
    StepEvent(bool),
    StepSuggestion(bool),
    Train,
    /// Train tree, forest and extra-trees per device on the same folds, with the baseline.
    CompareModels,
    Export,
    CancelJob,
    CreateProject(crate::gui::panels::NewProjectSpec),
    Dark(bool),
    /// Show the Open project dialog.
    ShowOpen,
    /// Show the Export dialog.
    ShowExport,
    /// Show the Project settings dialog.
    ShowProjectSettings,
    /// Save the project with these flow timeouts and reload it (its flows are rebuilt).
    SetFlowTimeouts(crate::traffic::FlowTimeouts),
    /// Show or hide the keyboard shortcuts.
    ToggleHelp,
    /// Close the topmost dialog, else clear the selection (Esc).
    CloseOrClear,
    /// Open the time slice before (-1) or after (+1) the one open, of the same length: the
    /// next day of a dataset opened a day at a time.
    ShiftSlice(i64),
}

impl App {
    pub fn apply(&mut self, c: Command) {
        match c {
            Command::Open(p) => self.start_load(p),
            Command::ShiftSlice(dir) => {
                let loading = self.jobs.load.is_some();
                if let (Some((a, b)), Some(p), false) =
                    (self.slice, self.project_path.clone(), loading)
                {
                    let len = b.saturating_sub(a);
                    self.slice = Some((a.saturating_add(dir * len), b.saturating_add(dir * len)));
                    self.start_load(p);
                }
            }
            Command::Save => {
                if let Some(s) = self.session.as_mut() {
                    s.project.training = self.ui.train.clone();
                    match s.save() {
                        Ok(()) => self.ui.message = Some("project saved".into()),
                        Err(e) => self.errors.push(e.to_string()),
                    }
                }
            }
            Command::SelectEvent(id) => self.select_event(id),
            Command::Pick(id) => {
                self.ui.selected_event = id;
                if let Some(e) = id.and_then(|id| self.session.as_ref()?.labels.get(id)) {
                    self.ui.selected_device = Some(e.device);
                }
            }
            Command::SelectDevice(d) => self.ui.selected_device = d,
            Command::ToggleHidden(d) => {
                if !self.ui.hidden.remove(&d) {
                    self.ui.hidden.insert(d);
                }
            }
            Command::Apply(e) => {
                if let Some(s) = self.session.as_mut() {
                    match s.apply(e) {
                        Ok(_) => self.edited(),
                        Err(err) => self.errors.push(format!("edit not applied: {err}")),
                    }
                }
            }
            Command::Undo => {
                if let Some(s) = self.session.as_mut() {
                    // The status line says what was undone (not the step before it).
                    let what = s.history.undo_label();
                    match s.undo() {
                        Ok(true) => {
                            self.edited();
                            self.ui.message = what.map(|w| format!("undone: {w}"));
                        }
                        Ok(false) => self.ui.message = Some("nothing to undo".into()),
                        Err(e) => self.errors.push(e.to_string()),
                    }
                }
            }
            Command::Redo => {
                if let Some(s) = self.session.as_mut() {
                    let what = s.history.redo_label();
                    match s.redo() {
                        Ok(true) => {
                            self.edited();
                            self.ui.message = what.map(|w| format!("redone: {w}"));
                        }
                        Ok(false) => self.ui.message = Some("nothing to redo".into()),
                        Err(e) => self.errors.push(e.to_string()),
                    }
                }
            }
            Command::Accept(keys) => self.accept_keys(keys),
            Command::AcceptAllShown(kind, min) => self.accept_all_shown(kind, min),
            Command::Dismiss(k) => {
                self.ui.dismissed.insert(k);
            }
            Command::RefreshSuggestions => self.ui.sugg_generation += 1,
            Command::SetView(a, b) => {
                self.ui.pending_view = Some((a.min(b), a.max(b).max(a.min(b) + 1_000_000)))
            }
            Command::ZoomToSelection => {
                if let (Some(id), Some(s)) = (self.ui.selected_event, self.session.as_ref()) {
                    if let Some(e) = s.labels.get(id) {
                        let windows =
                            crate::learn::features::EventWindows::new(s, &s.project.window);
                        let (lo, hi) = windows.of(e);
                        self.ui.pending_view = Some((lo - 30_000_000_000, hi + 30_000_000_000));
                    }
                }
            }
            Command::StepEvent(fwd) => self.step_event(fwd),
            Command::StepSuggestion(fwd) => self.step_suggestion(fwd),
            Command::Train => self.start_training(false),
            Command::CompareModels => self.start_training(true),
            Command::Export => self.start_export(),
            Command::CancelJob => {
                for p in [
                    self.jobs.load.as_ref().map(|j| j.0.progress.clone()),
                    self.jobs.train.as_ref().map(|j| j.progress.clone()),
                    self.jobs.export.as_ref().map(|j| j.progress.clone()),
                ]
                .into_iter()
                .flatten()
                {
                    p.cancel();
                }
                self.ui.message = Some("cancelling…".into());
            }
            // A project that cannot be written leaves the dialog open with the reason in it,
            // so that the user fixes the one field rather than starts over.
            Command::CreateProject(spec) => match spec.write() {
                Ok(path) => {
                    self.ui.new_project.error = None;
                    self.ui.new_project.skipped.clear();
                    self.start_load(path)
                }
                Err(e) => {
                    self.ui.new_project.error = Some(e);
                    self.ui.new_project.open = true;
                }
            },
            Command::Dark(d) => self.settings.dark = d,
            Command::ShowOpen => self.ui.open_dialog = true,
            Command::ShowExport => self.ui.export.open = true,
            Command::ShowProjectSettings => {
                if let Some(s) = &self.session {
                    self.ui.project_settings.flows = s.project.flows;
                    self.ui.project_settings.open = true;
                }
            }
            Command::SetFlowTimeouts(t) => self.set_flow_timeouts(t),
            Command::ToggleHelp => self.ui.help = !self.ui.help,
            Command::CloseOrClear => self.close_or_clear(),
        }
    }

    /// Saves the project with new flow timeouts and reloads it: flows are assembled at load.
    fn set_flow_timeouts(&mut self, t: crate::traffic::FlowTimeouts) {
        if let Err(e) = t.check() {
            self.errors.push(format!("flow timeouts not applied: {e}"));
            return;
        }
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(path) = s.project_path.clone() else {
            self.errors
                .push("flow timeouts not applied: this project has no file to save to".into());
            return;
        };
        let old = s.project.flows;
        s.project.flows = t;
        s.project.training = self.ui.train.clone();
        match s.save() {
            Ok(()) => {
                self.start_load(path);
                self.ui.message = Some(format!("flows now end by {}", t.describe()));
            }
            Err(e) => {
                s.project.flows = old;
                self.errors.push(format!("flow timeouts not applied: {e}"));
            }
        }
    }

    /// Selects an event and brings it into view (keeping the zoom when it is already shown).
    fn select_event(&mut self, id: Option<u64>) {
        self.ui.selected_event = id;
        if let (Some(id), Some(s)) = (id, self.session.as_ref()) {
            if let Some(e) = s.labels.get(id) {
                self.ui.selected_device = Some(e.device);
                let t = s.adjusted_ns(e);
                // Centre it, keeping the zoom when it already shows it.
                let (lo, hi) = self
                    .ui
                    .view
                    .unwrap_or((t - 300_000_000_000, t + 300_000_000_000));
                let half = ((hi - lo) / 2).min(3 * 3_600_000_000_000);
                if t < lo || t > hi || (hi - lo) > 6 * 3_600_000_000_000 {
                    self.ui.pending_view =
                        Some((t - half.min(600_000_000_000), t + half.min(600_000_000_000)));
                }
            }
        }
    }

    /// What "Accept all shown" takes: accept-all's kinds and floors, narrowed to the kind
    /// shown, at the list's minimum confidence, never a dismissed suggestion.
    pub fn accept_all_policy(
        &self,
        kind: Option<crate::curation::SuggestionKind>,
        min: f64,
    ) -> crate::curation::Acceptance {
        let mut acc = crate::curation::Acceptance::all();
        if let Some(k) = kind {
            acc.kinds = vec![k];
        }
        acc.min_confidence = min;
        acc.skip = self.ui.dismissed.iter().cloned().collect();
        acc
    }

    /// Accepts the shown mislabels (they come from a model), then runs the curation pipeline
    /// on the shown kinds to a fixed point; each round is one undo step.
    fn accept_all_shown(&mut self, kind: Option<crate::curation::SuggestionKind>, min: f64) {
        use crate::curation::SuggestionKind;
        let acc = self.accept_all_policy(kind, min);
        let mislabels: Vec<String> = self
            .ui
            .mislabels
            .iter()
            .filter(|_| kind.is_none_or(|k| k == SuggestionKind::Mislabel))
            .filter(|m| m.confidence >= min && !acc.skip.contains(&m.key))
            .map(|m| m.key.clone())
            .collect();
        if !mislabels.is_empty() {
            self.accept_keys(mislabels);
        }
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let cfg = crate::curation::CurateSettings {
            range: self.slice,
            ..Default::default()
        };
        match crate::curation::run_all(s, &acc, &cfg) {
            Ok((_, n)) => {
                self.ui.suggestions.clear();
                self.ui.message = Some(format!(
                    "accepted {n} suggestions in rounds until nothing new was found"
                ));
                self.edited();
            }
            Err(e) => self.errors.push(format!("could not accept: {e}")),
        }
    }

    /// Accepts the suggestions with these keys as one undo step.
    fn accept_keys(&mut self, keys: Vec<String>) {
        let edits: Vec<Edit> = self
            .ui
            .suggestions
            .iter()
            .chain(self.ui.mislabels.iter())
            .filter(|s| keys.contains(&s.key))
            .filter_map(|s| s.edit.clone())
            .collect();
        if edits.is_empty() {
            return;
        }
        let n = edits.len();
        let edit = if n == 1 {
            edits.into_iter().next().expect("one")
        } else {
            Edit::Batch {
                label: format!("accept {n} suggestions"),
                edits,
            }
        };
        if let Some(s) = self.session.as_mut() {
            match s.apply(edit) {
                Ok(_) => {
                    // Hide accepted suggestions at once; the refresh recomputes the rest.
                    self.ui.suggestions.retain(|x| !keys.contains(&x.key));
                    self.ui.mislabels.retain(|x| !keys.contains(&x.key));
                    self.ui.message = Some(format!("accepted {n} suggestions"));
                    self.edited();
                }
                Err(e) => self.errors.push(format!("could not accept: {e}")),
            }
        }
    }

    /// Selects the next (or previous) event in time.
    fn step_event(&mut self, fwd: bool) {
        if let Some(s) = self.session.as_ref() {
            let order = s.events_by_time();
            let cur = self
                .ui
                .selected_event
                .and_then(|id| order.iter().position(|&i| s.labels.events[i].id == id));
            let next = match (cur, fwd) {
                (Some(i), true) => (i + 1).min(order.len().saturating_sub(1)),
                (Some(i), false) => i.saturating_sub(1),
                (None, _) => 0,
            };
            if let Some(&i) = order.get(next) {
                let id = s.labels.events[i].id;
                self.apply(Command::SelectEvent(Some(id)));
            }
        }
    }

    /// Selects the next (or previous) suggestion in the list's order.
    fn step_suggestion(&mut self, fwd: bool) {
        let list: Vec<&Suggestion> = self.visible_suggestions();
        if list.is_empty() {
            return;
        }
        let cur = self
            .ui
            .selected_sugg
            .as_ref()
            .and_then(|k| list.iter().position(|s| &s.key == k));
        let i = match (cur, fwd) {
            (Some(i), true) => (i + 1) % list.len(),
            (Some(i), false) => (i + list.len() - 1) % list.len(),
            (None, _) => 0,
        };
        let (key, ev, at) = (list[i].key.clone(), list[i].event, list[i].at_ns);
        self.ui.selected_sugg = Some(key);
        self.ui.tab = Tab::Suggestions;
        if let Some(id) = ev {
            self.apply(Command::SelectEvent(Some(id)));
        } else if let Some(t) = at {
            self.ui.pending_view = Some((t - 300_000_000_000, t + 300_000_000_000));
        }
    }

    /// Starts training on a snapshot of the session, in the background; with `compare`, the
    /// classifier comparison, saved beside the project as the CLI's `train --compare` does.
    fn start_training(&mut self, compare: bool) {
        if self.jobs.train.is_some() {
            return;
        }
        if let Some(s) = self.session.as_ref() {
            let snap = s.snapshot();
            let ts = self.ui.train.clone();
            let saved = s
                .project_path
                .as_ref()
                .map(|p| p.with_extension("model_report.json"));
            self.jobs.train = Some(Job::spawn("train", move |p| {
                p.set_stage("features and cross-validation", 1);
                if !compare {
                    return crate::learn::train_with(&snap, &ts, Some(&p));
                }
                let models = crate::learn::compare::parse_models("tree,forest,extra-trees")
                    .map_err(crate::Error::Other)?;
                crate::learn::compare::compare_and_save(
                    &snap,
                    &ts,
                    &models,
                    saved.as_deref(),
                    Some(&p),
                )
            }));
            self.ui.tab = Tab::Training;
        }
    }

    /// Starts the export the dialog describes, in the background.
    fn start_export(&mut self) {
        if self.jobs.export.is_some() {
            return;
        }
        if let Some(s) = self.session.as_ref() {
            let snap = s.snapshot();
            let d = &self.ui.export;
            let out = PathBuf::from(d.out.trim());
            let o = ExportOptions {
                format: d.format,
                pcap_slices: d.slices,
                pcapng: d.pcapng,
                include_rejected: d.include_rejected,
                force: d.force,
                only_devices: None,
                range: None,
                by_day: false,
            };
            let report = s
                .project_path
                .as_ref()
                .map(|p| p.with_extension("model_report.json"));
            let journal_entries = s.history.log.len();
            self.ui.export.result = None;
            self.jobs.export = Some(Job::spawn("export", move |p| {
                p.set_stage(&format!("exporting ({journal_entries} journaled edits)"), 1);
                crate::export::export(&snap, &out, &o, report.as_deref())
            }));
        }
    }

    /// Closes the topmost dialog, else clears the selection (Esc).
    fn close_or_clear(&mut self) {
        // The topmost thing goes first: an open dialog, else the selection.
        let ui = &mut self.ui;
        if ui.help {
            ui.help = false;
        } else if ui.export.open {
            ui.export.open = false;
        } else if ui.new_project.open {
            ui.new_project.open = false;
        } else if ui.project_settings.open {
            ui.project_settings.open = false;
        } else if ui.open_dialog {
            ui.open_dialog = false;
        } else {
            self.commands.push(Command::SelectEvent(None));
        }
    }
}
