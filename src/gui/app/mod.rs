//! The application state and frame loop. Panels read the session and push [`Command`]s; the
//! app applies them once per frame, and runs long work on named worker threads.

mod commands;
mod jobs;
pub mod keys;
mod state;

pub use commands::*;
pub use jobs::*;
pub use state::*;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;

use crate::curation::edits::Edit;
use crate::curation::{CurateSettings, Suggestion, SuggestionKind};
use crate::export::{ExportOptions, ExportReport, Format};
use crate::labels::Status;
use crate::learn::Report;
use crate::project::session::{OpenOptions, Session};
use crate::project::TrainSettings;
use crate::traffic::timeline::{Metric, Pyramid};

use crate::gui::theme;

pub struct App {
    pub session: Option<Session>,
    pub pyramid: Option<Arc<Pyramid>>,
    pub ui: UiState,
    pub commands: Vec<Command>,
    pub jobs: Jobs,
    pub settings: Settings,
    pub errors: Vec<String>,
    pub project_path: Option<PathBuf>,
    /// Per-device totals, computed once at load (they do not change with edits).
    pub dev_stats: Vec<crate::traffic::DeviceStats>,
    /// Per device: its flows in order of first packet (for flow bars when zoomed in).
    pub flow_index: crate::traffic::FlowIndex,
    /// Packets loaded at most from a traffic dataset opened without a slice
    /// ([`WINDOW_PACKET_BUDGET`]); a larger one opens at its first day.
    pub packet_budget: u64,
    /// A time slice (`[start, end)`, UTC ns) whose traffic alone a project reading a traffic
    /// dataset loads (`labelbench gui P --from … --to …`); `None`: the whole span.
    pub slice: Option<(i64, i64)>,
}

const SETTINGS_KEY: &str = "labelbench-settings";

impl App {
    pub fn new(cc: &eframe::CreationContext<'_>, project: Option<PathBuf>) -> Self {
        let settings: Settings = cc
            .storage
            .and_then(|s| eframe::get_value(s, SETTINGS_KEY))
            .unwrap_or_default();
        cc.egui_ctx.set_visuals(theme::visuals(settings.dark));
        Self::with_settings(settings, project)
    }

    /// Without eframe (tests, benchmarks).
    pub fn with_settings(settings: Settings, project: Option<PathBuf>) -> Self {
        let mut app = App {
            session: None,
            pyramid: None,
            ui: UiState::default(),
            commands: vec![],
            jobs: Jobs::default(),
            settings,
            errors: vec![],
            project_path: None,
            dev_stats: vec![],
            flow_index: Default::default(),
            packet_budget: WINDOW_PACKET_BUDGET,
            slice: None,
        };
        if let Some(p) = project {
            app.commands.push(Command::Open(p));
        }
        app
    }

    /// Loads a project synchronously (tests and benchmarks).
    pub fn with_session(settings: Settings, s: Session) -> Self {
        let mut app = Self::with_settings(settings, None);
        let p = Pyramid::build(&s.traffic);
        let st = crate::traffic::device_stats(&s.traffic, s.registry.len());
        app.install(s, p, st);
        app
    }

    pub fn is_busy(&self) -> bool {
        self.jobs.load.is_some()
            || self.jobs.suggest.is_some()
            || self.jobs.train.is_some()
            || self.jobs.export.is_some()
    }

    pub fn metric(&self) -> Metric {
        if self.settings.metric_bytes {
            Metric::Bytes
        } else {
            Metric::Packets
        }
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.settings.tz.parse().unwrap_or(chrono_tz::UTC)
    }

    fn install(&mut self, s: Session, p: Pyramid, stats: Vec<crate::traffic::DeviceStats>) {
        self.dev_stats = stats;
        self.flow_index = crate::traffic::FlowIndex::build(&s.traffic, s.registry.len());
        self.ui = UiState {
            train: s.project.training.clone(),
            offset_text: s
                .labels
                .offsets
                .iter()
                .map(|o| format!("{:.1}", *o as f64 / 1e9))
                .collect(),
            ..UiState::default()
        };
        if let (Some(a), Some(b)) = (s.traffic.first_ns(), s.traffic.last_ns()) {
            self.ui.pending_view = Some((a, b));
        }
        if let Some(path) = &s.project_path {
            self.project_path = Some(path.clone());
            // Recent projects are absolute, so that they open from any folder.
            let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            self.settings.recent.retain(|r| *r != path);
            self.settings.recent.insert(0, path);
            self.settings.recent.truncate(8);
        }
        for w in &s.warnings {
            self.errors.push(w.clone());
        }
        for src in &s.sources {
            for e in src.load.errors.iter().take(20) {
                self.errors
                    .push(format!("{}: line {}: {}", e.file, e.line, e.reason));
            }
        }
        self.session = Some(s);
        self.pyramid = Some(Arc::new(p));
        self.ui.sugg_generation += 1;
    }

    fn start_load(&mut self, path: PathBuf) {
        self.errors.clear();
        let p2 = path.clone();
        let (asked, budget) = (self.slice, self.packet_budget);
        let job = Job::spawn("load", move |pr| {
            let opts = OpenOptions {
                journal: true,
                cache: true,
            };
            let (slice, mut notes) = match asked {
                Some(s) => (Some(s), Vec::new()),
                None => slice_within_budget(&p2, budget),
            };
            let m = crate::curation::SLICE_MARGIN_NS;
            let filter = crate::traffic::dataset::TrafficFilter {
                devices: None,
                range: slice.map(|(a, b)| (a.saturating_sub(m), b.saturating_add(m))),
            };
            let mut s =
                Session::open_filtered(&p2, opts, &filter, Some(&pr)).map_err(|e| e.to_string())?;
            if let Some(w) = s.history.journal.as_ref().and_then(|j| j.held_elsewhere()) {
                s.warnings.push(w);
            }
            // The cache finishes writing on its own thread; closing this project must not
            // wait for the disk on the UI thread.
            if let Some(w) = s.cache_writer.take() {
                let _ = std::thread::Builder::new()
                    .name("cache-wait".into())
                    .spawn(move || w.wait());
            }
            pr.set_stage("building timeline bins", 1);
            let (pyramid, note) = overview(&s, slice);
            notes.extend(note);
            let stats = crate::traffic::device_stats(&s.traffic, s.registry.len());
            Ok(LoadedProject {
                session: s,
                pyramid,
                stats,
                slice,
                notes,
            })
        });
        self.jobs.load = Some((job, path));
    }

    /// Applies queued commands and collects finished jobs. Called once per frame.
    pub fn apply_commands(&mut self) {
        for c in std::mem::take(&mut self.commands) {
            self.apply(c);
        }
        self.poll_jobs();
        // Suggestions follow the labels: recompute in the background after edits.
        let stale =
            self.jobs.suggest.is_none() && self.ui.sugg_done_generation < self.ui.sugg_generation;
        if let Some(s) = self.session.as_ref().filter(|_| stale) {
            let snap = s.snapshot();
            let generation = self.ui.sugg_generation;
            // A slice's suggestions are about its own events and time, as `curate --from` gives.
            let cfg = CurateSettings {
                range: self.slice,
                ..Default::default()
            };
            let job = Job::spawn("suggest", move |_| crate::curation::suggest(&snap, &cfg));
            self.jobs.suggest = Some((job, generation));
        }
    }

    fn poll_jobs(&mut self) {
        if self.jobs.load.as_ref().is_some_and(|j| j.0.finished()) {
            let (job, path) = self.jobs.load.take().expect("checked");
            match job.join() {
                Some(Ok(LoadedProject {
                    session: s,
                    pyramid: p,
                    stats: st,
                    slice,
                    notes,
                })) => {
                    self.slice = slice;
                    let dataset = s.traffic_dir();
                    let msg = Some(match &s.cache_status {
                        _ if dataset.is_some() => format!(
                            "traffic read from the dataset {}{}",
                            dataset.as_deref().map(|d| d.display()).expect("checked"),
                            self.slice.map_or(String::new(), |(a, b)| format!(
                                " for {} to {} (UTC) only",
                                crate::timefmt::utc_short(a),
                                crate::timefmt::utc_short(b)
                            ))
                        ),
                        crate::traffic::cache::CacheStatus::Hit { .. } => {
                            "captures read from the derived cache".to_string()
                        }
                        crate::traffic::cache::CacheStatus::WriteFailed { error, .. } => {
                            format!("captures parsed; cache not saved: {error}")
                        }
                        _ => "captures parsed".to_string(),
                    });
                    self.install(s, p, st);
                    self.ui.message = msg.map(|m| {
                        std::iter::once(m)
                            .chain(notes)
                            .collect::<Vec<_>>()
                            .join("; ")
                    });
                }
                Some(Err(e)) => self.errors.push(e),
                None => self
                    .errors
                    .push(format!("{}: loading crashed", path.display())),
            }
        }
        if self.jobs.suggest.as_ref().is_some_and(|j| j.0.finished()) {
            let (job, generation) = self.jobs.suggest.take().expect("checked");
            if let Some(v) = job.join() {
                self.ui.suggestions = v;
                self.ui.sugg_done_generation = generation;
            }
        }
        if self.jobs.train.as_ref().is_some_and(|j| j.finished()) {
            let job = self.jobs.train.take().expect("checked");
            let cancelled = job.progress.cancelled();
            match job.join() {
                Some(Ok(r)) => {
                    if !cancelled {
                        self.ui.message = Some(match &r.comparison {
                            Some(c) => format!(
                                "compared {} on {} devices; the table is saved beside the project (model_comparison.csv)",
                                c.models.join(", "),
                                c.devices.len()
                            ),
                            None => format!(
                                "trained: accuracy {:.3}, macro F1 {:.3}",
                                r.accuracy, r.macro_f1
                            ),
                        });
                        self.ui.mislabels = match self.session.as_ref() {
                            Some(s) => crate::curation::mislabel_suggestions(s, &r),
                            None => vec![],
                        };
                        self.ui.report = Some(r);
                        self.ui.cell = None;
                        self.ui.report_device = None;
                    }
                }
                Some(Err(crate::Error::Cancelled)) => {
                    self.ui.message = Some("training cancelled".into())
                }
                Some(Err(e)) => self.errors.push(format!("training: {e}")),
                None => self.errors.push("training crashed".into()),
            }
        }
        if self.jobs.export.as_ref().is_some_and(|j| j.finished()) {
            let job = self.jobs.export.take().expect("checked");
            let r = match job.join() {
                Some(Ok(r)) => Ok(r),
                Some(Err(e)) => Err(e.to_string()),
                None => Err("export crashed".into()),
            };
            self.ui.export.result = Some(r);
        }
    }

    fn edited(&mut self) {
        self.ui.sugg_generation += 1;
    }

    /// Suggestions shown in the list: not dismissed, above the confidence filter, of the chosen
    /// kind, in the chosen order (as chosen at the start of the frame).
    pub fn visible_suggestions(&self) -> Vec<&Suggestion> {
        let all = self.ui.suggestions.len();
        self.ui
            .visible_sugg
            .iter()
            .filter_map(|&i| match i < all {
                true => self.ui.suggestions.get(i),
                false => self.ui.mislabels.get(i - all),
            })
            .collect()
    }

    /// Filters and orders the suggestions once a frame (three panels read the list; filtering
    /// and sorting the lab week's 8,651 three times a frame cost several milliseconds).
    fn choose_visible_suggestions(&mut self) {
        let ui = &self.ui;
        let mut v: Vec<(usize, &Suggestion)> = ui
            .suggestions
            .iter()
            .chain(ui.mislabels.iter())
            .enumerate()
            .filter(|(_, s)| !ui.dismissed.contains(&s.key))
            .filter(|(_, s)| s.confidence >= ui.sugg_min_conf)
            .filter(|(_, s)| ui.sugg_kind.is_none_or(|k| k == s.kind))
            .collect();
        ui.sugg_order.sort_by(&mut v, |x| x.1);
        self.ui.visible_sugg = v.into_iter().map(|x| x.0).collect();
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        // Keys without Ctrl belong to a text field that has the focus.
        let plain = !ctx.egui_wants_keyboard_input();
        for a in ctx.input_mut(|i| keys::pressed(i, plain)) {
            self.act(a);
        }
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        if !dropped.is_empty() {
            if let Some(p) = dropped.iter().find(|p| {
                p.to_string_lossy().ends_with(".json") && p.to_string_lossy().contains("labelbench")
            }) {
                self.commands.push(Command::Open(p.clone()));
            } else {
                let problems = self.ui.new_project.add_dropped(&dropped);
                self.errors.extend(problems);
            }
        }
    }

    /// Runs a shortcut's action by pushing its commands.
    pub fn act(&mut self, a: keys::Action) {
        use keys::Action as A;
        let view = self.ui.view;
        let zoom = |f: f64| {
            view.map(|(a, b)| {
                let c = (a + b) / 2;
                let h = (((b - a) as f64 * f) / 2.0) as i64;
                Command::SetView(c - h.max(500_000_000), c + h.max(500_000_000))
            })
        };
        let pan = |f: f64| {
            view.map(|(a, b)| {
                let d = ((b - a) as f64 * f) as i64;
                Command::SetView(a + d, b + d)
            })
        };
        let whole = self.session.as_ref().and_then(|s| {
            let (a, b) = (s.traffic.first_ns()?, s.traffic.last_ns()?);
            Some(Command::SetView(a, b))
        });
        let accept = self
            .ui
            .selected_sugg
            .clone()
            .map(|k| Command::Accept(vec![k]));
        let c = match a {
            A::Redo => Some(Command::Redo),
            A::Undo => Some(Command::Undo),
            A::Save => Some(Command::Save),
            A::OpenProject => Some(Command::ShowOpen),
            A::Export => Some(Command::ShowExport),
            A::NextEvent => Some(Command::StepEvent(true)),
            A::PreviousEvent => Some(Command::StepEvent(false)),
            A::NextSuggestion => Some(Command::StepSuggestion(true)),
            A::PreviousSuggestion => Some(Command::StepSuggestion(false)),
            A::AcceptSelected => accept,
            A::ZoomToSelection => Some(Command::ZoomToSelection),
            A::ZoomIn => zoom(0.5),
            A::ZoomOut => zoom(2.0),
            A::PanLeft => pan(-0.25),
            A::PanRight => pan(0.25),
            A::WholeCapture => whole,
            A::CloseOrClear => Some(Command::CloseOrClear),
            A::Help => Some(Command::ToggleHelp),
        };
        self.commands.extend(c);
    }

    /// The whole UI of one frame.
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ctx.set_visuals(theme::visuals(self.settings.dark));
        self.apply_commands();
        self.shortcuts(&ctx);
        self.choose_visible_suggestions();
        crate::gui::panels::menu_bar(self, ui);
        crate::gui::panels::status_bar(self, ui);
        if self.session.is_some() {
            crate::gui::panels::devices_panel(self, ui);
            crate::gui::panels::inspector_panel(self, ui);
            crate::gui::panels::bottom_panel(self, ui);
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if self.session.is_some() {
                crate::gui::timeline::timeline(self, ui);
            } else {
                crate::gui::panels::welcome(self, ui);
            }
        });
        crate::gui::panels::dialogs(self, &ctx);
        if self.is_busy() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings);
    }
}

/// Packets the window loads at most when it opens a traffic dataset without a slice (about
/// 2 GB in memory; the lab week's 51 M packets load whole).
pub const WINDOW_PACKET_BUDGET: u64 = 64_000_000;

/// The slice to open of a project whose traffic dataset holds more than `budget` packets (its
/// first day), with a note saying so; no slice (and no note) for anything smaller, a project
/// of captures, or a dataset whose manifest cannot be read (the load then says why).
fn slice_within_budget(
    project: &std::path::Path,
    budget: u64,
) -> (Option<(i64, i64)>, Vec<String>) {
    let base = project.parent().unwrap_or(std::path::Path::new("."));
    let Some(dir) = crate::project::Project::load(project)
        .ok()
        .and_then(|p| p.traffic)
        .map(|d| base.join(d))
    else {
        return (None, Vec::new());
    };
    match crate::traffic::dataset::first_day_beyond(&dir, budget) {
        Ok(Some((day, total))) => {
            let note = format!(
                "the dataset holds {} packets, more than the window loads at once: opened its \
                 first day (Next slice opens the next; `labelbench gui PROJECT --from --to` any)",
                crate::numfmt::grouped(total)
            );
            (Some(day), vec![note])
        }
        _ => (None, Vec::new()),
    }
}

/// The timeline's bins: a slice of a traffic dataset draws the dataset's whole span from the
/// bins `extract` wrote (the slice's packets alone would show only the slice); otherwise, and
/// for a dataset whose bins cannot be used, bins of the loaded packets, with a note for the
/// status line saying why.
fn overview(s: &Session, slice: Option<(i64, i64)>) -> (Pyramid, Option<String>) {
    let (Some(_), Some(dir)) = (slice, s.traffic_dir()) else {
        return (Pyramid::build(&s.traffic), None);
    };
    let why = match crate::traffic::dataset::read_bins(&dir, &s.registry) {
        Ok(Some(b)) => {
            return (
                Pyramid::from_bins(crate::traffic::dataset::BIN_NS, &b),
                None,
            )
        }
        Ok(None) => "the dataset has no timeline bins for every input or device (extract it \
                     again with this registry)"
            .to_string(),
        Err(e) => format!("its timeline bins cannot be read ({e})"),
    };
    let note = format!("the timeline shows the slice's packets only: {why}");
    (Pyramid::build(&s.traffic), Some(note))
}
