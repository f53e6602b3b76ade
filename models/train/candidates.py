#!/usr/bin/env python3
"""Trains and measures the candidate models side by side: accuracy in the lab, out of the lab (out-of-fold),
the unknown rule's effect, and inference speed as the sensor runs it (bench/model-speed.js: one intra-op
thread, batch 256).

  /usr/bin/python3 models/train/candidates.py --csv LAB/corpus.csv --outside models/train/out \
      [--only NAME,...] [--out models/train/out/candidates]

Each candidate is one train.py command line (CANDIDATES below); its metrics.json and model.onnx land in
OUT/NAME/. `baseline-cnn-2026-11` is the model shipped before this work, scored as it is (it never saw the
outside captures, so every outside figure of it is out-of-sample). Writes OUT/candidates.json, which card.py reads.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)


# name -> (what it tests, extra train.py arguments)
CANDIDATES = {
    "mlp": ("MLP (128/64), lab + outside rows balanced per source, background class, re-cut augmentation (mss, "
            "coalesce, split), exact first lengths with one shared embedding for lengths seen < 3 times in training "
            "and 5% exact-length dropout", []),
    "mlp-exact-dropout-10": ("the same with 10% exact-length dropout", ["--exact-dropout", "0.1"]),
    "mlp-exact-min5-dropout-20": ("the same with the shared embedding for lengths seen < 5 times and 20% dropout",
                                  ["--exact-min-count", "5", "--exact-dropout", "0.2"]),
    "mlp-seed-8": ("the same recipe, another seed (8 instead of 7): how much the figures move by chance alone",
                   ["--seed", "8"]),
    "mlp-exact-cap-1199": ("the same with exact lengths above 1199 sharing one slot (full segments: their size is the "
                           "path's MSS, not the protocol's)", ["--exact-cap", "1199"]),
    "mlp-exact-no-vocab": ("the same without the shared 'unseen' embedding and exact-length dropout (an exact length "
                           "never trained reads its random initial embedding)",
                           ["--exact-min-count", "0", "--exact-dropout", "0"]),
    "mlp-exact-no-vocab-no-new-classes": ("as mlp-exact-no-vocab, without the classes new in lab v3 (dcerpc, rdp: "
                                          "their flows train the background class)",
                                          ["--exact-min-count", "0", "--exact-dropout", "0",
                                           "--drop-classes", "irc,dcerpc,rdp"]),
    "mlp-no-positions": ("as mlp-exact-dropout-10, without the per-position channels of the first 30 lengths "
                         "(cheaper first layer)", ["--no-positions", "--exact-dropout", "0.1"]),
    "mlp-wide": ("as mlp-exact-dropout-10 with a wider MLP (256/128)",
                 ["--hidden", "256", "--hidden2", "128", "--exact-dropout", "0.1"]),
    "mlp-class-balance": ("the same with classes balanced over all rows, an outside row weighing 3 lab rows",
                          ["--balance", "class"]),
    "mlp-lab-only": ("the same trained on lab rows only: what the outside rows bought", ["--no-outside-train"]),
    "mlp-no-augment": ("the same without augmentation: what re-cutting bought", ["--augment", "0"]),
    "mlp-capture-aug": ("the same plus capture-point augmentation (midstream start, one direction only)",
                        ["--augment-mech", "mss,coalesce,split,midstream,oneway"]),
    "mlp-no-background": ("no background class: unknowns from the threshold alone", ["--background", "none"]),
    "mlp-no-exact": ("without the embedding of the exact first 8 lengths (quarter-octave buckets only)",
                     ["--no-exact"]),
    "mlp-20-epochs": ("trained 20 epochs instead of 40", ["--epochs", "20"]),
    "cnn": ("the previous CNN architecture (width 96) on the same data and recipe", ["--arch", "cnn"]),
    "mlp-lab-b0": ("the shipped recipe with the first lab's runs only (batch b0: one server and mixed programs per "
                   "class): what the diverse lab batches bought", ["--lab-batches", "b0"]),
    "mlp-leave-programs-out": ("the recipe of mlp-exact-dropout-10 without one client program per class (the least "
                               "common with >= 20 flows), scored on that program's flows: a program it never saw",
                               ["--holdout-programs", "auto", "--folds", "0", "--exact-dropout", "0.1"]),
}
CAPTURE_SEEN = ["--augment-mech", "mss,coalesce,split,midstream,oneway-seen"]
CAPTURE_TS = ["--augment-mech", "mss-ts,coalesce,split,midstream,oneway-seen"]
for _s in (8, 9, 10):
    CANDIDATES[f"mlp-seed-{_s}"] = (f"the same recipe, another seed ({_s} instead of 7; same held-out runs and folds): "
                                    "how much the figures move by training alone", ["--seed", str(_s)])
CANDIDATES["mlp-capture-seen"] = (
    "the same plus capture-point augmentation as the sensor records it: `midstream` (first packets missing) and "
    "`oneway-seen` (one direction only; server-side-only flows that missed the handshake come out all positive)",
    CAPTURE_SEEN)
CANDIDATES["mlp-capture-ts"] = (
    "as mlp-capture-seen, and `mss` also re-cuts at the full-segment sizes of the TCP timestamp option "
    "(1368, 1388, 1428 ... bytes: `mss-ts`)", CAPTURE_TS)
for _s in (8, 9, 10, 11, 12):
    CANDIDATES[f"mlp-capture-seen-seed-{_s}"] = (f"mlp-capture-seen, seed {_s}", CAPTURE_SEEN + ["--seed", str(_s)])
    CANDIDATES[f"mlp-capture-ts-seed-{_s}"] = (f"mlp-capture-ts, seed {_s}", CAPTURE_TS + ["--seed", str(_s)])

NARROW = ["--hidden", "64", "--hidden2", "32"]
CANDIDATES["mlp-narrow-capture-ts"] = (
    "mlp-capture-ts with half as many hidden units (64/32): a cheaper member, so that more of them fit the speed floor "
    "in one averaged graph", CAPTURE_TS + NARROW)
for _s in range(8, 22):
    CANDIDATES[f"mlp-narrow-capture-ts-seed-{_s}"] = (f"mlp-narrow-capture-ts, seed {_s}", CAPTURE_TS + NARROW + ["--seed", str(_s)])

HTTP_HEADERS = ["--augment-mech", "mss-ts,coalesce,split,midstream,oneway-seen,http-headers"]
COMPOSE = ["--augment-compose", "0.5"]
CANDIDATES["mlp-narrow-http-headers"] = (
    "mlp-narrow-capture-ts plus the `http-headers` content mechanism: half the augmented copies of http rows carry "
    "requests grown by what real clients add (cookies, long URLs, Referer: log-uniform 8-2048 bytes per flow), cut at "
    "the MSS where they no longer fit one segment", HTTP_HEADERS + NARROW)
CANDIDATES["mlp-narrow-http-compose"] = (
    "mlp-narrow-http-headers, and half the augmented copies go through a network mechanism (mss, mss-ts, coalesce, "
    "split) and a capture point (midstream, oneway-seen) together (`--augment-compose 0.5`)", HTTP_HEADERS + COMPOSE + NARROW)
DNS_REUSE = ["--augment-mech", "mss-ts,coalesce,split,midstream,oneway-seen,http-headers,dns-reuse"]
CANDIDATES["mlp-narrow-dns-reuse"] = (
    "mlp-narrow-http-headers plus the `dns-reuse` content mechanism: half the augmented copies of dns rows get the "
    "exchanges of 1-3 other dns training flows appended (resolvers reusing one TCP connection, RFC 7766)",
    DNS_REUSE + NARROW)
for _s in list(range(8, 22)) + list(range(31, 81)):
    CANDIDATES[f"mlp-narrow-dns-reuse-seed-{_s}"] = (f"mlp-narrow-dns-reuse, seed {_s}",
                                                      DNS_REUSE + NARROW + ["--seed", str(_s)]
                                                      + (["--save-teacher"] if 31 <= _s <= 60 else []))  # the teachers
    CANDIDATES[f"mlp-narrow-http-headers-seed-{_s}"] = (f"mlp-narrow-http-headers, seed {_s}",
                                                         HTTP_HEADERS + NARROW + ["--seed", str(_s)])
    CANDIDATES[f"mlp-narrow-http-compose-seed-{_s}"] = (f"mlp-narrow-http-compose, seed {_s}",
                                                         HTTP_HEADERS + COMPOSE + NARROW + ["--seed", str(_s)])

# fold-clean distillation (train.py --distill): teachers are mlp-narrow-dns-reuse seeds run with --save-teacher
DISTILL_TEACHERS = "models/train/out/candidates/mlp-narrow-dns-reuse-seed-{}"
CANDIDATES["mlp-distill-ens10"] = (
    "one 128/64 MLP (mlp-narrow-dns-reuse recipe, seed 31) learning the mean of 10 mlp-narrow-dns-reuse teachers "
    "(seeds 31-40) fold-clean: the student of outside fold k learns from the teachers' fold-k models (trained without "
    "fold k), the shipped one from their final models; an augmented copy learns the teachers' probabilities of the row "
    "as captured (alpha 0.7, temperature 2)",
    DNS_REUSE + ["--hidden", "128", "--hidden2", "64", "--seed", "31",
                 "--distill", ",".join(DISTILL_TEACHERS.format(s) for s in range(31, 41))])
CANDIDATES["mlp-distill-views-ens10-c"] = (
    "as mlp-distill-ens10 (teachers seeds 51-60, student seed 51), and the teachers' saved fits label every augmented "
    "copy as the student sees it (`--distill-views`)",
    DNS_REUSE + ["--hidden", "128", "--hidden2", "64", "--seed", "51", "--distill-views",
                 "--distill", ",".join(DISTILL_TEACHERS.format(s) for s in range(51, 61))])

CANDIDATES["mlp-capture-ts-leave-programs-out"] = (
    "the recipe of mlp-capture-ts without one client program per class (the least common with >= 20 flows), scored on "
    "that program's flows: a program it never saw (one network, the shipped threshold)",
    CAPTURE_TS + ["--holdout-programs", "auto", "--folds", "0"])

# name -> (what it tests, member candidates): the members' average as one ONNX file (ensemble.py)
ENSEMBLES = {
    "mlp-ens3": ("mean of the probabilities of mlp, mlp-seed-8 and mlp-seed-9 in one graph (features computed once, "
                 "three MLP heads): the seed variance averaged out", ["mlp", "mlp-seed-8", "mlp-seed-9"]),
    "mlp-ens2": ("mean of mlp and mlp-seed-8", ["mlp", "mlp-seed-8"]),
    "mlp-ens4": ("mean of mlp and mlp-seed-8, -9, -10", ["mlp", "mlp-seed-8", "mlp-seed-9", "mlp-seed-10"]),
    "mlp-capture-seen-ens3": ("mean of mlp-capture-seen and its seeds 8 and 9",
                              ["mlp-capture-seen", "mlp-capture-seen-seed-8", "mlp-capture-seen-seed-9"]),
    "mlp-capture-ts-ens3": ("mean of mlp-capture-ts and its seeds 8 and 9",
                            ["mlp-capture-ts", "mlp-capture-ts-seed-8", "mlp-capture-ts-seed-9"]),
    "mlp-capture-seen-ens3-b": ("mean of mlp-capture-seen seeds 10, 11, 12: a second draw of the averaged model",
                                [f"mlp-capture-seen-seed-{s}" for s in (10, 11, 12)]),
    "mlp-capture-ts-ens3-b": ("mean of mlp-capture-ts seeds 10, 11, 12: a second draw of the averaged model",
                              [f"mlp-capture-ts-seed-{s}" for s in (10, 11, 12)]),
    "mlp-capture-ts-ens6": ("mean of mlp-capture-ts and its seeds 8 to 12 (six 128/64 members: over the speed floor)",
                            ["mlp-capture-ts"] + [f"mlp-capture-ts-seed-{s}" for s in (8, 9, 10, 11, 12)]),
    "mlp-narrow-capture-ts-ens5": ("mean of mlp-narrow-capture-ts and its seeds 8 to 11 (five 64/32 members)",
                                   ["mlp-narrow-capture-ts"] + [f"mlp-narrow-capture-ts-seed-{s}" for s in (8, 9, 10, 11)]),
    "mlp-narrow-capture-ts-ens5-b": ("mean of mlp-narrow-capture-ts seeds 12 to 16: a second draw of the averaged model",
                                     [f"mlp-narrow-capture-ts-seed-{s}" for s in (12, 13, 14, 15, 16)]),
    "mlp-narrow-capture-ts-ens6": ("mean of mlp-narrow-capture-ts and its seeds 8 to 12 (six 64/32 members)",
                                   ["mlp-narrow-capture-ts"] + [f"mlp-narrow-capture-ts-seed-{s}" for s in (8, 9, 10, 11, 12)]),
    "mlp-narrow-capture-ts-ens6-b": ("mean of mlp-narrow-capture-ts seeds 13 to 18: a second draw of the averaged model",
                                     [f"mlp-narrow-capture-ts-seed-{s}" for s in range(13, 19)]),
    "mlp-narrow-http-headers-ens5": ("mean of mlp-narrow-http-headers and its seeds 8 to 11 (five 64/32 members)",
                                    ["mlp-narrow-http-headers"] + [f"mlp-narrow-http-headers-seed-{s}" for s in (8, 9, 10, 11)]),
    "mlp-narrow-http-headers-ens5-b": ("mean of mlp-narrow-http-headers seeds 12 to 16: a second draw",
                                      [f"mlp-narrow-http-headers-seed-{s}" for s in (12, 13, 14, 15, 16)]),
    "mlp-narrow-http-compose-ens5": ("mean of mlp-narrow-http-compose and its seeds 8 to 11 (five 64/32 members)",
                                    ["mlp-narrow-http-compose"] + [f"mlp-narrow-http-compose-seed-{s}" for s in (8, 9, 10, 11)]),
    "mlp-narrow-http-compose-ens5-b": ("mean of mlp-narrow-http-compose seeds 12 to 16: a second draw",
                                      [f"mlp-narrow-http-compose-seed-{s}" for s in (12, 13, 14, 15, 16)]),
    "mlp-narrow-dns-reuse-ens5": ("mean of mlp-narrow-dns-reuse and its seeds 8 to 11 (five 64/32 members)",
                                  ["mlp-narrow-dns-reuse"] + [f"mlp-narrow-dns-reuse-seed-{s}" for s in (8, 9, 10, 11)]),
    "mlp-narrow-dns-reuse-ens5-b": ("mean of mlp-narrow-dns-reuse seeds 12 to 16: a second draw",
                                    [f"mlp-narrow-dns-reuse-seed-{s}" for s in (12, 13, 14, 15, 16)]),
    "mlp-narrow-capture-ts-ens5-c": ("mean of mlp-narrow-capture-ts seeds 17 to 21: a third draw",
                                     [f"mlp-narrow-capture-ts-seed-{s}" for s in range(17, 22)]),
    "mlp-narrow-dns-reuse-ens5-c": ("mean of mlp-narrow-dns-reuse seeds 17 to 21: a third draw",
                                    [f"mlp-narrow-dns-reuse-seed-{s}" for s in range(17, 22)]),
    "mlp-narrow-dns-reuse-ens10": ("mean of mlp-narrow-dns-reuse seeds 31 to 40 (ten 64/32 members; the teachers of "
                                   "mlp-distill-ens10)", [f"mlp-narrow-dns-reuse-seed-{s}" for s in range(31, 41)]),
    "mlp-narrow-dns-reuse-ens10-b": ("mean of mlp-narrow-dns-reuse seeds 41 to 50: a second draw",
                                     [f"mlp-narrow-dns-reuse-seed-{s}" for s in range(41, 51)]),
    "mlp-narrow-dns-reuse-ens10-c": ("mean of mlp-narrow-dns-reuse seeds 51 to 60: a third draw",
                                     [f"mlp-narrow-dns-reuse-seed-{s}" for s in range(51, 61)]),
}
# ten members in one stacked int8 graph (ensemble.py --int8): the draws above and two of new seeds (61-70 and
# 71-80, trained for these draws); their outside and lab figures are the float members' average
for _k, _first in zip("abcde", (31, 41, 51, 61, 71)):
    ENSEMBLES["mlp-narrow-dns-reuse-ens10-int8" + ("" if _k == "a" else f"-{_k}")] = (
        f"mlp-narrow-dns-reuse seeds {_first} to {_first + 9} in one stacked int8 graph (`ensemble.py --int8`; "
        "figures: the float members' average)", [f"mlp-narrow-dns-reuse-seed-{s}" for s in range(_first, _first + 10)])
# fifteen members in one stacked int8 graph: three disjoint draws (seeds 31-45, 46-60, 61-75), fixed before scoring
for _k, _first in zip("abc", (31, 46, 61)):
    ENSEMBLES["mlp-narrow-dns-reuse-ens15-int8" + ("" if _k == "a" else f"-{_k}")] = (
        f"mlp-narrow-dns-reuse seeds {_first} to {_first + 14} in one stacked int8 graph (`ensemble.py --int8`; "
        "figures: the float members' average)", [f"mlp-narrow-dns-reuse-seed-{s}" for s in range(_first, _first + 15)])
ENSEMBLE_FLAGS = {n: ["--int8"] for n in ENSEMBLES if "-int8" in n}  # extra ensemble.py arguments
BASELINE = "baseline-cnn-2026-11"
BASELINE_COMMIT = "0aa01e7"  # the last commit with the previous models/sensor.onnx


def speed(model, rows):
    r = subprocess.run(["node", os.path.join(REPO, "bench", "model-speed.js"), "--model", model, "--rows", rows,
                        "--batch", "256", "--threads", "1", "--rounds", "5"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"model-speed failed for {model}: {r.stderr.strip()[-300:]}")
    return json.loads(r.stdout)


def sensor_eval(args):
    r = subprocess.run(["node", os.path.join(REPO, "bin", "sensor.js"), "eval"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"sensor eval {' '.join(args)} failed: {r.stderr.strip()[-300:]}")
    return r.stdout


def baseline(model, test_csv, outside_db, labels):
    """The model shipped before (trained on the first lab only, so every outside flow is out-of-sample for it),
    scored through the sensor: top-1 on the lab test rows, and on the outside flows under its 0.99 threshold."""
    import re
    lab = sensor_eval(["--csv", test_csv, "--model", model])
    out = sensor_eval(["--db", outside_db, "--labels", labels, "--model", model, "--unknown-threshold", "0.99"])
    top1 = sensor_eval(["--db", outside_db, "--labels", labels, "--model", model, "--unknown-threshold", "0"])
    other = re.search(r"other-protocol flows: \d+, labelled unknown ([0-9.]+)", out)
    known = set(json.loads(subprocess.run(
        ["/usr/bin/python3", "-c", "import onnx,sys; m=onnx.load(sys.argv[1]); "
         "print([p.value for p in m.metadata_props if p.key=='classes'][0])", model],
        stdout=subprocess.PIPE, text=True, check=True).stdout))
    f1s = [float(m_.group(2)) for m_ in re.finditer(r"^(\S+) +\d+ +[0-9.]+ +[0-9.]+ +([0-9.]+)$", lab, re.M)
           if m_.group(1) in known]
    known_flows = re.search(r"known-class flows: accuracy ([0-9.]+)  macro-F1 ([0-9.]+).*coverage ([0-9.]+)  precision of labels given ([0-9.]+)", out)
    return {"lab_macro_f1": sum(f1s) / len(f1s), "lab_macro_f1_all_labels": float(re.search(r"macro-F1 ([0-9.]+)", lab).group(1)),
            "outside_macro_f1": float(known_flows.group(2)), "outside_accuracy": float(known_flows.group(1)),
            "outside_coverage": float(known_flows.group(3)), "outside_precision": float(known_flows.group(4)),
            "outside_other_unknown": float(other.group(1)),
            "outside_top1_macro_f1": float(re.search(r"macro-F1 ([0-9.]+)", top1.split("\n")[2]).group(1)),
            "threshold": 0.99, "lab_eval": lab, "outside_eval": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--outside", required=True)
    ap.add_argument("--out", default=os.path.join(HERE, "out", "candidates"))
    ap.add_argument("--only", default="")
    ap.add_argument("--labels", default=os.path.join(os.path.dirname(REPO), "shared", "outside", "labels.csv"))
    ap.add_argument("--threads", default="2")
    ap.add_argument("--baseline-only", action="store_true",
                    help="only (re)score the previously shipped model, on OUT/mlp/test.csv and the outside flows")
    ap.add_argument("--extra", default="", help="extra train.py arguments for every candidate (space-separated)")
    ap.add_argument("--collect", action="append", default=[], metavar="NAME=DIR",
                    help="record a train.py run already made (DIR: its --out, with model.onnx) as candidate NAME "
                         "instead of training it again (NAME must be in CANDIDATES, DIR's args its recipe)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    names = [n for n in CANDIDATES if not a.only or n in a.only.split(",")]
    path = os.path.join(a.out, "candidates.json")
    results = json.load(open(path)) if os.path.exists(path) else {}
    rows = os.path.join(REPO, "models", "lab", "sample.csv")
    base_model = os.path.join(a.out, "baseline.onnx")
    if not os.path.exists(base_model):
        with open(base_model, "wb") as f:
            f.write(subprocess.run(["git", "-C", REPO, "show", f"{BASELINE_COMMIT}:models/sensor.onnx"],
                                   stdout=subprocess.PIPE, check=True).stdout)
    collected = dict(c.split("=", 1) for c in a.collect)
    for name in collected:
        if name not in CANDIDATES and name not in ENSEMBLES:
            raise SystemExit(f"--collect {name}: not a candidate (see CANDIDATES and ENSEMBLES in {__file__})")
    ens_names = [n for n in ENSEMBLES if not a.only or n in a.only.split(",")]
    if collected:
        names = [n for n in collected if n in CANDIDATES]
        ens_names = [n for n in collected if n in ENSEMBLES]
    for name in ([] if a.baseline_only else names):
        what, extra = CANDIDATES[name]
        d = collected.get(name) or os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        cmd = [sys.executable, os.path.join(HERE, "train.py"), "--csv", a.csv, "--outside", a.outside, "--out", d,
               "--export", os.path.join(d, "model.onnx"), "--threads", a.threads, "--tag", name,
               "--model-version", f"candidate-{name}"] + extra + [x for x in a.extra.split() if x]
        if "--folds" in extra and results.get("mlp", {}).get("threshold") is not None:
            cmd += ["--threshold", str(results["mlp"]["threshold"])]  # the shipped recipe's rule
        t0 = time.time()
        if name not in collected:
            with open(os.path.join(d, "train.log"), "w") as log:
                r = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
            if r.returncode != 0:
                raise SystemExit(f"{name}: train.py failed, see {d}/train.log")
        m = json.load(open(os.path.join(d, "metrics.json")))
        sp = speed(os.path.join(d, "model.onnx"), rows)
        record(results, name, what, extra, m, sp,
               m.get("train_seconds") if name in collected else round(time.time() - t0, 1))
        json.dump(results, open(path, "w"), indent=1)
        if name == "mlp" or BASELINE not in results:
            score_baseline(a, results, path, base_model, rows, collected.get("mlp"))
        print(f"{name}: lab {results[name]['lab_macro_f1']:.4f} outside {results[name]['outside_macro_f1']} "
              f"other-unknown {results[name]['outside_other_unknown']} flows/s {sp['flowsPerSecond']} "
              f"per CPU s {sp['flowsPerCpuSecond']}", flush=True)
    # ensembles after their members
    for name in ([] if a.baseline_only else ens_names):
        what, members = ENSEMBLES[name]
        d = collected.get(name) or os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        dirs = [collected.get(mb) or os.path.join(a.out, mb) for mb in members]
        if name not in collected or not os.path.exists(os.path.join(d, "metrics.json")):
            cmd = [sys.executable, os.path.join(HERE, "ensemble.py"), "--members", ",".join(dirs), "--outside",
                   a.outside, "--out", d, "--export", os.path.join(d, "model.onnx"), "--tag", name,
                   "--model-version", f"candidate-{name}"] + ENSEMBLE_FLAGS.get(name, [])
            with open(os.path.join(d, "ensemble.log"), "w") as log:
                if subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode != 0:
                    raise SystemExit(f"{name}: ensemble.py failed, see {d}/ensemble.log")
        record(results, name, what, members, json.load(open(os.path.join(d, "metrics.json"))),
               speed(os.path.join(d, "model.onnx"), rows), None)
        json.dump(results, open(path, "w"), indent=1)
    if a.baseline_only:
        score_baseline(a, results, path, base_model, rows)


def record(results, name, what, extra, m, sp, wall):
    oof = m.get("outside_oof", {})
    results[name] = {
        "what": what, "args": extra, "seed": m.get("seed"),
        "wall_seconds": wall,
        "lab": os.path.basename(os.path.dirname(os.path.abspath(m["args"]["csv"]))),
        "lab_macro_f1": m["network"]["macro_f1"], "lab_macro_f1_apps": m["network_apps"]["macro_f1"],
        "lab_classes": len(m["classes"]),
        "outside_macro_f1": oof.get("score", {}).get("macro_f1"),
        "outside_accuracy": oof.get("score", {}).get("accuracy"),
        "outside_other_unknown": oof.get("score", {}).get("other_unknown"),
        "outside_coverage": oof.get("score", {}).get("coverage"),
        "outside_precision": oof.get("score", {}).get("precision_labelled"),
        "outside_top1_macro_f1": oof.get("top1_no_rule", {}).get("macro_f1"),
        "threshold": m.get("unknown_threshold"),
        "novel_programs": m.get("novel_programs"),
        "flows_per_second": sp["flowsPerSecond"], "flows_per_cpu_second": sp["flowsPerCpuSecond"], "speed": sp,
        "bytes": sp["bytes"],
    }
    if m.get("members"):
        results[name]["members"] = m["members"]
    if m.get("export", {}).get("int8_vs_float"):
        results[name]["int8_vs_float"] = m["export"]["int8_vs_float"]


def score_baseline(a, results, path, base_model, rows, mlp_dir=None):
    test_csv = os.path.join(mlp_dir or os.path.join(a.out, "mlp"), "test.csv")
    if not os.path.exists(test_csv):
        return
    b = baseline(base_model, test_csv, os.path.join(a.outside, "outside.db"), a.labels)
    sp = speed(base_model, rows)
    b.update({"what": "the model shipped before this work (CNN, first lab only), as it was", "args": [],
              "flows_per_second": sp["flowsPerSecond"], "flows_per_cpu_second": sp["flowsPerCpuSecond"],
              "speed": sp, "bytes": sp["bytes"]})
    results[BASELINE] = b
    json.dump(results, open(path, "w"), indent=1)


if __name__ == "__main__":
    main()
