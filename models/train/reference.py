"""The `input_reference` metadata: a compact picture of the model's inputs and outputs for drift monitoring.

Format (JSON, key `input_reference` of the ONNX metadata_props; documented in models/README.md):
  version          1
  n_flows          flows behind `positions` and `payload_packets` (the training inputs)
  edges            ascending signed-length bin edges e0..eB; bin i is [edges[i], edges[i+1]); values below e0 or
                   at/above eB are clipped into the first/last bin; 0 (the padding of short flows) has bin [0, 1)
  positions        L rows of B shares: row k = share of the flows whose length at position k falls in each bin
  payload_packets  L+1 shares: flows with n payload packets (n = 0..L, capped at L)
  class_priors     {class: share of top-1 predictions} on held-out data, before the unknown rule
  confidence       {"edges": [c0..cM], "probs": [M shares]}: histogram of the top-1 probability on held-out data
  unknown_share    share of the held-out flows that the default rule labels `unknown`
"""
import json

import numpy as np

# Magnitude edges: 1, 20, 40, ... and 1449 (above the 1448/1460-byte full segments of common MSS values)
MAGNITUDES = [1, 20, 40, 80, 150, 300, 600, 1000, 1200, 1449, 65536]
# Mirrored so that the bin of -v holds exactly the magnitudes of the bin of +v: [-m_{i+1}+1, -m_i+1)
EDGES = sorted({-(m - 1) for m in MAGNITUDES[1:]} | {-65535, 0} | set(MAGNITUDES))
CONFIDENCE_EDGES = [round(i / 20, 2) for i in range(21)]


def bin_index(values, edges=EDGES):
    """Bin of each value under the [e_i, e_i+1) rule with clipping into the first/last bin."""
    idx = np.searchsorted(np.asarray(edges), values, side="right") - 1
    return np.clip(idx, 0, len(edges) - 2)


def build(X, probs, classes, pred_unknown):
    """X: the reference inputs [N, L]; probs: held-out probabilities [M, K]; pred_unknown: [M] bool (default rule)."""
    X = np.asarray(X)
    N, L = X.shape
    B = len(EDGES) - 1
    idx = bin_index(X)
    positions = []
    for k in range(L):
        counts = np.bincount(idx[:, k], minlength=B).astype(np.float64)
        positions.append([round(float(v), 6) for v in counts / max(1, N)])
    n_payload = np.minimum((X != 0).sum(1), L)
    pp = np.bincount(n_payload, minlength=L + 1).astype(np.float64) / max(1, N)
    top = probs.argmax(1)
    conf = probs.max(1)
    priors = np.bincount(top, minlength=len(classes)).astype(np.float64) / max(1, len(top))
    ch = np.histogram(conf, bins=CONFIDENCE_EDGES)[0].astype(np.float64) / max(1, len(conf))
    return {
        "version": 1,
        "n_flows": int(N),
        "edges": [int(e) for e in EDGES],
        "positions": positions,
        "payload_packets": [round(float(v), 6) for v in pp],
        "class_priors": {c: round(float(p), 6) for c, p in zip(classes, priors)},
        "confidence": {"edges": CONFIDENCE_EDGES, "probs": [round(float(v), 6) for v in ch]},
        "unknown_share": round(float(np.mean(pred_unknown)) if len(pred_unknown) else 0.0, 6),
    }


def dumps(ref):
    return json.dumps(ref, separators=(",", ":"))
