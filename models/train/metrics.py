"""Held-out metrics and pictures: macro-F1, per-class table, top-3, confusion matrix, calibration."""
import numpy as np


def per_class(y, p, K):
    out = []
    for k in range(K):
        tp = int(((p == k) & (y == k)).sum())
        fp = int(((p == k) & (y != k)).sum())
        fn = int(((p != k) & (y == k)).sum())
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out.append({"precision": prec, "recall": rec, "f1": f1, "support": int((y == k).sum())})
    return out


def summarise(y, probs, classes):
    K = len(classes)
    pred = probs.argmax(1)
    pc = per_class(y, pred, K)
    present = [k for k in range(K) if pc[k]["support"] > 0]
    top3_hit = np.zeros(len(y), dtype=bool)
    for i in range(0, len(y), 65536):  # in chunks: a full argsort of 1.6M x 252 probabilities is 3.3 GB of indices
        part = probs[i:i + 65536]
        top = np.argpartition(-part, min(2, K - 1), axis=1)[:, :3]
        top3_hit[i:i + 65536] = (top == y[i:i + 65536, None]).any(1)
    return {
        "flows": int(len(y)),
        "accuracy": float((pred == y).mean()),
        "macro_f1": float(np.mean([pc[k]["f1"] for k in present])),
        "top3_accuracy": float(top3_hit.mean()),
        "ece": ece(y, probs),
        "per_class": {classes[k]: pc[k] for k in range(K)},
        "confusion": confusion(y, pred, K).tolist(),  # rows: true class, columns: predicted, in `classes` order
    }


def confusion(y, pred, K):
    cm = np.zeros((K, K), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    return cm


def ece(y, probs, bins=15):
    """Expected calibration error: |accuracy - confidence| averaged over confidence bins, weighted by size."""
    conf = probs.max(1)
    correct = (probs.argmax(1) == y).astype(np.float64)
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def _pyplot():
    """matplotlib.pyplot, drawing off screen (Agg)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _write(fig, ax, path, title):
    """Titles the picture, writes it to `path` (110 dpi) and frees it."""
    import matplotlib.pyplot as plt
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def confusion_png(y, pred, classes, path, title):
    plt = _pyplot()
    K = len(classes)
    cm = np.zeros((K, K), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    # up to 40 classes: a cell a class with its count; more (the public dataset has 252): a fixed 18-inch picture
    # without counts (sized by K it took 7.4 GB of memory and a minute at 252 classes)
    side = min(0.45 * K, 18.0)
    fig, ax = plt.subplots(figsize=(side + 3, side + 2.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    small = {} if K <= 40 else {"fontsize": max(2, int(400 / K))}
    ax.set_xticks(range(K), classes, rotation=90, **small)
    ax.set_yticks(range(K), classes, **small)
    for i in range(K if K <= 40 else 0):
        for j in range(K):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (held-out lab runs)")
    _write(fig, ax, path, title)
    return cm


def reliability_png(y, probs, path, title, bins=15):
    plt = _pyplot()
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    xs, accs, ns = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            xs.append(conf[m].mean())
            accs.append(correct[m].mean())
            ns.append(int(m.sum()))
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.plot(xs, accs, "o-")
    for x, a, n in zip(xs, accs, ns):
        ax.annotate(str(n), (x, a), fontsize=6, xytext=(2, -8), textcoords="offset points")
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    _write(fig, ax, path, title)


def coverage_png(points, chosen, path, title):
    """Coverage of known-class flows against the precision of the labels given, one point per threshold, and the
    share of other protocols' flows labelled unknown on a second axis."""
    plt = _pyplot()
    th = [p["threshold"] for p in points]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(th, [p["coverage"] for p in points], "o-", ms=3, label="coverage (known-class flows labelled)")
    ax.plot(th, [p["precision"] for p in points], "s-", ms=3, label="precision of the labels given")
    ax.plot(th, [p["macro_f1"] for p in points], "^-", ms=3, label="macro-F1 (unknown counted wrong)")
    ax.plot(th, [p["other_unknown"] for p in points], "d--", ms=3, label="other protocols labelled unknown")
    ax.axvline(chosen["threshold"], color="k", lw=0.8, ls=":")
    ax.annotate(f"rule: {chosen['threshold']}", (chosen["threshold"], 0.02), fontsize=7, xytext=(3, 0),
                textcoords="offset points")
    ax.set_xlabel("threshold on the top probability")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    _write(fig, ax, path, title)
