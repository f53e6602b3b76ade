#!/usr/bin/env python3
"""The lab's clients (run inside the client namespace): N sessions of every service, 8 at a time, each from a
random one of the lab's client addresses. Python's TLS stack for all of them: one client, five behaviours.

  client.py SESSIONS_PER_SERVICE SEED
"""
import json
import os
import random
import socket
import ssl
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from services import CLIENT_IPS, SERVICES  # noqa: E402

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
AGENTS = ["labclient/1.0", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"]


def connect(svc, rng):
    s = socket.create_connection((svc["ip"], 443), timeout=20, source_address=(rng.choice(CLIENT_IPS), 0))
    return CTX.wrap_socket(s, server_hostname=svc["name"])


class Http:
    def __init__(self, t, host, rng):
        self.t, self.host, self.buf = t, host, b""
        self.agent = rng.choice(AGENTS)

    def get(self, path, extra=""):
        self.t.sendall(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nUser-Agent: {self.agent}\r\n{extra}\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            d = self.t.recv(65536)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        n = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":")[1])
        while len(self.buf) < n:
            d = self.t.recv(262144)
            if not d:
                raise ConnectionError("closed")
            self.buf += d
        self.buf = self.buf[n:]
        return n


def pages(svc, rng):
    with connect(svc, rng) as t:
        h = Http(t, svc["name"], rng)
        acc = "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n"
        h.get(f"/p/{rng.randint(0, 19)}.html", acc)
        for _ in range(rng.randint(8, 20)):
            time.sleep(rng.uniform(0, 0.03))
            h.get(f"/r/{rng.randint(0, 59)}.{rng.choice(['css', 'js', 'png'])}", "Accept: */*\r\nReferer: https://" + svc["name"] + "/\r\n")


def api(svc, rng):
    with connect(svc, rng) as t:
        h = Http(t, svc["name"], rng)
        tok = "".join(rng.choice("abcdef0123456789") for _ in range(rng.choice([32, 40, 64])))
        for _ in range(rng.randint(6, 20)):
            h.get(f"/v1/items/{rng.randint(0, 99)}.json", f"Accept: application/json\r\nAuthorization: Bearer {tok}\r\n")
            time.sleep(rng.uniform(0.02, 0.15))


def downloads(svc, rng):
    with connect(svc, rng) as t:
        Http(t, svc["name"], rng).get(f"/f/{rng.randint(0, 5)}.bin", "Accept: */*\r\n")


def video(svc, rng):
    with connect(svc, rng) as t:
        h = Http(t, svc["name"], rng)
        pos = rng.randrange(0, 20 << 20, 4096)
        for _ in range(rng.randint(4, 10)):
            size = rng.randint(16 << 10, 40 << 10)
            h.get("/v/movie.mp4", f"Accept: */*\r\nRange: bytes={pos}-{pos + size - 1}\r\n")
            pos += size
            time.sleep(rng.uniform(0.01, 0.06))


def chat(svc, rng):
    with connect(svc, rng) as t:
        t.settimeout(0.05)
        end = time.time() + rng.uniform(2, 5)
        nxt = time.time()
        while time.time() < end:
            if time.time() >= nxt:
                t.sendall(b"MSG " + bytes(rng.choice(b"klmnopqrst ") for _ in range(rng.randint(20, 200))) + b"\n")
                nxt = time.time() + rng.uniform(0.08, 0.4)
            try:
                t.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                pass


BEHAVIOUR = {"pages": pages, "api": api, "downloads": downloads, "video": video, "chat": chat}


def main():
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    jobs = [(svc, random.Random(rng.getrandbits(64))) for svc in SERVICES for _ in range(n)]
    rng.shuffle(jobs)
    done = {s["key"]: 0 for s in SERVICES}
    failed = {s["key"]: 0 for s in SERVICES}

    def one(job):
        svc, r = job
        try:
            BEHAVIOUR[svc["key"]](svc, r)
            done[svc["key"]] += 1
        except Exception as e:  # a failed session is counted and reported, not hidden
            failed[svc["key"]] += 1
            print(f"{svc['key']}: {e!r}", file=sys.stderr)

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(one, jobs))
    print(json.dumps({"done": done, "failed": failed}))


if __name__ == "__main__":
    main()
