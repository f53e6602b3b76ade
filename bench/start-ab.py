#!/usr/bin/env python3
"""Round perf43 (not shipped): a short run of two trees side by side, alternating (order swapped every round), wall
and process CPU of each run (os.wait4's rusage: user + system of the sensor process and its threads), and the
per-round differences B - A: median, and in how many rounds B was lower.

  /usr/bin/python3 bench/start-ab.py --a /work/base16 --b /work/wt/perf43 --rounds 21 --cpu 0 -- \
      --pcap ../shared/pcaps/zeek/4in6.pcap --no-progress
  [--c TREE,--model,OLD.onnx]  a third variant, e.g. the new tree on the model without its self_check entry

Every run writes a new database (`--db` is added, in a temporary folder); NODE_EXTRA_CA_CERTS is dropped.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def one(tree, args, cpu, db):
    env = {k: v for k, v in os.environ.items() if k != "NODE_EXTRA_CA_CERTS"}
    cmd = ["taskset", "-c", str(cpu), "node", os.path.join(tree, "bin", "sensor.js"), *args, "--db", db]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{tree}: exit {status}: {err.strip()[-300:]}")
    return wall * 1000, (ru.ru_utime + ru.ru_stime) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--cpu", type=int, default=0)
    ap.add_argument("--c", default=None, help="a third variant: TREE[,EXTRA ARG...] (e.g. the new tree on the old model)")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    args = [x for x in a.args if x != "--"]
    tmp = tempfile.mkdtemp(prefix="start-ab-")
    trees = {"a": (a.a, []), "b": (a.b, [])}
    if a.c:
        parts = a.c.split(",")
        trees["c"] = (parts[0], parts[1:])
    res = {k: [] for k in trees}
    for r in range(a.rounds):
        order = list(trees) if r % 2 == 0 else list(reversed(list(trees)))
        for k in order:
            db = os.path.join(tmp, f"{k}{r}.db")
            res[k].append(one(trees[k][0], args + trees[k][1], a.cpu, db))
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    med = statistics.median
    out = {}
    for i, name in enumerate(["wall_ms", "cpu_ms"]):
        A = [x[i] for x in res["a"]]
        out[name] = {"a_median": round(med(A), 1)}
        for k in [k for k in res if k != "a"]:
            B = [x[i] for x in res[k]]
            d = [b - x for x, b in zip(A, B)]
            out[name].update({f"{k}_median": round(med(B), 1), f"{k}_minus_a_median": round(med(d), 2),
                              f"{k}_lower_in": f"{sum(1 for x in d if x < 0)}/{len(d)}"})
        if "c" in res:
            C = [x[i] for x in res["c"]]
            d = [b[i] - c for b, c in zip(res["b"], C)]
            out[name].update({"b_minus_c_median": round(med(d), 2), "b_lower_than_c_in": f"{sum(1 for x in d if x < 0)}/{len(d)}"})
    out["rounds"] = a.rounds
    print(__import__("json").dumps(out))


if __name__ == "__main__":
    sys.exit(main())
