//! Long work on named worker threads (load, suggestions, training, export) with progress and
//! cancel: the UI never waits for it.

use super::*;

pub use crate::progress::Job;

pub(crate) type Loaded = Result<(Session, Pyramid, Vec<crate::traffic::DeviceStats>), String>;

#[derive(Default)]
pub struct Jobs {
    pub load: Option<(Job<Loaded>, PathBuf)>,
    pub suggest: Option<(Job<Vec<Suggestion>>, u64)>,
    pub train: Option<Job<crate::Result<Report>>>,
    pub export: Option<Job<crate::Result<ExportReport>>>,
}
