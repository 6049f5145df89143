//! Link-layer and header decoding (etherparse) of one frame into the fields a packet row keeps.

use super::*;

/// One decoded packet (transient; only its compact form is kept).
///
/// `repr(C)` so that `ip_len` and `tcp_len` are not neighbours: the row builder read the
/// pair with one 8-byte load, which cannot be store-forwarded from the two 4-byte writes
/// decoding has just made, and stalled every packet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Decoded {
    /// IPv6, or IPv4 mapped into IPv6 (`::ffff:a.b.c.d`), as a big-endian number (so numeric
    /// order is byte order); zero without IP (bits::IP unset).
    pub src_ip: u128,
    pub dst_ip: u128,
    /// The MAC as a big-endian 48-bit number ([`mac_word`]); 0 ([`MAC_NONE`]) when the link
    /// layer has none. A word, not bytes: the interning that reads it right after decoding
    /// would otherwise load across the halves of a split 6-byte store, which cannot be
    /// store-forwarded and stalled every packet.
    pub src_mac: u64,
    pub dst_mac: u64,
    pub ip_len: u32,
    pub sport: u16,
    pub dport: u16,
    pub tcp_len: u32,
    pub vlan: Option<u16>,
    pub ethertype: u16,
    pub bits: u16,
    pub ttl: u8,
    pub ip_proto: u8,
    pub tcp_flags: u8,
}

pub(crate) const LT_ETHERNET: i32 = 1;

pub(crate) const LT_RAW: i32 = 101;

pub(crate) const LT_RAW_OLD: i32 = 12;

pub(crate) const LT_IPV4: i32 = 228;

pub(crate) const LT_IPV6: i32 = 229;

pub(crate) const LT_SLL: i32 = 113;

pub(crate) const LT_SLL2: i32 = 276;

/// Decodes one frame of the given link type. An unknown link type adds one issue and yields a
/// packet with only its lengths and timestamp.
///
/// Ethernet, raw IP and SLL frames take [`decode_ether_type`]'s path over etherparse's layer
/// slices; it gives exactly what [`decode_link_full`] gives (a test checks every packet of the
/// real captures) without building a whole `LaxSlicedPacket` per packet, whose copies cost a
/// sixth of ingest time.
pub fn decode_link(
    lt: Linktype,
    data: &[u8],
    path: &Path,
    issues: &mut Vec<CaptureIssue>,
) -> Decoded {
    let mut d = Decoded::default();
    decode_link_into(lt, data, path, issues, &mut d);
    d
}

/// [`decode_link`] into a caller's `Decoded` (reset first). The ingest loop decodes in place:
/// returning the struct by value meant a wide copy of freshly written fields per packet,
/// which stalled on store forwarding.
#[inline(always)]
pub fn decode_link_into(
    lt: Linktype,
    data: &[u8],
    path: &Path,
    issues: &mut Vec<CaptureIssue>,
    d: &mut Decoded,
) {
    *d = Decoded::default();
    // The protocol bits are gathered in a register and stored once: or-ing them into
    // `d.bits` piecemeal compiled to byte-wide stores, and every later 16-bit load of the
    // field then waited for them to reach the cache (a store-forwarding stall per packet).
    let b = match lt.0 {
        LT_ETHERNET => match Ethernet2Slice::from_slice_without_fcs(data) {
            Ok(e) => {
                d.src_mac = mac_word(&e.source());
                d.dst_mac = mac_word(&e.destination());
                let et = e.ether_type();
                d.ethertype = et.0;
                match decode_ether_type(d, et, e.payload_slice()) {
                    Some(b) => b,
                    None => {
                        *d = decode_link_full(lt, data, path, issues);
                        return;
                    }
                }
            }
            Err(_) => bits::MALFORMED,
        },
        LT_RAW | LT_RAW_OLD | LT_IPV4 | LT_IPV6 => decode_ip(d, data).unwrap_or(bits::MALFORMED),
        _ => {
            *d = decode_link_full(lt, data, path, issues);
            return;
        }
    };
    d.bits = b;
}

/// Decodes what follows an Ethernet header (VLAN tags, then IP or ARP), as etherparse's
/// `LaxSlicedPacket::from_ether_type` would, returning the packet's [`bits`]; `None` for
/// MACsec, which only the full path handles.
#[inline(always)]
pub(crate) fn decode_ether_type(
    d: &mut Decoded,
    outer: EtherType,
    mut payload: &[u8],
) -> Option<u16> {
    let mut et = outer;
    let mut tags = 0;
    loop {
        match et {
            EtherType::VLAN_TAGGED_FRAME
            | EtherType::PROVIDER_BRIDGING
            | EtherType::VLAN_DOUBLE_TAGGED_FRAME => {
                if tags == LaxSlicedPacket::LINK_EXTS_CAP {
                    break;
                }
                let Ok(v) = SingleVlanSlice::from_slice(payload) else {
                    break;
                };
                tags += 1;
                if d.vlan.is_none() {
                    d.vlan = Some(v.vlan_identifier().value());
                }
                et = v.ether_type();
                d.ethertype = et.0;
                payload = v.payload_slice();
            }
            EtherType::MACSEC => return None,
            _ => break,
        }
    }
    if outer.0 < 0x0600 {
        // 802.3 frame: the field is a length, the payload is LLC.
        d.ethertype = 0;
        return Some(bits::LLC);
    }
    let mut b = 0;
    if d.ethertype == 0x888e {
        b |= bits::EAPOL;
    }
    if matches!(et, EtherType::IPV4 | EtherType::IPV6) {
        b |= decode_ip(d, payload).unwrap_or(0);
    }
    Some(b)
}

/// An IP packet and its transport layer, as etherparse's `LaxIpSlice` slices them; returns
/// the packet's [`bits`], `None` when the IP header itself is unreadable.
///
/// IPv4 without an authentication header, nearly every packet, goes through etherparse's
/// `Ipv4HeaderSlice` with the payload bounded the way `LaxIpv4Slice` bounds it: the same
/// fields (a test compares every packet of the real captures with the `LaxSlicedPacket`
/// path) for half the instructions. Everything else takes `LaxIpSlice`.
#[inline(always)]
pub(crate) fn decode_ip(d: &mut Decoded, data: &[u8]) -> Option<u16> {
    if data.first().is_some_and(|b| b >> 4 == 4) {
        if let Ok(h) = etherparse::Ipv4HeaderSlice::from_slice(data) {
            if h.protocol() != etherparse::IpNumber::AUTHENTICATION_HEADER {
                let hl = h.slice().len();
                let total = h.total_len() as usize;
                let (payload, len_source, incomplete) = if total < hl {
                    (&data[hl..], etherparse::LenSource::Slice, false)
                } else if total > data.len() {
                    (&data[hl..], etherparse::LenSource::Slice, true)
                } else {
                    (
                        &data[hl..total],
                        etherparse::LenSource::Ipv4HeaderTotalLen,
                        false,
                    )
                };
                let ipp = etherparse::LaxIpPayloadSlice {
                    incomplete,
                    ip_number: h.protocol(),
                    fragmented: h.is_fragmenting_payload(),
                    len_source,
                    payload,
                };
                let declared = fill_ipv4_header(d, &h);
                return Some(bits::IP | fill_payload(d, declared, &ipp, true));
            }
        }
    }
    // By reference, like the pcap record: no wide copy of a freshly written result.
    match &LaxIpSlice::from_slice(data) {
        Ok((ip, ext_err)) => {
            let (b, declared, ipp) = match ip {
                LaxIpSlice::Ipv4(v4) => fill_ipv4(d, v4),
                LaxIpSlice::Ipv6(v6) => fill_ipv6(d, v6),
            };
            Some(b | fill_payload(d, declared, ipp, ext_err.is_none()))
        }
        Err(_) => None,
    }
}

/// The transport layer, sliced the way etherparse's lax cursor does: no transport slice for
/// fragments or after an extension-header error. Returns the transport's [`bits`].
#[inline(always)]
pub(crate) fn fill_payload(
    d: &mut Decoded,
    declared_payload: u32,
    ipp: &etherparse::LaxIpPayloadSlice<'_>,
    exts_ok: bool,
) -> u16 {
    let transport = if ipp.fragmented || !exts_ok {
        None
    } else {
        match ipp.ip_number {
            etherparse::IpNumber::ICMP => etherparse::Icmpv4Slice::from_slice(ipp.payload)
                .ok()
                .map(TransportSlice::Icmpv4),
            etherparse::IpNumber::IPV6_ICMP => etherparse::Icmpv6Slice::from_slice(ipp.payload)
                .ok()
                .map(TransportSlice::Icmpv6),
            etherparse::IpNumber::UDP => etherparse::UdpSlice::from_slice_lax(ipp.payload)
                .ok()
                .map(TransportSlice::Udp),
            etherparse::IpNumber::TCP => etherparse::TcpSlice::from_slice(ipp.payload)
                .ok()
                .map(TransportSlice::Tcp),
            _ => None,
        }
    };
    fill_transport(d, declared_payload, ipp, transport.as_ref())
}

/// The same decoding through etherparse's `LaxSlicedPacket` (the reference for
/// [`decode_link`], and the path for MACsec and Linux cooked captures).
pub fn decode_link_full(
    lt: Linktype,
    data: &[u8],
    path: &Path,
    issues: &mut Vec<CaptureIssue>,
) -> Decoded {
    let mut d = Decoded::default();
    match lt.0 {
        LT_ETHERNET => match LaxSlicedPacket::from_ethernet(data) {
            Ok(p) => fill_from_sliced(&mut d, &p),
            Err(_) => d.bits |= bits::MALFORMED,
        },
        LT_RAW | LT_RAW_OLD | LT_IPV4 | LT_IPV6 => match LaxSlicedPacket::from_ip(data) {
            Ok(p) => fill_from_sliced(&mut d, &p),
            Err(_) => d.bits |= bits::MALFORMED,
        },
        LT_SLL => match etherparse::LinuxSllSlice::from_slice(data) {
            Ok(sll) => {
                let addr = sll.sender_address_full();
                if sll.sender_address_valid_length() == 6 {
                    d.src_mac = mac_word(&[addr[0], addr[1], addr[2], addr[3], addr[4], addr[5]]);
                }
                if let etherparse::LinuxSllProtocolType::EtherType(et) = sll.protocol_type() {
                    let p = LaxSlicedPacket::from_ether_type(et, sll.payload_slice());
                    d.ethertype = et.0;
                    fill_from_sliced(&mut d, &p);
                } else {
                    d.bits |= bits::LLC;
                }
            }
            Err(_) => d.bits |= bits::MALFORMED,
        },
        LT_SLL2 => {
            // etherparse has no SLL2 slice; its 20-byte header starts with the ethertype and
            // ends with the 8-byte sender address (tcpdump's sll2 layout).
            if data.len() >= 20 {
                let et = u16::from_be_bytes([data[0], data[1]]);
                if data[11] == 6 {
                    let mut m = [0u8; 6];
                    m.copy_from_slice(&data[12..18]);
                    d.src_mac = mac_word(&m);
                }
                d.ethertype = et;
                let p = LaxSlicedPacket::from_ether_type(etherparse::EtherType(et), &data[20..]);
                fill_from_sliced(&mut d, &p);
            } else {
                d.bits |= bits::MALFORMED;
            }
        }
        other => {
            issues.push(CaptureIssue {
                file: path.to_path_buf(),
                packet_index: 0,
                byte_offset: 0,
                reason: format!(
                    "{UNSUPPORTED_LINK} {other}: packets kept with timestamps and lengths only"
                ),
                fatal: false,
            });
        }
    }
    d
}

pub(crate) fn fill_from_sliced(d: &mut Decoded, p: &LaxSlicedPacket<'_>) {
    let mut outer_et: Option<u16> = None;
    if let Some(LinkSlice::Ethernet2(e)) = &p.link {
        d.src_mac = mac_word(&e.source());
        d.dst_mac = mac_word(&e.destination());
        outer_et = Some(e.ether_type().0);
        d.ethertype = e.ether_type().0;
    }
    for ext in &p.link_exts {
        if let etherparse::LaxLinkExtSlice::Vlan(v) = ext {
            if d.vlan.is_none() {
                d.vlan = Some(v.vlan_identifier().value());
            }
            d.ethertype = v.ether_type().0;
        }
    }
    if outer_et.is_some_and(|et| et < 0x0600) {
        // 802.3 frame: the field is a length, the payload is LLC.
        d.bits |= bits::LLC;
        d.ethertype = 0;
        return;
    }
    if d.ethertype == 0x888e {
        d.bits |= bits::EAPOL;
    }
    let Some(net) = &p.net else {
        return;
    };
    let (b, declared_payload, ipp) = match net {
        LaxNetSlice::Ipv4(v4) => fill_ipv4(d, v4),
        LaxNetSlice::Ipv6(v6) => fill_ipv6(d, v6),
        LaxNetSlice::Arp(_) => return,
    };
    d.bits |= b | fill_transport(d, declared_payload, ipp, p.transport.as_ref());
}

/// IPv4 fields; returns the layer's bits, the payload length the header declares and the
/// payload slice.
#[inline]
pub(crate) fn fill_ipv4<'a>(
    d: &mut Decoded,
    v4: &'a etherparse::LaxIpv4Slice<'_>,
) -> (u16, u32, &'a etherparse::LaxIpPayloadSlice<'a>) {
    (bits::IP, fill_ipv4_header(d, &v4.header()), v4.payload())
}

/// IPv4 header fields (the caller adds [`bits::IP`]); returns the payload length the header
/// declares.
#[inline(always)]
pub(crate) fn fill_ipv4_header(d: &mut Decoded, h: &etherparse::Ipv4HeaderSlice<'_>) -> u32 {
    d.ip_len = h.total_len() as u32;
    d.ttl = h.ttl();
    d.src_ip = v4_mapped(h.source());
    d.dst_ip = v4_mapped(h.destination());
    d.ethertype = 0x0800;
    let hl = h.ihl() as u32 * 4;
    d.ip_len.saturating_sub(hl)
}

/// IPv6 fields; returns the layer's bits, the payload length after extension headers and
/// the payload slice.
#[inline]
pub(crate) fn fill_ipv6<'a>(
    d: &mut Decoded,
    v6: &'a etherparse::LaxIpv6Slice<'_>,
) -> (u16, u32, &'a etherparse::LaxIpPayloadSlice<'a>) {
    let h = v6.header();
    d.ip_len = h.payload_length() as u32 + 40;
    d.ttl = h.hop_limit();
    d.src_ip = u128::from_be_bytes(h.source());
    d.dst_ip = u128::from_be_bytes(h.destination());
    d.ethertype = 0x86dd;
    let ext = v6.extensions().slice().len() as u32;
    (
        bits::IP | bits::IPV6,
        (h.payload_length() as u32).saturating_sub(ext),
        v6.payload(),
    )
}

/// Transport fields; returns the transport's [`bits`] (see [`decode_link_into`] for why
/// they are not or-ed into `d` here).
#[inline(always)]
pub(crate) fn fill_transport(
    d: &mut Decoded,
    declared_payload: u32,
    ipp: &etherparse::LaxIpPayloadSlice<'_>,
    transport: Option<&TransportSlice<'_>>,
) -> u16 {
    d.ip_proto = ipp.ip_number.0;
    match transport {
        Some(TransportSlice::Tcp(t)) => {
            let (sport, dport) = (t.source_port(), t.destination_port());
            let tcp_len = declared_payload.saturating_sub(t.data_offset() as u32 * 4);
            d.sport = sport;
            d.dport = dport;
            d.tcp_flags = tcp_flag_byte(t.fin(), t.syn(), t.rst(), t.psh(), t.ack());
            d.tcp_len = tcp_len;
            bits::TCP | classify_tcp(sport, dport, tcp_len, t.payload())
        }
        Some(TransportSlice::Udp(u)) => {
            let (sport, dport) = (u.source_port(), u.destination_port());
            d.sport = sport;
            d.dport = dport;
            bits::UDP | classify_udp(sport, dport, declared_payload.saturating_sub(8))
        }
        // ICMP type and code take the place of the ports (Zeek's and Community ID's
        // convention), so a flow can carry its Community ID.
        Some(TransportSlice::Icmpv4(i)) => {
            d.sport = i.type_u8() as u16;
            d.dport = i.code_u8() as u16;
            bits::ICMP
        }
        Some(TransportSlice::Icmpv6(i)) => {
            d.sport = i.type_u8() as u16;
            d.dport = i.code_u8() as u16;
            bits::ICMP
        }
        _ => {
            let raw = ipp.payload;
            let ports = (raw.len() >= 4).then(|| {
                (
                    u16::from_be_bytes([raw[0], raw[1]]),
                    u16::from_be_bytes([raw[2], raw[3]]),
                )
            });
            match ipp.ip_number {
                etherparse::IpNumber::TCP => {
                    // etherparse only slices a complete TCP header; in headers-only captures the
                    // options may be cut. Ports, data offset and flags sit at fixed offsets
                    // (RFC 9293), which is what Wireshark reads for a partial header too.
                    let (sport, dport) = ports.unwrap_or((0, 0));
                    d.sport = sport;
                    d.dport = dport;
                    let mut tcp_len = 0;
                    if raw.len() >= 14 {
                        let off = (raw[12] >> 4) as u32 * 4;
                        let f = raw[13];
                        d.tcp_flags = tcp_flag_byte(
                            f & 1 != 0,
                            f & 2 != 0,
                            f & 4 != 0,
                            f & 8 != 0,
                            f & 16 != 0,
                        );
                        tcp_len = declared_payload.saturating_sub(off);
                        d.tcp_len = tcp_len;
                    }
                    bits::TCP | classify_tcp(sport, dport, tcp_len, &[])
                }
                etherparse::IpNumber::UDP => {
                    let (sport, dport) = ports.unwrap_or((0, 0));
                    d.sport = sport;
                    d.dport = dport;
                    bits::UDP | classify_udp(sport, dport, declared_payload.saturating_sub(8))
                }
                etherparse::IpNumber::ICMP | etherparse::IpNumber::IPV6_ICMP => {
                    // A header cut short still shows its type and code (not in a fragment).
                    if raw.len() >= 2 && !ipp.fragmented {
                        d.sport = raw[0] as u16;
                        d.dport = raw[1] as u16;
                    }
                    bits::ICMP
                }
                _ if declared_payload > 0 => bits::DATA,
                _ => 0,
            }
        }
    }
}

pub(crate) fn tcp_flag_byte(fin: bool, syn: bool, rst: bool, psh: bool, ack: bool) -> u8 {
    let f = |on: bool, bit: u8| if on { bit } else { 0 };
    f(fin, tcpf::FIN)
        | f(syn, tcpf::SYN)
        | f(rst, tcpf::RST)
        | f(psh, tcpf::PSH)
        | f(ack, tcpf::ACK)
}
