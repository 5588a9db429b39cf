"""A throw-away TLS lab: private namespaces, a certificate, a resuming client.

A test calls isolate() first: it runs the test again in new network, mount
and PID namespaces, so servers listen on a loopback no host service shares,
tmpfs mounts vanish with the test and, when the namespace's first process
ends however it ends, the kernel kills every server left in it. The parent
owns the scratch directory and removes it even if the child was killed.
"""

import os
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

TIMEOUT = 10  # seconds, for every command, socket and wait
SCRATCH = "TLSLAB_SCRATCH"  # set in the child only: the directory the parent made
REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def run(*argv):
    """Runs a command to completion; raises with its output if it fails."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()}")
    return done


def isolate(prefix, tools=(), timeout=600):
    """In the child: returns the scratch directory. In the parent: runs the
    child, removes the scratch directory and exits with the child's status.
    Fails (never skips) when it cannot: a test that did not run must not pass."""
    if os.environ.get(SCRATCH):
        run("ip", "link", "set", "lo", "up")
        return Path(os.environ[SCRATCH])
    if os.geteuid() != 0:
        sys.exit(f"error: {sys.argv[0]} needs root (namespaces, tmpfs mounts)")
    missing = [tool for tool in ("unshare", "ip", "mount", "openssl", *tools) if not shutil.which(tool)]
    if missing:
        sys.exit(f"error: {sys.argv[0]} needs {', '.join(missing)}")
    scratch = tempfile.mkdtemp(prefix=prefix)
    argv = ["unshare", "--net", "--mount", "--propagation", "private", "--pid", "--mount-proc",
            "--kill-child", sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]]
    # A polite kill becomes the exception on which run() kills unshare, whose
    # --kill-child then takes the whole PID namespace down with it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        code = subprocess.run(argv, env=dict(os.environ, **{SCRATCH: scratch}), timeout=timeout).returncode
    except subprocess.TimeoutExpired:  # run() has killed unshare, and so the namespace
        code = f"error: {sys.argv[0]} ran longer than {timeout} s"
    except KeyboardInterrupt:
        code = f"error: {sys.argv[0]} interrupted"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(code)


def mount_tmpfs(path):
    """A private tmpfs (mode 0700) at `path`, for secrets that must not reach a disk."""
    path.mkdir(mode=0o700)
    run("mount", "-t", "tmpfs", "-o", "mode=0700,size=4m", "tlslab", path)
    return path


def make_cert(directory):
    """A throw-away self-signed certificate; every server of a cluster must use the same one."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
        "-days", "2", "-subj", "/CN=localhost")
    return cert, key


def wait_until(predicate, what, timeout=TIMEOUT):
    """Polls `predicate` until it is true; raises after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(0.02)


# Both TLS versions a resumption is proven with.
VERSIONS = (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)


class Resumption:
    """Resumption checks for a test case with `clients` (a Client per
    version) and `hosts` (servers with a `port` and a `name` they answer)."""

    def resumes(self, issuer, checker, version):
        """Takes a fresh ticket from the issuer; does the checker resume its session?"""
        client, issuer, checker = self.clients[version], self.hosts[issuer], self.hosts[checker]
        first = client.get(issuer.port)
        self.assertTrue(first.body.endswith(f"\r\n\r\n{issuer.name}\n".encode()), first.body)
        # Without this, a True below would mean nothing.
        self.assertFalse(first.reused, f"a fresh connection to {issuer.name} claims to resume")
        self.assertTrue(first.session is not None and first.session.has_ticket, f"no ticket from {issuer.name}")
        second = client.get(checker.port, session=first.session)
        self.assertTrue(second.body.endswith(f"\r\n\r\n{checker.name}\n".encode()), second.body)
        return second.reused

    def assert_resumption(self, expected, pairs):
        for version in VERSIONS:
            for issuer, checker in pairs:
                with self.subTest(version=version.name, issuer=issuer, checker=checker):
                    self.assertEqual(self.resumes(issuer, checker, version), expected,
                                     f"{version.name}: ticket from {issuer} offered to {checker}")


class Reply(NamedTuple):
    body: bytes
    session: ssl.SSLSession
    reused: bool


class Client:
    """An HTTPS client pinned to one TLS version. Sessions it got can be offered
    again to any server: one context, since OpenSSL ties a session to it."""

    def __init__(self, version):
        self.version = version
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE
        self.context.minimum_version = self.context.maximum_version = version

    def get(self, port, session=None, host="127.0.0.1"):
        """One request; reads to EOF, so TLS 1.3 tickets have arrived when it returns."""
        with socket.create_connection((host, port), timeout=TIMEOUT) as raw, \
                self.context.wrap_socket(raw, session=session) as tls:
            tls.sendall(REQUEST)
            chunks = []
            while chunk := tls.recv(4096):
                chunks.append(chunk)
            if tls.version() != self.version.name.replace("_", "."):
                raise AssertionError(f"negotiated {tls.version()}, not {self.version.name}")
            return Reply(b"".join(chunks), tls.session, tls.session_reused)


def ask(path, command):
    """One command to a unix stream socket; reads the answer to EOF."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(TIMEOUT)
        s.connect(str(path))
        s.sendall(command.encode())
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
        return b"".join(chunks).decode()


class LineServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A unix stream server on `path`, serving in a thread: each connection's one
    line gets `answer(line)`; only each line's first word is kept, in `verbs`."""
    daemon_threads = True

    def __init__(self, path, answer):
        self.path, self.verbs = path, []
        verbs = self.verbs

        class Handler(socketserver.StreamRequestHandler):
            timeout = TIMEOUT

            def handle(self):
                line = self.rfile.readline().decode()
                verbs.append(line.split(" ", 1)[0])
                self.wfile.write(answer(line).encode())
        super().__init__(str(path), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self):
        self.shutdown()
        self.server_close()
        self.path.unlink()
