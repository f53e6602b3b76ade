#!/usr/bin/env python3
"""Round perf43 (not shipped): the bundled int8 classifier as a CPU without VNNI computes it, for the self-check's
tolerance. onnxruntime's x86 u8s8 GEMM on AVX2 (and AVX-512 without VNNI) multiplies with VPMADDUBSW, which adds
the products of adjacent k pairs (k even, k+1) with int16 saturation; VNNI (VPDPBUSD) and ARM's dot products sum in
int32 exactly. This rewrites every MatMulInteger of a model into float ops that compute the same integer product
with that saturation (SAT=1) or without it (SAT=0, a control that must match the original), so the pinned
onnxruntime-node on this machine shows what an AVX2 host gets.

  /usr/bin/python3 bench/self-check-avx2.py IN.onnx OUT.onnx SAT
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent / "models" / "train"))
from ensemble import _constant_values  # noqa: E402  (models/train is no package)


def main():
    src, dst, sat = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    m = onnx.load(src)
    g = m.graph
    consts = _constant_values(g)
    new_nodes, extra_inits = [], []
    uid = [0]

    def name(s):
        uid[0] += 1
        return f"emu{uid[0]}/{s}"

    def const(arr, s):
        t = numpy_helper.from_array(np.asarray(arr), name(s))
        extra_inits.append(t)
        return t.name

    def node(op, ins, s, **kw):
        out = name(s)
        new_nodes.append(helper.make_node(op, ins, [out], **kw))
        return out

    for n in g.node:
        if n.op_type != "MatMulInteger":
            new_nodes.append(n)
            continue
        A, B, za, zb = (list(n.input) + ["", ""])[:4]
        if zb and zb in consts:
            assert int(np.asarray(consts[zb]).max()) == 0 and int(np.asarray(consts[zb]).min()) == 0, "b zero point must be 0"
        Wt = consts[B]
        K = Wt.shape[-2]
        assert K % 2 == 0, K
        Af = node("Cast", [A], "Af", to=TensorProto.FLOAT)
        Bf = node("Cast", [B], "Bf", to=TensorProto.FLOAT)
        s0, s1, s2, e = const(np.array([0], np.int64), "s0"), const(np.array([1], np.int64), "s1"), const(np.array([2], np.int64), "s2"), const(np.array([K], np.int64), "e")
        am1, am2 = const(np.array([-1], np.int64), "am1"), const(np.array([-2], np.int64), "am2")
        Ae = node("Slice", [Af, s0, e, am1, s2], "Ae")
        Ao = node("Slice", [Af, s1, e, am1, s2], "Ao")
        Be = node("Slice", [Bf, s0, e, am2, s2], "Be")
        Bo = node("Slice", [Bf, s1, e, am2, s2], "Bo")
        # [..., M, K/2, 1] * [..., 1, K/2, N]
        Ae3 = node("Unsqueeze", [Ae, am1], "Ae3")
        Ao3 = node("Unsqueeze", [Ao, am1], "Ao3")
        Be3 = node("Unsqueeze", [Be, const(np.array([-3], np.int64), "am3")], "Be3")
        Bo3 = node("Unsqueeze", [Bo, const(np.array([-3], np.int64), "am3b")], "Bo3")
        pe = node("Mul", [Ae3, Be3], "pe")
        po = node("Mul", [Ao3, Bo3], "po")
        pair = node("Add", [pe, po], "pair")
        if sat:
            pair = node("Clip", [pair, const(np.array(-32768, np.float32), "lo"), const(np.array(32767, np.float32), "hi")], "sat")
        acc = node("ReduceSum", [pair, am2], "acc", keepdims=0)
        # minus a's zero point times B's column sums
        colsum = const(Wt.astype(np.float64).sum(axis=-2, keepdims=True).astype(np.float32), "colsum")
        if za:
            zaf = node("Cast", [za], "zaf", to=TensorProto.FLOAT)
            corr = node("Mul", [zaf, colsum], "corr")
            acc = node("Sub", [acc, corr], "acc2")
        new_nodes.append(helper.make_node("Cast", [acc], [n.output[0]], to=TensorProto.INT32))
    del g.node[:]
    g.node.extend(new_nodes)
    g.initializer.extend(extra_inits)
    onnx.save(m, dst)


if __name__ == "__main__":
    main()
