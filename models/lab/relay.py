#!/usr/bin/env python3
"""Layer-2 relay between two interfaces that adds delay, jitter, loss, reordering and a rate limit.

The lab kernel has no netem qdisc, so impairments are made here in userspace: frames read from one
AF_PACKET socket are held in a heap and sent out of the other one at their release time. All random
choices come from one seeded RNG so a run's impairments are reproducible from its conditions file.
Runs inside the lab's relay namespace only; it stops after --max-seconds whatever happens.
"""
import argparse
import heapq
import random
import select
import signal
import socket
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # frames this socket (or the kernel) sent: never forward them back
READ_BURST = 64  # frames drained per readable socket per loop turn, so one direction cannot starve the other


def parse():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay, each direction")
    ap.add_argument("--jitter-ms", type=float, default=0.0, help="standard deviation of the delay")
    ap.add_argument("--loss", type=float, default=0.0, help="probability that a frame is dropped")
    ap.add_argument("--reorder", type=float, default=0.0, help="probability that a frame is held back past later ones")
    ap.add_argument("--rate-mbit", type=float, default=0.0, help="serialisation rate per direction; 0 = unlimited")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=900.0)
    return ap.parse_args()


def open_sock(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    s.bind((ifname, 0))
    s.setblocking(False)
    return s


def main():
    o = parse()
    rng = random.Random(o.seed)
    sa, sb = open_sock(o.a), open_sock(o.b)
    peer = {sa: sb, sb: sa}
    last = {sa: 0.0, sb: 0.0}  # latest release time per direction (keeps order unless a reorder is drawn)
    link_free = {sa: 0.0, sb: 0.0}
    heap, seq = [], 0
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    deadline = time.monotonic() + o.max_seconds
    delay, jitter = o.delay_ms / 1000.0, o.jitter_ms / 1000.0
    while not stop and time.monotonic() < deadline:
        now = time.monotonic()
        timeout = 0.2 if not heap else min(0.2, max(0.0, heap[0][0] - now))
        try:
            ready, _, _ = select.select([sa, sb], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for s in ready:
            for _ in range(READ_BURST):
                try:
                    data, addr = s.recvfrom(65600)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                if o.loss > 0 and rng.random() < o.loss:
                    continue
                t = now + max(0.0, delay + (rng.gauss(0.0, jitter) if jitter > 0 else 0.0))
                if o.rate_mbit > 0:
                    t = max(t, link_free[s])
                    link_free[s] = t + len(data) * 8 / (o.rate_mbit * 1e6)
                if o.reorder > 0 and rng.random() < o.reorder:
                    t += rng.uniform(0.0005, 0.002 + 2 * delay)  # held back; later frames overtake it
                else:
                    t = max(t, last[s])
                    last[s] = t
                heapq.heappush(heap, (t, seq, peer[s], data))
                seq += 1
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _, _, out, data = heapq.heappop(heap)
            try:
                out.send(data)
            except OSError:
                pass  # interface going down at teardown: the frame is lost, as on a real link


if __name__ == "__main__":
    main()
