"""Directory and messaging: ldap/ldaps (OpenLDAP slapd), mqtt/mqtts (Mosquitto), xmpp (Prosody)."""
import os
import random
import shutil
import subprocess

from .base import Service, cert, tls_opts, write

BASE = "dc=lab,dc=test"


def start_ejabberd(ctx, o, listeners, users):
    """ejabberd (Erlang) with the given listeners (XMPP c2s, MQTT, MQTT over TLS); registers the users."""
    import time
    w = os.path.join(ctx.work, "ejabberd")
    spool, logs = os.path.join(w, "spool"), os.path.join(w, "logs")
    for d in (spool, logs):
        os.makedirs(d, exist_ok=True)
    key, crt = cert(ctx, o)
    write(os.path.join(w, "cert.pem"), open(key).read() + open(crt).read(), 0o600)
    lst = "".join(f"  -\n    port: {port}\n    ip: \"{ctx.sip}\"\n    module: {mod}\n" + "".join(f"    {k}: {v}\n" for k, v in extra.items())
                  for port, mod, extra in listeners)
    write(os.path.join(w, "ejabberd.yml"), f"""hosts:
  - lab.test
loglevel: warning
certfiles:
  - {w}/cert.pem
listen:
{lst}auth_method: internal
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
modules:
  mod_roster: {{}}
  mod_disco: {{}}
  mod_ping: {{}}
  mod_mqtt:
    access_publish:
      "#":
        - allow
    access_subscribe:
      "#":
        - allow
""")
    subprocess.run(["chown", "-R", "ejabberd:ejabberd", w], check=True)  # ejabberdctl runs the node as user ejabberd
    base = ["ejabberdctl", "-n", f"ejlab{ctx.slot.k}@localhost", "-s", spool, "-l", logs, "-f", os.path.join(w, "ejabberd.yml"),
            "-c", "/dev/null"]
    p = ctx.srv(base + ["foreground"])
    for _ in range(40):
        if ctx.srv_run(base + ["status"]).returncode == 0:
            break
        time.sleep(1)
    for u, pw in users:
        ctx.srv_run(base + ["register", u, "lab.test", pw])
    return [p]


class Slapd(Service):
    concurrency = 6
    programs = {"openldap-tools": ("OpenLDAP libldap (ldapsearch, ldapwhoami, ldapcompare)", ["ldapsearch", "ldapwhoami", "ldapcompare"]),
                "ldap3": ("ldap3 (pure Python)", ["ldapc.py"]), "perl-net-ldap": ("Net::LDAP (Perl, IO::Socket::SSL)", [])}
    servers = {"slapd": "OpenLDAP slapd 2.5", "389-ds": "389 Directory Server 2.3 (ns-slapd; its own self-signed CA)"}
    DS_PW = "adminpw-389"

    def prepare(self, ctx):
        w = ctx.work
        db = os.path.join(w, "db")
        self.conf_path = os.path.join(w, "slapd.conf")
        self.write_conf(ctx, {"cert": "rsa2048", "chain": False})
        if os.path.exists(os.path.join(db, "data.mdb")):
            return
        os.makedirs(db, exist_ok=True)
        rng = random.Random(29)
        ldif = [f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Lab\ndc: lab\n",
                f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n",
                f"dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n"]
        for i in range(300):
            desc = "d" * rng.randint(0, 400)
            ldif.append(f"dn: uid=user{i},ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: user{i}\ncn: User {i}\n"
                        f"sn: S{i}\nmail: user{i}@lab.test\ntelephoneNumber: +1 555 {i:04d}\nuserPassword: pw{i}\n"
                        + (f"description: {desc}\n" if desc else ""))
        for g in range(20):
            members = "".join(f"member: uid=user{rng.randrange(300)},ou=people,{BASE}\n" for _ in range(rng.randint(1, 40)))
            ldif.append(f"dn: cn=group{g},ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: group{g}\n{members}")
        write(os.path.join(w, "data.ldif"), "\n".join(ldif))
        subprocess.run(["slapadd", "-f", self.conf_path, "-l", os.path.join(w, "data.ldif")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def write_conf(self, ctx, o):
        key, crt = cert(ctx, o)
        w = ctx.work
        write(self.conf_path, f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {w}/slapd.pid
argsfile {w}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile {crt}
TLSCertificateKeyFile {key}
sizelimit 500
database mdb
maxsize 100000000
suffix "{BASE}"
rootdn "cn=admin,{BASE}"
rootpw adminpw
directory {w}/db
access to * by * read
""")

    def server_options(self, rng):
        return tls_opts(rng)

    def ensure_389(self, ctx):
        """One 389-ds instance per slot (`lab<K>`, made once with dscreate inside the server namespace, then filled with
        the same entries as slapd's database); ldap and ldaps runs of the slot share it."""
        import fcntl
        name = f"lab{ctx.slot.k}"
        conf = f"/etc/dirsrv/slapd-{name}"
        if not os.path.exists(os.path.join(conf, "lab-created")):
            subprocess.run(["dsctl", name, "remove", "--do-it"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            shim = os.path.join(ctx.work, "sysd")
            os.makedirs(shim, exist_ok=True)
            shutil.copy(os.path.join(ctx.lab, "clients", "systemctl-dirsrv.sh"), os.path.join(shim, "systemctl"))
            os.chmod(os.path.join(shim, "systemctl"), 0o755)
            inf = os.path.join(ctx.work, "ds.inf")
            write(inf, f"""[general]
full_machine_name = ldap.lab.test
start = False
strict_host_checking = False
systemd = False
selinux = False
[slapd]
instance_name = {name}
port = 389
secure_port = 636
root_dn = cn=Directory Manager
root_password = {self.DS_PW}
self_sign_cert = True
[backend-userroot]
suffix = {BASE}
sample_entries = no
create_suffix_entry = no
""")
            with open("/run/lock/sensorlab-dscreate.lock", "w") as lock:  # slots share /etc/dirsrv/ssca
                fcntl.flock(lock, fcntl.LOCK_EX)
                r = ctx.srv_run(["env", f"PATH={shim}:{os.environ.get('PATH', '/usr/bin:/bin')}", "dscreate", "from-file", inf])
            if r.returncode != 0:
                ctx.srv_run([os.path.join(shim, "systemctl"), "stop", f"dirsrv@{name}"])
                raise RuntimeError("dscreate failed: " + r.stdout[-500:])
            write(os.path.join(conf, "lab-created"), "ok\n")
        return name, conf

    def start_389(self, ctx, o):
        import time
        name, conf = self.ensure_389(ctx)
        os.makedirs("/run/dirsrv", exist_ok=True)
        os.makedirs(f"/run/lock/dirsrv/slapd-{name}", exist_ok=True)
        subprocess.run(["chown", "dirsrv:dirsrv", "/run/dirsrv", f"/run/lock/dirsrv/slapd-{name}"], check=False)
        p = ctx.srv(["/usr/sbin/ns-slapd", "-D", conf, "-i", f"/run/dirsrv/slapd-{name}.pid", "-d", "0"])
        marker = os.path.join(conf, "lab-populated")
        if not os.path.exists(marker):
            for _ in range(150):
                if ctx.srv_run(["ss", "-Htln", "sport = :389"]).stdout.strip():
                    break
                time.sleep(0.2)
            time.sleep(1)
            entries = []
            for e in open(os.path.join(ctx.work, "data.ldif")).read().split("\n\n"):
                lines = e.strip().splitlines()  # 389-ds refuses repeated values (slapd's random groups have some)
                entries.append("\n".join(dict.fromkeys(lines)))
            entries.append(f"dn: cn=admin,{BASE}\nobjectClass: person\ncn: admin\nsn: admin\nuserPassword: adminpw")
            ldif = os.path.join(ctx.work, "data389.ldif")
            write(ldif, "\n\n".join(entries) + "\n")
            aci = os.path.join(ctx.work, "aci389.ldif")
            write(aci, f'dn: {BASE}\nchangetype: modify\nadd: aci\naci: (targetattr="*")(version 3.0; acl "lab anonymous read"; '
                  'allow (read,search,compare) userdn="ldap:///anyone";)\n')
            dm = ["-x", "-c", "-H", "ldap://127.0.0.1", "-D", "cn=Directory Manager", "-w", self.DS_PW]
            ctx.srv_run(["ldapadd"] + dm + ["-f", ldif])  # -c: entries already there from an earlier try are fine
            ctx.srv_run(["ldapmodify"] + dm + ["-f", aci])
            r = ctx.srv_run(["ldapsearch", "-x", "-H", "ldap://127.0.0.1", "-b", BASE, "-LLL", "(uid=user1*)", "dn"])
            if r.stdout.count("dn:") >= 100:
                write(marker, "ok\n")
            else:
                raise RuntimeError("389-ds: loading the lab entries failed: " + r.stdout[-300:])
        return [p]

    def start(self, ctx, o):
        if o.get("server") == "389-ds":
            return self.start_389(ctx, o)
        self.write_conf(ctx, o)
        url = f"ldaps://{ctx.sip}/" if self.tls else f"ldap://{ctx.sip}/"
        return [ctx.srv(["slapd", "-d", "0", "-f", self.conf_path, "-h", url])]

    def session(self, ctx, rng, o, prog):
        if prog == "perl-net-ldap":
            url = f"{'ldaps' if self.tls else 'ldap'}://{ctx.sip}"
            bind = rng.choice(["$l->bind;", f"$l->bind('cn=admin,{BASE}', password => 'adminpw');",
                               f"$l->bind('uid=user{rng.randrange(300)},ou=people,{BASE}', password => 'wrong');"])
            tls = "$l->start_tls(verify => 'none');" if not self.tls and rng.random() < 0.15 else ""
            ops = []
            for _ in range(rng.randint(1, 4)):
                ops.append(rng.choice([
                    f"$l->search(base => '{BASE}', filter => '(uid=user{rng.randrange(400)})', attrs => ['cn', 'mail']);",
                    f"$l->search(base => 'ou=people,{BASE}', scope => 'one', filter => '(objectClass=*)', sizelimit => {rng.choice([1, 10, 100])});",
                    f"$l->search(base => '{BASE}', filter => '(objectClass=groupOfNames)');",
                    f"$l->compare('uid=user{rng.randrange(300)},ou=people,{BASE}', attr => 'mail', value => 'user{rng.randrange(300)}@lab.test');",
                    "$l->root_dse;"]))
            return ["perl", "-MNet::LDAP", "-e", f"my $l = Net::LDAP->new('{url}', timeout => 20, verify => 'none') or die; "
                    f"{tls} {bind} {' '.join(ops)} $l->unbind;"]
        return super().session(ctx, rng, o, prog)

    def client(self, ctx, rng, o):
        url = f"{'ldaps' if self.tls else 'ldap'}://{ctx.sip}"
        env = ["env", "LDAPTLS_REQCERT=never"]
        bind = [] if rng.random() < 0.4 else (["-D", f"cn=admin,{BASE}", "-w", "adminpw"] if rng.random() < 0.5 else
                                              ["-D", f"uid=user{rng.randrange(300)},ou=people,{BASE}", "-w", "wrong"])
        starttls = ["-Z"] if (not self.tls and rng.random() < 0.15) else []
        r = rng.random()
        if r < 0.6:
            filt = rng.choice([f"(uid=user{rng.randrange(400)})", "(objectClass=groupOfNames)", f"(cn=User {rng.randrange(300)})",
                               f"(mail=user{rng.randrange(30)}*)", "(objectClass=*)", f"(member=uid=user{rng.randrange(300)},ou=people,{BASE})"])
            attrs = rng.choice([[], ["cn"], ["mail", "uid"], ["1.1"], ["*", "+"]])
            scope = rng.choice(["sub", "one", "base"])
            b = BASE if scope != "one" else f"ou=people,{BASE}"
            return env + ["ldapsearch", "-x", "-H", url, "-o", "nettimeout=20", "-b", b, "-s", scope, "-LLL",
                          "-z", str(rng.choice([0, 1, 10, 100]))] + bind + starttls + [filt] + attrs
        if r < 0.75:
            return env + ["ldapwhoami", "-x", "-H", url, "-o", "nettimeout=20"] + bind + starttls
        if r < 0.82:
            return env + ["ldapcompare", "-x", "-H", url, "-o", "nettimeout=20"] + starttls + [
                f"uid=user{rng.randrange(300)},ou=people,{BASE}", f"mail:user{rng.randrange(300)}@lab.test"]
        return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "ldapc.py"), url, BASE, str(rng.randint(0, 2**31))]


class Ldap(Slapd):
    name, port, tls = "ldap", 389, False


class Ldaps(Slapd):
    name, port, tls = "ldaps", 636, True


class Mosquitto(Service):
    concurrency = 8
    programs = {"mosquitto-clients": ("libmosquitto (mosquitto_pub, mosquitto_sub)", ["mosquitto_pub", "mosquitto_sub"]),
                "paho": ("Eclipse Paho (Python)", ["mqttc.py"]), "paho-c": ("Eclipse Paho C 1.3 (paho_c_pub, paho_c_sub)", []),
                "mqtt.js": ("MQTT.js 4 (Node.js)", [])}
    servers = {"mosquitto": "Mosquitto 2.0", "ejabberd": "ejabberd 23.01 mod_mqtt"}

    def server_options(self, rng):
        o = tls_opts(rng)
        o["tls_version"] = rng.choice(["tlsv1.2", "tlsv1.3", ""])
        return o

    def start(self, ctx, o):
        if o.get("server") == "ejabberd":
            return self.start_server(ctx, o)
        w = ctx.work
        lines = [f"listener {self.port} {ctx.sip}", "allow_anonymous true", "persistence false", "log_dest stderr"]
        if self.tls:
            key, crt = cert(ctx, o)
            lines += [f"certfile {crt}", f"keyfile {key}"]
            if o["tls_version"]:
                lines.append(f"tls_version {o['tls_version']}")
        write(os.path.join(w, "mosquitto.conf"), "\n".join(lines) + "\n")
        return [ctx.srv(["mosquitto", "-c", os.path.join(w, "mosquitto.conf")])]

    MQTT_USER = ("sensor", "sensor-mqtt-pw")

    def session(self, ctx, rng, o, prog):
        """ejabberd's MQTT needs a login (a registered user) and MQTT 3.1.1 or 5; Mosquitto takes both."""
        ej = o.get("server") == "ejabberd"
        creds = ej or rng.random() < 0.4
        argv = self.session_argv(ctx, rng, o, prog, creds)
        u, p = self.MQTT_USER
        name = os.path.basename(argv[0]) if argv[0] != "timeout" else argv[2]
        if creds and name in ("mosquitto_pub", "mosquitto_sub"):
            argv = argv[:1] + ["-u", u, "-P", p] + argv[1:]
        if ej and name in ("mosquitto_pub", "mosquitto_sub"):
            argv = ["mqttv311" if a == "mqttv31" else a for a in argv]
        if creds and argv[0] == "/usr/bin/python3":
            argv = argv + [u, p] + (["v311"] if ej else [])
        return argv

    def session_argv(self, ctx, rng, o, prog, creds):
        u, p = self.MQTT_USER
        if prog == "mqtt.js":
            # /usr/bin/node is not Debian's build: point it at Debian's node modules (node-mqtt and its dependencies)
            return ["env", "NODE_PATH=/usr/share/nodejs", "node", os.path.join(ctx.lab, "clients", "mqttc.js"), f"{'mqtts' if self.tls else 'mqtt'}://{ctx.sip}:{self.port}",
                    str(rng.randint(0, 2**31))] + ([u, p] if creds else [])
        if prog == "paho-c":
            ca = os.path.join(os.path.dirname(ctx.pki["rsa2048"]["key"]), "ca.crt")  # Paho C always verifies the chain
            conn = ["-c", f"ssl://{ctx.sip}:{self.port}", "--cafile", ca, "--insecure"] if self.tls else \
                ["-h", ctx.sip, "-p", str(self.port)]
            common = conn + (["-u", u, "-P", p] if creds else []) + \
                ["-q", str(rng.choice([0, 0, 1, 2])), "-V", rng.choice(["311", "311", "5"] + ([] if creds else ["31"])),
                             "-i", f"paho-{rng.randrange(10**6)}", "-k", str(rng.choice([10, 30, 60])), "--quiet"]
            topic = rng.choice(["home/temp", "plant/line1/status", "devices/abc/telemetry", "t"])
            if rng.random() < 0.6:
                return ["timeout", "20", "paho_c_pub"] + common + ["-t", topic, "-m", rng.choice(["21.5", "on", "x" * rng.randint(1, 3000)])] + \
                    (["-r"] if rng.random() < 0.2 else [])
            return ["sh", "-c", "timeout " + str(rng.randint(1, 4)) + " paho_c_sub " + " ".join(common) + f" -t '{rng.choice([topic, '#'])}'; exit 0"]
        return super().session(ctx, rng, o, prog)

    def start_server(self, ctx, o):
        return start_ejabberd(ctx, o, [(self.port, "mod_mqtt", {"tls": "true"} if self.tls else {})], [self.MQTT_USER])

    def client(self, ctx, rng, o):
        common = ["-h", ctx.sip, "-p", str(self.port), "-q", str(rng.choice([0, 0, 1, 2])),
                  "-V", rng.choice(["mqttv311", "mqttv311", "mqttv5", "mqttv31"]),
                  "-i", f"{rng.choice(['sensor', 'dev', 'client', 'x'])}-{rng.randrange(10**rng.randint(1, 8))}"]
        if rng.random() < 0.3:
            common += ["-k", str(rng.choice([10, 30, 60]))]
        if self.tls:
            common += ["--cafile", os.path.join(os.path.dirname(ctx.pki["rsa2048"]["key"]), "ca.crt"), "--insecure"]
        topic = rng.choice(["home/temp", "plant/line1/status", "devices/abc/telemetry", "t", "alerts"])
        r = rng.random()
        if r < 0.45:
            msg = rng.choice(["21.5", "{\"v\": %d}" % rng.randrange(1000), "on", "x" * rng.randint(1, 3000)])
            return ["mosquitto_pub"] + common + ["-t", topic, "-m", msg] + (["-r"] if rng.random() < 0.3 else []) + \
                (["--repeat", str(rng.randint(1, 10)), "--repeat-delay", str(rng.choice([0, 0.1]))] if rng.random() < 0.3 else [])
        if r < 0.7:
            return ["mosquitto_sub"] + common + ["-t", rng.choice([topic, "#", "home/#"]), "-C", str(rng.randint(1, 5)),
                                                 "-W", str(rng.randint(1, 3))]
        return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "mqttc.py"), ctx.sip, str(self.port),
                "1" if self.tls else "0", str(rng.randint(0, 2**31))]


class Mqtt(Mosquitto):
    name, port, tls = "mqtt", 1883, False


class Mqtts(Mosquitto):
    name, port, tls = "mqtts", 8883, True


class Xmpp(Service):
    name, port = "xmpp", 5222
    concurrency = 4
    users = [("alice", "alicepw"), ("bob", "bobpw-longer"), ("carol", "c")]
    programs = {"slixmpp": ("slixmpp 1.8 (Python)", ["xmppc.py"]), "sendxmpp": ("sendxmpp 1.24 (Perl Net::XMPP)", []),
                "python-raw": ("hand-written Python XMPP client", [])}
    servers = {"prosody": "Prosody 0.12", "ejabberd": "ejabberd 23.01"}

    def server_options(self, rng):
        o = tls_opts(rng)
        o["require_encryption"] = rng.random() < 0.8
        return o

    def start(self, ctx, o):
        if o.get("server") == "ejabberd":
            return start_ejabberd(ctx, o, [(self.port, "ejabberd_c2s", {"starttls": "true",
                                                                         "starttls_required": str(o["require_encryption"]).lower()})],
                                  self.users)
        w = ctx.work
        key, crt = cert(ctx, o)
        os.makedirs(os.path.join(w, "data"), exist_ok=True)
        shutil.chown(os.path.join(w, "data"), "prosody", "prosody")
        conf = f"""pidfile = "{w}/prosody.pid"
data_path = "{w}/data"
interfaces = {{ "{ctx.sip}" }}
c2s_ports = {{ {self.port} }}
s2s_ports = {{ }}
modules_enabled = {{ "roster"; "saslauth"; "tls"; "disco"; "ping"; "private"; "vcard_legacy"; "version"; "uptime"; "time"; "carbons"; "blocklist"; "dialback" }}
modules_disabled = {{ "s2s" }}
authentication = "internal_plain"
c2s_require_encryption = {'true' if o['require_encryption'] else 'false'}
allow_unencrypted_plain_auth = true
log = {{ info = "{w}/prosody.log" }}
daemonize = false
run_as_root = true
ssl = {{ key = "{key}"; certificate = "{crt}" }}
VirtualHost "lab.test"
"""
        cfg = os.path.join(w, "prosody.cfg.lua")
        write(cfg, conf)
        for u, p in self.users:
            subprocess.run(["prosodyctl", "--config", cfg, "register", u, "lab.test", p], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        return [ctx.srv(["prosody", "--config", cfg, "-F"])]

    def session(self, ctx, rng, o, prog):
        u, p = rng.choice(self.users)
        if prog == "python-raw":
            return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "xmppraw.py"), ctx.sip, str(self.port), u, p,
                    str(rng.randint(0, 2**31))]
        if prog == "sendxmpp":
            to = [f"{rng.choice(['alice', 'bob', 'carol'])}@lab.test" for _ in range(rng.choice([1, 1, 2]))]
            msg = rng.choice(["backup finished", "disk 91% full on web-01", "x" * rng.randint(1, 900)])
            return ["sh", "-c", f"echo {msg!r} | timeout 25 sendxmpp -u {u} -p {p} -j {ctx.sip}:{self.port} -o lab.test "
                    f"-t -n -r sx{rng.randrange(99)} {' '.join(to)}"]
        return super().session(ctx, rng, o, prog)

    def client(self, ctx, rng, o):
        u, p = rng.choice(self.users)
        return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "xmppc.py"), ctx.sip, str(self.port), u, p,
                str(rng.randint(0, 2**31))]
