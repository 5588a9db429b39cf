"""A throw-away VM running Debian's own kernel, for what this machine's
kernel lacks (TIPC).

Builds an initramfs in a temporary directory: busybox, the kernel modules
asked for with their dependencies (and a modules.dep, modules.alias and
busybox's modprobe at /sbin/modprobe, so that the kernel's request_module
finds the crypto templates it wants), iproute2's `ip` and `tipc` with their
shared libraries, the static programs given, and a scenario script that
/init runs. Boots it under qemu with software emulation (KVM cannot run this
kernel on these machines) and returns the console output. Every missing part
is an error naming the Debian package that provides it.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

# The machine's own kernel, found as Debian installs it.
BOOT = Path("/boot")
MODULES = Path("/lib/modules")


class Missing(RuntimeError):
    """Something the VM needs is not installed; the message names the package."""


def version_key(version):
    """Sorts kernel versions numerically: 6.1.0-57 after 6.1.0-9."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", version)]


def find_kernel():
    """The newest installed kernel: (vmlinuz path, its modules directory)."""
    versions = sorted((p.name.removeprefix("vmlinuz-") for p in BOOT.glob("vmlinuz-*")), key=version_key)
    for version in reversed(versions):
        kernel, modules = BOOT / f"vmlinuz-{version}", MODULES / version
        if os.access(kernel, os.R_OK) and (modules / "modules.dep").is_file():
            return kernel, modules
    raise Missing("no /boot/vmlinuz-* readable by this user with its /lib/modules/VERSION/modules.dep: "
                  "install linux-image-amd64")


def find_program(name, package):
    """A program's path on PATH (and the sbin directories)."""
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not path:
        raise Missing(f"{name} not found: install {package}")
    return path


def is_static(path):
    """True when an ELF file has no program interpreter (PT_INTERP): a
    static binary, which needs no loader in the initramfs."""
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:  # 64-bit ELF only
        return False
    phoff = int.from_bytes(data[32:40], "little")
    phentsize = int.from_bytes(data[54:56], "little")
    phnum = int.from_bytes(data[56:58], "little")
    return all(int.from_bytes(data[phoff + i * phentsize:phoff + i * phentsize + 4], "little") != 3
               for i in range(phnum))


def static_busybox():
    """busybox-static's binary (Debian's dynamic busybox has the same path)."""
    for path in ("/bin/busybox", "/usr/bin/busybox"):
        if os.access(path, os.X_OK) and is_static(path):
            return path
    raise Missing("no static /bin/busybox: install busybox-static")


def shared_libraries(program):
    """The shared libraries and the loader a dynamic program needs (ldd)."""
    done = subprocess.run(["ldd", program], capture_output=True, text=True, timeout=10, check=True)
    return sorted(set(re.findall(r"(/\S+) \(0x", done.stdout)))


def module_closure(modules_dir, names):
    """The .ko paths (relative to modules_dir) of the named modules and
    everything they depend on, and modules.dep's lines for them."""
    deps = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        path, _, needs = line.partition(":")
        deps[path] = needs.split()
    by_name = {Path(p).name.split(".ko")[0].replace("-", "_"): p for p in deps}
    wanted, todo = set(), []
    for name in names:
        path = by_name.get(name.replace("-", "_"))
        if path is None:
            raise Missing(f"kernel module {name} is not in {modules_dir}: install linux-image-amd64")
        todo.append(path)
    while todo:
        path = todo.pop()
        if path not in wanted:
            wanted.add(path)
            todo.extend(deps[path])
    return sorted(wanted), [f"{p}: {' '.join(deps[p])}".rstrip() for p in sorted(wanted)]


def copy_module(source, target):
    """Copies a module, decompressed: busybox's insmod reads plain .ko files."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.suffix == ".xz":
        with open(target.with_suffix(""), "wb") as out:
            subprocess.run(["xz", "-dc", str(source)], stdout=out, check=True, timeout=60)
    else:
        shutil.copy2(source, target)


INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
# The programs given come first: busybox has an `ip` of its own.
export PATH=/usr/bin:/bin:/sbin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/netns /var && ln -s /run /var/run
echo "@@ boot ok"
sh /scenario.sh
echo "@@ scenario exit=$?"
poweroff -f
"""


def build_initramfs(workdir, modules, programs, scenario, files=None):
    """Writes workdir/initrd.gz; returns its path.

    modules: module names to include (with their dependencies);
    programs: {name in /usr/bin: host path}, static or dynamic;
    scenario: the text of /scenario.sh;
    files: {path under /: (bytes, mode)}, e.g. keys (owned by root in the VM)."""
    kernel, modules_dir = find_kernel()
    root = Path(workdir, "root")
    for d in ("bin", "sbin", "usr/bin", "proc", "sys", "run", "tmp", "dev", "etc"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(static_busybox(), root / "bin/busybox")
    # The kernel's request_module runs /sbin/modprobe.
    os.symlink("/bin/busybox", root / "sbin/modprobe")

    paths, dep_lines = module_closure(modules_dir, modules)
    target_modules = root / "lib/modules" / modules_dir.name
    for path in paths:
        copy_module(modules_dir / path, target_modules / path)
    (target_modules / "modules.dep").write_text(
        "\n".join(line.replace(".ko.xz", ".ko") for line in dep_lines) + "\n")
    # Only the aliases of the modules that are here: busybox's modprobe
    # would otherwise try modules that are not.
    names = {Path(p).name.split(".ko")[0].replace("-", "_") for p in paths}
    aliases = [line for line in (modules_dir / "modules.alias").read_text().splitlines()
               if line.startswith("alias ") and line.split()[-1].replace("-", "_") in names]
    (target_modules / "modules.alias").write_text("\n".join(aliases) + "\n")

    for name, source in programs.items():
        shutil.copy2(source, root / "usr/bin" / name)
        # A dynamic program needs its libraries and the loader; a static one
        # or a script (busybox's sh runs it) nothing.
        if Path(source).read_bytes()[:4] == b"\x7fELF" and not is_static(source):
            for lib in shared_libraries(source):
                dest = root / lib.lstrip("/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(lib, dest)
    (root / "init").write_text(INIT)
    (root / "init").chmod(0o755)
    (root / "scenario.sh").write_text(scenario)
    for name, (data, mode) in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=mode)
        path.chmod(mode)
        path.write_bytes(data)

    cpio = find_program("cpio", "cpio")
    initrd = Path(workdir, "initrd.gz")
    listing = subprocess.run(["find", "."], cwd=root, capture_output=True, check=True, timeout=60).stdout
    # -R 0:0: root owns everything in the VM, the keys too (tofurkey trusts
    # a key file of root's), whoever built it.
    archive = subprocess.run([cpio, "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=root, input=listing,
                             capture_output=True, check=True, timeout=120).stdout
    with open(initrd, "wb") as out:
        subprocess.run(["gzip", "-1"], input=archive, stdout=out, check=True, timeout=120)
    return initrd


def boot(initrd, timeout, memory_mb=512):
    """Boots the newest kernel with the initramfs; returns its console output.
    Raises TimeoutError (with the output so far) if it does not power off in
    time, the VM being killed."""
    kernel, _ = find_kernel()
    qemu = find_program("qemu-system-x86_64", "qemu-system-x86")
    # -accel tcg: KVM stops this kernel at once with an emulation failure on
    # these machines; -cpu max gives the emulated CPU AES-NI and PCLMUL.
    argv = [qemu, "-accel", "tcg", "-cpu", "max", "-m", str(memory_mb), "-smp", "1",
            "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyS0 quiet panic=-1 oops=panic"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise TimeoutError(f"the VM did not power off within {timeout} s; its console:\n"
                           + (e.stdout or b"").decode(errors="replace")[-4000:]) from None
    return done.stdout.decode(errors="replace")


def results(console):
    """The scenario's result lines: `@@ NAME key=value ...` -> list of
    (NAME, {key: value}), in order."""
    found = []
    for line in console.splitlines():
        line = line.strip()
        if line.startswith("@@ "):
            words = line[3:].split()
            if words:
                found.append((words[0], dict(w.split("=", 1) for w in words[1:] if "=" in w)))
    return found
