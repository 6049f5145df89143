//! The merge: pieces of parsed files appended to the columnar store in time order, each
//! conversation attributed to devices, flows assembled and the per-device index built.

use super::*;

#[derive(Clone, Copy)]
pub(crate) struct ConvInfo {
    pub(crate) identity: u32,
    pub(crate) device: u16,
    pub(crate) peer: u16,
}

/// Attributes a conversation to devices: registered MACs first, then registered IPs (for
/// captures without link headers), then unregistered unicast MACs.
pub(crate) fn attribute(key: &ConvKey, reg: &mut Registry) -> (u16, u16) {
    let macs = [key.mac_a, key.mac_b];
    let mut regd: Vec<u16> = macs
        .iter()
        .filter(|m| **m != MAC_NONE)
        .filter_map(|m| {
            reg.by_mac(m)
                .filter(|&i| reg.devices[i as usize].registered)
        })
        .collect();
    if regd.is_empty() && !key.is_l2 {
        for ip in [
            ip_from16(&key.ip_a, key.v6, false),
            ip_from16(&key.ip_b, key.v6, false),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(i) = reg.by_ip(&ip) {
                regd.push(i);
            }
        }
    }
    regd.dedup();
    match regd.len() {
        0 => {
            let mut un: Vec<u16> = Vec::new();
            for m in macs {
                if m != MAC_NONE && !is_group_mac(&m) {
                    un.push(reg.add_unregistered(m));
                }
            }
            (
                un.first().copied().unwrap_or(NO_DEVICE),
                un.get(1).copied().unwrap_or(NO_DEVICE),
            )
        }
        1 => (regd[0], NO_DEVICE),
        _ => (regd[0].min(regd[1]), regd[0].max(regd[1])),
    }
}

/// Appends files to the global columns one at a time and assembles flows in the same pass
/// while the input stays in time order, so flow assembly overlaps with parsing the next files.
/// Packets that arrive out of order (overlapping captures) are kept with their conversation,
/// and [`Accumulator::finish`] sorts and assembles everything afresh.
#[derive(Default)]
pub struct Accumulator {
    pub(crate) t: Traffic,
    pub(crate) conv_map: HashMap<ConvKey, u32, rustc_hash::FxBuildHasher>,
    pub(crate) ident_map: HashMap<ConvKey, u32, rustc_hash::FxBuildHasher>,
    pub(crate) convs: Vec<ConvInfo>,
    pub(crate) conv_keys: Vec<ConvKey>,
    pub(crate) ident_keys: Vec<ConvKey>,
    pub(crate) pk: Packets,
    /// Conversation of each packet after the first out-of-order one (earlier packets know
    /// theirs through their flow).
    pub(crate) conv_tail: Vec<u32>,
    /// Per device, its packets so far (see [`Traffic::by_device`]).
    pub(crate) by_device: Vec<Vec<u32>>,
    /// True once a packet arrived out of time order (flows are then built at the end).
    pub(crate) unordered: bool,
    pub(crate) fl: FlowState,
    /// The conversations of the file being merged, by its own conversation ids (which its
    /// later pieces go on using).
    pub(crate) local: Vec<Local>,
    /// Packets of the file being merged before the segment being merged.
    pub(crate) segment_base: u64,
}

/// How a piece handed to [`Accumulator::add_piece`] relates to the one merged before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follows {
    /// Nothing: it begins a file.
    Nothing,
    /// The previous piece of the same read (conversation ids run on).
    Piece,
    /// The previous segment of the same file ([`capture::Part::Segment`]), read by another
    /// reader: the file goes on, its conversation ids start afresh.
    Segment,
}

/// What the merge needs per conversation of one file, looked up once per file so the
/// per-packet loop reads one small table.
#[derive(Clone, Copy)]
pub(crate) struct Local {
    pub(crate) conv: u32,
    pub(crate) info: ConvInfo,
}

impl Accumulator {
    /// An empty store whose flows end by these timeouts.
    pub fn new(timeouts: FlowTimeouts) -> Accumulator {
        Accumulator {
            fl: FlowState::new(timeouts),
            ..Accumulator::default()
        }
    }
    pub fn len(&self) -> usize {
        self.pk.ts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.pk.ts.is_empty()
    }
    /// Reserves room for `total` packets in all columns.
    pub fn reserve(&mut self, total: usize) {
        let more = total.saturating_sub(self.pk.ts.len());
        self.pk.reserve_more(more, true);
    }

    /// Reserves room in every device's index list for `factor` times its current length
    /// (from the first file's share of the input), so the lists rarely grow.
    pub fn reserve_index(&mut self, factor: f64) {
        for l in &mut self.by_device {
            l.reserve_exact((l.len() as f64 * (factor - 1.0)).max(0.0) as usize);
        }
    }

    /// Merges one parsed file and assembles flows over it. Returns the file's row buffer,
    /// emptied, for reuse.
    pub fn add(&mut self, fp: FileParse, registry: &mut Registry) -> Vec<capture::PacketRow> {
        self.add_piece(fp, registry, Follows::Nothing)
    }

    /// [`Accumulator::add`] for a piece of a file ([`capture::read_capture_pieces`]);
    /// `follows` says how it relates to the piece merged before it.
    pub fn add_piece(
        &mut self,
        mut fp: FileParse,
        registry: &mut Registry,
        follows: Follows,
    ) -> Vec<capture::PacketRow> {
        let continues = follows != Follows::Nothing;
        if follows != Follows::Piece {
            self.local.clear();
            // A segment's reader counts its records from the segment's start.
            self.segment_base = match self.t.files.last().filter(|_| continues) {
                Some(f) => f.packets,
                None => 0,
            };
        }
        for i in &mut fp.issues {
            i.packet_index += self.segment_base;
        }
        if continues {
            // A later segment of a file repeats the file's once-only warnings (the file's
            // earlier issues are the last ones recorded).
            let earlier = &self.t.issues;
            let path = &fp.path;
            fp.issues.retain(|i| {
                !(i.once_per_file()
                    && earlier
                        .iter()
                        .rev()
                        .take_while(|e| &e.file == path)
                        .any(|e| e.reason == i.reason))
            });
        }
        let (conv_map, ident_map, convs, conv_keys, ident_keys) = (
            &mut self.conv_map,
            &mut self.ident_map,
            &mut self.convs,
            &mut self.conv_keys,
            &mut self.ident_keys,
        );
        self.local.extend(fp.convs.iter().map(|k| {
            let next = convs.len() as u32;
            let conv = *conv_map.entry(*k).or_insert_with(|| {
                let idk = k.flow_identity();
                let nid = ident_keys.len() as u32;
                let identity = *ident_map.entry(idk).or_insert_with(|| {
                    ident_keys.push(*k);
                    nid
                });
                let (device, peer) = attribute(k, registry);
                convs.push(ConvInfo {
                    identity,
                    device,
                    peer,
                });
                conv_keys.push(*k);
                next
            });
            Local {
                conv,
                info: convs[conv as usize],
            }
        }));
        let local = &self.local;
        self.fl.active.resize(self.ident_keys.len(), u32::MAX);
        self.by_device.resize_with(registry.len(), Vec::new);
        match self.t.files.last_mut().filter(|_| continues) {
            Some(f) => {
                f.packets += fp.cols.len() as u64;
                f.bytes_read = f.bytes_read.max(fp.bytes_read);
                f.first_ns = f.first_ns.or(fp.cols.first_ts());
                f.last_ns = fp.cols.last_ts().or(f.last_ns);
                if !fp.link_types.is_empty() {
                    f.link_types = fp.link_types.clone();
                }
            }
            None => self.t.files.push(FileSummary {
                path: fp.path.clone(),
                format: fp.format.to_string(),
                packets: fp.cols.len() as u64,
                bytes_read: fp.bytes_read,
                link_types: fp.link_types.clone(),
                first_ns: fp.cols.first_ts(),
                last_ns: fp.cols.last_ts(),
            }),
        }
        self.t.issues.extend(fp.issues);
        let mut rows = fp.cols.rows;
        let mut i = 0;
        if !self.unordered {
            let (pk, fl, lists) = (&mut self.pk, &mut self.fl, &mut self.by_device);
            let last = pk.ts.last().copied().unwrap_or(i64::MIN);
            i = merge_in_order(pk, fl, lists, local, &rows, last);
            self.unordered = i < rows.len();
        }
        let tail = &rows[i..];
        self.pk.append_rows(tail);
        self.conv_tail
            .extend(tail.iter().map(|r| local[r.conv as usize].conv));
        rows.clear();
        rows
    }

    /// Restores time order if needed, completes flows and builds the per-device index.
    pub fn finish(mut self, registry: &mut Registry) -> Traffic {
        if self.unordered {
            // Files overlap in time (several capture points): sort, then assemble afresh.
            let flowed = self.pk.flow.len();
            let cold = &self.fl.cold;
            let mut conv_of: Vec<u32> = self.pk.flow[..flowed]
                .par_iter()
                .map(|&f| cold[f as usize].0)
                .collect();
            conv_of.append(&mut self.conv_tail);
            let pk = &mut self.pk;
            let mut order: Vec<u32> = (0..pk.ts.len() as u32).collect();
            order.par_sort_by_key(|&i| pk.ts[i as usize]);
            fn permute<T: Copy + Send + Sync>(v: &mut Vec<T>, order: &[u32]) {
                *v = order.par_iter().map(|&i| v[i as usize]).collect();
            }
            permute(&mut pk.ts, &order);
            permute(&mut pk.orig_len, &order);
            permute(&mut pk.ip_len, &order);
            permute(&mut pk.tcp_len, &order);
            permute(&mut pk.ttl, &order);
            permute(&mut pk.tcp_flags, &order);
            permute(&mut pk.bits, &order);
            permute(&mut conv_of, &order);
            drop(order);
            pk.flow.clear();
            let lists = &mut self.by_device;
            lists.iter_mut().for_each(Vec::clear);
            let fl = &mut self.fl;
            fl.active.fill(u32::MAX);
            fl.hot.clear();
            fl.cold.clear();
            for (i, &c) in conv_of.iter().enumerate() {
                let (ts, len, b, tf) = (pk.ts[i], pk.orig_len[i], pk.bits[i], pk.tcp_flags[i]);
                let info = self.convs[c as usize];
                pk.flow.push(fl.step(ts, len, b, tf, c, info.identity));
                index_packet(lists, info, i as u32);
            }
        }
        let Accumulator {
            mut t,
            convs,
            conv_keys,
            pk,
            fl:
                FlowState {
                    hot,
                    cold,
                    timeouts,
                    ..
                },
            mut by_device,
            ..
        } = self;
        // Packets per conversation, for the unregistered-MAC summary.
        let mut conv_pkts = vec![0u64; convs.len()];
        for (h, &(c, _, _)) in hot.iter().zip(&cold) {
            conv_pkts[c as usize] += h.pkts_ab + h.pkts_ba;
        }
        let mut mac_counts: HashMap<[u8; 6], u64> = HashMap::new();
        for (c, k) in conv_keys.iter().enumerate() {
            for m in [k.mac_a, k.mac_b] {
                if m != MAC_NONE
                    && !is_group_mac(&m)
                    && registry
                        .by_mac(&m)
                        .is_none_or(|d| !registry.devices[d as usize].registered)
                {
                    *mac_counts.entry(m).or_default() += conv_pkts[c];
                }
            }
        }
        let mut um: Vec<([u8; 6], u64)> = mac_counts.into_iter().collect();
        um.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        t.unregistered_macs = um;
        let last_ts = pk.ts.last().copied().unwrap_or(i64::MIN);
        t.flows = hot
            .iter()
            .zip(&cold)
            .map(|(h, &(c, end, first_ba))| {
                let key = conv_keys[c as usize];
                let end = timeouts.end_at_input_end(end, &key, h.last, last_ts);
                h.flow(key, convs[c as usize].device, end, first_ba)
            })
            .collect();
        t.packets = pk;
        t.flow_timeouts = timeouts;
        by_device.resize_with(registry.len(), Vec::new);
        t.by_device = by_device;
        t
    }
}

/// Appends the leading in-order run of `rows` (none before `last`) to the columns, runs the
/// flow state machine and indexes each packet, in one pass over the rows; returns how many
/// rows it took. One pass writing every column through its spare capacity reads each row
/// once, where a pass per column re-read the block from cache for each.
pub(crate) fn merge_in_order(
    pk: &mut Packets,
    fl: &mut FlowState,
    lists: &mut [Vec<u32>],
    local: &[Local],
    rows: &[capture::PacketRow],
    mut last: i64,
) -> usize {
    let n = rows.len();
    pk.reserve_more(n, false);
    let base = pk.ts.len();
    let mut taken = n;
    {
        let ts = &mut pk.ts.spare_capacity_mut()[..n];
        let orig_len = &mut pk.orig_len.spare_capacity_mut()[..n];
        let ip_len = &mut pk.ip_len.spare_capacity_mut()[..n];
        let tcp_len = &mut pk.tcp_len.spare_capacity_mut()[..n];
        let ttl = &mut pk.ttl.spare_capacity_mut()[..n];
        let tcp_flags = &mut pk.tcp_flags.spare_capacity_mut()[..n];
        let bits = &mut pk.bits.spare_capacity_mut()[..n];
        let flow = &mut pk.flow.spare_capacity_mut()[..n];
        for (k, r) in rows.iter().enumerate() {
            if r.ts < last {
                taken = k;
                break;
            }
            last = r.ts;
            prefetch(rows.as_ptr().wrapping_add(k + 64));
            let l = &local[r.conv as usize];
            ts[k].write(r.ts);
            orig_len[k].write(r.orig_len);
            ip_len[k].write(r.ip_len);
            tcp_len[k].write(r.tcp_len);
            ttl[k].write(r.ttl);
            tcp_flags[k].write(r.tcp_flags);
            bits[k].write(r.bits);
            flow[k].write(fl.step(
                r.ts,
                r.orig_len,
                r.bits,
                r.tcp_flags,
                l.conv,
                l.info.identity,
            ));
            index_packet(lists, l.info, (base + k) as u32);
        }
    }
    // SAFETY: the first `taken` spare elements of every column were written above.
    unsafe { pk.set_len(base + taken) };
    taken
}

/// Asks for the cache line at `p` ahead of use (the rows were written on another core, so the
/// merge otherwise waited on each of their lines).
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
}

/// Appends packet `i` to the index lists of its device and its peer (either may be
/// [`NO_DEVICE`]).
#[inline(always)]
pub(crate) fn index_packet(lists: &mut [Vec<u32>], info: ConvInfo, i: u32) {
    if let Some(l) = lists.get_mut(info.device as usize) {
        l.push(i);
    }
    if let Some(l) = lists.get_mut(info.peer as usize) {
        l.push(i);
    }
}
