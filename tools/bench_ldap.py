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
import io
import json
import math
import platform
import pstats
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# tools/ on the path: benchlib is found however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import RefusedError, at_least, quiet_loggers  # noqa: E402

#: Benchmark users are bench0 .. bench<n-1>; at least this many are seeded.
DEFAULT_USERS = 50
DEFAULT_LOGINS = 200
DEFAULT_WARMUP = 20
DEFAULT_ROUNDS = 5
#: The heartbeat greenlet's sleep, in seconds.
HEARTBEAT_PERIOD = 0.005
#: Below these sizes a result is not representative.
REPRESENTATIVE_LOGINS = 100
REPRESENTATIVE_CONCURRENCY = 50

#: Loggers silenced for the whole run (both authenticators log to HWR children).
QUIET_LOGGERS = ("HWR", "user_level_log", "mxcubecore_lims")

WRONG_PASSWORD = "certainly-not-the-password"


# --------------------------------------------------------------------------
# The directory
# --------------------------------------------------------------------------


def bench_password(uid: str) -> str:
    """The password of a benchmark user."""
    return f"{uid}-secret"


def bench_uids(count: int) -> list[str]:
    """``bench0`` .. ``bench<count-1>``."""
    return [f"bench{index}" for index in range(count)]


def bench_seed(count: int) -> Any:
    """The default seed plus ``count`` benchmark users with known passwords."""
    from mxcubecore_lims.testing.ldap_seed import DEFAULT_SEED, Seed, SeedUser

    users = tuple(
        SeedUser(
            uid=uid,
            cn=f"Bench User {index}",
            sn=f"User{index}",
            given_name="Bench",
            password=bench_password(uid),
            mail=f"{uid}@example.org",
            home_directory=f"/home/{uid}",
            uid_number=20000 + index,
        )
        for index, uid in enumerate(bench_uids(count))
    )
    return Seed(
        users=DEFAULT_SEED.users + users,
        groups=DEFAULT_SEED.groups,
        services=DEFAULT_SEED.services,
        organisation=DEFAULT_SEED.organisation,
    )


def suffix_to_domain(suffix: str) -> str:
    """``dc=example,dc=org`` -> ``example.org`` (mxcubecore's ``ldapdomain`` spelling).

    Raises:
        ValueError: The suffix is not made of ``dc=`` parts only; mxcubecore's
            authenticator cannot describe it.
    """
    parts = []
    for rdn in suffix.split(","):
        name, _, value = rdn.strip().partition("=")
        if name.strip().lower() != "dc" or not value:
            raise ValueError(f"mxcubecore's ldapdomain cannot express the suffix {suffix!r}")
        parts.append(value.strip())
    return ".".join(parts)


# --------------------------------------------------------------------------
# The two authenticators
# --------------------------------------------------------------------------



@dataclass
class AuthenticatorUnderTest:
    """One authenticator, reduced to "log this user in".

    Attributes:
        key: Short name for reports and JSON.
        label: Name shown in the table.
        authenticator: The hardware object.
        keys: The configuration keys it was given.
    """

    key: str
    label: str
    authenticator: Any
    keys: dict[str, Any]

    def attempt(self, username: str, password: str) -> tuple[bool, str | None]:
        """Logs in; returns (accepted, why not). Never raises for a refusal."""
        try:
            result = self.authenticator.authenticate(username, password)
        except Exception as error:  # ours refuses by raising a typed error
            return False, f"{error.__class__.__name__}: {error}"
        if result is True:
            return True, None
        return False, f"returned {result!r}"


def legacy_keys(server: Any) -> dict[str, Any]:
    """mxcubecore's keys for this server, as an ``ldapconnection.xml`` would hold them."""
    return {"ldaphost": server.host, "ldapport": server.port, "ldapdomain": suffix_to_domain(server.suffix)}


def mxcubecore_authenticator(keys: dict[str, Any]) -> AuthenticatorUnderTest:
    """mxcubecore's python-ldap authenticator, configured with ``keys``."""
    from mxcubecore.HardwareObjects.LdapAuthenticator import LdapAuthenticator as Theirs

    authenticator = Theirs("ldapServer")
    authenticator._config = Theirs.HOConfig(**keys)
    authenticator.init()
    return AuthenticatorUnderTest("mxcubecore", "mxcubecore", authenticator, dict(keys))


def our_authenticator(keys: dict[str, Any]) -> AuthenticatorUnderTest:
    """Our ldap3 authenticator, configured with ``keys``."""
    from mxcubecore_lims.HardwareObjects.LdapAuthenticator import LdapAuthenticator as Ours

    authenticator = Ours("ldapServer")
    authenticator._config = Ours.HOConfig(**keys)
    authenticator.init()
    return AuthenticatorUnderTest("ours", "mxcubecore-lims (ours)", authenticator, dict(keys))


def check_authenticator(under_test: AuthenticatorUnderTest, username: str, password: str) -> None:
    """Refuses an authenticator that does not accept a good or refuse a wrong password.

    mxcubecore's must return True, then False; ours must return True, then
    raise ``LdapInvalidCredentialsError``.

    Raises:
        RefusedError: It does not.
    """
    accepted, why = under_test.attempt(username, password)
    if not accepted:
        raise RefusedError(f"{under_test.label} refused {username} with the right password ({why})")
    try:
        result = under_test.authenticator.authenticate(username, WRONG_PASSWORD)
    except Exception as error:
        from mxcubecore_lims.errors import LdapInvalidCredentialsError

        if under_test.key == "ours" and isinstance(error, LdapInvalidCredentialsError):
            return
        raise RefusedError(
            f"{under_test.label} raised {error.__class__.__name__} for a wrong password: {error}"
        ) from error
    if under_test.key == "ours" or result is not False:
        raise RefusedError(f"{under_test.label} returned {result!r} for {username} with a wrong password")


def check_all_users(under_test: AuthenticatorUnderTest, uids: list[str]) -> None:
    """Every benchmark user logs in once (a verified warm-up).

    Raises:
        RefusedError: One did not.
    """
    for uid in uids:
        accepted, why = under_test.attempt(uid, bench_password(uid))
        if not accepted:
            raise RefusedError(f"{under_test.label} refused {uid} with the right password ({why})")


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
        order = authenticators if index % 2 == 0 else authenticators[::-1]
        for under_test in order:
            start = time.perf_counter()
            accepted, why = under_test.attempt(uid, password)
            elapsed = time.perf_counter() - start
            if not accepted:
                raise RefusedError(f"{under_test.label} refused {uid} in login {index + 1} ({why})")
            if index >= warmup:
                seconds[under_test.key].append(elapsed)
    return seconds


class Heartbeat:
    """A greenlet that sleeps ``period`` in a loop and notes when it wakes."""

    def __init__(self, period: float = HEARTBEAT_PERIOD) -> None:
        self.period = period
        self.beats: list[float] = []
        self._running = False
        self._greenlet: Any = None

    def start(self) -> None:
        import gevent

        self._running = True
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        import gevent

        while self._running:
            self.beats.append(time.perf_counter())
            gevent.sleep(self.period)

    def stop(self) -> None:
        self._running = False
        self._greenlet.join()

    def worst_stall(self, start: float, end: float) -> float:
        """The largest gap overlapping ``[start, end]``, minus the period (at least 0)."""
        return stall(self.beats, start, end, self.period)


def stall(beats: list[float], start: float, end: float, period: float) -> float:
    """Worst gap between consecutive ``beats`` that overlaps ``[start, end]``, minus ``period``.

    Raises:
        ValueError: No gap overlaps the interval (the heartbeat did not run around it).
    """
    gaps = [later - earlier for earlier, later in zip(beats, beats[1:]) if later > start and earlier < end]
    if not gaps:
        raise ValueError("the heartbeat has no beats around the interval")
    return max(0.0, max(gaps) - period)


@dataclass
class Burst:
    """One concurrent burst of logins.

    Attributes:
        seconds: Wall time from the first spawn to ``joinall`` returning.
        stall: The heartbeat's worst stall during the burst, in seconds.
        succeeded: Logins accepted.
        errors: Why the others were not (distinct reasons, at most a few).
    """

    seconds: float
    stall: float
    succeeded: int
    errors: list[str] = field(default_factory=list)


def burst(under_test: AuthenticatorUnderTest, uids: list[str]) -> Burst:
    """Logs every user in at once, one greenlet each, with a heartbeat running."""
    import gevent

    outcomes: list[tuple[bool, str | None]] = [(False, "did not finish")] * len(uids)

    def log_in(index: int, uid: str) -> None:
        outcomes[index] = under_test.attempt(uid, bench_password(uid))

    gc.collect()
    heartbeat = Heartbeat()
    heartbeat.start()
    gevent.sleep(4 * HEARTBEAT_PERIOD)  # it beats steadily before the burst
    start = time.perf_counter()
    greenlets = [gevent.spawn(log_in, index, uid) for index, uid in enumerate(uids)]
    gevent.joinall(greenlets)
    end = time.perf_counter()
    gevent.sleep(2 * HEARTBEAT_PERIOD)  # and wakes at least once after it
    heartbeat.stop()
    errors = sorted({why or "" for accepted, why in outcomes if not accepted})
    return Burst(
        seconds=end - start,
        stall=heartbeat.worst_stall(start, end),
        succeeded=sum(1 for accepted, _ in outcomes if accepted),
        errors=errors[:5],
    )


def concurrent(
    authenticators: list[AuthenticatorUnderTest], uids: list[str], rounds: int
) -> dict[str, list[Burst]]:
    """``rounds`` bursts with each authenticator, the order flipping every round."""
    bursts: dict[str, list[Burst]] = {under_test.key: [] for under_test in authenticators}
    for round_number in range(rounds):
        order = authenticators if round_number % 2 == 0 else authenticators[::-1]
        for under_test in order:
            bursts[under_test.key].append(burst(under_test, uids))
    return bursts


def profile_ours(under_test: AuthenticatorUnderTest, uids: list[str], logins: int, top: int) -> str:
    """cProfile of ``logins`` sequential logins with our authenticator (cumtime, then tottime)."""
    profiler = cProfile.Profile()
    gc.collect()
    for index in range(logins):
        uid = uids[index % len(uids)]
        profiler.enable()
        under_test.attempt(uid, bench_password(uid))
        profiler.disable()
    out = io.StringIO()
    out.write(f"cProfile of {logins} sequential logins with {under_test.label}\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def _ms(values: list[float]) -> list[float]:
    return [value * 1000 for value in values]


def summarise(
    arguments: argparse.Namespace,
    server: Any,
    authenticators: list[AuthenticatorUnderTest],
    latencies: dict[str, list[float]],
    bursts: dict[str, list[Burst]],
) -> dict[str, Any]:
    """The report as plain data (what ``--json`` prints)."""
    from importlib.metadata import version

    sequential_report: dict[str, Any] = {}
    concurrent_report: dict[str, Any] = {}
    for under_test in authenticators:
        key = under_test.key
        milliseconds = _ms(latencies[key])
        sequential_report[key] = {
            "median_ms": statistics.median(milliseconds),
            "p95_ms": percentile(milliseconds, 0.95),
            "ms": milliseconds,
        }
        runs = bursts[key]
        concurrent_report[key] = {
            "median_wall_ms": statistics.median(_ms([run.seconds for run in runs])),
            "median_stall_ms": statistics.median(_ms([run.stall for run in runs])),
            "wall_ms": _ms([run.seconds for run in runs]),
            "stall_ms": _ms([run.stall for run in runs]),
            "succeeded": [run.succeeded for run in runs],
            "all_succeeded": all(run.succeeded == arguments.concurrency for run in runs),
            "errors": sorted({error for run in runs for error in run.errors})[:5],
        }
    ours, theirs = sequential_report["ours"], sequential_report["mxcubecore"]
    sequential_report["ratio"] = {
        "median": ours["median_ms"] / theirs["median_ms"],
        "p95": ours["p95_ms"] / theirs["p95_ms"],
        "per_round_median": statistics.median(
            mine / other for mine, other in zip(latencies["ours"], latencies["mxcubecore"])
        ),
    }
    ours, theirs = concurrent_report["ours"], concurrent_report["mxcubecore"]
    concurrent_report["ratio"] = {
        "wall": ours["median_wall_ms"] / theirs["median_wall_ms"],
        # A cooperative client can stall the heartbeat by (almost) nothing.
        "stall": ours["median_stall_ms"] / theirs["median_stall_ms"] if theirs["median_stall_ms"] > 0 else None,
    }
    return {
        "logins": arguments.logins,
        "warmup": arguments.warmup,
        "rounds": arguments.rounds,
        "concurrency": arguments.concurrency,
        "heartbeat_period_ms": HEARTBEAT_PERIOD * 1000,
        "python": platform.python_version(),
        "mxcubecore": version("mxcubecore"),
        "ldap3": version("ldap3"),
        "python-ldap": version("python-ldap"),
        "gevent": version("gevent"),
        "server": {"uri": server.uri, "suffix": server.suffix, "slapd": str(server._slapd)},
        "configuration": {under_test.key: under_test.keys for under_test in authenticators},
        "sequential": sequential_report,
        "concurrent": concurrent_report,
    }


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def format_table(report: dict[str, Any]) -> str:
    """The report as a small text table."""
    small = report["logins"] < REPRESENTATIVE_LOGINS or report["concurrency"] < REPRESENTATIVE_CONCURRENCY
    note = "  (small: not representative)" if small else ""
    keys = ", ".join(f"{name}={value}" for name, value in report["configuration"]["ours"].items())
    labels = {"mxcubecore": "mxcubecore", "ours": "mxcubecore-lims (ours)"}
    sequential_report, concurrent_report = report["sequential"], report["concurrent"]
    lines = [
        f"LDAP authenticator benchmark: slapd at {report['server']['uri']} ({report['server']['suffix']}){note}",
        f"  both configured with {keys}",
        f"  Python {report['python']}, mxcubecore {report['mxcubecore']} (python-ldap "
        f"{report['python-ldap']}), ldap3 {report['ldap3']}, gevent {report['gevent']}",
        "  verified: both accept a good password and refuse a wrong one",
        "",
        f"  Sequential logins: {report['logins']} each after {report['warmup']} warm-up, order flipping",
        f"  {'authenticator':<26}{'median (ms)':>12}{'p95 (ms)':>12}",
    ]
    for key in ("mxcubecore", "ours"):
        data = sequential_report[key]
        lines.append(f"  {labels[key]:<26}{data['median_ms']:>12.2f}{data['p95_ms']:>12.2f}")
    ratio = sequential_report["ratio"]
    lines.append(f"  {'ratio ours/mxcubecore':<26}{_ratio(ratio['median']):>12}{_ratio(ratio['p95']):>12}")
    lines.append(f"  (median of per-round ratios: {ratio['per_round_median']:.2f}x)")
    lines += [
        "",
        f"  Concurrent logins: {report['concurrency']} greenlets (distinct users), "
        f"{report['rounds']} rounds (medians); heartbeat every {report['heartbeat_period_ms']:g} ms",
        f"  {'authenticator':<26}{'wall (ms)':>12}{'worst stall (ms)':>18}{'succeeded':>12}",
    ]
    for key in ("mxcubecore", "ours"):
        data = concurrent_report[key]
        total = report["concurrency"] * report["rounds"]
        succeeded = f"{sum(data['succeeded'])}/{total}"
        lines.append(
            f"  {labels[key]:<26}{data['median_wall_ms']:>12.1f}{data['median_stall_ms']:>18.1f}{succeeded:>12}"
        )
    ratio = concurrent_report["ratio"]
    lines.append(f"  {'ratio ours/mxcubecore':<26}{_ratio(ratio['wall']):>12}{_ratio(ratio['stall']):>18}")
    for key in ("mxcubecore", "ours"):
        data = concurrent_report[key]
        if not data["all_succeeded"]:
            lines.append(
                f"  WARNING: {labels[key]}: not every concurrent login succeeded "
                f"(per round: {data['succeeded']} of {report['concurrency']}); its burst numbers "
                f"are not comparable. Errors: {'; '.join(data['errors'])}"
            )
    if all(concurrent_report[key]["all_succeeded"] for key in ("mxcubecore", "ours")):
        lines.append(f"  all {report['concurrency']} logins of every burst succeeded for both")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--logins", type=at_least(1), default=DEFAULT_LOGINS,
                        help=f"timed sequential logins per authenticator (default {DEFAULT_LOGINS})")
    parser.add_argument("--warmup", type=at_least(0), default=DEFAULT_WARMUP,
                        help=f"untimed logins before them, after the checks (default {DEFAULT_WARMUP})")
    parser.add_argument("--rounds", type=at_least(1), default=DEFAULT_ROUNDS,
                        help=f"concurrent bursts per authenticator (default {DEFAULT_ROUNDS})")
    parser.add_argument("--concurrency", type=at_least(1), default=DEFAULT_USERS,
                        help=f"greenlets (and distinct users) per burst (default {DEFAULT_USERS})")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--profile", type=at_least(1), metavar="N",
                        help="also profile 100 logins with ours; print the top N entries to stderr")
    return parser.parse_args(argv)


def silenced() -> Any:
    """Raises the authenticators' loggers above CRITICAL; restores them afterwards."""
    return quiet_loggers(QUIET_LOGGERS, ignore_warnings=False)


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

        with silenced():
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
    # As mxcubecore and mxcubeweb do, before mxcubecore (or ldap3) is imported.
    from gevent import monkey

    monkey.patch_all(thread=False)
    arguments = parse_arguments(argv)
    try:
        report = _run(arguments)
    except RefusedError as refusal:
        print(f"bench_ldap: refusing to report: {refusal}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if arguments.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
