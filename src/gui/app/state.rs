//! What the window remembers between frames: settings that persist, and the UI state split by
//! concern (tables, dialogs, drag, inspector cache).

use super::*;

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
    /// One annotated pcapng per device.
    pub pcapng: bool,
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
            pcapng: false,
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
    /// How far a plain drag may move the event from `from_ns` (Alt lifts the bound): at week
    /// zoom a few pixels are hours.
    pub bound_ns: i64,
}

/// (event id, label generation), window features, nearby flow lines.
pub type InspectorCache = ((u64, u64), Vec<(String, f64)>, Vec<String>);

/// View state shared by the panels.
pub struct UiState {
    pub selected_event: Option<u64>,
    pub selected_device: Option<u16>,
    pub hidden: BTreeSet<u16>,
    pub show_hidden: bool,
    /// Also draw lanes of devices whose traffic the captures never see (labels only).
    pub show_quiet: bool,
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
    /// Events per device for a label generation (the Devices panel's counts).
    pub event_counts: (u64, Vec<usize>),
    pub sugg_done_generation: u64,
    pub sugg_min_conf: f64,
    pub sugg_kind: Option<SuggestionKind>,
    pub sugg_order: crate::curation::SuggestionOrder,
    /// Indices (into suggestions, then mislabels) of the listed suggestions, in order.
    pub visible_sugg: Vec<usize>,
    pub selected_sugg: Option<String>,
    pub train: TrainSettings,
    pub report: Option<Report>,
    /// Which device's matrix is shown (device scope): None = pooled.
    pub report_device: Option<usize>,
    /// Show the matrix with `device:class` pooled into `class` across devices.
    pub report_by_class: bool,
    /// What a marker drag in progress would do, as shown beside the pointer.
    pub drag_text: Option<String>,
    pub cell: Option<(usize, usize)>,
    pub export: ExportDialog,
    pub new_project: crate::gui::panels::NewProjectDialog,
    pub project_settings: crate::gui::panels::ProjectSettingsDialog,
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
    /// Count badges the timeline drew in the last frame (coarse zoom only).
    pub marker_groups: Vec<crate::gui::markers::MarkerGroup>,
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
            show_quiet: false,
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
            event_counts: (0, vec![]),
            sugg_done_generation: 0,
            sugg_min_conf: crate::curation::ACCEPT_ALL_MIN_CONFIDENCE,
            sugg_kind: None,
            sugg_order: Default::default(),
            visible_sugg: vec![],
            selected_sugg: None,
            train: TrainSettings::default(),
            report: None,
            report_device: None,
            report_by_class: false,
            drag_text: None,
            cell: None,
            export: ExportDialog::default(),
            new_project: Default::default(),
            project_settings: Default::default(),
            open_path: String::new(),
            open_dialog: false,
            help: false,
            drag: None,
            hover_marker: false,
            press_on_marker: false,
            offset_text: vec![],
            message: None,
            marker_pos: vec![],
            marker_groups: vec![],
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
