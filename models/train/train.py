#!/usr/bin/env python3
"""Trains the sensor's classifier on lab rows (and out-of-lab rows) and exports it as one ONNX file.

  /usr/bin/python3 models/train/train.py --csv LAB/corpus.csv --runs LAB/corpus.runs \
      --outside models/train/out --export models/sensor.onnx

Data:
  --csv/--runs   "who's talking" rows (app_service,tcp_len_1..tcp_len_L) and the group (lab run) of each row.
                 Labels `other:*` are background protocols: they train the background class (--background).
  --outside DIR  out-of-lab rows from models/train/outside.py (outside.csv, .groups, .meta): tshark labels,
                 grouped by capture file. Known labels train their class, `other:*` the background class.
Held-out figures:
  in-lab         ~20% of each class's lab runs held out (test), ~10% validation (temperature), never split a run.
  out-of-lab     grouped k-fold over the outside file groups (--folds): each fold is predicted by a model trained
                 on the lab's training runs and the other folds, so every outside figure is out-of-fold.
  open set       the unknown threshold is chosen on the out-of-fold predictions (openset.py): the most coverage
                 at which the labels given keep precision >= --min-precision.
The exported model is trained on the lab's training runs plus ALL outside rows (the out-of-fold figures are the
estimate for it). Writes to --out: metrics.json, oof.npz, test.csv, confusion.png, reliability.png.
--quick trains briefly without folds (tests). Seeded; CUDA when torch sees a device (--device cpu to force CPU).
"""
import argparse
import json
from collections import Counter
import os
import sys
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import augment  # noqa: E402
import openset  # noqa: E402
import reference  # noqa: E402
from bigcsv import read_csv  # noqa: E402  (chunked int16 reader: the public dataset's 8.2M rows)
from data import pseudo_groups, split_by_group  # noqa: E402
from metrics import confusion_png, coverage_png, reliability_png, summarise  # noqa: E402
from net import EXACT_POSITIONS, PpiMlp, PpiNet  # noqa: E402

MODEL_VERSION_PREFIX = "ppi"


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--runs", help="file with the group (lab run) of each CSV row (split by run)")
    ap.add_argument("--outside", help="folder with outside.csv/.groups/.meta (models/train/outside.py)")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--export", help="write the ONNX model here (e.g. models/sensor.onnx)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--split-seed", type=int, default=7,
                    help="seed of the lab train/val/test split and of the outside folds, apart from --seed (weights, "
                         "augmentation, batches): seeds of one recipe hold out the same lab runs and outside folds, so "
                         "their figures differ by training alone and their held-out predictions can be averaged "
                         "(ensemble.py)")
    ap.add_argument("--arch", default="mlp", choices=["mlp", "cnn"])
    ap.add_argument("--width", type=int, default=96, help="cnn: channels of the convolutions")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--hidden2", type=int, default=64, help="mlp: second hidden layer")
    ap.add_argument("--exact", action=argparse.BooleanOptionalAction, default=True,
                    help="mlp: embed the exact values of the first 8 lengths (--no-exact: buckets only)")
    ap.add_argument("--exact-min-count", type=int, default=3,
                    help="mlp: exact lengths seen fewer times in a fit's training rows share one 'unseen' embedding "
                         "(0: every slot keeps its own row, trained or not)")
    ap.add_argument("--exact-cap", type=int, default=2047,
                    help="mlp: exact lengths above this share one slot (e.g. 1199: full segments, whose size is the "
                         "path's MSS, are not told apart by their exact size)")
    ap.add_argument("--exact-dropout", type=float, default=0.05,
                    help="mlp: share of exact lengths replaced by 'unseen' in training")
    ap.add_argument("--no-buckets", action="store_true", help="mlp: no quarter-octave length embeddings")
    ap.add_argument("--no-positions", action="store_true", help="mlp: no per-position channels")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--background", default="other",
                    help="name of the background class trained on other:* rows ('none': drop those rows)")
    ap.add_argument("--no-outside-background", action="store_true",
                    help="do not train the background class on the outside other:* rows (ablation)")
    ap.add_argument("--outside-weight", type=float, default=3.0,
                    help="--balance class: weight of an outside row relative to a lab row")
    ap.add_argument("--balance", default="per-source", choices=["class", "per-source"],
                    help="class: classes balanced over all rows (outside rows weighted --outside-weight); per-source: "
                         "classes balanced within the lab rows and within the outside rows, the outside rows carrying "
                         "--outside-share of the total weight (a rare class's few real flows count as much as a "
                         "common one's many); no row above 30x the median weight")
    ap.add_argument("--outside-share", type=float, default=0.5)
    ap.add_argument("--no-outside-train", action="store_true", help="train on lab rows only (ablation)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--cap-per-run", type=int, default=0,
                    help="use at most this many flows of each lab run (random, seeded; 0 = all): runs, not flows, "
                         "carry the diversity, and training time grows with rows")
    ap.add_argument("--holdout-programs", default="",
                    help="leave client programs out of training entirely and score them apart: 'CLASS=PROGRAM,...', or "
                         "'auto' (per class with two or more single-program clients, the least common one with >= 20 "
                         "flows); needs the corpus's client column")
    ap.add_argument("--lab-batches", default="",
                    help="use only lab runs of these batches (comma-separated prefixes of the run column, e.g. b0): "
                         "the ablation of the lab's diversity steps")
    ap.add_argument("--min-class-flows", type=int, default=20, help="lab classes with fewer rows are dropped")
    ap.add_argument("--drop-classes", default="",
                    help="comma-separated lab classes not to ship: their rows train the background class instead "
                         "(the model then calls their flows unknown), or are left out without one")
    ap.add_argument("--rule", default="f1-other", choices=["f1-other", "precision"],
                    help="how the unknown threshold is chosen on the out-of-fold curve: 'f1-other' = highest macro-F1 "
                         "with >= --other-target of other protocols' flows unknown; 'precision' = most coverage with "
                         "precision of the labels given >= --min-precision")
    ap.add_argument("--other-target", type=float, default=0.8)
    ap.add_argument("--threshold", type=float, default=None,
                    help="unknown threshold to use when there are no out-of-fold predictions to choose it from "
                         "(no --outside, --folds 0 or --quick; default 0.5)")
    ap.add_argument("--min-precision", type=float, default=0.95)
    ap.add_argument("--model-version", default=None)
    ap.add_argument("--quick", action="store_true", help="short training, no folds (tests)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: torch's default)")
    ap.add_argument("--augment", type=float, default=0.5, help="share of training rows re-cut per epoch (augment.py)")
    ap.add_argument("--augment-mech", default="mss,coalesce,split")
    ap.add_argument("--augment-compose", type=float, default=0.0,
                    help="chance that an augmented copy also goes through a mechanism of the other family "
                         "(network then capture point; augment.py)")
    ap.add_argument("--tag", default="", help="free text stored in metrics.json (candidate name)")
    ap.add_argument("--save-teacher", action="store_true",
                    help="write teacher.npz: every fit's calibrated probabilities on every row (fold models and the "
                         "final one), so that a --distill student can learn from this run fold-clean")
    ap.add_argument("--distill", default="",
                    help="comma-separated --save-teacher run folders (same data, --split-seed and --folds): each fit "
                         "also learns the mean of the teachers' probabilities of its own fold (fold-clean: a teacher "
                         "of fold k never saw fold k), the final fit that of the teachers' final models")
    ap.add_argument("--distill-views", action="store_true",
                    help="the teachers (their saved fold models) also label every augmented copy of a row as the "
                         "student sees it, instead of the copy learning the teachers' probabilities of the row as "
                         "captured: the teachers disagree off the training rows, which is what averaging them buys")
    ap.add_argument("--distill-alpha", type=float, default=0.7,
                    help="share of the soft-target loss (the rest: cross-entropy on the labels)")
    ap.add_argument("--distill-temp", type=float, default=2.0,
                    help="temperature of the soft targets and of the student's logits in the soft-target loss")
    return ap.parse_args(argv)


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


def make_model(a, K):
    if a.arch == "cnn":
        return PpiNet(K, width=a.width, hidden=a.hidden)
    return PpiMlp(K, hidden=a.hidden, hidden2=a.hidden2, exact=a.exact, buckets=not a.no_buckets,
                  positions=not a.no_positions, exact_dropout=a.exact_dropout, exact_cap=a.exact_cap)


AUG_COPIES = 4


def augmented_pool(X, a, names=None, donors=None):
    """AUG_COPIES re-cut copies of every row (one random mechanism each), made once and shared by all fits;
    each epoch a row is replaced by one of its copies with probability --augment. `names`: the class name of each
    row (content mechanisms such as http-headers act on their class's rows only); `donors`: mask of the rows whose
    exchanges dns-reuse may append (lab training rows: held-out lab runs and outside folds never leak into a copy)."""
    mech = tuple(m for m in a.augment_mech.split(",") if m)
    if a.augment <= 0 or not mech:
        return None
    rng = np.random.default_rng(a.seed + 1)
    return np.stack([augment.augment_rows(X, rng, 1.0, mech, labels=names, compose=a.augment_compose,
                                                         donors=donors) for _ in range(AUG_COPIES)])


LAZY_ROW_VERSIONS = 1_000_000  # rows x versions above which the MLP's inputs are computed per batch (Inputs)


class Inputs:
    """What one epoch feeds the model for each row: the raw rows (CNN), or for the MLP its parameter-free inputs
    (dense features and embedding slots). On small data the MLP's inputs are computed once for X and for every
    augmented copy, which makes an MLP epoch several times cheaper than recomputing them; that costs ~1.3 GB per
    100k rows (five versions of each), so above LAZY_ROW_VERSIONS row-versions (or with SENSOR_TRAIN_LAZY=1;
    =0 forces the precomputed path) the MLP keeps the raw rows (int16 where the lengths fit, else int32) and
    computes its inputs per training batch instead (`lazy`)."""

    def __init__(self, X, pool, a, K):
        self.mlp = a.arch == "mlp"
        mats = [X] + (list(pool) if pool is not None else [])
        self.copies = len(mats) - 1
        force = os.environ.get("SENSOR_TRAIN_LAZY", "")
        self.lazy = self.mlp and (force == "1" or (force != "0" and len(X) * len(mats) > LAZY_ROW_VERSIONS))
        if not self.mlp:
            self.tensors = [torch.from_numpy(np.stack(mats))]  # [V, N, L]
        elif self.lazy:
            big = max((float(np.abs(M).max()) if M.size else 0.0) for M in mats)
            dt = np.int16 if big <= np.iinfo(np.int16).max else np.int32
            raw = np.empty((len(mats),) + X.shape, dtype=dt)  # [V, N, L], filled one version at a time
            for v, M in enumerate(mats):
                raw[v] = M
            self.raw = torch.from_numpy(raw)
            self.probe = make_model(a, K)
            self.tensors = None
        else:
            probe = make_model(a, K)
            with torch.no_grad():
                def conv(M):
                    parts = [probe.inputs(torch.from_numpy(M[i:i + 8192])) for i in range(0, len(M), 8192)]
                    return torch.cat([d for d, _ in parts]), torch.cat([s for _, s in parts])
                done = [conv(M) for M in mats]
            self.tensors = [torch.stack([d for d, _ in done]), torch.stack([s for _, s in done])]  # [V, N, D], [V, N, S]

    def batch(self, version, rows):
        """Row rows[i] in its version version[i] (0 = as captured, 1.. = augmented copies)."""
        if self.lazy:
            with torch.no_grad():
                return list(self.probe.inputs(self.raw[version, rows].float()))
        return [t[version, rows] for t in self.tensors]

    def exact_counts(self, rows, chunk=65536):
        """How often each exact-length slot occurs among the first EXACT_POSITIONS slots of rows `rows` in all
        their versions: what PpiMlp.set_exact_counts takes (the precomputed path counts its stored slots; the
        lazy one computes them chunk by chunk)."""
        from net import EXACT_UNSEEN
        if not self.lazy:
            slots = self.tensors[1][:, torch.from_numpy(rows), :EXACT_POSITIONS]
            return torch.bincount(slots.reshape(-1).long(), minlength=EXACT_UNSEEN)[:EXACT_UNSEEN]
        counts = torch.zeros(EXACT_UNSEEN, dtype=torch.long)
        rt = torch.from_numpy(rows)
        with torch.no_grad():
            for v in range(self.raw.shape[0]):
                for i in range(0, len(rt), chunk):
                    _, s = self.probe.inputs(self.raw[v, rt[i:i + chunk]].float())
                    counts += torch.bincount(s[:, :EXACT_POSITIONS].reshape(-1).long(),
                                             minlength=EXACT_UNSEEN)[:EXACT_UNSEEN]
        return counts


def row_weights(y, w_row, src, idx_tr, K, a):
    """Per-row loss weights for the training rows idx_tr (mean 1 over them)."""
    sw = np.zeros(len(y))
    if a.balance == "per-source" and src is not None and (src[idx_tr] == 1).any():
        for s_, share in ((0, 1.0 - a.outside_share), (1, a.outside_share)):
            rows = idx_tr[(src[idx_tr] == s_) & (w_row[idx_tr] > 0)]
            if not len(rows):
                continue
            cnt = np.bincount(y[rows], minlength=K)
            per_row = share / max(1, (cnt > 0).sum()) / np.maximum(cnt, 1)
            sw[rows] = per_row[y[rows]]
        med = np.median(sw[idx_tr][sw[idx_tr] > 0])
        sw = np.minimum(sw, 30 * med)
    else:
        counts = np.bincount(y[idx_tr], weights=w_row[idx_tr], minlength=K)
        cw = np.where(counts > 0, counts.sum() / np.maximum(counts, 1e-9) / max(1, (counts > 0).sum()), 0.0)
        sw = cw[y] * w_row
    return sw / max(1e-12, sw[idx_tr].mean())


def fit(X, y, w_row, K, idx_tr, idx_va, a, dev, log, what="", inputs=None, src=None, soft=None):
    """Trains a model on rows idx_tr (weights w_row); returns it on the CPU in eval mode, temperature fitted on
    idx_va. `inputs`: an Inputs over X and its augmented copies (made here without augmentation if None).
    `soft`: teacher probabilities per row ([len(X), K], distillation): the loss is then (1 - alpha) x cross-entropy
    on the labels + alpha x temp^2 x KL(teacher at temp || model at temp) (Hinton et al. 2015); an augmented copy
    of a row learns the teacher's probabilities of the row as captured (the re-cut keeps what the flow is)."""
    if inputs is None:
        inputs = Inputs(X, None, a, K)
    seed_all(a.seed)
    model = make_model(a, K).to(dev)
    if inputs.mlp and a.exact and a.exact_min_count > 0:
        # the exact-length vocabulary of this fit's training rows (all their versions): rarer lengths -> unseen
        model.set_exact_counts(inputs.exact_counts(idx_tr), a.exact_min_count)
    sample_w = torch.tensor(row_weights(y, w_row, src, idx_tr, K, a).astype(np.float32))
    yt = torch.from_numpy(y).long()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=1e-4)
    steps = a.epochs * max(1, (len(idx_tr) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps)
    g = torch.Generator().manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    n_copies = inputs.copies
    tr_t = torch.from_numpy(idx_tr)
    soft_t = None
    if soft is not None:
        tau = a.distill_temp
        lp = np.log(np.clip(soft.astype(np.float32), 1e-8, 1.0)) / tau
        lp -= lp.max(-1, keepdims=True)
        st = np.exp(lp)
        soft_t = torch.from_numpy((st / st.sum(-1, keepdims=True)).astype(np.float32))
    for ep in range(a.epochs):
        model.train()
        # per row and epoch: the original (version 0) or, with probability --augment, one of its re-cut copies
        ver = np.zeros(len(idx_tr), dtype=np.int64)
        if n_copies:
            use = rng.random(len(idx_tr)) < a.augment
            ver[use] = rng.integers(1, n_copies + 1, int(use.sum()))
        ver_t = torch.from_numpy(ver)
        perm = torch.randperm(len(idx_tr), generator=g)
        tot = 0.0
        for i in range(0, len(perm), a.batch):
            b = perm[i:i + a.batch]
            if len(b) < 2:
                continue
            rows = tr_t[b]
            feats = [t.to(dev) for t in inputs.batch(ver_t[b], rows)]
            opt.zero_grad()
            out = model.head(*feats) if inputs.mlp else model.logits(feats[0])
            loss_each = nn.functional.cross_entropy(out, yt[rows].to(dev), reduction="none")
            if soft_t is not None:
                q = (soft_t[ver_t[b], rows] if soft_t.dim() == 3 else soft_t[rows]).to(dev)
                kl = (q * (torch.log(q.clamp_min(1e-8)) - nn.functional.log_softmax(out / tau, dim=1))).sum(1)
                loss_each = (1.0 - a.distill_alpha) * loss_each + a.distill_alpha * tau * tau * kl
            wb = sample_w[rows].to(dev)
            loss = (loss_each * wb).sum() / wb.sum()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(b)
        if ep == a.epochs - 1 or ep % 10 == 0:
            msg = f"{what}epoch {ep + 1}/{a.epochs} loss {tot / max(1, len(perm)):.4f}"
            if len(idx_va):
                pv = predict(model, X[idx_va])
                msg += f" val acc {(pv.argmax(1) == y[idx_va]).mean():.4f}"
            log(msg)
    model.eval()
    if len(idx_va):
        fit_temperature(model, torch.from_numpy(X[idx_va]).to(dev), yt[torch.from_numpy(idx_va)].to(dev))
    return model.cpu()


@torch.no_grad()
def predict(model, X, batch=8192):
    model.eval()
    dev = next(model.parameters()).device
    out = []
    for i in range(0, len(X), batch):
        out.append(model(torch.from_numpy(X[i:i + batch]).to(dev)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), dtype=np.float32)


def fit_temperature(model, Xv, yv):
    """Temperature scaling (Guo et al. 2017): one scalar fitted by NLL on the validation runs."""
    with torch.no_grad():  # in batches: one pass over 820k validation rows of the CNN held ~9 GB of activations
        logits = torch.cat([model.logits(Xv[i:i + 8192]) for i in range(0, len(Xv), 8192)]).cpu()
    t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([t], lr=0.1, max_iter=100)
    yc = yv.cpu()

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(logits / torch.exp(t), yc)
        loss.backward()
        return loss
    opt.step(closure)
    model.temperature.fill_(float(torch.exp(t).clamp(0.05, 20.0)))


def read_outside(folder):
    X, labels, groups = read_csv(os.path.join(folder, "outside.csv"), os.path.join(folder, "outside.groups"))
    meta = [json.loads(line) for line in open(os.path.join(folder, "outside.meta"))]
    if len(meta) != len(labels):
        raise SystemExit(f"{folder}/outside.meta: {len(meta)} lines for {len(labels)} rows")
    return X, labels, groups, meta


def outside_class(label, classes, background):
    """Model class index an outside tshark label trains, or -1 (not used for training)."""
    if label in classes:
        return classes.index(label)
    tok = openset.token_of(label)
    if label.startswith("other:") and tok in classes:
        return classes.index(tok)
    if label.startswith("other:") and background in classes:
        return classes.index(background)
    return -1


def fold_of_groups(groups, y, k, seed):
    """Assigns each group to one of k folds, greedily balancing the rows of each class (largest groups first)."""
    rng = np.random.default_rng(seed)
    uniq = sorted(set(groups))
    rng.shuffle(uniq)
    K = int(y.max()) + 1 if len(y) else 1
    per_group = {g: np.zeros(K) for g in uniq}
    for g, c in zip(groups, y):
        per_group[g][max(c, 0)] += 1
    load = np.zeros((k, K))
    fold = {}
    for g in sorted(uniq, key=lambda g: -per_group[g].sum()):
        v = per_group[g]
        cost = [(load[f] + v)[v > 0].max() + 1e-3 * load[f].sum() for f in range(k)]
        f = int(np.argmin(cost))
        fold[g] = f
        load[f] += v
    return np.array([fold[g] for g in groups])


def teacher_views(d, a, inputs, K, n_fits):
    """The calibrated probabilities of teacher d's saved fits (teacher_models.pt) on every row in every version
    the student sees: [n_fits, 1 + copies, N, K]."""
    saved = torch.load(os.path.join(d, "teacher_models.pt"))
    if len(saved["states"]) != n_fits or saved["arch"] != "mlp" or not inputs.mlp or inputs.lazy:
        raise SystemExit(f"--distill-views {d}: needs the {n_fits} saved MLP fits and precomputed inputs")
    targ = argparse.Namespace(**dict(vars(a), hidden=saved["hidden"], hidden2=saved["hidden2"]))
    V, N = inputs.tensors[0].shape[:2]
    out = np.zeros((n_fits, V, N, K), dtype=np.float32)
    for f, st in enumerate(saved["states"]):
        m = make_model(targ, K)
        m.load_state_dict(st)
        m.eval()
        with torch.no_grad():
            for v in range(V):
                for i in range(0, N, 16384):
                    lo = m.head(inputs.tensors[0][v, i:i + 16384], inputs.tensors[1][v, i:i + 16384])
                    out[f, v, i:i + 16384] = torch.softmax(lo / m.temperature, dim=1).numpy()
    return out


def load_teachers(a, X, classes, folds, log, inputs=None):
    """The mean over the --distill folders' teacher.npz of each fit's probabilities: [folds + 1, len(X), K] (fold
    f's teachers never saw outside fold f; the last entry is the teachers' final models). Refuses teachers trained
    on other rows, classes or folds: their fold models would not be fold-clean for this run."""
    acc = None
    dirs = [d for d in a.distill.split(",") if d]
    for d in dirs:
        t = np.load(os.path.join(d, "teacher.npz"))
        want_f = folds if folds is not None else np.zeros(0, np.int64)
        if (list(t["classes"]) != list(classes) or int(t["rows"]) != len(X) or t["folds"].shape != want_f.shape
                or (want_f.size and not (t["folds"] == want_f).all())
                or abs(float(t["x_sum"]) - float(np.abs(X).sum())) > 1e-6 * max(1.0, float(np.abs(X).sum()))):
            raise SystemExit(f"--distill {d}: teacher trained on other rows, classes or folds than this run")
        p = t["probs"].astype(np.float32)
        if p.shape[0] != (len(want_f) and a.folds) + 1:
            raise SystemExit(f"--distill {d}: {p.shape[0]} fits, this run needs {(len(want_f) and a.folds) + 1}")
        if a.distill_views:
            p = teacher_views(d, a, inputs, len(classes), p.shape[0])
        acc = p if acc is None else acc + p
    log(f"distilling from {len(dirs)} teachers (alpha {a.distill_alpha}, temperature {a.distill_temp}"
        f"{', every augmented copy labelled by the teachers' if a.distill_views else ''})")
    return acc / len(dirs)


def export(model, classes, path, L, version, summary, extra):
    import onnx
    model.eval()
    x = torch.zeros(2, L)
    tmp = path + ".tmp"
    torch.onnx.export(model, x, tmp, input_names=["ppi"], output_names=["probabilities"],
                      dynamic_axes={"ppi": {0: "N"}, "probabilities": {0: "N"}}, opset_version=17)
    m = onnx.load(tmp)
    del m.metadata_props[:]
    props = [("classes", json.dumps(classes)), ("sequence_length", str(L)), ("model_version", version),
             ("training_data", summary)] + list(extra)
    for k, v in props:
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    onnx.save(m, path)
    os.remove(tmp)


def main(argv=None):
    a = parse(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    if a.quick:
        a.epochs = min(a.epochs, 3)
    os.makedirs(a.out, exist_ok=True)
    t_start = time.time()

    def log(msg):
        print(f"[{time.time() - t_start:7.1f}s] {msg}", flush=True)

    dev = pick_device(a.device)
    background = None if a.background == "none" else a.background
    X_lab, labels_lab, groups_lab, meta_lab = read_csv(a.csv, a.runs, with_meta=True)
    if a.lab_batches:
        batches = tuple(b + "/" for b in a.lab_batches.split(","))
        sel = [i for i, g in enumerate(groups_lab or []) if g.startswith(batches)]
        X_lab, labels_lab = X_lab[sel], [labels_lab[i] for i in sel]
        groups_lab, meta_lab = [groups_lab[i] for i in sel], [meta_lab[i] for i in sel]
    L = X_lab.shape[1]
    drop = {c for c in a.drop_classes.split(",") if c}
    # lab rows: application classes, and other:* rows for the background class
    lab_counts = {}
    for c in labels_lab:
        lab_counts[c] = lab_counts.get(c, 0) + 1
    app = sorted(c for c, n in lab_counts.items()
                 if not c.startswith("other:") and c not in drop and (n >= a.min_class_flows or a.quick))
    has_bg_lab = any(c.startswith("other:") for c in labels_lab)
    outside = read_outside(a.outside) if a.outside else None
    use_bg = background is not None and (has_bg_lab or (outside is not None and not a.no_outside_background))
    classes = app + ([background] if use_bg else [])
    if len(classes) < 2:
        raise SystemExit(f"{a.csv}: needs at least two classes, found {classes}")
    split_note = "whole lab runs"
    if groups_lab is None:
        groups_lab, size = pseudo_groups(len(labels_lab), len(app))
        split_note = f"blocks of {size} consecutive rows (no --runs file)"

    def lab_class(c):
        if c in classes:
            return classes.index(c)
        if (c.startswith("other:") or c in drop) and use_bg:
            return classes.index(background)
        return -1
    y_lab = np.array([lab_class(c) for c in labels_lab], dtype=np.int64)
    keep = y_lab >= 0
    holdout = {}
    if a.holdout_programs == "auto":
        progs = {}
        for c, mm in zip(labels_lab, meta_lab):
            p = mm.get("client", "")
            if c in app and p and not p.startswith("mixed:"):
                progs.setdefault(c, Counter())[p] += 1
        for c, cnt in sorted(progs.items()):
            ok = [(n, p) for p, n in cnt.items() if n >= 20]
            if len(ok) >= 2:
                holdout[c] = min(ok)[1]
    elif a.holdout_programs:
        holdout = dict(x.split("=", 1) for x in a.holdout_programs.split(","))
    novel = np.array([c in holdout and holdout[c] == mm.get("client") for c, mm in zip(labels_lab, meta_lab)],
                     dtype=bool)
    novel_rows = np.where(novel & keep)[0]
    novel_X, novel_y = X_lab[novel_rows], y_lab[novel_rows]
    novel_prog = [meta_lab[i].get("client") for i in novel_rows]
    keep &= ~novel
    if a.cap_per_run > 0:
        rng_cap = np.random.default_rng(a.seed + 2)
        by_run = {}
        for i, g in enumerate(groups_lab):
            by_run.setdefault(g, []).append(i)
        for g, idx in by_run.items():
            if len(idx) > a.cap_per_run:
                keep[rng_cap.choice(idx, size=len(idx) - a.cap_per_run, replace=False)] = False
    X_lab, y_lab = X_lab[keep], y_lab[keep]
    labels_lab = [c for c, k in zip(labels_lab, keep) if k]
    groups_lab = [g for g, k in zip(groups_lab, keep) if k]
    split_labels = [classes[k] for k in y_lab]
    split_seed = a.split_seed
    lab_tr, lab_va, lab_te = split_by_group(split_labels, groups_lab, split_seed)
    n_lab = len(y_lab)

    # one matrix: lab rows first, then outside rows (indices >= n_lab)
    if outside is not None:
        X_out, raw_out, groups_out, meta_out = outside
        y_out = np.array([outside_class(c, classes, background if use_bg else None) for c in raw_out], dtype=np.int64)
        if a.no_outside_background and use_bg:
            y_out[np.array([c.startswith("other:") for c in raw_out]) & (y_out == classes.index(background))] = -1
        X = np.concatenate([X_lab, X_out]).astype(np.float32)
        y = np.concatenate([y_lab, np.where(y_out < 0, 0, y_out)])
        w_row = np.concatenate([np.ones(n_lab), np.where(y_out < 0, 0.0, a.outside_weight)]).astype(np.float64)
        out_idx = np.arange(n_lab, n_lab + len(y_out))
        out_train = out_idx[y_out >= 0] if not a.no_outside_train else np.array([], dtype=np.int64)
        src = np.concatenate([np.zeros(n_lab, np.int64), np.ones(len(y_out), np.int64)])
    else:
        X, y, w_row = X_lab.astype(np.float32), y_lab, np.ones(n_lab)
        src = np.zeros(n_lab, np.int64)
        out_idx = out_train = np.array([], dtype=np.int64)
    # class name per row for content mechanisms; outside rows no class trains on (weight 0) get none
    row_names = [classes[k] if w > 0 else "" for k, w in zip(y, w_row)]
    donors = np.zeros(len(X), dtype=bool)
    donors[lab_tr] = True
    inputs = Inputs(X, augmented_pool(X, a, row_names, donors), a, len(classes))
    log(f"{n_lab} lab rows, {len(out_idx)} outside rows, classes {classes}, L={L}, device {dev}; lab split by "
        f"{split_note}: train {len(lab_tr)} / val {len(lab_va)} / test {len(lab_te)}")

    result = {"tag": a.tag, "csv": os.path.basename(a.csv), "flows": int(n_lab), "classes": classes,
              "background": background if use_bg else None, "sequence_length": L, "split": split_note,
              "seed": a.seed, "arch": a.arch, "args": {k: v for k, v in vars(a).items()},
              "lab_flows": {c: int((y_lab == k).sum()) for k, c in enumerate(classes)},
              "train_flows": int(len(lab_tr)), "val_flows": int(len(lab_va)), "test_flows": int(len(lab_te)),
              "groups": {"train": len({groups_lab[i] for i in lab_tr}), "val": len({groups_lab[i] for i in lab_va}),
                         "test": len({groups_lab[i] for i in lab_te})}}

    folds = None
    if outside is not None and not a.quick and a.folds > 1:
        folds = fold_of_groups([groups_out[i] for i in range(len(y_out))], y_out, a.folds, split_seed)
    teacher = load_teachers(a, X, classes, folds, log, inputs) if a.distill else None
    teach_out = [] if a.save_teacher else None
    teach_states = []
    if teacher is not None:
        result["distill"] = {"teachers": a.distill.split(","), "alpha": a.distill_alpha, "temp": a.distill_temp}

    # out-of-fold predictions for the outside rows
    if folds is not None:
        oof = np.zeros((len(y_out), len(classes)), dtype=np.float32)
        for f in range(a.folds):
            tr = np.concatenate([lab_tr, out_train[folds[out_train - n_lab] != f]])
            m = fit(X, y, w_row, len(classes), tr, lab_va, a, dev, log, what=f"fold {f + 1}/{a.folds} ", inputs=inputs,
                    src=src, soft=teacher[f] if teacher is not None else None)
            oof[folds == f] = predict(m, X[out_idx[folds == f]])
            if teach_out is not None:
                teach_out.append(predict(m, X).astype(np.float16))
                teach_states.append({k: v.clone() for k, v in m.state_dict().items()})
        np.savez_compressed(os.path.join(a.out, "oof.npz"), probs=oof, folds=folds)
        pp = [mm["payload_packets"] for mm in meta_out]
        bgset = {background} if use_bg else set()
        pts = openset.curve(raw_out, pp, oof, classes, bgset)
        chosen = (openset.choose_f1(pts, a.other_target) if a.rule == "f1-other"
                  else openset.choose(pts, a.min_precision))
        result["rule_alternatives"] = {"precision": openset.choose(pts, a.min_precision),
                                       "f1-other": openset.choose_f1(pts, a.other_target)}
        pred = openset.predicted_labels(oof, classes, bgset, chosen["threshold"])
        score = openset.outside_score(raw_out, pp, pred)
        top1 = openset.outside_score(raw_out, pp, openset.predicted_labels(oof, classes, set(), 0.0))
        result["outside_oof"] = {"folds": a.folds, "rows": int(len(y_out)), "curve": pts, "chosen": chosen,
                                 "score": score, "top1_no_rule": top1}
        log(f"outside OOF at threshold {chosen['threshold']}: macro-F1 {score['macro_f1']:.4f} acc "
            f"{score['accuracy']:.4f} coverage {score['coverage']:.3f} precision {score['precision_labelled']:.3f} "
            f"other unknown {score['other_unknown']:.3f}; top-1 only macro-F1 {top1['macro_f1']:.4f}")
        for c, v in score["per_class"].items():
            log(f"   {c:11s} n={v['n']:4d} P={v['precision']:.2f} R={v['recall']:.2f} F1={v['f1']:.2f} "
                f"unknown={v['unknown']:.2f} {v['called']}")
        threshold = chosen["threshold"]
        coverage_png(pts, chosen, os.path.join(a.out, "coverage.png"),
                     f"out-of-lab flows, out-of-fold ({a.folds} folds by capture-file group)")
    else:
        threshold = a.threshold if a.threshold is not None else 0.5

    # the model to ship: lab training runs + every outside row
    t0 = time.time()
    model = fit(X, y, w_row, len(classes), np.concatenate([lab_tr, out_train]), lab_va, a, dev, log, what="final ",
                inputs=inputs, src=src, soft=teacher[-1] if teacher is not None else None)
    if teach_out is not None:
        teach_out.append(predict(model, X).astype(np.float16))
        teach_states.append({k: v.clone() for k, v in model.state_dict().items()})
        torch.save({"states": teach_states, "hidden": a.hidden, "hidden2": a.hidden2, "arch": a.arch},
                   os.path.join(a.out, "teacher_models.pt"))
        np.savez_compressed(os.path.join(a.out, "teacher.npz"), probs=np.stack(teach_out), classes=np.array(classes),
                            folds=folds if folds is not None else np.zeros(0, np.int64), rows=len(X),
                            x_sum=float(np.abs(X).sum()))
    result["train_seconds"] = round(time.time() - t0, 1)
    result["temperature"] = float(model.temperature)
    result["unknown_threshold"] = threshold
    probs = predict(model, X[lab_te]) if len(lab_te) else None
    if len(lab_te):
        with open(os.path.join(a.out, "test.csv"), "w") as f:
            f.write("app_service," + ",".join(f"tcp_len_{i}" for i in range(1, L + 1)) + "\n")
            for i in lab_te:
                # the model's class (other:* and dropped classes: the background class), as the metrics count it
                f.write(classes[y_lab[i]] + "," + ",".join(str(int(v)) for v in X_lab[i]) + "\n")
    if probs is not None and len(probs):
        np.savez_compressed(os.path.join(a.out, "test_probs.npz"), probs=probs, y=y_lab[lab_te])
        yt = y_lab[lab_te]
        result["network"] = summarise(yt, probs, classes)
        app_rows = np.array([classes[k] != background for k in yt]) if use_bg else np.ones(len(yt), bool)
        result["network_apps"] = summarise(yt[app_rows], probs[app_rows], classes)
        log(f"in-lab held-out: macro-F1 {result['network']['macro_f1']:.4f} acc {result['network']['accuracy']:.4f} "
            f"ECE {result['network']['ece']:.4f}")
        confusion_png(yt, probs.argmax(1), classes, os.path.join(a.out, "confusion.png"),
                      f"held-out lab runs: macro-F1 {result['network']['macro_f1']:.3f}")
        reliability_png(yt, probs, os.path.join(a.out, "reliability.png"),
                        f"reliability (T={float(model.temperature):.2f}), ECE {result['network']['ece']:.3f}")
        bgset = {background} if use_bg else set()
        lab_pred = openset.predicted_labels(probs, classes, bgset, threshold)
        result["network_rule"] = {
            "threshold": threshold,
            "unknown_share": float(np.mean([p == openset.UNKNOWN for p in lab_pred])),
            "accuracy": float(np.mean([p == classes[t] for p, t in zip(lab_pred, yt)])),
        }

    if len(novel_rows):
        pn = predict(model, novel_X)
        bgset = {background} if use_bg else set()
        rule = openset.predicted_labels(pn, classes, bgset, threshold)
        res = {}
        for c, prog in holdout.items():
            mk = np.array([classes[k] == c for k in novel_y])
            if not mk.any():
                continue
            top = pn[mk].argmax(1)
            rl = [r for r, k in zip(rule, mk) if k]
            res[c] = {"program": prog, "flows": int(mk.sum()),
                      "recall_top1": float(np.mean([classes[t] == c for t in top])),
                      "recall_rule": float(np.mean([r == c for r in rl])),
                      "unknown": float(np.mean([r == openset.UNKNOWN for r in rl])),
                      "called": Counter(rl).most_common(3)}
        result["novel_programs"] = res
        log("held-out client programs: " + "; ".join(f"{c}/{v['program']} {v['flows']} flows recall {v['recall_rule']:.2f} "
                                                    f"(top-1 {v['recall_top1']:.2f})" for c, v in res.items()))
    if a.export:
        version = a.model_version or f"{MODEL_VERSION_PREFIX}-{a.arch}-{time.strftime('%Y%m%d')}-s{a.seed}"
        summary = (f"{n_lab} flows of {len(app)} classes from {os.path.basename(a.csv)}"
                   + (f" ({len(set(groups_lab))} lab runs)" if a.runs else "")
                   + (f" + {len(out_train)} out-of-lab flows ({len({groups_out[i - n_lab] for i in out_train})} "
                      f"capture-file groups)" if len(out_train) else "")
                   + (f"; held-out lab macro-F1 {result['network']['macro_f1']:.4f}" if "network" in result else "")
                   + (f"; out-of-lab out-of-fold macro-F1 {result['outside_oof']['score']['macro_f1']:.4f}"
                      if "outside_oof" in result else ""))
        extra = [("unknown_threshold", repr(float(threshold)))]
        if use_bg:
            extra.append(("background_classes", json.dumps([background])))
        # drift reference: training inputs; held-out outputs (lab test rows + outside out-of-fold rows)
        ref_X = X[np.concatenate([lab_tr, out_train])]
        held = [probs] if probs is not None else []
        if "outside_oof" in result:
            held.append(np.load(os.path.join(a.out, "oof.npz"))["probs"])
        held_p = np.concatenate(held) if held else np.zeros((0, len(classes)), np.float32)
        bgset = {background} if use_bg else set()
        unk = np.array([p == openset.UNKNOWN for p in openset.predicted_labels(held_p, classes, bgset, threshold)])
        ref = reference.build(ref_X, held_p, classes, unk)
        extra.append(("input_reference", reference.dumps(ref)))
        export(model, classes, a.export, L, version, summary, extra)
        result["export"] = {"path": a.export, "bytes": os.path.getsize(a.export), "model_version": version,
                            "training_data": summary}
        log(f"exported {a.export} ({os.path.getsize(a.export)} bytes, version {version})")
    json.dump(result, open(os.path.join(a.out, "metrics.json"), "w"), indent=1)
    log(f"wrote {os.path.join(a.out, 'metrics.json')}")
    return result


if __name__ == "__main__":
    main()
