"""labelbench's heavy stage on Spark: captures to a traffic dataset, then a dataset export.

Stage 1 (extract) runs `labelbench extract` on each capture file, one Spark task per file
(pcaps are not splittable), all writing into one traffic dataset on shared storage. A task
is a pure function of its file: a retried or speculative task writes the same file names with
the same bytes, so nothing is ever duplicated.

Stage 2 (export, with --project) splits the project's devices into groups of about equal
packets (`labelbench inspect --device-groups`), runs `labelbench export --only-devices` on
each group (one task per group: it reads only that group's packets from every file, so flows
cut by hourly rotation are assembled whole and event windows that straddle two files see
both), and unions the groups' events, features and flows into one dataset, sorted as a
single-machine export sorts them.

    spark-submit --master local[2] scale/spark/labelbench_spark.py extract \\
        --labelbench target/release/labelbench --devices lab/devices.json \\
        --dataset out/traffic 'lab/pcaps/*.pcap'
    labelbench new lab/traffic.labelbench.json --traffic out/traffic \\
        --devices lab/devices.json --source …
    spark-submit --master local[2] scale/spark/labelbench_spark.py export \\
        --labelbench target/release/labelbench \\
        --project lab/traffic.labelbench.json --out out/dataset --groups 8

On a cluster, ship the binary with `--files target/release/labelbench` (and pass
`--labelbench labelbench`), and put captures, dataset and export on storage every executor
mounts at the same path. See docs/scale.md.
"""

import argparse
import glob
import json
import os
import shutil
import stat
import subprocess
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import Window
from pyspark.sql import functions as F

# The sort orders a single-machine export writes its tables in.
TABLE_ORDER = {
    "events": ["event_id"],
    "features": ["event_id"],
    "flows": ["first_ns", "device", "protocol", "ip_a", "port_a", "ip_b", "port_b", "mac_a", "mac_b"],
}


def executable(name):
    """The labelbench binary on this node: a path, or a file shipped with --files."""
    if os.path.sep in name and os.path.exists(name):
        return os.path.abspath(name)
    from pyspark import SparkFiles

    p = SparkFiles.get(name)
    os.chmod(p, os.stat(p).st_mode | stat.S_IXUSR)
    return p


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def extract_task(binary, devices, dataset, flow_args):
    def task(capture):
        cmd = [executable(binary), "extract", capture, "--out", dataset, "--json"] + flow_args
        if devices:
            cmd += ["--devices", devices]
        t0 = time.time()
        row = json.loads(run(cmd).strip().splitlines()[-1])
        row["task_seconds"] = time.time() - t0
        return row

    return task


def export_task(binary, project, root, by_day):
    def task(item):
        i, names = item
        out = os.path.join(root, f"group-{i:04d}")
        # `=`: a list that starts with `-` (events of no device) is not an option.
        cmd = [executable(binary), "export", project, "--out", out, "--force", "--json",
               "--only-devices=" + ",".join(names)]
        if by_day:
            cmd.append("--by-day")
        t0 = time.time()
        rep = json.loads(run(cmd))
        return {"group": i, "devices": names, "out": out, "rows": rep["rows"],
                "task_seconds": time.time() - t0}

    return task


def expand(patterns):
    files = []
    for p in patterns:
        hits = sorted(glob.glob(p)) if any(c in p for c in "*?[") else [p]
        if not hits:
            sys.exit(f"{p}: no file matches")
        files.extend(os.path.abspath(h) for h in hits)
    return sorted(dict.fromkeys(files))


def stage_extract(spark, a, files):
    sc = spark.sparkContext
    task = extract_task(a.labelbench, a.devices and os.path.abspath(a.devices),
                        os.path.abspath(a.dataset), a.flow_args)
    t0 = time.time()
    rows = sc.parallelize(files, len(files)).map(task).collect()
    secs = time.time() - t0
    packets = sum(r["packets"] for r in rows)
    print(f"extract: {len(rows)} files, {packets} packets in {secs:.1f} s "
          f"({packets / max(secs, 1e-9):,.0f} packets/s)", flush=True)
    with open(os.path.join(a.dataset, "spark-extract.json"), "w") as f:
        json.dump({"files": len(rows), "packets": packets, "seconds": secs,
                   "task_seconds": sorted(r["task_seconds"] for r in rows)}, f)
    return rows


def stage_export(spark, a):
    groups = json.loads(run([executable(a.labelbench), "inspect", a.project,
                             "--device-groups", str(a.groups)]))
    root = os.path.join(os.path.abspath(a.out), "_groups")
    os.makedirs(root, exist_ok=True)
    t0 = time.time()
    task = export_task(a.labelbench, os.path.abspath(a.project), root, a.by_day)
    done = spark.sparkContext.parallelize(list(enumerate(groups)), len(groups)).map(task).collect()
    for table, order in TABLE_ORDER.items():
        if a.by_day and table == "flows":
            # A group exported by day writes its flows in daily parts.
            parts = [p for d in done for p in sorted(glob.glob(os.path.join(d["out"], "flows", "*.parquet")))]
        else:
            parts = [os.path.join(d["out"], f"{table}.parquet") for d in done]
        df = spark.read.parquet(*parts)
        if table == "flows":
            # Flow ids are positions in the whole table, not in a group's: one window over
            # the table (its rows are small; a week of a lab is about a million flows).
            rank = F.row_number().over(Window.orderBy(*order)) - 1
            df = df.drop("flow_id").withColumn("flow_id", rank)
            df = df.select("flow_id", *[c for c in df.columns if c != "flow_id"])
        df.orderBy(*order).coalesce(1).write.mode("overwrite").parquet(
            os.path.join(a.out, table))
    secs = time.time() - t0
    with open(os.path.join(a.out, "spark-export.json"), "w") as f:
        json.dump({"groups": done, "seconds": secs}, f, indent=1)
    print(f"export: {len(groups)} device groups in {secs:.1f} s", flush=True)
    if not a.keep_groups:
        shutil.rmtree(root)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="stage", required=True)
    ex = sub.add_parser("extract", help="captures to a traffic dataset, one task per file")
    ex.add_argument("captures", nargs="+", help="capture files or globs")
    ex.add_argument("--devices", help="device registry")
    ex.add_argument("--dataset", required=True, help="traffic dataset folder (shared storage)")
    ex.add_argument("--flow-timeouts", help="flow preset (smart-home, nfstream, zeek)")
    out = sub.add_parser("export", help="a project reading the dataset, one task per device group")
    out.add_argument("--project", required=True, help="a project whose `traffic` is the dataset")
    out.add_argument("--out", required=True, help="folder of the exported tables")
    out.add_argument("--groups", type=int, default=8, help="device groups (export tasks)")
    out.add_argument("--keep-groups", action="store_true", help="keep each group's export")
    out.add_argument("--by-day", action="store_true",
                     help="each group task exports a day at a time (memory: one device-day "
                          "of the group, not its whole span)")
    for p in (ex, out):
        p.add_argument("--labelbench", required=True,
                       help="the binary: a path every executor sees, or a name shipped with --files")
    a = ap.parse_args()
    spark = SparkSession.builder.appName(f"labelbench {a.stage}").getOrCreate()
    if a.stage == "extract":
        a.flow_args = ["--flow-timeouts", a.flow_timeouts] if a.flow_timeouts else []
        stage_extract(spark, a, expand(a.captures))
    else:
        stage_export(spark, a)
    spark.stop()


if __name__ == "__main__":
    main()
