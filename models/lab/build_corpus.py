#!/usr/bin/env python3
"""Turns the lab's captures into a labelled corpus version, with the sensor itself computing every sequence.

  /usr/bin/python3 models/lab/build_corpus.py --captures /work/data/lab/captures/b0 [--captures B1 ...] \
      --out /work/data/lab/v0 [--backend sensor|oracle] [--jobs 2] [--publish]

Each --captures directory is one lab batch (`lab.py --out DIR`); its runs are DIR/captures/CLASS/RUN.pcap
with RUN.json beside it. For each capture the sensor reads it (`sensor --pcap RUN.pcap --db RUN.db
--no-classify`, then `sensor export --format csv --label LABEL`), and its rows become the corpus. The capture
filter kept only the class's server port, so every flow of a run is that run's label (a class, or
`other:NAME` for the background protocols). Flows without any payload carry no sequence and are left out.
Runs whose server did not start or where most client sessions failed are skipped and listed. Writes, in --out:
  corpus.csv          app_service,tcp_len_1..tcp_len_30, then the run's attributes: run,client,server,stack,
                      capture,offload,mtu,mss,nagle (see /work/data/lab/README.md and models/lab/README.md)
  corpus.lengths.csv  the same rows in the plain "who's talking" format (app_service,tcp_len_1..tcp_len_30)
  corpus.runs         the run of each row, line by line (train.py --runs)
  class_counts.json   flows and runs per label, per client, per server; skipped runs
--backend oracle uses /work/shared/tools/ppi-oracle instead (same rules; for developing without the sensor).
--publish also writes the committed summary: models/lab/class_counts.json and models/lab/sample.csv (a few
rows per label, drawn with a fixed seed, for the retrain test).
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
MAX_FAILED_SHARE_BY_CLASS = {"ldap": 0.8, "ldaps": 0.8,
                             # curl ends some prior-knowledge sessions with rc 16 (HTTP/2 framing error) after the
                             # exchange; the flows are complete h2c connections
                             "bg-h2c": 0.8}


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


# servers of the first lab (its RUN.json files do not name them)
FIRST_LAB_SERVERS = {
    "http": "nginx", "tls": "nginx", "ssh": "openssh", "postgresql": "postgresql", "mysql": "mariadb", "redis": "redis",
    "memcached": "memcached", "ftp": "vsftpd", "git": "git-daemon", "rsync": "rsyncd", "dns": "bind9",
    "smtp": "aiosmtpd", "smtps": "aiosmtpd", "imap": "dovecot", "imaps": "dovecot", "pop3": "dovecot",
    "pop3s": "dovecot", "ldap": "slapd", "ldaps": "slapd", "mqtt": "mosquitto", "mqtts": "mosquitto", "xmpp": "prosody",
}
# labels corrected after the run was made, with the evidence (check_labels.py): tshark dissects HTTP/2 with
# prior knowledge on port 8080 as `http` (the preface parses as a request line), so those flows are http
LABEL_BY_CLASS = {"bg-h2c": "http"}
ATTRS = ["run", "client", "server", "stack", "capture", "offload", "mtu", "mss", "nagle"]


def run_attrs(batch, meta):
    """The run-level attributes written next to every row of the run (one client program per run since b1)."""
    cond = meta["conditions"]
    programs = meta.get("programs", {})
    client = meta.get("client") or ("mixed:" + "+".join(sorted(programs)) if len(programs) != 1 else next(iter(programs)))
    mss = "/".join(str(cond[s]["advmss"] or "auto") for s in ("client", "server"))
    return {
        "run": f"{batch}/{meta['run']}",
        "client": client,
        "server": meta.get("server") or FIRST_LAB_SERVERS.get(meta["class"], "?"),
        "stack": meta.get("stack") or "mixed",
        "capture": cond["capture_side"],
        "offload": "on" if cond.get("offload") else "off",
        "mtu": str(cond["mtu"]),
        "mss": mss,
        "nagle": meta.get("nagle") or "app-default",
    }


def one(args, item):
    batch, pcap = item
    meta = json.load(open(pcap[:-5] + ".json"))
    label = LABEL_BY_CLASS.get(meta["class"]) or meta.get("label") or meta["class"]
    cache = pcap[:-5] + f".{args.backend}.csv"
    if os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(pcap):
        rows = [[int(v) for v in line.split(",")] for line in open(cache).read().splitlines() if line]
    else:
        rows = sensor_rows(pcap, label) if args.backend == "sensor" else oracle_rows(pcap, label, meta["server_port"])
        with open(cache, "w") as f:
            f.write("".join(",".join(map(str, r)) + "\n" for r in rows))
    return label, run_attrs(batch, meta), [r for r in rows if any(r)]


def publish(a, summary, results):
    import random
    json.dump(summary, open(os.path.join(HERE, "class_counts.json"), "w"), indent=1)
    rng = random.Random(1)
    by_class = {}
    for label, _attrs, rows in results:
        by_class.setdefault(label, []).extend(rows)
    with open(os.path.join(HERE, "sample.csv"), "w") as f:
        f.write("app_service," + ",".join(f"tcp_len_{i}" for i in range(1, L + 1)) + "\n")
        for label in sorted(by_class):
            rows = by_class[label]
            for r in rng.sample(rows, min(a.sample_per_class, len(rows))):
                f.write(label + "," + ",".join(map(str, r)) + "\n")


def runs_of(batch_dir):
    """(pcaps to use, skipped runs) of one batch directory."""
    pcaps, skipped = [], []
    batch = os.path.basename(os.path.normpath(batch_dir))
    for p in sorted(glob.glob(os.path.join(batch_dir, "captures", "*", "*.pcap"))):
        mp = p[:-5] + ".json"
        if not os.path.exists(mp):
            skipped.append({"run": f"{batch}/{os.path.basename(p)}", "why": "no conditions file (run still going or cut)"})
            continue
        m = json.load(open(mp))
        name = f"{batch}/{m['run']}"
        # the table here wins over the run's own max_failed_share (it can correct runs already made)
        limit = MAX_FAILED_SHARE_BY_CLASS.get(m["class"], m.get("max_failed_share", MAX_FAILED_SHARE))
        if "error" in m or not m.get("sessions"):
            skipped.append({"run": name, "why": m.get("error", "no sessions")})
        elif m["failed_sessions"] > limit * m["sessions"]:
            skipped.append({"run": name, "why": f"{m['failed_sessions']}/{m['sessions']} sessions failed"})
        else:
            pcaps.append((batch, p))
    return pcaps, skipped


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--captures", action="append", help="a lab batch directory (lab.py --out); repeat for several")
    ap.add_argument("--out", default=os.path.join(HERE, "out"), help="where the corpus files go")
    ap.add_argument("--backend", choices=["sensor", "oracle"], default="sensor")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--publish", action="store_true", help="write models/lab/class_counts.json and sample.csv")
    ap.add_argument("--sample-per-class", type=int, default=15)
    a = ap.parse_args()
    batches = a.captures or [a.out]
    pcaps, skipped = [], []
    for b in batches:
        p, s = runs_of(b)
        pcaps += p
        skipped += s
    with ThreadPoolExecutor(a.jobs) as pool:
        results = list(pool.map(lambda item: one(a, item), pcaps))
    os.makedirs(a.out, exist_ok=True)
    counts, by_client, by_server = {}, {}, {}
    header = "app_service," + ",".join(f"tcp_len_{i}" for i in range(1, L + 1))
    with open(os.path.join(a.out, "corpus.csv"), "w") as f, open(os.path.join(a.out, "corpus.lengths.csv"), "w") as h, \
            open(os.path.join(a.out, "corpus.runs"), "w") as g:
        f.write(header + "," + ",".join(ATTRS) + "\n")
        h.write(header + "\n")
        for label, attrs, rows in results:
            c = counts.setdefault(label, {"flows": 0, "runs": 0})
            c["runs"] += 1
            c["flows"] += len(rows)
            for key, table in (("client", by_client), ("server", by_server)):
                e = table.setdefault(label, {}).setdefault(attrs[key], {"flows": 0, "runs": 0})
                e["runs"] += 1
                e["flows"] += len(rows)
            # attribute values never contain commas (stacks like "BIND 9 libs (dig, host, nslookup)" get ";"), so
            # the file stays plain comma-separated for any reader
            tail = "," + ",".join(attrs[k].replace(",", ";") for k in ATTRS)
            for r in rows:
                line = label + "," + ",".join(map(str, r))
                f.write(line + tail + "\n")
                h.write(line + "\n")
                g.write(attrs["run"] + "\n")
    summary = {"backend": a.backend, "batches": [os.path.basename(os.path.normpath(b)) for b in batches],
               "classes": dict(sorted(counts.items())),
               "total_flows": sum(c["flows"] for c in counts.values()),
               "total_runs": sum(c["runs"] for c in counts.values()),
               "clients": {k: dict(sorted(v.items())) for k, v in sorted(by_client.items())},
               "servers": {k: dict(sorted(v.items())) for k, v in sorted(by_server.items())},
               "skipped_runs": skipped}
    json.dump(summary, open(os.path.join(a.out, "class_counts.json"), "w"), indent=1)
    print(json.dumps({k: summary[k] for k in ("batches", "classes", "total_flows", "total_runs")}, indent=1))
    if a.publish:
        publish(a, summary, results)
    print(f"{len(skipped)} runs skipped (see class_counts.json)", file=sys.stderr)


if __name__ == "__main__":
    main()
