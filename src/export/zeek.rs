//! `flows.conn.log`: the flow table as a labelled Zeek conn.log, in Zeek's TSV layout and
//! column names, so that Zeek tooling (zat, parsezeeklogs, zeek-cut) and labelbench's own
//! `zeek` source read it.
//!
//! A flow carries the classes of the active events of its device whose feature window it
//! overlaps (`first ≤ window end` and `last ≥ window start`), joined with the set separator,
//! and their ids in `event_ids`; a flow no window overlaps has `-` (unset: not known to be
//! idle or benign, only unlabelled). Only IP flows are connections in Zeek's sense: layer-2
//! flows (ARP, EAPOL, LLC) stay in `flows.*` alone.

use std::fmt::Write as _;

use super::*;

/// Zeek's separators and markers, as its ASCII writer writes them by default.
const SEP: char = '\t';
const SET_SEP: char = ',';
const EMPTY: &str = "(empty)";
const UNSET: &str = "-";

/// The columns: Zeek's own names and types, then labelbench's.
const FIELDS: [(&str, &str); 20] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("duration", "interval"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("orig_l2_addr", "string"),
    ("resp_l2_addr", "string"),
    ("community_id", "string"),
    ("flow_id", "count"),
    ("end", "string"),
    ("device", "string"),
    ("label", "set[string]"),
    ("event_ids", "set[count]"),
];

/// Zeek's uid: `C` and 17 base-62 digits, here from the flow's identity and start (so an
/// export of the same inputs gives the same uids) rather than from a random source.
pub(crate) fn zeek_uid(f: &Flow, flow_id: usize) -> String {
    let mut h = sha2::Sha256::new();
    h.update(flow_id.to_le_bytes());
    h.update(f.first_ns.to_le_bytes());
    h.update(f.key.ip_a);
    h.update(f.key.ip_b);
    h.update(f.key.port_a.to_le_bytes());
    h.update(f.key.port_b.to_le_bytes());
    h.update([f.key.proto]);
    let d = h.finalize();
    let mut n = u128::from_le_bytes(d[..16].try_into().expect("16 bytes"));
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = String::from("C");
    for _ in 0..17 {
        s.push(DIGITS[(n % 62) as usize] as char);
        n /= 62;
    }
    s
}

/// Seconds with Zeek's six decimals, exact for the microseconds.
fn secs(ns: i64) -> String {
    let us = ns / 1000;
    let sign = if us < 0 { "-" } else { "" };
    let us = us.unsigned_abs();
    format!("{sign}{}.{:06}", us / 1_000_000, us % 1_000_000)
}

/// Zeek's `#open`/`#close` stamp.
fn stamp(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%Y-%m-%d-%H-%M-%S")
        .to_string()
}

/// A string field as Zeek escapes it: the separators and non-printable bytes as `\xNN`, an
/// empty value as `(empty)`.
fn field(s: &str) -> String {
    if s.is_empty() {
        return EMPTY.into();
    }
    if s == UNSET {
        return "\\x2d".into();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == SEP || c == SET_SEP || c == '\\' || c.is_control() {
            let mut b = [0u8; 4];
            for byte in c.encode_utf8(&mut b).bytes() {
                let _ = write!(out, "\\x{byte:02x}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Per flow: its IP bytes from endpoint A and from endpoint B.
fn ip_bytes(s: &Session) -> Vec<[u64; 2]> {
    let pk = &s.traffic.packets;
    let mut out = vec![[0u64; 2]; s.traffic.flows.len()];
    for i in 0..pk.len() {
        let Some(b) = out.get_mut(pk.flow[i] as usize) else {
            continue;
        };
        let ba = pk.bits[i] & crate::capture::bits::DIR_BA != 0;
        b[ba as usize] += pk.ip_len[i] as u64;
    }
    out
}

/// Per flow, the (class, event id) of every window of its device it overlaps; `traffic_device`
/// maps an event's device to the one whose traffic it labels (its hub's, behind one).
pub(crate) fn flow_labels(
    flows: &[ConnFlow<'_>],
    feats: &[FeatureRow],
    traffic_device: &(dyn Fn(u16) -> u16 + Sync),
) -> Vec<Vec<(String, u64)>> {
    let mut by_dev: HashMap<u16, Vec<&FeatureRow>> = HashMap::new();
    for r in feats {
        by_dev.entry(traffic_device(r.device)).or_default().push(r);
    }
    let mut longest: HashMap<u16, i64> = HashMap::new();
    for (d, v) in by_dev.iter_mut() {
        v.sort_by_key(|r| (r.window_start_ns, r.event_id));
        let l = v.iter().map(|r| r.window_end_ns - r.window_start_ns).max();
        longest.insert(*d, l.unwrap_or(0));
    }
    flows
        .par_iter()
        .map(|c| {
            let f = c.flow;
            let Some(v) = by_dev.get(&f.device) else {
                return Vec::new();
            };
            // Windows start no earlier than `first − longest` if they are to reach `first`.
            let lo = f.first_ns.saturating_sub(longest[&f.device]);
            let a = v.partition_point(|r| r.window_start_ns < lo);
            let b = v.partition_point(|r| r.window_start_ns <= f.last_ns);
            let mut out: Vec<(String, u64)> = v[a..b]
                .iter()
                .filter(|r| r.window_end_ns >= f.first_ns)
                .map(|r| (r.class.clone(), r.event_id))
                .collect();
            out.sort();
            out
        })
        .collect()
}

/// One flow of a conn.log: its id in the flow table and its IP bytes per direction.
pub(crate) struct ConnFlow<'a> {
    pub(crate) id: u64,
    pub(crate) flow: &'a Flow,
    pub(crate) ip_bytes: [u64; 2],
}

/// Writes `flows.conn.log` and returns its row count.
pub(crate) fn write_conn_log(cx: &Tables<'_>) -> Result<usize> {
    let s = cx.s;
    let bytes = ip_bytes(s);
    let flows: Vec<ConnFlow<'_>> = s
        .traffic
        .flows
        .iter()
        .enumerate()
        .filter(|(_, f)| cx.o.exports_device(f.device) && cx.o.exports_time(f.first_ns))
        .map(|(i, f)| ConnFlow {
            id: i as u64,
            flow: f,
            ip_bytes: bytes[i],
        })
        .collect();
    let span = (
        s.traffic.first_ns().unwrap_or(0),
        s.traffic.last_ns().unwrap_or(0),
    );
    let labels = flow_labels(&flows, cx.feats, &|d| s.traffic_device(d));
    let name = |d: u16| s.device_name(d).to_string();
    write_conn(&cx.dir.join("flows.conn.log"), &flows, &labels, &name, span)
}

/// Writes the IP flows among `flows` (with their `labels`) as a conn.log opened and closed at
/// `span`'s instants, in order of their first packet; returns the row count.
pub(crate) fn write_conn(
    p: &Path,
    flows: &[ConnFlow<'_>],
    labels: &[Vec<(String, u64)>],
    device_name: &dyn Fn(u16) -> String,
    (first, last): (i64, i64),
) -> Result<usize> {
    let mut order: Vec<usize> = (0..flows.len())
        .filter(|&i| !flows[i].flow.key.is_l2)
        .collect();
    order.sort_by_key(|&i| (flows[i].flow.first_ns, flows[i].id));
    let mut out = String::new();
    let names: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
    let types: Vec<&str> = FIELDS.iter().map(|f| f.1).collect();
    let _ = writeln!(out, "#separator \\x09");
    let _ = writeln!(out, "#set_separator{SEP}{SET_SEP}");
    let _ = writeln!(out, "#empty_field{SEP}{EMPTY}");
    let _ = writeln!(out, "#unset_field{SEP}{UNSET}");
    let _ = writeln!(out, "#path{SEP}conn");
    let _ = writeln!(out, "#open{SEP}{}", stamp(first));
    let _ = writeln!(out, "#fields{SEP}{}", names.join("\t"));
    let _ = writeln!(out, "#types{SEP}{}", types.join("\t"));
    let ip = |x: Option<std::net::IpAddr>| x.map_or(UNSET.to_string(), |a| a.to_string());
    for &i in &order {
        let (f, id) = (flows[i].flow, flows[i].id);
        let (oh, op, rh, rp, om, rm) = if f.first_ba {
            (
                f.ip_b(),
                f.key.port_b,
                f.ip_a(),
                f.key.port_a,
                f.key.mac_b,
                f.key.mac_a,
            )
        } else {
            (
                f.ip_a(),
                f.key.port_a,
                f.ip_b(),
                f.key.port_b,
                f.key.mac_a,
                f.key.mac_b,
            )
        };
        let (opk, rpk) = if f.first_ba {
            (f.pkts_ba, f.pkts_ab)
        } else {
            (f.pkts_ab, f.pkts_ba)
        };
        let [ab, ba] = flows[i].ip_bytes;
        let (ob, rb) = if f.first_ba { (ba, ab) } else { (ab, ba) };
        let proto = match f.key.proto {
            6 => "tcp",
            17 => "udp",
            1 | 58 => "icmp",
            _ => "unknown_transport",
        };
        let mac = |m: [u8; 6]| match m == [0; 6] {
            true => UNSET.to_string(),
            false => crate::traffic::devices::fmt_mac(&m),
        };
        let (class, ids) = match labels[i].as_slice() {
            [] => (UNSET.to_string(), UNSET.to_string()),
            l => {
                let mut classes: Vec<String> = l.iter().map(|x| field(&x.0)).collect();
                classes.sort();
                classes.dedup();
                let mut ids: Vec<u64> = l.iter().map(|x| x.1).collect();
                ids.sort_unstable();
                let ids: Vec<String> = ids.iter().map(u64::to_string).collect();
                (classes.join(","), ids.join(","))
            }
        };
        let cid = flow_community_id(f).map_or(UNSET.to_string(), |c| field(&c));
        let device = match f.device {
            NO_DEVICE => UNSET.to_string(),
            d => field(&device_name(d)),
        };
        let row = [
            secs(f.first_ns),
            zeek_uid(f, id as usize),
            ip(oh),
            op.to_string(),
            ip(rh),
            rp.to_string(),
            proto.to_string(),
            secs(f.last_ns - f.first_ns),
            opk.to_string(),
            ob.to_string(),
            rpk.to_string(),
            rb.to_string(),
            mac(om),
            mac(rm),
            cid,
            id.to_string(),
            f.end.as_str().to_string(),
            device,
            class,
            ids,
        ];
        out.push_str(&row.join("\t"));
        out.push('\n');
    }
    let _ = writeln!(out, "#close{SEP}{}", stamp(last));
    std::fs::write(p, out).map_err(|e| Error::io(p, e))?;
    Ok(order.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_times_are_written_as_zeek_writes_them() {
        assert_eq!(secs(1_540_469_302_538_640_123), "1540469302.538640");
        assert_eq!(secs(-1_500), "-0.000001");
        assert_eq!(stamp(0), "1970-01-01-00-00-00");
        assert_eq!(field(""), "(empty)");
        assert_eq!(field("-"), "\\x2d");
        assert_eq!(field("a\tb,c"), "a\\x09b\\x2cc");
        assert_eq!(field("kasa-cam-01"), "kasa-cam-01");
    }
}
