use super::*;
use std::path::Path;

fn flow(key: ConvKey, first_ba: bool) -> Flow {
    Flow {
        key,
        first_ns: 0,
        last_ns: 0,
        pkts_ab: 1,
        pkts_ba: 0,
        bytes_ab: 60,
        bytes_ba: 0,
        device: 0,
        end: FlowEnd::Eof,
        first_ba,
    }
}

/// Says that a test skips a check because `what` is missing; fails it when `CI=true`, so that
/// a CI run without the data or tools cannot pass silently.
fn missing(what: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{what} is missing, and CI=true requires it");
    }
    eprintln!("skipping: {what} is missing");
}

/// `../shared/real`, or `None` (after saying so) when it is absent.
fn shared_real() -> Option<std::path::PathBuf> {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/real");
    if !real.exists() {
        missing(&real.display().to_string());
        return None;
    }
    Some(real)
}

/// Ports only where the protocol has them: ICMP's type and code (kept in the port fields)
/// are named as such and attributed to the first packet's sender.
#[test]
fn endpoints_name_ports_icmp_type_and_macs() {
    let v4 = |a: [u8; 4]| std::net::Ipv4Addr::from(a).to_ipv6_mapped().octets();
    let k = ConvKey {
        proto: 6,
        ethertype: 0,
        is_l2: false,
        ip_a: v4([10, 0, 0, 2]),
        ip_b: v4([93, 184, 216, 34]),
        port_a: 50_000,
        port_b: 443,
        mac_a: [2, 0, 0, 0, 0, 1],
        mac_b: [2, 0, 0, 0, 0, 2],
        v6: false,
    };
    assert_eq!(
        flow(k, false).endpoints(),
        "10.0.0.2:50000 <-> 93.184.216.34:443"
    );
    let v6 = ConvKey {
        v6: true,
        ip_a: "fe80::1".parse::<std::net::Ipv6Addr>().unwrap().octets(),
        ip_b: "fe80::2".parse::<std::net::Ipv6Addr>().unwrap().octets(),
        proto: 17,
        port_a: 5353,
        port_b: 5353,
        ..k
    };
    assert_eq!(
        flow(v6, false).endpoints(),
        "[fe80::1]:5353 <-> [fe80::2]:5353"
    );
    // An echo request (type 8, code 0) sent first by B.
    let icmp = ConvKey {
        proto: 1,
        port_a: 0,
        port_b: 0,
        ..k
    };
    let echo = ConvKey {
        port_a: 0,
        port_b: 8,
        ..icmp
    };
    assert_eq!(
        flow(echo, true).endpoints(),
        "93.184.216.34 <-> 10.0.0.2 (first: ICMP type 8 code 0 from 93.184.216.34)"
    );
    assert_eq!(
        flow(icmp, false).endpoints(),
        "10.0.0.2 <-> 93.184.216.34 (first: ICMP type 0 code 0 from 10.0.0.2)"
    );
    let igmp = ConvKey { proto: 2, ..icmp };
    assert_eq!(flow(igmp, false).endpoints(), "10.0.0.2 <-> 93.184.216.34");
    let arp = ConvKey {
        is_l2: true,
        proto: 0,
        ethertype: 0x0806,
        ..icmp
    };
    assert_eq!(
        flow(arp, false).endpoints(),
        "02:00:00:00:00:01 <-> 02:00:00:00:00:02"
    );
}

/// Files handed to the merge in pieces give exactly what whole files give: the same
/// packets, flows (some span piece boundaries), device index, file summaries and issues,
/// for files in time order, for overlapping files (merged out of order, then sorted), for
/// a file whose last record is cut (the issue comes with its last piece) and for pcapng.
#[test]
fn pieces_merge_like_whole_files() {
    let Some(real) = shared_real() else { return };
    let fit = real.join("fit-iot-dataset");
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("blink-cut.pcap");
    let bytes = std::fs::read(fit.join("pcaps/blink-cam-01.pcap")).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let registry = Registry::load(&fit.join("devices.json")).unwrap();
    let blink = fit.join("pcaps/blink-cam-01.pcap");
    let overlapping = vec![
        blink.clone(),
        fit.join("pcaps/schlage-lock-01.pcap"),
        real.join("moniotr/yi_camera_sample.pcap"),
        real.join("iot-sentinel/HueBridge/Setup-A-1-STA.pcap"),
    ];
    let mut sets = vec![vec![blink.clone()], overlapping, vec![cut]];
    // The same capture as pcapng (editcap comes with tshark), whose records are blocks.
    let ng = dir.path().join("blink.pcapng");
    let converted = std::process::Command::new("editcap")
        .args(["-F", "pcapng"])
        .arg(&blink)
        .arg(&ng)
        .status()
        .is_ok_and(|s| s.success());
    if converted {
        sets.push(vec![ng]);
    } else {
        missing("editcap (the pcapng case)");
    }
    for files in sets {
        let mut reg = registry.clone();
        let parsed = files
            .iter()
            .map(|f| capture::read_capture(f, None))
            .collect();
        let whole = build(parsed, &mut reg, &FlowTimeouts::default());
        assert!(whole.packets.len() > 20_000);
        // Segments of 64 KiB split every capture here (the smallest is 0.9 MB) into
        // 14 or more, each read by its own reader.
        for (piece, segment) in [(1024, 0), (1500, 0), (7000, 0), (1500, 65_536)] {
            let mut reg2 = registry.clone();
            let t = ingest_in_pieces(
                &files,
                &mut reg2,
                None,
                &FlowTimeouts::default(),
                (piece, segment),
            );
            let what = format!("{files:?} in pieces of {piece}, segments of {segment}");
            assert_same(&t, &whole, &what);
            assert_eq!(reg2.len(), reg.len(), "{what}");
        }
    }
}

fn assert_same(t: &Traffic, whole: &Traffic, what: &str) {
    assert_eq!(t.packets.len(), whole.packets.len(), "{what}");
    assert!(t.packets == whole.packets, "packet columns differ: {what}");
    assert_eq!(t.flows.len(), whole.flows.len(), "{what}");
    assert!(t.flows == whole.flows, "flows differ: {what}");
    assert!(
        t.by_device == whole.by_device,
        "device index differs: {what}"
    );
    assert_eq!(t.files, whole.files, "{what}");
    assert_eq!(t.issues, whole.issues, "{what}");
    assert_eq!(t.unregistered_macs, whole.unregistered_macs, "{what}");
}

/// A pcap holding the records of `src` with, after the first third of them, one UDP
/// packet whose payload is itself a run of 40 pcap records (a capture of someone copying
/// a capture). Returns the file and the offset of the first embedded record.
fn pcap_with_embedded_records(src: &Path, out: &Path) -> u64 {
    use pcap_parser::{LegacyPcapBlock, PcapHeader, ToVec};
    let mut recs: Vec<(i64, u32, Vec<u8>)> = Vec::new();
    capture::for_each_record(src, |_, ts, orig, data| {
        recs.push((ts, orig, data.to_vec()))
    })
    .unwrap();
    let mut hdr = PcapHeader::new();
    hdr.network = pcap_parser::Linktype::ETHERNET;
    hdr.snaplen = 65_535;
    let mut bytes = hdr.to_vec_raw().unwrap();
    let block = |ts: i64, orig: u32, data: &[u8]| {
        LegacyPcapBlock {
            ts_sec: (ts / 1_000_000_000) as u32,
            ts_usec: (ts % 1_000_000_000 / 1000) as u32,
            caplen: data.len() as u32,
            origlen: orig,
            data,
        }
        .to_vec_raw()
        .unwrap()
    };
    let third = recs.len() / 3;
    let mut fake_at = 0;
    for (k, (ts, orig, data)) in recs.iter().enumerate() {
        if k == third {
            let mut inner = vec![0xffu8; 8];
            for j in 0..40 {
                inner.extend(block(*ts + j, 48, &[0u8; 48]));
            }
            let mut frame = vec![0u8; 42];
            frame[12..14].copy_from_slice(&[0x08, 0x00]);
            frame[14] = 0x45;
            let ip_len = (28 + inner.len()) as u16;
            frame[16..18].copy_from_slice(&ip_len.to_be_bytes());
            frame[22] = 64;
            frame[23] = 17;
            frame[26..30].copy_from_slice(&[10, 0, 0, 1]);
            frame[30..34].copy_from_slice(&[10, 0, 0, 2]);
            frame[34..36].copy_from_slice(&4000u16.to_be_bytes());
            frame[36..38].copy_from_slice(&4001u16.to_be_bytes());
            frame[38..40].copy_from_slice(&(8 + inner.len() as u16).to_be_bytes());
            frame.extend(&inner);
            fake_at = (bytes.len() + 16 + 42 + 8) as u64;
            bytes.extend(block(*ts, frame.len() as u32, &frame));
        }
        bytes.extend(block(*ts, *orig, data));
    }
    std::fs::write(out, bytes).unwrap();
    fake_at
}

/// A segment that starts at a false record boundary (records embedded in a packet's
/// payload) is found out and dropped: the segment before it reads on past it, and the
/// result equals reading the file whole. Likewise when a segment's start does not follow
/// from the one before (here: items of mismatched sizes), the rest of the file is read
/// from where the last kept segment ended.
#[test]
fn a_false_segment_start_costs_time_not_packets() {
    let Some(real) = shared_real() else { return };
    let fit = real.join("fit-iot-dataset");
    let registry = Registry::load(&fit.join("devices.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("embedded.pcap");
    let fake_at = pcap_with_embedded_records(&fit.join("pcaps/blink-cam-01.pcap"), &file);
    let files = vec![file.clone()];
    let mut reg = registry.clone();
    let whole = build(
        vec![capture::read_capture(&file, None)],
        &mut reg,
        &FlowTimeouts::default(),
    );
    assert!(whole.issues.is_empty(), "{:?}", whole.issues);
    // Segment 1's nominal start lies in the packet just before the embedded records.
    let bytes = fake_at - 4;
    let count = capture::segments_of(&file, bytes);
    assert!(count >= 2, "{count} segments");
    let starts = capture::segment_starts(&file, count, bytes);
    assert_eq!(starts[1], Some(fake_at), "the false start is the one taken");
    let mut reg2 = registry.clone();
    let t = ingest_in_pieces(
        &files,
        &mut reg2,
        None,
        &FlowTimeouts::default(),
        (1024, bytes),
    );
    assert_same(&t, &whole, "a false segment start");
    // Items whose segment sizes disagree: the third starts where the second did not end.
    let (b, count) = (65_536, capture::segments_of(&file, 65_536));
    assert!(count >= 4, "{count} segments");
    let part = |index, bytes| capture::Part::Segment {
        index,
        count,
        bytes,
    };
    let items: Vec<_> = (0..count)
        .map(|k| (0, part(k, if k == 2 { b + 1000 } else { b })))
        .collect();
    let mut reg3 = registry.clone();
    let t = ingest_items(
        (&files, &[None]),
        &mut reg3,
        None,
        (Accumulator::default(), 1500),
        &items,
    );
    assert_same(&t, &whole, "mismatched segments");
}

/// Every segment reads the file first opened: a capture moved away (or deleted) once its
/// read began is still read whole, not silently cut to the segments read before.
#[test]
fn a_capture_moved_during_a_segmented_read_is_read_whole() {
    let Some(real) = shared_real() else { return };
    let src = real.join("fit-iot-dataset/pcaps/blink-cam-01.pcap");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cap.pcap");
    std::fs::copy(&src, &file).unwrap();
    let mut reg = Registry::default();
    let whole = build(
        vec![capture::read_capture(&file, None)],
        &mut reg,
        &FlowTimeouts::default(),
    );
    let bytes = 65_536;
    let opened = std::fs::File::open(&file).unwrap();
    let count = capture::segments_of_file(&opened, bytes);
    assert!(count >= 4, "{count} segments");
    let items: Vec<_> = (0..count)
        .map(|index| {
            (
                0,
                capture::Part::Segment {
                    index,
                    count,
                    bytes,
                },
            )
        })
        .collect();
    std::fs::rename(&file, dir.path().join("moved.pcap")).unwrap();
    let files = vec![file.clone()];
    let mut reg2 = Registry::default();
    let t = ingest_items(
        (&files, &[Some(opened)]),
        &mut reg2,
        None,
        (Accumulator::default(), 1024),
        &items,
    );
    assert_same(&t, &whole, "a capture moved during the read");
}

/// A legacy pcap of a link type the reader cannot decode, read by several readers in
/// segments, gives the one warning (at its first packet) and the packets a whole-file
/// read gives. Found by the `capture` fuzz target: every segment repeated the warning.
#[test]
fn segments_warn_about_a_link_type_once() {
    use pcap_parser::{LegacyPcapBlock, PcapHeader, ToVec};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("user0.pcap");
    let mut hdr = PcapHeader::new();
    hdr.network = pcap_parser::Linktype(147);
    hdr.snaplen = 65_535;
    let mut bytes = hdr.to_vec_raw().unwrap();
    for k in 0..3000u32 {
        let data = vec![k as u8; 10 + (k % 7) as usize];
        // Record 2,000 claims fewer bytes on the wire than it holds: a second warning, after
        // the link-type one in packet order (the capture fuzz target found them listed in
        // another order when read whole than when read in segments).
        let block = LegacyPcapBlock {
            ts_sec: 1_600_000_000 + k / 10,
            ts_usec: k % 10,
            caplen: data.len() as u32,
            origlen: if k == 2000 { 5 } else { data.len() as u32 },
            data: &data,
        };
        bytes.extend(block.to_vec_raw().unwrap());
    }
    std::fs::write(&file, bytes).unwrap();
    let files = vec![file.clone()];
    let mut reg = Registry::default();
    let whole = build(
        vec![capture::read_capture(&file, None)],
        &mut reg,
        &FlowTimeouts::default(),
    );
    assert_eq!(whole.packets.len(), 3000);
    assert_eq!(whole.issues.len(), 2, "{:?}", whole.issues);
    assert_eq!(
        (whole.issues[0].packet_index, whole.issues[0].byte_offset),
        (0, 24)
    );
    assert_eq!(whole.issues[1].packet_index, 2000);
    let count = capture::segments_of(&file, 4096);
    assert!(count >= 10, "{count} segments");
    let mut reg2 = Registry::default();
    let t = ingest_in_pieces(
        &files,
        &mut reg2,
        None,
        &FlowTimeouts::default(),
        (1024, 4096),
    );
    assert_same(&t, &whole, "segments of 4 KiB");
}

/// In a pcapng read in pieces, the warning about an interface of an unknown link type
/// added after 3,000 packets names packet 3,000, as a whole-file read does.
#[test]
fn pieces_name_the_first_packet_of_an_unknown_link_type() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("late-iface.pcapng");
    let mut ng = Vec::new();
    let block = |ng: &mut Vec<u8>, kind: u32, body: &[u8]| {
        let len = (12 + body.len()) as u32;
        ng.extend(kind.to_le_bytes());
        ng.extend(len.to_le_bytes());
        ng.extend(body);
        ng.extend(len.to_le_bytes());
    };
    let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    shb.extend([1, 0, 0, 0]);
    shb.extend((-1i64).to_le_bytes());
    block(&mut ng, 0x0A0D_0D0A, &shb);
    let epb = |ng: &mut Vec<u8>, iface: u32, k: u32, data: &[u8]| {
        let mut b = iface.to_le_bytes().to_vec();
        b.extend(0u32.to_le_bytes());
        b.extend((1000 * k).to_le_bytes());
        b.extend((data.len() as u32).to_le_bytes());
        b.extend((data.len() as u32).to_le_bytes());
        b.extend(data);
        b.resize(b.len().next_multiple_of(4), 0);
        block(ng, 6, &b);
    };
    let idb = |ng: &mut Vec<u8>, lt: u16| {
        let mut b = lt.to_le_bytes().to_vec();
        b.extend([0, 0]);
        b.extend(65_535u32.to_le_bytes());
        block(ng, 1, &b);
    };
    idb(&mut ng, 1);
    let mut eth = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06];
    eth.extend([0u8; 28]);
    for k in 0..3000 {
        epb(&mut ng, 0, k, &eth);
    }
    idb(&mut ng, 147);
    let at = ng.len() as u64;
    epb(&mut ng, 1, 3000, &[7; 9]);
    epb(&mut ng, 0, 3001, &eth);
    std::fs::write(&file, &ng).unwrap();
    let mut reg = Registry::default();
    let whole = build(
        vec![capture::read_capture(&file, None)],
        &mut reg,
        &FlowTimeouts::default(),
    );
    assert_eq!(whole.packets.len(), 3002);
    assert_eq!(whole.issues.len(), 1, "{:?}", whole.issues);
    let i = &whole.issues[0];
    assert_eq!((i.packet_index, i.byte_offset), (3000, at), "{i}");
    let mut reg2 = Registry::default();
    let t = ingest_in_pieces(
        std::slice::from_ref(&file),
        &mut reg2,
        None,
        &FlowTimeouts::default(),
        (1024, 0),
    );
    assert_same(&t, &whole, "pieces of 1,024 packets");
}

/// The flow index finds exactly the flows a scan of every flow finds, for ranges across the
/// real captures.
#[test]
fn the_flow_index_finds_what_a_scan_finds() {
    let Some(real) = shared_real() else { return };
    let fit = real.join("fit-iot-dataset");
    let mut reg = Registry::load(&fit.join("devices.json")).unwrap();
    let files = vec![
        fit.join("pcaps/blink-cam-01.pcap"),
        fit.join("pcaps/schlage-lock-01.pcap"),
    ];
    let t = ingest(&files, &mut reg, None, &FlowTimeouts::default());
    let idx = FlowIndex::build(&t, reg.len());
    let (a, b) = (t.first_ns().unwrap(), t.last_ns().unwrap());
    let mut checked = 0;
    for dev in 0..reg.len() as u16 {
        for k in 0..40i64 {
            let lo = a + (b - a) / 40 * k;
            let hi = lo + 600_000_000_000 * (1 + k % 6);
            let got: Vec<u32> = idx.overlapping(&t, dev, (lo, hi)).collect();
            let mut want: Vec<u32> = (0..t.flows.len() as u32)
                .filter(|&i| {
                    let f = &t.flows[i as usize];
                    f.device == dev && f.last_ns >= lo && f.first_ns <= hi
                })
                .collect();
            want.sort_by_key(|&i| (t.flows[i as usize].first_ns, i));
            assert_eq!(got, want, "device {dev}, [{lo}, {hi}]");
            checked += got.len();
        }
    }
    assert!(checked > 100, "{checked} flows found");
}
