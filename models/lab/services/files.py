"""File transfer protocols: ftp (vsftpd, control channel only), git (git daemon), rsync (rsync daemon)."""
import os
import shutil
import subprocess

from .base import Service, sizes, write

BANNERS = ["Welcome to the lab FTP service.", "FTP server ready", "(vsFTPd)", "Authorised users only - all activity logged."]


def make_data(d, seed, n=12):
    import random
    rng = random.Random(seed)
    os.makedirs(d, exist_ok=True)
    names = []
    for i, sz in enumerate(sizes(rng, n, 10, 600_000)):
        p = os.path.join(d, f"file{i}.bin")
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(os.urandom(sz))
        names.append(f"file{i}.bin")
    return names


class Ftp(Service):
    name, port = "ftp", 21
    programs = {"curl": ("libcurl", ["curl"]), "wget": ("wget", ["wget"]), "lftp": ("lftp", ["lftp"]),
                "python-ftplib": ("Python ftplib", ["ftpc.py"]), "busybox-ftpget": ("BusyBox 1.35 ftpget/ftpput", [])}
    servers = {"vsftpd": "vsftpd 3.0", "pyftpdlib": "pyftpdlib 1.5 (Python)"}
    concurrency = 6

    def prepare(self, ctx):
        root = os.path.join(ctx.work, "root")
        self.names = make_data(os.path.join(root, "pub"), 11)
        up = os.path.join(root, "incoming")
        os.makedirs(up, exist_ok=True)
        shutil.chown(up, "ftp")  # the ftp user's group differs between Debian packages (ftp, nogroup)

    def server_options(self, rng):
        return {"banner": rng.choice(BANNERS), "pasv": rng.random() < 0.8, "anon_upload": rng.random() < 0.5}

    def start(self, ctx, o):
        if o.get("server") == "pyftpdlib":
            o["pasv"] = True  # pyftpdlib serves both; the clients' choice follows
            return [ctx.srv(["/usr/bin/python3", "-m", "pyftpdlib", "-i", ctx.sip, "-p", str(self.port), "-d",
                             os.path.join(ctx.work, "root")] + (["-w"] if o["anon_upload"] else []))]
        conf = f"""listen=YES
listen_address={ctx.sip}
listen_port={self.port}
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root={ctx.work}/root
local_enable=NO
write_enable=YES
anon_upload_enable={'YES' if o['anon_upload'] else 'NO'}
anon_mkdir_write_enable=NO
seccomp_sandbox=NO
secure_chroot_dir=/var/run/vsftpd/empty
xferlog_enable=NO
ftpd_banner={o['banner']}
pasv_enable={'YES' if o['pasv'] else 'NO'}
port_enable=YES
connect_from_port_20=NO
"""
        write(os.path.join(ctx.work, "vsftpd.conf"), conf)
        return [ctx.srv(["vsftpd", os.path.join(ctx.work, "vsftpd.conf")])]

    def session(self, ctx, rng, o, prog):
        if prog == "busybox-ftpget":
            f = rng.choice(self.names)
            if o["anon_upload"] and rng.random() < 0.3:
                return ["busybox", "ftpput", "-u", "anonymous", "-p", "lab@x", ctx.sip, f"incoming/u{rng.randrange(10**6)}.bin",
                        os.path.join(ctx.work, "root", "pub", f)]
            return ["busybox", "ftpget", "-u", "anonymous", "-p", "lab@x", ctx.sip, "/dev/null", f"pub/{f}"]
        return super().session(ctx, rng, o, prog)

    def client(self, ctx, rng, o):
        f = rng.choice(self.names)
        base = f"ftp://{ctx.sip}"
        u = rng.random()
        mode = [] if o["pasv"] else ["-P", "-"]
        if u < 0.3:
            return ["curl", "-s", "-o", "/dev/null", "--max-time", "30"] + mode + [f"{base}/pub/{f}"]
        if u < 0.4:
            return ["curl", "-s", "-o", "/dev/null", "--max-time", "30", "--list-only"] + mode + [f"{base}/pub/"]
        if u < 0.55:
            return ["wget", "-q", "-O", "/dev/null", "--tries=1", "--timeout=30"] + \
                ([] if o["pasv"] else ["--no-passive-ftp"]) + [f"{base}/pub/{f}"]
        if u < 0.75:
            cmds = ["cd pub", "ls", f"get {f} -o /dev/null", "pwd", "cls -l", f"get {rng.choice(self.names)} -o /dev/null"]
            script = "; ".join(["set ftp:passive-mode " + ("on" if o["pasv"] else "off"), "set net:max-retries 1",
                                "set net:timeout 20", "set xfer:clobber on", f"open {ctx.sip}", "user anonymous lab@x"] +
                               rng.sample(cmds, rng.randint(1, 4)))
            return ["lftp", "-c", script]
        return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "ftpc.py"), ctx.sip, "1" if o["pasv"] else "0",
                "1" if o["anon_upload"] else "0", str(rng.randint(0, 2**31))] + self.names


class Git(Service):
    name, port = "git", 9418
    programs = {"git": ("git 2.39", ["git", "git (scripted)"]), "dulwich": ("Dulwich 0.21 (pure Python)", []),
                "pygit2": ("libgit2 1.5 via pygit2", [])}
    servers = {"git-daemon": "git daemon 2.39", "jgit": "Eclipse JGit 4.11 Daemon (Java)",
               "dulwich": "Dulwich 0.21 TCPGitServer (Python; clients/dulwichd.py works around `dulwich daemon`'s path bug)"}
    concurrency = 4
    JGIT_CP = ":".join(f"/usr/share/java/{j}.jar" for j in ("org.eclipse.jgit", "javaewah", "jsch", "jzlib", "slf4j-api",
                                                            "slf4j-nop"))

    def tools(self, bindir):
        if not os.path.exists(os.path.join(bindir, "JGitDaemon.class")):
            src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "clients", "JGitDaemon.java")
            subprocess.run(["javac", "-cp", self.JGIT_CP, "-d", bindir, src], check=True)

    def prepare(self, ctx):
        import random
        rng = random.Random(5)
        repos = os.path.join(ctx.work, "repos")
        self.repos = []
        for r in range(5):
            name = f"proj{r}.git"
            self.repos.append(name)
            d = os.path.join(repos, name)
            if os.path.exists(d):
                continue
            src = os.path.join(ctx.work, f"src{r}")
            env = dict(os.environ, GIT_AUTHOR_NAME="lab", GIT_AUTHOR_EMAIL="lab@x", GIT_COMMITTER_NAME="lab",
                       GIT_COMMITTER_EMAIL="lab@x", HOME=ctx.work)
            subprocess.run(["git", "init", "-q", "-b", "main", src], check=True, env=env)
            for c in range(rng.choice([1, 3, 10, 30])):
                for sz in sizes(rng, rng.randint(1, 4), 20, 200_000):
                    write(os.path.join(src, f"f{rng.randrange(40)}.txt"), "".join(
                        rng.choice("abcdefgh \n") for _ in range(min(sz, 5000))) * max(1, sz // 5000))
                subprocess.run(["git", "-C", src, "add", "-A"], check=True, env=env)
                subprocess.run(["git", "-C", src, "commit", "-q", "-m", f"change {c}"], check=True, env=env)
            for t in range(rng.randint(0, 5)):
                subprocess.run(["git", "-C", src, "tag", f"v{t}.0"], check=True, env=env)
            subprocess.run(["git", "clone", "-q", "--bare", src, d], check=True, env=env)
            subprocess.run(["git", "-C", d, "config", "daemon.receivepack", "true"], check=True)
        subprocess.run(["chown", "-R", "nobody:nogroup", repos], check=True)

    def start(self, ctx, o):
        if o.get("server") == "dulwich":
            return [ctx.srv(["/usr/bin/python3", os.path.join(ctx.lab, "clients", "dulwichd.py"), ctx.sip, str(self.port),
                             f"{ctx.work}/repos"])]
        if o.get("server") == "jgit":
            return [ctx.srv(["java", "-XX:TieredStopAtLevel=1", "-cp", f"{self.JGIT_CP}:{ctx.bindir}", "JGitDaemon", ctx.sip,
                             str(self.port), f"{ctx.work}/repos"])]
        return [ctx.srv(["git", "daemon", "--reuseaddr", f"--listen={ctx.sip}", f"--port={self.port}",
                         f"--base-path={ctx.work}/repos", "--export-all", "--enable=upload-archive",
                         "--user=nobody", "--group=nogroup", f"{ctx.work}/repos"])]

    def stop(self, ctx):
        shutil.rmtree(os.path.join(ctx.work, "clones"), ignore_errors=True)

    def session(self, ctx, rng, o, prog):
        repo = f"git://{ctx.sip}/{rng.choice(self.repos)}"
        dest = os.path.join(ctx.work, "clones", f"c{rng.randrange(10**9)}")
        if prog == "dulwich":
            if rng.random() < 0.5:
                return ["sh", "-c", f"mkdir -p {os.path.dirname(dest)} && dulwich clone {repo} {dest} >/dev/null 2>&1; rc=$?; "
                        f"rm -rf {dest}; exit $rc"]
            return ["dulwich", "ls-remote", repo]
        if prog == "pygit2":
            code = (f"import os,pygit2,shutil\nos.makedirs('{os.path.dirname(dest)}',exist_ok=True)\n"
                    f"r=pygit2.clone_repository('{repo}','{dest}',bare={rng.random() < 0.3})\n"
                    f"shutil.rmtree('{dest}')\n")
            return ["/usr/bin/python3", "-c", code]
        return super().session(ctx, rng, o, prog)

    def client(self, ctx, rng, o):
        repo = f"git://{ctx.sip}/{rng.choice(self.repos)}"
        dest = os.path.join(ctx.work, "clones", f"c{rng.randrange(10**9)}")
        u = rng.random()
        proto = ["-c", f"protocol.version={rng.choice([0, 1, 2, 2])}"]
        if u < 0.45:
            return ["git"] + proto + ["clone", "-q"] + (["--depth", "1"] if rng.random() < 0.3 else []) + \
                (["--bare"] if rng.random() < 0.2 else []) + [repo, dest]
        if u < 0.75:
            return ["git"] + proto + ["ls-remote"] + (["--tags"] if rng.random() < 0.3 else []) + [repo]
        if u < 0.85 and o.get("server", "git-daemon") == "git-daemon":  # the others have no upload-archive
            return ["sh", "-c", f"git archive --remote={repo} --format=tar HEAD > /dev/null"]
        return ["sh", "-c", f"git init -q {dest} && git -C {dest} fetch -q {repo} main"]


class Rsync(Service):
    name, port = "rsync", 873
    # Debian 12 has one rsync implementation (rsync itself; no openrsync, no library that speaks the daemon
    # protocol): the second client is the lab's own daemon-protocol client (clients/rsyncc.py), the third BackupPC 4's
    # rsync_bpc (package backuppc-rsync: a fork of rsync 3.1.3 that writes into a BackupPC pool), run the way
    # BackupPC runs it against an rsync daemon (its default RsyncArgs; full backups, then incrementals)
    programs = {"rsync": ("rsync 3.2", ["rsync"]), "python-raw": ("hand-written Python rsync daemon-protocol client", []),
                "backuppc-rsync": ("rsync_bpc 3.1.3 (BackupPC 4 fork of rsync 3.1)", [])}
    servers = {"rsyncd": "rsync 3.2 daemon"}
    concurrency = 4

    def prepare(self, ctx):
        self.names = make_data(os.path.join(ctx.work, "data"), 13)
        os.makedirs(os.path.join(ctx.work, "up"), exist_ok=True)

    def server_options(self, rng):
        return {"motd": rng.random() < 0.5, "auth": rng.random() < 0.4}

    def start(self, ctx, o):
        w = ctx.work
        write(os.path.join(w, "motd"), "Lab rsync mirror. Be nice.\n" * 3)
        write(os.path.join(w, "secrets"), "lab:labpw\n", 0o600)
        auth = f"auth users = lab\nsecrets file = {w}/secrets\n" if o["auth"] else ""
        conf = f"""pid file = {w}/rsyncd.pid
use chroot = no
uid = root
gid = root
{"motd file = " + w + "/motd" if o['motd'] else ""}
[data]
path = {w}/data
read only = yes
{auth}
[up]
path = {w}/up
read only = no
"""
        write(os.path.join(w, "rsyncd.conf"), conf)
        return [ctx.srv(["rsync", "--daemon", "--no-detach", f"--config={w}/rsyncd.conf", f"--address={ctx.sip}",
                         f"--port={self.port}"])]

    def stop(self, ctx):
        shutil.rmtree(os.path.join(ctx.work, "dl"), ignore_errors=True)

    def session(self, ctx, rng, o, prog):
        if prog == "python-raw":
            u = rng.random()
            if u < 0.3:
                mod = ["#list"]
            elif u < 0.85:
                mod = ["data"] + rng.sample(self.names, rng.randint(0, 3))
            else:
                mod = ["up"]
            auth = "1" if o["auth"] and mod[0] == "data" else "0"
            return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "rsyncc.py"), ctx.sip, str(self.port), "lab",
                    "labpw", str(rng.randint(0, 2**31)), auth] + mod
        if prog == "backuppc-rsync":
            return ["sh", "-c", self.bpc_backups(ctx, rng, o)]
        return super().session(ctx, rng, o, prog)

    BPC = "/usr/libexec/backuppc-rsync/rsync_bpc"
    # BackupPC 4.4's default $Conf{RsyncArgs} (config.pl); fulls add $Conf{RsyncFullArgsExtra} (--checksum)
    BPC_ARGS = ["--super", "--recursive", "--protect-args", "--numeric-ids", "--perms", "--owner", "--group", "-D",
                "--times", "--links", "--hard-links", "--delete", "--delete-excluded", "--one-file-system", "--partial",
                "'--log-format=log: %o %i %B %8U,%8G %9l %f%L'", "--stats"]

    def bpc_backups(self, ctx, rng, o):
        """One BackupPC host's backups of module `data` into a fresh pool: a full, then 0-2 incrementals (one
        connection each), as BackupPC's rsyncd transfer method runs rsync_bpc."""
        top = os.path.join(ctx.work, "bpc", f"t{rng.randrange(10**9)}")
        user = "lab@" if o["auth"] else ""
        cmds = [f"rm -rf {top}", f"mkdir -p {top}/pool {top}/cpool {top}/pc/h"]
        comp = rng.choice([0, 3])
        for n in range(1 + rng.choice([0, 0, 1, 2])):
            args = [self.BPC, f"--bpc-top-dir={top}", "--bpc-host-name=h", "--bpc-share-name=data",
                    f"--bpc-bkup-num={n}", f"--bpc-bkup-comp={comp}", f"--bpc-bkup-prevnum={n - 1}",
                    f"--bpc-bkup-prevcomp={comp if n else -1}", f"--bpc-bkup-inode0={1 + 100 * n}", "--bpc-attrib-new",
                    "--bpc-log-level=0"] + self.BPC_ARGS + (["--checksum"] if n == 0 else []) + \
                ([f"--timeout={rng.choice([30, 72000])}"] if rng.random() < 0.5 else []) + \
                [f"rsync://{user}{ctx.sip}:{self.port}/data/", "/"]
            cmds.append("RSYNC_PASSWORD=labpw timeout 60 " + " ".join(args) + " >/dev/null 2>&1")
        return "; ".join(cmds[:2]) + "; " + " && ".join(cmds[2:]) + f"; rc=$?; rm -rf {top}; exit $rc"

    def client(self, ctx, rng, o):
        user = "lab@" if o["auth"] else ""
        env = ["env", "RSYNC_PASSWORD=labpw"]
        src = f"rsync://{user}{ctx.sip}/data/"
        dl = os.path.join(ctx.work, "dl", f"d{rng.randrange(10**9)}")
        os.makedirs(os.path.dirname(dl), exist_ok=True)
        flags = rng.choice(["-a", "-rt", "-av", "-az", "-r"]) 
        u = rng.random()
        if u < 0.25:
            return env + ["rsync", f"rsync://{ctx.sip}/"]
        if u < 0.45:
            return env + ["rsync", src]
        if u < 0.8:
            files = rng.sample(self.names, rng.randint(1, 4))
            return env + ["rsync", flags, "--timeout=30"] + [src + f for f in files] + [dl + "/"]
        return env + ["rsync", flags, "--timeout=30", os.path.join(ctx.work, "data", rng.choice(self.names)),
                      f"rsync://{ctx.sip}/up/u{rng.randrange(100)}"]


class Dns(Service):
    name, port = "dns", 53
    programs = {"bind9-dig": ("BIND 9 libs (dig, host, nslookup)", ["dig", "host", "nslookup"]),
                "kdig": ("Knot DNS libs (kdig)", ["kdig"]), "dnspython": ("dnspython 2.3 (Python)", []),
                "drill": ("ldns (drill)", [])}
    servers = {"bind9": "BIND 9.18", "knot": "Knot DNS 3.2", "dnsmasq": "dnsmasq 2.89 (host records)"}
    concurrency = 8

    def prepare(self, ctx):
        import random
        rng = random.Random(3)
        recs = ["@ IN SOA ns1 hostmaster 1 3600 600 86400 300", "@ IN NS ns1", "ns1 IN A 10.77.0.53",
                "@ IN MX 10 mail", "mail IN A 10.77.0.25"]
        self.names = []
        for i in range(150):
            n = f"h{i}"
            self.names.append(n)
            for _ in range(rng.randint(1, 6)):
                recs.append(f"{n} IN A 10.77.{rng.randrange(256)}.{rng.randrange(256)}")
            if rng.random() < 0.3:
                recs.append(f"{n} IN AAAA fd00::{rng.randrange(65536):x}")
            if rng.random() < 0.3:
                recs.append(f'{n} IN TXT "' + "t" * rng.randint(5, 250) + '"')
            if rng.random() < 0.1:
                recs.append(f"_svc._tcp.{n} IN SRV 10 5 {rng.randrange(1, 65535)} {n}")
        for z in ("lab.test", "corp.internal"):
            write(os.path.join(ctx.work, f"{z}.zone"), "$TTL 300\n$ORIGIN " + z + ".\n" + "\n".join(recs) + "\n")

    def start(self, ctx, o):
        w = ctx.work
        srv = o.get("server") or "bind9"
        if srv == "knot":
            os.makedirs(os.path.join(w, "knot"), exist_ok=True)
            write(os.path.join(w, "knot.conf"), f"""server:
  listen: {ctx.sip}@{self.port}
  rundir: {w}/knot
  tcp-max-clients: 200
database:
  storage: {w}/knot
acl:
  - id: all
    address: 0.0.0.0/0
    action: transfer
template:
  - id: default
    storage: {w}
    acl: all
zone:
  - domain: lab.test
    file: lab.test.zone
  - domain: corp.internal
    file: corp.internal.zone
""")
            return [ctx.srv(["knotd", "-c", os.path.join(w, "knot.conf")])]
        if srv == "dnsmasq":
            hosts = os.path.join(w, "dnsmasq.hosts")
            if not os.path.exists(hosts):
                lines = []
                for z in ("lab.test", "corp.internal"):
                    for line in open(os.path.join(w, f"{z}.zone")).read().splitlines():
                        f = line.split()
                        if len(f) >= 4 and f[1] == "IN" and f[2] in ("A", "AAAA") and not f[0].startswith(("@", "_")):
                            lines.append(f"{f[3]} {f[0]}.{z}")
                write(hosts, "\n".join(lines) + "\n")
            return [ctx.srv(["dnsmasq", "-k", "--no-resolv", "--no-hosts", "--addn-hosts=" + hosts, f"--listen-address={ctx.sip}",
                             "--bind-interfaces", "-p", str(self.port), "--user=root", "--pid-file=" + os.path.join(w, "dnsmasq.pid"),
                             "--mx-host=lab.test,mail.lab.test,10", "--txt-record=lab.test,v=spf1 -all", "--log-facility=-"])]
        conf = f"""options {{ directory "{w}"; listen-on port {self.port} {{ {ctx.sip}; }}; listen-on-v6 {{ none; }};
 recursion no; allow-transfer {{ any; }}; pid-file "{w}/named.pid"; dnssec-validation no; }};
zone "lab.test" {{ type primary; file "{w}/lab.test.zone"; }};
zone "corp.internal" {{ type primary; file "{w}/corp.internal.zone"; }};
"""
        write(os.path.join(w, "named.conf"), conf)
        return [ctx.srv(["named", "-g", "-4", "-n", "1", "-c", os.path.join(w, "named.conf")])]

    def session(self, ctx, rng, o, prog):
        if prog in ("dnspython", "drill"):
            zone = rng.choice(["lab.test", "corp.internal"])
            qs = []
            for _ in range(rng.choice([1, 1, 1, 2, 3, 6])):
                qs += [f"{rng.choice(self.names + ['nosuch', 'www'])}.{zone}", rng.choice(["A", "A", "AAAA", "TXT", "MX", "SRV"])]
            if prog == "dnspython":
                return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "dnsc.py"), ctx.sip, str(rng.randint(0, 2**31))] + qs
            if rng.random() < 0.1:
                return ["drill", "-t", "-a", "axfr", zone, f"@{ctx.sip}"]
            return ["drill", "-t"] + (["-D"] if rng.random() < 0.2 else []) + [qs[0], qs[1], f"@{ctx.sip}"]
        return super().session(ctx, rng, o, prog)

    def client(self, ctx, rng, o):
        zone = rng.choice(["lab.test", "corp.internal"])
        qs = []
        for _ in range(rng.choice([1, 1, 1, 2, 3, 6])):
            qs += [f"{rng.choice(self.names + ['nosuch', 'www'])}.{zone}", rng.choice(["A", "A", "AAAA", "TXT", "ANY", "MX", "SRV"])]
        u = rng.random()
        if u < 0.5:
            return ["dig", "+tcp", "+tries=1", "+time=10", f"@{ctx.sip}"] + (["+keepopen"] if len(qs) > 2 else []) + \
                (["+dnssec"] if rng.random() < 0.2 else []) + (["+nocookie"] if rng.random() < 0.3 else []) + qs
        if u < 0.6:
            return ["dig", "+tcp", f"@{ctx.sip}", zone, "AXFR"]
        if u < 0.8:
            return ["kdig", "+tcp", "+retry=0", "+time=10", f"@{ctx.sip}"] + qs
        if u < 0.9:
            return ["host", "-T", "-W", "10", "-t", qs[1], qs[0], ctx.sip]
        return ["nslookup", "-vc", f"-type={qs[1]}", qs[0], ctx.sip]
