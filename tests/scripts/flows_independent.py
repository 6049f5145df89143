#!/usr/bin/env python3
"""An independent flow meter: the rules of docs/flows.md applied to tshark's fields.

Written from the documentation, not from labelbench's code, so that the test suite can check
labelbench's flow table against it:

    flows_independent.py --preset zeek CAPTURE... [--compare flows.csv] [--out flows.csv]

Reads every packet of the captures with tshark, merges them in time order (equal times keep
file order), assigns flows by the rules and, with --compare, checks that labelbench's exported
flow table (flows.csv) has the same flows: identity, first/last time, packets and bytes per
direction, end reason. Prints a summary; exits 1 when they differ.
"""

import argparse
import csv
import ipaddress
import subprocess
import sys

SECOND = 1_000_000_000
PRESETS = {
    # tcp idle, udp idle, other idle, active (None: none), linger (seconds)
    "smart-home": (900, 120, 120, None, 5),
    "nfstream": (120, 120, 120, 1800, 5),
    "zeek": (300, 60, 60, None, 5),
}
FIELDS = [
    "frame.time_epoch", "frame.len", "eth.src", "eth.dst", "eth.type", "vlan.etype",
    "ip.src", "ip.dst", "ip.proto", "ipv6.src", "ipv6.dst", "ipv6.nxt",
    "tcp.srcport", "tcp.dstport", "tcp.flags", "udp.srcport", "udp.dstport",
    "icmp.type", "icmpv6.type",
]
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


def ns_of(epoch):
    whole, _, frac = epoch.partition(".")
    return int(whole) * SECOND + int((frac + "000000000")[:9])


def read_packets(path):
    """(time ns, frame length, identity, from A, protocol class, tcp flags) per packet."""
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    t = 0
    for line in out.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        # A pcapng simple packet block has no time: it keeps the previous packet's (0 first).
        t = ns_of(v["frame.time_epoch"]) if v["frame.time_epoch"] else t
        length = int(v["frame.len"])
        src, dst = v["ip.src"] or v["ipv6.src"], v["ip.dst"] or v["ipv6.dst"]
        if src and dst:
            v6 = not v["ip.src"]
            a, b = int(ipaddress.ip_address(src)), int(ipaddress.ip_address(dst))
            # The outer header's protocol: an ICMP error carries an inner UDP or TCP header
            # whose ports tshark also shows.
            if v6:
                proto = (58 if v["icmpv6.type"] else 6 if v["tcp.srcport"] else
                         17 if v["udp.srcport"] else int(v["ipv6.nxt"] or 0))
            else:
                proto = int(v["ip.proto"] or 0)
            if proto == 6 and v["tcp.srcport"]:
                sp, dp = int(v["tcp.srcport"]), int(v["tcp.dstport"])
            elif proto == 17 and v["udp.srcport"]:
                sp, dp = int(v["udp.srcport"]), int(v["udp.dstport"])
            else:
                sp = dp = 0  # ICMP and other IP protocols: the two addresses
            ends = sorted([(a, sp), (b, dp)])
            ident = ("ip6" if v6 else "ip", proto, ends[0], ends[1])
            from_a = (a, sp) == ends[0]
            cls = "tcp" if proto == 6 else "udp" if proto == 17 else "other"
            flags = int(v["tcp.flags"], 16) if proto == 6 and v["tcp.flags"] else 0
        else:
            etype = v["vlan.etype"] or v["eth.type"]
            etype = int(etype, 16) if etype else 0
            m = sorted([v["eth.src"], v["eth.dst"]])
            ident = ("l2", etype, m[0], m[1])
            from_a = v["eth.src"] == m[0]
            cls, flags = "other", 0
        yield t, length, ident, from_a, cls, flags


def meter(packets, preset):
    tcp_idle, udp_idle, other_idle, active, linger = (
        None if x is None else x * SECOND for x in PRESETS[preset])
    idle = {"tcp": tcp_idle, "udp": udp_idle, "other": other_idle}
    open_flows, flows = {}, []
    for t, length, ident, from_a, cls, flags in packets:
        f = open_flows.get(ident)
        if f is not None:
            if f["closed_at"] is not None:
                new_syn = cls == "tcp" and flags & (SYN | ACK) == SYN
                if t - f["closed_at"] > linger or new_syn:
                    f = None
            elif t - f["last"] > idle[cls]:
                f["end"], f = "idle", None
            elif active is not None and t - f["first"] > active:
                f["end"], f = "active", None
        if f is None:
            f = {"ident": ident, "first": t, "last": t, "pkts": [0, 0], "bytes": [0, 0],
                 "end": "eof", "closed_at": None, "fins": set()}
            flows.append(f)
            open_flows[ident] = f
        f["last"] = t
        d = 0 if from_a else 1
        f["pkts"][d] += 1
        f["bytes"][d] += length
        if cls == "tcp" and f["closed_at"] is None:
            if flags & RST:
                f["closed_at"], f["end"] = t, "rst"
            elif flags & FIN:
                f["fins"].add(d)
                if len(f["fins"]) == 2:
                    f["closed_at"], f["end"] = t, "fin"
    # At the end of the captures: a flow whose idle timeout has passed by the last packet
    # ended idle; the others are still open (eof).
    last = max((f["last"] for f in flows), default=0)
    for f in flows:
        cls = {6: "tcp", 17: "udp"}.get(f["ident"][1], "other") if f["ident"][0] != "l2" \
            else "other"
        if f["end"] == "eof" and last - f["last"] > idle[cls]:
            f["end"] = "idle"
    return flows


def row_of(f):
    kind, p, a, b = f["ident"]
    if kind in ("ip", "ip6"):
        addr = ipaddress.IPv6Address if kind == "ip6" else ipaddress.IPv4Address
        ends = (str(p), str(addr(a[0])), a[1] if p in (6, 17) else 0,
                str(addr(b[0])), b[1] if p in (6, 17) else 0)
    else:
        ends = ("l2-%d" % p, a, 0, b, 0)
    return ends + (f["first"], f["last"], f["pkts"][0], f["pkts"][1], f["bytes"][0],
                   f["bytes"][1], f["end"])


PROTO_NUM = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "igmp": 2}
L2_NUM = {"arp": 0x0806, "eapol": 0x888E, "llc": 0}


def labelbench_rows(path):
    rows = []
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            p = r["protocol"]
            if p in L2_NUM or p.startswith("l2-"):
                e = L2_NUM.get(p)
                e = int(p[5:], 16) if e is None else e
                key = ("l2-%d" % e, r["mac_a"], 0, r["mac_b"], 0)
            else:
                n = PROTO_NUM.get(p) or int(p.removeprefix("ip-"))
                ports = (int(r["port_a"]), int(r["port_b"])) if n in (6, 17) else (0, 0)
                key = (str(n), r["ip_a"], ports[0], r["ip_b"], ports[1])
            rows.append(key + (int(r["first_ns"]), int(r["last_ns"]), int(r["packets_ab"]),
                               int(r["packets_ba"]), int(r["bytes_ab"]), int(r["bytes_ba"]),
                               r["end"]))
    return rows


def tcp_streams(captures):
    """tshark's TCP conversations (tcp.stream), one capture at a time, as flow rows without
    an end reason."""
    rows = []
    for c in captures:
        cmd = ["tshark", "-n", "-r", c, "-Y", "tcp", "-T", "fields", "-E", "separator=\t",
               "-E", "occurrence=f", "-e", "tcp.stream", "-e", "frame.time_epoch",
               "-e", "frame.len", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
               "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        streams = {}
        for line in out.splitlines():
            st, t, length, s4, s6, sp, d4, d6, dp = line.split("\t")
            a = (ipaddress.ip_address(s4 or s6), int(sp))
            b = (ipaddress.ip_address(d4 or d6), int(dp))
            ends = sorted([a, b], key=lambda e: (int(e[0]), e[1]))
            r = streams.setdefault(st, {"ends": ends, "first": ns_of(t), "last": 0,
                                        "pkts": 0, "bytes": 0})
            r["last"] = ns_of(t)
            r["pkts"] += 1
            r["bytes"] += int(length)
        for r in streams.values():
            (a, pa), (b, pb) = r["ends"]
            rows.append(("6", str(a), pa, str(b), pb, r["first"], r["last"], r["pkts"],
                         r["bytes"]))
    return rows


def compare_tcp_streams(captures, flows_csv):
    mine = sorted(tcp_streams(captures), key=str)
    theirs = sorted(((r[:7] + (r[7] + r[8], r[9] + r[10])) for r in labelbench_rows(flows_csv)
                     if r[0] == "6"), key=str)
    only_t = sorted(set(mine) - set(theirs), key=str)
    only_l = sorted(set(theirs) - set(mine), key=str)
    print("tshark: %d TCP streams; labelbench: %d TCP flows; equal %d" % (
        len(mine), len(theirs), len(set(mine) & set(theirs))))
    for r in only_t[:5]:
        print("  only in tshark:     ", r)
    for r in only_l[:5]:
        print("  only in labelbench: ", r)
    if only_t or only_l or len(mine) != len(theirs):
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("captures", nargs="+")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="smart-home")
    ap.add_argument("--compare", help="labelbench's flows.csv to check")
    ap.add_argument("--out", help="write the meter's flows as CSV")
    ap.add_argument("--tcp-streams", action="store_true",
                    help="with --compare: check labelbench's TCP flows against tshark's TCP "
                         "streams (its conversations) instead of the meter")
    args = ap.parse_args()
    if args.tcp_streams:
        return compare_tcp_streams(args.captures, args.compare)
    packets = []
    for i, c in enumerate(args.captures):
        packets += [(p[0], i, k) + p[1:] for k, p in enumerate(read_packets(c))]
    packets.sort(key=lambda p: (p[0], p[1], p[2]))
    flows = meter(((p[0],) + p[3:] for p in packets), args.preset)
    mine = sorted((row_of(f) for f in flows), key=str)
    tcp = sum(1 for r in mine if r[0] == "6")
    ends = {}
    for r in mine:
        ends[r[-1]] = ends.get(r[-1], 0) + 1
    print("meter: %d packets, %d flows (%d TCP), ended %s" % (
        len(packets), len(mine), tcp, dict(sorted(ends.items()))))
    if args.out:
        with open(args.out, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["protocol", "ip_a", "port_a", "ip_b", "port_b", "first_ns", "last_ns",
                        "packets_ab", "packets_ba", "bytes_ab", "bytes_ba", "end"])
            w.writerows(mine)
    if args.compare:
        theirs = sorted(labelbench_rows(args.compare), key=str)
        mine_s, theirs_s = set(mine), set(theirs)
        only_mine = sorted(mine_s - theirs_s, key=str)
        only_theirs = sorted(theirs_s - mine_s, key=str)
        print("labelbench: %d flows; equal %d; only in meter %d; only in labelbench %d" % (
            len(theirs), len(mine_s & theirs_s), len(only_mine), len(only_theirs)))
        for r in only_mine[:5]:
            print("  only in meter:      ", r)
        for r in only_theirs[:5]:
            print("  only in labelbench: ", r)
        if only_mine or only_theirs or len(mine) != len(theirs):
            sys.exit(1)


if __name__ == "__main__":
    main()
