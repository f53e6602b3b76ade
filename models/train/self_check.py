#!/usr/bin/env python3
"""Writes a model's self-check: metadata_props `self_check` (docs/model.md; src/classify/selfCheck.ts), a fixed
batch of input rows and the probabilities the pinned onnxruntime-node gives for them, which the sensor runs again
when it loads the model and compares (a runtime that computes the model wrongly is refused, not used).

  /usr/bin/python3 models/train/self_check.py --model models/sensor.onnx --csv models/sensor.sample.csv
      [--rows 64] [--tolerance 0.05] [--out FILE (default: --model, rewritten in place)] [--node BIN]

ensemble.py --export and `sensor train` (src/train/trainRun.ts) run it on the models they write (rows: their
held-out test.csv, or the training CSV).
Tolerance 0.05 (bench/HISTORY.md round perf43): a CPU without VNNI computes the int8 products with VPMADDUBSW's
int16 saturation; emulated on this machine (bench/self-check-avx2.py) that moves the bundled model's probabilities
by at most 0.009 on the check rows and 0.024 on the 20,002 rows of the bench capture (top class never changed),
against up to 1.0 for onnxruntime-node 1.24.x's fault.

Rows: who's-talking rows of the CSV (label, then the lengths), spread over the labels (round robin) and, within
a label, over the flows' payload packet counts (evenly spaced in that order); rows without payload and repeats
are skipped (a CSV with fewer distinct rows has them repeated up to --rows). The probabilities come from `node models/train/self_check_ref.js` (the runtime package.json pins,
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


def strip_entry(m):
    """Removes the `self_check` entry from model proto `m` in place, the other entries kept in order; returns the
    entry's JSON text, or None when `m` had none."""
    value = next((p.value for p in m.metadata_props if p.key == KEY), None)
    others = [(p.key, p.value) for p in m.metadata_props if p.key != KEY]
    del m.metadata_props[:]
    for key, v in others:
        m.metadata_props.add(key=key, value=v)
    return value


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


def reference(model, rows, node="node"):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(rows, f)
        tmp = f.name
    try:
        r = subprocess.run([node, REF, model, tmp], capture_output=True, text=True)
    finally:
        os.unlink(tmp)
    if r.returncode != 0:
        raise SystemExit(f"self_check_ref.js failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


def write(model, rows_csv, n_rows=64, tolerance=0.05, out=None, node="node"):
    """Writes the entry into `out` (default: `model` in place); returns a summary (dict). SystemExit on failure."""
    import onnx

    out = out or model
    m = onnx.load(model)
    props = {p.key: p.value for p in m.metadata_props}
    L = int(props["sequence_length"])
    K = len(json.loads(props["classes"]))
    picked = pick_rows(rows_csv, L, n_rows)
    if not picked:
        raise SystemExit(f"{rows_csv}: no rows with payload for the self-check")
    # Fewer distinct rows than asked (a small training set): repeat them; the batch must still be n_rows long so
    # that a fault every 32nd row of a batch hits some.
    while len(picked) < n_rows:
        picked.append(picked[len(picked) % max(1, len(picked))])
    rows = [r for _, r in picked]
    ref = reference(model, rows, node)
    probs = ref["probs"]
    if len(probs) != len(rows) or any(len(p) != K for p in probs):
        raise SystemExit("the reference run gave another shape than [rows, classes]")
    entry = {
        "version": 1,
        "runtime": ref["runtime"],
        "tolerance": tolerance,
        "rows": rows,
        "expected": [[round(v, DECIMALS) for v in p] for p in probs],
    }
    graph = m.graph.SerializeToString()
    strip_entry(m)
    others = [(p.key, p.value) for p in m.metadata_props]
    value = json.dumps(entry, separators=(",", ":"))
    m.metadata_props.add(key=KEY, value=value)
    onnx.save(m, out)

    # Checks: only the entry changed, and the written file reproduces what it stores.
    w = onnx.load(out)
    if w.graph.SerializeToString() != graph:
        raise SystemExit(f"{out}: the graph changed on writing")
    if [(p.key, p.value) for p in w.metadata_props if p.key != KEY] != others:
        raise SystemExit(f"{out}: other metadata changed on writing")
    again = reference(out, rows, node)["probs"]
    worst = max(abs(x - y) for p, q in zip(again, probs) for x, y in zip(p, q))
    if worst != 0:
        raise SystemExit(f"{out}: the written file gives other probabilities (max |dp| {worst})")
    margins = sorted(sorted(p, reverse=True)[0] - sorted(p, reverse=True)[1] for p in probs)
    return {"out": out, "rows": len(rows), "labels": len({lab for lab, _ in picked}), "runtime": ref["runtime"],
            "tolerance": tolerance, "entry_bytes": len(value), "file_bytes": os.path.getsize(out),
            "smallest_top2_margins": [round(x, 4) for x in margins[:5]]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(MODELS, "sensor.onnx"))
    ap.add_argument("--csv", default=os.path.join(MODELS, "sensor.sample.csv"))
    ap.add_argument("--rows", type=int, default=64, help="rows in the check batch (>= 64: a fault every 32nd row must hit some)")
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--out", default=None)
    ap.add_argument("--node", default="node", help="node binary that runs self_check_ref.js (the sensor's own)")
    a = ap.parse_args()
    print(json.dumps(write(a.model, a.csv, a.rows, a.tolerance, a.out, a.node)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
