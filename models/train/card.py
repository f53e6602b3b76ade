#!/usr/bin/env python3
"""Writes the model card models/README.md from measured files only (see its *Reproduce* section):

  /usr/bin/python3 models/train/card.py --lab /work/data/lab/vN [--out models/train/out]

Reads OUT/metrics.json (train.py of the shipped model), OUT/candidates/candidates.json (candidates.py),
OUT/eval_test.txt, OUT/outside_eval.txt and OUT/outside_official.txt (sensor eval and outside-eval outputs),
OUT/speed.json (bench/model-speed.js), the lab corpus (LAB/corpus.csv, LAB/class_counts.json) and the outside
rows (OUT/outside.*); copies the pictures and a metrics snapshot to models/card/.
"""
import argparse
import csv
import glob
import hashlib
import json
import os
import shutil
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
MODELS = os.path.dirname(HERE)
CARD = os.path.join(MODELS, "card")


def self_check_entry(path):
    """The model file's `self_check` entry (parsed), its JSON's length, and the file as it is without it (the bytes and
    sha256 the card's figures were measured on when the entry came later); None when the file has none."""
    import onnx
    from self_check import strip_entry

    m = onnx.load(path)
    value = strip_entry(m)
    if value is None:
        return None
    bare = m.SerializeToString()
    return {"entry": json.loads(value), "json_bytes": len(value), "bare_bytes": len(bare),
            "bare_sha": hashlib.sha256(bare).hexdigest()}


def f4(v):
    return "-" if v is None else f"{v:.4f}"


def f2(v):
    return "-" if v is None else f"{v:.2f}"


def pct(v):
    return "-" if v is None else f"{100 * v:.1f}%"


def read_text(path):
    return open(path).read().rstrip() if os.path.exists(path) else None


def lab_summary(lab_dir):
    """Per class: flows, runs, client programs, servers; per run attributes shares."""
    path = os.path.join(lab_dir, "corpus.csv")
    per = defaultdict(lambda: {"flows": 0, "runs": set(), "clients": Counter(), "servers": Counter(), "stacks": Counter()})
    runs = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            c = r["app_service"]
            p = per[c]
            p["flows"] += 1
            p["runs"].add(r.get("run", ""))
            p["clients"][r.get("client", "")] += 1
            p["servers"][r.get("server", "")] += 1
            p["stacks"][r.get("stack", "")] += 1
            runs[r.get("run", "")] = r
    attrs = {}
    for k in ("capture", "offload", "mtu", "mss", "nagle"):
        cnt = Counter(r.get(k, "") for r in runs.values())
        attrs[k] = {v: n / max(1, len(runs)) for v, n in cnt.most_common()}
    return per, len(runs), attrs


def outside_summary(out_dir):
    labels = [row[0] for row in csv.reader(open(os.path.join(out_dir, "outside.csv")))][1:]
    meta = [json.loads(line) for line in open(os.path.join(out_dir, "outside.meta"))]
    groups = {m["group"] for m in meta}
    scored = Counter(lab for lab, m in zip(labels, meta) if m["payload_packets"] >= 4)
    return {"rows": len(labels), "groups": len(groups), "files": len({m["file"] for m in meta}),
            "labels": Counter(labels), "scored": scored}


def outside_misses(out_dir, m, min_payload=4, max_recall=0.8):
    """Per known class with out-of-fold recall below max_recall: missed flows, how many were mid-stream or
    one-sided, and the files with the most misses (from OUT/oof.npz and the outside rows)."""
    import numpy as np
    import openset
    oof = m.get("outside_oof")
    path = os.path.join(out_dir, "oof.npz")
    if not oof or not os.path.exists(path):
        return {}
    probs = np.load(path)["probs"]
    rows = list(csv.reader(open(os.path.join(out_dir, "outside.csv"))))[1:]
    meta = [json.loads(line) for line in open(os.path.join(out_dir, "outside.meta"))]
    bg = {m["background"]} if m.get("background") else set()
    pred = openset.predicted_labels(probs, m["classes"], bg, m["unknown_threshold"])
    out = {}
    for c, v in oof["score"]["per_class"].items():
        if v["recall"] >= max_recall:
            continue
        idx = [i for i, (r, mm) in enumerate(zip(rows, meta)) if r[0] == c and mm["payload_packets"] >= min_payload]
        miss = [i for i in idx if pred[i] != c]
        per_file = Counter(meta[i]["file"] for i in idx)
        missed_file = Counter(meta[i]["file"] for i in miss)
        lens = [[int(x) for x in rows[i][1:] if int(x) != 0] for i in miss]
        out[c] = {"n": len(idx), "missed": len(miss),
                  "midstream": sum(1 for i in miss if meta[i].get("midstream")),
                  "onesided": sum(1 for seq in lens if seq and (all(x > 0 for x in seq) or all(x < 0 for x in seq))),
                  "files": [(f, k, per_file[f]) for f, k in missed_file.most_common(3)]}
    return out


def scored_draws(cands, name, suffixes):
    """[(name, candidate)] of a recipe's averaged draws (`name`, then `name-K` for each K of suffixes) that were
    scored outside."""
    draws = [(n, cands.get(n)) for n in [name] + [f"{name}-{k}" for k in suffixes]]
    return [(n, c) for n, c in draws if c and c.get("outside_macro_f1") is not None]


def int8_differences(draws, key):
    """'a, b, c of the N': how many of the `key` rows ('outside', 'lab_test') each draw's int8 graph labels otherwise
    than its float graph (models/train/compare.js)."""
    diff = lambda c: c.get("int8_vs_float", {}).get(key, {})  # noqa: E731
    return f"{', '.join(str(diff(c).get('label_differ', '-')) for _, c in draws)} of the {diff(draws[0][1]).get('rows', '-')}"


def draw_rule_verdict(draws, fast, floor, min_draws):
    """The end of a ship rule's sentence for averaged draws (mean outside macro-F1 >= 0.80, every draw >= 0.78, keeps
    >= 80% of other protocols unknown and lab >= 0.95, at least min_draws draws, the newest draw's file fast enough):
    met, or which of its conditions failed."""
    ev = [c["outside_macro_f1"] for _, c in draws]
    mean = sum(ev) / len(ev)
    failed = [x for x, bad in [
        (f"mean {f4(mean)} < 0.80", mean < 0.8), (f"lowest draw {f4(min(ev))} < 0.78", min(ev) < 0.78),
        (f"{len(ev)} draws < {min_draws}", len(ev) < min_draws),
        ("other protocols unknown < 80% on a draw", any(c["outside_other_unknown"] < 0.8 for _, c in draws)),
        ("lab < 0.95 on a draw", any(c["lab_macro_f1"] < 0.95 for _, c in draws)),
        (f"the newest draw's file below {floor} flows per CPU s", not fast)] if bad]
    return "not met (" + "; ".join(failed) + "); not shipped." if failed else "met; the newest draw ships."


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--lab", required=True, help="the lab corpus version the model was trained on (/work/data/lab/vN)")
    ap.add_argument("--shipped-candidate", default="mlp", help="the candidate whose recipe the shipped model follows")
    ap.add_argument("--five-member-candidate", default="mlp-narrow-capture-ts-ens5",
                    help="the five-member recipe shipped as v5, which the later averaged recipes are compared with")
    a = ap.parse_args()
    O = a.out
    m = json.load(open(os.path.join(O, "metrics.json")))
    lab_version = os.path.basename(os.path.normpath(a.lab))
    cands = {}
    for path in sorted(glob.glob(os.path.join(O, "candidates*", "candidates.json"))):  # runs may be split over dirs
        entries = json.load(open(path))
        # candidates trained on an older lab corpus keep their figures under NAME@vN (files written before
        # candidates.py recorded the corpus were all made on v2; the baseline is scored on its file's corpus)
        file_lab = Counter(v["lab"] for v in entries.values() if "lab" in v).most_common(1)
        file_lab = file_lab[0][0] if file_lab else "v2"
        for k, v in entries.items():
            lab = v.setdefault("lab", file_lab)
            base = k.split("@")[0]  # a snapshot of an older card already names its entries NAME@vN
            cands[base if lab == lab_version else f"{base}@{lab}"] = v
    order = [a.shipped_candidate, "mlp", "baseline-cnn-2026-11"]
    order = list(dict.fromkeys(order))
    cands = {k: cands[k] for k in order + sorted(k for k in cands if k not in order) if k in cands}
    speed = json.load(open(os.path.join(O, "speed.json"))) if os.path.exists(os.path.join(O, "speed.json")) else None
    lab_per, lab_runs, lab_attrs = lab_summary(a.lab)
    outs = outside_summary(O)
    os.makedirs(CARD, exist_ok=True)
    for pic in ("confusion.png", "reliability.png", "coverage.png"):
        if os.path.exists(os.path.join(O, pic)):
            shutil.copy(os.path.join(O, pic), os.path.join(CARD, pic))
    snap = {k: v for k, v in m.items() if k != "args"}
    snap["args"] = m.get("args")
    json.dump(snap, open(os.path.join(CARD, "metrics.json"), "w"), indent=1)
    if cands:
        json.dump({k: {kk: vv for kk, vv in v.items() if kk not in ("lab_eval", "outside_eval")} for k, v in cands.items()},
                  open(os.path.join(CARD, "candidates.json"), "w"), indent=1)
    if speed:
        json.dump(speed, open(os.path.join(CARD, "speed.json"), "w"), indent=1)
    # OUT/rebuild.json (optional): the shipped graph rebuilt from the same members after the figures above were
    # measured, with what its rebuild changed and a side-by-side speed measurement against the previous build
    rebuild = json.load(open(os.path.join(O, "rebuild.json"))) if os.path.exists(os.path.join(O, "rebuild.json")) else None
    if rebuild:
        json.dump(rebuild, open(os.path.join(CARD, "rebuild.json"), "w"), indent=1)

    classes, bg = m["classes"], m.get("background")
    apps = [c for c in classes if c != bg]
    oof = m.get("outside_oof")
    ex = m.get("export", {})
    net = m["network"]
    args = m.get("args", {})
    W = []
    w = W.append
    w("# The bundled model: `models/sensor.onnx`\n")
    w("Generated by `models/train/card.py` from measured files (commands under *Reproduce*); do not edit numbers by hand.\n")

    # ---------------------------------------------------------------- summary
    w("## In short\n")
    if oof:
        s = oof["score"]
        w(f"- **Out of the lab** (`../shared/outside`: real captures from other projects' test suites, DPI labels, flows "
          f"with >= 4 payload packets, `unknown` counted as wrong), **out-of-fold** ({oof['folds']} folds by capture-file "
          f"group, so no flow of a held-out file, or of a file sharing flows with it, was trained on): macro-F1 "
          f"**{f4(s['macro_f1'])}** over {len(s['classes'])} classes with >= 5 flows, accuracy {f4(s['accuracy'])}; "
          f"**{pct(s['other_unknown'])}** of the {s['other_flows']} flows of protocols the model has no class for are "
          f"labelled `unknown`. This is the estimate for the shipped model.")
        members = m.get("members")
        if members:
            mo = [x["outside_macro_f1"] for x in members]
            ml = [x["lab_macro_f1"] for x in members]
            w(f"  **Seeds**: the shipped model is the mean of {len(members)} networks of one recipe trained with seeds "
              f"{', '.join(str(x['seed']) for x in members)} (same held-out lab runs and outside folds). Alone they score "
              f"outside macro-F1 {', '.join(f4(v) for v in mo)} (mean {f4(sum(mo) / len(mo))}, spread "
              f"{f4(max(mo) - min(mo))}) and lab macro-F1 {', '.join(f4(v) for v in ml)} (mean {f4(sum(ml) / len(ml))}), "
              "each under its own chosen threshold; their average scores the figures above. A few hundred flows of a few "
              "large capture files decide the outside figures, so a single seed moves them by a few hundredths; the "
              "average removes much of that variance from the shipped model instead of picking a lucky seed.")
            other = cands.get(a.shipped_candidate + "-b")
            base = a.shipped_candidate[:-2] if a.shipped_candidate[-2:] in ("-b", "-c", "-d", "-e") else a.shipped_candidate
            draws = [(n, cands.get(n)) for n in [base] + [f"{base}-{k}" for k in "bcde"]]
            draws = [(n, c) for n, c in draws if c and c.get("outside_macro_f1") is not None]
            if len(draws) > 2:  # the shipped draw is one of several: all of them, the mean of all is the estimate
                ev = [c["outside_macro_f1"] for _, c in draws]
                mine = max(x["seed"] for x in members)
                which = ("the newest seeds" if all(mine >= max(c["seed"]) for _, c in draws) else
                         "the first trained" if all(mine <= max(c["seed"]) for _, c in draws) else "one of them")
                w(f"  **How much of it is chance, averaged model**: the same recipe averaged over other seeds scores "
                  + "; ".join(f"`{n}` (seeds {c['seed'][0]}-{c['seed'][-1]}) {f4(c['outside_macro_f1'])}"
                              for n, c in draws if n != a.shipped_candidate)
                  + f". The shipped draw (seeds {', '.join(str(x['seed']) for x in members)}, {which}, chosen "
                  f"before they were scored) scores {f4(s['macro_f1'])}; the mean of all {len(ev)} draws, "
                  f"**{f4(sum(ev) / len(ev))}** (lowest {f4(min(ev))}, highest {f4(max(ev))}), is the fairer estimate "
                  "of what this recipe gives out of the lab.")
                other = None
            if other and other.get("outside_macro_f1") is not None:
                both = (s["macro_f1"] + other["outside_macro_f1"]) / 2
                oseeds = other.get("seed") if isinstance(other.get("seed"), list) else []
                better = "better" if s["macro_f1"] >= other["outside_macro_f1"] else "worse"
                w(f"  **How much of it is chance, averaged model**: the same recipe averaged over "
                  f"{len(oseeds) or 'as many'} other seeds ({', '.join(str(x) for x in oseeds)}; "
                  f"`{a.shipped_candidate}-b`) scores outside macro-F1 {f4(other['outside_macro_f1'])} (lab "
                  f"{f4(other.get('lab_macro_f1'))}, other protocols unknown {pct(other.get('outside_other_unknown'))}). "
                  f"The shipped draw (seeds {', '.join(str(x['seed']) for x in members)}, the first trained, chosen "
                  f"before either was scored) is the {better} one; the mean of the "
                  f"two draws, **{f4(both)}**, is the fairer estimate of what this recipe gives out of the lab.")
        seed = cands.get("mlp-seed-8")
        if not members and seed and seed.get("outside_macro_f1") is not None:
            w(f"  **How much of it is chance**: the same recipe with another seed (`mlp-seed-8`) scored macro-F1 "
              f"{f4(seed['outside_macro_f1'])} and {pct(seed.get('outside_other_unknown'))} other protocols unknown "
              f"out-of-fold (lab {f4(seed.get('lab_macro_f1'))}): a few hundred flows of a few large files decide these "
              "figures, so differences of a few hundredths between candidates below are within chance, and the mean of "
              f"the two seeds, {f4((s['macro_f1'] + seed['outside_macro_f1']) / 2)}, is the fairer single estimate.")
    napps = m.get("network_apps", net)
    w(f"- **In the lab** (held-out lab runs of corpus `{lab_version}`, top-1): macro-F1 **{f4(net['macro_f1'])}** over "
      f"all {len(classes)} classes incl. `{bg}` (accuracy {f4(net['accuracy'])}); {f4(napps['macro_f1'])} over the "
      f"{len(apps)} application classes alone." if bg else
      f"- **In the lab** (held-out lab runs): macro-F1 **{f4(net['macro_f1'])}**.")
    rule = m.get("network_rule")
    if rule:
        w(f"  Under the unknown rule {pct(rule['unknown_share'])} of the held-out lab flows are `unknown` and the "
          f"accuracy counting them as misses is {f4(rule['accuracy'])}.")
    if speed:
        w(f"- **Speed**: {speed['flowsPerCpuSecond']:,} flows per CPU second on one core at batch {speed['batch']} in "
          f"{speed['runtime']} (one intra-op thread; median of {len(speed['rounds'])} rounds; wall clock "
          f"{speed['flowsPerSecond']:,} flows/s with a 1-minute load average of {speed['loadAverage1m']} on the shared "
          "2-core AMD EPYC VM the card was made on, i.e. while waiting for a core). The previous CNN: "
          + (f"{cands['baseline-cnn-2026-11']['flows_per_cpu_second']:,} flows per CPU second the same way."
             if "baseline-cnn-2026-11" in cands else "see the candidates."))
        # card/speed_elsewhere.json (optional, kept by hand): the shipped file timed the same way on other machines
        # after the card was made, so that a reader on other hardware knows how far the figure above carries
        elsewhere_path = os.path.join(CARD, "speed_elsewhere.json")
        for e in (json.load(open(elsewhere_path)) if os.path.exists(elsewhere_path) else []):
            w(f"  On {e['machine']} ({e['date']}; {e['method']}): {e['flowsPerCpuSecond']} flows per CPU second "
              f"({e['note']}; {e['source']}).")
    if oof:
        trained_on = "all" if not args.get("no_outside_train") else "none"
        w(f"- The shipped model is trained on the lab's training runs **and on {trained_on} of the outside flows**; "
          "scored on `../shared/outside` it is therefore in-sample (figures below, marked so), and the out-of-fold "
          "figures are the honest ones.")
    w("")

    # ---------------------------------------------------------------- what it is
    w("## What it is\n")
    arch = m.get("arch", "mlp")
    members = m.get("members")
    graph = ex.get("graph", {})
    if members and graph.get("fused_heads"):
        w(f"The **mean of {len(members)} multilayer perceptrons** of one recipe (seeds "
          f"{', '.join(str(x['seed']) for x in members)}; `models/train/ensemble.py` puts them in one ONNX graph on one "
          "input and averages their calibrated probabilities; the parameter-free feature part, identical in every "
          "member, is merged so it runs once, and the members' heads are stacked: one product for the shared "
          "features' part of every member's first layer, one embedding lookup for all members, the later layers as "
          "batched products over a member axis, one softmax and one mean"
          + (f"; the graph's {graph['int8_products']} products run in int8 (per-column int8 weights, activations "
             "quantized per call: `ensemble.py --int8`)" if graph.get("int8_products") else "")
          + "). Each member:\n")
    elif members:
        w(f"The **mean of {len(members)} multilayer perceptrons** of one recipe (seeds "
          f"{', '.join(str(x['seed']) for x in members)}; `models/train/ensemble.py` puts them in one ONNX graph on one "
          "input and averages their calibrated probabilities; the parameter-free feature part, identical in every "
          "member, is merged so it runs once, the members' embedding lookups on the same slots are one lookup of their "
          "tables side by side, and only the small heads run per member). Each member:\n")
    if arch == "mlp":
        w(f"A multilayer perceptron ({args.get('hidden')} and {args.get('hidden2')} ReLU units, dropout) that names the "
          f"application of a TCP flow from its first {m['sequence_length']} signed payload lengths (client->server `+len`, "
          f"server->client `-len`, zero-padded; `../shared/SPEC.md`). Everything it needs is computed inside the ONNX graph "
          "from the raw lengths (`models/train/net.py`):\n")
        w("- per position: direction, log length per direction, length / 1500, full-segment flag (>= 1200 bytes);")
        w("- flow features: packets and bytes per direction, direction switches, first and second request and response "
          "sizes, largest and mean sizes, full-segment count, who speaks first;")
        w("- **direction runs** (messages): bytes, packets and direction of the first 10 stretches of consecutive packets in "
          "one direction. A message keeps its size whatever the MSS, the segmentation offload or the capture point does to "
          "its segments, which is what other networks change;")
        w("- learned embeddings of quarter-octave buckets (~19% wide) of the first 8 lengths and of the first 6 run sizes"
          + (", and of the exact values of the first 8 lengths (handshakes and greetings have fixed sizes; "
             "`mlp-no-exact@v2` in the candidates shows what this input does in and out of the lab)"
             + ("; an exact length seen fewer than " + str(args.get("exact_min_count")) + " times in the training rows "
                "(any other network's ClientHello or banner sizes) reads one shared *unseen* embedding instead of an "
                "untrained random one, and " + f"{100 * args.get('exact_dropout', 0):.0f}" + "% of the exact lengths are "
                "replaced by it in training, so the network also names flows from their buckets and runs alone "
                "(`mlp-exact-no-vocab` in the candidates: what this bought out of the lab)."
                if args.get("exact_min_count") else ".") if args.get("exact")
             else ". Exact lengths are not embedded (see `mlp-exact` in the candidates)."))
    else:
        w("A 1D CNN over the packet positions with in-graph features (`models/train/net.py`, `PpiNet`).")
    temps = m["temperature"] if isinstance(m["temperature"], list) else [m["temperature"]]
    w(f"\nInput float32 `[N, {m['sequence_length']}]`, output float32 `[N, {len(classes)}]` probabilities (softmax, "
      f"temperature-calibrated on the validation runs: T = {', '.join(f'{t:.3f}' for t in temps)}"
      + (" for the members" if len(temps) > 1 else "") + ").\n")
    if ex:
        sha = hashlib.sha256(open(os.path.join(MODELS, "sensor.onnx"), "rb").read()).hexdigest()
        check = self_check_entry(os.path.join(MODELS, "sensor.onnx"))
        w(f"- file: `models/sensor.onnx`, {ex['bytes']:,} bytes, sha256 `{sha}`; metadata `model_version` = "
          f"`{ex['model_version']}`"
          + (f" (without its `self_check` entry, which `models/train/self_check.py` adds and which changes nothing "
             f"else: {check['bare_bytes']:,} bytes, sha256 `{check['bare_sha'][:8]}...`)" if check else ""))
        if rebuild:
            w(f"- **graph rebuilt** ({rebuild['when']}): {rebuild['what']} Its probabilities are bit-identical to the "
              f"previous build's ({rebuild['identical']}); the members, the metadata and every figure on this card "
              f"are unchanged, so the name stays. Side by side ({rebuild['speed']['how']}): "
              f"{rebuild['speed']['result']}. The speed figures below (`card/speed.json`) were measured on the "
              "previous build.")
        w(f"- metadata `training_data`: \"{ex['training_data']}\"")
        w(f"- metadata `classes`: {json.dumps(classes)}; `sequence_length`: \"{m['sequence_length']}\"")
        if bg:
            w(f"- metadata `background_classes`: [\"{bg}\"]; `unknown_threshold`: \"{m['unknown_threshold']}\"; "
              "`input_reference`: see *Drift reference* below" + ("" if check else "\n"))
        if check:
            e = check["entry"]
            w(f"- metadata `self_check` (round perf43; the format is in docs/model.md): {len(e['rows'])} input rows "
              "(those of `models/sensor.sample.csv` that `self_check.py` picks by default: every label, short and long "
              f"flows) and the probabilities {e['runtime']} gives for them as one batch, tolerance {e['tolerance']}; written by "
              f"`models/train/self_check.py` ({check['json_bytes']:,} bytes of JSON). The sensor runs the batch again at "
              "every load, on the session that will serve, and refuses the model when the runtime does not reproduce "
              "it (onnxruntime-node 1.24.x on an AVX-512 VNNI CPU: caught in every process, see the main README's "
              "design note)\n")

    # ---------------------------------------------------------------- unknown rule
    w("## The unknown rule\n")
    if bg:
        w(f"`{bg}` is a **background class**: it is trained on flows of protocols the model must not name (the "
          "outside captures' `other:*` flows, and the lab's background protocols when the corpus has them). The sensor "
          f"labels a flow `unknown` when its top class is `{bg}` **or** its top probability is below the threshold "
          f"**{m['unknown_threshold']}**. Both come from the model file (`background_classes`, `unknown_threshold`); "
          "`classify.unknownThreshold` in the config (or `--unknown-threshold`) overrides the threshold. The record keeps "
          "the top-k classes either way, so `topk` shows what the model thought.\n")
    if oof:
        ch = oof["chosen"]
        alt = m.get("rule_alternatives", {})
        w(f"The threshold was chosen on the **out-of-fold** predictions for the outside flows (plot and table below): "
          f"rule *{ch['rule']}*. At {ch['threshold']}: coverage {pct(ch['coverage'])} of known-class flows labelled, "
          f"precision of the labels given {pct(ch['precision'])}, macro-F1 {f4(ch['macro_f1'])}, other protocols "
          f"unknown {pct(ch['other_unknown'])}.")
        if "precision" in alt:
            p = alt["precision"]
            w(f"The rule the issue suggested first, *{p['rule']}*, gives threshold {p['threshold']}: coverage "
              f"{pct(p['coverage'])}, precision {pct(p['precision'])}, macro-F1 {f4(p['macro_f1'])}: it would label "
              "too few flows to be useful, so the shipped rule trades precision for coverage where the curve says so.")
        w("\n![coverage and precision against the threshold, out-of-fold](card/coverage.png)\n")
        w("| threshold | coverage (known flows labelled) | precision of labels given | macro-F1 | other protocols unknown |")
        w("| ---: | ---: | ---: | ---: | ---: |")
        for p in oof["curve"]:
            if p["threshold"] in (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99) or p["threshold"] == ch["threshold"]:
                mark = " **(rule)**" if p["threshold"] == ch["threshold"] else ""
                w(f"| {p['threshold']}{mark} | {pct(p['coverage'])} | {pct(p['precision'])} | {f4(p['macro_f1'])} | "
                  f"{pct(p['other_unknown'])} |")
        w("")
        w("Other protocols' flows (outside, out-of-fold, under the rule), by tshark label:\n")
        w("| label | flows | labelled unknown |")
        w("| --- | ---: | ---: |")
        for k, v in list(oof["score"]["other_by_protocol"].items())[:16]:
            w(f"| `{k}` | {v['n']} | {pct(v['unknown'])} |")
        w("")

    # ---------------------------------------------------------------- results side by side
    w("## Per class: in the lab and out of the lab\n")
    w(f"In the lab: held-out runs of `{lab_version}` (about 20% of each class's runs; never a run split between "
      f"training and test): {m['groups']['test']} runs, {m['test_flows']:,} flows. Out of the lab: the outside flows "
      f"with >= 4 payload packets, out-of-fold, under the unknown rule (`unknown` counts as a miss). Top-1 "
      "probabilities in the lab, the rule out of the lab.\n")
    w("| class | lab flows | lab precision | lab recall | lab F1 | outside flows | outside precision | outside recall | "
      "outside F1 | outside unknown |")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    per_out = oof["score"]["per_class"] if oof else {}
    for c in classes:
        p = net["per_class"][c]
        o = per_out.get(c)
        ocells = (f"{o['n']} | {f4(o['precision'])} | {f4(o['recall'])} | {f4(o['f1'])} | {pct(o['unknown'])}"
                  if o else f"{outs['scored'].get(c, 0)} | - | - | - | -")
        w(f"| `{c}` | {p['support']} | {f4(p['precision'])} | {f4(p['recall'])} | {f4(p['f1'])} | {ocells} |")
    w("")
    if oof:
        w("Outside classes with fewer than 5 flows are not in the macro-F1 (as in `/work/shared/tools/outside-eval`). "
          "What the outside flows of each class were called most often (out-of-fold, rule applied):\n")
        for c, v in per_out.items():
            w(f"- `{c}`: " + ", ".join(f"{k} {n}" for k, n in v["called"]))
        w("")
    misses = outside_misses(O, m)
    if misses:
        w("Where the out-of-lab misses come from (out-of-fold, rule applied; classes with recall below 0.8): the capture "
          "files holding most of a class's misses, and how many of the missed flows were seen mid-stream (no handshake) "
          "or one-sided (every length in one direction):\n")
        w("| class | missed | mid-stream | one-sided | files with the most misses (missed / flows) |")
        w("| --- | ---: | ---: | ---: | --- |")
        for c, v in misses.items():
            w(f"| `{c}` | {v['missed']} of {v['n']} | {v['midstream']} | {v['onesided']} | "
              + ", ".join(f"`{f}` {k}/{n}" for f, k, n in v["files"]) + " |")
        w("")
    w("![confusion matrix on held-out lab runs](card/confusion.png) ![reliability](card/reliability.png)\n")
    t = read_text(os.path.join(O, "eval_test.txt"))
    if t:
        w("The held-out lab rows through the exported file and the sensor's runtime "
          "(`node bin/sensor.js eval --csv models/train/out/test.csv`, top-1, no rule):\n")
        w("```\n" + t + "\n```\n")
    t = read_text(os.path.join(O, "outside_eval.txt"))
    if t:
        w("The shipped model on every outside flow through the sensor (`node bin/sensor.js eval --db "
          "models/train/out/outside.db --labels ../shared/outside/labels.csv`). **In-sample**: the shipped model was "
          "trained on these flows; the out-of-fold figures above are the estimate.\n")
        w("```\n" + t + "\n```\n")
    t = read_text(os.path.join(O, "outside_official.txt"))
    if t:
        w("And the acceptance scorer on a database the sensor classified with the shipped model (also in-sample):\n")
        w("```\n" + t + "\n```\n")

    # ---------------------------------------------------------------- candidates / ablation
    if cands:
        w("## Candidates and ablations\n")
        w(f"The shipped model follows `{a.shipped_candidate}`; the ablations (`mlp-...`) change one thing each against `mlp`. "
          "Every candidate was trained and scored the same way (`models/train/candidates.py`): lab macro-F1 on the held-out "
          "runs (top-1), outside figures out-of-fold under each candidate's own chosen threshold, speed as the sensor "
          "runs it (`bench/model-speed.js`: one intra-op thread, batch 256, median of 5 rounds; the machine was shared, "
          "the load average is in `card/candidates.json`).\n")
        w(f"Candidates named `NAME@v2` were trained on the older lab corpus v2 (28 classes) with the recipe of that "
          f"time (no unseen-length embedding; 256/128 hidden units except `mlp-small@v2`, 128/64); the others on "
          f"`{lab_version}`. Lab figures of different corpora are not comparable (other held-out runs); outside "
          "figures are (same flows, same folds).\n")
        w("| candidate | lab corpus | what | lab macro-F1 | outside macro-F1 (OOF, rule) | outside top-1 macro-F1 (OOF) | other protocols unknown | threshold | flows per CPU s | bytes |")
        w("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, c in cands.items():
            mark = " **(shipped recipe)**" if name == a.shipped_candidate else ""
            w(f"| `{name}`{mark} | {c.get('lab', '')} | {c['what']} | {f4(c.get('lab_macro_f1'))} | {f4(c.get('outside_macro_f1'))} | "
              f"{f4(c.get('outside_top1_macro_f1'))} | {pct(c.get('outside_other_unknown'))} | {c.get('threshold')} | "
              f"{c.get('flows_per_cpu_second', 0):,} | {c.get('bytes', 0):,} |")
        w("")
        steps = [(what, [n for n in names if n in cands]) for what, names in STEPS]
        steps = [(what, names) for what, names in steps if names]
        if steps:
            w("**What each step bought** (the steps of this round, in order; a step of several seeds shows their mean "
              "and, in brackets, the lowest and highest; every outside figure is out-of-fold on the same folds, under each "
              "candidate's own chosen threshold):\n")
            w("| step | candidates | lab corpus | lab macro-F1 | outside macro-F1 (OOF, rule) | other protocols unknown | "
              "flows per CPU s |")
            w("| --- | --- | --- | ---: | ---: | ---: | ---: |")

            def agg(names, key, fmt):
                vals = [cands[n].get(key) for n in names if cands[n].get(key) is not None]
                if not vals:
                    return "-"
                mean = sum(vals) / len(vals)
                return fmt(mean) + (f" ({fmt(min(vals))} to {fmt(max(vals))})" if len(vals) > 1 else "")
            for what, names in steps:
                w(f"| {what} | {', '.join(f'`{n}`' for n in names)} | {cands[names[0]].get('lab', '')} | "
                  f"{agg(names, 'lab_macro_f1', f4)} | {agg(names, 'outside_macro_f1', f4)} | "
                  f"{agg(names, 'outside_other_unknown', pct)} | "
                  f"{agg(names, 'flows_per_cpu_second', lambda v: f'{v:,.0f}')} |")
            five = a.five_member_candidate  # v5's recipe: the averaged recipes below were compared with it
            five_is = "the shipped recipe" if five == a.shipped_candidate else f"`{five}` (v5's recipe)"
            ship_pair = [cands.get(five), cands.get(five + "-b")]
            if all(c and c.get("outside_macro_f1") is not None for c in ship_pair):
                ship_mean = sum(c["outside_macro_f1"] for c in ship_pair) / 2
                for rec in ("mlp-narrow-http-headers-ens5", "mlp-narrow-http-compose-ens5", "mlp-narrow-dns-reuse-ens5"):
                    pair = [cands.get(rec), cands.get(rec + "-b")]
                    if rec == five or not all(c and c.get("outside_macro_f1") is not None for c in pair):
                        continue
                    mean = sum(c["outside_macro_f1"] for c in pair) / 2
                    spread = abs(ship_pair[0]["outside_macro_f1"] - ship_pair[1]["outside_macro_f1"])
                    verdict = ("worse; not shipped" if mean < ship_mean - 0.005 else
                               f"not clearly better (a difference well inside the {f4(spread)} between that "
                               "recipe's two draws); not shipped" if mean < ship_mean + 0.01 else "better")
                    w(f"\n`{rec}`: mean of its two draws {f4(mean)} against {f4(ship_mean)} for {five_is}: "
                      f"{verdict}.")
            ship3 = [cands.get(five + x) for x in ("", "-b", "-c")]
            e10 = [cands.get("mlp-narrow-dns-reuse-ens10" + x) for x in ("", "-b", "-c")]
            e10 = [c for c in e10 if c and c.get("outside_macro_f1") is not None]
            if all(c and c.get("outside_macro_f1") is not None for c in ship3) and e10:
                s3 = [c["outside_macro_f1"] for c in ship3]
                ev = [c["outside_macro_f1"] for c in e10]
                sp = [c.get("flows_per_cpu_second", 0) for c in e10]
                w(f"\n`mlp-narrow-dns-reuse-ens10` (ten members instead of five): its {len(ev)} draws score "
                  f"{', '.join(f4(v) for v in ev)} (mean {f4(sum(ev) / len(ev))}) against "
                  f"{', '.join(f4(v) for v in s3)} (mean {f4(sum(s3) / 3)}) for the three draws of {five_is}: "
                  f"{'not clearly better (inside that recipe draw spread of ' + f4(max(s3) - min(s3)) + ')' if sum(ev) / len(ev) < sum(s3) / 3 + max(s3) - min(s3) else 'better'}"
                  f", and ten members run at {', '.join(f'{v:,}' for v in sp)} flows per CPU s (load in "
                  "`card/candidates.json`), below the 120,000 floor the five members of v5 kept; not shipped.")
            i8 = scored_draws(cands, "mlp-narrow-dns-reuse-ens10-int8", "bcde")
            if i8:
                ev = [c["outside_macro_f1"] for _, c in i8]
                mean = sum(ev) / len(ev)
                sp8 = ", ".join(f"{c.get('flows_per_cpu_second', 0):,}" for _, c in i8)
                fast = i8[-1][1].get("flows_per_cpu_second", 0) >= 120000  # the file that would ship: the newest draw
                w(f"\n**Ten members at the speed floor** (`mlp-narrow-dns-reuse-ens10-int8`, draws {', '.join(f'`{n}`' for n, _ in i8)}): "
                  "`ensemble.py` now stacks the members' heads (one Gemm for the shared features' columns of every "
                  "member's first layer, one embedding lookup, batched MatMuls over a member axis, one Softmax, one "
                  "mean) and sums the direction runs with ScatterElements instead of a one-hot (both exact: max abs "
                  "difference ~3e-7 in probability), and `--int8` quantizes its products (per-column int8 weights, "
                  "activations quantized per call). Ten members then run at "
                  f"{sp8} "
                  "flows per CPU s (load in `card/candidates.json`). Their outside and lab figures are the float "
                  "members' average (the members' fold fits are not kept as graphs, so an int8 out-of-fold figure "
                  "cannot be made; the int8 graph's labels differ from the float graph's on "
                  f"{int8_differences(i8, 'outside')} outside rows and on {int8_differences(i8, 'lab_test')} held-out lab rows, "
                  f"`models/train/compare.js`): outside macro-F1 {', '.join(f4(v) for v in ev)} (mean **{f4(mean)}**), other protocols "
                  f"unknown {', '.join(pct(c['outside_other_unknown']) for _, c in i8)}, lab "
                  f"{', '.join(f4(c['lab_macro_f1']) for _, c in i8)}. Rule fixed before the new draws were scored: "
                  "ship the newest draw if the mean of all draws is >= 0.80, every draw >= 0.78, every draw keeps "
                  ">= 80% of other protocols unknown and lab >= 0.95, and its file runs >= 120,000 flows per CPU s: "
                  + draw_rule_verdict(i8, fast, "120,000", 2))
            i15 = scored_draws(cands, "mlp-narrow-dns-reuse-ens15-int8", "bc")
            if i15:
                ev = [c["outside_macro_f1"] for _, c in i15]
                mean = sum(ev) / len(ev)
                ship_sp = speed["flowsPerCpuSecond"] if speed and a.shipped_candidate == i15[-1][0] else None
                sp15 = ship_sp if ship_sp is not None else i15[-1][1].get("flows_per_cpu_second", 0)
                fast = sp15 >= 110000  # the file that ships: the newest draw
                seeds15 = ", ".join(f"{c['seed'][0]}-{c['seed'][-1]}" for _, c in i15)
                speeds15 = ", ".join(f"{c.get('flows_per_cpu_second', 0):,}" for _, c in i15)
                w(f"\n**Fifteen members in one stacked int8 graph** (draws {', '.join(f'`{n}`' for n, _ in i15)}: "
                  f"seeds {seeds15}, disjoint, all "
                  "counted; the rule and the draw that ships, the newest, fixed before they were scored). Outside "
                  f"macro-F1 {', '.join(f4(v) for v in ev)} (mean **{f4(mean)}**, the float members' average, "
                  f"out-of-fold), other protocols unknown {', '.join(pct(c['outside_other_unknown']) for _, c in i15)}, "
                  f"lab {', '.join(f4(c['lab_macro_f1']) for _, c in i15)}; the int8 graph's labels differ from the "
                  "float graph's on "
                  f"{int8_differences(i15, 'outside')} outside rows and on {int8_differences(i15, 'lab_test')} held-out lab rows. "
                  f"Speed: {speeds15} flows per CPU s "
                  "as collected (load in `card/candidates.json`)"
                  + (f"; the shipped file {ship_sp:,} (median of {len(speed['rounds'])} rounds, load "
                     f"{speed['loadAverage1m']}, `card/speed.json`)" if ship_sp else "")
                  + ". Rule: ship the newest draw if the mean of the three is >= 0.80, each >= 0.78, each keeps >= 80% "
                  "of other protocols unknown and lab >= 0.95, and its file runs >= 110,000 flows per CPU s (10% over "
                  "the 100,000 floor): "
                  + draw_rule_verdict(i15, fast, "110,000", 3))
            dr = os.path.join(O, "draws.json")
            if os.path.exists(dr):
                d = json.load(open(dr))
                shutil.copy(dr, os.path.join(CARD, "draws.json"))
                w(f"\n**How many members the outside figure needs** (`models/train/draws.py`: {d['draws_per_size']} random "
                  f"draws of K of {d['members']} `mlp-narrow-dns-reuse` members, their mean scored out-of-fold; rule: "
                  f"each draw's own threshold, as the candidates above; fixed: threshold {d['fixed_threshold']} for all):\n")
                w("| members | macro-F1, rule: mean (sd; lowest to highest) | macro-F1, fixed threshold: mean (sd) | "
                  "other protocols unknown, rule |")
                w("| ---: | ---: | ---: | ---: |")
                for k, v in d["sizes"].items():
                    r, fx, o = v["macro_f1_rule"], v["macro_f1_fixed"], v["other_unknown_rule"]
                    w(f"| {k} | {f4(r['mean'])} ({f4(r['sd'])}; {f4(r['min'])} to {f4(r['max'])}) | "
                      f"{f4(fx['mean'])} ({f4(fx['sd'])}) | {pct(o['mean'])} |")
            dist = [(n, cands[n]) for n in ("mlp-distill-ens10", "mlp-distill-views-ens10-c") if n in cands]
            if dist:
                w("\n**Fold-clean distillation** (`train.py --save-teacher` on the teachers, `--distill` on the student: "
                  "the student of outside fold k learns the mean of the teachers' fold-k models, which never saw fold k, "
                  "so its out-of-fold figure is honest): " + "; ".join(
                      f"`{n}` outside {f4(c.get('outside_macro_f1'))} (lab {f4(c.get('lab_macro_f1'))}, "
                      f"{c.get('flows_per_cpu_second', 0):,} flows per CPU s)" for n, c in dist)
                  + ". The student learns the teachers' probabilities on the training rows, where the teachers agree "
                  "(they were trained on them); what averaging buys is their disagreement on flows unlike the training "
                  "rows, which the rows as captured do not show it. Labelling the augmented copies with the teachers "
                  "(`--distill-views`) shows it some of that: it beats a single member, not the teachers' mean"
                  + (f" (`mlp-narrow-dns-reuse-ens10-c`, its teachers: "
                     f"{f4(cands['mlp-narrow-dns-reuse-ens10-c']['outside_macro_f1'])})"
                     if "mlp-narrow-dns-reuse-ens10-c" in cands else "") + "; not shipped.")
            w("\nLab figures of different corpora are not comparable (other held-out runs); outside figures are "
              "(same flows; the v3 seed 8 used other folds). Speeds of averaged models: the rows from "
              "`mlp-capture-ts-ens6` on were exported with the members' exact-length vocabulary folded into their "
              "tables, their temperatures into their last layers and their embedding lookups shared "
              "(`models/train/ensemble.py`); the earlier rows without (the shipped v4 graph, three 128/64 members, went "
              "from 129,228 to 137,929 flows per CPU s measured side by side at load ~7), so the narrow members' rows "
              "owe their speed to both.\n")
        w("`baseline-cnn-2026-11` never saw an outside flow, so all its outside figures are out-of-sample; it is scored at "
          "the 0.99 threshold it shipped with, over the outside classes it knows. Its lab figure is top-1 on this "
          "corpus's held-out rows of the shipped recipe, scored over all their labels (classes it lacks, such as `smb`, "
          "count as misses).\n")
        lpo_name = next((k for k in ("mlp-capture-ts-leave-programs-out", "mlp-leave-programs-out",
                                     "mlp-leave-programs-out@v3", "mlp-leave-programs-out@v2") if k in cands), None)
        lpo = cands[lpo_name].get("novel_programs") if lpo_name else None
        if lpo:
            w(f"**A client program it never saw** (`{lpo_name}`): for each class with two or more "
              "single-program clients in the lab, the least common one (>= 20 flows) was left out of training "
              "altogether and its flows scored apart, under the shipped rule:\n")
            w("| class | left-out client program | flows | recall (rule) | recall (top-1) | unknown | called |")
            w("| --- | --- | ---: | ---: | ---: | ---: | --- |")
            for c, v in lpo.items():
                called = ", ".join(f"{k} {n}" for k, n in v["called"])
                w(f"| `{c}` | {v['program']} | {v['flows']} | {f4(v['recall_rule'])} | {f4(v['recall_top1'])} | "
                  f"{pct(v['unknown'])} | {called} |")
            rr = [v["recall_rule"] for v in lpo.values()]
            w(f"\nMean recall over these {len(rr)} left-out programs: {f4(sum(rr) / len(rr))} under the rule.\n")

    # ---------------------------------------------------------------- data
    w("## Data\n")
    w(f"### Lab corpus `{lab_version}`\n")
    w(f"Made by `models/lab/` (helper *model-lab*; layout and columns in `/work/data/lab/README.md`): real Debian servers "
      "and clients in network namespaces, every row computed by the sensor itself. "
      f"{sum(p['flows'] for p in lab_per.values()):,} flows from {lab_runs} runs"
      + (f" (at most {args.get('cap_per_run')} flows of each run used)" if args.get("cap_per_run") else "") + ".\n")
    w("| label | flows | runs | client programs (flows) | servers |")
    w("| --- | ---: | ---: | --- | --- |")
    for c in sorted(lab_per):
        p = lab_per[c]
        cl = ", ".join(f"{k} ({n})" for k, n in p["clients"].most_common(8)) + (" ..." if len(p["clients"]) > 8 else "")
        sv = ", ".join(k for k, _ in p["servers"].most_common())
        w(f"| `{c}` | {p['flows']:,} | {len(p['runs'])} | {cl} | {sv} |")
    w("")
    w("Run attributes (share of runs): " + "; ".join(
        f"{k}: " + ", ".join(f"{v} {n:.0%}" for v, n in list(d.items())[:6]) for k, d in lab_attrs.items()) + "\n")
    w("### Out-of-lab flows\n")
    w(f"`../shared/outside` ({outs['files']} capture files of 13 projects' test suites; tshark labels, see its README): "
      f"`models/train/outside.py` runs the sensor over every folder, joins each flow to `labels.csv` as "
      f"`/work/shared/tools/outside-eval` does, and groups files that share a flow key or an identical sequence of >= 4 "
      f"lengths (test suites reuse traces): {outs['rows']:,} flows with payload in {outs['groups']:,} groups. "
      "Known labels train their class, `other:*` the background class; folds never split a group.\n")
    w("| tshark label | flows (>= 1 payload packet) | scored (>= 4) |")
    w("| --- | ---: | ---: |")
    for k, n in outs["labels"].most_common(24):
        w(f"| `{k}` | {n} | {outs['scored'].get(k, 0)} |")
    w("")
    bal = ("classes balanced within the lab rows and within the outside rows, the outside rows carrying "
           f"{args.get('outside_share')} of the weight (so a rare class's few real flows count as much as a common "
           "one's many; no row above 30x the median weight)" if args.get("balance") == "per-source" else
           f"class-balanced, an outside row weighing {args.get('outside_weight')} lab rows")
    seeds = ", ".join(str(x) for x in m["seed"]) if isinstance(m["seed"], list) else m["seed"]
    w(f"Training: weighted cross-entropy ({bal}), {m['args'].get('epochs')} epochs, AdamW with a one-cycle schedule, "
      f"seed {seeds} (lab split and outside folds: split seed {args.get('split_seed', 7)}). **Augmentation** (`models/train/augment.py`), on {args.get('augment')} of the rows each epoch, one "
      f"mechanism per row from `{args.get('augment_mech')}`: `mss` re-cuts every stretch of full-size segments at "
      "another MSS (536 to 8948), `coalesce` merges back-to-back segments of one direction into super-segments as "
      "segmentation offload does on an end host, `split` cuts a message into two writes; `midstream`/`oneway` (when "
      "listed) drop the first packets or one direction, as a late start or asymmetric routing does; `oneway-seen` also "
      "records the flow as the sensor then does (a server-side-only flow that missed the handshake has its server "
      "taken for the client: every length positive); `mss-ts` re-cuts at the full-segment sizes of the TCP timestamp "
      "option too (1208 to 1440 bytes: 1368 of MSS 1380, 1428 of MSS 1440 ...), which real captures show and a lab on "
      "plain Ethernet does not."
      + (" `http-headers` (content, http rows only, before the network mechanism on half their copies) grows every "
         "request of a flow by one amount (log-uniform 8 to 2048 bytes) and cuts it at an MSS where it no longer fits: "
         "real clients send cookies, long URLs and Referer headers that the lab's short URLs lack."
         if "http-headers" in str(args.get("augment_mech")) else "")
      + (" `dns-reuse` (content, dns rows only) appends the exchanges of 1-3 other dns training flows, as resolvers "
         "that reuse one TCP connection for several queries do (RFC 7766)."
         if "dns-reuse" in str(args.get("augment_mech")) else "")
      + " No noise is added to lengths.\n")

    # ---------------------------------------------------------------- drift reference
    w("## Drift reference (`input_reference` metadata)\n")
    w("The ONNX metadata key `input_reference` holds a compact picture of the training inputs and of the model's "
      "answers on held-out data, for drift monitoring. JSON, `models/train/reference.py`:\n")
    w("```\n" + REFERENCE_DOC + "\n```\n")
    w("Bin edges: `[-65535, -1448, -1199, -999, -599, -299, -149, -79, -39, -19, 0, 1, 20, 40, 80, 150, 300, 600, 1000, "
      "1200, 1449, 65536]` (21 bins, mirrored: a bin of negative lengths holds the same magnitudes as its positive twin; "
      "`[1449, 65536)` is above every common full segment, i.e. coalesced super-segments). Held-out data for "
      "`class_priors`, `confidence` and `unknown_share`: the lab test rows (shipped model) and the outside rows "
      "(out-of-fold models). A model without the key still loads; drift monitoring then has no reference.\n")

    # ---------------------------------------------------------------- limits
    w("## Limits\n")
    w("- The outside set is not a traffic mix: test-suite captures, many crafted, truncated or one-sided; a few files "
      "hold many flows of one kind (e.g. 500 echo flows in `zeek/echo-connections.pcap.gz` are 45% of the other-protocol "
      "flows; 56 of the TLS flows are mid-stream server-first flows of one file). Out-of-fold figures move a lot when one "
      "such group goes right or wrong.")
    w("- Labels out of the lab are tshark's (mostly by port); the 16 flagged mismatches are kept as they are.")
    w("- The in-sample outside figures of the shipped model are not an estimate of anything; use the out-of-fold ones.")
    w("- Classes whose outside support is tiny (dns, pop3, redis: 6 to 12 flows) have out-of-lab F1 with a wide "
      "margin of error; classes absent outside (git, rsync, memcached, ldaps, mqtts, pop3s) are measured in the lab only.")
    w("- TCP only, first 30 payload packets; flows seen mid-stream or one-sided are harder (a one-sided bulk transfer "
      "carries little more than its segment sizes: most of `pcapplusplus/650HttpResponses.pcap`'s server-side-only "
      "HTTP responses come out `unknown`, see the misses table); a protocol that looks like a known one (another TLS "
      "service) will often get that class's label.")
    if m.get("members"):
        w("- The shipped recipe was picked among the candidates below on these same out-of-fold figures (the "
          "differences between the averaged recipes are within the spread of their draws), so the shipped "
          "figure is the best of a few; the mean of its draws is the fairer estimate.")
        near = {p["threshold"]: p["macro_f1"] for p in (oof or {}).get("curve", [])}
        t0 = m["unknown_threshold"]
        nb = [(t, near[t]) for t in (round(t0 - 0.1, 3), round(t0 + 0.1, 3)) if t in near]
        w(f"- The unknown threshold ({t0}) is chosen on the same out-of-fold predictions that the outside figures are "
          "measured on, so those figures are optimistic for the threshold"
          + (" (neighbouring thresholds: " + ", ".join(f"{t}: macro-F1 {f4(v)}" for t, v in nb) + ")" if nb else "")
          + ".")
    iv = ex.get("int8_vs_float")
    if iv:
        o, t = iv["outside"], iv["lab_test"]
        w(f"- The shipped graph computes in int8; its out-of-fold and lab figures above are those of the float "
          f"members' average (the members' fold fits are not kept as graphs). The int8 graph against the float one, "
          f"same rows, in onnxruntime-node (`models/train/compare.js`): on the {o['rows']} outside rows "
          f"{o['label_differ']} labels differ ({o['top1_differ']} top-1 classes, {o['unknown_differ']} unknown "
          f"decisions; largest probability difference {o['max_abs_diff']:.4f}), on the {t['rows']} held-out lab rows "
          f"{t['label_differ']} ({t['top1_differ']} top-1, {t['unknown_differ']} unknown; {t['max_abs_diff']:.4f}).")
    w("")

    # ---------------------------------------------------------------- reproduce
    w("## Retrain\n")
    w("With your own labelled rows (`app_service,tcp_len_1..tcp_len_30`, e.g. `sensor export --format csv --label NAME` on "
      "captures of one application each; labels `other:*` train the background class):\n")
    w("```\n/usr/bin/python3 models/train/train.py --csv your.csv --export models/sensor.onnx\n```\n")
    w("(one network; `models/train/ensemble.py` averages several seeds' `--out` folders into one file as the shipped "
      "model is made.)\n")
    w("Score any model on labelled captures: `sensor eval --pcap DIR --labels labels.csv [--model M]` (or `--db` for a "
      "sensor database; labels in the columns of `../shared/outside/labels.csv`), or on labelled rows with "
      "`sensor eval --csv rows.csv`. `test/models/retrain.test.ts` trains on `models/lab/sample.csv` with `--quick`.\n")
    w("## Reproduce\n")
    w("```")
    w(f"LAB=/work/data/lab/{lab_version}      # the corpus (models/lab/, helper model-lab)")
    w("npm run build")
    w("/usr/bin/python3 models/train/outside.py                        # outside rows + groups + outside.db")
    w("/usr/bin/python3 models/train/candidates.py --csv $LAB/corpus.csv --outside models/train/out \\")
    w(f"    --out models/train/out/candidates{(' --extra ' + chr(34) + CAND_EXTRA(args) + chr(34)) if CAND_EXTRA(args) else ''}")
    if members:
        w(f"for S in {' '.join(str(x['seed']) for x in members)}; do")
        w(f"  /usr/bin/python3 models/train/train.py --csv $LAB/corpus.csv --runs $LAB/corpus.runs --outside models/train/out \\")
        w(f"      {SHIP_ARGS(args)} --seed $S --out models/train/out/seed-$S --export models/train/out/seed-$S/model.onnx")
        w("done")
        w("/usr/bin/python3 models/train/ensemble.py --members " + ",".join(f"models/train/out/seed-{x['seed']}" for x in members)
          + " \\")
        w(f"    --outside models/train/out --out models/train/out --export models/sensor.onnx --model-version {ex.get('model_version')}"
          + (" --int8" if ex.get("graph", {}).get("int8_products") else ""))
    else:
        w(f"/usr/bin/python3 models/train/train.py --csv $LAB/corpus.csv --outside models/train/out {SHIP_ARGS(args)} \\")
        w("    --export models/sensor.onnx")
    w("node bin/sensor.js eval --csv models/train/out/test.csv > models/train/out/eval_test.txt")
    w("node bin/sensor.js eval --db models/train/out/outside.db --labels ../shared/outside/labels.csv > models/train/out/outside_eval.txt")
    w("node bin/sensor.js $(for d in ../shared/outside/pcaps/*/; do echo --pcap $d; done) --db /tmp/o.db")
    w("/work/shared/tools/outside-eval --db /tmp/o.db --outside ../shared/outside > models/train/out/outside_official.txt")
    w("taskset -c 0 node bench/model-speed.js --rounds 15 > models/train/out/speed.json")
    w(f"/usr/bin/python3 models/train/sample.py --csv $LAB/corpus.csv            # models/sensor.sample.csv")
    w(f"/usr/bin/python3 models/train/card.py --lab $LAB --shipped-candidate {a.shipped_candidate}")
    w("```\n")
    w("Training packages: python3-torch python3-onnx python3-sklearn python3-matplotlib (Debian 12).")
    open(os.path.join(MODELS, "README.md"), "w").write("\n".join(W) + "\n")


# the ablation of this round, in order: (what the step did, the candidates that measure it)
STEPS = [
    ("the model shipped before (lab v3, one seed; seed 8 for the spread)", ["mlp@v3", "mlp-seed-8@v3"]),
    ("retrained on lab v4 (+ more rdp, dcerpc, kerberos, rsync runs, second servers), four seeds",
     ["mlp", "mlp-seed-8", "mlp-seed-9", "mlp-seed-10"]),
    ("mean of 2 seeds in one graph", ["mlp-ens2"]),
    ("mean of 3 seeds in one graph", ["mlp-ens3"]),
    ("mean of 4 seeds in one graph", ["mlp-ens4"]),
    ("+ capture-point augmentation (midstream, oneway-seen), six seeds",
     ["mlp-capture-seen"] + [f"mlp-capture-seen-seed-{s}" for s in (8, 9, 10, 11, 12)]),
    ("its mean of 3 seeds, two draws (seeds 7-9 and 10-12)", ["mlp-capture-seen-ens3", "mlp-capture-seen-ens3-b"]),
    ("+ timestamp-option MSS re-cuts (mss-ts), six seeds",
     ["mlp-capture-ts"] + [f"mlp-capture-ts-seed-{s}" for s in (8, 9, 10, 11, 12)]),
    ("its mean of 3 seeds, two draws (seeds 7-9 and 10-12)", ["mlp-capture-ts-ens3", "mlp-capture-ts-ens3-b"]),
    ("its mean of 6 seeds (7-12; one draw, 128/64 members: too slow for the floor)", ["mlp-capture-ts-ens6"]),
    ("64/32 members (half the hidden units), twelve seeds",
     ["mlp-narrow-capture-ts"] + [f"mlp-narrow-capture-ts-seed-{s}" for s in range(8, 19)]),
    ("their mean of 5 seeds, two draws (seeds 7-11 and 12-16)",
     ["mlp-narrow-capture-ts-ens5", "mlp-narrow-capture-ts-ens5-b"]),
    ("their mean of 6 seeds, two draws (seeds 7-12 and 13-18)",
     ["mlp-narrow-capture-ts-ens6", "mlp-narrow-capture-ts-ens6-b"]),
    ("64/32 + `http-headers` (http requests grown by real clients' header bytes), ten seeds",
     ["mlp-narrow-http-headers"] + [f"mlp-narrow-http-headers-seed-{s}" for s in range(8, 17)]),
    ("their mean of 5 seeds, two draws (seeds 7-11 and 12-16)",
     ["mlp-narrow-http-headers-ens5", "mlp-narrow-http-headers-ens5-b"]),
    ("+ `--augment-compose 0.5` (network and capture-point mechanisms on one copy), ten seeds",
     ["mlp-narrow-http-compose"] + [f"mlp-narrow-http-compose-seed-{s}" for s in range(8, 17)]),
    ("their mean of 5 seeds, two draws (seeds 7-11 and 12-16)",
     ["mlp-narrow-http-compose-ens5", "mlp-narrow-http-compose-ens5-b"]),
    ("64/32 + `http-headers` + `dns-reuse` (RFC 7766 connection reuse), ten seeds",
     ["mlp-narrow-dns-reuse"] + [f"mlp-narrow-dns-reuse-seed-{s}" for s in range(8, 17)]),
    ("their mean of 5 seeds, two draws (seeds 7-11 and 12-16)",
     ["mlp-narrow-dns-reuse-ens5", "mlp-narrow-dns-reuse-ens5-b"]),
    ("a third draw of each (seeds 17-21): `mlp-narrow-capture-ts` (v5's recipe)",
     ["mlp-narrow-capture-ts-ens5-c"]),
    ("a third draw of each (seeds 17-21): `mlp-narrow-dns-reuse`", ["mlp-narrow-dns-reuse-ens5-c"]),
    ("ten `mlp-narrow-dns-reuse` members (64/32) averaged, three draws (seeds 31-40, 41-50, 51-60)",
     ["mlp-narrow-dns-reuse-ens10", "mlp-narrow-dns-reuse-ens10-b", "mlp-narrow-dns-reuse-ens10-c"]),
    ("one 128/64 student learning the mean of ten of them fold-clean (`--distill`; teachers 31-40)",
     ["mlp-distill-ens10"]),
    ("the same with every augmented copy labelled by the teachers (`--distill-views`; teachers 51-60)",
     ["mlp-distill-views-ens10-c"]),
    ("ten `mlp-narrow-dns-reuse` members in one stacked int8 graph (figures: the float average), five draws (seeds "
     "31-40, 41-50, 51-60 and the new 61-70, 71-80)",
     ["mlp-narrow-dns-reuse-ens10-int8"] + [f"mlp-narrow-dns-reuse-ens10-int8-{k}" for k in "bcde"]),
    ("fifteen of them in one stacked int8 graph (figures: the float average), three draws (seeds 31-45, 46-60, 61-75)",
     ["mlp-narrow-dns-reuse-ens15-int8", "mlp-narrow-dns-reuse-ens15-int8-b", "mlp-narrow-dns-reuse-ens15-int8-c"]),
]


REFERENCE_DOC = """{"version": 1,
 "n_flows": N,                          # flows behind positions and payload_packets (the training inputs)
 "edges": [e0, ..., eB],                # ascending signed-length bin edges; bin i = [edges[i], edges[i+1]);
                                        # below e0 / at or above eB: clipped into the first / last bin; [0, 1) = padding
 "positions": [[p_0 .. p_B-1] x L],     # row k: share of the flows whose length at position k falls in each bin
 "payload_packets": [q_0 .. q_L],       # share of flows with n payload packets (n = 0..L, capped at L)
 "class_priors": {"<class>": p, ...},   # share of top-1 predictions per class on held-out data, before the rule
 "confidence": {"edges": [c0..cM], "probs": [M shares]},   # histogram of the top-1 probability, held-out data
 "unknown_share": u}                    # share of held-out flows the default rule labels unknown"""


def SHIP_ARGS(args):
    keys = [("cap_per_run", "--cap-per-run", 0), ("augment_mech", "--augment-mech", "mss,coalesce,split"),
            ("balance", "--balance", "per-source"), ("outside_share", "--outside-share", 0.5),
            ("drop_classes", "--drop-classes", ""),
            ("outside_weight", "--outside-weight", 3.0), ("exact", "--no-exact", True), ("rule", "--rule", "f1-other"),
            ("epochs", "--epochs", 40), ("hidden", "--hidden", 128), ("hidden2", "--hidden2", 64),
            ("exact_min_count", "--exact-min-count", 3), ("exact_dropout", "--exact-dropout", 0.05),
            ("exact_cap", "--exact-cap", 2047), ("split_seed", "--split-seed", 7),
            ("no_positions", "--no-positions", False)]
    out = []
    for k, flag, default in keys:
        v = args.get(k, default)
        if v != default:
            out.append(flag if isinstance(v, bool) else f"{flag} {v}")  # a bool differs from its default: the flag
    return " ".join(out)


def CAND_EXTRA(args):
    """The shipped arguments every candidate shares (the class set and the rows used)."""
    out = []
    if args.get("cap_per_run"):
        out.append(f"--cap-per-run {args['cap_per_run']}")
    if args.get("drop_classes"):
        out.append(f"--drop-classes {args['drop_classes']}")
    return " ".join(out)


if __name__ == "__main__":
    main()
