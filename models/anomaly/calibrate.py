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

Port shifts (port_shifts(), add_port_shift(); models/ANOMALY.md "Round anomaly8"): a service the autoencoders
reconstruct less well scores higher as a whole, so with one threshold it takes more than its share of the flags. A
shift per server port, subtracted from the score inside the graph (so every record carries the shifted score), moves
that port's SHIFT_QUANTILE quantile of normal scores onto the global one; the port's own quantile is shrunk toward the
global one by runs / (runs + SHIFT_SHRINK_RUNS), so a port seen in few runs keeps nearly the global scale, and ports
never seen (or without a server port indicator) keep it exactly. A shift, not a division: password guessing (ssh) is
far above its service's normal scores, and dividing each port's scores by its median or 0.75-0.9 quantile (shrunk by 5 to
20 runs) pushed SSH brute-force detection on a1-a5 to 0.27-0.89, where the shift kept the unshifted 0.894.
"""
import numpy as np

PORT_MIN_FLOWS = 50
PORT_MIN_GROUPS = 3
FOLDS = 5
SHIFT_QUANTILE = 0.9
SHIFT_SHRINK_RUNS = 30.0
SHIFT_MIN_RUNS = 3


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


def balanced_weights(sets, groups):
    """Per flow: every set (a kind of normal traffic: the fitting data's own held-out runs, a lab batch, a day, a
    capture file) weighs the same, and every group (run) within a set weighs the same, whatever their flow counts;
    scaled so the weights sum to the number of flows (weighted_threshold's split-conformal correction stays that of
    unit weights)."""
    sets, groups = np.asarray(sets), np.asarray(groups)
    keys = np.char.add(np.char.add(sets.astype(str), "\x00"), groups.astype(str))
    _, run_inv, run_cnt = np.unique(keys, return_inverse=True, return_counts=True)
    set_ids, set_inv = np.unique(sets, return_inverse=True)
    runs_per_set = np.array([len(np.unique(keys[set_inv == i])) for i in range(len(set_ids))])
    w = 1.0 / (len(set_ids) * runs_per_set[set_inv] * run_cnt[run_inv])
    return w * (len(w) / w.sum())


def calibrate_balanced(scores, sets, groups, rates):
    """{rate: threshold}: one threshold per rate (no port thresholds), the weighted split-conformal quantile of the
    calibration scores with balanced_weights(): the stated rate holds on average over the kinds of normal traffic
    rather than over flows, so the set with most flows (or a few dense runs) does not set it (models/ANOMALY.md
    "Round anomaly7")."""
    scores = np.asarray(scores, dtype=np.float64)
    w = balanced_weights(sets, groups)
    return {rate_key(r): float(np.float32(weighted_threshold(scores, w, r))) for r in rates}


def set_rates(scores, sets, groups, t):
    """{set: share of its flows above t, each run (group) of the set weighing the same}."""
    w = balanced_weights(sets, groups)
    return {s: float((w[sets == s] * (scores[sets == s] > t)).sum() / w[sets == s].sum()) for s in np.unique(sets)}


def _set_shares(scores, sets, groups):
    """share(t) -> [each set's flagged share at threshold t] (runs weighing the same within a set; a set flagging
    nothing counts as half a flow of its median run), for the methods that balance the sets' shares."""
    scores, sets, groups = np.asarray(scores, dtype=np.float64), np.asarray(sets).astype(str), np.asarray(groups).astype(str)
    w = balanced_weights(sets, groups)
    masks = [sets == s for s in np.unique(sets)]
    floor = [0.5 / max(1, m.sum()) for m in masks]
    return scores, lambda t: [max((w[m] * (scores[m] > t)).sum() / w[m].sum(), f) for m, f in zip(masks, floor)]


def _bisect(scores, rates, level, steps):
    """{rate: threshold}: the lowest threshold (within the scores' range, `steps` halvings) at which level(t), a
    flagged share that falls as t rises, is at most the rate."""
    out = {}
    for r in rates:
        lo, hi = float(scores.min()), float(scores.max())
        for _ in range(steps):
            mid = (lo + hi) / 2
            if level(mid) > r:
                lo = mid
            else:
                hi = mid
        out[rate_key(r)] = float(np.float32(hi))
    return out


def calibrate_geometric(scores, sets, groups, rates, steps=40):
    """{rate: threshold}: one threshold per rate, set so that the geometric mean over the sets of each set's flagged
    share (runs weighing the same within a set; a set flagging nothing counts as half a flow of its median run) is the
    stated rate. The sets' shares spread by a factor (a kind of traffic the model fits less well is flagged more
    at any threshold); the geometric mean centres that spread on the stated rate in ratio, as the accepted band
    (two thirds to one and a half times the rate) is, where the weighted mean (calibrate_balanced) lets the one or
    two high sets pull the others under it."""
    scores, shares = _set_shares(scores, sets, groups)
    return _bisect(scores, rates, lambda t: float(np.exp(np.mean(np.log(shares(t))))), steps)


def calibrate_median(scores, sets, groups, rates, steps=40):
    """{rate: threshold}: one threshold per rate, set so that the median set's flagged share (runs weighing the same
    within a set; with an even number of sets the mean of the two middle ones) is the stated rate. The sets' shares
    are right-skewed (a set flags in blocks: one service run scoring high), so a threshold whose sets' MEAN is the rate
    (calibrate_balanced) leaves the typical set below it; the median is what a new set lands near
    (models/ANOMALY.md "Round anomaly11")."""
    scores, shares = _set_shares(scores, sets, groups)
    return _bisect(scores, rates, lambda t: float(np.median(shares(t))), steps)


def calibrate_extremes(scores, sets, groups, rates, steps=40):
    """{rate: threshold}: one threshold per rate, set so that the lowest and the highest set's flagged share (runs
    weighing the same within a set) are centred on the stated rate in ratio (their geometric mean is the rate): the
    accepted band of a stated rate r is r * 2/3 to r * 3/2, and every kind of normal traffic should land in it, so the
    two extremes are what the threshold has to balance; a mean over sets (calibrate_balanced, calibrate_geometric)
    lets the one or two high sets hold the low ones under the band. Needs at least two sets."""
    scores, shares = _set_shares(scores, sets, groups)

    def centre(t):
        sh = shares(t)
        return float(np.sqrt(min(sh) * max(sh)))

    return _bisect(scores, rates, centre, steps)


def weighted_quantile(x, w, q):
    """The q quantile of x with weights w (the smallest x whose cumulative weight reaches q of the total)."""
    o = np.argsort(x, kind="stable")
    c = np.cumsum(w[o])
    return float(x[o][min(len(x) - 1, int(np.searchsorted(c, q * c[-1])))])


def port_shifts(scores, ports, sets, groups, quantile=SHIFT_QUANTILE, shrink_runs=SHIFT_SHRINK_RUNS,
                min_runs=SHIFT_MIN_RUNS, allowed=None):
    """{port: shift} (module doc): per server port (only `allowed` ones, when given: those with an indicator in the
    model) with at least `min_runs` groups, its `quantile` quantile of the calibration scores shrunk toward the global
    one by runs / (runs + shrink_runs), minus the global one. Sets and groups weigh as in balanced_weights()."""
    scores, ports = np.asarray(scores, dtype=np.float64), np.asarray(ports)
    groups = np.asarray(groups).astype(str)
    w = balanced_weights(np.asarray(sets).astype(str), groups)
    g = weighted_quantile(scores, w, quantile)
    out = {}
    for p in np.unique(ports):
        if allowed is not None and int(p) not in allowed:
            continue
        m = ports == p
        runs = len(np.unique(groups[m]))
        if runs < min_runs:
            continue
        a = runs / (runs + shrink_runs)
        out[int(p)] = float(np.float32(a * (weighted_quantile(scores[m], w[m], quantile) - g)))
    return out


def apply_port_shifts(scores, ports, shifts):
    """The scores as the graph with add_port_shift() gives them: each flow's port shift subtracted."""
    return np.asarray(scores, dtype=np.float64) - np.array([shifts.get(int(p), 0.0) for p in ports])


def shift_ports_of(model):
    """The server ports with an indicator in the model's counters: {port: column of the input row}."""
    props = {p.key: p.value for p in model.metadata_props}
    L = int(props["sequence_length"])
    import json
    return {int(c.split("=", 1)[1]): L + i for i, c in enumerate(json.loads(props["anomaly_counters"]))
            if c.startswith("server_port=")}


def add_port_shift(model, shifts):
    """Rewrites an anomaly ONNX model (onnx ModelProto, in place) so that its score is the old score minus the shift of
    the flow's server port: the port indicator columns of the input (1 for the flow's port, else 0) times the shifts.
    Applied again, the shifts add (metadata `anomaly_port_shift` holds their sum)."""
    import json
    from onnx import helper, numpy_helper, TensorProto
    cols = shift_ports_of(model)
    keep = sorted(p for p in shifts if p in cols and shifts[p] != 0.0)
    if not keep:
        return model
    g = model.graph
    out = g.output[0].name
    k = sum(1 for n in g.node if n.name.startswith("port_shift_sub"))
    raw = f"score_before_port_shift_{k}"
    for n in g.node:
        n.output[:] = [raw if o == out else o for o in n.output]
    idx, vec, prod = f"port_shift_columns_{k}", f"port_shift_values_{k}", f"port_shift_{k}"
    g.initializer.extend([numpy_helper.from_array(np.array([cols[p] for p in keep], dtype=np.int64), idx),
                          numpy_helper.from_array(np.array([shifts[p] for p in keep], dtype=np.float32), vec)])
    ind = f"port_indicators_{k}"
    g.node.extend([helper.make_node("Gather", [g.input[0].name, idx], [ind], axis=1, name=f"port_shift_gather_{k}"),
                   helper.make_node("MatMul", [ind, vec], [prod], name=f"port_shift_matmul_{k}"),
                   helper.make_node("Sub", [raw, prod], [out], name=f"port_shift_sub_{k}")])
    props = {p.key: p for p in model.metadata_props}
    total = {int(p): v for p, v in json.loads(props["anomaly_port_shift"].value).items()} if "anomaly_port_shift" in props else {}
    for p in keep:
        total[p] = float(np.float32(total.get(p, 0.0) + shifts[p]))
    value = json.dumps({str(p): total[p] for p in sorted(total)})
    if "anomaly_port_shift" in props:
        props["anomaly_port_shift"].value = value
    else:
        e = model.metadata_props.add()
        e.key, e.value = "anomaly_port_shift", value
    return model


def scored_flows(db, keep=None):
    """(scores, server ports, groups) of a database's finished flows the sensor scored: the group of a flow is its
    capture file, or the database and hour it started in (as `sensor anomaly-fit` groups them). `keep`: only flows of
    these capture files."""
    import sqlite3
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("SELECT anomaly_score, server_port, pcap_filename, CAST(first_ts / 3600 AS INTEGER) FROM flows "
                       "WHERE end_reason != 'active' AND anomaly_score IS NOT NULL ORDER BY id").fetchall()
    con.close()
    if keep is not None:
        rows = [r for r in rows if r[2] in keep]
    return (np.array([r[0] for r in rows], dtype=np.float64), np.array([r[1] for r in rows], dtype=np.int64),
            np.array([r[2] if r[2] else f"h:{db}:{r[3]}" for r in rows]))


SET_METHODS = {"extremes": calibrate_extremes, "balanced": calibrate_balanced, "geometric": calibrate_geometric,
               "median": calibrate_median}


def main():
    import argparse
    import json
    ap = argparse.ArgumentParser(description="Recalibrate an anomaly model's thresholds on databases of normal traffic "
                                 "the sensor scored with it (sensor --pcap ... --db D --anomaly-model M); without "
                                 "refitting it. Prints the thresholds; --write stores them in the model (needs onnx).")
    ap.add_argument("--db", action="append", default=[],
                    help="a scored database of normal flows (repeatable); DB@LIST: only the flows of the capture files listed in LIST (one a line)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=DB[@LIST]",
                    help="a scored database of normal flows belonging to set NAME (repeatable; a NAME may repeat: its "
                         "databases join). With --set, every set (a kind of normal traffic: a lab batch, a day, a capture "
                         "file, the fitting data's held-out runs) weighs the same and every capture file or hour within "
                         "a set the same; one threshold per rate (no port thresholds) by --set-method")
    ap.add_argument("--set-method", choices=sorted(SET_METHODS), default="balanced",
                    help="balanced (default): the sets' mean flagged share is the rate; extremes: the lowest and highest set's shares centred on the rate in ratio; "
                         "geometric: the sets' geometric mean is; median: the median set's share is (models/ANOMALY.md \"Round anomaly7\" "
                         "and \"Round anomaly11\" have them measured)")
    ap.add_argument("--port-shift", type=float, default=None, metavar="Q",
                    help="with --set: first shift each server port's scores so that its Q quantile (e.g. 0.9) meets the "
                         "global one (shrunk toward it by runs; port_shifts()), inside the graph with --write, then set "
                         "the threshold on the shifted scores (models/ANOMALY.md \"Round anomaly8\")")
    ap.add_argument("--model", required=True, help="the model the databases were scored with")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--version", default=None, help="with --write: the model's new model_version")
    ap.add_argument("--method-note", default=None, help="with --write: text appended to the model's anomaly_method")
    ap.add_argument("--write", action="store_true", help="write anomaly_thresholds and anomaly_port_thresholds into --model")
    a = ap.parse_args()
    if bool(a.db) == bool(a.set):
        ap.error("give --db (pooled) or --set (sets weighed the same), one of them")

    def load(d):
        path, _, listed = d.partition("@")
        return scored_flows(path, {ln.strip() for ln in open(listed) if ln.strip()} if listed else None)

    named = [(s.partition("=")[0], load(s.partition("=")[2])) for s in a.set] if a.set else [("", load(d)) for d in a.db]
    scores = np.concatenate([p[0] for _, p in named])
    ports = np.concatenate([p[1] for _, p in named])
    groups = np.concatenate([p[2] for _, p in named])
    sets = np.concatenate([[n] * len(p[0]) for n, p in named])
    import onnx
    m = onnx.load(a.model)
    props = {p.key: p for p in m.metadata_props}
    rates = sorted(float(r) for r in json.loads(props["anomaly_thresholds"].value))
    if a.port_shift is not None and not a.set:
        ap.error("--port-shift needs --set")
    shifts = {}
    if a.port_shift is not None:
        shifts = port_shifts(scores, ports, sets, groups, quantile=a.port_shift, allowed=set(shift_ports_of(m)))
        scores = apply_port_shifts(scores, ports, shifts)
    if a.set:
        thresholds, by_port = SET_METHODS[a.set_method](scores, sets, groups, rates), {}
    else:
        thresholds, by_port = calibrate(scores, ports, groups, rates, seed=a.seed)
    out = {"flows": int(len(scores)), "groups": int(len(np.unique(groups))), "thresholds": thresholds, "port_thresholds": by_port}
    if a.port_shift is not None:
        out["port_shift"] = {"quantile": a.port_shift, "shrink_runs": SHIFT_SHRINK_RUNS, "min_runs": SHIFT_MIN_RUNS,
                             "shifts": {str(p): v for p, v in sorted(shifts.items())}}
    if a.set:
        d = float(props["anomaly_default_fpr"].value) if "anomaly_default_fpr" in props else 0.01
        t = thresholds[rate_key(d)]
        out["set_method"] = a.set_method
        out["sets"] = {n: {"flows": int((sets == n).sum()), "groups": int(len(np.unique(groups[sets == n]))),
                           "flagged_share_runs_equal": round(r, 5), "flagged_share": round(float((scores[sets == n] > t).mean()), 5)}
                       for n, r in set_rates(scores, sets.astype(str), groups.astype(str), t).items()}
    if a.write:
        add_port_shift(m, shifts)
        # A streamlined graph (as fit.py writes it) stays one: the new port shift's Gather becomes a Slice, every score
        # bit-identical (streamline.py); a graph it refuses is written as it is, said in one line.
        import os
        import sys
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from streamline import Refused, streamline
        try:
            note = "streamlined: " + streamline(m)
        except Refused as e:
            note = f"plain (streamline.py refused: {e})"
        print(f"calibrate.py: graph {note}", file=sys.stderr)
        props = {p.key: p for p in m.metadata_props}
        props["anomaly_thresholds"].value = json.dumps(thresholds)
        if "anomaly_port_thresholds" in props:
            props["anomaly_port_thresholds"].value = json.dumps(by_port)
        elif by_port:
            e = m.metadata_props.add()
            e.key, e.value = "anomaly_port_thresholds", json.dumps(by_port)
        if a.version:
            props["model_version"].value = a.version
        if a.method_note and "anomaly_method" in props:
            props["anomaly_method"].value = props["anomaly_method"].value.rstrip(". ") + "; " + a.method_note
        onnx.save(m, a.model)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
