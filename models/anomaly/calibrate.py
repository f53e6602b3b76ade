"""Thresholds of an anomaly model from the scores of normal calibration flows (numpy only; fit.py uses it, and so does
`calibrate.py --scores` to recalibrate a fitted model on a pooled normal set without refitting it).

Why this shape (models/ANOMALY.md "Calibration"): flags on normal traffic come in whole runs (one capture of one
service scores high as a block), so thresholds set on few capture files per service do not transfer. Here:
- each calibration group (capture file or hour) weighs at most as much as a group of the median size: weight
  min(1, median / size) per flow, so a few dense groups cannot set the thresholds;
- a server port with PORT_MIN_FLOWS flows of PORT_MIN_GROUPS groups keeps its own threshold where that is above the
  global one (a service the model fits less well does not flag all the time);
- the global threshold is then lowered until the share of calibration flows flagged, each port's threshold computed
  WITHOUT the fold of groups it is applied to (cross-fitting over FOLDS folds of whole groups), is the stated rate.
  Without that, port thresholds absorb exactly the high blocks they were set on and new traffic is flagged far less
  than the stated rate (measured: 0.23% on a fresh lab batch at a stated 1%).
"""
import numpy as np

PORT_MIN_FLOWS = 50
PORT_MIN_GROUPS = 3
FOLDS = 5


def rate_key(r):
    return f"{r:g}"


def group_weights(groups):
    """Per flow: min(1, median group size / size of its group)."""
    _, inv, cnt = np.unique(groups, return_inverse=True, return_counts=True)
    return np.minimum(1.0, float(np.median(cnt)) / cnt[inv])


def weighted_threshold(scores, w, rate):
    """Smallest score t with (weight of the flows above t) <= rate * (total weight + 1) - 1: with unit weights the
    ceil((n + 1)(1 - rate))-th smallest score (split conformal); the largest score when none qualifies."""
    o = np.argsort(scores, kind="stable")
    s, ws = scores[o], w[o]
    above = ws.sum() - np.cumsum(ws)
    ok = np.flatnonzero(above <= rate * (ws.sum() + 1) - 1)
    return float(s[ok[0]]) if len(ok) else float(s[-1])


def port_thresholds_above(scores, ports, groups, w, rate, floor):
    """{port: threshold} for ports with enough flows and groups whose own weighted threshold is above `floor`."""
    out = {}
    for p in np.unique(ports):
        m = ports == p
        if m.sum() >= PORT_MIN_FLOWS and len(np.unique(groups[m])) >= PORT_MIN_GROUPS:
            t = weighted_threshold(scores[m], w[m], rate)
            if t > floor:
                out[int(p)] = t
    return out


def flagged(scores, ports, threshold, by_port):
    t = np.array([by_port.get(int(p), threshold) for p in ports]) if by_port else threshold
    return scores > t


def calibrate_rate(scores, ports, groups, rate, seed=1, folds=FOLDS, steps=30):
    """(global threshold, {port: threshold}) at `rate` (module doc)."""
    w = group_weights(groups)
    if ports is None:
        return float(np.float32(weighted_threshold(scores, w, rate))), {}
    ids = np.unique(groups)
    fold_of_id = np.random.default_rng(seed + 104729).permutation(len(ids)) % folds
    fold = fold_of_id[np.searchsorted(ids, groups)]

    def share(t):
        n = 0.0
        for k in range(folds):
            tr = fold != k
            by = port_thresholds_above(scores[tr], ports[tr], groups[tr], w[tr], rate, t)
            n += (w[~tr] * flagged(scores[~tr], ports[~tr], t, by)).sum()
        return n / w.sum()

    lo, hi = 0.0, float(scores.max())
    if share(lo) <= rate:
        hi = lo
    for _ in range(steps):
        mid = (lo + hi) / 2
        if share(mid) > rate:
            lo = mid
        else:
            hi = mid
    t = float(np.float32(hi))
    by = {p: float(np.float32(v)) for p, v in port_thresholds_above(scores, ports, groups, w, rate, t).items()}
    return t, by


def calibrate(scores, ports, groups, rates, seed=1):
    """({rate: threshold}, {port: {rate: threshold}}) as models/ANOMALY.md's metadata `anomaly_thresholds` and
    `anomaly_port_thresholds` (ports as strings)."""
    thresholds, by_port = {}, {}
    for r in rates:
        t, by = calibrate_rate(np.asarray(scores, dtype=np.float64), None if ports is None else np.asarray(ports),
                               np.asarray(groups), r, seed=seed)
        thresholds[rate_key(r)] = t
        for p, v in by.items():
            by_port.setdefault(str(p), {})[rate_key(r)] = v
    return thresholds, dict(sorted(by_port.items(), key=lambda kv: int(kv[0])))
