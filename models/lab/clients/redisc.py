#!/usr/bin/env python3
"""redis-py session: redisc.py HOST PORT PASSWORD SEED [notx] (commands, sometimes a pipeline; `notx`: pipelines
without MULTI/EXEC, as used behind Twemproxy, which rejects transactions)."""
import random
import sys

import redis

host, port, pw, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3] or None, int(sys.argv[4])
rng = random.Random(seed)
r = redis.Redis(host=host, port=port, password=pw, socket_timeout=20)
ops = rng.randint(1, 20)
p = r.pipeline(transaction=sys.argv[5:] != ["notx"]) if rng.random() < 0.3 else r
for i in range(ops):
    k = f"py{rng.randrange(200)}"
    op = rng.random()
    if op < 0.4:
        p.set(k, "v" * rng.randint(1, 4000))
    elif op < 0.8:
        p.get(k)
    elif op < 0.9:
        p.incr("pyc")
    else:
        p.hset("pyh", k, rng.randint(0, 1000))
if p is not r:
    p.execute()
r.close()
