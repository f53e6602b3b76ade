#!/usr/bin/env python3
"""Hand-written XMPP c2s client (as small bots and monitoring scripts do): xmppraw.py HOST PORT USER PASS SEED.
Stream, STARTTLS when offered, SASL PLAIN, bind, session, presence, a few messages, close."""
import base64
import random
import re
import socket
import ssl
import sys
import time

host, port, user, pw, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
rng = random.Random(seed)
s = socket.create_connection((host, port), timeout=20)


def send(x):
    s.sendall(x.encode())


def until(pattern):
    buf = ""
    end = time.time() + 15
    while time.time() < end:
        d = s.recv(65536)
        if not d:
            raise SystemExit("closed")
        buf += d.decode("utf-8", "replace")
        if re.search(pattern, buf):
            return buf
    raise SystemExit("timeout waiting for " + pattern)


def open_stream():
    send("<?xml version='1.0'?><stream:stream to='lab.test' xmlns='jabber:client' "
         "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
    return until("</stream:features>")


feats = open_stream()
if "starttls" in feats:
    send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    until("<proceed")
    c = ssl.create_default_context()
    c.check_hostname, c.verify_mode = False, ssl.CERT_NONE
    s = c.wrap_socket(s, server_hostname="lab.test")
    open_stream()
token = base64.b64encode(f"\0{user}\0{pw}".encode()).decode()
send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
if "<success" not in until("<success|<failure"):
    raise SystemExit("auth failed")
open_stream()
send(f"<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw{rng.randrange(999)}</resource></bind></iq>")
until("</iq>")
if rng.random() < 0.5:
    send("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
    until("</iq>|/>")
if rng.random() < 0.5:
    send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
send("<presence/>")
for i in range(rng.randint(0, 6)):
    to = rng.choice(["alice@lab.test", "bob@lab.test", "carol@lab.test"])
    send(f"<message to='{to}' type='chat' id='m{i}'><body>{'r' * rng.randint(1, 600)}</body></message>")
    time.sleep(rng.uniform(0, 0.4))
send("</stream:stream>")
time.sleep(0.3)
s.close()
