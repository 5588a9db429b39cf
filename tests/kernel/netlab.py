"""A throw-away TCP Fast Open lab in network namespaces.

One client namespace reaches every server namespace ("host") under the same
service address, each host over its own veth; the client's route picks which
host answers. The client's cookie cache is keyed by address, so a cookie
taken from one host is presented to another exactly as behind a load
balancer. Nothing here touches the host namespace.
"""

import json
import select
import subprocess
import sys
from pathlib import Path

PEER = Path(__file__).with_name("tfo_peer.py")
SERVICE = "10.99.0.1"  # held by every host; all the client ever connects to
CLIENT = "10.99.0.2"  # the client's one source address, so cookies match on every host
PORT = 8080
TIMEOUT = 10  # seconds, for every command and wait
FASTOPEN_COUNTERS = ("TCPFastOpenPassive", "TCPFastOpenPassiveAltKey",
                     "TCPFastOpenPassiveFail", "TCPFastOpenCookieReqd")


def run(*argv):
    """Runs a command to completion; raises with its stderr if it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


class Netns:
    """A named network namespace, removed by close()."""

    def __init__(self, name):
        self.name = name
        run("ip", "netns", "add", name)
        try:
            self.ip("link", "set", "lo", "up")
            # Bit 1 lets it connect with TFO, bit 2 lets it accept TFO.
            self.exec("sysctl", "-qw", "net.ipv4.tcp_fastopen=3")
        except BaseException:
            self.close()
            raise

    def exec(self, *argv):
        return run("ip", "netns", "exec", self.name, *argv)

    def ip(self, *argv):
        return run("ip", "-n", self.name, *argv)

    def read(self, path):
        """Reads a file as this namespace sees it (/proc/net, /proc/sys/net)."""
        return self.exec("cat", path)

    def tcp_ext(self):
        """The TFO counters of this namespace's TcpExt line in /proc/net/netstat."""
        rows = [line.split() for line in self.read("/proc/net/netstat").splitlines()
                if line.startswith("TcpExt:")]
        names, values = rows  # a line of names, then a line of values
        counters = dict(zip(names[1:], map(int, values[1:])))
        return {name: counters[name] for name in FASTOPEN_COUNTERS}

    def close(self):
        remove_namespace(self.name)


class Server:
    """The echo server of tfo_peer.py, listening with TFO inside a namespace."""

    def __init__(self, netns):
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", netns.name, sys.executable, str(PEER), "serve", SERVICE, str(PORT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT)
        if not ready or self.process.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError(f"server in {netns.name} did not start: {self.process.stderr.read()}")

    def close(self):
        self.process.stdin.close()  # the server exits on EOF ...
        try:
            self.process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()  # ... or is made to
            self.process.wait(TIMEOUT)
        self.process.stdout.close()
        self.process.stderr.close()


class Lab:
    """A client namespace and server namespaces ("hosts"), all named after `prefix`.

    Build it with `with Lab(...)` or call close(): close() removes whatever
    was made, also after a failure half way through building.
    """

    def __init__(self, prefix, hosts):
        self.prefix = prefix
        self._closers = []
        try:
            self.client = self._netns("client")
            self.client.ip("addr", "add", f"{CLIENT}/32", "dev", "lo")
            self.hosts = {host: self._add_host(host) for host in hosts}
        except BaseException:
            self.close()
            raise

    def _netns(self, role):
        netns = Netns(f"{self.prefix}-{role}")
        self._closers.append(netns.close)
        return netns

    def _add_host(self, host):
        netns = self._netns(host)
        # The veth is made inside the namespaces: no name can clash with the host's.
        self.client.ip("link", "add", f"to-{host}", "type", "veth",
                       "peer", "name", "eth0", "netns", netns.name)
        self.client.ip("link", "set", f"to-{host}", "up")
        netns.ip("link", "set", "eth0", "up")
        netns.ip("addr", "add", f"{SERVICE}/32", "dev", "eth0")
        netns.ip("route", "add", f"{CLIENT}/32", "dev", "eth0")
        self._closers.append(Server(netns).close)
        return netns

    def close(self):
        # Servers first: a namespace with a process still in it outlives its name.
        while self._closers:
            self._closers.pop()()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def connect(self, host):
        """One client connection to `host` with data in the SYN.

        Returns the client's report (did the data come back, did the server
        ack it in the SYN) and the change in the host's TFO counters.
        """
        self.client.ip("route", "replace", f"{SERVICE}/32", "dev", f"to-{host}", "src", CLIENT)
        before = self.hosts[host].tcp_ext()
        report = json.loads(self.client.exec(sys.executable, str(PEER), "send", SERVICE, str(PORT)))
        after = self.hosts[host].tcp_ext()
        return report, {name: after[name] - before[name] for name in FASTOPEN_COUNTERS}

    def forget_cookies(self):
        """Empties the client's cookie cache (it lives in the TCP metrics)."""
        self.client.ip("tcp_metrics", "flush", "all")


def remove_namespace(name):
    """Deletes a namespace by name; quiet if it is already gone."""
    subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=TIMEOUT)


def remove_namespaces(prefix):
    """Deletes every namespace a Lab named after `prefix` made: `prefix-ROLE`.

    The dash matters: a bare prefix match would take pid 123's namespaces
    for pid 12's.
    """
    for line in run("ip", "netns", "list").splitlines():
        name = line.split()[0]
        if name.startswith(f"{prefix}-"):
            remove_namespace(name)
