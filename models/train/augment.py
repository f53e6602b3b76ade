"""Length-sequence augmentation by mechanisms that change lengths on real networks, not by noise.

A signed length sequence is a list of TCP segments. What the application sent is a list of messages, and
the network and the capture point decide how messages become segments:

- `mss`: another MSS (other MTU, clamping, tunnels, TCP options) re-cuts every stretch of full-size segments:
  a direction run that holds full segments is re-segmented at the new MSS (its bytes are kept).
- `coalesce`: captures on an end host with segmentation offload (TSO/GSO on send, GRO/LRO on receive) see
  back-to-back segments of one direction as one super-segment of up to 64 KiB.
- `split`: an application that writes a message in two parts (header then body, Nagle off) or a smaller
  window sends one message as two segments.
- `midstream` (optional): the capture started after the connection, so its first packets are missing.
- `oneway` (optional): asymmetric routing, the tap sees one direction only; `oneway-seen` also applies what the
  sensor then records (server-side-only flows that missed the handshake come out all positive).
- `mss-ts` (optional): `mss` at the full-segment sizes real captures show with the TCP timestamp option.
- `http-headers` (optional, content, rows of class http only): requests on real networks carry what a lab's
  requests lack (cookies, long URLs, Referer, more Accept-* headers), so every request of a flow grows by one
  amount (log-uniform 8..2048 bytes, a little jitter per request) and is cut at the MSS where it no longer fits
  one segment. Lab browsers' first requests are 265-378 bytes; real ones seen in the outside captures 370-1600.
- `dns-reuse` (optional, content, rows of class dns only): resolvers reuse a TCP connection for several queries
  (RFC 7766: unbound, dnsdist, systemd-resolved, pipelining stub resolvers) where the lab's clients open one per
  query, so the flow gets the query/response exchanges of 1-3 other dns flows of the training rows appended.

`compose`: real captures combine a network with a capture point (a one-sided tap on a path with another MSS), so
with probability `compose` a copy whose picked mechanism is of one family (NETWORK: mss, mss-ts, coalesce, split;
CAPTURE: midstream, oneway, oneway-seen) also goes through one of the named mechanisms of the other family, the
network one first.

Content mechanisms change what the application sends, so they act first, on about CONTENT_SHARE of the copies of
their class's rows; the network or capture mechanism picked for the copy then cuts the result as usual.

Each function takes and returns a list of non-zero signed lengths; `augment_rows` applies a random mechanism
to a share of the rows and re-pads them to L. Everything is seeded by the caller's numpy Generator.
"""
import numpy as np

MSS_CHOICES = np.array([536, 1200, 1220, 1360, 1380, 1400, 1420, 1440, 1448, 1460, 8948])
# Full-segment payload sizes with the 12-byte TCP timestamp option on common MSS values (1460 Ethernet, 1452 and
# 1440 PPPoE/DSL, 1400/1380/1360 VPN and tunnel clamps, 1240/1220 IPv6 tunnels): real captures show 1368, 1388,
# 1428 ... where a lab on plain Ethernet only ever shows 1448
MSS_TIMESTAMPS = np.array([1208, 1228, 1348, 1368, 1388, 1408, 1428, 1440])
FULL = 1200  # a segment this large is taken to be MSS-bound
MAX_SUPER = 65535


def runs_of(seq):
    """[(sign, [lengths...]), ...]: maximal stretches of one direction."""
    out = []
    for v in seq:
        s = 1 if v > 0 else -1
        if out and out[-1][0] == s:
            out[-1][1].append(abs(v))
        else:
            out.append((s, [abs(v)]))
    return out


def mss(seq, rng, new=None):
    new = int(new if new is not None else rng.choice(MSS_CHOICES))
    out = []
    for s, lens in runs_of(seq):
        i = 0
        while i < len(lens):
            if lens[i] >= FULL:
                # a stretch of full segments plus the remainder that closes it is one message
                j = i
                while j < len(lens) and lens[j] >= FULL:
                    j += 1
                if j < len(lens):
                    j += 1
                total = sum(lens[i:j])
                while total > 0:
                    n = min(new, total)
                    out.append(s * n)
                    total -= n
                i = j
            else:
                out.append(s * lens[i])
                i += 1
    return out


def mss_ts(seq, rng):
    """`mss` at the full-segment sizes of the timestamp option or of the plain MSS values, one of each half."""
    pool = MSS_TIMESTAMPS if rng.random() < 0.5 else MSS_CHOICES
    return mss(seq, rng, new=int(rng.choice(pool)))


def coalesce(seq, rng):
    out = []
    for s, lens in runs_of(seq):
        i = 0
        while i < len(lens):
            k = int(rng.integers(2, 46))  # segments one offload burst merges
            total = 0
            j = i
            while j < len(lens) and j < i + k and total + lens[j] <= MAX_SUPER:
                total += lens[j]
                j += 1
            if j == i:  # a single segment larger than the cap stays as it is
                total, j = lens[i], i + 1
            out.append(s * total)
            i = j
    return out


def split(seq, rng):
    out = list(seq)
    cand = [i for i, v in enumerate(out) if abs(v) >= 8]
    if not cand:
        return out
    for i in sorted(rng.choice(cand, size=min(len(cand), int(rng.integers(1, 3))), replace=False), reverse=True):
        v = out[i]
        a = abs(v)
        # header-sized first parts are the common case (e.g. a 5-byte TLS record header, an HTTP header block)
        first = int(rng.integers(1, min(a - 1, 600) + 1)) if rng.random() < 0.5 else int(rng.integers(1, a))
        s = 1 if v > 0 else -1
        out[i:i + 1] = [s * first, s * (a - first)]
    return out


def midstream(seq, rng):
    """The capture (or the flow table) started after the connection: the first packets are missing. Without the
    handshake the sensor takes the first sender as the client (SPEC.md), so the signs follow the first packet kept
    unless the SYN+ACK was still seen (half the time)."""
    if len(seq) < 3:
        return list(seq)
    out = list(seq[int(rng.integers(1, min(6, len(seq) - 1) + 1)):])
    if out[0] < 0 and rng.random() < 0.5:
        out = [-v for v in out]
    return out


def oneway(seq, rng):
    """Asymmetric routing: the tap sees one direction of the connection only."""
    keep = 1 if rng.random() < 0.5 else -1
    out = [v for v in seq if (v > 0) == (keep > 0)]
    return out if out else list(seq)


def oneway_seen(seq, rng):
    """`oneway` as the sensor then records it: a tap that sees the server's side only sees the SYN+ACK (the
    client is named right, every length negative) unless the capture also started late; then the first sender
    seen, the server, is taken as the client (SPEC.md) and every length is positive. Half of those server-side
    flows lose their first packets too (`midstream`)."""
    keep = 1 if rng.random() < 0.5 else -1
    out = [v for v in seq if (v > 0) == (keep > 0)]
    if not out:
        return list(seq)
    if keep < 0 and rng.random() < 0.5:
        if len(out) >= 3:
            out = out[int(rng.integers(0, min(4, len(out) - 1) + 1)):]
        out = [-v for v in out]
    return out


HEADER_MSS = np.array([1448, 1460, 1428, 1368, 1388, 1400])


def http_headers(seq, rng):
    """Grows every request (the first segment of each client run) by one per-flow amount: the header bytes a real
    client adds (cookies, URLs, Referer). A run that starts with a full segment (a request plus body cut at the
    MSS) keeps its segment size and gets the growth on its last segment; a grown first segment that no longer
    fits one segment is cut at an MSS."""
    g = float(np.exp(rng.uniform(np.log(8), np.log(2048))))
    cut = int(rng.choice(HEADER_MSS))
    out = []
    for s, lens in runs_of(seq):
        if s < 0:
            out.extend(-v for v in lens)
            continue
        grow = max(0, int(round(g + rng.uniform(-0.1, 0.1) * g)))
        lens = list(lens)
        if lens[0] >= FULL:
            j = 0
            while j < len(lens) and lens[j] >= FULL:
                j += 1
            k = min(j, len(lens) - 1)
            lens[k] += grow
            mss_run = lens[0]
            if lens[k] > mss_run:
                extra = lens[k] - mss_run
                lens[k] = mss_run
                lens.insert(k + 1, extra)
        else:
            total = lens[0] + grow
            first = []
            while total > cut:
                first.append(cut)
                total -= cut
            lens[0:1] = first + [total]
        out.extend(lens)
    return out


MECHANISMS = {"mss": mss, "mss-ts": mss_ts, "coalesce": coalesce, "split": split, "midstream": midstream,
              "oneway": oneway, "oneway-seen": oneway_seen}


def dns_reuse(seq, rng, donor):
    """Appends 1-3 exchanges (a client run and the server runs up to the next client run) of other dns flows."""
    out = list(seq)
    for _ in range(int(rng.integers(1, 4))):
        other = donor()
        if not other:
            break
        runs = runs_of(other)
        start = next((k for k, (s, _) in enumerate(runs) if s > 0), None)
        if start is None:
            break
        ex = [runs[start]]
        for r in runs[start + 1:]:
            if r[0] > 0:
                break
            ex.append(r)
        out.extend(s * v for s, lens in ex for v in lens)
    return out


NETWORK = frozenset({"mss", "mss-ts", "coalesce", "split"})
CAPTURE = frozenset({"midstream", "oneway", "oneway-seen"})
# content mechanisms: the classes whose rows they apply to
CONTENT = {"http-headers": (http_headers, frozenset({"http"})), "dns-reuse": (dns_reuse, frozenset({"dns"}))}
NEEDS_DONOR = {dns_reuse}
CONTENT_SHARE = 0.5


def augment_rows(X, rng, share, mechanisms=("mss", "coalesce", "split"), labels=None, compose=0.0, donors=None):
    """Copy of X [N, L] where about `share` of the rows went through one randomly chosen mechanism. Content
    mechanisms named in `mechanisms` (CONTENT) need the class name of each row (`labels`) and act first on about
    CONTENT_SHARE of their class's picked rows. `compose`: the chance that a copy also goes through a mechanism of
    the other family (network then capture point). `donors`: boolean mask of the rows whose exchanges `dns-reuse`
    may append (the training rows only, so no held-out flow leaks into a training copy; default all rows)."""
    X = np.array(X, copy=True)
    if share <= 0 or not mechanisms:
        return X
    content = [CONTENT[m] for m in mechanisms if m in CONTENT]
    mechanisms = [m for m in mechanisms if m not in CONTENT]
    if content and labels is None:
        raise ValueError("content mechanisms need the class of each row (labels)")
    L = X.shape[1]
    by_class = {}
    if any(fn in NEEDS_DONOR for fn, _ in content):
        for i, c in enumerate(labels):
            if donors is None or donors[i]:
                by_class.setdefault(c, []).append(i)

    def donor_of(c):
        rows = by_class.get(c, [])
        return lambda: [int(v) for v in X[rows[int(rng.integers(0, len(rows)))]] if v != 0] if rows else []
    pick = np.where(rng.random(len(X)) < share)[0]
    fns = [MECHANISMS[m] for m in mechanisms]
    choice = rng.integers(0, len(fns), size=len(pick)) if fns else np.full(len(pick), -1)
    for i, c in zip(pick, choice):
        seq = [int(v) for v in X[i] if v != 0]
        if not seq:
            continue
        for fn, cls in content:
            if labels[i] in cls and rng.random() < CONTENT_SHARE:
                seq = fn(seq, rng, donor_of(labels[i])) if fn in NEEDS_DONOR else fn(seq, rng)
        if c >= 0 and compose > 0:
            other = CAPTURE if mechanisms[c] in NETWORK else NETWORK
            partners = [m for m in mechanisms if m in other]
            if partners and rng.random() < compose:
                m2 = MECHANISMS[partners[int(rng.integers(0, len(partners)))]]
                if mechanisms[c] in NETWORK:
                    seq = m2(fns[c](seq, rng), rng)
                else:
                    seq = fns[c](m2(seq, rng), rng)
                c = -1
        new = (fns[c](seq, rng) if c >= 0 else seq)[:L]
        X[i] = 0
        X[i, :len(new)] = new
    return X
