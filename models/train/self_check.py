#!/usr/bin/env python3
"""Writes a model's self-check: metadata_props `self_check` (docs/model.md; src/classify/selfCheck.ts), a fixed
batch of input rows and the probabilities the pinned onnxruntime-node gives for them, which the sensor runs again
when it loads the model and compares (a runtime that computes the model wrongly is refused, not used).

  /usr/bin/python3 models/train/self_check.py --model models/sensor.onnx --csv models/sensor.sample.csv
      [--rows 64] [--tolerance 0.05] [--out FILE (default: --model, rewritten in place)]

Rows: who's-talking rows of the CSV (label, then the lengths), spread over the labels (round robin) and, within
a label, over the flows' payload packet counts (evenly spaced in that order); rows without payload and repeats
are skipped. The probabilities come from `node models/train/self_check_ref.js` (the runtime package.json pins,
the sensor's CPU session options, the rows as one batch: an int8 model's outputs depend on the batch's range).
Only metadata_props changes: the graph, the other entries and the file's other fields are checked unchanged
after the write, and the written file is run again and must give the stored probabilities.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
REF = os.path.join(HERE, "self_check_ref.js")
KEY = "self_check"
# Stored probabilities are rounded to this many decimals: far below any tolerance the check uses, and it keeps the
# entry small (64 rows x 30 classes: ~11 KB of the entry's ~17 KB).
DECIMALS = 5


def pick_rows(path, L, n):
    """n distinct (label, row) with payload, round robin over the labels, each label's rows spread over their lengths."""
    by = {}
    with open(path, newline="") as f:
        rd = csv.reader(f)
        next(rd)
        for r in rd:
            if len(r) < L + 1:
                continue
            x = [int(float(v)) if float(v).is_integer() else float(v) for v in r[1 : L + 1]]
            if not any(x):
                continue
            by.setdefault(r[0], []).append(x)
    labels = sorted(by)
    if not labels:
        raise SystemExit(f"{path}: no rows with payload")
    for lab in labels:
        # by payload packets, then total bytes: spaced picks then reach short and long flows alike
        by[lab].sort(key=lambda x: (sum(1 for v in x if v != 0), sum(abs(v) for v in x)))
    per = -(-n // len(labels))
    chosen = {}
    for lab in labels:
        rows = by[lab]
        k = min(per, len(rows))
        idx = sorted({round(i * (len(rows) - 1) / max(1, k - 1)) for i in range(k)}) if k > 1 else [len(rows) // 2]
        chosen[lab] = [rows[i] for i in idx]
    out, seen = [], set()
    for j in range(per):
        for lab in labels:
            if j < len(chosen[lab]) and len(out) < n:
                t = tuple(chosen[lab][j])
                if t not in seen:
                    seen.add(t)
                    out.append((lab, list(t)))
    return out


def reference(model, rows):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(rows, f)
        tmp = f.name
    try:
        r = subprocess.run(["node", REF, model, tmp], capture_output=True, text=True)
    finally:
        os.unlink(tmp)
    if r.returncode != 0:
        raise SystemExit(f"self_check_ref.js failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(MODELS, "sensor.onnx"))
    ap.add_argument("--csv", default=os.path.join(MODELS, "sensor.sample.csv"))
    ap.add_argument("--rows", type=int, default=64, help="rows in the check batch (>= 64: a fault every 32nd row must hit some)")
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    import onnx

    out = a.out or a.model
    m = onnx.load(a.model)
    props = {p.key: p.value for p in m.metadata_props}
    L = int(props["sequence_length"])
    K = len(json.loads(props["classes"]))
    picked = pick_rows(a.csv, L, a.rows)
    rows = [r for _, r in picked]
    if len(rows) < min(a.rows, 64):
        raise SystemExit(f"{a.csv}: only {len(rows)} distinct rows with payload; the check needs {min(a.rows, 64)}")
    ref = reference(a.model, rows)
    probs = ref["probs"]
    if len(probs) != len(rows) or any(len(p) != K for p in probs):
        raise SystemExit("the reference run gave another shape than [rows, classes]")
    entry = {
        "version": 1,
        "runtime": ref["runtime"],
        "tolerance": a.tolerance,
        "rows": rows,
        "expected": [[round(v, DECIMALS) for v in p] for p in probs],
    }
    graph = m.graph.SerializeToString()
    others = [(p.key, p.value) for p in m.metadata_props if p.key != KEY]
    keep = [p for p in m.metadata_props if p.key != KEY]
    del m.metadata_props[:]
    for p in keep:
        m.metadata_props.add(key=p.key, value=p.value)
    m.metadata_props.add(key=KEY, value=json.dumps(entry, separators=(",", ":")))
    onnx.save(m, out)

    # Checks: only the entry changed, and the written file reproduces what it stores.
    w = onnx.load(out)
    if w.graph.SerializeToString() != graph:
        raise SystemExit(f"{out}: the graph changed on writing")
    if [(p.key, p.value) for p in w.metadata_props if p.key != KEY] != others:
        raise SystemExit(f"{out}: other metadata changed on writing")
    again = reference(out, rows)["probs"]
    worst = max(abs(x - y) for p, q in zip(again, probs) for x, y in zip(p, q))
    if worst != 0:
        raise SystemExit(f"{out}: the written file gives other probabilities (max |dp| {worst})")
    size = os.path.getsize(out)
    margins = sorted(sorted(p, reverse=True)[0] - sorted(p, reverse=True)[1] for p in probs)
    print(json.dumps({"out": out, "rows": len(rows), "labels": len({lab for lab, _ in picked}), "runtime": ref["runtime"],
                      "tolerance": a.tolerance, "entry_bytes": len(m.metadata_props[-1].value), "file_bytes": size,
                      "smallest_top2_margins": [round(x, 4) for x in margins[:5]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
