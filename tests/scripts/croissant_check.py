#!/usr/bin/env python3
"""Validates an export's croissant.json with mlcroissant and loads every record set, comparing
its row count with the table the card points at (read with pandas/pyarrow). Prints a JSON
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
        file = rs["field"][0]["source"]["fileObject"]["@id"]
        n = sum(1 for _ in ds.records(record_set=name))
        want = rows_of(out / files[file]["contentUrl"])
        summary["record_sets"][name] = n
        if n != want:
            summary["problems"].append(f"{name}: {n} records, {want} rows in {file}")
    print(json.dumps(summary))
    sys.exit(1 if summary["problems"] else 0)


if __name__ == "__main__":
    main()
