#!/usr/bin/env python3
"""Turns the lab's captures into the labelled corpus, with the sensor itself computing every sequence.

  /usr/bin/python3 models/lab/build_corpus.py [--out models/lab/out] [--backend sensor|oracle] [--jobs 2]

For each capture OUT/captures/CLASS/RUN.pcap with its RUN.json: the sensor reads it
(`sensor --pcap RUN.pcap --db RUN.db --no-classify`, then `sensor export --format csv --label CLASS`), and
its rows become the corpus. The capture filter already kept only the class's server port, so every flow in
a run is that class. Flows without any payload carry no sequence and are left out. Runs whose server did
not start or where most client sessions failed are skipped and listed. Writes:
  OUT/corpus.csv          app_service,tcp_len_1..tcp_len_30 (the "who's talking" format)
  OUT/corpus.runs         the lab run of each corpus row, line by line (training splits by run)
  OUT/class_counts.json   flows and runs per class, skipped runs
--backend oracle uses /work/shared/tools/ppi-oracle instead (same rules; for developing without the sensor).
--publish also writes the committed summary: models/lab/class_counts.json and models/lab/sample.csv (a few
rows per class, drawn with a fixed seed, for the retrain test).
"""
import argparse
import csv
import glob
import io
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
L = 30
MAX_FAILED_SHARE = 0.5  # a run where more sessions failed than this measured a broken setup, not the class
# ldap clients ask for wrong passwords, too-large results and false compares on purpose: those sessions
# "fail" with an LDAP result code but are complete, real exchanges
MAX_FAILED_SHARE_BY_CLASS = {"ldap": 0.8, "ldaps": 0.8}


def sensor_rows(pcap, label):
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "run.db")
        r = subprocess.run(["node", os.path.join(REPO, "bin", "sensor.js"), "--pcap", pcap, "--db", db, "--no-classify"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"sensor --pcap {pcap} failed: {r.stderr.strip()[-300:]}")
        r = subprocess.run(["node", os.path.join(REPO, "bin", "sensor.js"), "export", "--db", db, "--format", "csv",
                            "--label", label], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"sensor export for {pcap} failed: {r.stderr.strip()[-300:]}")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    if not rows or rows[0][:2] != ["app_service", "tcp_len_1"]:
        raise RuntimeError(f"sensor export for {pcap}: unexpected header {rows[:1]}")
    return [[int(float(v)) for v in row[1:L + 1]] for row in rows[1:] if row]


def oracle_rows(pcap, label, port):
    r = subprocess.run(["/work/shared/tools/ppi-oracle", pcap], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"ppi-oracle {pcap} failed: {r.stderr.strip()[-300:]}")
    out = []
    for line in r.stdout.splitlines():
        f = json.loads(line)
        if not f["server"].endswith(f":{port}"):
            continue
        ppi = f["ppi"][:L]
        out.append(ppi + [0] * (L - len(ppi)))
    return out


def one(args, pcap):
    meta_path = pcap[:-5] + ".json"
    meta = json.load(open(meta_path))
    label, run = meta["class"], meta["run"]
    cache = pcap[:-5] + f".{args.backend}.csv"
    if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(pcap):
        rows = [[int(v) for v in line.split(",")] for line in open(cache).read().splitlines() if line]
    else:
        rows = sensor_rows(pcap, label) if args.backend == "sensor" else oracle_rows(pcap, label, meta["server_port"])
        with open(cache, "w") as f:
            f.write("".join(",".join(map(str, r)) + "\n" for r in rows))
    return label, run, [r for r in rows if any(r)]


def publish(a, summary, results):
    import random
    json.dump(summary, open(os.path.join(HERE, "class_counts.json"), "w"), indent=1)
    rng = random.Random(1)
    by_class = {}
    for label, run, rows in results:
        by_class.setdefault(label, []).extend(rows)
    with open(os.path.join(HERE, "sample.csv"), "w") as f:
        f.write("app_service," + ",".join(f"tcp_len_{i}" for i in range(1, L + 1)) + "\n")
        for label in sorted(by_class):
            rows = by_class[label]
            for r in rng.sample(rows, min(a.sample_per_class, len(rows))):
                f.write(label + "," + ",".join(map(str, r)) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--backend", choices=["sensor", "oracle"], default="sensor")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--publish", action="store_true", help="write models/lab/class_counts.json and sample.csv")
    ap.add_argument("--sample-per-class", type=int, default=15)
    a = ap.parse_args()
    pcaps, skipped = [], []
    for p in sorted(glob.glob(os.path.join(a.out, "captures", "*", "*.pcap"))):
        mp = p[:-5] + ".json"
        if not os.path.exists(mp):
            skipped.append({"run": os.path.basename(p), "why": "no conditions file (run still going or cut)"})
            continue
        m = json.load(open(mp))
        if "error" in m or not m.get("sessions"):
            skipped.append({"run": m["run"], "why": m.get("error", "no sessions")})
        elif m["failed_sessions"] > MAX_FAILED_SHARE_BY_CLASS.get(m["class"], MAX_FAILED_SHARE) * m["sessions"]:
            skipped.append({"run": m["run"], "why": f"{m['failed_sessions']}/{m['sessions']} sessions failed"})
        else:
            pcaps.append(p)
    with ThreadPoolExecutor(a.jobs) as pool:
        results = list(pool.map(lambda p: one(a, p), pcaps))
    counts = {}
    with open(os.path.join(a.out, "corpus.csv"), "w") as f, open(os.path.join(a.out, "corpus.runs"), "w") as g:
        f.write("app_service," + ",".join(f"tcp_len_{i}" for i in range(1, L + 1)) + "\n")
        for label, run, rows in results:
            c = counts.setdefault(label, {"flows": 0, "runs": 0})
            c["runs"] += 1
            c["flows"] += len(rows)
            for r in rows:
                f.write(label + "," + ",".join(map(str, r)) + "\n")
                g.write(run + "\n")
    summary = {"backend": a.backend, "classes": dict(sorted(counts.items())),
               "total_flows": sum(c["flows"] for c in counts.values()),
               "total_runs": sum(c["runs"] for c in counts.values()), "skipped_runs": skipped}
    json.dump(summary, open(os.path.join(a.out, "class_counts.json"), "w"), indent=1)
    print(json.dumps({k: v for k, v in summary.items() if k != "skipped_runs"}, indent=1))
    if a.publish:
        publish(a, summary, results)
    print(f"{len(skipped)} runs skipped (see class_counts.json)", file=sys.stderr)


if __name__ == "__main__":
    main()
