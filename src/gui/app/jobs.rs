//! Long work on named worker threads (load, suggestions, training, export) with progress and
//! cancel: the UI never waits for it.

use super::*;

pub use crate::progress::Job;

/// A loaded project: its session, timeline bins, device totals, the time slice it opened and
/// notes for the status line.
pub struct LoadedProject {
    pub(crate) session: Session,
    pub(crate) pyramid: Pyramid,
    pub(crate) stats: Vec<crate::traffic::DeviceStats>,
    pub(crate) slice: Option<(i64, i64)>,
    pub(crate) notes: Vec<String>,
}

pub type Loaded = Result<LoadedProject, String>;

#[derive(Default)]
pub struct Jobs {
    pub load: Option<(Job<Loaded>, PathBuf)>,
    pub suggest: Option<(Job<Vec<Suggestion>>, u64)>,
    pub train: Option<Job<crate::Result<Report>>>,
    pub export: Option<Job<crate::Result<ExportReport>>>,
}
