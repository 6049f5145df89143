//! Any bytes as a capture file: reading never panics, and reading it in small pieces and
//! segments (several readers over one legacy pcap, false record boundaries and all) gives
//! exactly what reading it whole gives.
#![no_main]

use labelbench::devices::Registry;
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
    );
    // Pieces of 1,024 packets (the least a reader uses) and 512-byte segments: every input
    // over 1 KiB that looks like a legacy pcap is read by several readers.
    let mut reg2 = Registry::default();
    let t = traffic::ingest_in_pieces(&files, &mut reg2, None, 1024, 512);
    assert_eq!(t.packets, whole.packets);
    assert_eq!(t.flows, whole.flows);
    assert_eq!(t.by_device, whole.by_device);
    assert_eq!(t.files, whole.files);
    assert_eq!(t.issues, whole.issues);
    assert_eq!(t.unregistered_macs, whole.unregistered_macs);
    assert_eq!(reg2.devices.len(), reg.devices.len());
});
