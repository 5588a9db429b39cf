#!/usr/bin/env python3
"""Proves with real nginx that tofurkey's ticket keys make a TLS cluster.

Two nginx instances, A and B, stand for two hosts: each has its own key
directory, written by its own tofurkey run from a main key at its own (faked)
clock, and is reloaded after every run, as the shipped path unit does. A
client takes a session ticket from one and offers it to the other; whether
the other resumes the session says whether the two share the key it was
encrypted with. Ticket key n = floor(T / I); a host holds n-1, n (encrypts)
and n+1, so a ticket survives one rotation of either host's clock, not two.

    TOFURKEY_BIN=/abs/path/to/tofurkey python3 tests/tickets/test_nginx.py

Needs root and nginx; fails otherwise. Everything runs in private namespaces
(see tlslab.py): nginx listens on their own loopback, the keys live on their
own tmpfs. Never prints key material.
"""

import os
import re
import signal
import stat
import subprocess
import unittest
from pathlib import Path

import tlslab

NGINX = "nginx"
TOFURKEY = os.environ.get("TOFURKEY_BIN", str(Path(__file__).resolve().parents[2] / "target/debug/tofurkey"))
INTERVAL = 3600
T = 1_800_000_000  # a multiple of INTERVAL: key n = 500000 from T to T+I-1
FILES = ("previous.key", "current.key", "next.key")
STAMP = "changed"
STARTED = re.compile(r"start worker process (\d+)")
SCRATCH = None  # set by main(): the directory tlslab.isolate() made

CONFIG = """\
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/logs/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {p}/logs/access.log;
    client_body_temp_path {p}/tmp/body;  proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;   uwsgi_temp_path {p}/tmp/uwsgi;  scgi_temp_path {p}/tmp/scgi;
    ssl_certificate {cert};  ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;  # tickets are then the only way to resume
    ssl_session_ticket_key {keys}/current.key;  # the first one encrypts
    ssl_session_ticket_key {keys}/previous.key;
    ssl_session_ticket_key {keys}/next.key;
    server {{ listen 127.0.0.1:{port} ssl; return 200 "{name}\\n"; }}
}}
"""


class Nginx:
    """One nginx "host" with its own prefix, key directory and port, run in
    the foreground as our child so that close() can always stop it."""

    def __init__(self, name, port, keys, cert, key):
        self.name, self.port, self.keys = name, port, keys
        self.prefix = SCRATCH / f"nginx-{name}"
        for sub in ("logs", "tmp"):
            (self.prefix / sub).mkdir(parents=True)
        self.conf = self.prefix / "nginx.conf"
        self.conf.write_text(CONFIG.format(p=self.prefix, cert=cert, key=key, keys=keys, port=port, name=name))
        # -e: even the log written before the configuration is read stays here.
        self.argv = [NGINX, "-e", str(self.prefix / "logs/error.log"), "-p", str(self.prefix), "-c", str(self.conf)]
        with open(self.prefix / "logs/console.log", "wb") as console:
            self.process = subprocess.Popen([*self.argv, "-g", "daemon off;"], stdout=console, stderr=console)
        self.worker = None
        self.wait_for_worker()

    def log(self):
        path = self.prefix / "logs/error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for_worker(self):
        """Waits until a new worker serves and the old one (holding the old keys) is gone."""
        old = self.worker

        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx {self.name} exited {self.process.returncode}:\n{self.log()[-2000:]}")
            log = self.log()
            started = STARTED.findall(log)
            return started and started[-1] != old and (old is None or f"process {old} exited" in log)
        try:
            tlslab.wait_until(ready, f"nginx {self.name} to (re)start its worker")
        except TimeoutError as error:
            raise TimeoutError(f"{error}; its log ends:\n{self.log()[-2000:]}") from None
        self.worker = STARTED.findall(self.log())[-1]

    def reload(self):
        tlslab.run(*self.argv, "-s", "reload")
        self.wait_for_worker()

    def close(self):
        self.process.terminate()
        try:
            self.process.wait(tlslab.TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()  # its workers die with the PID namespace at the latest
            self.process.wait(tlslab.TIMEOUT)


def snapshot(directory):
    """What a rewrite would change: each file's inode and mtime."""
    return {name: (info.st_ino, info.st_mtime_ns) for name in (*FILES, STAMP)
            for info in [os.stat(directory / name)]}


class NginxTicketClusterTest(tlslab.Resumption, unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(TOFURKEY, os.X_OK):
            raise RuntimeError(f"TOFURKEY_BIN must name the tofurkey binary to test (got {TOFURKEY!r})")
        cls.secrets = tlslab.mount_tmpfs(SCRATCH / "secrets")
        cls.addClassCleanup(tlslab.run, "umount", cls.secrets)
        cls.main_keys = {}  # name -> file; the key itself is never printed
        for name in ("shared", "foreign"):
            path = cls.secrets / f"main-{name}"
            path.touch(mode=0o600)
            path.write_bytes(os.urandom(32))
            cls.main_keys[name] = path
        cert, key = tlslab.make_cert(SCRATCH)
        cls.hosts = {}
        for name, port in (("A", 8443), ("B", 8444)):
            keys = cls.secrets / f"keys-{name}"
            keys.mkdir(mode=0o700)
            cls.set_keys(keys, T)  # nginx refuses to start without its key files
            cls.hosts[name] = Nginx(name, port, keys, cert, key)
            cls.addClassCleanup(cls.hosts[name].close)
        cls.clients = {version: tlslab.Client(version) for version in tlslab.VERSIONS}

    @classmethod
    def set_keys(cls, keys, now, main_key="shared"):
        """Runs tofurkey as a host at time `now`; returns its one info line."""
        tfo = keys.with_name(keys.name + ".tfo")  # a stand-in for procfs, never the real one
        tfo.touch(mode=0o600)
        done = subprocess.run([TOFURKEY, "-k", str(cls.main_keys[main_key]), "-P", str(tfo), "-T", str(now),
                               "-i", str(INTERVAL), "--nginx-tickets", str(keys)],
                              capture_output=True, text=True, timeout=tlslab.TIMEOUT)
        info = [line for line in done.stderr.splitlines() if line.startswith("info: keys set: ")]
        if done.returncode != 0 or len(info) != 1:
            raise AssertionError(f"tofurkey at {now} exited {done.returncode}, stderr:\n{done.stderr}")
        return info[0]

    def set_host(self, name, now, main_key="shared"):
        host = self.hosts[name]
        self.set_keys(host.keys, now, main_key)
        host.reload()

    def test_1_same_interval_resumes_both_ways(self):
        self.set_host("A", T)
        self.set_host("B", T + 7)
        self.assert_resumption(True, [("A", "B"), ("B", "A")])

    def test_2_one_rotation_apart_still_resumes_both_ways(self):
        self.set_host("A", T)
        self.set_host("B", T + INTERVAL)  # B holds n, n+1 (encrypts), n+2
        a, b = (self.hosts[name].keys for name in "AB")
        # Compared without assertEqual, which would print the keys.
        self.assertTrue((b / "previous.key").read_bytes() == (a / "current.key").read_bytes()
                        and (b / "current.key").read_bytes() == (a / "next.key").read_bytes(),
                        "B's set is not A's shifted by one")
        self.assert_resumption(True, [("A", "B"), ("B", "A")])

    def test_3_two_rotations_apart_no_longer_resumes(self):
        self.set_host("A", T)
        self.set_host("B", T + 2 * INTERVAL)  # B holds n+1, n+2, n+3: none is A's n
        self.assert_resumption(True, [("A", "A"), ("B", "B")])  # each ticket is good at home
        self.assert_resumption(False, [("A", "B"), ("B", "A")])

    def test_4_another_main_key_never_resumes(self):
        self.set_host("A", T)
        self.set_host("B", T, main_key="foreign")
        self.assert_resumption(True, [("A", "A"), ("B", "B")])
        self.assert_resumption(False, [("A", "B"), ("B", "A")])

    def test_5_same_interval_rewrites_nothing(self):
        keys = self.secrets / "keys-rerun"
        keys.mkdir(mode=0o700)
        self.assertIn("nginx 3 of 3 files replaced", self.set_keys(keys, T))
        before = snapshot(keys)
        for now in (T + 1, T + INTERVAL // 2 - 1, T + INTERVAL // 2, T + INTERVAL - 1):
            with self.subTest(now=now):
                self.assertIn("nginx files unchanged", self.set_keys(keys, now))
                self.assertEqual(snapshot(keys), before, "a run in the same interval touched a file")
        # The snapshot would have seen a rewrite: the next interval replaces every file.
        self.assertIn("nginx 3 of 3 files replaced", self.set_keys(keys, T + INTERVAL))
        after = snapshot(keys)
        self.assertEqual([name for name in after if after[name] == before[name]], [])

    def test_6_key_files_are_private_and_80_bytes(self):
        keys = self.hosts["A"].keys
        self.set_keys(keys, T)
        contents = set()
        for name in FILES:
            info = os.lstat(keys / name)
            with self.subTest(name):
                self.assertTrue(stat.S_ISREG(info.st_mode), "not a regular file")
                self.assertEqual(stat.S_IMODE(info.st_mode), 0o600)
                self.assertEqual((info.st_uid, info.st_size), (0, 80))
                contents.add((keys / name).read_bytes())
        self.assertEqual(len(contents), 3, "two key files are the same")


def main():
    global SCRATCH
    SCRATCH = tlslab.isolate("tofurkey-nginx-", tools=(NGINX,))  # the parent exits here
    # We are PID 1 of our namespace, which ignores SIGTERM unless handled:
    # make it the exception that runs the cleanups.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
