#!/usr/bin/env python3
"""Reads an export's Parquet tables with pyarrow, polars and a local PySpark session and checks
that all three see the same rows and the same UTC timestamps (microseconds), that the
timestamps agree with the exact `_ns` columns, and that the files carry labelbench's key-value
metadata. Prints a JSON summary; exits 1 on a mismatch.

Usage: parquet_engines.py EXPORT_DIR [--no-spark]
"""
import json
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

TIME_PAIRS = {
    "events.parquet": [("original_time", "original_ns"), ("adjusted_time", "adjusted_ns")],
    "flows.parquet": [("first_time", "first_ns"), ("last_time", "last_ns")],
}


def main():
    out = Path(sys.argv[1])
    spark_on = "--no-spark" not in sys.argv
    problems = []
    summary = {"tables": {}}
    spark = None
    if spark_on:
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master("local[1]")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
    for name, pairs in TIME_PAIRS.items():
        path = out / name
        meta = pq.read_metadata(path).metadata or {}
        if b"labelbench.version" not in meta or b"labelbench.dataset_sha256" not in meta:
            problems.append(f"{name}: no labelbench key-value metadata ({list(meta)})")
        t = pq.read_table(path)
        p = pl.read_parquet(path)
        info = {"rows": t.num_rows}
        if p.height != t.num_rows:
            problems.append(f"{name}: polars {p.height} rows, pyarrow {t.num_rows}")
        for tcol, ncol in pairs:
            ty = t.schema.field(tcol).type
            if str(ty) != "timestamp[us, tz=UTC]":
                problems.append(f"{name}.{tcol}: {ty}")
            arrow_us = t.column(tcol).cast("int64").to_pylist()
            ns = t.column(ncol).to_pylist()
            if arrow_us != [v // 1000 for v in ns]:
                problems.append(f"{name}.{tcol} differs from {ncol}")
            polars_us = p[tcol].dt.epoch("us").to_list()
            if polars_us != arrow_us:
                problems.append(f"{name}.{tcol}: polars differs from pyarrow")
            if spark is not None:
                df = spark.read.parquet(str(path))
                stype = dict(df.dtypes)[tcol]
                if stype != "timestamp":
                    problems.append(f"{name}.{tcol}: Spark reads {stype}")
                rows = df.selectExpr(f"unix_micros({tcol}) AS us", f"{ncol} AS ns").collect()
                spark_pairs = sorted((r.us, r.ns) for r in rows)
                if spark_pairs != sorted(zip(arrow_us, ns)):
                    problems.append(f"{name}.{tcol}: Spark differs from pyarrow")
                info["spark_rows"] = len(rows)
        summary["tables"][name] = info
    if spark is not None:
        spark.stop()
    summary["problems"] = problems
    print(json.dumps(summary))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
