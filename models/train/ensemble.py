#!/usr/bin/env python3
"""Averages several train.py models of one recipe (different seeds) into one ONNX file, and scores the average
the way train.py scores one model.

  /usr/bin/python3 models/train/ensemble.py --members DIR1,DIR2,DIR3 --outside models/train/out \
      --out models/train/out/ens --export models/sensor.onnx

Each member is a train.py --out folder (model.onnx, metrics.json, oof.npz, test_probs.npz, test.csv) trained with
the same --split-seed, so every member held out the same lab runs and the same outside folds: the average of the
members' held-out probabilities is then held out too (out-of-fold outside, held-out runs in the lab), and it is
what the averaged model computes (the mean of the members' calibrated probabilities).

Why: seeds of one recipe differ by ~0.05 in outside out-of-fold macro-F1 (a few large capture-file groups go one
way or the other); averaging seeds removes that variance from the shipped model instead of picking a lucky seed.

The exported graph takes the members' graphs side by side on one input and averages their outputs (ONNX `Mean`).
Their parameter-free parts (the in-graph features of net.py, identical in every member) are merged by a
common-subexpression pass, so the features are computed once and only the small MLP heads run per member.
Before merging, each member's exact-length vocabulary lookup is folded into its embedding table and its temperature
into its last Gemm (fold_member); after merging, the members' embedding lookups on the same slots become one lookup
of their tables side by side (share_gathers). Both are exact rewrites (max abs difference 1.8e-7 in probability
against the unfolded graph) that take ~0.25 us per flow and member off the averaged graph: with narrow members
(--hidden 64 --hidden2 32) that is what lets five of them run at the speed floor.
Then (default; --no-fuse keeps the graph above) the members' heads are stacked into one computation (fuse_heads:
one Gemm for the shared features' columns of every member's first layer, one embedding lookup, batched MatMuls over
a member axis, one Softmax, one ReduceMean) and the direction-run sums use ScatterElements instead of a one-hot and
two batched MatMuls (scatter_runs); both exact (max abs difference 3.6e-7 on 9,799 rows). --int8 quantizes the
products (per-column int8 weights, activations per call, the embedding table as a uint8 constant): ten members then
run as fast as five float ones (interleaved in one process, one core, load 0.9: 170,264 flows per CPU s against
162,221 for the shipped five-member v5; the same ten members stacked in float 101,977, side by side in float
101,808; int8 without stacking ~120k, load 1.3), their labels differing from the float graph's on ~0.1-0.4% of
the outside rows (compare.js).
The unknown threshold is chosen on the averaged out-of-fold curve with the members' rule (openset.py).
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import openset  # noqa: E402
import reference  # noqa: E402
from metrics import confusion_png, coverage_png, reliability_png, summarise  # noqa: E402
from train import read_outside  # noqa: E402


class _Builder:
    """New nodes and initializers for a graph rewrite, every name under one prefix."""

    def __init__(self, pre):
        from onnx import helper, numpy_helper

        self.pre, self.nodes, self.inits = pre, [], []
        self._helper, self._numpy_helper = helper, numpy_helper

    def const(self, name, arr):
        self.inits.append(self._numpy_helper.from_array(arr, name=self.pre + name))
        return self.pre + name

    def node(self, op, ins, out, **kw):
        self.nodes.append(self._helper.make_node(op, ins, [self.pre + out], name=self.pre + out, **kw))
        return self.pre + out


def _prune_initializers(g):
    """Drops the initializers no node of graph g reads any more."""
    used = {x for n in g.node for x in n.input}
    keep_i = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep_i)


def _graph_index(g):
    """(initializers by name, the node producing each value, the nodes reading each value) of graph g."""
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    users = {}
    for n in g.node:
        for x in n.input:
            users.setdefault(x, []).append(n)
    return inits, producer, users


def _constant_values(g):
    """{name: numpy array} of graph g's constant values: its initializers and the outputs of its Constant nodes."""
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    values[n.output[0]] = numpy_helper.to_array(a.t)
    return values


def fold_member(m):
    """Exact rewrites of one member graph that remove per-member work from the averaged graph:
    - the exact-length vocabulary lookup feeding the exact-length embedding (Gather(exact_vocab, slot) then
      Gather(exact.weight, ...)) becomes one Gather of the table exact.weight[exact_vocab];
    - the calibration temperature (Div of the last Gemm's output) moves into that Gemm's alpha and beta.
    Both are the same function (the temperature up to float rounding); returns the names of what was folded."""
    from onnx import helper, numpy_helper

    g = m.graph
    inits, producer, users = _graph_index(g)
    done, drop = [], set()
    for n in g.node:
        if (n.op_type == "Gather" and n.input[0] in inits and n.input[1] in producer
                and producer[n.input[1]].op_type == "Gather" and producer[n.input[1]].input[0] in inits
                and len(users.get(n.input[1], [])) == 1
                and all(a.i == 0 for a in list(n.attribute) + list(producer[n.input[1]].attribute) if a.name == "axis")):
            voc_node = producer[n.input[1]]
            table = numpy_helper.to_array(inits[n.input[0]])
            vocab = numpy_helper.to_array(inits[voc_node.input[0]])
            folded = numpy_helper.from_array(table[vocab], name=n.input[0] + ".folded")
            g.initializer.append(folded)
            n.input[0], n.input[1] = folded.name, voc_node.input[1]
            drop.add(id(voc_node))
            done.append(f"{voc_node.input[0]}->{folded.name}")
        if (n.op_type == "Div" and n.input[1] in inits and n.input[0] in producer
                and producer[n.input[0]].op_type == "Gemm" and len(users.get(n.input[0], [])) == 1):
            t = numpy_helper.to_array(inits[n.input[1]]).astype("float64")
            gemm = producer[n.input[0]]
            if t.size != 1:
                continue
            att = {a.name: helper.get_attribute_value(a) for a in gemm.attribute}
            del gemm.attribute[:]
            for k, v in att.items():
                if k not in ("alpha", "beta"):
                    gemm.attribute.append(helper.make_attribute(k, v))
            gemm.attribute.append(helper.make_attribute("alpha", float(att.get("alpha", 1.0) / t.item())))
            gemm.attribute.append(helper.make_attribute("beta", float(att.get("beta", 1.0) / t.item())))
            gemm.output[0] = n.output[0]
            drop.add(id(n))
            done.append(f"{n.input[1]}->{gemm.name}")
    keep = [n for n in g.node if id(n) not in drop]
    del g.node[:]
    g.node.extend(keep)
    _prune_initializers(g)
    return done


def share_gathers(nodes, inits):
    """Members' embedding lookups on the same slots (Gather of a [V, d_i] table with one index tensor) become one
    Gather of the tables side by side ([V, sum d_i]) and a Split of its last axis into the members' parts: the
    same values, one lookup per slot instead of one per member (a Gather costs per index, not per width)."""
    from onnx import helper, numpy_helper

    tables = {t.name: t for t in inits}
    groups = {}
    for n in nodes:
        if (n.op_type == "Gather" and n.input[0] in tables and len(tables[n.input[0]].dims) == 2
                and all(helper.get_attribute_value(a) == 0 for a in n.attribute if a.name == "axis")):
            t = tables[n.input[0]]
            groups.setdefault((n.input[1], t.dims[0], t.data_type), []).append(n)
    replace, shared = {}, 0
    new_inits = list(inits)
    for (idx, _, _), grp in groups.items():
        if len(grp) < 2:
            continue
        arrs = [numpy_helper.to_array(tables[n.input[0]]) for n in grp]
        name = "shared/" + grp[0].input[0]
        new_inits.append(numpy_helper.from_array(np.concatenate(arrs, axis=1), name=name))
        sizes = numpy_helper.from_array(np.array([a.shape[1] for a in arrs], dtype=np.int64), name=name + ".split")
        new_inits.append(sizes)
        gather = helper.make_node("Gather", [name, idx], [name + "/out"], name=name + "/Gather", axis=0)
        split = helper.make_node("Split", [name + "/out", sizes.name], [n.output[0] for n in grp],
                                 name=name + "/Split", axis=-1)
        replace[id(grp[0])] = [gather, split]
        for n in grp[1:]:
            replace[id(n)] = []
        shared += 1
    out = []
    for n in nodes:
        out.extend(replace.get(id(n), [n]))
    used = {x for n in out for x in n.input}
    return out, [t for t in new_inits if t.name in used], shared


def scatter_runs(m):
    """Exact rewrite of the direction-run sums (net.py RunFeatures): the exported graph builds a one-hot
    [B, L, R] of every packet's run (Equal, Cast, Mul) and sums lengths and signs through it with two batched
    [1, L] x [L, R] MatMuls per flow and a ReduceSum; this computes the same sums with a ScatterElements
    (reduction add) per sum of [B, L] (length, sign, present) into [B, R + 1] (runs beyond R land in the last,
    dropped slot). The sums are of whole numbers below 2^24, so both orders give the same floats. Returns what
    was rewritten, or None when the pattern is not there."""
    from onnx import helper

    g = m.graph
    inits = _constant_values(g)
    producer = {o: n for n in g.node for o in n.output}

    def prod(x, op):
        n = producer.get(x)
        return n if n is not None and n.op_type == op else None

    def unsq_axis(n):
        if n is None:
            return None
        ax = inits.get(n.input[1]) if len(n.input) > 1 else None
        if ax is None:
            ax = [a.ints for a in n.attribute if a.name == "axes"]
            ax = list(ax[0]) if ax else None
        return None if ax is None else [int(v) for v in np.ravel(ax)]

    done = []
    for mul in [n for n in g.node if n.op_type == "Mul"]:
        cast = prod(mul.input[0], "Cast")
        pres = prod(mul.input[1], "Unsqueeze")
        eq = prod(cast.input[0], "Equal") if cast is not None else None
        if eq is None or unsq_axis(pres) != [2]:
            continue
        run_u = prod(eq.input[0], "Unsqueeze")
        ar = inits.get(eq.input[1])
        if unsq_axis(run_u) != [2] or ar is None or ar.ndim != 1 or not np.array_equal(ar, np.arange(len(ar))):
            continue
        R = len(ar)
        consumers = [c for c in g.node if mul.output[0] in c.input]
        mms = [c for c in consumers if c.op_type == "MatMul" and c.input[1] == mul.output[0]]
        rss = [c for c in consumers if c.op_type == "ReduceSum"]
        if len(mms) + len(rss) != len(consumers) or not mms:
            continue
        sums, ok = [], True  # (tensor to sum per run, output name to replace)
        for mm in mms:
            a = prod(mm.input[0], "Unsqueeze")
            sq = [c for c in g.node if mm.output[0] in c.input]
            if unsq_axis(a) != [1] or len(sq) != 1 or sq[0].op_type != "Squeeze" or unsq_axis(sq[0]) != [1]:
                ok = False
                break
            sums.append((a.input[0], sq[0].output[0]))
        for rs in rss:
            keep = [a.i for a in rs.attribute if a.name == "keepdims"]
            if unsq_axis(rs) != [1] or (keep and keep[0] != 0):
                ok = False
                break
            sums.append((pres.input[0], rs.output[0]))
        if not ok:
            continue
        pre = f"runs{len(done)}/"
        b = _Builder(pre)
        nodes, new_inits, c, nd = b.nodes, b.inits, b.const, b.node

        # one ScatterElements per sum: [B, L] values into [B, R + 1] zeros at min(run, R)
        idx = nd("Cast", [run_u.input[0]], "run_id", to=7)  # whole numbers: exact
        idx = nd("Min", [idx, c("last", np.array(R, dtype=np.int64))], "slot")
        shape = nd("Concat", [nd("Slice", [nd("Shape", [idx], "shape"), c("s0", np.array([0], dtype=np.int64)),
                                            c("s1", np.array([1], dtype=np.int64))], "batch"),
                              c("r", np.array([R + 1], dtype=np.int64))], "data_shape", axis=0)
        zeros = nd("ConstantOfShape", [shape], "zeros", value=helper.make_tensor("z", 1, [1], [0.0]))
        for k, (x, out) in enumerate(sums):
            sc = nd("ScatterElements", [zeros, idx, x], f"sum{k}", axis=1, reduction="add")
            nodes.append(helper.make_node("Slice", [sc, c("r0", np.array([0], dtype=np.int64)) if k == 0 else pre + "r0",
                                                    c("r1", np.array([R], dtype=np.int64)) if k == 0 else pre + "r1",
                                                    c("ax1", np.array([1], dtype=np.int64)) if k == 0 else pre + "ax1"],
                                          [out], name=pre + f"runs{k}"))
        drop = {id(x) for x in mms + rss} | {id(x) for x in g.node for mm in mms for o in [mm.output[0]]
                                             if o in x.input and x.op_type == "Squeeze"}
        # insert the new nodes where the first replaced node was (its inputs are all computed by then)
        at = min(i for i, x in enumerate(g.node) if id(x) in drop)
        kept = [x for x in g.node if id(x) not in drop]
        before = sum(1 for x in list(g.node)[:at] if id(x) not in drop)
        kept = kept[:before] + nodes + kept[before:]
        del g.node[:]
        g.node.extend(kept)
        g.initializer.extend(new_inits)
        done.append({"runs": R, "sums": len(sums)})
        break
    if not done:
        return None
    _dead_nodes_out(g)  # drop what only the one-hot fed
    return done


def fuse_heads(m, int8=False):
    """Exact rewrite of an averaged graph (merge_onnx) whose members are MLP heads on shared features: the
    members' heads run as one stacked computation instead of N small ones.
    Each member i is Concat(shared parts..., Flatten(Split_i of a shared Gather)...) -> Gemm -> Relu -> Gemm ->
    Relu -> Gemm -> Softmax, all Softmax outputs averaged by Mean. Rewritten as
    - the shared parts' columns of every member's first Gemm side by side: ONE Gemm [B, D] x [D, N*H1];
    - the embedding parts: one lookup of all slot groups in one table with the members side by side, one Split
      into the members' [B, P, d] and per member one MatMul with its first-layer rows (a member-major layout,
      by a Gather on axis 1 or a Transpose, cost more than these copies: measured); with int8, a uint8 table, a
      byte transpose to [N, B, P*d] and one batched integer product instead (not exact);
    - the later layers as batched MatMuls over a member axis ([N, B, H1] x [N, H1, H2], ...), one Softmax over
      the last axis of [N, B, K] and one ReduceMean over the member axis.
    Returns a summary dict, or None (graph left as it is) when the pattern is not there."""
    import onnx
    from onnx import helper, numpy_helper, shape_inference

    g = m.graph
    inits, producer, users = _graph_index(g)
    mean = producer.get(g.output[0].name)
    if mean is None or mean.op_type != "Mean" or len(mean.input) < 2:
        return None

    def attrs(n):
        return {a.name: helper.get_attribute_value(a) for a in n.attribute}

    def gemm_wb(n):
        """Gemm(A, W, b) as A @ Wn + bn with Wn [in, out], bn [out] (alpha and beta applied)."""
        a = attrs(n)
        if a.get("transA", 0) or len(n.input) < 3 or n.input[1] not in inits or n.input[2] not in inits:
            return None
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float64)
        w = w.T if a.get("transB", 0) else w
        b = np.broadcast_to(numpy_helper.to_array(inits[n.input[2]]).astype(np.float64), (w.shape[1],))
        return w * a.get("alpha", 1.0), b * a.get("beta", 1.0)

    members = []
    for o in mean.input:
        chain = []
        x = o
        for op in ("Softmax", "Gemm", "Relu", "Gemm", "Relu", "Gemm"):
            n = producer.get(x)
            if n is None or n.op_type != op or len(users.get(n.output[0], [])) != 1:
                return None
            chain.append(n)
            x = n.input[0]
        cat = producer.get(x)
        if cat is None or cat.op_type != "Concat" or attrs(cat).get("axis") not in (1, -1):
            return None
        sm, g3, _, g2, _, g1 = chain
        if attrs(sm).get("axis", -1) not in (1, -1):
            return None
        wbs = [gemm_wb(n) for n in (g1, g2, g3)]
        if any(w is None for w in wbs):
            return None
        members.append({"cat": cat, "wb": wbs, "nodes": chain})
    N = len(members)
    if len({tuple(mm["cat"].input.__len__() for mm in members)}) != 1:
        return None
    if len({tuple(w.shape for w, _ in mm["wb"]) for mm in members}) != 1:
        return None
    H1, H2, K = (members[0]["wb"][k][0].shape[1] for k in range(3))

    # widths of the concatenated parts
    inferred = shape_inference.infer_shapes(m)
    width = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input):
        d = vi.type.tensor_type.shape.dim
        if len(d) >= 2 and d[-1].HasField("dim_value"):
            width[vi.name] = d[-1].dim_value
    parts = []  # per concat position: ("shared", name, width) or ("emb", gather, table, d)
    for j in range(len(members[0]["cat"].input)):
        names = [mm["cat"].input[j] for mm in members]
        if len(set(names)) == 1:
            if names[0] not in width:
                return None
            parts.append(("shared", names[0], width[names[0]]))
        else:
            flats = [producer.get(x) for x in names]
            if any(f is None or f.op_type != "Flatten" or attrs(f).get("axis", 1) != 1 for f in flats):
                return None
            splits = [producer.get(f.input[0]) for f in flats]
            sp = splits[0]
            if any(s is not sp for s in splits) or sp.op_type != "Split" or attrs(sp).get("axis") != -1:
                return None
            if [list(sp.output).index(f.input[0]) for f in flats] != list(range(N)):
                return None
            gather = producer.get(sp.input[0])
            if gather is None or gather.op_type != "Gather" or gather.input[0] not in inits:
                return None
            table = numpy_helper.to_array(inits[gather.input[0]]).astype(np.float64)
            sizes = numpy_helper.to_array(inits[sp.input[1]])
            if len(set(sizes.tolist())) != 1:
                return None
            d = int(sizes[0])
            parts.append(("emb", gather, table, d))
    # column ranges of each part in the first layer
    total = members[0]["wb"][0][0].shape[0]
    ranges, at = [], 0
    for p in parts:
        if p[0] == "shared":
            ranges.append((at, at + p[2]))
            at += p[2]
        else:
            ranges.append(None)
    emb_cols = total - at
    emb_parts = [p for p in parts if p[0] == "emb"]
    # positions per embedding group from the remaining width: each group's P * d must add up
    # (P comes from the index tensor's shape)
    Ps = []
    for p in emb_parts:
        idx = p[1].input[1]
        if idx not in width:
            return None
        Ps.append(width[idx])
    if sum(P * p[3] for P, p in zip(Ps, emb_parts)) != emb_cols:
        return None
    at = 0
    full = []
    ei = 0
    for p, r in zip(parts, ranges):
        if p[0] == "shared":
            full.append(r)
            at = r[1]
        else:
            w = Ps[ei] * p[3]
            full.append((at, at + w))
            at += w
            ei += 1
    if at != total:
        return None

    pre = "fused/"
    b = _Builder(pre)
    new_nodes, new_inits, const, node = b.nodes, b.inits, b.const, b.node

    shared = [(p[1], r) for p, r in zip(parts, full) if p[0] == "shared"]
    dense = shared[0][0] if len(shared) == 1 else node("Concat", [s[0] for s in shared], "dense", axis=1)
    rows = np.concatenate([np.arange(*r) for _, r in shared])
    W1 = np.concatenate([mm["wb"][0][0][rows] for mm in members], axis=1).astype(np.float32)  # [D, N*H1]
    b1 = np.concatenate([mm["wb"][0][1] for mm in members]).astype(np.float32)
    h = node("Gemm", [dense, const("W1", W1), const("b1", b1)], "h1_dense")
    h3 = node("Reshape", [h, const("s_bnh", np.array([0, N, H1], dtype=np.int64))], "h1_bnh")
    h3 = node("Transpose", [h3], "h1_nbh", perm=[1, 0, 2])
    embs = [(p, r, P) for (p, r), P in zip([(p, r) for p, r in zip(parts, full) if p[0] == "emb"], Ps)]
    if embs:
        # all slot groups in one lookup: the groups' tables stacked (rows offset by the groups before; narrower
        # groups padded with zero columns whose first-layer rows are zero), members side by side ([V, N*dm]);
        # one Gather of [B, sum P] slots, one Split into the members' [B, sum P, dm], and per member one MatMul
        # with its first-layer rows; the members' results stacked on a new leading axis
        dm = max(p[3] for p, _, _ in embs)
        T, idx, off = [], [], 0
        We = [[] for _ in members]
        for k, (p, r, P) in enumerate(embs):
            _, gather, table, d = p
            V = table.shape[0]
            t = np.zeros((V, N * dm))
            for i, mm in enumerate(members):
                t[:, i * dm:i * dm + d] = table[:, i * d:(i + 1) * d]
                w = np.zeros((P, dm, H1))
                w[:, :d] = mm["wb"][0][0][r[0]:r[1]].reshape(P, d, H1)
                We[i].append(w.reshape(P * dm, H1))
            T.append(t)
            ix = gather.input[1]
            if off:
                ix = node("Add", [ix, const(f"e{k}/offset", np.array(off, dtype=np.int64))], f"e{k}/index")
            idx.append(ix)
            off += V
        ix = idx[0] if len(idx) == 1 else node("Concat", idx, "emb_index", axis=1)
        T = np.concatenate(T, axis=0)
        sp = sum(P for _, _, P in embs)
        if not int8:
            ax0 = const("axis0_", np.array([0], dtype=np.int64))
            e = node("Gather", [const("emb_table", T.astype(np.float32)), ix], "emb_bpk", axis=0)
            new_nodes.append(helper.make_node("Split", [e, const("emb_split", np.full(N, dm, dtype=np.int64))],
                                              [pre + f"m{i}/emb_bpd" for i in range(N)], name=pre + "emb_split", axis=2))
            flat = const("s_bk", np.array([0, sp * dm], dtype=np.int64))
            outs = []
            for i in range(N):
                x = node("Reshape", [pre + f"m{i}/emb_bpd", flat], f"m{i}/emb")
                y = node("MatMul", [x, const(f"m{i}/We", np.concatenate(We[i], axis=0).astype(np.float32))],
                         f"m{i}/h1_emb")
                outs.append(node("Unsqueeze", [y, ax0], f"m{i}/h1_emb_1bh"))
            h3 = node("Add", [h3, node("Concat", outs, "h1_emb", axis=0)], "h1_sum")
        else:
            # int8: the table is a constant, so it is quantized here like a weight (uint8 around 128, one scale per
            # member) and looked up as bytes, reordered member-major ([N, B, P*d]: a byte transpose is cheap where
            # a float one was not) and multiplied by the members' int8 first-layer rows (one scale per column) in
            # one batched integer product; no per-call quantization of the lookups (measured: ~7-10% faster than
            # quantizing each member's float lookup per call)
            ts = np.array([max(np.abs(T[:, i * dm:(i + 1) * dm]).max(), 1e-12) / 127.0 for i in range(N)])
            Tq = (np.clip(np.round(T / np.repeat(ts, dm)[None, :]), -127, 127) + 128).astype(np.uint8)
            e = node("Gather", [const("emb_table_u8", Tq), ix], "emb_bpk", axis=0)
            a_zero = const("emb_zero", np.array(128, dtype=np.uint8))
            b_zero = const("w_zero", np.array(0, dtype=np.int8))
            w = np.stack([np.concatenate(We[i], axis=0) for i in range(N)])  # [N, sp*dm, H1]
            ws = np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-12) / 127.0  # [N, 1, H1]
            wq = np.clip(np.round(w / ws), -127, 127).astype(np.int8)
            x = node("Reshape", [e, const("s_bpnd", np.array([0, sp, N, dm], dtype=np.int64))], "emb_bpnd")
            x = node("Transpose", [x], "emb_npbd", perm=[2, 0, 1, 3])
            x = node("Reshape", [x, const("s_nbk", np.array([N, -1, sp * dm], dtype=np.int64))], "emb_nbk")
            y = node("MatMulInteger", [x, const("We_i8", wq), a_zero, b_zero], "h1_emb_i32")
            y = node("Mul", [node("Cast", [y], "h1_emb_f", to=1),
                             const("We_scale", (ts[:, None, None] * ws).astype(np.float32))], "h1_emb")
            h3 = node("Add", [h3, y], "h1_sum")
    a1 = node("Relu", [h3], "a1")
    W2 = np.stack([mm["wb"][1][0] for mm in members]).astype(np.float32)
    b2 = np.stack([mm["wb"][1][1] for mm in members])[:, None, :].astype(np.float32)
    a2 = node("Relu", [node("Add", [node("MatMul", [a1, const("W2", W2)], "h2_mm"), const("b2", b2)], "h2")], "a2")
    W3 = np.stack([mm["wb"][2][0] for mm in members]).astype(np.float32)
    b3 = np.stack([mm["wb"][2][1] for mm in members])[:, None, :].astype(np.float32)
    lg = node("Add", [node("MatMul", [a2, const("W3", W3)], "h3_mm"), const("b3", b3)], "logits")
    sm = node("Softmax", [lg], "probs", axis=-1)
    opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
    if opset >= 18:
        out = helper.make_node("ReduceMean", [sm, const("axis0", np.array([0], dtype=np.int64))], [mean.output[0]],
                               name="ensemble_mean", keepdims=0)
    else:
        out = helper.make_node("ReduceMean", [sm], [mean.output[0]], name="ensemble_mean", axes=[0], keepdims=0)
    new_nodes.append(out)

    # drop the members' heads and whatever only they used
    drop = {id(n) for mm in members for n in mm["nodes"] + [mm["cat"]]} | {id(mean)}
    kept = [n for n in g.node if id(n) not in drop] + new_nodes
    while True:
        used = {x for n in kept for x in n.input} | {o.name for o in g.output}
        k2 = [n for n in kept if any(o in used for o in n.output)]
        if len(k2) == len(kept):
            break
        kept = k2
    used = {x for n in kept for x in n.input}
    keep_i = [t for t in g.initializer if t.name in used] + new_inits
    del g.node[:]
    g.node.extend(kept)
    del g.initializer[:]
    g.initializer.extend(keep_i)
    return {"members": N, "hidden": [H1, H2], "embedding_groups": len(embs)}


def quantize_int8(m, per_column=True):
    """Dynamic int8 quantization of the MatMuls and Gemms with constant weights (onnxruntime's
    quantize_dynamic pattern, written here so that Debian's python3 needs no onnxruntime): the activation is
    quantized per call (DynamicQuantizeLinear, uint8), the weights once (int8, symmetric, zero point 0), the
    product in integers (MatMulInteger), then Cast, times the two scales, plus the bias; onnxruntime fuses the
    chain into one DynamicQuantizeMatMul when it loads the graph. per_column: one weight scale per output
    column (and per member for [N, K, H] weights) instead of one per tensor, which keeps more precision at the
    same cost. Returns the number of products quantized."""
    from onnx import helper, numpy_helper

    g = m.graph
    inits = {t.name: t for t in g.initializer}
    out_nodes, new_inits, count = [], [], 0
    for n in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == "MatMul" and n.input[1] in inits:
            w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float64)
            bias = None
        elif (n.op_type == "Gemm" and n.input[1] in inits and not attrs.get("transA", 0)
              and (len(n.input) < 3 or n.input[2] in inits)):
            w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float64)
            w = (w.T if attrs.get("transB", 0) else w) * attrs.get("alpha", 1.0)
            bias = (numpy_helper.to_array(inits[n.input[2]]).astype(np.float64) * attrs.get("beta", 1.0)
                    if len(n.input) > 2 else None)
        else:
            out_nodes.append(n)
            continue
        if w.ndim not in (2, 3):
            out_nodes.append(n)
            continue
        if per_column:
            amax = np.abs(w).max(axis=-2, keepdims=True)  # [1, H] or [N, 1, H]
            amax = amax[0] if w.ndim == 2 else amax
        else:
            amax = np.array(np.abs(w).max())
        scale = np.where(amax > 0, amax / 127.0, 1.0)
        wq = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        p = n.output[0] + "/int8/"
        new_inits += [numpy_helper.from_array(wq, p + "w"), numpy_helper.from_array(np.array(0, np.int8), p + "w_zero"),
                      numpy_helper.from_array(scale.astype(np.float32), p + "w_scale")]
        x = n.input[0]
        out_nodes += [
            helper.make_node("DynamicQuantizeLinear", [x], [p + "x", p + "x_scale", p + "x_zero"], name=p + "quantize"),
            helper.make_node("MatMulInteger", [p + "x", p + "w", p + "x_zero", p + "w_zero"], [p + "y"], name=p + "matmul"),
            helper.make_node("Cast", [p + "y"], [p + "yf"], name=p + "cast", to=1),
            helper.make_node("Mul", [p + "x_scale", p + "w_scale"], [p + "scale"], name=p + "scales"),
        ]
        if bias is None:
            out_nodes.append(helper.make_node("Mul", [p + "yf", p + "scale"], [n.output[0]], name=p + "rescale"))
        else:
            new_inits.append(numpy_helper.from_array(np.broadcast_to(bias, (w.shape[-1],)).astype(np.float32), p + "bias"))
            out_nodes += [helper.make_node("Mul", [p + "yf", p + "scale"], [p + "ys"], name=p + "rescale"),
                          helper.make_node("Add", [p + "ys", p + "bias"], [n.output[0]], name=p + "bias_add")]
        count += 1
    del g.node[:]
    g.node.extend(out_nodes)
    used = {x for n in g.node for x in n.input}
    keep = [t for t in g.initializer if t.name in used] + new_inits
    del g.initializer[:]
    g.initializer.extend(keep)
    return count


def pad_even_batch(m):
    """Exact rewrite: a batch of an even number of rows runs with its last row repeated once (Pad, mode edge), and
    the output loses that row again (Slice). Why: the stacked heads reorder tensors member-major ([B, N, ...] ->
    [N, B, ...]: the embedding lookup's byte transpose, the first layer's float one), writing the N members' rows
    B x row bytes apart; for B a multiple of 128 (the sensor's batches are 256) that is a multiple of 4 KiB, so the
    N write streams fall on the same cache sets. In onnxruntime's profile the embedding transpose took ~1.1 us a
    flow at B = 256 against ~0.14 at 255, and the whole graph ran ~15% slower (bench/HISTORY.md, round perf8).
    Every row is computed as before: the ops work row by row except the per-call activation quantization
    (DynamicQuantizeLinear), whose range a repeated row cannot change. Returns the number of nodes added."""
    from onnx import helper, numpy_helper

    g = m.graph
    inp, out = g.input[0].name, g.output[0].name
    pre = "odd_batch/"
    for n in g.node:
        for i, x in enumerate(n.input):
            if x == inp:
                n.input[i] = pre + "input"
        for i, x in enumerate(n.output):
            if x == out:
                n.output[i] = pre + "output"

    def const(name, arr):
        g.initializer.append(numpy_helper.from_array(np.array(arr, dtype=np.int64), pre + name))
        return pre + name

    i0, i1 = const("i0", [0]), const("i1", [1])
    head = [helper.make_node("Shape", [inp], [pre + "shape"]),
            helper.make_node("Slice", [pre + "shape", i0, i1], [pre + "rows"]),
            helper.make_node("Mod", [pre + "rows", const("two", [2])], [pre + "rows_odd"]),
            helper.make_node("Sub", [i1, pre + "rows_odd"], [pre + "pad_rows"]),
            helper.make_node("Concat", [const("z2", [0, 0]), pre + "pad_rows", i0], [pre + "pads"], axis=0),
            helper.make_node("Pad", [inp, pre + "pads"], [pre + "input"], mode="edge")]
    for n in head:
        n.name = n.output[0]
    nodes = head + list(g.node) + [helper.make_node("Slice", [pre + "output", i0, pre + "rows", i0], [out],
                                                    name=pre + "unpad")]
    del g.node[:]
    g.node.extend(nodes)
    return len(head) + 1


def _dead_nodes_out(g):
    """Drops nodes none of whose outputs is read (by a node or as a graph output), repeatedly; then the
    initializers nothing reads."""
    while True:
        used = {x for n in g.node for x in n.input} | {o.name for o in g.output}
        keep = [n for n in g.node if any(o in used for o in n.output)]
        if len(keep) == len(g.node):
            break
        del g.node[:]
        g.node.extend(keep)
    _prune_initializers(g)


def flatten_features(m):
    """Exact rewrite of the in-graph features' layout (pure data movement, every value computed as before):
    - net.py stacks the per-position features as Concat(Unsqueeze(f_i, 1) ...) [B, F, L], slices the first k of
      them and Flattens the slice to [B, k*L]: that is Concat(f_0 .. f_{k-1}, axis 1) on the [B, L] tensors
      themselves (row-major flatten), one copy instead of three, and the features sliced away (F - k) are no
      longer computed (the relative-position feature: Range, Expand and a product of [B, L]);
    - a Concat on axis 1 whose input is another Concat on axis 1 read nowhere else takes that Concat's inputs in
      its place (the flow-level features' Concat of sixteen [B, 1] columns inside the dense head input).
    Returns what was rewritten ({"flattened": n, "inlined": n}), or None when neither pattern is there."""
    from onnx import helper

    g = m.graph
    consts = _constant_values(g)
    _, producer, users = _graph_index(g)

    def attr(n, name, default=None):
        for a in n.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def cval(name):
        return None if name not in consts else [int(v) for v in np.ravel(consts[name])]

    def unsq1(x):
        """The tensor x unsqueezes on axis 1, or None."""
        n = producer.get(x)
        if n is None or n.op_type != "Unsqueeze":
            return None
        ax = cval(n.input[1]) if len(n.input) > 1 else list(attr(n, "axes", []))
        return n.input[0] if ax == [1] else None

    done = {"flattened": 0, "inlined": 0}
    for fl in [n for n in g.node if n.op_type == "Flatten" and attr(n, "axis", 1) == 1]:
        sl = producer.get(fl.input[0])
        if sl is None or sl.op_type != "Slice" or len(sl.input) < 4:
            continue
        starts, ends, axes = cval(sl.input[1]), cval(sl.input[2]), cval(sl.input[3])
        steps = cval(sl.input[4]) if len(sl.input) > 4 and sl.input[4] else [1]
        cat = producer.get(sl.input[0])
        if (starts != [0] or axes != [1] or steps != [1] or ends is None or cat is None
                or cat.op_type != "Concat" or attr(cat, "axis") != 1):
            continue
        parts = [unsq1(x) for x in cat.input[:ends[0]]]
        if not parts or any(p is None for p in parts):
            continue
        fl.op_type = "Concat"
        del fl.input[:]
        fl.input.extend(parts)
        del fl.attribute[:]
        fl.attribute.append(helper.make_attribute("axis", 1))
        done["flattened"] += 1
    _, producer, users = _graph_index(g)
    outs = {o.name for o in g.output}
    for n in g.node:
        if n.op_type != "Concat" or attr(n, "axis") != 1:
            continue
        ins = []
        for x in n.input:
            p = producer.get(x)
            if (p is not None and p.op_type == "Concat" and attr(p, "axis") == 1 and len(users.get(x, [])) == 1
                    and x not in outs):
                ins.extend(p.input)
                done["inlined"] += 1
            else:
                ins.append(x)
        del n.input[:]
        n.input.extend(ins)
    if not any(done.values()):
        return None
    _dead_nodes_out(g)
    return done


def merge_onnx(paths, out_path, props, fold=True, fuse=True, int8=False):
    """One graph: every member's nodes on the shared input, outputs averaged; identical initializers and nodes
    (same op, inputs and attributes) merged. fuse: the members' heads stacked (fuse_heads) and the run sums
    scattered (scatter_runs), both exact; int8: then the products quantized (quantize_int8), not exact, and even
    batches padded to odd (pad_even_batch, exact); fuse: last, the features' Concat chains flattened into the
    dense head input (flatten_features, exact)."""
    import onnx
    from onnx import helper

    models = [onnx.load(p) for p in paths]
    folded = [fold_member(m) for m in models] if fold else []
    g0 = models[0].graph
    inp = g0.input[0].name
    nodes, inits, seen_init = [], [], {}
    outs = []
    for i, m in enumerate(models):
        g = m.graph
        if g.input[0].name != inp or len(g.output) != 1:
            raise SystemExit(f"{paths[i]}: not a one-input one-output graph on input {inp!r}")
        ren = {}
        for t in g.initializer:
            anon = onnx.TensorProto()
            anon.CopyFrom(t)
            anon.name = ""
            key = (t.data_type, tuple(t.dims), hashlib.sha1(anon.SerializeToString()).hexdigest())
            if key in seen_init:
                ren[t.name] = seen_init[key]
                continue
            new = f"m{i}/{t.name}"
            seen_init[key] = new
            ren[t.name] = new
            t2 = onnx.TensorProto()
            t2.CopyFrom(t)
            t2.name = new
            inits.append(t2)
        for n in g.node:
            n2 = onnx.NodeProto()
            n2.CopyFrom(n)
            n2.name = f"m{i}/{n.name}"
            del n2.input[:]
            n2.input.extend([ren.get(x, x if x == inp or x == "" else f"m{i}/{x}") for x in n.input])
            del n2.output[:]
            n2.output.extend([f"m{i}/{x}" for x in n.output])
            for x in n.output:
                ren[x] = f"m{i}/{x}"
            nodes.append(n2)
        outs.append(ren.get(g.output[0].name, f"m{i}/{g.output[0].name}"))
    # common subexpressions: nodes are in topological order, so one pass merges whole identical subgraphs
    alias, kept, by_key = {}, [], {}
    for n in nodes:
        ins = [alias.get(x, x) for x in n.input]
        del n.input[:]
        n.input.extend(ins)
        key = (n.domain, n.op_type, tuple(ins), tuple(a.SerializeToString() for a in n.attribute), len(n.output))
        if key in by_key:
            for a_, b_ in zip(n.output, by_key[key].output):
                alias[a_] = b_
            continue
        by_key[key] = n
        kept.append(n)
    outs = [alias.get(o, o) for o in outs]
    kept, inits, shared = share_gathers(kept, inits)
    out_name = g0.output[0].name
    kept.append(helper.make_node("Mean", outs, [out_name], name="ensemble_mean"))
    graph = helper.make_graph(kept, "sensor_ensemble", [g0.input[0]], [g0.output[0]], inits)
    m = helper.make_model(graph, opset_imports=models[0].opset_import, producer_name="models/train/ensemble.py")
    m.ir_version = models[0].ir_version
    for k, v in props:
        p = m.metadata_props.add()
        p.key, p.value = k, v
    info = {"nodes_before": len(nodes) + 1, "nodes_after": len(kept), "initializers": len(inits),
            "folded": folded[0] if folded else [], "shared_gathers": shared}
    if fuse:
        info["fused_heads"] = fuse_heads(m, int8=int8)
        info["scattered_runs"] = scatter_runs(m)
    if int8:
        info["int8_products"] = quantize_int8(m) + (1 if info.get("fused_heads") else 0)  # + the embeddings' one
        info["odd_batch_nodes"] = pad_even_batch(m)
    if fuse:
        info["flattened_features"] = flatten_features(m)
    info["nodes_final"] = len(m.graph.node)
    onnx.checker.check_model(m)
    onnx.save(m, out_path)
    return info


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", required=True, help="comma-separated train.py --out folders (same --split-seed)")
    ap.add_argument("--outside", required=True, help="the folder of outside.csv/.groups/.meta the members used")
    ap.add_argument("--out", required=True)
    ap.add_argument("--export", help="write the averaged ONNX model here")
    ap.add_argument("--model-version", default=None)
    ap.add_argument("--tag", default="")
    ap.add_argument("--no-fuse", action="store_true",
                    help="export the members side by side as merged (no stacked heads, no scattered run sums)")
    ap.add_argument("--int8", action="store_true",
                    help="quantize the exported graph's products to int8 (quantize_int8); the scores written are "
                         "the float members' average (their fold fits are not kept as graphs)")
    a = ap.parse_args(argv)
    dirs = [d for d in a.members.split(",") if d]
    os.makedirs(a.out, exist_ok=True)
    ms = [json.load(open(os.path.join(d, "metrics.json"))) for d in dirs]
    m0 = ms[0]
    classes, bg = m0["classes"], m0.get("background")
    for d, m in zip(dirs, ms):
        if m["classes"] != classes:
            raise SystemExit(f"{d}: other classes than {dirs[0]}")
    tests = [np.load(os.path.join(d, "test_probs.npz")) for d in dirs]
    y = tests[0]["y"]
    for d, t in zip(dirs, tests):
        if not np.array_equal(t["y"], y):
            raise SystemExit(f"{d}: other held-out lab rows than {dirs[0]} (train the members with one --split-seed)")
    probs = np.mean([t["probs"] for t in tests], axis=0)
    oofs = [np.load(os.path.join(d, "oof.npz")) for d in dirs]
    for d, o in zip(dirs, oofs):
        if not np.array_equal(o["folds"], oofs[0]["folds"]):
            raise SystemExit(f"{d}: other outside folds than {dirs[0]} (train the members with one --split-seed)")
    oof = np.mean([o["probs"] for o in oofs], axis=0)
    np.savez_compressed(os.path.join(a.out, "oof.npz"), probs=oof, folds=oofs[0]["folds"])
    np.savez_compressed(os.path.join(a.out, "test_probs.npz"), probs=probs, y=y)
    shutil.copy(os.path.join(dirs[0], "test.csv"), os.path.join(a.out, "test.csv"))

    _, raw_out, _, meta_out = read_outside(a.outside)
    pp = [mm["payload_packets"] for mm in meta_out]
    bgset = {bg} if bg else set()
    args = m0["args"]
    pts = openset.curve(raw_out, pp, oof, classes, bgset)
    chosen = (openset.choose_f1(pts, args.get("other_target", 0.8)) if args.get("rule", "f1-other") == "f1-other"
              else openset.choose(pts, args.get("min_precision", 0.95)))
    thr = chosen["threshold"]
    score = openset.outside_score(raw_out, pp, openset.predicted_labels(oof, classes, bgset, thr))
    top1 = openset.outside_score(raw_out, pp, openset.predicted_labels(oof, classes, set(), 0.0))
    coverage_png(pts, chosen, os.path.join(a.out, "coverage.png"),
                 f"out-of-lab flows, out-of-fold ({m0['outside_oof']['folds']} folds by capture-file group), "
                 f"mean of {len(dirs)} seeds")

    result = {k: v for k, v in m0.items() if k not in ("outside_oof", "network", "network_apps", "network_rule",
                                                       "export", "rule_alternatives", "novel_programs")}
    result["tag"] = a.tag
    result["members"] = [{"dir": d, "seed": m["seed"], "lab_macro_f1": m["network"]["macro_f1"],
                          "outside_macro_f1": m["outside_oof"]["score"]["macro_f1"],
                          "outside_other_unknown": m["outside_oof"]["score"]["other_unknown"],
                          "threshold": m["unknown_threshold"], "temperature": m["temperature"]}
                         for d, m in zip(dirs, ms)]
    result["seed"] = [m["seed"] for m in ms]
    result["temperature"] = [m["temperature"] for m in ms]
    result["rule_alternatives"] = {"precision": openset.choose(pts, args.get("min_precision", 0.95)),
                                   "f1-other": openset.choose_f1(pts, args.get("other_target", 0.8))}
    result["outside_oof"] = {"folds": m0["outside_oof"]["folds"], "rows": int(len(oof)), "curve": pts,
                             "chosen": chosen, "score": score, "top1_no_rule": top1}
    result["unknown_threshold"] = thr
    result["network"] = summarise(y, probs, classes)
    app_rows = np.array([classes[k] != bg for k in y]) if bg else np.ones(len(y), bool)
    result["network_apps"] = summarise(y[app_rows], probs[app_rows], classes)
    lab_pred = openset.predicted_labels(probs, classes, bgset, thr)
    result["network_rule"] = {"threshold": thr,
                              "unknown_share": float(np.mean([p == openset.UNKNOWN for p in lab_pred])),
                              "accuracy": float(np.mean([p == classes[t] for p, t in zip(lab_pred, y)]))}
    confusion_png(y, probs.argmax(1), classes, os.path.join(a.out, "confusion.png"),
                  f"held-out lab runs: macro-F1 {result['network']['macro_f1']:.3f}")
    reliability_png(y, probs, os.path.join(a.out, "reliability.png"),
                    f"reliability (mean of {len(dirs)} calibrated seeds), ECE {result['network']['ece']:.3f}")
    print(f"ensemble of {len(dirs)}: lab macro-F1 {result['network']['macro_f1']:.4f} (apps "
          f"{result['network_apps']['macro_f1']:.4f}); outside OOF at threshold {thr}: macro-F1 {score['macro_f1']:.4f} "
          f"coverage {score['coverage']:.3f} precision {score['precision_labelled']:.3f} other unknown "
          f"{score['other_unknown']:.3f}; top-1 macro-F1 {top1['macro_f1']:.4f}", flush=True)
    for c, v in score["per_class"].items():
        print(f"   {c:11s} n={v['n']:4d} P={v['precision']:.2f} R={v['recall']:.2f} F1={v['f1']:.2f} "
              f"unknown={v['unknown']:.2f} {v['called']}")

    if a.export:
        import onnx
        props0 = {p.key: p.value for p in onnx.load(os.path.join(dirs[0], "model.onnx")).metadata_props}
        ref = json.loads(props0["input_reference"])  # training inputs: the same rows for every member
        held = np.concatenate([probs, oof])
        unk = np.array([p == openset.UNKNOWN for p in openset.predicted_labels(held, classes, bgset, thr)])
        out_side = reference.build(np.zeros((1, int(m0["sequence_length"]))), held, classes, unk)
        for k in ("class_priors", "confidence", "unknown_share"):
            ref[k] = out_side[k]
        version = a.model_version or f"{props0['model_version']}-ens{len(dirs)}"
        summary = (props0["training_data"].split("; held-out")[0] + f"; mean of {len(dirs)} seeds "
                   f"({', '.join(str(m['seed']) for m in ms)}); held-out lab macro-F1 {result['network']['macro_f1']:.4f}"
                   f"; out-of-lab out-of-fold macro-F1 {score['macro_f1']:.4f}")
        props = [("classes", json.dumps(classes)), ("sequence_length", props0["sequence_length"]),
                 ("model_version", version), ("training_data", summary), ("unknown_threshold", repr(float(thr)))]
        if bg:
            props.append(("background_classes", json.dumps([bg])))
        props.append(("input_reference", reference.dumps(ref)))
        info = merge_onnx([os.path.join(d, "model.onnx") for d in dirs], a.export, props, fuse=not a.no_fuse,
                          int8=a.int8)
        result["export"] = {"path": a.export, "bytes": os.path.getsize(a.export), "model_version": version,
                            "training_data": summary, "graph": info}
        if a.int8:
            # the int8 graph's decisions against the float graph's, on the outside rows and the held-out lab rows,
            # in the sensor's runtime (models/train/compare.js); the float graph stays in --out
            flt = os.path.join(a.out, "float.onnx")
            merge_onnx([os.path.join(d, "model.onnx") for d in dirs], flt, props)
            bg_idx = [classes.index(bg)] if bg else []
            r = subprocess.run(["node", os.path.join(HERE, "compare.js"), flt, a.export, repr(float(thr)),
                                json.dumps(bg_idx), os.path.join(a.outside, "outside.csv"),
                                os.path.join(a.out, "test.csv")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
            if r.returncode != 0:
                raise SystemExit(f"compare.js failed: {r.stderr.strip()[-300:]}")
            cmp = json.loads(r.stdout)
            result["export"]["int8_vs_float"] = {"outside": cmp["outside.csv"], "lab_test": cmp["test.csv"]}
            print(f"int8 against float: {json.dumps(result['export']['int8_vs_float'])}", flush=True)
        # the model's self-check (models/train/self_check.py): held-out rows and what the pinned runtime gives for them
        import self_check
        sc = self_check.write(a.export, os.path.join(a.out, "test.csv"))
        result["export"]["bytes"] = os.path.getsize(a.export)
        result["export"]["self_check"] = {k: sc[k] for k in ("rows", "runtime", "tolerance", "entry_bytes")}
        print(f"exported {a.export} ({os.path.getsize(a.export)} bytes, version {version}; nodes "
              f"{info['nodes_before']} -> {info['nodes_after']} after merging common parts -> {info['nodes_final']}"
              f" final; heads {'stacked' if info.get('fused_heads') else 'side by side'}"
              f"{', int8' if a.int8 else ''})", flush=True)
    json.dump(result, open(os.path.join(a.out, "metrics.json"), "w"), indent=1)
    return result


if __name__ == "__main__":
    main()
