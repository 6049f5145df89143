#!/usr/bin/env python3
"""Opens labelbench's Parquet export with pandas/pyarrow and checks shapes and types.
Usage: check_parquet.py EXPORT_DIR EVENTS FEATURES FLOWS"""
import sys

import pandas as pd
import pyarrow.parquet as pq

d, ne, nf, nfl = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ev = pd.read_parquet(f"{d}/events.parquet")
fe = pd.read_parquet(f"{d}/features.parquet")
fl = pd.read_parquet(f"{d}/flows.parquet")
assert len(ev) == ne, (len(ev), ne)
assert len(fe) == nf, (len(fe), nf)
assert len(fl) == nfl, (len(fl), nfl)
# Microsecond UTC timestamps (what Spark reads as timestamps), the exact times in `_ns`.
assert str(ev["adjusted_time"].dtype) == "datetime64[us, UTC]", ev["adjusted_time"].dtype
assert (ev["adjusted_time"].astype("int64") == ev["adjusted_ns"] // 1000).all()
assert fe.shape[1] == 5 + 40, fe.shape
assert pq.read_schema(f"{d}/flows.parquet").field("first_time").type.tz == "UTC"
assert fl["community_id"].dropna().str.startswith("1:").all()
print("parquet ok", len(ev), len(fe), len(fl))
