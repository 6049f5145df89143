//! Long work on named worker threads (load, suggestions, training, export) with progress and
//! cancel: the UI never waits for it.

use super::*;

/// A worker thread with progress and cancel.
pub struct Job<T> {
    pub name: &'static str,
    pub progress: Arc<Progress>,
    pub(crate) handle: JoinHandle<T>,
}

impl<T: Send + 'static> Job<T> {
    pub(crate) fn spawn(
        name: &'static str,
        f: impl FnOnce(Arc<Progress>) -> T + Send + 'static,
    ) -> Job<T> {
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
    pub(crate) fn finished(&self) -> bool {
        self.handle.is_finished()
    }
    pub(crate) fn join(self) -> Option<T> {
        self.handle.join().ok()
    }
}

pub(crate) type Loaded = Result<(Session, Pyramid, Vec<crate::traffic::DeviceStats>), String>;

#[derive(Default)]
pub struct Jobs {
    pub load: Option<(Job<Loaded>, PathBuf)>,
    pub suggest: Option<(Job<Vec<Suggestion>>, u64)>,
    pub train: Option<Job<crate::Result<Report>>>,
    pub export: Option<Job<crate::Result<ExportReport>>>,
}
