#!/usr/bin/env python3
"""The fleet lab: does a returning client resume, TCP Fast Open and TLS, on
whichever host a load balancer picks, through every key rotation?

    fleet.py [--short] [TOFURKEY]      (TOFURKEY or $TOFURKEY_BIN: the binary)

For each system, in network namespaces the lab makes: N server hosts, one
L4 balancer and one client. Every host holds the one service address on its
loopback; the balancer picks a host at random for each new connection
(nftables `numgen random` into a conntrack mark, policy routing by that
mark), as IPVS direct routing or ECMP do. Not DNAT: the kernel's Fast Open
cookie covers the server's address, so behind DNAT no cookie carries from
one host to another. Each host runs the real server on the service port
with Fast Open on (the namespace's net.ipv4.tcp_fastopen = 3 and the
server's own option), and its keys are set by its own tofurkey runs, in its
own namespace, at each half-interval boundary of its own clock plus the
timer's 2 s, its clock offset from the lab's by 0, +1, -2 or +4 s.

The systems run side by side, one schedule: tofurkey+nginx (reloaded after
the stamp changes, as the shipped path unit does), tofurkey+haproxy (runtime
push), mixed (nginx and HAProxy alternating, one main key), per-host
(nginx's own random ticket keys, the kernel's own random TFO key),
caddy-stek (Caddy's distributed ticket keys in one shared storage
directory, rotated every interval; each host's own kernel TFO key),
caddy-stek-partitioned (the same, the storage cut off from half the hosts
for the middle third of the run) and tofurkey+nginx-dnat (tofurkey+nginx
behind a DNAT balancer: what Fast Open needs the balancer not to be).

Writes OUT/results.json, OUT/resumption.svg and OUT/connections-SYSTEM.jsonl,
prints the table, and exits 1 when a goal is missed: tofurkey+nginx and
tofurkey+haproxy resume >= 99.9 % of offered sessions and accept >= 99.9 %
of the SYNs with data; per-host stays near 1/N. --short (make check): two
hosts per system, two rotations, the tofurkey systems and per-host only
(no Caddy needed), OUT target/fleet-short.

--rollover: the tofurkey systems through a main-key rollover at T, a
boundary placed so that the 4 measured rotations cross T - I, T and T + I;
every host's runs get the next key and T. They are held to the same goals
overall and in each phase: before T - I/2, from T - I/2 to T + I (where a
failure of the rollover would show), and from T + I on. Beside them, two
controls whose first host lacks the next key, which must be seen to fail:
tofurkey+nginx-late (it gets the key a quarter interval after T, so its
first run with it is its run at T + I/2: goals met before T - I/2 and from
T + I on, failures in between, as the README says of a late host) and
tofurkey+nginx-never (it never gets it: failures from T on, to the end).
OUT target/fleet-rollover[-short].

Needs root. It runs in private mount and PID namespaces with its own tmpfs
on /run/netns: the namespaces' names are the lab's alone, and whatever way
it ends, the kernel kills every server it started. It touches nothing of
the host namespace: no address, route, rule, sysctl or key.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests/tickets"))
import tlslab  # noqa: E402  (make_cert, mount_tmpfs, wait_until, ask)

PROCFS_KEY = "/proc/sys/net/ipv4/tcp_fastopen_key"
SERVICE = "10.99.0.1"  # the one service address every host holds
CLIENT = "10.98.0.2"
PORT = 443
DELAY = 2  # the timer runs this long after each boundary
OFFSETS = (0, +1, -2, +4)  # each host's clock minus the lab's, seconds
OFFSETS_SHORT = (-2, +4)  # the widest spread of the four
LIFETIME = 300  # nginx's ssl_session_timeout and HAProxy's ticket lifetime, by default
GOAL = 0.999
RATE = 100  # connections a second, per system
INNER = "FLEET_LAB_SCRATCH"
TIMEOUT = 10


def run(*argv, timeout=TIMEOUT):
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()}")
    return done


# --- Isolation -------------------------------------------------------------

def isolate(timeout, tools):
    """In the lab: returns the scratch directory. Outside: re-runs this
    script in new mount and PID namespaces, removes the scratch directory
    and exits with the lab's status."""
    if os.environ.get(INNER):
        # Namespace names live on our own tmpfs: never the host's /run/netns.
        Path("/run/netns").mkdir(exist_ok=True)
        run("mount", "-t", "tmpfs", "-o", "mode=0755,size=1m", "fleetns", "/run/netns")
        return Path(os.environ[INNER])
    if os.geteuid() != 0:
        sys.exit(f"error: {sys.argv[0]} needs root (network namespaces, servers, their keys)")
    missing = [t for t in ("unshare", "ip", "nft", "nginx", "haproxy", "openssl", *tools) if not shutil.which(t)]
    if missing:
        sys.exit(f"error: {sys.argv[0]} needs {', '.join(missing)}")
    import tempfile
    scratch = tempfile.mkdtemp(prefix="tofurkey-fleet-")
    os.chmod(scratch, 0o755)  # nginx's workers (www-data) pass through to nothing they read
    argv = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc",
            "--kill-child", sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]]
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        code = subprocess.run(argv, env=dict(os.environ, **{INNER: scratch}), timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        code = f"error: the fleet lab ran longer than {timeout} s"
    except KeyboardInterrupt:
        code = "error: the fleet lab was interrupted"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(code)


# --- Namespaces --------------------------------------------------------------

class Netns:
    def __init__(self, name, closers):
        self.name = name
        run("ip", "netns", "add", name)
        closers.append(lambda: subprocess.run(["ip", "netns", "delete", name], capture_output=True))
        self.ip("link", "set", "lo", "up")

    def ip(self, *argv):
        return run("ip", "-n", self.name, *argv)

    def exec(self, *argv, timeout=TIMEOUT):
        return run("ip", "netns", "exec", self.name, *argv, timeout=timeout)

    def counters(self):
        rows = [line.split() for line in self.exec("cat", "/proc/net/netstat").stdout.splitlines()
                if line.startswith("TcpExt:")]
        return dict(zip(rows[0][1:], map(int, rows[1][1:])))


# --- Servers -----------------------------------------------------------------

NGINX_CONFIG = """\
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log notice;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {p}/tmp/body;  proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;   uwsgi_temp_path {p}/tmp/uwsgi;  scgi_temp_path {p}/tmp/scgi;
    ssl_certificate {cert};  ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;  # tickets are the only way to resume
{ticket_keys}
    server {{ listen {listen}:{port} ssl fastopen=256; return 200 "{name}\\n"; }}
}}
"""
NGINX_KEYS = """\
    ssl_session_ticket_key {k}/current.key;  # the first one encrypts
    ssl_session_ticket_key {k}/previous.key;
    ssl_session_ticket_key {k}/next.key;"""

HAPROXY_CONFIG = """\
global
	stats socket {d}/admin.sock mode 600 level admin
	tune.ssl.cachesize 0  # tickets are the only way to resume
defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend fe
	bind {listen}:{port} ssl crt {pem} tls-ticket-keys {keys} tfo
	http-request return status 200 content-type text/plain string "{name}\\n"
"""


def caddy_config(host, cert, key):
    """Caddy with the distributed STEK provider: random ticket keys kept in
    one storage directory that every host of the system shares, rotated
    every interval by whichever host takes the storage's lock first."""
    return {
        "admin": {"disabled": True},
        "storage": {"module": "file_system", "root": str(host.dir / "data/caddy")},
        "apps": {
            "http": {"servers": {"fleet": {
                "listen": [f"{host.listen}:{PORT}"],
                "automatic_https": {"disable": True},
                "routes": [{"handle": [{"handler": "static_response", "body": f"{host.name}\n", "close": True}]}],
                "tls_connection_policies": [{"default_sni": "fleet"}]}}},
            "tls": {
                "certificates": {"load_files": [{"certificate": str(cert), "key": str(key)}]},
                "session_tickets": {
                    "key_source": {"provider": "distributed",
                                   "storage": {"module": "file_system", "root": str(host.stek / "stek")}},
                    "rotation_interval": f"{host.lab.interval}s"}}}}


class Host:
    """One server host: its namespace, its clock offset, its server, its tofurkey runs."""

    def __init__(self, lab, index, kind, offset, tofurkey):
        self.lab, self.kind, self.offset, self.tofurkey = lab, kind, offset, tofurkey
        self.name = f"h{index + 1}"
        self.netns = Netns(f"{lab.name}-{self.name}", lab.closers)
        # Caddy (Go) never asks for Fast Open on its listener: 0x400 turns it
        # on for every listener of the namespace.
        self.netns.exec("sysctl", "-qw", f"net.ipv4.tcp_fastopen={0x403 if kind == 'caddy' else 3}")
        # A link of its own to the balancer; the service address on loopback.
        lb = lab.balancer
        lb.ip("link", "add", self.name, "type", "veth", "peer", "name", "eth0", "netns", self.netns.name)
        lb.ip("addr", "add", f"10.97.{index + 1}.1/24", "dev", self.name)
        lb.ip("link", "set", self.name, "up")
        self.netns.ip("addr", "add", f"10.97.{index + 1}.2/24", "dev", "eth0")
        self.netns.ip("link", "set", "eth0", "up")
        self.netns.ip("route", "add", "default", "via", f"10.97.{index + 1}.1")
        if lab.dnat:
            self.listen = f"10.97.{index + 1}.2"  # the balancer rewrites the service address to this
        else:
            self.listen = SERVICE
            self.netns.ip("addr", "add", f"{SERVICE}/32", "dev", "lo")
            lb.ip("route", "add", f"{SERVICE}/32", "via", f"10.97.{index + 1}.2", "table", str(100 + index + 1))
            lb.ip("rule", "add", "fwmark", str(index + 1), "table", str(100 + index + 1))
        self.dir = lab.scratch / self.name
        self.dir.mkdir(mode=0o755)
        self.keys = lab.secrets / self.name
        self.keys.mkdir(mode=0o700)
        # Caddy's view of the shared STEK storage: a link, which a partition
        # points at a path that cannot be reached (below a regular file).
        self.stek = self.dir / "stek-storage"
        if kind == "caddy":
            self.stek.symlink_to(lab.shared_stek)
        self.runs = []  # (lab time, host clock, exit code, seconds, stderr) per scheduled run
        self.process = None

    # The host's keys, as the timer's run would set them at its clock.
    def set_keys(self, clock):
        argv = [self.tofurkey, "-k", self.lab.main_key, "-i", self.lab.interval, "-T", clock, "-P", PROCFS_KEY]
        # A rollover (--rollover), once its instant is chosen: every host
        # gets the next key and T, but a control's first host (see lacks).
        if self.lab.rollover and not self.lacks_next_key(clock):
            next_key, at = self.lab.rollover
            argv += ["--next-key", next_key, "--next-key-at", at]
        if self.kind == "nginx":
            argv += ["--nginx-tickets", self.keys]
        else:
            argv += ["--haproxy-tickets", self.keys / "haproxy.keys"]
            if self.process is not None:
                argv += ["--haproxy-socket", self.dir / "admin.sock"]
        stamp = self.stamp()
        started = time.monotonic()
        done = subprocess.run(["ip", "netns", "exec", self.netns.name, *map(str, argv)],
                              capture_output=True, text=True, timeout=30)
        if self.kind == "nginx" and self.process is not None and self.stamp() != stamp:
            # tofurkey-nginx-reload.path: the stamp changed, nginx reloads.
            subprocess.run([*self.nginx_argv, "-s", "reload"], capture_output=True, timeout=TIMEOUT)
        return done, time.monotonic() - started

    def lacks_next_key(self, clock):
        """A control's first host: "-never" never gets the next key; "-late"
        gets it a quarter interval after T (its clock), so the first run to
        use it is the one at T + I/2."""
        if self.name != "h1":
            return False
        at = self.lab.rollover[1]
        return self.lab.system.endswith("-never") or (
            self.lab.system.endswith("-late") and clock < at + self.lab.interval // 4)

    def stamp(self):
        try:
            info = os.stat(self.keys / "changed")
            return info.st_ino, info.st_mtime_ns
        except FileNotFoundError:
            return None

    def start(self):
        cert, key, pem = self.lab.cert
        if self.kind in ("nginx", "nginx-own"):
            (self.dir / "tmp").mkdir()
            conf = self.dir / "nginx.conf"
            keys = NGINX_KEYS.format(k=self.keys) if self.kind == "nginx" else "    # nginx's own random keys"
            conf.write_text(NGINX_CONFIG.format(p=self.dir, cert=cert, key=key, ticket_keys=keys,
                                                listen=self.listen, port=PORT, name=self.name))
            self.nginx_argv = ["nginx", "-e", str(self.dir / "error.log"), "-p", str(self.dir), "-c", str(conf)]
            argv = [*self.nginx_argv, "-g", "daemon off;"]
        elif self.kind == "caddy":
            conf = self.dir / "caddy.json"
            conf.write_text(json.dumps(caddy_config(self, cert, key)))
            argv = ["env", f"HOME={self.dir}", f"XDG_DATA_HOME={self.dir}/data", f"XDG_CONFIG_HOME={self.dir}/config",
                    "caddy", "run", "--config", str(conf)]
        else:
            conf = self.dir / "haproxy.cfg"
            conf.write_text(HAPROXY_CONFIG.format(d=self.dir, listen=self.listen, port=PORT, pem=pem,
                                                  keys=self.keys / "haproxy.keys", name=self.name))
            argv = ["haproxy", "-db", "-f", str(conf)]
        with open(self.dir / "console.log", "wb") as console:
            # Its own process group: the stop takes its workers too.
            self.process = subprocess.Popen(["ip", "netns", "exec", self.netns.name, *argv],
                                            stdout=console, stderr=console, start_new_session=True)
        self.lab.closers.append(self.stop)

    def listening(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.kind} on {self.lab.name}/{self.name} exited {self.process.returncode}: "
                               + (self.dir / "console.log").read_text(errors="replace")[-1500:])
        listeners = self.netns.exec("ss", "-Htln", f"sport = :{PORT}").stdout
        return self.listen in listeners and (self.kind != "haproxy" or (self.dir / "admin.sock").exists())

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(TIMEOUT)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(TIMEOUT)

    def schedule(self, stop, deadline):
        """The timer: a run at each half-interval boundary of this host's clock, + DELAY."""
        half = self.lab.interval // 2
        step = int(time.time() + self.offset - DELAY) // half + 1
        while True:
            clock = step * half + DELAY          # what this host's clock reads at the run
            at = clock - self.offset              # the lab's time then
            if at > deadline or stop.wait(max(0.0, at - time.time())):
                return
            done, seconds = self.set_keys(clock)
            self.runs.append({"lab_time": at, "clock": clock, "exit": done.returncode,
                              "seconds": round(seconds, 3), "stderr": done.stderr.strip()[-300:]})
            step += 1


class Lab:
    """One system: a balancer, a client and its hosts, in namespaces named after `name`."""

    def __init__(self, name, system, kinds, offsets, scratch, secrets, cert, main_key, interval, tofurkey):
        self.name, self.system, self.interval = name, system, interval
        self.rollover = None  # (next key, T) once chosen
        self.closers = []
        try:
            self._build(kinds, offsets, scratch, secrets, cert, main_key, tofurkey)
        except BaseException:
            self.close()  # what was made before the failure
            raise

    def _build(self, kinds, offsets, scratch, secrets, cert, main_key, tofurkey):
        name = self.name
        self.scratch = scratch / name
        self.scratch.mkdir(mode=0o755)
        self.secrets = secrets / name
        self.secrets.mkdir(mode=0o700)
        self.cert, self.main_key = cert, main_key
        self.dnat = self.system.endswith("-dnat")
        self.shared_stek = self.scratch / "shared-storage"
        self.shared_stek.mkdir(mode=0o700)
        self.client = Netns(f"{name}-client", self.closers)
        self.balancer = Netns(f"{name}-lb", self.closers)
        self.client.exec("sysctl", "-qw", "net.ipv4.tcp_fastopen=3")
        self.balancer.exec("sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.balancer.ip("link", "add", "client", "type", "veth", "peer", "name", "eth0",
                         "netns", self.client.name)
        self.balancer.ip("addr", "add", "10.98.0.1/24", "dev", "client")
        self.balancer.ip("link", "set", "client", "up")
        self.client.ip("addr", "add", f"{CLIENT}/24", "dev", "eth0")
        self.client.ip("link", "set", "eth0", "up")
        self.client.ip("route", "add", "default", "via", "10.98.0.1")
        self.hosts = [Host(self, i, kind, offset, tofurkey)
                      for i, (kind, offset) in enumerate(zip(kinds, offsets))]
        ruleset = self.scratch / "balancer.nft"
        if self.dnat:
            # The balancer most setups start with: each new connection
            # rewritten to a host's own address at random.
            hosts = ", ".join(f"{i} : {h.listen}" for i, h in enumerate(self.hosts))
            ruleset.write_text(f"""\
table ip fleet {{
    chain prerouting {{
        type nat hook prerouting priority dstnat; policy accept;
        iifname "client" ip daddr {SERVICE} tcp dport {PORT} dnat to numgen random mod {len(kinds)} map {{ {hosts} }}
    }}
}}
""")
        else:
            # Each new connection to the service gets a host at random, kept
            # in its conntrack entry; the mark picks the routing table.
            ruleset.write_text(f"""\
table ip fleet {{
    chain prerouting {{
        type filter hook prerouting priority mangle; policy accept;
        iifname "client" ip daddr {SERVICE} ct state new ct mark set numgen random mod {len(kinds)} offset 1
        iifname "client" ip daddr {SERVICE} meta mark set ct mark
    }}
}}
""")
        self.balancer.exec("nft", "-f", ruleset)

    def start(self, now):
        for host in self.hosts:
            if host.kind in ("nginx", "haproxy"):
                done, _ = host.set_keys(int(now + host.offset))  # a server needs its key files to start
                if done.returncode != 0:
                    raise RuntimeError(f"tofurkey on {self.name}/{host.name}: {done.stderr.strip()}")
            host.start()
        for host in self.hosts:
            tlslab.wait_until(host.listening, f"{host.kind} on {self.name}/{host.name}")

    def close(self):
        while self.closers:
            try:
                self.closers.pop()()
            except Exception as error:  # every other closer still runs
                print(f"fleet: cleanup of {self.name}: {error}", file=sys.stderr)


# --- The systems ----------------------------------------------------------------

def systems(short, offsets=None, rollover=False):
    """(system, kinds of its hosts, offsets of their clocks)."""
    n, offsets = (2, offsets or OFFSETS_SHORT) if short else (4, offsets or OFFSETS)
    if rollover:
        # Through a main-key rollover: the tofurkey systems, and the
        # controls whose first host gets the next key late or never (they
        # must be seen to fail).
        chosen = [("tofurkey+nginx", ["nginx"] * n), ("tofurkey+haproxy", ["haproxy"] * n),
                  ("tofurkey+nginx-late", ["nginx"] * n), ("tofurkey+nginx-never", ["nginx"] * n)]
        return [(system, kinds, offsets[:n]) for system, kinds in chosen]
    chosen = [("tofurkey+nginx", ["nginx"] * n), ("tofurkey+haproxy", ["haproxy"] * n)]
    if not short:
        chosen.append(("mixed", ["nginx", "haproxy"] * (n // 2)))
    chosen.append(("per-host", ["nginx-own"] * n))
    if not short:
        chosen += [("caddy-stek", ["caddy"] * n), ("caddy-stek-partitioned", ["caddy"] * n),
                   ("tofurkey+nginx-dnat", ["nginx"] * n)]
    # Caddy (Go) reads the clock without libc: its hosts keep the lab's.
    return [(system, kinds, [0] * n if "caddy" in kinds else offsets[:n]) for system, kinds in chosen]


def partition(lab, stop, cut, heal):
    """Makes the shared STEK storage unreachable to the second half of the
    hosts from lab time `cut` to `heal`: their link then leads below a
    regular file, where every storage operation fails."""
    blocker = lab.scratch / "unreachable"
    blocker.write_text("")
    for at, target in ((cut, blocker / "storage"), (heal, lab.shared_stek)):
        if stop.wait(max(0.0, at - time.time())):
            return
        for host in lab.hosts[len(lab.hosts) // 2:]:
            link = host.stek.with_name("stek-storage.new")
            link.symlink_to(target)
            os.replace(link, host.stek)
    lab.partition = (cut, heal)


# --- Results ---------------------------------------------------------------------

def summarize(lab, records, start, end, before, after):
    offered = [r for r in records if r["offered"]]
    tfo = [r for r in records if r["tfo_attempt"]]
    kinds = {h.name: h.kind for h in lab.hosts}
    pairs = {}
    for r in offered:
        key = f"{kinds.get(r['issuer'], '?')}->{kinds.get(r.get('host'), '?')}"
        pair = pairs.setdefault(key, [0, 0])
        pair[0] += 1
        pair[1] += bool(r["resumed"])
    server = {name: sum(after[h.name].get(name, 0) - before[h.name].get(name, 0) for h in lab.hosts)
              for name in ("TCPFastOpenPassive", "TCPFastOpenPassiveFail", "TCPFastOpenPassiveAltKey")}
    versions = {}
    for version in ("TLSv1.2", "TLSv1.3"):
        mine = [r for r in offered if r["version"] == version]
        versions[version] = {"attempts": len(mine), "resumed": sum(bool(r["resumed"]) for r in mine)}
    runs = [run for h in lab.hosts for run in h.runs]
    return {
        "system": lab.system,
        "hosts": len(lab.hosts),
        "servers": [h.kind for h in lab.hosts],
        "clock_offsets": [h.offset for h in lab.hosts],
        "interval": lab.interval,
        "rotations": int(end // lab.interval - start // lab.interval),
        "seconds": round(end - start, 1),
        "connections": len(records),
        "errors": sum("error" in r for r in records),
        "attempts": len(offered),
        "resumed": sum(bool(r["resumed"]) for r in offered),
        "attempts_beyond_lifetime": sum(r["age"] is not None and r["age"] > LIFETIME for r in offered),
        "oldest_session_offered": max((r["age"] for r in offered), default=None),
        "tfo_attempts": len(tfo),
        "tfo_accepted": sum(bool(r.get("tfo_accepted")) for r in tfo),
        "server_counters": server,
        "by_version": versions,
        "by_issuer_and_server": {k: {"attempts": v[0], "resumed": v[1]} for k, v in sorted(pairs.items())},
        "partitioned": [round(t - start, 1) for t in getattr(lab, "partition", ())],
        "tofurkey_runs": len(runs),
        "tofurkey_failures": [r for r in runs if r["exit"] != 0][:5],
        "tofurkey_slowest_run": max((r["seconds"] for r in runs), default=None),
        **({"rollover": rollover_phases(lab, records, start)} if lab.rollover else {}),
    }


def phases(interval, at):
    """A rollover's phases in lab time: (name, from, to). The middle one holds
    every host's switch to the next key's keys (T plus or minus the clock
    offsets and the timer's delay, all below I/2) and a late host's run at
    T + I/2."""
    return (("before T - I/2", float("-inf"), at - interval / 2),
            ("T - I/2 to T + I", at - interval / 2, at + interval),
            ("from T + I", at + interval, float("inf")))


def rollover_phases(lab, records, start):
    """Resumption and Fast Open per phase of the rollover."""
    at = lab.rollover[1]
    out = {"T_after_start": round(at - start, 1), "phases": []}
    for name, begin, end in phases(lab.interval, at):
        mine = [r for r in records if begin <= r["t"] < end]
        out["phases"].append({
            "phase": name,
            "attempts": sum(bool(r["offered"]) for r in mine),
            "resumed": sum(bool(r["offered"] and r["resumed"]) for r in mine),
            "tfo_attempts": sum(bool(r["tfo_attempt"]) for r in mine),
            "tfo_accepted": sum(bool(r["tfo_attempt"] and r.get("tfo_accepted")) for r in mine),
        })
    return out


def ratio(part, whole):
    return part / whole if whole else 0.0


def goals(result):
    """The goals this system is held to: a list of what it missed."""
    missed = []
    system, n = result["system"], result["hosts"]
    resumed = ratio(result["resumed"], result["attempts"])
    accepted = ratio(result["tfo_accepted"], result["tfo_attempts"])
    if result["attempts"] < 100:
        missed.append(f"only {result['attempts']} resumption attempts")
    if system.endswith(("-late", "-never")):
        # One host without the next key: from T on it cannot read the
        # others' new tickets or cookies, nor they its, until it gets the
        # key. The lab must see that, and see it there only.
        late = system.endswith("-late")
        for phase, fails in zip(result["rollover"]["phases"], (False, True, not late)):
            p_resumed = ratio(phase["resumed"], phase["attempts"])
            p_accepted = ratio(phase["tfo_accepted"], phase["tfo_attempts"])
            where = f"{phase['phase']}: resumed {p_resumed:.2%}, TFO accepted {p_accepted:.2%}"
            if phase["attempts"] < 100:
                missed.append(f"{phase['phase']}: only {phase['attempts']} resumption attempts")
            elif fails and (p_resumed >= 0.99 or p_accepted >= 0.99):
                missed.append(f"{where}, with a host lacking the next key: the lab does not see the failure")
            elif not fails and (p_resumed < GOAL or p_accepted < GOAL):
                missed.append(f"{where} < {GOAL:.1%}: failures where the missing key cannot explain them")
        if result["errors"]:
            missed.append(f"{result['errors']} connections failed")
        if result["tofurkey_failures"]:
            missed.append(f"tofurkey runs failed: {result['tofurkey_failures']}")
    elif system.endswith("-dnat"):
        # Tickets do not care, cookies do: behind DNAT each host's cookie
        # covers its own address, and only the host that issued one takes it.
        if resumed < GOAL:
            missed.append(f"resumed {resumed:.4%} < {GOAL:.1%}")
        if abs(accepted - 1 / n) > 0.1:
            missed.append(f"TFO accepted {accepted:.1%}, not near 1/{n}")
    elif system.startswith("tofurkey+"):
        if result["attempts_beyond_lifetime"]:
            missed.append(f"{result['attempts_beyond_lifetime']} sessions offered beyond their lifetime")
        if resumed < GOAL:
            missed.append(f"resumed {resumed:.4%} < {GOAL:.1%}")
        if accepted < GOAL:
            missed.append(f"TFO accepted {accepted:.4%} < {GOAL:.1%}")
        # Nearly every connection must have tried: the client had a cookie.
        if ratio(result["tfo_attempts"], result["connections"]) < 0.99:
            missed.append(f"only {result['tfo_attempts']} of {result['connections']} connections sent data in the SYN")
        if result["errors"]:
            missed.append(f"{result['errors']} connections failed")
        if result["tofurkey_failures"]:
            missed.append(f"tofurkey runs failed: {result['tofurkey_failures']}")
        # Through a rollover, the goals hold in each phase too: a failure
        # of the rollover would crowd into the middle one, where the whole
        # run's figure could hide it.
        for phase in result.get("rollover", {}).get("phases", ()):
            for what, part, whole in (("resumed", phase["resumed"], phase["attempts"]),
                                      ("TFO accepted", phase["tfo_accepted"], phase["tfo_attempts"])):
                if ratio(part, whole) < GOAL:
                    missed.append(f"{phase['phase']}: {what} {part} of {whole} < {GOAL:.1%}")
    if system == "per-host":
        for what, value in (("resumed", resumed), ("TFO accepted", accepted)):
            if abs(value - 1 / n) > 0.1:
                missed.append(f"{what} {value:.1%}, not near 1/{n}")
    return missed


def table(results):
    head = ("system", "hosts", "I", "rotations", "attempts", "resumed", "TFO SYNs", "TFO accepted")
    rows = [head]
    for r in results:
        rows.append((r["system"], str(r["hosts"]), f"{r['interval']} s", str(r["rotations"]), str(r["attempts"]),
                     f"{r['resumed']} ({ratio(r['resumed'], r['attempts']):.2%})", str(r["tfo_attempts"]),
                     f"{r['tfo_accepted']} ({ratio(r['tfo_accepted'], r['tfo_attempts']):.2%})"))
    return markdown(rows)


def phase_table(results):
    """A rollover's figures per phase, one row per system and phase."""
    rows = [("system", "phase", "attempts", "resumed", "TFO SYNs", "TFO accepted")]
    for r in results:
        for p in r.get("rollover", {}).get("phases", ()):
            rows.append((r["system"], p["phase"], str(p["attempts"]),
                         f"{p['resumed']} ({ratio(p['resumed'], p['attempts']):.2%})", str(p["tfo_attempts"]),
                         f"{p['tfo_accepted']} ({ratio(p['tfo_accepted'], p['tfo_attempts']):.2%})"))
    return markdown(rows)


def markdown(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# Colour and stroke per system: wide under narrow, so that lines on top of
# each other (at 100 %) all show.
STYLES = {"tofurkey+nginx": ("#1f77b4", 6, ""), "tofurkey+haproxy": ("#2ca02c", 3, ""),
          "mixed": ("#ff7f0e", 2, ' stroke-dasharray="6 4"'), "per-host": ("#d62728", 2, ""),
          "caddy-stek": ("#9467bd", 2, ""), "caddy-stek-partitioned": ("#8c564b", 2, ' stroke-dasharray="2 3"'),
          "tofurkey+nginx-dnat": ("#7f7f7f", 2, ' stroke-dasharray="8 3 2 3"'),
          "tofurkey+nginx-late": ("#ff7f0e", 2, ' stroke-dasharray="6 4"'),
          "tofurkey+nginx-never": ("#d62728", 2, "")}


def stroke(system):
    colour, width, dash = STYLES.get(system, ("#000", 2, ""))
    return f'stroke="{colour}" stroke-width="{width}"{dash}'



def svg(series, start, end, interval, offsets, path):
    """Two panels, TLS resumed and TFO accepted, per system over lab time;
    solid lines at rotations (ticket keys, TFO primary), dashed at half
    intervals (the TFO backup key changes)."""
    width, left, right, panel, gap, top = 960, 60, 220, 200, 50, 30
    plot = width - left - right
    height = top + 2 * panel + gap + 40
    span = end - start
    x = lambda t: left + plot * (t - start) / span  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>']
    for p, (title, field) in enumerate((("TLS sessions resumed", "resumed"), ("TFO SYN data accepted", "tfo"))):
        y0 = top + p * (panel + gap)
        y = lambda v: y0 + panel * (1 - v)  # noqa: E731,B023
        out.append(f'<text x="{left}" y="{y0 - 8}" font-weight="bold">{title} (per {series["bin"]} s)</text>')
        for system, (cut, heal) in series.get("partitions", {}).items():
            out.append(f'<rect x="{x(cut):.1f}" y="{y0}" width="{x(heal) - x(cut):.1f}" height="{panel}" '
                       f'fill="#f4ebe6"/>')
            out.append(f'<text x="{(x(cut) + x(heal)) / 2:.1f}" y="{y0 + panel - 6}" text-anchor="middle" '
                       f'fill="#8c564b">{system}: storage cut off from 2 hosts</text>')
        out.append(f'<rect x="{left}" y="{y0}" width="{plot}" height="{panel}" fill="none" stroke="#888"/>')
        for v in (0, 0.25, 0.5, 0.75, 1):
            out.append(f'<line x1="{left}" x2="{left + plot}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>')
            out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.0%}</text>')
        half = interval // 2
        b = (int(start) // half + 1) * half
        while b < end:
            style = 'stroke-width="1.5"' if b % interval == 0 else 'stroke-width="0.8" stroke-dasharray="4 3"'
            out.append(f'<line x1="{x(b):.1f}" x2="{x(b):.1f}" y1="{y0}" y2="{y0 + panel}" stroke="#555" {style}/>')
            b += half
        if "rollover" in series:
            # The rollover's instant T, on the lab's clock.
            t = series["rollover"]
            out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{y0}" y2="{y0 + panel}" stroke="#d62728" '
                       f'stroke-width="2"/>')
            out.append(f'<text x="{x(t) + 4:.1f}" y="{y0 + 14}" fill="#d62728">T (rollover)</text>')
        for system, points in series["systems"].items():
            pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points[field] if v is not None)
            out.append(f'<polyline points="{pts}" fill="none" {stroke(system)}/>')
    for i, system in enumerate(series["systems"]):
        ly = top + 20 + 20 * i
        out.append(f'<line x1="{left + plot + 15}" x2="{left + plot + 40}" y1="{ly}" y2="{ly}" {stroke(system)}/>')
        out.append(f'<text x="{left + plot + 46}" y="{ly + 4}">{system}</text>')
    ly = top + 20 + 20 * len(series["systems"]) + 10
    out.append(f'<text x="{left + plot + 15}" y="{ly}">solid: rotation (I = {interval} s)</text>')
    out.append(f'<text x="{left + plot + 15}" y="{ly + 16}">dashed: half interval</text>')
    out.append(f'<text x="{left + plot / 2}" y="{height - 10}" text-anchor="middle">'
               f'seconds of the lab clock; tofurkey hosts\' clocks offset {", ".join(f"{o:+d}" for o in offsets)} s'
               + (', Caddy\'s none' if any("caddy" in system for system in series["systems"]) else "") + '</text>')
    for t in range(0, int(span) + 1, interval):
        out.append(f'<text x="{x(start + t):.1f}" y="{top + 2 * panel + gap + 16}" text-anchor="middle">{t}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def binned(records, start, end, width):
    bins = {}
    for r in records:
        i = int((r["t"] - start) // width)
        b = bins.setdefault(i, [0, 0, 0, 0])
        if r["offered"]:
            b[0] += 1
            b[1] += bool(r["resumed"])
        if r["tfo_attempt"]:
            b[2] += 1
            b[3] += bool(r.get("tfo_accepted"))
    out = {"resumed": [], "tfo": []}
    for i in range(int(-(-(end - start) // width))):
        b = bins.get(i, [0, 0, 0, 0])
        t = start + (i + 0.5) * width
        out["resumed"].append((t, b[1] / b[0] if b[0] else None))
        out["tfo"].append((t, b[3] / b[2] if b[2] else None))
    return out


# --- The run ---------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tofurkey", nargs="?", default=os.environ.get("TOFURKEY_BIN"))
    parser.add_argument("--short", action="store_true", help="two hosts, two rotations (make check)")
    parser.add_argument("--interval", type=int, default=20)
    parser.add_argument("--rotations", type=int)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--rollover", action="store_true",
                        help="through a main-key rollover at a boundary inside the run (4 rotations), "
                             "beside two controls: a host that gets the next key late, or never")
    parser.add_argument("--offsets", type=lambda text: [int(o) for o in text.split(",")],
                        help="the hosts' clock offsets, e.g. -3,4 (to see a goal missed: a spread above I/2)")
    args = parser.parse_args()
    if not args.tofurkey or not os.access(args.tofurkey, os.X_OK):
        sys.exit(f"error: name the tofurkey binary (argument or TOFURKEY_BIN; got {args.tofurkey!r})")
    args.tofurkey = os.path.abspath(args.tofurkey)
    rotations = args.rotations or (4 if args.rollover else 2 if args.short else 6)
    if args.rollover and rotations < 4:
        sys.exit("error: --rollover needs 4 rotations: T - I to T + I inside the measured run")
    name = "fleet" + ("-rollover" if args.rollover else "") + ("-short" if args.short else "")
    out = (args.out or ROOT / "target" / name).resolve()
    scratch = isolate(timeout=120 + rotations * args.interval * 3, tools=() if args.short else ("caddy",))  # the parent exits here
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    out.mkdir(parents=True, exist_ok=True)

    secrets = tlslab.mount_tmpfs(scratch / "secrets")
    main_key = secrets / "main.key"
    main_key.touch(mode=0o600)
    main_key.write_bytes(os.urandom(32))
    next_key = secrets / "next.key"
    next_key.touch(mode=0o600)
    next_key.write_bytes(os.urandom(32))
    cert, key = scratch / "cert.pem", scratch / "key.pem"
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=fleet", "-addext", "subjectAltName=DNS:fleet")
    pem = secrets / "site.pem"
    pem.touch(mode=0o600)
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    os.chmod(key, 0o600)

    labs, stop, threads, clients = [], threading.Event(), [], []
    try:
        for i, (system, kinds, offsets) in enumerate(systems(args.short, args.offsets, args.rollover)):
            labs.append(Lab(f"s{i + 1}", system, kinds, offsets, scratch, secrets, (cert, key, pem),
                            main_key, args.interval, args.tofurkey))
        for lab in labs:
            lab.start(time.time())
        # Measure from a quarter into an interval, for whole intervals:
        # exactly `rotations` rotations of the lab's clock.
        now = time.time()
        start = (int(now) // args.interval + 1) * args.interval + args.interval / 4
        if start - now < 3:
            start += args.interval
        end = start + rotations * args.interval
        if args.rollover:
            # T two boundaries in: [T - I, T + I] lies inside [start, end].
            at = (int(start) // args.interval + 2) * args.interval
            for lab in labs:
                lab.rollover = (next_key, at)
            print(f"fleet: rollover at {at - start:+.0f} s from the start of the measurement", flush=True)
        for lab in labs:
            for host in lab.hosts:
                if host.kind in ("nginx", "haproxy"):
                    thread = threading.Thread(target=host.schedule, args=(stop, end + 1), daemon=True)
                    thread.start()
                    threads.append(thread)
        for lab in labs:
            if lab.system.endswith("-partitioned"):
                # Cut for the middle third of the run.
                cut, heal = start + (end - start) / 3, start + 2 * (end - start) / 3
                thread = threading.Thread(target=partition, args=(lab, stop, cut, heal), daemon=True)
                thread.start()
                threads.append(thread)
        time.sleep(max(0.0, start - time.time()))
        before = {lab.name: {h.name: h.netns.counters() for h in lab.hosts} for lab in labs}
        for lab in labs:
            log = lab.scratch / "connections.jsonl"
            clients.append((lab, log, subprocess.Popen(
                ["ip", "netns", "exec", lab.client.name, sys.executable, str(HERE / "client.py"),
                 SERVICE, str(PORT), str(end), str(log), str(RATE)], start_new_session=True)))
        print(f"fleet: {len(labs)} systems measuring for {end - start:.0f} s "
              f"(I = {args.interval} s, {rotations} rotations)", flush=True)
        for _, _, process in clients:
            process.wait(timeout=end - time.time() + 60)
        after = {lab.name: {h.name: h.netns.counters() for h in lab.hosts} for lab in labs}
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

        results, series = [], {"bin": 2, "systems": {}}
        for lab, log, process in clients:
            if process.returncode != 0:
                raise RuntimeError(f"the client of {lab.system} exited {process.returncode}")
            records = [json.loads(line) for line in log.read_text().splitlines()]
            shutil.copy(log, out / f"connections-{lab.system}.jsonl")
            results.append(summarize(lab, records, start, end, before[lab.name], after[lab.name]))
            series["systems"][lab.system] = binned(records, start, end, series["bin"])
        for result in results:
            result["goals_missed"] = goals(result)
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        series["partitions"] = {lab.system: lab.partition for lab in labs if hasattr(lab, "partition")}
        if args.rollover:
            series["rollover"] = at
        svg(series, start, end, args.interval, systems(args.short, args.offsets, args.rollover)[0][2],
            out / "resumption.svg")
        print(table(results))
        if args.rollover:
            print(phase_table(results))
        print(f"fleet: wrote {out / 'results.json'} and {out / 'resumption.svg'}")
        missed = [(r["system"], m) for r in results for m in r["goals_missed"]]
        for system, what in missed:
            print(f"fleet: GOAL MISSED: {system}: {what}")
        return 1 if missed else 0
    finally:
        stop.set()
        for _, _, process in clients:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for lab in reversed(labs):
            lab.close()
        subprocess.run(["umount", str(secrets)], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
