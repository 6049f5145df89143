#!/usr/bin/env python3
"""What labelbench computes, as one comparable file: a refactoring must not change it.

Runs `inspect --json`, `curate --json` (suggestions only), `train --json` and `export` (CSV and
Parquet) on copies of the bundled sample and of the real lab files (when ../shared/real is
there), and writes every output with run-dependent fields (timings, absolute paths, the cache
status) taken out, and every exported file's SHA-256.

    python3 tests/scripts/behaviour_snapshot.py --bin target/release/labelbench --out before.json
    ... change the code, rebuild ...
    python3 tests/scripts/behaviour_snapshot.py --bin target/release/labelbench --out after.json
    diff before.json after.json
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Fields that differ from run to run or from folder to folder, not with behaviour.
VOLATILE = {"fit_seconds", "seconds", "cache", "project", "out", "path", "source_path", "file"}


def scrub(v, tmp):
    if isinstance(v, dict):
        return {k: scrub(x, tmp) for k, x in v.items() if k not in VOLATILE}
    if isinstance(v, list):
        return [scrub(x, tmp) for x in v]
    if isinstance(v, str):
        return v.replace(tmp, "<tmp>")
    return v


def zero_times(v):
    if isinstance(v, dict):
        return {k: 0 if k in ("fit_seconds", "seconds") else zero_times(x) for k, x in v.items()}
    if isinstance(v, list):
        return [zero_times(x) for x in v]
    return v


def run(binary, *args):
    p = subprocess.run([binary, *map(str, args)], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))}: {p.stderr.strip()}")
    return p.stdout


def snapshot(binary, project, tmp):
    out = {}
    for cmd in (["inspect", "--json"], ["curate", "--json", "--limit", "0"], ["train", "--json"]):
        out[cmd[0]] = scrub(json.loads(run(binary, cmd[0], project, *cmd[1:])), tmp)
    # The export copies the model report, whose fit times differ from run to run: zero them,
    # so the exported files' hashes depend on behaviour alone.
    report = project[: -len(".json")] + ".model_report.json"
    if os.path.exists(report):
        with open(report) as f:
            doc = json.load(f)
        with open(report, "w") as f:
            json.dump(zero_times(doc), f, indent=1)
    for fmt in ("csv", "parquet"):
        d = os.path.join(os.path.dirname(project), f"export-{fmt}")
        run(binary, "export", project, "--out", d, "--format", fmt, "--pcap-slices")
        files = {}
        for base, _, names in os.walk(d):
            for n in sorted(names):
                p = os.path.join(base, n)
                rel = os.path.relpath(p, d)
                if n.endswith(".json"):
                    files[rel] = scrub(json.load(open(p)), tmp)
                    continue
                files[rel] = hashlib.sha256(open(p, "rb").read()).hexdigest()
        out[f"export-{fmt}"] = dict(sorted(files.items()))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    result = {}
    # A fixed folder: the dataset hash covers the inputs' paths, so a random one would
    # change the exported files' metadata from run to run.
    tmp = os.path.join(tempfile.gettempdir(), "labelbench-behaviour-snapshot")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        sample = os.path.join(tmp, "sample")
        shutil.copytree(os.path.join(ROOT, "sample-data"), sample,
                        ignore=shutil.ignore_patterns("*.edits.jsonl*", "*.cache", "*.export",
                                                      "*.model_report.json", "*.lock"))
        result["sample"] = snapshot(binary, os.path.join(sample, "sample.labelbench.json"), tmp)
        real = os.path.join(ROOT, "..", "shared", "real", "fit-iot-dataset")
        if os.path.isdir(real):
            lab = os.path.join(tmp, "lab")
            os.makedirs(lab)
            proj = os.path.join(lab, "lab.labelbench.json")
            srcs = []
            for kind, f in [("ifttt", "ifttt-events.csv"), ("ifttt-trigger", "ifttt-actions.csv"),
                            ("smartthings", "smartthings-events.csv"),
                            ("notifications-csv", "android-events.csv")]:
                srcs += ["--source", f"{kind}:{real}/labels/{f}@America/New_York"]
            run(binary, "new", proj, "--capture", f"{real}/pcaps/*.pcap",
                "--devices", f"{real}/devices.json", *srcs)
            result["real-lab"] = snapshot(binary, proj, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
