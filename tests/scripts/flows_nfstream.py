#!/usr/bin/env python3
"""labelbench's flows under the `nfstream` preset against nfstream (PyPI) on one capture.

    flows_nfstream.py CAPTURE --compare flows.csv [--work DIR] [--json]

nfstream keys flows by VLAN id too, and the lab's mirror port tags one direction of a
connection only, so the capture's 802.1Q tags are stripped first (tcprewrite --enet-vlan=del).
nfstream then runs with its defaults (idle 120 s, active 1800 s, link-layer byte accounting)
and its IP flows are matched with labelbench's by protocol, endpoints and first packet time
(milliseconds, nfstream's resolution):

- equal: the same packets per direction and the same last packet time, and the same bytes
  but for the 4 bytes of each 802.1Q tag stripped from nfstream's copy;
- teardown: one nfstream flow is several labelbench flows of the same 5-tuple, each but the
  last closed by FIN or RST (nfstream does not end a flow at a teardown; docs/flows.md);
- anything else is unexplained: the script prints it and exits 1.
"""

import argparse
import csv
import ipaddress
import json
import os
import subprocess
import sys
from collections import defaultdict

from nfstream import NFStreamer


def canon(proto, a, pa, b, pb):
    a, b = ipaddress.ip_address(a), ipaddress.ip_address(b)
    if proto not in (6, 17):
        pa = pb = 0
    if (int(a), pa) <= (int(b), pb):
        return (proto, str(a), pa, str(b), pb), False
    return (proto, str(b), pb, str(a), pa), True


def nfstream_flows(capture, work):
    stripped = os.path.join(work, os.path.basename(capture) + ".novlan.pcap")
    subprocess.run(["tcprewrite", "--enet-vlan=del", "--infile=" + capture,
                    "--outfile=" + stripped], check=True, capture_output=True)
    flows = []
    for f in NFStreamer(source=stripped, idle_timeout=120, active_timeout=1800,
                        statistical_analysis=False, n_dissections=0):
        key, swapped = canon(f.protocol, f.src_ip, f.src_port, f.dst_ip, f.dst_port)
        ab = (f.src2dst_packets, f.src2dst_bytes)
        ba = (f.dst2src_packets, f.dst2src_bytes)
        if swapped:
            ab, ba = ba, ab
        flows.append({"key": key, "first": f.bidirectional_first_seen_ms,
                      "last": f.bidirectional_last_seen_ms,
                      "counts": (ab[0], ba[0], ab[1], ba[1])})
    return flows


PROTO = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "igmp": 2}


def labelbench_flows(path):
    flows = []
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            p = r["protocol"]
            if not r["ip_a"]:
                continue  # layer-2 flows: nfstream meters IP only
            n = PROTO.get(p) or int(p.removeprefix("ip-"))
            key, _ = canon(n, r["ip_a"], int(r["port_a"]), r["ip_b"], int(r["port_b"]))
            flows.append({"key": key, "first": int(r["first_ns"]) // 1_000_000,
                          "last": int(r["last_ns"]) // 1_000_000, "end": r["end"],
                          "counts": (int(r["packets_ab"]), int(r["packets_ba"]),
                                     int(r["bytes_ab"]), int(r["bytes_ba"]))})
    return flows


def tags_only(extra, packets):
    """Whether labelbench's extra bytes in one direction are the 802.1Q tags stripped from
    nfstream's copy: 4 bytes for each of some of the direction's packets."""
    return extra % 4 == 0 and 0 <= extra <= 4 * packets


def compare(nf, lb):
    by_key = defaultdict(list)
    for f in lb:
        by_key[f["key"]].append(f)
    for v in by_key.values():
        v.sort(key=lambda f: f["first"])
    used = set()
    result = {"nfstream": len(nf), "labelbench": len(lb), "equal": 0, "teardown": 0,
              "unexplained": []}
    for n in nf:
        run = [f for f in by_key[n["key"]] if n["first"] <= f["first"] <= n["last"]]
        if not run or run[0]["first"] != n["first"]:
            result["unexplained"].append({"nfstream": n, "labelbench": run})
            continue
        total = tuple(sum(f["counts"][i] for f in run) for i in range(4))
        same = (total[:2] == n["counts"][:2] and run[-1]["last"] == n["last"]
                and all(tags_only(total[i] - n["counts"][i], total[i - 2]) for i in (2, 3)))
        if same and len(run) == 1:
            result["equal"] += 1
        elif same and all(f["end"] in ("fin", "rst") for f in run[:-1]):
            result["teardown"] += 1
        else:
            result["unexplained"].append({"nfstream": n, "labelbench": run})
            continue
        used.update(id(f) for f in run)
    for f in lb:
        if id(f) not in used:
            result["unexplained"].append({"nfstream": None, "labelbench": [f]})
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture")
    ap.add_argument("--compare", required=True, help="labelbench's flows.csv (nfstream preset)")
    ap.add_argument("--work", default=".", help="folder for the VLAN-stripped copy")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = compare(nfstream_flows(args.capture, args.work), labelbench_flows(args.compare))
    if args.json:
        print(json.dumps(r, default=str))
    else:
        print("%s: nfstream %d IP flows, labelbench %d; equal %d, one nfstream flow over a "
              "teardown %d, unexplained %d" % (
                  os.path.basename(args.capture), r["nfstream"], r["labelbench"], r["equal"],
                  r["teardown"], len(r["unexplained"])))
        for u in r["unexplained"][:5]:
            print("  unexplained:", u)
    sys.exit(1 if r["unexplained"] else 0)


if __name__ == "__main__":
    main()
