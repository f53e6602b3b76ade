"""One lab slot: three network namespaces (client, relay, server) joined by two veth pairs.

    [client ns] c0 <-> r0 [relay ns: relay.py] r1 <-> s0 [server ns]
       10.77.K.2                                         10.77.K.1

Only addresses inside these namespaces are used. Offloads are off on every veth end so that captured
segments have wire sizes and the relay forwards frames with complete checksums. A run drawn with
`offload` instead joins r0 and r1 with a kernel bridge and turns TSO/GSO/GRO and checksum offload on at
both ends: a capture on c0 or s0 then sees what tcpdump sees on a real end host with offloads on.
"""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


class Slot:
    def __init__(self, k):
        self.k = k
        self.cns, self.rns, self.sns = f"lab{k}c", f"lab{k}r", f"lab{k}s"
        self.cip, self.sip = f"10.77.{k}.2", f"10.77.{k}.1"
        self.relay = None

    def ns_exec(self, ns):
        return ["ip", "netns", "exec", ns]

    def create(self):
        self.destroy()
        for ns in (self.cns, self.rns, self.sns):
            sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", "c0", "netns", self.cns, "type", "veth", "peer", "name", "r0", "netns", self.rns)
        sh("ip", "link", "add", "s0", "netns", self.sns, "type", "veth", "peer", "name", "r1", "netns", self.rns)
        for ns, ifs in ((self.cns, ["c0"]), (self.rns, ["r0", "r1"]), (self.sns, ["s0"])):
            sh(*self.ns_exec(ns), "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
            sh(*self.ns_exec(ns), "ip", "link", "set", "lo", "up")
            for i in ifs:
                sh(*self.ns_exec(ns), "sysctl", "-qw", f"net.ipv6.conf.{i}.disable_ipv6=1")
                sh(*self.ns_exec(ns), "ethtool", "-K", i, "tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off", check=False)
                sh(*self.ns_exec(ns), "ip", "link", "set", i, "up")
        sh(*self.ns_exec(self.cns), "ip", "addr", "add", f"{self.cip}/24", "dev", "c0")
        sh(*self.ns_exec(self.sns), "ip", "addr", "add", f"{self.sip}/24", "dev", "s0")

    def set_offload(self, on):
        flag = "on" if on else "off"
        for ns, ifs in ((self.cns, ["c0"]), (self.rns, ["r0", "r1"]), (self.sns, ["s0"])):
            for i in ifs:
                sh(*self.ns_exec(ns), "ethtool", "-K", i, "tx", flag, "rx", flag, "tso", flag, "gso", flag, "gro", flag,
                   check=False)
        have = "br0" in sh(*self.ns_exec(self.rns), "ip", "-o", "link", "show", check=False).stdout
        if on and not have:
            sh(*self.ns_exec(self.rns), "ip", "link", "add", "br0", "type", "bridge", "forward_delay", "0", "stp_state", "0")
            for i in ("r0", "r1"):
                sh(*self.ns_exec(self.rns), "ip", "link", "set", i, "master", "br0")
            sh(*self.ns_exec(self.rns), "ip", "link", "set", "br0", "up")
        elif not on and have:
            sh(*self.ns_exec(self.rns), "ip", "link", "del", "br0")

    def apply(self, cond, seed):
        """Set MTU, MSS, TCP sysctls and restart the relay with this run's impairments (or bridge, see above)."""
        self.stop_relay()
        offload = bool(cond.get("offload"))
        self.set_offload(offload)
        mtu = str(cond["mtu"])
        for ns, ifs in ((self.cns, ["c0"]), (self.rns, ["r0", "r1"]), (self.sns, ["s0"])):
            for i in ifs:
                sh(*self.ns_exec(ns), "ip", "link", "set", i, "mtu", mtu)
        for ns, dev, side in ((self.cns, "c0", "client"), (self.sns, "s0", "server")):
            t = cond[side]
            sh(*self.ns_exec(ns), "sysctl", "-qw",
               f"net.ipv4.tcp_timestamps={t['timestamps']}", f"net.ipv4.tcp_sack={t['sack']}",
               f"net.ipv4.tcp_window_scaling={t['window_scaling']}",
               f"net.ipv4.tcp_rmem=4096 {t['rmem']} {max(t['rmem'], 6291456)}",
               f"net.ipv4.tcp_wmem=4096 {t['wmem']} {max(t['wmem'], 4194304)}",
               f"net.ipv4.tcp_slow_start_after_idle={t['ssai']}",
               f"net.ipv4.tcp_ecn={t['ecn']}", f"net.ipv4.tcp_autocorking={t.get('autocork', 1)}")
            subnet = f"10.77.{self.k}.0/24"
            route = ["ip", "route", "replace", subnet, "dev", dev, "proto", "kernel", "scope", "link"]
            if t["advmss"]:
                route += ["advmss", str(t["advmss"])]
            sh(*self.ns_exec(ns), *route)
        if offload:
            for ns, i in ((self.rns, "br0"),):
                sh(*self.ns_exec(ns), "ip", "link", "set", i, "mtu", mtu, check=False)
            return
        r = cond["relay"]
        self.relay = subprocess.Popen(
            self.ns_exec(self.rns) + [sys.executable, os.path.join(HERE, "relay.py"), "--a", "r0", "--b", "r1",
                                      "--delay-ms", str(r["delay_ms"]), "--jitter-ms", str(r["jitter_ms"]),
                                      "--loss", str(r["loss"]), "--reorder", str(r["reorder"]),
                                      "--rate-mbit", str(r["rate_mbit"]), "--seed", str(seed), "--max-seconds", "900"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)

    def stop_relay(self):
        if self.relay is not None:
            self.relay.send_signal(signal.SIGTERM)
            try:
                self.relay.wait(5)
            except subprocess.TimeoutExpired:
                self.relay.kill()
                self.relay.wait()
            self.relay = None

    def kill_ns_procs(self, ns):
        """End every process left in one of this slot's namespaces (all were started by the lab)."""
        r = sh("ip", "netns", "pids", ns, check=False)
        for p in r.stdout.split():
            try:
                os.kill(int(p), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass

    def destroy(self):
        self.stop_relay()
        existing = sh("ip", "netns", "list", check=False).stdout
        for ns in (self.cns, self.rns, self.sns):
            if ns in existing.split():
                self.kill_ns_procs(ns)
                sh("ip", "netns", "del", ns, check=False)
