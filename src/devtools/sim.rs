//! A deterministic smart-home simulator: hourly pcaps (headers only, like the lab's mirror
//! port), a devices.json with hubs, the four label logs in the lab's formats with the lab's
//! defects, a ground truth, and a ready project.

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

use crate::error::{Error, Result};
use crate::labels::{SourceKind, SourceSpec};
use crate::project::Project;

const NS: i64 = 1_000_000_000;
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
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Camera,
    Doorbell,
    Lock,
    Plug,
    Hub,
    Speaker,
}

/// How a vendor's companion app words a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Notifier {
    None,
    Kasa,
    Geeni,
    Nest,
    Ring,
    RingAlarm,
    SimpliSafe,
    NightOwl,
    Schlage,
    Sifely,
}

struct Template {
    prefix: &'static str,
    description: &'static str,
    kind: Kind,
    notifier: Notifier,
    /// Event classes of the device itself (None for trigger-driven devices).
    classes: &'static [(&'static str, f64)],
    ifttt_applet: bool,
    smartthings: bool,
    triggers: bool,
    /// Children behind this hub: (prefix, description, classes, notifier, smartthings, triggers).
    children: &'static [Child],
}

struct Child {
    prefix: &'static str,
    description: &'static str,
    classes: &'static [(&'static str, f64)],
    notifier: Notifier,
    smartthings: bool,
    triggers: bool,
    ifttt_applet: bool,
}

const CAM: &[(&str, f64)] = &[("motion", 22.0), ("sound", 8.0)];
const BELL: &[(&str, f64)] = &[("motion", 12.0), ("ring", 4.0)];
const LOCK: &[(&str, f64)] = &[("lock", 6.0), ("unlock", 6.0)];
const SENSOR: &[(&str, f64)] = &[("motionstart", 10.0), ("temp", 6.0)];
const CONTACT: &[(&str, f64)] = &[("open", 8.0), ("close", 8.0)];
const NONE: &[(&str, f64)] = &[];

const TEMPLATES: &[Template] = &[
    Template {
        prefix: "kasa-cam",
        description: "Kasa Spot Indoor Camera",
        kind: Kind::Camera,
        notifier: Notifier::Kasa,
        classes: CAM,
        ifttt_applet: true,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "ring-doorbell",
        description: "Ring Video Doorbell",
        kind: Kind::Doorbell,
        notifier: Notifier::Ring,
        classes: BELL,
        ifttt_applet: true,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "schlage-lock",
        description: "Schlage Encode Smart WiFi Deadbolt",
        kind: Kind::Lock,
        notifier: Notifier::Schlage,
        classes: LOCK,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "hue-hub",
        description: "Philips Hue Bridge",
        kind: Kind::Hub,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[
            Child {
                prefix: "hue-light",
                description: "Philips Hue White Bulb",
                classes: NONE,
                notifier: Notifier::None,
                smartthings: false,
                triggers: true,
                ifttt_applet: false,
            },
            Child {
                prefix: "hue-light",
                description: "Philips Hue White Bulb",
                classes: NONE,
                notifier: Notifier::None,
                smartthings: false,
                triggers: true,
                ifttt_applet: false,
            },
        ],
    },
    Template {
        prefix: "smartthings-hub",
        description: "SmartThings Hub",
        kind: Kind::Hub,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[
            Child {
                prefix: "smartthings-motion",
                description: "SmartThings Motion Sensor",
                classes: SENSOR,
                notifier: Notifier::None,
                smartthings: true,
                triggers: false,
                ifttt_applet: false,
            },
            Child {
                prefix: "smartthings-multi",
                description: "SmartThings Multipurpose Sensor",
                classes: CONTACT,
                notifier: Notifier::None,
                smartthings: true,
                triggers: false,
                ifttt_applet: false,
            },
        ],
    },
    Template {
        prefix: "kasa-plug",
        description: "Kasa Smart Plug",
        kind: Kind::Plug,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: true,
        children: &[],
    },
    Template {
        prefix: "geeni-cam",
        description: "Geeni Look Indoor Camera",
        kind: Kind::Camera,
        notifier: Notifier::Geeni,
        classes: CAM,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "sifely-hub",
        description: "Sifely Gateway",
        kind: Kind::Hub,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[Child {
            prefix: "sifely-lock",
            description: "Sifely Keyless Entry Lock",
            classes: &[("unlock", 8.0)],
            notifier: Notifier::Sifely,
            smartthings: false,
            triggers: false,
            ifttt_applet: false,
        }],
    },
    Template {
        prefix: "nest-cam",
        description: "Nest Cam IQ Indoor",
        kind: Kind::Camera,
        notifier: Notifier::Nest,
        classes: &[("motion", 20.0), ("sound", 6.0), ("person", 6.0)],
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "wemo-plug",
        description: "Wemo Mini Smart Plug",
        kind: Kind::Plug,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: true,
        children: &[],
    },
    Template {
        prefix: "wyze-cam",
        description: "Wyze Cam v2",
        kind: Kind::Camera,
        notifier: Notifier::None,
        classes: &[("motion", 24.0)],
        ifttt_applet: true,
        smartthings: true,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "amazon-dot",
        description: "Amazon Echo Dot 3rd Gen",
        kind: Kind::Speaker,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "ring-hub",
        description: "Ring Alarm Base Station",
        kind: Kind::Hub,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[
            Child {
                prefix: "ring-contact-sensor",
                description: "Ring Alarm Contact Sensor",
                classes: CONTACT,
                notifier: Notifier::RingAlarm,
                smartthings: false,
                triggers: false,
                ifttt_applet: false,
            },
            Child {
                prefix: "ring-motion",
                description: "Ring Alarm Motion Detector",
                classes: &[("motion", 10.0)],
                notifier: Notifier::RingAlarm,
                smartthings: false,
                triggers: false,
                ifttt_applet: false,
            },
        ],
    },
    Template {
        prefix: "nightowl-doorbell",
        description: "Night Owl Wi-Fi Video Doorbell",
        kind: Kind::Doorbell,
        notifier: Notifier::NightOwl,
        classes: BELL,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "simplisafe-cam",
        description: "SimpliSafe SimpliCam",
        kind: Kind::Camera,
        notifier: Notifier::SimpliSafe,
        classes: &[("motion", 18.0)],
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[],
    },
    Template {
        prefix: "arlo-hub",
        description: "Arlo Base Station",
        kind: Kind::Hub,
        notifier: Notifier::None,
        classes: NONE,
        ifttt_applet: false,
        smartthings: false,
        triggers: false,
        children: &[Child {
            prefix: "arlo-cam",
            description: "Arlo Pro 3 Camera",
            classes: &[("motion", 16.0)],
            notifier: Notifier::None,
            smartthings: true,
            triggers: false,
            ifttt_applet: true,
        }],
    },
];

/// One simulated device (network device or hub child).
#[derive(Clone, Debug)]
pub struct SimDevice {
    pub name: String,
    pub description: String,
    kind: Kind,
    notifier: Notifier,
    classes: Vec<(String, f64)>,
    ifttt_applet: bool,
    smartthings: bool,
    triggers: bool,
    /// Index of the device whose traffic carries this one's events (itself or its hub).
    pub traffic_dev: usize,
    pub hub: Option<usize>,
    pub mac: Option<[u8; 6]>,
    pub ip: [u8; 4],
    cloud: [u8; 4],
    ttl: u8,
    cloud_ttl: u8,
}

pub const GATEWAY_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
const GATEWAY_IP: [u8; 4] = [192, 168, 1, 1];
const BCAST: [u8; 6] = [0xff; 6];
const SSDP_MAC: [u8; 6] = [0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa];
const SSDP_IP: [u8; 4] = [239, 255, 255, 250];
const NTP_IP: [u8; 4] = [129, 6, 15, 28];

fn build_devices(n: usize, seed: u64) -> Vec<SimDevice> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xD3_71CE);
    let mut out: Vec<SimDevice> = Vec::new();
    let mut counts: std::collections::HashMap<&str, usize> = Default::default();
    let name = |prefix: &'static str, counts: &mut std::collections::HashMap<&str, usize>| {
        let c = counts.entry(prefix).or_insert(0);
        *c += 1;
        format!("{prefix}-{:02}", c)
    };
    for i in 0..n {
        let t = &TEMPLATES[i % TEMPLATES.len()];
        let idx = out.len();
        let mac = [
            0x02,
            0x1a,
            rng.gen(),
            rng.gen(),
            (idx >> 8) as u8,
            idx as u8,
        ];
        let ip = [192, 168, 1, (100 + i % 150) as u8];
        let cloud = [
            [52, 3, 35, 18][i % 4],
            rng.gen_range(1..250),
            rng.gen_range(1..250),
            rng.gen_range(1..250),
        ];
        out.push(SimDevice {
            name: name(t.prefix, &mut counts),
            description: t.description.into(),
            kind: t.kind,
            notifier: t.notifier,
            classes: t.classes.iter().map(|(c, r)| (c.to_string(), *r)).collect(),
            ifttt_applet: t.ifttt_applet,
            smartthings: t.smartthings,
            triggers: t.triggers,
            traffic_dev: idx,
            hub: None,
            mac: Some(mac),
            ip,
            cloud,
            ttl: if rng.gen_bool(0.5) { 64 } else { 255 },
            cloud_ttl: rng.gen_range(38..56),
        });
        for ch in t.children {
            let cidx = out.len();
            out.push(SimDevice {
                name: name(ch.prefix, &mut counts),
                description: ch.description.into(),
                kind: Kind::Lock,
                notifier: ch.notifier,
                classes: ch
                    .classes
                    .iter()
                    .map(|(c, r)| (c.to_string(), *r))
                    .collect(),
                ifttt_applet: ch.ifttt_applet,
                smartthings: ch.smartthings,
                triggers: ch.triggers,
                traffic_dev: idx,
                hub: Some(idx),
                mac: None,
                ip: [0; 4],
                cloud: [0; 4],
                ttl: 0,
                cloud_ttl: 0,
            });
            let _ = cidx;
        }
    }
    out
}

/// One packet to write, before encoding.
#[derive(Clone, Copy, Debug)]
struct Pkt {
    ts: i64,
    dev: u16,
    proto: Proto,
    /// Device → remote when false.
    inbound: bool,
    tcp_flags: u8,
    port: u16,
    payload: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    /// TLS over TCP to the device's cloud endpoint (port 443), client port in `port`.
    Tls,
    Dns,
    Ntp,
    Arp,
    Eapol,
    Ssdp,
    Dhcp,
}

const F_FIN: u8 = 1;
const F_SYN: u8 = 2;
const F_PSH: u8 = 8;
const F_ACK: u8 = 16;

/// A true event of the simulated world.
#[derive(Clone, Debug, Serialize)]
pub struct TrueEvent {
    pub id: usize,
    pub device: usize,
    pub class: String,
    /// Onset of the device's traffic for this event.
    pub true_ns: i64,
    /// For trigger-driven events: the scheduled (IFTTT) minute.
    pub scheduled_ns: Option<i64>,
}

/// Class-specific traffic of an event: (uploads, size range, duration).
fn burst_shape(class: &str) -> (u32, u32, u16, u16, i64) {
    match class {
        "motion" | "person" => (120, 300, 1200, 1448, 10),
        "sound" => (50, 120, 1100, 1448, 6),
        "ring" => (250, 450, 1300, 1448, 15),
        "lock" => (10, 14, 180, 320, 2),
        "unlock" => (10, 14, 196, 336, 2),
        "on" => (6, 9, 90, 160, 1),
        "off" => (6, 9, 82, 152, 1),
        _ => (4, 6, 100, 250, 1),
    }
}

fn emit_event_burst(ev: &TrueEvent, devs: &[SimDevice], rng: &mut ChaCha8Rng, out: &mut Vec<Pkt>) {
    let d = devs[ev.device].traffic_dev as u16;
    let (lo, hi, smin, smax, dur_s) = burst_shape(&ev.class);
    let n = rng.gen_range(lo..=hi);
    let port = 49152 + (ev.id as u32 * 7919 % 16000) as u16;
    let mut t = ev.true_ns;
    let p = |ts: i64, inbound: bool, flags: u8, payload: u16| Pkt {
        ts,
        dev: d,
        proto: Proto::Tls,
        inbound,
        tcp_flags: flags,
        port,
        payload,
    };
    out.push(p(t, false, F_SYN, 0));
    t += rng.gen_range(20..80) * 1_000_000;
    out.push(p(t, true, F_SYN | F_ACK, 0));
    t += rng.gen_range(1..5) * 1_000_000;
    out.push(p(t, false, F_ACK, 0));
    // TLS handshake.
    t += 2_000_000;
    out.push(p(t, false, F_PSH | F_ACK, 517));
    t += rng.gen_range(20..80) * 1_000_000;
    out.push(p(t, true, F_PSH | F_ACK, 1448));
    out.push(p(t + 1_000_000, true, F_PSH | F_ACK, 1200));
    t += 5_000_000;
    out.push(p(t, false, F_PSH | F_ACK, 126));
    let step = dur_s * NS / n as i64;
    for k in 0..n {
        t += step / 2 + rng.gen_range(0..step.max(2));
        out.push(p(t, false, F_PSH | F_ACK, rng.gen_range(smin..=smax)));
        if k % 2 == 1 {
            out.push(p(t + 30_000_000, true, F_ACK, 0));
        }
    }
    t += rng.gen_range(50..300) * 1_000_000;
    out.push(p(t, true, F_PSH | F_ACK, rng.gen_range(80..140)));
    t += 10_000_000;
    out.push(p(t, false, F_FIN | F_ACK, 0));
    t += rng.gen_range(20..80) * 1_000_000;
    out.push(p(t, true, F_FIN | F_ACK, 0));
    out.push(p(t + 1_000_000, false, F_ACK, 0));
}

/// Background processes of a device kind: (period s, packets per occurrence, proto).
fn processes(kind: Kind) -> &'static [(f64, u8, Proto)] {
    match kind {
        Kind::Camera => &[
            (3.0, 8, Proto::Tls),
            (300.0, 2, Proto::Dns),
            (3600.0, 2, Proto::Ntp),
            (120.0, 2, Proto::Arp),
            (3600.0, 4, Proto::Eapol),
            (43200.0, 2, Proto::Dhcp),
        ],
        Kind::Doorbell => &[
            (4.0, 8, Proto::Tls),
            (300.0, 2, Proto::Dns),
            (3600.0, 2, Proto::Ntp),
            (120.0, 2, Proto::Arp),
            (3600.0, 4, Proto::Eapol),
            (43200.0, 2, Proto::Dhcp),
        ],
        Kind::Hub => &[
            (5.0, 4, Proto::Tls),
            (300.0, 2, Proto::Dns),
            (3600.0, 2, Proto::Ntp),
            (120.0, 2, Proto::Arp),
            (180.0, 3, Proto::Ssdp),
            (3600.0, 4, Proto::Eapol),
            (43200.0, 2, Proto::Dhcp),
        ],
        Kind::Speaker => &[
            (4.0, 6, Proto::Tls),
            (120.0, 2, Proto::Dns),
            (3600.0, 2, Proto::Ntp),
            (120.0, 2, Proto::Arp),
            (180.0, 3, Proto::Ssdp),
            (3600.0, 4, Proto::Eapol),
            (43200.0, 2, Proto::Dhcp),
        ],
        Kind::Lock | Kind::Plug => &[
            (45.0, 3, Proto::Tls),
            (600.0, 2, Proto::Dns),
            (3600.0, 2, Proto::Ntp),
            (120.0, 2, Proto::Arp),
            (3600.0, 4, Proto::Eapol),
            (43200.0, 2, Proto::Dhcp),
        ],
    }
}

/// Background packets of one device in [h0, h1).
fn background(
    dev: usize,
    d: &SimDevice,
    h0: i64,
    h1: i64,
    scale: f64,
    seed: u64,
    out: &mut Vec<Pkt>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((dev as u64) << 32) ^ (h0 as u64 / 1000));
    let keep_port = 40000 + ((dev as i64 * 131 + h0 / (86400 * NS)) % 9000) as u16;
    for (pi, &(period, n, proto)) in processes(d.kind).iter().enumerate() {
        let period = if proto == Proto::Tls {
            period / scale
        } else {
            period
        };
        let pns = (period * 1e9) as i64;
        // Phase per device and process so devices do not tick together.
        let phase = ((dev as i64 * 7_919 + pi as i64 * 104_729) * 1_000_003) % pns.max(1);
        let mut t = h0 - ((h0 - phase).rem_euclid(pns)) + pns;
        if t - pns >= h0 {
            t -= pns;
        }
        while t < h1 {
            let jt = t + rng.gen_range(0..(pns / 10).max(1));
            if jt < h1 {
                let dev16 = dev as u16;
                for k in 0..n {
                    let ts = jt + k as i64 * rng.gen_range(2..40) * 1_000_000;
                    let inbound = k % 2 == 1;
                    let (payload, flags) = match proto {
                        Proto::Tls => (
                            if k + 1 == n && n % 2 == 1 {
                                0
                            } else {
                                rng.gen_range(60..420)
                            },
                            F_PSH | F_ACK,
                        ),
                        Proto::Dns => (
                            if inbound {
                                rng.gen_range(60..140)
                            } else {
                                rng.gen_range(30..50)
                            },
                            0,
                        ),
                        Proto::Ntp => (48, 0),
                        Proto::Ssdp => (rng.gen_range(280..360), 0),
                        Proto::Dhcp => (300, 0),
                        Proto::Arp | Proto::Eapol => (0, 0),
                    };
                    out.push(Pkt {
                        ts,
                        dev: dev16,
                        proto,
                        inbound: if proto == Proto::Ssdp { false } else { inbound },
                        tcp_flags: flags,
                        port: keep_port,
                        payload,
                    });
                }
            }
            t += pns;
        }
    }
}

/// Encodes one packet (headers only, like the lab's captures) into `buf`; returns
/// (captured length, original length).
fn encode(p: &Pkt, d: &SimDevice, buf: &mut Vec<u8>) -> (usize, usize) {
    let start = buf.len();
    let mac = d.mac.unwrap_or(GATEWAY_MAC);
    let (smac, dmac) = if p.inbound {
        (GATEWAY_MAC, mac)
    } else {
        (mac, GATEWAY_MAC)
    };
    let eth = |buf: &mut Vec<u8>, s: [u8; 6], t: [u8; 6], et: EtherType| {
        Ethernet2Header {
            source: s,
            destination: t,
            ether_type: et,
        }
        .write(buf)
        .expect("vec write");
    };
    let orig = match p.proto {
        Proto::Arp => {
            let (s, t) = if p.inbound {
                (GATEWAY_MAC, BCAST)
            } else {
                (mac, GATEWAY_MAC)
            };
            eth(buf, s, t, EtherType::ARP);
            let arp = if p.inbound {
                ArpEthIpv4Packet {
                    operation: ArpOperation::REQUEST,
                    sender_mac: GATEWAY_MAC,
                    sender_ipv4: GATEWAY_IP,
                    target_mac: [0; 6],
                    target_ipv4: d.ip,
                }
            } else {
                ArpEthIpv4Packet {
                    operation: ArpOperation::REPLY,
                    sender_mac: mac,
                    sender_ipv4: d.ip,
                    target_mac: GATEWAY_MAC,
                    target_ipv4: GATEWAY_IP,
                }
            };
            arp.to_arp_packet().write(buf).expect("vec write");
            60
        }
        Proto::Eapol => {
            eth(buf, smac, dmac, EtherType(0x888e));
            // EAPOL-Key frame: version 2, type 3, body length 95 (key descriptor not modelled).
            buf.extend_from_slice(&[2, 3, 0, 95]);
            buf.resize(buf.len() + 40, 0);
            14 + 4 + 95
        }
        Proto::Tls => {
            eth(buf, smac, dmac, EtherType::IPV4);
            let (sport, dport, sip, dip, ttl) = if p.inbound {
                (443, p.port, d.cloud, d.ip, d.cloud_ttl)
            } else {
                (p.port, 443, d.ip, d.cloud, d.ttl)
            };
            let mut tcp = TcpHeader::new(sport, dport, 1000 + p.ts as u32 % 100_000, 64240);
            tcp.syn = p.tcp_flags & F_SYN != 0;
            tcp.ack = p.tcp_flags & F_ACK != 0;
            tcp.fin = p.tcp_flags & F_FIN != 0;
            tcp.psh = p.tcp_flags & F_PSH != 0;
            tcp.acknowledgment_number = if tcp.ack { 5000 } else { 0 };
            let ip_payload = tcp.header_len() as u16 + p.payload;
            let mut ip = Ipv4Header::new(ip_payload, ttl, IpNumber::TCP, sip, dip).expect("fits");
            ip.header_checksum = ip.calc_header_checksum();
            ip.write(buf).expect("vec write");
            tcp.write(buf).expect("vec write");
            14 + 20 + ip_payload as usize
        }
        Proto::Dns | Proto::Ntp | Proto::Ssdp | Proto::Dhcp => {
            let (rport, rip, rmac) = match p.proto {
                Proto::Dns => (53u16, GATEWAY_IP, GATEWAY_MAC),
                Proto::Ntp => (123, NTP_IP, GATEWAY_MAC),
                Proto::Ssdp => (1900, SSDP_IP, SSDP_MAC),
                _ => (67, GATEWAY_IP, GATEWAY_MAC),
            };
            let lport = match p.proto {
                Proto::Dhcp => 68,
                Proto::Ntp => 123,
                Proto::Ssdp => 1900,
                _ => 30000 + (p.ts / 1000 % 20000) as u16,
            };
            let (sm, dm) = if p.inbound { (rmac, mac) } else { (mac, rmac) };
            eth(buf, sm, dm, EtherType::IPV4);
            let (sport, dport, sip, dip, ttl) = if p.inbound {
                (rport, lport, rip, d.ip, 64)
            } else {
                (lport, rport, d.ip, rip, d.ttl)
            };
            let udp =
                UdpHeader::without_ipv4_checksum(sport, dport, p.payload as usize).expect("fits");
            let mut ip =
                Ipv4Header::new(8 + p.payload, ttl, IpNumber::UDP, sip, dip).expect("fits");
            ip.header_checksum = ip.calc_header_checksum();
            ip.write(buf).expect("vec write");
            udp.write(buf).expect("vec write");
            14 + 20 + 8 + p.payload as usize
        }
    };
    let cap = (buf.len() - start).min(SNAPLEN);
    buf.truncate(start + cap);
    (cap, orig.max(cap))
}

fn local_text(ns: i64, tz: &Tz, seconds: bool) -> String {
    let d = tz.timestamp_nanos(ns);
    if seconds {
        d.format("%B %d, %Y at %I:%M:%S%p").to_string()
    } else {
        d.format("%B %d, %Y at %I:%M%p").to_string()
    }
}

/// One log row with its truth.
#[derive(Clone, Debug)]
struct LogRow {
    logged_ns: i64,
    text: String,
    true_event: Option<usize>,
    /// "", "duplicate", "repeat" or "no-traffic".
    defect: &'static str,
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
                    let delay = rng.gen_range(2_000..12_000) * 1_000_000;
                    let td = d.traffic_dev;
                    let tt = t + delay + di as i64 * 3 * NS % (20 * NS);
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

    // Label logs.
    let outage_start = o.start_ns + (o.days as i64 * 86400 * NS) / 2 + 3 * 3600 * NS;
    let outage_end = outage_start + 5 * 3600 * NS;
    let mut ifttt: Vec<LogRow> = Vec::new();
    let mut trig: Vec<LogRow> = Vec::new();
    let mut st: Vec<LogRow> = Vec::new();
    let mut notes: Vec<LogRow> = Vec::new();
    for e in &events {
        let d = &devs[e.device];
        if e.scheduled_ns.is_some() {
            continue;
        }
        if d.ifttt_applet && e.class == "motion" {
            let delay = rng.gen_range(3_000..60_000) * 1_000_000;
            let seen = e.true_ns + delay;
            if !(outage_start..outage_end).contains(&seen) {
                let minute = seen - seen.rem_euclid(60 * NS);
                let text = format!(
                    "\"{}\",\"{}\",\"event_{}\"",
                    local_text(minute, &tz, false),
                    d.name,
                    e.class
                );
                let copies = if rng.gen_bool(0.12) {
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
        if d.smartthings {
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
                    local_text(tt, &tz, true),
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
                        local_text(t2, &tz, true),
                        d.name,
                        cls
                    ),
                    true_event: Some(e.id),
                    defect: "repeat",
                });
            }
        }
        if d.notifier != Notifier::None {
            let t = e.true_ns + rng.gen_range(1_000..6_000) * 1_000_000;
            let tt = t - t.rem_euclid(NS);
            if let Some(line) = notification(d, &e.class, tt, &tz) {
                notes.push(LogRow {
                    logged_ns: tt,
                    text: line,
                    true_event: Some(e.id),
                    defect: "",
                });
            }
        }
    }
    for (t, di, class, ev) in &trigger_rows {
        trig.push(LogRow {
            logged_ns: *t,
            text: format!(
                "\"{}\",\"{}\",\"event_{}\"",
                local_text(*t, &tz, false),
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

    // Event bursts (all at once; placed into hour files below).
    let mut burst: Vec<Pkt> = Vec::new();
    for e in &events {
        let mut r = ChaCha8Rng::seed_from_u64(o.seed ^ 0xB0B5 ^ ((e.id as u64) << 20));
        emit_event_burst(e, &devs, &mut r, &mut burst);
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
                background(i, &devs[i], h0, h1, scale, o.seed, &mut pk);
            }
            let a = burst.partition_point(|p| p.ts < h0);
            let b = burst.partition_point(|p| p.ts < h1);
            pk.extend_from_slice(&burst[a..b]);
            pk.retain(|p| p.ts >= h0 && p.ts < h1);
            pk.sort_by_key(|p| (p.ts, p.dev, p.inbound));
            let mut hdr = pcap_parser::PcapHeader::new();
            hdr.magic_number = 0xa1b2_3c4d; // nanosecond timestamps
            hdr.snaplen = SNAPLEN as u32;
            let mut buf: Vec<u8> = Vec::with_capacity(pk.len() * 80 + 24);
            use pcap_parser::ToVec;
            buf.extend_from_slice(
                &hdr.to_vec_raw()
                    .map_err(|e| Error::Other(format!("{e:?}")))?,
            );
            let mut frame: Vec<u8> = Vec::with_capacity(128);
            for p in &pk {
                frame.clear();
                let (cap, orig) = encode(p, &devs[p.dev as usize], &mut frame);
                // Record header (pcap, nanosecond variant): seconds, nanoseconds, caplen, origlen.
                let secs = p.ts.div_euclid(NS) as u32;
                let nanos = p.ts.rem_euclid(NS) as u32;
                buf.extend_from_slice(&secs.to_le_bytes());
                buf.extend_from_slice(&nanos.to_le_bytes());
                buf.extend_from_slice(&(cap as u32).to_le_bytes());
                buf.extend_from_slice(&(orig as u32).to_le_bytes());
                buf.extend_from_slice(&frame[..cap]);
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

    // devices.json in the lab's format (hub children without their own MAC).
    let mut dj = serde_json::Map::new();
    let mut hubs: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for d in &devs {
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

    let names = [
        ("labels/ifttt-events.csv", &ifttt),
        ("labels/ifttt-actions.csv", &trig),
        ("labels/smartthings-events.csv", &st),
        ("labels/notifications.jsonl", &notes),
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
    for e in &events {
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
            text.push('\n');
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

    // The project.
    let mut p = Project::new("sample");
    p.captures = vec!["pcaps/*.pcap".into()];
    p.devices = Some("devices.json".into());
    for (kind, path) in [
        (SourceKind::Ifttt, "labels/ifttt-events.csv"),
        (SourceKind::IftttTrigger, "labels/ifttt-actions.csv"),
        (SourceKind::Smartthings, "labels/smartthings-events.csv"),
        (SourceKind::NotificationsJsonl, "labels/notifications.jsonl"),
    ] {
        p.sources.push(SourceSpec {
            kind,
            path: path.into(),
            tz: LAB_TZ.into(),
            offset_ns: 0,
            csv: None,
            rules: vec![],
        });
    }
    let project = out.join("sample.labelbench.json");
    write_file(
        &project,
        serde_json::to_string_pretty(&p).expect("json").as_bytes(),
    )?;
    let secs = t0.elapsed().as_secs_f64();
    Ok(SimReport {
        out: out.to_path_buf(),
        devices: devs.len(),
        network_devices: net.len(),
        days: o.days,
        packets,
        pcap_files: hours.len(),
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

/// A notification in the vendor's wording (the lab lower-cases names and uses spaces).
fn notification(d: &SimDevice, class: &str, ns: i64, tz: &Tz) -> Option<String> {
    let dev = d.name.replace('-', " ");
    let (pkg, title, text) = match (d.notifier, class) {
        (Notifier::Kasa, "motion") => (
            "com.tplink.kasa_android",
            format!("{dev} detected motion"),
            String::new(),
        ),
        (Notifier::Kasa, "sound") => (
            "com.tplink.kasa_android",
            format!("{dev} detected sound"),
            String::new(),
        ),
        (Notifier::Geeni, "motion") => (
            "com.merkuryinnovations.geeni",
            "Geeni".into(),
            format!("{dev} has detected movement."),
        ),
        (Notifier::Geeni, "sound") => (
            "com.merkuryinnovations.geeni",
            "Geeni".into(),
            format!("{dev} has detected sound."),
        ),
        (Notifier::Nest, c) => {
            let w = match c {
                "motion" => "Motion",
                "sound" => "Sound",
                "person" => "Person",
                _ => "Doorbell",
            };
            (
                "com.nest.android",
                format!("{w} \u{2022} Office ({dev})"),
                String::new(),
            )
        }
        (Notifier::Ring, "motion") => (
            "com.ringapp",
            format!("There is motion at your {dev}"),
            String::new(),
        ),
        (Notifier::Ring, "ring") => (
            "com.ringapp",
            format!("\u{1F514} Someone is at your {dev}"),
            String::new(),
        ),
        (Notifier::RingAlarm, c) => {
            let w = match c {
                "open" => "opened",
                "close" => "closed",
                "batt" => "reported low battery",
                _ => "detected motion",
            };
            let at = tz.timestamp_nanos(ns).format("%-I:%M %p");
            (
                "com.ringapp",
                "Ring Alarm".into(),
                format!("Melbourne {dev} [in IoT Lab] {w} at {at}"),
            )
        }
        (Notifier::SimpliSafe, _) => (
            "com.simplisafe.mobile",
            "SimpliSafe".into(),
            format!(
                "\"{dev}\" Camera Detected Motion on {}",
                tz.timestamp_nanos(ns).format("%-m/%-d/%y at %-I:%M %p")
            ),
        ),
        (Notifier::NightOwl, "motion") => (
            "com.nightowl.connect",
            "Night Owl".into(),
            format!("There is motion at your {dev}"),
        ),
        (Notifier::NightOwl, "ring") => (
            "com.nightowl.connect",
            "Night Owl".into(),
            format!("Someone just rang your {dev}"),
        ),
        (Notifier::Schlage, "lock") => (
            "com.allegion.leopard",
            "Schlage Home".into(),
            format!("{dev} locked"),
        ),
        (Notifier::Schlage, "unlock") => (
            "com.allegion.leopard",
            "Schlage Home".into(),
            format!("{dev} unlocked"),
        ),
        (Notifier::Sifely, "unlock") => (
            "com.sifely.smartlock",
            "Sifely".into(),
            format!("\"Admin\" unlocked (\"{dev}\")."),
        ),
        _ => return None,
    };
    let v = serde_json::json!({"package": pkg, "title": title, "text": text, "date": local_text(ns, tz, true)});
    Some(v.to_string())
}
