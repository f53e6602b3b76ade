#!/usr/bin/env python3
"""Python telnetlib session: telnetc.py HOST PORT USER PASSWORD KIND SEED (KIND: command|interactive|idle)."""
import random
import sys
import telnetlib
import time
import warnings

warnings.filterwarnings("ignore")
host, port, user, pw, kind, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
rng = random.Random(seed)
t = telnetlib.Telnet(host, port, timeout=20)
t.read_until(b"login: ", 15)
t.write(user.encode() + b"\r\n")
t.read_until(b"assword: ", 15)
t.write(pw.encode() + b"\r\n")
time.sleep(rng.uniform(0.3, 1.0))
cmds = [rng.choice(["ls", "pwd", "id", "date", "uname -a", "cat /etc/hostname", "ls -la /etc | head -30"])
        for _ in range(1 if kind == "command" else rng.randint(2, 6))]
for c in cmds:
    if kind == "interactive":
        for ch in c:
            t.write(ch.encode())
            time.sleep(rng.uniform(0.02, 0.15))
        t.write(b"\r\n")
    else:
        t.write(c.encode() + b"\r\n")
    time.sleep(rng.uniform(0.2, 1.0) if kind != "idle" else rng.uniform(2, 5))
    t.read_very_eager()
t.write(b"exit\r\n")
time.sleep(0.3)
t.close()
