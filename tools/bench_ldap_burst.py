"""The concurrent burst of ``tools/bench_ldap.py``: many logins at once, and how long they held the hub up.

Not a benchmark itself. A :class:`Heartbeat` greenlet sleeps 5 ms in a loop
and notes when it wakes; during a :func:`burst` (one greenlet per distinct
user, all spawned at once) the worst gap between two of its wake-ups, minus
the 5 ms, is how long the logins kept the gevent hub from running anything
else (:func:`stall`).
"""

from __future__ import annotations

import gc
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from bench_ldap_authenticators import AuthenticatorUnderTest, bench_password
from benchlib import schedule

#: The heartbeat greenlet's sleep, in seconds.
HEARTBEAT_PERIOD = 0.005


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
    gaps = [later - earlier for earlier, later in itertools.pairwise(beats) if later > start and earlier < end]
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


def concurrent(authenticators: list[AuthenticatorUnderTest], uids: list[str], rounds: int) -> dict[str, list[Burst]]:
    """``rounds`` bursts with each authenticator, the order flipping every round."""
    bursts: dict[str, list[Burst]] = {under_test.key: [] for under_test in authenticators}
    for _round, _traced, under_test in schedule(authenticators, rounds, traced_rounds=0):
        bursts[under_test.key].append(burst(under_test, uids))
    return bursts
