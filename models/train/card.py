#!/usr/bin/env python3
"""Writes the model card models/README.md from measured files only:

  /usr/bin/python3 models/train/card.py [--metrics models/train/out/metrics.json] [--speed models/train/out/speed.json]
      [--lab-out models/lab/out]

Reads the training metrics (train.py), the inference speed (speed.js), the corpus counts (build_corpus.py)
and every lab run's conditions file; copies the pictures and a metrics snapshot to models/card/.
"""
import argparse
import glob
import json
import os
import shutil
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
CARD = os.path.join(MODELS, "card")

SERVERS = {
    "http": "nginx (HTTP/1.1)", "tls": "nginx (HTTPS; TLS 1.2/1.3; HTTP/1.1 and HTTP/2)", "ssh": "OpenSSH sshd",
    "postgresql": "PostgreSQL 15", "mysql": "MariaDB 10.11", "redis": "Redis 7", "memcached": "memcached",
    "ftp": "vsftpd (control channel)", "git": "git daemon (git://)", "rsync": "rsync daemon", "dns": "BIND 9 (DNS over TCP)",
    "smtp": "aiosmtpd (SMTP, optional STARTTLS)", "smtps": "aiosmtpd (implicit TLS, port 465)",
    "imap": "Dovecot (IMAP, optional STARTTLS)", "imaps": "Dovecot (IMAP over TLS, 993)",
    "pop3": "Dovecot (POP3, optional STLS)", "pop3s": "Dovecot (POP3 over TLS, 995)", "ldap": "OpenLDAP slapd (optional StartTLS)",
    "ldaps": "OpenLDAP slapd (LDAP over TLS, 636)", "mqtt": "Mosquitto (MQTT 3.1/3.1.1/5)", "mqtts": "Mosquitto (MQTT over TLS, 8883)",
    "xmpp": "Prosody (c2s, usually STARTTLS)",
}


# The first lab runs recorded the wrapper (`env VAR=... prog`, `sh -c '... | prog'`) instead of the program; later
# runs record the program itself. These are the programs those wrappers ran, per class (services/*.py).
LEGACY_WRAPPERS = {
    ("env", "postgresql"): "psql/pgc.py via env", ("env", "ldap"): "ldapsearch/ldapwhoami/ldapcompare via env",
    ("env", "ldaps"): "ldapsearch/ldapwhoami/ldapcompare via env", ("env", "rsync"): "rsync via env",
    ("sh", "ssh"): "ssh (scripted)", ("sh", "git"): "git (scripted)",
}


def f4(v):
    return f"{v:.4f}"


def eval_accuracy(path):
    """The accuracy line of a `sensor eval` output file."""
    for line in open(path):
        if line.startswith("accuracy "):
            return float(line.split()[1])
    raise ValueError(f"{path}: no accuracy line")


def lab_summary(lab_out):
    metas = [json.load(open(p)) for p in glob.glob(os.path.join(lab_out, "captures", "*", "*.json"))]
    metas = [m for m in metas if "conditions" in m and m.get("sessions")]
    if not metas:
        return None, {}
    c = [m["conditions"] for m in metas]
    rtt = [2 * x["relay"]["delay_ms"] for x in c]
    programs = {}
    for m in metas:
        p = programs.setdefault(m["class"], {})
        for k, v in m.get("programs", {}).items():
            k = LEGACY_WRAPPERS.get((k, m["class"]), k)
            p[k] = p.get(k, 0) + v
    q = statistics.quantiles(rtt, n=10)
    s = {
        "runs": len(metas),
        "sessions": sum(m["sessions"] for m in metas),
        "rtt_ms": {"min": min(rtt), "p10": q[0], "median": statistics.median(rtt), "p90": q[-1], "max": max(rtt)},
        "jitter_share": sum(1 for x in c if x["relay"]["jitter_ms"] > 0) / len(c),
        "loss_share": sum(1 for x in c if x["relay"]["loss"] > 0) / len(c),
        "loss_max": max(x["relay"]["loss"] for x in c),
        "reorder_share": sum(1 for x in c if x["relay"]["reorder"] > 0) / len(c),
        "rate_share": sum(1 for x in c if x["relay"]["rate_mbit"] > 0) / len(c),
        "mtus": sorted({x["mtu"] for x in c}),
        "ts_client_share": sum(x["client"]["timestamps"] for x in c) / len(c),
        "ts_server_share": sum(x["server"]["timestamps"] for x in c) / len(c),
        "advmss_share": sum(1 for x in c if x["client"]["advmss"] or x["server"]["advmss"]) / len(c),
        "capture_client_share": sum(1 for x in c if x["capture_side"] == "client") / len(c),
    }
    return s, programs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--metrics", default=os.path.join(HERE, "out", "metrics.json"))
    ap.add_argument("--speed", default=os.path.join(HERE, "out", "speed.json"))
    ap.add_argument("--speed1", default=os.path.join(HERE, "out", "speed1.json"))
    ap.add_argument("--counts", default=os.path.join(MODELS, "lab", "class_counts.json"))
    ap.add_argument("--lab-out", default=os.path.join(MODELS, "lab", "out"))
    ap.add_argument("--ports-output", default=os.path.join(HERE, "out", "ports_eval.txt"),
                    help="output of `sensor eval --csv models/train/out/ports.csv --model models/sensor.onnx`")
    ap.add_argument("--eval-output", default=os.path.join(HERE, "out", "eval_test.txt"),
                    help="output of `sensor eval --csv models/train/out/test.csv --model models/sensor.onnx`")
    ap.add_argument("--ports-output-no-augment", default=os.path.join(HERE, "out", "ports_eval_no_augment.txt"),
                    help="the same port check for the model trained without --augment (optional)")
    a = ap.parse_args()
    m = json.load(open(a.metrics))
    speed = json.load(open(a.speed)) if os.path.exists(a.speed) else None
    speed1 = json.load(open(a.speed1)) if os.path.exists(a.speed1) else None
    counts = json.load(open(a.counts))
    lab, programs = lab_summary(a.lab_out)
    os.makedirs(CARD, exist_ok=True)
    out_dir = os.path.dirname(a.metrics)
    for pic in ("confusion.png", "confusion_trees.png", "reliability.png"):
        if os.path.exists(os.path.join(out_dir, pic)):
            shutil.copy(os.path.join(out_dir, pic), os.path.join(CARD, pic))
    snap = dict(m)
    json.dump(snap, open(os.path.join(CARD, "metrics.json"), "w"), indent=1)
    if speed:
        json.dump({"default_threads": speed, "one_thread": speed1}, open(os.path.join(CARD, "speed.json"), "w"), indent=1)
    if lab:
        json.dump({"conditions": lab, "client_programs": programs}, open(os.path.join(CARD, "lab_conditions.json"), "w"), indent=1)

    net, trees, unk = m.get("network"), m.get("baseline_trees"), m.get("unknown")
    ex = m.get("export", {})
    W = []
    w = W.append
    w("# The bundled model: `models/sensor.onnx`\n")
    w("Generated by `models/train/card.py` from measured files (see *Reproduce* at the end); do not edit numbers by hand.\n")
    w("## What it is\n")
    w(f"A small 1D CNN (dilated convolutions over the packet positions, an MLP over flow-level features, and a learned "
      f"embedding of the exact values of the first 8 lengths, where handshakes and greetings have fixed sizes) that "
      f"names the application of a TCP flow from its first {m['sequence_length']} signed payload lengths "
      f"(client->server `+len`, server->client `-len`, zero-padded; `../shared/SPEC.md`). The ONNX file takes the raw "
      f"lengths as float32 `[N, {m['sequence_length']}]`; scaling and the engineered features (packets and bytes per "
      f"direction, direction switches, first and second request/response sizes, largest and mean sizes, full-segment count, "
      f"who speaks first) are computed inside the graph, and the output is float32 `[N, {len(m['classes'])}]` "
      f"probabilities (softmax inside, temperature-calibrated: T = {m['temperature']:.3f}).\n")
    if ex:
        w(f"- file: `models/sensor.onnx`, {ex['bytes']:,} bytes; metadata `model_version` = `{ex['model_version']}`")
        w(f"- metadata `training_data`: \"{ex['training_data']}\"")
        w(f"- metadata `classes`: {json.dumps(m['classes'])}; `sequence_length`: \"{m['sequence_length']}\"\n")
    w("## Classes and data\n")
    w(f"{len(m['classes'])} classes, {m['flows']:,} flows from {counts.get('total_runs', '?')} lab runs "
      f"(rows computed by the sensor itself: `sensor --pcap` then `sensor export --format csv`; backend `{counts.get('backend')}`).\n")
    w("| class | server | client programs (sessions) | flows | runs |")
    w("| --- | --- | --- | ---: | ---: |")
    for c in m["classes"]:
        cc = counts["classes"].get(c, {})
        progs = ", ".join(f"{k} ({v})" for k, v in sorted(programs.get(c, {}).items(), key=lambda kv: -kv[1]))
        w(f"| `{c}` | {SERVERS.get(c, '')} | {progs} | {cc.get('flows', 0):,} | {cc.get('runs', 0)} |")
    w("")
    w("### How the data was made\n")
    w("`models/lab/lab.py` (root, Debian 12) builds, for each run, three network namespaces (client, relay, server) joined by "
      "two veth pairs with segmentation/checksum offloads off, so captured segments have wire sizes. It starts the class's real "
      "Debian server in the server namespace, captures only the server port with `tcpdump -s 128` (headers only) on the client "
      "or the server side, and runs randomised client sessions (programs, commands, request sizes, users, TLS versions, "
      "pipelining, idle gaps, 1 to 8 in parallel). The kernel here has no `netem`, so `models/lab/relay.py` (a seeded "
      "userspace layer-2 relay over AF_PACKET sockets) adds delay, jitter, loss, reordering and a rate limit between the "
      "two veths. TLS classes use a lab CA and server certificates of five key types (RSA 2048/3072/4096, ECDSA P-256/P-384), "
      "leaf-only or with the chain, chosen per run. Each capture has a `RUN.json` beside it with everything drawn for it.\n")
    if lab:
        r = lab["rtt_ms"]
        w(f"Conditions over the {lab['runs']} runs ({lab['sessions']:,} client sessions):\n")
        w(f"- round-trip time added by the relay: min {r['min']:.2f} ms, 10th pct {r['p10']:.2f}, median {r['median']:.2f}, "
          f"90th pct {r['p90']:.1f}, max {r['max']:.1f} ms; jitter in {lab['jitter_share']:.0%} of runs")
        w(f"- loss in {lab['loss_share']:.0%} of runs (up to {lab['loss_max']:.1%} of frames), reordering in "
          f"{lab['reorder_share']:.0%}, a rate limit (5-500 Mbit/s) in {lab['rate_share']:.0%}")
        w(f"- MTU one of {lab['mtus']}; MSS clamped (route `advmss`) on at least one side in {lab['advmss_share']:.0%} of runs")
        w(f"- TCP timestamps on for the client in {lab['ts_client_share']:.0%} and the server in {lab['ts_server_share']:.0%} "
          f"of runs (1448- vs 1460-byte full segments); SACK, window scaling, ECN, buffer sizes and slow-start-after-idle drawn per side")
        w(f"- captured on the client side in {lab['capture_client_share']:.0%} of runs, on the server side otherwise\n")
    w("## Held-out results\n")
    w(f"Split by lab run, never by flow (flows of one run share conditions and server options): about 20% of each "
      f"class's runs are held out for test and 10% for validation (temperature), the rest train; in all "
      f"{m['groups']['test']} runs ({m['test_flows']:,} flows) test, {m['groups']['val']} runs "
      f"({m['val_flows']:,} flows) validation, {m['groups']['train']} runs ({m['train_flows']:,} flows) training. Seed {m['seed']}, {m['epochs']} epochs on {m['device']} in {m['train_seconds']} s, "
      f"length augmentation on half of the training rows (`--augment 0.5`, see *Outside the lab*).\n")
    if net:
        w("| model | macro-F1 | accuracy | top-3 accuracy | ECE |")
        w("| --- | ---: | ---: | ---: | ---: |")
        w(f"| CNN (this model) | {f4(net['macro_f1'])} | {f4(net['accuracy'])} | {f4(net['top3_accuracy'])} | {f4(net['ece'])} |")
        if trees:
            w(f"| trees baseline (sklearn HistGradientBoosting on the same engineered features + the 30 raw lengths) | "
              f"{f4(trees['macro_f1'])} | {f4(trees['accuracy'])} | {f4(trees['top3_accuracy'])} | {f4(trees['ece'])} |")
        w("")
        if trees:
            better = net["macro_f1"] > trees["macro_f1"]
            w(("The network beats the trees baseline on the held-out runs." if better else
               "The trees baseline is not beaten on these held-out runs: the CNN's macro-F1 is lower by "
               f"{trees['macro_f1'] - net['macro_f1']:.4f}. The network is still shipped because it runs inside the "
               "sensor's ONNX/CUDA path with in-graph features and calibrated probabilities; see the per-class table.") + "\n")
        w("Per class (CNN, held-out runs):\n")
        w("| class | precision | recall | F1 | test flows |" + (" trees F1 |" if trees else ""))
        w("| --- | ---: | ---: | ---: | ---: |" + (" ---: |" if trees else ""))
        for c in m["classes"]:
            p = net["per_class"][c]
            t = f" {f4(trees['per_class'][c]['f1'])} |" if trees else ""
            w(f"| `{c}` | {f4(p['precision'])} | {f4(p['recall'])} | {f4(p['f1'])} | {p['support']} |{t}")
        w("")
        w("![confusion matrix of the CNN on held-out lab runs](card/confusion.png)\n")
        if os.path.exists(a.eval_output):
            w("The same held-out rows through the exported ONNX file and the sensor's own runtime "
              "(`node bin/sensor.js eval --csv models/train/out/test.csv --model models/sensor.onnx`):\n")
            w("```\n" + open(a.eval_output).read().rstrip() + "\n```\n")
        w(f"Calibration: expected calibration error {f4(net['ece'])} (15 bins) after temperature scaling on the validation "
          "runs. ![reliability diagram](card/reliability.png)\n")
    if os.path.exists(a.ports_output):
        without_port_accuracy = (f"{eval_accuracy(a.ports_output_no_augment):.3f} without, "
                                 if os.path.exists(a.ports_output_no_augment) else "")
        w("## Outside the lab: port-labelled flows from public captures\n")
        w("`models/train/port_check.py` runs the sensor over the public test captures in `../shared/pcaps` (181 files from "
          "arkime, PcapPlusPlus, suricata-verify, tcpdump and zeek test suites: other networks, other software versions, "
          "browsers) and labels each flow that started with a SYN and carries at least 3 payload packets by its server "
          "port (22 ssh, 80 http, 443 tls, ...). A port is not ground truth and most classes have only a handful of such "
          "flows, so this is a rough check, but it is the only data here that the lab did not make:\n")
        w("```\n" + open(a.ports_output).read().rstrip() + "\n```\n")
        w("This is far below the held-out lab numbers, and it is the better guide to what to expect on real networks: "
          "the lab's programs and versions fix many exact sizes (SSH banners and key-exchange lists, TLS ClientHellos of "
          "curl/Python/wget against nginx) that other software does not share. Training scales the lengths of half of "
          "the training rows by a random factor per packet (`--augment 0.5`, factors 0.8-1.25); that choice was made on "
          f"this check (accuracy {without_port_accuracy}{eval_accuracy(a.ports_output):.3f} with; held-out lab macro-F1 "
          f"{f4(json.load(open(os.path.join(CARD, 'metrics_no_augment.json')))['network']['macro_f1'])} without, "
          "`card/metrics_no_augment.json`, from the same command without `--augment`), so "
          "the check is not untouched by model selection. More software per class in the lab, or labelled real captures "
          "(`train.py --csv`), is what would close the gap.\n")
    if unk:
        ch = unk["chosen"]
        w("## The `unknown` threshold\n")
        w(f"A second network was trained with `{unk['left_out'][0]}` and `{unk['left_out'][1]}` left out entirely (two "
          f"classes chosen as one TLS-wrapped and one plain binary protocol: `--leave-out`), then run on all {unk['left_out_flows']:,} flows of those two classes and on the "
          f"{unk['known_test_flows']:,} held-out flows of the known classes. Rule: {unk['rule']}, scanning 0.30 to 0.99 in "
          f"steps of 0.01.\n")
        w(f"- chosen threshold: **{ch['threshold']:.2f}** (top probability below it -> `unknown`)")
        w(f"- left-out flows that come out `unknown`: {ch['left_out_caught']:.1%} "
          + "(" + ", ".join(f"{k}: {v:.1%}" for k, v in unk["left_out_caught_per_class"].items()) + ")")
        w(f"- known flows: accuracy {unk['known_accuracy_without_threshold']:.4f} without the threshold; "
          f"{ch['known_correct_lost']:.1%} of the correctly classified ones fall below it "
          f"(accuracy counting `unknown` as wrong: {ch['known_accuracy_after']:.4f})")
        w("- what the left-out classes were called instead: " + "; ".join(
            f"{k} -> " + ", ".join(f"{c} ({n})" for c, n in v.items()) for k, v in unk["left_out_top_predictions"].items()))
        pts = [c for c in unk["curve"] if abs(c["threshold"] * 10 - round(c["threshold"] * 10)) < 1e-6
               or abs(c["threshold"] - 0.95) < 1e-6 or abs(c["threshold"] - ch["threshold"]) < 1e-6
               or c["threshold"] >= 0.99]
        w("\n| threshold | left-out flows caught | known correct lost |")
        w("| ---: | ---: | ---: |")
        for c in pts:
            w(f"| {c['threshold']:.2f} | {c['left_out_caught']:.1%} | {c['known_correct_lost']:.1%} |")
        w("\nUnseen applications that look like a known one (e.g. another TLS service) will mostly *not* fall below any "
          "threshold: the threshold catches the unfamiliar, not the look-alike.\n")
    if speed:
        w("## Inference speed (CPU, onnxruntime-node)\n")
        w(f"`node models/train/speed.js models/sensor.onnx models/lab/sample.csv [threads]` on {speed['cpu']} "
          f"({speed['cores']} cores), {speed['runtime']}; about two seconds per measurement after warm-up.\n")
        w("| threads | batch 1 (flows/s) | batch 1024 (flows/s) |")
        w("| --- | ---: | ---: |")
        for name, s in (("default", speed), ("1", speed1)):
            if s:
                w(f"| {name} | {s['batches']['1']['flows_per_second']:,} | {s['batches']['1024']['flows_per_second']:,} |")
        loads = [s.get("load_average_1m_before") for s in (speed, speed1) if s and s.get("load_average_1m_before") is not None]
        if loads:
            w(f"\nThe machine was shared with other jobs while measuring (1-minute load average {', '.join(map(str, loads))} "
              "on its cores just before each measurement), so these are lower bounds; one intra-op thread can beat the "
              "default when the other core is busy.")
        w("\nNo GPU was available where this model was trained and measured, so no GPU numbers are given; `train.py` "
          "uses CUDA when torch sees a device, and the sensor's CUDA execution provider runs the same file.\n")
    w("## Limits\n")
    w("- It knows only the classes above, as produced by the lab's server and client programs and versions (Debian 12). "
      "Other implementations of the same protocol (Postfix or Exchange instead of aiosmtpd, OpenSSH versions with other "
      "banners, Windows TCP stacks) change the first lengths and will score lower than the held-out numbers.")
    w("- Held-out runs come from the same lab: the numbers measure robustness to network conditions, client mixes and server "
      "options, not to other networks' applications. Expect much lower numbers on real traffic (see the port-labelled check).")
    w("- Applications it never saw get one of the known labels unless their top probability falls below the threshold "
      "(see above); TLS-wrapped services it does not know will often be called `tls`, `imaps` or another TLS class.")
    w("- The lab's TLS clients are curl and Python (OpenSSL 3.0), wget (GnuTLS), the mail/LDAP/MQTT command-line tools "
      "and libraries; no web browsers. Browser ClientHellos (larger, GREASE, post-quantum key shares) were never seen.")
    w("- TCP only: UDP, QUIC/HTTP3, DNS over UDP are out of scope. Flows seen mid-stream, or cut before the handshake, "
      "start at a different point of the conversation and are not what the model was trained on.")
    w("- `ftp` is the control channel only; data connections are other flows. `xmpp` is client-to-server; `smtp` is "
      "client submission to a small server, not server-to-server relaying.\n")
    w("## Retrain\n")
    w("With your own labelled rows in the who's-talking format (`app_service,tcp_len_1,...,tcp_len_30`, e.g. from "
      "`sensor export --format csv --label NAME` on captures of one application each):\n")
    w("```\n/usr/bin/python3 models/train/train.py --csv your.csv --export models/sensor.onnx\n```\n")
    w("Without a `--runs` file (one group id per row) the held-out split uses blocks of consecutive rows, which overstates "
      "accuracy when neighbouring rows come from the same capture. `sensor eval --csv labelled.csv [--model M]` scores any "
      "model on labelled rows. `test/models/retrain.test.ts` trains on `models/lab/sample.csv` with `--quick` and checks "
      "that the file meets the contract.\n")
    w("## Reproduce\n")
    w("The corpus above is runs r0000 to r0025 of seed 1 (the first lab process was stopped during r0004 and restarted "
      "with `--first-run 5 --runs 21`, so r0004 exists for 12 of the 22 classes: three were cut, seven never started). Run seeds depend only on `--seed`, the "
      "run index and the class, so the first command regenerates the same draws; packet timing, and so a few sequences, "
      "differ from run to run.\n")
    w("```\nsudo /usr/bin/python3 models/lab/lab.py --classes all --runs 26 --sessions 50 --slots 3 --seed 1   # captures + RUN.json\n"
      "npm run build && /usr/bin/python3 models/lab/build_corpus.py --publish      # sensor -> corpus.csv, class_counts.json, sample.csv\n"
      "/usr/bin/python3 models/train/train.py --csv models/lab/out/corpus.csv --runs models/lab/out/corpus.runs \\\n"
      "    --leave-out mqtts,redis --augment 0.5 --export models/sensor.onnx\n"
      "node bin/sensor.js eval --csv models/train/out/test.csv --model models/sensor.onnx > models/train/out/eval_test.txt\n"
      "/usr/bin/python3 models/train/port_check.py && node bin/sensor.js eval --csv models/train/out/ports.csv \\\n"
      "    --model models/sensor.onnx > models/train/out/ports_eval.txt\n"
      "node models/train/speed.js models/sensor.onnx models/lab/sample.csv > models/train/out/speed.json\n"
      "node models/train/speed.js models/sensor.onnx models/lab/sample.csv 1 > models/train/out/speed1.json\n"
      "/usr/bin/python3 models/train/card.py                                        # this file\n```\n")
    w("Apt packages used by the lab: nginx openssh-server redis-server redis-tools memcached libmemcached-tools mariadb-server "
      "mariadb-client postgresql vsftpd bind9 bind9-dnsutils knot-dnsutils rsync dovecot-imapd dovecot-pop3d slapd ldap-utils "
      "mosquitto mosquitto-clients prosody tcpdump lftp swaks curl wget git python3-aiosmtpd python3-paho-mqtt python3-ldap3 "
      "python3-pymemcache python3-psycopg2 python3-pymysql python3-redis python3-slixmpp; training: python3-torch python3-onnx "
      "python3-sklearn python3-matplotlib.")
    open(os.path.join(MODELS, "README.md"), "w").write("\n".join(W) + "\n")
    print(f"wrote {os.path.join(MODELS, 'README.md')}")


if __name__ == "__main__":
    main()
