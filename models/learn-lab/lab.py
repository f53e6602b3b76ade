#!/usr/bin/env python3
"""The learn-lab (issue 10): traffic of five distinct TLS services in network namespaces this script creates,
captured twice: whole packets for `sensor learn` (the training tap), then NEW sessions headers-only for scoring.

  sudo /usr/bin/python3 models/learn-lab/lab.py --out models/learn-lab/out [--learn 120] [--score 50]
  /usr/bin/python3 models/learn-lab/loop.py --out models/learn-lab/out        (learn -> train -> score -> eval)

Two namespaces (client `llc`, server `lls`) joined by one veth pair with offloads off (wire-size segments);
server addresses 10.77.6.10-14 (one per service), client addresses 10.77.6.100-139 (one per simulated user).
No traffic leaves the namespaces. Writes OUT/learn.pcap (snaplen 0), OUT/score.pcap (snaplen 96), OUT/truth.json
(server address -> label, the scoring truth) and OUT/lab.json (sessions run/failed, seeds, tool versions).
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from services import CLIENT_IPS, NET, SERVICES  # noqa: E402

CNS, SNS = "llc", "lls"


def sh(*a, check=True):
    return subprocess.run(list(a), check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def nsx(ns):
    return ["ip", "netns", "exec", ns]


def teardown():
    for ns in (CNS, SNS):
        sh("ip", "netns", "pids", ns, check=False)
        pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
        for p in pids:
            try:
                os.kill(int(p), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        sh("ip", "netns", "del", ns, check=False)


def setup():
    teardown()
    for ns in (CNS, SNS):
        sh("ip", "netns", "add", ns)
        sh(*nsx(ns), "ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", "c0", "netns", CNS, "type", "veth", "peer", "name", "s0", "netns", SNS)
    for ns, i in ((CNS, "c0"), (SNS, "s0")):
        sh(*nsx(ns), "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        sh(*nsx(ns), "ethtool", "-K", i, "tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off", check=False)
        sh(*nsx(ns), "ip", "link", "set", i, "up")
    for ip in CLIENT_IPS:
        sh(*nsx(CNS), "ip", "addr", "add", f"{ip}/24", "dev", "c0")
    for s in SERVICES:
        sh(*nsx(SNS), "ip", "addr", "add", f"{s['ip']}/24", "dev", "s0")


def content(www, seed):
    rng = random.Random(seed)
    def blob(path, n):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(rng.randbytes(n))
    for i in range(20):
        blob(f"{www}/pages/p/{i}.html", rng.randint(15_000, 60_000))
    for i in range(60):
        for ext in ("css", "js", "png"):
            blob(f"{www}/pages/r/{i}.{ext}", rng.randint(500, 40_000))
    for i in range(100):
        os.makedirs(f"{www}/api/v1/items", exist_ok=True)
        n = rng.randint(60, 1400)
        body = {"id": i, "name": "item%d" % i, "tags": ["t%d" % rng.randint(0, 99) for _ in range(n // 40)],
                "price": round(rng.uniform(1, 500), 2)}
        with open(f"{www}/api/v1/items/{i}.json", "w") as f:
            json.dump(body, f)
    for i in range(6):
        blob(f"{www}/downloads/f/{i}.bin", rng.randint(1 << 20, 6 << 20))
    blob(f"{www}/video/v/movie.mp4", 24 << 20)


def certs(d):
    os.makedirs(d, exist_ok=True)
    for s in SERVICES:
        c, k = f"{d}/{s['key']}.crt", f"{d}/{s['key']}.key"
        if not os.path.exists(c):
            sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", k, "-out", c, "-days", "30",
               "-subj", f"/CN={s['name']}", "-addext", f"subjectAltName=DNS:{s['name']}")


def nginx_conf(d, www, pki):
    servers = "".join(f"""
  server {{ listen {s['ip']}:443 ssl; server_name {s['name']}; root {www}/{s['key']};
           ssl_certificate {pki}/{s['key']}.crt; ssl_certificate_key {pki}/{s['key']}.key; }}"""
                      for s in SERVICES if s["key"] != "chat")
    conf = f"""user root; worker_processes 2; daemon off; pid {d}/nginx.pid; error_log {d}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{ access_log off; sendfile on; keepalive_requests 1000; keepalive_timeout 30;
  client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp; uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;
  types {{ text/html html; application/json json; text/css css; application/javascript js; image/png png;
          application/octet-stream bin; video/mp4 mp4; }}{servers}
}}
"""
    os.makedirs(f"{d}/tmp", exist_ok=True)
    with open(f"{d}/nginx.conf", "w") as f:
        f.write(conf)
    return f"{d}/nginx.conf"


def capture(out, snaplen, sessions, seed, log):
    """tcpdump on the server side while the client runs `sessions` sessions of each service."""
    cap = subprocess.Popen([*nsx(SNS), "tcpdump", "-i", "s0", "-s", str(snaplen), "-U", "-w", out, "tcp port 443"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.5)
    t0 = time.time()
    r = sh(*nsx(CNS), sys.executable, os.path.join(HERE, "client.py"), str(sessions), str(seed))
    took = time.time() - t0
    time.sleep(1.5)
    cap.send_signal(signal.SIGINT)
    _, err = cap.communicate(timeout=30)
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res.update({"seconds": round(took, 1), "tcpdump": err.decode().strip().splitlines()[-3:], "snaplen": snaplen,
                "client_errors": r.stderr.strip().splitlines()[:10]})
    log(f"{os.path.basename(out)}: {res['done']} sessions done, failed {res['failed']}, {took:.0f} s")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--learn", type=int, default=120, help="sessions per service on the training tap")
    ap.add_argument("--score", type=int, default=50, help="new sessions per service, captured headers-only")
    ap.add_argument("--score-snaplen", type=int, default=96)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    a.out = os.path.abspath(a.out)
    if os.geteuid() != 0:
        raise SystemExit("lab.py needs root (network namespaces, tcpdump)")
    for tool in ("nginx", "tcpdump", "openssl", "ethtool"):
        if shutil.which(tool) is None:
            raise SystemExit(f"lab.py needs {tool} (apt-get install nginx-light tcpdump openssl ethtool)")
    os.makedirs(a.out, exist_ok=True)
    work = os.path.join(a.out, "work")
    os.makedirs(work, exist_ok=True)
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)  # noqa: E731
    www, pki = os.path.join(work, "www"), os.path.join(work, "pki")
    if not os.path.exists(www):
        content(www, a.seed)
    certs(pki)
    conf = nginx_conf(work, www, pki)
    procs = []
    try:
        setup()
        procs.append(subprocess.Popen([*nsx(SNS), "nginx", "-c", conf, "-p", work], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        chat = next(s for s in SERVICES if s["key"] == "chat")
        procs.append(subprocess.Popen([*nsx(SNS), sys.executable, os.path.join(HERE, "chatd.py"), chat["ip"],
                                       f"{pki}/chat.crt", f"{pki}/chat.key"], stdout=subprocess.DEVNULL))
        for _ in range(50):  # every service answers before any capture starts
            down = [s for s in SERVICES if sh(*nsx(CNS), "bash", "-c", f"exec 3<>/dev/tcp/{s['ip']}/443", check=False).returncode]
            if not down:
                break
            time.sleep(0.2)
        else:
            err = open(os.path.join(work, "nginx-error.log")).read()[-500:] if os.path.exists(os.path.join(work, "nginx-error.log")) else ""
            raise SystemExit(f"services not answering: {[s['key'] for s in down]} {err}")
        info = {"seed": a.seed, "services": SERVICES, "nginx": sh("nginx", "-v").stderr.strip(),
                "python": sys.version.split()[0], "openssl": sh("openssl", "version").stdout.strip()}
        info["learn"] = capture(os.path.join(a.out, "learn.pcap"), 0, a.learn, a.seed, log)
        info["score"] = capture(os.path.join(a.out, "score.pcap"), a.score_snaplen, a.score, a.seed + 1000, log)
    finally:
        for p in procs:
            p.terminate()
        teardown()
    with open(os.path.join(a.out, "truth.json"), "w") as f:
        json.dump({s["ip"]: s["label"] for s in SERVICES}, f, indent=1)
    with open(os.path.join(a.out, "lab.json"), "w") as f:
        json.dump(info, f, indent=1)
    log(f"wrote {a.out}/learn.pcap, score.pcap, truth.json, lab.json")


if __name__ == "__main__":
    main()
