//! The simulated traffic: event bursts, background processes per device kind, and frames
//! encoded with etherparse as a mirror port captures them (headers only).

use super::*;

/// One packet to write, before encoding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pkt {
    pub(crate) ts: i64,
    pub(crate) dev: u16,
    pub(crate) proto: Proto,
    /// Device → remote when false.
    pub(crate) inbound: bool,
    pub(crate) tcp_flags: u8,
    pub(crate) port: u16,
    pub(crate) payload: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Proto {
    /// TLS over TCP to the device's cloud endpoint (port 443), client port in `port`.
    Tls,
    Dns,
    Ntp,
    Arp,
    Eapol,
    Ssdp,
    Dhcp,
}

pub(crate) const F_FIN: u8 = 1;

pub(crate) const F_SYN: u8 = 2;

pub(crate) const F_PSH: u8 = 8;

pub(crate) const F_ACK: u8 = 16;

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
pub(crate) fn burst_shape(class: &str) -> (u32, u32, u16, u16, i64) {
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

pub(crate) fn emit_event_burst(
    ev: &TrueEvent,
    devs: &[SimDevice],
    rng: &mut ChaCha8Rng,
    out: &mut Vec<Pkt>,
) {
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
pub(crate) fn processes(kind: Kind) -> &'static [(f64, u8, Proto)] {
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
pub(crate) fn background(
    dev: usize,
    d: &SimDevice,
    (h0, h1): (i64, i64),
    scale: f64,
    seed: u64,
    push_commands: bool,
    out: &mut Vec<Pkt>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ ((dev as u64) << 32) ^ (h0 as u64 / 1000));
    let keep_port = keepalive_port(dev, h0);
    // A plug that takes pushed commands keeps its connection alive with fixed-size
    // keepalives every 5 s (85 bytes out, 89 in), as the lab's lock hubs do.
    let small = push_commands && d.kind == Kind::Plug;
    for (pi, &(period, n, proto)) in processes(d.kind).iter().enumerate() {
        let (period, n) = if small && proto == Proto::Tls {
            (5.0, 2)
        } else {
            (period, n)
        };
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
                        Proto::Tls if small => (if inbound { 89 } else { 85 }, F_PSH | F_ACK),
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
pub(crate) fn encode(p: &Pkt, d: &SimDevice, buf: &mut Vec<u8>) -> (usize, usize) {
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
