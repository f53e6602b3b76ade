#!/usr/bin/env python3
"""Port-labelled rows from captures of other networks, for a rough check outside the lab:

  /usr/bin/python3 models/train/port_check.py [--pcaps ../shared/pcaps] [--out models/train/out/ports.csv]
  node bin/sensor.js eval --csv models/train/out/ports.csv --model models/sensor.onnx

The sensor reads every capture under --pcaps (`sensor --pcap DIR --jsonl - --no-classify`); each flow whose
server port is the standard port of a model class, that started with a SYN and has at least --min-packets
payload packets becomes a row labelled by that port. A port is not ground truth (anything can run on 443),
so the result is a lower-bound sanity check, not a held-out metric.
"""
import argparse
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PORTS = {22: "ssh", 80: "http", 443: "tls", 25: "smtp", 587: "smtp", 21: "ftp", 110: "pop3", 143: "imap",
         993: "imaps", 995: "pop3s", 465: "smtps", 389: "ldap", 636: "ldaps", 3306: "mysql", 5432: "postgresql",
         6379: "redis", 11211: "memcached", 1883: "mqtt", 8883: "mqtts", 5222: "xmpp", 9418: "git", 873: "rsync",
         53: "dns"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pcaps", default=os.path.join(os.path.dirname(REPO), "shared", "pcaps"))
    ap.add_argument("--out", default=os.path.join(HERE, "out", "ports.csv"))
    ap.add_argument("--min-packets", type=int, default=3)
    a = ap.parse_args()
    files = sorted(os.path.join(d, n) for d, _, names in os.walk(a.pcaps) for n in names
                   if n.endswith((".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".trace", ".dump")))
    args = []
    for p in files:
        args += ["--pcap", p]
    r = subprocess.run(["node", os.path.join(REPO, "bin", "sensor.js")] + args + ["--jsonl", "-", "--no-classify"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=1200)
    rows, counts = [], {}
    for line in r.stdout.splitlines():
        try:
            f = json.loads(line)
        except json.JSONDecodeError:
            continue
        label = PORTS.get(f.get("server_port"))
        if label is None or f.get("midstream") or f.get("payload_packets", 0) < a.min_packets:
            continue
        lengths = (f["lengths"] + [0] * 30)[:30]
        rows.append(label + "," + ",".join(str(int(v)) for v in lengths))
        counts[label] = counts.get(label, 0) + 1
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as fh:
        fh.write("app_service," + ",".join(f"tcp_len_{i}" for i in range(1, 31)) + "\n" + "".join(x + "\n" for x in rows))
    print(json.dumps({"files": len(files), "rows": len(rows), "per_port_label": dict(sorted(counts.items())), "sensor_exit": r.returncode}))


if __name__ == "__main__":
    main()
