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
The unknown threshold is chosen on the averaged out-of-fold curve with the members' rule (openset.py).
"""
import argparse
import hashlib
import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import openset  # noqa: E402
import reference  # noqa: E402
from metrics import confusion_png, coverage_png, reliability_png, summarise  # noqa: E402
from train import read_outside  # noqa: E402


def fold_member(m):
    """Exact rewrites of one member graph that remove per-member work from the averaged graph:
    - the exact-length vocabulary lookup feeding the exact-length embedding (Gather(exact_vocab, slot) then
      Gather(exact.weight, ...)) becomes one Gather of the table exact.weight[exact_vocab];
    - the calibration temperature (Div of the last Gemm's output) moves into that Gemm's alpha and beta.
    Both are the same function (the temperature up to float rounding); returns the names of what was folded."""
    from onnx import helper, numpy_helper

    g = m.graph
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    users = {}
    for n in g.node:
        for x in n.input:
            users.setdefault(x, []).append(n)
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
    used = {x for n in g.node for x in n.input}
    keep_i = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep_i)
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


def merge_onnx(paths, out_path, props, fold=True):
    """One graph: every member's nodes on the shared input, outputs averaged; identical initializers and nodes
    (same op, inputs and attributes) merged."""
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
    onnx.checker.check_model(m)
    onnx.save(m, out_path)
    return {"nodes_before": len(nodes) + 1, "nodes_after": len(kept), "initializers": len(inits),
            "folded": folded[0] if folded else [], "shared_gathers": shared}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", required=True, help="comma-separated train.py --out folders (same --split-seed)")
    ap.add_argument("--outside", required=True, help="the folder of outside.csv/.groups/.meta the members used")
    ap.add_argument("--out", required=True)
    ap.add_argument("--export", help="write the averaged ONNX model here")
    ap.add_argument("--model-version", default=None)
    ap.add_argument("--tag", default="")
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
        info = merge_onnx([os.path.join(d, "model.onnx") for d in dirs], a.export, props)
        result["export"] = {"path": a.export, "bytes": os.path.getsize(a.export), "model_version": version,
                            "training_data": summary, "graph": info}
        print(f"exported {a.export} ({os.path.getsize(a.export)} bytes, version {version}; nodes "
              f"{info['nodes_before']} -> {info['nodes_after']} after merging common parts)", flush=True)
    json.dump(result, open(os.path.join(a.out, "metrics.json"), "w"), indent=1)
    return result


if __name__ == "__main__":
    main()
