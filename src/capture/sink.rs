//! Where decoded packets go while a file is read: rows with per-file conversation ids, and the
//! conversations first seen, handed on in pieces.

use super::*;

/// Slots of [`Sink::recent`] (a power of two).
pub(crate) const RECENT: usize = 4096;

/// Interns conversations of one file and accumulates its packet rows.
pub(crate) struct Sink {
    pub(crate) cols: FileCols,
    pub(crate) convs: Vec<RawKey>,
    /// Conversation ids, hashed by their keys in `convs` (keys are stored once).
    pub(crate) table: hashbrown::HashTable<u32>,
    /// A direct-mapped cache in front of `table`, holding keys inline: a hit costs one load
    /// after hashing instead of the table's chain of control byte, id and key.
    pub(crate) recent: Vec<Slot>,
    /// Conversations already handed on with earlier pieces.
    pub(crate) handed_convs: usize,
    /// Rows already handed on with earlier pieces.
    pub(crate) handed_rows: u64,
}

/// A [`Sink::recent`] entry: a key and its id in one aligned cache line. As `(RawKey, u32)`
/// it took 80 bytes (the key's `u128`s align it to 16), so most look-ups touched two lines.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Slot(pub(crate) [u64; 8]);

impl Slot {
    /// Holds no packet's key (see [`RawKey::NONE`]).
    const EMPTY: Slot = Slot::new(&RawKey::NONE, 0);

    #[inline(always)]
    pub(crate) const fn new(k: &RawKey, id: u32) -> Slot {
        Slot([
            k.ip_a as u64,
            (k.ip_a >> 64) as u64,
            k.ip_b as u64,
            (k.ip_b >> 64) as u64,
            k.mac_a,
            k.mac_b,
            k.small,
            id as u64,
        ])
    }
    /// Branch-free, like [`RawKey`]'s comparison.
    #[inline(always)]
    pub(crate) fn holds(&self, k: &RawKey) -> bool {
        let w = &self.0;
        ((w[0] ^ k.ip_a as u64)
            | (w[1] ^ (k.ip_a >> 64) as u64)
            | (w[2] ^ k.ip_b as u64)
            | (w[3] ^ (k.ip_b >> 64) as u64)
            | (w[4] ^ k.mac_a)
            | (w[5] ^ k.mac_b)
            | (w[6] ^ k.small))
            == 0
    }
}

impl Sink {
    pub(crate) fn new(rows: Vec<PacketRow>) -> Self {
        Sink {
            cols: FileCols { rows },
            convs: Vec::new(),
            table: hashbrown::HashTable::new(),
            recent: vec![Slot::EMPTY; RECENT],
            handed_convs: 0,
            handed_rows: 0,
        }
    }

    /// Packets taken so far (the index in the part read of the next one).
    pub(crate) fn packets(&self) -> u64 {
        self.handed_rows + self.cols.rows.len() as u64
    }

    /// Hands the rows so far on as a piece (see [`read_capture_pieces`]), keeping back the
    /// last [`ENDS`]: a file cut while mapped takes back at most that many records, and those
    /// must still be here to be taken back.
    #[cold]
    #[inline(never)]
    pub(crate) fn hand_off(
        &mut self,
        path: &Path,
        format: &'static str,
        bytes: u64,
        start: Option<u64>,
        emit: Emit<'_>,
    ) {
        let rows = &mut self.cols.rows;
        let kept: Vec<PacketRow> = rows[rows.len().saturating_sub(ENDS)..].to_vec();
        rows.truncate(rows.len() - kept.len());
        self.handed_rows += rows.len() as u64;
        let convs = self.convs[self.handed_convs..]
            .iter()
            .map(|&k| k.to_conv())
            .collect();
        self.handed_convs = self.convs.len();
        let mut piece = FileParse::empty(path);
        piece.format = format;
        piece.bytes_read = bytes;
        piece.span = start.map(|s| (s, bytes));
        piece.convs = convs;
        piece.cols.rows = std::mem::take(rows);
        let mut fresh = emit(piece);
        fresh.clear();
        fresh.extend_from_slice(&kept);
        *rows = fresh;
    }
    #[inline(always)]
    pub(crate) fn push(&mut self, ts: i64, orig_len: u32, d: &Decoded) {
        let (key, ba) = RawKey::of(d);
        let slot = &mut self.recent[key.slot()];
        let id = if slot.holds(&key) {
            slot.0[7] as u32
        } else {
            let h = key.hash64();
            let convs = &mut self.convs;
            let id = match self.table.find(h, |&i| convs[i as usize] == key) {
                Some(&i) => i,
                None => {
                    let i = convs.len() as u32;
                    convs.push(key);
                    self.table
                        .insert_unique(h, i, |&j| convs[j as usize].hash64());
                    i
                }
            };
            *slot = Slot::new(&key, id);
            id
        };
        self.cols.rows.push(PacketRow {
            ts,
            orig_len,
            conv: id,
            ip_len: d.ip_len.min(u16::MAX as u32) as u16,
            tcp_len: d.tcp_len.min(u16::MAX as u32) as u16,
            bits: d.bits | if ba { bits::DIR_BA } else { 0 },
            ttl: d.ttl,
            tcp_flags: d.tcp_flags,
        });
    }
}
