#!/usr/bin/env python3
"""The anomaly model out of the lab: the share of ../shared/outside flows it flags -> models/anomaly/card/outside.json.

../shared/outside holds other projects' public test captures (README.md there) with a tshark protocol label per TCP
stream and no anomaly ground truth, so what this measures is how much of someone else's traffic the shipped model
calls anomalous at its stated false-positive rate, not a false-positive rate: the set has exploits (CVE captures),
fuzzing and truncated traces besides ordinary sessions. It runs the built sensor (`npm run build`) with its defaults
over each directory of outside/pcaps into one new database and counts `anomaly` by kind of flow.

Usage: /usr/bin/python3 models/anomaly/outside.py [--outside ../shared/outside] [--db /tmp/outside-anomaly.db]
"""
import argparse
import csv
import datetime
import hashlib
import json
import os
import sqlite3
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CARD = os.path.join(HERE, "card")

# A flow the sensor saw whole: handshake, payload both ways and a normal close (Zeek's SF), not picked up midstream,
# with at least 4 payload packets (the outside set's own cut for classifier figures).
COMPLETE = "conn_state = 'SF' AND midstream = 0 AND payload_packets >= 4"


def share(db, where="1"):
    """Flows, flagged flows and their share among the labelled flows (temp table fl) that match `where`."""
    n, k = db.execute(f"SELECT count(*), coalesce(sum(anomaly), 0) FROM fl WHERE {where}").fetchone()
    return {"flows": n, "flagged": k, "share": round(k / n, 4) if n else None}


def model_version(path):
    import onnx
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    return meta.get("model_version")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outside", default=os.path.join(ROOT, "..", "shared", "outside"))
    ap.add_argument("--db", default="/tmp/outside-anomaly.db")
    a = ap.parse_args()
    pcaps = os.path.join(a.outside, "pcaps")
    if not os.path.isdir(pcaps):
        sys.exit(f"outside.py: no {pcaps} (the outside set is not on this machine)")
    for s in ("", "-wal", "-shm"):
        if os.path.exists(a.db + s):
            os.remove(a.db + s)
    failed = []
    for d in sorted(os.listdir(pcaps)):
        # The sensor exits 1 when a capture of the directory is damaged and 0 otherwise; its flows are written either way.
        r = subprocess.run(["node", os.path.join(ROOT, "bin", "sensor.js"), "--pcap", os.path.join(pcaps, d), "--db", a.db,
                            "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode not in (0, 1):
            sys.exit(f"outside.py: the sensor exited {r.returncode} on {d}: {r.stderr.strip().splitlines()[-1:]}")
        if r.returncode == 1:
            failed.append(d)
    db = sqlite3.connect(a.db)
    # The tshark label of each flow, by capture file and endpoints: protocols the classifier has a class for against
    # the rest (`other:*`).
    db.execute("CREATE TEMP TABLE lab (file TEXT, cip TEXT, cport INT, sip TEXT, sport INT, label TEXT)")
    with open(os.path.join(a.outside, "labels.csv"), newline="") as f:
        db.executemany("INSERT INTO lab VALUES (?,?,?,?,?,?)", ((r["file"], r["client_ip"], int(r["client_port"]), r["server_ip"],
                                                                 int(r["server_port"]), r["label"]) for r in csv.DictReader(f)))
    prefix = os.path.realpath(pcaps) + "/"
    db.execute("CREATE TEMP TABLE fl AS SELECT f.*, (SELECT min(l.label) FROM lab l WHERE l.file = substr(f.pcap_filename, ?) "
               "AND l.cip = f.client_ip AND l.cport = f.client_port AND l.sip = f.server_ip AND l.sport = f.server_port) AS tlabel "
               "FROM flows f", (len(prefix) + 1,))
    db.execute("UPDATE fl SET pcap_filename = substr(pcap_filename, ?)", (len(prefix) + 1,))
    q = lambda where="1": share(db, where)  # noqa: E731
    by_source = {}
    for (src,) in db.execute("SELECT DISTINCT substr(pcap_filename, 1, instr(pcap_filename, '/') - 1) FROM fl ORDER BY 1").fetchall():
        by_source[src] = q(f"substr(pcap_filename, 1, instr(pcap_filename, '/') - 1) = '{src}'")
    model = os.path.join(ROOT, "models", "anomaly.onnx")
    out = {
        "when": datetime.date.today().isoformat(),
        "command": "/usr/bin/python3 models/anomaly/outside.py",
        "model_sha256": hashlib.sha256(open(model, "rb").read()).hexdigest(),
        "model_version": model_version(model),
        "directories_with_damaged_captures": failed,
        "all": q(),
        "complete": q(COMPLETE),
        "complete_rule": COMPLETE,
        "midstream": q("midstream = 1"),
        "not_established": q("conn_state IN ('S0', 'OTH', 'SH', 'S2', 'S3', 'SHR')"),
        "known_protocol": q("tlabel IS NOT NULL AND tlabel NOT LIKE 'other%'"),
        "known_protocol_complete": q(f"tlabel IS NOT NULL AND tlabel NOT LIKE 'other%' AND {COMPLETE}"),
        "other_protocol": q("tlabel LIKE 'other%'"),
        "unmatched_label": q("tlabel IS NULL"),
        "by_source": by_source,
    }
    with open(os.path.join(CARD, "outside.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps({k: out[k] for k in ("all", "complete", "midstream", "known_protocol_complete")}))


if __name__ == "__main__":
    main()
