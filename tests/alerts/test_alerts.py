#!/usr/bin/env python3
"""The README's Prometheus alert rules, as written, judged by Prometheus's
own rule engine (promtool, Debian package prometheus): each rule fires where
it should and stays silent where it should, on series named as a real
tofurkey run names them.

    TOFURKEY_BIN=/abs/path/to/tofurkey python3 tests/alerts/test_alerts.py

Fails, naming the package, without promtool. Touches only a temp dir.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
I = 3600  # the fleet's interval in the series below
T = 1800  # a rollover at 30 min (promtool's clock starts at 0)

# Each rule's cases: the series (2 hosts, a and b), when to evaluate, and
# the alerts expected then (their labels beyond alertname).
CASES = {
    "TofurkeyKeysDiffer": [
        # The same keys, then b's differ from minute 10: firing only after `for: 2m`.
        ({'tofurkey_keys_info{instance="a",keys_id="k1",main_key_id="m",interval="3600"}': "1x30",
          'tofurkey_keys_info{instance="b",keys_id="k1",main_key_id="m",interval="3600"}': "1x9 _x21",
          'tofurkey_keys_info{instance="b",keys_id="k2",main_key_id="m",interval="3600"}': "_x10 1x20"},
         [("5m", []), ("11m", []), ("13m", [{"interval": "3600"}])]),
    ],
    "TofurkeyStale": [
        # a succeeded at 0 and never again; b at every minute.
        ({'tofurkey_last_success_timestamp_seconds{instance="a"}': "0x200",
          'tofurkey_last_success_timestamp_seconds{instance="b"}': "0+60x200",
          'tofurkey_interval_seconds{instance="a"}': "3600x200",
          'tofurkey_interval_seconds{instance="b"}': "3600x200"},
         [("30m", []), ("36m", [{"instance": "a"}])]),
    ],
    "TofurkeyFailing": [
        ({'tofurkey_last_run_success{instance="a"}': "1x10",
          'tofurkey_last_run_success{instance="b"}': "1x4 0x5"},
         [("3m", []), ("6m", [{"instance": "b"}])]),
    ],
    "TofurkeyClockNotSynchronized": [
        ({'tofurkey_clock_synchronized{instance="a"}': "1x10",
          'tofurkey_clock_synchronized{instance="b"}': "0x10",
          'tofurkey_clock_synchronized{instance="c"}': "-1x10"},
         [("5m", [{"instance": "b"}, {"instance": "c"}])]),
    ],
    "TofurkeyNotReadyForRollover": [
        # Both hosts hold the fleet's next key: silent.
        ({**{f'tofurkey_interval_seconds{{instance="{h}"}}': "3600x60" for h in "ab"},
          **{f'tofurkey_rollover_timestamp_seconds{{instance="{h}"}}': f"{T}x60" for h in "ab"},
          **{f'tofurkey_next_key_info{{instance="{h}",main_key_id="n1"}}': "1x60" for h in "ab"}},
         [("10m", [])]),
        # b has no next key: firing within an interval of T.
        ({**{f'tofurkey_interval_seconds{{instance="{h}"}}': "3600x60" for h in "ab"},
          'tofurkey_rollover_timestamp_seconds{instance="a"}': f"{T}x60",
          'tofurkey_next_key_info{instance="a",main_key_id="n1"}': "1x60"},
         [("10m", [{}])]),
        # b has another next key.
        ({**{f'tofurkey_interval_seconds{{instance="{h}"}}': "3600x60" for h in "ab"},
          **{f'tofurkey_rollover_timestamp_seconds{{instance="{h}"}}': f"{T}x60" for h in "ab"},
          'tofurkey_next_key_info{instance="a",main_key_id="n1"}': "1x60",
          'tofurkey_next_key_info{instance="b",main_key_id="n2"}': "1x60"},
         [("10m", [{}])]),
        # b has no next key, but T is more than an interval away: silent.
        ({**{f'tofurkey_interval_seconds{{instance="{h}"}}': "3600x60" for h in "ab"},
          'tofurkey_rollover_timestamp_seconds{instance="a"}': f"{T + 2 * I}x60",
          'tofurkey_next_key_info{instance="a",main_key_id="n1"}': "1x60"},
         [("10m", [])]),
    ],
}


def readme_rules():
    """The first ```yaml block under the README's "### Prometheus"."""
    text = (REPO / "README.md").read_text()
    start = text.index("\n### Prometheus\n")
    block = re.compile(r"```yaml\n(.*?)```\n", re.S).search(text, start)
    assert block, "no yaml block under ### Prometheus"
    return block[1]


def real_metric_names(binary, workdir):
    """The metric names a tofurkey run with a rollover writes."""
    key, nxt, target, prom = (Path(workdir, n) for n in ("main.key", "next.key", "target", "t.prom"))
    for path in (key, nxt):
        path.touch(mode=0o600)
        path.write_bytes(os.urandom(32))
    target.write_text("")
    done = subprocess.run([binary, "-T", "1799990000", "-i", str(I), "-k", key, "-P", target,
                           "--next-key", nxt, "--next-key-at", "1800000000", "--metrics", prom],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"tofurkey failed: {done.stderr}")
    return set(re.findall(r"^(tofurkey_\w+)", prom.read_text(), re.M))


def yaml_map(indent, pairs):
    return "".join(f"{indent}- series: '{series}'\n{indent}  values: '{values}'\n"
                   for series, values in pairs.items())


class AlertRulesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.promtool = shutil.which("promtool")
        if not cls.promtool:
            raise RuntimeError("promtool is missing: install the Debian package prometheus")
        binary = os.environ.get("TOFURKEY_BIN")
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError(f"TOFURKEY_BIN must name the tofurkey binary (got {binary!r})")
        cls.workdir = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.workdir.cleanup)
        cls.rules = readme_rules()
        cls.names = real_metric_names(binary, cls.workdir.name)
        (Path(cls.workdir.name) / "rules.yml").write_text(cls.rules)

    def test_the_rules_are_valid(self):
        done = subprocess.run([self.promtool, "check", "rules", "rules.yml"], cwd=self.workdir.name,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)

    def test_every_rule_has_cases_and_names_real_metrics(self):
        alerts = re.findall(r"^\s*- alert: (\w+)", self.rules, re.M)
        self.assertEqual(sorted(alerts), sorted(CASES), "a rule without cases, or cases without a rule")
        used = set(re.findall(r"\b(tofurkey_\w+)", self.rules))
        self.assertEqual(used - self.names, set(), "rules name metrics tofurkey does not write")
        series = {re.match(r"\w+", s)[0] for cases in CASES.values() for c in cases for s in c[0]}
        self.assertEqual(series - self.names, set(), "cases use metrics tofurkey does not write")

    def test_each_rule_fires_where_it_should(self):
        tests = ""
        for alert, cases in CASES.items():
            for series, evaluations in cases:
                tests += "  - interval: 1m\n    input_series:\n" + yaml_map("      ", series)
                tests += "    alert_rule_test:\n"
                for at, expected in evaluations:
                    tests += f"      - eval_time: {at}\n        alertname: {alert}\n        exp_alerts:"
                    if not expected:
                        tests += " []\n"
                        continue
                    tests += "\n"
                    for labels in expected:
                        tests += "          - exp_labels:\n"
                        tests += "".join(f"              {k}: '{v}'\n" for k, v in labels.items()) or \
                            "              {}\n"
        path = Path(self.workdir.name, "tests.yml")
        path.write_text("rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n" + tests)
        done = subprocess.run([self.promtool, "test", "rules", "tests.yml"], cwd=self.workdir.name,
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
