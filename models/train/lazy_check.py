#!/usr/bin/env python3
"""Checks that the MLP's lazy inputs (train.py's Inputs computing them per batch, the path of millions of rows)
train the same model as its precomputed inputs: on a who's-talking CSV (default: the committed sample), same
exact-length slot counts and vocabulary, same per-batch features, and with the same seed the same first-epoch
loss within float noise. Prints one JSON line; exit 1 when they differ.

  /usr/bin/python3 models/train/lazy_check.py [--csv models/lab/sample.csv]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import train  # noqa: E402
from bigcsv import read_csv  # noqa: E402
from data import pseudo_groups, split_by_group  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", default=os.path.join(HERE, "..", "lab", "sample.csv"))
    ap.add_argument("--epochs", type=int, default=1)
    c = ap.parse_args()
    a = train.parse(["--csv", c.csv, "--device", "cpu", "--epochs", str(c.epochs)])
    torch.set_num_threads(1)
    X, labels, groups = read_csv(c.csv)
    classes = sorted(set(labels))
    y = np.array([classes.index(v) for v in labels], dtype=np.int64)
    if groups is None:
        groups, _ = pseudo_groups(len(labels), len(classes))
    tr, va, _ = split_by_group(labels, groups, a.seed)
    X = X.astype(np.float32)
    pool = train.augmented_pool(X, a)
    K = len(classes)
    res, models, losses = {}, {}, {}
    saved = os.environ.get("SENSOR_TRAIN_LAZY")
    try:
        for mode in ("0", "1"):
            os.environ["SENSOR_TRAIN_LAZY"] = mode
            inputs = train.Inputs(X, pool, a, K)
            assert inputs.lazy == (mode == "1")
            res[mode] = inputs
            msgs = []
            models[mode] = train.fit(X, y, np.ones(len(y)), K, tr, va, a, torch.device("cpu"), msgs.append,
                                     inputs=inputs, src=np.zeros(len(y), np.int64))
            losses[mode] = [float(m.split(" loss ")[1].split()[0]) for m in msgs if " loss " in m]
    finally:
        if saved is None:
            os.environ.pop("SENSOR_TRAIN_LAZY", None)
        else:
            os.environ["SENSOR_TRAIN_LAZY"] = saved
    pre, lazy = res["0"], res["1"]
    counts_same = bool(torch.equal(pre.exact_counts(tr), lazy.exact_counts(tr)))
    vocab_same = bool(torch.equal(models["0"].exact_vocab, models["1"].exact_vocab))
    ver = torch.from_numpy(np.random.default_rng(0).integers(0, pre.copies + 1, len(tr)))
    rows = torch.from_numpy(tr)
    feats_diff = max(float((p - q).abs().max()) for p, q in zip(pre.batch(ver, rows), lazy.batch(ver, rows)))
    loss_diff = max(abs(p - q) for p, q in zip(losses["0"], losses["1"]))
    out = {"rows": len(y), "train_rows": len(tr), "versions": pre.copies + 1, "raw_dtype": str(lazy.raw.dtype),
           "counts_same": counts_same, "vocab_same": vocab_same,
           "vocab_unseen": int((models["0"].exact_vocab == models["0"].exact_vocab.numel()).sum()),
           "features_max_abs_diff": feats_diff, "loss_precomputed": losses["0"], "loss_lazy": losses["1"],
           "loss_max_abs_diff": loss_diff}
    ok = counts_same and vocab_same and feats_diff <= 1e-5 and loss_diff <= 1e-4
    out["ok"] = ok
    print(json.dumps(out))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
