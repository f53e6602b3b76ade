#!/usr/bin/env python3
"""python-requests (urllib3) session with connection pooling: reqc.py BASEURL SEED PATH..."""
import random
import sys

import requests
import urllib3

urllib3.disable_warnings()
base, rng = sys.argv[1], random.Random(int(sys.argv[2]))
s = requests.Session()
s.headers["User-Agent"] = rng.choice(["python-requests/2.28.1", "my-app/3.2 (+https://example.org)", "backup-agent"])
for p in sys.argv[3:]:
    if p.startswith("upload"):
        r = s.post(f"{base}/{p}", data="r" * rng.randint(1, 20000), verify=False, timeout=30)
    else:
        r = s.get(f"{base}/{p}", verify=False, timeout=30, stream=rng.random() < 0.3)
        r.content
s.close()
