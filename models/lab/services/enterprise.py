"""Enterprise protocols: smb (Samba smbd or Impacket's SMB server on 445) and kerberos (MIT krb5kdc over TCP 88)."""
import os
import subprocess

from .base import SAMBA_NO_PRINTERS, Service, samba_dirs, write
from .ssh import PASSWORD, USER, ensure_user

IMPACKET = "/usr/share/doc/python3-impacket/examples"
# Heimdal's KDC and clients conflict with MIT's packages (krb5-kdc, and heimdal-clients would take over kinit):
# the lab runs them unpacked (apt-get download heimdal-kdc heimdal-clients; dpkg -x into these folders)
HEIMDAL_KDC = "/opt/sensorlab/heimdal-kdc"
HEIMDAL_CLIENTS = "/opt/sensorlab/heimdal-clients/usr/bin"
REALM = "LAB.TEST"
KRB_USERS = [("alice", "alice-pw-1"), ("bob", "a-much-longer-kerberos-password"), ("svc-backup", "Bk!2024")]


class Smb(Service):
    name, port = "smb", 445
    concurrency = 4
    max_failed_share = 0.7  # guest access refused by some server settings: still complete exchanges
    servers = {"samba": "Samba 4.17 smbd", "impacket": "Impacket 0.10 SimpleSMBServer (Python)"}
    programs = {"smbclient": ("Samba 4.17 libsmbclient (smbclient)", []),
                "impacket": ("Impacket 0.10 smbclient.py (Python)", []),
                "pysmbc": ("Samba libsmbclient via python3-smbc", []),
                "node-smb2": ("v9u-smb2 1.0.6 (JavaScript, SMB 2.0.2, NTLMv2; npm, in /opt/sensorlab/node)", [])}

    def pick_program(self, rng, opts):
        # Impacket's smbclient.py against Impacket's own SMB server: most sessions hang until the session timeout
        # (b15 smb-r0006: 23 of 30 failed in 425 s; b18 smb-r0001: 21 of 30 in 716 s, smb-r0003: 19 of 30), so that
        # pair is not drawn
        progs = sorted(self.programs)
        if opts.get("server") == "impacket":
            progs.remove("impacket")
        return rng.choice(progs)

    def adjust_options(self, prog, opts):
        if prog == "node-smb2":
            # it speaks dialect 2.0.2 only and does not sign: the server must allow that (as many NAS boxes do)
            opts.update({"min_protocol": "SMB2_02", "signing": "auto", "encrypt": "off"})

    def prepare(self, ctx):
        w = ctx.work
        home = os.path.join(w, "home")
        os.makedirs(home, exist_ok=True)
        ensure_user(home)
        share = os.path.join(w, "share")
        os.makedirs(share, exist_ok=True)
        for i, n in enumerate([100, 4000, 70_000, 300_000]):
            p = os.path.join(share, f"doc{i}.bin")
            if not os.path.exists(p):
                with open(p, "wb") as f:
                    f.write(os.urandom(n))
        for d in ("run", "lock", "state", "cache", "private", "ncalrpc"):
            os.makedirs(os.path.join(w, "smb", d), exist_ok=True)
        self.files = [f"doc{i}.bin" for i in range(4)]

    def server_options(self, rng):
        return {"min_protocol": rng.choice(["SMB2_02", "SMB2_10", "SMB3", "NT1"]), "signing": rng.choice(["auto", "mandatory"]),
                "encrypt": rng.choice(["off", "off", "desired"]), "workgroup": rng.choice(["LAB", "CORP", "WORKGROUP"])}

    def start(self, ctx, o):
        w = ctx.work
        share = os.path.join(w, "share")
        if (o.get("server") or "samba") == "impacket":
            return [ctx.srv(["/usr/bin/python3", os.path.join(IMPACKET, "smbserver.py"), "-smb2support", "-ip", ctx.sip,
                             "-port", str(self.port), "-username", USER, "-password", PASSWORD, "share", share])]
        s = os.path.join(w, "smb")
        conf = os.path.join(w, "smb.conf")
        write(conf, f"""[global]
  workgroup = {o['workgroup']}
  server role = standalone server
  interfaces = {ctx.sip}/24
  bind interfaces only = yes
  smb ports = {self.port}
  disable netbios = yes
{samba_dirs(s)}  map to guest = Bad User
  server min protocol = {o['min_protocol']}
  server signing = {o['signing']}
  smb encrypt = {o['encrypt']}
{SAMBA_NO_PRINTERS}[share]
  path = {share}
  read only = no
  guest ok = yes
  force user = root
""")
        subprocess.run(["smbpasswd", "-c", conf, "-s", "-a", USER], input=f"{PASSWORD}\n{PASSWORD}\n", text=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return [ctx.srv(["smbd", "--foreground", "--no-process-group", "--debug-stdout", "-s", conf])]

    def session(self, ctx, rng, o, prog):
        kind = rng.choices(["browse", "bulk", "admin"], [3, 2, 1])[0]
        f = rng.choice(self.files)
        guest = rng.random() < 0.2
        cred = "" if guest else f"{USER}%{PASSWORD}"
        tmp = os.path.join(ctx.work, "dl", f"d{rng.randrange(10**9)}")
        if prog == "smbclient":
            cmds = {"browse": ["ls", "dir", "pwd"], "bulk": [f"get {f} /dev/null", f"put {os.path.join(ctx.work, 'share', f)} up{rng.randrange(999)}.bin"],
                    "admin": ["ls", "allinfo " + f, "volume"]}[kind]
            c = "; ".join(rng.sample(cmds, rng.randint(1, len(cmds))))
            auth = ["-N"] if guest else ["-U", cred]
            maxp = rng.choice([[], ["-m", "SMB3"], ["-m", "SMB2"]]) if o["min_protocol"] != "NT1" or \
                rng.random() < 0.5 else ["-m", "NT1", "--option=client min protocol=NT1"]
            return ["smbclient", f"//{ctx.sip}/share"] + auth + maxp + ["-t", "20", "-c", c], kind
        if prog == "rpcclient":
            c = "; ".join(rng.sample(["srvinfo", "netshareenumall", "lsaquery", "enumdomusers", "getusername", "querydominfo"],
                                     rng.randint(1, 3)))
            return ["rpcclient", "-U", cred or f"{USER}%{PASSWORD}", "-c", c, ctx.sip], kind
        if prog == "impacket":
            cmds = {"browse": ["shares", "use share", "ls"], "bulk": ["use share", f"get {f}"], "admin": ["info", "shares", "who"]}[kind]
            script = os.path.join(ctx.work, f"imp{rng.randrange(50)}.txt")
            write(script, "\n".join(cmds) + "\nexit\n")
            target = f"{USER}:{PASSWORD}@{ctx.sip}" if not guest else f"guest:@{ctx.sip}"
            return ["sh", "-c", f"mkdir -p {tmp} && cd {tmp} && /usr/bin/python3 {IMPACKET}/smbclient.py -port {self.port} "
                    f"-file {script} {target} >/dev/null 2>&1; rc=$?; rm -rf {tmp}; exit $rc"], kind
        if prog == "node-smb2":
            u, p = ("guest", "") if guest else (USER, PASSWORD)
            return ["node", "--openssl-legacy-provider", os.path.join(ctx.lab, "clients", "smbc.js"), ctx.sip, "share", u, p, kind,
                    str(rng.randint(0, 2**31))] + self.files, kind
        code = ("import smbc,sys\n"
                f"c=smbc.Context(auth_fn=lambda *a: ('WORKGROUP', '{USER if not guest else 'guest'}', '{PASSWORD if not guest else ''}'))\n"
                f"u='smb://{ctx.sip}/share/'\n"
                + ("[e.name for e in c.opendir(u).getdents()]\n" if kind != "bulk" else f"c.open(u+'{f}').read()\n"))
        return ["/usr/bin/python3", "-c", code], kind

    def stop(self, ctx):
        import shutil
        shutil.rmtree(os.path.join(ctx.work, "dl"), ignore_errors=True)


class Kerberos(Service):
    name, port = "kerberos", 88
    concurrency = 4
    max_failed_share = 0.7  # wrong passwords and unknown users on purpose
    servers = {"mit-krb5kdc": "MIT krb5kdc 1.20", "heimdal-kdc": "Heimdal 7.8 kdc"}
    programs = {"mit-kinit": ("MIT krb5 1.20 (kinit, kvno)", []), "impacket": ("Impacket 0.10 getTGT/getST (Python)", []),
                "java": ("OpenJDK 17 Krb5LoginModule", []), "heimdal-kinit": ("Heimdal 7.8 (kinit, kgetcred)", [])}

    def env(self, ctx):
        d = os.path.join(ctx.work, "krb")
        return {"KRB5_CONFIG": os.path.join(d, "krb5.conf"), "KRB5_KDC_PROFILE": os.path.join(d, "kdc.conf")}

    def tools(self, bindir):
        if not os.path.exists(os.path.join(bindir, "KrbC.class")):
            src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "clients", "KrbC.java")
            subprocess.run(["javac", "-d", bindir, src], check=True)

    def prepare(self, ctx):
        d = os.path.join(ctx.work, "krb")
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, "krb5.conf"), f"""[libdefaults]
  default_realm = {REALM}
  udp_preference_limit = 1
  dns_lookup_kdc = false
  dns_lookup_realm = false
  rdns = false
[realms]
  {REALM} = {{
    kdc = {ctx.sip}:{self.port}
  }}
""")
        write(os.path.join(d, "kdc.conf"), f"""[kdcdefaults]
  kdc_listen = {ctx.sip}:{self.port}
  kdc_tcp_listen = {ctx.sip}:{self.port}
[realms]
  {REALM} = {{
    database_name = {d}/principal
    key_stash_file = {d}/stash
    acl_file = {d}/kadm5.acl
    kdc_listen = {ctx.sip}:{self.port}
    kdc_tcp_listen = {ctx.sip}:{self.port}
    max_life = 10h 0m 0s
  }}
""")
        write(os.path.join(d, "kadm5.acl"), "")
        env = dict(os.environ, **self.env(ctx))
        if not os.path.exists(os.path.join(d, "principal")):
            subprocess.run(["kdb5_util", "-r", REALM, "create", "-s", "-P", "lab-master-pw"], env=env, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for u, p in KRB_USERS:
                subprocess.run(["kadmin.local", "-r", REALM, "-q", f"addprinc -pw {p} {u}"], env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for svc in ("host/server.lab.test", "HTTP/web.lab.test", "cifs/files.lab.test"):
                subprocess.run(["kadmin.local", "-r", REALM, "-q", f"addprinc -randkey {svc}"], env=env, check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.prepare_heimdal(ctx)

    def heimdal_conf(self, ctx, preauth=True):
        """Heimdal's client and KDC configuration (one file); `tcp/` makes Heimdal's clients use TCP."""
        d = os.path.join(ctx.work, "heimdal")
        path = os.path.join(d, "krb5.conf")
        write(path, f"""[libdefaults]
  default_realm = {REALM}
  dns_lookup_kdc = false
  dns_lookup_realm = false
[realms]
  {REALM} = {{
    kdc = tcp/{ctx.sip}:{self.port}
  }}
[kdc]
  database = {{
    dbname = {d}/heimdal
    realm = {REALM}
    mkey_file = {d}/m-key
    log_file = {d}/kadm.log
  }}
  require-preauth = {'true' if preauth else 'false'}
[logging]
  kdc = FILE:{d}/kdc.log
""")
        return path

    def prepare_heimdal(self, ctx):
        d = os.path.join(ctx.work, "heimdal")
        if os.path.exists(os.path.join(d, "heimdal.db")):
            return
        os.makedirs(d, exist_ok=True)
        env = dict(os.environ, KRB5_CONFIG=self.heimdal_conf(ctx))
        adm = [os.path.join(HEIMDAL_CLIENTS, "kadmin.heimdal"), "-l"]
        quiet = {"env": env, "check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run([os.path.join(HEIMDAL_KDC, "usr/sbin/kstash"), "--random-key", f"--key-file={d}/m-key"], **quiet)
        subprocess.run(adm + ["init", "--realm-max-ticket-life=unlimited", "--realm-max-renewable-life=unlimited", REALM], **quiet)
        for u, p in KRB_USERS:
            subprocess.run(adm + ["add", f"--password={p}", "--use-defaults", u], **quiet)
        for svc in ("host/server.lab.test", "HTTP/web.lab.test", "cifs/files.lab.test"):
            subprocess.run(adm + ["add", "--random-key", "--use-defaults", svc], **quiet)

    def server_options(self, rng):
        return {"preauth": rng.random() < 0.7}

    def start(self, ctx, o):
        if o.get("server") == "heimdal-kdc":
            conf = self.heimdal_conf(ctx, o["preauth"])
            return [ctx.srv([os.path.join(HEIMDAL_KDC, "usr/lib/heimdal-servers/kdc"), f"--config-file={conf}",
                             f"--addresses={ctx.sip}", f"--ports={self.port}"])]
        env = dict(os.environ, **self.env(ctx))
        flag = "+requires_preauth" if o["preauth"] else "-requires_preauth"
        for u, _ in KRB_USERS:
            subprocess.run(["kadmin.local", "-r", REALM, "-q", f"modprinc {flag} {u}"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return [ctx.srv(["krb5kdc", "-n", "-r", REALM], env=env)]

    def session(self, ctx, rng, o, prog):
        u, p = rng.choice(KRB_USERS + [("nosuchuser", "x")] if rng.random() < 0.1 else KRB_USERS)
        if rng.random() < 0.1:
            p = "wrong-password"
        e = self.env(ctx)
        cc = os.path.join(ctx.work, "cc", f"cc{rng.randrange(10**9)}")
        os.makedirs(os.path.dirname(cc), exist_ok=True)
        svc = rng.choice(["host/server.lab.test", "HTTP/web.lab.test", "cifs/files.lab.test"])
        kind = rng.choice(["tgt", "tgt", "tgt+service"])
        if prog == "mit-kinit":
            etype = rng.choice(["", "", "-e aes128-cts-hmac-sha1-96", "-e aes256-cts-hmac-sha1-96"])
            opts = rng.choice(["", "-f", "-r 7d", "-l 1h", "-f -p"])
            cmd = f"echo '{p}' | kinit {opts} {u}@{REALM} >/dev/null"
            if kind == "tgt+service":
                cmd += f" && kvno {svc}@{REALM} >/dev/null"
            return ["sh", "-c", f"export KRB5_CONFIG={e['KRB5_CONFIG']} KRB5CCNAME=FILE:{cc}; {cmd}; rc=$?; rm -f {cc}; exit $rc"], kind
        if prog == "heimdal-kinit":
            opts = rng.choice(["", "-f", "-r 7d", "-l 1h", "-f -p", "--enctypes=aes128-cts-hmac-sha1-96"])
            hc = HEIMDAL_CLIENTS
            cmd = f"echo '{p}' | {hc}/kinit.heimdal --password-file=STDIN {opts} {u}@{REALM}"
            if kind == "tgt+service":
                cmd += f" && {hc}/kgetcred {svc}@{REALM}"
            return ["sh", "-c", f"export KRB5_CONFIG={os.path.join(ctx.work, 'heimdal', 'krb5.conf')} KRB5CCNAME=FILE:{cc}; "
                    f"{cmd} >/dev/null 2>&1; rc=$?; rm -f {cc}; exit $rc"], kind
        if prog == "impacket":
            tmp = cc + ".d"
            cmd = f"/usr/bin/python3 {IMPACKET}/getTGT.py -dc-ip {ctx.sip} '{REALM}/{u}:{p}'"
            if kind == "tgt+service":
                cmd += f" && KRB5CCNAME={u}.ccache /usr/bin/python3 {IMPACKET}/getST.py -k -no-pass -dc-ip {ctx.sip} -spn {svc} '{REALM}/{u}'"
            return ["sh", "-c", f"mkdir -p {tmp} && cd {tmp} && {cmd} >/dev/null 2>&1; rc=$?; rm -rf {tmp}; exit $rc"], kind
        return ["java", "-XX:TieredStopAtLevel=1", f"-Djava.security.krb5.conf={e['KRB5_CONFIG']}", "-cp", ctx.bindir, "KrbC",
                f"{u}@{REALM}", p], "tgt"

    def stop(self, ctx):
        import shutil
        shutil.rmtree(os.path.join(ctx.work, "cc"), ignore_errors=True)
