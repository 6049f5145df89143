//! A deterministic smart-home simulator: hourly pcaps (headers only, like the lab's mirror
//! port), a devices.json with hubs, the four label logs in the lab's formats with the lab's
//! defects, a ground truth, and a ready project.

mod defects;
mod devices;
mod logs;
mod packets;
pub mod per_event;

pub use defects::*;
pub use devices::*;
use logs::*;
pub use packets::*;

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::TimeZone;
use chrono_tz::Tz;
use etherparse::{
    ArpEthIpv4Packet, ArpOperation, EtherType, Ethernet2Header, IpNumber, Ipv4Header, TcpHeader,
    UdpHeader,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::capture::write;
use crate::error::{Error, Result};
use crate::labels::{SourceKind, SourceSpec};
use crate::project::Project;

use crate::timefmt::NS_PER_S as NS;

/// 2021-03-08 00:00 America/New_York (05:00 UTC): the lab's week, with the DST change.
pub const DEFAULT_START_NS: i64 = 1_615_179_600 * NS;

pub const LAB_TZ: &str = "America/New_York";

/// Headers-only capture, like the lab's.
const SNAPLEN: usize = 96;

#[derive(Clone, Debug)]
pub struct SimOptions {
    pub devices: usize,
    pub days: u32,
    pub seed: u64,
    /// Target total packets (scales background traffic); None = natural rates.
    pub scale_packets: Option<u64>,
    /// Multiplier on every device's spontaneous event rates (1.0 = the built-in rates; the
    /// lab week's 16.7 K log rows need 1.7).
    pub label_rate: f64,
    pub start_ns: i64,
    /// Defects of real labs on top of the lab's own.
    pub defects: Defects,
    /// Write one capture per true event in Mon(IoT)r's layout (see [`per_event`]) instead of
    /// hourly pcaps, and a project whose labels are those captures' paths.
    pub per_event_captures: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            devices: 10,
            days: 1,
            seed: 1,
            scale_packets: None,
            label_rate: 1.0,
            start_ns: DEFAULT_START_NS,
            defects: Defects::default(),
            per_event_captures: false,
        }
    }
}

/// What `generate` wrote.
#[derive(Debug, Serialize)]
pub struct SimReport {
    pub out: PathBuf,
    pub devices: usize,
    pub network_devices: usize,
    pub days: u32,
    pub packets: u64,
    pub pcap_files: usize,
    pub pcap_bytes: u64,
    pub true_events: usize,
    pub log_rows: [usize; 4],
    pub seconds: f64,
    pub packets_per_s: f64,
    pub project: PathBuf,
}

/// Per-source clock offsets of the simulated loggers (the logger clock minus true time).
pub const SMARTTHINGS_CLOCK_NS: i64 = -3 * NS;

/// Generates a complete project folder at `out` for `demo-data`: refused over a non-empty
/// folder unless `force` is set and it holds a previous demo project; written into a staging
/// folder and swapped in whole, so a kill never leaves a mix of two projects.
pub fn write_project(out: &Path, o: &SimOptions, force: bool) -> Result<SimReport> {
    use crate::export::outdir::{check_target, OutputKind, Staging};
    check_target(out, OutputKind::DemoProject, force, &[])?;
    let staging = Staging::new(out)?;
    match generate(&staging.dir, o) {
        Ok(mut r) => {
            staging.commit()?;
            r.project = out.join("sample.labelbench.json");
            r.out = out.to_path_buf();
            Ok(r)
        }
        Err(e) => {
            staging.abandon();
            Err(e)
        }
    }
}

/// Generates a complete project folder.
pub fn generate(out: &Path, o: &SimOptions) -> Result<SimReport> {
    let t0 = std::time::Instant::now();
    std::fs::create_dir_all(out.join("pcaps")).map_err(|e| Error::io(out, e))?;
    let tz: Tz = LAB_TZ.parse().expect("zone");
    let devs = build_devices(o.devices, o.seed);
    let end = o.start_ns + o.days as i64 * 86400 * NS;
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);

    // True events: Poisson per (device, class) with a day-night rhythm, kept apart per device.
    let mut events: Vec<TrueEvent> = Vec::new();
    let mut busy: Vec<Vec<i64>> = vec![Vec::new(); devs.len()];
    for (di, d) in devs.iter().enumerate() {
        for (class, per_day) in &d.classes {
            let mut t = o.start_ns;
            let mean_gap = 86400.0 / (per_day * o.label_rate.max(1e-6));
            loop {
                let u: f64 = rng.gen_range(1e-9..1.0);
                t += (-u.ln() * mean_gap * 1e9) as i64;
                if t >= end - 120 * NS {
                    break;
                }
                let hour = tz
                    .timestamp_nanos(t)
                    .format("%H")
                    .to_string()
                    .parse::<u32>()
                    .unwrap_or(12);
                if !(7..=22).contains(&hour) && rng.gen_bool(0.7) {
                    continue;
                }
                let td = d.traffic_dev;
                if busy[td].iter().any(|&b| (b - t).abs() < 150 * NS) {
                    continue;
                }
                busy[td].push(t);
                events.push(TrueEvent {
                    id: 0,
                    device: di,
                    class: class.clone(),
                    true_ns: t,
                    scheduled_ns: None,
                });
            }
        }
    }
    // IFTTT scheduled triggers: every 15 minutes from 08:00 to 22:00 local, alternating on/off.
    let mut trigger_rows: Vec<(i64, usize, String, Option<usize>)> = Vec::new();
    let mut ev_extra: Vec<TrueEvent> = Vec::new();
    for (di, d) in devs.iter().enumerate().filter(|(_, d)| d.triggers) {
        let mut t = o.start_ns;
        let mut on = false;
        while t < end {
            let hour = tz
                .timestamp_nanos(t)
                .format("%H")
                .to_string()
                .parse::<u32>()
                .unwrap_or(0);
            if (8..22).contains(&hour) {
                on = !on;
                let class = if on { "on" } else { "off" };
                // 4 % of triggers never reach the device.
                if rng.gen_bool(0.04) {
                    trigger_rows.push((t, di, class.into(), None));
                } else {
                    let max_ms = (o.defects.trigger_delay_max_ns / 1_000_000).max(2_001);
                    let delay = rng.gen_range(2_000..max_ms) * 1_000_000;
                    let td = d.traffic_dev;
                    // After a step, the logger's minute is ahead of the true time.
                    let step = if t >= o.start_ns + (end - o.start_ns) / 2 {
                        o.defects.trigger_clock_step_ns
                    } else {
                        0
                    };
                    let tt = t - step + delay + di as i64 * 3 * NS % (20 * NS);
                    busy[td].push(tt);
                    ev_extra.push(TrueEvent {
                        id: 0,
                        device: di,
                        class: class.into(),
                        true_ns: tt,
                        scheduled_ns: Some(t),
                    });
                    trigger_rows.push((t, di, class.into(), Some(usize::MAX)));
                }
            }
            t += 15 * 60 * NS;
        }
    }
    // Keep trigger events, drop spontaneous events that collide with them on the same traffic device.
    let trig_times: Vec<(usize, i64)> = ev_extra
        .iter()
        .map(|e| (devs[e.device].traffic_dev, e.true_ns))
        .collect();
    events.retain(|e| {
        !trig_times
            .iter()
            .any(|&(td, t)| td == devs[e.device].traffic_dev && (t - e.true_ns).abs() < 90 * NS)
    });
    let n_spont = events.len();
    events.extend(ev_extra);
    // Map trigger rows to their events (in order of generation).
    {
        let mut k = n_spont;
        for r in trigger_rows.iter_mut() {
            if r.3.is_some() {
                r.3 = Some(k);
                k += 1;
            }
        }
    }
    for (i, e) in events.iter_mut().enumerate() {
        e.id = i;
    }

    let label_tz: Tz = o
        .defects
        .label_zone
        .parse()
        .map_err(|_| Error::Other(format!("unknown zone {:?}", o.defects.label_zone)))?;
    let [ifttt, trig, st, notes] =
        label_logs(o, &devs, &events, &trigger_rows, &mut rng, &label_tz);
    let pcaps = write_pcaps(out, o, &devs, &events, end)?;
    let (mut packets, mut pcap_bytes, mut pcap_files) = (pcaps.packets, pcaps.bytes, pcaps.files);
    if o.per_event_captures {
        (pcap_files, pcap_bytes, packets) =
            per_event::write_dataset(out, &devs, &events, &label_tz)?;
    }
    write_registry(out, &devs)?;
    write_logs_and_truth(
        out,
        &devs,
        &events,
        [&ifttt, &trig, &st, &notes],
        o.defects.eol(),
    )?;
    let project = write_project_file(out, &o.defects.project_zone(), o.per_event_captures)?;
    let secs = t0.elapsed().as_secs_f64();
    Ok(SimReport {
        out: out.to_path_buf(),
        devices: devs.len(),
        network_devices: pcaps.network_devices,
        days: o.days,
        packets,
        pcap_files,
        pcap_bytes,
        true_events: events.len(),
        log_rows: [ifttt.len(), trig.len(), st.len(), notes.len()],
        seconds: secs,
        packets_per_s: packets as f64 / secs,
        project,
    })
}

fn write_file(p: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(p).map_err(|e| Error::io(p, e))?;
    f.write_all(bytes).map_err(|e| Error::io(p, e))
}

/// `devices.json` in the lab's format (hub children without their own MAC).
fn write_registry(out: &Path, devs: &[SimDevice]) -> Result<()> {
    let mut dj = serde_json::Map::new();
    let mut hubs: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for d in devs {
        let mut o = serde_json::Map::new();
        o.insert("description".into(), d.description.clone().into());
        if let Some(m) = d.mac {
            o.insert(
                "address".into(),
                format!("{}.{}.{}.{}", d.ip[0], d.ip[1], d.ip[2], d.ip[3]).into(),
            );
            o.insert("ether".into(), crate::traffic::devices::fmt_mac(&m).into());
        }
        dj.insert(d.name.clone(), o.into());
        if let Some(h) = d.hub {
            hubs.entry(devs[h].name.clone())
                .or_default()
                .push(d.name.clone());
        }
    }
    let devices_json = serde_json::json!({"devices": dj, "hubs": hubs});
    write_file(
        &out.join("devices.json"),
        serde_json::to_string_pretty(&devices_json)
            .expect("json")
            .as_bytes(),
    )?;
    Ok(())
}

/// The four label logs and the ground truth: every true event, and every log row with the
/// true event it reports and its defect.
fn write_logs_and_truth(
    out: &Path,
    devs: &[SimDevice],
    events: &[TrueEvent],
    [ifttt, trig, st, notes]: [&Vec<LogRow>; 4],
    eol: &str,
) -> Result<()> {
    let names = [
        ("labels/ifttt-events.csv", ifttt),
        ("labels/ifttt-actions.csv", trig),
        ("labels/smartthings-events.csv", st),
        ("labels/notifications.jsonl", notes),
    ];
    std::fs::create_dir_all(out.join("labels")).map_err(|e| Error::io(out, e))?;
    let mut gt = csv::Writer::from_writer(Vec::new());
    gt.write_record([
        "record",
        "source_file",
        "line",
        "true_event",
        "device",
        "class",
        "true_ns",
        "logged_ns",
        "defect",
    ])
    .map_err(|e| Error::Other(e.to_string()))?;
    for e in events {
        gt.write_record([
            "event".to_string(),
            String::new(),
            String::new(),
            e.id.to_string(),
            devs[e.device].name.clone(),
            e.class.clone(),
            e.true_ns.to_string(),
            e.scheduled_ns.map(|s| s.to_string()).unwrap_or_default(),
            String::new(),
        ])
        .map_err(|e| Error::Other(e.to_string()))?;
    }
    for (file, rows) in names {
        let mut text = String::new();
        for (i, r) in rows.iter().enumerate() {
            text.push_str(&r.text);
            text.push_str(eol);
            let (dev, class) = match r.true_event {
                Some(k) => (devs[events[k].device].name.clone(), events[k].class.clone()),
                None => (String::new(), String::new()),
            };
            gt.write_record([
                "row".to_string(),
                file.to_string(),
                (i + 1).to_string(),
                r.true_event.map(|k| k.to_string()).unwrap_or_default(),
                dev,
                class,
                r.true_event
                    .map(|k| events[k].true_ns.to_string())
                    .unwrap_or_default(),
                r.logged_ns.to_string(),
                r.defect.to_string(),
            ])
            .map_err(|e| Error::Other(e.to_string()))?;
        }
        write_file(&out.join(file), text.as_bytes())?;
    }
    let gt_bytes = gt.into_inner().map_err(|e| Error::Other(e.to_string()))?;
    write_file(&out.join("ground-truth.csv"), &gt_bytes)?;
    Ok(())
}

/// The project file that names the simulated captures, registry and logs.
fn write_project_file(out: &Path, zone: &str, per_event: bool) -> Result<PathBuf> {
    let mut p = Project::new("sample");
    p.captures = vec!["pcaps/*.pcap".into()];
    p.devices = Some("devices.json".into());
    if per_event {
        p.captures = vec!["traffic/**/*.pcap".into()];
        p.sources.push(SourceSpec::new(
            SourceKind::PerEventCaptures,
            "traffic/**/*.pcap".into(),
            zone.into(),
        ));
    }
    for (kind, path) in [
        (SourceKind::Ifttt, "labels/ifttt-events.csv"),
        (SourceKind::IftttTrigger, "labels/ifttt-actions.csv"),
        (SourceKind::Smartthings, "labels/smartthings-events.csv"),
        (SourceKind::NotificationsJsonl, "labels/notifications.jsonl"),
    ]
    .into_iter()
    .filter(|_| !per_event)
    {
        p.sources.push(SourceSpec {
            kind,
            path: path.into(),
            tz: zone.into(),
            offset_ns: 0,
            csv: None,
            rules: vec![],
            pattern: None,
        });
    }
    let project = out.join("sample.labelbench.json");
    write_file(
        &project,
        serde_json::to_string_pretty(&p).expect("json").as_bytes(),
    )?;
    Ok(project)
}

/// What [`write_pcaps`] wrote.
struct Pcaps {
    packets: u64,
    bytes: u64,
    files: usize,
    network_devices: usize,
}

/// The hourly pcaps: every event's burst amid each device's background traffic, scaled to
/// the requested packet total, generated in parallel and byte-identical for the same options.
fn write_pcaps(
    out: &Path,
    o: &SimOptions,
    devs: &[SimDevice],
    events: &[TrueEvent],
    end: i64,
) -> Result<Pcaps> {
    // Event bursts (all at once; placed into hour files below).
    let mut burst: Vec<Pkt> = Vec::new();
    for e in events {
        let mut r = ChaCha8Rng::seed_from_u64(o.seed ^ 0xB0B5 ^ ((e.id as u64) << 20));
        let d = &devs[e.device];
        let td = &devs[d.traffic_dev];
        if o.defects.push_commands && td.kind == Kind::Plug {
            let port = keepalive_port(d.traffic_dev, e.true_ns);
            emit_push_command(d.traffic_dev as u16, e.true_ns, port, &mut r, &mut burst);
            continue;
        }
        match lead_in_ns(o, td, &mut r) {
            Some(lead) => {
                emit_lead_in(d.traffic_dev as u16, e.true_ns, &mut burst);
                let shifted = TrueEvent {
                    true_ns: e.true_ns + lead,
                    ..e.clone()
                };
                emit_event_burst(&shifted, devs, &mut r, &mut burst);
            }
            None => emit_event_burst(e, devs, &mut r, &mut burst),
        }
    }
    burst.sort_by_key(|p| (p.ts, p.dev));
    // Background scale to reach the requested packet total.
    let net: Vec<usize> = (0..devs.len()).filter(|&i| devs[i].mac.is_some()).collect();
    let dur_s = (end - o.start_ns) as f64 / 1e9;
    let natural_tls: f64 = net
        .iter()
        .map(|&i| {
            processes(devs[i].kind)
                .iter()
                .filter(|p| p.2 == Proto::Tls)
                .map(|p| p.1 as f64 / p.0)
                .sum::<f64>()
        })
        .sum::<f64>()
        * dur_s;
    let natural_other: f64 = net
        .iter()
        .map(|&i| {
            processes(devs[i].kind)
                .iter()
                .filter(|p| p.2 != Proto::Tls)
                .map(|p| p.1 as f64 / p.0)
                .sum::<f64>()
        })
        .sum::<f64>()
        * dur_s;
    let scale = match o.scale_packets {
        Some(target) => {
            ((target as f64 - burst.len() as f64 - natural_other) / natural_tls.max(1.0)).max(0.001)
        }
        None => 1.0,
    };

    // Hourly pcaps, generated in parallel, byte-identical for the same options.
    let hours: Vec<i64> = (0..((end - o.start_ns) / (3600 * NS))).collect();
    let results: Vec<Result<(u64, u64)>> = hours
        .par_iter()
        .map(|&h| {
            let h0 = o.start_ns + h * 3600 * NS;
            let h1 = h0 + 3600 * NS;
            let mut pk: Vec<Pkt> = Vec::new();
            for &i in &net {
                background(
                    i,
                    &devs[i],
                    (h0, h1),
                    scale,
                    o.seed,
                    o.defects.push_commands,
                    &mut pk,
                );
            }
            let a = burst.partition_point(|p| p.ts < h0);
            let b = burst.partition_point(|p| p.ts < h1);
            pk.extend_from_slice(&burst[a..b]);
            pk.retain(|p| p.ts >= h0 && p.ts < h1);
            pk.sort_by_key(|p| (p.ts, p.dev, p.inbound));
            let mut buf: Vec<u8> = Vec::with_capacity(pk.len() * 80 + 24);
            buf.extend(write::pcap_header(pcap_parser::Linktype(1), SNAPLEN as u32));
            let mut frame: Vec<u8> = Vec::with_capacity(128);
            for p in &pk {
                frame.clear();
                let (cap, orig) = encode(p, &devs[p.dev as usize], &mut frame);
                write::append_record(&mut buf, p.ts, orig as u32, &frame[..cap]);
            }
            let stamp = chrono::Utc
                .timestamp_nanos(h0)
                .format("%Y%m%d-%H")
                .to_string();
            let path = out.join("pcaps").join(format!("capture-{stamp}.pcap"));
            std::fs::write(&path, &buf).map_err(|e| Error::io(&path, e))?;
            Ok((pk.len() as u64, buf.len() as u64))
        })
        .collect();
    let mut packets = 0;
    let mut pcap_bytes = 0;
    for r in results {
        let (p, b) = r?;
        packets += p;
        pcap_bytes += b;
    }
    Ok(Pcaps {
        packets,
        bytes: pcap_bytes,
        files: hours.len(),
        network_devices: net.len(),
    })
}

/// The four label logs in the lab's formats with the lab's defects: IFTTT's polling delay,
/// repeats and an outage, scheduled triggers, SmartThings' clock and repeated camera events,
/// notifications' wording and lateness, rows out of order. Returns IFTTT, scheduled triggers,
/// SmartThings and notifications.
fn label_logs(
    o: &SimOptions,
    devs: &[SimDevice],
    events: &[TrueEvent],
    trigger_rows: &[(i64, usize, String, Option<usize>)],
    rng: &mut ChaCha8Rng,
    tz: &Tz,
) -> [Vec<LogRow>; 4] {
    let outage_start = o.start_ns + (o.days as i64 * 86400 * NS) / 2 + 3 * 3600 * NS;
    let outage_end = outage_start + 5 * 3600 * NS;
    let mut ifttt: Vec<LogRow> = Vec::new();
    let mut trig: Vec<LogRow> = Vec::new();
    let mut st: Vec<LogRow> = Vec::new();
    let mut notes: Vec<LogRow> = Vec::new();
    for e in events {
        let d = &devs[e.device];
        if e.scheduled_ns.is_some() {
            continue;
        }
        if d.ifttt_applet && e.class == "motion" {
            let delay = rng.gen_range(3_000..60_000) * 1_000_000;
            let drift = (o.defects.ifttt_clock_drift_ns_per_day as i128
                * (e.true_ns - o.start_ns) as i128
                / (86_400 * NS) as i128) as i64;
            let seen = e.true_ns + delay + o.defects.ifttt_clock_offset_ns + drift;
            if !(outage_start..outage_end).contains(&seen) {
                let minute = seen - seen.rem_euclid(60 * NS);
                let text = format!(
                    "\"{}\",\"{}\",\"event_{}\"",
                    local_text(minute, tz, false),
                    d.name,
                    e.class
                );
                let copies = if rng.gen_bool(o.defects.ifttt_repeat_rate.clamp(0.0, 1.0)) {
                    rng.gen_range(2..=3)
                } else {
                    1
                };
                for c in 0..copies {
                    ifttt.push(LogRow {
                        logged_ns: minute,
                        text: text.clone(),
                        true_event: Some(e.id),
                        defect: if c == 0 { "" } else { "duplicate" },
                    });
                }
            }
        }
        let cross_logged = d.ifttt_applet
            && e.class == "motion"
            && o.defects.ifttt_also_smartthings > 0.0
            && rng.gen_bool(o.defects.ifttt_also_smartthings.clamp(0.0, 1.0));
        if d.smartthings || cross_logged {
            let t = e.true_ns + rng.gen_range(200..2_000) * 1_000_000 + SMARTTHINGS_CLOCK_NS;
            let tt = t - t.rem_euclid(NS);
            let cls = if e.class == "motion" && d.kind != Kind::Lock {
                "motion".to_string()
            } else {
                e.class.clone()
            };
            st.push(LogRow {
                logged_ns: tt,
                text: format!(
                    "\"{}\",\"{}\",\"event_{}\"",
                    local_text(tt, tz, true),
                    d.name,
                    cls
                ),
                true_event: Some(e.id),
                defect: "",
            });
            // SmartThings repeats some camera events with new ids.
            if matches!(d.kind, Kind::Camera) && rng.gen_bool(0.3) {
                let t2 = tt + rng.gen_range(1..20) * NS;
                st.push(LogRow {
                    logged_ns: t2,
                    text: format!(
                        "\"{}\",\"{}\",\"event_{}\"",
                        local_text(t2, tz, true),
                        d.name,
                        cls
                    ),
                    true_event: Some(e.id),
                    defect: "repeat",
                });
            }
        }
        if d.notifier != Notifier::None && !ifttt_only(o, d) {
            let t = e.true_ns + rng.gen_range(1_000..6_000) * 1_000_000;
            let tt = t - t.rem_euclid(NS);
            if let Some(line) = notification(d, &e.class, tt, tz) {
                notes.push(LogRow {
                    logged_ns: tt,
                    text: line,
                    true_event: Some(e.id),
                    defect: "",
                });
            }
        }
    }
    for (t, di, class, ev) in trigger_rows {
        trig.push(LogRow {
            logged_ns: *t,
            text: format!(
                "\"{}\",\"{}\",\"event_{}\"",
                local_text(*t, tz, false),
                devs[*di].name,
                class
            ),
            true_event: *ev,
            defect: if ev.is_none() { "no-traffic" } else { "" },
        });
    }
    for rows in [&mut ifttt, &mut trig, &mut st, &mut notes] {
        rows.sort_by(|a, b| (a.logged_ns, &a.text).cmp(&(b.logged_ns, &b.text)));
    }
    // Rows out of time order, as in the lab's logs: swap a few adjacent rows.
    for rows in [&mut st, &mut notes] {
        let n = rows.len();
        for i in (1..n).step_by(37) {
            if rng.gen_bool(0.5) {
                rows.swap(i - 1, i);
            }
        }
    }
    [ifttt, trig, st, notes]
}
