#!/usr/bin/env python3
"""Checks the lab's labels against tshark: for each label, what tshark calls the flows of a few runs.

  /usr/bin/python3 models/lab/check_labels.py --captures /work/data/lab/captures/b3 [--runs-per-label 3]

For every flow with payload, the label tshark gives is derived as in ../shared/outside/README.md: the first
payload frame with an application token after `tcp` (wrapper tokens nbss/tpkt/cotp/data skipped) decides; tls
on 993/636/8883/995/465 becomes imaps/ldaps/mqtts/pop3s/smtps, smb2 and nbss count as smb, `http2` as
other:http2, anything else not a class as other:TOKEN. The lab captures only 128 bytes per frame, enough for
tshark's first-message heuristics. Prints, per label, the share of flows whose tshark label equals the lab's.
"""
import argparse
import collections
import glob
import json
import os
import random
import subprocess

WRAPPERS = {"nbss", "tpkt", "cotp", "data", "mptcp"}
TLS_PORTS = {993: "imaps", 636: "ldaps", 8883: "mqtts", 995: "pop3s", 465: "smtps"}
TOKENS = {"pop": "pop3", "pgsql": "postgresql", "resp": "redis", "memcache": "memcached", "jabber": "xmpp",
          "smb2": "smb", "nbss": "smb"}
CLASSES = {"dns", "ftp", "git", "http", "imap", "ldap", "memcached", "mqtt", "mysql", "pop3", "postgresql", "redis",
           "rsync", "smtp", "ssh", "xmpp", "tls", "smb", "kerberos", "irc", "telnet", "bgp", "vnc", "rdp",
           "dcerpc"}


def tshark_labels(pcap, port):
    r = subprocess.run(["tshark", "-n", "-r", pcap, "-Y", "tcp.len > 0", "-T", "fields", "-e", "tcp.stream",
                        "-e", "frame.protocols"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=300)
    first = {}
    seen = set()
    for line in r.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) < 2:
            continue
        stream, protos = parts[0], parts[1].split(":")
        seen.add(stream)
        if stream in first or "tcp" not in protos:
            continue
        after = [p for p in protos[protos.index("tcp") + 1:] if not p.startswith("_ws")]
        app = [p for p in after if p not in WRAPPERS]
        if not app:
            continue
        tok = TOKENS.get(app[0], app[0])
        if tok == "tls":
            tok = TLS_PORTS.get(port, "tls")
        first[stream] = tok if tok in CLASSES | set(TLS_PORTS.values()) else f"other:{tok}"
    return [first.get(s, "other:undissected") for s in seen]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--captures", action="append", required=True)
    ap.add_argument("--runs-per-label", type=int, default=3)
    ap.add_argument("--labels", help="comma list (default: all)")
    a = ap.parse_args()
    by_label = collections.defaultdict(list)
    for b in a.captures:
        for j in sorted(glob.glob(os.path.join(b, "captures", "*", "*.json"))):
            m = json.load(open(j))
            if m.get("sessions") and os.path.exists(j[:-5] + ".pcap"):
                by_label[m.get("label") or m["class"]].append((j[:-5] + ".pcap", m["server_port"]))
    rng = random.Random(1)
    want = set(a.labels.split(",")) if a.labels else None
    for label in sorted(by_label):
        if want and label not in want:
            continue
        runs = rng.sample(by_label[label], min(a.runs_per_label, len(by_label[label])))
        got = collections.Counter()
        for pcap, port in runs:
            got.update(tshark_labels(pcap, port))
        n = sum(got.values())
        share = got[label] / n if n else 0.0
        print(f"{label:16} runs {len(runs):2} flows {n:5}  tshark agrees {share:6.1%}  tshark says {dict(got.most_common(4))}")


if __name__ == "__main__":
    main()
