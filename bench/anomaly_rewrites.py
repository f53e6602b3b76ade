#!/usr/bin/env python3
"""Round perf24's trial rewrite of the anomaly graph (measured, not kept; bench/HISTORY.md round perf24).

Usage: /usr/bin/python3 bench/anomaly_rewrites.py VARIANT OUT.onnx [--model models/anomaly.onnx]
  stack-enc0   the ten members' first encoder layers (Gemm [64, 92] + Relu each, one shared input) as one Gemm
               [640, 92] + one Relu + a Split into the ten [N, 64] outputs (round perf14 measured this on the AMD
               machine: 4.63 against 4.52 us a flow). Each output element is the same dot product over the same 92
               inputs; whether onnxruntime's kernel sums it in the same order is checked on data, not assumed.
Then: taskset -c 0 node bench/ort-options-ab.js models/anomaly.onnx OUT.onnx ROWS.f32 (bit-compare and time)."""
import numpy as np
import onnx
from onnx import helper, numpy_helper as nh
from classifier_rewrites import cli  # bench/ is on sys.path when run as bench/anomaly_rewrites.py


def stack_enc0(model, out_path):
    m = onnx.load(model)
    g = m.graph
    init = {i.name: i for i in g.initializer}
    gemms = [n for n in g.node if n.op_type == 'Gemm' and n.name.endswith('/enc/enc.0/Gemm')]
    assert len(gemms) == 10 and len({n.input[0] for n in gemms}) == 1
    by_out = {n.input[0]: n for n in g.node if n.op_type == 'Relu'}
    relus = [by_out[n.output[0]] for n in gemms]
    for n in gemms:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        assert attrs.get('transB') == 1 and attrs.get('alpha', 1.0) == 1.0 and attrs.get('beta', 1.0) == 1.0 and not attrs.get('transA')
    w = np.concatenate([nh.to_array(init[n.input[1]]) for n in gemms], axis=0)
    b = np.concatenate([nh.to_array(init[n.input[2]]) for n in gemms], axis=0)
    sizes = [nh.to_array(init[n.input[1]]).shape[0] for n in gemms]
    for n in gemms:
        for k in n.input[1:]:
            g.initializer.remove(init[k])
    g.initializer.extend([nh.from_array(w, 'stack_enc0_w'), nh.from_array(b, 'stack_enc0_b'),
                          nh.from_array(np.array(sizes, dtype=np.int64), 'stack_enc0_split')])
    drop = {id(n) for n in gemms + relus}
    new = [helper.make_node('Gemm', [gemms[0].input[0], 'stack_enc0_w', 'stack_enc0_b'], ['stack_enc0_y'], transB=1, name='stack_enc0/Gemm'),
           helper.make_node('Relu', ['stack_enc0_y'], ['stack_enc0_r'], name='stack_enc0/Relu'),
           helper.make_node('Split', ['stack_enc0_r', 'stack_enc0_split'], [r.output[0] for r in relus], axis=1, name='stack_enc0/Split')]
    out = []
    placed = False
    for n in g.node:
        if id(n) in drop:
            if not placed:
                out.extend(new)
                placed = True
            continue
        out.append(n)
    del g.node[:]
    g.node.extend(out)
    onnx.checker.check_model(m)
    onnx.save(m, out_path)
    print(len(g.node))


VARIANTS = {'stack-enc0': stack_enc0}

if __name__ == '__main__':
    cli(VARIANTS, 'models/anomaly.onnx', __doc__)
