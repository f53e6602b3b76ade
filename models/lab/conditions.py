"""Draws one run's network conditions. Everything that differs between real networks and that changes
packet sizes or their order is randomised here, and the draw is written beside the capture."""


def tcp_side(rng):
    return {
        "timestamps": 1 if rng.random() < 0.7 else 0,  # 12-byte option: 1448 vs 1460 byte full segments
        "sack": 1 if rng.random() < 0.9 else 0,
        "window_scaling": 1 if rng.random() < 0.9 else 0,
        "rmem": rng.choice([16384, 65536, 131072, 262144]),
        "wmem": rng.choice([16384, 65536, 131072]),
        "ssai": rng.choice([0, 1]),
        "ecn": rng.choice([0, 2, 2, 1]),
        # most paths leave the MSS alone; VPNs, PPPoE and firewalls clamp it
        "advmss": 0 if rng.random() < 0.7 else rng.choice([1360, 1400, 1220, 1410, 536 + rng.randrange(0, 800)]),
        # the kernel holds back small writes while earlier data still sits in the qdisc/device queue (default 1)
        "autocork": 1 if rng.random() < 0.8 else 0,
    }


def draw(rng):
    u = rng.random()
    if u < 0.25:
        delay = rng.uniform(0.0, 0.5)  # same LAN / data centre
    elif u < 0.75:
        delay = rng.uniform(0.5, 20.0)
    else:
        delay = rng.uniform(20.0, 80.0)  # one way: RTT up to 160 ms
    jitter = 0.0 if rng.random() < 0.5 else rng.uniform(0.0, max(0.2, delay * 0.3))
    return {
        "mtu": rng.choice([1500, 1500, 1500, 1500, 1492, 1480, 1450, 1400, 1280, 9000]),
        "client": tcp_side(rng),
        "server": tcp_side(rng),
        "relay": {
            "delay_ms": round(delay, 3),
            "jitter_ms": round(jitter, 3),
            "loss": 0.0 if rng.random() < 0.6 else round(rng.uniform(0.0, 0.02), 4),
            "reorder": 0.0 if rng.random() < 0.7 else round(rng.uniform(0.0, 0.03), 4),
            "rate_mbit": 0.0 if rng.random() < 0.6 else rng.choice([5.0, 20.0, 100.0, 500.0]),
        },
        "capture_side": rng.choice(["client", "server"]),
    }


def draw_v2(rng):
    """Conditions of the diverse lab (batches b1 on): draw() plus the capture point and Nagle.

    offload: the capture is taken on an end host with segmentation offload on (TSO/GSO on the sender, GRO on
    the receiver): the client and server veths keep their offloads and are joined by a kernel bridge instead of
    the userspace relay (which forwards wire-sized frames only), so the capture sees coalesced super-segments as
    tcpdump on a busy server does. The relay's impairments are then off; the MTU and MSS draws stay.
    nagle: "app-default" leaves TCP_NODELAY to each program; "nodelay" and "nagle" force it on or off for every
    socket of the client and server programs that load the preload shim (nagle.c)."""
    c = draw(rng)
    c["offload"] = rng.random() < 0.25
    if c["offload"]:
        c["relay"] = {"delay_ms": 0.0, "jitter_ms": 0.0, "loss": 0.0, "reorder": 0.0, "rate_mbit": 0.0}
    u = rng.random()
    c["nagle"] = "app-default" if u < 0.6 else ("nodelay" if u < 0.8 else "nagle")
    return c
