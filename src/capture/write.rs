//! Writing legacy pcap (nanosecond variant): the one writer for pcap slices and the
//! simulator's captures. The header comes from pcap-parser's serializer; records are appended
//! here in place, because pcap-parser's `ToVec` allocates a vector per record and the
//! simulator writes fifty million of them for a lab week.

use pcap_parser::ToVec;

use crate::timefmt::NS_PER_S;

/// The 24-byte global header of a little-endian, nanosecond pcap of link type `linktype`.
pub fn pcap_header(linktype: pcap_parser::Linktype, snaplen: u32) -> Vec<u8> {
    let mut hdr = pcap_parser::PcapHeader::new();
    hdr.magic_number = 0xa1b2_3c4d;
    hdr.snaplen = snaplen;
    hdr.network = linktype;
    hdr.to_vec_raw().expect("a pcap header always serializes")
}

/// Appends one record (`ts_ns` since the epoch, the frame's original length, its captured
/// bytes) in the layout of [`pcap_header`]: seconds, nanoseconds, captured and original length.
pub fn append_record(out: &mut Vec<u8>, ts_ns: i64, orig_len: u32, data: &[u8]) {
    out.extend_from_slice(&(ts_ns.div_euclid(NS_PER_S) as u32).to_le_bytes());
    out.extend_from_slice(&(ts_ns.rem_euclid(NS_PER_S) as u32).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&orig_len.to_le_bytes());
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is written reads back through pcap-parser with the same times and lengths.
    #[test]
    fn records_read_back_through_pcap_parser() {
        let mut b = pcap_header(pcap_parser::Linktype(1), 96);
        append_record(&mut b, 1_615_200_000_123_456_789, 1514, &[7u8; 60]);
        let (rest, h) = pcap_parser::parse_pcap_header(&b).unwrap();
        assert!(h.is_nanosecond_precision());
        let (_, r) = pcap_parser::parse_pcap_frame(rest).unwrap();
        assert_eq!(
            (r.ts_sec, r.ts_usec, r.caplen, r.origlen),
            (1_615_200_000, 123_456_789, 60, 1514)
        );
    }
}
