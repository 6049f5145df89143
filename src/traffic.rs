//! The columnar packet store, device attribution and the flow table.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::capture::{self, bits, tcpf, CaptureIssue, ConvKey, FileParse, MAC_NONE};
use crate::devices::{is_group_mac, Registry};
use crate::progress::Progress;

/// Device index meaning "no device".
pub const NO_DEVICE: u16 = u16::MAX;

/// Flow timeouts (nfstream's defaults).
pub const IDLE_TIMEOUT_NS: i64 = 120_000_000_000;
pub const ACTIVE_TIMEOUT_NS: i64 = 1_800_000_000_000;

/// Struct-of-arrays packet store: 30 bytes a packet. Endpoints live in the flow table.
#[derive(Default, Debug, Clone)]
pub struct Packets {
    pub ts: Vec<i64>,
    pub orig_len: Vec<u32>,
    /// IPv4 total length, or IPv6 payload length + 40; 0 without IP.
    pub ip_len: Vec<u16>,
    /// TCP payload length from the IP and TCP headers; 0 for non-TCP.
    pub tcp_len: Vec<u16>,
    pub ttl: Vec<u8>,
    pub tcp_flags: Vec<u8>,
    /// [`capture::bits`].
    pub bits: Vec<u16>,
    pub flow: Vec<u32>,
    pub device: Vec<u16>,
    /// Second registered device of a device-to-device packet, else [`NO_DEVICE`].
    pub peer: Vec<u16>,
}

impl Packets {
    pub fn len(&self) -> usize {
        self.ts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
    /// Bytes held per packet by the columns.
    pub const BYTES_PER_PACKET: usize = 8 + 4 + 2 + 2 + 1 + 1 + 2 + 4 + 2 + 2;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowEnd {
    /// Still open when the capture ended.
    Eof,
    Idle,
    Active,
    Fin,
    Rst,
}

#[derive(Clone, Debug)]
pub struct Flow {
    /// Flow identity (MACs are of the first packet's conversation).
    pub key: ConvKey,
    pub first_ns: i64,
    pub last_ns: i64,
    pub pkts_ab: u64,
    pub pkts_ba: u64,
    pub bytes_ab: u64,
    pub bytes_ba: u64,
    pub device: u16,
    pub end: FlowEnd,
    /// The first packet went from endpoint B to A (for ICMP, whose key's port fields hold
    /// that packet's type and code, this says who sent it).
    pub first_ba: bool,
}

impl Flow {
    pub fn packets(&self) -> u64 {
        self.pkts_ab + self.pkts_ba
    }
    pub fn bytes(&self) -> u64 {
        self.bytes_ab + self.bytes_ba
    }
    pub fn protocol_name(&self) -> String {
        if self.key.is_l2 {
            match self.key.ethertype {
                0 => "llc".into(),
                0x0806 => "arp".into(),
                0x888e => "eapol".into(),
                e => format!("l2-0x{e:04x}"),
            }
        } else {
            match self.key.proto {
                6 => "tcp".into(),
                17 => "udp".into(),
                1 => "icmp".into(),
                58 => "icmpv6".into(),
                2 => "igmp".into(),
                p => format!("ip-{p}"),
            }
        }
    }
    pub fn ip_a(&self) -> Option<IpAddr> {
        ip_from16(&self.key.ip_a, self.key.v6, self.key.is_l2)
    }
    pub fn ip_b(&self) -> Option<IpAddr> {
        ip_from16(&self.key.ip_b, self.key.v6, self.key.is_l2)
    }
}

pub fn ip_from16(a: &[u8; 16], v6: bool, l2: bool) -> Option<IpAddr> {
    if l2 {
        return None;
    }
    let v = std::net::Ipv6Addr::from(*a);
    if !v6 {
        if let Some(v4) = v.to_ipv4_mapped() {
            return Some(IpAddr::V4(v4));
        }
    }
    Some(IpAddr::V6(v))
}

/// Per-file summary kept after the merge.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileSummary {
    pub path: PathBuf,
    pub format: String,
    pub packets: u64,
    pub bytes_read: u64,
    pub link_types: Vec<i32>,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
}

/// Everything derived from the captures.
#[derive(Default, Debug, Clone)]
pub struct Traffic {
    pub packets: Packets,
    pub flows: Vec<Flow>,
    /// Per device: indices of its packets (as primary or peer), in time order.
    pub by_device: Vec<Vec<u32>>,
    pub files: Vec<FileSummary>,
    pub issues: Vec<CaptureIssue>,
    /// Packets seen per MAC that is not in the registry (source or destination).
    pub unregistered_macs: Vec<([u8; 6], u64)>,
}

impl Traffic {
    pub fn first_ns(&self) -> Option<i64> {
        self.packets.ts.first().copied()
    }
    pub fn last_ns(&self) -> Option<i64> {
        self.packets.ts.last().copied()
    }
    pub fn total_bytes(&self) -> u64 {
        self.packets.orig_len.iter().map(|&x| x as u64).sum()
    }
    /// Indices (into `by_device[dev]`) of the device's packets with `lo <= ts <= hi`.
    pub fn device_range(&self, dev: u16, lo: i64, hi: i64) -> std::ops::Range<usize> {
        let Some(idx) = self.by_device.get(dev as usize) else {
            return 0..0;
        };
        let ts = &self.packets.ts;
        let a = idx.partition_point(|&i| ts[i as usize] < lo);
        let b = idx.partition_point(|&i| ts[i as usize] <= hi);
        a..b.max(a)
    }
}

/// Reads all files in parallel, merges them in time order, attributes packets to devices
/// (adding unregistered MACs to `registry`) and builds flows.
pub fn ingest(files: &[PathBuf], registry: &mut Registry, progress: Option<&Progress>) -> Traffic {
    let total_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    if let Some(p) = progress {
        p.set_stage("reading captures", total_bytes);
    }
    // Files are parsed in parallel batches and merged as each batch completes, so only two
    // batches of per-file columns are alive beside the global store.
    let batch = (rayon::current_num_threads() * 2).max(2);
    let mut acc = Accumulator::default();
    let mut bytes_done = 0u64;
    let parse = |chunk: &[PathBuf]| -> Vec<FileParse> {
        let mut parsed: Vec<FileParse> = chunk
            .par_iter()
            .map(|f| capture::read_capture(f, progress))
            .collect();
        // Hourly-rotated files: order by first timestamp, then path.
        parsed.sort_by(|a, b| (a.cols.ts.first(), &a.path).cmp(&(b.cols.ts.first(), &b.path)));
        parsed
    };
    let mut merge = |acc: &mut Accumulator, parsed: Vec<FileParse>, bytes_done: &mut u64| {
        *bytes_done += parsed.iter().map(|p| p.bytes_read).sum::<u64>();
        if acc.is_empty() && *bytes_done > 0 {
            // Reserve the whole store once, from the packets-per-byte seen so far.
            let n: usize = parsed.iter().map(|p| p.cols.len()).sum();
            let est = (n as f64 * total_bytes as f64 / *bytes_done as f64 * 1.02) as usize;
            acc.reserve(est);
        }
        for fp in parsed {
            acc.add(fp, registry);
        }
    };
    // Parse batch k+1 while batch k is merged and its flows assembled.
    let mut pending: Option<Vec<FileParse>> = None;
    for chunk in files.chunks(batch) {
        let (parsed, _) = rayon::join(
            || parse(chunk),
            || {
                if let Some(p) = pending.take() {
                    merge(&mut acc, p, &mut bytes_done);
                }
            },
        );
        pending = Some(parsed);
        if progress.is_some_and(|p| p.cancelled()) {
            break;
        }
    }
    if let Some(p) = pending.take() {
        merge(&mut acc, p, &mut bytes_done);
    }
    if let Some(p) = progress {
        p.set_stage("building flows", 1);
    }
    acc.finish(registry)
}

struct ConvInfo {
    identity: u32,
    device: u16,
    peer: u16,
}

/// Attributes a conversation to devices: registered MACs first, then registered IPs (for
/// captures without link headers), then unregistered unicast MACs.
fn attribute(key: &ConvKey, reg: &mut Registry) -> (u16, u16) {
    let macs = [key.mac_a, key.mac_b];
    let mut regd: Vec<u16> = macs
        .iter()
        .filter(|m| **m != MAC_NONE)
        .filter_map(|m| {
            reg.by_mac(m)
                .filter(|&i| reg.devices[i as usize].registered)
        })
        .collect();
    if regd.is_empty() && !key.is_l2 {
        for ip in [
            ip_from16(&key.ip_a, key.v6, false),
            ip_from16(&key.ip_b, key.v6, false),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(i) = reg.by_ip(&ip) {
                regd.push(i);
            }
        }
    }
    regd.dedup();
    match regd.len() {
        0 => {
            let mut un: Vec<u16> = Vec::new();
            for m in macs {
                if m != MAC_NONE && !is_group_mac(&m) {
                    un.push(reg.add_unregistered(m));
                }
            }
            (
                un.first().copied().unwrap_or(NO_DEVICE),
                un.get(1).copied().unwrap_or(NO_DEVICE),
            )
        }
        1 => (regd[0], NO_DEVICE),
        _ => (regd[0].min(regd[1]), regd[0].max(regd[1])),
    }
}

/// Merges parsed files (already in file order) into one time-ordered store with flows.
/// Merges parsed files (in file order) into one time-ordered store with flows.
pub fn build(parsed: Vec<FileParse>, registry: &mut Registry) -> Traffic {
    let mut acc = Accumulator::default();
    acc.reserve(parsed.iter().map(|p| p.cols.len()).sum());
    for fp in parsed {
        acc.add(fp, registry);
    }
    acc.finish(registry)
}

/// Per-flow state touched for every packet, kept apart from the flow's cold fields so each
/// packet touches one cache line.
#[derive(Clone, Copy)]
struct Hot {
    first: i64,
    last: i64,
    pkts_ab: u64,
    pkts_ba: u64,
    bytes_ab: u64,
    bytes_ba: u64,
}

/// Appends files to the global columns one at a time (a file's own columns are freed as soon as
/// they are merged) and assembles flows incrementally while the input stays in time order, so
/// flow assembly overlaps with parsing the next files.
#[derive(Default)]
pub struct Accumulator {
    t: Traffic,
    conv_map: HashMap<ConvKey, u32, rustc_hash::FxBuildHasher>,
    ident_map: HashMap<ConvKey, u32, rustc_hash::FxBuildHasher>,
    convs: Vec<ConvInfo>,
    conv_keys: Vec<ConvKey>,
    ident_keys: Vec<ConvKey>,
    pk: Packets,
    conv_of: Vec<u32>,
    /// Packets already run through the flow state machine.
    flowed: usize,
    /// True once a file arrived out of time order (flows are then built at the end).
    unordered: bool,
    active: Vec<u32>,
    hot: Vec<Hot>,
    cold: Vec<(u32, FlowEnd, bool)>,
}

impl Accumulator {
    pub fn len(&self) -> usize {
        self.pk.ts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.pk.ts.is_empty()
    }
    /// Reserves room for `total` packets in all columns.
    pub fn reserve(&mut self, total: usize) {
        let more = total.saturating_sub(self.pk.ts.len());
        let pk = &mut self.pk;
        pk.ts.reserve_exact(more);
        pk.orig_len.reserve_exact(more);
        pk.ip_len.reserve_exact(more);
        pk.tcp_len.reserve_exact(more);
        pk.ttl.reserve_exact(more);
        pk.tcp_flags.reserve_exact(more);
        pk.bits.reserve_exact(more);
        pk.flow.reserve_exact(more);
        pk.device.reserve_exact(more);
        pk.peer.reserve_exact(more);
        self.conv_of.reserve_exact(more);
    }

    /// Merges one parsed file, then advances flow assembly over it.
    pub fn add(&mut self, fp: FileParse, registry: &mut Registry) {
        let (conv_map, ident_map, convs, conv_keys, ident_keys) = (
            &mut self.conv_map,
            &mut self.ident_map,
            &mut self.convs,
            &mut self.conv_keys,
            &mut self.ident_keys,
        );
        let map: Vec<u32> = fp
            .convs
            .iter()
            .map(|k| {
                let next = convs.len() as u32;
                *conv_map.entry(*k).or_insert_with(|| {
                    let idk = k.flow_identity();
                    let nid = ident_keys.len() as u32;
                    let identity = *ident_map.entry(idk).or_insert_with(|| {
                        ident_keys.push(*k);
                        nid
                    });
                    let (device, peer) = attribute(k, registry);
                    convs.push(ConvInfo {
                        identity,
                        device,
                        peer,
                    });
                    conv_keys.push(*k);
                    next
                })
            })
            .collect();
        self.t.files.push(FileSummary {
            path: fp.path.clone(),
            format: fp.format.to_string(),
            packets: fp.cols.len() as u64,
            bytes_read: fp.bytes_read,
            link_types: fp.link_types.clone(),
            first_ns: fp.cols.ts.first().copied(),
            last_ns: fp.cols.ts.last().copied(),
        });
        self.t.issues.extend(fp.issues);
        let c = fp.cols;
        if !self.unordered {
            let after_last =
                c.ts.first()
                    .is_none_or(|&f| self.pk.ts.last().is_none_or(|&l| l <= f));
            if !(c.ts.is_sorted() && after_last) {
                self.unordered = true;
            }
        }
        let pk = &mut self.pk;
        pk.ts.extend_from_slice(&c.ts);
        pk.orig_len.extend_from_slice(&c.orig_len);
        pk.ip_len.extend_from_slice(&c.ip_len);
        pk.tcp_len.extend_from_slice(&c.tcp_len);
        pk.ttl.extend_from_slice(&c.ttl);
        pk.tcp_flags.extend_from_slice(&c.tcp_flags);
        pk.bits.extend_from_slice(&c.bits);
        self.conv_of.extend(c.conv.iter().map(|&l| map[l as usize]));
        if !self.unordered {
            self.advance();
        }
    }

    /// Runs the flow state machine over the packets merged since the last call.
    fn advance(&mut self) {
        let n = self.pk.ts.len();
        self.active.resize(self.ident_keys.len(), u32::MAX);
        let pk = &mut self.pk;
        for i in self.flowed..n {
            let c = self.conv_of[i] as usize;
            let info = &self.convs[c];
            let id = info.identity as usize;
            let ts = pk.ts[i];
            let len = pk.orig_len[i] as u64;
            let mut f = self.active[id];
            if f != u32::MAX {
                let h = &self.hot[f as usize];
                if ts - h.last > IDLE_TIMEOUT_NS {
                    self.cold[f as usize].1 = FlowEnd::Idle;
                    f = u32::MAX;
                } else if ts - h.first > ACTIVE_TIMEOUT_NS {
                    self.cold[f as usize].1 = FlowEnd::Active;
                    f = u32::MAX;
                }
            }
            if f == u32::MAX {
                f = self.hot.len() as u32;
                self.hot.push(Hot {
                    first: ts,
                    last: ts,
                    pkts_ab: 0,
                    pkts_ba: 0,
                    bytes_ab: 0,
                    bytes_ba: 0,
                });
                self.cold
                    .push((c as u32, FlowEnd::Eof, pk.bits[i] & bits::DIR_BA != 0));
                self.active[id] = f;
            }
            let h = &mut self.hot[f as usize];
            h.last = ts;
            let b = pk.bits[i];
            if b & bits::DIR_BA != 0 {
                h.pkts_ba += 1;
                h.bytes_ba += len;
            } else {
                h.pkts_ab += 1;
                h.bytes_ab += len;
            }
            let tf = pk.tcp_flags[i];
            if tf & (tcpf::FIN | tcpf::RST) != 0 && b & bits::TCP != 0 {
                self.cold[f as usize].1 = if tf & tcpf::RST != 0 {
                    FlowEnd::Rst
                } else {
                    FlowEnd::Fin
                };
                self.active[id] = u32::MAX;
            }
            pk.flow.push(f);
            pk.device.push(info.device);
            pk.peer.push(info.peer);
        }
        self.flowed = n;
    }

    /// Restores time order if needed, completes flows and builds the per-device index.
    pub fn finish(mut self, registry: &mut Registry) -> Traffic {
        if self.unordered {
            // Files overlap in time (several capture points): sort, then assemble afresh.
            let pk = &mut self.pk;
            let mut order: Vec<u32> = (0..pk.ts.len() as u32).collect();
            order.par_sort_by_key(|&i| pk.ts[i as usize]);
            fn permute<T: Copy + Send + Sync>(v: &mut Vec<T>, order: &[u32]) {
                *v = order.par_iter().map(|&i| v[i as usize]).collect();
            }
            permute(&mut pk.ts, &order);
            permute(&mut pk.orig_len, &order);
            permute(&mut pk.ip_len, &order);
            permute(&mut pk.tcp_len, &order);
            permute(&mut pk.ttl, &order);
            permute(&mut pk.tcp_flags, &order);
            permute(&mut pk.bits, &order);
            permute(&mut self.conv_of, &order);
            pk.flow.clear();
            pk.device.clear();
            pk.peer.clear();
            self.flowed = 0;
            self.active.clear();
            self.hot.clear();
            self.cold.clear();
        }
        self.advance();
        let Accumulator {
            mut t,
            convs,
            conv_keys,
            pk,
            conv_of,
            hot,
            cold,
            ..
        } = self;
        // Packets per conversation, for the unregistered-MAC summary.
        let conv_pkts: Vec<u64> = conv_of
            .par_chunks(1 << 20)
            .fold(
                || vec![0u64; convs.len()],
                |mut acc, chunk| {
                    for &c in chunk {
                        acc[c as usize] += 1;
                    }
                    acc
                },
            )
            .reduce(
                || vec![0u64; convs.len()],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += y;
                    }
                    a
                },
            );
        // Free the conversation column before the per-device index is built.
        drop(conv_of);
        let mut mac_counts: HashMap<[u8; 6], u64> = HashMap::new();
        for (c, k) in conv_keys.iter().enumerate() {
            for m in [k.mac_a, k.mac_b] {
                if m != MAC_NONE
                    && !is_group_mac(&m)
                    && registry
                        .by_mac(&m)
                        .is_none_or(|d| !registry.devices[d as usize].registered)
                {
                    *mac_counts.entry(m).or_default() += conv_pkts[c];
                }
            }
        }
        let mut um: Vec<([u8; 6], u64)> = mac_counts.into_iter().collect();
        um.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        t.unregistered_macs = um;
        t.flows = hot
            .iter()
            .zip(&cold)
            .map(|(h, &(c, end, first_ba))| Flow {
                key: conv_keys[c as usize],
                first_ns: h.first,
                last_ns: h.last,
                pkts_ab: h.pkts_ab,
                pkts_ba: h.pkts_ba,
                bytes_ab: h.bytes_ab,
                bytes_ba: h.bytes_ba,
                device: convs[c as usize].device,
                end,
                first_ba,
            })
            .collect();
        t.packets = pk;
        t.by_device = index_by_device(&t.packets, registry.len());
        t
    }
}

/// Per-device packet index lists by counting sort (packets are already in time order).
fn index_by_device(pk: &Packets, ndev: usize) -> Vec<Vec<u32>> {
    let mut counts = vec![0usize; ndev];
    for (&d, &p) in pk.device.iter().zip(&pk.peer) {
        if (d as usize) < ndev {
            counts[d as usize] += 1;
        }
        if (p as usize) < ndev {
            counts[p as usize] += 1;
        }
    }
    let mut out: Vec<Vec<u32>> = counts.iter().map(|&c| Vec::with_capacity(c)).collect();
    for (i, (&d, &p)) in pk.device.iter().zip(&pk.peer).enumerate() {
        if (d as usize) < ndev {
            out[d as usize].push(i as u32);
        }
        if (p as usize) < ndev {
            out[p as usize].push(i as u32);
        }
    }
    out
}

/// Per-device totals for summaries.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DeviceStats {
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
}

pub fn device_stats(t: &Traffic, ndev: usize) -> Vec<DeviceStats> {
    let mut s = vec![DeviceStats::default(); ndev];
    for (d, idx) in t.by_device.iter().enumerate() {
        let st = &mut s[d];
        st.packets = idx.len() as u64;
        st.bytes = idx
            .iter()
            .map(|&i| t.packets.orig_len[i as usize] as u64)
            .sum();
        st.first_ns = idx.first().map(|&i| t.packets.ts[i as usize]);
        st.last_ns = idx.last().map(|&i| t.packets.ts[i as usize]);
    }
    for f in &t.flows {
        if (f.device as usize) < ndev {
            s[f.device as usize].flows += 1;
        }
    }
    s
}
