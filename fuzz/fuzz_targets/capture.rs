//! Any bytes as a capture file: reading never panics, and reading it in small pieces and
//! segments (several readers over one legacy pcap, false record boundaries and all) gives
//! exactly what reading it whole gives; and the same bytes gzip-compressed read exactly like
//! them (the same packets and issues; the issues say their offsets count decompressed bytes);
//! and a capture that reads whole, followed by a run of zeros (a pre-allocated file, a crash),
//! reads as the same packets and one warning instead of fake packets dated 1970.
#![no_main]

use labelbench::traffic::devices::Registry;
use labelbench::traffic;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let dir = common::scratch();
    let path = dir.path().join("input.cap");
    std::fs::write(&path, data).unwrap();
    let files = vec![path.clone()];

    let mut reg = Registry::default();
    let whole = traffic::build(
        vec![labelbench::capture::read_capture(&path, None)],
        &mut reg,
        &traffic::FlowTimeouts::default(),
    );
    // Pieces of 1,024 packets (the least a reader uses) and 512-byte segments: every input
    // over 1 KiB that looks like a legacy pcap is read by several readers.
    let mut reg2 = Registry::default();
    let t = traffic::ingest_in_pieces(
        &files,
        &mut reg2,
        None,
        &traffic::FlowTimeouts::default(),
        (1024, 512),
    );
    assert_eq!(t.packets, whole.packets);
    assert_eq!(t.flows, whole.flows);
    assert_eq!(t.by_device, whole.by_device);
    assert_eq!(t.files, whole.files);
    assert_eq!(t.issues, whole.issues);
    assert_eq!(t.unregistered_macs, whole.unregistered_macs);
    assert_eq!(reg2.devices.len(), reg.devices.len());

    // Bytes that are compressed themselves would be compressed twice (read once undone).
    if labelbench::capture::Compression::sniff(data).is_some() {
        return;
    }
    let plain = labelbench::capture::read_capture(&path, None);
    if plain.issues.iter().all(|i| !i.fatal) && labelbench::capture::sniff_format(data).is_some() {
        let zeros = dir.path().join("zero-tail.cap");
        let mut padded = data.to_vec();
        padded.resize(data.len() + 4096, 0);
        std::fs::write(&zeros, &padded).unwrap();
        let z = labelbench::capture::read_capture(&zeros, None);
        assert_eq!(z.cols.rows, plain.cols.rows);
        assert!(z.issues.iter().all(|i| !i.fatal), "{:?}", z.issues);
        assert!(z.issues.iter().any(|i| i.reason.contains("zero-filled")));
    }
    let gz = dir.path().join("input.cap.gz");
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut z, data).unwrap();
    std::fs::write(&gz, z.finish().unwrap()).unwrap();
    let packed = labelbench::capture::read_capture(&gz, None);
    assert_eq!(packed.cols.rows, plain.cols.rows);
    assert_eq!(packed.convs, plain.convs);
    assert_eq!(packed.link_types, plain.link_types);
    let issues = |p: &labelbench::capture::FileParse| -> Vec<(u64, u64, String, bool)> {
        p.issues
            .iter()
            .map(|i| {
                let r = i.reason.trim_end_matches("; the byte offset counts the gzip data decompressed");
                // What is not a capture is named differently once decompressed.
                let r = if r.starts_with("not a pcap or pcapng file")
                    || r.contains("which labelbench does not read")
                {
                    "not a capture"
                } else {
                    r
                };
                (i.packet_index, i.byte_offset, r.to_string(), i.fatal)
            })
            .collect()
    };
    assert_eq!(issues(&packed), issues(&plain));
});
