//! Long work on named worker threads (load, suggestions, training, export) with progress and
//! cancel: the UI never waits for it.

use super::*;

pub use crate::progress::Job;

/// A loaded project: its session, timeline bins, device totals and a note for the status line.
pub(crate) type Loaded = Result<
    (
        Session,
        Pyramid,
        Vec<crate::traffic::DeviceStats>,
        Option<String>,
    ),
    String,
>;

#[derive(Default)]
pub struct Jobs {
    pub load: Option<(Job<Loaded>, PathBuf)>,
    pub suggest: Option<(Job<Vec<Suggestion>>, u64)>,
    pub train: Option<Job<crate::Result<Report>>>,
    pub export: Option<Job<crate::Result<ExportReport>>>,
}
