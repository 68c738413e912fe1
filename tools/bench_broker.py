"""Benchmarks the broker route end to end (beamline to LIMS) with 1, 2 and 4 ingesters, against the direct route.

What runs: one Debian ActiveMQ broker (:class:`~mxcubecore_lims.testing.activemq.ActiveMqBroker`,
loopback STOMP) for the whole run and, for each *line*, a fresh emulated ISPyB
and ICAT (in-memory databases, served on loopback from this process), so every
line's checks count exactly. A line's workload: ``--publishers`` beamline
processes (``tools/bench_broker_route.py``: ``collect_calls.collect`` through an
ESRFLIMS with ICAT and ISPyB members, gevent-patched, as MXCuBE is), each
making ``--collections`` collections (store, update, 3 images, update,
finalize: 7 ISPyB writes and 1 ICAT dataset). The lines:

* ``direct``: ``delivery: direct``; the beamlines write the LIMS themselves;
* ``broker, K ingester(s)``, for each K of ``--ingesters``: ``delivery:
  broker``; K ``mxcubecore-lims ingest`` processes write the LIMS.

Method: the ingesters are started and waited for (their "consuming" line),
the beamlines load, log in and say they are ready; then all beamlines are
released at once (the *go*: start-up is not timed). Every 50 ms this process
reads the emulators' databases; a collection is *final* when ISPyB holds its
DataCollection with runStatus "Data collection successful" and its final
wavelength, its 3 Image rows, and ICAT its Dataset. Throughput = collections /
(last final - go). Latency of a collection = the moment it was first seen final
- the moment its beamline called ``finalize_data_collection`` (same machine,
``time.time()`` on both sides; 50 ms resolution). All beamlines collect as fast
as they can (a burst): where the ingesters are slower than the beamlines the
queue grows, and the latency with it. Peak memory: ``VmHWM`` of each beamline
(read by itself before it exits) and each ingester (read before SIGTERM), the
largest of each. CPU seconds from the go to the last final: the beamlines'
(their own ``getrusage``), the ingesters' and the broker JVM's (``/proc``) and
this process's (the emulators and the polling).

Checks, before any figure: one second after the last final (anything still in
flight would land and show as a duplicate), ISPyB holds every collection
exactly once, final, in its directory, each of its 3 images exactly once on it;
ICAT every dataset exactly once with its 3 datafiles and its final parameters;
every beamline's journals hold nothing pending or failed; and on the broker
lines the ingesters exit 0 after SIGTERM, having written 8 messages per
collection between them, none dead-lettered. Anything wrong: no report (exit 1).
Speed is only compared within one run (ratios against the direct line).

Usage::

    .venv/bin/python tools/bench_broker.py                # 4 beamlines x 100 collections; direct, 1, 2, 4 ingesters
    .venv/bin/python tools/bench_broker.py --quick        # 2 x 10; direct, 1, 2 ingesters: a check, not a figure
    .venv/bin/python tools/bench_broker.py --collections 50 --publishers 8 --ingesters 2,8
    .venv/bin/python tools/bench_broker.py --json report.json   # also write the JSON ('-': JSON only)

Everything shares this machine's cores (beamlines, ingesters, the broker, the
emulators): figures are for comparing the lines of one run, and the facility
estimate printed from them is on paper. Where the time goes (the second
table): on the direct route the beamlines spend it in their SOAP clients; on
the broker route the ingesters do, an ICAT dataset (python-icat's suds) costing
an ingester about 15 times an ISPyB write. An ingester takes one message at a
time from either queue, alternating while both hold some, so in a burst ISPyB's
writes advance at ICAT's pace and most collections become final in ISPyB only
once ICAT's queue is empty (compare the p50 to ICAT and to ISPyB).

Exit status: 0 reported; 1 a check failed (nothing reported); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# tools/ on the path: the harness is found however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_broker_route import (
    IMAGES,
    PublisherProcess,
    Watch,
    cpu_seconds,
    lims_problems,
    peak_rss_kib,
    percentile,
)
from benchlib import (
    RefusedError,
    argument_parser,
    at_least,
    format_ratio,
    lims_workdir,
    parse_with_quick,
    run,
    small_note,
    table_row,
)

__all__ = ["main", "parse_arguments"]

#: Broker messages per collection: store, 2 updates, 3 images, the end (ISPyB) and the dataset (ICAT).
MESSAGES = 8
POLL_SECONDS = 0.05
#: After the last final: anything still in flight lands (and would show as a duplicate).
SETTLE_SECONDS = 1.0
DEFAULTS = {"collections": 100, "publishers": 4, "ingesters": "1,2,4"}
QUICK = {"collections": 10, "publishers": 2, "ingesters": "1,2"}
#: The columns of the two tables.
FIGURES = ("coll/s", "vs direct", "latency s: p50", "p90", "p99", "max", "publisher MiB", "ingester MiB")
COSTS = (
    "elapsed",
    "beamline",
    "beamlines",
    "ingesters",
    "broker",
    "this process",
    "cores busy",
    "p50 ICAT",
    "p50 ISPyB",
)
#: The facility on paper: beamlines, collections per beamline per hour at peak (an assumption), margin.
FACILITY = (40, 60, 2.0)


@dataclass(frozen=True)
class Line:
    """One line of the table: the direct route (``ingesters`` 0) or the broker with that many ingesters."""

    ingesters: int

    @property
    def name(self) -> str:
        """``direct`` or ``broker, K ingester(s)``."""
        if not self.ingesters:
            return "direct"
        return f"broker, {self.ingesters} ingester" + ("s" if self.ingesters > 1 else "")


def verify(line: Line, ispyb: Any, icat: Any, numbers: range, data: Path) -> str:
    """Both LIMS hold each collection exactly once, final (:func:`lims_problems`); the ``verified:`` text.

    Raises:
        RefusedError: Anything missing, twice or not final.
    """
    problems = lims_problems(ispyb, icat, numbers, data)
    if problems:
        raise RefusedError(f"{line.name}: " + "; ".join(problems[:6]))
    return (
        f"verified: {line.name}: {len(numbers)} collections each once in ISPyB, final (runStatus, wavelength), "
        f"{IMAGES * len(numbers)} images each once on their collection; {len(numbers)} ICAT datasets each once "
        f"with their {IMAGES} datafiles and final parameters"
    )


def _self_cpu() -> float:
    """CPU seconds of this process (the emulators' and the polling's) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _wait_consuming(pool: Any, timeout: float) -> None:
    """Until every ingester has subscribed (its "consuming" log line)."""
    deadline = time.monotonic() + timeout
    for number, process in enumerate(pool.processes):
        while " consuming " not in pool.log_of(number):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RefusedError(f"ingester {number} did not start:\n{pool.log_of(number)[-2000:]}")
            time.sleep(0.2)


class Run:
    """The run's broker, directory and workload; :meth:`line` measures one line."""

    def __init__(self, arguments: argparse.Namespace, broker: Any, workdir: Path) -> None:
        from mxcubecore_lims.testing.burst import PASSWORD_VARIABLE, BrokerAccess

        self.arguments = arguments
        self.broker = broker
        self.access = BrokerAccess(broker.stomp_url, broker.username, broker.password)
        self.environment = {**os.environ, PASSWORD_VARIABLE: str(broker.password)}
        self.workdir = workdir
        self.numbers = range(arguments.publishers * arguments.collections)

    def line(self, line: Line) -> dict[str, Any]:
        """Runs and checks one line; its figures (and its ``verified`` text)."""
        from mxcubecore_lims.testing.burst import IngesterPool, beamline_config, ingester_config
        from mxcubecore_lims.testing.collect_calls import icat_investigation_id
        from mxcubecore_lims.testing.icat import EmulatedIcat
        from mxcubecore_lims.testing.ispyb import EmulatedIspyb

        directory = self.workdir / (re.sub(r"\W+", "-", line.name))
        logs, data = directory / "logs", directory / "data"
        logs.mkdir(parents=True)
        ispyb = EmulatedIspyb(db_path=":memory:").start()
        icat = EmulatedIcat(db_path=":memory:").start()
        pool: Any = None
        publishers: list[PublisherProcess] = []
        try:
            if line.ingesters:
                config = ingester_config(
                    directory / "ingest.yaml", self.access, icat_url=icat.url, ispyb_root=ispyb.root
                )
                pool = IngesterPool(config, self.access, logs)
                pool.start(line.ingesters)
                _wait_consuming(pool, timeout=120)
            each = self.arguments.collections
            for number in range(self.arguments.publishers):
                config = beamline_config(
                    directory / f"beamline-{number}",
                    "esrf",
                    broker=self.access if line.ingesters else None,
                    icat_url=icat.url,
                    ispyb_root=ispyb.root,
                )
                publishers.append(
                    PublisherProcess(
                        config,
                        first=number * each,
                        count=each,
                        data=data,
                        investigation=icat_investigation_id(icat),
                        environment=self.environment,
                        log=logs / f"publisher-{number}.log",
                    )
                )
            for publisher in publishers:
                publisher.wait_ready()
            return self._measure(line, publishers, pool, ispyb, icat, data)
        finally:
            for publisher in publishers:
                publisher.kill()
            if pool is not None:
                pool.stop(timeout=10)
            icat.close()
            ispyb.close()

    def _measure(
        self, line: Line, publishers: list[PublisherProcess], pool: Any, ispyb: Any, icat: Any, data: Path
    ) -> dict[str, Any]:
        """Releases the ready beamlines, polls until every collection is final, checks, and computes the figures."""
        watch = Watch(ispyb, icat, self.numbers)
        processes = [p.process for p in publishers] + (pool.processes if pool else [])
        broker_cpu, self_cpu = cpu_seconds(self.broker.pid), _self_cpu()
        ingester_cpu = {p.pid: cpu_seconds(p.pid) or 0.0 for p in (pool.processes if pool else [])}
        go = time.time()
        for publisher in publishers:
            publisher.go()
        while not watch.poll():
            if time.time() - go > self.arguments.timeout:
                raise RefusedError(f"{line.name}: {len(watch.final_at)} of {len(self.numbers)} final after the timeout")
            failed = [p for p in processes if p.poll() not in (None, 0)]
            if failed:
                raise RefusedError(f"{line.name}: a process exited {failed[0].returncode} (logs in {data.parent})")
            time.sleep(POLL_SECONDS)
        last = max(watch.final_at.values())
        cpu = {
            "emulators": _self_cpu() - self_cpu,
            "broker": (cpu_seconds(self.broker.pid) or 0.0) - (broker_cpu or 0.0),
            "ingesters": sum((cpu_seconds(pid) or 0.0) - before for pid, before in ingester_cpu.items()),
        }
        time.sleep(SETTLE_SECONDS)
        results = [p.result(timeout=self.arguments.timeout) for p in publishers]
        ingester_peaks = [peak_rss_kib(p.pid) or 0 for p in (pool.processes if pool else [])]
        verified = [verify(line, ispyb, icat, self.numbers, data)]
        routes, written = self._verify_routes(line, results, pool)
        verified.append(routes)
        finalize_at = {n: at for result in results for n, at in result["finalize_at"].items()}
        latencies = [watch.final_at[n] - finalize_at[n] for n in self.numbers]
        cpu["publishers"] = sum(r["cpu_seconds"] for r in results)
        by_lims = {"icat": watch.icat_at, "ispyb": watch.ispyb_at}
        return {
            "line": line.name,
            "ingesters": line.ingesters,
            "collections": len(self.numbers),
            "seconds": last - go,
            "per_second": len(self.numbers) / (last - go),
            "beamline_seconds": max(r["collected"] - r["started"] for r in results),
            "latency_s": {q: percentile(latencies, f) for q, f in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}
            | {"max": max(latencies)},
            "latency_p50_s": {
                lims: percentile([at[n] - finalize_at[n] for n in self.numbers], 0.5) for lims, at in by_lims.items()
            },
            "cores_busy": sum(cpu.values()) / (last - go),
            "publisher_peak_mib": max(r["peak_rss_kib"] for r in results) / 1024,
            "ingester_peak_mib": max(ingester_peaks) / 1024 if ingester_peaks else None,
            "cpu_seconds": cpu,
            "written_by_ingester": written,
            "verified": verified,
        }

    def _verify_routes(self, line: Line, results: list[dict[str, Any]], pool: Any) -> tuple[str, list[int]]:
        """The beamlines' journals are empty; the ingesters stopped cleanly and wrote each message once.

        Returns:
            The ``verified`` text, and the messages each ingester wrote.
        """
        for number, result in enumerate(results):
            for member, status in result["outboxes"].items():
                if status.get("pending") or status.get("failed"):
                    raise RefusedError(f"{line.name}: beamline {number}'s {member} journal: {status}")
        journals = f"the {len(results)} beamlines' {2 * len(results)} journals empty (nothing pending or failed)"
        written: list[int] = []
        if pool is None:
            return f"verified: {line.name}: {journals}", written
        statuses = pool.stop()
        for number, status in enumerate(statuses):
            found = re.search(r"stopped; (\d+) written, (\d+) dead-lettered", pool.log_of(number))
            if status != 0 or found is None or found.group(2) != "0":
                raise RefusedError(f"{line.name}: ingester {number} exited {status}: {pool.log_of(number)[-1500:]}")
            written.append(int(found.group(1)))
        expected = MESSAGES * len(self.numbers)
        if sum(written) != expected:
            raise RefusedError(f"{line.name}: the ingesters wrote {written} messages, not {expected} in all")
        return (
            f"verified: {line.name}: {journals}; the ingesters exited 0 after SIGTERM, "
            f"{expected} messages written once between them ({'/'.join(map(str, written))}), none dead-lettered",
            written,
        )


# ------------------------------------------------------------------ the report


def scaling(report: dict[str, Any]) -> dict[str, Any]:
    """Per-ingester and per-beamline figures and the facility on paper, from the lines."""
    direct, broker_lines = report["lines"][0], [line for line in report["lines"] if line["ingesters"]]
    smallest = min(broker_lines, key=lambda line: line["ingesters"])
    per_ingester = smallest["per_second"] / smallest["ingesters"]
    beamlines, per_hour, margin = FACILITY
    demand = beamlines * per_hour / 3600
    needed = math.ceil(demand * margin / per_ingester)
    cpu_per_collection = smallest["cpu_seconds"]["ingesters"] / smallest["collections"]

    def beamline_ms(line: dict[str, Any]) -> float:
        return line["cpu_seconds"]["publishers"] / line["collections"] * 1000

    return {
        "per_ingester_per_second": per_ingester,
        "from_line": smallest["line"],
        "speed_up": {line["ingesters"]: line["per_second"] / smallest["per_second"] for line in broker_lines},
        "cores_busy": {line["ingesters"]: line["cores_busy"] for line in broker_lines},
        "beamline_cpu_ms": {"direct": beamline_ms(direct), "broker": beamline_ms(smallest)},
        "beamline_seconds": {"direct": direct["beamline_seconds"], "broker": smallest["beamline_seconds"]},
        "broker_cpu_ms": smallest["cpu_seconds"]["broker"] / smallest["collections"] * 1000,
        "facility": {"beamlines": beamlines, "collections_per_beamline_hour": per_hour, "margin": margin},
        "demand_per_second": demand,
        "ingesters_needed": needed,
        "ingester_cpu_s_per_collection": cpu_per_collection,
        "ingester_cores_at_demand": demand * cpu_per_collection,
        "ingesters_memory_mib": needed * (smallest["ingester_peak_mib"] or 0),
        "utilisation_at_demand": demand / (needed * per_ingester),
    }


def format_table(report: dict[str, Any]) -> str:
    """The report as text: the checks, the table, where the time goes, the scaling paragraph."""
    small = (report["collections_each"], report["publishers"]) < (DEFAULTS["collections"], DEFAULTS["publishers"])
    lines = [
        f"Broker route benchmark: {report['publishers']} beamlines x {report['collections_each']} collections "
        f"({report['collections']} per line){small_note(small)}",
        f"  broker: Debian ActiveMQ at {report['broker']}; emulated ICAT and ISPyB in this process, fresh per line;",
        f"  Python {report['python']}, {report['cpus']} CPUs shared by everything",
        *("  " + text for line in report["lines"] for text in line["verified"]),
        "",
        table_row("line", 20, zip(FIGURES, (8, 11, 16, 8, 8, 8, 15, 14), strict=True)),
    ]
    direct = report["lines"][0]["per_second"]
    for line in report["lines"]:
        latency = line["latency_s"]
        peak = line["ingester_peak_mib"]
        cells = [(f"{line['per_second']:.2f}", 8), (format_ratio(line["per_second"] / direct), 11)]
        cells += [(f"{latency[q]:.2f}", 16 if q == "p50" else 8) for q in ("p50", "p90", "p99", "max")]
        cells += [(f"{line['publisher_peak_mib']:.0f}", 15), ("-" if peak is None else f"{peak:.0f}", 14)]
        lines.append(table_row(line["line"], 20, cells))
    lines += [
        "",
        "  where the time goes: seconds from the go to the last final, and the slowest beamline's own collecting;",
        "  CPU per collection (this process: both emulators and the polling); cores busy = all that CPU / elapsed;",
        "  median latency to ICAT's dataset and to ISPyB's final row and images, each alone",
        table_row("line", 19, zip(COSTS, (8, 10, 11, 11, 8, 14, 12, 10, 11), strict=True)),
    ]
    for line in report["lines"]:
        cpu, n = line["cpu_seconds"], line["collections"]
        cells = [(f"{line['seconds']:.1f}", 8), (f"{line['beamline_seconds']:.1f}", 10)]
        cells += [(f"{cpu[key] / n * 1000:.0f} ms", width) for key, width in (("publishers", 11), ("ingesters", 11))]
        cells += [(f"{cpu['broker'] / n * 1000:.0f} ms", 8), (f"{cpu['emulators'] / n * 1000:.0f} ms", 14)]
        cells += [(f"{line['cores_busy']:.1f}", 12)]
        cells += [(f"{line['latency_p50_s'][lims]:.2f}", width) for lims, width in (("icat", 10), ("ispyb", 11))]
        lines.append(table_row(line["line"], 19, cells))
    s = report["scaling"]
    beamlines, per_hour, margin = (s["facility"][k] for k in ("beamlines", "collections_per_beamline_hour", "margin"))
    speed_ups = ", ".join(f"{k}: {v:.2f}x" for k, v in s["speed_up"].items())
    busy = ", ".join(f"{v:.1f} with {k}" for k, v in s["cores_busy"].items())
    cpu, seconds = s["beamline_cpu_ms"], s["beamline_seconds"]
    lines += [
        "",
        "  scaling (from the figures above):",
        f"  - ingesters: one writes {s['per_ingester_per_second']:.2f} collections/s ({s['from_line']}); "
        "throughput against it,",
        f"    by ingesters: {speed_ups}.",
        f"    Cores busy (of {report['cpus']}): {busy}. Everything of this run shares those cores, so once they are",
        "    full more ingesters only share them; and each beamline's two journals are message groups (one on",
        "    ISPyB's queue, one on ICAT's) that the broker hands to one ingester at a time: each queue's work",
        f"    spreads over at most as many ingesters as there are beamlines ({report['publishers']} here).",
        "  - beamlines: each adds its collections to the ingesters' load, linearly: per collection "
        f"{s['ingester_cpu_s_per_collection'] * 1000:.0f} ms of",
        f"    ingester CPU and {s['broker_cpu_ms']:.0f} ms of the broker's. At the beamline the broker route costs "
        f"{cpu['broker']:.0f} ms of CPU per collection",
        f"    against {cpu['direct']:.0f} ms direct ({cpu['direct'] / cpu['broker']:.1f}x less), and its "
        f"{report['collections_each']} collections took it {seconds['broker']:.1f} s",
        f"    against {seconds['direct']:.1f} s (it does not wait for the LIMS).",
        "  - latency: a burst (every beamline collecting flat out): where the ingesters are slower than the beamlines",
        "    the queue grows, and the figures above are mostly that queue's length.",
        f"  - on paper, {beamlines} beamlines at {per_hour} collections/hour each at peak (an assumption, not a "
        "measurement) make",
        f"    {beamlines} x {per_hour} / 3600 = {s['demand_per_second']:.3f} collections/s;"
        f" with a {margin:g}x margin: ceil({s['demand_per_second']:.3f} x {margin:g} / "
        f"{s['per_ingester_per_second']:.2f}) = {s['ingesters_needed']} ingester(s),",
        f"    {s['ingesters_memory_mib']:.0f} MiB between them, "
        f"{s['ingester_cores_at_demand']:.2f} core(s) busy at that rate;",
        f"    that is {s['utilisation_at_demand']:.0%} of their measured capacity: no queue should form, so a "
        "collection would wait about",
        f"    one ingester's service time (1 / {s['per_ingester_per_second']:.2f} = "
        f"{1 / s['per_ingester_per_second']:.2f} s), not the burst's latencies (inferred, not measured).",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ command line


def _ingester_counts(text: str) -> list[int]:
    counts = [int(part) for part in text.split(",") if part.strip()]
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of ingester counts, each at least 1")
    return sorted(set(counts))


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (bad arguments exit 2)."""
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--collections", type=at_least(1), default=DEFAULTS["collections"], help="per beamline (default %(default)s)"
    )
    parser.add_argument(
        "--publishers", type=at_least(1), default=DEFAULTS["publishers"], help="beamlines (default %(default)s)"
    )
    parser.add_argument(
        "--ingesters", type=_ingester_counts, default=DEFAULTS["ingesters"], help="broker lines (default %(default)s)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a line may take (default %(default)s)")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON ('-': JSON only)")
    arguments = parse_with_quick(parser, argv, QUICK)
    if isinstance(arguments.ingesters, str):  # a default from DEFAULTS or QUICK
        arguments.ingesters = _ingester_counts(arguments.ingesters)
    return arguments


def _benchmark(arguments: argparse.Namespace) -> dict[str, Any]:
    from mxcubecore_lims.testing.activemq import ActiveMqBroker, ActiveMqError

    lines = [Line(0), *(Line(count) for count in arguments.ingesters)]
    with lims_workdir("bench_broker_") as workdir:
        broker = ActiveMqBroker()
        try:
            try:
                broker.start()
            except ActiveMqError as error:
                raise RefusedError(f"the broker did not start: {error}") from error
            measure = Run(arguments, broker, workdir)
            results = []
            for line in lines:
                results.append(measure.line(line))
                done = results[-1]
                print(f"{line.name}: {done['collections']} in {done['seconds']:.1f} s", file=sys.stderr, flush=True)
            report = {
                "broker": broker.stomp_url,
                "publishers": arguments.publishers,
                "collections_each": arguments.collections,
                "collections": arguments.publishers * arguments.collections,
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "lines": results,
            }
        finally:
            broker.close()
    report["scaling"] = scaling(report)
    return report


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the exit status."""
    return run("bench_broker", argv, parse_arguments, _benchmark, format_table, lambda arguments: arguments.json)


if __name__ == "__main__":
    sys.exit(main())
