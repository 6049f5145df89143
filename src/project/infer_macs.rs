//! MACs of per-event devices the registry does not name. In a per-event dataset every capture
//! was filtered to one device, so that device is the one local sender present in every one
//! of its captures: the MAC that appears in (nearly) all of them and whose IPv4 frames carry a
//! private source address (the gateway's frames carry the remote side's public address). A
//! device whose MAC is inferred gets the traffic of that MAC, and the session says so.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::labels::{PathPattern, SourceKind, SourceSpec, MONIOTR_PATTERN};
use crate::traffic::devices::{fmt_mac, is_group_mac, Registry};

/// Captures read per device: enough to tell the device from the gateway, few enough that a
/// 20,000-file dataset is not read twice.
const SAMPLE: usize = 24;
/// Share of a device's captures a candidate MAC must appear in, and share of its IPv4 frames
/// that must carry a private source address.
const SHARE: f64 = 0.9;

/// A device's candidate MACs, or why it has none.
type Candidates = Result<BTreeSet<[u8; 6]>, String>;

/// One capture's senders: per MAC, (IPv4 frames sent, of them with a private source).
type Senders = BTreeMap<[u8; 6], (u64, u64)>;

/// Names devices of `spec`'s captures that match no registry device after the MAC their
/// captures show, where that is unambiguous; returns what was inferred or why not.
pub(crate) fn infer(
    spec: &SourceSpec,
    glob: &Path,
    registry: &mut Registry,
    device_map: &BTreeMap<String, String>,
) -> Vec<String> {
    if spec.kind != SourceKind::PerEventCaptures {
        return vec![];
    }
    let Ok(pattern) = PathPattern::parse(spec.pattern.as_deref().unwrap_or(MONIOTR_PATTERN)) else {
        return vec![];
    };
    let Ok(files) = crate::capture::expand_captures(Path::new("."), &[glob.display().to_string()])
    else {
        return vec![];
    };
    let mut by_device: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for f in files {
        let Ok(fields) = pattern.fields(&f.display().to_string()) else {
            continue;
        };
        let Some(name) = fields.device else { continue };
        let mapped = device_map.get(&name).unwrap_or(&name);
        if registry.match_name(mapped).is_none() {
            by_device.entry(name).or_default().push(f);
        }
    }
    let found: Vec<(String, Candidates, usize)> = by_device
        .into_par_iter()
        .map(|(name, files)| {
            let n = files.len();
            (name, local_senders(&files), n)
        })
        .collect();
    // A sender in the captures of several devices (the phone that drives every experiment,
    // a hub) does not tell them apart: where a device has other candidates, drop it.
    let mut shared: BTreeMap<[u8; 6], usize> = BTreeMap::new();
    for (_, c, _) in &found {
        for m in c.iter().flatten() {
            *shared.entry(*m).or_default() += 1;
        }
    }
    let inferred: Vec<(String, Result<[u8; 6], String>, usize)> = found
        .into_iter()
        .map(|(name, c, n)| {
            let mac = c.and_then(|c| {
                let own: Vec<[u8; 6]> = c.iter().filter(|m| shared[*m] == 1).copied().collect();
                match (c.len(), own.len()) {
                    (1, _) => Ok(*c.iter().next().expect("one")),
                    (_, 1) => Ok(own[0]),
                    _ => Err(format!(
                        "several local senders are in all its captures ({})",
                        c.iter().map(fmt_mac).collect::<Vec<_>>().join(", ")
                    )),
                }
            });
            (name, mac, n)
        })
        .collect();
    // A MAC claimed by several names is a hub's or a shared gateway's: name none of them.
    let mut claims: BTreeMap<[u8; 6], Vec<&str>> = BTreeMap::new();
    for (name, mac, _) in &inferred {
        if let Ok(m) = mac {
            claims.entry(*m).or_default().push(name);
        }
    }
    let mut notes = Vec::new();
    for (name, mac, n) in &inferred {
        let m = match mac {
            Ok(m) => *m,
            Err(why) => {
                notes.push(format!(
                    "{name}: no MAC in the registry, and none inferred: {why}"
                ));
                continue;
            }
        };
        let shown = fmt_mac(&m);
        if claims[&m].len() > 1 {
            notes.push(format!(
                "{name}: its captures show {shown}, as those of {} do (a hub?): name the devices in the registry",
                claims[&m].iter().filter(|c| *c != name).cloned().collect::<Vec<_>>().join(", ")
            ));
            continue;
        }
        let i = registry.add_unregistered(m) as usize;
        let d = &mut registry.devices[i];
        if d.registered {
            notes.push(format!(
                "{name}: its captures show {shown}, the registry's {}: add {name} to the registry (behind {} if it is a hub)",
                d.name, d.name
            ));
            continue;
        }
        d.name = name.clone();
        d.description = format!("MAC inferred from its per-event captures ({n} files)");
        registry.reindex();
        notes.push(format!(
            "{name}: MAC {shown} inferred (the one local sender in its per-event captures)"
        ));
    }
    notes
}

/// The local senders present in (nearly) every one of a device's per-event captures.
fn local_senders(files: &[PathBuf]) -> Candidates {
    let step = files.len().div_ceil(SAMPLE).max(1);
    let sample: Vec<&PathBuf> = files.iter().step_by(step).collect();
    let mut seen_in: BTreeMap<[u8; 6], usize> = BTreeMap::new();
    let mut sent: Senders = BTreeMap::new();
    let mut read = 0;
    for f in &sample {
        let Ok(one) = senders(f) else { continue };
        read += 1;
        for (m, (n, private)) in one {
            *seen_in.entry(m).or_default() += 1;
            let e = sent.entry(m).or_default();
            e.0 += n;
            e.1 += private;
        }
    }
    if read == 0 {
        return Err("none of its captures could be read".into());
    }
    let candidates: BTreeSet<[u8; 6]> = seen_in
        .iter()
        .filter(|(m, &k)| {
            let (n, private) = sent[*m];
            k as f64 >= SHARE * read as f64 && n > 0 && private as f64 >= SHARE * n as f64
        })
        .map(|(m, _)| *m)
        .collect();
    if candidates.is_empty() {
        return Err(format!(
            "no local sender is in {:.0} % of its {read} sampled captures",
            SHARE * 100.0
        ));
    }
    Ok(candidates)
}

/// Per source MAC of a capture's Ethernet frames: IPv4 frames sent, and how many of them
/// carry a private (RFC 1918 or link-local) source address.
fn senders(file: &Path) -> Result<Senders, String> {
    let mut out: Senders = BTreeMap::new();
    crate::capture::for_each_record(file, |link, _, _, data| {
        if link != pcap_parser::Linktype::ETHERNET {
            return;
        }
        let Ok(eth) = etherparse::SlicedPacket::from_ethernet(data) else {
            return;
        };
        let Some(etherparse::LinkSlice::Ethernet2(e)) = eth.link else {
            return;
        };
        let src = e.source();
        if is_group_mac(&src) {
            return;
        }
        if let Some(etherparse::NetSlice::Ipv4(ip)) = eth.net {
            let a: Ipv4Addr = ip.header().source_addr();
            let e = out.entry(src).or_default();
            e.0 += 1;
            e.1 += u64::from(a.is_private() || a.is_link_local());
        }
    })?;
    Ok(out)
}
