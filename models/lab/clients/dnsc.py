#!/usr/bin/env python3
"""dnspython queries over TCP (one connection per query, or several on one socket): dnsc.py SERVER SEED NAME TYPE..."""
import random
import socket
import sys
import time

import dns.message
import dns.query

server, rng = sys.argv[1], random.Random(int(sys.argv[2]))
qs = list(zip(sys.argv[3::2], sys.argv[4::2]))
reuse = rng.random() < 0.4
sock = None
for name, rdtype in qs:
    m = dns.message.make_query(name, rdtype, want_dnssec=rng.random() < 0.2, use_edns=rng.choice([None, 0]))
    if reuse:
        if sock is None:
            sock = socket.create_connection((server, 53), timeout=10)
        dns.query.send_tcp(sock, m)
        dns.query.receive_tcp(sock, expiration=time.time() + 10)
    else:
        dns.query.tcp(m, server, timeout=10)
if sock:
    sock.close()
