//! Flows: the state machine that groups packets into flows (DESIGN "Flow", `docs/flows.md`),
//! its timeouts and presets, the flow table's rows and the per-device index over them.
//!
//! A flow is the packets of one flow identity (the 5-tuple for IP; the MAC pair and ethertype
//! for layer 2) from its first packet until it ends: a TCP connection when both FINs or an RST
//! have been seen and the linger has passed (or a new SYN arrives), any flow when it was idle
//! longer than its protocol's idle timeout or open longer than the active timeout.

use serde::{Deserialize, Serialize};

use std::net::IpAddr;

use super::{ip_from16, Traffic};
use crate::capture::{bits, tcpf, ConvKey};

const SECOND: i64 = 1_000_000_000;

/// `900 s`, `0.5 s`: a timeout for people.
fn seconds(ns: i64) -> String {
    if ns % SECOND == 0 {
        format!("{} s", ns / SECOND)
    } else {
        format!("{} s", ns as f64 / 1e9)
    }
}

/// A named set of flow timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FlowPreset {
    /// labelbench's default for smart-home traffic: persistent cloud connections with
    /// keepalives minutes apart stay one flow (`docs/flows.md` gives the evidence).
    #[default]
    SmartHome,
    /// nfstream's defaults: idle 120 s, active 1800 s.
    Nfstream,
    /// Zeek's defaults: TCP inactivity 5 min, UDP and ICMP 1 min, no active timeout.
    Zeek,
    /// Timeouts set one by one.
    Custom,
}

impl FlowPreset {
    pub const NAMED: [FlowPreset; 3] = [
        FlowPreset::SmartHome,
        FlowPreset::Nfstream,
        FlowPreset::Zeek,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FlowPreset::SmartHome => "smart-home",
            FlowPreset::Nfstream => "nfstream",
            FlowPreset::Zeek => "zeek",
            FlowPreset::Custom => "custom",
        }
    }

    pub fn parse(s: &str) -> Option<FlowPreset> {
        [
            FlowPreset::SmartHome,
            FlowPreset::Nfstream,
            FlowPreset::Zeek,
            FlowPreset::Custom,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// When a flow ends, per protocol (a project setting, recorded in every export's manifest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowTimeouts {
    /// The preset these values came from (`custom` once one is changed).
    pub preset: FlowPreset,
    /// A TCP flow ends after this long without a packet.
    pub tcp_idle_ns: i64,
    /// A UDP flow ends after this long without a packet.
    pub udp_idle_ns: i64,
    /// Any other flow (ICMP, other IP protocols, layer 2) ends after this long without a
    /// packet.
    pub other_idle_ns: i64,
    /// Any flow ends once it has lasted this long (none: flows last as long as they are
    /// active).
    pub active_ns: Option<i64>,
    /// How long a closed TCP connection (both FINs, or an RST) keeps taking packets:
    /// retransmissions and the last ACK.
    pub linger_ns: i64,
}

impl Default for FlowTimeouts {
    fn default() -> Self {
        FlowTimeouts::preset(FlowPreset::SmartHome)
    }
}

impl FlowTimeouts {
    /// The timeouts of a named preset (`Custom` gives the default's values).
    pub fn preset(p: FlowPreset) -> FlowTimeouts {
        let (tcp, udp, other, active) = match p {
            FlowPreset::SmartHome | FlowPreset::Custom => (900, 120, 120, None),
            FlowPreset::Nfstream => (120, 120, 120, Some(1800 * SECOND)),
            FlowPreset::Zeek => (300, 60, 60, None),
        };
        FlowTimeouts {
            preset: if p == FlowPreset::Custom {
                FlowPreset::SmartHome
            } else {
                p
            },
            tcp_idle_ns: tcp * SECOND,
            udp_idle_ns: udp * SECOND,
            other_idle_ns: other * SECOND,
            active_ns: active,
            linger_ns: 5 * SECOND,
        }
    }

    /// Why these timeouts cannot be used, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        let idle = [
            ("TCP idle", self.tcp_idle_ns),
            ("UDP idle", self.udp_idle_ns),
            ("other idle", self.other_idle_ns),
        ];
        for (what, v) in idle
            .iter()
            .chain([("active", self.active_ns.unwrap_or(1))].iter())
        {
            if *v <= 0 {
                return Err(format!("the {what} timeout must be positive"));
            }
        }
        if self.linger_ns < 0 || self.linger_ns >= self.tcp_idle_ns {
            return Err(
                "the TCP linger must be at least 0 and shorter than the TCP idle timeout".into(),
            );
        }
        Ok(())
    }

    /// One line for summaries: `smart-home (TCP idle 900 s, UDP 120 s, other 120 s, no
    /// active timeout, linger 5 s)`.
    pub fn describe(&self) -> String {
        let s = seconds;
        format!(
            "{} (TCP idle {}, UDP idle {}, other idle {}, {}, TCP linger {})",
            self.preset.as_str(),
            s(self.tcp_idle_ns),
            s(self.udp_idle_ns),
            s(self.other_idle_ns),
            match self.active_ns {
                Some(a) => format!("active {}", s(a)),
                None => "no active timeout".into(),
            },
            s(self.linger_ns)
        )
    }

    /// The idle timeout of a flow with this key.
    pub fn idle_for_key(&self, k: &ConvKey) -> i64 {
        match (k.is_l2, k.proto) {
            (false, 6) => self.tcp_idle_ns,
            (false, 17) => self.udp_idle_ns,
            _ => self.other_idle_ns,
        }
    }

    #[inline(always)]
    fn idle_for(&self, b: u16) -> i64 {
        if b & bits::TCP != 0 {
            self.tcp_idle_ns
        } else if b & bits::UDP != 0 {
            self.udp_idle_ns
        } else {
            self.other_idle_ns
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowEnd {
    /// Still open when the captures ended.
    Eof,
    /// No packet for longer than the protocol's idle timeout.
    Idle,
    /// Open for longer than the active timeout.
    Active,
    /// A TCP connection closed by both sides' FINs.
    Fin,
    /// A TCP connection reset.
    Rst,
}

impl FlowEnd {
    /// The name the exports and the docs use.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowEnd::Eof => "eof",
            FlowEnd::Idle => "idle",
            FlowEnd::Active => "active",
            FlowEnd::Fin => "fin",
            FlowEnd::Rst => "rst",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
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
    /// The flow's endpoints for display: addresses and ports for TCP, UDP and SCTP; for
    /// ICMP the first packet's type and code, which the key carries where ports would be
    /// (so they must not be shown as ports); MACs for layer-2 flows.
    pub fn endpoints(&self) -> String {
        let k = &self.key;
        match (self.ip_a(), self.ip_b()) {
            (Some(a), Some(b)) if matches!(k.proto, 1 | 58) => {
                let (from, to, ty, code) = if self.first_ba {
                    (b, a, k.port_b, k.port_a)
                } else {
                    (a, b, k.port_a, k.port_b)
                };
                format!("{from} <-> {to} (first: ICMP type {ty} code {code} from {from})")
            }
            (Some(a), Some(b)) if matches!(k.proto, 6 | 17 | 132) => format!(
                "{} <-> {}",
                std::net::SocketAddr::new(a, k.port_a),
                std::net::SocketAddr::new(b, k.port_b)
            ),
            (Some(a), Some(b)) => format!("{a} <-> {b}"),
            _ => format!(
                "{} <-> {}",
                crate::traffic::devices::fmt_mac(&k.mac_a),
                crate::traffic::devices::fmt_mac(&k.mac_b)
            ),
        }
    }
}

/// Per-flow state touched for every packet, kept apart from the flow's cold fields so each
/// packet touches one cache line.
#[derive(Clone, Copy)]
pub(crate) struct Hot {
    pub(crate) first: i64,
    pub(crate) last: i64,
    pub(crate) pkts_ab: u64,
    pub(crate) pkts_ba: u64,
    pub(crate) bytes_ab: u64,
    pub(crate) bytes_ba: u64,
    /// When the TCP connection closed (both FINs or an RST); [`OPEN`] until then.
    pub(crate) closed_at: i64,
    /// FINs seen: 1 from endpoint A, 2 from endpoint B.
    pub(crate) fins: u8,
}

impl Hot {
    /// The flow these counters describe: of conversation `key`, filed under `device`.
    pub(crate) fn flow(&self, key: ConvKey, device: u16, end: FlowEnd, first_ba: bool) -> Flow {
        Flow {
            key,
            first_ns: self.first,
            last_ns: self.last,
            pkts_ab: self.pkts_ab,
            pkts_ba: self.pkts_ba,
            bytes_ab: self.bytes_ab,
            bytes_ba: self.bytes_ba,
            device,
            end,
            first_ba,
        }
    }
}

impl FlowTimeouts {
    /// How a flow still open when the input ends (at `last_ts`) ended: idle when its idle
    /// timeout passed after its last packet (`last_seen`), which only a later packet of its
    /// identity would have noticed; otherwise as it stands.
    pub(crate) fn end_at_input_end(
        &self,
        end: FlowEnd,
        key: &ConvKey,
        last_seen: i64,
        last_ts: i64,
    ) -> FlowEnd {
        match end {
            FlowEnd::Eof if last_ts - last_seen > self.idle_for_key(key) => FlowEnd::Idle,
            e => e,
        }
    }
}

/// [`Hot::closed_at`] of a flow that has not closed.
pub(crate) const OPEN: i64 = i64::MAX;

/// The flows being assembled: per flow identity its open flow, per flow its running
/// counters (`hot`) and its conversation, end reason and first direction (`cold`).
#[derive(Default)]
pub(crate) struct FlowState {
    pub(crate) timeouts: FlowTimeouts,
    pub(crate) active: Vec<u32>,
    pub(crate) hot: Vec<Hot>,
    pub(crate) cold: Vec<(u32, FlowEnd, bool)>,
}

impl FlowState {
    pub(crate) fn new(timeouts: FlowTimeouts) -> FlowState {
        FlowState {
            timeouts,
            ..FlowState::default()
        }
    }

    /// The flow state machine (`docs/flows.md`) for one packet of conversation `c`, whose
    /// flow identity is `id`; returns the packet's flow.
    #[inline(always)]
    pub(crate) fn step(&mut self, ts: i64, len: u32, b: u16, tf: u8, c: u32, id: u32) -> u32 {
        let id = id as usize;
        let len = len as u64;
        let tcp = b & bits::TCP != 0;
        let mut f = self.active[id];
        if f != u32::MAX {
            let h = &self.hot[f as usize];
            let to = &self.timeouts;
            let ends = if h.closed_at != OPEN {
                // A closed connection ends once its linger has passed or a new one opens
                // (its end reason was set when it closed).
                ts - h.closed_at > to.linger_ns
                    || (tcp && tf & (tcpf::SYN | tcpf::ACK) == tcpf::SYN)
            } else if ts - h.last > to.idle_for(b) {
                self.cold[f as usize].1 = FlowEnd::Idle;
                true
            } else if to.active_ns.is_some_and(|a| ts - h.first > a) {
                self.cold[f as usize].1 = FlowEnd::Active;
                true
            } else {
                false
            };
            if ends {
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
                closed_at: OPEN,
                fins: 0,
            });
            self.cold.push((c, FlowEnd::Eof, b & bits::DIR_BA != 0));
            self.active[id] = f;
        }
        let h = &mut self.hot[f as usize];
        h.last = ts;
        let from_b = b & bits::DIR_BA != 0;
        if from_b {
            h.pkts_ba += 1;
            h.bytes_ba += len;
        } else {
            h.pkts_ab += 1;
            h.bytes_ab += len;
        }
        if tcp && tf & (tcpf::FIN | tcpf::RST) != 0 && h.closed_at == OPEN {
            let end = if tf & tcpf::RST != 0 {
                Some(FlowEnd::Rst)
            } else {
                h.fins |= if from_b { 2 } else { 1 };
                (h.fins == 3).then_some(FlowEnd::Fin)
            };
            if let Some(end) = end {
                h.closed_at = ts;
                self.cold[f as usize].1 = end;
            }
        }
        f
    }
}

/// The flows of each device in order of their first packet, so that the flows overlapping a
/// time range are found without scanning every flow (the Inspector's nearby flows, the
/// timeline's flow bars).
#[derive(Clone, Debug, Default)]
pub struct FlowIndex {
    by_device: Vec<Vec<u32>>,
    /// Per device, its longest flow's duration: no flow starting earlier than that before a
    /// range can overlap it.
    longest: Vec<i64>,
}

impl FlowIndex {
    pub fn build(t: &Traffic, devices: usize) -> FlowIndex {
        let mut by_device: Vec<Vec<u32>> = vec![Vec::new(); devices];
        let mut longest = vec![0i64; devices];
        for (i, f) in t.flows.iter().enumerate() {
            if let Some(v) = by_device.get_mut(f.device as usize) {
                v.push(i as u32);
                let l = &mut longest[f.device as usize];
                *l = (*l).max(f.last_ns - f.first_ns);
            }
        }
        for v in &mut by_device {
            v.sort_by_key(|&i| (t.flows[i as usize].first_ns, i));
        }
        FlowIndex { by_device, longest }
    }

    /// The flows of `device` that overlap `[lo, hi]`, in order of their first packet: only
    /// those starting after `lo` minus the device's longest flow can.
    pub fn overlapping<'a>(
        &'a self,
        t: &'a Traffic,
        device: u16,
        (lo, hi): (i64, i64),
    ) -> impl Iterator<Item = u32> + 'a {
        let fl = self
            .by_device
            .get(device as usize)
            .map_or(&[][..], |v| &v[..]);
        let longest = self.longest.get(device as usize).copied().unwrap_or(0);
        let a = fl.partition_point(|&i| t.flows[i as usize].first_ns < lo.saturating_sub(longest));
        let b = fl.partition_point(|&i| t.flows[i as usize].first_ns <= hi);
        fl[a..b.max(a)]
            .iter()
            .copied()
            .filter(move |&i| t.flows[i as usize].last_ns >= lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = SECOND;
    const A: u16 = bits::IP | bits::TCP;
    const B: u16 = bits::IP | bits::TCP | bits::DIR_BA;
    const U: u16 = bits::IP | bits::UDP;

    /// Runs packets `(seconds, bits, tcp flags)` of one flow identity through the state
    /// machine; returns each packet's flow and each flow's end.
    fn run(t: FlowTimeouts, pkts: &[(i64, u16, u8)]) -> (Vec<u32>, Vec<FlowEnd>) {
        let mut fl = FlowState::new(t);
        fl.active = vec![u32::MAX];
        let flows = pkts
            .iter()
            .map(|&(s, b, f)| fl.step(s * S, 60, b, f, 0, 0))
            .collect();
        (flows, fl.cold.iter().map(|c| c.1).collect())
    }

    use tcpf::{ACK, FIN, RST, SYN};

    #[test]
    fn a_connection_and_its_teardown_are_one_flow() {
        let (f, e) = run(
            FlowTimeouts::default(),
            &[
                (0, A, SYN),
                (0, B, SYN | ACK),
                (0, A, ACK),
                (1, A, ACK),
                (2, A, FIN | ACK),
                (2, B, ACK),
                (3, B, FIN | ACK),
                (3, A, ACK),
                // A retransmitted FIN within the linger stays in the flow.
                (6, B, FIN | ACK),
            ],
        );
        assert_eq!(f, vec![0; 9]);
        assert_eq!(e, vec![FlowEnd::Fin]);
    }

    #[test]
    fn a_new_syn_or_a_packet_after_the_linger_starts_a_new_flow() {
        let closed = [
            (0, A, SYN),
            (1, A, FIN | ACK),
            (1, B, FIN | ACK),
            (1, A, ACK),
        ];
        let mut p = closed.to_vec();
        p.push((2, A, SYN));
        let (f, e) = run(FlowTimeouts::default(), &p);
        assert_eq!(f, vec![0, 0, 0, 0, 1]);
        assert_eq!(e, vec![FlowEnd::Fin, FlowEnd::Eof]);
        let mut p = closed.to_vec();
        p.push((7, A, ACK));
        let (f, _) = run(FlowTimeouts::default(), &p);
        assert_eq!(
            f,
            vec![0, 0, 0, 0, 1],
            "6 s after the close: past the 5 s linger"
        );
    }

    #[test]
    fn a_reset_closes_and_one_fin_does_not() {
        let (f, e) = run(
            FlowTimeouts::default(),
            &[(0, A, SYN), (1, B, RST), (1, A, RST), (9, A, SYN)],
        );
        assert_eq!(f, vec![0, 0, 0, 1]);
        assert_eq!(e, vec![FlowEnd::Rst, FlowEnd::Eof]);
        // Half-closed: the other side goes on sending; 60 s later is still the same flow.
        let (f, e) = run(
            FlowTimeouts::default(),
            &[(0, A, FIN | ACK), (30, B, ACK), (90, B, ACK)],
        );
        assert_eq!(f, vec![0, 0, 0]);
        assert_eq!(e, vec![FlowEnd::Eof]);
    }

    #[test]
    fn idle_timeouts_are_per_protocol_and_strict() {
        let zeek = FlowTimeouts::preset(FlowPreset::Zeek);
        let (f, e) = run(zeek, &[(0, A, ACK), (300, A, ACK), (601, A, ACK)]);
        assert_eq!(f, vec![0, 0, 1], "a gap of exactly 300 s keeps the flow");
        assert_eq!(e, vec![FlowEnd::Idle, FlowEnd::Eof]);
        let (f, _) = run(zeek, &[(0, U, 0), (61, U, 0)]);
        assert_eq!(f, vec![0, 1], "UDP: 60 s");
        let home = FlowTimeouts::default();
        let (f, _) = run(
            home,
            &[(0, A, ACK), (299, A, ACK), (900, A, ACK), (1801, A, ACK)],
        );
        assert_eq!(
            f,
            vec![0, 0, 0, 1],
            "smart-home: 5-minute keepalives stay one flow"
        );
    }

    #[test]
    fn the_active_timeout_cuts_long_flows_when_set() {
        let nf = FlowTimeouts::preset(FlowPreset::Nfstream);
        let p: Vec<(i64, u16, u8)> = (0..40).map(|k| (k * 100, A, ACK)).collect();
        let (f, e) = run(nf, &p);
        // 0..=1800 is the first flow; 1900 starts the second (1900 - 0 > 1800).
        assert_eq!(f.iter().filter(|&&x| x == 0).count(), 19);
        assert_eq!(e[0], FlowEnd::Active);
        let (f, _) = run(FlowTimeouts::default(), &p);
        assert!(f.iter().all(|&x| x == 0), "no active timeout by default");
    }

    #[test]
    fn timeouts_are_checked() {
        assert!(FlowTimeouts::default().check().is_ok());
        for p in FlowPreset::NAMED {
            assert!(FlowTimeouts::preset(p).check().is_ok());
            assert_eq!(FlowPreset::parse(p.as_str()), Some(p));
        }
        let mut t = FlowTimeouts::default();
        t.linger_ns = t.tcp_idle_ns;
        assert!(t.check().unwrap_err().contains("linger"));
        t = FlowTimeouts::default();
        t.active_ns = Some(0);
        assert!(t.check().unwrap_err().contains("active"));
    }
}
