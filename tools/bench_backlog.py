"""The backlog drain, measured the same way by ``bench_ispyb.py`` and ``bench_icat.py``.

Not a benchmark itself. After an outage the outbox holds every write made
meanwhile; what a facility cares about is how long the LIMS lags once it
answers again. :func:`measure_backlog` times, in one process and against one
emulator:

* ``direct``: a batch of writes made while the LIMS answers (each delivered
  as it is made: what the caller waits for);
* ``drain``: the same writes (same shapes, their own names) made while the
  emulator is stopped, so every one is journalled and waits; then the
  emulator is started again and the clock runs from that moment until the
  journal holds nothing pending (the outbox's own replay, called at once
  rather than after its back-off wait, which is configuration, not speed).

Each phase is checked by the caller's ``verify`` (every record in the
emulator's database exactly once) before any figure counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

import gevent
from benchlib import RefusedError


@dataclass
class BacklogRound:
    """One round: the same number of writes made directly and drained after an outage."""

    records: int
    waiting: int
    writes: int
    direct_s: float
    drain_s: float
    journal_s: float


def drain(outbox: Any, timeout: float = 600.0) -> None:
    """Replays ``outbox`` until nothing is pending (the LIMS answers again).

    Raises:
        RefusedError: Records still pending after ``timeout`` seconds, or one failed.
    """
    deadline = time.monotonic() + timeout
    while outbox.status().pending:
        if not outbox.replay():
            gevent.sleep(0.001)  # the head record is still on its way: let it land
        if time.monotonic() > deadline:
            raise RefusedError(f"{outbox.status().pending} records still pending after {timeout:g} s")
    if outbox.status().failed:
        raise RefusedError(f"{outbox.status().failed} records refused during the drain: {outbox.status().last_error}")


def measure_backlog(
    lims: Any,
    server: Any,
    write: Callable[[str], int],
    verify: Callable[[str], None],
    rounds: int,
) -> list[BacklogRound]:
    """``rounds`` rounds of direct writes, then the same writes journalled during an outage and drained.

    Args:
        lims: Our LIMS object (its ``outbox`` is replayed).
        server: The emulator (``stop()`` / ``start()`` on the same port).
        write: Makes the batch under a name (file prefix) of its own; returns how many writes it made.
        verify: Checks that the batch of that name is in the emulator, each record once.
        rounds: How many rounds.

    Raises:
        RefusedError: A check failed, or the outage did not hold the records.
    """
    outbox = lims.outbox
    if outbox is None:
        raise RefusedError("the backlog needs the outbox on")
    results = []
    for round_number in range(rounds):
        name = f"direct-{round_number}"
        delivered_before = outbox.status().delivered
        started = time.perf_counter()
        written = write(name)
        direct = time.perf_counter() - started
        records = outbox.status().delivered - delivered_before  # journal records, not calls
        verify(name)

        name = f"drain-{round_number}"
        delivered_before = outbox.status().delivered
        server.stop()
        try:
            started = time.perf_counter()
            journalled = write(name)
            journal = time.perf_counter() - started
            waiting = outbox.status().pending
        finally:
            server.start()
        # The same writes may journal fewer records while the LIMS is away (ICAT merges a
        # collection's later values into its waiting upload): at least one each, at most as many.
        if journalled != written or not written <= waiting <= records:
            raise RefusedError(f"the outage held {waiting} records of {journalled} writes ({records} when direct)")
        started = time.perf_counter()
        drain(outbox)
        drained = time.perf_counter() - started
        # ICAT's waiting uploads may journal their follow-ups when they go: at least the waiting ones.
        if outbox.status().delivered - delivered_before < waiting:
            raise RefusedError(
                f"the drain delivered {outbox.status().delivered - delivered_before} records, {waiting} waited"
            )
        verify(name)
        results.append(BacklogRound(records, waiting, written, direct, drained, journal))
    return results


def backlog_summary(rounds: list[BacklogRound]) -> dict[str, Any]:
    """Medians (ms) and the drain/direct ratio (median of the per-round ratios too)."""
    direct = median(r.direct_s for r in rounds) * 1000
    drained = median(r.drain_s for r in rounds) * 1000
    return {
        "records": rounds[0].records,
        "waiting": rounds[0].waiting,
        "writes": rounds[0].writes,
        "rounds": len(rounds),
        "direct_ms": direct,
        "drain_ms": drained,
        "journal_while_down_ms": median(r.journal_s for r in rounds) * 1000,
        "drain_over_direct": drained / direct if direct else None,
        "drain_over_direct_per_round_median": median(r.drain_s / r.direct_s for r in rounds),
    }


def backlog_lines(summary: dict[str, Any], what: str) -> list[str]:
    """The backlog as table lines for a benchmark's report."""
    return [
        f"  backlog: {summary['writes']} {what} made while the emulator was stopped, then drained once it",
        f"  answered again (medians of {summary['rounds']} rounds); journal records: direct / waiting",
        "  records                         direct (ms)   drain (ms)  drain/direct",
        f"  {str(summary['records']) + ' / ' + str(summary['waiting']):<30s}{summary['direct_ms']:>12.1f}"
        f"{summary['drain_ms']:>13.1f}{summary['drain_over_direct']:>13.2f}x",
        f"  (journalling them while the emulator was down took {summary['journal_while_down_ms']:.1f} ms; "
        f"median of per-round ratios {summary['drain_over_direct_per_round_median']:.2f}x)",
    ]
