//! Per-event traffic features, exactly as DESIGN.md "Features per event" defines them.
//!
//! Choices the paper left open, fixed here: IQR is Q3 − Q1 with linear interpolation between
//! order statistics (numpy's default); std and var are population (ddof = 0); an empty series
//! gives 0 for every statistic; inter-arrival times are the n − 1 gaps between consecutive
//! packets of the window (all frames), in seconds; `ip.len` is the IPv4 total length or the
//! IPv6 payload length + 40, read from the IP header, so truncated (headers-only) captures give
//! the true lengths; `tcp.len` is IP length − IP header − TCP header (TCP packets only);
//! `ip.ttl` is the TTL or hop limit (IP packets only); the window is inclusive at both ends.

use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use crate::capture::bits;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::labels::{SourceKind, Status};
use crate::project::session::Session;
use crate::project::WindowSettings;
use crate::traffic::{Traffic, NO_DEVICE};

pub const STATS: [&str; 7] = ["sum", "min", "max", "mean", "iqr", "std", "var"];
pub const SERIES: [&str; 4] = ["ip_len", "tcp_len", "ip_ttl", "iat"];
pub const FLAGS: [&str; 10] = [
    "has_data",
    "has_tls",
    "has_dns",
    "has_eapol",
    "has_icmp",
    "has_x509",
    "has_http",
    "has_ntp",
    "has_ssdp",
    "has_llc",
];
pub const N_FEATURES: usize = 28 + 10 + 2;

/// Feature column names in order.
pub fn names() -> Vec<String> {
    let mut v = Vec::with_capacity(N_FEATURES);
    for s in SERIES {
        for st in STATS {
            v.push(format!("{s}_{st}"));
        }
    }
    v.extend(FLAGS.iter().map(|s| s.to_string()));
    v.push("packets".into());
    v.push("bytes".into());
    v
}

/// Ids of idle (background) rows start here.
pub const IDLE_ID_BASE: u64 = 2_000_000_000_000;

/// Sum, min, max, mean, IQR, std, var of a series (all 0 when empty).
pub fn stats(v: &mut [f64]) -> [f64; 7] {
    if v.is_empty() {
        return [0.0; 7];
    }
    let n = v.len() as f64;
    let sum: f64 = v.iter().sum();
    let mean = sum / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    v.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| {
        let pos = p * (v.len() - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = pos.ceil() as usize;
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    };
    [
        sum,
        v[0],
        v[v.len() - 1],
        mean,
        q(0.75) - q(0.25),
        var.sqrt(),
        var,
    ]
}

/// Features of the packets of `dev` with `lo <= ts <= hi`.
pub fn window_features(t: &Traffic, dev: u16, lo: i64, hi: i64) -> [f64; N_FEATURES] {
    let mut out = [0.0; N_FEATURES];
    if dev == NO_DEVICE {
        return out;
    }
    let r = t.device_range(dev, lo, hi);
    let idx = &t.by_device[dev as usize][r];
    let pk = &t.packets;
    let mut ipl = Vec::with_capacity(idx.len());
    let mut tcpl = Vec::with_capacity(idx.len());
    let mut ttl = Vec::with_capacity(idx.len());
    let mut iat = Vec::with_capacity(idx.len());
    let mut flags = 0u16;
    let mut bytes = 0f64;
    let mut prev: Option<i64> = None;
    for &i in idx {
        let i = i as usize;
        let b = pk.bits[i];
        flags |= b;
        bytes += pk.orig_len[i] as f64;
        if b & bits::IP != 0 {
            ipl.push(pk.ip_len[i] as f64);
            ttl.push(pk.ttl[i] as f64);
        }
        if b & bits::TCP != 0 {
            tcpl.push(pk.tcp_len[i] as f64);
        }
        if let Some(p) = prev {
            iat.push((pk.ts[i] - p) as f64 / 1e9);
        }
        prev = Some(pk.ts[i]);
    }
    for (k, s) in [&mut ipl, &mut tcpl, &mut ttl, &mut iat]
        .into_iter()
        .enumerate()
    {
        out[k * 7..k * 7 + 7].copy_from_slice(&stats(s));
    }
    for (k, f) in bits::FLAGS.iter().enumerate() {
        out[28 + k] = if flags & f != 0 { 1.0 } else { 0.0 };
    }
    out[38] = idx.len() as f64;
    out[39] = bytes;
    out
}

/// One row of the feature table.
#[derive(Clone, Debug)]
pub struct FeatureRow {
    pub event_id: u64,
    pub device: u16,
    pub class: String,
    pub adjusted_ns: i64,
    pub window_start_ns: i64,
    pub window_end_ns: i64,
    pub values: [f64; N_FEATURES],
}

/// Active events that get no feature row (and so no training row and no pcap slice), by
/// reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeftOut {
    /// The log's device name matched no registry device.
    pub no_device: usize,
    /// The device never appears in the captures.
    pub device_not_captured: usize,
    /// The event's window lies outside every capture file's time span.
    pub outside_captures: usize,
}

impl LeftOut {
    /// Adds another slice's counts.
    pub fn add(&mut self, o: &LeftOut) {
        self.no_device += o.no_device;
        self.device_not_captured += o.device_not_captured;
        self.outside_captures += o.outside_captures;
    }
    pub fn total(&self) -> usize {
        self.no_device + self.device_not_captured + self.outside_captures
    }
    /// One line for users, `None` when nothing was left out.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.outside_captures > 0 {
            parts.push(format!(
                "{} whose window lies outside every capture's time span",
                self.outside_captures
            ));
        }
        if self.device_not_captured > 0 {
            parts.push(format!(
                "{} of devices the captures never see",
                self.device_not_captured
            ));
        }
        if self.no_device > 0 {
            parts.push(format!("{} naming no registry device", self.no_device));
        }
        (!parts.is_empty()).then(|| {
            format!(
                "{} active events have no feature row, training row or slice: {}",
                self.total(),
                parts.join("; ")
            )
        })
    }
}

/// The capture files' time spans, merged and sorted.
fn capture_spans(t: &Traffic) -> Vec<(i64, i64)> {
    let mut v: Vec<(i64, i64)> = t
        .files
        .iter()
        .filter_map(|f| Some((f.first_ns?, f.last_ns?)))
        .collect();
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Whether `[lo, hi]` overlaps one of the sorted, disjoint `spans`.
fn overlaps(spans: &[(i64, i64)], lo: i64, hi: i64) -> bool {
    let k = spans.partition_point(|s| s.1 < lo);
    spans.get(k).is_some_and(|s| s.0 <= hi)
}

/// Where each event's feature window lies. An event of a per-event capture is its capture's
/// span; an experiment whose capture is loaded (a capture file within a minute of its
/// `[start, start + duration]` that overlaps it) is that capture's span; any other event
/// follows [`WindowSettings::window`].
pub struct EventWindows<'a> {
    s: &'a Session,
    w: WindowSettings,
    /// Capture spans by canonical path, for per-event captures.
    by_path: HashMap<PathBuf, (i64, i64)>,
    /// Capture spans sorted by start, for experiments.
    spans: Vec<(i64, i64)>,
}

/// How far an experiment's capture may start before or end after its labelled span.
const EXPERIMENT_SLACK_NS: i64 = 60_000_000_000;

impl<'a> EventWindows<'a> {
    pub fn new(s: &'a Session, w: &WindowSettings) -> EventWindows<'a> {
        let kinds: Vec<SourceKind> = s.sources.iter().map(|x| x.spec.kind).collect();
        let per_event = w.follow_duration && kinds.contains(&SourceKind::PerEventCaptures);
        let experiments = w.follow_duration && kinds.contains(&SourceKind::Experiments);
        let span = |f: &crate::traffic::FileSummary| Some((f.first_ns?, f.last_ns?));
        let by_path = match per_event {
            true => s
                .traffic
                .files
                .iter()
                .filter_map(|f| Some((f.path.canonicalize().ok()?, span(f)?)))
                .collect(),
            false => HashMap::new(),
        };
        let mut spans: Vec<(i64, i64)> = match experiments {
            true => s.traffic.files.iter().filter_map(span).collect(),
            false => Vec::new(),
        };
        spans.sort_unstable();
        EventWindows {
            s,
            w: *w,
            by_path,
            spans,
        }
    }

    pub fn of(&self, e: &crate::labels::Event) -> (i64, i64) {
        let t = self.s.adjusted_ns(e);
        let own = self.w.window(t, e.duration_ns);
        match self.s.sources.get(e.source as usize).map(|x| x.spec.kind) {
            Some(SourceKind::PerEventCaptures) if self.w.follow_duration => Path::new(&e.raw)
                .canonicalize()
                .ok()
                .and_then(|p| self.by_path.get(&p).copied())
                .unwrap_or(own),
            Some(SourceKind::Experiments) if self.w.follow_duration => {
                let (lo, hi) = own;
                let end = self
                    .spans
                    .partition_point(|s| s.0 <= hi + EXPERIMENT_SLACK_NS);
                self.spans[..end]
                    .iter()
                    .filter(|s| s.0 >= lo - EXPERIMENT_SLACK_NS && s.1 <= hi + EXPERIMENT_SLACK_NS)
                    .filter(|s| s.0 <= hi && s.1 >= lo)
                    .max_by_key(|s| s.1.min(hi) - s.0.max(lo))
                    .copied()
                    .unwrap_or(own)
            }
            _ => own,
        }
    }
}

/// The active events that get a feature row, and how many were left out and why.
pub fn feature_events<'a>(
    s: &'a Session,
    w: &WindowSettings,
) -> (Vec<&'a crate::labels::Event>, LeftOut) {
    feature_events_where(s, w, |_| true)
}

/// [`feature_events`] over the active events `keep` accepts.
pub fn feature_events_where<'a>(
    s: &'a Session,
    w: &WindowSettings,
    keep: impl Fn(&crate::labels::Event) -> bool,
) -> (Vec<&'a crate::labels::Event>, LeftOut) {
    let spans = capture_spans(&s.traffic);
    let windows = EventWindows::new(s, w);
    let mut left = LeftOut::default();
    let mut evs = Vec::new();
    for e in s
        .labels
        .events
        .iter()
        .filter(|e| e.status == Status::Active && keep(e))
    {
        if e.device == NO_DEVICE {
            left.no_device += 1;
            continue;
        }
        if !s.captures(s.traffic_device(e.device)) {
            left.device_not_captured += 1;
            continue;
        }
        let (lo, hi) = windows.of(e);
        if !overlaps(&spans, lo, hi) {
            left.outside_captures += 1;
            continue;
        }
        evs.push(e);
    }
    (evs, left)
}

/// Features of every active event whose device the captures see and whose window overlaps a
/// capture (sorted by event id), plus idle windows when the settings ask for them. Other events
/// are left out ([`feature_events`]): their windows would be empty by construction, not by
/// behaviour.
pub fn extract(s: &Session, w: &WindowSettings, seed: u64) -> Vec<FeatureRow> {
    let (evs, _) = feature_events(s, w);
    let windows = EventWindows::new(s, w);
    let mut rows: Vec<FeatureRow> = evs
        .par_iter()
        .map(|e| {
            let t = s.adjusted_ns(e);
            let (lo, hi) = windows.of(e);
            FeatureRow {
                event_id: e.id,
                device: e.device,
                class: e.class.clone(),
                adjusted_ns: t,
                window_start_ns: lo,
                window_end_ns: hi,
                values: window_features(&s.traffic, s.traffic_device(e.device), lo, hi),
            }
        })
        .collect();
    if w.idle_class {
        rows.extend(idle_rows(s, w, seed, &rows));
    }
    rows.sort_by_key(|r| r.event_id);
    rows
}

/// The feature rows of the events whose adjusted time lies in `[from, to)` (of devices
/// `keep_device` keeps), and the active events of that slice left out: one slice of a project
/// opened for it ([`Session::open_slice`]).
pub fn slice_rows(
    s: &Session,
    w: &WindowSettings,
    seed: u64,
    (from, to): (i64, i64),
    keep_device: impl Fn(u16) -> bool,
) -> (Vec<FeatureRow>, LeftOut) {
    let mut rows = extract(s, w, seed);
    rows.retain(|r| keep_device(r.device) && (from..to).contains(&r.adjusted_ns));
    let left = feature_events_where(s, w, |e| (from..to).contains(&s.adjusted_ns(e))).1;
    (rows, left)
}

/// Background windows: per labelled device, as many as it has events, at seeded random times
/// at least one window length away from any of its events.
fn idle_rows(s: &Session, w: &WindowSettings, seed: u64, rows: &[FeatureRow]) -> Vec<FeatureRow> {
    let (Some(first), Some(last)) = (s.traffic.first_ns(), s.traffic.last_ns()) else {
        return vec![];
    };
    let mut per_dev: std::collections::BTreeMap<u16, Vec<i64>> = Default::default();
    for r in rows {
        per_dev.entry(r.device).or_default().push(r.adjusted_ns);
    }
    let mut out = Vec::new();
    let mut next = IDLE_ID_BASE;
    let guard = w.before_ns + w.after_ns + 60_000_000_000;
    for (dev, mut times) in per_dev {
        times.sort();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ (dev as u64) << 16);
        let want = times.len();
        let mut tries = 0;
        let mut got = 0;
        while got < want && tries < want * 20 {
            tries += 1;
            let t = rng
                .gen_range(first + w.before_ns..(last - w.after_ns).max(first + w.before_ns + 1));
            let k = times.partition_point(|&x| x < t - guard);
            if times.get(k).is_some_and(|&x| x <= t + guard) {
                continue;
            }
            let td = s.traffic_device(dev);
            out.push(FeatureRow {
                event_id: next,
                device: dev,
                class: "idle".into(),
                adjusted_ns: t,
                window_start_ns: t - w.before_ns,
                window_end_ns: t + w.after_ns,
                values: window_features(&s.traffic, td, t - w.before_ns, t + w.after_ns),
            });
            next += 1;
            got += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_match_numpy() {
        // numpy: np.sum, min, max, mean, iqr via percentile(linear), std(ddof=0), var(ddof=0)
        let mut v = vec![4.0, 1.0, 3.0, 10.0];
        let s = stats(&mut v);
        assert_eq!(&s[..4], &[18.0, 1.0, 10.0, 4.5]);
        // percentile 25 = 2.5, 75 = 5.5
        assert!((s[4] - 3.0).abs() < 1e-12);
        assert!((s[6] - 11.25).abs() < 1e-12);
        assert!((s[5] - 11.25f64.sqrt()).abs() < 1e-12);
        assert_eq!(stats(&mut []), [0.0; 7]);
        assert_eq!(stats(&mut [5.0]), [5.0, 5.0, 5.0, 5.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn window_overlap_with_capture_spans() {
        let spans = [(10, 20), (40, 50)];
        assert!(overlaps(&spans, 0, 10) && overlaps(&spans, 15, 16) && overlaps(&spans, 50, 60));
        assert!(!overlaps(&spans, 21, 39) && !overlaps(&spans, 0, 9) && !overlaps(&spans, 51, 99));
        assert!(!overlaps(&[], 0, 100));
    }

    #[test]
    fn forty_named_columns() {
        let n = names();
        assert_eq!(n.len(), N_FEATURES);
        assert_eq!(n[0], "ip_len_sum");
        assert_eq!(n[27], "iat_var");
        assert_eq!(n[28], "has_data");
        assert_eq!(n[39], "bytes");
    }
}
