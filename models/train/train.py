#!/usr/bin/env python3
"""Trains the sensor's classifier on a "who's talking" CSV and exports it as one ONNX file.

  /usr/bin/python3 models/train/train.py --csv models/lab/out/corpus.csv --runs models/lab/out/corpus.runs \
      --export models/sensor.onnx

Retraining on your own labelled rows (app_service,tcp_len_1..tcp_len_30) is the same command with your CSV;
without --runs the held-out split takes blocks of consecutive rows instead of whole lab runs.
Writes to --out (default models/train/out): metrics.json (network, trees baseline, unknown threshold),
confusion.png, reliability.png, report.md. Seeded; uses CUDA when present (--device cpu to force the CPU).
--quick trains briefly and skips the baseline and the leave-two-out experiment (for tests).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from data import pseudo_groups, read_csv, split_by_group  # noqa: E402
from metrics import confusion_png, reliability_png, summarise  # noqa: E402
from net import Features, PpiNet  # noqa: E402

MODEL_VERSION_PREFIX = "ppi-cnn"


def parse():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--runs", help="file with the lab run of each CSV row (split by run)")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--export", help="write the ONNX model here (e.g. models/sensor.onnx)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--width", type=int, default=96, help="channels of the convolutions (inference cost grows with its square)")
    ap.add_argument("--hidden", type=int, default=192, help="units of the classifier head")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--leave-out", default="auto",
                    help="two classes left out to choose the unknown threshold ('auto': the two with most runs; 'none')")
    ap.add_argument("--max-known-loss", type=float, default=0.02,
                    help="unknown threshold: largest share of correctly classified known flows it may turn into unknown")
    ap.add_argument("--model-version", default=None)
    ap.add_argument("--quick", action="store_true", help="short training, no baseline, no leave-out (tests)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    ap.add_argument("--augment", type=float, default=0.0,
                    help="share of training rows whose lengths are scaled by a random factor in [0.8, 1.25] per "
                         "packet (other implementations send other sizes; 0 = off)")
    return ap.parse_args()


def seed_all(seed):
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def pick_device(name):
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: torch sees no CUDA device")
        return torch.device("cuda")
    return torch.device("cpu")


def fit(X, y, K, idx_tr, idx_va, a, dev, log):
    """Trains a PpiNet; returns it (on the CPU, eval mode) with its validation-fitted temperature."""
    seed_all(a.seed)
    model = PpiNet(K, width=a.width, hidden=a.hidden).to(dev)
    Xt = torch.from_numpy(X).to(dev)
    yt = torch.from_numpy(y).long().to(dev)
    counts = np.bincount(y[idx_tr], minlength=K).astype(np.float64)
    w = torch.tensor(np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / K, 0.0), dtype=torch.float32,
                     device=dev)
    lossf = nn.CrossEntropyLoss(weight=w)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    steps = a.epochs * max(1, (len(idx_tr) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps)
    g = torch.Generator().manual_seed(a.seed)
    tr = torch.from_numpy(idx_tr)
    for ep in range(a.epochs):
        model.train()
        perm = tr[torch.randperm(len(tr), generator=g)]
        tot = 0.0
        for i in range(0, len(perm), a.batch):
            b = perm[i:i + a.batch].to(dev)
            if len(b) < 2:
                continue
            opt.zero_grad()
            xb = Xt[b]
            if a.augment > 0:
                pick = (torch.rand(len(b), 1, generator=g) < a.augment).to(dev)
                scale = torch.exp(torch.empty(xb.shape).uniform_(-0.223, 0.223, generator=g)).to(dev)
                xb = torch.where(pick, torch.round(xb * scale), xb)
            loss = lossf(model.logits(xb), yt[b])
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(b)
        if ep == a.epochs - 1 or ep % 5 == 0:
            msg = f"epoch {ep + 1}/{a.epochs} loss {tot / max(1, len(perm)):.4f}"
            if len(idx_va):
                pv = predict(model, X[idx_va], dev)
                msg += f" val acc {(pv.argmax(1) == y[idx_va]).mean():.4f}"
            log(msg)
    model.eval()
    if len(idx_va):
        fit_temperature(model, Xt[torch.from_numpy(idx_va).to(dev)], yt[torch.from_numpy(idx_va).to(dev)])
    return model.cpu()


@torch.no_grad()
def predict(model, X, dev=None, batch=8192):
    """Probabilities for rows X on the model's own device (fit() returns models on the CPU)."""
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(X), batch):
        out.append(model(torch.from_numpy(X[i:i + batch]).to(dev)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), dtype=np.float32)


def fit_temperature(model, Xv, yv):
    """Temperature scaling (Guo et al. 2017): one scalar fitted by NLL on the validation runs."""
    with torch.no_grad():
        logits = model.logits(Xv)
    t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([t], lr=0.1, max_iter=100)
    lg = logits.cpu()
    yc = yv.cpu()

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(lg / torch.exp(t), yc)
        loss.backward()
        return loss
    opt.step(closure)
    model.temperature.fill_(float(torch.exp(t).clamp(0.05, 20.0)))


def engineered(X):
    """The graph's flow features plus the raw lengths, as numpy, for the trees baseline."""
    with torch.no_grad():
        _, g = Features()(torch.from_numpy(X))
    return np.concatenate([g.numpy(), X], axis=1)


def baseline(X, y, idx_tr, idx_te, seed, log):
    from sklearn.ensemble import HistGradientBoostingClassifier
    t0 = time.time()
    clf = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, early_stopping=True,
                                         validation_fraction=0.1, random_state=seed, class_weight="balanced")
    clf.fit(engineered(X[idx_tr]), y[idx_tr])
    log(f"trees baseline trained in {time.time() - t0:.1f}s ({clf.n_iter_} iterations)")
    probs_part = clf.predict_proba(engineered(X[idx_te]))
    probs = np.zeros((len(idx_te), int(y.max()) + 1), dtype=np.float64)
    probs[:, clf.classes_] = probs_part
    return probs


def unknown_threshold(X, y, classes, idx_tr, idx_va, idx_te, left_out, a, dev, log):
    """Trains without two classes; on held-out runs measures how many flows of the left-out classes fall below
    each threshold, and how many correctly classified known flows would be lost to `unknown`."""
    K = len(classes)
    lo = [classes.index(c) for c in left_out]
    keep = [k for k in range(K) if k not in lo]
    remap = -np.ones(K, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    known = lambda idx: idx[np.isin(y[idx], keep)]  # noqa: E731
    y2 = remap[y]
    model = fit(X, np.where(y2 < 0, 0, y2), len(keep), known(idx_tr), known(idx_va), a, dev, log)
    te_known, te_unknown = known(idx_te), idx_te[np.isin(y[idx_te], lo)]
    # the left-out classes' flows from every run (none were trained on): more evidence than their test runs
    all_unknown = np.where(np.isin(y, lo))[0]
    pk = predict(model, X[te_known], dev)
    pu = predict(model, X[all_unknown], dev)
    correct = pk.argmax(1) == y2[te_known]
    conf_k, conf_u = pk.max(1), pu.max(1)
    curve = []
    for t in np.round(np.arange(0.30, 0.996, 0.01), 2):
        curve.append({"threshold": float(t),
                      "known_correct_lost": float((correct & (conf_k < t)).sum() / max(1, correct.sum())),
                      "known_accuracy_after": float((correct & (conf_k >= t)).mean()),
                      "left_out_caught": float((conf_u < t).mean())})
    ok = [c for c in curve if c["known_correct_lost"] <= a.max_known_loss]
    chosen = max(ok, key=lambda c: c["threshold"]) if ok else curve[0]
    per_class = {classes[k]: float((conf_u[y[all_unknown] == k] < chosen["threshold"]).mean()) for k in lo}
    called = {}
    for k in lo:
        m = y[all_unknown] == k
        if m.any():
            top = np.bincount(pu[m].argmax(1), minlength=len(keep))
            called[classes[k]] = {classes[keep[j]]: int(top[j]) for j in np.argsort(-top)[:3] if top[j]}
    return {"left_out": left_out, "known_test_flows": int(len(te_known)), "left_out_flows": int(len(all_unknown)),
            "known_accuracy_without_threshold": float(correct.mean()), "chosen": chosen,
            "left_out_caught_per_class": per_class, "left_out_top_predictions": called,
            "rule": f"highest threshold that turns at most {a.max_known_loss:.0%} of correctly classified known flows "
                    f"into unknown", "curve": curve}


def export(model, classes, path, L, version, summary):
    import onnx
    model.eval()
    x = torch.zeros(2, L)
    tmp = path + ".tmp"
    torch.onnx.export(model, x, tmp, input_names=["ppi"], output_names=["probabilities"],
                      dynamic_axes={"ppi": {0: "N"}, "probabilities": {0: "N"}}, opset_version=17)
    m = onnx.load(tmp)
    del m.metadata_props[:]
    for k, v in (("classes", json.dumps(classes)), ("sequence_length", str(L)), ("model_version", version),
                 ("training_data", summary)):
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, path)
    os.remove(tmp)


def main():
    a = parse()
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.quick:
        a.epochs = min(a.epochs, 3)
    os.makedirs(a.out, exist_ok=True)
    t_start = time.time()

    def log(msg):
        print(f"[{time.time() - t_start:7.1f}s] {msg}", flush=True)

    dev = pick_device(a.device)
    X, labels, groups = read_csv(a.csv, a.runs)
    L = X.shape[1]
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise SystemExit(f"{a.csv}: needs at least two classes, found {classes}")
    y = np.array([classes.index(c) for c in labels], dtype=np.int64)
    split_note = "whole lab runs"
    if groups is None:
        groups, size = pseudo_groups(len(y), len(classes))
        split_note = f"blocks of {size} consecutive rows (no --runs file)"
    idx_tr, idx_va, idx_te = split_by_group(labels, groups, a.seed)
    log(f"{len(y)} flows, {len(classes)} classes, L={L}, device {dev}; split by {split_note}: "
        f"train {len(idx_tr)} / val {len(idx_va)} / test {len(idx_te)}")

    t0 = time.time()
    model = fit(X, y, len(classes), idx_tr, idx_va, a, dev, log)
    train_s = time.time() - t0
    probs = predict(model, X[idx_te], torch.device("cpu")) if len(idx_te) else None
    result = {"csv": os.path.basename(a.csv), "flows": int(len(y)), "classes": classes, "sequence_length": L,
              "split": split_note, "seed": a.seed, "epochs": a.epochs, "augment": a.augment, "device": str(dev),
              "train_seconds": round(train_s, 1), "temperature": float(model.temperature),
              "train_flows": int(len(idx_tr)), "val_flows": int(len(idx_va)), "test_flows": int(len(idx_te)),
              "groups": {"train": len({groups[i] for i in idx_tr}), "val": len({groups[i] for i in idx_va}),
                         "test": len({groups[i] for i in idx_te})},
              "class_flows": {c: int((y == k).sum()) for k, c in enumerate(classes)}}
    if len(idx_te):
        # the held-out rows, so that `sensor eval --csv OUT/test.csv --model M` can recheck the numbers through ONNX
        with open(os.path.join(a.out, "test.csv"), "w") as f:
            f.write("app_service," + ",".join(f"tcp_len_{i}" for i in range(1, L + 1)) + "\n")
            for i in idx_te:
                f.write(labels[i] + "," + ",".join(str(int(v)) for v in X[i]) + "\n")
    if probs is not None and len(probs):
        yt = y[idx_te]
        result["network"] = summarise(yt, probs, classes)
        log(f"network held-out: macro-F1 {result['network']['macro_f1']:.4f} acc {result['network']['accuracy']:.4f} "
            f"top-3 {result['network']['top3_accuracy']:.4f} ECE {result['network']['ece']:.4f}")
        confusion_png(yt, probs.argmax(1), classes, os.path.join(a.out, "confusion.png"),
                      f"network on held-out runs: macro-F1 {result['network']['macro_f1']:.3f}")
        reliability_png(yt, probs, os.path.join(a.out, "reliability.png"),
                        f"reliability (T={float(model.temperature):.2f}), ECE {result['network']['ece']:.3f}")
        if not a.quick:
            pb = baseline(X, y, idx_tr, idx_te, a.seed, log)
            result["baseline_trees"] = summarise(yt, pb, classes)
            log(f"trees held-out: macro-F1 {result['baseline_trees']['macro_f1']:.4f} "
                f"acc {result['baseline_trees']['accuracy']:.4f}")
            confusion_png(yt, pb.argmax(1), classes, os.path.join(a.out, "confusion_trees.png"),
                          f"trees baseline on held-out runs: macro-F1 {result['baseline_trees']['macro_f1']:.3f}")
    if not a.quick and a.leave_out != "none":
        if a.leave_out == "auto":
            runs_per = {c: len({groups[i] for i in np.where(y == k)[0]}) for k, c in enumerate(classes)}
            left = sorted(classes, key=lambda c: (-runs_per[c], c))[:2]
        else:
            left = a.leave_out.split(",")
        bad = [c for c in left if c not in classes]
        if bad or len(left) != 2:
            raise SystemExit(f"--leave-out needs two class names from the CSV, got {left}")
        log(f"unknown threshold: training without {left}")
        result["unknown"] = unknown_threshold(X, y, classes, idx_tr, idx_va, idx_te, left, a, dev, log)
        ch = result["unknown"]["chosen"]
        log(f"unknown threshold {ch['threshold']:.2f}: left-out flows caught {ch['left_out_caught']:.3f}, "
            f"known correct lost {ch['known_correct_lost']:.3f}")
    if a.export:
        version = a.model_version or f"{MODEL_VERSION_PREFIX}-{time.strftime('%Y%m%d')}-s{a.seed}"
        summary = (f"{len(y)} flows of {len(classes)} classes from {os.path.basename(a.csv)}"
                   + (f" ({len(set(groups))} lab runs)" if a.runs else "")
                   + (f"; held-out macro-F1 {result['network']['macro_f1']:.4f} on {len(idx_te)} flows split by "
                      f"{split_note}" if "network" in result else ""))
        export(model, classes, a.export, L, version, summary)
        result["export"] = {"path": a.export, "bytes": os.path.getsize(a.export), "model_version": version,
                            "training_data": summary}
        log(f"exported {a.export} ({os.path.getsize(a.export)} bytes, version {version})")
    json.dump(result, open(os.path.join(a.out, "metrics.json"), "w"), indent=1)
    log(f"wrote {os.path.join(a.out, 'metrics.json')}")


if __name__ == "__main__":
    main()
