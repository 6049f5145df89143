//! Reading a project's captures into one store: files and segments read on all cores, handed
//! on in pieces to the merge, which runs while they are read.

use super::pieces::PieceQueue;
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
    use std::sync::atomic::AtomicUsize;
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
    let queue = PieceQueue::new(items.len(), workers * 4);
    let next = AtomicUsize::new(0);
    let readers = Readers {
        files,
        opened,
        items,
        progress,
        piece,
    };
    std::thread::scope(|scope| {
        let mut spawned_any = false;
        for _ in 0..workers {
            let spawned = std::thread::Builder::new()
                .name("capture-reader".into())
                .spawn_scoped(scope, || readers.read_items(&queue, &next));
            spawned_any |= spawned.is_ok();
        }
        let mut merge = Merge {
            acc: &mut acc,
            registry: &mut *registry,
            readers: &readers,
            queue: &queue,
            spawned_any,
            total_bytes,
            bytes_done: 0,
        };
        let mut item = 0;
        for fi in 0..files.len() {
            if !merge.merge_file(fi, &mut item) {
                break;
            }
        }
        // Unblock readers if the merge stopped early.
        queue.stop();
    });
    // The recycled row buffers are not needed by the flow and index build, where memory
    // peaks: free them first, and hand the memory back (glibc keeps freed blocks of this size
    // in its heap).
    drop(queue);
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

/// What the reader threads read: the files (opened ones for segmented reads) and the work
/// items, in merge order.
struct Readers<'a> {
    files: &'a [PathBuf],
    opened: &'a [Option<std::fs::File>],
    items: &'a [(usize, capture::Part)],
    progress: Option<&'a Progress>,
    piece: usize,
}

impl Readers<'_> {
    /// One reader thread: takes the next work item until none is left or the merge stops,
    /// and hands its pieces on.
    fn read_items(&self, queue: &PieceQueue, next: &std::sync::atomic::AtomicUsize) {
        use std::sync::atomic::Ordering;
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= self.items.len() {
                break;
            }
            let Some(rows) = queue.rows_for_item(i) else {
                break;
            };
            let (f, part) = self.items[i];
            let mut emit = |piece: FileParse| queue.push_piece(i, piece);
            let fp = read_guarded(&self.files[f], || {
                capture::read_capture_pieces(
                    (&self.files[f], self.opened[f].as_ref()),
                    self.progress,
                    rows,
                    self.piece,
                    part,
                    &mut emit,
                )
            });
            queue.push_last(i, fp);
        }
    }
}

/// The merge, on the thread that called [`ingest_items`]: takes each item's pieces in order
/// and adds them to the store.
struct Merge<'a> {
    acc: &'a mut Accumulator,
    registry: &'a mut Registry,
    readers: &'a Readers<'a>,
    queue: &'a PieceQueue,
    /// Whether any reader thread started; if none could, the merge reads each item itself.
    spawned_any: bool,
    total_bytes: u64,
    /// Bytes of the files merged completely.
    bytes_done: u64,
}

/// Where the merge of one file stands.
struct FileMerge {
    follows: Follows,
    /// Where the last segment kept ended.
    reached: Option<u64>,
    /// Whether the file's reading ended for good (a fatal issue).
    fatal: bool,
    /// The furthest byte read.
    bytes: u64,
}

impl Merge<'_> {
    /// Merges the items of file `fi`, starting at `*item`, and reads what dropped segments
    /// left unread. False when the load was cancelled.
    fn merge_file(&mut self, fi: usize, item: &mut usize) -> bool {
        use capture::Part;
        let items = self.readers.items;
        let mut state = FileMerge {
            follows: Follows::Nothing,
            reached: None,
            fatal: false,
            bytes: 0,
        };
        while *item < items.len() && items[*item].0 == fi {
            let (i, part) = (*item, items[*item].1);
            *item += 1;
            if !self.merge_item(fi, i, part, &mut state) {
                return false;
            }
            if matches!(part, Part::Segment { .. }) && state.follows == Follows::Piece {
                state.follows = Follows::Segment;
            }
        }
        self.read_rest(fi, &mut state);
        self.bytes_done += state.bytes;
        true
    }

    /// The next piece of item `i` and whether it is the item's last.
    fn next_piece(&self, fi: usize, i: usize) -> (FileParse, bool) {
        if self.spawned_any {
            return self.queue.next_piece(i);
        }
        // No reader thread could be started: read the item here.
        let r = self.readers;
        let file = &r.files[fi];
        let rows = self.queue.spare_rows();
        let fp = read_guarded(file, || {
            capture::read_capture_part(
                (file, r.opened[fi].as_ref()),
                r.progress,
                rows,
                r.items[i].1,
            )
        });
        (fp, true)
    }

    /// Merges the pieces of work item `i`. False when the load was cancelled.
    fn merge_item(&mut self, fi: usize, i: usize, part: capture::Part, st: &mut FileMerge) -> bool {
        use capture::Part;
        // Decided at the item's first piece: a segment is kept only if it starts where the
        // segment kept before it ended (so its start is a record boundary).
        let mut keep = None;
        loop {
            let (fp, last) = self.next_piece(fi, i);
            let kept = *keep.get_or_insert_with(|| match (part, fp.span) {
                (Part::Segment { index: 1.., .. }, Some((start, _))) => {
                    !st.fatal && st.reached == Some(start)
                }
                (Part::Segment { index: 1.., .. }, None) => false,
                _ => true,
            });
            let rows = if kept {
                st.bytes = st.bytes.max(fp.bytes_read);
                if last {
                    st.fatal |= fp.issues.iter().any(|x| x.fatal);
                    st.reached = fp.span.map(|(_, end)| end);
                }
                let rows = self.add_piece(fp, st.follows);
                st.follows = Follows::Piece;
                rows
            } else {
                // A segment that did not start where the kept one before it ended (a wrong
                // guess at a record boundary, or a reader that could not map the file): what
                // follows that end is read by `read_rest` instead.
                let mut rows = fp.cols.rows;
                rows.clear();
                rows
            };
            let cancelled = self.readers.progress.is_some_and(|p| p.cancelled());
            self.queue.merged_piece(i, rows, last, cancelled);
            if cancelled {
                return false;
            }
            if last {
                return true;
            }
        }
    }

    /// Adds a piece to the store, reserving the whole store once, from the packets-per-byte
    /// of the first piece.
    fn add_piece(&mut self, fp: FileParse, follows: Follows) -> Vec<capture::PacketRow> {
        let seen = self.bytes_done + fp.bytes_read;
        let first = self.acc.is_empty() && seen > 0;
        let factor = self.total_bytes as f64 / seen.max(1) as f64 * 1.02;
        if first {
            self.acc.reserve((fp.cols.len() as f64 * factor) as usize);
        }
        let rows = self.acc.add_piece(fp, self.registry, follows);
        if first {
            self.acc.reserve_index(factor);
        }
        rows
    }

    /// Reads the end of file `fi` that segments dropped by `merge_item` left unread.
    fn read_rest(&mut self, fi: usize, st: &mut FileMerge) {
        let r = self.readers;
        let file = &r.files[fi];
        let len = match &r.opened[fi] {
            Some(h) => h.metadata().map_or(0, |m| m.len()),
            None => std::fs::metadata(file).map_or(0, |m| m.len()),
        };
        let Some(from) = st.reached.filter(|&end| !st.fatal && end < len) else {
            return;
        };
        let (acc, registry) = (&mut *self.acc, &mut *self.registry);
        let mut follows = st.follows;
        let mut emit = |fp: FileParse| {
            let rows = acc.add_piece(fp, registry, follows);
            follows = Follows::Piece;
            rows
        };
        let rest = read_guarded(file, || {
            capture::read_capture_pieces(
                (file, r.opened[fi].as_ref()),
                r.progress,
                Vec::new(),
                r.piece,
                capture::Part::From(from),
                &mut emit,
            )
        });
        st.bytes = st.bytes.max(rest.bytes_read);
        self.acc.add_piece(rest, self.registry, follows);
    }
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
