#!/usr/bin/env python3
"""`make install` as root after `make` as a user: it never builds (cargo may
not be on root's PATH), says "run make first" when nothing is built, and
puts prefix/sbindir into the installed unit's ExecStart.

Runs against this checkout's build (`make` first) and a copy of its files
(nothing built), installing only into temporary DESTDIRs.
"""

import os
import shutil
import subprocess
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# A PATH without cargo or rustc, as root's often is.
NO_RUST = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/nonexistent"}


def make(cwd, *args):
    return subprocess.run(["make", "-s", *args], cwd=cwd, env=NO_RUST,
                          capture_output=True, text=True, timeout=120)


class MakeInstall(unittest.TestCase):
    def test_prefix_reaches_the_unit(self):
        with tempfile.TemporaryDirectory() as dest:
            r = make(REPO, "install", "DESTDIR=" + dest, "prefix=/usr/local",
                     "unitdir=/usr/local/lib/systemd/system")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(os.access(dest + "/usr/local/sbin/tofurkey", os.X_OK))
            with open(dest + "/usr/local/lib/systemd/system/tofurkey.service") as f:
                unit = f.read()
            self.assertIn("\nExecStart=/usr/local/sbin/tofurkey $TOFURKEY_OPTIONS $TOFURKEY_METRICS\n", unit)
            self.assertNotIn("/usr/sbin/tofurkey", unit)
            mode = os.stat(dest + "/usr/local/lib/systemd/system/tofurkey.service").st_mode
            self.assertEqual(mode & 0o777, 0o644)

    def test_the_namespace_template_is_the_host_unit_but_for_its_namespace(self):
        # A copy that must not drift: every hardening line the same, the
        # differences only those the template is for.
        def lines(name):
            with open(os.path.join(REPO, "systemd", name)) as f:
                return [l for l in f.read().splitlines() if l and not l.startswith("#")]
        host, template = lines("tofurkey.service"), lines("tofurkey@.service")
        only_host = [l for l in host if l not in template]
        only_template = [l for l in template if l not in host]
        self.assertEqual(sorted(only_host), sorted([
            "Description=Set TCP Fast Open keys from the main key and the clock",
            "ExecStart=/usr/sbin/tofurkey $TOFURKEY_OPTIONS $TOFURKEY_METRICS",
            "RuntimeDirectory=tofurkey", "RuntimeDirectoryMode=0700", "RuntimeDirectoryPreserve=yes",
            "Before=nginx.service haproxy.service",
            "ReadWritePaths=-/var/lib/prometheus/node-exporter"]))
        self.assertEqual(sorted(only_template), sorted([
            "Description=Set TCP Fast Open keys in network namespace %i (/run/netns/%i)",
            "AssertPathExists=/run/netns/%i", "NetworkNamespacePath=/run/netns/%i",
            "ExecStartPre=/bin/sh -c 'case \"$$1\" in \"\"|.|..|*/*) echo \"refused: $$1 is not a "
            "network namespace name: ip netns add NAME makes one, for tofurkey@NAME.service\" >&2; "
            "exit 1;; esac' sh %i",
            "ExecStart=/usr/sbin/tofurkey --tfo-only $TOFURKEY_OPTIONS"]))
        with tempfile.TemporaryDirectory() as dest:
            r = make(REPO, "install", "DESTDIR=" + dest, "prefix=/usr/local",
                     "unitdir=/usr/local/lib/systemd/system")
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(dest + "/usr/local/lib/systemd/system/tofurkey@.service") as f:
                self.assertIn("\nExecStart=/usr/local/sbin/tofurkey --tfo-only $TOFURKEY_OPTIONS\n",
                              f.read())
            self.assertTrue(os.path.exists(dest + "/usr/local/lib/systemd/system/tofurkey@.timer"))

    def test_the_settings_file_is_installed_once_and_the_generator_finds_tofurkey(self):
        with tempfile.TemporaryDirectory() as dest:
            args = ["install", "DESTDIR=" + dest, "prefix=/usr/local",
                    "generatordir=/usr/local/lib/systemd/system-generators"]
            self.assertEqual(make(REPO, *args).returncode, 0)
            settings = dest + "/etc/default/tofurkey"
            with open(settings) as f, open(os.path.join(REPO, "etc/default-tofurkey")) as shipped:
                self.assertEqual(f.read(), shipped.read())
            with open(dest + "/usr/local/lib/systemd/system-generators/tofurkey-generator") as f:
                generator = f.read()
            self.assertIn("/usr/local/sbin/tofurkey --print-timer", generator)
            self.assertNotIn("/usr/sbin/tofurkey", generator)
            # The admin's edit survives a second install.
            with open(settings, "a") as f:
                f.write("INTERVAL=3600\n")
            self.assertEqual(make(REPO, *args).returncode, 0)
            with open(settings) as f:
                self.assertTrue(f.read().endswith("INTERVAL=3600\n"))

    def test_nothing_built_says_run_make_first(self):
        with tempfile.TemporaryDirectory() as tmp:
            clone, dest = os.path.join(tmp, "clone"), os.path.join(tmp, "dest")
            files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True,
                                   capture_output=True, text=True).stdout.split("\0")
            for name in filter(None, files):
                os.makedirs(os.path.dirname(os.path.join(clone, name)), exist_ok=True)
                shutil.copy2(os.path.join(REPO, name), os.path.join(clone, name))
            r = make(clone, "install", "DESTDIR=" + dest)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("nothing built: run make first", r.stderr)
            self.assertFalse(os.path.exists(dest), "something was installed")
            self.assertFalse(os.path.exists(os.path.join(clone, "target")), "it built")


if __name__ == "__main__":
    unittest.main(verbosity=2)
