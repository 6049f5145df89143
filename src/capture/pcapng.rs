//! pcapng through pcap-parser's block parser, with each interface's clock (`if_tsresol`,
//! `if_tsoffset`) read as tshark reads it, and obsolete packet blocks.

use super::*;

pub(crate) struct Iface {
    pub(crate) linktype: Linktype,
    /// Units per second.
    pub(crate) resol: u64,
    pub(crate) offset_s: i64,
}

/// Where a pcapng read stands: the section's byte order and interfaces, the last packet's
/// time (simple packets and times out of range keep it), and the packets read.
struct Section {
    be: bool,
    ifaces: Vec<Iface>,
    seen_shb: bool,
    last_ts: i64,
    idx: u64,
    unrepresentable: OutOfRange,
}

pub(crate) fn read_pcapng<V: FnMut(Linktype, i64, u32, &[u8], u64)>(
    rd: &mut Chunked,
    out: &mut Meta,
    progress: Option<&Progress>,
    visit: &mut V,
) -> ReadResult {
    let mut st = Section {
        be: false,
        ifaces: Vec::new(),
        seen_shb: false,
        last_ts: 0,
        idx: 0,
        unrepresentable: OutOfRange::default(),
    };
    let mut last_report = 0u64;
    loop {
        rd.prefetch();
        let avail = rd.avail();
        if avail.is_empty() {
            if !rd.fill(12).map_err(|e| io_err(st.idx, e))? {
                break;
            }
            continue;
        }
        // No block has type 0 and length 0: zeros here are where blocks were to be written.
        if st.seen_shb && avail.len() >= 8 && avail[..8] == [0; 8] {
            out.issues.push(zero_tail(&out.path, st.idx, rd));
            break;
        }
        // Section headers carry their own byte order.
        let is_shb = avail.len() >= 4 && avail[..4] == [0x0a, 0x0d, 0x0d, 0x0a];
        let parsed = if is_shb {
            pcap_parser::parse_sectionheaderblock(avail).map(|(r, b)| (r, Block::SectionHeader(b)))
        } else if st.be {
            pcap_parser::parse_block_be(avail)
        } else {
            pcap_parser::parse_block_le(avail)
        };
        match parsed {
            Ok((rest, block)) => {
                let used = avail.len() - rest.len();
                rd.check(used).map_err(|r| (st.idx, r))?;
                let offset = rd.offset;
                if st.block(block, offset, out, visit)? {
                    rd.note_record(used);
                }
                rd.consume(used);
            }
            Err(e) => {
                let need = bytes_needed(e, avail, &st)?;
                let have = avail.len();
                if have + need > MAX_RECORD + 64 {
                    return Err((
                        st.idx,
                        format!("corrupt block length ({} bytes announced)", have + need),
                    ));
                }
                if !rd.fill(have + need).map_err(|e| io_err(st.idx, e))? {
                    if rd.avail().is_empty() {
                        break;
                    }
                    return Err((
                        st.idx,
                        format!(
                            "truncated last block ({} of {} bytes present)",
                            rd.avail().len(),
                            have + need
                        ),
                    ));
                }
            }
        }
        report_progress(progress, rd, &mut last_report, st.idx)?;
    }
    finish_read(progress, rd, last_report, st.idx)
}

/// How many more bytes a block that did not parse needs, or why it never will.
fn bytes_needed(
    e: pcap_parser::nom::Err<PcapError<&[u8]>>,
    avail: &[u8],
    st: &Section,
) -> Result<usize, (u64, String)> {
    Ok(match e {
        pcap_parser::nom::Err::Incomplete(pcap_parser::nom::Needed::Size(n)) => n.get(),
        pcap_parser::nom::Err::Incomplete(_) => 12,
        pcap_parser::nom::Err::Error(PcapError::Incomplete(n))
        | pcap_parser::nom::Err::Failure(PcapError::Incomplete(n)) => n,
        pcap_parser::nom::Err::Error(pe) | pcap_parser::nom::Err::Failure(pe) => {
            let what = if !st.seen_shb {
                "missing section header block".to_string()
            } else {
                corrupt_block(avail, st.be, &pe)
            };
            return Err((st.idx, what));
        }
    })
}

impl Section {
    /// Takes one parsed block starting at byte `offset`; true when it was a packet.
    fn block<V: FnMut(Linktype, i64, u32, &[u8], u64)>(
        &mut self,
        block: Block,
        offset: u64,
        out: &mut Meta,
        visit: &mut V,
    ) -> Result<bool, (u64, String)> {
        let idx = self.idx;
        let (lt, ns, orig_len, data) = match block {
            Block::SectionHeader(shb) => {
                self.be = shb.big_endian();
                self.ifaces.clear();
                self.seen_shb = true;
                return Ok(false);
            }
            Block::InterfaceDescription(idb) => {
                self.interface(&idb, offset, out);
                return Ok(false);
            }
            Block::EnhancedPacket(epb) => {
                let units = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                let (lt, ns) = packet_clock(&self.ifaces, epb.if_id, units, idx)?;
                (lt, ns, epb.origlen.max(epb.caplen), epb.data)
            }
            // pcap-parser gives an unknown block's type as read little-endian.
            Block::Unknown(ub)
                if OBSOLETE_PACKET_BLOCK
                    == if self.be {
                        ub.block_type.swap_bytes()
                    } else {
                        ub.block_type
                    } =>
            {
                let pb = ObsoletePacket::parse(ub.data, self.be).ok_or_else(|| {
                    (
                        idx,
                        "corrupt block (packet block shorter than its lengths)".into(),
                    )
                })?;
                let (lt, ns) = packet_clock(&self.ifaces, pb.if_id.into(), pb.units, idx)?;
                (lt, ns, pb.orig_len.max(pb.data.len() as u32), pb.data)
            }
            Block::SimplePacket(spb) => {
                let Some(ifc) = self.ifaces.first() else {
                    return Err((idx, "simple packet before any interface".into()));
                };
                // Simple packets have no timestamp; keep the previous one.
                (ifc.linktype, Some(self.last_ts), spb.origlen, spb.data)
            }
            _ => return Ok(false),
        };
        let ns = ns.unwrap_or_else(|| {
            self.unrepresentable.note(out, idx, offset);
            self.last_ts
        });
        self.last_ts = ns;
        visit(lt, ns, orig_len, data, offset);
        self.idx += 1;
        Ok(true)
    }

    /// An interface description: its link type and clock, with a warning for a clock that
    /// cannot be read.
    fn interface(
        &mut self,
        idb: &pcap_parser::InterfaceDescriptionBlock<'_>,
        offset: u64,
        out: &mut Meta,
    ) {
        let n = self.ifaces.len();
        let idx = self.idx;
        let mut warn = |why: String, then: &str| {
            out.issues.push(CaptureIssue {
                file: out.path.clone(),
                packet_index: idx,
                byte_offset: offset,
                reason: format!("interface {n}: {why}; {then}"),
                fatal: false,
            })
        };
        let resol = iface_resolution(idb).unwrap_or_else(|why| {
            warn(why, "its times are read as microseconds");
            1_000_000
        });
        let offset_s = iface_offset(idb, self.be).unwrap_or_else(|why| {
            warn(why, "no offset is added to its times");
            0
        });
        out.link_types.push(idb.linktype.0);
        self.ifaces.push(Iface {
            linktype: idb.linktype,
            resol,
            offset_s,
        });
    }
}

/// Why a pcapng block could not be read, by its type and announced length (never its bytes,
/// which a damaged file can make a megabyte long).
pub(crate) fn corrupt_block(b: &[u8], be: bool, e: &PcapError<&[u8]>) -> String {
    let word = |at: usize| {
        b.get(at..at + 4).map(|w| {
            let w: [u8; 4] = w.try_into().expect("four bytes");
            if be {
                u32::from_be_bytes(w)
            } else {
                u32::from_le_bytes(w)
            }
        })
    };
    let why = match e {
        PcapError::Eof => "unexpected end of data".to_string(),
        PcapError::ReadError => "read error".to_string(),
        PcapError::Incomplete(n) => format!("{n} more bytes needed"),
        PcapError::HeaderNotRecognized => "header not recognized".to_string(),
        PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
            format!("malformed content ({kind:?})")
        }
        _ => "malformed content".to_string(),
    };
    match (word(0), word(4)) {
        (Some(t), Some(len)) => {
            format!("corrupt block (type {t:#010x}, announced length {len} bytes: {why})")
        }
        _ => format!("corrupt block ({why})"),
    }
}

/// An interface's timestamp units per second (`if_tsresol`), or why it cannot be used. Read
/// from the option here because pcap-parser 0.17 rejects every power-of-two resolution (its
/// bound check includes the mode bit).
pub(crate) fn iface_resolution(
    idb: &pcap_parser::InterfaceDescriptionBlock<'_>,
) -> Result<u64, String> {
    match idb.if_tsresol() {
        None => Ok(1_000_000),
        Some(Err(_)) => Err("its if_tsresol option is not one byte long".into()),
        Some(Ok(r)) if r & 0x80 != 0 && r & 0x7f <= 63 => Ok(1u64 << (r & 0x7f)),
        Some(Ok(r)) if r <= 19 => Ok(10u64.pow(r.into())),
        Some(Ok(r)) => Err(format!(
            "its timestamp resolution {r:#04x} is not supported"
        )),
    }
}

/// An interface's `if_tsoffset` in seconds, or why it cannot be used. Read from the option
/// in the section's byte order: pcap-parser 0.17 reads it little-endian in every section.
pub(crate) fn iface_offset(
    idb: &pcap_parser::InterfaceDescriptionBlock<'_>,
    be: bool,
) -> Result<i64, String> {
    let code = pcap_parser::pcapng::OptionCode::IfTsoffset;
    let Some(o) = idb.options.iter().find(|o| o.code == code) else {
        return Ok(0);
    };
    match o.as_bytes().ok().and_then(|v| <[u8; 8]>::try_from(v).ok()) {
        Some(v) if be => Ok(i64::from_be_bytes(v)),
        Some(v) => Ok(i64::from_le_bytes(v)),
        None => Err("its if_tsoffset option is not eight bytes long".into()),
    }
}

/// pcapng's obsolete Packet Block (the format's first packet block, replaced by the enhanced
/// one), still read by tshark; pcap-parser hands it over as an unknown block.
pub(crate) const OBSOLETE_PACKET_BLOCK: u32 = 2;

/// The fields of an obsolete Packet Block: an enhanced packet block with a 16-bit interface id
/// and a drop count.
pub(crate) struct ObsoletePacket<'a> {
    pub(crate) if_id: u16,
    pub(crate) units: u64,
    pub(crate) orig_len: u32,
    pub(crate) data: &'a [u8],
}

impl<'a> ObsoletePacket<'a> {
    /// From the block's body (after type and length) in the section's byte order; `None`
    /// when the body is shorter than its fixed fields and captured length.
    pub(crate) fn parse(body: &'a [u8], be: bool) -> Option<Self> {
        // The `N` bytes at `i`, most significant first whatever the section's byte order.
        fn at<const N: usize>(body: &[u8], i: usize, be: bool) -> Option<[u8; N]> {
            let mut w: [u8; N] = body.get(i..i + N)?.try_into().ok()?;
            if !be {
                w.reverse();
            }
            Some(w)
        }
        let u16_at = |i| at(body, i, be).map(u16::from_be_bytes);
        let u32_at = |i| at(body, i, be).map(u32::from_be_bytes);
        let cap = u32_at(12)? as usize;
        Some(ObsoletePacket {
            if_id: u16_at(0)?,
            units: (u32_at(4)? as u64) << 32 | u32_at(8)? as u64,
            orig_len: u32_at(16)?,
            data: body.get(20..20usize.checked_add(cap)?)?,
        })
    }
}

/// A packet's link type and time ([`epb_time`]) from its interface; an unknown interface
/// ends the read at packet `idx`.
#[inline]
pub(crate) fn packet_clock(
    ifaces: &[Iface],
    if_id: u32,
    units: u64,
    idx: u64,
) -> Result<(Linktype, Option<i64>), (u64, String)> {
    match ifaces.get(if_id as usize) {
        Some(ifc) => Ok((ifc.linktype, epb_time(units, ifc))),
        None => Err((idx, format!("packet refers to unknown interface {if_id}"))),
    }
}

/// An enhanced packet block's time in ns since the epoch: its units at the interface's
/// resolution plus the interface's `if_tsoffset`. `None` beyond what an `i64` of ns holds
/// (after 2262), which plain arithmetic would wrap into a plausible but wrong time, and
/// before 1970 (only a negative offset gets there): a corrupt timestamp or offset. Packet
/// times are then never negative, as in legacy pcap, and any two of them are less than
/// `i64::MAX` ns apart, so spans never overflow.
pub(crate) fn epb_time(units: u64, ifc: &Iface) -> Option<i64> {
    let ns = (units as u128 * 1_000_000_000 / ifc.resol as u128) as i128;
    let ns = i64::try_from(ns + ifc.offset_s as i128 * 1_000_000_000).ok()?;
    (ns >= 0).then_some(ns)
}

/// Packets of one pcapng file whose time is out of range ([`epb_time`]). They are kept, with
/// the previous packet's time (as simple packets are), so packet counts still match other
/// tools; one warning per file names the first and counts them all.
#[derive(Default)]
pub(crate) struct OutOfRange {
    /// The warning's place in [`Meta::issues`], once there is one.
    pub(crate) at: Option<usize>,
    pub(crate) count: u64,
}

impl OutOfRange {
    #[cold]
    #[inline(never)]
    pub(crate) fn note(&mut self, out: &mut Meta, idx: u64, offset: u64) {
        self.count += 1;
        let reason = format!(
            "timestamp out of range (before 1970 or after 2262: a corrupt time or interface \
             offset): {} packet(s) from here on given the previous packet's time (the epoch before \
             any)",
            self.count
        );
        match self.at {
            Some(i) => out.issues[i].reason = reason,
            None => {
                self.at = Some(out.issues.len());
                out.issues.push(CaptureIssue {
                    file: out.path.clone(),
                    packet_index: idx,
                    byte_offset: offset,
                    reason,
                    fatal: false,
                });
            }
        }
    }
}
