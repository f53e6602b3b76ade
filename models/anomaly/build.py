#!/usr/bin/env python3
"""Makes and measures the bundled anomaly model (models/anomaly.onnx) and behaviour groups (models/host-groups.json).

  nice -n 10 /usr/bin/python3 models/anomaly/build.py corpus   # lab runs -> fitting and held-out databases
  nice -n 10 /usr/bin/python3 models/anomaly/build.py fit      # sensor anomaly-fit on the fitting runs
  nice -n 10 /usr/bin/python3 models/anomaly/build.py evaluate # the sensor with the model on held-out runs and attacks
  nice -n 10 /usr/bin/python3 models/anomaly/build.py hosts    # host profiles of the attack lab, groups, stand-out table
  /usr/bin/python3 models/anomaly/card.py                      # models/ANOMALY.md from the measured files

Everything runs the sensor itself (bin/sensor.js, after `npm run build`): the databases are what a user's sensor
would write. Inputs (not in git): the traffic lab's captures (--lab, default /work/data/lab/captures: every run
whose RUN.json has no error) and the attack lab's scenario captures (--attacks, models/anomaly/lab.py output
directories). Outputs: --work (databases), models/anomaly.onnx, models/host-groups.json and the measured files in
models/anomaly/card/.
"""
import argparse
import glob
import json
import os
import struct
import subprocess
import sys
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SENSOR = [os.environ.get("NODE", "node"), os.path.join(ROOT, "bin", "sensor.js")]
CARD = os.path.join(HERE, "card")
MODEL = os.path.join(ROOT, "models", "anomaly.onnx")
GROUPS = os.path.join(ROOT, "models", "host-groups.json")
# Attack lab runs recorded after the bundled model was frozen (a1-a5 were looked at while designing it: a1, a2 for the
# first models, a3 for the one before the previous, a4 and a5 were the previous model's untouched runs).
UNTOUCHED_LABS = {"a6"}
SCENARIOS = ["scan", "bruteforce-ssh", "bruteforce-http", "synflood", "slowloris", "beacon", "upload"]
# Windows of the attack lab's host profiles: each scenario capture lasts 2.5 to 7 minutes.
ATTACK_WINDOW_S = 300


# Batches of the traffic lab recorded after the previous anomaly model was designed (b9 onward): their runs were never
# read while choosing features or thresholds. The test runs are drawn from these only; the earlier held-out runs (which
# were looked at) join the fitting pool.
FIRST_UNSEEN_BATCH = 9


def held_out(run):
    """A lab run (capture file) is held out as a test run, untouched by fitting and calibration, when it comes from a
    batch of FIRST_UNSEEN_BATCH or later and crc32 of its file name is 0 mod 4 (about a quarter of those)."""
    batch = os.path.relpath(run, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(run))))).split(os.sep)[0]
    number = int(batch[1:]) if batch[:1] == "b" and batch[1:].isdigit() else -1
    return number >= FIRST_UNSEEN_BATCH and zlib.crc32(os.path.basename(run).encode()) % 4 == 0


def in_fit_half(run, batch_dir):
    """A run of a --fit-lab batch directory joins the fitting pool under --fit-lab-half when crc32 of its path below
    that directory is even (about half the runs of every batch; the odd half is for checking)."""
    return zlib.crc32(os.path.relpath(run, batch_dir).encode()) % 2 == 0


def first_ts(path):
    with open(path, "rb") as f:
        h = f.read(32)
    if len(h) < 32:
        return 0
    magic = struct.unpack("<I", h[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        return struct.unpack("<I", h[24:28])[0]
    if magic in (0xD4C3B2A1, 0x4D3CB2A1):
        return struct.unpack(">I", h[24:28])[0]
    return 0


def lab_runs(lab):
    runs = []
    for p in glob.glob(os.path.join(lab, "b*", "captures", "*", "*.pcap")):
        meta = p[:-5] + ".json"
        if not os.path.exists(meta):
            continue  # a run still being written
        try:
            if json.load(open(meta)).get("error"):
                continue
        except ValueError:
            continue
        runs.append(p)
    # In capture-time order, as a sensor would have written them: blocks of consecutive flows mix classes.
    return sorted(runs, key=lambda p: (first_ts(p), p))


# evaluate --model: score with this ONNX file instead of the bundled one (an earlier model on the same sets).
MODEL_ARGS = []


def sensor(args, log=None):
    t0 = time.time()
    r = subprocess.run(SENSOR + args + MODEL_ARGS + ["--log-level", "warn"], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        sys.exit(f"sensor {' '.join(args[:4])}... failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    if log:
        log(f"sensor {' '.join(a for a in args if not a.startswith('/work/data/lab'))[:160]} ({time.time() - t0:.0f} s)")
    return r


def fresh(db):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)


def query(db, sql, params=()):
    import sqlite3
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return c.execute(sql, params).fetchall()
    finally:
        c.close()


def load_avg():
    return open("/proc/loadavg").read().split()[:3]


def cmd_corpus(a, log):
    runs = lab_runs(a.lab)
    fit = [r for r in runs if not held_out(r)]
    ho = [r for r in runs if held_out(r)]
    # --fit-lab batches (fresh normal batches that have been read): their runs join the fitting pool, so that the
    # model has seen more runs of each service (run-to-run variation of one service is normal traffic, not an anomaly):
    # every run, or with --fit-lab-half the half in_fit_half() picks (the other half checks the model). The test runs
    # stay those of --lab.
    extra = sorted({r for d in (a.fit_lab or []) for r in lab_runs(d) if not a.fit_lab_half or in_fit_half(r, d)}
                   - set(fit) - set(ho))
    fit = sorted(fit + extra, key=lambda p: (first_ts(p), p))
    os.makedirs(a.work, exist_ok=True)
    for name, part in (("normal-fit", fit), ("normal-heldout", ho)):
        db = os.path.join(a.work, name + ".db")
        fresh(db)
        args = []
        for r in part:
            args += ["--pcap", r]
        sensor(args + ["--db", db, "--sensor-name", "lab", "--no-anomaly", "--no-hosts"], log)
    json.dump({"lab": a.lab, "fit_runs": [os.path.relpath(r, a.lab) for r in fit],
               "fit_labs": list(a.fit_lab or []), "fit_lab_half": bool(a.fit_lab_half),
               "held_out_runs": [os.path.relpath(r, a.lab) for r in ho]}, open(os.path.join(a.work, "runs.json"), "w"), indent=0)
    log(f"corpus: {len(fit)} fitting runs ({len(extra)} of --fit-lab batches), {len(ho)} held-out runs")


def cmd_fit(a, log):
    os.makedirs(CARD, exist_ok=True)
    db = os.path.join(a.work, "normal-fit.db")
    report = os.path.join(CARD, "fit.json")
    t0 = time.time()
    extra = (["--context-floor", str(a.context_floor)] if a.context_floor else []) + (["--one-threshold"] if a.one_threshold else [])
    r = subprocess.run(SENSOR + ["anomaly-fit", "--db", db, "--out", MODEL, "--python", sys.executable, "--seed", str(a.seed),
                                 "--report", report] + extra, capture_output=True, text=True)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        sys.exit("anomaly-fit failed")
    rep = json.load(open(report))
    rep["command"] = f"sensor anomaly-fit --db normal-fit.db --out models/anomaly.onnx --seed {a.seed}" + "".join(" " + x for x in extra)
    rep["seconds"] = round(time.time() - t0, 1)
    rep["load_average"] = load_avg()
    runs = json.load(open(os.path.join(a.work, "runs.json")))
    rep["fit_runs"] = len(runs["fit_runs"])
    rep["classes"] = sorted({r.split("/")[-2] for r in runs["fit_runs"]})
    rep["fit_labs"], rep["fit_lab_half"] = runs.get("fit_labs", []), runs.get("fit_lab_half", False)
    json.dump(rep, open(report, "w"), indent=1)
    log(f"fit: {rep['rows']} flows of {rep['fit_runs']} runs, thresholds {rep['thresholds']}")


def attack_dirs(a):
    return [d for d in a.attacks if os.path.exists(os.path.join(d, "scan.json"))]


def truth_sql(truth):
    if truth is None:
        return "0", []
    cond = "client_ip IN (%s)" % ",".join("?" * len(truth["client_ip"]))
    params = list(truth["client_ip"])
    if "server_ip" in truth:
        cond += " AND server_ip IN (%s)" % ",".join("?" * len(truth["server_ip"]))
        params += truth["server_ip"]
    return cond, params


def rates(db, where="1", params=()):
    """Flows and flagged flows (the model's default threshold) and, per stored rate, how many score above it."""
    n, flagged = query(db, f"SELECT count(*), coalesce(sum(anomaly), 0) FROM flows WHERE end_reason != 'active' AND {where}",
                       params)[0]
    return n, flagged


def held_out_figures(a, model, log, runs=None, name="eval-heldout"):
    """The test runs (held_out(), or `runs`) through the sensor with the model: flagged share overall, by class, over
    runs."""
    runs = runs or json.load(open(os.path.join(a.work, "runs.json")))
    db = os.path.join(a.work, name + ".db")
    fresh(db)
    args = []
    for r in runs["held_out_runs"]:
        args += ["--pcap", os.path.join(runs["lab"], r)]
    sensor(args + ["--db", db, "--sensor-name", "lab", "--no-hosts"], log)
    n, fp = rates(db)
    per_rate = {}
    scored = query(db, "SELECT server_port, anomaly_score FROM flows WHERE end_reason != 'active'")
    for t in model["thresholds"]:
        # A flow to a port with a threshold of its own at this rate (anomaly_port_thresholds) is flagged above that one.
        own = {p["port"]: p["threshold"] for p in model.get("portThresholds", []) if p["fpr"] == t["fpr"]}
        k = sum(1 for port, score in scored if score is not None and score > own.get(port, t["threshold"]))
        per_rate[format(t["fpr"], "g")] = round(k / n, 5)
    by_class = {}
    for run, total, flagged in query(db, "SELECT pcap_filename, count(*), sum(anomaly) FROM flows WHERE end_reason != 'active' GROUP BY 1"):
        c = run.split("/")[-2]
        by_class.setdefault(c, [0, 0])
        by_class[c][0] += total
        by_class[c][1] += flagged
    # The flagged share varies from run to run (a run unlike the fitting runs is flagged in several flows at once):
    # a 95% interval from 2,000 bootstrap resamples of the held-out runs.
    import random
    per_run = query(db, "SELECT pcap_filename, count(*), sum(anomaly) FROM flows WHERE end_reason != 'active' GROUP BY 1")
    rng = random.Random(1)
    boot = []
    for _ in range(2000):
        pick = [per_run[rng.randrange(len(per_run))] for _ in per_run]
        boot.append(sum(p[2] for p in pick) / max(1, sum(p[1] for p in pick)))
    boot.sort()
    ci = [round(boot[int(0.025 * len(boot))], 5), round(boot[int(0.975 * len(boot)) - 1], 5)]
    figures = {"runs": len(runs["held_out_runs"]), "flows": n, "flagged": fp, "fpr": round(fp / n, 5),
               "fpr_95ci_over_runs": ci, "fpr_at_each_stored_rate": per_rate,
               "by_class": {c: {"flows": v[0], "flagged": v[1]} for c, v in sorted(by_class.items())}}
    log(f"{name}: {len(per_run)} runs, {fp}/{n} flagged = {fp / n:.4f}")
    return figures


def cmd_evaluate(a, log):
    os.makedirs(CARD, exist_ok=True)
    info = subprocess.run(["node", "-e", "require('./dist/anomaly/anomalyModel').loadAnomalyModelInfo(process.argv[1])"
                           ".then(i => console.log(JSON.stringify(i)))", a.model or MODEL], cwd=ROOT, capture_output=True, text=True)
    if a.model:
        MODEL_ARGS[:] = ["--anomaly-model", a.model]
    if a.untouched is not None:
        UNTOUCHED_LABS.clear()
        UNTOUCHED_LABS.update(x for x in a.untouched.split(",") if x)
    model = json.loads(info.stdout)
    out = {"model": {k: model.get(k) for k in ("version", "method", "trainingData", "thresholds", "defaultFpr", "portThresholds")},
           "load_average_before": load_avg(), "stated_fpr": model["defaultFpr"]}
    # Held-out (test) lab runs: every flow is normal. With --attacks-only (while designing) they stay unread.
    if not a.attacks_only:
        out["held_out"] = held_out_figures(a, model, log)
        # Normal lab batches, every run a test run (lab_runs()), in this order: --fresh, a batch recorded after the
        # model was frozen; --fresh2, batches recorded while the previous model was designed, read after it was
        # frozen and while this one was designed; --fresh4, another seen batch (the thresholds were calibrated on it:
        # models/anomaly/calibrate.py); --fresh3, a batch recorded after this model was frozen (untouched).
        for key in ("fresh", "fresh2", "fresh4", "fresh3"):
            batch = getattr(a, key)
            if batch:
                out[key] = held_out_figures(a, model, log, runs={"lab": batch, "held_out_runs": [
                    os.path.relpath(r, batch) for r in lab_runs(batch)]}, name=f"eval-{key}")
        for spec in a.set or []:
            key, batch = spec.split("=", 1)
            out.setdefault("sets", {})[key] = held_out_figures(a, model, log, runs={"lab": batch, "held_out_runs": [
                os.path.relpath(r, batch) for r in lab_runs(batch)]}, name=f"eval-{key}")
    # Attack lab: per scenario, the attack's flows (ground truth from the scenario's JSON) and the workstations'.
    out["attack_labs"] = {}
    for d in attack_dirs(a):
        lab = os.path.basename(d.rstrip("/"))
        res = {}
        for sc in ["normal"] + SCENARIOS:
            pcap = os.path.join(d, sc + ".pcap")
            if not os.path.exists(pcap):
                continue
            truth = json.load(open(os.path.join(d, sc + ".json")))["attack"]
            db = os.path.join(a.work, f"eval-{lab}-{sc}.db")
            fresh(db)
            sensor(["--pcap", pcap, "--db", db, "--sensor-name", lab, "--no-hosts"], log)
            cond, params = truth_sql(truth)
            an, af = rates(db, cond, params)
            nn, nf = rates(db, f"NOT ({cond})", params)
            res[sc] = {"attack_flows": an, "attack_flagged": af, "detection": round(af / an, 4) if an else None,
                       "normal_flows": nn, "normal_flagged": nf}
            log(f"{lab}/{sc}: attack {af}/{an}, workstations {nf}/{nn}")
        out["attack_labs"][lab] = res
    # Totals over the attack labs the design was made with (a1-a5), and, apart, over those recorded after the model
    # was frozen (UNTOUCHED_LABS): the untouched figures.
    for key, keep in (("attack_totals", lambda lab: lab not in UNTOUCHED_LABS), ("attack_totals_untouched", lambda lab: lab in UNTOUCHED_LABS)):
        tot = {}
        for lab, res in out["attack_labs"].items():
            if not keep(lab):
                continue
            for sc, r in res.items():
                t = tot.setdefault(sc, {"attack_flows": 0, "attack_flagged": 0, "normal_flows": 0, "normal_flagged": 0})
                for k in t:
                    t[k] += r[k]
        for sc, t in tot.items():
            t["detection"] = round(t["attack_flagged"] / t["attack_flows"], 4) if t["attack_flows"] else None
        out[key] = tot
        wn = sum(t["normal_flows"] for t in tot.values())
        wf = sum(t["normal_flagged"] for t in tot.values())
        out["workstations" if key == "attack_totals" else "workstations_untouched"] = {
            "flows": wn, "flagged": wf, "fpr": round(wf / wn, 5) if wn else None}
    out["untouched_labs"] = sorted(UNTOUCHED_LABS & set(out["attack_labs"]))
    out["load_average_after"] = load_avg()
    out["command"] = "python3 models/anomaly/build.py evaluate"
    json.dump(out, open(a.out or os.path.join(CARD, "metrics.json"), "w"), indent=1)


PROFILE_COLUMNS = ["flows_client", "flows_server", "peers", "server_ports", "failed_client", "reset_flows", "bytes_sent",
                   "bytes_received", "duration_mean", "top_peer_flows", "top_peer_interval_cv", "anomalous_flows",
                   "behaviour_group"]
ROLES = {"h1": "workstation", "h2": "workstation", "h3": "workstation", "h4": "attacker", "h5": "beaconing workstation",
         "h6": "uploading workstation"}


def attack_pcaps(d):
    return [os.path.join(d, sc + ".pcap") for sc in ["normal"] + SCENARIOS if os.path.exists(os.path.join(d, sc + ".pcap"))]


def hosts_db(a, name, pcaps, window, groups, log):
    db = os.path.join(a.work, name + ".db")
    fresh(db)
    args = []
    for p in pcaps:
        args += ["--pcap", p]
    sensor(args + ["--db", db, "--sensor-name", name, "--host-window", str(window), "--host-groups", groups], log)
    return db


def fit_groups(dbs, out, log):
    args = SENSOR + ["hosts-fit", "--out", out]
    for d in dbs:
        args += ["--db", d]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"hosts-fit failed: {r.stderr}")
    log(r.stderr.strip())
    return json.load(open(out))


def model_version():
    """The bundled anomaly model's version (whose flags the host profiles count)."""
    r = subprocess.run(["node", "-e", "require('./dist/anomaly/anomalyModel').loadAnomalyModelInfo(process.argv[1])"
                        ".then(i => console.log(i.version))", MODEL], cwd=ROOT, capture_output=True, text=True)
    return r.stdout.strip() or None


def cmd_calibrate(a, log):
    """The bundled model's thresholds without refitting it (models/anomaly/calibrate.py): the fitting runs scored as
    `build.py corpus` read them, of which the captures fit.py kept out of fitting (its seeded calibration split), plus
    every run of --calibration-lab batches (repeatable), each batch scored as `evaluate` scores it. Prints the
    thresholds; --write stores them in models/anomaly.onnx; then card/calibration.json (calibration_study.py)."""
    import importlib.util
    runs = json.load(open(os.path.join(a.work, "runs.json")))
    fit_scored = os.path.join(a.work, "fit-scored.db")
    fresh(fit_scored)
    args = []
    for r in runs["fit_runs"]:
        args += ["--pcap", os.path.join(runs["lab"], r)]
    sensor(args + ["--db", fit_scored, "--sensor-name", "lab", "--no-hosts"], log)
    # fit.py's calibration split of normal-fit.db: groups numbered in order of first appearance among finished flows,
    # as `sensor anomaly-fit` exports them.
    spec = importlib.util.spec_from_file_location("fit", os.path.join(HERE, "fit.py"))
    fitmod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fitmod)
    order, ids, groups = {}, [], []
    for (pcap,) in query(os.path.join(a.work, "normal-fit.db"), "SELECT pcap_filename FROM flows WHERE end_reason != 'active' ORDER BY id"):
        groups.append(order.setdefault(pcap, len(order)))
    import numpy as np
    groups = np.array(groups, dtype=np.int32)
    is_cal = fitmod.calibration_split(groups, a.seed)
    names = {v: k for k, v in order.items()}
    cal = sorted({names[int(g)] for g in np.unique(groups[is_cal])})
    cal_list = os.path.join(a.work, "calibration-captures.txt")
    with open(cal_list, "w") as f:
        f.write("".join(c + "\n" for c in cal))
    dbs = [f"{fit_scored}@{cal_list}"]
    sets = [f"calibration={fit_scored}@{cal_list}"]
    for i, lab in enumerate(a.calibration_lab or []):
        db = os.path.join(a.work, f"calibration-lab-{i}.db")
        fresh(db)
        args = []
        for r in lab_runs(lab):
            args += ["--pcap", r]
        sensor(args + ["--db", db, "--sensor-name", "lab", "--no-hosts"], log)
        dbs.append(db)
        sets.append(f"{os.path.basename(lab.rstrip('/'))}={db}")
    log(f"calibrate: {len(cal)} kept-out fitting captures and {len(a.calibration_lab or [])} lab batches")
    cmd = [sys.executable, os.path.join(HERE, "calibrate.py"), "--model", a.model or MODEL, "--seed", str(a.seed)]
    for d in dbs:
        cmd += ["--db", d]
    if a.write:
        cmd += ["--write"] + (["--version", a.version] if a.version else [])
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(r.stderr)
    log("calibrate: " + r.stdout.strip()[:2000])
    held = os.path.join(a.work, "eval-heldout.db")
    if os.path.exists(held):
        sets.append(f"test={held}")
    if a.previous:
        cmd = [sys.executable, os.path.join(HERE, "calibration_study.py"), "--pool", ",".join(x.split("=")[0] for x in sets if not x.startswith("test=")),
               "--previous", a.previous, "--out", os.path.join(CARD, "calibration.json")]
        for x in sets:
            cmd += ["--set", x]
        r = subprocess.run(cmd, capture_output=True, text=True)
        sys.stderr.write(r.stderr)
        log("calibration study: " + r.stdout.strip()[:2000])


def cmd_hosts(a, log):
    """Host profiles of the attack labs in 5-minute windows (one scenario per window): behaviour groups fitted on
    the normal lab's profiles and the first attack lab's, then applied to the other attack lab, whose attacker,
    beaconing and uploading hosts are compared with its three workstations, scenario by scenario. The bundled
    groups (models/host-groups.json, 1-hour windows as the sensor's default) are fitted on every lab profile."""
    os.makedirs(CARD, exist_ok=True)
    runs = json.load(open(os.path.join(a.work, "runs.json")))
    fit_pcaps = [os.path.join(runs["lab"], r) for r in runs["fit_runs"]]
    labs = attack_dirs(a)
    if len(labs) < 2:
        sys.exit("hosts: needs two attack lab runs (fit groups on one, show them on the other)")
    first, second = labs[0], labs[1]
    n1 = os.path.basename(first.rstrip("/"))
    n2 = os.path.basename(second.rstrip("/"))
    normal5 = hosts_db(a, "hosts-normal-300", fit_pcaps, ATTACK_WINDOW_S, "none", log)
    first5 = hosts_db(a, f"hosts-{n1}-300", attack_pcaps(first), ATTACK_WINDOW_S, "none", log)
    groups_path = os.path.join(a.work, f"groups-normal-{n1}-300.json")
    groups = fit_groups([normal5, first5], groups_path, log)
    second5 = hosts_db(a, f"hosts-{n2}-300", attack_pcaps(second), ATTACK_WINDOW_S, groups_path, log)
    meta = {sc: json.load(open(os.path.join(second, sc + ".json"))) for sc in SCENARIOS
            if os.path.exists(os.path.join(second, sc + ".json"))}
    attacker = {"scan": "h4", "bruteforce-ssh": "h4", "bruteforce-http": "h4", "slowloris": "h4", "beacon": "h5",
                "upload": "h6"}
    table = []
    cols = ", ".join(PROFILE_COLUMNS)
    for sc, m in meta.items():
        host = m["spoofed"] if sc == "synflood" else m["hosts"][attacker[sc]]
        # The window holding the middle of the attack: its commands run one after another from 5 s after the
        # scenario's start; the beaconing and the uploads last the whole scenario.
        if sc in ("beacon", "upload"):
            mid = (m["start"] + m["end"]) / 2
        else:
            mid = m["start"] + 5 + sum(c["seconds"] for c in m["commands"]) / 2
        ws = int(mid // ATTACK_WINDOW_S * ATTACK_WINDOW_S)
        rows = query(second5, f"SELECT host, group_distance, {cols} FROM hosts WHERE final = 1 AND window_start = ? "
                              "AND flows_client > flows_server ORDER BY group_distance DESC", (ws,))
        entry = {"scenario": sc, "window_start": ws, "host": host, "role": ROLES.get(attacker.get(sc, ""), "spoofed source"),
                 "clients_in_window": len(rows), "profile": None, "distance_rank": None, "workstations": []}
        for rank, r in enumerate(rows, 1):
            rec = {"host": r[0], "group_distance": round(r[1], 3), **{c: r[2 + i] for i, c in enumerate(PROFILE_COLUMNS)}}
            if r[0] == host:
                entry["profile"], entry["distance_rank"] = rec, rank
            elif r[0] in (m["hosts"]["h1"], m["hosts"]["h2"], m["hosts"]["h3"]):
                entry["workstations"].append(rec)
        ws_groups = {w["behaviour_group"] for w in entry["workstations"]}
        p = entry["profile"]
        entry["other_group_than_workstations"] = p is not None and p["behaviour_group"] not in ws_groups
        entry["farthest_client_from_its_group"] = entry["distance_rank"] == 1
        table.append(entry)
    events = query(second5, "SELECT time, host, old_group, new_group, reason FROM host_events ORDER BY ts, host")
    bundled = fit_groups([hosts_db(a, "hosts-normal-3600", fit_pcaps, 3600, "none", log)] +
                         [hosts_db(a, f"hosts-{os.path.basename(d.rstrip('/'))}-3600", attack_pcaps(d), 3600, "none", log)
                          for d in labs], GROUPS, log)
    out = {"window_seconds": ATTACK_WINDOW_S, "groups_fitted_on": groups["fitted_on"], "groups": [
        {"name": g["name"], "size": g["size"]} for g in groups["groups"]], "silhouette": groups["silhouette"],
           "shown_on": n2, "profiles": table, "events": [dict(zip(["time", "host", "old_group", "new_group", "reason"], e))
                                                          for e in events],
           "bundled": {"fitted_on": bundled["fitted_on"], "silhouette": bundled["silhouette"],
                       "groups": [{"name": g["name"], "size": g["size"]} for g in bundled["groups"]]},
           "command": "python3 models/anomaly/build.py hosts", "load_average": load_avg(), "anomaly_model": model_version()}
    json.dump(out, open(os.path.join(CARD, "hosts.json"), "w"), indent=1)
    log(f"hosts: groups {[g['name'] for g in groups['groups']]}; bundled {[g['name'] for g in bundled['groups']]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["corpus", "fit", "evaluate", "calibrate", "hosts", "all"])
    ap.add_argument("--lab", default="/work/data/lab/captures")
    ap.add_argument("--attacks", action="append", default=None, help="attack lab output directory (repeatable)")
    ap.add_argument("--work", default="/work/data/anomaly/build2")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fresh", default=None, help="evaluate: a traffic lab batch recorded after the model was frozen "
                    "(a second test set, every run of it)")
    ap.add_argument("--fresh2", default=None, help="evaluate: lab batches recorded while the model was designed and read only after it was frozen (a directory of b*/ batches)")
    ap.add_argument("--fresh3", default=None, help="evaluate: a lab batch recorded after this model was frozen (untouched)")
    ap.add_argument("--fresh4", default=None, help="evaluate: another seen lab batch (one of those the thresholds were calibrated on)")
    ap.add_argument("--fit-lab", action="append", default=None, help="corpus: a lab batch directory (b*/) whose runs all join the fitting pool (repeatable)")
    ap.add_argument("--context-floor", type=float, default=0.0, help="fit: sensor anomaly-fit --context-floor (0 = none, as the bundled model)")
    ap.add_argument("--one-threshold", action="store_true", help="fit: sensor anomaly-fit --one-threshold")
    ap.add_argument("--fit-lab-half", action="store_true", help="corpus: only the half of each --fit-lab batch's runs that in_fit_half() picks")
    ap.add_argument("--set", action="append", default=None, metavar="NAME=DIR",
                    help="evaluate: another normal lab batch directory (b*/), every run a test run, reported as NAME (repeatable)")
    ap.add_argument("--untouched", default=None, help="evaluate: comma-separated attack labs recorded after the model was frozen (default a6)")
    ap.add_argument("--model", default=None, help="evaluate: this anomaly model instead of models/anomaly.onnx")
    ap.add_argument("--attacks-only", action="store_true", help="evaluate: the attack labs only, not the test runs")
    ap.add_argument("--out", default=None, help="evaluate: write the metrics here (default models/anomaly/card/metrics.json)")
    ap.add_argument("--calibration-lab", action="append", default=None, help="calibrate: a lab batch directory (b*/) whose runs join the calibration set (repeatable)")
    ap.add_argument("--write", action="store_true", help="calibrate: store the thresholds in the model")
    ap.add_argument("--version", default=None, help="calibrate --write: the model's new model_version")
    ap.add_argument("--previous", default=None, help="calibrate: JSON {thresholds, port_thresholds} to compare with (card/calibration.json)")
    a = ap.parse_args()
    if a.attacks is None:
        a.attacks = sorted(glob.glob("/work/data/anomaly/lab/a*/"))

    def log(m):
        print(time.strftime("%H:%M:%S ") + m, flush=True)

    steps = ["corpus", "fit", "evaluate", "hosts"] if a.step == "all" else [a.step]
    for s in steps:
        globals()["cmd_" + s](a, log)


if __name__ == "__main__":
    main()
