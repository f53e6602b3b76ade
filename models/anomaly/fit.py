#!/usr/bin/env python3
"""Fits the anomaly model on the feature rows `sensor anomaly-fit` exported, and writes it as ONNX.

  python3 models/anomaly/fit.py --features DIR --out anomaly.onnx [--fpr 0.01] [--seed 1]

Normally run by `sensor anomaly-fit`, which reads a flows database through the sensor's own feature code
(src/anomaly/features.ts, context.ts) and writes DIR/features.f32 (float32 rows, little endian) and
DIR/groups.i32 (each row's group: its capture file, or for live capture the hour it started in) and DIR/features.json
({"rows", "width", "sequence_length", "counters", "context_hold", "groups", "training_data"}).

The model (models/ANOMALY.md "Method"): an ensemble of MEMBERS autoencoders that learn to reproduce normal flows.
Inside the graph each row is transformed (lengths: sign(x) * log1p(|x|); counters: log1p(max(x, 0))),
standardised with the rows' mean and standard deviation (floored at --std-floor, so that a counter constant in
normal traffic, such as conn_state=REJ in a network without rejected connections, weighs heavily when it moves)
and clipped to +-CLIP. Each autoencoder reconstructs the flow's own features through a narrow code and predicts
its context counters from that code (it never sees them, so it cannot copy them). The squared error is
summed per part (sequence, own counters, context; weighted 1/3 each) and averaged over the ensemble; the context's
part counts only above a floor, with --context-floor-quantile Q its out-of-bag Q quantile (default none: a new normal
run of a service whose clients repeat themselves more than any fitted run's did scores high as a whole run; password
guessing repeats far more); the score is the sum of the parts, or the counters' part alone, or the context's part alone, each scaled to
the sum's 99.9th percentile, where larger (so that a connection state normal traffic never had, or a context it never
had, is not outvoted by the other parts).

The autoencoders also read the server port indicators (`server_port=N`, weight 0: inputs, never reconstructed), so
the code knows which service a flow went to: many identical refusals are normal for some services and not for others.

Calibration, so that the stated false-positive rate holds on traffic the model has not seen: a seeded
CALIBRATION_SHARE of the groups (whole capture files or hours; fewer than MIN_GROUPS groups: blocks of BLOCK rows) is
kept out of fitting, and the threshold for a rate r is the ceil((n + 1)(1 - r))-th smallest score the shipped ensemble
gives those n rows (split conformal: at most a share r of new rows exchangeable with them is flagged). Whole groups,
because flows of one capture are alike: a threshold set on flows whose neighbours were fitted on flags fewer new flows
than it states. Flows of other normal databases (`--calibration-features DIR`, repeatable: `sensor anomaly-fit
--calibration-db`) join the calibration rows whole: a more diverse normal set. The thresholds then come from
calibrate.py: each group weighs at most as much as a group of the median size, server ports whose own calibration
flows score higher keep thresholds of their own (metadata `anomaly_port_thresholds`), and the global threshold is
set so that the cross-fitted share of calibration flows flagged is the stated rate (calibrate.py's doc says why);
with --no-port-thresholds one threshold serves every flow.
Within the fitting rows each autoencoder is trained on
a seeded BAG share of blocks of BLOCK consecutive rows; the out-of-bag scores set the part gains.
"""
import argparse
import datetime
import json
import os
import sys

import numpy as np
import onnx
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from calibrate import (PORT_MIN_FLOWS, PORT_MIN_GROUPS, SHIFT_MIN_RUNS, SHIFT_SHRINK_RUNS, add_port_shift, apply_port_shifts,  # noqa: E402
                       SET_METHODS, calibrate, port_shifts, rate_key, set_rates)
from streamline import Refused, streamline  # noqa: E402

SET_LEVEL = {"median": "median set's flagged share", "geometric": "geometric mean of the sets' flagged shares",
             "extremes": "geometric mean of the lowest and highest set's flagged share"}
DEFAULT_RATES = [0.001, 0.005, 0.01, 0.02, 0.05]
MEMBERS = 10
BAG = 0.6
BLOCK = 256
CLIP = 8.0


class Transform(nn.Module):
    def __init__(self, L, mean, std):
        super().__init__()
        self.L = L
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, x):
        seq = x[:, : self.L]
        cnt = x[:, self.L:]
        seq = torch.sign(seq) * torch.log1p(torch.abs(seq))
        cnt = torch.log1p(torch.relu(cnt))
        return torch.clamp((torch.cat([seq, cnt], dim=1) - self.mean) / self.std, -CLIP, CLIP)


class AutoEncoder(nn.Module):
    """Reconstructs the flow's own features (sequence and counters) through a narrow code, and predicts its
    context counters from that code: the context is an output only, so the model cannot copy it and must learn
    which context goes with which kind of flow (many identical DNS queries are normal, many identical HTTP
    requests answered 401 are not)."""

    def __init__(self, width, hidden, code, n_ctx=0):
        super().__init__()
        self.n_own = width - n_ctx
        self.enc = nn.Sequential(nn.Linear(self.n_own, hidden), nn.ReLU(), nn.Linear(hidden, code), nn.ReLU())
        self.dec = nn.Sequential(nn.Linear(code, hidden), nn.ReLU(), nn.Linear(hidden, width))

    def forward(self, z):
        return self.dec(self.enc(z[:, : self.n_own]))


class Scorer(nn.Module):
    """Raw feature rows in, one score per row out: what the sensor runs. Each autoencoder's weighted squared
    reconstruction error is summed per part (sequence, the flow's own counters, its context; the weights sum to 1)
    and the parts are averaged over the ensemble. The score is the sum of the three parts, or `counter_gain` times the
    counters' part where that is larger: a flow whose own counters alone are as unusual as the rarest 0.1% of normal
    flows' counters (a connection state normal traffic never had) is not outvoted by an ordinary sequence and
    context."""

    def __init__(self, transform, aes, weights, parts):
        super().__init__()
        self.t = transform
        self.aes = nn.ModuleList(aes)
        self.register_buffer("w", torch.tensor(weights, dtype=torch.float32))
        # parts[i] = 0 (sequence), 1 (own counters) or 2 (context): a one-hot [W, 3] matrix sums a row's errors by part.
        self.register_buffer("part", torch.tensor(np.eye(3)[np.asarray(parts)], dtype=torch.float32))
        # Gain of each part alone (0 = the part never scores alone): [0, counters' gain, context's gain].
        self.register_buffer("gains", torch.zeros(3))
        # Subtracted from each part before it counts, [0, 0, context floor]: context error up to what the rarest
        # CONTEXT_FLOOR_QUANTILE of normal flows the autoencoders did not see show is no evidence (fit_ensemble()).
        self.register_buffer("floor", torch.zeros(3))
        # 1 for the context columns: their error counts only where the context is larger than predicted.
        self.register_buffer("ctx", torch.tensor([1.0 if p == 2 else 0.0 for p in parts], dtype=torch.float32))

    def one(self, k, z):
        return torch.sum(self.w * (self.aes[k](z) - z) ** 2, dim=1)

    def parts_of(self, k, z):
        """[N, 3]: autoencoder k's weighted squared error of each row by part. A context smaller than predicted (a flow
        with fewer like it than its kind usually has: the first or only flow to a server) is no error: what makes a
        context unusual is repetition (password guessing, beacons), and a network sparser than the fitting one must
        not be flagged for it. The autoencoders are trained on the two-sided error (one())."""
        d = self.aes[k](z) - z
        d = d - self.ctx * torch.relu(d)
        return ((self.w * d ** 2) @ self.part)

    def combine(self, p):
        p = torch.relu(p - self.floor)
        return torch.maximum(p.sum(dim=1), torch.amax(self.gains * p, dim=1))

    def forward(self, x):
        z = self.t(x)
        p = torch.stack([self.parts_of(k, z) for k in range(len(self.aes))], dim=0).mean(dim=0)
        return self.combine(p)


def is_condition(c):
    """A counter the autoencoders read but never reconstruct (weight 0): the server port indicators, which say which
    service a flow went to, so that the code a flow is reconstructed from knows it (features.ts serverPortCounters())."""
    return c.startswith("server_port=")


def group_weights(L, counters):
    """Equal weight for the three kinds of feature (sequence, the flow's own counters, its context counters),
    shared equally within each: otherwise the 30 sequence positions outvote a context counter 30 to 1, and
    password guessing (flows each ordinary, unusual only together) goes unseen. Conditions (is_condition()) weigh 0."""
    ctx = [c.startswith("ctx_") for c in counters]
    cond = [is_condition(c) for c in counters]
    groups = [L, len(ctx) - sum(ctx) - sum(cond), sum(ctx)]
    share = 1.0 / sum(1 for g in groups if g > 0)
    w = [share / L] * L + [0.0 if k else share / (groups[2] if c else groups[1]) for c, k in zip(ctx, cond)]
    return np.array(w)


def parts_of_counters(L, counters):
    """Part of each feature column: 0 for the sequence, 1 for the flow's own counters, 2 for its context."""
    return [0] * L + [2 if c.startswith("ctx_") else 1 for c in counters]


# The counters' part alone, or the context's part alone, flags a flow when it exceeds its (1 - PART_QUANTILE_RATE)
# out-of-bag quantile scaled to the summed score's quantile of the same rate (Scorer).
PART_QUANTILE_RATE = 0.001
# Context error up to this quantile of the out-of-bag context error is no evidence (Scorer.floor; 0 = no floor, as the
# bundled model; round anomaly6's candidate, not shipped, used 0.975: models/ANOMALY.md "Round anomaly6").
CONTEXT_FLOOR_QUANTILE = 0.0
# Share of the rows (whole groups: capture files or hours) kept out of fitting to set the thresholds on.
CALIBRATION_SHARE = 0.25
# Fewer groups than this: the calibration split falls back to blocks of BLOCK consecutive rows.
MIN_GROUPS = 8


def flagged_with_ports(scores, ports, threshold, by_port, rate):
    """Boolean: scores above their port's threshold at `rate` (by_port, calibrate.py) or the global one."""
    t = np.array([by_port.get(str(int(p)), {}).get(rate_key(rate), threshold) for p in ports])
    return scores > t


def calibration_split(groups, seed, share=CALIBRATION_SHARE):
    """Boolean mask of the calibration rows: whole groups, dealt in a seeded order until `share` of the rows."""
    ids, counts = np.unique(groups, return_counts=True)
    order = np.random.default_rng(seed + 7919).permutation(len(ids))
    want = share * len(groups)
    picked, n = [], 0
    for i in order:
        if n >= want:
            break
        picked.append(ids[i])
        n += counts[i]
    return np.isin(groups, picked)


def folds_of(n, seed, folds=5, block=BLOCK):
    """Fold of each row: blocks of `block` consecutive rows dealt at random (seeded) into `folds` folds."""
    blocks = np.arange(n) // block
    nb = int(blocks[-1]) + 1
    rng = np.random.default_rng(seed)
    deal = rng.permutation(nb) % folds
    return deal[blocks]


# Connection states a flow reaches after its handshake was answered: how its close went (who sent FIN or RST, and
# whether the capture saw the other side's) is a property of the server implementation, the client and where the
# capture ends, shared by every flow of one run, not an attack signature. S0, REJ, RSTO, RSTOS0, SH... (unanswered or
# refused handshakes, client resets: scans and SYN floods) are left as they are.
CLOSING_STATES = ("conn_state=SF", "conn_state=S1", "conn_state=S2", "conn_state=S3", "conn_state=RSTR")


def augment_conditions(x, L, counters, share, seed):
    """Rows added to the fitting rows so that run-level conditions vary more than in the runs recorded (--augment):
    a seeded `share` of the rows, copied, each with its duration scaled by a factor e^u (u uniform in -1.5..1.5: the
    round-trip time and the client's pace) and, if its connection state is one of CLOSING_STATES, a state drawn from
    those at random. Returns the added rows (the originals are kept)."""
    rng = np.random.default_rng(seed + 104729)
    n = len(x)
    pick = rng.choice(n, size=int(round(share * n)), replace=False)
    a = x[np.sort(pick)].copy()
    col = {c: L + i for i, c in enumerate(counters)}
    if "duration" in col:
        a[:, col["duration"]] *= np.exp(rng.uniform(-1.5, 1.5, len(a)))
    states = [col[c] for c in CLOSING_STATES if c in col]
    if len(states) > 1:
        closing = a[:, states].sum(axis=1) > 0
        a[np.ix_(np.flatnonzero(closing), states)] = 0
        a[np.flatnonzero(closing), rng.choice(states, int(closing.sum()))] = 1
    return a


def transform_np(x, L):
    seq = np.sign(x[:, :L]) * np.log1p(np.abs(x[:, :L]))
    cnt = np.log1p(np.maximum(x[:, L:], 0))
    return np.concatenate([seq, cnt], axis=1)


def fit_ensemble(x, L, counters, seed=1, hidden=64, code=12, epochs=60, std_floor=0.05, members=MEMBERS, bag=BAG,
                 block=BLOCK, log=None, ctx_floor_quantile=CONTEXT_FLOOR_QUANTILE, augment=0.0):
    """Returns (Scorer averaging `members` autoencoders, the out-of-bag score of every row). Each autoencoder is
    trained on a seeded share `bag` of the blocks of `block` consecutive rows; a row's out-of-bag score is the mean
    over the autoencoders that never saw its block, which is how the ensemble scores traffic it has not seen.
    augment > 0: that share of the rows is added again with run-level conditions varied (augment_conditions())."""
    n0 = len(x)
    if augment > 0:
        x = np.concatenate([x, augment_conditions(x, L, counters, augment, seed)])
        if log:
            log(f"augment: {len(x) - n0} fitting rows added with run-level conditions varied")
    n, W = x.shape
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    blocks = np.arange(n) // block
    nb = int(blocks[-1]) + 1
    z = transform_np(x, L)
    t = Transform(L, z.mean(axis=0), np.maximum(z.std(axis=0), std_floor))
    n_ctx = sum(c.startswith("ctx_") for c in counters)
    aes = [AutoEncoder(W, hidden, code, n_ctx) for _ in range(members)]
    model = Scorer(t, aes, group_weights(L, counters), parts_of_counters(L, counters))
    with torch.no_grad():
        z_all = t(torch.tensor(x, dtype=torch.float32))
    oob_sum = np.zeros((n, 3))
    oob_n = np.zeros(n)
    for k in range(members):
        inbag = np.isin(blocks, rng.permutation(nb)[: max(1, int(round(bag * nb)))])
        tr = torch.tensor(np.flatnonzero(inbag))
        te = np.flatnonzero(~inbag)
        opt = torch.optim.Adam(aes[k].parameters(), lr=2e-3, weight_decay=1e-5)
        for epoch in range(epochs):
            perm = tr[torch.randperm(len(tr))]
            for i in range(0, len(perm), 256):
                loss = model.one(k, z_all[perm[i:i + 256]]).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            p_te = model.parts_of(k, z_all[te]).numpy()
            s_te = p_te.sum(axis=1)
            oob_sum[te] += p_te
            oob_n[te] += 1
            if log:
                log(f"model {k + 1}/{members}: mean score {model.one(k, z_all[tr]).mean().item():.4f} on its {len(tr)} training "
                    f"flows, {s_te.mean():.4f} on the {len(te)} it did not see")
    model.eval()
    seen = oob_n > 0
    if not seen.all():
        # A row every member trained on (possible with few blocks) has no out-of-bag score: it is left out.
        if log:
            log(f"{int((~seen).sum())} flows were in every member's bag and have no out-of-bag score (not used for the part gains)")
    oob = oob_sum[seen] / oob_n[seen][:, None]
    if ctx_floor_quantile > 0 and n_ctx:
        # Run-to-run variation of one service's context (how often its clients repeat one exchange, one shape, one
        # answer) is large: a new normal run of a service can repeat more than any fitted run did and then scores
        # high as a whole run. Context error up to the ctx_floor_quantile quantile of the out-of-bag context error
        # (normal flows the autoencoders did not see) counts as none; above it, it counts in full.
        model.floor[2] = float(np.quantile(oob[:, 2], ctx_floor_quantile))
        if log:
            log(f"context floor: {model.floor[2].item():.4g} (the {ctx_floor_quantile:g} quantile of the out-of-bag context error)")
        oob = np.maximum(oob - model.floor.numpy(), 0.0)
    q_sum = np.quantile(oob.sum(axis=1), 1 - PART_QUANTILE_RATE)
    for part in (1, 2):
        q = np.quantile(oob[:, part], 1 - PART_QUANTILE_RATE)
        model.gains[part] = float(q_sum / q) if q > 0 else 0.0
    with torch.no_grad():
        p = torch.tensor(oob, dtype=torch.float32)  # the floor is subtracted already
        oob_scores = torch.maximum(p.sum(dim=1), torch.amax(model.gains * p, dim=1)).numpy()
    return model, oob_scores


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", required=True, help="directory with features.f32 and features.json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--fpr", type=float, default=0.01, help="default false-positive rate (its threshold sets the flag)")
    ap.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)), help="rates to store thresholds for")
    ap.add_argument("--std-floor", type=float, default=0.05)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--code", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--context-floor-quantile", type=float, default=CONTEXT_FLOOR_QUANTILE,
                    help="context error up to this quantile of the out-of-bag context error counts as none (0 = no floor)")
    ap.add_argument("--port-thresholds", action=argparse.BooleanOptionalAction, default=True,
                    help="server ports whose calibration flows score higher keep thresholds of their own (calibrate.py; "
                         "default); --no-port-thresholds: one threshold for every flow")
    ap.add_argument("--augment", type=float, default=0.0,
                    help="add this share of the fitting rows again with run-level conditions varied (augment_conditions(): "
                         "duration scaled, the closing connection state drawn at random; 0 = none; models/ANOMALY.md "
                         "\"Round anomaly9\")")
    ap.add_argument("--version", default=None)
    ap.add_argument("--report", default=None, help="write the fit's figures here (JSON)")
    ap.add_argument("--plain-out", default=None, help="also write the graph as exported, before streamline.py's rewrite "
                    "(to check that its scores are bit-identical)")
    ap.add_argument("--calibration-features", action="append", default=[],
                    help="a directory like --features (same counters) whose rows all join the calibration rows (repeatable)")
    ap.add_argument("--balance-sets", action="store_true",
                    help="one threshold per rate with every calibration set weighing the same (the --features rows kept "
                         "out of fitting are one set, each --calibration-features directory another) and every group "
                         "within a set the same (calibrate.py calibrate_balanced; implies --no-port-thresholds)")
    ap.add_argument("--set-method", choices=sorted(SET_METHODS), default="balanced",
                    help="with --balance-sets: balanced (default): the sets' mean flagged share is the rate; median: the "
                         "median set's is; geometric: the sets' geometric mean is; extremes: the lowest and highest set's "
                         "shares centred on the rate in ratio (calibrate.py; models/ANOMALY.md \"Round anomaly11\")")
    ap.add_argument("--port-shift", type=float, default=None, metavar="Q",
                    help="shift each server port's scores (inside the graph) so that its Q quantile of the calibration "
                         "scores (e.g. 0.9) meets the global one, shrunk toward it by runs (calibrate.py port_shifts(); "
                         "implies --no-port-thresholds; models/ANOMALY.md \"Round anomaly8\")")
    a = ap.parse_args()
    if a.set_method != "balanced" and not a.balance_sets:
        ap.error("--set-method needs --balance-sets")
    if a.port_shift is not None:
        if not 0 < a.port_shift < 1:
            sys.exit(f"fit.py: --port-shift must be a quantile between 0 and 1, got {a.port_shift}")
        a.port_thresholds = False

    meta = json.load(open(os.path.join(a.features, "features.json")))
    n, W, L = meta["rows"], meta["width"], meta["sequence_length"]
    x = np.fromfile(os.path.join(a.features, "features.f32"), dtype="<f4").reshape(n, W).astype(np.float64)
    rates = sorted({float(r) for r in a.rates.split(",")} | {a.fpr})
    min_rows = 200
    if n < min_rows:
        sys.exit(f"fit.py: {n} flows are too few to fit an anomaly model (at least {min_rows})")
    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    gpath = os.path.join(a.features, "groups.i32")
    groups = np.fromfile(gpath, dtype="<i4") if os.path.exists(gpath) else None
    ppath = os.path.join(a.features, "ports.i32")
    ports = np.fromfile(ppath, dtype="<i4") if os.path.exists(ppath) else None
    if ports is not None and len(ports) != n:
        ports = None
    group_kind = "capture files or hours"
    if groups is None or len(groups) != n or len(np.unique(groups)) < MIN_GROUPS:
        groups = np.arange(n) // BLOCK
        group_kind = f"blocks of {BLOCK} consecutive flows"
    is_cal = calibration_split(groups, a.seed)
    fit_rows, cal_rows = np.flatnonzero(~is_cal), np.flatnonzero(is_cal)
    log(f"calibration: {len(cal_rows)} flows of {len(np.unique(groups[is_cal]))} {group_kind} kept out of fitting; "
        f"fitting on {len(fit_rows)} flows of {len(np.unique(groups[~is_cal]))}")
    model, _oob = fit_ensemble(x[fit_rows], L, meta["counters"], seed=a.seed, hidden=a.hidden, code=a.code, epochs=a.epochs,
                               std_floor=a.std_floor, log=log, ctx_floor_quantile=a.context_floor_quantile,
                               augment=a.augment)
    with torch.no_grad():
        cal = model(torch.tensor(x[cal_rows], dtype=torch.float32)).numpy().astype(np.float64)
    cal_groups = groups[cal_rows]
    cal_ports = ports[cal_rows] if ports is not None else None
    cal_sets = np.zeros(len(cal_rows), dtype=np.int64)
    extra_rows = 0
    for d in a.calibration_features:
        em = json.load(open(os.path.join(d, "features.json")))
        if em["counters"] != meta["counters"] or em["width"] != W:
            sys.exit(f"fit.py: {d} has other counters than {a.features}")
        ex = np.fromfile(os.path.join(d, "features.f32"), dtype="<f4").reshape(em["rows"], W)
        eg = np.fromfile(os.path.join(d, "groups.i32"), dtype="<i4")
        ep = np.fromfile(os.path.join(d, "ports.i32"), dtype="<i4")
        with torch.no_grad():
            es = model(torch.tensor(ex, dtype=torch.float32)).numpy().astype(np.float64)
        # Group ids of another export are its own: shift them past every id used so far.
        cal = np.concatenate([cal, es])
        cal_groups = np.concatenate([cal_groups, eg + int(cal_groups.max()) + 1])
        cal_ports = np.concatenate([cal_ports, ep]) if cal_ports is not None else None
        cal_sets = np.concatenate([cal_sets, np.full(len(es), int(cal_sets.max()) + 1)])
        extra_rows += em["rows"]
        log(f"calibration: {em['rows']} more flows of {len(np.unique(eg))} groups from {d}")
    shifts = {}
    if a.port_shift is not None:
        if cal_ports is None:
            sys.exit("fit.py: --port-shift needs each row's server port (ports.i32, written by sensor anomaly-fit)")
        allowed = {int(c.split("=", 1)[1]) for c in meta["counters"] if is_condition(c)}
        shifts = port_shifts(cal, cal_ports, cal_sets, cal_groups, quantile=a.port_shift, allowed=allowed)
        cal = apply_port_shifts(cal, cal_ports, shifts)
        log(f"port shifts at the {a.port_shift:g} quantile: " + (", ".join(f"{p} {v:+.3g}" for p, v in sorted(shifts.items())) or "none"))
    # --no-port-thresholds: one threshold for every flow (round anomaly6's candidate: with the context floor, the ports'
    # own higher thresholds only absorbed the high runs of the calibration groups, and new runs were flagged less).
    # --balance-sets (round anomaly7): every set of calibration flows weighs the same, every group within a set the same.
    if a.balance_sets:
        thresholds, by_port = SET_METHODS[a.set_method](cal, cal_sets, cal_groups, rates), {}
    else:
        thresholds, by_port = calibrate(cal, cal_ports if a.port_thresholds else None, cal_groups, rates, seed=a.seed)
    if by_port:
        k = rate_key(a.fpr)
        log(f"per-port thresholds above the global {thresholds[k]:.3g} at {k}: "
            f"{', '.join(f'{p} ({t[k]:.3g})' for p, t in sorted(by_port.items(), key=lambda kv: int(kv[0])) if k in t) or 'none'}"
            f" ({len(by_port)} ports have one at some rate)")
    # The flagged share on the calibration groups, one group at a time (how much it moves from capture to capture).
    per_group = {}
    for r in rates:
        flagged = (flagged_with_ports(cal, cal_ports, thresholds[rate_key(r)], by_port, r) if cal_ports is not None
                   else cal > thresholds[rate_key(r)])
        shares = [float(flagged[cal_groups == g].mean()) for g in np.unique(cal_groups)]
        per_group[rate_key(r)] = {"overall": float(flagged.mean()), "group_share_quantiles": {
            q: float(np.quantile(shares, float(q))) for q in ("0.5", "0.9", "0.99")}}

    tmp = a.out + ".tmp"
    sample = torch.tensor(x[:2], dtype=torch.float32)
    torch.onnx.export(model, sample, tmp, input_names=["features"], output_names=["score"],
                      dynamic_axes={"features": {0: "N"}, "score": {0: "N"}}, opset_version=13)
    m = onnx.load(tmp)
    version = a.version or "anomaly-ae-" + datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S")
    n_ctx = sum(c.startswith("ctx_") for c in meta["counters"])
    n_cond = sum(is_condition(c) for c in meta["counters"])
    props = {
        "sequence_length": str(L),
        "anomaly_counters": json.dumps(meta["counters"]),
        "anomaly_thresholds": json.dumps(thresholds),
        "anomaly_default_fpr": rate_key(a.fpr),
        "anomaly_method": f"mean of {MEMBERS} autoencoders ({W - n_ctx}-{a.hidden}-{a.code}-{a.hidden}-{W}, ReLU; the {n_ctx} "
                          f"context counters are predicted, not read, and count only where larger than predicted; the {n_cond} server port indicators are read, not "
                          f"reconstructed); score = squared error of standardised features, "
                          f"sequence, counters and context weighted 1/3 each, or the counters' part alone scaled by "
                          f"{model.gains[1].item():.3g}, or the context's alone scaled by {model.gains[2].item():.3g}, "
                          f"where larger; "
                          + (f"context error up to {model.floor[2].item():.3g} (its out-of-bag {a.context_floor_quantile:g} "
                             f"quantile) counts as none; " if model.floor[2].item() > 0 else "")
                          + (f"standard deviations floored at {a.std_floor:g}; " if a.std_floor != 0.05 else "")
                          + (f"fitted with {a.augment:g} of the fitting flows again with their duration scaled and their "
                             f"closing connection state drawn at random; " if a.augment > 0 else "")
                          + f"each trained on {round(100 * BAG)}% of the blocks of {BLOCK} consecutive flows of "
                          f"{len(fit_rows)}; thresholds (calibrate.py) from the scores of {len(cal)} normal flows not fitted on "
                          f"({len(cal) - extra_rows} kept out of fitting, {group_kind}; {extra_rows} of other databases), "
                          + (f"{int(cal_sets.max()) + 1} sets (this database's and each other one) weighing the same and "
                             f"every group within a set the same; one threshold for every flow, "
                             + ("the weighted quantile of the stated rate" if a.set_method == "balanced" else
                                f"set so that the {SET_LEVEL[a.set_method]} is the stated rate") if a.balance_sets else
                             f"each group weighing at most a median one; "
                          + (f"{len(by_port)} server ports whose own flows score higher keep thresholds of their own, and "
                             f"the global one is set so that the cross-fitted share flagged is the stated rate" if a.port_thresholds
                             else "one threshold for every flow, the weighted quantile of the stated rate")),
        "model_version": version,
        "training_data": f"{meta.get('training_data', 'flows')}",
    }
    if by_port:
        props["anomaly_port_thresholds"] = json.dumps(by_port)
    if n_ctx and meta.get("context_hold"):
        # Seconds of capture time each flow waits for its context (src/anomaly/contextWindow.ts): the scorer must read
        # the counters as the rows were made.
        props["anomaly_context_hold"] = format(meta["context_hold"], "g")
        if meta.get("context_retry_hold"):
            props["anomaly_context_retry_hold"] = format(meta["context_retry_hold"], "g")
    if a.port_shift is not None:
        props["anomaly_method"] += (f"; score shifted per server port ({len(shifts)} ports with {SHIFT_MIN_RUNS} groups or more) so that each port's {a.port_shift:g} quantile of the "
                                    f"calibration scores meets the global one (shrunk by runs / (runs + {SHIFT_SHRINK_RUNS:g}); "
                                    f"metadata anomaly_port_shift)")
    del m.metadata_props[:]
    for k, v in props.items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    add_port_shift(m, shifts)
    onnx.checker.check_model(m)
    if a.plain_out:
        onnx.save(m, a.plain_out)
    # The graph rewritten for speed, every score bit-identical (streamline.py, round perf14); a shape it does not
    # handle keeps the graph as exported.
    try:
        graph = "streamlined: " + streamline(m)
    except Refused as e:
        graph = f"plain (streamline.py refused: {e})"
    log(f"graph {graph}")
    onnx.save(m, a.out)
    os.remove(tmp)
    with torch.no_grad():
        full = model(torch.tensor(x, dtype=torch.float32)).numpy()
    if shifts and ports is not None:
        full = apply_port_shifts(full, ports, shifts)
    report = {"rows": n, "members": MEMBERS, "bag": BAG, "block": BLOCK, "fitting_rows": len(fit_rows),
              "calibration_rows": len(cal), "calibration_rows_of_other_databases": extra_rows, "calibration_groups": int(len(np.unique(cal_groups))),
              "fitting_groups": int(len(np.unique(groups[fit_rows]))), "group_kind": group_kind,
              "calibration_share": CALIBRATION_SHARE, "thresholds": thresholds, "port_thresholds": by_port,
              "port_min_flows": PORT_MIN_FLOWS, "port_min_groups": PORT_MIN_GROUPS,
              "server_port_counters": [c for c in meta["counters"] if is_condition(c)],
              "default_fpr": a.fpr, "version": version, "context_hold": meta.get("context_hold", 0), "context_retry_hold": meta.get("context_retry_hold", 0),
              "calibration_score_quantiles": {str(q): float(np.quantile(cal, q)) for q in (0.5, 0.9, 0.99)},
              "calibration_flagged": per_group,
              "share_above_threshold_on_fitting_rows": {rate_key(r): float(
                  (flagged_with_ports(full[fit_rows], ports[fit_rows], thresholds[rate_key(r)], by_port, r) if ports is not None
                   else full[fit_rows] > thresholds[rate_key(r)]).mean()) for r in rates},
              "counter_gain": model.gains[1].item(), "context_gain": model.gains[2].item(),
              "context_floor": model.floor[2].item(), "context_floor_quantile": a.context_floor_quantile,
              "part_quantile_rate": PART_QUANTILE_RATE,
              "port_shift": ({"quantile": a.port_shift, "shrink_runs": SHIFT_SHRINK_RUNS, "min_runs": SHIFT_MIN_RUNS,
                              "shifts": {str(p): v for p, v in sorted(shifts.items())}} if a.port_shift is not None else None),
              "calibration_sets": ({str(s): {"flows": int((cal_sets == s).sum()), "groups": int(len(np.unique(cal_groups[cal_sets == s]))),
                                               "flagged_share_groups_equal": r}
                                      for s, r in set_rates(cal, cal_sets, cal_groups, thresholds[rate_key(a.fpr)]).items()}
                                     if a.balance_sets else None),
              "graph": graph,
              "params": {k: getattr(a, k) for k in ("std_floor", "hidden", "code", "epochs", "seed", "context_floor_quantile", "port_thresholds", "balance_sets", "set_method", "port_shift", "augment")}}
    if a.report:
        with open(a.report, "w") as f:
            json.dump(report, f, indent=1)
    print(json.dumps({"model": a.out, "version": version, "rows": n, "thresholds": thresholds}))


if __name__ == "__main__":
    main()
