#!/usr/bin/env python3
"""python-memcached (python3-memcache, a separate pure-Python client) session: memc2.py HOST PORT SEED."""
import random
import sys

import memcache

host, port, rng = sys.argv[1], sys.argv[2], random.Random(int(sys.argv[3]))
mc = memcache.Client([f"{host}:{port}"], socket_timeout=10)
for _ in range(rng.randint(1, 12)):
    k = f"pm{rng.randrange(60)}"
    op = rng.random()
    if op < 0.4:
        mc.set(k, "v" * rng.randint(1, 8000), time=rng.choice([0, 60]))
    elif op < 0.8:
        mc.get(k)
    elif op < 0.9:
        mc.get_multi([f"pm{rng.randrange(60)}" for _ in range(rng.randint(2, 8))])
    else:
        mc.incr("counter") or mc.set("counter", "1")
if rng.random() < 0.2:
    mc.get_stats()
mc.disconnect_all()
