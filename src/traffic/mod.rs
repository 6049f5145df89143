//! Stage 2, traffic: the columnar packet store, device attribution and the flow table.
//!
//! Owns: merging capture files into one store, flows, devices and their registry
//! ([`devices`]), the derived cache beside a project ([`cache`]) and the timeline's bin pyramid
//! ([`timeline`]). May use: [`crate::capture`], [`crate::error`], [`crate::progress`].

pub mod cache;
pub mod dataset;
pub mod devices;
pub mod devices_py;
mod flow_stream;
mod flows;
mod ingest;
mod merge;
mod pieces;
pub mod timeline;

pub use flow_stream::*;
pub use flows::*;
pub use ingest::*;
pub use merge::*;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::capture::{self, CaptureIssue, ConvKey, FileParse, MAC_NONE};
use crate::progress::Progress;
use crate::traffic::devices::{is_group_mac, Registry};
/// Device index meaning "no device".
pub const NO_DEVICE: u16 = u16::MAX;

/// Struct-of-arrays packet store: 24 bytes a packet. Endpoints live in the flow table; the
/// device of each packet is in [`Traffic::by_device`] (its index lists are built during the
/// merge, so no per-packet device column is written and read back).
#[derive(Default, Debug, Clone, PartialEq)]
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
}

impl Packets {
    pub fn len(&self) -> usize {
        self.ts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }
    /// Makes room for `n` more packets in every column (`exact`: no more, for the one
    /// reservation of the whole store; otherwise as `Vec::reserve` grows).
    fn reserve_more(&mut self, n: usize, exact: bool) {
        fn grow<T>(v: &mut Vec<T>, n: usize, exact: bool) {
            if exact {
                v.reserve_exact(n)
            } else {
                v.reserve(n)
            }
        }
        grow(&mut self.ts, n, exact);
        grow(&mut self.orig_len, n, exact);
        grow(&mut self.ip_len, n, exact);
        grow(&mut self.tcp_len, n, exact);
        grow(&mut self.ttl, n, exact);
        grow(&mut self.tcp_flags, n, exact);
        grow(&mut self.bits, n, exact);
        grow(&mut self.flow, n, exact);
    }
    /// Sets the length of every column.
    ///
    /// # Safety
    /// The first `n` elements of every column must be initialised.
    unsafe fn set_len(&mut self, n: usize) {
        self.ts.set_len(n);
        self.orig_len.set_len(n);
        self.ip_len.set_len(n);
        self.tcp_len.set_len(n);
        self.ttl.set_len(n);
        self.tcp_flags.set_len(n);
        self.bits.set_len(n);
        self.flow.set_len(n);
    }
    /// Bytes held per packet by the columns.
    pub const BYTES_PER_PACKET: usize = 8 + 4 + 2 + 2 + 1 + 1 + 2 + 4;
    /// Appends the columns a parsed row carries itself (the flow column and the device index
    /// come from flow assembly), one tight loop per column.
    #[inline]
    fn append_rows(&mut self, rows: &[capture::PacketRow]) {
        self.ts.extend(rows.iter().map(|r| r.ts));
        self.orig_len.extend(rows.iter().map(|r| r.orig_len));
        self.ip_len.extend(rows.iter().map(|r| r.ip_len));
        self.tcp_len.extend(rows.iter().map(|r| r.tcp_len));
        self.ttl.extend(rows.iter().map(|r| r.ttl));
        self.tcp_flags.extend(rows.iter().map(|r| r.tcp_flags));
        self.bits.extend(rows.iter().map(|r| r.bits));
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Per device: indices of its packets (as primary device or as the second registered
    /// device of a device-to-device packet), in time order.
    pub by_device: Vec<Vec<u32>>,
    pub files: Vec<FileSummary>,
    pub issues: Vec<CaptureIssue>,
    /// Packets seen per MAC that is not in the registry (source or destination).
    pub unregistered_macs: Vec<([u8; 6], u64)>,
    /// The timeouts the flows were assembled with.
    pub flow_timeouts: FlowTimeouts,
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
    s.par_iter_mut()
        .zip(t.by_device.par_iter())
        .for_each(|(st, idx)| {
            st.packets = idx.len() as u64;
            st.bytes = idx
                .iter()
                .map(|&i| t.packets.orig_len[i as usize] as u64)
                .sum();
            st.first_ns = idx.first().map(|&i| t.packets.ts[i as usize]);
            st.last_ns = idx.last().map(|&i| t.packets.ts[i as usize]);
        });
    for f in &t.flows {
        if (f.device as usize) < ndev {
            s[f.device as usize].flows += 1;
        }
    }
    s
}

#[cfg(test)]
mod tests;
