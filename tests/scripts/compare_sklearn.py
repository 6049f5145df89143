#!/usr/bin/env python3
"""The classifier comparison recomputed with scikit-learn on labelbench's exported features.

Reads an export folder (features.csv, model_report.json written by `train --compare`), trains
scikit-learn's DecisionTree, RandomForest, ExtraTrees and a stratified DummyClassifier per
device on the same folds labelbench used (the report's event_folds), and prints one JSON
object: per device and model the macro precision and recall from both, and their means.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.metrics import precision_score, recall_score
from sklearn.tree import DecisionTreeClassifier


def model(name, seed, trees, depth):
    forest = dict(n_estimators=trees, criterion="entropy", max_features="sqrt",
                  bootstrap=False, max_depth=depth, random_state=seed, n_jobs=-1)
    return {
        "tree": lambda: DecisionTreeClassifier(criterion="entropy", max_depth=depth,
                                               random_state=seed),
        "forest": lambda: RandomForestClassifier(**forest),
        "extra-trees": lambda: ExtraTreesClassifier(**forest),
        "random": lambda: DummyClassifier(strategy="stratified", random_state=seed),
    }[name]()


def main():
    out = Path(sys.argv[1])
    trees = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    depth = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    report = json.loads((out / "model_report.json").read_text())
    comparison = report["comparison"]
    feats = pd.read_csv(out / "features.csv")
    names = [n for n, _ in report["importances"]]
    by_id = feats.set_index("event_id")
    rows = []
    for dev in report["devices"]:
        device = dev["device"]
        folds = dict((int(i), f) for i, f in dev["event_folds"])
        ids = sorted(folds)
        sub = by_id.loc[ids]
        x = sub[names].to_numpy(dtype=float)
        y = sub["class"].astype(str).to_numpy()
        f = np.array([folds[i] for i in ids])
        ours = next(d for d in comparison["devices"] if d["device"] == device)
        for m in comparison["models"]:
            pred = np.empty_like(y)
            for k in sorted(set(f)):
                clf = model(m, comparison["seed"] + k, trees, depth)
                clf.fit(x[f != k], y[f != k])
                pred[f == k] = clf.predict(x[f == k])
            labels = sorted(set(y))
            lb = next(s for s in ours["scores"] if s["model"] == m)
            rows.append({
                "device": device, "model": m, "events": len(ids),
                "sklearn_precision": precision_score(y, pred, labels=labels, average="macro",
                                                     zero_division=0),
                "sklearn_recall": recall_score(y, pred, labels=labels, average="macro",
                                               zero_division=0),
                "labelbench_precision": lb["macro_precision"],
                "labelbench_recall": lb["macro_recall"],
            })
    df = pd.DataFrame(rows)
    mean = df.groupby("model", sort=False)[
        ["sklearn_precision", "sklearn_recall", "labelbench_precision", "labelbench_recall"]
    ].mean()
    print(json.dumps({
        "devices": rows,
        "mean": {m: r.to_dict() for m, r in mean.iterrows()},
    }))


if __name__ == "__main__":
    main()
