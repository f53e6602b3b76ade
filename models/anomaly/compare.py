#!/usr/bin/env python3
"""Compares anomaly detectors on the same feature rows before one is shipped (models/ANOMALY.md "Choice").

  python3 models/anomaly/compare.py --normal DIR --attacks DIR [--attacks DIR ...] --out compare.json

--normal: export_features.js output of the lab's normal flows (rows.tsv names each row's capture = run);
runs are split into fitting and held-out runs by held_out() (the split evaluate.py uses). --attacks: one
directory per scenario, export_features.js output plus the scenario's JSON (`attack` names its flows) as
scenario.json. For each detector: fitted on the fitting runs' rows (80%, the other 20% set the threshold
for a 1% false-positive rate, as fit.py does), then the false-positive rate on held-out runs and on the attack
lab's workstations, and the share of each scenario's attack flows above the threshold.
"""
import argparse
import json
import os
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def held_out(run):
    """A run (capture file) is held out of fitting when crc32 of its name is 0 mod 4: about a quarter of runs."""
    return zlib.crc32(os.path.basename(run).encode()) % 4 == 0


def load(d):
    meta = json.load(open(os.path.join(d, "features.json")))
    x = np.fromfile(os.path.join(d, "features.f32"), dtype="<f4").reshape(meta["rows"], meta["width"]).astype(np.float64)
    rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(d, "rows.tsv"))]
    return x, rows, meta


def transform(x, L):
    seq = np.sign(x[:, :L]) * np.log1p(np.abs(x[:, :L]))
    cnt = np.log1p(np.maximum(x[:, L:], 0))
    return np.concatenate([seq, cnt], axis=1)


def attack_mask(rows, truth):
    if truth is None:
        return np.zeros(len(rows), bool)
    c = set(truth.get("client_ip", []))
    s = set(truth.get("server_ip", [])) if "server_ip" in truth else None
    return np.array([r[1] in c and (s is None or r[2] in s) for r in rows])


class AE:
    """fit.py's model: the ensemble and its out-of-fold threshold."""

    def __init__(self, L, counters, seed=1, **kw):
        self.L, self.counters, self.seed, self.kw = L, counters, seed, kw
        self.name = "autoencoder ensemble" + (" " + json.dumps(kw) if kw else "")

    def fit(self, x):
        from fit import fit_ensemble
        self.model, self.oof = fit_ensemble(x, self.L, self.counters, seed=self.seed, **self.kw)  # calibration scores
        return self

    def threshold(self, fpr):
        return float(np.quantile(self.oof, 1 - fpr, method="higher"))

    def score(self, x):
        import torch
        with torch.no_grad():
            return self.model(torch.tensor(x, dtype=torch.float32)).numpy()


class Standardised:
    def prep_fit(self, x, L):
        z = transform(x, L)
        self.mean, self.std = z.mean(0), np.maximum(z.std(0), 0.05)
        return (z - self.mean) / self.std

    def prep(self, x, L):
        return (transform(x, L) - self.mean) / self.std


class Forest(Standardised):
    name = "isolation forest"

    def __init__(self, L, seed=1):
        self.L, self.seed = L, seed

    def fit(self, x):
        from sklearn.ensemble import IsolationForest
        self.f = IsolationForest(n_estimators=200, random_state=self.seed).fit(self.prep_fit(x, self.L))
        return self

    def score(self, x):
        return -self.f.score_samples(self.prep(x, self.L))


class Knn(Standardised):
    name = "k nearest neighbours (k=5, mean distance)"

    def __init__(self, L, k=5):
        self.L, self.k = L, k

    def fit(self, x):
        from sklearn.neighbors import NearestNeighbors
        self.nn = NearestNeighbors(n_neighbors=self.k).fit(self.prep_fit(x, self.L))
        return self

    def score(self, x):
        d, _ = self.nn.kneighbors(self.prep(x, self.L))
        return d.mean(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--normal", required=True)
    ap.add_argument("--attacks", action="append", default=[])
    ap.add_argument("--fpr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=None)
    ap.add_argument("--detectors", default="ae,forest,knn")
    ap.add_argument("--ae-args", default=None, help="JSON keyword arguments for fit.fit_ensemble")
    ap.add_argument("--no-context", action="store_true", help="drop the context counters (ctx_*) from every row")
    a = ap.parse_args()
    x, rows, meta = load(a.normal)
    L = meta["sequence_length"]
    keep = np.array([True] * L + [not (a.no_context and c.startswith("ctx_")) for c in meta["counters"]])
    meta["counters"] = [c for c in meta["counters"] if not (a.no_context and c.startswith("ctx_"))]
    x = x[:, keep]
    ho = np.array([held_out(r[4]) for r in rows])
    xf, xh = x[~ho], x[ho]
    from fit import folds_of
    cal = folds_of(len(xf), a.seed) == 0
    xtr, xcal = xf[~cal], xf[cal]
    scen = []
    for d in a.attacks:
        xa, ra, _ = load(d)
        xa = xa[:, keep]
        truth = json.load(open(os.path.join(d, "scenario.json"))).get("attack")
        m = attack_mask(ra, truth)
        scen.append((os.path.basename(d.rstrip("/")), xa, m))
    results = {"context_counters": not a.no_context, "fit_rows": int(len(xf)), "calibration_rows_of_single_models": int(len(xcal)), "held_out_rows": int(len(xh)),
               "held_out_runs": len({r[4] for r, h in zip(rows, ho) if h}), "detectors": {}}
    kw = json.loads(a.ae_args) if a.ae_args else {}
    makers = {"ae": lambda: AE(L, meta["counters"], seed=a.seed, **kw), "forest": lambda: Forest(L, a.seed), "knn": lambda: Knn(L)}
    for key in a.detectors.split(","):
        if key == "ae":
            det = makers[key]().fit(xf)
            thr = det.threshold(a.fpr)
        else:
            det = makers[key]().fit(xtr)
            thr = float(np.quantile(det.score(xcal), 1 - a.fpr, method="higher"))
        r = {"threshold": thr, "held_out_fpr": float((det.score(xh) > thr).mean())}
        lan_n = lan_fp = 0
        for name, xa, m in scen:
            s = det.score(xa) > thr
            if m.any():
                r[name] = {"attack_flows": int(m.sum()), "detected": float(s[m].mean())}
            lan_n += int((~m).sum())
            lan_fp += int(s[~m].sum())
        r["attack_lab_normal_fpr"] = lan_fp / max(1, lan_n)
        r["attack_lab_normal_flows"] = lan_n
        results["detectors"][det.name] = r
        print(det.name, json.dumps(r), flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
