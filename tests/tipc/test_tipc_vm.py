#!/usr/bin/env python3
"""Proves in a real kernel that tofurkey keys a TIPC cluster (issue 25).

This machine's kernel has no TIPC, so the test boots Debian's own
(linux-image-amd64) under qemu with an initramfs it builds: busybox, the
kernel's TIPC and crypto modules, iproute2's `ip` and `tipc` (setup and
observation only), the release tofurkey and tipc_peer (examples/, built here
static). Inside, tests/tipc/scenario.sh makes TIPC nodes in network
namespaces joined by veths, keys each with its own tofurkey run, and prints
`@@` result lines that the cases below judge. One boot serves every case.

    TOFURKEY_BIN=/abs/path/to/tofurkey python3 tests/tipc/test_tipc_vm.py

Needs qemu-system-x86, busybox-static, cpio, iproute2 and linux-image-amd64;
fails, naming the package, when one is missing (a test that did not run
must not pass). Not root: nothing here touches the host's network. The VM
runs about 3 minutes (software emulation). TIPC_VM_CONSOLE=PATH keeps its
console output.
"""

import hashlib
import os
import re
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import vmlab

REPO = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("scenario.sh")
# Modules beyond tipc's own dependencies: the veth, and what gcm(aes) and
# the kernel's rekeying (stdrng) ask for; busybox's modprobe loads them on
# the kernel's request.
MODULES = ["tipc", "veth", "gcm", "ctr", "ghash_generic", "aesni_intel", "ghash_clmulni_intel",
           "drbg", "jitterentropy_rng", "sha512_generic"]
VM_TIMEOUT = 420  # seconds; the scenario takes about 180
INTERVAL = 3600
TR = 1_800_000_000  # the rollover instant, a multiple of INTERVAL
T0 = TR - 1800  # the clock of the runs before it
SKEW = 2  # B's clock behind A's at the rollover: well within INTERVAL / 2


def build_peer():
    """Builds examples/tipc_peer.rs static, with the Makefile's flags (the
    release binary's), and returns its path."""
    flags = subprocess.run(["make", "-s", "--no-print-directory", "--eval",
                            "print-static-flags: ; @echo $(STATIC_FLAGS)", "print-static-flags"],
                           cwd=REPO, capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    triple = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, timeout=60,
                            check=True).stdout.split("host: ")[1].split()[0]
    cargo = os.environ.get("CARGO", "cargo")
    done = subprocess.run([cargo, "build", "--release", "--locked", "--target", triple,
                           "--example", "tipc_peer"], cwd=REPO, capture_output=True, text=True,
                          timeout=900, env=dict(os.environ, RUSTFLAGS=flags))
    if done.returncode != 0:
        raise RuntimeError(f"building examples/tipc_peer.rs failed:\n{done.stderr[-3000:]}")
    peer = REPO / "target" / triple / "release" / "examples" / "tipc_peer"
    if not vmlab.is_static(peer):
        raise RuntimeError(f"{peer} is not static: the initramfs has no C library for it")
    return peer


def boot_scenario(tofurkey, peer):
    """Builds the initramfs, boots it, returns (console, seconds)."""
    with tempfile.TemporaryDirectory() as workdir:
        keys = {name: os.urandom(32) for name in ("main", "next", "other")}
        config = f"INTERVAL={INTERVAL}\nT0={T0}\nTR={TR}\nSKEW={SKEW}\n"
        initrd = vmlab.build_initramfs(
            workdir, MODULES,
            {"tofurkey": tofurkey, "tipc_peer": peer,
             "ip": vmlab.find_program("ip", "iproute2"), "tipc": vmlab.find_program("tipc", "iproute2")},
            SCENARIO.read_text(),
            files={"config": (config.encode(), 0o644),
                   **{f"keys/{name}": (key, 0o600) for name, key in keys.items()}})
        start = time.monotonic()
        console = vmlab.boot(initrd, VM_TIMEOUT)
        return console, time.monotonic() - start


class TipcVmTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        # A misconfigured run must not pass as skipped, so this comes first.
        binary = os.environ.get("TOFURKEY_BIN")
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError(f"TOFURKEY_BIN must name the tofurkey binary to test (got {binary!r})")
        cls.console, seconds = boot_scenario(binary, build_peer())
        if os.environ.get("TIPC_VM_CONSOLE"):  # keeps the console for a reader (it holds no key)
            Path(os.environ["TIPC_VM_CONSOLE"]).write_text(cls.console)
        print(f"\nthe VM ran {seconds:.0f} s", flush=True)
        cls.results = vmlab.results(cls.console)
        names = [name for name, _ in cls.results]
        if "end" not in names:
            raise AssertionError("the scenario did not finish; the end of the console:\n" + cls.console[-6000:])

    def result(self, name):
        """The fields of the one result line NAME, as ints where they are numbers."""
        found = [fields for n, fields in self.results if n == name]
        self.assertEqual(len(found), 1, f"expected one '@@ {name}' line, got {len(found)}:\n{self.console[-4000:]}")
        return {k: int(v) if v.lstrip("-").isdigit() else v for k, v in found[0].items()}

    def key_runs(self, ns, now=None):
        """The tofurkey runs in namespace NS (at time NOW), in order."""
        return [{k: int(v) for k, v in fields.items() if k != "ns"}
                for n, fields in self.results
                if n == "key" and fields["ns"] == ns and (now is None or int(fields["now"]) == now)]

    def assert_run_ok(self, ns, now):
        runs = self.key_runs(ns, now)
        self.assertTrue(runs, f"no tofurkey run in {ns} at {now}")
        for run in runs:
            self.assertEqual((run["rc"], run["errors"]), (0, 0), f"tofurkey in {ns} at {now} failed: "
                             + "\n".join(line for line in self.console.splitlines() if line.startswith("## tofurkey")))

    def assert_flow(self, name, sent):
        """Every one of SENT messages came back, with no link going down."""
        flow = self.result(name)
        self.assertEqual(flow["reachable"], 1, f"{name}: B's service never answered: {flow}")
        self.assertEqual((flow["sent"], flow["echoed"], flow["lost"], flow["errors"]), (sent, sent, 0, 0),
                         f"{name}: messages lost: {flow}")
        self.assertEqual((flow["link_down"], flow["link_up"]), (0, 0), f"{name}: a link went down: {flow}")
        return flow

    def test_absent_tipc_module_is_one_error_and_tfo_still_set(self):
        run, = self.key_runs("f1")
        self.assertEqual((run["rc"], run["errors"], run["tipc_named"]), (1, 1, 1),
                         "without the tipc module: exit 1 and one error line naming TIPC")
        absent = self.result("absent_module")
        self.assertEqual(absent["tipc_loaded"], 0, "the tipc module was loaded after all: the case proves nothing")
        self.assertEqual(absent["tfo_set"], 1, "the TFO key was not set")
        self.assertEqual(self.result("absent_tfo")["same_as_without_tipc"], 1,
                         "the TFO key differs from a run without --tipc")

    def test_tipc_without_node_identity_is_one_error_and_tfo_still_set(self):
        run, = self.key_runs("f2")
        self.assertEqual((run["rc"], run["errors"], run["tipc_named"]), (1, 1, 1),
                         "without a node identity: exit 1 and one error line naming TIPC")
        self.assertEqual(self.result("absent_identity")["tfo_set"], 1, "the TFO key was not set")

    def test_messages_flow_and_the_link_is_encrypted(self):
        # The control: unkeyed, the capture sees the marker in the frames.
        plain = self.result("plain_capture")
        self.assertGreaterEqual(plain["marker_frames"], 200, f"unkeyed, the capture missed the plaintext: {plain}")
        self.assert_flow("plain_send", 200)
        self.assert_run_ok("a", T0)
        self.assert_run_ok("b", T0)
        keyed = self.result("keyed_capture")
        self.assertGreaterEqual(keyed["tipc_frames"], 200, f"keyed, the messages did not cross the veth: {keyed}")
        self.assertEqual(keyed["marker_frames"], 0, f"keyed, the plaintext is on the wire: {keyed}")
        self.assert_flow("keyed_send", 200)

    def test_a_node_keyed_from_another_main_key_cannot_join(self):
        other = self.result("key_other")
        self.assertEqual((other["rc"], other["errors"]), (0, 0), "tofurkey failed with the other main key")
        foreign = self.result("foreign_send")
        self.assertEqual(foreign["reachable"], 0, f"C, keyed from another main key, reached B: {foreign}")
        self.assertEqual(self.result("foreign_links"), {"b_to_c": 0, "c_to_b": 0}, "a link to C came up")
        # The control: the same node keyed from the cluster's key joins.
        self.assertEqual(self.result("member_send")["reachable"], 1, "C did not join once keyed from the main key")
        self.assert_flow("member_send", 20)

    def test_the_kernel_rekeys_despite_timer_runs(self):
        # --tipc-rekeying 1 given on every run: were the interval set again
        # each time, the kernel would restart its timer and never rekey.
        keys = self.result("rekeyed")
        self.assertGreaterEqual(keys["tx"], 2, f"not both nodes switched to a new session key: {keys}")
        self.assertGreaterEqual(keys["rx"], 2, f"not both nodes took their peer's new key: {keys}")
        self.assertEqual(self.result("rekeyed_capture")["marker_frames"], 0, "plaintext after the rekeying")
        self.assert_flow("rekeyed_send", 200)

    def test_repeated_runs_disturb_nothing(self):
        for ns in ("a", "b"):
            runs = [r for r in self.key_runs(ns) if T0 + 10 <= r["now"] < TR - SKEW]
            self.assertEqual(len(runs), 21, f"expected 21 runs in {ns} while messages flowed")
            for run in runs:
                self.assert_run_ok(ns, run["now"])
        self.assert_flow("repeat_send", 8500)

    def test_rollover_loses_nothing_on_established_links(self):
        self.assert_run_ok("a", TR)
        self.assert_run_ok("b", TR - SKEW)
        self.assert_run_ok("b", TR)
        self.assert_flow("rollover_send", 2500)

    def test_rollover_mixed_period_keeps_new_links_out(self):
        # A link made while the two ends are on either side of TR does not
        # come up; it does once both are past TR.
        self.assert_run_ok("c", TR - SKEW)
        mixed = self.result("mixed_new_link")
        self.assertEqual(mixed["reachable"], 0, f"C on the old key linked to B on the next: {mixed}")
        self.assert_run_ok("c", TR)
        after = self.assert_flow("after_new_link", 20)
        print(f"\nthe new link came up {after['wait_ms']} ms after C's switch", flush=True)

    def test_a_key_in_place_is_not_set_again(self):
        # Setting it again would restart its nonces: the stamp says it is
        # there. A's runs: set at T0; in place through the 21 timer runs;
        # set again at TR, where the next main key's master key takes over.
        runs = self.key_runs("a")
        self.assertEqual((runs[0]["now"], runs[0]["set"], runs[0]["in_place"]), (T0, 1, 0), runs[0])
        repeated = [r for r in runs if T0 < r["now"] < TR]
        self.assertEqual(len(repeated), 21, runs)
        self.assertEqual({(r["set"], r["in_place"]) for r in repeated}, {(0, 1)}, repeated)
        at_tr = [r for r in runs if r["now"] == TR]
        self.assertEqual([(r["set"], r["in_place"]) for r in at_tr], [(1, 0)], at_tr)

    def test_a_namespace_made_again_gets_the_key_again(self):
        # Its stamp is named by the namespace's cookie, never reused: the
        # new namespace's TIPC, which holds no key, gets it.
        runs = self.key_runs("g")
        self.assertEqual([(r["rc"], r["set"]) for r in runs[:2]], [(0, 1), (0, 1)], runs)

    def test_a_stamp_directory_others_can_change_is_refused(self):
        # Whoever could write a stamp could stop the key being set.
        loose = self.key_runs("g")[2]
        self.assertEqual((loose["rc"], loose["errors"], loose["tipc_named"], loose["set"]), (1, 1, 1, 0), loose)
        self.assertEqual(self.result("loose_stamp_dir")["named"], 1)


class DocumentedVectorTest(unittest.TestCase):
    """docs/DESIGN.md's TIPC key vector, computed again here from its words
    with Python's own BLAKE2b: an implementation that is not tofurkey's."""

    def test_the_documented_vector_is_the_kdf_it_describes(self):
        design = (REPO / "docs" / "DESIGN.md").read_text()
        start = design.index("\n### TIPC's master key\n")
        vector = re.search(r"^tipc key ([0-9a-f ]+)\ntipc id +([0-9a-f]+)$", design[start:], re.M)
        self.assertIsNotNone(vector, "no 'tipc key'/'tipc id' lines under docs/DESIGN.md's TIPC master key")
        key, tipc_id = vector[1].replace(" ", ""), vector[2]
        main = bytes.fromhex("363ec6a05e76eedeb9eb73bc5c25ca5f13f7c1df70c9af3531db4c83d23a8f6b")
        salt = (0).to_bytes(8, "little") + bytes(8)
        aes = hashlib.blake2b(b"", digest_size=32, key=main, salt=salt, person=b"tofurkey-tipckey").digest()
        tipc_salt = hashlib.blake2b(b"", digest_size=16, key=main, salt=salt,
                                    person=b"tofurkey-tipcslt").digest()[:4]
        self.assertEqual(key, (aes + tipc_salt).hex(), "docs/DESIGN.md's TIPC key vector")
        self.assertEqual(tipc_id, hashlib.blake2b(aes + tipc_salt, digest_size=8, person=b"tofurkey-tipcid").hexdigest())


if __name__ == "__main__":
    unittest.main(verbosity=2)
