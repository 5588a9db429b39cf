#!/usr/bin/env python3
"""Proves against the real kernel that a main-key rollover keeps a TFO cluster whole.

Hosts configured with (current key, next key, T) derive counter m's key from
the next main key when m >= T / I, else from the current one (README,
"Replacing the main key"). A cookie from host A is presented to host B, as in
test_tfo_cluster.py (whose lab, schedule and counters this reuses); every
expected verdict comes from the rule below, and the rule is checked to keep
what the rollover promises:

- two rollover hosts accept each other's cookies across [T - 2I, T + 2I]
  whenever their clocks differ by less than I / 2;
- before T - I a rollover host and a host with the current key alone accept
  each other's cookies, from T + I on a rollover host and a host with the
  next key alone do;
- a host with the current key alone and one with the next key alone never do.

    TOFURKEY_BIN=/abs/path/to/tofurkey python3 tests/kernel/test_tfo_rollover.py

Needs root (namespaces, procfs keys); fails without it. Never prints key
material: failures show counters and times only.
"""

import os
import unittest
from typing import NamedTuple

import test_tfo_cluster as cluster
from test_tfo_cluster import EXPECTED_COUNTERS, HALF, INTERVAL, predicted_match

I = INTERVAL
T = cluster.EPOCH + 100 * I  # --next-key-at: a multiple of I
FIRST = T // I  # the first counter the next key derives
ROLLOVER = "rollover"  # what a host holds: (current, next, T), or "current" or "next" alone
WINDOW = (T - 2 * I, T + 2 * I)
# B's clock minus A's: every skew below I / 2 in the window (it is cheap);
# the largest either way and none on each side of it.
WINDOW_SKEWS = range(-(HALF - 1), HALF)
SIDE_SKEWS = (-(HALF - 1), 0, HALF - 1)


# --- The rule (README, "Replacing the main key"), the source of every expected verdict ---

class Clock(NamedTuple):
    """What a host computes its keys from: which main keys it holds, at what time."""
    host: str  # the lab's host: "A" or "B"
    holds: str  # ROLLOVER, "current" or "next"
    now: int

    def key_for(self, counter):
        """What this host derives counter's key from: (main key, counter)."""
        if self.holds == ROLLOVER:
            return ("next" if counter >= FIRST else "current"), counter
        return self.holds, counter

    def tofurkey_args(self, main_keys):
        """The options that give tofurkey this host's main keys (files by name)."""
        if self.holds == ROLLOVER:
            return ["-k", str(main_keys["current"]), "--next-key", str(main_keys["next"]),
                    "--next-key-at", str(T)]
        return ["-k", str(main_keys[self.holds])]

    def __str__(self):
        return f"{self.host} ({self.holds}) at T{self.now - T:+d}"


def promise(issuer, checker):
    """What the rollover promises for a cookie from issuer checked by checker:
    "accepted", "rejected", or None where it promises nothing (the rule decides)."""
    holds = {issuer.holds, checker.holds}
    close = abs(issuer.now - checker.now) < HALF
    if holds == {"current", "next"}:
        return "rejected"
    if not close:
        return None
    if holds == {ROLLOVER} and WINDOW[0] <= issuer.now <= WINDOW[1]:
        return "accepted"
    if holds == {ROLLOVER, "current"} and issuer.now < T - I:
        return "accepted"
    if holds == {ROLLOVER, "next"} and issuer.now >= T + I:
        return "accepted"
    return None


def verdict(match):
    """A checker's match as the promises word it."""
    return "rejected" if match == "neither" else "accepted"


# --- The cases ---

def points(low, high):
    """Times in [low, high]: every half-interval boundary (T - I, T, T + I
    among them) and the seconds just before and after each."""
    first = -(-low // HALF) * HALF
    return sorted({edge + step for edge in range(first, high + 1, HALF) for step in (-1, 0, 1)
                   if low <= edge + step <= high})


def window_cases():
    """(issuer, checker): A and B both with the rollover, A's clock across
    the window, B's less than I / 2 off."""
    for a in points(*WINDOW):
        for skew in WINDOW_SKEWS:
            yield Clock("A", ROLLOVER, a), Clock("B", ROLLOVER, a + skew)


def one_key_cases():
    """(issuer, checker), both ways: a rollover host and a host with one key
    alone, from the side of the window where they agree into the window where
    they part; and the two one-key hosts."""
    for alone, low, high in (("current", WINDOW[0], T + HALF), ("next", T - HALF, WINDOW[1])):
        for a in points(low, high):
            for skew in SIDE_SKEWS:
                yield Clock("A", ROLLOVER, a), Clock("B", alone, a + skew)
                yield Clock("A", alone, a), Clock("B", ROLLOVER, a + skew)
    for a in (WINDOW[0], T - I, T - 1, T, T + I, WINDOW[1]):
        for skew in SIDE_SKEWS:
            yield Clock("A", "current", a), Clock("B", "next", a + skew)
            yield Clock("A", "next", a), Clock("B", "current", a + skew)


class RuleTest(unittest.TestCase):
    """The rule and the case tables, without the kernel."""

    def test_the_rule_keeps_every_promise(self):
        """Every second from T - 3I to T + 3I, every skew below I / 2, every pair of holdings."""
        holdings = (ROLLOVER, "current", "next")
        promised = set()
        for a in range(T - 3 * I, T + 3 * I + 1):
            for skew in range(-(HALF - 1), HALF):
                for issuer_holds in holdings:
                    for checker_holds in holdings:
                        issuer = Clock("A", issuer_holds, a)
                        checker = Clock("B", checker_holds, a + skew)
                        expected = promise(issuer, checker)
                        if expected is not None:
                            promised.add((issuer_holds, checker_holds))
                            self.assertEqual(verdict(predicted_match(issuer, checker)), expected,
                                             f"cookie from {issuer} checked by {checker}")
        # Every pair of holdings but current-current and next-next is promised something.
        self.assertEqual(len(promised), 7, "a promise was never checked")

    def test_cases_cover_every_verdict(self):
        """Guards the case tables: acceptance with each key, and rejection where the rule rejects."""
        window = {predicted_match(issuer, checker) for issuer, checker in window_cases()}
        self.assertEqual(window, {"primary", "backup"})
        one_key = {predicted_match(issuer, checker) for issuer, checker in one_key_cases()}
        self.assertEqual(one_key, set(EXPECTED_COUNTERS))

    def test_window_cases_fail_without_the_rollover(self):
        """The window cases would catch a host B that ignored its next key (or held it alone)."""
        for alone in ("current", "next"):
            with self.subTest(B=alone):
                rejected = [a for a, b in window_cases()
                            if predicted_match(a, b._replace(holds=alone)) == "neither"]
                self.assertTrue(rejected, f"no window case tells B with {alone} alone from a rollover")


class TfoRolloverTest(cluster.KernelLab, unittest.TestCase):
    NAME_PREFIX = f"tofurkey-rollover-{os.getpid()}"
    MAIN_KEYS = ("current", "next")

    def assert_cases(self, cases):
        for issuer, checker in cases:
            with self.subTest(f"cookie from {issuer} checked by {checker}"):
                expected = promise(issuer, checker)
                if expected is not None:
                    self.assertEqual(verdict(predicted_match(issuer, checker)), expected,
                                     "the rule breaks the rollover's promise")
                self.assert_verdict(issuer, checker)

    def test_two_rollover_hosts_accept_each_other_across_the_window(self):
        self.assert_cases(window_cases())

    def test_one_key_hosts_on_each_side_of_the_window(self):
        self.assert_cases(one_key_cases())


if __name__ == "__main__":
    cluster.main(TfoRolloverTest.NAME_PREFIX)
