//! A loaded project: registry, traffic, label sources, labels and their edit history.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::curation::edits::{Edit, History, Journal, LabelSet};
use crate::error::{Error, Result};
use crate::labels::{self, Event, SourceLoad, SourceSpec, Status};
use crate::progress::Progress;
use crate::project::Project;
use crate::traffic::dataset::TrafficFilter;
use crate::traffic::devices::Registry;
use crate::traffic::{Traffic, NO_DEVICE};

/// The filter widened by the hubs of the devices it names: a lock's events label its bridge's
/// packets.
fn with_hubs(filter: &TrafficFilter, reg: &Registry) -> TrafficFilter {
    let Some(set) = &filter.devices else {
        return filter.clone();
    };
    let mut out = set.clone();
    for name in set {
        if let Some(h) = reg.by_name(name).and_then(|d| reg.hub_of(d)) {
            out.insert(reg.devices[h as usize].name.clone());
        }
    }
    TrafficFilter {
        devices: Some(out),
        range: filter.range,
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct LoadedSource {
    pub spec: SourceSpec,
    pub path: PathBuf,
    pub load: SourceLoad,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct OpenOptions {
    /// Open the edit journal (replay it and append new edits).
    pub journal: bool,
    /// Use and refresh the derived-data cache next to the project ([`crate::traffic::cache`]).
    pub cache: bool,
}

#[derive(Debug, Default)]
pub struct Session {
    pub project_path: Option<PathBuf>,
    pub base_dir: PathBuf,
    pub project: Project,
    pub registry: Registry,
    /// Shared with background jobs (training, suggestions) through snapshots.
    pub traffic: std::sync::Arc<Traffic>,
    pub sources: Vec<LoadedSource>,
    pub labels: LabelSet,
    pub history: History,
    pub warnings: Vec<String>,
    pub capture_files: Vec<PathBuf>,
    /// Whether the captures came from the derived cache.
    pub cache_status: crate::traffic::cache::CacheStatus,
    /// The derived cache still being written after a fresh parse (joined on drop).
    pub cache_writer: Option<crate::traffic::cache::PendingWrite>,
    /// For a traffic dataset, per registry device: whether the whole dataset holds packets of
    /// it, however little of it was read (a slice, a device group). `None`: the traffic
    /// loaded tells.
    pub own_traffic: Option<Vec<bool>>,
}

impl Default for Project {
    fn default() -> Self {
        Project::new("untitled")
    }
}

impl Session {
    /// Loads a project file and everything it references.
    pub fn open(path: &Path, opts: OpenOptions, progress: Option<&Progress>) -> Result<Session> {
        Session::open_filtered(path, opts, &TrafficFilter::default(), progress)
    }

    /// [`Session::open`] reading only some devices' packets of a project that names a traffic
    /// dataset (with their hubs' packets, which their events label); a project of captures
    /// reads them all.
    pub fn open_filtered(
        path: &Path,
        opts: OpenOptions,
        filter: &TrafficFilter,
        progress: Option<&Progress>,
    ) -> Result<Session> {
        let project = Project::load(path)?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let cache = opts.cache.then(|| crate::traffic::cache::cache_path(path));
        let mut s = Session::from_project_with(project, &base, progress, cache.as_deref(), filter)?;
        s.project_path = Some(path.to_path_buf());
        if opts.journal {
            let jp = Project::journal_path(path);
            let (journal, replay) = Journal::open(&jp)?;
            if let Some((line, bytes)) = replay.torn {
                s.warnings.push(format!(
                    "{}: line {line}: torn last entry ({bytes} bytes, never acknowledged) is ignored",
                    jp.display()
                ));
            }
            let problems = s.history.replay(&mut s.labels, replay.entries);
            for p in problems {
                s.warnings.push(format!("{}: {p}", jp.display()));
            }
            s.history.journal = Some(journal);
        }
        Ok(s)
    }

    /// A project opened for the rows of `[from, to)` (an export's or a model's): the traffic of
    /// every window of its events, found by opening with the fixed window's margin and, when
    /// an event's window (its own span) reaches beyond it, once more with the reach of every
    /// such window. A project of captures reads them whole, once.
    pub fn open_slice(
        path: &Path,
        opts: OpenOptions,
        filter: &TrafficFilter,
        (from, to): (i64, i64),
        progress: Option<&Progress>,
    ) -> Result<Session> {
        let w = Project::load(path)?.window;
        let margin = w.before_ns.max(w.after_ns).max(0) + 1_000_000_000;
        let mut read = (from.saturating_sub(margin), to.saturating_add(margin));
        // Windows only grow the range: a few rounds at most.
        let mut round = 0;
        loop {
            round += 1;
            let f = TrafficFilter {
                range: Some(read),
                ..filter.clone()
            };
            let s = Session::open_filtered(path, opts, &f, progress)?;
            if s.project.traffic.is_none() || round > 3 {
                return Ok(s);
            }
            let windows = crate::learn::features::EventWindows::new(&s, &s.project.window);
            let need = s
                .labels
                .events
                .iter()
                .filter(|e| (from..to).contains(&s.adjusted_ns(e)))
                .map(|e| windows.of(e))
                .fold(read, |(a, b), (lo, hi)| (a.min(lo), b.max(hi)));
            if need == read {
                return Ok(s);
            }
            read = need;
        }
    }

    /// Loads from an in-memory project whose relative paths resolve against `base`.
    pub fn from_project(
        project: Project,
        base: &Path,
        progress: Option<&Progress>,
    ) -> Result<Session> {
        Session::from_project_cached(project, base, progress, None)
    }

    /// [`Session::from_project`] reading and refreshing the derived cache at `cache`.
    pub fn from_project_cached(
        project: Project,
        base: &Path,
        progress: Option<&Progress>,
        cache: Option<&Path>,
    ) -> Result<Session> {
        Session::from_project_with(project, base, progress, cache, &TrafficFilter::default())
    }

    /// [`Session::from_project_cached`] with a device filter for a traffic dataset.
    fn from_project_with(
        project: Project,
        base: &Path,
        progress: Option<&Progress>,
        cache: Option<&Path>,
        filter: &TrafficFilter,
    ) -> Result<Session> {
        let mut registry = match &project.devices {
            Some(d) => Registry::load(&base.join(d))?,
            None => Registry::default(),
        };
        let mut with_packets = None;
        let (files, traffic, cache_status, cache_writer) = match &project.traffic {
            Some(dir) => {
                let dir = base.join(dir);
                let filter = with_hubs(filter, &registry);
                let t =
                    crate::traffic::dataset::load(&dir, &mut registry, &project.flows, &filter)?;
                with_packets = Some(crate::traffic::dataset::devices_with_packets(&dir)?);
                let files = t.files.iter().map(|f| f.path.clone()).collect();
                (files, std::sync::Arc::new(t), Default::default(), None)
            }
            None => {
                let files = crate::capture::expand_captures(base, &project.captures)
                    .map_err(Error::Other)?;
                let (t, status, writer) = crate::traffic::cache::ingest_cached(
                    &files,
                    &mut registry,
                    progress,
                    cache,
                    &project.flows,
                );
                (files, t, status, writer)
            }
        };
        let mut warnings: Vec<String> = traffic.issues.iter().map(|i| i.to_string()).collect();
        for spec in &project.sources {
            let glob = labels::source_path(base, spec);
            warnings.extend(super::infer_macs::infer(
                spec,
                &glob,
                &mut registry,
                &project.device_map,
            ));
        }
        let mut sources = Vec::new();
        let mut events: Vec<Event> = Vec::new();
        for (i, spec) in project.sources.iter().enumerate() {
            let p = labels::source_path(base, spec);
            let (ev, load) =
                labels::load_source(spec, &p, i as u16, &registry, &project.device_map)?;
            if load.dst_gap > 0 || load.dst_fold > 0 {
                warnings.push(format!(
                    "{}: {} rows in a DST gap (read with the pre-transition offset), {} in a DST fold (earlier instant)",
                    p.display(),
                    load.dst_gap,
                    load.dst_fold
                ));
            }
            for (name, n) in &load.unmatched_devices {
                warnings.push(format!(
                    "{}: device name {name:?} matches no registry device ({n} events)",
                    p.display()
                ));
            }
            if !load.unmatched_notifications.is_empty() {
                warnings.push(format!(
                    "{}: {} notifications matched no rule (first at line {})",
                    p.display(),
                    load.unmatched_notifications.len(),
                    load.unmatched_notifications[0].0
                ));
            }
            events.extend(ev);
            sources.push(LoadedSource {
                spec: spec.clone(),
                path: p,
                load,
            });
        }
        if let Some((i, j)) = project.repeated_source(base) {
            // Not dropped here: edits in the journal name sources by their place in the list.
            warnings.push(format!(
                "{}: label sources {} and {} are the same file read as {}: its events are \
                 loaded twice (remove one from the project)",
                sources[j].path.display(),
                i + 1,
                j + 1,
                project.sources[j].kind.as_str()
            ));
        }
        let offsets = project.sources.iter().map(|s| s.offset_ns).collect();
        let zones = project.sources.iter().map(|s| s.tz.clone()).collect();
        let own_traffic = with_packets.map(|names: std::collections::BTreeSet<String>| {
            registry
                .devices
                .iter()
                .map(|d| names.contains(&d.name))
                .collect()
        });
        Ok(Session {
            own_traffic,
            project_path: None,
            base_dir: base.to_path_buf(),
            labels: LabelSet::new(events, offsets).with_zones(zones),
            project,
            registry,
            traffic,
            sources,
            history: History::default(),
            warnings: std::mem::take(&mut warnings),
            capture_files: files,
            cache_status,
            cache_writer,
        })
    }

    /// The traffic dataset the project reads instead of captures, if it names one.
    pub fn traffic_dir(&self) -> Option<PathBuf> {
        self.project.traffic.as_ref().map(|d| self.base_dir.join(d))
    }

    /// A project that reads a traffic dataset, opened with its labels, journal and settings
    /// and no packet (the devices `filter` names stay asked for): where a day-at-a-time
    /// command starts. A project of captures is refused: it cannot be read a day at a time.
    pub fn open_without_packets(
        path: &Path,
        opts: OpenOptions,
        filter: &TrafficFilter,
    ) -> Result<Session> {
        if Project::load(path)?.traffic.is_none() {
            return Err(crate::error::Error::invalid(
                path,
                "--by-day needs a project that reads a traffic dataset (labelbench new \
                 --traffic DIR); a project of captures is read at once",
            ));
        }
        let nothing = TrafficFilter {
            range: Some((i64::MIN, i64::MIN)),
            ..filter.clone()
        };
        Session::open_filtered(path, opts, &nothing, None)
    }

    /// The UTC days with packets in the project's traffic dataset or with events, each as the
    /// half-open slice `[day, day + 1)` cut to `range` (`[from, to)`), in order: what a
    /// day-at-a-time command walks.
    pub fn day_slices(&self, range: Option<(i64, i64)>) -> Result<Vec<(i64, i64)>> {
        const DAY_NS: i64 = 86_400_000_000_000;
        let (from, to) = range.unwrap_or((i64::MIN, i64::MAX));
        Ok(self
            .days(range)?
            .into_iter()
            .map(|d| (d.max(from), d.saturating_add(DAY_NS).min(to)))
            .collect())
    }

    /// The UTC days (their first instant, UTC ns) of [`Session::day_slices`].
    fn days(&self, range: Option<(i64, i64)>) -> Result<Vec<i64>> {
        const DAY_NS: i64 = 86_400_000_000_000;
        let mut set = std::collections::BTreeSet::new();
        if let Some(dir) = self.traffic_dir() {
            for row in crate::traffic::dataset::manifest(&dir)? {
                set.extend(
                    row.partitions
                        .iter()
                        .filter_map(|p| crate::traffic::dataset::partition_day(p)),
                );
            }
        }
        set.extend(
            self.labels
                .events
                .iter()
                .map(|e| self.adjusted_ns(e).div_euclid(DAY_NS) * DAY_NS),
        );
        let (from, to) = range.unwrap_or((i64::MIN, i64::MAX));
        Ok(set
            .into_iter()
            .filter(|&d| d < to && d.saturating_add(DAY_NS) > from)
            .collect())
    }

    /// A copy for background jobs: shares the traffic, copies the labels, no journal.
    pub fn snapshot(&self) -> Session {
        Session {
            project_path: self.project_path.clone(),
            base_dir: self.base_dir.clone(),
            project: self.project.clone(),
            registry: self.registry.clone(),
            traffic: self.traffic.clone(),
            sources: self.sources.clone(),
            labels: self.labels.clone(),
            history: History::default(),
            warnings: self.warnings.clone(),
            capture_files: self.capture_files.clone(),
            cache_status: self.cache_status.clone(),
            cache_writer: None,
            own_traffic: self.own_traffic.clone(),
        }
    }

    /// Waits for the derived cache being written after a fresh parse, so that the cache
    /// status says what happened to it (a failed write is reported as such).
    pub fn finish_cache_write(&mut self) {
        if let Some(w) = self.cache_writer.take() {
            if let Err(error) = w.wait() {
                let path = crate::traffic::cache::cache_path(
                    self.project_path.as_deref().unwrap_or(Path::new("")),
                );
                self.cache_status = crate::traffic::cache::CacheStatus::WriteFailed { path, error };
            }
        }
    }

    /// Takes the project's writer lock before any edit is made, so that a second writer is
    /// told at once rather than at its first accepted edit.
    pub fn lock_journal(&mut self) -> Result<()> {
        match self.history.journal.as_mut() {
            Some(j) => j.lock(),
            None => Ok(()),
        }
    }

    /// The paths an output folder must never hold: the project file, its journal and cache,
    /// and every input (captures, registry, label logs).
    pub fn protected_paths(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        if let Some(p) = &self.project_path {
            out.push(p.clone());
            out.push(Project::journal_path(p));
            out.push(crate::traffic::cache::cache_path(p));
        }
        out.extend(self.capture_files.iter().cloned());
        if let Some(d) = &self.project.devices {
            out.push(self.base_dir.join(d));
        }
        out.extend(self.sources.iter().map(|x| x.path.clone()));
        out
    }

    pub fn apply(&mut self, edit: Edit) -> Result<u64> {
        self.history.apply(&mut self.labels, edit)
    }
    pub fn undo(&mut self) -> Result<bool> {
        self.history.undo(&mut self.labels)
    }
    pub fn redo(&mut self) -> Result<bool> {
        self.history.redo(&mut self.labels)
    }

    pub fn adjusted_ns(&self, e: &Event) -> i64 {
        self.labels.adjusted_ns(e)
    }

    /// The device whose packets an event of `dev` labels: the device itself when it has
    /// traffic, else its hub (a lock behind its bridge).
    /// Whether the project's traffic holds packets of `dev`: the whole traffic dataset's,
    /// however little of it is loaded, or else the captures loaded.
    pub fn captures(&self, dev: u16) -> bool {
        match &self.own_traffic {
            Some(own) => own.get(dev as usize).copied().unwrap_or(false),
            None => self
                .traffic
                .by_device
                .get(dev as usize)
                .is_some_and(|v| !v.is_empty()),
        }
    }

    /// The device whose traffic `dev`'s events label: its own, or its hub's when the traffic
    /// holds none of it ([`Session::captures`]).
    pub fn traffic_device(&self, dev: u16) -> u16 {
        if dev == NO_DEVICE {
            return NO_DEVICE;
        }
        if self.captures(dev) {
            return dev;
        }
        self.registry.hub_of(dev).unwrap_or(dev)
    }

    pub fn device_name(&self, dev: u16) -> &str {
        self.registry
            .devices
            .get(dev as usize)
            .map(|d| d.name.as_str())
            .unwrap_or("")
    }

    pub fn event_device_name<'a>(&'a self, e: &'a Event) -> &'a str {
        if e.device == NO_DEVICE {
            &e.device_text
        } else {
            self.device_name(e.device)
        }
    }

    pub fn source_kind_str(&self, e: &Event) -> &'static str {
        self.sources
            .get(e.source as usize)
            .map(|s| s.spec.kind.as_str())
            .unwrap_or("inserted")
    }

    /// Events sorted by adjusted time (then id).
    pub fn events_by_time(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.labels.events.len()).collect();
        v.sort_by_key(|&i| {
            let e = &self.labels.events[i];
            (self.labels.adjusted_ns(e), e.id)
        });
        v
    }

    pub fn status_counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for e in &self.labels.events {
            match e.status {
                Status::Active => c.0 += 1,
                Status::Duplicate => c.1 += 1,
                Status::Rejected => c.2 += 1,
            }
        }
        c
    }

    /// The zone source `i`'s naive local times are read in now (after any zone edits).
    pub fn source_zone(&self, i: usize) -> &str {
        match self.labels.zones.get(i) {
            Some(z) => z,
            None => self.sources.get(i).map_or("UTC", |s| s.spec.tz.as_str()),
        }
    }

    /// Saves the project (with current source offsets and zones) atomically.
    pub fn save(&mut self) -> Result<()> {
        for (i, s) in self.project.sources.iter_mut().enumerate() {
            if let Some(o) = self.labels.offsets.get(i) {
                s.offset_ns = *o;
            }
            if let Some(z) = self.labels.zones.get(i) {
                s.tz = z.clone();
            }
        }
        match &self.project_path {
            Some(p) => self.project.save(p),
            None => Err(Error::Other("project has no file yet".into())),
        }
    }
}
