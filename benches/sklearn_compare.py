#!/usr/bin/env python3
"""scikit-learn's forest on labelbench's feature table with labelbench's own folds.

Usage: sklearn_compare.py EXPORT_DIR/features.csv MODEL_REPORT.json [THREADS]
The report (global scope, from `labelbench bench pipeline` or `labelbench train --scope
global --json`) gives the classes kept and every event's fold; scikit-learn trains
RandomForestClassifier(n_estimators=60, criterion="entropy", bootstrap=False,
max_features="sqrt") per fold and the pooled out-of-fold accuracy and macro-F1 are printed
beside labelbench's, with the fit time of both.
"""
import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score

feats, report = sys.argv[1], json.load(open(sys.argv[2]))
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
df = pd.read_csv(feats)
df["label"] = df["device"] + ":" + df["class"]
folds = dict((int(e), int(f)) for e, f in report["event_folds"])
df = df[df["event_id"].isin(folds)].copy()
df["fold"] = df["event_id"].map(folds)
cols = [c for c in df.columns if c not in ("event_id", "device", "class", "window_start_ns", "window_end_ns", "label", "fold")]
assert len(cols) == 40, len(cols)
X = df[cols].to_numpy(dtype=np.float64)
y = df["label"].to_numpy()
pred = np.empty(len(y), dtype=object)
t0 = time.perf_counter()
for f in sorted(df["fold"].unique()):
    tr, te = df["fold"].to_numpy() != f, df["fold"].to_numpy() == f
    m = RandomForestClassifier(n_estimators=60, criterion="entropy", bootstrap=False, max_features="sqrt", n_jobs=threads, random_state=1)
    m.fit(X[tr], y[tr])
    pred[te] = m.predict(X[te])
fit = time.perf_counter() - t0
acc = accuracy_score(y, pred)
mf1 = f1_score(y, pred, average="macro")
print(f"events {len(y)}, classes {len(set(y))}, folds {df['fold'].nunique()}, threads {threads}")
print(f"scikit-learn  accuracy {acc:.4f}  macro-F1 {mf1:.4f}  fit+predict {fit:.2f} s")
print(f"labelbench    accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}  (train time in the report: {report['fit_seconds']:.2f} s)")
print(f"difference    accuracy {100 * (report['accuracy'] - acc):+.2f} points, macro-F1 {100 * (report['macro_f1'] - mf1):+.2f} points")
