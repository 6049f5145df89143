#!/usr/bin/env python3
"""Validates an export's croissant.json with mlcroissant and loads every record set, comparing
its row count with the table the card points at (read with pandas/pyarrow; a table in parts
is the sum of the files its file set includes). Prints a JSON
summary; exits 1 on a mismatch.

Usage: croissant_check.py EXPORT_DIR
"""
import json
import sys
from pathlib import Path

import mlcroissant as mlc
import pandas as pd


def rows_of(path):
    if path.suffix == ".parquet":
        return len(pd.read_parquet(path))
    if path.suffix == ".json":
        return len(pd.read_json(path, lines=True))
    return len(pd.read_csv(path))


def main():
    out = Path(sys.argv[1])
    card = json.loads((out / "croissant.json").read_text())
    ds = mlc.Dataset(jsonld=str(out / "croissant.json"))  # raises on an invalid card
    summary = {"record_sets": {}, "problems": []}
    files = {d["@id"]: d for d in card["distribution"]}
    for rs in card["recordSet"]:
        name = rs["@id"]
        source = rs["field"][0]["source"]
        n = sum(1 for _ in ds.records(record_set=name))
        if "fileSet" in source:
            # A table in parts: every file the set includes.
            file = source["fileSet"]["@id"]
            want = sum(rows_of(p) for p in sorted(out.glob(files[file]["includes"])))
        else:
            file = source["fileObject"]["@id"]
            want = rows_of(out / files[file]["contentUrl"])
        summary["record_sets"][name] = n
        if n != want:
            summary["problems"].append(f"{name}: {n} records, {want} rows in {file}")
    print(json.dumps(summary))
    sys.exit(1 if summary["problems"] else 0)


if __name__ == "__main__":
    main()
