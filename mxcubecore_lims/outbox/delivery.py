"""The outbox's delivery loop: one attempt and its outcome, replay in order, back-off, waiting.

:class:`DeliveryLoop` is a mixin of :class:`~mxcubecore_lims.outbox.core.Outbox`,
which sets up the state declared below and provides :meth:`DeliveryLoop.claim`
and :meth:`DeliveryLoop._notify`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import gevent.event
import gevent.lock

from mxcubecore_lims.errors import LimsError
from mxcubecore_lims.outbox.errors import is_unavailable
from mxcubecore_lims.outbox.ids import IdMap
from mxcubecore_lims.outbox.journal import Journal
from mxcubecore_lims.outbox.records import DEFERRED_MARK, DELIVERED, FAILED, PENDING, Checkpoint, Delivery, Record

# One logger for the whole outbox, as before it was split into modules.
log = logging.getLogger("mxcubecore_lims.outbox")

#: Delivered records are pruned every this many deliveries (pruning scans them).
_PRUNE_EVERY = 100

#: Longest a delivered mark waits for the next durable write before it is committed on its
#: own (seconds): in a stream of writes each mark shares the next record's commit.
MARK_COMMIT_DELAY = 0.05


class DeliveryLoop:
    """Delivers journalled records: at once, or replayed in order by a background greenlet."""

    # Set up by Outbox.__init__ (see its Args).
    path: Path
    deliveries: dict[str, Delivery]
    call_timeout: float
    backoff: tuple[float, float]
    keep_delivered: int
    _deliver: Callable[[str, Any, Checkpoint], Any]
    _journal: Journal
    _ids: IdMap
    _lock: gevent.lock.RLock
    _wake: gevent.event.Event
    _worker: gevent.Greenlet | None
    _delay: float
    _next_attempt: float | None
    _last_error: str | None
    _closed: bool
    _in_flight: dict[int, gevent.Greenlet]
    _waiters: dict[int, gevent.event.AsyncResult]
    # Commits the delivered marks that wait, MARK_COMMIT_DELAY after the first of them.
    _mark_committer: gevent.Greenlet | None
    # True after the LIMS did not answer, until it answers again.
    _down: bool

    def claim(self) -> None:
        """Makes this process the journal's only deliverer (provided by Outbox)."""
        raise NotImplementedError

    def _notify(self) -> None:
        """Tells the observer of a status change (provided by Outbox)."""
        raise NotImplementedError

    # -- delivering --------------------------------------------------------------

    def _attempt(self, record: Record, *, counted: bool = False) -> tuple[Any] | None:
        """Delivers one record, waiting at most ``call_timeout`` for the LIMS.

        A LIMS slower than that is not abandoned: the request stays on its
        way in its own greenlet (so it is never sent twice) and its outcome is
        recorded when it lands; meanwhile the record, and those after it, wait.

        Args:
            record: The record, as journalled.
            counted: This attempt was counted when the record was journalled.

        Returns:
            ``(result,)`` when delivered, None when the LIMS is unreachable or slow.

        Raises:
            Exception: The LIMS refused it (the record is marked failed).
        """
        if record.seq in self._in_flight:
            return None
        try:
            payload = self._ids.resolve(record, self.deliveries[record.kind])
        except LookupError as error:
            return self._outcome(record, None, error)
        # Counted before sending: after a crash mid-request, a retry knows an
        # earlier attempt may have reached the LIMS (and looks before storing).
        if not counted:
            self._journal.count_attempt(record.seq)
        steps = {k: v for k, v in record.progress.items() if k != DEFERRED_MARK}
        checkpoint = Checkpoint(
            steps,
            record.attempts,
            lambda data: self._save_progress(record.seq, data),
            key=record.key,
            provisional=record.provisional,
        )
        flight = gevent.spawn(self._send_capped, record.kind, payload, checkpoint)
        self._in_flight[record.seq] = flight
        try:
            flight.join(timeout=self.call_timeout)
        except BaseException:
            # The caller was killed (an aborted collection): the request goes
            # on and its outcome is still recorded.
            gevent.spawn(self._land, record, flight)
            raise
        if not flight.ready():
            text = f"the LIMS did not answer within {self.call_timeout:g} s; the request is still on its way"
            self._last_error = text
            self._journal.note_error(record.seq, text)
            log.warning("outbox: %s #%s: %s", record.kind, record.seq, text)
            gevent.spawn(self._land, record, flight)
            return None
        del self._in_flight[record.seq]
        return self._outcome(record, *flight.value)

    def _save_progress(self, seq: int, data: dict[str, Any]) -> None:
        if not self._closed:
            # The steps are the delivery's; the deferred mark is the outbox's and stays.
            if self._journal.record(seq).progress.get(DEFERRED_MARK):
                data = {**data, DEFERRED_MARK: True}
            self._journal.save_progress(seq, data)

    def _send_capped(self, kind: str, payload: Any, checkpoint: Checkpoint) -> tuple[Any, BaseException | None]:
        """``(result, None)`` or ``(None, error)``: a failed delivery is an outcome, not a crash."""
        # The clients carry their own timeouts; this cap only guards against
        # a client that has none.
        try:
            with gevent.Timeout(max(300.0, 10 * self.call_timeout)):
                return self._deliver(kind, payload, checkpoint), None
        except Exception as error:
            return None, error
        except gevent.Timeout as error:
            return None, error

    def _land(self, record: Record, flight: gevent.Greenlet) -> None:
        """Records the outcome of a request that outlived ``call_timeout``."""
        flight.join()
        with self._lock:
            self._in_flight.pop(record.seq, None)
            if self._closed:
                return
            result, error = flight.value if flight.successful() else (None, flight.exception)
            with contextlib.suppress(Exception):  # refused: marked failed and logged by _outcome
                self._outcome(record, result, error)
        self._notify()
        self._kick()

    def _outcome(self, record: Record, result: Any, error: BaseException | None) -> tuple[Any] | None:
        """Marks a record delivered, waiting or failed after an attempt."""
        waiter = self._waiters.get(record.seq)
        if error is not None:
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise error
            text = f"{type(error).__name__}: {error}"
            self._last_error = text
            if isinstance(error, LookupError) or not is_unavailable(error):
                with self._journal.transaction():
                    self._finish(record, FAILED, error=text)
                log.error("outbox: %s #%s refused: %s", record.kind, record.seq, text)
                refusal = error if isinstance(error, Exception) else LimsError(text)
                if waiter is not None:
                    waiter.set_exception(refusal)
                raise refusal
            self._down = True
            self._journal.note_error(record.seq, text)
            log.warning("outbox: %s #%s waits, the LIMS does not answer: %s", record.kind, record.seq, text)
            return None
        delivery = self.deliveries[record.kind]
        # Deferred: the mark shares the next durable write's commit (see Journal).
        with self._journal.deferred():
            self._ids.map_result(record, delivery, result)
            self._finish(record, DELIVERED, result=result)
        self._commit_marks_soon()
        self._delay = self.backoff[0]
        self._down = False
        if waiter is not None:
            waiter.set((result,))
        return (result,)

    def _finish(self, record: Record, status: str, *, error: str | None = None, result: Any = None) -> None:
        self._journal.finish(record.seq, status, error=error, result=result)
        if status == DELIVERED:
            if self._journal.counter("delivered") % max(1, min(_PRUNE_EVERY, self.keep_delivered)) == 0:
                self.prune()

    def _commit_marks_soon(self) -> None:
        if self._mark_committer is None and self._journal.has_deferred:
            self._mark_committer = gevent.spawn_later(MARK_COMMIT_DELAY, self._commit_marks)

    def _commit_marks(self) -> None:
        with self._lock:
            self._mark_committer = None
            if not self._closed:
                try:
                    self._journal.commit()
                except Exception:  # the file failed: the records are pending again
                    log.exception("outbox %s: delivered marks not kept", self.path)
                    self._kick()

    def prune(self) -> None:
        """Drops delivered records beyond ``keep_delivered`` (done every few deliveries)."""
        self._journal.prune(self.keep_delivered)

    def replay(self) -> int:
        """Delivers waiting records in order until one cannot be delivered.

        Returns:
            The number delivered.
        """
        self.claim()
        delivered = 0
        while True:
            # One record at a time, the lock not held while the LIMS is waited
            # for: writes made during a long replay journal themselves at once.
            with self._lock:
                seq = self._journal.head()
                if seq is None:
                    self._next_attempt = None
                    break
                record = self._journal.record(seq)
            try:
                outcome = self._attempt(record)
            except Exception:
                if self._journal.status_of(record.seq) == PENDING:
                    break  # not marked failed (the journal itself failed): back off
                continue  # refused and marked failed; the journal goes on
            if outcome is None:
                break
            delivered += 1
            if delivered % 50 == 0:
                self._notify()
        if delivered or self._down:
            # Not when it only found the head record on its way (busy, not
            # down): observers would hear of every healthy write twice.
            self._notify()
        return delivered

    # -- background replay ---------------------------------------------------------

    def start(self) -> None:
        """Claims the journal and starts the replay greenlet (idempotent)."""
        self.claim()
        if self._worker is None or self._worker.dead:
            self._worker = gevent.spawn(self._run)
            self._kick()

    def stop(self) -> None:
        """Stops the replay greenlet; waiting records stay in the journal."""
        if self._worker is not None:
            self._worker.kill(block=True, timeout=self.call_timeout + 1)
            self._worker = None

    def _kick(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                self._drain()
            except Exception:  # the journal file failed; keep the greenlet alive
                log.exception("outbox %s: replay failed; trying again later", self.path)
                gevent.sleep(self.backoff[1])
                self._kick()

    def _drain(self) -> None:
        while self._journal.count(PENDING):
            self.replay()
            if not self._journal.count(PENDING):
                break
            head = self._journal.head()
            if head is not None and head in self._in_flight and not self._down:
                return  # busy, not down: its landing kicks the next round
            wait = self._delay
            self._delay = min(self.backoff[1], self._delay * 2)
            self._next_attempt = time.time() + wait
            self._notify()
            self._wake.wait(wait)
            self._wake.clear()

    def wait_delivered(self, timeout: float) -> bool:
        """Waits until nothing is pending (tests, shutdown). True when empty."""
        deadline = time.monotonic() + timeout
        while self._journal.count(PENDING):
            if time.monotonic() >= deadline:
                return False
            self._kick()
            gevent.sleep(0.05)
        return True
