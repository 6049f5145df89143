#!/usr/bin/env python3
"""Independent onset agreement of an exported dataset, computed with tshark.

An onset here is a device's first packet after at least GAP seconds without any packet of that
device (or its first packet in the captures). The definition shares nothing with labelbench's
detector: packet times come from tshark, device membership from the exported MAC column.

Usage: onsets_independent.py EVENTS.csv PCAP... [--gap 10] [--within 5] [--json]
Prints, per source kind and device, the share of active events within WITHIN seconds of an
onset (events of devices with no packets in the captures are left out).
"""
import bisect
import csv
import json
import subprocess
import sys
from collections import defaultdict


def packet_times(pcaps):
    by_mac = defaultdict(list)
    for p in pcaps:
        out = subprocess.run(
            ["tshark", "-r", p, "-T", "fields", "-e", "frame.time_epoch", "-e", "eth.src", "-e", "eth.dst"],
            check=True, capture_output=True, text=True,
        ).stdout
        for line in out.splitlines():
            f = line.split("\t")
            if len(f) < 3 or not f[0]:
                continue
            t = float(f[0])
            for mac in {f[1].lower(), f[2].lower()}:
                if mac:
                    by_mac[mac].append(t)
    for v in by_mac.values():
        v.sort()
    return by_mac


def onsets(ts, gap):
    return [t for i, t in enumerate(ts) if i == 0 or t - ts[i - 1] >= gap]


def main():
    args = sys.argv[1:]
    gap, within, as_json = 10.0, 5.0, False
    if "--gap" in args:
        i = args.index("--gap"); gap = float(args[i + 1]); del args[i:i + 2]
    if "--within" in args:
        i = args.index("--within"); within = float(args[i + 1]); del args[i:i + 2]
    if "--json" in args:
        args.remove("--json"); as_json = True
    events, pcaps = args[0], args[1:]
    by_mac = packet_times(pcaps)
    ons = {m: onsets(v, gap) for m, v in by_mac.items()}
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
            print(f"{r['source_kind']:<20} {r['device']:<20} {r['within']}/{r['events']} ({100 * r['share']:.1f} %) within {within:g} s of an onset (gap {gap:g} s)")


if __name__ == "__main__":
    main()
