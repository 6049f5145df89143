//! The hand-over between the capture readers and the merge: pieces parsed and not yet merged,
//! per work item in order, with the bounds that keep readers from running far ahead of the
//! merge, and the row buffers they recycle.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::capture::{self, FileParse};

struct State {
    /// Per work item, its pieces parsed and not yet merged, in order.
    pieces: Vec<VecDeque<FileParse>>,
    /// Per work item, whether its last piece is among `pieces` (or merged).
    finished: Vec<bool>,
    /// Pieces waiting in `pieces`, all items.
    pending: usize,
    /// Row buffers handed back by the merge, for the readers to fill again.
    pool: Vec<Vec<capture::PacketRow>>,
    /// Items merged completely; the merge works on item `merged`.
    merged: usize,
    stop: bool,
}

/// Pieces between the readers and the merge. Readers block while they are more than
/// `window` items ahead, or while `window` pieces of later items wait; a piece of the item
/// being merged is always taken, since the merge waits for it.
pub(crate) struct PieceQueue {
    state: Mutex<State>,
    changed: Condvar,
    window: usize,
}

impl PieceQueue {
    pub(crate) fn new(items: usize, window: usize) -> Self {
        PieceQueue {
            state: Mutex::new(State {
                pieces: (0..items).map(|_| VecDeque::new()).collect(),
                finished: vec![false; items],
                pending: 0,
                pool: Vec::new(),
                merged: 0,
                stop: false,
            }),
            changed: Condvar::new(),
            window,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, g: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(g).unwrap_or_else(|e| e.into_inner())
    }

    /// A row buffer for the reader of item `i`, once the merge is within the window of it;
    /// `None` once the merge has stopped.
    pub(crate) fn rows_for_item(&self, i: usize) -> Option<Vec<capture::PacketRow>> {
        let mut g = self.lock();
        while !g.stop && i >= g.merged + self.window {
            g = self.wait(g);
        }
        if g.stop {
            return None;
        }
        Some(g.pool.pop().unwrap_or_default())
    }

    /// A recycled row buffer, or a new one: for a read done by the merge itself.
    pub(crate) fn spare_rows(&self) -> Vec<capture::PacketRow> {
        self.lock().pool.pop().unwrap_or_default()
    }

    /// Hands on a piece of item `i` that is not its last, and returns a row buffer for the
    /// next piece. Once the merge has stopped the piece is dropped and its buffer returned.
    pub(crate) fn push_piece(&self, i: usize, piece: FileParse) -> Vec<capture::PacketRow> {
        let mut g = self.lock();
        while !g.stop && i > g.merged && g.pending >= self.window {
            g = self.wait(g);
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
        self.changed.notify_all();
        rows
    }

    /// Hands on the last piece of item `i`.
    pub(crate) fn push_last(&self, i: usize, piece: FileParse) {
        {
            let mut g = self.lock();
            g.pieces[i].push_back(piece);
            g.pending += 1;
            g.finished[i] = true;
        }
        self.changed.notify_all();
    }

    /// The next piece of item `i` and whether it is the item's last, waiting for it.
    pub(crate) fn next_piece(&self, i: usize) -> (FileParse, bool) {
        let mut g = self.lock();
        let next = loop {
            if let Some(fp) = g.pieces[i].pop_front() {
                g.pending -= 1;
                break (fp, g.finished[i] && g.pieces[i].is_empty());
            }
            g = self.wait(g);
        };
        drop(g);
        // A reader may be waiting for room among the pending pieces.
        self.changed.notify_all();
        next
    }

    /// The merge is done with a piece of item `i`: its row buffer goes back to the pool,
    /// `last` marks the item merged, and `stop` ends every reader's wait.
    pub(crate) fn merged_piece(
        &self,
        i: usize,
        rows: Vec<capture::PacketRow>,
        last: bool,
        stop: bool,
    ) {
        {
            let mut g = self.lock();
            g.pool.push(rows);
            if last {
                g.merged = i + 1;
            }
            g.stop = stop;
        }
        self.changed.notify_all();
    }

    /// Ends every reader's wait: the merge is over.
    pub(crate) fn stop(&self) {
        self.lock().stop = true;
        self.changed.notify_all();
    }
}
