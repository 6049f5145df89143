#!/usr/bin/env python3
"""scikit-learn's forest on labelbench's feature table with labelbench's own folds.

Usage: sklearn_compare.py EXPORT_DIR/features.csv MODEL_REPORT.json [MORE_REPORTS.json ...] [--threads N]

Each report (global scope, from `labelbench bench pipeline` or `labelbench train --scope global
--json`) gives the classes kept, every event's fold and the seed; scikit-learn trains
RandomForestClassifier(n_estimators=60, criterion="entropy", bootstrap=False,
max_features="sqrt", random_state=<the report's seed>) per fold, and the pooled out-of-fold
accuracy and macro-F1 are printed beside labelbench's, with the fit time of both. With several
reports (e.g. seeds 1..20 on a small dataset, where one event moves accuracy by more than a
point) the mean difference and its standard error are printed too.
"""
import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score

args = sys.argv[1:]
threads = 2
if "--threads" in args:
    i = args.index("--threads")
    threads = int(args[i + 1])
    del args[i : i + 2]
elif len(args) == 3 and args[2].isdigit():  # old form: FEATURES REPORT THREADS
    threads = int(args.pop())
feats, reports = args[0], args[1:]
base = pd.read_csv(feats)
base["label"] = base["device"] + ":" + base["class"]
cols = [c for c in base.columns if c not in ("event_id", "device", "class", "window_start_ns", "window_end_ns", "label")]
assert len(cols) == 40, len(cols)

rows = []
for path in reports:
    report = json.load(open(path))
    seed = int(report.get("seed", 1))
    folds = dict((int(e), int(f)) for e, f in report["event_folds"])
    df = base[base["event_id"].isin(folds)].copy()
    df["fold"] = df["event_id"].map(folds)
    X = df[cols].to_numpy(dtype=np.float64)
    y = df["label"].to_numpy()
    pred = np.empty(len(y), dtype=object)
    t0 = time.perf_counter()
    for f in sorted(df["fold"].unique()):
        tr, te = df["fold"].to_numpy() != f, df["fold"].to_numpy() == f
        m = RandomForestClassifier(n_estimators=60, criterion="entropy", bootstrap=False, max_features="sqrt", n_jobs=threads, random_state=seed)
        m.fit(X[tr], y[tr])
        pred[te] = m.predict(X[te])
    fit = time.perf_counter() - t0
    acc = accuracy_score(y, pred)
    mf1 = f1_score(y, pred, average="macro")
    rows.append((report["accuracy"] - acc, report["macro_f1"] - mf1))
    print(f"{path}: seed {seed}, events {len(y)}, classes {len(set(y))}, folds {df['fold'].nunique()}, threads {threads}")
    print(f"  scikit-learn  accuracy {acc:.4f}  macro-F1 {mf1:.4f}  fit+predict {fit:.2f} s")
    print(f"  labelbench    accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}  (train time in the report: {report['fit_seconds']:.2f} s)")
    print(f"  difference    accuracy {100 * (report['accuracy'] - acc):+.2f} points, macro-F1 {100 * (report['macro_f1'] - mf1):+.2f} points")

if len(rows) > 1:
    d = 100 * np.array(rows)
    se = d.std(axis=0, ddof=1) / np.sqrt(len(d))
    print(f"mean over {len(d)} runs: accuracy {d[:, 0].mean():+.2f} ± {se[0]:.2f} points (standard error), "
          f"macro-F1 {d[:, 1].mean():+.2f} ± {se[1]:.2f} points")
