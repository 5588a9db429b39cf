#!/usr/bin/env python3
"""The .deb `make deb` built: lintian finds no error and no warning (those
it would report are overridden in debian/lintian-overrides, each with its
reason), it holds what the README says, where Debian 12 looks for it, and
its version is above 1.3.4's. Installing it is the container suite's job.
"""

import glob
import os
import subprocess
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def the_deb():
    debs = glob.glob(os.path.join(REPO, "target", "debian", "tofurkey_*.deb"))
    if len(debs) != 1:
        raise AssertionError("want one target/debian/tofurkey_*.deb (make deb), found %s" % debs)
    return debs[0]


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


class Deb(unittest.TestCase):
    def test_lintian_is_clean(self):
        r = run("lintian", "--pedantic", "--fail-on", "error,warning", "--tag-display-limit", "0",
                the_deb())
        self.assertEqual(r.returncode, 0, "lintian:\n" + r.stdout + r.stderr)

    def test_contents(self):
        listing = run("dpkg-deb", "-c", the_deb()).stdout
        files = {line.split()[-1].lstrip(".") for line in listing.splitlines()}
        for want in ("/usr/sbin/tofurkey",
                     "/lib/systemd/system/tofurkey.service",
                     "/lib/systemd/system/tofurkey.timer",
                     "/lib/systemd/system/tofurkey@.service",
                     "/lib/systemd/system/tofurkey@.timer",
                     "/lib/systemd/system/tofurkey-nginx-reload.path",
                     "/lib/systemd/system/tofurkey-nginx-reload.service",
                     "/lib/systemd/system-generators/tofurkey-generator",
                     "/usr/lib/systemd/catalog/tofurkey.catalog",
                     "/usr/share/man/man8/tofurkey.8.gz",
                     "/usr/share/doc/tofurkey/copyright",
                     "/usr/share/doc/tofurkey/tofurkey.rules.yml",
                     "/usr/share/doc/tofurkey/changelog.Debian.gz",
                     "/etc/default/tofurkey"):
            self.assertIn(want, files)
        # The settings file is the admin's: a conffile, kept on upgrades.
        conffiles = run("sh", "-c", 'dpkg-deb --ctrl-tarfile "$1" | tar -xOf - ./conffiles',
                        "sh", the_deb()).stdout.split()
        self.assertEqual(conffiles, ["/etc/default/tofurkey"])
        # The unit runs the binary where the package puts it.
        unit = run("sh", "-c", 'dpkg-deb --fsys-tarfile "$1" | tar -xOf - ./lib/systemd/system/tofurkey.service',
                   "sh", the_deb()).stdout
        self.assertIn("\nExecStart=/usr/sbin/tofurkey $TOFURKEY_OPTIONS $TOFURKEY_METRICS\n", unit)

    def test_version_is_above_1_3_4_and_matches_the_binary(self):
        version = run("dpkg-deb", "-f", the_deb(), "Version").stdout.strip()
        self.assertEqual(run("dpkg", "--compare-versions", version, "gt", "1.3.4").returncode, 0, version)
        with open(os.path.join(REPO, "Cargo.toml")) as f:
            crate = next(line.split('"')[1] for line in f if line.startswith("version = "))
        self.assertTrue(version.startswith(crate + "-"), (version, crate))

    def test_maintainer_scripts_are_posix_sh(self):
        for name in ("postinst", "prerm", "postrm"):
            r = run("sh", "-n", os.path.join(REPO, "debian", name))
            self.assertEqual(r.returncode, 0, name + ": " + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
