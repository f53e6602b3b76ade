"""Background protocols: real protocols the model has no class for, labelled `other:TOKEN` (TOKEN = tshark's
protocol token), so that a trainer can fit and check an open-set rule on flows that are neither a class nor noise.

other:socks (microsocks, SOCKS4/5 to an HTTP server behind it), other:finger (efingerd), other:rpc (rpcbind
portmapper over TCP: rpcinfo and a hand-written Python client), other:mbtcp (Modbus/TCP: pymodbus server; mbpoll
and pymodbus clients), other:iperf3 (iperf3 control and data connections; tshark 4.0 has no dissector for it)."""
import os

from .base import Service, write


class Socks(Service):
    name, label, port = "bg-socks", "other:socks", 1080
    servers = {"microsocks": "microsocks 1.0"}
    programs = {"curl": ("libcurl SOCKS4/4a/5", []), "python-raw": ("hand-written Python SOCKS5", [])}

    def prepare(self, ctx):
        www = os.path.join(ctx.work, "www")
        for i, n in enumerate([100, 2000, 30000, 200000]):
            write(os.path.join(www, f"f{i}.txt"), "s" * n)

    def start(self, ctx, o):
        backend = ctx.srv(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "8080", "--directory",
                           os.path.join(ctx.work, "www")])
        return [backend, ctx.srv(["microsocks", "-i", ctx.sip, "-p", str(self.port)])]

    def session(self, ctx, rng, o, prog):
        path = f"f{rng.randrange(4)}.txt"
        if prog == "curl":
            mode = rng.choice(["--socks5", "--socks5-hostname"])  # microsocks speaks SOCKS5 only
            return ["curl", "-s", "-o", "/dev/null", "--max-time", "20", mode, f"{ctx.sip}:{self.port}",
                    f"http://127.0.0.1:8080/{path}"]
        code = ("import socket,struct\n"
                f"s=socket.create_connection(('{ctx.sip}',{self.port}),timeout=20)\n"
                "s.sendall(b'\\x05\\x01\\x00'); s.recv(2)\n"
                "s.sendall(b'\\x05\\x01\\x00\\x01'+socket.inet_aton('127.0.0.1')+struct.pack('>H',8080)); s.recv(10)\n"
                f"s.sendall(b'GET /{path} HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\n\\r\\n')\n"
                "while s.recv(65536): pass\n")
        return ["/usr/bin/python3", "-c", code]


class Finger(Service):
    name, label, port = "bg-finger", "other:finger", 79
    servers = {"efingerd": "efingerd 1.6 (behind a minimal inetd)"}
    programs = {"finger": ("BSD finger", []), "python-raw": ("hand-written Python finger", [])}

    def start(self, ctx, o):
        return [ctx.srv(["/usr/bin/python3", os.path.join(ctx.lab, "clients", "inetd.py"), ctx.sip, str(self.port),
                         "/usr/sbin/efingerd", "-u", "-n"])]

    def session(self, ctx, rng, o, prog):
        who = rng.choice(["", "root", "sensorlab", "nobody", "alice"])
        if prog == "finger":
            return ["finger"] + (["-l"] if rng.random() < 0.5 else []) + [f"{who}@{ctx.sip}"]
        code = (f"import socket\ns=socket.create_connection(('{ctx.sip}',{self.port}),timeout=20)\n"
                f"s.sendall(b'{'/W ' if rng.random() < 0.3 else ''}{who}\\r\\n')\nwhile s.recv(4096): pass\n")
        return ["/usr/bin/python3", "-c", code]


class Portmap(Service):
    name, label, port = "bg-rpc", "other:rpc", 111
    concurrency = 4
    servers = {"rpcbind": "rpcbind 1.2"}
    programs = {"rpcinfo": ("libtirpc rpcinfo", []),
                "python-raw": ("hand-written Python ONC RPC (clients/oncrpcc.py)", [])}

    def start(self, ctx, o):
        # rpcbind keeps its lock and socket in /run (/run/rpcbind.lock, /run/rpcbind.sock), shared by every slot: a
        # second slot's rpcbind exited at once ("server did not listen"). `ip netns exec` gives each server a private
        # (slave) mount namespace, so a tmpfs over /run there is that rpcbind's own and never seen by the host.
        return [ctx.srv(["sh", "-c", f"mount -t tmpfs tmpfs /run && mkdir -p /run/rpcbind && exec rpcbind -f -w -h {ctx.sip}"])]

    def session(self, ctx, rng, o, prog):
        if prog == "python-raw":
            return ["/usr/bin/python3", os.path.join(ctx.lab, "clients", "oncrpcc.py"), ctx.sip, str(self.port),
                    str(rng.randint(0, 2**31))]
        return ["rpcinfo"] + rng.choice([["-p", ctx.sip], ["-T", "tcp", ctx.sip, "100000"], ["-T", "tcp", ctx.sip, "100000", "3"],
                                         ["-s", ctx.sip], ["-m", ctx.sip], ["-T", "tcp", "-a", f"{ctx.sip}.0.111", "100000", "2"]])


class Modbus(Service):
    name, label, port = "bg-modbus", "other:mbtcp", 502
    servers = {"pymodbus": "pymodbus 3.0 (Python)"}
    programs = {"mbpoll": ("mbpoll 1.4 (libmodbus)", []), "pymodbus": ("pymodbus 3.0 (Python)", [])}

    def start(self, ctx, o):
        code = ("from pymodbus.server import StartTcpServer\n"
                "from pymodbus.datastore import ModbusSequentialDataBlock, ModbusSlaveContext, ModbusServerContext\n"
                "b=lambda: ModbusSequentialDataBlock(0,[17]*2000)\n"
                "StartTcpServer(context=ModbusServerContext(slaves=ModbusSlaveContext(di=b(),co=b(),hr=b(),ir=b()),single=True),"
                f"address=('{ctx.sip}',{self.port}))\n")
        return [ctx.srv(["/usr/bin/python3", "-c", code])]

    def session(self, ctx, rng, o, prog):
        n = rng.randint(1, 60)
        if prog == "mbpoll":
            return ["timeout", "15", "mbpoll", "-m", "tcp", "-a", "1", "-r", str(rng.randint(1, 500)), "-c", str(n),
                    "-t", rng.choice(["0", "1", "3", "4", "4:float"]), "-1", "-o", "5", ctx.sip]
        code = ("import random,time\nfrom pymodbus.client import ModbusTcpClient\n"
                f"r=random.Random({rng.randint(0, 2**31)})\nc=ModbusTcpClient('{ctx.sip}',port={self.port},timeout=10)\nc.connect()\n"
                "for _ in range(r.randint(1,20)):\n"
                " k=r.random()\n"
                " if k<0.5: c.read_holding_registers(r.randint(0,1000),r.randint(1,100),slave=1)\n"
                " elif k<0.7: c.read_coils(r.randint(0,1000),r.randint(1,200),slave=1)\n"
                " elif k<0.9: c.write_register(r.randint(0,1000),r.randint(0,65535),slave=1)\n"
                " else: c.write_registers(r.randint(0,900),[r.randint(0,65535) for _ in range(r.randint(1,50))],slave=1)\n"
                " time.sleep(r.uniform(0,0.5))\nc.close()\n")
        return ["/usr/bin/python3", "-c", code]


class Iperf3(Service):
    name, label, port = "bg-iperf3", "other:iperf3", 5201
    concurrency = 1  # iperf3 serves one test at a time
    servers = {"iperf3": "iperf3 3.12"}
    programs = {"iperf3": ("iperf3 3.12", [])}

    def session_count(self, prog, n):
        return min(n, 10)

    def start(self, ctx, o):
        return [ctx.srv(["iperf3", "-s", "-B", ctx.sip, "-p", str(self.port)])]

    def session(self, ctx, rng, o, prog):
        return ["iperf3", "-c", ctx.sip, "-p", str(self.port), "-n", str(rng.choice([10_000, 100_000, 1_000_000])),
                "-l", str(rng.choice([128, 1400, 8192, 131072]))] + (["-R"] if rng.random() < 0.4 else []) + \
            (["-P", str(rng.randint(2, 4))] if rng.random() < 0.3 else [])
