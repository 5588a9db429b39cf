"""Boot a real systemd in a throw-away container, for the unit tests.

systemd-nspawn --boot runs a debootstrapped Debian tree with a writable
overlay on top (the tree stays pristine and is cached between runs), its
own network namespace (so it has its own tcp_fastopen_key) and a read-only
view of a host directory at /run/host-x. Commands run inside via nsenter.
Everything is undone by stop(), which is safe to call on a half-started
container.
"""

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time

SUITE = "bookworm"
# Bump the tag when the package list changes, so a stale cached tree is not used.
# nginx-light, haproxy and openssl: the ticket key tests run the real
# servers under their Debian units, with a real TLS client; procps has the
# /bin/kill that haproxy.service reloads with; iproute2 makes the named
# network namespaces of tofurkey@.service.
PACKAGES = "systemd,systemd-sysv,dbus,procps,iproute2,nginx-light,haproxy,openssl"
TREE_TAG = "bookworm-minbase-4"
CACHE = os.environ.get("TOFURKEY_TEST_CACHE", "/var/cache/tofurkey-test")
HOST_DIR_INSIDE = "/run/host-x"
PATH_INSIDE = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"


class SetupError(RuntimeError):
    """The test cannot run here; the message says why."""


def require_host():
    if os.geteuid() != 0:
        raise SetupError("must run as root (boots a container with systemd-nspawn)")
    missing = [t for t in ("systemd-nspawn", "debootstrap", "nsenter", "unshare")
               if shutil.which(t) is None]
    if missing:
        raise SetupError("missing %s; install the Debian packages "
                         "systemd-container debootstrap util-linux" % ", ".join(missing))


def debian_mirror():
    """The host's own Debian mirror (so a local or snapshot mirror is reused)."""
    if os.environ.get("TOFURKEY_TEST_MIRROR"):
        return os.environ["TOFURKEY_TEST_MIRROR"]
    with contextlib.suppress(OSError):
        with open("/etc/apt/sources.list.d/debian.sources") as f:
            for line in f:
                if line.startswith("URIs:"):
                    return line.split()[1]
    return "http://deb.debian.org/debian"


def ensure_tree(log):
    """Path of the cached Debian tree, debootstrapping it on first use."""
    os.makedirs(CACHE, exist_ok=True)
    tree = os.path.join(CACHE, TREE_TAG)
    with open(os.path.join(CACHE, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be building it
        if os.path.isdir(tree):
            return tree
        tmp = tempfile.mkdtemp(prefix="new-", dir=CACHE)
        try:
            log("debootstrap %s into %s (first run only)" % (SUITE, tree))
            # Two stages: the first downloads and unpacks; the second, which
            # configures the packages, runs with a policy-rc.d that forbids
            # starting services and in a network namespace of its own, so
            # that no nginx or HAProxy ever starts on the host.
            subprocess.run(
                ["debootstrap", "--foreign", "--variant=minbase", "--include=" + PACKAGES,
                 SUITE, tmp, debian_mirror()],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                timeout=600)
            policy = os.path.join(tmp, "usr/sbin/policy-rc.d")
            with open(policy, "w") as f:
                f.write("#!/bin/sh\nexit 101\n")
            os.chmod(policy, 0o755)
            subprocess.run(
                ["unshare", "--net", "--mount", "--pid", "--fork", "--propagation", "private",
                 "chroot", tmp, "/debootstrap/debootstrap", "--second-stage"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                timeout=900)
            # (debootstrap removes its own policy-rc.d, which is ours too.)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(policy)
            archives = os.path.join(tmp, "var/cache/apt/archives")
            for name in os.listdir(archives):
                if name.endswith(".deb"):
                    os.unlink(os.path.join(archives, name))
            os.rename(tmp, tree)
        except subprocess.CalledProcessError as e:
            raise SetupError("debootstrap failed:\n" + e.stderr.decode(errors="replace"))
        finally:
            if os.path.exists(tmp):
                shutil.rmtree(tmp)
    return tree


def cgroup_roots():
    """Mount points of the hierarchies where systemd places processes."""
    hybrid = [p for p in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd")
              if os.path.ismount(p)]
    if hybrid:
        return hybrid
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return ["/sys/fs/cgroup"]
    raise SetupError("no cgroup2 or name=systemd hierarchy under /sys/fs/cgroup")


class Container:
    count = 0   # containers started by this process, for unique cgroup names

    def __init__(self, host_dir, log=print, nspawn_args=()):
        self.host_dir = host_dir
        self.nspawn_args = list(nspawn_args)
        self.log = log
        self.nspawn = None
        self.pid1 = None
        self.cgroups = []
        self.console = None

    # -- life cycle ------------------------------------------------------

    def start(self):
        require_host()
        tree = ensure_tree(self.log)
        # nspawn with --keep-unit creates payload/ and supervisor/ below its
        # own cgroup: give it a leaf of its own that we can remove afterwards.
        Container.count += 1
        name = "tofurkey-test-%d-%d" % (os.getpid(), Container.count)
        for root in cgroup_roots():
            path = os.path.join(root, name)
            os.mkdir(path)
            self.cgroups.append(path)
        self.console = tempfile.TemporaryFile()
        # A private mount namespace with a tmpfs on /run: nspawn leaves
        # state under /run/systemd/nspawn, which must not land on the host.
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               'mount -t tmpfs -o mode=0755 tmpfs /run && exec "$@"', "sh",
               "systemd-nspawn", "--quiet", "-D", tree, "--boot",
               "--machine=" + name,               # unique: another run may boot one too
               "--private-network",               # own netns, own TFO key
               "--capability=CAP_IPC_LOCK",       # as on a host: mlockall works
               # As on a host, the clock's state can be read (adjtimex with no
               # modes); setting it needs CAP_SYS_TIME, which stays out.
               "--system-call-filter=adjtimex clock_adjtime",
               "--register=no", "--keep-unit",    # no systemd on the host
               "--console=read-only",
               "--volatile=overlay",              # keep the cached tree pristine
               "--bind-ro=%s:%s" % (self.host_dir, HOST_DIR_INSIDE),
               *self.nspawn_args]
        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
        self.nspawn = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=self.console,
            stderr=subprocess.STDOUT, preexec_fn=self._enter_cgroups)
        self.pid1 = self._wait_for_pid1()
        self._wait_running()

    def _enter_cgroups(self):
        for path in self.cgroups:
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write("0")

    def _wait_for_pid1(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise SetupError("systemd-nspawn exited with %d:\n%s"
                                 % (self.nspawn.returncode, self.console_text()))
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                with contextlib.suppress(OSError):
                    with open("/proc/%s/stat" % pid) as f:
                        stat = f.read()
                    comm = stat[stat.index("(") + 1:stat.rindex(")")]
                    ppid = int(stat[stat.rindex(")") + 2:].split()[1])
                    if ppid == self.nspawn.pid and comm == "systemd":
                        return int(pid)
            time.sleep(0.05)
        raise SetupError("no container init after %d s:\n%s" % (timeout, self.console_text()))

    def _wait_running(self, timeout=60):
        # Until PID 1 has its bus socket, systemctl fails to connect: poll.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.run("systemctl", "is-system-running", "--wait", check=False, timeout=timeout)
            state = r.stdout.strip()
            if state == "running":
                return
            if state == "degraded":
                failed = self.run("systemctl", "--failed", "--no-legend", check=False).stdout
                self.log("container is degraded:\n" + failed)
                return
            time.sleep(0.1)
        raise SetupError("container did not reach running:\n" + self.console_text())

    def stop(self):
        """Shut the container down and remove what start() created."""
        errors = []
        if self.nspawn is not None and self.nspawn.poll() is None:
            if self.pid1:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.run("systemctl", "poweroff", check=False, timeout=10)
            # poweroff, then SIGTERM to nspawn, then SIGKILL to the container's
            # init (which kills its whole pid namespace).
            for sig, wait in ((None, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                if sig == signal.SIGTERM:
                    self.nspawn.send_signal(sig)
                elif sig == signal.SIGKILL:
                    with contextlib.suppress(ProcessLookupError, TypeError):
                        os.kill(self.pid1, sig)
                    self.nspawn.kill()
                try:
                    self.nspawn.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    self.log("container still up after %d s" % wait)
            else:
                errors.append("container did not stop")
        for path in self.cgroups:
            for dirpath, _, _ in sorted(os.walk(path), key=lambda w: -w[0].count("/")):
                try:
                    os.rmdir(dirpath)
                except OSError as e:
                    errors.append("cannot remove cgroup %s: %s" % (dirpath, e))
        self.cgroups = []
        if self.console:
            self.console.close()
            self.console = None
        self.nspawn = self.pid1 = None
        return errors

    def console_text(self):
        if not self.console:
            return ""
        self.console.seek(0)
        return self.console.read().decode(errors="replace")[-4000:]

    # -- commands inside -------------------------------------------------

    def run(self, *cmd, check=True, input=None, timeout=60, binary=False):
        """Run cmd inside the container. input is bytes; stdout and stderr
        come back as str, or bytes with binary=True."""
        full = ["nsenter", "-t", str(self.pid1), "-a", "-r", "-w",
                "env", "-i", PATH_INSIDE, "LANG=C.UTF-8", "SYSTEMD_COLORS=0",
                "SYSTEMD_PAGER=", *cmd]
        r = subprocess.run(full, input=input, capture_output=True, timeout=timeout)
        if not binary:
            r.stdout, r.stderr = (b.decode(errors="replace") for b in (r.stdout, r.stderr))
        if check and r.returncode != 0:
            raise AssertionError("inside: %s: exit %d\nstdout: %s\nstderr: %s"
                                 % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
        return r

    def sh(self, script, *args, **kw):
        return self.run("sh", "-ec", script, "sh", *args, **kw)

    def read(self, path, binary=False):
        return self.run("cat", path, binary=binary).stdout

    def write(self, path, data, mode="0600"):
        """Create path (and its directory) inside, with data (bytes) and mode."""
        self.sh('mkdir -p "$(dirname "$1")"; umask 077; cat > "$1"; chmod "$2" "$1"',
                path, mode, input=data)
