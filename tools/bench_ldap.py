"""Benchmarks our LDAP authenticator against mxcubecore's on one real slapd.

The script starts one OpenLDAP ``slapd`` on loopback
(:class:`mxcubecore_lims.testing.slapd.SlapdServer`, seeded with the default
test users plus ``bench0`` .. ``bench<N-1>`` with known passwords) and, in one
process, logs in against it with both authenticators:

* mxcubecore's ``mxcubecore.HardwareObjects.LdapAuthenticator.LdapAuthenticator``
  (python-ldap: a C library, one connection kept open, blocking calls that
  hold the gevent hub while they wait);
* ours, ``mxcubecore_lims.HardwareObjects.LdapAuthenticator.LdapAuthenticator``
  (ldap3: pure Python, fresh connections per login, cooperative under gevent).

Both are configured with the same mxcubecore keys, ``ldaphost``, ``ldapport``
and ``ldapdomain`` (``example.org``), as an existing ``ldapconnection.xml``
has them. mxcubecore's then searches ``uid=<name>`` anonymously under the
domain and binds as ``uid=<name>,<domain>`` (refused) and then as
``uid=<name>, ou=people,<domain>``; ours searches the domain anonymously on
one connection and binds as the entry found on a second one (and asks "Who
am I?" to be sure the bind was not anonymous).

Method:

* ``gevent.monkey.patch_all(thread=False)`` first, as mxcubecore does.
* Before anything is measured, each authenticator must accept a good
  password (mxcubecore's returns True, ours True) and refuse a wrong one
  (mxcubecore's returns False, ours raises ``LdapInvalidCredentialsError``);
  then every benchmark user logs in once with each (this is also the
  warm-up), followed by ``--warmup`` further logins. If any of that fails the
  script refuses to report (exit 1).
* Sequential latency: ``--logins`` rounds; each round logs one user (cycling
  through the benchmark users) in with both authenticators, timed with
  ``time.perf_counter``; the order flips every round. Median and p95
  (linear interpolation between closest ranks) in ms, their ratios
  ours/mxcubecore, and the median of the per-round ratios (both logins of a
  round ran back to back under the same machine load). A failed good login
  here also makes the script refuse to report.
* Concurrent burst: ``--rounds`` rounds; each round runs, for each
  authenticator (order flipping), ``--concurrency`` greenlets at once, one per
  distinct user, and waits for them with ``gevent.joinall``. Reported per
  round: the wall time from the first spawn to the return of ``joinall``, and
  the worst stall of a heartbeat greenlet that sleeps 5 ms in a loop: the
  largest gap between two of its wake-ups that overlaps the burst, minus the
  5 ms. A client that blocks the hub stalls it for as long as it blocks (with
  mxcubecore's, close to the whole burst, and more the slower the server); a
  cooperative one only by the Python work of the greenlets that are runnable
  at the same moment (so it grows with ``--concurrency``, not with server
  latency). Medians and ratios are reported;
  every login of every burst must succeed, otherwise the report says so
  (table and ``--json``) and the numbers of that authenticator should not
  be trusted.
* ``gc.collect()`` before each series and each burst (outside the timing).
* Both authenticators log at INFO/DEBUG to ``HWR.LdapAuthenticator`` (they
  share the class name) and ours also to ``mxcubecore_lims``: the ``HWR``,
  ``user_level_log`` and ``mxcubecore_lims`` loggers are raised above
  CRITICAL from just after mxcubecore is imported (which sets ``HWR`` to
  DEBUG) until the measurements end, the same for both.
* slapd runs with its default ``-d stats,none`` (every operation logged, as
  on a site's server), so each LDAP operation a client makes costs the server
  what it would cost there.

Usage::

    .venv/bin/python tools/bench_ldap.py                       # 200 logins, 5 bursts of 50
    .venv/bin/python tools/bench_ldap.py --logins 500 --rounds 9
    .venv/bin/python tools/bench_ldap.py --json                # machine-readable
    .venv/bin/python tools/bench_ldap.py --profile 25          # + cProfile of ours (stderr)
    .venv/bin/python tools/bench_ldap.py --quick               # 40 logins, 2 bursts of 10: a check, not a figure

The slapd binary is found as :func:`mxcubecore_lims.testing.slapd.find_slapd`
finds it (``MXCUBECORE_LIMS_SLAPD``, ``PATH``, ``/usr/sbin``).

Exit status: 0 when the report was printed (also when a burst had failed
logins, which the report names); 1 when slapd is missing or will not start,
or an authenticator failed its checks or a sequential login (nothing is
reported); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import math
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

# tools/ on the path: the harness is found however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ldap_authenticators import (
    AuthenticatorUnderTest,
    bench_password,
    bench_seed,
    bench_uids,
    check_all_users,
    check_authenticator,
    mxcubecore_authenticator,
    our_authenticator,
    suffix_to_domain,
)
from bench_ldap_burst import HEARTBEAT_PERIOD, Burst, concurrent, stall
from benchlib import (
    RefusedError,
    argument_parser,
    at_least,
    format_ratio,
    in_turn,
    measure,
    paired_median,
    parse_with_quick,
    profile_text,
    quiet_loggers,
    ratio,
    run,
    small_note,
    table_row,
    to_ms,
    versions,
)

# What the tests and other tools reach through this script.
__all__ = [
    "QUIET_LOGGERS",
    "AuthenticatorUnderTest",
    "Burst",
    "RefusedError",
    "bench_password",
    "bench_seed",
    "bench_uids",
    "check_authenticator",
    "legacy_keys",
    "main",
    "mxcubecore_authenticator",
    "our_authenticator",
    "parse_arguments",
    "percentile",
    "stall",
    "suffix_to_domain",
    "summarise",
]

#: Benchmark users are bench0 .. bench<n-1>; at least this many are seeded.
DEFAULT_USERS = 50
DEFAULT_LOGINS = 200
DEFAULT_WARMUP = 20
DEFAULT_ROUNDS = 5
#: Below these sizes a result is not representative.
REPRESENTATIVE_LOGINS = 100
REPRESENTATIVE_CONCURRENCY = 50
#: ``--quick``: a check that everything works, not a figure to quote.
QUICK = {"logins": 40, "warmup": 5, "rounds": 2, "concurrency": 10}

#: Loggers silenced for the whole run (both authenticators log to HWR children).
QUIET_LOGGERS = ("HWR", "user_level_log", "mxcubecore_lims")
LABELS = {"mxcubecore": "mxcubecore", "ours": "mxcubecore-lims (ours)"}


def legacy_keys(server: Any) -> dict[str, Any]:
    """The keys mxcubecore's authenticator takes for this server, as an ``ldapconnection.xml`` holds them."""
    return {"ldaphost": server.host, "ldapport": server.port, "ldapdomain": suffix_to_domain(server.suffix)}


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile, interpolated linearly between closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def sequential(
    authenticators: list[AuthenticatorUnderTest], uids: list[str], logins: int, warmup: int
) -> dict[str, list[float]]:
    """``warmup`` untimed, then ``logins`` timed rounds; returns seconds per login by key.

    Raises:
        RefusedError: A good login failed.
    """
    seconds: dict[str, list[float]] = {under_test.key: [] for under_test in authenticators}
    for index in range(warmup + logins):
        uid = uids[index % len(uids)]
        password = bench_password(uid)
        if index == warmup:
            gc.collect()
        for under_test in in_turn(authenticators, index):
            login = measure(under_test.attempt, uid, password)
            accepted, why = login.result
            if not accepted:
                raise RefusedError(f"{under_test.label} refused {uid} in login {index + 1} ({why})")
            if index >= warmup:
                seconds[under_test.key].append(login.seconds)
    return seconds


def profile_ours(under_test: AuthenticatorUnderTest, uids: list[str], logins: int, top: int) -> str:
    """A cProfile of ``logins`` sequential logins with our authenticator (cumtime, then tottime)."""
    profiler = cProfile.Profile()
    gc.collect()
    for index in range(logins):
        uid = uids[index % len(uids)]
        profiler.enable()
        under_test.attempt(uid, bench_password(uid))
        profiler.disable()
    return f"cProfile of {logins} sequential logins with {under_test.label}\n" + profile_text(profiler, top)


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def summarise(
    arguments: argparse.Namespace,
    server: Any,
    authenticators: list[AuthenticatorUnderTest],
    latencies: dict[str, list[float]],
    bursts: dict[str, list[Burst]],
) -> dict[str, Any]:
    """The report as plain data (what ``--json`` prints)."""
    sequential_report: dict[str, Any] = {}
    concurrent_report: dict[str, Any] = {}
    for under_test in authenticators:
        key = under_test.key
        milliseconds = to_ms(latencies[key])
        sequential_report[key] = {
            "median_ms": statistics.median(milliseconds),
            "p95_ms": percentile(milliseconds, 0.95),
            "ms": milliseconds,
        }
        runs = bursts[key]
        concurrent_report[key] = {
            "median_wall_ms": statistics.median(to_ms([run.seconds for run in runs])),
            "median_stall_ms": statistics.median(to_ms([run.stall for run in runs])),
            "wall_ms": to_ms([run.seconds for run in runs]),
            "stall_ms": to_ms([run.stall for run in runs]),
            "succeeded": [run.succeeded for run in runs],
            "all_succeeded": all(run.succeeded == arguments.concurrency for run in runs),
            "errors": sorted({error for run in runs for error in run.errors})[:5],
        }
    ours, theirs = sequential_report["ours"], sequential_report["mxcubecore"]
    sequential_report["ratio"] = {
        "median": ratio(ours["median_ms"], theirs["median_ms"]),
        "p95": ratio(ours["p95_ms"], theirs["p95_ms"]),
        "per_round_median": paired_median(latencies["ours"], latencies["mxcubecore"]),
    }
    ours, theirs = concurrent_report["ours"], concurrent_report["mxcubecore"]
    concurrent_report["ratio"] = {
        "wall": ratio(ours["median_wall_ms"], theirs["median_wall_ms"]),
        # A cooperative client can stall the heartbeat by (almost) nothing.
        "stall": ratio(ours["median_stall_ms"], theirs["median_stall_ms"]),
    }
    return {
        "logins": arguments.logins,
        "warmup": arguments.warmup,
        "rounds": arguments.rounds,
        "concurrency": arguments.concurrency,
        "heartbeat_period_ms": HEARTBEAT_PERIOD * 1000,
        "python": platform.python_version(),
        **versions(("mxcubecore", "ldap3", "python-ldap", "gevent")),
        "server": {"uri": server.uri, "suffix": server.suffix, "slapd": str(server._slapd)},
        "configuration": {under_test.key: under_test.keys for under_test in authenticators},
        "sequential": sequential_report,
        "concurrent": concurrent_report,
    }


def format_table(report: dict[str, Any]) -> str:
    """The report as a small text table."""
    small = report["logins"] < REPRESENTATIVE_LOGINS or report["concurrency"] < REPRESENTATIVE_CONCURRENCY
    keys = ", ".join(f"{name}={value}" for name, value in report["configuration"]["ours"].items())
    sequential_report, concurrent_report = report["sequential"], report["concurrent"]
    lines = [
        f"LDAP authenticator benchmark: slapd at {report['server']['uri']} ({report['server']['suffix']})"
        + small_note(small),
        f"  both configured with {keys}",
        f"  Python {report['python']}, mxcubecore {report['mxcubecore']} (python-ldap "
        f"{report['python-ldap']}), ldap3 {report['ldap3']}, gevent {report['gevent']}",
        "  verified: both accept a good password and refuse a wrong one",
        "",
        f"  Sequential logins: {report['logins']} each after {report['warmup']} warm-up, order flipping",
        table_row("authenticator", 26, [("median (ms)", 12), ("p95 (ms)", 12)]),
    ]
    for key in LABELS:
        data = sequential_report[key]
        lines.append(table_row(LABELS[key], 26, [(f"{data['median_ms']:.2f}", 12), (f"{data['p95_ms']:.2f}", 12)]))
    shown = sequential_report["ratio"]
    lines.append(
        table_row("ratio ours/mxcubecore", 26, [(format_ratio(shown[name], "n/a"), 12) for name in ("median", "p95")])
    )
    lines.append(f"  (median of per-round ratios: {shown['per_round_median']:.2f}x)")
    lines += [
        "",
        f"  Concurrent logins: {report['concurrency']} greenlets (distinct users), "
        f"{report['rounds']} rounds (medians); heartbeat every {report['heartbeat_period_ms']:g} ms",
        table_row("authenticator", 26, [("wall (ms)", 12), ("worst stall (ms)", 18), ("succeeded", 12)]),
    ]
    total = report["concurrency"] * report["rounds"]
    for key in LABELS:
        data = concurrent_report[key]
        cells = [(f"{data['median_wall_ms']:.1f}", 12), (f"{data['median_stall_ms']:.1f}", 18)]
        lines.append(table_row(LABELS[key], 26, [*cells, (f"{sum(data['succeeded'])}/{total}", 12)]))
    shown = concurrent_report["ratio"]
    cells = [(format_ratio(shown["wall"], "n/a"), 12), (format_ratio(shown["stall"], "n/a"), 18)]
    lines.append(table_row("ratio ours/mxcubecore", 26, cells))
    for key in LABELS:
        data = concurrent_report[key]
        if not data["all_succeeded"]:
            lines.append(
                f"  WARNING: {LABELS[key]}: not every concurrent login succeeded "
                f"(per round: {data['succeeded']} of {report['concurrency']}); its burst numbers "
                f"are not comparable. Errors: {'; '.join(data['errors'])}"
            )
    if all(concurrent_report[key]["all_succeeded"] for key in LABELS):
        lines.append(f"  all {report['concurrency']} logins of every burst succeeded for both")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (bad arguments exit 2)."""
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--logins",
        type=at_least(1),
        default=DEFAULT_LOGINS,
        help=f"timed sequential logins per authenticator (default {DEFAULT_LOGINS})",
    )
    parser.add_argument(
        "--warmup",
        type=at_least(0),
        default=DEFAULT_WARMUP,
        help=f"untimed logins before them, after the checks (default {DEFAULT_WARMUP})",
    )
    parser.add_argument(
        "--rounds",
        type=at_least(1),
        default=DEFAULT_ROUNDS,
        help=f"concurrent bursts per authenticator (default {DEFAULT_ROUNDS})",
    )
    parser.add_argument(
        "--concurrency",
        type=at_least(1),
        default=DEFAULT_USERS,
        help=f"greenlets (and distinct users) per burst (default {DEFAULT_USERS})",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--profile",
        type=at_least(1),
        metavar="N",
        help="also profile 100 logins with ours; print the top N entries to stderr",
    )
    return parse_with_quick(parser, argv, QUICK)


def _run(arguments: argparse.Namespace) -> dict[str, Any]:
    from mxcubecore_lims.testing.slapd import SlapdError, SlapdNotFoundError, SlapdServer

    uids = bench_uids(max(DEFAULT_USERS, arguments.concurrency))
    server = SlapdServer(seed=bench_seed(len(uids)))
    try:
        server.start()
    except SlapdNotFoundError as error:  # slapd or its schemas are not installed
        server.close()
        raise RefusedError(f"cannot run: {error}") from error
    except SlapdError as error:
        server.close(keep_directory=True)
        raise RefusedError(f"slapd did not start: {error}") from error
    try:
        keys = legacy_keys(server)
        # Importing mxcubecore sets up HWR's logging: silence after it, before init.
        importlib.import_module("mxcubecore.HardwareObjects.LdapAuthenticator")
        importlib.import_module("mxcubecore_lims.HardwareObjects.LdapAuthenticator")

        with quiet_loggers(QUIET_LOGGERS, ignore_warnings=False):
            authenticators = [mxcubecore_authenticator(keys), our_authenticator(keys)]
            for under_test in authenticators:
                check_authenticator(under_test, uids[0], bench_password(uids[0]))
                check_all_users(under_test, uids)
            latencies = sequential(authenticators, uids, arguments.logins, arguments.warmup)
            bursts = concurrent(authenticators, uids[: arguments.concurrency], arguments.rounds)
            if arguments.profile:
                print(profile_ours(authenticators[1], uids, 100, arguments.profile), file=sys.stderr)
        return summarise(arguments, server, authenticators, latencies, bursts)
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the exit status."""
    return run("bench_ldap", argv, parse_arguments, _run, format_table)


if __name__ == "__main__":
    sys.exit(main())
