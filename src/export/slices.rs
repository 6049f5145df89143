//! One capture per exported active event: its device's packets in its window, bytes as
//! captured; pcap, or pcapng with the event named in every packet's comment.

use super::*;

/// One capture per exported active event: its device's packets in its window, bytes as
/// captured; with `annotated`, pcapng whose every packet carries the event's comment.
pub(crate) fn pcap_slices(
    s: &Session,
    evs: &[&crate::labels::Event],
    fmap: &HashMap<u64, &FeatureRow>,
    dir: &Path,
    annotated: bool,
) -> Result<Vec<SliceFile>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    // Windows per traffic device: (start, end, event index).
    struct Win {
        lo: i64,
        hi: i64,
        k: usize,
    }
    let mut wins: HashMap<[u8; 6], Vec<Win>> = HashMap::new();
    let mut targets: Vec<&crate::labels::Event> = Vec::new();
    for e in evs {
        let Some(fr) = fmap.get(&e.id) else { continue };
        let td = s.traffic_device(e.device);
        let Some(mac) = s.registry.devices.get(td as usize).and_then(|d| d.mac) else {
            continue;
        };
        wins.entry(mac).or_default().push(Win {
            lo: fr.window_start_ns,
            hi: fr.window_end_ns,
            k: targets.len(),
        });
        targets.push(e);
    }
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); targets.len()];
    // Annotated slices: a pcapng per event, written in memory like the pcap ones.
    let mut ng: Vec<super::pcapng::PcapngOut<Vec<u8>>> = Vec::new();
    let mut comments: Vec<String> = Vec::new();
    if annotated {
        for e in &targets {
            let c = super::pcapng::event_comment(s, e);
            ng.push(super::pcapng::PcapngOut::new(
                Vec::new(),
                dir.to_path_buf(),
                &c,
            )?);
            comments.push(c);
        }
    }
    let mut failure: Option<Error> = None;
    let mut linktype = pcap_parser::Linktype(1);
    let (lo_all, hi_all) = wins
        .values()
        .flatten()
        .fold((i64::MAX, i64::MIN), |a, w| (a.0.min(w.lo), a.1.max(w.hi)));
    for (fi, file) in s.traffic.files.iter().enumerate() {
        let (Some(f0), Some(f1)) = (file.first_ns, file.last_ns) else {
            continue;
        };
        if f1 < lo_all || f0 > hi_all {
            continue;
        }
        let path = &s.capture_files[fi.min(s.capture_files.len() - 1)];
        let path = if file.path.is_file() {
            &file.path
        } else {
            path
        };
        crate::capture::for_each_record(path, |lt, ts, orig, data| {
            linktype = lt;
            let mut iss = Vec::new();
            let d = crate::capture::decode_link(lt, data, path, &mut iss);
            for mac in [d.src_mac, d.dst_mac].map(crate::capture::word_mac) {
                if mac == crate::capture::MAC_NONE {
                    continue;
                }
                if let Some(ws) = wins.get(&mac) {
                    for w in ws {
                        if ts >= w.lo && ts <= w.hi {
                            if annotated {
                                let device = s.event_device_name(targets[w.k]);
                                let c = [comments[w.k].as_str()];
                                if let Err(e) = super::pcapng::write_packet(
                                    &mut ng[w.k],
                                    device,
                                    lt,
                                    ts,
                                    orig,
                                    data,
                                    &c,
                                ) {
                                    failure = Some(e);
                                }
                            } else {
                                crate::capture::write::append_record(
                                    &mut bufs[w.k],
                                    ts,
                                    orig,
                                    data,
                                );
                            }
                        }
                    }
                }
                if d.src_mac == d.dst_mac {
                    break;
                }
            }
        })
        .map_err(|e| Error::invalid(path, e))?;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let head = crate::capture::write::pcap_header(linktype, 262_144);
    let mut names = Vec::with_capacity(targets.len());
    for (k, e) in targets.iter().enumerate() {
        let device = s.event_device_name(e);
        let mut name = slice_file_name(device, &e.class, e.id);
        let out = if annotated {
            name.push_str("ng");
            std::mem::take(&mut ng[k].out)
        } else {
            let mut out = head.clone();
            out.extend_from_slice(&bufs[k]);
            out
        };
        let p = dir.join(&name);
        std::fs::write(&p, out).map_err(|e| Error::io(&p, e))?;
        names.push(SliceFile {
            file: format!("slices/{name}"),
            event_id: e.id,
            device: device.to_string(),
            class: e.class.clone(),
        });
    }
    Ok(names)
}

/// One pcap slice as the manifest lists it: the file and the full names it stands for.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct SliceFile {
    pub(crate) file: String,
    pub(crate) event_id: u64,
    pub(crate) device: String,
    pub(crate) class: String,
}

/// Bytes of a device or class name kept in a slice's file name: with the event id and the
/// extension, the name stays well under the 255 bytes file systems allow.
pub(crate) const NAME_PART: usize = 80;

/// `device_class_id.pcap` with characters other than letters, digits and `-` made `_`, each
/// name cut to [`NAME_PART`] bytes (the manifest keeps the full names).
pub(crate) fn slice_file_name(device: &str, class: &str, id: u64) -> String {
    format!("{}_{}_{id}.pcap", safe_name(device), safe_name(class))
}

/// A name for a file: characters other than letters, digits and `-` made `_`, cut to
/// [`NAME_PART`] bytes.
pub(crate) fn safe_name(x: &str) -> String {
    let mut out = String::new();
    for c in x.chars() {
        let c = if c.is_alphanumeric() || c == '-' {
            c
        } else {
            '_'
        };
        if out.len() + c.len_utf8() > NAME_PART {
            break;
        }
        out.push(c);
    }
    out
}
