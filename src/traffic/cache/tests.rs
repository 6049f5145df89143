use super::*;

fn reader(bytes: &[u8]) -> (std::io::Cursor<&[u8]>, u64) {
    (std::io::Cursor::new(bytes), bytes.len() as u64)
}

/// Columns come back exactly through the LZ4 blocks: empty, one value, a whole block,
/// and across batch boundaries; differences wrap without loss; damage is an error.
#[test]
fn frames_round_trip_and_damage_is_an_error() {
    let per = FRAME / 8;
    for n in [0, 1, per, per + 1, per * BATCH + 3] {
        let mut x: u64 = 7;
        let ts: Vec<i64> = (0..n)
            .map(|i| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                match i % 5 {
                    0 => i64::MIN,
                    1 => i64::MAX,
                    _ => (x >> 20) as i64 - (1 << 40),
                }
            })
            .collect();
        let idx: Vec<u32> = (0..n as u32)
            .map(|i| i.wrapping_mul(2_654_435_761))
            .collect();
        let small: Vec<u8> = (0..n).map(|i| (i % 7) as u8).collect();
        let mut out: Vec<u8> = Vec::new();
        write_delta(&mut out, &ts).unwrap();
        write_delta(&mut out, &idx).unwrap();
        write_frames(&mut out, &small).unwrap();
        let (mut cur, total) = reader(&out);
        let mut fr = FrameReader {
            r: &mut cur,
            offset: 0,
            total,
            progress: None,
            bufs: Vec::new(),
        };
        assert_eq!(fr.delta_column::<i64>(n).unwrap(), ts, "{n}");
        assert_eq!(fr.delta_column::<u32>(n).unwrap(), idx, "{n}");
        assert_eq!(fr.column::<u8>(n).unwrap(), small, "{n}");
        assert_eq!(fr.offset, total);
    }
    let col: Vec<u32> = (0..100_000).map(|i| i / 3).collect();
    let mut good: Vec<u8> = Vec::new();
    write_frames(&mut good, bytemuck::cast_slice(&col)).unwrap();
    let read = |bytes: &[u8], n: usize| {
        let (mut cur, total) = reader(bytes);
        FrameReader {
            r: &mut cur,
            offset: 0,
            total,
            progress: None,
            bufs: Vec::new(),
        }
        .column::<u32>(n)
    };
    assert_eq!(read(&good, col.len()).unwrap(), col);
    // A column of another length than the header announces.
    let e = read(&good, col.len() - 1).unwrap_err();
    assert!(e.contains("damaged"), "{e}");
    // A cut file, and a corrupt compressed length.
    let e = read(&good[..good.len() - 10], col.len()).unwrap_err();
    assert!(e.contains("ends early"), "{e}");
    let mut bad = good.clone();
    bad[7] = 0x7f;
    let e = read(&bad, col.len()).unwrap_err();
    assert!(e.contains("damaged"), "{e}");
    // Garbage in place of the compressed data decodes to an error, not a panic.
    let mut bad = good.clone();
    for b in &mut bad[8..] {
        *b = 0xff;
    }
    let e = read(&bad, col.len()).unwrap_err();
    assert!(e.contains("damaged"), "{e}");
}

/// Every byte arrives in order whatever the write sizes and the total's remainder
/// modulo the block size, whether the directory takes direct I/O or not.
#[test]
fn write_file_keeps_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let mut x: u32 = 1;
    for total in [
        0,
        1,
        4095,
        4096,
        4097,
        DIRECT_BUF - 1,
        DIRECT_BUF,
        2 * DIRECT_BUF + 5000,
    ] {
        let data: Vec<u8> = (0..total)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8
            })
            .collect();
        let p = dir.path().join(format!("f{total}"));
        write_file(&p, |w| {
            // Uneven pieces, so writes straddle the buffer's end.
            let mut rest = &data[..];
            let mut k = 1;
            while !rest.is_empty() {
                let n = (k * 7919) % 1_000_003 % (rest.len() + 1);
                let n = n.max(1).min(rest.len());
                w.write_all(&rest[..n])?;
                rest = &rest[n..];
                k += 1;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), data, "{total} bytes");
        // And back, from offsets inside and across blocks, in uneven reads.
        for from in [0usize, 1, 4097, DIRECT_BUF + 1] {
            let from = from.min(total);
            let mut f = File::open(&p).unwrap();
            f.seek(SeekFrom::Start(from as u64)).unwrap();
            let mut r = body_reader(&p, f, from as u64).unwrap();
            let mut back = Vec::new();
            let mut piece = vec![0u8; 6151];
            loop {
                let n = r.read(&mut piece).unwrap();
                if n == 0 {
                    break;
                }
                back.extend_from_slice(&piece[..n]);
            }
            assert!(back == data[from..], "{total} bytes read from {from}");
        }
    }
}
