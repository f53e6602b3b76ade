#!/usr/bin/env python3
"""Round perf21's trial rewrites of the classifier graph (measured, none kept; bench/HISTORY.md round perf21).

Usage: python3 bench/classifier_rewrites.py VARIANT OUT.onnx [--model models/sensor.onnx]
  emb-axis1    the embedding table member-major, looked up with Gather on axis 1 (no Reshape/Transpose)
  runs-matmul  the 3 per-run ScatterElements -> one-hot Equal + one batched MatMul
  runs-mulsum  the same with Mul + ReduceSum
  mitf         the embedding MatMulInteger + Cast + Mul -> com.microsoft MatMulIntegerToFloat
  group        the 16 per-flow scalar features computed in blocks (239 -> 196 nodes)
  features     the graph cut at the first layer's inputs (the feature subgraph alone, for timing)
Then: taskset -c 1 node bench/classifier-graph-ab.js models/sensor.onnx OUT.onnx DB (bit-compare and time).
Written for ppi-mlp-20261130-v6's node names; another graph needs its names checked."""
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, utils, shape_inference

def emb_axis1(model, out_path):
    m=onnx.load(model); g=m.graph
    init={i.name:i for i in g.initializer}
    t=numpy_helper.to_array(init['fused/emb_table_u8'])
    t2=np.ascontiguousarray(t.reshape(t.shape[0],15,8).transpose(1,0,2))
    g.initializer.remove(init['fused/emb_table_u8'])
    g.initializer.append(numpy_helper.from_array(t2,'fused/emb_table_nkd'))
    nodes=list(g.node); out=[]
    for n in nodes:
        if n.op_type=='Gather' and n.output[0]=='fused/emb_bpk':
            out.append(helper.make_node('Gather',['fused/emb_table_nkd','fused/emb_index'],['fused/emb_npbd'],axis=1,name='fused/emb_gather_n'))
        elif n.output[0] in ('fused/emb_bpnd','fused/emb_npbd'): continue
        else: out.append(n)
    del g.node[:]; g.node.extend(out)
    onnx.checker.check_model(m); onnx.save(m, out_path); print(len(g.node))

def _runs_onehot(model, out_path, combine, extra_init=()):
    """The 3 per-run ScatterElements sums replaced: a one-hot of each packet's run id (Equal against 0..9) and the
    packets' three values stacked into v [N, 3, 30]; combine(v, onehot) returns the nodes that make 'runs1/sums'
    [N, 3, 10] from them, which Split and Squeeze hand to the graph's old consumers."""
    m=onnx.load(model); g=m.graph
    drop={'runs0/run_id','runs0/slot','runs0/shape','runs0/batch','runs0/data_shape','runs0/zeros','runs0/sum0','runs0/sum1','runs0/sum2',
     'm0//run_features/Squeeze_output_0','m0//run_features/Squeeze_1_output_0','m0//run_features/ReduceSum_output_0'}
    g.initializer.extend([numpy_helper.from_array(np.arange(10,dtype=np.float32),'runs1/k'),
      numpy_helper.from_array(np.array([2],dtype=np.int64),'runs1/ax2'),
      numpy_helper.from_array(np.array([1],dtype=np.int64),'runs1/ax1'), *extra_init])
    new=[
     helper.make_node('Unsqueeze',['m0//run_features/CumSum_output_0','runs1/ax2'],['runs1/id3']),
     helper.make_node('Equal',['runs1/id3','runs1/k'],['runs1/ohb']),
     helper.make_node('Cast',['runs1/ohb'],['runs1/oh'],to=1),
     helper.make_node('Unsqueeze',['m0//features/Abs_output_0','runs1/ax1'],['runs1/v0']),
     helper.make_node('Unsqueeze',['m0//run_features/Sign_output_0','runs1/ax1'],['runs1/v1']),
     helper.make_node('Unsqueeze',['m0//run_features/Cast_output_0','runs1/ax1'],['runs1/v2']),
     helper.make_node('Concat',['runs1/v0','runs1/v1','runs1/v2'],['runs1/v'],axis=1),
     *combine('runs1/v','runs1/oh'),
     helper.make_node('Split',['runs1/sums'],['runs1/s0','runs1/s1','runs1/s2'],axis=1),
     helper.make_node('Squeeze',['runs1/s0','runs1/ax1'],['m0//run_features/Squeeze_output_0']),
     helper.make_node('Squeeze',['runs1/s1','runs1/ax1'],['m0//run_features/Squeeze_1_output_0']),
     helper.make_node('Squeeze',['runs1/s2','runs1/ax1'],['m0//run_features/ReduceSum_output_0']),
    ]
    out=[]
    for n in g.node:
        if any(o in drop for o in n.output):
            if n.output[0]=='runs0/run_id': out.extend(new)
            continue
        out.append(n)
    del g.node[:]; g.node.extend(out)
    keep=[i for i in g.initializer if not i.name.startswith('runs0/')]
    del g.initializer[:]; g.initializer.extend(keep)
    onnx.checker.check_model(m); onnx.save(m, out_path); print(len(g.node))

def runs_matmul(model, out_path):
    _runs_onehot(model, out_path, lambda v, oh: [helper.make_node('MatMul',[v,oh],['runs1/sums'])])

def runs_mulsum(model, out_path):
    _runs_onehot(model, out_path, lambda v, oh: [
     helper.make_node('Unsqueeze',[v,'runs1/ax3'],['runs1/v4']),
     helper.make_node('Unsqueeze',[oh,'runs1/ax1'],['runs1/oh4']),
     helper.make_node('Mul',['runs1/v4','runs1/oh4'],['runs1/prod']),
     helper.make_node('ReduceSum',['runs1/prod','runs1/ax2'],['runs1/sums'],keepdims=0)],
     extra_init=[numpy_helper.from_array(np.array([3],dtype=np.int64),'runs1/ax3')])

def mitf(model, out_path):
    m=onnx.load(model); g=m.graph
    g.initializer.append(numpy_helper.from_array(np.array(1.0,dtype=np.float32),'fused/emb_one'))
    out=[]
    for n in g.node:
        if n.output[0]=='fused/h1_emb_i32':
            A,B,az,bz=n.input
            out.append(helper.make_node('MatMulIntegerToFloat',[A,B,'fused/emb_one','fused/We_scale',az,bz],['fused/h1_emb'],domain='com.microsoft',name='fused/h1_emb_mitf'))
        elif n.output[0] in ('fused/h1_emb_f','fused/h1_emb'): continue
        else: out.append(n)
    del g.node[:]; g.node.extend(out)
    if not any(o.domain=='com.microsoft' for o in m.opset_import): m.opset_import.append(helper.make_opsetid('com.microsoft',1))
    onnx.save(m, out_path); print(len(g.node))

def group(model, out_path):
    m=onnx.load(model); g=m.graph
    P='m0//features/'
    RS=lambda k: P+('ReduceSum_output_0' if k==0 else f'ReduceSum_{k}_output_0')
    RM=[P+'ReduceMax_output_0',P+'ReduceMax_1_output_0']
    keep_outs={RS(k) for k in range(11)}|set(RM)
    # consumers check
    cons={}
    for n in g.node:
        for i in n.input: cons.setdefault(i,[]).append(n.output[0])
    # nodes to drop: everything between the reductions and the dense Concat's 16 Unsqueezes
    drop=set()
    for k in range(3,24): drop.add(P+f'Div_{k}_output_0')
    for k in range(2,12): drop.add(P+f'Add_{k}_output_0')
    for k in range(1,11): drop.add(P+f'Log_{k}_output_0')
    drop|={P+'Clip_1_output_0',P+'Clip_2_output_0',P+'Gather_1_output_0'}
    for k in range(8,24): drop.add(P+f'Unsqueeze_{k}_output_0')
    drop.discard(P+'Div_2_output_0')
    for o in list(drop):
        for c in cons.get(o,[]):
            assert c in drop or c=='fused/dense', (o,c)
    for o in keep_outs:
        for c in cons.get(o,[]): assert c in drop or c.startswith(P+'Mul_') is False, (o,c)
    f=lambda v,n: numpy_helper.from_array(np.array(v,dtype=np.float32 if isinstance(v[0],float) else np.int64),n)
    g.initializer.extend([f([1.0],'grp/one'),
      f([14.491537094116211]*2+[11.090354919433594]*8,'grp/logdiv'),
      f([0],'grp/i0'), f([1],'grp/i1'),
      numpy_helper.from_array(np.array([0,1,2,5,6,3,7,8,9,10,15,11,12,13,14,4],dtype=np.int64),'grp/order')])
    # blocks: A = [RS0,RS1,RS2,RS5,RS10]/n  (U8,U9,U10,U13,U23)
    #         L = log(1+[RS3,RS4,RS6,RS7,RS8,RS9,RM0,RM1,RS3/clip(RS1),RS4/clip(RS2)])/c  (U11,U12,U14..U17,U19,U20,U21,U22)
    #         G = Sub[:,0:1] (U18)
    # cat = [A0..A4, L0..L9, G] indexes: A 0-4, L 5-14, G 15
    # dense order U8..U23: A0,A1,A2,L0,L1,A3,L2,L3,L4,L5,G,L6,L7,L8,L9,A4
    # -> [0,1,2,5,6,3,7,8,9,10,15,11,12,13,14,4]
    new=[
     helper.make_node('Concat',[RS(0),RS(1),RS(2),RS(5),RS(10)],['grp/a_num'],axis=1),
     helper.make_node('Div',['grp/a_num',P+'Cast_2_output_0'],['grp/a']),
     helper.make_node('Concat',[RS(1),RS(2)],['grp/den_raw'],axis=1),
     helper.make_node('Clip',['grp/den_raw',P+'Constant_4_output_0',''],['grp/den']),
     helper.make_node('Concat',[RS(3),RS(4)],['grp/ratio_num'],axis=1),
     helper.make_node('Div',['grp/ratio_num','grp/den'],['grp/ratio']),
     helper.make_node('Concat',[RS(3),RS(4),RS(6),RS(7),RS(8),RS(9),RM[0],RM[1],'grp/ratio'],['grp/l_in'],axis=1),
     helper.make_node('Add',[P+'Constant_4_output_0','grp/l_in'],['grp/l_add']),
     helper.make_node('Log',['grp/l_add'],['grp/l_log']),
     helper.make_node('Div',['grp/l_log','grp/logdiv'],['grp/l']),
     helper.make_node('Slice',[P+'Sub_output_0','grp/i0','grp/i1','grp/i1'],['grp/first']),
     helper.make_node('Concat',['grp/a','grp/l','grp/first'],['grp/cat'],axis=1),
     helper.make_node('Gather',['grp/cat','grp/order'],['grp/scalars'],axis=1),
    ]
    out=[]; placed=False
    for n in g.node:
        if n.output[0] in drop: continue
        if n.op_type in('ReduceSum','ReduceMax') and n.output[0] in keep_outs:
            for a in n.attribute:
                if a.name=='keepdims': a.i=1
        if n.output[0]=='fused/dense':
            out.extend(new)
            ins=['grp/scalars']+list(n.input[16:])
            n2=helper.make_node('Concat',ins,['fused/dense'],axis=1,name=n.name)
            out.append(n2); continue
        out.append(n)
    del g.node[:]; g.node.extend(out)
    onnx.checker.check_model(m); onnx.save(m, out_path); print(len(g.node))

def features(model, out_path):
    m = shape_inference.infer_shapes(onnx.load(model))
    sub = utils.Extractor(m).extract_model(['ppi'], ['fused/dense', 'm0//Cast_2_output_0', 'm0//Cast_3_output_0'])
    onnx.save(sub, out_path)
    print(len(sub.graph.node))


VARIANTS = {'emb-axis1': emb_axis1, 'runs-matmul': runs_matmul, 'runs-mulsum': runs_mulsum, 'mitf': mitf,
            'group': group, 'features': features}


def cli(variants, model, usage):
    """The rewrite scripts' command line (this one's and bench/anomaly_rewrites.py's): VARIANT OUT.onnx
    [--model MODEL], MODEL defaulting to `model`; calls variants[VARIANT](MODEL, OUT.onnx), or exits with `usage`."""
    a = sys.argv[1:]
    if '--model' in a:
        i = a.index('--model')
        model = a[i + 1]
        del a[i:i + 2]
    if len(a) != 2 or a[0] not in variants:
        sys.exit(usage)
    variants[a[0]](model, a[1])


if __name__ == '__main__':
    cli(VARIANTS, 'models/sensor.onnx', __doc__)
