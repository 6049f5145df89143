//! `labelbench inspect`: a summary of a loaded session, as text or JSON.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::labels::RowError;
use crate::numfmt::{grouped, human_bytes};
use crate::project::session::Session;
use crate::timefmt;
use crate::traffic::devices::fmt_mac;
use crate::traffic::{device_stats, NO_DEVICE};

#[derive(Debug, Serialize)]
pub struct DeviceRow {
    pub name: String,
    pub mac: String,
    pub kind: String,
    pub hub: Option<String>,
    pub registered: bool,
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    pub events: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct SourceRow {
    pub source: usize,
    pub kind: String,
    pub path: String,
    pub tz: String,
    pub offset_ns: i64,
    pub rows: usize,
    pub events: usize,
    pub errors: usize,
    pub minute_rows: usize,
    pub second_rows: usize,
    pub dst_gap_rows: usize,
    pub dst_fold_rows: usize,
    pub unmatched_notifications: usize,
    pub classes: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize)]
pub struct FlowCounts {
    pub total: usize,
    pub tcp: usize,
    pub udp: usize,
    pub other_ip: usize,
    pub l2: usize,
    /// Flows by how they ended (eof, idle, active, fin, rst).
    pub ended: BTreeMap<String, usize>,
    /// The timeouts flows end by.
    pub timeouts: String,
}

#[derive(Debug, Serialize)]
pub struct Inspect {
    pub project: String,
    pub packets: u64,
    pub bytes: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    pub first_utc: Option<String>,
    pub last_utc: Option<String>,
    pub flows: usize,
    /// The time slice inspected (`[from, to)`, UTC ns), or null for the whole span.
    pub range_ns: Option<(i64, i64)>,
    pub flow_counts: FlowCounts,
    pub capture_files: Vec<crate::traffic::FileSummary>,
    pub devices: Vec<DeviceRow>,
    pub unregistered_macs: Vec<(String, u64)>,
    pub events: usize,
    pub events_by_status: BTreeMap<String, usize>,
    pub events_by_source: Vec<SourceRow>,
    pub events_by_class: BTreeMap<String, usize>,
    pub unmatched_device_names: BTreeMap<String, usize>,
    pub dst_gap_rows: usize,
    pub dst_fold_rows: usize,
    pub errors: Vec<RowError>,
    pub capture_issues: Vec<crate::capture::CaptureIssue>,
    pub warnings: Vec<String>,
    /// Active events with no feature row, training row or slice, by reason.
    pub left_out: crate::learn::features::LeftOut,
    pub journal_entries: usize,
    /// Whether the captures were parsed or read from the derived cache.
    pub cache: crate::traffic::cache::CacheStatus,
    /// The traffic dataset read instead of captures, if the project names one.
    pub traffic_dataset: Option<String>,
}

pub fn inspect(s: &Session) -> Inspect {
    inspect_slice(s, None)
}

/// The traffic of `[from, to)` (UTC ns): its packets, bytes, span, per-device totals and the
/// flows that start in it, as [`device_stats`] and the flow table give them for the whole.
struct SliceTraffic<'a> {
    packets: u64,
    bytes: u64,
    first_ns: Option<i64>,
    last_ns: Option<i64>,
    stats: Vec<crate::traffic::DeviceStats>,
    flows: Vec<&'a crate::traffic::Flow>,
}

fn slice_traffic(s: &Session, range: Option<(i64, i64)>) -> SliceTraffic<'_> {
    let t = &s.traffic;
    let ndev = s.registry.len();
    let Some((a, b)) = range else {
        return SliceTraffic {
            packets: t.packets.len() as u64,
            bytes: t.total_bytes(),
            first_ns: t.first_ns(),
            last_ns: t.last_ns(),
            stats: device_stats(t, ndev),
            flows: t.flows.iter().collect(),
        };
    };
    let ts = &t.packets.ts;
    let (i, j) = (
        ts.partition_point(|&x| x < a),
        ts.partition_point(|&x| x < b),
    );
    let flows: Vec<&crate::traffic::Flow> = t
        .flows
        .iter()
        .filter(|f| (a..b).contains(&f.first_ns))
        .collect();
    let mut stats = vec![crate::traffic::DeviceStats::default(); ndev];
    for (d, st) in stats.iter_mut().enumerate() {
        let idx =
            &t.by_device.get(d).map_or(&[][..], |v| &v[..])[t.device_range(d as u16, a, b - 1)];
        st.packets = idx.len() as u64;
        st.bytes = idx
            .iter()
            .map(|&k| t.packets.orig_len[k as usize] as u64)
            .sum();
        st.first_ns = idx.first().map(|&k| ts[k as usize]);
        st.last_ns = idx.last().map(|&k| ts[k as usize]);
    }
    for f in &flows {
        if let Some(st) = stats.get_mut(f.device as usize) {
            st.flows += 1;
        }
    }
    SliceTraffic {
        packets: (j - i) as u64,
        bytes: t.packets.orig_len[i..j].iter().map(|&x| x as u64).sum(),
        first_ns: (i < j).then(|| ts[i]),
        last_ns: (i < j).then(|| ts[j - 1]),
        stats,
        flows,
    }
}

/// [`inspect`] of one time slice `[from, to)` (UTC ns): the packets, flows (by first packet)
/// and events (by adjusted time) in it; source files and their errors stay whole.
pub fn inspect_slice(s: &Session, range: Option<(i64, i64)>) -> Inspect {
    let in_slice =
        |e: &crate::labels::Event| range.is_none_or(|(a, b)| (a..b).contains(&s.adjusted_ns(e)));
    let w = s.project.window;
    let left_out = crate::learn::features::feature_events_where(s, &w, in_slice).1;
    let t = &s.traffic;
    let ndev = s.registry.len();
    let st = slice_traffic(s, range);
    let stats = &st.stats;
    let mut ev_per_dev = vec![0u64; ndev];
    let mut by_status = BTreeMap::new();
    let mut by_class = BTreeMap::new();
    for e in s.labels.events.iter().filter(|e| in_slice(e)) {
        if e.device != NO_DEVICE {
            ev_per_dev[e.device as usize] += 1;
        }
        *by_status.entry(e.status.as_str().to_string()).or_insert(0) += 1;
        *by_class.entry(e.class.clone()).or_insert(0) += 1;
    }
    for st in ["active", "duplicate", "rejected"] {
        by_status.entry(st.to_string()).or_insert(0);
    }
    let devices = s
        .registry
        .devices
        .iter()
        .enumerate()
        .filter(|(i, d)| d.registered || stats[*i].packets > 0)
        .map(|(i, d)| DeviceRow {
            name: d.name.clone(),
            mac: d.mac_string(),
            kind: d.kind().to_string(),
            hub: d.hub.clone(),
            registered: d.registered,
            packets: stats[i].packets,
            bytes: stats[i].bytes,
            flows: stats[i].flows,
            events: ev_per_dev[i],
            first_ns: stats[i].first_ns,
            last_ns: stats[i].last_ns,
        })
        .collect();
    let mut fc = FlowCounts {
        total: st.flows.len(),
        tcp: 0,
        udp: 0,
        other_ip: 0,
        l2: 0,
        ended: BTreeMap::new(),
        timeouts: t.flow_timeouts.describe(),
    };
    for f in &st.flows {
        *fc.ended.entry(f.end.as_str().to_string()).or_default() += 1;
        match (f.key.is_l2, f.key.proto) {
            (true, _) => fc.l2 += 1,
            (false, 6) => fc.tcp += 1,
            (false, 17) => fc.udp += 1,
            _ => fc.other_ip += 1,
        }
    }
    let mut unmatched = BTreeMap::new();
    let mut errors = Vec::new();
    let mut gap = 0;
    let mut fold = 0;
    let sources = s
        .sources
        .iter()
        .enumerate()
        .map(|(i, src)| {
            for (k, v) in &src.load.unmatched_devices {
                *unmatched.entry(k.clone()).or_insert(0) += v;
            }
            errors.extend(src.load.errors.iter().cloned());
            // In the zone the source is read in now (a zone edit re-resolves its times).
            let (src_gap, src_fold) = dst_rows(s, i, src);
            gap += src_gap;
            fold += src_fold;
            let mut classes = BTreeMap::new();
            for e in s
                .labels
                .events
                .iter()
                .filter(|e| e.source as usize == i && in_slice(e))
            {
                *classes.entry(e.class.clone()).or_insert(0) += 1;
            }
            SourceRow {
                source: i,
                kind: src.spec.kind.as_str().to_string(),
                path: src.spec.path.clone(),
                tz: s.source_zone(i).to_string(),
                offset_ns: s.labels.offsets.get(i).copied().unwrap_or(0),
                rows: src.load.rows,
                events: src.load.events,
                errors: src.load.errors.len(),
                minute_rows: src.load.minute_rows,
                second_rows: src.load.second_rows,
                dst_gap_rows: src_gap,
                dst_fold_rows: src_fold,
                unmatched_notifications: src.load.unmatched_notifications.len(),
                classes,
            }
        })
        .collect();
    Inspect {
        project: s
            .project_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        packets: st.packets,
        bytes: st.bytes,
        first_ns: st.first_ns,
        last_ns: st.last_ns,
        first_utc: st.first_ns.map(timefmt::utc),
        last_utc: st.last_ns.map(timefmt::utc),
        flows: st.flows.len(),
        range_ns: range,
        flow_counts: fc,
        capture_files: t.files.clone(),
        devices,
        unregistered_macs: t
            .unregistered_macs
            .iter()
            .map(|(m, c)| (fmt_mac(m), *c))
            .collect(),
        events: by_status.values().sum(),
        events_by_status: by_status,
        events_by_source: sources,
        events_by_class: by_class,
        unmatched_device_names: unmatched,
        dst_gap_rows: gap,
        dst_fold_rows: fold,
        errors,
        capture_issues: t.issues.clone(),
        warnings: {
            let mut w = s.warnings.clone();
            w.extend(empty_window_warnings(s, &in_slice));
            w.extend(left_out.describe());
            w
        },
        left_out,
        journal_entries: s.history.log.len(),
        cache: s.cache_status.clone(),
        traffic_dataset: s.traffic_dir().map(|d| d.display().to_string()),
    }
}

/// Rows of source `i` whose wall-clock time falls in a DST gap or fold of the zone it is read
/// in now: as loaded, or recounted after a zone edit.
fn dst_rows(s: &Session, i: usize, src: &crate::project::session::LoadedSource) -> (usize, usize) {
    let zone = s.source_zone(i);
    if zone == src.spec.tz {
        return (src.load.dst_gap, src.load.dst_fold);
    }
    let Ok(tz) = zone.parse::<chrono_tz::Tz>() else {
        return (0, 0);
    };
    let (mut gap, mut fold) = (0, 0);
    for e in s.labels.events.iter().filter(|e| e.source as usize == i) {
        let Some(w) = e.local_ns else { continue };
        match crate::labels::resolve_local(&tz, &crate::labels::wall_time(w)) {
            Some((_, crate::labels::Resolved::Gap)) => gap += 1,
            Some((_, crate::labels::Resolved::Fold)) => fold += 1,
            _ => {}
        }
    }
    (gap, fold)
}

/// Sources most of whose feature windows (of active events of devices with traffic, inside the
/// captures) hold no packet of their device: a wrong zone or clock puts labels where nothing
/// happened.
fn empty_window_warnings(
    s: &Session,
    in_slice: &dyn Fn(&crate::labels::Event) -> bool,
) -> Vec<String> {
    let w = s.project.window;
    let (evs, _) = crate::learn::features::feature_events_where(s, &w, in_slice);
    let mut per_source: BTreeMap<u16, (usize, usize)> = BTreeMap::new();
    for e in evs {
        let t = s.adjusted_ns(e);
        let dev = s.traffic_device(e.device);
        let empty = s
            .traffic
            .device_range(dev, t - w.before_ns, t + w.after_ns)
            .is_empty();
        let c = per_source.entry(e.source).or_default();
        c.0 += 1;
        c.1 += empty as usize;
    }
    per_source
        .into_iter()
        .filter(|(_, (n, empty))| *n >= 5 && *empty * 2 > *n)
        .map(|(si, (n, empty))| {
            let (path, zone) = match s.sources.get(si as usize) {
                Some(src) => (src.path.display().to_string(), s.source_zone(si as usize)),
                None => ("inserted events".to_string(), "UTC"),
            };
            format!(
                "{path}: {empty} of {n} windows of its events on devices with traffic hold no \
                 packet of their device; are its time zone ({zone}) and clock right? \
                 (`curate` checks both)"
            )
        })
        .collect()
}

fn dur(a: Option<i64>, b: Option<i64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => {
            let s = (b - a) as f64 / 1e9;
            if s > 86400.0 {
                format!("{:.2} days", s / 86400.0)
            } else {
                format!("{:.1} h", s / 3600.0)
            }
        }
        _ => "-".into(),
    }
}

/// The slice inspected, for the text summary.
fn slice_line(r: &Inspect) -> Option<String> {
    let (a, b) = r.range_ns?;
    let end = |t: i64, open: &str| match t {
        i64::MIN | i64::MAX => open.to_string(),
        t => timefmt::utc(t),
    };
    Some(format!(
        "slice     {} .. {} (packets, flows and events in it)",
        end(a, "the start"),
        end(b, "the end")
    ))
}

pub fn render_text(r: &Inspect) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "project   {}", r.project);
    let _ = writeln!(
        o,
        "captures  {} files, {} packets, {} bytes ({})",
        r.capture_files.len(),
        grouped(r.packets),
        grouped(r.bytes),
        human_bytes(r.bytes)
    );
    let _ = writeln!(
        o,
        "time span {} .. {} ({})",
        r.first_utc.as_deref().unwrap_or("-"),
        r.last_utc.as_deref().unwrap_or("-"),
        dur(r.first_ns, r.last_ns)
    );
    if let Some(line) = slice_line(r) {
        let _ = writeln!(o, "{line}");
    }
    match &r.traffic_dataset {
        Some(d) => {
            let _ = writeln!(
                o,
                "traffic   read from the traffic dataset {d} (no cache needed)"
            );
        }
        None => {
            let _ = writeln!(o, "cache     {}", r.cache);
        }
    }
    let f = &r.flow_counts;
    let _ = writeln!(
        o,
        "flows     {} (tcp {}, udp {}, other ip {}, layer-2 {})",
        grouped(f.total as u64),
        grouped(f.tcp as u64),
        grouped(f.udp as u64),
        grouped(f.other_ip as u64),
        grouped(f.l2 as u64)
    );
    let ended: Vec<String> = f
        .ended
        .iter()
        .map(|(k, v)| format!("{k} {}", grouped(*v as u64)))
        .collect();
    let _ = writeln!(o, "          ended: {}", ended.join(", "));
    let _ = writeln!(o, "          by {}", f.timeouts);
    // A hub's child has no MAC of its own: say whose traffic stands for it.
    let rows: Vec<_> = r
        .devices
        .iter()
        .filter(|d| d.registered)
        .map(|d| match (&d.hub, d.mac.is_empty()) {
            (Some(h), true) => (d, format!("via {h}")),
            _ => (d, d.mac.clone()),
        })
        .collect();
    // Columns as wide as their longest entry, so long names and hub names keep them aligned.
    let nw = rows
        .iter()
        .map(|(d, _)| d.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mw = rows
        .iter()
        .map(|(_, m)| m.chars().count())
        .max()
        .unwrap_or(0)
        .max(17);
    let _ = writeln!(
        o,
        "  {:<nw$} {:<mw$} {:>10} {:>13} {:>7} {:>7}  first seen / last seen (UTC)",
        "name", "mac", "packets", "bytes", "flows", "events"
    );
    for (d, mac) in rows {
        let _ = writeln!(
            o,
            "  {:<nw$} {:<mw$} {:>10} {:>13} {:>7} {:>7}  {} / {}",
            d.name,
            mac,
            d.packets,
            d.bytes,
            d.flows,
            d.events,
            d.first_ns
                .map(timefmt::utc_short)
                .unwrap_or_else(|| "-".into()),
            d.last_ns
                .map(timefmt::utc_short)
                .unwrap_or_else(|| "-".into())
        );
    }
    if !r.unregistered_macs.is_empty() {
        let _ = writeln!(o, "\nunregistered MACs (packets)");
        for (m, c) in r.unregistered_macs.iter().take(30) {
            let _ = writeln!(o, "  {m}  {c}");
        }
        if r.unregistered_macs.len() > 30 {
            let _ = writeln!(o, "  … {} more", r.unregistered_macs.len() - 30);
        }
    }
    if !r.events_by_source.is_empty() {
        let _ = writeln!(
            o,
            "\nlabel sources ({} events: {})",
            r.events,
            r.events_by_status
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for s in &r.events_by_source {
            let _ = writeln!(
                o,
                "  [{}] {:<19} {}  tz {}  rows {}  events {}  errors {}  minute/second {}/{}  dst gap {} fold {}",
                s.source,
                s.kind,
                s.path,
                s.tz,
                s.rows,
                s.events,
                s.errors,
                s.minute_rows,
                s.second_rows,
                s.dst_gap_rows,
                s.dst_fold_rows
            );
            let classes: Vec<String> = s.classes.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(o, "      classes: {}", classes.join(", "));
        }
    }
    if !r.unmatched_device_names.is_empty() {
        let _ = writeln!(o, "\nlog device names matching no device");
        for (k, v) in &r.unmatched_device_names {
            let _ = writeln!(o, "  {k:?}  {v}");
        }
    }
    if !r.errors.is_empty() {
        let _ = writeln!(o, "\nerrors ({})", r.errors.len());
        for e in &r.errors {
            let _ = writeln!(o, "  {}: line {}: {}", e.file, e.line, e.reason);
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(o, "\nwarnings ({})", r.warnings.len());
        for w in &r.warnings {
            let _ = writeln!(o, "  {w}");
        }
    }
    o
}
