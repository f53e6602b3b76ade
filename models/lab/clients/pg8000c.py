#!/usr/bin/env python3
"""pg8000 1.10 (pure-Python PostgreSQL driver) session: pg8000c.py HOST USER PASSWORD SEED."""
import random
import sys
import time

import pg8000

host, user, pw, rng = sys.argv[1], sys.argv[2], sys.argv[3], random.Random(int(sys.argv[4]))
# pg8000 1.10 (Debian 12) predates SCRAM: the lab's trust rule for non-"lab" users lets it in
c = pg8000.connect(user=user, host=host, password=pw or None, database="postgres", timeout=20)
cur = c.cursor()
for _ in range(rng.randint(1, 6)):
    q = rng.choice(["SELECT 1", "SELECT now()", "SELECT count(*) FROM items",
                    f"SELECT id, name, body FROM items WHERE id < {rng.randint(1, 300)}"])
    cur.execute(q)
    cur.fetchall()
    time.sleep(rng.uniform(0, 0.3))
if rng.random() < 0.3:
    cur.execute("INSERT INTO items(name, body) VALUES (%s, %s)", ("pg8000", "p" * rng.randint(1, 3000)))
    c.commit()
c.close()
