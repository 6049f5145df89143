//! Reading a project's captures into one store: files and segments read on all cores, handed
//! on in pieces to the merge, which runs while they are read.

use super::*;

/// Reads all files in parallel, merges them in time order, attributes packets to devices
/// (adding unregistered MACs to `registry`) and builds flows.
///
/// Worker threads take files in order and parse them, handing each on in pieces of
/// [`capture::PIECE`] packets; this thread merges each piece as soon as it and everything
/// before it are parsed, and runs flow assembly over it, so merging overlaps with parsing
/// (within one large capture too) and no thread waits at batch boundaries. Workers stay at
/// most a few files and pieces ahead of the merge, which bounds the row buffers alive at
/// once; those buffers are recycled, so their pages are faulted in only once.
///
/// A legacy pcap of at least two [`capture::SEGMENT`]s is read by several workers at once,
/// a segment each ([`capture::Part::Segment`]); otherwise one large capture kept one core
/// busy while the other waited on it.
pub fn ingest(
    files: &[PathBuf],
    registry: &mut Registry,
    progress: Option<&Progress>,
    timeouts: &FlowTimeouts,
) -> Traffic {
    ingest_in_pieces(
        files,
        registry,
        progress,
        timeouts,
        (capture::PIECE, capture::SEGMENT),
    )
}

/// [`ingest`] with files handed on in pieces of `piece` packets, and large legacy pcaps split
/// into segments of `segment` bytes (0: never): `(piece, segment)`. Tests and the fuzz targets (`fuzz/`) use small
/// pieces and segments, whose result must equal [`build`] over whole files.
pub fn ingest_in_pieces(
    files: &[PathBuf],
    registry: &mut Registry,
    progress: Option<&Progress>,
    timeouts: &FlowTimeouts,
    (piece, segment): (usize, u64),
) -> Traffic {
    use capture::Part;
    // A capture read in segments is opened once, here: every segment reads that one open
    // file, so a capture moved or deleted meanwhile is still read whole.
    let opened: Vec<Option<std::fs::File>> = files
        .iter()
        .map(|path| {
            // Only a regular file of two segments or more is opened here: opening a FIFO
            // would take its writer's data from the reader that follows.
            let big = std::fs::metadata(path)
                .is_ok_and(|m| m.is_file() && segment > 0 && m.len() >= 2 * segment);
            big.then(|| std::fs::File::open(path).ok())
                .flatten()
                .filter(|f| capture::segments_of_file(f, segment) > 1)
        })
        .collect();
    // Work items in merge order: a whole file, or one segment of a large legacy pcap.
    let items: Vec<(usize, Part)> = files
        .iter()
        .enumerate()
        .flat_map(|(f, _)| {
            let count = opened[f]
                .as_ref()
                .map_or(1, |h| capture::segments_of_file(h, segment));
            (0..count).map(move |index| {
                let part = if count == 1 {
                    Part::Whole
                } else {
                    Part::Segment {
                        index,
                        count,
                        bytes: segment,
                    }
                };
                (f, part)
            })
        })
        .collect();
    let acc = Accumulator::new(*timeouts);
    ingest_items((files, &opened), registry, progress, (acc, piece), &items)
}

/// [`ingest_in_pieces`] over the given work items: a file (by index into `files`) and the
/// part of it to read, in merge order; a file's items are consecutive. `acc` is the empty
/// store to merge into.
pub(crate) fn ingest_items(
    (files, opened): (&[PathBuf], &[Option<std::fs::File>]),
    registry: &mut Registry,
    progress: Option<&Progress>,
    (mut acc, piece): (Accumulator, usize),
    items: &[(usize, capture::Part)],
) -> Traffic {
    use capture::Part;
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Condvar, Mutex};

    struct Shared {
        /// Per work item, its pieces parsed and not yet merged, in order.
        pieces: Vec<VecDeque<FileParse>>,
        /// Per work item, whether its last piece is among `pieces` (or merged).
        finished: Vec<bool>,
        /// Pieces waiting in `pieces`, all items.
        pending: usize,
        pool: Vec<Vec<capture::PacketRow>>,
        /// Items merged completely; the merge works on item `merged`.
        merged: usize,
        stop: bool,
    }
    let total_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    if let Some(p) = progress {
        p.set_stage("reading captures", total_bytes);
    }
    let workers = rayon::current_num_threads().clamp(1, items.len().max(1));
    // Items read ahead of the merge, per reader: with 2 a reader often waited for the merge
    // (65 waits, 0.39 s on the lab week) while the merge had nothing else to overlap with;
    // 4 cut that to 23 and 0.16 s and the wall time by 4-5 %, for ~30 MB more row buffers
    // (freed before the index build, where memory peaks). The same bound applies to the
    // pieces waiting from items after the one being merged.
    let window = workers * 4;
    let shared = Mutex::new(Shared {
        pieces: (0..items.len()).map(|_| VecDeque::new()).collect(),
        finished: vec![false; items.len()],
        pending: 0,
        pool: Vec::new(),
        merged: 0,
        stop: false,
    });
    let lock = || shared.lock().unwrap_or_else(|e| e.into_inner());
    let changed = Condvar::new();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let mut spawned_any = false;
        for _ in 0..workers {
            let worker = || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items.len() {
                    break;
                }
                let (f, part) = items[i];
                let rows = {
                    let mut g = lock();
                    while !g.stop && i >= g.merged + window {
                        g = changed.wait(g).unwrap_or_else(|e| e.into_inner());
                    }
                    if g.stop {
                        break;
                    }
                    g.pool.pop().unwrap_or_default()
                };
                // A piece of the item being merged is always taken (the merge waits for it);
                // pieces of later items wait while enough are queued.
                let mut emit = |piece: FileParse| {
                    let mut g = lock();
                    while !g.stop && i > g.merged && g.pending >= window {
                        g = changed.wait(g).unwrap_or_else(|e| e.into_inner());
                    }
                    if g.stop {
                        let mut rows = piece.cols.rows;
                        rows.clear();
                        return rows;
                    }
                    g.pieces[i].push_back(piece);
                    g.pending += 1;
                    let rows = g.pool.pop().unwrap_or_default();
                    drop(g);
                    changed.notify_all();
                    rows
                };
                let fp = read_guarded(&files[f], || {
                    capture::read_capture_pieces(
                        (&files[f], opened[f].as_ref()),
                        progress,
                        rows,
                        piece,
                        part,
                        &mut emit,
                    )
                });
                {
                    let mut g = lock();
                    g.pieces[i].push_back(fp);
                    g.pending += 1;
                    g.finished[i] = true;
                }
                changed.notify_all();
            };
            let spawned = std::thread::Builder::new()
                .name("capture-reader".into())
                .spawn_scoped(scope, worker);
            spawned_any |= spawned.is_ok();
        }
        // Bytes of the files merged completely.
        let mut bytes_done = 0u64;
        let mut item = 0;
        'files: for (fi, file) in files.iter().enumerate() {
            let mut follows = Follows::Nothing;
            // Where the last segment kept ended; whether the file's reading ended for good
            // (a fatal issue); the furthest byte read.
            let (mut reached, mut fatal, mut file_bytes) = (None::<u64>, false, 0u64);
            while item < items.len() && items[item].0 == fi {
                let (i, part) = (item, items[item].1);
                item += 1;
                // Decided at the item's first piece: a segment is kept only if it starts
                // where the segment kept before it ended (so its start is a record boundary).
                let mut keep = None;
                loop {
                    let (fp, last) = {
                        let mut g = lock();
                        loop {
                            if let Some(fp) = g.pieces[i].pop_front() {
                                g.pending -= 1;
                                let last = g.finished[i] && g.pieces[i].is_empty();
                                break (fp, last);
                            }
                            if !spawned_any {
                                // No reader thread could be started: read the item here.
                                let rows = g.pool.pop().unwrap_or_default();
                                drop(g);
                                let fp = read_guarded(file, || {
                                    capture::read_capture_part(
                                        (file, opened[fi].as_ref()),
                                        progress,
                                        rows,
                                        part,
                                    )
                                });
                                break (fp, true);
                            }
                            g = changed.wait(g).unwrap_or_else(|e| e.into_inner());
                        }
                    };
                    // A reader may be waiting for room among the pending pieces.
                    changed.notify_all();
                    let kept = *keep.get_or_insert_with(|| match (part, fp.span) {
                        (Part::Segment { index: 1.., .. }, Some((start, _))) => {
                            !fatal && reached == Some(start)
                        }
                        (Part::Segment { index: 1.., .. }, None) => false,
                        _ => true,
                    });
                    let rows = if kept {
                        file_bytes = file_bytes.max(fp.bytes_read);
                        if last {
                            fatal |= fp.issues.iter().any(|x| x.fatal);
                            reached = fp.span.map(|(_, end)| end);
                        }
                        // Reserve the whole store once, from the packets-per-byte of the first
                        // piece.
                        let seen = bytes_done + fp.bytes_read;
                        let first = acc.is_empty() && seen > 0;
                        let factor = total_bytes as f64 / seen.max(1) as f64 * 1.02;
                        if first {
                            acc.reserve((fp.cols.len() as f64 * factor) as usize);
                        }
                        let rows = acc.add_piece(fp, registry, follows);
                        follows = Follows::Piece;
                        if first {
                            acc.reserve_index(factor);
                        }
                        rows
                    } else {
                        // A segment that did not start where the kept one before it ended
                        // (a wrong guess at a record boundary, or a reader that could not map
                        // the file): what follows that end is read below instead.
                        let mut rows = fp.cols.rows;
                        rows.clear();
                        rows
                    };
                    let cancelled = progress.is_some_and(|p| p.cancelled());
                    {
                        let mut g = lock();
                        g.pool.push(rows);
                        if last {
                            g.merged = i + 1;
                        }
                        g.stop = cancelled;
                    }
                    changed.notify_all();
                    if cancelled {
                        break 'files;
                    }
                    if last {
                        break;
                    }
                }
                if matches!(part, Part::Segment { .. }) && follows == Follows::Piece {
                    follows = Follows::Segment;
                }
            }
            // Segments dropped above left the end of the file unread: read it here.
            let len = match &opened[fi] {
                Some(h) => h.metadata().map_or(0, |m| m.len()),
                None => std::fs::metadata(file).map_or(0, |m| m.len()),
            };
            if let Some(from) = reached.filter(|&r| !fatal && r < len) {
                let mut emit = |fp: FileParse| {
                    let rows = acc.add_piece(fp, registry, follows);
                    follows = Follows::Piece;
                    rows
                };
                let rest = read_guarded(file, || {
                    capture::read_capture_pieces(
                        (file, opened[fi].as_ref()),
                        progress,
                        Vec::new(),
                        piece,
                        Part::From(from),
                        &mut emit,
                    )
                });
                file_bytes = file_bytes.max(rest.bytes_read);
                acc.add_piece(rest, registry, follows);
            }
            bytes_done += file_bytes;
        }
        // Unblock workers if the merge stopped early.
        lock().stop = true;
        changed.notify_all();
    });
    // The recycled row buffers are not needed by the flow and index build, where memory
    // peaks: free them first, and hand the memory back (glibc keeps freed blocks of this size
    // in its heap).
    drop(shared);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    if let Some(p) = progress {
        p.set_stage("building flows", 1);
    }
    acc.finish(registry)
}

/// Runs a capture read, turning a panic in it (a bug in decoding) into a fatal issue of that
/// file: a reader that panicked would otherwise leave the merge waiting for it for ever. What
/// was handed on before stays.
pub(crate) fn read_guarded(path: &std::path::Path, read: impl FnOnce() -> FileParse) -> FileParse {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|_| {
        let mut fp = FileParse::empty(path);
        fp.issues.push(CaptureIssue {
            file: path.to_path_buf(),
            packet_index: 0,
            byte_offset: 0,
            reason: "internal error while reading this file (a bug: please report it); its \
                     packets not yet handed on were skipped"
                .into(),
            fatal: true,
        });
        fp
    })
}

/// Merges parsed files (in file order) into one time-ordered store with flows.
pub fn build(parsed: Vec<FileParse>, registry: &mut Registry, timeouts: &FlowTimeouts) -> Traffic {
    let mut acc = Accumulator::new(*timeouts);
    acc.reserve(parsed.iter().map(|p| p.cols.len()).sum());
    for fp in parsed {
        acc.add(fp, registry);
    }
    acc.finish(registry)
}
