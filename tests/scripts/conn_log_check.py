#!/usr/bin/env python3
"""Reads an export's flows.conn.log with third-party Zeek readers (zat, and parsezeeklogs where
installed) and checks it against the export's own CSV tables, recomputing the labels from
features.csv and devices.csv by the documented rule (a flow carries the classes of the active
events of its device whose feature window it overlaps). Prints a JSON summary; exits 1 on a
mismatch.

Usage: conn_log_check.py EXPORT_DIR
"""
import json
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd
from zat.log_to_dataframe import LogToDataFrame

L2 = ("arp", "eapol", "llc")


def parse_set(v):
    """A set field as zat hands it over: a string joined by the set separator, or NaN/None
    for the unset `-`."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return set()
    if isinstance(v, (list, tuple, set)):
        return {str(x) for x in v}
    s = str(v)
    return set() if s in ("-", "", "nan") else set(s.split(","))


def main():
    out = Path(sys.argv[1])
    conn = LogToDataFrame().create_dataframe(str(out / "flows.conn.log"), ts_index=False)
    flows = pd.read_csv(out / "flows.csv")
    feats = pd.read_csv(out / "features.csv")
    devices = pd.read_csv(out / "devices.csv", keep_default_na=False)
    problems = []

    ip_flows = flows[~flows["protocol"].isin(L2) & ~flows["protocol"].str.startswith("l2-")]
    if len(conn) != len(ip_flows):
        problems.append(f"{len(conn)} conn.log rows for {len(ip_flows)} IP flows")
    f = ip_flows.set_index("flow_id")
    conn = conn.set_index(conn["flow_id"].astype("int64"))
    if set(conn.index) != set(f.index):
        problems.append("flow ids differ")
    common = sorted(set(conn.index) & set(f.index))
    c = conn.loc[common]
    g = f.loc[common]
    # zat parses `ts` (type time) through a float into a datetime: the flow's first packet
    # to the microsecond, give or take the float's rounding (about 1 µs at today's epochs).
    ts_ns = c["ts"].astype("int64").to_numpy()
    off = abs(ts_ns - g["first_ns"].to_numpy())
    if not (off <= 2_000).all():
        problems.append(f"ts differs from first_ns by up to {off.max()} ns")
    pk = c["orig_pkts"].astype("int64") + c["resp_pkts"].astype("int64")
    if not (pk.to_numpy() == (g["packets_ab"] + g["packets_ba"]).to_numpy()).all():
        problems.append("packet counts differ")
    if not (c["community_id"].astype(str).to_numpy() == g["community_id"].astype(str).to_numpy()).all():
        problems.append("community ids differ")
    dev = c["device"].astype(str).replace({"nan": "-", "None": "-"})
    if not (dev.to_numpy() == g["device"].fillna("-").astype(str).to_numpy()).all():
        problems.append("devices differ")
    # IP bytes are frame bytes less the link header and padding: at most the frame bytes, at
    # least the frame bytes less 64 a packet (Ethernet, 802.1Q and a minimum frame's padding).
    ipb = c["orig_ip_bytes"].astype("int64") + c["resp_ip_bytes"].astype("int64")
    fb = (g["bytes_ab"] + g["bytes_ba"]).to_numpy()
    if not ((ipb.to_numpy() <= fb) & (ipb.to_numpy() >= fb - 64 * pk.to_numpy())).all():
        problems.append("IP bytes out of the frame bytes' range")

    # Labels by the documented rule, recomputed here.
    packets = dict(zip(devices["name"], devices["packets"]))
    hub = dict(zip(devices["name"], devices["hub"]))

    def traffic_device(d):
        if packets.get(d, 0) > 0:
            return d
        return hub.get(d) or d

    wins = defaultdict(list)
    for r in feats.itertuples():
        wins[traffic_device(r.device)].append((r.window_start_ns, r.window_end_ns, r._3, r.event_id))
    labelled = 0
    for fid, row in g.iterrows():
        want = sorted(
            (cls, eid)
            for lo, hi, cls, eid in wins.get(row["device"], [])
            if row["first_ns"] <= hi and row["last_ns"] >= lo
        )
        got_label = c.at[fid, "label"]
        got_ids = c.at[fid, "event_ids"]
        got_classes = parse_set(got_label)
        got_id_set = {int(x) for x in parse_set(got_ids)}
        if got_classes != {w[0] for w in want} or got_id_set != {w[1] for w in want}:
            problems.append(f"flow {fid}: label {got_label!r} ids {got_ids!r}, expected {want[:5]}")
            if len(problems) > 20:
                break
        labelled += bool(want)

    summary = {"rows": len(conn), "ip_flows": len(ip_flows), "labelled": labelled, "problems": problems}
    try:
        from parsezeeklogs import ParseZeekLogs

        rows = list(ParseZeekLogs(str(out / "flows.conn.log"), output_format="json"))
        summary["parsezeeklogs_rows"] = len([r for r in rows if r])
    except ImportError:
        pass
    print(json.dumps(summary))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
