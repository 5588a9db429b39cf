#!/usr/bin/env python3
"""Proves against the real kernel that tofurkey's keys make a TFO cluster.

Two hosts, A and B, share a main key and set their keys with tofurkey at
their own (faked) clocks. A client takes a cookie from A and sends data in
its SYN to B; B's TcpExt counters tell whether B accepted the cookie and with
which key. Every expected verdict is computed from the schedule (README, "How it works").

    TOFURKEY_BIN=/abs/path/to/tofurkey python3 tests/kernel/test_tfo_cluster.py

Needs root (namespaces, procfs keys); fails without it (a test that did not
run must not pass). Never prints
key material: failures show counters and times only.
"""

import hashlib
import os
import re
import signal
import struct
import subprocess
import tempfile
import unittest
from pathlib import Path
from typing import NamedTuple

import netlab

PROCFS_KEY = "/proc/sys/net/ipv4/tcp_fastopen_key"
INTERVAL = 10  # the smallest allowed, so the numbers stay readable
HALF = INTERVAL // 2
EPOCH = 1_700_000_000  # a multiple of INTERVAL: a rotation happens here
NAME_PREFIX = f"tofurkey-test-{os.getpid()}"
KEYS_LOGGED = re.compile(r"^info: Generated ASCII TFO keys for procfs write: \[(\d+)\] (\S+)$", re.M)
TFO_KEY = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{8}){3}")


# --- The schedule (README, "How it works"), the source of every expected verdict ---

def live_counters(now):
    """(primary, backup) key counters at unix time `now`."""
    primary = now // INTERVAL
    in_second_half = now - primary * INTERVAL >= HALF
    return primary, primary + 1 if in_second_half else primary - 1


class Clock(NamedTuple):
    """What a host computes its keys from: which main key, at what time."""
    host: str
    main_key: str
    now: int

    def key_for(self, counter):
        """What this host derives counter's key from: (main key, counter)."""
        return self.main_key, counter

    def tofurkey_args(self, main_keys):
        """The options that give tofurkey this host's main key (files by name)."""
        return ["-k", str(main_keys[self.main_key])]


def predicted_match(issuer, checker):
    """Which of the checker's keys matches a cookie from the issuer's primary key.

    A clock is anything with `now` and `key_for` (test_tfo_rollover.py's
    clocks hold two main keys)."""
    cookie_key = issuer.key_for(live_counters(issuer.now)[0])
    primary, backup = live_counters(checker.now)
    if cookie_key == checker.key_for(primary):
        return "primary"
    if cookie_key == checker.key_for(backup):
        return "backup"
    return "neither"


# What the kernel shows for each match: data in the SYN is accepted with either
# key, the backup is counted apart, a mismatch falls back to the handshake.
EXPECTED_COUNTERS = {
    "primary": dict(TCPFastOpenPassive=1, TCPFastOpenPassiveAltKey=0, TCPFastOpenPassiveFail=0),
    "backup": dict(TCPFastOpenPassive=1, TCPFastOpenPassiveAltKey=1, TCPFastOpenPassiveFail=0),
    "neither": dict(TCPFastOpenPassive=0, TCPFastOpenPassiveAltKey=0, TCPFastOpenPassiveFail=1),
}


def reference_keys(main_key, now):
    """The 1.3.4 KDF (README, "How it works"), only to cross-check what tofurkey logged (never to set keys)."""
    def derive(counter):
        digest = hashlib.blake2b(digest_size=16, key=main_key, person=b"tofurkey" + bytes(8),
                                 salt=struct.pack("<QQ", counter, 0)).hexdigest()
        return "-".join(digest[i:i + 8] for i in range(0, 32, 8))
    return ",".join(map(derive, live_counters(now)))


# --- The cases ---

def tolerated_skew(issued_at, direction):
    """How far B's clock may run ahead (+1) or behind (-1) of A's and still
    accept a cookie A issued at `issued_at`, found by walking the schedule."""
    skew = 0
    while predicted_match(Clock("A", "shared", issued_at),
                          Clock("B", "shared", issued_at + direction * (skew + 1))) != "neither":
        skew += 1
        assert skew < 2 * INTERVAL, "the schedule accepts a cookie for at most 1.5 intervals"
    return skew


def skew_cases():
    """(description, A's time, B's time) with the shared main key."""
    yield "equal clocks", EPOCH + 2, EPOCH + 2
    yield "B 4 s ahead, across a rotation", EPOCH + 8, EPOCH + 12
    yield "B 4 s behind, across a rotation", EPOCH + 12, EPOCH + 8
    # The tolerance is narrowest for a cookie issued at an edge of its interval:
    # the last second when B runs ahead, the first second when B runs behind.
    for issued_at, direction, word in ((EPOCH + INTERVAL - 1, +1, "ahead"), (EPOCH, -1, "behind")):
        edge = tolerated_skew(issued_at, direction)
        for skew, limit in ((edge, "just within"), (edge + 1, "just beyond")):
            yield (f"B {skew} s {word}, {limit} the tolerance",
                   issued_at, issued_at + direction * skew)


def rotation_cases():
    """(description, issue time, check time) on one host: every half-interval
    step after the cookie was issued, up to the first step that rejects it."""
    for phase, where in ((0, "first"), (INTERVAL - 1, "last")):
        issued_at = EPOCH + phase
        for step in range(4):  # a cookie lives 1.5 intervals at most: 3 steps
            checked_at = issued_at + step * HALF
            yield f"issued in the {where} second, checked {step} half-intervals later", issued_at, checked_at
            if predicted_match(Clock("A", "shared", issued_at), Clock("A", "shared", checked_at)) == "neither":
                break


def redact(text):
    """Text with every TFO key blanked out, fit for a failure message."""
    return TFO_KEY.sub("<key>", text)


class KernelLab:
    """For a TestCase: hosts A and B in namespaces named after NAME_PREFIX,
    a random key file for each name in MAIN_KEYS, and a cookie from one
    host checked by the other, each host's keys set by tofurkey at its clock."""

    NAME_PREFIX = NAME_PREFIX
    MAIN_KEYS = ("shared", "foreign")

    @classmethod
    def setUpClass(cls):
        # A misconfigured run must not pass as skipped, so this comes first.
        binary = os.environ.get("TOFURKEY_BIN")
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError(f"TOFURKEY_BIN must name the tofurkey binary to test (got {binary!r})")
        cls.binary = binary
        if os.geteuid() != 0:
            raise RuntimeError("needs root: creates network namespaces and writes their TFO keys")
        keydir = tempfile.TemporaryDirectory()
        cls.addClassCleanup(keydir.cleanup)
        cls.main_keys = {}  # name -> key file; the key itself is never printed
        for name in cls.MAIN_KEYS:
            path = Path(keydir.name, name)
            path.touch(mode=0o600)
            path.write_bytes(os.urandom(32))
            cls.main_keys[name] = path
        cls.lab = netlab.Lab(cls.NAME_PREFIX, hosts=("A", "B"))  # fails loudly if it cannot
        cls.addClassCleanup(cls.lab.close)

    def set_keys(self, clock):
        """Runs tofurkey in the clock's host to write its keys to the kernel;
        returns the key pair it logged."""
        argv = ["ip", "netns", "exec", self.lab.hosts[clock.host].name, self.binary,
                *clock.tofurkey_args(self.main_keys), "-i", str(INTERVAL),
                "-T", str(clock.now), "-V", "-P", PROCFS_KEY]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=netlab.TIMEOUT)
        logged = KEYS_LOGGED.search(done.stderr)
        self.assertTrue(done.returncode == 0 and logged,
                        f"tofurkey failed for {clock}: exit {done.returncode}, stderr:\n{redact(done.stderr)}")
        self.assertEqual(int(logged[1]), clock.now, "tofurkey logged another time than -T")
        return logged[2]

    def present_cookie(self, issuer, checker):
        """Takes a fresh cookie from the issuer, sends data in the SYN to the
        checker; returns what the checker's kernel did (counters, SYN data)."""
        self.set_keys(issuer)
        self.lab.forget_cookies()
        report, counters = self.lab.connect(issuer.host)
        # The issuer was asked for a cookie: proves the cache was empty.
        self.assertEqual(counters["TCPFastOpenCookieReqd"], 1, f"no cookie request to {issuer}")
        self.assertTrue(report["echoed"])
        self.set_keys(checker)
        report, counters = self.lab.connect(checker.host)
        self.assertTrue(report["echoed"], "the data did not come back")
        del counters["TCPFastOpenCookieReqd"]
        return dict(counters, syn_data_acked=report["syn_data_acked"])

    def assert_verdict(self, issuer, checker):
        match = predicted_match(issuer, checker)
        expected = dict(EXPECTED_COUNTERS[match], syn_data_acked=match != "neither")
        self.assertEqual(self.present_cookie(issuer, checker), expected,
                         f"cookie from {issuer} checked by {checker}: the schedule says {match}")


class TfoClusterTest(KernelLab, unittest.TestCase):

    def test_kernel_holds_the_logged_keys(self):
        for host, now in (("A", EPOCH + 2), ("B", EPOCH + 7)):
            with self.subTest(host=host, now=now):
                logged = self.set_keys(Clock(host, "shared", now))
                in_kernel = self.lab.hosts[host].read(PROCFS_KEY).strip()
                # Compared without assertEqual, which would print the keys.
                self.assertTrue(in_kernel == logged, "the kernel holds another pair than tofurkey logged")
                expected = reference_keys(self.main_keys["shared"].read_bytes(), now)
                self.assertTrue(logged == expected, "tofurkey's pair differs from the 1.3.4 KDF")

    def test_cookie_from_A_accepted_by_B_despite_clock_skew(self):
        for description, a_now, b_now in skew_cases():
            with self.subTest(description, A=a_now, B=b_now):
                self.assert_verdict(Clock("A", "shared", a_now), Clock("B", "shared", b_now))

    def test_cookie_lives_through_one_rotation_on_one_host(self):
        for description, issued_at, checked_at in rotation_cases():
            with self.subTest(description, issued=issued_at, checked=checked_at):
                self.assert_verdict(Clock("A", "shared", issued_at), Clock("A", "shared", checked_at))

    def test_cookie_from_another_main_key_rejected(self):
        self.assert_verdict(Clock("A", "foreign", EPOCH + 2), Clock("B", "shared", EPOCH + 2))

    def test_cases_cover_every_verdict(self):
        """Guards the case tables: they must show acceptance with each key and rejection."""
        for cases in (skew_cases(), rotation_cases()):
            matches = {predicted_match(Clock("A", "shared", issued), Clock("B", "shared", checked))
                       for _, issued, checked in cases}
            self.assertEqual(matches, set(EXPECTED_COUNTERS))


def main(prefix=NAME_PREFIX):
    """Runs the tests of the __main__ module; then removes every namespace
    named after `prefix`."""
    # Turn a polite kill into the exception that unittest lets through, so the
    # namespaces are still removed below.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        unittest.main(verbosity=2)
    finally:
        if os.geteuid() == 0:
            # Catches what the cleanups could not reach, e.g. after a SIGTERM.
            netlab.remove_namespaces(prefix)


if __name__ == "__main__":
    main()
