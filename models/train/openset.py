"""The open-set rule and the out-of-lab score.

Rule (what the sensor applies, src/classify/topK.ts): a flow is `unknown` when the model's top class is a
background class (metadata `background_classes`) or its top probability is below the threshold (metadata
`unknown_threshold`, overridable by `classify.unknownThreshold`).

`outside_score` reproduces /work/shared/tools/outside-eval on predicted labels: flows with >= min_payload payload
packets; tshark labels of a class the model names are "known", `other:*` flows are "other" (unless the model
names their protocol, then they are known under that name); macro-F1 over known classes with >= min_class
flows, `unknown` counted as wrong; the share of other flows labelled `unknown`.
"""
from collections import Counter

import numpy as np

UNKNOWN = "unknown"
# tshark tokens that outside-eval (and this scorer) treat as another name of a model class
ALIAS = {"smb2": "smb", "nbss": "smb", "kerberos": "kerberos"}


def token_of(label):
    t = label[6:] if label.startswith("other:") else label
    return ALIAS.get(t, t)


def predicted_labels(probs, classes, background, threshold):
    """Label per row under the rule: 'unknown' for a background top class or a top probability below threshold."""
    top = probs.argmax(1)
    conf = probs.max(1)
    bg = np.array([c in background for c in classes])
    return [UNKNOWN if (bg[k] or p < threshold) else classes[k] for k, p in zip(top, conf)]


def outside_score(truth, payload, pred, min_payload=4, min_class=5):
    pairs, other = [], []
    for t, pp, p in zip(truth, payload, pred):
        if pp < min_payload:
            continue
        (other if t.startswith("other:") else pairs).append((t, p))
    named = {p for _, p in pairs + other}
    moved = [(token_of(t), p) for t, p in other if token_of(t) in named]
    other = [(t, p) for t, p in other if token_of(t) not in named]
    pairs = pairs + moved
    counts = Counter(t for t, _ in pairs)
    classes = sorted(c for c, n in counts.items() if n >= min_class)
    per = {}
    for c in classes:
        tp = sum(1 for t, p in pairs if t == c and p == c)
        fp = sum(1 for t, p in pairs if t != c and p == c)
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / counts[c]
        f1 = 2 * pr * rc / (pr + rc) if pr + rc else 0.0
        per[c] = {"n": counts[c], "precision": pr, "recall": rc, "f1": f1,
                  "unknown": sum(1 for t, p in pairs if t == c and p == UNKNOWN) / counts[c],
                  "called": Counter(p for t, p in pairs if t == c).most_common(3)}
    labelled = [(t, p) for t, p in pairs if p != UNKNOWN]
    return {
        "known_flows": len(pairs),
        "accuracy": sum(1 for t, p in pairs if t == p) / len(pairs) if pairs else 0.0,
        "macro_f1": float(np.mean([v["f1"] for v in per.values()])) if per else 0.0,
        "classes": classes,
        "per_class": per,
        "coverage": len(labelled) / len(pairs) if pairs else 0.0,
        "precision_labelled": sum(1 for t, p in labelled if t == p) / len(labelled) if labelled else 0.0,
        "other_flows": len(other),
        "other_unknown": sum(1 for _, p in other if p == UNKNOWN) / len(other) if other else 0.0,
        "other_called": Counter(p for _, p in other).most_common(6),
        "other_by_protocol": {k: {"n": n, "unknown": sum(1 for t, p in other if t == k and p == UNKNOWN) / n}
                              for k, n in Counter(t for t, _ in other).most_common()},
    }


THRESHOLDS = [round(float(t), 3) for t in np.concatenate([np.arange(0.0, 0.9, 0.05), np.arange(0.9, 0.995, 0.01),
                                                          [0.995, 0.999]])]


def curve(truth, payload, probs, classes, background, min_payload=4, min_class=5):
    """Coverage / precision of the labels given, known-class macro-F1 and the other-protocols unknown share, per
    threshold."""
    out = []
    for t in THRESHOLDS:
        s = outside_score(truth, payload, predicted_labels(probs, classes, background, t), min_payload, min_class)
        out.append({"threshold": t, "coverage": s["coverage"], "precision": s["precision_labelled"],
                    "macro_f1": s["macro_f1"], "accuracy": s["accuracy"], "other_unknown": s["other_unknown"]})
    return out


def choose_f1(points, other_target=0.8):
    """Highest known-class macro-F1 among the thresholds whose share of other protocols' flows labelled unknown
    reaches other_target (ties: lower threshold); if none reaches it, the threshold with the most unknowns."""
    ok = [p for p in points if p["other_unknown"] >= other_target]
    if ok:
        best = max(ok, key=lambda p: (round(p["macro_f1"], 6), -p["threshold"]))
        return dict(best, rule=f"highest macro-F1 with other protocols labelled unknown >= {other_target}")
    best = max(points, key=lambda p: (p["other_unknown"], -p["threshold"]))
    return dict(best, rule=f"no threshold reaches other-unknown {other_target}: the one with the most unknowns")


def choose(points, min_precision=0.95):
    """Most coverage at which the precision of the labels given stays >= min_precision (ties: lower threshold);
    if no threshold reaches it, the one with the highest precision."""
    ok = [p for p in points if p["precision"] >= min_precision]
    if ok:
        best = max(ok, key=lambda p: (p["coverage"], -p["threshold"]))
        return dict(best, rule=f"most coverage with precision of the labels given >= {min_precision}")
    best = max(points, key=lambda p: (p["precision"], -p["threshold"]))
    return dict(best, rule=f"no threshold reaches precision {min_precision}: the most precise one")
