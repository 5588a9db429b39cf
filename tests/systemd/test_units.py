#!/usr/bin/env python3
"""tofurkey.timer, tofurkey.service and the journal catalog under a real systemd.

Boots a Debian container (see container.py), installs tofurkey into it with
'make install', and checks the keys the units write in the container's own
network namespace. Needs root and the Debian packages systemd-container and
debootstrap; run from the repository root:

    sudo python3 tests/systemd/test_units.py

TOFURKEY_BIN, if set, replaces the installed binary (the one under test).
"""

import base64
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

from container import Container, SetupError, require_host

UNIT = "tofurkey.service"
TIMER = "tofurkey.timer"
TFO_KEY = "/proc/sys/net/ipv4/tcp_fastopen_key"
AUTOKEY = "/run/tofurkey.autokey"
CREDSTORE = "/etc/credstore/tofurkey.key"
CREDSTORE_ENCRYPTED = "/etc/credstore.encrypted/tofurkey.key"
SERVICE_DROPIN_DIR = "/etc/systemd/system/tofurkey.service.d"
UNIT_STARTING = "7d4958e842da4a758f6c1cdc7b36dcc5"  # systemd's "Starting UNIT"
SETTINGS = "/etc/default/tofurkey"


def _journal_vocabulary():
    """tofurkey's MESSAGE_IDs by event (snake_case) and its journal fields,
    read from src/report/vocabulary.rs, where each is defined once."""
    report = open(os.path.join(os.path.dirname(__file__), "..", "..", "src", "report",
                               "vocabulary.rs")).read()
    ids = {re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower(): msg_id
           for name, msg_id in re.findall(r'Event::(\w+) => "([0-9a-f]{32})"', report)}
    fields = tuple(re.findall(r'pub const \w+: &str = "(TOFURKEY_\w+)"', report))
    if len(ids) < 6 or len(fields) < 10:
        raise SetupError("cannot read the journal vocabulary from src/report/vocabulary.rs")
    return ids, fields


MSG, ALL_FIELDS = _journal_vocabulary()
# A key-setting run's entry carries every field but --check's and, without
# ticket outputs, the tickets', without a rollover, the rollover's, and
# without --tipc, TIPC's.
TICKET_FIELDS = tuple(f for f in ALL_FIELDS if f.startswith("TOFURKEY_TICKET"))
# Only with a rollover configured (--next-key): the next key's id and T.
ROLLOVER_FIELDS = ("TOFURKEY_NEXT_KEY_ID", "TOFURKEY_ROLLOVER_AT")
# Only with --tipc, which this container's kernel (the host's) cannot do.
TIPC_FIELDS = ("TOFURKEY_TIPC_KEY_ID",)
FIELDS = tuple(f for f in ALL_FIELDS if f != "TOFURKEY_CHECK_EXIT" and f not in TICKET_FIELDS
               and f not in ROLLOVER_FIELDS and f not in TIPC_FIELDS)
KEYS_LINE = re.compile(r"^info: Generated ASCII TFO keys for procfs write: \[(\d+)\] (\S+)$", re.M)

box = None          # the container
stage = None        # DESTDIR of 'make install', seen inside at /run/host-x
host_key = None     # the host's own key before the test: must not change
secrets = set()     # every main key and TFO key seen: must not reach the journal


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def read_host_key():
    with open(TFO_KEY) as f:   # read only: the host's keys are not ours
        return f.read()


def setUpModule():
    global box, stage, host_key
    if not os.path.exists("systemd/tofurkey.service"):
        raise SetupError("run from the repository root")
    require_host()
    host_key = read_host_key()
    try:
        stage = tempfile.mkdtemp(prefix="tofurkey-stage-")
        r = subprocess.run(["make", "install", "DESTDIR=" + stage, "prefix=/usr"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SetupError("make install failed:\n" + r.stdout + r.stderr)
        if os.environ.get("TOFURKEY_BIN"):
            shutil.copy(os.environ["TOFURKEY_BIN"], os.path.join(stage, "usr/sbin/tofurkey"))
        box = Container(stage, log=log)
        start = time.monotonic()
        box.start()
        log("container up in %.1f s" % (time.monotonic() - start))
        # Unpack the staged tree over the container's (merged /usr: keep /lib
        # etc. as the symlinks they are).
        box.sh("tar -C /run/host-x -c . | tar -C / -x --keep-directory-symlink --no-same-owner")
        box.run("systemctl", "daemon-reload")
        box.run("journalctl", "--update-catalog")
    except BaseException:
        cleanup()   # unittest skips tearDownModule when setUpModule fails
        raise


def tearDownModule():
    errors = cleanup()
    if errors:
        raise AssertionError("cleanup: " + "; ".join(errors))


def cleanup():
    """Stops the container and removes the stage; safe to call twice.
    Returns what could not be undone."""
    global box, stage
    errors = box.stop() if box else []
    box = None
    if stage:
        shutil.rmtree(stage, ignore_errors=True)
        stage = None
    if host_key is not None and read_host_key() != host_key:
        errors.append("the host's tcp_fastopen_key changed")
    return errors


# -- helpers ---------------------------------------------------------------

def host_clock_unsynchronized():
    """adjtimex(2) with no modes (read only) returns TIME_ERROR (5), which
    the kernel also returns whenever STA_UNSYNC is set."""
    import ctypes
    buf = ctypes.create_string_buffer(512)        # larger than struct timex, zeroed: modes 0
    return ctypes.CDLL(None).adjtimex(buf) == 5


def container_key():
    key = box.read(TFO_KEY).strip()
    secrets.add(key)
    return key


def expected_keys(key_file, when, interval=86400):
    """What tofurkey computes at unix time `when` from key_file (inside).
    Cached: tests change key files only after reset(), which clears it."""
    args = (key_file, int(when), interval)
    if args not in _expected:
        r = box.run("tofurkey", "-n", "-V", "-k", key_file, "-i", str(interval), "-T", str(int(when)))
        m = KEYS_LINE.search(r.stderr)
        assert m, "no keys line from tofurkey -V:\n" + r.stderr
        secrets.add(m.group(2))
        _expected[args] = m.group(2)
    return _expected[args]


_expected = {}


def assert_keys_from(test, key_file, t0, t1, interval=86400):
    """The container's key is what key_file gives for some moment in [t0, t1]
    (both ends are computed: a key change may fall in between)."""
    key = container_key()
    want = {expected_keys(key_file, t, interval) for t in (t0, t1)}
    test.assertIn(key, want, "keys in place do not derive from " + key_file)
    return key


def unit_props(*names, unit=UNIT, within=None):
    out = (within or box).run("systemctl", "show", unit, *("-p" + n for n in names)).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def last_exit():
    return int(unit_props("ExecMainExitTimestampMonotonic")["ExecMainExitTimestampMonotonic"])


def wait_for_run(since_exit, timeout=20, within=None):
    """Waits for a run of the service that ended after since_exit; its props."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = unit_props("ExecMainExitTimestampMonotonic", "ActiveState", "Result", "InvocationID",
                       within=within)
        if int(p["ExecMainExitTimestampMonotonic"]) != since_exit and \
                p["ActiveState"] in ("inactive", "failed"):
            return p
        time.sleep(0.05)
    raise AssertionError("%s did not run within %d s" % (UNIT, timeout))


def start_unit():
    """Runs the service once; (exit status of systemctl start, props, t0, t1)."""
    t0 = time.time()
    r = box.run("systemctl", "start", UNIT, check=False)
    t1 = time.time()
    p = unit_props("Result", "InvocationID", "ExecMainStatus", "ExecMainPID")
    return r.returncode, p, t0, t1


def restart_timer():
    """Restarts the timer and waits for the run it starts (OnActiveSec=),
    so that it cannot swallow a later 'systemctl start'."""
    before = last_exit()
    box.run("systemctl", "restart", TIMER)
    wait_for_run(before)


def journal(*args):
    """Entries of `journalctl -o json ARGS` as dicts, once journald has
    written all it has received (--sync)."""
    box.run("journalctl", "--sync")
    out = box.run("journalctl", "-o", "json", "--no-pager", *args).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def unit_entries(*args, unit=UNIT):
    """tofurkey's entries from the runs of `unit` (journalctl ARGS narrow
    them). Not `journalctl -u`: journald reads a sender's unit from /proc,
    and a run that has exited before its datagram is read is left without
    one; such an entry still carries tofurkey's identifier and its _PID."""
    return [e for e in journal("SYSLOG_IDENTIFIER=tofurkey", *args)
            if e.get("_SYSTEMD_UNIT", unit) == unit]


def wait_for_entry(message_id, *args, unit=UNIT, timeout=30):
    """unit_entries(ARGS), once one with message_id has arrived. The
    deadline only bounds a wait that normally ends at once."""
    deadline = time.monotonic() + timeout
    while True:
        found = unit_entries(*args, unit=unit)
        if any(e.get("MESSAGE_ID") == message_id for e in found):
            return found
        assert time.monotonic() < deadline, "no %s entry %s from %s in %d s: %s" % (
            message_id, args, unit, timeout, found)
        time.sleep(0.1)


def run_entries(p, message_id):
    """The entries of the run whose properties are p (start_unit's), once
    one with message_id has arrived: by the run's _PID (see unit_entries)."""
    return wait_for_entry(message_id, "_PID=" + p["ExecMainPID"])


def remember_main_key(path):
    secrets.add(box.read(path, binary=True)[:32])


def reset(remove_autokey=False):
    """Back to the packaged units: no drop-ins, no credstore, timer stopped
    (systemd 252 fires OnActiveSec= again at each daemon-reload, and such a
    run would swallow a test's own 'systemctl start')."""
    box.run("systemctl", "stop", TIMER)
    box.sh('rm -rf "$1" /etc/systemd/system/tofurkey.timer.d /etc/credstore /etc/credstore.encrypted',
           SERVICE_DROPIN_DIR)
    box.run("cp", "/run/host-x" + SETTINGS, SETTINGS)    # as the package ships it
    if remove_autokey:
        box.run("rm", "-f", AUTOKEY)
    _expected.clear()
    box.run("systemctl", "daemon-reload")
    box.run("systemctl", "reset-failed", UNIT, check=False)


# The watch loops of the rotation tests run their usual span, then longer,
# up to this many seconds, until they have seen the rotations they count: a
# loaded machine makes each sample slower, not the keys wrong.
ROTATIONS_DEADLINE = 60


def next_elapse(half):
    """The timer's next elapse after now: next multiple of half, + 2 s."""
    return ((int(time.time()) - 2) // half + 1) * half + 2


class Units(unittest.TestCase):
    # Methods run in name order and share one container.

    def test_a_enable_sets_autokey_keys(self):
        reset(remove_autokey=True)
        before = last_exit()
        t0 = time.time()
        box.run("systemctl", "enable", "--now", TIMER)
        p = wait_for_run(before)
        t1 = time.time()
        self.assertEqual(p["Result"], "success")
        remember_main_key(AUTOKEY)
        autokey = box.read(AUTOKEY, binary=True)
        first = assert_keys_from(self, AUTOKEY, t0, t1)
        self.assertNotEqual(first, "00000000-00000000-00000000-00000000")
        # Later runs in the same boot reuse the autokey: same keys every tick.
        code, p, t0, t1 = start_unit()
        self.assertEqual((code, p["Result"]), (0, "success"))
        self.assertEqual(box.read(AUTOKEY, binary=True), autokey, "autokey changed between runs")
        assert_keys_from(self, AUTOKEY, t0, t1)
        self.assertEqual(read_host_key(), host_key, "the host's key changed")

    def test_b_next_elapse_is_next_half_interval_plus_2s(self):
        restart_timer()
        want = {next_elapse(43200)}
        timers = json.loads(box.run("systemctl", "list-timers", "--all", "--output=json").stdout)
        want.add(next_elapse(43200))  # in case a tick passed while listing
        (ours,) = [t for t in timers if t["unit"] == TIMER]
        self.assertIn(ours["next"], {w * 10**6 for w in want})
        p = unit_props("AccuracyUSec", "Persistent", "OnClockChange", unit=TIMER)
        self.assertEqual((p["Persistent"], p["OnClockChange"]), ("yes", "yes"))
        m = re.fullmatch(r"(\d+)(us|ms|s)", p["AccuracyUSec"])
        self.assertTrue(m, p["AccuracyUSec"])
        usec = int(m.group(1)) * {"us": 1, "ms": 10**3, "s": 10**6}[m.group(2)]
        self.assertLessEqual(usec, 10**6, "AccuracySec= may make a tick over 1 s late")

    def test_c_interval_10_from_the_settings_file(self):
        # The README's commands: one line of the settings file, the timer
        # following it (the generator), the check OK with no options.
        reset()
        line = short_interval()
        self.assertRegex(line, r"^OK: .*interval 10,.*settings /etc/default/tofurkey\)$")
        since = time.time()
        restart_timer()
        samples = []                  # (unix time, keys in place, time read)
        # 57 s: 11 ticks, of which the first may keep the keys that the
        # restart's own run wrote, so at least 10 boundaries to time; longer,
        # up to a minute and a half, until 5 pairs are seen (a loaded
        # machine may make slow samples).
        while time.time() < since + 57 or (
                len({k for _, k, _ in samples}) < 5 and
                time.time() < since + 30 + ROTATIONS_DEADLINE):
            t = time.time()
            samples.append((t, container_key(), time.time()))
            time.sleep(0.1)
        starts = sorted(int(e["__REALTIME_TIMESTAMP"]) / 1e6
                        for e in journal("UNIT=" + UNIT, "MESSAGE_ID=" + UNIT_STARTING,
                                         "--since=@%d" % int(since)))
        starts = [s for s in starts if s >= since]
        ticks = [s for s in starts if (s - 2) % 5 < 1.0]
        # Every boundary + 2 s of the watched window got a run, at most 1 s late.
        end = samples[-1][0]
        marks = [m for m in range(int(since), int(end)) if m % 5 == 2 and since + 1 < m < end - 1]
        for mark in marks:
            self.assertTrue(any(mark <= s < mark + 1 for s in ticks),
                            "no run at %d; runs at %s" % (mark, starts))
        # Other than at ticks, only the restart itself started the service.
        for s in starts:
            self.assertTrue(s in ticks or s < since + 1, "run at %.3f off the schedule" % s)
        # Each run wrote the keys for its moment. A sample read while a run
        # was under way (started, its entry not yet logged) may show either
        # pair: left out.
        done = [int(e["__REALTIME_TIMESTAMP"]) / 1e6 for e in unit_entries("--since=@%d" % int(since))
                if e.get("MESSAGE_ID") == MSG["keys_set"]]
        # Rotation latency under the real timer: from each boundary to its
        # keys set (the entry's own time, as tofurkey sent it). The design:
        # 2 s after the boundary, AccuracySec=100ms, a run of milliseconds;
        # the bound is what matters, set before the next boundary.
        sent = [int(e.get("_SOURCE_REALTIME_TIMESTAMP", e["__REALTIME_TIMESTAMP"])) / 1e6
                for e in unit_entries("--since=@%d" % int(since))
                if e.get("MESSAGE_ID") == MSG["keys_set"] and
                int(e["__REALTIME_TIMESTAMP"]) / 1e6 > since + 1]
        delays = sorted(d % 5 for d in sent)
        self.assertGreaterEqual(len(delays), 10, "fewer than 10 boundaries timed: %s" % sent)
        log("rotation latency over %d boundaries: min %.3f s, median %.3f s, max %.3f s "
            "(design: 2 s, AccuracySec=100ms)" % (len(delays), delays[0],
                                                   delays[len(delays) // 2], delays[-1]))
        for d in delays:
            self.assertTrue(2.0 <= d < 4.5, "keys set %.3f s after a boundary" % d)
        seen = []
        for t, key, read in samples:
            runs = [s for s in starts if s <= t]
            if not runs or not any(runs[-1] <= d <= t for d in done) or \
                    any(t < s <= read for s in starts):
                continue          # a run may be under way
            # The run read the clock just after its start, maybe a second on.
            want = {expected_keys(AUTOKEY, runs[-1] + d, 10) for d in (0, 1)}
            self.assertIn(key, want, "at %.3f" % t)
            if not seen or seen[-1] != key:
                seen.append(key)
        self.assertGreaterEqual(len(seen) - 1, 3, "fewer than 3 rotations observed")
        reset()

    def cluster_key(self, path):
        """Runs the unit and checks it used the main key whose plaintext is at path."""
        code, p, t0, t1 = start_unit()
        self.assertEqual((code, p["Result"]), (0, "success"))
        sources = {e.get("TOFURKEY_KEY_SOURCE") for e in run_entries(p, MSG["keys_set"])
                   if e.get("MESSAGE_ID") == MSG["keys_set"]}
        self.assertEqual(sources, {"credential tofurkey.key"})
        keys = assert_keys_from(self, path, t0, t1)
        self.assertNotIn(keys, {expected_keys(AUTOKEY, t) for t in (t0, t1)})

    def manual_check(self):
        """`tofurkey --check` as an admin types it: no options."""
        r = box.run("tofurkey", "--check", check=False)
        return r.returncode, r.stdout.strip()

    def test_d_credstore_plain_and_encrypted(self):
        reset()
        box.write(CREDSTORE, os.urandom(32))
        remember_main_key(CREDSTORE)
        self.cluster_key(CREDSTORE)
        # By hand, with no options, the check judges the service's key, not
        # the autokey an earlier run left in /run (which would be CRITICAL).
        self.assertTrue(box.run("test", "-e", AUTOKEY, check=False).returncode == 0)
        code, line = self.manual_check()
        self.assertEqual(code, 0, line)
        self.assertTrue(line.endswith(", key file %s)" % CREDSTORE), line)

        reset()
        box.write("/root/main.key", os.urandom(32))
        remember_main_key("/root/main.key")
        box.run("mkdir", "-p", os.path.dirname(CREDSTORE_ENCRYPTED))
        box.run("systemd-creds", "encrypt", "--name=tofurkey.key", "/root/main.key",
                CREDSTORE_ENCRYPTED)
        # No unit edit: tofurkey-generator sees the encrypted key at the
        # reload (or boot) and makes the unit load it encrypted.
        box.run("systemctl", "daemon-reload")
        self.cluster_key("/root/main.key")
        # By hand, the encrypted key cannot be read: UNKNOWN, and the fix
        # the line gives (the service's way) says OK.
        code, line = self.manual_check()
        self.assertEqual(code, 3, line)
        m = re.fullmatch(r"UNKNOWN: the service's main key %s is encrypted: only systemd can read "
                         r"it: run it the service's way: sudo (systemd-run .* tofurkey --check) "
                         r"\(or give -k PATH\)" % re.escape(CREDSTORE_ENCRYPTED), line)
        self.assertTrue(m, line)
        r = box.run(*shlex.split(m.group(1)), check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.startswith("OK: "), r.stdout)

        # Both stores hold a key: the encrypted one wins, nothing fails.
        box.write(CREDSTORE, os.urandom(32))
        remember_main_key(CREDSTORE)
        box.run("systemctl", "daemon-reload")
        self.cluster_key("/root/main.key")
        reset()

    def test_e_short_credential_fails_and_keeps_keys(self):
        reset()
        code, p, _, _ = start_unit()
        self.assertEqual(code, 0)
        before = container_key()
        box.write(CREDSTORE, os.urandom(31))
        remember_main_key(CREDSTORE)
        code, p, _, _ = start_unit()
        self.assertNotEqual(code, 0)
        self.assertEqual((p["Result"], p["ExecMainStatus"]), ("exit-code", "1"))
        self.assertEqual(container_key(), before, "a failed run changed the keys")
        why = [e for e in run_entries(p, MSG["failure"]) if int(e["PRIORITY"]) <= 3]
        self.assertTrue(why, "no error in the journal")
        self.assertEqual(why[0].get("MESSAGE_ID"), MSG["failure"])
        self.assertRegex(why[0]["MESSAGE"], r"tofurkey\.key.*\b31\b")
        # Named by the admin's file, not by systemd's copy of it; the fix
        # is the cluster's key.
        self.assertIn(CREDSTORE, why[0]["MESSAGE"])
        self.assertNotIn("/run/credentials", why[0]["MESSAGE"])
        self.assertIn("put the cluster's main key there", why[0]["MESSAGE"])
        reset()

    def test_f_journal_fields_catalog_no_secrets(self):
        code, p, _, _ = start_unit()
        self.assertEqual(code, 0)
        entries = unit_entries()
        by_id = {}
        for e in entries:
            by_id.setdefault(e.get("MESSAGE_ID"), []).append(e)
            for name, value in e.items():
                self.assertIsInstance(value, str, "binary journal field %s" % name)
        # The events the unit's runs make (dry runs and checks are not its).
        unit_events = ("keys_set", "autokey_created", "autokey_used", "failure")
        for name in unit_events:
            self.assertIn(MSG[name], by_id, "no %s entry" % name)
        # The clock's state as the kernel holds it (one state for every
        # namespace), read here independently of tofurkey.
        synced = "0" if host_clock_unsynchronized() else "1"
        for e in by_id[MSG["keys_set"]]:
            for f in FIELDS:
                self.assertIn(f, e)
            self.assertEqual(e["TOFURKEY_CLOCK_SYNCHRONIZED"], synced)
            now, interval = int(e["TOFURKEY_UNIX_TIME"]), int(e["TOFURKEY_INTERVAL"])
            primary = now // interval
            backup = primary + 1 if now % interval >= interval // 2 else primary - 1
            self.assertEqual((int(e["TOFURKEY_CTR_PRIMARY"]), int(e["TOFURKEY_CTR_BACKUP"])),
                             (primary, backup))
            self.assertEqual(int(e["TOFURKEY_NEXT_ROTATION"]), (now // (interval // 2) + 1) * (interval // 2))
            self.assertEqual(e["PRIORITY"], "6")
        # An unsynchronized clock: a warning entry of its own, keys set.
        warned = by_id.get(MSG["clock_unsynchronized"], [])
        self.assertEqual(bool(warned), synced == "0")
        for e in warned:
            self.assertEqual((e["PRIORITY"], e["TOFURKEY_CLOCK_SYNCHRONIZED"]), ("4", "0"))
        self.assertIn("autokey " + AUTOKEY, {e["TOFURKEY_KEY_SOURCE"] for e in by_id[MSG["keys_set"]]})
        # Every autokey run warns, at warning priority, made or reused.
        for name in ("autokey_created", "autokey_used"):
            self.assertEqual({e["PRIORITY"] for e in by_id[MSG[name]]}, {"4"}, name)

        # No key material anywhere in the journal, in any spelling.
        text = box.run("journalctl", "-o", "json", "--no-pager").stdout
        lower = text.lower()
        for s in secrets:
            if isinstance(s, bytes):     # a main key: hex any case, or base64
                needles = [(s.hex(), lower), (base64.b64encode(s).decode(), text)]
            else:                        # a key pair: each key, with or without dashes
                needles = [(form.lower(), lower) for one in s.split(",")
                           for form in (one, one.replace("-", ""))]
            for needle, haystack in needles:
                at = haystack.find(needle)
                self.assertEqual(at, -1, "key material in the journal: ..." +
                                 haystack[max(0, at - 300):at + 100])

        # journalctl -x explains each event with the catalog text.
        explained = box.run("journalctl", "-x", "-u", UNIT, "--no-pager").stdout
        with open("systemd/tofurkey.catalog") as f:
            subjects = dict(re.findall(r"^-- ([0-9a-f]{32})\nSubject: (.*)$", f.read(), re.M))
        for name in unit_events:
            self.assertIn("Subject: " + subjects[MSG[name]], explained)

    def test_g_status_line(self):
        code, p, _, _ = start_unit()
        self.assertEqual(code, 0)
        status = box.run("systemctl", "status", UNIT, check=False).stdout
        m = re.search(r'^\s*Status: "(.+)"$', status, re.M)
        self.assertTrue(m, "no Status: line in\n" + status)
        self.assertIn(str(int(time.time()) // 86400), m.group(1), "no counter in the status")
        self.assertEqual(m.group(1).endswith(", clock not synchronized"), host_clock_unsynchronized())

    def test_h_security_exposure(self):
        out = box.run("systemd-analyze", "security", "--no-pager", UNIT).stdout
        m = re.search(r"Overall exposure level for %s: (\d+\.\d+)" % re.escape(UNIT), out)
        self.assertTrue(m, out)
        log("exposure %s" % m.group(1))
        self.assertLessEqual(float(m.group(1)), 2.0, out)

    def test_h2_check_in_a_monitoring_unit(self):
        # --check as a monitoring unit would run it: one structured entry.
        reset()
        code, p, _, _ = start_unit()
        self.assertEqual((code, p["Result"]), (0, "success"))
        r = box.run("systemd-run", "--unit=tofurkey-check-test", "--wait", "--quiet",
                    "/usr/sbin/tofurkey", "--check", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        entries = [e for e in wait_for_entry(MSG["check"], unit="tofurkey-check-test.service")
                   if e.get("MESSAGE_ID") == MSG["check"]]
        self.assertEqual(len(entries), 1, entries)
        self.assertTrue(entries[0]["MESSAGE"].startswith("OK:"), entries[0])
        self.assertEqual(entries[0]["TOFURKEY_CHECK_EXIT"], "0")

    def test_h3_metrics_from_the_readme(self):
        reset()
        block = readme_block("### Prometheus")
        prom = re.search(r"METRICS=(\S+)", block).group(1)
        box.run("mkdir", "-p", os.path.dirname(prom))    # node_exporter's package makes it
        follow(block)
        p = unit_props("Result", "InvocationID", "ExecMainStatus", "ExecMainPID")
        self.assertEqual(p["Result"], "success")
        self.assertEqual(box.run("stat", "-c", "%a", prom).stdout.strip(), "644")
        metrics = box.read(prom)
        entry = [e for e in run_entries(p, MSG["keys_set"]) if e.get("MESSAGE_ID") == MSG["keys_set"]][-1]
        self.assertIn('tofurkey_keys_info{keys_id="%s",main_key_id="%s",interval="86400"} 1'
                      % (entry["TOFURKEY_KEYS_ID"], entry["TOFURKEY_MAIN_KEY_ID"]), metrics)
        self.assertIn("\ntofurkey_last_run_success 1\n", metrics)
        self.assertIn("\ntofurkey_clock_synchronized %s\n" % ("0" if host_clock_unsynchronized() else "1"),
                      metrics)
        rw = unit_props("ReadWritePaths")["ReadWritePaths"].split()
        self.assertIn("-" + os.path.dirname(prom), rw)
        out = box.run("systemd-analyze", "security", "--no-pager", UNIT).stdout
        m = re.search(r"Overall exposure level for %s: (\d+\.\d+)" % re.escape(UNIT), out)
        self.assertLessEqual(float(m.group(1)), 2.0, out)
        # No directory: the run fails (exit 1, the reason in the journal),
        # the keys set all the same.
        box.run("rm", "-rf", os.path.dirname(prom))
        code, p, t0, _ = start_unit()
        self.assertEqual((p["Result"], p["ExecMainStatus"]), ("exit-code", "1"))
        entries = run_entries(p, MSG["failure"])
        failures = [e for e in entries if e.get("MESSAGE_ID") == MSG["failure"]]
        self.assertTrue(any("metrics file" in e["MESSAGE"] for e in failures), failures)
        # The keys were set all the same.
        self.assertIn(MSG["keys_set"], {e.get("MESSAGE_ID") for e in entries})
        reset()

    def test_h4_named_network_namespaces(self):
        reset()
        for ns in ("blue", "green"):
            box.run("ip", "netns", "add", ns)
        try:
            in_ns = lambda ns: box.run("ip", "netns", "exec", ns, "cat", TFO_KEY).stdout.strip()
            # The host at the short interval, set once in the settings file
            # as the README says: the instances take it too, timer and run.
            short_interval()
            since = time.time()
            block = readme_block("### Network namespaces")
            self.assertIn("tofurkey@NAME.timer", block)
            for ns in ("blue", "green"):
                follow(block.replace("NAME", ns))
            # A namespace that does not exist fails its instance, clearly.
            r = box.run("systemctl", "start", "tofurkey@nosuch.service", check=False)
            self.assertNotEqual(r.returncode, 0)
            said = box.run("journalctl", "-u", "tofurkey@nosuch.service", "--no-pager").stdout
            self.assertIn("Assertion failed for tofurkey@nosuch.service", said)
            self.assertIn("(/run/netns/nosuch)", said)
            seen = {"blue": [], "green": []}
            while time.time() < since + 23 or (
                    min(map(len, seen.values())) < 5 and time.time() < since + ROTATIONS_DEADLINE):
                t = time.time()
                for ns in seen:
                    key = in_ns(ns)
                    secrets.add(key)
                    if not seen[ns] or seen[ns][-1][1] != key:
                        seen[ns].append((t, key))
                time.sleep(0.2)
            for ns, keys in seen.items():
                self.assertGreaterEqual(len(keys), 4, "%s: fewer than 3 rotations" % ns)
                for t, key in keys[1:]:
                    # Each key is the autokey's for its moment at -i 10.
                    want = {expected_keys(AUTOKEY, t + d, 10) for d in (-2, -1, 0, 1)}
                    self.assertIn(key, want, "%s at %.1f" % (ns, t))
                self.assertEqual(unit_props("Result", unit="tofurkey@%s.service" % ns)["Result"], "success")
            # The same keys as the host's: its unit's run, at the same interval.
            code, p, t0, t1 = start_unit()
            self.assertEqual(code, 0)
            host = container_key()
            self.assertIn(host, {expected_keys(AUTOKEY, t, 10) for t in (t0, t1)})
            # Read a moment apart, they may straddle a rotation: read again.
            for _ in range(3):
                if in_ns("blue") == in_ns("green"):
                    break
            else:
                self.fail("blue and green hold different keys")
        finally:
            box.sh("systemctl disable --now tofurkey@blue.timer tofurkey@green.timer; "
                   "rm -rf /etc/systemd/system/tofurkey@.timer.d /etc/systemd/system/tofurkey@.service.d; "
                   "ip netns del blue; ip netns del green; systemctl daemon-reload; "
                   "systemctl reset-failed", check=False)

    def test_h5_instance_names_dot_and_dotdot_are_refused(self):
        # tofurkey@...service names the namespace "..": /run/netns/.. is not
        # normalized, and systemd ignores it in both AssertPathExists= and
        # NetworkNamespacePath= (it says so when it loads the unit), so the
        # instance would set the keys of the container's own namespace with
        # the template's options. tofurkey@..service ("."): /run/netns/. is
        # the directory /run/netns, which systemd cannot enter. Each must
        # fail before tofurkey runs, say why in the unit's journal, and
        # leave the container's key alone: set here to a pair no run would
        # write, so that any run there shows.
        reset()
        box.run("mkdir", "-p", "/run/netns")    # as 'ip netns add' leaves it
        planted = "0badc0de-0badc0de-0badc0de-0badc0de,feedface-feedface-feedface-feedface"
        box.sh('printf %s "$1" >"$2"', planted, TFO_KEY)
        said = {
            "..": "refused: .. is not a network namespace name",
            ".": "Failed to start tofurkey@..service - Set TCP Fast Open keys in network "
                 "namespace . (/run/netns/.)",
        }
        try:
            for name, want in said.items():
                unit = "tofurkey@%s.service" % name
                r = box.run("systemctl", "start", unit, check=False)
                self.assertNotEqual(r.returncode, 0, "%s started" % unit)
                p = unit_props("Result", "ExecMainStartTimestampMonotonic", unit=unit)
                self.assertEqual((p["Result"], p["ExecMainStartTimestampMonotonic"]),
                                 ("exit-code", "0"), "%s: tofurkey ran" % unit)
                self.assertEqual(box.read(TFO_KEY).strip(), planted,
                                 "%s set the keys of the container's own namespace" % unit)
                # The line is the unit's: systemd's own (UNIT=), or from the
                # unit's stderr stream, which systemd tags (_SYSTEMD_UNIT=).
                deadline = time.monotonic() + 30
                while not any(want in e.get("MESSAGE", "")
                              for e in journal("UNIT=" + unit) + journal("_SYSTEMD_UNIT=" + unit)):
                    self.assertLess(time.monotonic(), deadline, "no '%s' in the journal" % want)
                    time.sleep(0.1)
        finally:
            box.sh('systemctl reset-failed "tofurkey@..service" "tofurkey@...service"', check=False)
            # Real keys back in place for the tests that follow.
            box.run("systemctl", "start", UNIT, check=False)

    def test_h6_rollover_from_the_readme(self):
        # The README's "Replacing the main key", as written: the next key
        # (made once for the fleet: here given) in the credstore, the two
        # settings, the start and the check OK; the service then names the
        # next key and T.
        reset()
        box.write(CREDSTORE, os.urandom(32))
        remember_main_key(CREDSTORE)
        box.write("/root/tofurkey.key.next", os.urandom(32))
        remember_main_key("/root/tofurkey.key.next")
        block = readme_block("### Replacing the main key")
        made, _, rest = block.partition("\n")
        self.assertIn("tofurkey.key.next", made)
        t = (int(time.time()) // 86400 + 3) * 86400
        follow("cd /root\nT=%d\n%s" % (t, rest))
        status = unit_props("StatusText")["StatusText"]
        self.assertIn("next main key id ", status)
        # The README's monitoring unit, as written, judges by the same rule:
        # it loads the next key too, and says OK.
        with open("README.md") as f:
            ini = re.search(r"```ini\n(.*?)```", f.read(), re.S).group(1)
        props = ["-p" + line for line in ini.splitlines() if line.startswith("LoadCredential=")]
        self.assertIn("-pLoadCredential=tofurkey.key.next", props)
        r = box.run("systemd-run", "--wait", "--pipe", "--quiet", *props, "/usr/sbin/tofurkey", "--check",
                    check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.startswith("OK: "), r.stdout)
        self.assertEqual(box.read("/etc/credstore/tofurkey.key.next", binary=True),
                         box.read("/root/tofurkey.key.next", binary=True))
        box.run("rm", "-f", "/etc/credstore/tofurkey.key.next")
        reset()

    def test_i_enabled_timer_sets_keys_at_boot(self):
        # A second container boots with the units in place and the timer
        # enabled, as a host does after 'systemctl enable tofurkey.timer'.
        unitdir = os.path.dirname(box.run("systemctl", "show", "-P", "FragmentPath", TIMER).stdout.strip())
        wants = tempfile.mkdtemp(prefix="tofurkey-wants-")
        os.symlink(unitdir + "/" + TIMER, os.path.join(wants, TIMER))
        binds = ["--bind-ro=%s/usr/sbin/tofurkey:/usr/sbin/tofurkey" % stage,
                 "--bind-ro=%s:/etc/systemd/system/timers.target.wants" % wants]
        binds += ["--bind-ro=%s%s/%s:%s/%s" % (stage, unitdir, u, unitdir, u) for u in (UNIT, TIMER)]
        second = Container(stage, log=log, nspawn_args=binds)
        try:
            t0 = time.time()
            second.start()
            p = wait_for_run(0, within=second)
            t1 = time.time()
            self.assertEqual(p["Result"], "success")
            key = second.read(TFO_KEY).strip()
            secrets.add(key)
            want = set()
            for t in (t0, t1):
                r = second.run("tofurkey", "-n", "-V", "-k", AUTOKEY, "-T", str(int(t)))
                want.update(m.group(2) for m in KEYS_LINE.finditer(r.stderr))
            secrets.update(want)
            self.assertIn(key, want, "keys set at boot do not derive from the autokey")
        finally:
            errors = second.stop()
            shutil.rmtree(wants)
        self.assertEqual(errors, [])

def readme_block(heading):
    """The first ```sh block after the README's heading line `heading`:
    the commands an admin pastes, word for word."""
    with open("README.md") as f:
        text = f.read()
    start = text.index("\n" + heading + "\n")
    m = re.compile(r"```sh\n(.*?)```\n", re.S).search(text, start)
    assert m, "no sh block under " + heading
    return m.group(1)


def follow(block):
    """Runs README commands in the container, as root ('sudo' is a no-op
    there), one after the other, failing at the first that fails. A block
    that ends with 'sudo tofurkey --check' must end OK: its line returned."""
    body, _, last = block.rstrip("\n").rpartition("\n")
    check = last == "sudo tofurkey --check"
    r = box.sh("set -e\nsudo() { \"$@\"; }\n" + (body if check else block), check=False)
    assert r.returncode == 0, "README commands failed (%d):\n%s\n%s%s" % (
        r.returncode, block, r.stdout, r.stderr)
    return manual_check_ok() if check else r.stdout


def manual_check_ok():
    """`tofurkey --check` as typed, no options: OK, or at first a WARNING
    if a half-interval boundary passed since the run (the previous pair, by
    design, until the timer's run 2 s after it): then once more after a
    run. Returns the OK line."""
    r = box.run("tofurkey", "--check", check=False)
    if r.returncode == 1:
        box.run("systemctl", "start", UNIT)
        r = box.run("tofurkey", "--check", check=False)
    assert r.returncode == 0 and r.stdout.startswith("OK: "), r.stdout + r.stderr
    return r.stdout.strip()


def short_interval():
    """The README's "Another interval", with the tests' 10 s."""
    block = readme_block("### Another interval")
    assert "INTERVAL=3600" in block, block
    return follow(block.replace("INTERVAL=3600", "INTERVAL=10"))


def ticket_name(port, out="/root/session.pem"):
    """The key name of the TLS 1.2 ticket the server on port issues (its
    first 16 bytes, public: every ticket carries it in clear); the session
    is kept in `out`."""
    box.sh('echo | timeout 5 openssl s_client -connect 127.0.0.1:"$1" -tls1_2 -sess_out "$2" '
           '>/dev/null 2>&1', str(port), out, check=False)
    text = box.run("openssl", "sess_id", "-in", out, "-noout", "-text").stdout
    m = re.search(r"TLS session ticket:\n\s*0000 - ((?:[0-9a-f]{2}[ -]){16})", text)
    assert m, "no ticket from port %d:\n%s" % (port, text)
    return bytes.fromhex(m.group(1).replace("-", " "))


def resumes(port, session):
    """Whether the session kept in file `session` resumes on port."""
    r = box.sh('echo | timeout 5 openssl s_client -connect 127.0.0.1:"$1" -tls1_2 -sess_in "$2" '
               '2>/dev/null', str(port), session, check=False)
    return "Reused, TLSv1.2" in r.stdout


def reload(unit):
    """systemctl reload, failing with the unit's journal."""
    r = box.run("systemctl", "reload", unit, check=False)
    assert r.returncode == 0, "reload %s failed:\n%s" % (
        unit, box.run("journalctl", "-u", unit, "-n", "20", "--no-pager").stdout)


def unit_starts(unit, since):
    return len(journal("UNIT=" + unit, "MESSAGE_ID=" + UNIT_STARTING, "--since=@%d" % int(since)))


# How long a server may take to use a new set once tofurkey has written it:
# nginx reloads through the path unit; HAProxy gets the push in the run.
# Both take well under a second; 3 s leaves a loaded machine room.
RELOADED = 3


def make_certificate():
    """A self-signed certificate and key for the test servers, in /root."""
    box.sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout /root/t.key -out /root/t.crt "
           "-days 2 -subj /CN=localhost 2>/dev/null && cat /root/t.crt /root/t.key > /root/t.pem")


class Tickets(unittest.TestCase):
    """The README's ticket setups under the real systemd, nginx and HAProxy
    of Debian, rotating every 10 s."""

    def setUp(self):
        reset()
        box.write(CREDSTORE, os.urandom(32))
        remember_main_key(CREDSTORE)
        short_interval()
        make_certificate()

    def tearDown(self):
        box.sh("set +e; systemctl disable --now tofurkey-nginx-reload.path; "
               "rm -f /etc/nginx/conf.d/tofurkey-tickets.conf /etc/nginx/conf.d/test.conf "
               "/etc/systemd/system/nginx.service.wants/tofurkey.service "
               "/etc/systemd/system/haproxy.service.wants/tofurkey.service; "
               "cp /root/haproxy.cfg.orig /etc/haproxy/haproxy.cfg 2>/dev/null; "
               "systemctl daemon-reload; systemctl restart nginx haproxy; rm -rf /run/tofurkey/*",
               check=False)
        reset()

    def setup_nginx(self):
        """The README's nginx setup, a TLS server on 127.0.0.1:8443 that uses
        it; the keys set, the reload path unit on, the check OK."""
        box.write("/etc/nginx/conf.d/test.conf", b"server { listen 127.0.0.1:8443 ssl; "
                  b"ssl_certificate /root/t.crt; ssl_certificate_key /root/t.key; return 200; }\n",
                  mode="0644")
        follow(readme_block("#### nginx"))

    def setup_haproxy(self):
        """The README's HAProxy setup, in its order: the file, then
        HAProxy's configuration (the README's frontend, on :443), then the
        push; the check OK."""
        block = readme_block("#### HAProxy")
        before, sep, after = block.partition("# In /etc/haproxy/haproxy.cfg")
        self.assertTrue(sep, block)
        box.sh("cp /etc/haproxy/haproxy.cfg /root/haproxy.cfg.orig && cp /root/t.pem /etc/haproxy/site.pem")
        follow(before)
        with open("README.md") as f:
            m = re.search(r"```\n(frontend tls\n.*?)```", f.read(), re.S)
        self.assertTrue(m, "no HAProxy frontend in the README")
        box.sh('printf "\n%s" "$1" >> /etc/haproxy/haproxy.cfg', m.group(1))
        follow(after.split("\n", 1)[1])

    def security(self):
        out = box.run("systemd-analyze", "security", "--no-pager", UNIT).stdout
        m = re.search(r"Overall exposure level for %s: (\d+\.\d+)" % re.escape(UNIT), out)
        self.assertTrue(m, out)
        self.assertLessEqual(float(m.group(1)), 2.0, out)
        rw = unit_props("ReadWritePaths")["ReadWritePaths"].split()
        self.assertEqual(rw, ["/run", "-/proc/sys/net/ipv4/tcp_fastopen_key",
                              "-/var/lib/prometheus/node-exporter"], "writes more than the unit says")

    def test_nginx_rotates_and_reloads(self):
        self.setup_nginx()
        self.security()
        master = unit_props("MainPID", unit="nginx.service")["MainPID"]
        since = time.time()
        restart_timer()
        samples = []           # (time, current.key's name, nginx's ticket name)
        resumed = []           # after each change: did the last ticket of the old key resume?
        while time.time() < since + 32 or (
                len({n for _, n, _ in samples}) < 4 and time.time() < since + ROTATIONS_DEADLINE):
            t = time.time()
            name = box.read("/run/tofurkey/current.key", binary=True)[:16]
            out = "/root/s%d.pem" % (len(samples) % 2)
            if samples and samples[-1][1] != name:
                # The set just changed: the old current key is now previous.
                old = "/root/s%d.pem" % ((len(samples) - 1) % 2)
                time.sleep(1.5)
                resumed.append(resumes(8443, old))
            issued = ticket_name(8443, out)
            samples.append((t, name, issued))
            time.sleep(0.3)
        self.assertEqual(unit_props("MainPID", unit="nginx.service")["MainPID"], master,
                         "nginx was restarted, not reloaded")
        names = []
        for _, name, _ in samples:
            if not names or names[-1] != name:
                names.append(name)
        self.assertGreaterEqual(len(names), 3, "fewer than 2 rotations of the files seen")
        # Once the files have held a set for RELOADED s, nginx encrypts with its current key.
        for i, (t, name, issued) in enumerate(samples):
            if all(n == name for tt, n, _ in samples if t - RELOADED <= tt <= t):
                if samples[0][0] <= t - RELOADED:
                    self.assertEqual(issued, name, "nginx not reloaded to the new keys at %.1f" % t)
        # One reload per change of the set: not at the half-interval runs.
        changes = len(names) - 1
        runs = unit_starts(UNIT, since)
        reloads = unit_starts("tofurkey-nginx-reload.service", since)
        self.assertGreater(runs, reloads + 1, "the half-interval runs reloaded too")
        self.assertIn(reloads, (changes, changes + 1), "reloads %d for %d changes" % (reloads, changes))
        # A ticket of the key just replaced resumes under the next set.
        self.assertTrue(resumed and all(resumed), resumed)
        # No ticket key material in the journal.
        text = box.run("journalctl", "-o", "json", "--no-pager").stdout.lower()
        for f in ("current.key", "previous.key", "next.key"):
            self.assertNotIn(box.read("/run/tofurkey/" + f, binary=True).hex(), text)

    def test_nginx_broken_config_keeps_serving_the_keys_it_has(self):
        self.setup_nginx()
        loaded = box.read("/run/tofurkey/current.key", binary=True)[:16]
        self.assertEqual(ticket_name(8443), loaded)
        box.write("/etc/nginx/conf.d/broken.conf", b"this is not nginx;\n", mode="0644")
        try:
            restart_timer()
            deadline = time.time() + 15    # the next set, within one interval
            while time.time() < deadline and \
                    box.read("/run/tofurkey/current.key", binary=True)[:16] == loaded:
                time.sleep(0.2)
            self.assertNotEqual(box.read("/run/tofurkey/current.key", binary=True)[:16], loaded)
            deadline = time.time() + 5
            while time.time() < deadline and unit_props(
                    "Result", unit="tofurkey-nginx-reload.service")["Result"] != "exit-code":
                time.sleep(0.2)
            self.assertEqual(unit_props("Result", unit="tofurkey-nginx-reload.service")["Result"],
                             "exit-code", "the failed reload is not shown")
            self.assertEqual(unit_props("ActiveState", unit="nginx.service")["ActiveState"], "active")
            self.assertEqual(ticket_name(8443), loaded, "nginx changed keys without a reload")
        finally:
            box.run("rm", "-f", "/etc/nginx/conf.d/broken.conf")
        # Fixed: the next change reloads it to the current set.
        current = box.read("/run/tofurkey/current.key", binary=True)[:16]
        deadline = time.time() + 15
        while time.time() < deadline and ticket_name(8443) == loaded:
            time.sleep(0.3)
        self.assertIn(ticket_name(8443), (current, box.read("/run/tofurkey/current.key", binary=True)[:16]))

    def test_haproxy_push_under_its_debian_unit(self):
        self.setup_haproxy()
        self.assertEqual(box.run("test", "-s", "/run/tofurkey/haproxy.keys", check=False).returncode, 0)
        self.security()
        reload("haproxy")
        master = unit_props("MainPID", unit="haproxy.service")["MainPID"]
        since = time.time()
        restart_timer()
        seen, checks = [], []
        while time.time() < since + 25 or (len(seen) < 4 and time.time() < since + ROTATIONS_DEADLINE):
            name = ticket_name(443)
            lines = box.read("/run/tofurkey/haproxy.keys").split()
            current = base64.b64decode(lines[1])[:16]
            t_check = time.time()
            r = box.run("tofurkey", "--check", check=False)     # the service's settings
            checks.append((r.returncode, t_check, time.time(), r.stdout.split(";")[-1].strip()))
            if not seen or seen[-1][0] != current:
                seen.append((current, time.time()))
            if time.time() - seen[-1][1] > RELOADED:
                self.assertEqual(name, current, "HAProxy does not encrypt with the current key")
            time.sleep(0.3)
        self.assertGreaterEqual(len(seen), 3, "fewer than 2 rotations seen")
        self.assertEqual(unit_props("MainPID", unit="haproxy.service")["MainPID"], master,
                         "HAProxy was restarted")
        # --since takes whole seconds: a run of the setup up to a second
        # before `since`, under the settings of then, is left out.
        entries = [e for e in unit_entries("--since=@%d" % int(since))
                   if e.get("MESSAGE_ID") == MSG["keys_set"] and
                   int(e["__REALTIME_TIMESTAMP"]) / 1e6 >= since]
        done = [int(e["__REALTIME_TIMESTAMP"]) / 1e6 for e in entries]
        # In sync, but between a boundary and the end of the timer's run for
        # it (a WARNING: the previous set or pair), never CRITICAL. A run's
        # entry comes after its writes and push, so a WARNING check began
        # before any entry of the half-interval it read its clock in (at
        # the latest, the one it ended in); judged by the journal, not by
        # seconds after the boundary, which a loaded machine stretches.
        for code, at, end, what in checks:
            self.assertIn(code, (0, 1), what)
            if code == 1:
                boundary = end - end % 5
                self.assertFalse(any(boundary <= d <= at for d in done),
                                 "WARNING %.1f s after a boundary, after its run: %s" % (at % 5, what))
        self.assertGreater([c for c, *_ in checks].count(0), len(checks) // 3, checks)
        for f in TICKET_FIELDS:
            self.assertTrue(all(f in e for e in entries), f)
        pushed = [e["TOFURKEY_TICKETS_CHANGED"] for e in entries]
        self.assertTrue(any("1 key pushed to the running HAProxy" in c for c in pushed), pushed)
        self.assertTrue(any("already in sync" in c for c in pushed), pushed)
        # A reload: the new worker reads the file, and holds the set too.
        reload("haproxy")
        r = box.run("tofurkey", "--check", check=False)
        self.assertIn(r.returncode, (0, 1), r.stdout)
        self.assertNotEqual(unit_props("MainPID", unit="haproxy.service")["MainPID"], "0")


class Composed(unittest.TestCase):
    """The README's setups followed one after the other on one host, at
    the default interval: nginx, then HAProxy, then metrics. Each section
    adds its line to the settings file; none undoes another's."""

    def tearDown(self):
        Tickets.tearDown(self)

    def test_nginx_haproxy_and_metrics(self):
        reset()
        box.write(CREDSTORE, os.urandom(32))
        remember_main_key(CREDSTORE)
        make_certificate()
        Tickets.setup_nginx(self)
        Tickets.setup_haproxy(self)
        block = readme_block("### Prometheus")
        prom = re.search(r"METRICS=(\S+)", block).group(1)
        box.run("mkdir", "-p", os.path.dirname(prom))
        line = follow(block)
        # One check, every output: the target, nginx's files, HAProxy's
        # file and the running HAProxy, with the service's settings and key.
        for part in ("key file " + CREDSTORE, "settings " + SETTINGS, "nginx tickets /run/tofurkey: OK",
                     "HAProxy tickets /run/tofurkey/haproxy.keys: OK",
                     "running HAProxy (/run/haproxy/admin.sock, /run/tofurkey/haproxy.keys): OK"):
            self.assertIn(part, line)
        self.assertEqual(unit_props("Result")["Result"], "success")
        metrics = box.read(prom)
        self.assertIn("\ntofurkey_last_run_success 1\n", metrics)
        self.assertIn("tofurkey_tickets_info{", metrics)
        settings = box.read(SETTINGS)
        for setting in ("NGINX_TICKETS=", "HAPROXY_TICKETS=", "HAPROXY_SOCKET=", "METRICS="):
            self.assertEqual(settings.count("\n" + setting), 1, settings)
        Tickets.security(self)
        box.run("rm", "-rf", os.path.dirname(prom))


def fake_1_3_4_deb(dest):
    """A stand-in for a tofurkey 1.3.4 package (the real one cannot be had
    here): what matters to the upgrade, a daemon tofurkey.service at the
    same path, enabled under multi-user.target and running, as its
    dh_installsystemd scripts leave it."""
    root = tempfile.mkdtemp(prefix="tofurkey-old-")
    try:
        for d in ("DEBIAN", "usr/sbin", "lib/systemd/system"):
            os.makedirs(os.path.join(root, d))
        files = {
            "DEBIAN/control": "Package: tofurkey\nVersion: 1.3.4-1\nArchitecture: all\n"
                              "Maintainer: test <test@example.org>\nDescription: old daemon\n",
            "DEBIAN/postinst": "#!/bin/sh\nset -e\ndeb-systemd-helper enable tofurkey.service\n"
                               "deb-systemd-invoke start tofurkey.service\n",
            "DEBIAN/prerm": '#!/bin/sh\nset -e\n[ "$1" = remove ] && deb-systemd-invoke stop tofurkey.service || true\n',
            "usr/sbin/tofurkey": "#!/bin/sh\nexec sleep infinity\n",
            "lib/systemd/system/tofurkey.service":
                "[Service]\nExecStart=/usr/sbin/tofurkey\nRestart=on-failure\n"
                "[Install]\nWantedBy=multi-user.target\n",
        }
        for name, text in files.items():
            with open(os.path.join(root, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(root, name), 0o755 if "/sbin/" in name or "DEBIAN/p" in name else 0o644)
        subprocess.run(["dpkg-deb", "--root-owner-group", "--build", root, dest], check=True,
                       capture_output=True)
    finally:
        shutil.rmtree(root)


class Package(unittest.TestCase):
    """The .deb of `make deb`, installed the Debian way in a fresh container:
    over a 1.3.4 daemon, upgraded, purged."""

    def test_install_over_1_3_4_upgrade_and_purge(self):
        debs = [d for d in os.listdir("target/debian") if re.fullmatch(r"tofurkey_.*\.deb", d)]
        self.assertEqual(len(debs), 1, "make deb first: %s" % debs)
        pool = tempfile.mkdtemp(prefix="tofurkey-debs-")
        shutil.copy(os.path.join("target/debian", debs[0]), os.path.join(pool, "new.deb"))
        fake_1_3_4_deb(os.path.join(pool, "old.deb"))
        inside = Container(pool, log=log)
        try:
            inside.start()
            sh = inside.sh
            show = lambda unit, *p: dict(
                line.split("=", 1) for line in inside.run(
                    "systemctl", "show", unit, *("-p" + n for n in p)).stdout.splitlines())
            sh("dpkg -i /run/host-x/old.deb >/dev/null")
            self.assertEqual(show(UNIT, "ActiveState", "Type")["ActiveState"], "active")
            daemon = show(UNIT, "MainPID")["MainPID"]
            self.assertNotEqual(daemon, "0")
            # Masked, as a 1.3.4 package once removed leaves it (its dh
            # postrm runs deb-systemd-helper mask once the unit file is gone).
            sh("mkdir -p /var/lib/systemd/deb-systemd-helper-masked && "
               "touch /var/lib/systemd/deb-systemd-helper-masked/tofurkey.service && "
               "ln -s /dev/null /etc/systemd/system/tofurkey.service")

            # Over 1.3.4: its daemon stopped and no longer enabled, the timer
            # enabled and started, keys set at once.
            sh("dpkg -i /run/host-x/new.deb >/dev/null")
            self.assertEqual(sh("systemctl is-enabled tofurkey.timer").stdout.strip(), "enabled")
            self.assertEqual(sh("systemctl is-active tofurkey.timer").stdout.strip(), "active")
            p = wait_for_run(0, within=inside)
            self.assertEqual(p["Result"], "success")
            self.assertNotIn(daemon, inside.run("ps", "-eo", "pid=").stdout.split(), "1.3.4's daemon runs on")
            self.assertNotEqual(inside.run("test", "-e", "/etc/systemd/system/multi-user.target.wants/"
                                           + UNIT, check=False).returncode, 0)
            key = inside.read(TFO_KEY).strip()
            secrets.add(key)
            self.assertNotEqual(set(key) - set("0-,"), set(), "no keys after install")
            # The catalog is registered: journalctl -x explains the run.
            explained = inside.run("journalctl", "-x", "-u", UNIT, "--no-pager").stdout
            self.assertIn("Subject: TCP Fast Open keys set", explained)

            # An upgrade (the same package again: prerm upgrade, postinst
            # configure with the old version) keeps the timer and the keys,
            # and the new binary sets them again.
            before = show(UNIT, "InvocationID")["InvocationID"]
            sh("dpkg -i /run/host-x/new.deb >/dev/null")
            self.assertNotEqual(inside.read(TFO_KEY).strip().strip("0-,"), "")
            self.assertEqual(sh("systemctl is-enabled tofurkey.timer").stdout.strip(), "enabled")
            self.assertEqual(sh("systemctl is-active tofurkey.timer").stdout.strip(), "active")
            deadline = time.monotonic() + 20
            while show(UNIT, "InvocationID")["InvocationID"] == before and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertNotEqual(show(UNIT, "InvocationID")["InvocationID"], before, "no run after upgrade")

            # What the package and its units made, then purge.
            inside.write("/root/main.key", os.urandom(32))
            secrets.add(inside.read("/root/main.key", binary=True))
            sh("mkdir -p /etc/credstore.encrypted && systemd-creds encrypt --name=tofurkey.key "
               "/root/main.key /etc/credstore.encrypted/tofurkey.key && systemctl daemon-reload")
            generated = "/run/systemd/generator/tofurkey.service.d/50-credstore-encrypted-%s.conf"
            inside.run("test", "-e", generated % "tofurkey.key")
            # A rollover's next key, encrypted too: the unit loads it.
            inside.write("/root/next.key", os.urandom(32))
            secrets.add(inside.read("/root/next.key", binary=True))
            t = (int(time.time()) // 86400 + 3) * 86400
            sh("systemd-creds encrypt --name=tofurkey.key.next /root/next.key "
               "/etc/credstore.encrypted/tofurkey.key.next && echo NEXT_KEY_AT=%d >>/etc/default/tofurkey "
               "&& systemctl daemon-reload && systemctl start tofurkey.service" % t)
            inside.run("test", "-e", generated % "tofurkey.key.next")
            self.assertIn("next main key id ", show(UNIT, "StatusText")["StatusText"])
            sh("systemctl enable tofurkey-nginx-reload.path 2>/dev/null")
            sh("ip netns add blue && systemctl enable --now tofurkey@blue.timer 2>/dev/null")
            self.assertEqual(sh("systemctl is-active tofurkey@blue.timer").stdout.strip(), "active")
            sh("dpkg --purge tofurkey >/dev/null")
            self.assertNotEqual(sh("systemctl is-active tofurkey@blue.timer", check=False).stdout.strip(),
                                "active", "an instance runs on after the purge")
            left = sh("ls -d /lib/systemd/system/tofurkey* /usr/sbin/tofurkey /run/tofurkey* "
                      "/run/systemd/generator/tofurkey* /etc/systemd/system/*/tofurkey* "
                      "/var/lib/systemd/deb-systemd-helper-enabled/*tofurkey* "
                      "/var/lib/systemd/deb-systemd-helper-enabled/*/tofurkey* "
                      "/usr/lib/systemd/catalog/tofurkey* 2>/dev/null || true").stdout.split()
            self.assertEqual(left, [], "left after purge")
            for unit in (TIMER, UNIT, "tofurkey-nginx-reload.path", "tofurkey@blue.timer"):
                self.assertEqual(show(unit, "LoadState")["LoadState"], "not-found", unit)
            self.assertNotIn("tofurkey", inside.run("journalctl", "--list-catalog").stdout)
        finally:
            errors = inside.stop()
            shutil.rmtree(pool)
        self.assertEqual(errors, [])


if __name__ == "__main__":
    # A CI timeout's SIGTERM must still shut the container down.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        unittest.main(verbosity=2)
    finally:
        cleanup()
