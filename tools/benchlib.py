"""The harness the benchmark scripts in ``tools/`` share.

A benchmark file holds what it measures (its set-up, the callables it times,
the checks of every result against the emulator's database); this module
holds the rest:

* the command line: :func:`argument_parser`, :func:`at_least`,
  :func:`parse_with_quick` (every benchmark's ``--quick``), :func:`run`
  (gevent patched first, a :class:`RefusedError` turned into exit status 1,
  the report printed as a table or JSON by :func:`emit`);
* measuring: :func:`measure` (``time.perf_counter`` or ``tracemalloc``'s peak
  around one call), :func:`schedule` and :func:`in_turn` (rounds in which
  the contenders' order flips), :func:`measure_operations` and
  :class:`OperationSamples` (a pass of named operations and what the rounds
  gathered), :func:`profile_text`;
* the figures: :func:`to_ms`, :func:`ratio`, :func:`paired_median`,
  :func:`operation_summary`, :func:`versions`;
* the tables: :func:`table_row`, :func:`format_ratio`,
  :func:`operation_tables`, :func:`small_note`;
* quiet runs: :func:`quiet_loggers`, :func:`lims_workdir`.

What only one benchmark needs (the LDAP one's heartbeat, the loader's kept
log records) stays in it.

Each script puts ``tools/`` on ``sys.path`` first, so this module is found
whether the script runs as ``python tools/bench_x.py`` or is loaded by path
from the tests. Nothing here imports gevent or mxcubecore at import time:
:func:`run` patches gevent before the benchmark imports either.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: Bytes in a MiB, the unit of the memory columns.
MIB = 1024 * 1024


class RefusedError(Exception):
    """A client gave a wrong result; the benchmark reports nothing."""


# ------------------------------------------------------------------ command line


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for integers of at least ``minimum``."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


def argument_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by the first line of a benchmark's module docstring."""
    return argparse.ArgumentParser(description=doc.split("\n", 1)[0])


def parse_with_quick(
    parser: argparse.ArgumentParser, argv: list[str] | None, quick: Mapping[str, Any]
) -> argparse.Namespace:
    """Adds ``--quick`` to ``parser`` and parses ``argv``.

    ``--quick`` makes ``quick`` the defaults (options given on the command
    line still win): a short run that shows the benchmark works end to end,
    not one to quote.

    Args:
        parser: The benchmark's parser, with its own options added.
        argv: The arguments (None: ``sys.argv[1:]``).
        quick: Defaults for a quick run, by ``dest``.

    Returns:
        The parsed arguments.
    """
    sizes = ", ".join(f"--{dest.replace('_', '-')} {value}" for dest, value in quick.items())
    parser.add_argument("--quick", action="store_true", help=f"a short check that it works, not to quote: {sizes}")
    if parser.parse_known_args(argv)[0].quick:
        parser.set_defaults(**quick)
    return parser.parse_args(argv)


def json_flag(arguments: argparse.Namespace) -> str | None:
    """Where a ``--json`` flag sends the JSON: ``"-"`` (stdout, instead of the table) or nowhere."""
    return "-" if arguments.json else None


def emit(report: dict[str, Any], table: Callable[[dict[str, Any]], str], json_to: str | None) -> None:
    """Prints the report as JSON (``json_to`` ``"-"``) or as a table, also writing JSON to a path ``json_to``."""
    if json_to == "-":
        print(json.dumps(report, indent=2))
        return
    if json_to:
        Path(json_to).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(table(report))


def run(
    name: str,
    argv: list[str] | None,
    parse: Callable[[list[str] | None], argparse.Namespace],
    benchmark: Callable[[argparse.Namespace], dict[str, Any]],
    table: Callable[[dict[str, Any]], str],
    json_to: Callable[[argparse.Namespace], str | None] = json_flag,
) -> int:
    """Runs a benchmark the way every ``main`` does; returns the exit status.

    gevent's ``monkey.patch_all(thread=False)`` comes first, as in mxcubecore
    and mxcubeweb (before the benchmark imports mxcubecore or a client).

    Args:
        name: The script's name, for the refusal message.
        argv: The command line (None: ``sys.argv[1:]``); bad arguments exit 2.
        parse: Parses ``argv``.
        benchmark: Measures and returns the report.
        table: The report as text.
        json_to: Where the arguments say the JSON goes (see :func:`emit`).

    Returns:
        0 when reported; 1 when the benchmark refused (the reason on stderr).
    """
    from gevent import monkey

    monkey.patch_all(thread=False)
    arguments = parse(argv)
    try:
        report = benchmark(arguments)
    except RefusedError as refusal:
        print(f"{name}: refusing to report: {refusal}", file=sys.stderr)
        return 1
    emit(report, table, json_to(arguments))
    return 0


@contextlib.contextmanager
def lims_workdir(prefix: str) -> Iterator[Path]:
    """A temporary directory for a run of our LIMS objects against an emulator on loopback.

    No proxy from the environment (for urllib, suds, requests, zeep), and our
    LIMS objects journal every write: a private journal per run (``state``
    under the directory), never one an earlier run left behind.

    Yields:
        The directory, resolved.
    """
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    with tempfile.TemporaryDirectory(prefix=prefix) as temporary:
        os.environ["MXCUBECORE_LIMS_STATE_DIR"] = str(Path(temporary) / "state")
        yield Path(temporary).resolve()


# ------------------------------------------------------------------ quiet runs


@contextlib.contextmanager
def quiet_loggers(names: Iterable[str], ignore_warnings: bool = True) -> Iterator[None]:
    """Raises the named loggers above CRITICAL (and ignores warnings); restores them afterwards."""
    loggers = [logging.getLogger(name) for name in names]
    saved = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.CRITICAL + 1)
        with warnings.catch_warnings():
            if ignore_warnings:
                warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, saved, strict=True):
            logger.setLevel(level)


# ------------------------------------------------------------------ measuring


@dataclass(frozen=True)
class Measurement:
    """One measured call.

    Attributes:
        seconds: ``time.perf_counter`` around the call (tracing slows a traced one).
        peak_bytes: ``tracemalloc``'s peak during a traced call; None when not traced.
        result: What the call returned.
    """

    seconds: float
    peak_bytes: int | None
    result: Any


def measure(action: Callable[..., Any], *args: Any, traced: bool = False) -> Measurement:
    """Calls ``action(*args)``, timed; traced, with ``tracemalloc`` started just before and stopped just after."""
    if traced:
        tracemalloc.start()
    try:
        start = time.perf_counter()
        result = action(*args)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] if traced else None
    finally:
        if traced:
            tracemalloc.stop()
    return Measurement(seconds, peak, result)


def in_turn(contenders: Sequence[T], number: int) -> list[T]:
    """The contenders in order for an even ``number``, reversed for an odd one."""
    return list(contenders) if number % 2 == 0 else list(contenders)[::-1]


def schedule(contenders: Sequence[T], rounds: int, traced_rounds: int | None = None) -> Iterator[tuple[int, bool, T]]:
    """The rounds: ``(round number, traced, contender)`` in the order to run them.

    Each round gives every contender a timed pass, then (in the first
    ``traced_rounds`` rounds; None: in every round) a traced one. The order
    of the contenders flips every round, so none always runs on a heap
    another just left. Time and memory come from separate passes because
    tracing slows every allocation.
    """
    for number in range(rounds):
        order = in_turn(contenders, number)
        traced_too = traced_rounds is None or number < traced_rounds
        for traced in (False, True) if traced_too else (False,):
            for contender in order:
                yield number, traced, contender


@dataclass
class PassMeasurement:
    """A pass of named operations: a measurement and a request count for each."""

    traced: bool
    measurements: dict[str, Measurement]
    requests: dict[str, int]


def measure_operations(
    run_operation: Callable[[str], Any],
    operations: Iterable[str],
    traced: bool,
    requests: Callable[[], int],
    prepare: Callable[[str], Any] | None = None,
) -> PassMeasurement:
    """Measures one pass: each operation in turn, after ``gc.collect()``.

    Args:
        run_operation: Runs one operation by name.
        operations: The names, in order.
        traced: Trace (peak memory) instead of timing.
        requests: How many requests the server has answered so far.
        prepare: Untimed set-up before an operation (before its ``gc.collect()``).

    Returns:
        The measurements and the requests each operation sent.
    """
    measured = PassMeasurement(traced, {}, {})
    for operation in operations:
        if prepare is not None:
            prepare(operation)
        gc.collect()
        before = requests()
        measured.measurements[operation] = measure(run_operation, operation, traced=traced)
        measured.requests[operation] = requests() - before
    return measured


class OperationSamples:
    """What the rounds measured of one contender, operation by operation.

    Attributes:
        seconds: Times of the timed passes, by operation.
        peak_bytes: Peaks of the traced passes, by operation.
        requests: Requests per operation (the same in every pass).
        passes: Passes measured.
        stored: Totals of what the passes' checks counted (datasets, images, ...).
    """

    def __init__(self, operations: Iterable[str]) -> None:
        self.seconds: dict[str, list[float]] = {op: [] for op in operations}
        self.peak_bytes: dict[str, list[int]] = {op: [] for op in self.seconds}
        self.requests: dict[str, int] = {}
        self.passes = 0
        self.stored: dict[str, int] = {}

    def add(self, measured: PassMeasurement, stored: Mapping[str, int], who: str, what: str = "requests") -> None:
        """Adds a checked pass.

        Raises:
            RefusedError: The pass sent other numbers of requests than the earlier ones.
        """
        for operation, measurement in measured.measurements.items():
            if measured.traced:
                self.peak_bytes[operation].append(measurement.peak_bytes or 0)
            else:
                self.seconds[operation].append(measurement.seconds)
        self.passes += 1
        for key, value in stored.items():
            self.stored[key] = self.stored.get(key, 0) + value
        if self.requests and self.requests != measured.requests:
            raise RefusedError(f"{who}: {what} per operation changed: {measured.requests} after {self.requests}")
        self.requests = measured.requests


def profile_text(profiler: cProfile.Profile, top: int, sorts: Sequence[str] = ("cumulative", "tottime")) -> str:
    """The ``top`` entries of a profile, sorted by each of ``sorts`` in turn."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    for key in sorts:
        stats.sort_stats(key).print_stats(top)
    return out.getvalue()


# ------------------------------------------------------------------ figures


def to_ms(seconds: Iterable[float]) -> list[float]:
    """Seconds as milliseconds."""
    return [value * 1000 for value in seconds]


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when there is nothing to divide by."""
    return numerator / denominator if denominator else None


def paired_median(numerators: Iterable[float], denominators: Iterable[float]) -> float:
    """The median of the per-round ratios (pairs with a zero denominator left out).

    Both measurements of a round ran back to back under the same machine
    load: the median of their ratios resists load changing between rounds
    better than the ratio of the medians.
    """
    return statistics.median(a / b for a, b in zip(numerators, denominators, strict=False) if b)


def operation_summary(samples: OperationSamples) -> dict[str, dict[str, Any]]:
    """Per operation: median and every time (ms), median and every peak (bytes), requests."""
    return {
        op: {
            "median_ms": statistics.median(samples.seconds[op]) * 1000,
            "ms": to_ms(samples.seconds[op]),
            "median_peak_bytes": statistics.median(samples.peak_bytes[op]),
            "peak_bytes": samples.peak_bytes[op],
            "requests": samples.requests[op],
        }
        for op in samples.seconds
    }


def versions(names: Iterable[str]) -> dict[str, str]:
    """The installed version of each distribution."""
    from importlib.metadata import version

    return {name: version(name) for name in names}


# ------------------------------------------------------------------ tables


def small_note(small: bool) -> str:
    """What a title says of a run below the representative sizes."""
    return "  (small: not representative)" if small else ""


def format_ratio(value: float | None, missing: str = "-") -> str:
    """``1.23x``, or ``missing`` when there was nothing to divide by."""
    return missing if value is None else f"{value:.2f}x"


def table_row(label: str, width: int, cells: Iterable[tuple[str, int]]) -> str:
    """An indented row: the label left-aligned in ``width``, each ``(text, width)`` cell right-aligned."""
    return f"  {label:<{width}}" + "".join(f"{text:>{cell_width}}" for text, cell_width in cells)


def operation_tables(
    report: Mapping[str, Any],
    operations: Sequence[str],
    clients: Sequence[str],
    headers: tuple[str, str],
    ratios: tuple[Sequence[str], Sequence[str]],
    widths: tuple[int, int, int],
) -> list[str]:
    """The time table and the peak-memory table of a report, one row per operation.

    Args:
        report: Holds ``clients`` (each with ``operations``, as
            :func:`operation_summary` gives them) and ``ratios`` (by
            operation, by name).
        operations: The rows.
        clients: The columns, by key.
        headers: The header line of each table.
        ratios: The ratio columns of each table, by name.
        widths: Of the operation, the requests (``a/b/c`` per client; the
            memory table has none and a label column as wide as both) and
            each value column.

    Returns:
        The lines, a blank one between the tables.
    """
    label_width, requests_width, value_width = widths
    lines = [headers[0]]
    for op in operations:
        data = [report["clients"][key]["operations"][op] for key in clients]
        requests = "/".join(str(entry["requests"]) for entry in data)
        times = [(f"{entry['median_ms']:.1f}", value_width) for entry in data]
        shown = [(format_ratio(report["ratios"][op][name]), 12) for name in ratios[0]]
        lines.append(table_row(op, label_width, [(requests, requests_width), *times, *shown]))
    lines += ["", headers[1]]
    for op in operations:
        data = [report["clients"][key]["operations"][op] for key in clients]
        peaks = [(f"{entry['median_peak_bytes'] / MIB:.2f}", value_width) for entry in data]
        shown = [(format_ratio(report["ratios"][op][name]), 12) for name in ratios[1]]
        lines.append(table_row(op, label_width + requests_width, [*peaks, *shown]))
    return lines
