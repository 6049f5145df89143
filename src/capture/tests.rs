use super::*;

/// A little-endian microsecond pcap of `n` 60-byte ARP frames, timestamps 1000 s + i.
fn small_pcap(n: u32) -> Vec<u8> {
    let mut b = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    for i in 0..n {
        b.extend_from_slice(&(1000 + i).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&60u32.to_le_bytes());
        b.extend_from_slice(&60u32.to_le_bytes());
        let mut frame = [0u8; 60];
        frame[..6].copy_from_slice(&[0xff; 6]);
        frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        frame[12..14].copy_from_slice(&[0x08, 0x06]);
        b.extend_from_slice(&frame);
    }
    b
}

/// [`small_pcap`]`(n)` written to `dir`, opened (mapped), then cut to `cut` bytes by
/// "another program".
#[cfg(target_os = "linux")]
fn mapped_then_cut(dir: &Path, n: u32, cut: u64) -> (PathBuf, Chunked) {
    let p = dir.join(format!("cut-{n}-{cut}.pcap"));
    std::fs::write(&p, small_pcap(n)).unwrap();
    let rd = Chunked::mapped(File::open(&p).unwrap());
    assert!(rd.map.is_some(), "mapped");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(cut)
        .unwrap();
    (p, rd)
}

/// Capture arguments name each file once, in the order first given, whatever mix of
/// globs and paths names it; folders a glob matches are passed over; a pattern with no
/// file, or a missing file, is an error naming it.
#[test]
fn capture_arguments_name_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    for f in ["b.pcap", "a.pcap", "c.pcapng"] {
        std::fs::write(base.join(f), small_pcap(1)).unwrap();
    }
    std::fs::create_dir(base.join("d.pcap")).unwrap();
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let names = |a: &[&str]| -> Vec<String> {
        expand_captures(base, &args(a))
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names(&["*.pcap"]), ["a.pcap", "b.pcap"]);
    assert_eq!(
        names(&["c.pcapng", "*.pcap", "./b.pcap", "*"]),
        ["c.pcapng", "a.pcap", "b.pcap"]
    );
    let abs = base.join("a.pcap").to_string_lossy().into_owned();
    assert_eq!(names(&[&abs, "a.pcap", "[ab].pcap"]), ["a.pcap", "b.pcap"]);
    let e = expand_captures(base, &args(&["*.pcap", "x/*.pcap"])).unwrap_err();
    assert_eq!(e, "x/*.pcap: no file matches");
    let e = expand_captures(base, &args(&["d.*"])).unwrap_err();
    assert_eq!(e, "d.*: no file matches");
    let e = expand_captures(base, &args(&["gone.pcap"])).unwrap_err();
    assert!(e.ends_with("gone.pcap: capture file not found"), "{e}");
    std::fs::create_dir(base.join("lab [1]")).unwrap();
    std::fs::write(base.join("lab [1]").join("x.pcap"), small_pcap(1)).unwrap();
    assert_eq!(names(&["lab [1]/x.pcap"]), ["x.pcap"]);
    assert_eq!(names(&["lab [[]1[]]/*.pcap"]), ["x.pcap"]);
    // The base folder (the project's) is taken literally under a relative glob.
    let lab = expand_captures(&base.join("lab [1]"), &args(&["*.pcap"])).unwrap();
    assert_eq!(lab, [base.join("lab [1]").join("x.pcap")]);
    let e = expand_captures(base, &args(&["d.pcap"])).unwrap_err();
    assert!(
        e.ends_with("d.pcap: is a folder; name its captures with a glob, such as 'd.pcap/*.pcap*'"),
        "{e}"
    );
}

/// Reading on from a record boundary ([`Part::From`]) gives the records from there, both
/// from a map and from a file read with `read` (which seeks past its first chunk), and a
/// segment of an unmapped file other than the first reads nothing.
#[test]
fn reading_from_an_offset_gives_the_records_from_there() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("from.pcap");
    // 20,000 records of 76 bytes: 1.5 MB, more than the first 1 MiB chunk.
    std::fs::write(&p, small_pcap(20_000)).unwrap();
    for (mapped, first) in [(true, 100u64), (false, 100), (false, 19_000)] {
        let f = File::open(&p).unwrap();
        let rd = if mapped {
            Chunked::mapped(f)
        } else {
            Chunked::read(f).unwrap()
        };
        let at = Part::From(24 + 76 * first);
        let out = read_opened(&p, Ok(rd), None, Vec::new(), None, at);
        assert!(out.issues.is_empty(), "{:?}", out.issues);
        let ts: Vec<i64> = out.cols.rows.iter().map(|r| r.ts).collect();
        let want: Vec<i64> = (first as i64..20_000)
            .map(|i| (1000 + i) * 1_000_000_000)
            .collect();
        assert_eq!(ts, want, "mapped {mapped}, from record {first}");
        assert_eq!(out.span, Some((24 + 76 * first, 24 + 76 * 20_000)));
    }
    let rd = Chunked::read(File::open(&p).unwrap()).unwrap();
    let seg = Part::Segment {
        index: 1,
        count: 2,
        bytes: 1 << 19,
    };
    let out = read_opened(&p, Ok(rd), None, Vec::new(), None, seg);
    assert!(out.cols.is_empty() && out.span.is_none() && out.issues.is_empty());
}

/// A capture cut by another program after it was mapped: the packets wholly before the
/// cut are kept (none read from zeros past it), and the error names the packet and byte.
/// Cuts inside a page that is followed by lost pages (SIGBUS, caught), inside the last
/// page (no fault at all: found by the length check at the end), and to nothing.
#[cfg(target_os = "linux")]
#[test]
fn a_capture_cut_while_mapped_keeps_what_precedes_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    for (n, cut) in [(400u32, 3 * 4096 + 100u64), (200, 14_000), (400, 0)] {
        let (p, rd) = mapped_then_cut(dir.path(), n, cut);
        let out = read_opened(&p, Ok(rd), None, Vec::new(), None, Part::Whole);
        let whole = (cut.saturating_sub(24) / 76) as usize;
        let ts: Vec<i64> = out.cols.rows.iter().map(|r| r.ts).collect();
        let want: Vec<i64> = (0..whole as i64)
            .map(|i| (1000 + i) * 1_000_000_000)
            .collect();
        assert_eq!(ts, want, "n {n} cut {cut}");
        let i = out.issues.last().expect("an issue");
        assert!(i.fatal && i.reason.contains("shrank"), "{i}");
        assert_eq!(i.packet_index, whole as u64, "{i}");
        if cut > 0 {
            assert_eq!(i.byte_offset, 24 + 76 * whole as u64, "{i}");
        }
    }
}

/// A capture cut by another program while it is read (not mapped): what was read is the
/// file's own bytes and is kept, and the shrink is an error naming the packet and byte,
/// whether the cut falls on a record boundary (otherwise a silent early end) or inside one.
#[test]
fn a_capture_cut_while_read_keeps_what_precedes_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    // 20,000 records of 76 bytes: 1.5 MB, so the cut lies past the first 1 MiB chunk.
    for cut in [24 + 76 * 15_000u64, 24 + 76 * 15_000 + 30] {
        let p = dir.path().join(format!("read-cut-{cut}.pcap"));
        std::fs::write(&p, small_pcap(20_000)).unwrap();
        let mut rd = Chunked::read(File::open(&p).unwrap()).unwrap();
        assert!(rd.map.is_none());
        rd.fill(CHUNK).unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let out = read_opened(&p, Ok(rd), None, Vec::new(), None, Part::Whole);
        let ts: Vec<i64> = out.cols.rows.iter().map(|r| r.ts).collect();
        let want: Vec<i64> = (0..15_000).map(|i| (1000 + i) * 1_000_000_000).collect();
        assert_eq!(ts, want, "cut {cut}");
        let i = out.issues.last().expect("an issue");
        assert!(i.fatal && i.reason.contains("shrank"), "{i}");
        assert_eq!(i.packet_index, 15_000, "{i}");
        assert_eq!(i.byte_offset, 24 + 76 * 15_000, "{i}");
    }
}

/// The same cut, read in pieces ([`read_capture_pieces`]) of the smallest size: pieces
/// were handed on before the cut, and the records past it are still taken back.
#[cfg(target_os = "linux")]
#[test]
fn a_capture_cut_while_read_in_pieces_keeps_what_precedes_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    // 2,000 whole records, then zeros to the page end: pieces are handed on every 512
    // records from the 1,024th, so one is handed on amid the records read from zeros.
    let (n, cut) = (3000u32, 24 + 76 * 2000 + 30u64);
    let (p, rd) = mapped_then_cut(dir.path(), n, cut);
    let mut pieces: Vec<FileParse> = Vec::new();
    let mut emit = |fp: FileParse| {
        pieces.push(fp);
        Vec::new()
    };
    let last = read_opened(
        &p,
        Ok(rd),
        None,
        Vec::new(),
        Some((1, &mut emit)),
        Part::Whole,
    );
    assert!(pieces.len() >= 2, "{} pieces before the cut", pieces.len());
    assert!(pieces.iter().all(|f| f.issues.is_empty()));
    let whole = (cut.saturating_sub(24) / 76) as usize;
    let ts: Vec<i64> = pieces
        .iter()
        .chain([&last])
        .flat_map(|f| f.cols.rows.iter().map(|r| r.ts))
        .collect();
    let want: Vec<i64> = (0..whole as i64)
        .map(|i| (1000 + i) * 1_000_000_000)
        .collect();
    assert_eq!(ts, want);
    let i = last.issues.last().expect("an issue");
    assert!(i.fatal && i.reason.contains("shrank"), "{i}");
    assert_eq!(
        (i.packet_index, i.byte_offset),
        (whole as u64, 24 + 76 * whole as u64)
    );
}

/// Whether this process has the page at `addr` mapped in (bit 63 of its pagemap entry,
/// readable without privileges).
#[cfg(target_os = "linux")]
fn resident(addr: usize) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open("/proc/self/pagemap").unwrap();
    f.seek(SeekFrom::Start((addr / 4096 * 8) as u64)).unwrap();
    let mut e = [0u8; 8];
    f.read_exact(&mut e).unwrap();
    u64::from_le_bytes(e) >> 63 == 1
}

/// A mapped capture leaves the process's resident set as it is parsed: the pages read
/// [`RELEASE_STEP`] bytes back are no longer mapped in, while the last ones still are.
#[cfg(target_os = "linux")]
#[test]
fn parsed_pages_of_a_mapped_capture_leave_the_resident_set() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.pcap");
    let n = 150_000u32;
    std::fs::write(&p, small_pcap(n)).unwrap();
    let mut rd = Chunked::mapped(File::open(&p).unwrap());
    let (base, len) = {
        let m = rd.map.as_ref().expect("mapped").bytes();
        (m.as_ptr() as usize, m.len())
    };
    assert!(len > RELEASE_STEP + (1 << 20));
    let mut meta = Meta {
        path: p.clone(),
        issues: Vec::new(),
        link_types: Vec::new(),
    };
    let mut count = 0u32;
    let mut visit = |_: Linktype, _: i64, _: u32, data: &[u8], _: u64| {
        assert_eq!(data[12..14], [0x08, 0x06]);
        count += 1;
    };
    read_pcap(
        &mut rd,
        &mut meta,
        None,
        (Part::Whole, &Cell::new(None)),
        &mut visit,
    )
    .unwrap();
    assert_eq!(count, n);
    for off in [0, 4096, RELEASE_STEP / 2, RELEASE_STEP - 4096] {
        assert!(!resident(base + off), "page at {off} still mapped in");
    }
    assert!(resident(base + len - 1), "the last page was just read");
}

/// A pcapng block of type `t` (body padded to 4 bytes) in either byte order.
fn ng_block(be: bool, t: u32, mut body: Vec<u8>) -> Vec<u8> {
    let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    body.resize(body.len().next_multiple_of(4), 0);
    let len = (12 + body.len()) as u32;
    let mut b = [w(t), w(len)].concat();
    b.extend(body);
    b.extend(w(len));
    b
}

/// A pcapng with one Ethernet interface whose options are `if_tsresol` and `if_tsoffset`
/// when given, and one ARP frame per timestamp (in the interface's units).
fn pcapng_clock(be: bool, resol: Option<u8>, offset_s: Option<i64>, units: &[u64]) -> Vec<u8> {
    let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut shb = w32(0x1A2B_3C4D).to_vec();
    shb.extend([w16(1), w16(0)].concat());
    shb.extend((-1i64).to_le_bytes());
    let mut idb = [w16(1), w16(0)].concat();
    idb.extend(w32(65535));
    if let Some(r) = resol {
        idb.extend([w16(9), w16(1)].concat());
        idb.extend([r, 0, 0, 0]);
    }
    if let Some(o) = offset_s {
        idb.extend([w16(14), w16(8)].concat());
        idb.extend(if be { o.to_be_bytes() } else { o.to_le_bytes() });
    }
    idb.extend([0; 4]);
    let mut out = [ng_block(be, 0x0A0D_0D0A, shb), ng_block(be, 1, idb)].concat();
    let frame = arp_frame();
    for &u in units {
        let mut epb = w32(0).to_vec();
        epb.extend(w32((u >> 32) as u32));
        epb.extend(w32(u as u32));
        epb.extend([w32(42), w32(42)].concat());
        epb.extend(&frame);
        out.extend(ng_block(be, 6, epb));
    }
    out
}

/// A 42-byte broadcast ARP frame from 02:00:00:00:00:01.
fn arp_frame() -> Vec<u8> {
    let mut frame = vec![0xff; 6];
    frame.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    frame.resize(42, 0);
    frame
}

/// `bytes` written to `dir/name` and read back as a capture.
fn read_bytes(dir: &Path, name: &str, bytes: Vec<u8>) -> FileParse {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    read_capture(&p, None)
}

fn pcapng_with_offset(offset_s: i64, units: &[u64]) -> Vec<u8> {
    pcapng_clock(false, None, Some(offset_s), units)
}

#[test]
fn pcapng_times_out_of_range_are_warned_not_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    let read = |name: &str, bytes: Vec<u8>| read_bytes(dir.path(), name, bytes);
    let us = 1_600_000_000_000_000u64;
    // A sane offset is added to every packet.
    let ok = read("ok.pcapng", pcapng_with_offset(100, &[us, us + 1_000_000]));
    let ts: Vec<i64> = ok.cols.rows.iter().map(|r| r.ts).collect();
    assert_eq!(ts, [1_600_000_100_000_000_000, 1_600_000_101_000_000_000]);
    assert!(ok.issues.is_empty(), "{:?}", ok.issues);
    // 2^62 s times 1e9 wraps to exactly 0 in i64: it must be warned about, not ignored.
    let bad = read("offset.pcapng", pcapng_with_offset(1 << 62, &[us, us]));
    assert_eq!(bad.cols.len(), 2);
    assert!(bad.cols.rows.iter().all(|r| r.ts == 0));
    assert_eq!(bad.issues.len(), 1, "{:?}", bad.issues);
    let i = &bad.issues[0];
    assert_eq!((i.packet_index, i.byte_offset, i.fatal), (0, 64, false));
    assert!(i.reason.contains("out of range") && i.reason.contains("2 packet(s)"));
    // One corrupt time among good ones: it takes the time before it; counts are kept.
    let one = read("one.pcapng", pcapng_with_offset(0, &[us, u64::MAX, us + 2]));
    let ts: Vec<i64> = one.cols.rows.iter().map(|r| r.ts).collect();
    let t0 = us as i64 * 1000;
    assert_eq!(ts, [t0, t0, t0 + 2000]);
    assert_eq!(one.issues.len(), 1);
    assert_eq!(one.issues[0].packet_index, 1);
    assert!(one.issues[0].reason.contains("1 packet(s)"));
    // A negative offset that takes packets before 1970: out of range as well.
    let early = read(
        "early.pcapng",
        pcapng_with_offset(-2_000_000_000, &[us, us]),
    );
    assert!(early.cols.rows.iter().all(|r| r.ts == 0));
    assert!(
        early.issues[0].reason.contains("before 1970")
            && early.issues[0].reason.contains("2 packet(s)")
    );
    // A small negative offset that stays after 1970 is applied.
    let fine = read("fine.pcapng", pcapng_with_offset(-100, &[us]));
    assert_eq!(fine.cols.rows[0].ts, 1_599_999_900_000_000_000);
    assert!(fine.issues.is_empty());
}

/// Newer libpcap writes the FCS length into the link-type field of a legacy pcap whose
/// frames keep their FCS (checked with tshark: the same frame length, IP length and UDP
/// length as without the field's top bits); reserved bits make the link type unknown.
#[test]
fn a_legacy_link_type_field_with_an_fcs_length_is_ethernet() {
    let dir = tempfile::tempdir().unwrap();
    let mut frame = vec![
        1, 0, 0x5e, 0, 0, 0xfb, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 8, 0,
    ];
    // IPv4 (total length 33) and UDP 5353 -> 5353 (length 13), then a 4-byte FCS.
    frame.extend([
        0x45, 0, 0, 33, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 224, 0, 0, 251,
    ]);
    frame.extend([0x14, 0xe9, 0x14, 0xe9, 0, 13, 0, 0]);
    frame.extend(b"hello");
    frame.extend([0xde, 0xad, 0xbe, 0xef]);
    let pcap = |field: u32| {
        let mut b = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        b.extend([0; 8]);
        b.extend(65535u32.to_le_bytes());
        b.extend(field.to_le_bytes());
        for t in [1_600_000_000u32, 1_600_000_001] {
            b.extend(
                [t, 0, frame.len() as u32, frame.len() as u32]
                    .map(u32::to_le_bytes)
                    .concat(),
            );
            b.extend(&frame);
        }
        b
    };
    let fcs = read_bytes(dir.path(), "fcs.pcap", pcap(1 | 1 << 26 | 2 << 28));
    assert!(fcs.issues.is_empty(), "{:?}", fcs.issues);
    assert_eq!(fcs.link_types, [1]);
    assert_eq!(fcs.cols.len(), 2);
    for r in &fcs.cols.rows {
        assert_eq!((r.orig_len, r.ip_len, r.ttl), (51, 33, 64));
        assert_eq!(r.bits & (bits::IP | bits::UDP), bits::IP | bits::UDP);
    }
    assert_eq!(fcs.convs.len(), 1);
    assert_eq!(fcs.convs[0].port_a, 5353);
    let reserved = read_bytes(dir.path(), "reserved.pcap", pcap(1 | 1 << 16));
    assert_eq!(reserved.cols.len(), 2);
    assert_eq!(reserved.issues.len(), 1, "{:?}", reserved.issues);
    assert!(reserved.issues[0]
        .reason
        .contains("unsupported link type 65537"));
}

#[test]
fn pcapng_interface_clocks_in_both_byte_orders() {
    let dir = tempfile::tempdir().unwrap();
    let times = |name: &str, bytes: Vec<u8>| {
        let fp = read_bytes(dir.path(), name, bytes);
        let ts: Vec<i64> = fp.cols.rows.iter().map(|r| r.ts).collect();
        (ts, fp.issues)
    };
    let s = 1_600_000_000u64;
    let want = vec![1_600_000_100_000_000_000i64, 1_600_000_100_500_000_000];
    // Microseconds (the default) and nanoseconds, an offset, both byte orders.
    for be in [false, true] {
        let us = pcapng_clock(
            be,
            None,
            Some(100),
            &[s * 1_000_000, s * 1_000_000 + 500_000],
        );
        assert_eq!(times("us.pcapng", us), (want.clone(), vec![]), "be {be}");
        let ns = pcapng_clock(
            be,
            Some(9),
            Some(100),
            &[s * 1_000_000_000, s * 1_000_000_000 + 500_000_000],
        );
        assert_eq!(times("ns.pcapng", ns), (want.clone(), vec![]), "be {be}");
        // A power-of-two resolution: 2^20 units a second.
        let p2 = pcapng_clock(
            be,
            Some(0x80 | 20),
            Some(100),
            &[s << 20, (s << 20) + (1 << 19)],
        );
        assert_eq!(times("p2.pcapng", p2), (want.clone(), vec![]), "be {be}");
    }
    // A resolution no integer holds: a warning naming the interface, then microseconds.
    let (ts, issues) = times(
        "bad.pcapng",
        pcapng_clock(false, Some(25), None, &[s * 1_000_000]),
    );
    assert_eq!(ts, [1_600_000_000_000_000_000]);
    assert_eq!(issues.len(), 1);
    assert_eq!((issues[0].packet_index, issues[0].byte_offset), (0, 28));
    assert!(issues[0]
        .reason
        .starts_with("interface 0: its timestamp resolution 0x19"));
}

#[test]
fn obsolete_packet_blocks_read_like_enhanced_ones() {
    let dir = tempfile::tempdir().unwrap();
    let read = |name: &str, bytes: Vec<u8>| read_bytes(dir.path(), name, bytes);
    let units = [1_600_000_000_000_000u64, 1_600_000_000_250_000];
    for be in [false, true] {
        let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let enhanced = read("epb.pcapng", pcapng_clock(be, None, None, &units));
        // The same packets as obsolete Packet Blocks (type 2).
        let mut old = pcapng_clock(be, None, None, &[]);
        let frame = arp_frame();
        for u in units {
            let mut body = [w16(0), w16(0)].concat();
            body.extend([w32((u >> 32) as u32), w32(u as u32), w32(42), w32(42)].concat());
            body.extend(&frame);
            old.extend(ng_block(be, 2, body));
        }
        let obsolete = read("pb.pcapng", old.clone());
        assert_eq!(enhanced.cols.len(), 2);
        assert_eq!(obsolete.cols.rows, enhanced.cols.rows, "be {be}");
        assert_eq!(obsolete.convs, enhanced.convs);
        assert!(obsolete.issues.is_empty(), "{:?}", obsolete.issues);
        // A block whose captured length runs past its end: the packets before it stay.
        let mut body = [w16(0), w16(0)].concat();
        body.extend([w32(0), w32(0), w32(400), w32(400)].concat());
        body.extend(&frame);
        old.extend(ng_block(be, 2, body));
        let cut = read("cut.pcapng", old);
        assert_eq!(cut.cols.rows, enhanced.cols.rows);
        let i = cut.issues.last().unwrap();
        assert!(i.fatal && i.packet_index == 2, "{i:?}");
        assert!(
            i.reason.contains("packet block shorter than its lengths"),
            "{i:?}"
        );
    }
}

#[test]
fn capture_suffixes_as_spelled() {
    assert_eq!(capture_suffix("a.pcap"), Some(".pcap"));
    assert_eq!(capture_suffix("b.PCAPNG.GZ"), Some(".PCAPNG.GZ"));
    assert_eq!(capture_suffix("c.cap.zst"), Some(".cap.zst"));
    assert_eq!(capture_suffix("d.pcap.xz"), None);
    assert_eq!(capture_suffix("notes.gz"), None);
}

#[test]
fn sniff() {
    assert_eq!(sniff_format(&[0xd4, 0xc3, 0xb2, 0xa1]), Some("pcap"));
    assert_eq!(sniff_format(&[0x0a, 0x0d, 0x0d, 0x0a]), Some("pcapng"));
    assert_eq!(sniff_format(b"GIF8"), None);
    assert_eq!(sniff_format(b"ab"), None);
}

#[test]
fn tls_certificate_detection() {
    // Handshake record with a ServerHello (2) then a Certificate (11).
    let mut p = vec![22, 3, 3, 0, 12, 2, 0, 0, 0, 11, 0, 0, 4, 0, 0, 0, 0];
    assert!(is_tls_record(&p));
    assert!(tls_has_certificate(&p));
    p[9] = 12;
    assert!(!tls_has_certificate(&p));
}

#[test]
fn truncated_tcp_header_uses_ip_lengths() {
    // Ethernet + IPv4 (total 1500) + first 16 bytes of a TCP header with 32-byte offset.
    let mut f = vec![0u8; 14 + 20 + 16];
    f[12] = 0x08;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&1500u16.to_be_bytes());
    f[22] = 64;
    f[23] = 6;
    f[34..36].copy_from_slice(&443u16.to_be_bytes());
    f[36..38].copy_from_slice(&50000u16.to_be_bytes());
    f[46] = 8 << 4;
    f[47] = tcpf::ACK | tcpf::PSH;
    let mut iss = Vec::new();
    let d = decode_link(Linktype(1), &f, Path::new("x"), &mut iss);
    assert_eq!(d.ip_len, 1500);
    assert_eq!(d.tcp_len, 1500 - 20 - 32);
    assert_eq!(d.sport, 443);
    assert!(d.bits & bits::TLS != 0);
    assert_eq!(d.ttl, 64);
}
