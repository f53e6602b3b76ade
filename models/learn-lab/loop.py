#!/usr/bin/env python3
"""The learn -> train -> score loop on the learn-lab's captures (lab.py), with the sensor's own commands only:

  1. sensor learn --pcap OUT/learn.pcap --out OUT/rows.csv             labels from the handshakes (whole packets)
  2. sensor train --csv OUT/rows.csv --runs OUT/rows.runs --out OUT/model.onnx
  3. sensor --pcap OUT/score.pcap --model OUT/model.onnx --jsonl OUT/scored.jsonl   new sessions, headers only
  4. OUT/truth.csv: each scored flow's lengths, labelled by its server address (OUT/truth.json: the lab knows
     which service it ran there; no name is on the headers-only wire), then
     sensor eval --csv OUT/truth.csv --model OUT/model.onnx             macro-F1 and the per-class table

Also scores the sensor's own verdicts (the `label` of each record, after its unknown rule; unknown counts wrong).
Writes OUT/loop.json and OUT/loop.md.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SENSOR = os.path.join(ROOT, "bin", "sensor.js")


def sensor(*args, log=None):
    t0 = time.time()
    r = subprocess.run(["node", SENSOR, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sensor {' '.join(args)} failed ({r.returncode}): {r.stderr.strip().splitlines()[-1:]}")
    if log:
        log(f"sensor {' '.join(args)}: {time.time() - t0:.1f} s")
    return r


def f1_table(pairs, classes):
    out = {}
    for c in classes:
        tp = sum(1 for t, p in pairs if t == c and p == c)
        fp = sum(1 for t, p in pairs if t != c and p == c)
        fn = sum(1 for t, p in pairs if t == c and p != c)
        pr = tp / (tp + fp) if tp + fp else 0.0
        rc = tp / (tp + fn) if tp + fn else 0.0
        out[c] = {"precision": pr, "recall": rc, "f1": 2 * pr * rc / (pr + rc) if pr + rc else 0.0,
                  "support": tp + fn, "unknown": sum(1 for t, p in pairs if t == c and p == "unknown")}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    o = a.out
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)  # noqa: E731
    truth = json.load(open(os.path.join(o, "truth.json")))
    res = {"steps": {}}
    r = sensor("learn", "--pcap", os.path.join(o, "learn.pcap"), "--out", os.path.join(o, "rows.csv"), log=log)
    res["learn"] = r.stderr.strip().splitlines()[-8:]
    t0 = time.time()
    targs = ["train", "--csv", os.path.join(o, "rows.csv"), "--runs", os.path.join(o, "rows.runs"),
             "--out", os.path.join(o, "model.onnx"), "--seed", str(a.seed)]
    if a.epochs:
        targs += ["--epochs", str(a.epochs)]
    r = sensor(*targs, log=log)
    res["train_seconds"] = round(time.time() - t0, 1)
    res["train"] = r.stderr.strip().splitlines()[-1]
    scored = os.path.join(o, "scored.jsonl")
    if os.path.exists(scored):
        os.remove(scored)
    sensor("--pcap", os.path.join(o, "score.pcap"), "--model", os.path.join(o, "model.onnx"), "--jsonl", scored,
           "--no-summary", log=log)
    recs = [json.loads(line) for line in open(scored)]
    L = 30
    with open(os.path.join(o, "truth.csv"), "w") as f:
        f.write("app_service," + ",".join(f"tcp_len_{i}" for i in range(1, L + 1)) + "\n")
        n = 0
        for rec in recs:
            t = truth.get(rec["server_ip"])
            if t is None or rec["payload_packets"] == 0:
                continue
            seq = (rec["lengths"] + [0] * L)[:L]
            f.write(t + "," + ",".join(str(v) for v in seq) + "\n")
            n += 1
    res["scored_flows"] = n
    ev = sensor("eval", "--csv", os.path.join(o, "truth.csv"), "--model", os.path.join(o, "model.onnx"), log=log)
    res["eval"] = ev.stdout
    m = re.search(r"accuracy ([0-9.]+)\s+macro-F1 ([0-9.]+)", ev.stdout)
    res["eval_accuracy"], res["eval_macro_f1"] = float(m.group(1)), float(m.group(2))
    classes = sorted(set(truth.values()))
    pairs = [(truth[r["server_ip"]], r["label"]) for r in recs if r["server_ip"] in truth and r["payload_packets"] > 0]
    tab = f1_table(pairs, classes)
    res["sensor_labels"] = {"per_class": tab, "macro_f1": sum(v["f1"] for v in tab.values()) / len(tab),
                            "accuracy": sum(1 for t, p in pairs if t == p) / max(1, len(pairs)),
                            "unknown_share": sum(1 for _, p in pairs if p == "unknown") / max(1, len(pairs))}
    json.dump(res, open(os.path.join(o, "loop.json"), "w"), indent=1)
    sl = res["sensor_labels"]
    lines = [f"# learn -> train -> score on the learn-lab ({time.strftime('%Y-%m-%d')})", "",
             f"- {res['train']}", f"- scored: {n} new flows from score.pcap (headers only)", "",
             "`sensor eval --csv truth.csv --model model.onnx` (the model's top choice):", "", "```", ev.stdout.rstrip(), "```", "",
             f"The sensor's own labels (its unknown rule applied; unknown counts wrong): macro-F1 {sl['macro_f1']:.4f}, "
             f"accuracy {sl['accuracy']:.4f}, unknown {sl['unknown_share']:.3f}", "",
             "| class | precision | recall | F1 | flows | unknown |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for c, v in tab.items():
        lines.append(f"| `{c}` | {v['precision']:.4f} | {v['recall']:.4f} | {v['f1']:.4f} | {v['support']} | {v['unknown']} |")
    open(os.path.join(o, "loop.md"), "w").write("\n".join(lines) + "\n")
    log(f"eval macro-F1 {res['eval_macro_f1']:.4f} (accuracy {res['eval_accuracy']:.4f}); sensor labels macro-F1 "
        f"{sl['macro_f1']:.4f}, unknown {sl['unknown_share']:.3f}; wrote {o}/loop.json, loop.md")


if __name__ == "__main__":
    main()
