//! Legacy pcap (and the modified format) through pcap-parser's record parser: record by record,
//! with the file's link type and timestamp unit, and zero-filled tails read as the end.

use super::*;

/// `visit` receives each record: link type, timestamp (ns), original length, captured bytes.
/// It is generic so that decoding inlines into the record loop.
pub(crate) fn read_pcap<V: FnMut(Linktype, i64, u32, &[u8], u64)>(
    rd: &mut Chunked,
    out: &mut Meta,
    progress: Option<&Progress>,
    (part, span_start): (Part, &Cell<Option<u64>>),
    visit: &mut V,
) -> ReadResult {
    let hdr = match pcap_parser::parse_pcap_header(rd.avail()) {
        Ok((_, h)) => h,
        Err(_) if rd.avail().starts_with(&[0xa1, 0xb2, 0xcd, 0x34]) => {
            return Err((
                0,
                "big-endian modified (Kuznetzov) pcap format is not supported".into(),
            ))
        }
        Err(_) => return Err((0, "truncated pcap global header".into())),
    };
    // The modified (Kuznetzov) format of old Red Hat tcpdumps adds 8 bytes to each record
    // header; pcap-parser reads it little-endian only, as it writes it (so does editcap).
    let modified = hdr.is_modified_format();
    rd.consume(24);
    let be = hdr.is_bigendian();
    let ns = hdr.is_nanosecond_precision();
    let lt = legacy_linktype(hdr.network);
    out.link_types.push(lt.0);
    // The part to read: records from `start` until one would begin at `end`. A segment whose
    // end is not a record boundary (the next one's start was a wrong guess) reads on to the
    // end of the file; the merge then drops the segments after it.
    let (start, mut end) = match part {
        Part::Whole => (24, u64::MAX),
        Part::From(at) => (at, u64::MAX),
        Part::Segment {
            index,
            count,
            bytes,
        } => match &rd.map {
            Some(m) => match segment_range(m.bytes(), be, ns, index, count, bytes) {
                Some((a, b)) => (a as u64, b as u64),
                None => return Ok(()),
            },
            None if index == 0 => (24, u64::MAX),
            None => return Ok(()),
        },
    };
    if part != Part::Whole {
        if start > 24 {
            rd.skip_to(start).map_err(|e| io_err(0, e))?;
        }
        span_start.set(Some(rd.offset));
    }
    let mut idx: u64 = 0;
    let mut last_report = rd.file_pos();
    loop {
        if rd.offset >= end {
            if rd.offset == end {
                break;
            }
            end = u64::MAX;
        }
        rd.prefetch();
        let parsed = if be {
            pcap_parser::parse_pcap_frame_be(rd.avail())
        } else if modified {
            pcap_parser::parse_pcap_frame_modified(rd.avail())
        } else {
            pcap_parser::parse_pcap_frame(rd.avail())
        };
        // Matched by reference so the record's fields are read one by one: moving the whole
        // result out cost a store-forwarding stall per packet (a twelfth of ingest time).
        let mut zero_header = false;
        match &parsed {
            Ok((_, blk))
                if blk.ts_sec == 0 && blk.ts_usec == 0 && blk.caplen == 0 && blk.origlen == 0 =>
            {
                zero_header = true;
            }
            Ok((rest, blk)) => {
                let used = rd.avail().len() - rest.len();
                rd.check(used).map_err(|r| (idx, r))?;
                rd.note_record(used);
                let frac = blk.ts_usec as i64;
                let ts = blk.ts_sec as i64 * 1_000_000_000 + if ns { frac } else { frac * 1000 };
                if blk.caplen > blk.origlen && blk.origlen != 0 {
                    out.issues.push(CaptureIssue {
                        file: out.path.clone(),
                        packet_index: idx,
                        byte_offset: rd.offset,
                        reason: format!(
                            "captured length {} exceeds original length {}",
                            blk.caplen, blk.origlen
                        ),
                        fatal: false,
                    });
                }
                visit(lt, ts, blk.origlen.max(blk.caplen), blk.data, rd.offset);
                rd.consume(used);
                idx += 1;
            }
            Err(nom_err) => {
                let need = match nom_err {
                    pcap_parser::nom::Err::Incomplete(pcap_parser::nom::Needed::Size(n)) => n.get(),
                    pcap_parser::nom::Err::Incomplete(_) => 16,
                    _ => return Err((idx, "corrupt packet record".into())),
                };
                let have = rd.avail().len();
                if have + need > MAX_RECORD + 16 {
                    return Err((
                        idx,
                        format!(
                            "corrupt record length ({} bytes announced)",
                            have + need - 16
                        ),
                    ));
                }
                if !rd.fill(have + need).map_err(|e| io_err(idx, e))? {
                    if rd.avail().is_empty() {
                        break;
                    }
                    if rd.avail().iter().all(|&b| b == 0) {
                        out.issues.push(zero_tail(&out.path, idx, rd));
                        break;
                    }
                    return Err((
                        idx,
                        format!(
                            "truncated last record ({} of {} bytes present)",
                            rd.avail().len(),
                            have + need
                        ),
                    ));
                }
            }
        }
        if zero_header {
            // A record header of zeros followed by more zeros (or the end) is not a packet:
            // a pre-allocated file or a crash left zeros where records were to be written.
            if zeros_follow(rd, 16).map_err(|e| io_err(idx, e))? {
                out.issues.push(zero_tail(&out.path, idx, rd));
                break;
            }
            rd.check(16).map_err(|r| (idx, r))?;
            rd.note_record(16);
            visit(lt, 0, 0, &[], rd.offset);
            rd.consume(16);
            idx += 1;
        }
        report_progress(progress, rd, &mut last_report, idx)?;
    }
    finish_read(progress, rd, last_report, idx)
}

/// Whether the `n` bytes after the next `at` are all zero, or the data ends before them.
pub(crate) fn zeros_follow(rd: &mut Chunked, at: usize) -> std::io::Result<bool> {
    let full = rd.fill(at + 16)?;
    let a = rd.avail();
    let next = &a[at.min(a.len())..a.len().min(at + 16)];
    Ok(next.iter().all(|&b| b == 0) && (full || next.len() < 16))
}

/// The warning for a run of zeros where the next record or block should begin: the data ends
/// there, as tshark reads it.
#[cold]
pub(crate) fn zero_tail(path: &Path, idx: u64, rd: &Chunked) -> CaptureIssue {
    let len = rd.file.metadata().map_or(0, |m| m.len());
    let rest = match &rd.packed {
        None if len >= rd.offset => format!(" ({} bytes to the end of the file)", len - rd.offset),
        _ => String::new(),
    };
    CaptureIssue {
        file: path.to_path_buf(),
        packet_index: idx,
        byte_offset: rd.offset,
        reason: format!(
            "zero-filled data where the next record should begin{rest}: read as the end of the \
             capture (a file pre-allocated, or cut short by a crash)"
        ),
        fatal: false,
    }
}

/// The link type of a legacy pcap header's link-type field. Newer libpcap writes an FCS
/// length into its top bits (a flag in bit 26, the length in 16-bit words in bits 28-31)
/// when frames keep their frame check sequence; read whole, such a field named no known
/// link type and every packet lost its headers. Ethernet frames need nothing more: the
/// trailing FCS lies past the IP datagram, whose own length bounds what is decoded, and is
/// part of the original length, as in tshark's `frame.len`. A field with reserved bits
/// (16-25) set is kept whole, so it is reported as an unsupported link type.
pub(crate) fn legacy_linktype(field: Linktype) -> Linktype {
    let raw = field.0 as u32;
    if raw & 0x03ff_0000 != 0 {
        field
    } else {
        Linktype((raw & 0xffff) as i32)
    }
}
