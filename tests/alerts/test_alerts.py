#!/usr/bin/env python3
"""The shipped Prometheus alert rules (prometheus/tofurkey.rules.yml, which
the README names), as written, judged by Prometheus's
own rule engine (promtool, Debian package prometheus): each rule fires where
it should and stays silent where it should, on series named and labelled as
real tofurkey runs' metrics files name and label them.

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
T = 2 * I  # a rollover at 2 h (promtool's clock starts at 0)
MIN = 60


def at(seconds):
    """A promtool eval_time."""
    return f"{seconds // MIN}m"


def hosts(series, values, names="ab"):
    """The same series on each host in `names` (the instance label)."""
    return {series.replace("{", f'{{instance="{h}",', 1) if "{" in series
            else f'{series}{{instance="{h}"}}': values for h in names}


# Each rule's cases: the series (hosts a, b, ...; values one a minute),
# and at which times which alerts are expected (their labels beyond
# alertname; {} for a fleet-wide alert). Every rule has times it must fire
# and times it must not, on both sides of its threshold where it has one.
CASES = {
    "TofurkeyKeysDiffer": [
        # The same keys, then b's differ from minute 10: pending at 11,
        # firing only after `for: 2m`.
        ({'tofurkey_keys_info{instance="a",keys_id="k1",main_key_id="m",interval="3600"}': "1x30",
          'tofurkey_keys_info{instance="b",keys_id="k1",main_key_id="m",interval="3600"}': "1x9 _x21",
          'tofurkey_keys_info{instance="b",keys_id="k2",main_key_id="m",interval="3600"}': "_x10 1x20"},
         [("5m", []), ("11m", []), ("13m", [{"interval": "3600"}])]),
        # Different keys, but hosts of another interval (another fleet): silent.
        ({'tofurkey_keys_info{instance="a",keys_id="k1",main_key_id="m",interval="3600"}': "1x30",
          'tofurkey_keys_info{instance="b",keys_id="k2",main_key_id="m",interval="86400"}': "1x30"},
         [("13m", [])]),
    ],
    "TofurkeyStale": [
        # a succeeded at 0 and never again (half an interval and 5 min:
        # stale from 35 min on); b at every minute.
        ({**hosts("tofurkey_interval_seconds", "3600x60"),
          'tofurkey_last_success_timestamp_seconds{instance="a"}': "0x60",
          'tofurkey_last_success_timestamp_seconds{instance="b"}': "0+60x60"},
         [("34m", []), ("36m", [{"instance": "a"}])]),
    ],
    "TofurkeyFailing": [
        ({'tofurkey_last_run_success{instance="a"}': "1x10",
          'tofurkey_last_run_success{instance="b"}': "1x4 0x5"},
         [("3m", []), ("6m", [{"instance": "b"}])]),
    ],
    "TofurkeyClockNotSynchronized": [
        # a synchronized, b not, c unknown.
        ({'tofurkey_clock_synchronized{instance="a"}': "1x10",
          'tofurkey_clock_synchronized{instance="b"}': "0x10",
          'tofurkey_clock_synchronized{instance="c"}': "-1x10"},
         [("5m", [{"instance": "b"}, {"instance": "c"}])]),
        ({**hosts("tofurkey_clock_synchronized", "1x10", "abc")}, [("5m", [])]),
    ],
    "TofurkeyNotReadyForRollover": [
        # Both hosts hold the fleet's next key: silent, before T and after.
        ({**hosts("tofurkey_interval_seconds", "3600x200"),
          **hosts("tofurkey_rollover_timestamp_seconds", f"{T}x200"),
          **hosts('tofurkey_next_key_info{main_key_id="n1"}', "1x200")},
         [(at(T - I + MIN), []), (at(T - MIN), []), (at(T + I - MIN), [])]),
        # b has no next key (nor a T): firing from an interval before T to
        # an interval after it (the old key still derives keys until then),
        # silent further away (T far off; the rollover done).
        ({**hosts("tofurkey_interval_seconds", "3600x200"),
          'tofurkey_rollover_timestamp_seconds{instance="a"}': f"{T}x200",
          'tofurkey_next_key_info{instance="a",main_key_id="n1"}': "1x200"},
         [(at(T - I - MIN), []), (at(T - I + MIN), [{}]), (at(T - MIN), [{}]),
          (at(T + I - MIN), [{}]), (at(T + I + MIN), [])]),
        # b has another next key.
        ({**hosts("tofurkey_interval_seconds", "3600x200"),
          **hosts("tofurkey_rollover_timestamp_seconds", f"{T}x200"),
          'tofurkey_next_key_info{instance="a",main_key_id="n1"}': "1x200",
          'tofurkey_next_key_info{instance="b",main_key_id="n2"}': "1x200"},
         [(at(T - I - MIN), []), (at(T - I + MIN), [{}])]),
        # b has no next key, T is two intervals away: silent.
        ({**hosts("tofurkey_interval_seconds", "3600x200"),
          'tofurkey_rollover_timestamp_seconds{instance="a"}': f"{T + 2 * I}x200",
          'tofurkey_next_key_info{instance="a",main_key_id="n1"}': "1x200"},
         [(at(T), [])]),
        # No rollover anywhere: silent.
        ({**hosts("tofurkey_interval_seconds", "3600x200")}, [(at(T), [])]),
    ],
}


RULES = REPO / "prometheus" / "tofurkey.rules.yml"


def shipped_rules():
    """The rules file an admin loads, word for word."""
    return RULES.read_text()


def metrics_of_run(binary, workdir, name, *args):
    """{metric: its label names} in the metrics file of a tofurkey run at
    time 1799996400 with interval I and `args`, its key written to a temp
    file (-P: the host's key untouched)."""
    d = Path(workdir, name)
    d.mkdir()
    key, target, prom = d / "main.key", d / "target", d / "t.prom"
    key.touch(mode=0o600)
    key.write_bytes(os.urandom(32))
    target.write_text("")
    env = {k: v for k, v in os.environ.items()
           if k not in ("CREDENTIALS_DIRECTORY", "JOURNAL_STREAM", "NOTIFY_SOCKET")}
    done = subprocess.run([binary, "-T", "1799996400", "-i", str(I), "-k", key, "-P", target,
                           "--metrics", prom, *args], env=env, cwd=d,
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise RuntimeError(f"tofurkey {' '.join(map(str, args))} failed: {done.stderr}")
    return dict(name_and_labels(line) for line in prom.read_text().splitlines()
                if not line.startswith("#"))


def name_and_labels(sample):
    """A sample line's or series selector's metric name and label names."""
    m = re.match(r"(\w+)(?:\{(.*?)\})?", sample)
    return m[1], frozenset(re.findall(r'(\w+)="', m[2] or ""))


def yaml_map(indent, pairs):
    return "".join(f"{indent}- series: '{series}'\n{indent}  values: '{values}'\n"
                   for series, values in pairs.items())


class AlertRulesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.promtool = shutil.which("promtool")
        if not cls.promtool:
            raise RuntimeError("promtool is missing: install the Debian package prometheus "
                               "(apt-get install --no-install-recommends prometheus)")
        binary = os.environ.get("TOFURKEY_BIN")
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError(f"TOFURKEY_BIN must name the tofurkey binary (got {binary!r})")
        cls.workdir = tempfile.TemporaryDirectory(prefix="tofurkey-alerts-")
        cls.addClassCleanup(cls.workdir.cleanup)
        cls.rules = shipped_rules()
        (Path(cls.workdir.name) / "rules.yml").write_text(cls.rules)
        # A run with a rollover an interval away and one without.
        nxt = Path(cls.workdir.name, "next.key")
        nxt.touch(mode=0o600)
        nxt.write_bytes(os.urandom(32))
        cls.with_rollover = metrics_of_run(binary, cls.workdir.name, "rollover",
                                           "--next-key", nxt, "--next-key-at", "1800000000")
        cls.without = metrics_of_run(binary, cls.workdir.name, "plain")

    def promtool_run(self, *args):
        done = subprocess.run([self.promtool, *args], cwd=self.workdir.name,
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        return done.stdout

    def test_the_rules_are_valid_and_each_has_cases(self):
        out = self.promtool_run("check", "rules", "rules.yml")
        alerts = re.findall(r"^\s*- alert: (\w+)", self.rules, re.M)
        # promtool's count: no rule hides from the pattern above.
        self.assertIn(f"SUCCESS: {len(alerts)} rules found", out)
        self.assertEqual(sorted(alerts), sorted(CASES), "a rule without cases, or cases without a rule")
        for alert, cases in CASES.items():
            expected = [exp for _, evaluations in cases for _, exp in evaluations]
            self.assertTrue(any(expected) and not all(expected),
                            f"{alert}: needs times it fires and times it does not")

    def test_the_readme_names_the_file_and_every_rule(self):
        readme = (REPO / "README.md").read_text()
        self.assertIn("(prometheus/tofurkey.rules.yml)", readme)
        for alert in re.findall(r"^\s*- alert: (\w+)", self.rules, re.M):
            self.assertIn(f"`{alert}`", readme)

    def test_rules_and_cases_name_what_tofurkey_writes(self):
        # The rollover's metrics are there only with a rollover: the rule
        # relies on that absence.
        rollover = {"tofurkey_rollover_timestamp_seconds", "tofurkey_next_key_info"}
        self.assertEqual(rollover - set(self.with_rollover), set())
        self.assertEqual(rollover & set(self.without), set())
        real = self.with_rollover
        used = set(re.findall(r"\b(tofurkey_\w+)", self.rules))
        self.assertEqual(used - set(real), set(), "rules name metrics tofurkey does not write")
        for cases in CASES.values():
            for series, _ in cases:
                for name, labels in map(name_and_labels, series):
                    self.assertIn(name, real, "a case uses a metric tofurkey does not write")
                    # instance: the scrape's label, not tofurkey's.
                    self.assertEqual(labels - {"instance"}, real[name],
                                     f"{name}: labels not as tofurkey writes them")

    def test_each_rule_fires_where_it_should(self):
        tests = ""
        for alert, cases in CASES.items():
            for series, evaluations in cases:
                tests += "  - interval: 1m\n    input_series:\n" + yaml_map("      ", series)
                tests += "    alert_rule_test:\n"
                for when, expected in evaluations:
                    tests += f"      - eval_time: {when}\n        alertname: {alert}\n        exp_alerts:"
                    if not expected:
                        tests += " []\n"
                        continue
                    tests += "\n"
                    for labels in expected:
                        tests += "          - exp_labels:\n"
                        tests += "".join(f"              {k}: '{v}'\n" for k, v in labels.items()) or \
                            "              {}\n"
        Path(self.workdir.name, "tests.yml").write_text(
            "rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n" + tests)
        self.promtool_run("test", "rules", "tests.yml")


if __name__ == "__main__":
    unittest.main(verbosity=2)
