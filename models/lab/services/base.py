"""What every lab class provides: a server started in the server namespace and randomised client sessions."""
import os
import time


def free_x(disp, limit=15.0):
    """Before an X server starts on display `disp` (":N"): waits until the previous run's server of that display has
    gone (its lock file), then removes a socket it may have left behind (killed servers leave both)."""
    n = disp.lstrip(":")
    lock, sock = f"/tmp/.X{n}-lock", f"/tmp/.X11-unix/X{n}"
    end = time.monotonic() + limit
    while time.monotonic() < end and os.path.exists(lock):
        try:
            os.kill(int(open(lock).read().strip() or 0), 0)
        except (ProcessLookupError, ValueError, FileNotFoundError):
            break  # a stale lock: the X server itself replaces it
        time.sleep(0.2)
    if not os.path.exists(lock) and os.path.exists(sock):
        os.unlink(sock)


def wait_x(disp, limit=30.0):
    """Waits until the X server of display `disp` accepts connections on its socket (a fixed 1.5 s was too short on
    a loaded machine, and a socket file left by the previous run's server answered nothing: freerdp-shadow and x11vnc
    then found no display and the run failed)."""
    import socket
    path = f"/tmp/.X11-unix/X{disp.lstrip(':')}"
    end = time.monotonic() + limit
    while time.monotonic() < end:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            break
        except OSError:
            time.sleep(0.2)
        finally:
            s.close()
    time.sleep(0.3)


def program_name(argv):
    """The client program of a session: past `env VAR=...` and interpreters, into `sh -c` pipelines."""
    i = 0
    if os.path.basename(argv[0]) == "env":
        i = 1
        while i < len(argv) and "=" in argv[i]:
            i += 1
    name = os.path.basename(argv[i])
    if name.startswith("python"):
        return os.path.basename(argv[i + 1])
    if name == "sh" and argv[i + 1] == "-c":
        words = argv[i + 2].replace("(", " ").replace("|", " | ").split()
        for w in words:  # the first known client after a pipe or at the start
            if w in ("ssh", "git", "openssl", "curl"):
                return f"{w} (scripted)"
    return name


class Service:
    name = ""
    label = ""  # corpus label when it is not the name (background protocols: "other:NAME")
    port = 0
    concurrency = 6  # upper bound; each run draws its own number of parallel client sessions
    max_failed_share = 0.5  # a run where more sessions failed measured a broken setup (build_corpus skips it)
    sessions_cap = 0  # at most this many sessions per run (0: --sessions); for slow clients (browsers)
    # One server implementation and one client program per run (since batch b1), so that every row names its
    # client and server and a trainer can leave whole programs out. servers: {name: what it is};
    # programs: {program: (TLS/protocol stack, [program_name() values of the sessions it makes])}.
    servers = {}
    programs = {}

    def tools(self, bindir):
        """Once per lab process, before any run: build helper programs (Go, Java clients) into bindir."""

    def session_timeout(self, prog):
        """Seconds one session may take before it is killed and counted as failed."""
        return 40

    def session_count(self, prog, n):
        return min(n, self.sessions_cap) if self.sessions_cap else n

    def pick_server(self, rng):
        return rng.choice(sorted(self.servers)) if self.servers else ""

    def pick_program(self, rng, opts):
        return rng.choice(sorted(self.programs)) if self.programs else ""

    def capture_filter(self, slot):
        """tcpdump's filter for the run: the server port (every captured flow is the class's)."""
        return f"tcp port {self.port} and host {slot.sip}"

    def adjust_options(self, prog, opts):
        """After the run's program is known: server options that program needs (recorded in RUN.json)."""

    def session(self, ctx, rng, opts, prog):
        """One session of program prog: by default client() drawn until it picks one of prog's commands."""
        if not prog:
            return self.client(ctx, rng, opts)
        names = self.programs[prog][1]
        for _ in range(500):
            argv = self.client(ctx, rng, opts)
            if program_name(argv) in names:
                return argv
        raise RuntimeError(f"{self.name}: client() never chose {prog}")

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


def samba_dirs(s):
    """The [global] lines of an smb.conf that keep a samba instance's state under its own directory `s` (seven lines,
    each indented two spaces and ending with a newline), so that lab slots never share samba's state."""
    return "".join(f"  {k} = {s}/{v}\n" for k, v in (
        ("pid directory", "run"), ("lock directory", "lock"), ("state directory", "state"), ("cache directory", "cache"),
        ("private dir", "private"), ("ncalrpc dir", "ncalrpc"), ("log file", "log.%m")))


# The [global] lines that keep samba from looking for printers (none in the lab).
SAMBA_NO_PRINTERS = "  load printers = no\n  printing = bsd\n  printcap name = /dev/null\n  disable spoolss = yes\n"


def sizes(rng, n, lo=50, hi=2_000_000):
    """Log-uniform sizes: a few bytes to megabytes, as in real sites and stores."""
    import math
    return [int(math.exp(rng.uniform(math.log(lo), math.log(hi)))) for _ in range(n)]


def cert(ctx, opts):
    c = ctx.pki[opts["cert"]]
    return c["key"], (c["chain"] if opts["chain"] else c["leaf"])


def tls_opts(rng, pki_kinds=("rsa2048", "rsa3072", "rsa4096", "ec256", "ec384")):
    return {"cert": rng.choice(list(pki_kinds)), "chain": rng.random() < 0.5}
