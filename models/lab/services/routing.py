"""bgp: a passive BGP speaker (BIRD 2, FRR bgpd or GoBGP) in the server namespace; each client session starts an
active peer (BIRD 2, FRR bgpd, GoBGP or ExaBGP) in the client namespace that opens, exchanges routes and
keepalives for a few seconds and is then stopped (Cease), as a flapping or restarted peer would."""
import os

from .base import Service, write

SERVER_AS, CLIENT_AS = 65001, 65002


def prefixes(rng, n, second):
    return [f"10.{second}.{i // 250}.{(i % 250)}/32" if rng.random() < 0.2 else f"10.{second}.{i}.0/24" for i in range(n)]


class Bgp(Service):
    name, port = "bgp", 179
    concurrency = 1  # one peer daemon at a time in the client namespace
    servers = {"bird2": "BIRD 2.0.12", "frr": "FRRouting 8.4 bgpd", "gobgp": "GoBGP 3.10"}
    programs = {"bird2": ("BIRD 2.0.12", []), "frr": ("FRRouting 8.4 bgpd", []), "gobgp": ("GoBGP 3.10", []),
                "exabgp": ("ExaBGP 4.2 (Python)", [])}

    def session_count(self, prog, n):
        return min(n, 10)

    def server_options(self, rng):
        return {"hold": rng.choice([9, 30, 90, 180]), "routes": rng.choice([0, 1, 5, 20, 120])}

    def start(self, ctx, o):
        w = ctx.work
        srv = o.get("server") or "bird2"
        import random
        routes = prefixes(random.Random(o["routes"]), o["routes"], 200)
        hold, ka = o["hold"], max(3, o["hold"] // 3)
        if srv == "bird2":
            static = "".join(f"  route {p} blackhole;\n" for p in routes)
            write(os.path.join(w, "bird.conf"), f"""router id {ctx.sip};
protocol device {{ }}
protocol static {{
  ipv4;
{static}}}
protocol bgp peer {{
  local {ctx.sip} as {SERVER_AS};
  neighbor {ctx.cip} as {CLIENT_AS};
  passive on;
  hold time {hold};
  keepalive time {ka};
  ipv4 {{ import all; export all; }};
}}
""")
            return [ctx.srv(["bird", "-f", "-c", os.path.join(w, "bird.conf"), "-s", os.path.join(w, "bird.ctl"),
                             "-P", os.path.join(w, "bird.pid")])]
        if srv == "frr":
            nets = "".join(f"  network {p}\n" for p in routes)
            write(os.path.join(w, "bgpd.conf"), f"""frr defaults traditional
hostname lab-server
router bgp {SERVER_AS}
 bgp router-id {ctx.sip}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor {ctx.cip} remote-as {CLIENT_AS}
 neighbor {ctx.cip} passive
 neighbor {ctx.cip} timers {ka} {hold}
 address-family ipv4 unicast
{nets} exit-address-family
""")
            os.makedirs(os.path.join(w, "frr"), exist_ok=True)
            return [ctx.srv(["/usr/lib/frr/bgpd", "-f", os.path.join(w, "bgpd.conf"), "-i", os.path.join(w, "frr", "bgpd.pid"),
                             "--vty_socket", os.path.join(w, "frr"), "-Z", "-S", "-n", "-l", ctx.sip, "-p", str(self.port),
                             "-P", "0"])]
        write(os.path.join(w, "gobgpd.toml"), f"""[global.config]
  as = {SERVER_AS}
  router-id = "{ctx.sip}"
  local-address-list = ["{ctx.sip}"]
  port = {self.port}
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{ctx.cip}"
    peer-as = {CLIENT_AS}
  [neighbors.transport.config]
    passive-mode = true
  [neighbors.timers.config]
    hold-time = {hold}
    keepalive-interval = {ka}
""")
        add = " ".join(f"gobgp -p 50051 global rib add {p} -a ipv4 >/dev/null 2>&1;" for p in routes[:40])
        return [ctx.srv(["sh", "-c", f"gobgpd -f {w}/gobgpd.toml --api-hosts 127.0.0.1:50051 -l warn & pid=$!; sleep 2; {add} "
                                     f"trap 'kill $pid' TERM; wait $pid"])]

    def session(self, ctx, rng, o, prog):
        w = os.path.join(ctx.work, "peer")
        os.makedirs(w, exist_ok=True)
        n = rng.choice([0, 1, 3, 10, 60])
        routes = prefixes(rng, n, 201 + rng.randrange(50))
        hold = rng.choice([9, 30, 90, 180])
        ka = max(3, hold // 3)
        up = rng.uniform(3, 9)
        tag = f"{prog}{rng.randrange(10**9)}"
        kind = "flap" if up < 5 else "steady"
        if prog == "bird2":
            static = "".join(f"  route {p} blackhole;\n" for p in routes)
            conf = os.path.join(w, f"{tag}.conf")
            write(conf, f"""router id {ctx.cip};
protocol device {{ }}
protocol static {{
  ipv4;
{static}}}
protocol bgp lab {{
  local {ctx.cip} as {CLIENT_AS};
  neighbor {ctx.sip} as {SERVER_AS};
  hold time {hold};
  connect retry time 1;
  connect delay time 1;
  ipv4 {{ import all; export all; }};
}}
""")
            cmd = f"bird -f -c {conf} -s {w}/{tag}.ctl -P {w}/{tag}.pid"
        elif prog == "frr":
            conf = os.path.join(w, f"{tag}.conf")
            nets = "".join(f"  network {p}\n" for p in routes)
            write(conf, f"""frr defaults {rng.choice(['traditional', 'datacenter'])}
router bgp {CLIENT_AS}
 bgp router-id {ctx.cip}
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor {ctx.sip} remote-as {SERVER_AS}
 neighbor {ctx.sip} timers {ka} {hold}
 neighbor {ctx.sip} timers connect 1
 address-family ipv4 unicast
{nets} exit-address-family
""")
            os.makedirs(os.path.join(w, tag), exist_ok=True)
            cmd = (f"/usr/lib/frr/bgpd -f {conf} -i {w}/{tag}/bgpd.pid --vty_socket {w}/{tag} -Z -S -n -l {ctx.cip} -p 0 -P 0")
        elif prog == "gobgp":
            conf = os.path.join(w, f"{tag}.toml")
            write(conf, f"""[global.config]
  as = {CLIENT_AS}
  router-id = "{ctx.cip}"
  port = -1
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{ctx.sip}"
    peer-as = {SERVER_AS}
  [neighbors.timers.config]
    hold-time = {hold}
    keepalive-interval = {ka}
    connect-retry = 1
""")
            add = " ".join(f"gobgp -p 50052 global rib add {p} -a ipv4 >/dev/null 2>&1;" for p in routes[:20])
            cmd = f"gobgpd -f {conf} --api-hosts 127.0.0.1:50052 -l warn"
            up += 6  # GoBGP waits about 6 s before its first connect
            return ["sh", "-c", f"{cmd} & pid=$!; sleep 0.3; {add} sleep {up:.1f}; kill $pid; wait $pid; exit 0"], kind
        else:
            conf = os.path.join(w, f"{tag}.exa")
            static = "".join(f"    route {p} next-hop {ctx.cip};\n" for p in routes)
            write(conf, f"""neighbor {ctx.sip} {{
  router-id {ctx.cip};
  local-address {ctx.cip};
  local-as {CLIENT_AS};
  peer-as {SERVER_AS};
  hold-time {hold};
  family {{ ipv4 unicast; }}
  static {{
{static}  }}
}}
""")
            cmd = (f"env exabgp.daemon.user=root exabgp.tcp.bind='' exabgp.log.destination=stderr exabgp.log.level=CRIT "
                   f"exabgp.api.cli=false exabgp {conf}")
        return ["sh", "-c", f"{cmd} >/dev/null 2>&1 & pid=$!; sleep {up:.1f}; kill $pid; wait $pid; rm -rf {w}/{tag}*; exit 0"], kind
