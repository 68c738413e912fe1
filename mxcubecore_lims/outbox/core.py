"""The :class:`Outbox`: the one entry point the LIMS objects use, composed of the outbox's parts.

It owns the :class:`~mxcubecore_lims.outbox.journal.Journal` and the
:class:`~mxcubecore_lims.outbox.ids.IdMap` over it, delivers through the
:class:`~mxcubecore_lims.outbox.delivery.DeliveryLoop` it is built on, and
adds what is its own: opening and closing, claiming the journal for this
process, journalling a write (:meth:`Outbox.submit`) and reporting its status.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import gevent
import gevent.event
import gevent.lock

from mxcubecore_lims.outbox.delivery import DeliveryLoop
from mxcubecore_lims.outbox.errors import OutboxError, OutboxFullError
from mxcubecore_lims.outbox.ids import IdMap
from mxcubecore_lims.outbox.journal import Journal
from mxcubecore_lims.outbox.records import DEFERRED_MARK, FAILED, PENDING, Checkpoint, Delivery, OutboxStatus, Record

# One logger for the whole outbox, as before it was split into modules.
log = logging.getLogger("mxcubecore_lims.outbox")


class Outbox(DeliveryLoop):
    """A durable, ordered journal of writes to one LIMS.

    Args:
        path: The SQLite file (created when missing, reused when present).
        deliver: ``deliver(kind, payload, checkpoint)`` sends one record and
            returns the LIMS's result; it raises to report failure (see the
            package doc, :mod:`mxcubecore_lims.outbox`). The :class:`Checkpoint` keeps its partial progress.
        deliveries: How each kind is delivered (references, results).
        call_timeout: Seconds a delivery may take before it counts as
            "unreachable" (the caller's wait is bounded by this).
        backoff: First and longest wait between replay attempts, in seconds.
        keep_delivered: Delivered records kept after pruning.
        max_pending: Undelivered records allowed before writes are refused.
        on_change: Called with the new :class:`OutboxStatus` when it changes.
    """

    #: Every open journal of the process (tests close them all between tests).
    instances: ClassVar[weakref.WeakSet[Outbox]] = weakref.WeakSet()

    def __init__(
        self,
        path: str | Path,
        deliver: Callable[[str, Any, Checkpoint], Any],
        deliveries: Mapping[str, Delivery],
        *,
        call_timeout: float = 30.0,
        backoff: tuple[float, float] = (1.0, 60.0),
        keep_delivered: int = 1000,
        max_pending: int = 100_000,
        on_change: Callable[[OutboxStatus], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self._deliver = deliver
        self.deliveries = dict(deliveries)
        self.call_timeout = call_timeout
        self.backoff = backoff
        self.keep_delivered = keep_delivered
        self.max_pending = max_pending
        self.on_change = on_change
        self._lock = gevent.lock.RLock()
        self._wake = gevent.event.Event()
        self._worker = None
        self._delay = backoff[0]
        self._next_attempt = None
        self._last_error = None
        self._last_status: OutboxStatus | None = None
        self._journal = Journal(self.path)
        self._ids = IdMap(self._journal)
        self._last_error = self._journal.latest_error()
        self._closed = False
        self._in_flight = {}
        self._waiters = {}
        self._mark_committer = None
        self._last_seq = 0  # the seq of the record journalled last by this object
        # True after the LIMS did not answer, until it answers again.
        self._down = False
        self._lock_file: Any | None = None
        Outbox.instances.add(self)

    def close(self) -> None:
        """Stops the replay greenlet and closes the journal (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        for flight in list(self._in_flight.values()):
            flight.join(timeout=1.0)  # a request on its way gets a moment to land
        if self._mark_committer is not None:
            self._mark_committer.kill(block=False)
            self._mark_committer = None
        with self._lock:
            self._journal.close()  # commits the delivered marks that wait
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None
        Outbox.instances.discard(self)

    # -- writing ---------------------------------------------------------------

    def next_number(self, name: str) -> int:
        """The next value of a named counter kept in the journal (survives restarts).

        No lock: deliveries call this while a writer holds the journal's lock,
        and SQLite calls never yield to another greenlet mid-way.
        """
        return self._journal.counter(name)

    def submit(self, kind: str, payload: Any) -> Any:
        """Journals a write, then delivers it if nothing waits before it.

        Returns:
            The LIMS's result when delivered now; otherwise the result shape
            with provisional ids (negative) where ids are expected.

        Raises:
            OutboxFullError: Too many records wait already.
            LimsError: The LIMS refused the write now (it is kept as failed).
        """
        delivery = self.deliveries[kind]
        with self._lock:
            earlier = self._journal.head() is not None
            if earlier and self._journal.count(PENDING) >= self.max_pending:
                raise OutboxFullError(
                    f"the outbox {self.path} holds {self.max_pending} undelivered records; "
                    "the LIMS has not answered for a long time"
                )
            # One commit journals the record, counts the attempt that follows
            # at once, and keeps the delivered marks that waited for it.
            with self._journal.transaction():
                provisional = self._ids.allocate(delivery)
                record = self._journal.append(kind, payload, provisional, attempting=not earlier)
            # Nothing waited before this record: a later one exists only if journalled meanwhile.
            self._last_seq = record.seq
        # The lock is not held while the LIMS is waited for: a write made
        # meanwhile journals itself behind this one and returns at once.
        if not earlier:
            try:
                outcome = self._attempt(record, counted=True)
            except Exception:
                self._notify()
                raise
            if outcome is not None:
                if self._waiters or self._last_seq != record.seq:
                    self._kick()  # writes that queued behind this one go now
                    self._notify()
                elif not self._observed_clear():
                    self._notify()
                return outcome[0]
        elif not self._down:
            # The LIMS answers, it is just busy with earlier records: wait for
            # this one's turn (within the call timeout) rather than hand out
            # provisional ids a healthy LIMS does not need.
            waiter = self._waiters[record.seq] = gevent.event.AsyncResult()
            self._kick()
            try:
                outcome = waiter.get(timeout=self.call_timeout)
            except gevent.Timeout:
                outcome = None
            finally:
                self._waiters.pop(record.seq, None)
            if outcome is not None:
                self._notify()
                return outcome[0]
        with self._lock:
            self._journal.counter("deferred")
            # The caller gets provisional ids: say so in the record (the session record shows
            # which ids were handed out while the LIMS was away, and what they became).
            current = self._journal.record(record.seq)
            self._journal.save_progress(record.seq, {**current.progress, DEFERRED_MARK: True})
        self._kick()
        self._notify()
        return self._ids.shape(delivery, provisional)

    # -- claiming ----------------------------------------------------------------------

    def claim(self) -> None:
        """Makes this process the journal's only deliverer (an exclusive file lock).

        Two processes delivering one journal would send its records twice.

        Raises:
            OutboxError: Another process holds the journal (say, MXCuBE while
                ``outbox replay`` runs, or two beamlines sharing a file: give
                each its own ``outbox_file``).
        """
        if self._lock_file is not None:
            return
        import fcntl

        for other in list(Outbox.instances):
            if other is not self and not other._closed and other.path.resolve() == self.path.resolve():
                # An earlier object of this process over the same journal (the
                # configuration was loaded again): this one takes over.
                log.info("outbox %s: taken over from an earlier object of this process", self.path)
                other.close()

        handle = open(self.path.with_name(self.path.name + ".lock"), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.close()
            raise OutboxError(
                f"the outbox journal {self.path} is in use by another process; "
                "stop it first, or give this object its own outbox_file"
            ) from error
        self._lock_file = handle

    # -- observing --------------------------------------------------------------------

    def status(self) -> OutboxStatus:
        """Counts, the oldest waiting record and the latest error."""
        waiting = self._journal.waiting()
        counters = self._journal.counters()
        pending, oldest = waiting.get(PENDING, (0, None))
        return OutboxStatus(
            pending=int(pending),
            failed=int(waiting.get(FAILED, (0, None))[0]),
            delivered=int(counters.get("delivered", 0)),
            deferred=int(counters.get("deferred", 0)),
            oldest_pending=oldest,
            last_error=self._last_error,
            next_attempt=self._next_attempt if pending else None,
        )

    def records(self, status: str | None = None) -> list[Record]:
        """Journalled records (all, or of one status), in order."""
        return self._journal.records(status)

    def real_id(self, kind: str, provisional: int) -> Any:
        """The LIMS id a provisional id stands for, or None while undelivered."""
        return self._ids.real_id(kind, provisional)

    def _observed_clear(self) -> bool:
        """True when observers last heard "nothing waits, no new error" (a healthy write changes nothing for them)."""
        last = self._last_status
        return self.on_change is None or (
            last is not None and last.pending == 0 and last.next_attempt is None and last.last_error == self._last_error
        )

    def _notify(self) -> None:
        if self.on_change is None:
            return
        # Observers hear about waiting, failing and recovering, not about each
        # delivery of a healthy journal: compare what matters for them.
        status = self.status()
        previous = self._last_status
        if previous is None or (status.pending, status.failed, status.last_error, status.next_attempt) != (
            previous.pending,
            previous.failed,
            previous.last_error,
            previous.next_attempt,
        ):
            self._last_status = status
            try:
                self.on_change(status)
            except Exception:  # an observer must not break a LIMS write
                log.exception("outbox: status observer failed")
