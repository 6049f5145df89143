//! Conversation keys: the per-file identity of a bidirectional conversation (protocol,
//! endpoints in canonical order, their MACs) that every packet row points at, and the
//! MAC packing they share with the store.

use super::*;

pub const MAC_NONE: [u8; 6] = [0; 6];

/// A bidirectional conversation key in canonical endpoint order (A <= B), including the MACs of
/// each endpoint (needed to attribute packets to devices).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ConvKey {
    /// IP protocol number for IP conversations; 0 for layer-2 ones.
    pub proto: u8,
    /// 0 for IP; ethertype (or 0 for 802.3/LLC) for layer-2 conversations.
    pub ethertype: u16,
    pub is_l2: bool,
    pub ip_a: [u8; 16],
    pub ip_b: [u8; 16],
    pub port_a: u16,
    pub port_b: u16,
    pub mac_a: [u8; 6],
    pub mac_b: [u8; 6],
    pub v6: bool,
}

/// One multiply-fold of two words (the 128-bit product's halves xored), as in foldhash.
#[inline]
pub(crate) fn fold(a: u64, b: u64) -> u64 {
    let p = a as u128 * b as u128;
    p as u64 ^ (p >> 64) as u64
}

/// The same hash the readers use per packet ([`RawKey`]): the key's words folded in four
/// independent multiplies rather than eleven field-by-field hasher calls. Equal keys give
/// equal words, as `Eq` requires.
impl std::hash::Hash for ConvKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash64());
    }
}

impl ConvKey {
    /// The key's 64-bit hash (see the `Hash` impl).
    #[inline]
    pub fn hash64(&self) -> u64 {
        RawKey::from_conv(self).hash64()
    }
}

pub(crate) const SEEDS: [u64; 8] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
    0x4528_21e6_38d0_1377,
    0xbe54_66cf_34e9_0c6c,
    0xc0ac_29b7_c97c_50dd,
    0x3f84_d5b5_b547_0917,
];

impl ConvKey {
    /// The flow identity (DESIGN "Flow"): the 5-tuple for IP, (ethertype, MAC pair) for L2.
    /// ICMP conversations carry type and code in the port fields; an ICMP flow is all ICMP
    /// between two hosts, as the 5-tuple (without ports) says.
    pub fn flow_identity(&self) -> ConvKey {
        if self.is_l2 {
            *self
        } else if matches!(self.proto, 1 | 58) {
            ConvKey {
                mac_a: MAC_NONE,
                mac_b: MAC_NONE,
                port_a: 0,
                port_b: 0,
                ..*self
            }
        } else {
            ConvKey {
                mac_a: MAC_NONE,
                mac_b: MAC_NONE,
                ..*self
            }
        }
    }
}

#[inline]
pub(crate) fn v4_mapped(a: [u8; 4]) -> u128 {
    0xffff_u128 << 32 | u32::from_be_bytes(a) as u128
}

/// A MAC as a big-endian 48-bit number, so numeric order is byte order.
#[inline]
pub fn mac_word(m: &[u8; 6]) -> u64 {
    u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]])
}

/// The inverse of [`mac_word`].
pub fn word_mac(w: u64) -> [u8; 6] {
    let b = w.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// A [`ConvKey`] in machine words, for interning: building, comparing and hashing it per
/// packet costs a few word operations instead of byte-array shuffles. Numeric order of the
/// big-endian words is the byte order [`ConvKey`] uses.
#[derive(Clone, Copy, Eq)]
pub(crate) struct RawKey {
    pub(crate) ip_a: u128,
    pub(crate) ip_b: u128,
    pub(crate) mac_a: u64,
    pub(crate) mac_b: u64,
    /// proto | ethertype << 8 | is_l2 << 24 | v6 << 25 | port_a << 32 | port_b << 48.
    pub(crate) small: u64,
}

/// Branch-free: every packet compares its key once against the recent-conversation cache, and
/// the derived field-by-field comparison cost a branch per field.
impl PartialEq for RawKey {
    #[inline(always)]
    fn eq(&self, o: &Self) -> bool {
        ((self.ip_a ^ o.ip_a)
            | (self.ip_b ^ o.ip_b)
            | ((self.mac_a ^ o.mac_a) | (self.mac_b ^ o.mac_b) | (self.small ^ o.small)) as u128)
            == 0
    }
}

impl RawKey {
    /// Matches no packet's key: the layer-2 bit and ports are never set together.
    pub(crate) const NONE: RawKey = RawKey {
        ip_a: 0,
        ip_b: 0,
        mac_a: 0,
        mac_b: 0,
        small: u64::MAX,
    };

    #[inline(always)]
    pub(crate) fn of(d: &Decoded) -> (RawKey, bool) {
        let smac = d.src_mac;
        let dmac = d.dst_mac;
        if d.bits & bits::IP != 0 {
            // Read, compared and moved as 64-bit halves: decoding has just stored each address
            // as two 8-byte writes, and a 16-byte load across them cannot be store-forwarded
            // (it stalled every packet).
            let s = ((d.src_ip >> 64) as u64, d.src_ip as u64);
            let t = ((d.dst_ip >> 64) as u64, d.dst_ip as u64);
            let ba = (s, d.sport) > (t, d.dport);
            let (a, b, pa, pb, mac_a, mac_b) = if ba {
                (t, s, d.dport, d.sport, dmac, smac)
            } else {
                (s, t, d.sport, d.dport, smac, dmac)
            };
            let ip_a = (a.0 as u128) << 64 | a.1 as u128;
            let ip_b = (b.0 as u128) << 64 | b.1 as u128;
            let v6 = (d.bits & bits::IPV6 != 0) as u64;
            let small = d.ip_proto as u64 | v6 << 25 | (pa as u64) << 32 | (pb as u64) << 48;
            (
                RawKey {
                    ip_a,
                    ip_b,
                    mac_a,
                    mac_b,
                    small,
                },
                ba,
            )
        } else {
            let ba = smac > dmac;
            let (mac_a, mac_b) = if ba { (dmac, smac) } else { (smac, dmac) };
            let small = (d.ethertype as u64) << 8 | 1 << 24;
            (
                RawKey {
                    ip_a: 0,
                    ip_b: 0,
                    mac_a,
                    mac_b,
                    small,
                },
                ba,
            )
        }
    }

    /// The key's slot in the recent-conversation cache: one multiply over the xor of its words
    /// (the full [`RawKey::hash64`] is only needed on a miss). A slot only has to spread
    /// conversations; IPv6 prefixes are left out of it.
    #[inline(always)]
    pub(crate) fn slot(&self) -> usize {
        let x = self.ip_a as u64
            ^ (self.ip_b as u64).rotate_left(21)
            ^ self.mac_a
            ^ self.mac_b.rotate_left(11)
            ^ self.small.rotate_left(37);
        (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize & (RECENT - 1)
    }

    #[inline(always)]
    pub(crate) fn hash64(&self) -> u64 {
        let h = fold(self.ip_a as u64 ^ SEEDS[0], self.ip_b as u64 ^ SEEDS[1])
            ^ fold(
                (self.ip_a >> 64) as u64 ^ SEEDS[2],
                (self.ip_b >> 64) as u64 ^ SEEDS[3],
            )
            ^ fold(self.mac_a ^ SEEDS[4], self.mac_b ^ SEEDS[5])
            ^ fold(self.small ^ SEEDS[6], SEEDS[7]);
        fold(h, SEEDS[7])
    }

    pub(crate) fn to_conv(self) -> ConvKey {
        let s = self.small;
        ConvKey {
            proto: s as u8,
            ethertype: (s >> 8) as u16,
            is_l2: s >> 24 & 1 != 0,
            ip_a: self.ip_a.to_be_bytes(),
            ip_b: self.ip_b.to_be_bytes(),
            port_a: (s >> 32) as u16,
            port_b: (s >> 48) as u16,
            mac_a: word_mac(self.mac_a),
            mac_b: word_mac(self.mac_b),
            v6: s >> 25 & 1 != 0,
        }
    }

    pub(crate) fn from_conv(k: &ConvKey) -> RawKey {
        RawKey {
            ip_a: u128::from_be_bytes(k.ip_a),
            ip_b: u128::from_be_bytes(k.ip_b),
            mac_a: mac_word(&k.mac_a),
            mac_b: mac_word(&k.mac_b),
            small: k.proto as u64
                | (k.ethertype as u64) << 8
                | (k.is_l2 as u64) << 24
                | (k.v6 as u64) << 25
                | (k.port_a as u64) << 32
                | (k.port_b as u64) << 48,
        }
    }
}
