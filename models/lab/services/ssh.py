"""ssh: OpenSSH, Dropbear or AsyncSSH servers; OpenSSH, Dropbear (dbclient), PuTTY (plink/pscp/psftp), Paramiko
and AsyncSSH clients, each in command, interactive (pty, typed with pauses), bulk (scp/sftp) and idle sessions."""
import os
import pwd
import subprocess

from .base import Service, write

KEYS = ["ed25519", "rsa", "ecdsa"]
USER, PASSWORD = "sensorlab", "lab-ssh-pw-1"
HOME = "/var/lib/sensorlab-home"  # one home for every slot and batch: Dropbear reads ~/.ssh/authorized_keys


def ensure_user(_home=None):
    """A login user for the SSH, telnet and SMB servers (password and key logins; no root logins needed)."""
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", HOME, "-s", "/bin/sh", USER], check=False)  # another slot may win
    if pwd.getpwnam(USER).pw_dir != HOME:
        subprocess.run(["usermod", "-d", HOME, USER], check=True)
    os.makedirs(os.path.join(HOME, ".ssh"), exist_ok=True)
    subprocess.run(["chown", "-R", f"{USER}:{USER}", HOME], check=True)
    subprocess.run(["chpasswd"], input=f"{USER}:{PASSWORD}\n", text=True, check=True)


class Ssh(Service):
    name, port = "ssh", 22
    concurrency = 6
    servers = {"openssh": "OpenSSH 9.2 sshd", "dropbear": "Dropbear 2022.83", "asyncssh": "AsyncSSH 2.10 (Python)"}
    programs = {"openssh": ("OpenSSH 9.2 (ssh, scp, sftp)", []), "dropbear": ("Dropbear dbclient 2022.83", []),
                "putty": ("PuTTY 0.78 (plink, pscp, psftp)", []), "paramiko": ("Paramiko 2.12 (Python)", []),
                "asyncssh": ("AsyncSSH 2.10 (Python)", [])}

    def prepare(self, ctx):
        w = ctx.work
        ensure_user()
        for k in KEYS:
            for who in ("host", "user"):
                p = os.path.join(w, f"{who}_{k}")
                if not os.path.exists(p):
                    subprocess.run(["ssh-keygen", "-q", "-t", k, "-m", "PEM" if k != "ed25519" else "RFC4716",
                                    "-N", "", "-f", p], check=True)
                if who == "host" and not os.path.exists(p + ".dropbear"):
                    subprocess.run(["dropbearconvert", "openssh", "dropbear", p, p + ".dropbear"], check=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if who == "user" and not os.path.exists(p + ".dropbear"):
                    subprocess.run(["dropbearconvert", "openssh", "dropbear", p, p + ".dropbear"], check=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if who == "user" and not os.path.exists(p + ".ppk"):
                    subprocess.run(["puttygen", p, "-O", "private", "-o", p + ".ppk"], check=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        keys = "".join(open(os.path.join(w, f"user_{k}.pub")).read() for k in KEYS)
        write(os.path.join(w, "authorized_keys"), keys)
        ak = os.path.join(HOME, ".ssh", "authorized_keys")  # shared by all slots: add this slot's keys
        have = open(ak).read() if os.path.exists(ak) else ""
        write(ak, have + "".join(k + "\n" for k in keys.splitlines() if k and k not in have), 0o600)
        self.fp = {}
        for k in KEYS:
            out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", os.path.join(w, f"host_{k}.pub")],
                                 stdout=subprocess.PIPE, text=True, check=True).stdout
            self.fp[k] = out.split()[1]
        data = os.path.join(w, "data")
        os.makedirs(data, exist_ok=True)
        for i, n in enumerate([200, 5_000, 60_000, 200_000, 600_000]):
            p = os.path.join(data, f"file{i}")
            if not os.path.exists(p):
                with open(p, "wb") as f:
                    f.write(os.urandom(n))
        subprocess.run(["chown", "-R", f"{USER}:{USER}", HOME, data], check=True)
        for d in (w, os.path.dirname(w)):
            os.chmod(d, 0o755)
        os.makedirs("/run/sshd", exist_ok=True)

    def server_options(self, rng):
        return {"hostkey": rng.choice(KEYS), "compression": rng.choice(["yes", "no"]),
                "banner": rng.random() < 0.3, "use_dns": "no"}

    def start(self, ctx, o):
        w = ctx.work
        srv = o.get("server") or "openssh"
        hk = os.path.join(w, f"host_{o['hostkey']}")
        if srv == "dropbear":
            argv = ["dropbear", "-F", "-E", "-p", f"{ctx.sip}:{self.port}", "-r", hk + ".dropbear", "-P",
                    os.path.join(w, "dropbear.pid")]
            if o["banner"]:
                write(os.path.join(w, "banner.txt"), "Authorised use only. " * 5 + "\n")
                argv += ["-b", os.path.join(w, "banner.txt")]
            return [ctx.srv(argv)]
        if srv == "asyncssh":
            return [ctx.srv(["/usr/bin/python3", "-W", "ignore", os.path.join(ctx.lab, "clients", "sshd_asyncssh.py"),
                             ctx.sip, str(self.port), hk, os.path.join(w, "authorized_keys"), USER, PASSWORD])]
        write(os.path.join(w, "banner.txt"), "Authorised use only. " * 5 + "\n")
        conf = f"""ListenAddress {ctx.sip}
Port {self.port}
HostKey {hk}
PidFile {w}/sshd.pid
AuthorizedKeysFile {w}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication yes
StrictModes no
UsePAM no
Compression {o['compression']}
UseDNS no
Subsystem sftp internal-sftp
{"Banner " + w + "/banner.txt" if o['banner'] else ""}
"""
        write(os.path.join(w, "sshd_config"), conf)
        return [ctx.srv(["/usr/sbin/sshd", "-D", "-e", "-f", os.path.join(w, "sshd_config")])]

    def session_count(self, prog, n):
        return n

    def session(self, ctx, rng, o, prog):
        prog = prog or "openssh"
        w = ctx.work
        k = rng.choice(KEYS)
        key = os.path.join(w, f"user_{k}")
        use_pw = rng.random() < 0.25
        dest = f"{USER}@{ctx.sip}"
        f = os.path.join(w, "data", f"file{rng.randrange(5)}")
        kind = rng.choices(["command", "interactive", "bulk", "idle"], [4, 3, 3, 1])[0]
        typed = [rng.choice(["ls", "pwd", "whoami", "date", "echo hello", "ls -la /tmp", "uname -r", "env | head"])
                 for _ in range(rng.randint(1, 6))]
        feed = "(" + " ".join(f"sleep {rng.uniform(0.05, 0.8):.2f}; echo {c!r};" for c in typed) + " sleep 0.3; echo exit)"
        cmd = rng.choice(["uname -a", "ls -la /etc", "id", "cat /etc/services", "df -h", "ps aux | head -20",
                          f"head -c {rng.randint(1, 300000)} /dev/zero | base64", "true", "uptime"])
        if prog == "openssh":
            common = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                      "-o", "ConnectTimeout=20"]
            common += ["-o", "BatchMode=no", "-o", "PubkeyAuthentication=no"] if use_pw else ["-i", key, "-o", "BatchMode=yes"]
            if rng.random() < 0.2:
                common += ["-o", "Compression=yes"]
            if rng.random() < 0.3:
                common += ["-c", rng.choice(["aes128-ctr", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"])]
            if rng.random() < 0.2:
                common += ["-o", "KexAlgorithms=" + rng.choice(["curve25519-sha256", "ecdh-sha2-nistp256",
                                                                 "diffie-hellman-group14-sha256"])]
            pw = ["sshpass", "-p", PASSWORD] if use_pw else []
            if kind == "command":
                return pw + ["ssh"] + common + [dest, cmd], kind
            if kind == "interactive":
                return ["sh", "-c", f"{feed} | {' '.join(pw)} ssh -tt " + " ".join(common) + f" {dest}"], kind
            if kind == "idle":
                return pw + ["ssh", "-o", "ServerAliveInterval=1"] + common + [dest, f"sleep {rng.uniform(2, 8):.1f}"], kind
            if rng.random() < 0.5:
                if rng.random() < 0.5:
                    return pw + ["scp", "-q"] + common + [f, f"{dest}:/tmp/up{rng.randrange(1000)}"], kind
                return pw + ["scp", "-q"] + common + [f"{dest}:{f}", "/dev/null"], kind
            batch = os.path.join(w, f"sftp{rng.randrange(20)}.txt")
            write(batch, "\n".join(rng.sample(["ls", f"ls {w}/data", "pwd", f"get {f} /dev/null",
                                               f"put {f} /tmp/sftpup", f"ls -l {w}/data", "lpwd"], rng.randint(1, 4))) + "\n")
            return pw + ["sftp", "-q", "-b", batch] + common + [dest], kind
        if prog == "dropbear":
            auth = [] if use_pw else ["-i", key + ".dropbear"]
            env = ["env", f"DROPBEAR_PASSWORD={PASSWORD}"] if use_pw else []
            base = env + ["dbclient", "-y", "-y"] + auth + (["-K", "1"] if kind == "idle" else [])
            if kind == "command":
                return base + [dest, cmd], kind
            if kind == "interactive":
                return ["sh", "-c", f"{feed} | script -qfec \"{' '.join(base)} -t {dest}\" /dev/null"], kind
            if kind == "idle":
                return base + [dest, f"sleep {rng.uniform(2, 8):.1f}"], kind
            if rng.random() < 0.5:  # bulk: a file through the channel, as `dbclient host 'cat > f' < f` scripts do
                return ["sh", "-c", " ".join(base) + f" {dest} 'cat > /tmp/up{rng.randrange(1000)}' < {f}"], kind
            return ["sh", "-c", " ".join(base) + f" {dest} 'cat {f}' > /dev/null"], kind
        if prog == "putty":
            auth = ["-pw", PASSWORD] if use_pw else ["-i", key + ".ppk"]
            hk = ["-hostkey", self.fp[o["hostkey"]]]
            if kind == "command":
                return ["plink", "-ssh", "-batch", "-P", str(self.port)] + hk + auth + [dest, cmd], kind
            if kind == "interactive":
                return ["sh", "-c", f"{feed} | plink -ssh -batch -t -P {self.port} {' '.join(hk + auth)} {dest}"], kind
            if kind == "idle":
                return ["plink", "-ssh", "-batch", "-P", str(self.port)] + hk + auth + [dest, f"sleep {rng.uniform(2, 8):.1f}"], kind
            if rng.random() < 0.5:
                if rng.random() < 0.5:
                    return ["pscp", "-q", "-batch", "-P", str(self.port)] + hk + auth + [f, f"{dest}:/tmp/up{rng.randrange(1000)}"], kind
                return ["pscp", "-q", "-batch", "-P", str(self.port)] + hk + auth + [f"{dest}:{f}", "/dev/null"], kind
            batch = os.path.join(w, f"psftp{rng.randrange(20)}.txt")
            write(batch, "\n".join(rng.sample(["ls", f"ls {w}/data", "pwd", f"get {f} /dev/null", "lpwd"],
                                              rng.randint(1, 4))) + "\nquit\n")
            return ["psftp", "-batch", "-P", str(self.port), "-b", batch] + hk + auth + [dest], kind
        return ["/usr/bin/python3", "-W", "ignore", os.path.join(ctx.lab, "clients", "sshc.py"), prog, ctx.sip,
                str(self.port), USER, "-" if use_pw else key, PASSWORD, kind, str(rng.randint(0, 2**31)), f], kind

    def client(self, ctx, rng, o):
        return self.session(ctx, rng, o, "openssh")[0]
