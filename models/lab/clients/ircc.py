#!/usr/bin/env python3
"""IRC sessions with Python: ircc.py raw|jaraco HOST PORT NICK KIND SEED (KIND: chat|idle|bulk).

raw: a hand-written socket client (as bots and scripts do); jaraco: the `irc` library (python3-irc)."""
import random
import socket
import sys
import time

lib, host, port, nick, kind, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
rng = random.Random(seed)
chans = rng.sample(["#lab", "#ops", "#dev", "#random", "#alerts"], rng.randint(1, 3))
lines = [rng.choice(["hi", "deploy done", "anyone around?", "x" * rng.randint(10, 400), "build #%d failed" % rng.randrange(999)])
         for _ in range(rng.randint(1, 20 if kind == "bulk" else 5))]

if lib == "raw":
    s = socket.create_connection((host, port), timeout=20)
    f = s.makefile("rwb", buffering=0)

    def send(line):
        s.sendall(line.encode() + b"\r\n")

    cap = rng.random() < 0.3
    if cap:
        send("CAP LS 302")
    send(f"NICK {nick}")
    send(f"USER {nick} 0 * :{rng.choice(['Lab User', 'bot', nick])}")
    if cap:
        send("CAP END")
    end = time.time() + 10
    while time.time() < end:
        line = f.readline().decode("utf-8", "replace")
        if not line:
            sys.exit(1)
        if line.startswith("PING"):
            send("PONG" + line[4:].rstrip())
        if " 001 " in line or " 376 " in line or " 422 " in line:
            break
    for c in chans:
        send(f"JOIN {c}")
    s.settimeout(0.5)
    for text in lines:
        time.sleep(rng.uniform(0.05, 0.8) if kind != "bulk" else 0.01)
        send(f"PRIVMSG {rng.choice(chans)} :{text}")
    if kind == "idle":
        time.sleep(rng.uniform(3, 8))
    send("QUIT :" + rng.choice(["bye", "", "Leaving"]))
    time.sleep(0.3)
    s.close()
else:
    import irc.client
    r = irc.client.IRC()  # python3-irc 8.5: the reactor is irc.client.IRC
    c = r.server().connect(host, port, nick, ircname="Lab User")
    state = {"ready": False}
    c.add_global_handler("welcome", lambda conn, ev: state.update(ready=True))
    end = time.time() + 10
    while not state["ready"] and time.time() < end:
        r.process_once(0.2)
    for ch in chans:
        c.join(ch)
    for text in lines:
        r.process_once(rng.uniform(0.05, 0.8) if kind != "bulk" else 0.01)
        c.privmsg(rng.choice(chans), text)
    if kind == "idle":
        end = time.time() + rng.uniform(3, 8)
        while time.time() < end:
            r.process_once(0.5)
    c.quit("bye")
    r.process_once(0.3)
