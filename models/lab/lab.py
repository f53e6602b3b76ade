#!/usr/bin/env python3
"""The traffic lab: real Debian servers and clients in network namespaces, one class per run.

  sudo /usr/bin/python3 models/lab/lab.py --classes http,ssh --runs 4 --sessions 40 --slots 2 --seed 1

For every run: draw network conditions (conditions.py), set them on a fresh slot (netns.py), start the
class's server, capture only the server port with tcpdump (headers only), run randomised client
sessions, stop everything and write RUN.pcap with RUN.json (conditions, programs, failures) beside it
under --out/captures/CLASS/. Namespaces and processes are removed on exit, also after an error.
"""
import argparse
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import traceback
import zlib
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from conditions import draw, draw_v2  # noqa: E402
from netns import Slot, sh  # noqa: E402
from pki import ensure_pki  # noqa: E402
from services import REGISTRY  # noqa: E402
from services.base import program_name  # noqa: E402

BINDIR = [""]
SESSION_TIMEOUT_S = 40  # one client session; a stuck client is killed and counted as failed
RUN_LIMIT_S = 300  # whole run, whatever the sessions do


class Ctx:
    """What a service needs to start its server and build client commands for one slot."""

    def __init__(self, slot, work, pki, out, env=None):
        self.slot, self.work, self.pki, self.out = slot, work, pki, out
        self.sip, self.cip = slot.sip, slot.cip
        self.lab = HERE
        self.env = env or {}  # added to the server's and the clients' environment (the Nagle shim)
        self.bindir = BINDIR[0]  # helper programs built by Service.tools()

    def srv(self, argv, **kw):
        if self.env:
            kw.setdefault("env", dict(os.environ, **self.env))
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", open(os.path.join(self.work, "server.log"), "ab"))
        # each server in its own session and process group: Samba's smbd answers SIGTERM with kill(0, SIGTERM), which
        # without this reached the whole lab (the lab process itself, tcpdump, the relays and sessions of every slot)
        kw.setdefault("start_new_session", True)
        return subprocess.Popen(slot_exec(self.slot.sns) + argv, **kw)

    def srv_run(self, argv, **kw):
        return subprocess.run(slot_exec(self.slot.sns) + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, **kw)


def slot_exec(ns):
    return ["ip", "netns", "exec", ns]


def wait_listen(slot, port, limit=30.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        r = sh(*slot_exec(slot.sns), "ss", "-Htln", f"sport = :{port}", check=False)
        if r.stdout.strip():
            return True
        time.sleep(0.2)
    return False


def stop_procs(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_session(slot, argv, env, limit=SESSION_TIMEOUT_S):
    t0 = time.monotonic()
    try:
        r = subprocess.run(slot_exec(slot.cns) + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=limit, env=env)
        return r.returncode, time.monotonic() - t0, r.stderr[-300:].decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return -9, time.monotonic() - t0, "timeout"


def one_run(slot, svc, run_id, seed, args, pki):
    rng = random.Random(seed)
    cond = draw(rng) if args.conditions == "v1" else draw_v2(rng)
    cls_dir = os.path.join(args.out, "captures", svc.name)
    os.makedirs(cls_dir, exist_ok=True)
    base = os.path.join(cls_dir, f"{svc.name}-{run_id}")
    work = os.path.join(args.work, f"slot{slot.k}", svc.name)
    os.makedirs(work, exist_ok=True)
    nagle = cond.get("nagle", "app-default")
    shim = {} if nagle == "app-default" else {"LD_PRELOAD": args.nagle_so,
                                              "SENSOR_LAB_NODELAY": "1" if nagle == "nodelay" else "0"}
    ctx = Ctx(slot, work, pki, args.out, shim)
    if not getattr(svc, f"_prepared_{slot.k}", False):
        svc.prepare(ctx)
        setattr(svc, f"_prepared_{slot.k}", True)
    slot.apply(cond, seed)
    server_opts = svc.server_options(rng)
    if args.conditions != "v1":
        server_opts["server"] = svc.pick_server(rng)
        if args.server:  # before the program is drawn: some programs do not work with every server (rdesktop)
            server_opts["server"] = args.server
        prog = svc.pick_program(rng, server_opts)
        if args.program:
            prog = args.program
        svc.adjust_options(prog, server_opts)
    else:
        prog = ""
    procs = svc.start(ctx, server_opts)
    meta = {"class": svc.name, "label": svc.label or svc.name, "run": f"{svc.name}-{run_id}", "seed": seed,
            "server_port": svc.port, "server_ip": slot.sip, "client_ip": slot.cip, "conditions": cond,
            "server_options": server_opts, "server": server_opts.get("server", ""), "client": prog,
            "stack": svc.programs[prog][0] if prog else "", "nagle": nagle,
            "max_failed_share": svc.max_failed_share}
    try:
        if not wait_listen(slot, svc.port):
            meta["error"] = "server did not listen"
            return meta
        ns, dev = (slot.cns, "c0") if cond["capture_side"] == "client" else (slot.sns, "s0")
        meta["capture_filter"] = svc.capture_filter(slot)
        cap = subprocess.Popen(slot_exec(ns) + ["tcpdump", "-i", dev, "-s", "128", "-Z", "root", "-U", "-w",
                                                base + ".pcap", meta["capture_filter"]],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.6)
        n = svc.session_count(prog, args.sessions)
        drawn = [svc.session(ctx, rng, server_opts, prog) for _ in range(n)]
        # a session is an argv, or (argv, kind) where the service tells interactive/scripted/bulk/idle apart
        sessions = [d[0] if isinstance(d, tuple) else d for d in drawn]
        kinds = {}
        for d in drawn:
            k = d[1] if isinstance(d, tuple) else "default"
            kinds[k] = kinds.get(k, 0) + 1
        gaps = [rng.expovariate(1 / 0.15) for _ in sessions]
        env = dict(os.environ, HOME=os.path.join(work, "home"), **ctx.env)
        os.makedirs(env["HOME"], exist_ok=True)
        results = []
        deadline = time.monotonic() + RUN_LIMIT_S
        conc = rng.randint(1, svc.concurrency)
        with ThreadPoolExecutor(conc) as pool:
            futs = []
            for argv, gap in zip(sessions, gaps):
                if time.monotonic() > deadline:
                    break
                futs.append(pool.submit(run_session, slot, argv, env, svc.session_timeout(prog)))
                time.sleep(min(gap, 1.0))
            results = [f.result() for f in futs]
        time.sleep(0.5 + 3 * cond["relay"]["delay_ms"] / 1000)
        cap.send_signal(signal.SIGINT)
        try:
            cap.wait(10)
        except subprocess.TimeoutExpired:
            cap.kill()
        fails = [r for r in results if r[0] != 0]
        meta["sessions"] = len(results)
        meta["failed_sessions"] = len(fails)
        meta["failure_samples"] = sorted({r[2].strip().splitlines()[-1] if r[2].strip() else f"rc={r[0]}" for r in fails})[:5]
        meta["programs"] = count_programs(sessions)
        meta["session_kinds"] = kinds
        meta["concurrency"] = conc
        meta["duration_s"] = round(sum(r[1] for r in results), 2)
        return meta
    finally:
        stop_procs(procs)
        svc.stop(ctx)
        slot.kill_ns_procs(slot.sns)
        slot.kill_ns_procs(slot.cns)
        with open(base + ".json", "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)


def count_programs(sessions):
    c = {}
    for argv in sessions:
        name = program_name(argv)
        c[name] = c.get(name, 0) + 1
    return c


def worker(k, jobs, args, pki, log, stop_all):
    slot = Slot(args.first_slot + k)
    try:
        slot.create()
        while not stop_all.is_set():
            try:
                svc, run_id, seed = jobs.get_nowait()
            except queue.Empty:
                return
            t0 = time.monotonic()
            try:
                meta = one_run(slot, svc, run_id, seed, args, pki)
                log(f"slot {slot.k} {meta['run']}: {meta.get('sessions', 0)} sessions, "
                    f"{meta.get('failed_sessions', '?')} failed {meta.get('failure_samples', '')} "
                    f"{meta.get('error', '')} ({time.monotonic() - t0:.1f}s)")
            except Exception:
                log(f"slot {slot.k} {svc.name}-{run_id}: error\n{traceback.format_exc()}")
    finally:
        slot.destroy()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", default="all", help="comma list or 'all' (" + ",".join(REGISTRY) + ")")
    ap.add_argument("--runs", type=int, default=2, help="runs per class")
    ap.add_argument("--first-run", type=int, default=0, help="index of the first run (to add runs to a corpus)")
    ap.add_argument("--sessions", type=int, default=30, help="client sessions per run")
    ap.add_argument("--slots", type=int, default=2, help="runs in parallel, each in its own namespaces")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(HERE, "out"))
    ap.add_argument("--work", default="/tmp/sensor-lab")
    ap.add_argument("--conditions", choices=["v1", "v2"], default="v2",
                    help="v1: the first lab (relay only, client programs mixed in a run); v2: offload and Nagle "
                         "draws, one server and one client program per run")
    ap.add_argument("--server", help="force this server implementation (testing one combination)")
    ap.add_argument("--program", help="force this client program (testing one combination)")
    ap.add_argument("--first-slot", type=int, default=1, help="slot number of the first slot (namespaces labKc/r/s)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("lab.py needs root (network namespaces, tcpdump): run it with sudo")
    names = list(REGISTRY) if args.classes == "all" else args.classes.split(",")
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        sys.exit(f"unknown classes {unknown}; known: {','.join(REGISTRY)}")
    for flag, attr in ((args.program, "programs"), (args.server, "servers")):
        lacking = [n for n in names if flag and flag not in getattr(REGISTRY[n], attr)]
        if lacking:
            sys.exit(f"{flag!r} is not one of the {attr} of {lacking}")
    os.makedirs(args.out, exist_ok=True)
    pki = ensure_pki(os.path.join(args.out, "pki"))
    os.makedirs(args.work, exist_ok=True)
    args.nagle_so = os.path.join(args.work, "nagle.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", args.nagle_so, os.path.join(HERE, "nagle.c"), "-ldl"],
                   check=True)
    BINDIR[0] = os.path.join(args.work, "bin")
    os.makedirs(BINDIR[0], exist_ok=True)
    for n in names:
        REGISTRY[n].tools(BINDIR[0])
    jobs = queue.Queue()
    for r in range(args.first_run, args.first_run + args.runs):
        for n in names:  # round robin, so a cut-short lab still has every class
            jobs.put((REGISTRY[n], f"r{r:04d}", (args.seed * 1_000_003 + r * 101 + zlib.crc32(n.encode()) * 7919) & 0x7FFFFFFF))
    lock = threading.Lock()
    logf = open(os.path.join(args.out, "lab.log"), "a")

    def log(msg):
        with lock:
            line = time.strftime("%H:%M:%S ") + msg
            print(line, flush=True)
            logf.write(line + "\n")
            logf.flush()

    stop_all = threading.Event()

    def on_signal(signum, _frame):
        # SIGINT is ignored in background jobs of non-interactive shells, so SIGTERM stops the lab cleanly too:
        # the current runs finish and write their RUN.json, then every namespace is removed.
        if not stop_all.is_set():
            log(f"signal {signum}: finishing current runs, then removing namespaces")
        stop_all.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = [threading.Thread(target=worker, args=(k, jobs, args, pki, log, stop_all)) for k in range(args.slots)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)


if __name__ == "__main__":
    main()
