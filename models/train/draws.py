#!/usr/bin/env python3
"""How much of an averaged model's outside figure is the draw of its seeds, and how it moves with the number of
members: draws random subsets of K members (train.py --out folders of one recipe, same --split-seed) and scores
the mean of their out-of-fold outside probabilities the way train.py and ensemble.py do (threshold chosen on the
draw's own curve with the f1-other rule, and at one fixed threshold for all draws).

  /usr/bin/python3 models/train/draws.py --members DIR1,DIR2,... --outside models/train/out --sizes 5,7,10,15

Prints one JSON object: per size, the draws' macro-F1 (mean, standard deviation, lowest, highest) and other
protocols labelled unknown. No training: it reads each member's oof.npz.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import openset  # noqa: E402
from train import read_outside  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", required=True, help="comma-separated train.py --out folders (same --split-seed)")
    ap.add_argument("--outside", required=True, help="the folder of outside.csv/.groups/.meta the members used")
    ap.add_argument("--sizes", default="5,7,10,15")
    ap.add_argument("--draws", type=int, default=12, help="random draws per size")
    ap.add_argument("--threshold", type=float, default=0.3, help="the fixed threshold scored next to the rule")
    ap.add_argument("--other-target", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    dirs = [d for d in a.members.split(",") if d]
    _, raw, _, meta = read_outside(a.outside)
    pp = [m["payload_packets"] for m in meta]
    classes = json.load(open(os.path.join(dirs[0], "metrics.json")))["classes"]
    folds0 = np.load(os.path.join(dirs[0], "oof.npz"))["folds"]
    probs = []
    for d in dirs:
        z = np.load(os.path.join(d, "oof.npz"))
        if json.load(open(os.path.join(d, "metrics.json")))["classes"] != classes or not (z["folds"] == folds0).all():
            raise SystemExit(f"{d}: other classes or folds than {dirs[0]}")
        probs.append(z["probs"])
    probs = np.stack(probs)
    bg = {"other"} if "other" in classes else set()
    rng = np.random.default_rng(a.seed)
    out = {"members": len(dirs), "draws_per_size": a.draws, "fixed_threshold": a.threshold, "sizes": {}}
    for k in (int(x) for x in a.sizes.split(",")):
        if k > len(dirs):
            continue
        rule, fixed, other = [], [], []
        for _ in range(a.draws):
            p = probs[rng.choice(len(dirs), k, replace=False)].mean(0)
            pts = openset.curve(raw, pp, p, classes, bg)
            ch = openset.choose_f1(pts, a.other_target)
            s = openset.outside_score(raw, pp, openset.predicted_labels(p, classes, bg, ch["threshold"]))
            f = openset.outside_score(raw, pp, openset.predicted_labels(p, classes, bg, a.threshold))
            rule.append(s["macro_f1"])
            other.append(s["other_unknown"])
            fixed.append(f["macro_f1"])

        def st(v):
            return {"mean": round(float(np.mean(v)), 4), "sd": round(float(np.std(v)), 4),
                    "min": round(float(np.min(v)), 4), "max": round(float(np.max(v)), 4)}
        out["sizes"][k] = {"macro_f1_rule": st(rule), "macro_f1_fixed": st(fixed), "other_unknown_rule": st(other)}
        print(f"{k:3d} members: rule macro-F1 {np.mean(rule):.4f} (sd {np.std(rule):.4f}, {min(rule):.4f} to "
              f"{max(rule):.4f}); threshold {a.threshold}: {np.mean(fixed):.4f} (sd {np.std(fixed):.4f})",
              file=sys.stderr, flush=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
