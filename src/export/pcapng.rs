//! Annotated pcapng: one capture per device, its packets' bytes and times exactly as captured,
//! where every packet inside an exported event's window carries an `opt_comment` naming the
//! event (id, class, source file and line, status), so that Wireshark and
//! `tshark -Y frame.comment` show the labels. Blocks are serialized by pcap-parser.

use std::borrow::Cow;
use std::io::Write;

use pcap_parser::pcapng::{
    EnhancedPacketBlock, InterfaceDescriptionBlock, OptionCode, PcapNGOption, SectionHeaderBlock,
};
use pcap_parser::ToVec;

use super::*;

/// One event's window and the comment its packets carry.
struct Labelled {
    lo: i64,
    hi: i64,
    comment: String,
}

/// One pcapng being written (a device's file, or an event's slice in memory): the interface
/// id of each link type seen so far, and what was written.
pub(crate) struct PcapngOut<W: Write> {
    pub(crate) out: W,
    pub(crate) path: PathBuf,
    interfaces: Vec<pcap_parser::Linktype>,
    pub(crate) packets: u64,
    commented: u64,
}

type DeviceFile = PcapngOut<std::io::BufWriter<std::fs::File>>;

impl<W: Write> PcapngOut<W> {
    /// Starts a pcapng section (labelbench as the writing application, `comment` on it).
    pub(crate) fn new(mut out: W, path: PathBuf, comment: &str) -> Result<PcapngOut<W>> {
        let mut shb = SectionHeaderBlock {
            block_type: 0,
            block_len1: 0,
            bom: 0,
            major_version: 1,
            minor_version: 0,
            section_len: -1,
            options: vec![
                option(
                    OptionCode::ShbUserAppl,
                    format!("labelbench {}", env!("CARGO_PKG_VERSION")).into_bytes(),
                ),
                option(OptionCode::Comment, comment.as_bytes().to_vec()),
            ],
            block_len2: 0,
        };
        let bytes = shb
            .to_vec()
            .map_err(|e| Error::Other(format!("pcapng: {e:?}")))?;
        out.write_all(&bytes).map_err(|e| Error::io(&path, e))?;
        Ok(PcapngOut {
            out,
            path,
            interfaces: Vec::new(),
            packets: 0,
            commented: 0,
        })
    }
}

/// An annotated pcapng as the manifest lists it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct PcapngFile {
    pub(crate) file: String,
    pub(crate) device: String,
    pub(crate) packets: u64,
    pub(crate) labelled_packets: u64,
}

fn option(code: OptionCode, value: Vec<u8>) -> PcapNGOption<'static> {
    PcapNGOption {
        code,
        len: value.len() as u16,
        value: Cow::Owned(value),
    }
}

/// The comment an event's packets carry.
pub(crate) fn event_comment(s: &Session, e: &crate::labels::Event) -> String {
    let source = match s.sources.get(e.source as usize) {
        Some(src) => {
            let name = src.path.file_name().unwrap_or_default().to_string_lossy();
            format!("{name}:{}", e.line)
        }
        None => "inserted".into(),
    };
    format!(
        "labelbench event {} class={} device={} source={source} status={}",
        e.id,
        e.class,
        s.event_device_name(e),
        e.status.as_str()
    )
}

/// Per traffic device (by MAC): its events' windows sorted by start, and the longest window.
fn windows(
    s: &Session,
    evs: &[&crate::labels::Event],
    fmap: &HashMap<u64, &FeatureRow>,
) -> HashMap<[u8; 6], (Vec<Labelled>, i64)> {
    let mut out: HashMap<[u8; 6], (Vec<Labelled>, i64)> = HashMap::new();
    for e in evs.iter().filter(|e| e.status == Status::Active) {
        let Some(fr) = fmap.get(&e.id) else { continue };
        let td = s.traffic_device(e.device);
        let Some(mac) = s.registry.devices.get(td as usize).and_then(|d| d.mac) else {
            continue;
        };
        let entry = out.entry(mac).or_default();
        entry.0.push(Labelled {
            lo: fr.window_start_ns,
            hi: fr.window_end_ns,
            comment: event_comment(s, e),
        });
        entry.1 = entry.1.max(fr.window_end_ns - fr.window_start_ns);
    }
    for (v, _) in out.values_mut() {
        v.sort_by(|a, b| (a.lo, &a.comment).cmp(&(b.lo, &b.comment)));
    }
    out
}

/// Writes `pcapng/<device>.pcapng` for every registered device with traffic: its packets in
/// `range` (`[start, end)`, UTC ns; `None`: all).
pub(crate) fn annotated_pcapng(
    s: &Session,
    evs: &[&crate::labels::Event],
    fmap: &HashMap<u64, &FeatureRow>,
    dir: &Path,
    range: Option<(i64, i64)>,
) -> Result<Vec<PcapngFile>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let wins = windows(s, evs, fmap);
    let mut files: HashMap<[u8; 6], DeviceFile> = HashMap::new();
    let mut names: BTreeMap<[u8; 6], String> = BTreeMap::new();
    for (i, d) in s.registry.devices.iter().enumerate() {
        let has_traffic = s.traffic.by_device.get(i).is_some_and(|v| !v.is_empty());
        if let (Some(mac), true) = (d.mac, has_traffic && d.registered) {
            names.insert(mac, d.name.clone());
        }
    }
    for (mac, name) in &names {
        let path = dir.join(format!("{}.pcapng", super::slices::safe_name(name)));
        let f = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        let comment = format!(
            "{name}: packets to or from {}; labels as packet comments",
            crate::traffic::devices::fmt_mac(mac)
        );
        let df = PcapngOut::new(std::io::BufWriter::new(f), path, &comment)?;
        files.insert(*mac, df);
    }
    let mut failure: Option<Error> = None;
    for (fi, file) in s.traffic.files.iter().enumerate() {
        let path = match file.path.is_file() {
            true => file.path.clone(),
            false => s.capture_files[fi.min(s.capture_files.len().saturating_sub(1))].clone(),
        };
        crate::capture::for_each_record(&path, |lt, ts, orig, data| {
            if failure.is_some() || range.is_some_and(|(a, b)| !(a..b).contains(&ts)) {
                return;
            }
            let mut iss = Vec::new();
            let d = crate::capture::decode_link(lt, data, &path, &mut iss);
            let macs = [d.src_mac, d.dst_mac].map(crate::capture::word_mac);
            for (k, mac) in macs.iter().enumerate() {
                if k == 1 && macs[0] == macs[1] {
                    break;
                }
                let Some(df) = files.get_mut(mac) else {
                    continue;
                };
                let comments = match wins.get(mac) {
                    Some((v, longest)) => {
                        let a = v.partition_point(|w| w.lo < ts.saturating_sub(*longest));
                        let b = v.partition_point(|w| w.lo <= ts);
                        v[a..b]
                            .iter()
                            .filter(|w| w.hi >= ts)
                            .map(|w| w.comment.as_str())
                            .collect()
                    }
                    None => Vec::new(),
                };
                if let Err(e) =
                    write_packet(df, name_of(&names, mac), lt, ts, orig, data, &comments)
                {
                    failure = Some(e);
                }
            }
        })
        .map_err(|e| Error::invalid(&path, e))?;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let mut out = Vec::new();
    for (mac, name) in &names {
        let mut df = files.remove(mac).expect("a file per device");
        df.out.flush().map_err(|e| Error::io(&df.path, e))?;
        let file = df.path.file_name().unwrap_or_default().to_string_lossy();
        out.push(PcapngFile {
            file: format!("pcapng/{file}"),
            device: name.clone(),
            packets: df.packets,
            labelled_packets: df.commented,
        });
    }
    Ok(out)
}

fn name_of<'a>(names: &'a BTreeMap<[u8; 6], String>, mac: &[u8; 6]) -> &'a str {
    names.get(mac).map_or("", String::as_str)
}

/// Appends one packet (and, for a link type new to this file, its interface block).
pub(crate) fn write_packet<W: Write>(
    df: &mut PcapngOut<W>,
    device: &str,
    lt: pcap_parser::Linktype,
    ts: i64,
    orig: u32,
    data: &[u8],
    comments: &[&str],
) -> Result<()> {
    let err = |e: &dyn std::fmt::Debug| Error::Other(format!("pcapng: {e:?}"));
    let if_id = match df.interfaces.iter().position(|l| *l == lt) {
        Some(i) => i,
        None => {
            let mut idb = InterfaceDescriptionBlock {
                block_type: 0,
                block_len1: 0,
                linktype: lt,
                reserved: 0,
                snaplen: 262_144,
                options: vec![
                    option(OptionCode::IfName, device.as_bytes().to_vec()),
                    option(
                        OptionCode::IfDescription,
                        format!("{device}, timestamps in nanoseconds since the epoch, UTC")
                            .into_bytes(),
                    ),
                    option(OptionCode::IfTsresol, vec![9]),
                ],
                block_len2: 0,
                if_tsresol: 9,
                if_tsoffset: 0,
            };
            let bytes = idb.to_vec().map_err(|e| err(&e))?;
            df.out
                .write_all(&bytes)
                .map_err(|e| Error::io(&df.path, e))?;
            df.interfaces.push(lt);
            df.interfaces.len() - 1
        }
    };
    let t = ts as u64;
    let mut epb = EnhancedPacketBlock {
        block_type: 0,
        block_len1: 0,
        if_id: if_id as u32,
        ts_high: (t >> 32) as u32,
        ts_low: t as u32,
        caplen: data.len() as u32,
        origlen: orig,
        data,
        options: comments
            .iter()
            .map(|c| option(OptionCode::Comment, c.as_bytes().to_vec()))
            .collect(),
        block_len2: 0,
    };
    let bytes = epb.to_vec().map_err(|e| err(&e))?;
    df.out
        .write_all(&bytes)
        .map_err(|e| Error::io(&df.path, e))?;
    df.packets += 1;
    df.commented += u64::from(!comments.is_empty());
    Ok(())
}
