//! Flows assembled over a traffic dataset a chunk (a day) at a time, with the flow state
//! carried from one chunk to the next, so that memory follows one chunk's packets and the
//! flows still open, not the whole span; the flows that come out equal those of loading the
//! whole span at once ([`super::build`]), flow for flow.

use super::*;
use crate::capture::bits;

/// A flow that has ended, numbered as the whole span's flow table numbers it.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamedFlow {
    /// Its index in the flow table of the whole span (flows in order of their first packet).
    pub id: u64,
    pub flow: Flow,
    /// IP bytes sent by endpoint A and by endpoint B (`conn.log`'s `*_ip_bytes`).
    pub ip_bytes: [u64; 2],
}

/// Per device, what the packets of the stream so far held of it (as primary or peer).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StreamedDevice {
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
}

/// The flow state machine run over chunks of packets in time order.
#[derive(Default)]
pub struct FlowStream {
    conv_map: HashMap<ConvKey, u32, rustc_hash::FxBuildHasher>,
    ident_map: HashMap<ConvKey, u32, rustc_hash::FxBuildHasher>,
    convs: Vec<ConvInfo>,
    conv_keys: Vec<ConvKey>,
    fl: FlowState,
    /// Per slot of `fl.hot`: the flow's id and its IP bytes per direction.
    ids: Vec<u64>,
    ip_bytes: Vec<[u64; 2]>,
    next_id: u64,
    /// The time of the last packet fed.
    last_ts: Option<i64>,
    devices: Vec<StreamedDevice>,
}

impl FlowStream {
    pub fn new(timeouts: FlowTimeouts) -> FlowStream {
        FlowStream {
            fl: FlowState::new(timeouts),
            ..FlowStream::default()
        }
    }

    /// Feeds one chunk: the inputs' packets of one stretch of time, one parse per input in
    /// manifest order, no packet earlier than any fed before. Conversations are attributed
    /// to devices as the whole load attributes them (unregistered MACs join `registry`).
    /// Within the chunk packets go in time order, ties in input and record order, as the
    /// whole load's merge orders them.
    pub fn feed(
        &mut self,
        parsed: Vec<FileParse>,
        registry: &mut Registry,
    ) -> std::result::Result<(), String> {
        let mut rows: Vec<(capture::PacketRow, u32)> = Vec::new();
        for fp in parsed {
            let local: Vec<u32> = fp.convs.iter().map(|k| self.conv(k, registry)).collect();
            rows.extend(fp.cols.rows.iter().map(|r| (*r, local[r.conv as usize])));
        }
        // Stable, as the whole load's sort: ties stay in input and record order. Hourly
        // files of one capture point arrive in order, and need none.
        if !rows.is_sorted_by_key(|(r, _)| r.ts) {
            rows.sort_by_key(|(r, _)| r.ts);
        }
        if let (Some(first), Some(last)) = (rows.first(), self.last_ts) {
            if first.0.ts < last {
                return Err(format!(
                    "a packet at {} comes after one at {}: chunks must be fed in time order",
                    crate::timefmt::utc(first.0.ts),
                    crate::timefmt::utc(last)
                ));
            }
        }
        self.fl.active.resize(self.ident_map.len(), u32::MAX);
        self.devices
            .resize(registry.len(), StreamedDevice::default());
        for (r, c) in rows {
            let info = self.convs[c as usize];
            let slots = self.fl.hot.len();
            let f = self
                .fl
                .step(r.ts, r.orig_len, r.bits, r.tcp_flags, c, info.identity)
                as usize;
            if f == slots {
                self.ids.push(self.next_id);
                self.ip_bytes.push([0, 0]);
                self.next_id += 1;
            }
            self.ip_bytes[f][(r.bits & bits::DIR_BA != 0) as usize] += r.ip_len as u64;
            for d in [info.device, info.peer] {
                if let Some(s) = self.devices.get_mut(d as usize) {
                    s.packets += 1;
                    s.bytes += r.orig_len as u64;
                    s.first_ns.get_or_insert(r.ts);
                    s.last_ns = Some(r.ts);
                }
            }
            self.last_ts = Some(r.ts);
        }
        Ok(())
    }

    /// The stream's id of a conversation key, attributing a new one to its devices.
    fn conv(&mut self, k: &ConvKey, registry: &mut Registry) -> u32 {
        if let Some(&c) = self.conv_map.get(k) {
            return c;
        }
        let next_ident = self.ident_map.len() as u32;
        let identity = *self
            .ident_map
            .entry(k.flow_identity())
            .or_insert(next_ident);
        let (device, peer) = attribute(k, registry);
        let c = self.convs.len() as u32;
        self.convs.push(ConvInfo {
            identity,
            device,
            peer,
        });
        self.conv_keys.push(*k);
        self.conv_map.insert(*k, c);
        c
    }

    /// The flows no later packet can extend, as of the last packet fed, in id order; they
    /// leave the state. A flow a later packet superseded has ended; a flow still open whose
    /// idle timeout has passed ends idle (as the next packet of its identity, or the end of
    /// the input, would end it); a closed connection whose linger has passed has ended.
    pub fn take_ended(&mut self) -> Vec<StreamedFlow> {
        let Some(now) = self.last_ts else {
            return Vec::new();
        };
        let n = self.fl.hot.len();
        let mut live = vec![false; n];
        for slot in self.fl.active.iter_mut().filter(|s| **s != u32::MAX) {
            let f = *slot as usize;
            let h = &self.fl.hot[f];
            let to = &self.fl.timeouts;
            let key = &self.conv_keys[self.fl.cold[f].0 as usize];
            let over = if h.closed_at != OPEN {
                now - h.closed_at > to.linger_ns
            } else if now - h.last > to.idle_for_key(key) {
                self.fl.cold[f].1 = FlowEnd::Idle;
                true
            } else {
                false
            };
            if over {
                *slot = u32::MAX;
            } else {
                live[f] = true;
            }
        }
        self.drain(|f| !live[f])
    }

    /// Every flow left, ended as the whole load ends them at the end of its input.
    pub fn finish(mut self) -> (Vec<StreamedFlow>, Vec<StreamedDevice>) {
        let last = self.last_ts.unwrap_or(i64::MIN);
        for (h, cold) in self.fl.hot.iter().zip(self.fl.cold.iter_mut()) {
            let key = &self.conv_keys[cold.0 as usize];
            cold.1 = self.fl.timeouts.end_at_input_end(cold.1, key, h.last, last);
        }
        self.fl.active.fill(u32::MAX);
        let out = self.drain(|_| true);
        (out, self.devices)
    }

    /// Takes the flows `ended` picks out of the state (sorted by id), renumbering the slots of
    /// those that stay.
    fn drain(&mut self, ended: impl Fn(usize) -> bool) -> Vec<StreamedFlow> {
        let n = self.fl.hot.len();
        let mut out = Vec::new();
        let mut remap = vec![u32::MAX; n];
        let mut kept = 0usize;
        for (f, new_slot) in remap.iter_mut().enumerate() {
            if ended(f) {
                let (h, (c, end, first_ba)) = (self.fl.hot[f], self.fl.cold[f]);
                let info = self.convs[c as usize];
                if let Some(d) = self.devices.get_mut(info.device as usize) {
                    d.flows += 1;
                }
                out.push(StreamedFlow {
                    id: self.ids[f],
                    flow: h.flow(self.conv_keys[c as usize], info.device, end, first_ba),
                    ip_bytes: self.ip_bytes[f],
                });
            } else {
                self.fl.hot[kept] = self.fl.hot[f];
                self.fl.cold[kept] = self.fl.cold[f];
                self.ids[kept] = self.ids[f];
                self.ip_bytes[kept] = self.ip_bytes[f];
                *new_slot = kept as u32;
                kept += 1;
            }
        }
        self.fl.hot.truncate(kept);
        self.fl.cold.truncate(kept);
        self.ids.truncate(kept);
        self.ip_bytes.truncate(kept);
        for slot in self.fl.active.iter_mut().filter(|s| **s != u32::MAX) {
            *slot = remap[*slot as usize];
        }
        out
    }

    /// Flows begun and not yet ended.
    pub fn open_flows(&self) -> usize {
        self.fl.hot.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{ConvKey, FileCols, PacketRow};

    const S: i64 = 1_000_000_000;

    fn key(port: u16) -> ConvKey {
        let mut ip_a = [0u8; 16];
        ip_a[10] = 0xff;
        ip_a[11] = 0xff;
        ip_a[12..].copy_from_slice(&[192, 168, 1, 10]);
        let mut ip_b = ip_a;
        ip_b[15] = 1;
        ConvKey {
            proto: 6,
            ethertype: 0x0800,
            is_l2: false,
            v6: false,
            ip_a,
            ip_b,
            port_a: port,
            port_b: 443,
            mac_a: [2, 0, 0, 0, 0, 1],
            mac_b: [2, 0, 0, 0, 0, 2],
        }
    }

    /// Two files of packets `(seconds, port, tcp flags, from b)` over four conversations.
    fn files(pkts: &[(i64, u16, u8, bool)]) -> Vec<FileParse> {
        let ports = [1000u16, 1001, 1002, 1003];
        (0..2)
            .map(|k| {
                let mut fp = FileParse::empty(std::path::Path::new(&format!("f{k}.pcap")));
                fp.convs = ports.iter().map(|&p| key(p)).collect();
                fp.cols = FileCols {
                    rows: pkts
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| i % 2 == k)
                        .map(|(_, &(s, port, flags, ba))| PacketRow {
                            ts: s * S,
                            orig_len: 100,
                            conv: ports.iter().position(|&p| p == port).unwrap() as u32,
                            ip_len: 86,
                            tcp_len: 20,
                            bits: bits::IP | bits::TCP | if ba { bits::DIR_BA } else { 0 },
                            ttl: 64,
                            tcp_flags: flags,
                        })
                        .collect(),
                };
                fp
            })
            .collect()
    }

    /// The same files cut at `cuts` (seconds) into chunks.
    fn chunked(all: &[FileParse], cuts: &[i64]) -> Vec<Vec<FileParse>> {
        let mut bounds = vec![i64::MIN];
        bounds.extend(cuts.iter().map(|c| c * S));
        bounds.push(i64::MAX);
        bounds
            .windows(2)
            .map(|w| {
                all.iter()
                    .map(|fp| {
                        let mut part = FileParse::empty(&fp.path);
                        part.convs = fp.convs.clone();
                        part.cols.rows = fp
                            .cols
                            .rows
                            .iter()
                            .filter(|r| (w[0]..w[1]).contains(&r.ts))
                            .copied()
                            .collect();
                        part
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn chunks_give_the_flows_of_the_whole_load() {
        use crate::capture::tcpf::{ACK, FIN, SYN};
        let mut p = vec![
            // A connection that runs across every cut with keepalives.
            (0, 1000, SYN, false),
            (0, 1000, SYN | ACK, true),
            (500, 1000, ACK, false),
            (1300, 1000, ACK, true),
            (2100, 1000, ACK, false),
            // One that closes before a cut and lingers across it.
            (990, 1001, SYN, false),
            (998, 1001, FIN | ACK, false),
            (999, 1001, FIN | ACK, true),
            (1002, 1001, ACK, false),
            // One that goes idle before a cut and comes back after it.
            (50, 1002, ACK, false),
            (1500, 1002, ACK, false),
            // One open at the end.
            (2150, 1003, SYN, false),
        ];
        p.sort_by_key(|x| x.0);
        let timeouts = FlowTimeouts::default();
        let mut reg = Registry::default();
        let whole = build(files(&p), &mut reg, &timeouts);
        let mut reg2 = Registry::default();
        let mut st = FlowStream::new(timeouts);
        let mut got = Vec::new();
        let mut taken = Vec::new();
        for chunk in chunked(&files(&p), &[1000, 2000]) {
            st.feed(chunk, &mut reg2).unwrap();
            let ended = st.take_ended();
            taken.push(ended.len());
            got.extend(ended);
        }
        // Idle before the first cut: out with the first chunk, while the closed connection
        // lingers into the second; three flows are still open at the end.
        assert_eq!(taken, vec![1, 1, 0]);
        assert_eq!(st.open_flows(), 3);
        let (rest, devices) = st.finish();
        got.extend(rest);
        got.sort_by_key(|f| f.id);
        let flows: Vec<Flow> = got.iter().map(|f| f.flow.clone()).collect();
        assert_eq!(flows, whole.flows);
        assert_eq!(
            got.iter().map(|f| f.id).collect::<Vec<_>>(),
            (0..5).collect::<Vec<_>>()
        );
        let ends: Vec<FlowEnd> = flows.iter().map(|f| f.end).collect();
        assert!(ends.contains(&FlowEnd::Fin) && ends.contains(&FlowEnd::Idle));
        let stats = device_stats(&whole, reg.len());
        for (d, s) in devices.iter().enumerate() {
            assert_eq!(
                (s.packets, s.bytes, s.flows),
                (stats[d].packets, stats[d].bytes, stats[d].flows)
            );
        }
        assert_eq!(reg2.len(), reg.len());
    }

    #[test]
    fn a_chunk_earlier_than_the_last_is_refused() {
        let p = [(10, 1000, 0, false), (20, 1000, 0, false)];
        let mut st = FlowStream::new(FlowTimeouts::default());
        let mut reg = Registry::default();
        let mut chunks = chunked(&files(&p), &[15]);
        let (late, early) = (chunks.pop().unwrap(), chunks.pop().unwrap());
        st.feed(late, &mut reg).unwrap();
        assert!(st.feed(early, &mut reg).unwrap_err().contains("time order"));
    }
}
