//! Protocol presence bits from ports and the first payload bytes (TLS, HTTP, DNS, NTP, SSDP).

use super::*;

pub(crate) const TLS_PORTS: [u16; 5] = [443, 8443, 8883, 993, 995];

pub(crate) const HTTP_PORTS: [u16; 3] = [80, 8080, 8000];

/// Recognises the application protocol of a TCP segment and returns its [`bits`]. With the
/// payload captured it looks at the bytes; when the snap length cut the payload, it falls
/// back to well-known ports.
#[inline(always)]
pub(crate) fn classify_tcp(sport: u16, dport: u16, tcp_len: u32, payload: &[u8]) -> u16 {
    let has_port = |p: u16| sport == p || dport == p;
    if has_port(53) {
        return bits::DNS;
    }
    if tcp_len == 0 {
        return 0;
    }
    if !payload.is_empty() {
        if is_tls_record(payload) {
            return if tls_has_certificate(payload) {
                bits::TLS | bits::X509
            } else {
                bits::TLS
            };
        }
        if is_http(payload) {
            return bits::HTTP;
        }
        // Otherwise a continuation segment of a TLS or HTTP stream on its usual port, below.
    }
    if TLS_PORTS.iter().any(|&p| has_port(p)) {
        bits::TLS
    } else if HTTP_PORTS.iter().any(|&p| has_port(p)) {
        bits::HTTP
    } else {
        bits::DATA
    }
}

#[inline(always)]
pub(crate) fn classify_udp(sport: u16, dport: u16, payload_len: u32) -> u16 {
    let has_port = |p: u16| sport == p || dport == p;
    if has_port(53) {
        bits::DNS
    } else if has_port(123) {
        bits::NTP
    } else if has_port(1900) {
        bits::SSDP
    } else if payload_len > 0 {
        bits::DATA
    } else {
        0
    }
}

pub(crate) fn is_tls_record(p: &[u8]) -> bool {
    p.len() >= 5 && (20..=23).contains(&p[0]) && p[1] == 3 && p[2] <= 4
}

/// Walks the TLS records and handshake messages present in the captured bytes looking for a
/// Certificate message (handshake type 11), which TLS 1.2 and older send in the clear.
pub(crate) fn tls_has_certificate(p: &[u8]) -> bool {
    let mut o = 0usize;
    while o + 5 <= p.len() {
        let ct = p[o];
        if !(20..=23).contains(&ct) || p[o + 1] != 3 {
            return false;
        }
        let len = u16::from_be_bytes([p[o + 3], p[o + 4]]) as usize;
        let body = &p[o + 5..(o + 5 + len).min(p.len())];
        if ct == 22 {
            let mut h = 0usize;
            while h + 4 <= body.len() {
                if body[h] == 11 {
                    return true;
                }
                let hl = ((body[h + 1] as usize) << 16)
                    | ((body[h + 2] as usize) << 8)
                    | body[h + 3] as usize;
                h += 4 + hl;
            }
        }
        o += 5 + len;
    }
    false
}

pub(crate) fn is_http(p: &[u8]) -> bool {
    const M: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"HTTP/1.",
        b"CONNECT ",
    ];
    M.iter().any(|m| p.starts_with(m))
}
