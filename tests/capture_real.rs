//! Capture reading on real files, cross-checked with tshark where it is installed.

use std::path::Path;

use labelbench::capture::{self, bits};
use labelbench::traffic;
use labelbench::traffic::devices::Registry;

use crate::common::{compress, have_tshark, real};

fn count(p: &Path) -> usize {
    let r = capture::read_capture(p, None);
    assert!(r.issues.iter().all(|i| !i.fatal), "{:?}", r.issues);
    r.cols.len()
}

#[test]
fn exact_packet_counts() {
    let Some(r) = real() else { return };
    let cases = [
        ("fit-iot-dataset/pcaps/schlage-lock-01.pcap", 11_150),
        ("fit-iot-dataset/pcaps/blink-cam-01.pcap", 24_022),
        ("iot-sentinel/D-LinkCam/Setup-A-1-STA.pcap", 624),
        ("iot-sentinel/HueBridge/Setup-A-1-STA.pcap", 1_513),
        ("iot-sentinel/TP-LinkPlugHS110/Setup-A-1-STA.pcap", 52),
        ("moniotr/yi_camera_sample.pcap", 1_631),
        ("pcap-vectors/ntp.pcap", 12),
        ("pcap-vectors/test001-be.pcapng", 4),
        ("pcap-vectors/test001-le.pcapng", 4),
        ("pcap-vectors/test016-be.pcapng", 4),
        ("pcap-vectors/test016-le.pcapng", 4),
    ];
    for (f, n) in cases {
        assert_eq!(count(&r.join(f)), n, "{f}");
    }
}

#[test]
fn big_and_little_endian_pcapng_agree() {
    let Some(r) = real() else { return };
    for t in ["test001", "test016"] {
        let be = capture::read_capture(&r.join(format!("pcap-vectors/{t}-be.pcapng")), None);
        let le = capture::read_capture(&r.join(format!("pcap-vectors/{t}-le.pcapng")), None);
        assert_eq!(be.format, "pcapng");
        assert_eq!(be.cols.rows, le.cols.rows, "{t}");
    }
}

#[test]
fn devices_attributed_by_mac_from_devices_json() {
    let Some(r) = real() else { return };
    let lab = r.join("fit-iot-dataset");
    let mut reg = Registry::load(&lab.join("devices.json")).unwrap();
    let n_registered = reg.len();
    let files = vec![
        lab.join("pcaps/blink-cam-01.pcap"),
        lab.join("pcaps/schlage-lock-01.pcap"),
    ];
    let t = traffic::ingest(
        &files,
        &mut reg,
        None,
        &labelbench::traffic::FlowTimeouts::default(),
    );
    assert_eq!(t.packets.len(), 35_172);
    assert!(t.packets.ts.is_sorted());
    let blink = reg.by_name("blink-cam-01").unwrap();
    let lock = reg.by_name("schlage-lock-01").unwrap();
    let nb = t.by_device[blink as usize].len();
    let nl = t.by_device[lock as usize].len();
    // Each capture is that device's traffic: nearly every packet carries its MAC.
    assert!(nb as f64 > 0.95 * 24_022.0, "blink {nb}");
    assert!(nl as f64 > 0.95 * 11_150.0, "lock {nl}");
    // Unregistered MACs were added, named by MAC.
    assert!(reg.len() >= n_registered);
    // Every flow has a device and flow totals equal packet totals.
    let total: u64 = t.flows.iter().map(|f| f.packets()).sum();
    assert_eq!(total, t.packets.len() as u64);
}

#[test]
fn truncated_lab_capture_lengths_come_from_headers() {
    let Some(r) = real() else { return };
    let p = r.join("fit-iot-dataset/pcaps/blink-cam-01.pcap");
    let c = capture::read_capture(&p, None).cols.rows;
    // Headers only: some packets are far longer than 58 captured bytes.
    assert!(c.iter().any(|r| r.orig_len > 1000));
    assert!(c.iter().any(|r| r.ip_len > 1000));
    let tcp_payload = c
        .iter()
        .filter(|r| r.bits & bits::TCP != 0 && r.tcp_len > 0)
        .count();
    assert!(tcp_payload > 1000);
    assert!(
        c.iter().any(|r| r.bits & bits::EAPOL != 0),
        "EAPOL from the AP"
    );
}

/// Per-packet ip.len, tcp.len and ip.ttl against tshark's own dissection.
#[test]
fn fields_match_tshark() {
    let Some(r) = real() else { return };
    if !have_tshark() {
        return;
    }
    let mut checked = 0;
    for f in [
        "fit-iot-dataset/pcaps/schlage-lock-01.pcap",
        "iot-sentinel/HueBridge/Setup-A-1-STA.pcap",
        "moniotr/yi_camera_sample.pcap",
    ] {
        let p = r.join(f);
        let out = std::process::Command::new("tshark")
            .args(["-n", "-r"])
            .arg(&p)
            .args([
                "-T",
                "fields",
                "-E",
                "separator=,",
                "-E",
                "aggregator=;",
                "-e",
                "frame.time_epoch",
                "-e",
                "ip.len",
                "-e",
                "ipv6.plen",
                "-e",
                "tcp.len",
                "-e",
                "ip.ttl",
                "-e",
                "ipv6.hlim",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let c = capture::read_capture(&p, None).cols.rows;
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), c.len(), "{f}");
        for (i, row) in rows.iter().enumerate() {
            let v: Vec<&str> = row.split(',').collect();
            let first = |s: &str| s.split(';').next().unwrap_or("").to_string();
            let ts: f64 = v[0].parse().unwrap();
            assert!((ts - c[i].ts as f64 / 1e9).abs() < 2e-6, "{f} #{i} ts");
            let ipl = first(v[1]);
            let ip6 = first(v[2]);
            if !ipl.is_empty() {
                assert_eq!(ipl.parse::<u16>().unwrap(), c[i].ip_len, "{f} #{i} ip.len");
                assert_eq!(first(v[4]).parse::<u8>().unwrap(), c[i].ttl, "{f} #{i} ttl");
            } else if !ip6.is_empty() {
                assert_eq!(
                    ip6.parse::<u16>().unwrap() + 40,
                    c[i].ip_len,
                    "{f} #{i} ipv6 len"
                );
                assert_eq!(
                    first(v[5]).parse::<u8>().unwrap(),
                    c[i].ttl,
                    "{f} #{i} hlim"
                );
            }
            let tl = first(v[3]);
            if !tl.is_empty() {
                assert_eq!(tl.parse::<u16>().unwrap(), c[i].tcp_len, "{f} #{i} tcp.len");
                checked += 1;
            }
        }
    }
    assert!(checked > 5_000, "only {checked} tcp.len values compared");
}

#[test]
fn bad_captures_report_index_and_offset_and_keep_packets() {
    let Some(r) = real() else { return };
    let src = std::fs::read(r.join("pcap-vectors/ntp.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Truncated last record.
    let p = dir.path().join("cut.pcap");
    std::fs::write(&p, &src[..src.len() - 10]).unwrap();
    let c = capture::read_capture(&p, None);
    assert_eq!(c.cols.len(), 11);
    let i = &c.issues[0];
    assert!(i.fatal && i.packet_index == 11 && i.byte_offset > 24, "{i}");
    assert!(i.to_string().contains("cut.pcap"), "{i}");
    // Corrupt record length in the 3rd record.
    let mut bad = src.clone();
    let mut off = 24usize;
    for _ in 0..2 {
        let caplen = u32::from_le_bytes(bad[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + caplen;
    }
    bad[off + 8..off + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let p = dir.path().join("len.pcap");
    std::fs::write(&p, &bad).unwrap();
    let c = capture::read_capture(&p, None);
    assert_eq!(c.cols.len(), 2);
    assert_eq!(c.issues[0].packet_index, 2);
    assert_eq!(c.issues[0].byte_offset, off as u64);
    assert!(c.issues[0].reason.contains("corrupt record length"));
    // Garbage, empty file, unknown magic: errors, no panic.
    for (name, bytes) in [
        ("g.pcap", b"\x00\x01garbage garbage".to_vec()),
        ("e.pcap", vec![]),
        ("m.pcap", b"\x89PNG\r\n\x1a\n".to_vec()),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let before = std::fs::read(&p).unwrap();
        let c = capture::read_capture(&p, None);
        assert!(c.cols.is_empty());
        assert!(c.issues[0].fatal, "{name}");
        assert_eq!(std::fs::read(&p).unwrap(), before, "input never written");
    }
    // Random corruption never panics.
    let mut seed = 7u64;
    for _ in 0..200 {
        let mut b = src.clone();
        for _ in 0..8 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let k = (seed >> 33) as usize % b.len();
            b[k] = (seed >> 17) as u8;
        }
        std::fs::write(&p, &b).unwrap();
        let _ = capture::read_capture(&p, None);
    }
}

/// Distinct bidirectional 5-tuples per protocol against tshark's conversation tables. (Flow
/// counts themselves differ by design: labelbench splits conversations at the idle/active
/// timeouts and on FIN/RST, as nfstream does; tshark does not.)
#[test]
fn conversations_match_tshark() {
    let Some(r) = real() else { return };
    if !have_tshark() {
        return;
    }
    for f in [
        "fit-iot-dataset/pcaps/schlage-lock-01.pcap",
        "fit-iot-dataset/pcaps/blink-cam-01.pcap",
        "iot-sentinel/HueBridge/Setup-A-1-STA.pcap",
        "moniotr/yi_camera_sample.pcap",
    ] {
        let p = r.join(f);
        let mut reg = Registry::default();
        let t = traffic::ingest(
            std::slice::from_ref(&p),
            &mut reg,
            None,
            &labelbench::traffic::FlowTimeouts::default(),
        );
        for (proto, name) in [(6u8, "tcp"), (17u8, "udp")] {
            let mut keys: Vec<_> = t
                .flows
                .iter()
                .filter(|fl| !fl.key.is_l2 && fl.key.proto == proto)
                .map(|fl| (fl.key.ip_a, fl.key.port_a, fl.key.ip_b, fl.key.port_b))
                .collect();
            keys.sort();
            keys.dedup();
            let out = std::process::Command::new("tshark")
                .args(["-n", "-q", "-r"])
                .arg(&p)
                .args(["-z", &format!("conv,{name}")])
                .output()
                .unwrap();
            let convs = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.contains("<->"))
                .count();
            assert_eq!(keys.len(), convs, "{f}: {name} conversations");
        }
    }
}

/// The fast decoder (etherparse's layer slices) gives exactly what etherparse's whole-packet
/// `LaxSlicedPacket` gives, on every real packet and on copies cut short or with flipped bytes.
#[test]
fn fast_decoder_matches_etherparse_sliced_packet() {
    let Some(r) = real() else { return };
    let mut files = Vec::new();
    let mut stack = vec![r.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if capture::sniff_format(&std::fs::read(&p).unwrap_or_default()).is_some() {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 10, "{files:?}");
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut n, mut variants) = (0usize, 0usize);
    let mut issues = Vec::new();
    for f in &files {
        capture::for_each_record(f, |lt, _, _, data| {
            n += 1;
            let mut check = |bytes: &[u8]| {
                let fast = capture::decode_link(lt, bytes, f, &mut issues);
                let full = capture::decode_link_full(lt, bytes, f, &mut issues);
                assert_eq!(fast, full, "{}: packet {n}: {bytes:02x?}", f.display());
                variants += 1;
            };
            check(data);
            // Cut short anywhere, and with bytes flipped in the headers.
            if !data.is_empty() {
                check(&data[..next() as usize % data.len()]);
                let mut m = data.to_vec();
                for _ in 0..3 {
                    let i = next() as usize % m.len().min(80);
                    m[i] ^= next() as u8;
                }
                check(&m);
            }
        })
        .unwrap();
    }
    assert!(n > 35_000, "{n} packets");
    eprintln!("{n} packets, {variants} frames compared");
}

/// The per-device index, built during the merge, lists exactly the packets whose source or
/// destination MAC is the device's, in packet order: checked against an independent decode of
/// every record with etherparse's whole-packet slicer.
#[test]
fn device_index_lists_exactly_the_packets_with_the_devices_mac() {
    let Some(r) = real() else { return };
    let lab = r.join("fit-iot-dataset");
    for f in ["blink-cam-01.pcap", "schlage-lock-01.pcap"] {
        let path = lab.join("pcaps").join(f);
        let mut reg = Registry::load(&lab.join("devices.json")).unwrap();
        let t = traffic::ingest(
            std::slice::from_ref(&path),
            &mut reg,
            None,
            &labelbench::traffic::FlowTimeouts::default(),
        );
        let mut macs: Vec<([u8; 6], [u8; 6])> = Vec::new();
        let mut ts = Vec::new();
        capture::for_each_record(&path, |lt, t, _, data| {
            let d = capture::decode_link_full(lt, data, &path, &mut Vec::new());
            macs.push((capture::word_mac(d.src_mac), capture::word_mac(d.dst_mac)));
            ts.push(t);
        })
        .unwrap();
        assert!(ts.is_sorted(), "{f}: records in time order");
        assert_eq!(ts, t.packets.ts, "{f}");
        let mut checked = 0;
        for (d, dev) in reg.devices.iter().enumerate() {
            let Some(mac) = dev.mac.filter(|_| dev.registered) else {
                continue;
            };
            let want: Vec<u32> = (0..macs.len() as u32)
                .filter(|&i| macs[i as usize].0 == mac || macs[i as usize].1 == mac)
                .collect();
            assert_eq!(t.by_device[d], want, "{f}: {}", dev.name);
            checked += want.len();
        }
        assert!(checked as f64 > 0.95 * ts.len() as f64, "{f}: {checked}");
    }
}

/// Regular files are memory-mapped; anything else (here a FIFO) is read in chunks. Both give
/// the same packets and the same issues, for whole, cut and pcapng inputs.
#[cfg(unix)]
#[test]
fn a_pipe_reads_like_a_mapped_file() {
    let Some(r) = real() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ntp = std::fs::read(r.join("pcap-vectors/ntp.pcap")).unwrap();
    let cases = [
        (
            "whole.pcap",
            std::fs::read(r.join("fit-iot-dataset/pcaps/schlage-lock-01.pcap")).unwrap(),
        ),
        ("cut.pcap", ntp[..ntp.len() - 10].to_vec()),
        (
            "be.pcapng",
            std::fs::read(r.join("pcap-vectors/test016-be.pcapng")).unwrap(),
        ),
        ("empty.pcap", Vec::new()),
        (
            "whole.pcap.gz",
            compress(
                &std::fs::read(r.join("fit-iot-dataset/pcaps/schlage-lock-01.pcap")).unwrap(),
                false,
            ),
        ),
    ];
    for (name, bytes) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, &bytes).unwrap();
        let fifo = dir.path().join(format!("fifo-{name}"));
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
                // The reader may stop early on a fatal problem; a broken pipe is fine then.
                let _ = f.write_all(&bytes);
            })
        };
        let piped = capture::read_capture(&fifo, None);
        writer.join().unwrap();
        let mapped = capture::read_capture(&file, None);
        assert_eq!(piped.cols.rows, mapped.cols.rows, "{name}");
        assert_eq!(piped.format, mapped.format, "{name}");
        let reasons = |p: &capture::FileParse| -> Vec<(u64, u64, String)> {
            p.issues
                .iter()
                .map(|i| (i.packet_index, i.byte_offset, i.reason.clone()))
                .collect()
        };
        assert_eq!(reasons(&piped), reasons(&mapped), "{name}");
    }
}

/// Captures compressed whole (tcpdump's `-z gzip` on rotated files, zstd archives) read exactly
/// like the same captures stored as they are, and like tshark reads them; a cut or corrupt
/// compressed stream keeps the packets before the damage and says what happened; other
/// compressions are named, not called unknown magic.
#[test]
fn compressed_captures_read_like_plain_ones() {
    let Some(r) = real() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (f, format) in [
        ("fit-iot-dataset/pcaps/schlage-lock-01.pcap", "pcap"),
        ("pcap-vectors/test016-be.pcapng", "pcapng"),
    ] {
        let plain_path = r.join(f);
        let plain = capture::read_capture(&plain_path, None);
        let bytes = std::fs::read(&plain_path).unwrap();
        for (zstd, ext) in [(false, "gz"), (true, "zst")] {
            let packed = compress(&bytes, zstd);
            let p = dir.path().join(format!("c.{format}.{ext}"));
            std::fs::write(&p, &packed).unwrap();
            let c = capture::read_capture(&p, None);
            let what = format!("{f}.{ext}");
            assert!(c.issues.is_empty(), "{what}: {:?}", c.issues);
            assert_eq!(c.cols.rows, plain.cols.rows, "{what}");
            assert_eq!(c.convs, plain.convs, "{what}");
            assert_eq!(c.link_types, plain.link_types, "{what}");
            let z = if zstd { "zstd" } else { "gzip" };
            assert_eq!(c.format, format!("{format}+{z}"), "{what}");
            assert_eq!(c.bytes_read, packed.len() as u64, "{what}");
            let mut reg = Registry::default();
            let whole = traffic::ingest(
                std::slice::from_ref(&p),
                &mut reg,
                None,
                &labelbench::traffic::FlowTimeouts::default(),
            );
            let mut reg2 = Registry::default();
            let orig = traffic::ingest(
                std::slice::from_ref(&plain_path),
                &mut reg2,
                None,
                &labelbench::traffic::FlowTimeouts::default(),
            );
            assert_eq!(whole.packets.ts, orig.packets.ts, "{what}");
            assert_eq!(whole.flows.len(), orig.flows.len(), "{what}");
            if have_tshark() {
                let out = std::process::Command::new("tshark")
                    .args(["-n", "-r"])
                    .arg(&p)
                    .args(["-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len"])
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                // Simple Packet Blocks have no time: tshark leaves it empty.
                let rows: Vec<(Option<f64>, u32)> = text
                    .lines()
                    .map(|l| {
                        let (t, n) = l.split_once('\t').unwrap();
                        (t.parse().ok(), n.parse().unwrap())
                    })
                    .collect();
                assert_eq!(rows.len(), c.cols.len(), "{what}: tshark's packet count");
                for (i, ((t, n), row)) in rows.iter().zip(&c.cols.rows).enumerate() {
                    if let Some(t) = t {
                        assert!((t - row.ts as f64 / 1e9).abs() < 2e-6, "{what} #{i} time");
                    }
                    assert_eq!(*n, row.orig_len, "{what} #{i} frame.len");
                }
            }
        }
    }
    // A download cut short: the packets before the cut are kept, and the reason says so.
    let plain_path = r.join("fit-iot-dataset/pcaps/schlage-lock-01.pcap");
    let plain = capture::read_capture(&plain_path, None);
    let packed = compress(&std::fs::read(&plain_path).unwrap(), false);
    let cut = dir.path().join("cut.pcap.gz");
    std::fs::write(&cut, &packed[..packed.len() / 2]).unwrap();
    let c = capture::read_capture(&cut, None);
    assert!(
        c.cols.len() > 1_000 && c.cols.len() < plain.cols.len(),
        "{}",
        c.cols.len()
    );
    assert_eq!(c.cols.rows[..], plain.cols.rows[..c.cols.len()]);
    let last = c.issues.last().unwrap();
    assert!(last.fatal);
    assert!(
        last.reason.contains("gzip data is corrupt or cut short")
            && last
                .reason
                .contains("byte offset counts the gzip data decompressed"),
        "{}",
        last.reason
    );
    // A compressed file that holds no capture, and compressions that are not read.
    let text = dir.path().join("notes.pcap.gz");
    std::fs::write(&text, compress(b"just some notes, not packets", false)).unwrap();
    let c = capture::read_capture(&text, None);
    assert!(c.issues[0]
        .reason
        .contains("once its gzip compression is undone"));
    for (magic, name) in [
        (&b"\xfd7zXZ\0rest"[..], "an xz-compressed file"),
        (b"BZh91AY&SY", "a bzip2-compressed file"),
        (b"PK\x03\x04rest", "a zip archive"),
    ] {
        let p = dir.path().join("other.pcap.x");
        std::fs::write(&p, magic).unwrap();
        let c = capture::read_capture(&p, None);
        assert_eq!(c.issues.len(), 1);
        assert!(
            c.issues[0].reason.starts_with(name) && c.issues[0].reason.contains("decompress"),
            "{}",
            c.issues[0].reason
        );
    }
}

/// The modified (Kuznetzov) pcap format of old Red Hat tcpdumps, as editcap writes it, reads
/// exactly like the same packets in a plain pcap; its big-endian form is refused by name.
#[test]
fn modified_pcap_reads_like_plain_pcap() {
    let Some(r) = real() else { return };
    let dir = tempfile::tempdir().unwrap();
    let plain_path = r.join("fit-iot-dataset/pcaps/schlage-lock-01.pcap");
    let modified = dir.path().join("modified.pcap");
    let made = std::process::Command::new("editcap")
        .args(["-F", "modpcap"])
        .arg(&plain_path)
        .arg(&modified)
        .status();
    if !made.is_ok_and(|s| s.success()) {
        crate::common::missing("editcap (tshark's package)");
        return;
    }
    let plain = capture::read_capture(&plain_path, None);
    let m = capture::read_capture(&modified, None);
    assert!(m.issues.is_empty(), "{:?}", m.issues);
    assert_eq!(m.format, "pcap");
    assert_eq!(m.cols.rows, plain.cols.rows);
    assert_eq!(m.convs, plain.convs);
    // Never split into segments, whose starts are found by plain record headers.
    assert_eq!(capture::segments_of(&modified, 4096), 1);
    let mut reg = Registry::default();
    let t = traffic::ingest_in_pieces(
        std::slice::from_ref(&modified),
        &mut reg,
        None,
        &labelbench::traffic::FlowTimeouts::default(),
        (1024, 4096),
    );
    assert_eq!(t.packets.ts.len(), plain.cols.len());
    let mut be = vec![0xa1, 0xb2, 0xcd, 0x34];
    be.extend([0; 20]);
    let be_path = dir.path().join("be-modified.pcap");
    std::fs::write(&be_path, be).unwrap();
    let b = capture::read_capture(&be_path, None);
    assert!(
        b.issues[0].reason.contains("big-endian modified"),
        "{:?}",
        b.issues
    );
}
