"""ssh: OpenSSH server; ssh commands, interactive-style sessions, scp and sftp transfers."""
import os
import subprocess

from .base import Service, write

KEYS = ["ed25519", "rsa", "ecdsa"]


class Ssh(Service):
    name, port = "ssh", 22
    concurrency = 6

    def prepare(self, ctx):
        w = ctx.work
        for k in KEYS:
            for who in ("host", "user"):
                p = os.path.join(w, f"{who}_{k}")
                if not os.path.exists(p):
                    subprocess.run(["ssh-keygen", "-q", "-t", k, "-N", "", "-f", p], check=True)
        with open(os.path.join(w, "authorized_keys"), "w") as f:
            for k in KEYS:
                f.write(open(os.path.join(w, f"user_{k}.pub")).read())
        data = os.path.join(w, "data")
        os.makedirs(data, exist_ok=True)
        for i, n in enumerate([200, 5_000, 60_000, 200_000, 600_000]):
            with open(os.path.join(data, f"file{i}"), "wb") as f:
                f.write(os.urandom(n))
        os.makedirs("/run/sshd", exist_ok=True)

    def server_options(self, rng):
        return {"hostkey": rng.choice(KEYS), "compression": rng.choice(["yes", "no"]),
                "banner": rng.random() < 0.3, "use_dns": "no"}

    def start(self, ctx, o):
        w = ctx.work
        write(os.path.join(w, "banner.txt"), "Authorised use only. " * 5 + "\n")
        conf = f"""ListenAddress {ctx.sip}
Port {self.port}
HostKey {w}/host_{o['hostkey']}
PidFile {w}/sshd.pid
AuthorizedKeysFile {w}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
StrictModes no
UsePAM no
Compression {o['compression']}
UseDNS no
Subsystem sftp internal-sftp
{"Banner " + w + "/banner.txt" if o['banner'] else ""}
"""
        write(os.path.join(w, "sshd_config"), conf)
        return [ctx.srv(["/usr/sbin/sshd", "-D", "-e", "-f", os.path.join(w, "sshd_config")])]

    def client(self, ctx, rng, o):
        w = ctx.work
        key = os.path.join(w, f"user_{rng.choice(KEYS)}")
        common = ["-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                  "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=20"]
        if rng.random() < 0.2:
            common += ["-o", "Compression=yes"]
        if rng.random() < 0.3:
            common += ["-c", rng.choice(["aes128-ctr", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com"])]
        if rng.random() < 0.2:
            common += ["-o", "KexAlgorithms=" + rng.choice(["curve25519-sha256", "ecdh-sha2-nistp256",
                                                             "diffie-hellman-group14-sha256"])]
        dest = f"root@{ctx.sip}"
        f = os.path.join(w, "data", f"file{rng.randrange(5)}")
        u = rng.random()
        if u < 0.3:
            cmd = rng.choice(["uname -a", "ls -la /etc", "id", "cat /etc/services", "df -h", "ps aux | head -20",
                              f"head -c {rng.randint(1, 300000)} /dev/zero | base64", "true", "uptime"])
            return ["ssh"] + common + [dest, cmd]
        if u < 0.5:
            lines = " ".join(f"sleep {rng.uniform(0.05, 0.8):.2f}; echo {c!r};" for c in
                             rng.sample(["ls", "pwd", "whoami", "date", "echo hello", "ls -la /tmp", "cat /etc/hostname",
                                         "uname -r", "history", "env | head"], rng.randint(1, 6)))
            return ["sh", "-c", f"({lines} sleep 0.3; echo exit) | ssh -tt " + " ".join(common) + f" {dest}"]
        if u < 0.75:
            tmp = os.path.join(w, "data", f"up{rng.randrange(1000)}")
            if rng.random() < 0.5:
                return ["scp", "-q"] + common + [f, f"{dest}:{tmp}"]
            return ["scp", "-q"] + common + [f"{dest}:{f}", "/dev/null"]
        batch = os.path.join(w, f"sftp{rng.randrange(20)}.txt")
        ops = rng.sample(["ls", f"ls {w}/data", "pwd", f"get {f} /dev/null", f"put {f} {w}/data/sftpup",
                          f"ls -l {w}/data", "lpwd"], rng.randint(1, 4))
        write(batch, "\n".join(ops) + "\n")
        return ["sftp", "-q", "-b", batch] + common + [dest]
