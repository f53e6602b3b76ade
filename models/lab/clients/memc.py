#!/usr/bin/env python3
"""pymemcache session: memc.py HOST PORT SEED (get/set/delete/incr mixes, multi-gets)."""
import random
import sys

from pymemcache.client.base import Client

host, port, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
c = Client((host, port), connect_timeout=20, timeout=20)
for _ in range(rng.randint(1, 25)):
    k = f"k{rng.randrange(50)}"
    op = rng.random()
    if op < 0.35:
        c.set(k, "v" * rng.randint(1, 20000), expire=rng.choice([0, 60, 3600]))
    elif op < 0.75:
        c.get(k)
    elif op < 0.85:
        c.get_many([f"k{rng.randrange(50)}" for _ in range(rng.randint(2, 10))])
    elif op < 0.92:
        c.incr("ctr", 1) or c.set("ctr", "1")
    else:
        c.delete(k)
c.close()
