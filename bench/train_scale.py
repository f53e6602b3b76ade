#!/usr/bin/env python3
"""The training-scale benchmark (issue 10): a synthetic who's-talking CSV of the public dataset's shape
(8.2M rows x 252 classes x 30 lengths), then

  1. load: models/train/bigcsv.py reads all of it (int16 lengths, class codes): wall time, CPU time, peak RSS,
     in a fresh process; and the same for bigcsv.read_csv, the call train.py makes (float32 matrix + labels);
  2. train: models/train/train.py, one epoch, on the first --slice rows (default 1M; a full 8.2M epoch on the
     2 shared CPU cores here takes far longer than a benchmark should): wall time of the epoch (from the
     trainer's own log), CPU time and peak RSS of the whole trainer process; the per-epoch time for 8.2M rows
     is that figure scaled by the row count (the epoch is linear in rows: fixed batch size, fixed model).

Class-dependent length distributions (per class: a packet-count range, per-position direction and log-normal
size parameters, a few fixed handshake sizes), so training has something to learn. Deterministic (--seed).
Prints a table and writes bench/out/train-scale.json. Run it through `npm run bench:train-scale`.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TRAIN = os.path.join(ROOT, "models", "train")


def class_params(K, L, seed):
    rng = np.random.default_rng(seed)
    return {
        "n_lo": rng.integers(2, 20, K),
        "n_span": rng.integers(1, 12, K),
        "p_client": rng.uniform(0.1, 0.9, (K, L)),
        "mu": rng.uniform(np.log(40), np.log(1448), (K, L)),
        "sigma": rng.uniform(0.05, 0.6, K),
        "hello": rng.integers(100, 1400, K),  # a first client size, like a greeting or ClientHello
        "first_server": rng.integers(60, 1448, K),
    }


def generate(path, rows, K, L, seed, chunk=200_000):
    P = class_params(K, L, seed)
    names = [f"app{k:03d}" for k in range(K)]
    rng = np.random.default_rng(seed + 1)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("app_service," + ",".join(f"tcp_len_{i}" for i in range(1, L + 1)) + "\n")
        done = 0
        while done < rows:
            n = min(chunk, rows - done)
            c = rng.integers(0, K, n)
            npk = P["n_lo"][c] + rng.integers(0, 1 << 30, n) % (P["n_span"][c] + 1)
            client = rng.random((n, L)) < P["p_client"][c]
            size = np.exp(P["mu"][c] + P["sigma"][c][:, None] * rng.standard_normal((n, L)))
            size = np.clip(np.rint(size), 1, 1448).astype(np.int32)
            size[:, 0] = P["hello"][c] + rng.integers(-3, 4, n)
            client[:, 0] = True
            size[:, 1] = P["first_server"][c]
            client[:, 1] = False
            X = np.where(client, size, -size)
            X[np.arange(L)[None, :] >= np.minimum(npk, L)[:, None]] = 0
            lines = [names[k] + "," + ",".join(map(str, r)) for k, r in zip(c.tolist(), X.tolist())]
            f.write("\n".join(lines) + "\n")
            done += n
    os.replace(tmp, path)


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_s(pid):
    """User + system CPU seconds of a live process (its threads included)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def child(cmd, log_path=None, mark=None, cpu_marks=()):
    """Runs cmd; returns (wall s, CPU s, peak RSS MB, stdout text, peak RSS MB before the first log line holding
    `mark`). RSS is sampled from /proc every 0.2 s (ru_maxrss of RUSAGE_CHILDREN would mix the children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    out = open(log_path, "w") if log_path else subprocess.PIPE
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
    peak = peak_mark = 0.0
    seen_mark = False
    cpu_at = {}
    while p.poll() is None:
        r = rss_mb(p.pid)
        if cpu_marks and log_path is not None and len(cpu_at) < len(cpu_marks):
            logged = open(log_path).read()
            for m in cpu_marks:
                if m not in cpu_at and m in logged:
                    cpu_at[m] = cpu_s(p.pid)
        peak = max(peak, r)
        if mark and not seen_mark:
            seen_mark = log_path is not None and mark in open(log_path).read()
            if not seen_mark:
                peak_mark = max(peak_mark, r)
        time.sleep(0.2)
    text = p.stdout.read() if not log_path else None
    wall = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if log_path:
        out.close()
        text = open(log_path).read()
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {p.returncode}):\n{text[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    child.cpu_at = cpu_at
    return wall, cpu, peak, text, peak_mark


READ_CSV_PROBE = """
import json, resource, sys, time
sys.path.insert(0, {train!r})
import bigcsv
t0 = time.time(); X, labels, groups = bigcsv.read_csv({csv!r}); t = time.time() - t0
print(json.dumps({{"rows": len(labels), "seconds": round(t, 2), "x_mb": round(X.nbytes / 2**20, 1),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}}))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=8_200_000)
    ap.add_argument("--classes", type=int, default=252)
    ap.add_argument("--length", type=int, default=30)
    ap.add_argument("--slice", type=int, default=1_000_000, help="rows of the one-epoch training run")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads of the training run (default 1: on a shared machine more threads mostly wait)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--dir", default=os.path.join(HERE, "out", "train-scale"))
    ap.add_argument("--skip", default="", help="comma list: load, read_csv, train")
    ap.add_argument("--train-augment", type=float, default=None,
                    help="train.py --augment for the epoch (0: no re-cut copies, so no augmentation setup)")
    a = ap.parse_args()
    skip = set(x for x in a.skip.split(",") if x)
    os.makedirs(a.dir, exist_ok=True)
    big = os.path.join(a.dir, f"synthetic-{a.rows}x{a.classes}-s{a.seed}.csv")
    res = {"rows": a.rows, "classes": a.classes, "length": a.length, "slice": a.slice, "threads": a.threads,
           "host": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_at_start": list(os.getloadavg()),
                    "mem_total_mb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)}}
    import torch
    res["host"]["torch"] = torch.__version__
    res["host"]["cuda"] = bool(torch.cuda.is_available())
    if not os.path.exists(big):
        t0 = time.time()
        print(f"generating {big} ...", flush=True)
        generate(big, a.rows, a.classes, a.length, a.seed)
        res["generate_seconds"] = round(time.time() - t0, 1)
    res["csv_bytes"] = os.path.getsize(big)
    py = sys.executable
    if "load" not in skip:
        wall, cpu, rss, text, _ = child([py, os.path.join(TRAIN, "bigcsv.py"), "--check", big])
        info = json.loads(text.strip().splitlines()[-1])
        res["load"] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mb": info["peak_rss_mb"],
                       "rows": info["rows"], "classes": len(info["classes"]),
                       "int16_matrix_mb": round(info["rows"] * a.length * 2 / 2**20, 1)}
        print(f"load (bigcsv, int16): {info['rows']} rows, {len(info['classes'])} classes in {wall:.1f} s wall, "
              f"{cpu:.1f} s CPU, peak RSS {info['peak_rss_mb']:.0f} MB", flush=True)
    if "read_csv" not in skip:
        wall, cpu, rss, text, _ = child([py, "-c", READ_CSV_PROBE.format(train=TRAIN, csv=big)])
        info = json.loads(text.strip().splitlines()[-1])
        res["read_csv"] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), **info}
        print(f"train.py's read_csv (float32 matrix + labels): {wall:.1f} s wall, {cpu:.1f} s CPU, "
              f"peak RSS {info['peak_rss_mb']:.0f} MB (float32 matrix {info['x_mb']:.0f} MB)", flush=True)
    if "train" not in skip:
        sl = big if a.slice >= a.rows else os.path.join(a.dir, f"slice-{a.slice}.csv")
        if not os.path.exists(sl):
            with open(big) as src, open(sl + ".tmp", "w") as dst:
                for i, line in enumerate(src):
                    if i > a.slice:
                        break
                    dst.write(line)
            os.replace(sl + ".tmp", sl)
        work = os.path.join(a.dir, "train")
        log = os.path.join(a.dir, "train.log")
        cmd = [py, os.path.join(TRAIN, "train.py"), "--csv", sl, "--out", work, "--epochs", "1", "--quick",
               "--device", "cpu", "--threads", str(a.threads)]
        if a.train_augment is not None:
            cmd += ["--augment", str(a.train_augment)]
            res["train_augment"] = a.train_augment
        wall, cpu, rss, text, rss_epoch = child(cmd, log, mark="epoch 1/1", cpu_marks=(", device ", "epoch 1/1"))
        ca = child.cpu_at
        epoch_cpu = (ca["epoch 1/1"] - ca[", device "]) if len(ca) == 2 and None not in ca.values() else None
        # the epoch: from the trainer's split line to its "epoch 1/1" line (both stamped by the trainer)
        stamps = {}
        for line in text.splitlines():
            if line.startswith("[") and "]" in line:
                t = float(line[1:line.index("]")].strip().rstrip("s"))
                if " flows, " in line or " lab rows, " in line:
                    stamps["start"] = t
                if "epoch 1/1" in line and "epoch" not in stamps:
                    stamps["epoch"] = t
        m = json.load(open(os.path.join(work, "metrics.json")))
        epoch_s = stamps["epoch"] - stamps["start"] if len(stamps) == 2 else None
        train_rows = m.get("train_flows")
        res["train"] = {"cmd": " ".join(cmd), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mb": round(rss, 1),
                        "peak_rss_mb_through_epoch": round(rss_epoch, 1), "epoch_cpu_s": epoch_cpu, "epoch_wall_s": epoch_s, "train_rows": train_rows, "slice_rows": a.slice,
                        "held_out_macro_f1_after_1_epoch": m.get("network", {}).get("macro_f1"),
                        "train_seconds_metrics": m.get("train_seconds")}
        if epoch_s:
            scale = a.rows / a.slice
            res["train"]["rows_per_s"] = round(train_rows / epoch_s)
            res["train"]["epoch_wall_s_scaled_to_full"] = round(epoch_s * scale)
            if epoch_cpu:
                res["train"]["rows_per_cpu_s"] = round(train_rows / epoch_cpu)
                res["train"]["epoch_cpu_s_scaled_to_full"] = round(epoch_cpu * scale)
        print(f"train.py, 1 epoch on {a.slice} rows ({train_rows} training rows): epoch {epoch_s:.1f} s wall "
              f"({res['train'].get('rows_per_s')} rows/s), {epoch_cpu or 0:.1f} s CPU ({res['train'].get('rows_per_cpu_s')} rows per CPU s), whole process {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss_epoch:.0f} MB through the epoch, "
              f"{rss:.0f} MB with the held-out report (confusion picture); "
              f"scaled to {a.rows} rows: ~{res['train'].get('epoch_wall_s_scaled_to_full')} s wall, "
              f"~{res['train'].get('epoch_cpu_s_scaled_to_full')} CPU s per epoch", flush=True)
    res["host"]["load_average_at_end"] = list(os.getloadavg())
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    out = os.path.join(HERE, "out", "train-scale.json")
    json.dump(res, open(out, "w"), indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
