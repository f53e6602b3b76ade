#!/usr/bin/env python3
"""Python http.client session (one connection, several requests): httpc.py HOST PORT TLS UA SEED PATH..."""
import http.client
import random
import ssl
import sys

host, port, tls, ua, seed = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], int(sys.argv[5])
rng = random.Random(seed)
if tls:
    c = ssl.create_default_context()
    c.check_hostname, c.verify_mode = False, ssl.CERT_NONE
    if rng.random() < 0.3:
        c.maximum_version = ssl.TLSVersion.TLSv1_2
    conn = http.client.HTTPSConnection(host, port, context=c, timeout=30)
else:
    conn = http.client.HTTPConnection(host, port, timeout=30)
for p in sys.argv[6:]:
    hdrs = {"User-Agent": ua, "Accept": rng.choice(["*/*", "text/html,application/xhtml+xml", "application/json"])}
    if rng.random() < 0.3:
        hdrs["Accept-Encoding"] = "gzip, deflate"
    conn.request("GET", "/" + p, headers=hdrs)
    r = conn.getresponse()
    r.read()
    if r.getheader("Connection", "").lower() == "close":
        conn.close()
conn.close()
