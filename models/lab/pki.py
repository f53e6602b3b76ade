"""Self-signed test PKI for the TLS-wrapped classes: one CA and server certificates of several key types
and chain lengths, because certificate sizes show up in handshake lengths and must vary between runs."""
import os
import subprocess

KINDS = {
    "rsa2048": ["-newkey", "rsa:2048"],
    "rsa3072": ["-newkey", "rsa:3072"],
    "rsa4096": ["-newkey", "rsa:4096"],
    "ec256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
    "ec384": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1"],
}
NAMES = ["server.lab.test", "mail.example.internal", "svc-01.corp.lan", "a.b"]


def run(*a):
    subprocess.run(list(a), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ensure_pki(d):
    """Returns {kind: {"key", "leaf", "chain"}} under d, making the files once."""
    os.makedirs(d, exist_ok=True)
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    if not os.path.exists(ca_crt):
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca_crt,
            "-days", "3650", "-subj", "/CN=sensor lab CA")
    out = {}
    for i, (kind, newkey) in enumerate(KINDS.items()):
        key, csr = os.path.join(d, f"{kind}.key"), os.path.join(d, f"{kind}.csr")
        leaf, chain = os.path.join(d, f"{kind}.crt"), os.path.join(d, f"{kind}.chain.crt")
        if not os.path.exists(chain):
            cn = NAMES[i % len(NAMES)]
            run("openssl", "req", "-new", *newkey, "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={cn}")
            ext = os.path.join(d, f"{kind}.ext")
            with open(ext, "w") as f:
                # every slot's server address, so that clients that verify (Firefox with the lab CA) accept it
                f.write(f"subjectAltName=DNS:{cn}," + ",".join(f"IP:10.77.{k}.1" for k in range(10)) + "\n")
            run("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
                "-out", leaf, "-days", "3650", "-extfile", ext)
            with open(chain, "w") as f:
                f.write(open(leaf).read() + open(ca_crt).read())
        os.chmod(key, 0o644)  # servers drop privileges (mosquitto, slapd, dovecot) and must still read it
        out[kind] = {"key": key, "leaf": leaf, "chain": chain}
    return out
