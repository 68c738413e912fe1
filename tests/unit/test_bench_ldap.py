"""tools/bench_ldap.py runs at a tiny size and reports sane, complete results.

No test here asserts how fast either authenticator is: timings depend on the
machine. They check the report's shape and consistency, that the benchmark
users log in with both authenticators, and that the benchmark refuses to
report when an authenticator does not accept a good password and refuse a
wrong one.

The runs need slapd: without it these tests skip, or fail when ``CI`` is set
(``require_slapd`` and the ``slapd_server`` fixture of
``mxcubecore_lims.testing.pytest_plugin``).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import statistics
import subprocess
import sys
from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest

from mxcubecore_lims.testing.pytest_plugin import require_slapd
from mxcubecore_lims.testing.slapd import ENV_SLAPD

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "bench_ldap.py"
TINY = ["--logins", "4", "--warmup", "1", "--rounds", "2", "--concurrency", "5"]
KEYS = ("mxcubecore", "ours")


def _import_tool():
    # tools/ is not a package; dataclasses need the module registered first.
    spec = importlib.util.spec_from_file_location("bench_ldap", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _import_tool()


def _run_script(*arguments: str) -> subprocess.CompletedProcess:
    slapd = require_slapd()
    return subprocess.run(
        [sys.executable, str(SCRIPT), *arguments],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=SCRIPT.parents[1],
        env={**os.environ, ENV_SLAPD: str(slapd)},  # the slapd require_slapd found
    )


# ------------------------------------------------------------ whole runs


def test_json_report_of_a_tiny_run():
    result = _run_script(*TINY, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # nothing but the JSON on stdout

    assert (report["logins"], report["warmup"], report["rounds"], report["concurrency"]) == (4, 1, 2, 5)
    assert report["heartbeat_period_ms"] == pytest.approx(5.0)
    assert report["mxcubecore"] and report["ldap3"] and report["python-ldap"] and report["gevent"]

    # Both configured with the same mxcubecore keys, pointing at the server.
    port = int(report["server"]["uri"].rsplit(":", 1)[1])
    assert report["server"]["suffix"] == "dc=example,dc=org"
    for key in KEYS:
        assert report["configuration"][key] == {"ldaphost": "127.0.0.1", "ldapport": port, "ldapdomain": "example.org"}

    sequential = report["sequential"]
    for key in KEYS:
        data = sequential[key]
        assert len(data["ms"]) == 4 and all(value > 0 for value in data["ms"])
        assert data["median_ms"] == pytest.approx(statistics.median(data["ms"]))
        assert min(data["ms"]) <= data["median_ms"] <= data["p95_ms"] <= max(data["ms"])
    ours, theirs = sequential["ours"], sequential["mxcubecore"]
    assert sequential["ratio"]["median"] == pytest.approx(ours["median_ms"] / theirs["median_ms"])
    assert sequential["ratio"]["p95"] == pytest.approx(ours["p95_ms"] / theirs["p95_ms"])
    paired = [mine / other for mine, other in zip(ours["ms"], theirs["ms"], strict=False)]
    assert sequential["ratio"]["per_round_median"] == pytest.approx(statistics.median(paired))

    concurrent = report["concurrent"]
    for key in KEYS:
        data = concurrent[key]
        assert data["succeeded"] == [5, 5] and data["all_succeeded"] is True and data["errors"] == []
        assert len(data["wall_ms"]) == 2 and all(value > 0 for value in data["wall_ms"])
        assert len(data["stall_ms"]) == 2 and all(value >= 0 for value in data["stall_ms"])
        assert data["median_wall_ms"] == pytest.approx(statistics.median(data["wall_ms"]))
        assert data["median_stall_ms"] == pytest.approx(statistics.median(data["stall_ms"]))
    ours, theirs = concurrent["ours"], concurrent["mxcubecore"]
    assert concurrent["ratio"]["wall"] == pytest.approx(ours["median_wall_ms"] / theirs["median_wall_ms"])
    if theirs["median_stall_ms"] > 0:
        assert concurrent["ratio"]["stall"] == pytest.approx(ours["median_stall_ms"] / theirs["median_stall_ms"])
    else:
        assert concurrent["ratio"]["stall"] is None


def test_table_report_of_a_tiny_run():
    result = _run_script(*TINY)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(
        r"^LDAP authenticator benchmark: slapd at ldap://127\.0\.0\.1:\d+ .*not representative", out, re.M
    ), out
    assert "both configured with ldaphost=127.0.0.1, ldapport=" in out
    assert "verified: both accept a good password and refuse a wrong one" in out
    number = r"\s+[\d.]+"
    for label in ("mxcubecore", r"mxcubecore-lims \(ours\)"):
        assert re.search(rf"^  {label}{number}{number}$", out, re.M), out  # sequential
        assert re.search(rf"^  {label}{number}{number}\s+10/10$", out, re.M), out  # concurrent
    assert re.search(r"^  ratio ours/mxcubecore\s+[\d.]+x\s+[\d.]+x$", out, re.M), out
    assert re.search(r"^  \(median of per-round ratios: [\d.]+x\)$", out, re.M), out
    assert "all 5 logins of every burst succeeded for both" in out
    assert "WARNING" not in out
    # Both authenticators' logging was silenced (mxcubecore's logs "LdapAuthenticator: ...").
    assert "LdapAuthenticator" not in out + result.stderr, result.stderr


def test_bad_arguments_exit_2():
    for arguments in (["--logins", "0"], ["--rounds", "0"], ["--concurrency", "0"], ["--warmup", "-1"]):
        with pytest.raises(SystemExit) as exit_info:
            bench.parse_arguments(arguments)
        assert exit_info.value.code == 2


# ------------------------------------------------------------ refusals


def test_both_authenticators_pass_the_checks(slapd_server: Any):
    keys = bench.legacy_keys(slapd_server)
    for under_test in (bench.mxcubecore_authenticator(keys), bench.our_authenticator(keys)):
        bench.check_authenticator(under_test, "alice", "alice-secret")


def test_refuses_an_authenticator_that_rejects_a_good_password(slapd_server: Any):
    # A domain the server does not hold: mxcubecore's finds nobody and returns False.
    keys = {**bench.legacy_keys(slapd_server), "ldapdomain": "elsewhere.org"}
    with pytest.raises(bench.RefusedError, match="refused alice with the right password"):
        bench.check_authenticator(bench.mxcubecore_authenticator(keys), "alice", "alice-secret")
    with pytest.raises(bench.RefusedError, match="refused alice with the right password"):
        bench.check_authenticator(bench.our_authenticator(keys), "alice", "alice-secret")


def test_refuses_an_authenticator_that_accepts_a_wrong_password():
    class AcceptsAnything:
        def authenticate(self, username: str, password: str) -> bool:
            return True

    for key in KEYS:
        under_test = bench.AuthenticatorUnderTest(key, key, AcceptsAnything(), {})
        with pytest.raises(bench.RefusedError, match="wrong password"):
            bench.check_authenticator(under_test, "alice", "alice-secret")


def test_main_refuses_to_report_and_exits_1(monkeypatch, capsys):
    require_slapd()
    legacy_keys = bench.legacy_keys
    monkeypatch.setattr(bench, "legacy_keys", lambda server: {**legacy_keys(server), "ldapdomain": "elsewhere.org"})
    levels = {name: logging.getLogger(name).level for name in bench.QUIET_LOGGERS}

    assert bench.main(TINY) == 1
    captured = capsys.readouterr()
    assert "refusing to report" in captured.err and "mxcubecore refused bench0" in captured.err
    assert "ratio" not in captured.out
    # The loggers are given back as they were.
    assert {name: logging.getLogger(name).level for name in bench.QUIET_LOGGERS} == levels


# ------------------------------------------------------------ pieces


def test_a_burst_with_failed_logins_is_reported_as_such():
    bursts = {
        "mxcubecore": [bench.Burst(0.05, 0.04, 3), bench.Burst(0.06, 0.05, 3)],
        "ours": [
            bench.Burst(0.1, 0.01, 2, ["LdapUnavailableError: no LDAP server answered"]),
            bench.Burst(0.1, 0.01, 3),
        ],
    }
    latencies = {"mxcubecore": [0.001, 0.002], "ours": [0.004, 0.005]}
    authenticators = [bench.AuthenticatorUnderTest(key, key, None, {"ldaphost": "127.0.0.1"}) for key in KEYS]
    server = Namespace(uri="ldap://127.0.0.1:1", suffix="dc=example,dc=org", _slapd="/usr/sbin/slapd")
    arguments = Namespace(logins=2, warmup=0, rounds=2, concurrency=3)
    report = bench.summarise(arguments, server, authenticators, latencies, bursts)

    assert report["concurrent"]["mxcubecore"]["all_succeeded"] is True
    assert report["concurrent"]["ours"]["all_succeeded"] is False
    assert report["concurrent"]["ours"]["succeeded"] == [2, 3]
    table = bench.format_table(report)
    assert "WARNING: mxcubecore-lims (ours): not every concurrent login succeeded" in table
    assert "no LDAP server answered" in table
    assert "succeeded for both" not in table
    assert re.search(r"^  mxcubecore-lims \(ours\)\s+[\d.]+\s+[\d.]+\s+5/6$", table, re.M), table


def test_percentile_interpolates_between_ranks():
    assert bench.percentile([3.0], 0.95) == 3.0
    assert bench.percentile([1.0, 2.0], 0.5) == pytest.approx(1.5)
    values = [float(value) for value in range(1, 101)]
    assert bench.percentile(values, 0.95) == pytest.approx(95.05)
    assert bench.percentile(list(reversed(values)), 0.0) == 1.0
    with pytest.raises(ValueError):
        bench.percentile([], 0.5)


def test_stall_is_the_worst_gap_overlapping_the_burst():
    beats = [0.000, 0.005, 0.010, 0.050, 0.055, 0.200]
    # [0.012, 0.052] overlaps the 40 ms gap, not the one from 0.055 to 0.200.
    assert bench.stall(beats, 0.012, 0.052, 0.005) == pytest.approx(0.035)
    assert bench.stall(beats, 0.012, 0.100, 0.005) == pytest.approx(0.140)
    assert bench.stall([0.0, 0.004, 0.008], 0.001, 0.007, 0.005) == 0.0  # never negative
    with pytest.raises(ValueError):
        bench.stall([0.0, 0.005], 0.010, 0.020, 0.005)


def test_suffix_to_domain():
    assert bench.suffix_to_domain("dc=example,dc=org") == "example.org"
    assert bench.suffix_to_domain("DC=esrf, DC=fr") == "esrf.fr"
    with pytest.raises(ValueError):
        bench.suffix_to_domain("o=example")


def test_seed_holds_the_default_users_and_the_benchmark_users():
    seed = bench.bench_seed(50)
    assert seed.user("alice").password == "alice-secret"
    uids = bench.bench_uids(50)
    assert uids[0] == "bench0" and uids[-1] == "bench49" and len(set(uids)) == 50
    assert {seed.user(uid).password for uid in uids} == {bench.bench_password(uid) for uid in uids}
    assert len({seed.user(uid).uid_number for uid in uids}) == 50
