#!/usr/bin/env python3
"""Proves with real HAProxy that tofurkey keeps a running cluster's ticket keys
in step through HAProxy's admin socket, without a reload.

Two HAProxy instances, A (one process, -db) and B (master-worker, -W, as
Debian's unit runs it), stand for two hosts: each has its own key file and
admin socket, its file written by its own tofurkey run from one main key at
its own (faked) clock. Each test starts both afresh at T; later times reach a
host only through `--haproxy-socket`, which appends to its live ring the keys
it lacks. A client takes a session ticket from one host and offers it to the
other; a resumed session says the two share the key it was encrypted with.
Key n = floor(T / I); a ring holds n-1, n (encrypts) and n+1.

    TOFURKEY_BIN=/abs/path/to/tofurkey python3 tests/tickets/test_haproxy.py

Needs root and haproxy; fails otherwise. Everything runs in private namespaces
(see tlslab.py). Never prints key material: rings are compared, not shown.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import tlslab

HAPROXY = "haproxy"
TOFURKEY = os.environ.get("TOFURKEY_BIN", str(Path(__file__).resolve().parents[2] / "target/debug/tofurkey"))
INTERVAL = 3600
T = 1_800_000_000  # a multiple of INTERVAL: key n = 500000 from T to T+I-1
SCRATCH = None  # set by main(): the directory tlslab.isolate() made

CONFIG = """\
global
	stats socket {d}/admin.sock mode 600 level admin
	pidfile {d}/h.pid
	tune.ssl.cachesize 0  # no session cache: tickets are the only way to resume
defaults
	mode http
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend fe
	bind 127.0.0.1:{port} ssl crt {pem} tls-ticket-keys {keys}
	http-request return status 200 content-type text/plain string "{name}\\n"
"""


class Haproxy:
    """One HAProxy "host": its directory (config, admin socket), its key file
    and port, run in the foreground as our child so that close() always stops it."""

    def __init__(self, name, port, keys, pem, master_worker):
        self.name, self.port, self.keys, self.pem, self.master_worker = name, port, keys, pem, master_worker
        self.dir = SCRATCH / f"haproxy-{name}"
        self.dir.mkdir()
        self.admin, self.tfo = self.dir / "admin.sock", keys.with_suffix(".tfo")  # -P: a stand-in for procfs
        self.conf = self.dir / "haproxy.cfg"
        self.conf.write_text(CONFIG.format(d=self.dir, port=port, pem=pem, keys=keys, name=name))
        self.process = None

    def log(self):
        return (self.dir / "console.log").read_text(errors="replace")[-2000:]

    def start(self):
        self.admin.unlink(missing_ok=True)
        argv = [HAPROXY, "-db", "-f", str(self.conf)]
        if self.master_worker:
            argv += ["-W", "-S", str(self.dir / "master.sock")]
        with open(self.dir / "console.log", "wb") as console:
            self.process = subprocess.Popen(argv, stdout=console, stderr=console)

        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy {self.name} exited {self.process.returncode}:\n{self.log()}")
            try:
                return "Pid: " in tlslab.ask(self.admin, "show info\n")
            except OSError:
                return False
        try:
            tlslab.wait_until(ready, f"haproxy {self.name} to answer on its admin socket")
        except TimeoutError as error:
            raise TimeoutError(f"{error}; its log ends:\n{self.log()}") from None
        self.pids = self.current_pids()
        if self.master_worker and self.pids[0] == self.pids[1]:
            raise AssertionError(f"haproxy {self.name} -W: the admin socket is not served by a worker")

    def current_pids(self):
        """Our child's PID and that of the process serving the admin socket (the worker under -W)."""
        info = tlslab.ask(self.admin, "show info\n").splitlines()
        info = dict(line.split(": ", 1) for line in info if ": " in line)
        return self.process.pid, int(info["Pid"])

    def ring(self):
        """The live ring, oldest first, in the file's form (three lines of base64)."""
        answer = tlslab.ask(self.admin, f"show tls-keys {self.keys}\n")
        keys = [line.split(" ", 1)[1] for line in answer.splitlines() if line[:1].isdigit()]
        if len(keys) != 3:
            raise AssertionError(f"haproxy {self.name}: 'show tls-keys' gave {len(keys)} keys")
        return "".join(key + "\n" for key in keys).encode()

    def close(self):
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(tlslab.TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()  # a worker dies with the PID namespace at the latest
            self.process.wait(tlslab.TIMEOUT)
        self.process = None


def snapshot(path):
    """What a rewrite or a touch would change."""
    info = os.stat(path)
    return info.st_ino, info.st_mtime_ns, info.st_ctime_ns


class HaproxyTicketClusterTest(tlslab.Resumption, unittest.TestCase):

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
        pem = cls.secrets / "site.pem"  # HAProxy wants the certificate and its key in one file
        pem.touch(mode=0o600)
        pem.write_bytes(cert.read_bytes() + key.read_bytes())
        cls.hosts = {}
        for name, port, master_worker in (("A", 8443, False), ("B", 8444, True)):
            keys = cls.secrets / f"keys-{name}"
            keys.mkdir(mode=0o700)
            cls.hosts[name] = Haproxy(name, port, keys / "haproxy.keys", pem, master_worker)
        cls.clients = {version: tlslab.Client(version) for version in tlslab.VERSIONS}

    def setUp(self):
        for host in self.hosts.values():
            self.assertIn("HAProxy file", self.push(host.name, T, sock=None)[0])  # HAProxy needs it to start
            self.addCleanup(host.close)
            host.start()

    def tofurkey(self, name, now, main_key="shared", sock="own", keys=None, check=False,
                 timeout=tlslab.TIMEOUT):
        """Runs tofurkey as host `name` at time `now`, by default pushing to its socket."""
        host = self.hosts[name]
        argv = [TOFURKEY, *(["--check"] if check else []), "-k", str(self.main_keys[main_key]), "-P", str(host.tfo),
                "-T", str(now), "-i", str(INTERVAL), "--haproxy-tickets", str(keys or host.keys)]
        if sock:
            argv += ["--haproxy-socket", str(host.admin if sock == "own" else sock)]
        host.tfo.touch(mode=0o600)
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        held = (host.keys.read_text().split() if host.keys.exists() else []) + \
            (host.ring().decode().split() if host.process else [])
        self.assertFalse(any(k in done.stdout + done.stderr for k in held), "tofurkey printed a key")
        return done

    def push(self, name, now, main_key="shared", sock="own"):
        """A run that must succeed: its info line and its warning lines."""
        done = self.tofurkey(name, now, main_key, sock)
        info = [line for line in done.stderr.splitlines() if line.startswith("info: keys set: ")]
        if done.returncode != 0 or len(info) != 1:
            raise AssertionError(f"tofurkey at {now} exited {done.returncode}, stderr:\n{done.stderr}")
        # (The clock's own warning, on a host whose clock is not synchronized, is not the push's.)
        return info[0], [line for line in done.stderr.splitlines()
                         if line.startswith("warning: ") and "system clock" not in line]

    def assert_in_step(self, name):
        """The live ring is the file tofurkey wrote, and no process was replaced."""
        host = self.hosts[name]
        self.assertTrue(host.ring() == host.keys.read_bytes(), f"{name}'s live ring is not its file")
        self.assertEqual(host.current_pids(), host.pids, f"{name} was reloaded or restarted")

    def restart(self, name, now):
        """A host whose file was written at `now` and loaded by a fresh start."""
        self.push(name, now, sock=None)
        self.hosts[name].close()
        self.hosts[name].start()

    def relay(self, name):
        """A socket in front of `name`'s admin socket that counts the commands passed on."""
        relay = tlslab.LineServer(SCRATCH / f"relay-{name}.sock",
                                  lambda line: tlslab.ask(self.hosts[name].admin, line))
        self.addCleanup(relay.close)
        return relay

    def test_1_same_interval_resumes_both_ways(self):
        self.assertIn("running HAProxy already in sync", self.push("B", T + 7)[0])
        self.assert_resumption(True, [("A", "B"), ("B", "A")])

    def test_2_rotation_pushed_without_reload_resumes_both_ways(self):
        info, warnings = self.push("B", T + INTERVAL)  # B: n, n+1 (encrypts), n+2
        self.assertIn("HAProxy file replaced, 1 key pushed to the running HAProxy", info)
        self.assertEqual(warnings, [])
        self.assert_in_step("B")
        a, b = self.hosts["A"].ring().splitlines(), self.hosts["B"].ring().splitlines()
        self.assertTrue(b[:2] == a[1:], "B's ring is not A's shifted by one")  # not assertEqual: keys
        self.assert_resumption(True, [("A", "B"), ("B", "A")])
        self.assert_in_step("B")

    def test_3_same_interval_pushes_nothing(self):
        self.push("B", T + INTERVAL)
        host, relay = self.hosts["B"], self.relay("B")
        ring, stamp = host.ring(), snapshot(host.keys)
        for now in (T + INTERVAL + 1, T + 2 * INTERVAL - 1):
            with self.subTest(now=now):
                relay.verbs.clear()
                self.assertIn("HAProxy file unchanged, running HAProxy already in sync",
                              self.push("B", now, sock=relay.path)[0])
                self.assertEqual(relay.verbs, ["show", "show"], "a run in a pushed interval sent more than its reads")
                self.assertTrue(host.ring() == ring, "the ring changed")
                self.assertEqual(snapshot(host.keys), stamp, "the file was rewritten or touched")
                self.assert_in_step("B")

    def test_4_catches_up_after_missed_rotations(self):
        self.push("B", T + INTERVAL)
        relay = self.relay("B")
        for now, pushed, foreign in ((T + 3 * INTERVAL, 2, False), (T + 10 * INTERVAL, 3, True)):
            with self.subTest(now=now):
                relay.verbs.clear()
                info, warnings = self.push("B", now, sock=relay.path)
                self.assertIn(f"HAProxy file replaced, {pushed} keys pushed to the running HAProxy", info)
                self.assertEqual(relay.verbs, ["show", "show"] + ["set"] * pushed + ["show"])
                # Three missed rotations leave nothing in common: tofurkey says so.
                self.assertEqual(len(warnings), int(foreign), warnings)
                self.assertTrue(all("held none of this set's keys" in w for w in warnings), warnings)
                self.assert_in_step("B")
                self.restart("A", now)
                self.assert_resumption(True, [("A", "B"), ("B", "A")])

    def test_5_two_rotations_apart_no_longer_resumes(self):
        self.assertIn("2 keys pushed", self.push("B", T + 2 * INTERVAL)[0])  # n+1, n+2, n+3: not A's n
        self.assert_in_step("B")
        self.assert_resumption(True, [("A", "A"), ("B", "B")])  # each ticket is good at home
        self.assert_resumption(False, [("A", "B"), ("B", "A")])

    def test_6_another_main_key_replaces_all_and_never_resumes(self):
        info, warnings = self.push("B", T, main_key="foreign")
        self.assertIn("HAProxy file replaced, 3 keys pushed to the running HAProxy", info)
        self.assertEqual(len(warnings), 1, warnings)
        self.assertTrue(warnings[0].startswith(f"warning: the running HAProxy ({self.hosts['B'].admin}, "),
                        warnings[0])
        self.assertIn("held none of this set's keys", warnings[0])
        self.assert_in_step("B")
        self.assert_resumption(True, [("A", "A"), ("B", "B")])
        self.assert_resumption(False, [("A", "B"), ("B", "A")])

    def check(self, now, expected):
        """--check as B via its socket: the exit code, then the ring's verdict (and that it leads the line)."""
        done = self.tofurkey("B", now, check=True)
        self.assertEqual(done.returncode, expected, done.stdout + done.stderr)
        self.assertEqual(done.stdout.count("\n"), 1, done.stdout)
        host, line = self.hosts["B"], done.stdout.strip()
        # File and TFO are right each time: the verdict is the ring's alone.
        tail = f"; HAProxy tickets {host.keys}: OK; running HAProxy ({host.admin}, {host.keys}): "
        self.assertIn(tail, line)
        head, _, ring = line.partition(tail)
        # The worst verdict leads the line, in place of the target's own OK.
        lead = ring.split(" ")[0]
        self.assertTrue(head.startswith(f"{lead}: the target holds the expected key pair"), line)
        return ring

    def test_7_check_reads_the_running_haproxy(self):
        # The file (and TFO) at T+I, but nothing pushed: the ring holds T's set.
        self.push("B", T + INTERVAL, sock=None)
        self.assertEqual(self.check(T + INTERVAL, 1),
                         "WARNING (the previous interval's keys: a rotation was missed)")
        self.push("B", T + INTERVAL)
        self.assertEqual(self.check(T + INTERVAL, 0), "OK")
        self.push("B", T + INTERVAL, main_key="foreign")
        self.push("B", T + INTERVAL, sock=None)  # the file right again, the ring foreign
        self.assertEqual(self.check(T + INTERVAL, 2), "CRITICAL (not the keys for now from this main key)")

    def test_8_bad_input_fails_and_changes_nothing(self):
        host = self.hosts["B"]
        plain = SCRATCH / "plain"
        plain.write_text("")
        garbage = tlslab.LineServer(SCRATCH / "garbage.sock", lambda line: "HTTP/1.1 400 Bad Request\r\n\r\n")
        self.addCleanup(garbage.close)
        # A socket in a directory any user may write: someone else's could be there.
        open_dir = SCRATCH / "open-dir"
        open_dir.mkdir()
        open_dir.chmod(0o777)
        planted = tlslab.LineServer(open_dir / "admin.sock", lambda line: "")
        self.addCleanup(planted.close)
        cases = [(plain, "is a regular file, not a socket"),
                 (garbage.path, "its answer is not HAProxy's runtime API"),
                 (planted.path, "its directory (mode 0777) can be written by other users")]
        before = host.keys.read_bytes(), host.ring()
        for sock, message in cases:
            with self.subTest(message):
                done = self.tofurkey("B", T + INTERVAL, sock=sock)  # a run that would change all
                self.assertEqual(done.returncode, 1, done.stderr)
                lines = done.stderr.splitlines()
                self.assertEqual(len(lines), 1, done.stderr)
                self.assertTrue(lines[0].startswith("error: ") and message in lines[0], lines[0])
                self.assertTrue((host.keys.read_bytes(), host.ring()) == before, "the file or ring changed")
                self.assert_in_step("B")
        self.assertEqual(garbage.verbs, ["show"])
        self.assertEqual(planted.verbs, [], "a socket in an open directory was spoken to")

    def test_8b_a_socket_of_another_user_gets_nothing(self):
        # Served by nobody from a directory anyone may write (sticky, as
        # /tmp): the socket is nobody's; then, chowned to root, its listener
        # still is. Neither is sent a command.
        host = self.hosts["B"]
        outside = tempfile.TemporaryDirectory(prefix="tofurkey-haproxy-shared-")
        self.addCleanup(outside.cleanup)
        os.chmod(outside.name, 0o711)            # nobody may pass, not list
        shared = Path(outside.name) / "sticky"
        shared.mkdir()
        shared.chmod(0o1777)
        path = shared / "admin.sock"
        server = subprocess.Popen(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
             "import socket, sys\n"
             "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen()\n"
             "while True:\n"
             "    c, _ = s.accept(); c.settimeout(5)\n"
             "    if c.recv(4096): print('sent a command', flush=True)\n"
             "    c.close()\n", str(path)],
            stdout=subprocess.PIPE, text=True)
        self.addCleanup(server.kill)
        tlslab.wait_until(path.exists, "nobody's socket")
        before = host.keys.read_bytes(), host.ring()
        for owner, refused in (("nobody's", "is owned by uid 65534, neither root nor this user"),
                               ("root's", "is served by uid 65534, neither root nor this user")):
            if owner == "root's":
                os.chown(path, 0, 0)
            with self.subTest(owner):
                done = self.tofurkey("B", T + INTERVAL, sock=path)
                self.assertEqual(done.returncode, 1, done.stderr)
                self.assertIn(refused, done.stderr)
                self.assertTrue((host.keys.read_bytes(), host.ring()) == before, "the file or ring changed")
        server.kill()
        # It may see a connection (the listener is known only then), never a byte.
        self.assertNotIn("sent a command", server.communicate(timeout=tlslab.TIMEOUT)[0])
        # Root's listener on a socket given to nobody (who could have put it
        # there): not even connected to.
        given = tlslab.LineServer(shared / "given.sock", lambda line: "")
        self.addCleanup(given.close)
        os.chown(given.path, 65534, 65534)
        done = self.tofurkey("B", T + INTERVAL, sock=given.path)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("is owned by uid 65534, neither root nor this user", done.stderr)
        self.assertEqual(given.verbs, [])

    def test_8c_a_haproxy_that_does_not_answer_fails_only_its_push(self):
        # Silent past the read's 5 s and the push's 10 s (a HAProxy busy
        # reloading): the file is written all the same, the run exits 1.
        host = self.hosts["B"]
        silent = tlslab.LineServer(SCRATCH / "silent.sock", lambda line: time.sleep(11) or "")
        silent.handle_error = lambda *_: None     # its late answers find tofurkey gone
        self.addCleanup(silent.close)
        before = host.keys.read_bytes()
        # The read before the key (5 s, then the push tries anyway), the push (10 s).
        done = self.tofurkey("B", T + INTERVAL, sock=silent.path, timeout=25)
        self.assertEqual(done.returncode, 1, done.stderr)
        self.assertIn("the push was not done within its 10 s deadline", done.stderr)
        self.assertFalse(host.keys.read_bytes() == before, "the file was not written")

    def test_9_a_file_haproxy_does_not_load_is_written_and_the_push_fails(self):
        # A configuration that does not name the file yet: the file is
        # written (for the fix to find), HAProxy's own ring is untouched.
        host = self.hosts["B"]
        unknown = host.keys.with_name("unknown.keys")
        before = host.keys.read_bytes(), host.ring()
        done = self.tofurkey("B", T + INTERVAL, keys=unknown)
        self.assertEqual(done.returncode, 1, done.stderr)
        lines = done.stderr.splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        self.assertIn("no tls-ticket-keys in its configuration names the file", lines[0])
        self.assertTrue((host.keys.read_bytes(), host.ring()) == before, "the file or ring changed")
        self.assertEqual(len(unknown.read_bytes().splitlines()), 3, "the file was not written")
        self.assert_in_step("B")

    def test_9b_haproxy_not_running_gets_its_file(self):
        # At boot tofurkey runs before HAProxy: no socket is no error, and
        # the file HAProxy will read is set.
        host = self.hosts["B"]
        before = host.keys.read_bytes()
        done = self.tofurkey("B", T + INTERVAL, sock=SCRATCH / "missing.sock")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("HAProxy file replaced, HAProxy not running: nothing pushed", done.stderr)
        self.assertFalse(host.keys.read_bytes() == before, "the file was not written")


def main():
    global SCRATCH
    SCRATCH = tlslab.isolate("tofurkey-haproxy-", tools=(HAPROXY,))  # the parent exits here
    # We are PID 1 of our namespace, which ignores SIGTERM unless handled:
    # make it the exception that runs the cleanups.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
