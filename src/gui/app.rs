//! The application state and frame loop. Panels read the session and push [`Command`]s; the
//! app applies them once per frame, and runs long work on named worker threads.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use eframe::egui;

use crate::curation::edits::Edit;
use crate::curation::{CurateSettings, Suggestion, SuggestionKind};
use crate::export::{ExportOptions, ExportReport, Format};
use crate::labels::Status;
use crate::learn::Report;
use crate::progress::Progress;
use crate::project::session::{OpenOptions, Session};
use crate::project::TrainSettings;
use crate::traffic::timeline::{Metric, Pyramid};

use super::theme;

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
    Dismiss(String),
    RefreshSuggestions,
    /// Show [lo, hi] (ns) on the timeline.
    SetView(i64, i64),
    ZoomToSelection,
    /// Jump to the next (true) or previous event.
    StepEvent(bool),
    StepSuggestion(bool),
    Train,
    Export,
    CancelJob,
    CreateProject(super::panels::NewProjectSpec),
    Dark(bool),
}

/// A worker thread with progress and cancel.
pub struct Job<T> {
    pub name: &'static str,
    pub progress: Arc<Progress>,
    handle: JoinHandle<T>,
}

impl<T: Send + 'static> Job<T> {
    fn spawn(name: &'static str, f: impl FnOnce(Arc<Progress>) -> T + Send + 'static) -> Job<T> {
        let progress = Arc::new(Progress::new());
        let p = progress.clone();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || f(p))
            .expect("spawn worker thread");
        Job {
            name,
            progress,
            handle,
        }
    }
    fn finished(&self) -> bool {
        self.handle.is_finished()
    }
    fn join(self) -> Option<T> {
        self.handle.join().ok()
    }
}

type Loaded = Result<(Session, Pyramid, Vec<crate::traffic::DeviceStats>), String>;

#[derive(Default)]
pub struct Jobs {
    pub load: Option<(Job<Loaded>, PathBuf)>,
    pub suggest: Option<(Job<Vec<Suggestion>>, u64)>,
    pub train: Option<Job<crate::Result<Report>>>,
    pub export: Option<Job<crate::Result<ExportReport>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Events,
    Suggestions,
    Training,
    Journal,
}

/// Settings kept between runs (eframe storage); the loaded data is not.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    pub dark: bool,
    pub recent: Vec<PathBuf>,
    /// IANA zone of the time axis ("UTC" or e.g. "America/New_York").
    pub tz: String,
    pub metric_bytes: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dark: true,
            recent: vec![],
            tz: "America/New_York".into(),
            metric_bytes: true,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct TableState {
    pub sort: usize,
    pub desc: bool,
    pub text: String,
    pub status: Option<Status>,
    pub source: Option<u16>,
    pub class: Option<String>,
    pub only_selected_device: bool,
}

#[derive(Clone, Debug)]
pub struct ExportDialog {
    pub open: bool,
    pub out: String,
    pub format: Format,
    pub slices: bool,
    pub include_rejected: bool,
    pub force: bool,
    pub result: Option<Result<ExportReport, String>>,
}

impl Default for ExportDialog {
    fn default() -> Self {
        ExportDialog {
            open: false,
            out: String::new(),
            format: Format::Parquet,
            slices: false,
            include_rejected: false,
            force: false,
            result: None,
        }
    }
}

/// A marker being dragged on the timeline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drag {
    pub id: u64,
    pub from_ns: i64,
    pub to_ns: i64,
}

/// (event id, label generation), window features, nearby flow lines.
pub type InspectorCache = ((u64, u64), Vec<(String, f64)>, Vec<String>);

/// View state shared by the panels.
pub struct UiState {
    pub selected_event: Option<u64>,
    pub selected_device: Option<u16>,
    pub hidden: BTreeSet<u16>,
    pub show_hidden: bool,
    pub device_filter: String,
    /// Timeline view in ns, as last drawn.
    pub view: Option<(i64, i64)>,
    pub pending_view: Option<(i64, i64)>,
    pub tab: Tab,
    /// The tabs panel takes most of the window height (a confusion matrix of many classes
    /// or a long table); it keeps its own height apart from the normal one.
    pub tall_tabs: bool,
    pub table: TableState,
    pub suggestions: Vec<Suggestion>,
    /// "Check this label" findings from the last training run.
    pub mislabels: Vec<Suggestion>,
    pub dismissed: BTreeSet<String>,
    pub sugg_generation: u64,
    pub sugg_done_generation: u64,
    pub sugg_min_conf: f64,
    pub sugg_kind: Option<SuggestionKind>,
    pub sugg_order: crate::curation::SuggestionOrder,
    pub selected_sugg: Option<String>,
    pub train: TrainSettings,
    pub report: Option<Report>,
    /// Which device's matrix is shown (device scope): None = pooled.
    pub report_device: Option<usize>,
    pub cell: Option<(usize, usize)>,
    pub export: ExportDialog,
    pub new_project: super::panels::NewProjectDialog,
    pub open_path: String,
    pub open_dialog: bool,
    pub help: bool,
    pub drag: Option<Drag>,
    /// The pointer was over a marker last frame (the plot then does not pan on drag).
    pub hover_marker: bool,
    /// The primary button went down on a marker and is still down.
    pub press_on_marker: bool,
    pub offset_text: Vec<String>,
    pub message: Option<String>,
    /// Screen position of event markers as last drawn (for tests and hit testing).
    pub marker_pos: Vec<(u64, egui::Pos2)>,
    /// Sorted, filtered table rows for a (filters, label generation) key.
    pub table_cache: Option<(String, Vec<usize>)>,
    /// Inspector data for (event, label generation): window features and nearby flows.
    pub inspector_cache: Option<InspectorCache>,
    /// First timeline lane shown. Lanes keep a readable height; when more devices are visible
    /// than fit (the 57-device lab has 86 lanes), the rest are scrolled to.
    pub lane_top: usize,
    /// Lanes that fit, and lanes in all, as last drawn.
    pub lanes_fit: usize,
    pub lanes_total: usize,
    /// The selections whose lanes were last scrolled into view.
    pub revealed_event: Option<u64>,
    pub revealed_device: Option<u16>,
}

impl Default for UiState {
    fn default() -> Self {
        UiState {
            selected_event: None,
            selected_device: None,
            hidden: BTreeSet::new(),
            show_hidden: false,
            device_filter: String::new(),
            view: None,
            pending_view: None,
            tab: Tab::Events,
            tall_tabs: false,
            table: TableState::default(),
            suggestions: vec![],
            mislabels: vec![],
            dismissed: BTreeSet::new(),
            sugg_generation: 1,
            sugg_done_generation: 0,
            sugg_min_conf: 0.0,
            sugg_kind: None,
            sugg_order: Default::default(),
            selected_sugg: None,
            train: TrainSettings::default(),
            report: None,
            report_device: None,
            cell: None,
            export: ExportDialog::default(),
            new_project: Default::default(),
            open_path: String::new(),
            open_dialog: false,
            help: false,
            drag: None,
            hover_marker: false,
            press_on_marker: false,
            offset_text: vec![],
            message: None,
            marker_pos: vec![],
            table_cache: None,
            inspector_cache: None,
            lane_top: 0,
            lanes_fit: 0,
            lanes_total: 0,
            revealed_event: None,
            revealed_device: None,
        }
    }
}

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
    pub flows_by_device: Vec<Vec<u32>>,
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
            flows_by_device: vec![],
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
        let mut fbd: Vec<Vec<u32>> = vec![Vec::new(); s.registry.len()];
        for (i, f) in s.traffic.flows.iter().enumerate() {
            if let Some(v) = fbd.get_mut(f.device as usize) {
                v.push(i as u32);
            }
        }
        self.flows_by_device = fbd;
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
            self.settings.recent.retain(|r| r != path);
            self.settings.recent.insert(0, path.clone());
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
        let job = Job::spawn("load", move |pr| {
            let mut s = Session::open(
                &p2,
                OpenOptions {
                    journal: true,
                    cache: true,
                },
                Some(&pr),
            )
            .map_err(|e| e.to_string())?;
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
            let py = Pyramid::build(&s.traffic);
            let st = crate::traffic::device_stats(&s.traffic, s.registry.len());
            Ok((s, py, st))
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
            let job = Job::spawn("suggest", move |_| {
                crate::curation::suggest(&snap, &CurateSettings::default())
            });
            self.jobs.suggest = Some((job, generation));
        }
    }

    fn poll_jobs(&mut self) {
        if self.jobs.load.as_ref().is_some_and(|j| j.0.finished()) {
            let (job, path) = self.jobs.load.take().expect("checked");
            match job.join() {
                Some(Ok((s, p, st))) => {
                    let msg = Some(match &s.cache_status {
                        crate::traffic::cache::CacheStatus::Hit { .. } => {
                            "captures read from the derived cache".to_string()
                        }
                        crate::traffic::cache::CacheStatus::WriteFailed { error, .. } => {
                            format!("captures parsed; cache not saved: {error}")
                        }
                        _ => "captures parsed".to_string(),
                    });
                    self.install(s, p, st);
                    self.ui.message = msg;
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
                        self.ui.message = Some(format!(
                            "trained: accuracy {:.3}, macro F1 {:.3}",
                            r.accuracy, r.macro_f1
                        ));
                        self.ui.mislabels = self.mislabel_suggestions(&r);
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

    pub fn apply(&mut self, c: Command) {
        match c {
            Command::Open(p) => self.start_load(p),
            Command::Save => {
                if let Some(s) = self.session.as_mut() {
                    s.project.training = self.ui.train.clone();
                    match s.save() {
                        Ok(()) => self.ui.message = Some("project saved".into()),
                        Err(e) => self.errors.push(e.to_string()),
                    }
                }
            }
            Command::SelectEvent(id) => {
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
                            self.ui.pending_view = Some((
                                t - half.min(600_000_000_000),
                                t + half.min(600_000_000_000),
                            ));
                        }
                    }
                }
            }
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
                    match s.undo() {
                        Ok(true) => self.edited(),
                        Ok(false) => self.ui.message = Some("nothing to undo".into()),
                        Err(e) => self.errors.push(e.to_string()),
                    }
                }
            }
            Command::Redo => {
                if let Some(s) = self.session.as_mut() {
                    match s.redo() {
                        Ok(true) => self.edited(),
                        Ok(false) => self.ui.message = Some("nothing to redo".into()),
                        Err(e) => self.errors.push(e.to_string()),
                    }
                }
            }
            Command::Accept(keys) => {
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
                        let t = s.adjusted_ns(e);
                        let w = s.project.window;
                        self.ui.pending_view = Some((
                            t - w.before_ns - 30_000_000_000,
                            t + w.after_ns + 30_000_000_000,
                        ));
                    }
                }
            }
            Command::StepEvent(fwd) => {
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
            Command::StepSuggestion(fwd) => {
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
            Command::Train => {
                if self.jobs.train.is_some() {
                    return;
                }
                if let Some(s) = self.session.as_ref() {
                    let snap = s.snapshot();
                    let ts = self.ui.train.clone();
                    self.jobs.train = Some(Job::spawn("train", move |p| {
                        p.set_stage("features and cross-validation", 1);
                        crate::learn::train_with(&snap, &ts, Some(&p))
                    }));
                    self.ui.tab = Tab::Training;
                }
            }
            Command::Export => {
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
                        include_rejected: d.include_rejected,
                        force: d.force,
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
            Command::CreateProject(spec) => match spec.write() {
                Ok(path) => self.start_load(path),
                Err(e) => self.errors.push(e),
            },
            Command::Dark(d) => self.settings.dark = d,
        }
    }

    /// Out-of-fold predictions that confidently disagree with the label, as suggestions.
    fn mislabel_suggestions(&self, r: &Report) -> Vec<Suggestion> {
        let Some(s) = self.session.as_ref() else {
            return vec![];
        };
        r.possible_mislabels
            .iter()
            .filter_map(|m| {
                let e = s.labels.get(m.event_id)?;
                // Global scope labels are device:class.
                let pred = m
                    .predicted
                    .rsplit(':')
                    .next()
                    .unwrap_or(&m.predicted)
                    .to_string();
                Some(Suggestion {
                    key: format!("mislabel:{}", m.event_id),
                    kind: SuggestionKind::Mislabel,
                    event: Some(m.event_id),
                    device: Some(s.event_device_name(e).to_string()),
                    reason: format!("check this label: the model says {pred}, not {}", e.class),
                    evidence: format!(
                        "out-of-fold probability {:.2} ({} model)",
                        m.confidence, r.model
                    ),
                    confidence: m.confidence,
                    at_ns: Some(s.adjusted_ns(e)),
                    edit: Some(Edit::Relabel {
                        id: e.id,
                        from: e.class.clone(),
                        to: pred,
                    }),
                })
            })
            .collect()
    }

    /// Suggestions shown in the list: not dismissed, above the confidence filter, of the chosen
    /// kind, in the chosen order.
    pub fn visible_suggestions(&self) -> Vec<&Suggestion> {
        let mut v: Vec<&Suggestion> = self
            .ui
            .suggestions
            .iter()
            .chain(self.ui.mislabels.iter())
            .filter(|s| !self.ui.dismissed.contains(&s.key))
            .filter(|s| s.confidence >= self.ui.sugg_min_conf)
            .filter(|s| self.ui.sugg_kind.is_none_or(|k| k == s.kind))
            .collect();
        self.ui.sugg_order.sort(&mut v);
        v
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        use egui::{Key, KeyboardShortcut, Modifiers};
        let cmd = |k| KeyboardShortcut::new(Modifiers::COMMAND, k);
        let cmd_shift = |k| KeyboardShortcut::new(Modifiers::COMMAND | Modifiers::SHIFT, k);
        ctx.input_mut(|i| {
            if i.consume_shortcut(&cmd_shift(Key::Z)) || i.consume_shortcut(&cmd(Key::Y)) {
                self.commands.push(Command::Redo);
            }
            if i.consume_shortcut(&cmd(Key::Z)) {
                self.commands.push(Command::Undo);
            }
            if i.consume_shortcut(&cmd(Key::S)) {
                self.commands.push(Command::Save);
            }
            if i.consume_shortcut(&cmd(Key::O)) {
                self.ui.open_dialog = true;
            }
            if i.consume_shortcut(&cmd(Key::E)) {
                self.ui.export.open = true;
            }
        });
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        ctx.input(|i| {
            let zoom = |f: f64, v: Option<(i64, i64)>| {
                v.map(|(a, b)| {
                    let c = (a + b) / 2;
                    let h = (((b - a) as f64 * f) / 2.0) as i64;
                    (c - h.max(500_000_000), c + h.max(500_000_000))
                })
            };
            let pan = |f: f64, v: Option<(i64, i64)>| {
                v.map(|(a, b)| {
                    let d = ((b - a) as f64 * f) as i64;
                    (a + d, b + d)
                })
            };
            let mut nv = None;
            if i.key_pressed(Key::Plus) || i.key_pressed(Key::Equals) {
                nv = zoom(0.5, self.ui.view);
            }
            if i.key_pressed(Key::Minus) {
                nv = zoom(2.0, self.ui.view);
            }
            if i.key_pressed(Key::ArrowLeft) {
                nv = pan(-0.25, self.ui.view);
            }
            if i.key_pressed(Key::ArrowRight) {
                nv = pan(0.25, self.ui.view);
            }
            if let Some((a, b)) = nv {
                self.commands.push(Command::SetView(a, b));
            }
            if i.key_pressed(Key::Home) {
                if let Some(s) = &self.session {
                    if let (Some(a), Some(b)) = (s.traffic.first_ns(), s.traffic.last_ns()) {
                        self.commands.push(Command::SetView(a, b));
                    }
                }
            }
            if i.key_pressed(Key::N) {
                self.commands.push(if i.modifiers.shift {
                    Command::StepSuggestion(true)
                } else {
                    Command::StepEvent(true)
                });
            }
            if i.key_pressed(Key::P) {
                self.commands.push(if i.modifiers.shift {
                    Command::StepSuggestion(false)
                } else {
                    Command::StepEvent(false)
                });
            }
            if i.key_pressed(Key::F) {
                self.commands.push(Command::ZoomToSelection);
            }
            if i.key_pressed(Key::F1) || i.key_pressed(Key::Questionmark) {
                self.ui.help = !self.ui.help;
            }
            if i.key_pressed(Key::Escape) {
                // The topmost thing goes first: an open dialog, else the selection.
                let ui = &mut self.ui;
                if ui.help {
                    ui.help = false;
                } else if ui.export.open {
                    ui.export.open = false;
                } else if ui.new_project.open {
                    ui.new_project.open = false;
                } else if ui.open_dialog {
                    ui.open_dialog = false;
                } else {
                    self.commands.push(Command::SelectEvent(None));
                }
            }
            if i.key_pressed(Key::A) {
                if let Some(k) = self.ui.selected_sugg.clone() {
                    self.commands.push(Command::Accept(vec![k]));
                }
            }
        });
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

    /// The whole UI of one frame.
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        ctx.set_visuals(theme::visuals(self.settings.dark));
        self.apply_commands();
        self.shortcuts(&ctx);
        super::panels::menu_bar(self, ui);
        super::panels::status_bar(self, ui);
        if self.session.is_some() {
            super::panels::devices_panel(self, ui);
            super::panels::inspector_panel(self, ui);
            super::panels::bottom_panel(self, ui);
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if self.session.is_some() {
                super::timeline::timeline(self, ui);
            } else {
                super::panels::welcome(self, ui);
            }
        });
        super::panels::dialogs(self, &ctx);
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
