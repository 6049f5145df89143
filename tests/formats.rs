//! Link types, generic CSV sources with a device map, and the idle class.

use std::collections::BTreeMap;
use std::path::Path;

use etherparse::PacketBuilder;
use labelbench::capture::{self, bits};
use labelbench::labels::{load_source, CsvColumns, Precision, SourceKind, SourceSpec};
use labelbench::traffic::devices::Registry;
use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};

fn write_pcap(path: &Path, lt: i32, frames: &[Vec<u8>]) {
    let mut h = PcapHeader::new();
    h.network = Linktype(lt);
    h.snaplen = 65535;
    let mut out = h.to_vec_raw().unwrap();
    for (i, f) in frames.iter().enumerate() {
        let b = LegacyPcapBlock {
            ts_sec: 1_600_000_000 + i as u32,
            ts_usec: 0,
            caplen: f.len() as u32,
            origlen: f.len() as u32,
            data: f,
        };
        out.extend(b.to_vec_raw().unwrap());
    }
    std::fs::write(path, out).unwrap();
}

fn ipv4_tcp() -> Vec<u8> {
    let b = PacketBuilder::ipv4([10, 0, 0, 2], [52, 1, 2, 3], 61).tcp(40000, 443, 1, 1000);
    let mut v = Vec::new();
    b.write(&mut v, &[0x17, 3, 3, 0, 4, 1, 2, 3, 4]).unwrap();
    v
}

fn ipv4_udp() -> Vec<u8> {
    let b = PacketBuilder::ipv4([10, 0, 0, 2], [10, 0, 0, 1], 64).udp(33333, 53);
    let mut v = Vec::new();
    b.write(&mut v, &[0u8; 30]).unwrap();
    v
}

fn ipv6_tcp() -> Vec<u8> {
    let b = PacketBuilder::ipv6(
        [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
        [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        33,
    )
    .tcp(50000, 80, 1, 1000);
    let mut v = Vec::new();
    b.write(&mut v, b"GET / HTTP/1.1\r\n\r\n").unwrap();
    v
}

#[test]
fn link_types_decode_or_warn() {
    let dir = tempfile::tempdir().unwrap();
    let mac_a = [0x02, 0, 0, 0, 0, 1];
    let mac_b = [0x02, 0, 0, 0, 0, 2];
    // Ethernet with QinQ (802.1ad outer, 802.1Q inner) around IPv4/TCP.
    let mut qinq = Vec::new();
    qinq.extend_from_slice(&mac_b);
    qinq.extend_from_slice(&mac_a);
    qinq.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0xc8, 0x08, 0x00]);
    qinq.extend(ipv4_tcp());
    // Linux cooked (SLL): packet type, ARPHRD, address length, address (8), protocol.
    let mut sll = vec![0, 4, 0, 1, 0, 6];
    sll.extend_from_slice(&mac_a);
    sll.extend_from_slice(&[0, 0, 0x08, 0x00]);
    sll.extend(ipv4_udp());
    // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address (8).
    let mut sll2 = vec![0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0, 1, 4, 6];
    sll2.extend_from_slice(&mac_a);
    sll2.extend_from_slice(&[0, 0]);
    sll2.extend(ipv6_tcp());
    let cases: Vec<(i32, Vec<u8>, u16, u8)> = vec![
        (1, qinq, bits::TCP | bits::TLS, 61),
        (113, sll, bits::UDP | bits::DNS, 64),
        (276, sll2, bits::TCP | bits::HTTP | bits::IPV6, 33),
        (101, ipv4_tcp(), bits::TCP | bits::TLS, 61),
    ];
    for (lt, frame, want_bits, ttl) in cases {
        let p = dir.path().join(format!("lt{lt}.pcap"));
        write_pcap(&p, lt, &[frame.clone(), frame]);
        let r = capture::read_capture(&p, None);
        assert!(r.issues.is_empty(), "link type {lt}: {:?}", r.issues);
        assert_eq!(r.cols.len(), 2);
        assert_eq!(
            r.cols.rows[0].bits & want_bits,
            want_bits,
            "link type {lt}: bits {:#x}",
            r.cols.rows[0].bits
        );
        assert_eq!(r.cols.rows[0].ttl, ttl, "link type {lt}");
        assert!(r.cols.rows[0].ip_len > 20);
        assert_eq!(r.link_types, vec![lt]);
    }
    // An unknown link type: one warning naming it, every packet kept with its length.
    let p = dir.path().join("user0.pcap");
    write_pcap(&p, 147, &[vec![1, 2, 3], vec![4, 5, 6, 7], vec![8]]);
    let r = capture::read_capture(&p, None);
    assert_eq!(r.cols.len(), 3);
    let lens: Vec<u32> = r.cols.rows.iter().map(|p| p.orig_len).collect();
    assert_eq!(lens, vec![3, 4, 1]);
    assert_eq!(r.issues.len(), 1);
    assert!(
        !r.issues[0].fatal && r.issues[0].reason.contains("147"),
        "{:?}",
        r.issues
    );
    // Named by its first packet: right after the 24-byte global header.
    assert_eq!((r.issues[0].packet_index, r.issues[0].byte_offset), (0, 24));
}

#[test]
fn generic_csv_with_columns_formats_and_device_map() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::from_csv(
        Path::new("r.csv"),
        "schlage-lock-01,aa:bb:cc:dd:ee:01,,Lock,\nkasa-plug-01,aa:bb:cc:dd:ee:02,,Plug,\n",
    )
    .unwrap();
    let mut map = BTreeMap::new();
    map.insert("Front Door".to_string(), "schlage-lock-01".to_string());
    let p = dir.path().join("events.csv");
    std::fs::write(&p, "when,who,what,extra\n2021-03-08T13:05:09,Front Door,event_unlock,x\n2021-03-08 13:06,KASA PLUG 01,on,y\nnot a time,Front Door,lock,z\n2021-03-08T18:07:00Z,nobody,on,w\n").unwrap();
    let spec = SourceSpec {
        kind: SourceKind::Csv,
        path: p.display().to_string(),
        tz: "America/New_York".into(),
        offset_ns: 0,
        csv: Some(CsvColumns {
            time: "when".into(),
            device: "who".into(),
            class: "what".into(),
            time_format: "iso8601".into(),
            has_header: true,
            end: None,
        }),
        rules: vec![],
        pattern: None,
    };
    let (ev, load) = load_source(&spec, &p, 5, &reg, &map).unwrap();
    assert_eq!(load.rows, 4);
    assert_eq!(load.errors.len(), 1);
    assert_eq!(load.errors[0].line, 4);
    assert_eq!(ev.len(), 3);
    let unlock = ev.iter().find(|e| e.class == "unlock").unwrap();
    assert_eq!(reg.devices[unlock.device as usize].name, "schlage-lock-01");
    assert_eq!(unlock.precision, Precision::Second);
    assert_eq!(unlock.original_ns, 1_615_226_709_000_000_000); // 13:05:09 EST
    let on = ev.iter().find(|e| e.line == 3).unwrap();
    assert_eq!(reg.devices[on.device as usize].name, "kasa-plug-01");
    assert_eq!(on.precision, Precision::Minute);
    assert_eq!(load.unmatched_devices.get("nobody"), Some(&1));
    // Epoch seconds and a chrono format, without a header (numeric columns).
    std::fs::write(&p, "1615226709.5;schlage-lock-01;lock\n").unwrap();
    let mut spec2 = spec.clone();
    spec2.csv = Some(CsvColumns {
        time: "0".into(),
        device: "1".into(),
        class: "2".into(),
        time_format: "epoch".into(),
        has_header: false,
        end: None,
    });
    std::fs::write(&p, "1615226709.5,schlage-lock-01,lock\n").unwrap();
    let (ev, load) = load_source(&spec2, &p, 0, &reg, &map).unwrap();
    assert!(load.errors.is_empty(), "{:?}", load.errors);
    assert_eq!(ev[0].original_ns, 1_615_226_709_500_000_000);
    spec2.csv.as_mut().unwrap().time_format = "%d/%m/%Y %H:%M:%S".into();
    std::fs::write(&p, "08/03/2021 13:05:09,schlage-lock-01,lock\n").unwrap();
    let (ev, _) = load_source(&spec2, &p, 0, &reg, &map).unwrap();
    assert_eq!(ev[0].original_ns, 1_615_226_709_000_000_000);
}

#[test]
fn idle_class_windows_avoid_events() {
    let dir = tempfile::tempdir().unwrap();
    let r = crate::common::sim(dir.path(), 6, 1, 8, Some(100_000));
    let mut s =
        labelbench::project::session::Session::open(&r.project, Default::default(), None).unwrap();
    s.project.window.idle_class = true;
    let rows = labelbench::learn::features::extract(&s, &s.project.window, 3);
    let idle: Vec<_> = rows.iter().filter(|x| x.class == "idle").collect();
    assert!(!idle.is_empty());
    for i in &idle {
        assert!(i.event_id >= labelbench::learn::features::IDLE_ID_BASE);
        // No event of that device within the window.
        assert!(rows
            .iter()
            .filter(|x| x.class != "idle" && x.device == i.device)
            .all(|x| (x.adjusted_ns - i.adjusted_ns).abs() > 30_000_000_000));
    }
    let ts = labelbench::project::TrainSettings {
        scope: labelbench::learn::Scope::Global,
        ..Default::default()
    };
    let rep = labelbench::learn::train(&s, &ts).unwrap();
    assert!(
        rep.classes.iter().any(|c| c.ends_with(":idle")),
        "{:?}",
        rep.classes
    );
}

/// ICMP flows carry type and code like Zeek's, so they get the Community ID of the published
/// vectors; an echo request and its reply are one flow with one ID, whichever host is lower.
#[test]
fn icmp_flows_get_community_ids() {
    let dir = tempfile::tempdir().unwrap();
    let frame = |src: [u8; 4], dst: [u8; 4], request: bool| -> Vec<u8> {
        let b =
            etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, src[3]], [2, 0, 0, 0, 0, dst[3]])
                .ipv4(src, dst, 64);
        let b = if request {
            b.icmpv4_echo_request(7, 1)
        } else {
            b.icmpv4_echo_reply(7, 1)
        };
        let mut v = Vec::new();
        b.write(&mut v, b"ping").unwrap();
        v
    };
    let (a, b) = ([1, 2, 3, 4], [5, 6, 7, 8]);
    let cases = [
        // (frames, expected ID): 1.2.3.4 pings 5.6.7.8, then the other way round.
        (
            vec![frame(a, b, true), frame(b, a, false)],
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=",
        ),
        (
            vec![frame(b, a, true), frame(a, b, false)],
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=",
        ),
    ];
    for (i, (frames, want)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("icmp{i}.pcap"));
        write_pcap(&p, 1, frames);
        let mut reg = Registry::default();
        let t = labelbench::traffic::ingest(
            &[p],
            &mut reg,
            None,
            &labelbench::traffic::FlowTimeouts::default(),
        );
        assert_eq!(t.flows.len(), 1, "request and reply are one flow");
        let f = &t.flows[0];
        assert_eq!((f.pkts_ab, f.pkts_ba), (1, 1));
        let id = labelbench::export::flow_community_id(f).unwrap();
        if i == 0 {
            assert_eq!(
                id, *want,
                "the published vector for 1.2.3.4 -> 5.6.7.8 echo"
            );
        } else {
            // The reverse ping hashes like its own request/reply pair in both directions.
            let reverse = labelbench::export::community_id(
                "5.6.7.8".parse().unwrap(),
                "1.2.3.4".parse().unwrap(),
                8,
                0,
                1,
                0,
            );
            assert_eq!(id, reverse);
        }
    }
}
