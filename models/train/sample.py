#!/usr/bin/env python3
"""Writes models/sensor.sample.csv: the shipped model's own sample, 15 rows per class of the model drawn (seeded)
from the lab corpus it was trained on, labelled with the model's class names (rows of labels the model does not
name, `other:*` and classes left out with --drop-classes, are labelled with its background class).

  /usr/bin/python3 models/train/sample.py --csv LAB/corpus.csv [--model models/sensor.onnx] [--per-class 15]

`sensor eval`, the serve tests and the demo read it; the rows come from training and held-out runs alike.
"""
import argparse
import csv
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--model", default=os.path.join(MODELS, "sensor.onnx"))
    ap.add_argument("--out", default=os.path.join(MODELS, "sensor.sample.csv"))
    ap.add_argument("--per-class", type=int, default=15)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    import onnx
    props = {p.key: p.value for p in onnx.load(a.model).metadata_props}
    classes = json.loads(props["classes"])
    background = json.loads(props.get("background_classes", "[]"))
    L = int(props["sequence_length"])
    by = {}
    with open(a.csv, newline="") as f:
        for r in csv.DictReader(f):
            lab = r["app_service"]
            if lab not in classes or lab in background:
                if not background:
                    continue
                lab = background[0]
            by.setdefault(lab, []).append([int(float(r[f"tcp_len_{i}"])) for i in range(1, L + 1)])
    rng = np.random.default_rng(a.seed)
    with open(a.out, "w") as f:
        f.write("app_service," + ",".join(f"tcp_len_{i}" for i in range(1, L + 1)) + "\n")
        for c in classes:
            rows = by.get(c, [])
            for i in sorted(rng.choice(len(rows), size=min(a.per_class, len(rows)), replace=False)):
                f.write(c + "," + ",".join(map(str, rows[i])) + "\n")
    print(f"{a.out}: {sum(min(a.per_class, len(by.get(c, []))) for c in classes)} rows, {len(classes)} classes")


if __name__ == "__main__":
    main()
