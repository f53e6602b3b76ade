"""Directory and messaging: ldap/ldaps (OpenLDAP slapd), mqtt/mqtts (Mosquitto), xmpp (Prosody)."""
import os
import random
import shutil
import subprocess

from .base import Service, cert, tls_opts, write

BASE = "dc=lab,dc=test"


class Slapd(Service):
    concurrency = 6
    programs = {"openldap-tools": ("OpenLDAP libldap (ldapsearch, ldapwhoami, ldapcompare)", ["ldapsearch", "ldapwhoami", "ldapcompare"]),
                "ldap3": ("ldap3 (pure Python)", ["ldapc.py"])}
    servers = {"slapd": "OpenLDAP slapd 2.5"}

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

    def start(self, ctx, o):
        self.write_conf(ctx, o)
        url = f"ldaps://{ctx.sip}/" if self.tls else f"ldap://{ctx.sip}/"
        return [ctx.srv(["slapd", "-d", "0", "-f", self.conf_path, "-h", url])]

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
                "paho": ("Eclipse Paho (Python)", ["mqttc.py"])}
    servers = {"mosquitto": "Mosquitto 2.0"}

    def server_options(self, rng):
        o = tls_opts(rng)
        o["tls_version"] = rng.choice(["tlsv1.2", "tlsv1.3", ""])
        return o

    def start(self, ctx, o):
        w = ctx.work
        lines = [f"listener {self.port} {ctx.sip}", "allow_anonymous true", "persistence false", "log_dest stderr"]
        if self.tls:
            key, crt = cert(ctx, o)
            lines += [f"certfile {crt}", f"keyfile {key}"]
            if o["tls_version"]:
                lines.append(f"tls_version {o['tls_version']}")
        write(os.path.join(w, "mosquitto.conf"), "\n".join(lines) + "\n")
        return [ctx.srv(["mosquitto", "-c", os.path.join(w, "mosquitto.conf")])]

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
    programs = {"slixmpp": ("slixmpp (Python)", ["xmppc.py"])}
    servers = {"prosody": "Prosody 0.12"}

    def server_options(self, rng):
        o = tls_opts(rng)
        o["require_encryption"] = rng.random() < 0.8
        return o

    def start(self, ctx, o):
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

    def client(self, ctx, rng, o):
        u, p = rng.choice(self.users)
        return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "xmppc.py"), ctx.sip, str(self.port), u, p,
                str(rng.randint(0, 2**31))]
