#!/usr/bin/env python3
"""The daemon's CPU per packet while it captures a live replay (round perf39), fast path on against SENSOR_FASTPATH=0.

A veth pair with one end in a namespace of its own; tcpreplay sends the first --packets packets of a capture into it at
a fixed --pps while `node bin/sensor.js --interface` (no model, a SQLite database) captures the other end. Both are
pinned to one core (--cpu). Per run: the daemon's user + sys CPU (/proc/PID/stat) from just before the replay to
--settle seconds after it, its packets received and decoded and kernel drops (its `stopped` line), and the fast path's
debug line. Variants alternate inside every round, the order reversed every other round; medians at the end.

  python3 bench/live-cpu.py --rounds 9 --pps 50000 --packets 300000 --cpu 1 [--tree DIR ...]

--any (round perf44) captures on Linux's `any` pseudo-interface instead of the veth end (DLT_LINUX_SLL, what
`sensor --interface any` gets). The capture end and the daemon are then in a second namespace of their own, so that
`any` sees the replay and nothing else of the host (other jobs' traffic, other labs' veth ends).
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

p = argparse.ArgumentParser()
p.add_argument('--rounds', type=int, default=9)
p.add_argument('--pps', type=int, default=50000)
p.add_argument('--packets', type=int, default=300000)
p.add_argument('--pcap', default='bench/out/bench-1m.pcap')
p.add_argument('--cpu', default='1')
p.add_argument('--settle', type=float, default=1.5)
p.add_argument('--tree', default='.')
p.add_argument('--prefix', default='p39')
p.add_argument('--any', action='store_true')
a = p.parse_args()

tree = os.path.abspath(a.tree)
pcap = os.path.abspath(os.path.join(tree, a.pcap) if not os.path.isabs(a.pcap) else a.pcap)
ns, cap_if, rep_if = f'{a.prefix}ns', f'{a.prefix}c', f'{a.prefix}r'
cap_ns = f'{a.prefix}cap'  # --any: the capture end's and the daemon's namespace
in_cap = ['ip', 'netns', 'exec', cap_ns] if a.any else []
tck = os.sysconf('SC_CLK_TCK')


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def lab_down():
    sh('ip', 'netns', 'del', ns, check=False)
    sh('ip', 'link', 'del', cap_if, check=False)
    if a.any:
        sh('ip', 'netns', 'del', cap_ns, check=False)


def lab_up():
    lab_down()
    sh('ip', 'netns', 'add', ns)
    sh('ip', 'link', 'add', cap_if, 'type', 'veth', 'peer', 'name', rep_if, 'netns', ns)
    if a.any:
        sh('ip', 'netns', 'add', cap_ns)
        sh('ip', 'link', 'set', cap_if, 'netns', cap_ns)
    sh(*in_cap, 'sysctl', '-q', '-w', f'net.ipv6.conf.{cap_if}.disable_ipv6=1', check=False)
    for dev, inns in ((cap_if, False), (rep_if, True)):
        pre = ['ip', 'netns', 'exec', ns] if inns else in_cap
        subprocess.run(pre + ['ethtool', '-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off'], capture_output=True)
    sh(*in_cap, 'ip', 'link', 'set', cap_if, 'up')
    sh('ip', 'netns', 'exec', ns, 'ip', 'link', 'set', rep_if, 'up')


def cpu_of(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tck  # utime + stime (fields 14, 15)


def oncpu_of(pid):
    """Seconds on a CPU of all the process's threads now (schedstat, ns resolution; threads alive at both reads)."""
    t = 0
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{tid}/schedstat') as f:
                t += int(f.read().split()[0])
        except OSError:
            pass
    return t / 1e9


def run(fast, scratch, k):
    db = os.path.join(scratch, f'{k}.db')
    cfg = os.path.join(scratch, 'cfg.json')
    with open(cfg, 'w') as f:
        json.dump({'stats': {'intervalSeconds': 0}}, f)
    env = dict(os.environ)
    env.pop('NODE_EXTRA_CA_CERTS', None)
    if not fast:
        env['SENSOR_FASTPATH'] = '0'
    log = open(os.path.join(scratch, f'{k}.log'), 'w+')
    d = subprocess.Popen(in_cap + ['taskset', '-c', a.cpu, 'node', 'bin/sensor.js', '--interface', 'any' if a.any else cap_if, '--db', db, '--config', cfg,
                          '--no-classify', '--log-level', 'debug'], cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=log)
    t0 = time.time()
    while 'capture started' not in open(log.name).read():
        if d.poll() is not None or time.time() - t0 > 60:
            raise SystemExit(f'daemon did not start: {open(log.name).read()}')
        time.sleep(0.05)
    time.sleep(0.5)
    c0 = cpu_of(d.pid)
    s0 = oncpu_of(d.pid)
    w0 = time.time()
    tr = subprocess.run(['ip', 'netns', 'exec', ns, 'taskset', '-c', a.cpu, 'tcpreplay', f'--pps={a.pps}', f'--limit={a.packets}',
                         '-i', rep_if, pcap], capture_output=True, text=True)
    time.sleep(a.settle)
    c1 = cpu_of(d.pid)
    s1 = oncpu_of(d.pid)
    w1 = time.time()
    d.send_signal(signal.SIGTERM)
    d.wait(60)
    lines = [json.loads(x) for x in open(log.name) if x.startswith('{')]
    stopped = next(x for x in lines if x.get('message') == 'stopped')
    fp = next((x for x in lines if x.get('message') == 'fast path'), None)
    started = next((x for x in lines if x.get('message') == 'capture started'), {})
    sent = int(re.search(r'Actual: (\d+) packets', tr.stdout).group(1))
    os.unlink(db)
    return {
        'fast': fast, 'cpu': c1 - c0, 'oncpu': s1 - s0, 'wall': w1 - w0, 'sent': sent, 'received': stopped.get('packets_received'),
        'decoded': stopped.get('tcp_packets'), 'drops': stopped.get('kernel_drops'), 'ifdrops': stopped.get('interface_drops'),
        'taken': fp['packets'] if fp else 0, 'stops': fp['stops'] if fp else {}, 'started': started,
    }


def load():
    return open('/proc/loadavg').read().split()[0]


lab_up()
scratch = tempfile.mkdtemp(prefix='p39-live-')
res = {True: [], False: []}
diffs = []
sdiffs = []
print(f'start load {load()}; {a.rounds} rounds, {a.packets} packets at {a.pps} pps, core {a.cpu}', flush=True)
try:
    for r in range(a.rounds):
        order = [True, False] if r % 2 == 0 else [False, True]
        got = {}
        for fast in order:
            x = run(fast, scratch, f'{r}-{int(fast)}')
            got[fast] = x
            res[fast].append(x)
            print(f'round {r} {"on " if fast else "off"} load {load()} cpu {x["cpu"]:.2f} s ({1e6 * x["cpu"] / x["sent"]:.2f} us/packet), '
                  f'schedstat {x["oncpu"]:.3f} s ({1e6 * x["oncpu"] / x["sent"]:.3f} us/packet) '
                  f'sent {x["sent"]} received {x["received"]} decoded {x["decoded"]} drops {x["drops"]}/{x["ifdrops"]} '
                  f'taken {x["taken"]} ({100 * x["taken"] / max(1, x["decoded"]):.1f}%)', flush=True)
        diffs.append(got[True]['cpu'] - got[False]['cpu'])
        sdiffs.append(got[True]['oncpu'] - got[False]['oncpu'])
finally:
    lab_down()
for fast in (True, False):
    xs = res[fast]
    print(f'{"on " if fast else "off"}: cpu median {statistics.median(x["cpu"] for x in xs):.3f} s, '
          f'{statistics.median(1e6 * x["cpu"] / x["sent"] for x in xs):.3f} us/packet; schedstat median {statistics.median(x["oncpu"] for x in xs):.3f} s, '
          f'{statistics.median(1e6 * x["oncpu"] / x["sent"] for x in xs):.3f} us/packet; drops max {max(x["drops"] for x in xs)}; '
          f'taken median {statistics.median(x["taken"] for x in xs)}; stops {xs[-1]["stops"]}')
print(f'per round on - off: {" ".join(f"{d:+.2f}" for d in diffs)}; median {statistics.median(diffs):+.3f} s, lower in {sum(d < 0 for d in diffs)}/{len(diffs)}')
print(f'schedstat per round on - off: {" ".join(f"{d:+.3f}" for d in sdiffs)}; median {statistics.median(sdiffs):+.3f} s, lower in {sum(d < 0 for d in sdiffs)}/{len(sdiffs)}')
print(f'capture started: {res[True][-1]["started"]}')
print(f'end load {load()}')
