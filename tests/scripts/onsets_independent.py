#!/usr/bin/env python3
"""Independent onset agreement of an exported dataset, computed with tshark.

Two definitions, neither labelbench's detector's (packet times come from tshark, device
membership from the exported MAC column):
- quiet (default): a device's first packet after at least GAP seconds without any packet of
  that device (or its first packet in the captures);
- command (--definition command): the first packet of a command exchange: a TCP segment with
  payload sent to the device that does not answer one of its packets of the previous second
  (remote-initiated), or a SYN from either side.

Usage: onsets_independent.py EVENTS.csv PCAP... [--definition quiet|command] [--gap 10]
       [--within 5] [--json]
Prints, per source kind and device, the share of active events within WITHIN seconds of an
onset (events of devices with no packets in the captures are left out).
"""
import bisect
import csv
import json
import subprocess
import sys
from collections import defaultdict


def packets(pcaps):
    """Per MAC: (time, sent by it, TCP payload length, SYN) of every packet it sent or received."""
    by_mac = defaultdict(list)
    for p in pcaps:
        out = subprocess.run(
            ["tshark", "-r", p, "-T", "fields", "-e", "frame.time_epoch", "-e", "eth.src",
             "-e", "eth.dst", "-e", "tcp.len", "-e", "tcp.flags.syn"],
            check=True, capture_output=True, text=True,
        ).stdout
        for line in out.splitlines():
            f = line.split("\t")
            if len(f) < 5 or not f[0]:
                continue
            t = float(f[0])
            src, dst = f[1].lower(), f[2].lower()
            tcp_len = int(f[3]) if f[3] else -1
            syn = f[4] in ("1", "True")
            for mac in {src, dst}:
                if mac:
                    by_mac[mac].append((t, mac == src, tcp_len, syn))
    for v in by_mac.values():
        v.sort()
    return by_mac


def command_onsets(pk):
    out = []
    last_sent = None
    for t, sent, tcp_len, syn in pk:
        if sent:
            last_sent = t
        remote_push = not sent and tcp_len > 0 and (last_sent is None or t - last_sent > 1.0)
        if syn or remote_push:
            if not out or t - out[-1] > 1.0:
                out.append(t)
    return out


def quiet_onsets(ts, gap):
    return [t for i, t in enumerate(ts) if i == 0 or t - ts[i - 1] >= gap]


def main():
    args = sys.argv[1:]
    gap, within, as_json, definition = 10.0, 5.0, False, "quiet"
    if "--definition" in args:
        i = args.index("--definition"); definition = args[i + 1]; del args[i:i + 2]
    if "--gap" in args:
        i = args.index("--gap"); gap = float(args[i + 1]); del args[i:i + 2]
    if "--within" in args:
        i = args.index("--within"); within = float(args[i + 1]); del args[i:i + 2]
    if "--json" in args:
        args.remove("--json"); as_json = True
    events, pcaps = args[0], args[1:]
    by_mac = packets(pcaps)
    if definition == "command":
        ons = {m: command_onsets(v) for m, v in by_mac.items()}
    else:
        ons = {m: quiet_onsets([p[0] for p in v], gap) for m, v in by_mac.items()}
    res = defaultdict(lambda: [0, 0])
    for r in csv.DictReader(open(events, newline="")):
        if r["status"] != "active":
            continue
        mac = (r.get("mac") or "").lower()
        if mac not in ons:
            continue
        t = int(r["adjusted_ns"]) / 1e9
        o = ons[mac]
        i = bisect.bisect_left(o, t - within)
        hit = i < len(o) and o[i] <= t + within
        key = (r["source_kind"], r["device"])
        res[key][0] += 1
        res[key][1] += hit
    rows = [
        {"source_kind": k[0], "device": k[1], "events": n, "within": h, "share": h / n}
        for k, (n, h) in sorted(res.items())
    ]
    if as_json:
        print(json.dumps(rows))
    else:
        for r in rows:
            how = f"gap {gap:g} s" if definition == "quiet" else "command exchange"
            print(f"{r['source_kind']:<20} {r['device']:<20} {r['within']}/{r['events']} ({100 * r['share']:.1f} %) within {within:g} s of an onset ({how})")


if __name__ == "__main__":
    main()
