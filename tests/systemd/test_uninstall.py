#!/usr/bin/env python3
"""Removing and purging the .deb break nothing silently, under a real
systemd with Debian's nginx and HAProxy using tofurkey's ticket files:

- the README's "Uninstall" steps, run as written, leave both servers'
  configurations valid, both servers reloading and restarting, and no link
  to a missing unit;
- a purge while the servers' configurations still name the files prints
  each such line (file, line number, text) and keeps /run/tofurkey, so
  that the servers still reload;
- a removal prints the same lines, removes the link that makes HAProxy
  require tofurkey.service (or HAProxy would not start), keeps nginx's
  wants link, and a reinstall finds the setup whole; a purge after the
  files are gone (a boot) names the lines again.

Each test boots its own container (container.py) and installs the .deb of
`make deb` into it. Needs root; run from the repository root:

    sudo python3 tests/systemd/test_uninstall.py
"""

import os
import re
import shutil
import signal
import sys
import tempfile
import unittest

from container import Container, SetupError, require_host

DEB_INSIDE = "/run/host-x/tofurkey.deb"
DROPIN = "/etc/systemd/system/tofurkey.service.d/tickets.conf"
# Both servers' files from one run, whatever the options' defaults.
DROPIN_TEXT = b"""[Unit]
Before=nginx.service haproxy.service
[Service]
ExecStart=
ExecStart=/usr/sbin/tofurkey --nginx-tickets /run/tofurkey --haproxy-tickets /run/tofurkey/haproxy.keys
"""
NGINX_SITE = "/etc/nginx/conf.d/test.conf"
# A TLS server (nginx reads the ticket key files only for one), and a
# comment that names a ticket file: not a line to report.
NGINX_SITE_TEXT = (b"server { listen 127.0.0.1:8443 ssl; ssl_certificate /root/t.crt; "
                   b"ssl_certificate_key /root/t.key; return 200; }\n"
                   b"# ssl_session_ticket_key /run/tofurkey/old.key;\n")
HAPROXY_CFG = "/etc/haproxy/haproxy.cfg"
LINK_DIRS = "/etc/systemd/system"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def readme():
    with open("README.md") as f:
        return f.read()


def readme_uninstall_steps():
    """The first ```sh block under the README's '## Uninstall' heading."""
    m = re.search(r"^## Uninstall\n(.*?)(?=^## )", readme(), re.S | re.M)
    if not m:
        raise AssertionError("no '## Uninstall' section in README.md")
    block = re.search(r"^```sh\n(.*?)^```$", m.group(1), re.S | re.M)
    if not block:
        raise AssertionError("no ```sh block under '## Uninstall' in README.md")
    return block.group(1)


def readme_nginx_conf():
    """The nginx configuration file the README's nginx setup writes."""
    files = re.findall(r"sudo tee (\S+) >/dev/null <<'END'\n(.*?\n)END\n", readme(), re.S)
    found = [(path, text) for path, text in files if path.startswith("/etc/nginx/")]
    if not found:
        raise AssertionError("no nginx configuration file ('sudo tee /etc/nginx/...') in README.md")
    return found[0]


def readme_haproxy_frontend():
    m = re.search(r"```\n(frontend tls\n.*?)```", readme(), re.S)
    if not m:
        raise AssertionError("no HAProxy frontend in README.md")
    return m.group(1)


class Uninstall(unittest.TestCase):
    def setUp(self):
        debs = [d for d in os.listdir("target/debian") if re.fullmatch(r"tofurkey_.*\.deb", d)]
        if len(debs) != 1:
            raise SetupError("make deb first: target/debian holds %s" % debs)
        self.pool = tempfile.mkdtemp(prefix="tofurkey-uninstall-")
        shutil.copy(os.path.join("target/debian", debs[0]), os.path.join(self.pool, "tofurkey.deb"))
        self.box = Container(self.pool, log=log)
        try:
            self.box.start()
            self.configure()
        except BaseException:
            self.tearDown()
            raise

    def tearDown(self):
        errors = self.box.stop() if self.box else []
        self.box = None
        shutil.rmtree(self.pool, ignore_errors=True)
        self.assertEqual(errors, [])

    def sh(self, script, *args, check=True):
        return self.box.sh(script, *args, check=check)

    def ok(self, script):
        """Whether script succeeds inside."""
        return self.sh(script, check=False).returncode == 0

    def configure(self):
        """The package installed; nginx and HAProxy set up as the README
        says, on tofurkey's files, both wanting tofurkey.service."""
        self.sh("dpkg -i %s >/dev/null" % DEB_INSIDE)
        self.sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout /root/t.key -out /root/t.crt "
                "-days 2 -subj /CN=localhost 2>/dev/null && "
                "cat /root/t.crt /root/t.key > /etc/haproxy/site.pem")
        self.box.write(DROPIN, DROPIN_TEXT, mode="0644")
        self.sh("systemctl add-wants nginx.service tofurkey.service 2>/dev/null && "
                "systemctl add-wants haproxy.service tofurkey.service 2>/dev/null && "
                "systemctl daemon-reload && systemctl start tofurkey.service")
        path, text = readme_nginx_conf()
        self.box.write(path, text.encode(), mode="0644")
        self.box.write(NGINX_SITE, NGINX_SITE_TEXT, mode="0644")
        self.sh("sed -i 's/ no-tls-tickets//' %s" % HAPROXY_CFG)
        self.sh('printf "\\n%%s" "$1" >> %s' % HAPROXY_CFG, readme_haproxy_frontend())
        self.sh("systemctl reload nginx && systemctl reload haproxy && "
                "systemctl enable --now tofurkey-nginx-reload.path 2>/dev/null")
        # The servers' configurations depend on the files: without them,
        # neither passes its check (what a boot after the removal does).
        # No run may make them meanwhile (a daemon-reload starts the timer's).
        self.sh("systemctl stop tofurkey.timer tofurkey.service && mv /run/tofurkey /run/tofurkey-aside")
        try:
            self.assertFalse(self.ok("nginx -t"), "nginx does not read the ticket files")
            self.assertFalse(self.ok("haproxy -c -f %s" % HAPROXY_CFG),
                             "HAProxy does not read the ticket file")
        finally:
            self.sh("mv /run/tofurkey-aside /run/tofurkey")
        # The timer's first run, waited for.
        self.sh("systemctl start tofurkey.timer && systemctl start tofurkey.service")
        self.assert_servers_fine()

    def assert_servers_fine(self):
        for check in ("nginx -t", "haproxy -c -f %s" % HAPROXY_CFG,
                      "systemctl reload nginx", "systemctl reload haproxy"):
            r = self.sh(check + " 2>&1", check=False)
            self.assertEqual(r.returncode, 0, "%s:\n%s" % (check, r.stdout))

    def server_lines(self):
        """The lines a removal must report: "FILE:LINE: TEXT" for each line
        of the servers' configurations that names a file in /run/tofurkey."""
        want = []
        for path in (readme_nginx_conf()[0], HAPROXY_CFG):
            for n, line in enumerate(self.box.read(path).splitlines(), 1):
                if "/run/tofurkey/" in line and not line.lstrip().startswith("#"):
                    want.append("%s:%d: %s" % (path, n, line.strip()))
        self.assertEqual(len(want), 4, want)   # nginx's three keys, HAProxy's file
        return want

    def links_to_tofurkey(self):
        return self.sh("find %s -lname '*tofurkey*'" % LINK_DIRS).stdout.split()

    def dangling_links(self):
        return self.sh("find %s -xtype l" % LINK_DIRS).stdout.split()

    def test_readme_uninstall_steps(self):
        steps = readme_uninstall_steps()
        r = self.box.run("sh", "-ec", 'sudo() { "$@"; }\n' + steps, check=False, timeout=120)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, "the README's Uninstall steps failed:\n" + steps + "\n" + out)
        self.assertNotIn("warning", out, "the servers' lines were out before the purge")
        self.assertNotEqual(self.sh("dpkg-query -W -f='${db:Status-Status}' tofurkey 2>/dev/null",
                                    check=False).stdout, "installed")
        self.assertEqual(self.links_to_tofurkey(), [], "links to tofurkey's units left")
        self.assertEqual(self.dangling_links(), [], "dangling links left")
        for link in ("nginx.service.wants", "haproxy.service.wants"):
            self.assertIn("tofurkey: removed %s/%s/tofurkey.service" % (LINK_DIRS, link), out)
        self.assertFalse(self.ok("test -e /run/tofurkey"), "/run/tofurkey left")
        self.assertFalse(self.ok("test -e /etc/systemd/system/tofurkey.service.d"), "drop-ins left")
        self.assert_servers_fine()
        # As at the next boot.
        self.sh("systemctl restart nginx haproxy")

    def test_purge_while_configured_warns_and_keeps_the_files(self):
        want = self.server_lines()
        out = self.sh("dpkg --purge tofurkey 2>&1").stdout
        for line in want:
            self.assertIn("tofurkey:   " + line + "\n", out, "not reported")
        self.assertNotIn("old.key", out, "a comment reported")
        self.assertIn("take these lines out", out)
        self.assertIn("/run/tofurkey is kept until the next boot", out)
        # Kept: the servers reload as before the purge.
        self.assertTrue(self.ok("test -s /run/tofurkey/current.key && test -s /run/tofurkey/haproxy.keys"),
                        "/run/tofurkey removed while the servers name its files")
        self.assert_servers_fine()
        self.assertEqual(self.dangling_links(), [], "dangling links left")
        # The fix the warning gives: the lines out, the servers reloaded,
        # the directory removed.
        self.sh("rm %s && sed -i 's| tls-ticket-keys /run/tofurkey/haproxy.keys||' %s && "
                "systemctl reload nginx haproxy && rm -r /run/tofurkey"
                % (readme_nginx_conf()[0], HAPROXY_CFG))
        self.assert_servers_fine()

    def test_remove_drops_requires_links_keeps_wants_links(self):
        self.sh("systemctl add-requires haproxy.service tofurkey.service 2>/dev/null && "
                "systemctl daemon-reload")
        want = self.server_lines()
        out = self.sh("dpkg -r tofurkey 2>&1").stdout
        for line in want:
            self.assertIn("tofurkey:   " + line + "\n", out, "not reported")
        self.assertIn("they are gone at the next boot", out)
        # HAProxy, which required tofurkey.service, starts; its file and
        # nginx's are in /run until the next boot.
        self.assertIn("tofurkey: removed %s/haproxy.service.requires/tofurkey.service" % LINK_DIRS, out)
        r = self.sh("systemctl restart haproxy 2>&1", check=False)
        self.assertEqual(r.returncode, 0, "HAProxy does not start: " + r.stdout)
        self.sh("systemctl restart nginx")
        # nginx's wants link stays (a missing wanted unit is skipped), so
        # a reinstall orders tofurkey before nginx again.
        self.assertIn("%s/nginx.service.wants/tofurkey.service" % LINK_DIRS, self.links_to_tofurkey())
        self.sh("dpkg -i %s >/dev/null" % DEB_INSIDE)
        wants = self.sh("systemctl show nginx.service -p Wants --value").stdout.split()
        self.assertIn("tofurkey.service", wants)
        self.assertEqual(self.sh("systemctl show tofurkey.service -p LoadState --value").stdout.strip(),
                         "loaded")
        # Removed again, and the files gone as at the next boot: the purge
        # names the lines again, whose files are missing.
        self.sh("dpkg -r tofurkey >/dev/null 2>&1 && rm -r /run/tofurkey")
        out = self.sh("dpkg --purge tofurkey 2>&1").stdout
        self.assertIn("which are gone", out)
        for line in want:
            self.assertIn("tofurkey:   " + line + "\n", out, "not reported")


if __name__ == "__main__":
    if not os.path.exists("debian/postrm"):
        sys.exit("run from the repository root")
    require_host()
    # A CI timeout's SIGTERM must still shut the containers down.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    unittest.main(verbosity=2)
