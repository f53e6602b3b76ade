#!/usr/bin/env python3
"""psycopg2 session: pgc.py HOST USER SEED (several queries, a transaction, sometimes prepared statements)."""
import random
import sys

import psycopg2

host, user, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
c = psycopg2.connect(host=host, user=user, password="labpw", dbname="postgres", connect_timeout=20,
                     sslmode=rng.choice(["disable", "prefer"]), application_name=rng.choice(["web", "worker", "etl"]))
cur = c.cursor()
for _ in range(rng.randint(1, 8)):
    q = rng.choice(["SELECT %s", "SELECT * FROM items WHERE id = %s", "SELECT name FROM items WHERE id < %s",
                    "INSERT INTO items(name, body) VALUES ('p', repeat('q', %s))"])
    cur.execute(q, (rng.randint(1, 400),))
    if cur.description:
        cur.fetchall()
    if rng.random() < 0.5:
        c.commit()
c.commit()
c.close()
