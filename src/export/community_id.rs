//! Community ID v1 (the hash Zeek, Suricata and nfstream give a flow), so exported flows join
//! with other tools' logs.

use super::*;

/// Community ID v1 (the flow hash Zeek and Suricata use) of a flow.
/// `sport`/`dport` are ports, or ICMP type/code.
pub fn community_id(
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
    seed: u16,
) -> String {
    use base64::Engine;
    let bytes = |a: std::net::IpAddr| -> Vec<u8> {
        match a {
            std::net::IpAddr::V4(v) => v.octets().to_vec(),
            std::net::IpAddr::V6(v) => v.octets().to_vec(),
        }
    };
    let (mut sa, mut da) = (bytes(src), bytes(dst));
    let (mut sp, mut dp) = (sport, dport);
    let mut one_way = false;
    if proto == 1 || proto == 58 {
        // ICMP: map type to its counterpart so both directions hash alike.
        let pairs: &[(u16, u16)] = if proto == 1 {
            &[
                (8, 0),
                (0, 8),
                (13, 14),
                (14, 13),
                (15, 16),
                (16, 15),
                (10, 9),
                (9, 10),
                (17, 18),
                (18, 17),
            ]
        } else {
            &[
                (128, 129),
                (129, 128),
                (133, 134),
                (134, 133),
                (135, 136),
                (136, 135),
                (130, 131),
                (131, 130),
                (144, 145),
                (145, 144),
            ]
        };
        match pairs.iter().find(|p| p.0 == sport) {
            Some(&(_, other)) => dp = other,
            None => one_way = true,
        }
    }
    if !one_way && (sa > da || (sa == da && sp > dp)) {
        std::mem::swap(&mut sa, &mut da);
        std::mem::swap(&mut sp, &mut dp);
    }
    let mut h = sha1::Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(&sa);
    h.update(&da);
    h.update([proto, 0]);
    if matches!(proto, 1 | 6 | 17 | 58 | 132) {
        h.update(sp.to_be_bytes());
        h.update(dp.to_be_bytes());
    }
    format!(
        "1:{}",
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    )
}

/// The Community ID of a flow (none for layer-2 flows and protocols the spec does not cover).
pub fn flow_community_id(f: &Flow) -> Option<String> {
    if f.key.is_l2 || !matches!(f.key.proto, 1 | 6 | 17 | 58 | 132) {
        return None;
    }
    if matches!(f.key.proto, 1 | 58) {
        // The key holds the first packet's type (sender's side) and code (receiver's side).
        let (a, b) = (f.ip_a()?, f.ip_b()?);
        let (src, dst, ty, code) = if f.first_ba {
            (b, a, f.key.port_b, f.key.port_a)
        } else {
            (a, b, f.key.port_a, f.key.port_b)
        };
        return Some(community_id(src, dst, ty, code, f.key.proto, 0));
    }
    Some(community_id(
        f.ip_a()?,
        f.ip_b()?,
        f.key.port_a,
        f.key.port_b,
        f.key.proto,
        0,
    ))
}
