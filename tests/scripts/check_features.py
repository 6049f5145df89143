#!/usr/bin/env python3
"""Independent cross-check of labelbench's numeric features.

Reads one device's packets with tshark (`-T fields`), recomputes every numeric feature of
every window listed in labelbench's features.csv with numpy, and compares:
exact for sums, min, max, packet and byte counts; 1e-9 relative for mean, IQR, std, var.
Usage: check_features.py FEATURES_CSV DEVICE MAC PCAP [PCAP...]
"""
import csv
import subprocess
import sys

import numpy as np


def ns(s):
    a, _, b = s.partition(".")
    return int(a) * 1_000_000_000 + int((b + "000000000")[:9])


def first(s):
    return s.split(";")[0] if s else ""


def stats(v, seq_sum):
    if len(v) == 0:
        return [0.0] * 7
    a = np.array(v, dtype=np.float64)
    s = 0.0
    for x in v:  # sequential, as labelbench sums
        s += x
    q1, q3 = np.percentile(a, [25, 75])
    return [s if seq_sum else float(a.sum()), float(a.min()), float(a.max()), s / len(v), float(q3 - q1), float(a.std()), float(a.var())]


def main():
    feats, device, mac, pcaps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    pk = []
    for p in pcaps:
        out = subprocess.run(
            ["tshark", "-n", "-r", p, "-Y", f"eth.addr == {mac}", "-T", "fields", "-E", "separator=,", "-E", "aggregator=;",
             "-e", "frame.time_epoch", "-e", "frame.len", "-e", "ip.len", "-e", "ipv6.plen", "-e", "tcp.len", "-e", "ip.ttl", "-e", "ipv6.hlim"],
            check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            f = line.split(",")
            t = ns(f[0])
            ipl = first(f[2])
            ip6 = first(f[3])
            if ipl:
                ip_len, ttl = float(ipl), float(first(f[5]))
            elif ip6:
                ip_len, ttl = float(ip6) + 40.0, float(first(f[6]))
            else:
                ip_len = ttl = None
            tl = first(f[4])
            pk.append((t, float(f[1]), ip_len, float(tl) if tl else None, ttl))
    pk.sort(key=lambda r: r[0])
    times = [r[0] for r in pk]
    import bisect
    names = [f"{s}_{t}" for s in ["ip_len", "tcp_len", "ip_ttl", "iat"] for t in ["sum", "min", "max", "mean", "iqr", "std", "var"]]
    exact = {"sum", "min", "max"}
    checked = 0
    bad = 0
    with open(feats) as fh:
        for row in csv.DictReader(fh):
            if row["device"] != device:
                continue
            lo, hi = int(row["window_start_ns"]), int(row["window_end_ns"])
            w = pk[bisect.bisect_left(times, lo):bisect.bisect_right(times, hi)]
            series = [
                [r[2] for r in w if r[2] is not None],
                [r[3] for r in w if r[3] is not None],
                [r[4] for r in w if r[4] is not None],
                [(w[i][0] - w[i - 1][0]) / 1e9 for i in range(1, len(w))],
            ]
            want = []
            for s in series:
                want += stats(s, True)
            want_named = dict(zip(names, want))
            want_named["packets"] = float(len(w))
            want_named["bytes"] = float(sum(r[1] for r in w))
            for k, v in want_named.items():
                got = float(row[k])
                stat = k.rsplit("_", 1)[-1]
                ok = got == v if (stat in exact or k in ("packets", "bytes")) else abs(got - v) <= 1e-9 * max(1.0, abs(v))
                if not ok:
                    bad += 1
                    if bad <= 10:
                        print(f"MISMATCH event {row['event_id']} {k}: labelbench {got!r} numpy {v!r}")
                checked += 1
    print(f"{device}: {checked} values compared, {bad} mismatches")
    sys.exit(1 if bad or checked == 0 else 0)


if __name__ == "__main__":
    main()
