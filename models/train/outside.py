#!/usr/bin/env python3
"""Labelled flows from the out-of-lab captures (../shared/outside), grouped by file, for training and scoring.

  /usr/bin/python3 models/train/outside.py [--outside ../shared/outside] [--db flows.db] [--out models/train/out]

Without --db the sensor reads every folder of OUTSIDE/pcaps into one database first
(`sensor --pcap DIR ... --db DB --no-classify`), so every sequence is the sensor's own. Each flow is joined to
OUTSIDE/labels.csv the way /work/shared/tools/outside-eval joins them: same file, the same unordered pair of
endpoints and first_ts within 1 ms. Flows with at least one payload packet become rows. Writes to --out:

  outside.csv     app_service,tcp_len_1..tcp_len_30 with the tshark label (known classes, or other:<token>)
  outside.groups  the file group of each row, line by line (grouped k-fold never splits a group)
  outside.meta    JSON lines: file, group, server_port, payload_packets, midstream and the flow key per row
  outside.db      the sensor's database of every flow (without --db), for `sensor eval --db ... --labels`

File groups: test suites reuse traces (suricata-verify variants of one capture, zeek traces cut from others),
so files that share a flow key (endpoints, ports and first_ts within 1 ms) or an identical sequence of at least
four payload lengths are put in one group (union-find); a held-out fold then never holds a copy of a
training flow.
"""
import argparse
import csv
import ipaddress
import json
import os
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_OUTSIDE = os.path.join(os.path.dirname(REPO), "shared", "outside")
L = 30


def norm_ip(s):
    try:
        return str(ipaddress.ip_address(s))
    except ValueError:
        return s


def run_sensor(outside, db):
    pcaps = os.path.join(outside, "pcaps")
    args = []
    for d in sorted(os.listdir(pcaps)):
        if os.path.isdir(os.path.join(pcaps, d)):
            args += ["--pcap", os.path.join(pcaps, d)]
    r = subprocess.run(["node", os.path.join(REPO, "bin", "sensor.js")] + args + ["--db", db, "--no-classify"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=3600)
    # exit 1 = some capture was damaged (everything readable was still written); anything else is a failure
    if r.returncode not in (0, 1):
        raise SystemExit(f"sensor failed ({r.returncode}): {r.stderr.strip()[-400:]}")


class UnionFind:
    def __init__(self):
        self.parent = {}

    def find(self, x):
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def load(outside, db):
    """Rows of matched flows: dicts with file, label, lengths, ports, payload_packets, key."""
    truth = defaultdict(list)
    for r in csv.DictReader(open(os.path.join(outside, "labels.csv"))):
        k = (r["file"], frozenset(((norm_ip(r["client_ip"]), int(r["client_port"])),
                                   (norm_ip(r["server_ip"]), int(r["server_port"])))))
        truth[k].append((float(r["first_ts"]), r["label"]))
    pcaps = os.path.join(os.path.abspath(outside), "pcaps") + os.sep
    con = sqlite3.connect(db)
    q = ("select source, client_ip, client_port, server_ip, server_port, first_ts, payload_packets, lengths, midstream "
         "from flows where end_reason != 'active'")
    rows = []
    for src, cip, cp, sip, sp, ts, pp, lengths, mid in con.execute(q):
        f = os.path.abspath(str(src))
        f = f[len(pcaps):] if f.startswith(pcaps) else str(src).split("/pcaps/", 1)[-1]
        pair = frozenset(((norm_ip(cip), int(cp)), (norm_ip(sip), int(sp))))
        cands = truth.get((f, pair), [])
        best = min(cands, key=lambda c: abs(c[0] - ts), default=None)
        if best is None or abs(best[0] - ts) > 0.001 or pp < 1:
            continue
        seq = [int(v) for v in json.loads(lengths)][:L]
        seq += [0] * (L - len(seq))
        rows.append({"file": f, "label": best[1], "lengths": seq, "client_ip": norm_ip(cip), "client_port": int(cp),
                     "server_ip": norm_ip(sip), "server_port": int(sp), "first_ts": ts, "payload_packets": int(pp),
                     "midstream": int(mid)})
    return rows


def group_files(rows):
    uf = UnionFind()
    by_key, by_seq = defaultdict(set), defaultdict(set)
    for r in rows:
        uf.find(r["file"])
        key = (frozenset(((r["client_ip"], r["client_port"]), (r["server_ip"], r["server_port"]))),
               round(r["first_ts"], 3))
        by_key[key].add(r["file"])
        if sum(1 for v in r["lengths"] if v) >= 4:
            by_seq[tuple(r["lengths"])].add(r["file"])
    for files in list(by_key.values()) + list(by_seq.values()):
        files = sorted(files)
        for f in files[1:]:
            uf.union(files[0], f)
    return {f: uf.find(f) for f in {r["file"] for r in rows}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outside", default=DEFAULT_OUTSIDE)
    ap.add_argument("--db", help="a sensor database made from OUTSIDE/pcaps (default: run the sensor now into "
                                 "OUT/outside.db)")
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    db = a.db
    if not db:
        db = os.path.join(a.out, "outside.db")
        if os.path.exists(db):
            os.remove(db)
        run_sensor(a.outside, db)
    rows = load(a.outside, db)
    groups = group_files(rows)
    rows.sort(key=lambda r: (groups[r["file"]], r["file"], r["first_ts"], r["client_port"]))
    with open(os.path.join(a.out, "outside.csv"), "w") as f, open(os.path.join(a.out, "outside.groups"), "w") as g, \
            open(os.path.join(a.out, "outside.meta"), "w") as m:
        f.write("app_service," + ",".join(f"tcp_len_{i}" for i in range(1, L + 1)) + "\n")
        for r in rows:
            f.write(r["label"] + "," + ",".join(map(str, r["lengths"])) + "\n")
            g.write(groups[r["file"]] + "\n")
            meta = {k: r[k] for k in ("file", "client_ip", "client_port", "server_ip", "server_port", "first_ts",
                                      "payload_packets", "midstream")}
            meta["group"] = groups[r["file"]]
            m.write(json.dumps(meta) + "\n")
    sizes = Counter(groups[r["file"]] for r in rows)
    print(json.dumps({"rows": len(rows), "files": len(groups), "groups": len(sizes),
                      "largest_groups": sizes.most_common(5),
                      "labels": dict(Counter(r["label"] for r in rows).most_common())}), file=sys.stderr)


if __name__ == "__main__":
    main()
