"""Runs the Spark recipe (scale/spark/labelbench_spark.py) in local mode over a lab and checks
that its events, features and flows equal a single-machine export of the same project, row for
row, and that `labelbench extract` rewrites the same bytes for a file the Spark tasks extracted.

usage: spark_check.py BIN LAB_DIR WORK_DIR [--by-day]
(LAB_DIR holds sample.labelbench.json, pcaps/; --by-day: the group tasks export by day)
Prints one JSON object; exits 1 on any difference.
"""

import hashlib
import json
import os
import pathlib
import subprocess
import sys

import polars as pl

ROOT = pathlib.Path(__file__).resolve().parents[2]
JOB = ROOT / "scale" / "spark" / "labelbench_spark.py"
KEYS = {"events": ["event_id"], "features": ["event_id"], "flows": ["flow_id"]}


def run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
    return r.stdout


def spark(stage, *args):
    env = dict(os.environ, PYSPARK_SUBMIT_ARGS="--master local[2] pyspark-shell")
    return run([sys.executable, JOB, stage, "--labelbench", BIN, *args], env=env)


def tree_hashes(d):
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file() and not p.name.startswith("spark-")}


def same_table(a, b):
    """Rows equal after casting Spark's types (decimal for u64, naive ns timestamps) back."""
    b = b.select(a.columns)
    b = b.with_columns([pl.col(c).cast(a[c].dtype) for c in a.columns if a[c].dtype != b[c].dtype])
    return a.equals(b)


BIN, LAB, WORK = (pathlib.Path(x).resolve() for x in sys.argv[1:4])
BY_DAY = ["--by-day"] if "--by-day" in sys.argv[4:] else []
dataset, out, single = WORK / "traffic", WORK / "spark-out", WORK / "single"
proj = json.loads((LAB / "sample.labelbench.json").read_text())
spark("extract", "--devices", LAB / proj["devices"], "--dataset", dataset,
      str(LAB / "pcaps" / "*.pcap"))
proj["captures"] = []
proj["traffic"] = os.path.relpath(dataset, LAB)
(LAB / "traffic.labelbench.json").write_text(json.dumps(proj, indent=2))
spark("export", "--project", LAB / "traffic.labelbench.json", "--out", out, "--groups", "3",
      *BY_DAY)
run([BIN, "export", LAB / "sample.labelbench.json", "--out", single])

report = {"tables": {}}
ok = True
for table, key in KEYS.items():
    a = pl.read_parquet(single / f"{table}.parquet").sort(key)
    b = pl.read_parquet(str(out / table / "*.parquet")).sort(key)
    eq = a.height == b.height and same_table(a, b)
    report["tables"][table] = {"single": a.height, "spark": b.height, "equal": eq}
    ok &= eq and a.height > 0

# A task retried anywhere writes the same bytes: extract one file again into a fresh folder.
first = sorted((LAB / "pcaps").glob("*.pcap"))[0]
again = WORK / "again"
run([BIN, "extract", first, "--devices", LAB / proj["devices"], "--out", again])
mine = tree_hashes(again)
theirs = tree_hashes(dataset)
report["extract_files"] = len(mine)
report["extract_identical"] = all(
    theirs.get(k) == v for k, v in mine.items())
ok &= report["extract_identical"] and len(mine) > 2
groups = json.loads((out / "spark-export.json").read_text())["groups"]
report["groups"] = [g["devices"] for g in groups]
print(json.dumps(report))
sys.exit(0 if ok else 1)
