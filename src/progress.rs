//! Progress and cancellation shared between a worker thread and its observer (CLI bar or GUI).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Work counters of one long-running job. Cheap to update from many threads.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicU64,
    total: AtomicU64,
    cancel: AtomicBool,
    stage: Mutex<String>,
}

impl Progress {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set_stage(&self, stage: &str, total: u64) {
        *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = stage.to_string();
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
    pub fn stage(&self) -> String {
        self.stage.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Fraction done in 0..=1 (0 when the total is unknown).
    pub fn fraction(&self) -> f32 {
        let t = self.total.load(Ordering::Relaxed);
        if t == 0 {
            0.0
        } else {
            (self.done.load(Ordering::Relaxed) as f64 / t as f64).min(1.0) as f32
        }
    }
    /// The fraction done, or `None` for a stage counted as a single step (set with a total of
    /// 1), where a bar would sit at 0 % until the stage ends: show activity instead.
    pub fn known_fraction(&self) -> Option<f32> {
        (self.total.load(Ordering::Relaxed) > 1).then(|| self.fraction())
    }
    pub fn counts(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// A named worker thread with progress and cancel: how the window and the command line run
/// long work (loading, suggestions, training, export).
pub struct Job<T> {
    pub name: &'static str,
    pub progress: std::sync::Arc<Progress>,
    handle: std::thread::JoinHandle<T>,
}

impl<T: Send + 'static> Job<T> {
    pub fn spawn(
        name: &'static str,
        f: impl FnOnce(std::sync::Arc<Progress>) -> T + Send + 'static,
    ) -> Job<T> {
        let progress = std::sync::Arc::new(Progress::new());
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
    pub fn finished(&self) -> bool {
        self.handle.is_finished()
    }
    pub fn join(self) -> Option<T> {
        self.handle.join().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::Progress;

    #[test]
    fn single_step_stages_have_no_fraction_to_show() {
        let p = Progress::new();
        p.set_stage("building timeline bins", 1);
        assert_eq!(p.known_fraction(), None);
        p.set_stage("reading captures", 200);
        p.add(50);
        assert_eq!(p.known_fraction(), Some(0.25));
        p.set_stage("unknown size", 0);
        assert_eq!(p.known_fraction(), None);
    }
}
