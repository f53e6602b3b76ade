#!/usr/bin/env python3
"""Why a threshold calibrated on one set of normal lab runs does not hold on another, measured (card/calibration.json,
models/ANOMALY.md "Calibration"). numpy only: every score comes from databases the sensor scored with the model.

  python3 models/anomaly/calibration_study.py --set NAME=DB[@LIST] ... --pool NAME,NAME --previous previous.onnx.json
      --out models/anomaly/card/calibration.json

--set: a scored database of normal flows (DB@LIST: only the capture files in LIST). --pool: the sets the thresholds
are calibrated on (calibrate.py). --previous: JSON {"thresholds": {...}, "port_thresholds": {...}} of the thresholds
to compare with (the previous model's metadata). Figures per set: flows, runs, share flagged by the previous
thresholds, by one global pooled threshold, by calibrate.py's; the runs with most flags; and, over SPLITS random
halves of the pool's runs (half of each class's runs), calibrate on one half and measure on the other: mean, min, max
and the share of batches like a fresh lab batch (2 runs of every class, drawn from the other half) that land within
the target band.
"""
import argparse
import collections
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from calibrate import calibrate, flagged, group_weights, scored_flows, weighted_threshold  # noqa: E402

SPLITS = 20
BATCHES = 300
BAND = (0.0067, 0.015)
# flagged() (calibrate.py) reads stored scores, which have 6 decimals, where the sensor compares the unrounded score: a
# flow whose score is within 1e-6 of a threshold (thresholds are calibration flows' own scores) may count differently
# here than in the sensor's own figures (build.py evaluate): measured, up to 2 flows per set.


def cls(group):
    return group.split("/")[-2] if "/" in group else group


def at(thr, by_port, rate="0.01"):
    return thr[rate], {int(p): v[rate] for p, v in by_port.items() if rate in v}


def share(s, p, t, by):
    return float(flagged(s, p, t, by).mean())


def batch_shares(s, p, g, t, by, rng, per=2, n=BATCHES):
    f = flagged(s, p, t, by)
    runs, inv = np.unique(g, return_inverse=True)
    nf = np.bincount(inv)
    nflag = np.bincount(inv, weights=f)
    by_cls = collections.defaultdict(list)
    for i, r in enumerate(runs):
        by_cls[cls(r)].append(i)
    out = []
    for _ in range(n):
        idx = np.concatenate([rng.choice(c, per) for c in by_cls.values()])
        out.append(nflag[idx].sum() / nf[idx].sum())
    return np.array(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", required=True)
    ap.add_argument("--pool", required=True)
    ap.add_argument("--previous", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--candidate", default=None, help="JSON {thresholds, port_thresholds}: the frozen thresholds to tabulate "
                    "(default: calibrate.py's on the pool, recomputed from the stored scores)")
    a = ap.parse_args()
    sets = {}
    for spec in a.set:
        name, _, d = spec.partition("=")
        path, _, listed = d.partition("@")
        sets[name] = scored_flows(path, {ln.strip() for ln in open(listed) if ln.strip()} if listed else None)
    pool = a.pool.split(",")
    s = np.concatenate([sets[k][0] for k in pool])
    p = np.concatenate([sets[k][1] for k in pool])
    g = np.concatenate([sets[k][2] for k in pool])
    prev = json.load(open(a.previous))
    pt, pby = at(prev["thresholds"], prev.get("port_thresholds", {}))
    if a.candidate:
        cj = json.load(open(a.candidate))
        ct, cby = at(cj["thresholds"], cj.get("port_thresholds", {}))
    else:
        thr, by_port = calibrate(s, p, g, [0.01], seed=a.seed)
        ct, cby = at(thr, by_port)
    gt = float(np.float32(weighted_threshold(s, group_weights(g), 0.01)))
    out = {"pool": pool, "pool_flows": int(len(s)), "pool_runs": int(len(np.unique(g))), "band": list(BAND),
           "previous_threshold": pt, "previous_port_thresholds": pby, "global_threshold": gt,
           "calibrated_threshold": ct, "calibrated_port_thresholds": cby, "sets": {}}
    for k, (ss, pp, gg) in sets.items():
        f = flagged(ss, pp, ct, cby)
        runs, inv = np.unique(gg, return_inverse=True)
        per_run = np.bincount(inv, weights=f)
        size = np.bincount(inv)
        top = [{"run": os.path.relpath(runs[i], os.path.dirname(os.path.dirname(os.path.dirname(runs[i])))) if "/" in runs[i] else runs[i],
                "flagged": int(per_run[i]), "flows": int(size[i])} for i in np.argsort(-per_run)[:3] if per_run[i] > 0]
        out["sets"][k] = {"flows": int(len(ss)), "runs": int(len(runs)), "in_pool": k in pool,
                          "previous": share(ss, pp, pt, pby), "previous_global_only": float((ss > pt).mean()),
                          "pooled_global_only": share(ss, pp, gt, {}), "calibrated": float(f.mean()),
                          "calibrated_flagged": int(f.sum()), "top_runs": top}
    # Out of sample: calibrate on half of each class's runs of the pool, measure on the other half.
    rng = np.random.default_rng(a.seed)
    runs = np.unique(g)
    rc = np.array([cls(r) for r in runs])
    res = {"global": [], "calibrated": [], "previous_method": []}
    for _ in range(SPLITS):
        half = set()
        for c in np.unique(rc):
            rr = runs[rc == c].copy()
            rng.shuffle(rr)
            half |= set(rr[: len(rr) // 2])
        mA = np.isin(g, list(half))
        mB = ~mA
        wA = group_weights(g[mA])
        t_g = float(weighted_threshold(s[mA], wA, 0.01))
        th, bp = calibrate(s[mA], p[mA], g[mA], [0.01], seed=a.seed)
        t_c, by_c = at(th, bp)
        # The previous method: one split-conformal threshold, ports raised where their own is higher, never lowered.
        t_p = float(weighted_threshold(s[mA], np.ones(mA.sum()), 0.01))
        by_p = {}
        for q in np.unique(p[mA]):
            m = p[mA] == q
            if m.sum() >= 50 and len(np.unique(g[mA][m])) >= 3:
                v = float(weighted_threshold(s[mA][m], np.ones(m.sum()), 0.01))
                if v > t_p:
                    by_p[int(q)] = v
        for name, t, by in (("global", t_g, {}), ("calibrated", t_c, by_c), ("previous_method", t_p, by_p)):
            b = batch_shares(s[mB], p[mB], g[mB], t, by, rng)
            res[name].append((share(s[mB], p[mB], t, by), float(((b >= BAND[0]) & (b <= BAND[1])).mean())))
    out["half_splits"] = {name: {"splits": SPLITS, "mean": float(np.mean([x[0] for x in v])), "min": float(np.min([x[0] for x in v])),
                                 "max": float(np.max([x[0] for x in v])), "batches_in_band": float(np.mean([x[1] for x in v]))}
                          for name, v in res.items()}
    json.dump(out, open(a.out, "w"), indent=1)
    print(json.dumps({k: v for k, v in out.items() if k in ("half_splits", "calibrated_threshold", "global_threshold")}))


if __name__ == "__main__":
    main()
