"""What every lab class provides: a server started in the server namespace and randomised client sessions."""
import os


class Service:
    name = ""
    port = 0
    concurrency = 6  # upper bound; each run draws its own number of parallel client sessions

    def prepare(self, ctx):
        """Once per slot: data directories, databases, content (slow steps that need not repeat per run)."""

    def server_options(self, rng):
        """Per-run server choices (certificate, TLS versions, limits) recorded in the run's conditions file."""
        return {}

    def start(self, ctx, opts):
        """Starts the server in the server namespace; returns its processes (they are stopped after the run)."""
        raise NotImplementedError

    def stop(self, ctx):
        """Extra cleanup after the server processes were stopped."""

    def client(self, ctx, rng, opts):
        """One client session: an argv run in the client namespace."""
        raise NotImplementedError


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def sizes(rng, n, lo=50, hi=2_000_000):
    """Log-uniform sizes: a few bytes to megabytes, as in real sites and stores."""
    import math
    return [int(math.exp(rng.uniform(math.log(lo), math.log(hi)))) for _ in range(n)]


def cert(ctx, opts):
    c = ctx.pki[opts["cert"]]
    return c["key"], (c["chain"] if opts["chain"] else c["leaf"])


def tls_opts(rng, pki_kinds=("rsa2048", "rsa3072", "rsa4096", "ec256", "ec384")):
    return {"cert": rng.choice(list(pki_kinds)), "chain": rng.random() < 0.5}
