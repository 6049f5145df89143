//! The simulated lab as a per-event capture dataset (`demo-data --per-event-captures`): one
//! pcap per true event in Mon(IoT)r's layout, `traffic/<device>/<class>/<local start>.<s>s.pcap`,
//! holding the packets of the device that carries the event (itself, or its hub) from a few
//! seconds before its onset to the end of the experiment, as a capture filtered to one
//! device would.

use std::path::{Path, PathBuf};

use chrono::TimeZone;
use chrono_tz::Tz;
use rayon::prelude::*;

use super::{SimDevice, TrueEvent, NS, SNAPLEN};
use crate::capture::write;
use crate::error::{Error, Result};

/// Seconds of capture before the event's onset (the experimenter starts recording, then acts).
pub const LEAD_S: i64 = 3;
/// Length of every experiment's capture, in seconds.
pub const EXPERIMENT_S: i64 = 30;

/// Where an experiment's capture goes, relative to the dataset folder: its start is the
/// local second (in `zone`) at or before the onset minus [`LEAD_S`].
pub fn experiment_path(device: &str, class: &str, start_ns: i64, zone: &Tz) -> PathBuf {
    let local = zone.timestamp_nanos(start_ns.div_euclid(NS) * NS);
    PathBuf::from("traffic")
        .join(device)
        .join(class)
        .join(format!(
            "{}.{EXPERIMENT_S}s.pcap",
            local.format("%Y-%m-%d_%H:%M:%S")
        ))
}

/// Writes one capture per event from the hourly pcaps in `out/pcaps`, then removes those
/// (this run wrote them). Returns the files written, their bytes and their packets.
pub(super) fn write_dataset(
    out: &Path,
    devs: &[SimDevice],
    events: &[TrueEvent],
    zone: &Tz,
) -> Result<(usize, u64, u64)> {
    let hourly = out.join("pcaps");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&hourly)
        .map_err(|e| Error::io(&hourly, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    // Each experiment's span and the MAC whose frames it keeps, in onset order.
    let mut spans: Vec<(i64, i64, [u8; 6], usize)> = events
        .iter()
        .filter_map(|e| {
            let mac = devs[devs[e.device].traffic_dev].mac?;
            let start = (e.true_ns - LEAD_S * NS).div_euclid(NS) * NS;
            Some((start, start + EXPERIMENT_S * NS, mac, e.id))
        })
        .collect();
    spans.sort();
    let mut bodies: Vec<Vec<u8>> = vec![Vec::new(); events.len()];
    let mut packets = 0u64;
    for f in &files {
        crate::capture::for_each_record(f, |_, ts, orig_len, data| {
            if data.len() < 12 {
                return;
            }
            let first = spans.partition_point(|s| s.1 <= ts);
            for s in spans[first..].iter().take_while(|s| s.0 <= ts) {
                if ts < s.1 && (data[0..6] == s.2 || data[6..12] == s.2) {
                    write::append_record(&mut bodies[s.3], ts, orig_len, data);
                    packets += 1;
                }
            }
        })
        .map_err(|why| Error::Other(format!("{}: {why}", f.display())))?;
    }
    let header = write::pcap_header(pcap_parser::Linktype(1), SNAPLEN as u32);
    let bytes: Vec<u64> = spans
        .par_iter()
        .map(|&(start, _, _, id)| {
            let e = &events[id];
            let rel = experiment_path(&devs[e.device].name, &e.class, start, zone);
            let path = out.join(rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|err| Error::io(dir, err))?;
            }
            let mut bytes = header.clone();
            bytes.extend_from_slice(&bodies[id]);
            super::write_file(&path, &bytes).map(|()| bytes.len() as u64)
        })
        .collect::<Result<Vec<u64>>>()?;
    std::fs::remove_dir_all(&hourly).map_err(|e| Error::io(&hourly, e))?;
    Ok((spans.len(), bytes.iter().sum(), packets))
}
