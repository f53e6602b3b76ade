#!/usr/bin/env python3
"""PyMySQL session: myc.py HOST USER PASSWORD SEED."""
import random
import sys

import pymysql

host, user, pw, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = random.Random(seed)
c = pymysql.connect(host=host, user=user, password=pw, database="labdb", connect_timeout=20,
                    autocommit=rng.random() < 0.5)
cur = c.cursor()
for _ in range(rng.randint(1, 8)):
    q = rng.choice(["SELECT %s", "SELECT * FROM items WHERE id = %s", "SELECT name FROM items WHERE id < %s",
                    "INSERT INTO items(name, body) VALUES ('p', REPEAT('q', %s))"])
    cur.execute(q, (rng.randint(1, 400),))
    cur.fetchall()
c.commit()
c.close()
