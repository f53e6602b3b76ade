#!/usr/bin/env python3
"""Rewrites an anomaly model's graph for speed without changing one output bit (round perf14).

    /usr/bin/python3 models/anomaly/streamline.py IN.onnx OUT.onnx

Same weights, same arithmetic on every value that reaches the score; the score of every row must stay bit-equal
(check it with onnxruntime on the lab sets' feature rows before shipping a rewritten graph):

- the decoders' last layers compute only the columns whose error weight `w` is not 0 (for the bundled model 58 of
  96: the server port indicators have weight 0). Their squared errors entered the per-part sums as w * e^2 = +0,
  and adding +0 to a sum of non-negative terms changes nothing, so the sums over the kept columns, in the same
  order, are the same numbers. The target columns are cut out of the standardized input once (two Slices and a
  Concat shared by the members) and every per-member elementwise step runs on 58 columns instead of 96;
- the context columns' one-sided error d - ctx * Relu(d) becomes Min(d, cap) (cap 0 for a context column, +inf
  for the others): the same number up to the sign of a zero, which the square drops;
- Pow(x, 2) becomes Mul(x, x) (onnxruntime squares with one product either way);
- the port shift's Gather of the indicator columns (a strided per-element copy) becomes a Slice of the block of
  columns from the first to the last of them, with the shift vector put in column order (0 for a column in the
  block without a shift). The indicators are one-hot (0 or 1, at most one set), so the product adds one term and
  zeros, in any order the same number.

Refuses (exits 1; streamline() raises Refused) when the graph does not have the shape it expects. A graph it already
rewrote is not refused: only a port shift's Gather that calibrate.py added since is rewritten (else it is written
unchanged), so fit.py, calibrate.py --write and this script may run on it in any order. fit.py (`sensor anomaly-fit`)
and calibrate.py --write call streamline() themselves and keep the plain graph, with one log line, where it refuses.
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper as nh


class Refused(Exception):
    """The graph does not have the shape streamline() rewrites (it is left as it was)."""


def die(msg):
    raise Refused(msg)


def is_streamlined(m):
    """Whether streamline() already rewrote this graph (its decoders compare with the cut target)."""
    return any(n.name == "streamline_concat" for n in m.graph.node)


def port_shift_slices(m):
    """Rewrites each port shift Gather (calibrate.py add_port_shift()) into a Slice of the block of indicator columns, in
    place; returns how many."""
    g = m.graph
    arr = {i.name: nh.to_array(i) for i in g.initializer}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    gathers = [n for n in g.node if n.op_type == "Gather" and n.name.startswith("port_shift_gather")]
    if not gathers:
        return 0
    new_inits, drop, out_nodes = [], set(), []
    if "streamline_axis1" not in arr:
        new_inits.append(nh.from_array(np.array([1], np.int64), "streamline_axis1"))
    for n in g.node:
        if n not in gathers:
            out_nodes.append(n)
            continue
        cols = arr.get(n.input[1])
        mms = consumers.get(n.output[0], [])
        if cols is None or len(mms) != 1 or mms[0].input[1] not in arr:
            die(f"{n.name}: not constant columns read by one MatMul")
        mm = mms[0]
        vec = mm.input[1]
        lo, hi = int(cols.min()), int(cols.max()) + 1
        if len(set(cols.tolist())) != len(cols) or mm.op_type != "MatMul" or mm.input[0] != n.output[0]:
            die(f"{n.name}: not distinct columns read by a MatMul")
        ordered = np.zeros(hi - lo, dtype=arr[vec].dtype)
        ordered[cols - lo] = arr[vec]
        s, e = f"{n.name}_start", f"{n.name}_end"
        new_inits += [nh.from_array(np.array([lo], np.int64), s), nh.from_array(np.array([hi], np.int64), e),
                      nh.from_array(ordered, vec)]
        drop.update([n.input[1], vec])
        out_nodes.append(helper.make_node("Slice", [n.input[0], s, e, "streamline_axis1"], list(n.output), name=n.name.replace("gather", "slice")))
    del g.node[:]
    g.node.extend(out_nodes)
    kept = [i for i in g.initializer if i.name not in drop]
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    return len(gathers)


def streamline(m):
    """Rewrites the anomaly graph `m` (onnx ModelProto) in place, every score bit-identical; returns a one-line summary.
    Raises Refused, with `m` untouched, when the graph has another shape."""
    if is_streamlined(m):
        k = port_shift_slices(m)
        onnx.checker.check_model(m)
        return f"already rewritten; {k} port shift Gather(s) made Slices" if k else "already rewritten; unchanged"
    work = onnx.ModelProto()
    work.CopyFrom(m)
    try:
        summary = rewrite(work)
    except Refused:
        raise
    except (KeyError, ValueError, IndexError, onnx.checker.ValidationError) as e:
        raise Refused(f"unexpected graph ({type(e).__name__}: {e})") from e
    m.CopyFrom(work)
    return summary


def rewrite(m):
    g = m.graph
    init = {i.name: i for i in g.initializer}
    arr = {k: nh.to_array(v) for k, v in init.items()}
    producer = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    const = {n.output[0]: nh.to_array(n.attribute[0].t) for n in g.node if n.op_type == "Constant"}

    w = arr.get("w")
    if w is None or w.ndim != 1:
        die("no error weight vector 'w'")
    for key in ("ctx", "part"):
        if key not in arr:
            die(f"no '{key}' vector")
    keep = np.nonzero(w)[0]
    width = w.shape[0]
    # contiguous runs of kept columns
    runs = []
    for c in keep:
        if runs and runs[-1][1] == c:
            runs[-1][1] = c + 1
        else:
            runs.append([int(c), int(c) + 1])

    new_nodes, new_inits, drop_inits = [], [], set()
    target = None  # the [B, width] standardized input the decoders are compared with
    per_member = []
    for n in g.node:
        if n.op_type == "Gemm" and n.name.endswith("/dec/dec.2/Gemm"):
            (sub,) = consumers[n.output[0]]
            if sub.op_type != "Sub" or sub.input[0] != n.output[0]:
                die(f"{n.name} is not followed by Sub(decoded, target)")
            if target is None:
                target = sub.input[1]
            elif target != sub.input[1]:
                die("members compare with different targets")
            per_member.append((n, sub))
    if not per_member:
        die("no decoder output layers (*/dec/dec.2/Gemm)")
    if len(keep) == width:
        die("every error weight is non-zero: nothing to cut")

    # shared target columns
    pieces = []
    for a, b in runs:
        s, e, ax = f"streamline_cols_{a}_start", f"streamline_cols_{a}_end", "streamline_axis1"
        new_inits += [nh.from_array(np.array([a], np.int64), s), nh.from_array(np.array([b], np.int64), e)]
        pieces.append((s, e, f"streamline_target_{a}_{b}"))
    new_inits.append(nh.from_array(np.array([1], np.int64), "streamline_axis1"))
    kept_target = "streamline_target"
    target_nodes = [helper.make_node("Slice", [target, s, e, "streamline_axis1"], [o], name=f"streamline_slice_{i}")
                    for i, (s, e, o) in enumerate(pieces)]
    target_nodes.append(helper.make_node("Concat", [o for _, _, o in pieces], [kept_target], axis=1, name="streamline_concat"))

    for key in ("w", "ctx"):
        if arr[key].shape != (width,):
            die(f"'{key}' is not [{width}]")
        new_inits.append(nh.from_array(arr[key][keep], f"{key}_kept"))
    if arr["part"].shape[0] != width:
        die("'part' has another width")
    new_inits.append(nh.from_array(arr["part"][keep], "part_kept"))
    rename = {"w": "w_kept", "ctx": "ctx_kept", "part": "part_kept"}

    for gemm, sub in per_member:
        wn, bn = gemm.input[1], gemm.input[2]
        W, B = arr[wn], arr[bn]
        if not any(a.name == "transB" and a.i == 1 for a in gemm.attribute) or W.shape[0] != width or B.shape != (width,):
            die(f"{gemm.name}: expected transB=1 and {width} outputs")
        new_inits += [nh.from_array(np.ascontiguousarray(W[keep]), wn), nh.from_array(B[keep], bn)]
        drop_inits.update([wn, bn])
        sub.input[1] = kept_target

    # the error chain's constants restricted to the kept columns; Pow(x, 2) -> Mul(x, x)
    for n in g.node:
        for i, name in enumerate(n.input):
            if name in rename and n.op_type in ("Mul", "MatMul"):
                n.input[i] = rename[name]
    out_nodes = []
    first_dec = min(list(g.node).index(gm) for gm, _ in per_member)
    for idx, n in enumerate(g.node):
        if idx == first_dec:
            out_nodes += target_nodes
        if n.op_type == "Pow":
            e = const.get(n.input[1], arr.get(n.input[1]))
            if e is None or e.size != 1 or float(e.ravel()[0]) != 2.0:
                die(f"{n.name}: not a square")
            out_nodes.append(helper.make_node("Mul", [n.input[0], n.input[0]], list(n.output), name=n.name + "_square"))
            continue
        out_nodes.append(n)
    del g.node[:]
    g.node.extend(out_nodes)
    kept_inits = [i for i in g.initializer if i.name not in drop_inits and i.name not in ("w", "ctx", "part")]
    del g.initializer[:]
    g.initializer.extend(kept_inits + new_inits)
    # d - ctx * Relu(d) -> Min(d, cap): cap = 0 where ctx is 1 (d - Relu(d) is min(d, 0)), +inf where ctx is 0
    # (d - 0 is d); the two can differ only in the sign of a zero, which the square that follows drops.
    ctx = arr["ctx"][keep]
    if not set(np.unique(ctx).tolist()) <= {0.0, 1.0}:
        die("'ctx' is not 0 or 1")
    g.initializer.append(nh.from_array(np.where(ctx == 1, 0.0, np.inf).astype(np.float32), "ctx_cap"))
    made = {o: n for n in g.node for o in n.output}
    dropped, swapped = set(), {}
    for n in g.node:
        mul = made.get(n.input[1]) if n.op_type == "Sub" and len(n.input) == 2 else None
        if mul is None or mul.op_type != "Mul" or "ctx_kept" not in mul.input:
            continue
        relu = made.get([i for i in mul.input if i != "ctx_kept"][0])
        if relu is None or relu.op_type != "Relu" or relu.input[0] != n.input[0]:
            die(f"{n.name}: not d - ctx * Relu(d)")
        dropped.update([id(mul), id(relu)])
        swapped[id(n)] = helper.make_node("Min", [n.input[0], "ctx_cap"], list(n.output), name=n.name + "_min")
    if len(swapped) != len(per_member):
        die(f"{len(swapped)} context error steps for {len(per_member)} members")
    live = [swapped.get(id(n), n) for n in g.node if id(n) not in dropped]
    del g.node[:]
    g.node.extend(live)
    kept_inits = [i for i in g.initializer if i.name != "ctx_kept"]
    del g.initializer[:]
    g.initializer.extend(kept_inits)
    # unused Constant nodes (the Pow exponents)
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    live = [n for n in g.node if not (n.op_type == "Constant" and n.output[0] not in used)]
    del g.node[:]
    g.node.extend(live)
    port_shift_slices(m)
    # intermediate shapes changed: drop stale value_info
    del g.value_info[:]
    onnx.checker.check_model(m)
    return f"{len(g.node)} nodes; decoder outputs {width} -> {len(keep)} columns"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: streamline.py IN.onnx OUT.onnx")
    m = onnx.load(sys.argv[1])
    try:
        summary = streamline(m)
    except Refused as e:
        sys.stderr.write(f"streamline.py: {e}\n")
        sys.exit(1)
    onnx.save(m, sys.argv[2])
    print(f"{sys.argv[2]}: {summary}")


if __name__ == "__main__":
    main()
