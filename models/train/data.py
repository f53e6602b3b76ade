"""Reads a "who's talking" CSV (app_service,tcp_len_1..tcp_len_N[, extra columns]) and splits it by lab run."""
import csv

import numpy as np


def read_csv(path, runs_path=None, with_meta=False):
    """Returns (X float32 [N, L], labels list[str], groups list[str] | None[, meta list[dict]]).

    Columns after tcp_len_L (the lab corpus adds run, client, server, stack, capture, offload, mtu, mss, nagle)
    are kept per row in `meta`; a `run` column gives the groups when no runs file is named."""
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = [h.strip() for h in next(r)]
        L = 0
        while L + 1 < len(header) and header[L + 1] == f"tcp_len_{L + 1}":
            L += 1
        if header[0] != "app_service" or L == 0:
            raise SystemExit(f"{path}: header must be app_service,tcp_len_1,...,tcp_len_N (got {','.join(header[:3])}...)")
        extra = header[L + 1:]
        labels, rows, meta = [], [], []
        for line, row in enumerate(r, 2):
            if not row:
                continue
            if len(row) != len(header):
                raise SystemExit(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
            labels.append(row[0])
            rows.append([float(v) for v in row[1:L + 1]])
            meta.append(dict(zip(extra, row[L + 1:])))
    X = np.asarray(rows, dtype=np.float32).reshape(-1, L)
    groups = None
    if runs_path:
        groups = [g.strip() for g in open(runs_path).read().splitlines()]
        if len(groups) != len(labels):
            raise SystemExit(f"{runs_path}: {len(groups)} lines for {len(labels)} rows in {path}")
    elif "run" in extra:
        groups = [m["run"] for m in meta]
    return (X, labels, groups, meta) if with_meta else (X, labels, groups)


def split_by_group(labels, groups, seed, test_frac=0.2, val_frac=0.1):
    """Per class, whole groups (lab runs) go to test, validation or training: flows of one run are not
    independent (same conditions, same server options), so no run is on both sides of a split."""
    rng = np.random.default_rng(seed)
    by_class = {}
    for i, (lab, g) in enumerate(zip(labels, groups)):
        by_class.setdefault(lab, {}).setdefault(g, []).append(i)
    tr, va, te = [], [], []
    for lab in sorted(by_class):
        gs = sorted(by_class[lab])
        rng.shuffle(gs)
        n = len(gs)
        n_te = max(1, int(round(n * test_frac))) if n >= 3 else 0
        n_va = max(1, int(round(n * val_frac))) if n >= 3 else 0
        for k, g in enumerate(gs):
            (te if k < n_te else va if k < n_te + n_va else tr).extend(by_class[lab][g])
    return np.array(tr), np.array(va), np.array(te)


def pseudo_groups(n, n_classes):
    """Without run ids (a plain CSV), rows are grouped in blocks of consecutive rows, the closest thing to
    a capture session that the format keeps; the report says so. Blocks hold up to 50 rows, fewer in small
    files so that each class still has about ten blocks to split."""
    size = int(min(50, max(1, n // max(1, n_classes * 10))))
    return [f"block{i // size}" for i in range(n)], size
