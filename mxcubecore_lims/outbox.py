"""Durable store-and-forward journal for LIMS writes (DESIGN §6).

Every write is journalled (SQLite in WAL mode, one row per record, with an
idempotency key) before it is sent. When the LIMS answers, the record is
delivered at once and the caller gets the LIMS's ids. When it does not, the
call returns within its timeout with *provisional* ids, the record waits, and
a background greenlet replays the journal in order, with backoff, until the
LIMS answers again; a restarted process finds the journal and goes on.

Provisional ids are large negative integers (below -10⁹: no LIMS hands those
out, and producers' own -1 "none" stays itself), unique per journal, so later
records can refer to them: an image of a collection stored
while ISPyB was down carries the collection's provisional id, and at replay
that id is replaced by the real one. The mapping is kept in the journal too.

Delivery outcomes:

* delivered: the record is marked so, its result and id mappings stored;
* the LIMS is unreachable (:class:`~mxcubecore_lims.errors.LimsUnavailableError`
  anywhere in the exception chain, or the call timed out): the record stays
  pending, and so does everything after it (order is kept);
* the LIMS refused it (any other error): the record is marked failed with
  the error, kept for inspection, and the journal moves on. A record that
  refers to a failed record's provisional id fails too.

A delivered record is never sent again. A record whose request reached the
LIMS but whose answer was lost is sent again; deliveries that can look up
what an earlier attempt stored do so (``Checkpoint.previous_attempts``), the
others may store it twice. One process delivers a journal (:meth:`claim`).

Delivered records are pruned beyond ``keep_delivered`` (every few deliveries,
so at most twice as many are kept meanwhile); pending ones are
never dropped: when ``max_pending`` is reached a new write raises
:class:`OutboxFullError` rather than lose an older one.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Optional

import gevent
import gevent.event
import gevent.lock

from mxcubecore_lims.errors import LimsError, LimsUnavailableError

__all__ = [
    "Checkpoint",
    "Delivery",
    "Outbox",
    "OutboxError",
    "OutboxFullError",
    "OutboxStatus",
    "Record",
    "is_unavailable",
]

log = logging.getLogger(__name__)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

#: Delivered records are pruned every this many deliveries (pruning scans them).
_PRUNE_EVERY = 100

#: Provisional ids start below this: far from -1 and 0, which producers use
#: to say "none" or "failed" (an energy scan id of -1, for instance).
_PROVISIONAL_BASE = -1_000_000_000


class OutboxError(LimsError):
    """The journal cannot be used (unreadable file, wrong schema)."""


class OutboxFullError(OutboxError):
    """The journal holds ``max_pending`` undelivered records; the write is refused."""


def is_unavailable(error: BaseException) -> bool:
    """True when an error means "the LIMS did not answer" (anywhere in its chain)."""
    seen: set[int] = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen:
        if isinstance(current, (LimsUnavailableError, gevent.Timeout, TimeoutError, ConnectionError)):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


# -- payload encoding: JSON with datetimes kept as datetimes ---------------------


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "item"):  # numpy scalars, which collect routines pass
        return value.item()
    # Anything else is kept as its text rather than refusing the record.
    return str(value)


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        if set(value) == {"$date"}:
            return date.fromisoformat(value["$date"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(_encode(value), separators=(",", ":"))


def _loads(text: Optional[str]) -> Any:
    return None if text is None else _decode(json.loads(text))


# -- records ---------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """How to deliver one kind of record.

    Attributes:
        refs: Payload paths (``"image.dataCollectionId"``) -> id kind; provisional
            ids found there are replaced by real ones before delivery.
        returns: Id kind of each element of the result (a tuple result), or
            of the result itself (a single kind); None where nothing is mapped.
    """

    refs: Mapping[str, str] = None  # type: ignore[assignment]
    returns: Sequence[Optional[str]] | str | None = None

    def result_kinds(self) -> list[Optional[str]]:
        if self.returns is None:
            return []
        if isinstance(self.returns, str):
            return [self.returns]
        return list(self.returns)


class Checkpoint:
    """What one delivery has done so far, kept in the journal.

    A write that takes several requests (ISPyB: beamline set-up, group, then
    the collection) saves each id as it gets it; when the LIMS goes away
    half-way, the retry resumes instead of storing the first steps again.

    Attributes:
        previous_attempts: Attempts made before this one (0 on the first): a
            retry may look up what an unanswered request stored.
    """

    def __init__(
        self,
        data: Optional[dict[str, Any]] = None,
        previous_attempts: int = 0,
        persist: Optional[Callable[[dict[str, Any]], None]] = None,
    ) -> None:
        self.data: dict[str, Any] = dict(data or {})
        self.previous_attempts = previous_attempts
        self._persist = persist

    def get(self, key: str, default: Any = None) -> Any:
        """A value saved by an earlier step (of this attempt or an earlier one)."""
        return self.data.get(key, default)

    def save(self, key: str, value: Any) -> None:
        """Keeps a step's result, in the journal at once."""
        self.data[key] = value
        if self._persist is not None:
            self._persist(self.data)


@dataclass(frozen=True)
class Record:
    """One journalled write."""

    seq: int
    kind: str
    key: str
    payload: Any
    status: str
    attempts: int
    last_error: Optional[str]
    created: float
    provisional: Optional[list[Optional[int]]]
    result: Any
    progress: dict[str, Any]


@dataclass(frozen=True)
class OutboxStatus:
    """What the journal holds now.

    Attributes:
        pending: Records waiting for delivery.
        failed: Records the LIMS refused (kept for inspection).
        delivered: Records delivered since the journal was created.
        deferred: Writes that could not go at once and were left to the replay.
        oldest_pending: ``time.time()`` of the oldest waiting record, or None.
        last_error: The latest delivery error, or None.
        next_attempt: ``time.time()`` of the next replay attempt, or None.
    """

    pending: int
    failed: int
    delivered: int
    deferred: int
    oldest_pending: Optional[float]
    last_error: Optional[str]
    next_attempt: Optional[float]

    def as_dict(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "failed": self.failed,
            "delivered": self.delivered,
            "deferred": self.deferred,
            "oldest_pending": self.oldest_pending,
            "last_error": self.last_error,
            "next_attempt": self.next_attempt,
        }


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        key TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created REAL NOT NULL,
        delivered_at REAL,
        provisional TEXT,
        result TEXT,
        progress TEXT)""",
    "CREATE INDEX IF NOT EXISTS records_status ON records (status, seq)",
    """CREATE TABLE IF NOT EXISTS ids (
        kind TEXT NOT NULL,
        provisional INTEGER NOT NULL,
        real TEXT,
        PRIMARY KEY (kind, provisional))""",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)


class Outbox:
    """A durable, ordered journal of writes to one LIMS.

    Args:
        path: The SQLite file (created when missing, reused when present).
        deliver: ``deliver(kind, payload, checkpoint)`` sends one record and
            returns the LIMS's result; it raises to report failure (see module
            doc). The :class:`Checkpoint` keeps its partial progress.
        deliveries: How each kind is delivered (references, results).
        call_timeout: Seconds a delivery may take before it counts as
            "unreachable" (the caller's wait is bounded by this).
        backoff: First and longest wait between replay attempts, in seconds.
        keep_delivered: Delivered records kept after pruning.
        max_pending: Undelivered records allowed before writes are refused.
        on_change: Called with the new :class:`OutboxStatus` when it changes.
    """

    #: Every open journal of the process (tests close them all between tests).
    instances: "weakref.WeakSet[Outbox]" = weakref.WeakSet()

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
        on_change: Optional[Callable[[OutboxStatus], None]] = None,
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
        self._worker: Optional[gevent.Greenlet] = None
        self._delay = backoff[0]
        self._next_attempt: Optional[float] = None
        self._last_error: Optional[str] = None
        self._last_status: Optional[OutboxStatus] = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a process crash
            for statement in _SCHEMA:
                self._db.execute(statement)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(records)")}
            if "progress" not in columns:  # a journal from before checkpoints
                self._db.execute("ALTER TABLE records ADD COLUMN progress TEXT")
        except (sqlite3.Error, OSError) as error:
            raise OutboxError(f"cannot open the outbox journal {self.path}: {error}") from error
        row = self._db.execute(
            "SELECT last_error FROM records WHERE last_error IS NOT NULL ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        self._last_error = row[0] if row else None
        self._closed = False
        self._in_flight: dict[int, gevent.Greenlet] = {}
        self._waiters: dict[int, gevent.event.AsyncResult] = {}
        # True after the LIMS did not answer, until it answers again.
        self._down = False
        self._lock_file: Optional[Any] = None
        Outbox.instances.add(self)

    def close(self) -> None:
        """Stops the replay greenlet and closes the journal (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        for flight in list(self._in_flight.values()):
            flight.join(timeout=1.0)  # a request on its way gets a moment to land
        with self._lock:
            self._db.close()
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None
        Outbox.instances.discard(self)

    # -- writing ---------------------------------------------------------------

    def _counter(self, name: str) -> int:
        row = self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            (name,),
        ).fetchone()
        return int(row[0])

    def next_number(self, name: str) -> int:
        """The next value of a named counter kept in the journal (survives restarts).

        No lock: deliveries call this while a writer holds the journal's lock,
        and SQLite calls never yield to another greenlet mid-way.
        """
        return self._counter(name)

    def _count(self, status: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM records WHERE status = ?", (status,)).fetchone()[0])

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
            if self._count(PENDING) >= self.max_pending:
                raise OutboxFullError(
                    f"the outbox {self.path} holds {self.max_pending} undelivered records; "
                    "the LIMS has not answered for a long time"
                )
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                provisional = [
                    None if k is None else _PROVISIONAL_BASE - self._counter("provisional")
                    for k in delivery.result_kinds()
                ]
                for id_kind, value in zip(delivery.result_kinds(), provisional):
                    if id_kind is not None:
                        self._db.execute(
                            "INSERT INTO ids (kind, provisional, real) VALUES (?, ?, NULL)", (id_kind, value)
                        )
                key, created, text = uuid.uuid4().hex, time.time(), _dumps(payload)
                cursor = self._db.execute(
                    "INSERT INTO records (kind, key, payload, status, created, provisional) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (kind, key, text, PENDING, created, json.dumps(provisional)),
                )
                seq = int(cursor.lastrowid)
            earlier = self._db.execute(
                "SELECT 1 FROM records WHERE status = ? AND seq < ? LIMIT 1", (PENDING, seq)
            ).fetchone()
            # What a read-back would give, without reading back.
            record = Record(seq, kind, key, _loads(text), PENDING, 0, None, created, provisional, None, {})
        # The lock is not held while the LIMS is waited for: a write made
        # meanwhile journals itself behind this one and returns at once.
        if not earlier:
            try:
                outcome = self._attempt(record)
            except Exception:
                self._notify()
                raise
            if outcome is not None:
                self._kick()  # writes that queued behind this one go now
                self._notify()
                return outcome[0]
        elif not self._down:
            # The LIMS answers, it is just busy with earlier records: wait for
            # this one's turn (within the call timeout) rather than hand out
            # provisional ids a healthy LIMS does not need.
            waiter = self._waiters[seq] = gevent.event.AsyncResult()
            self._kick()
            try:
                outcome = waiter.get(timeout=self.call_timeout)
            except gevent.Timeout:
                outcome = None
            finally:
                self._waiters.pop(seq, None)
            if outcome is not None:
                self._notify()
                return outcome[0]
        with self._lock:
            self._counter("deferred")
        self._kick()
        self._notify()
        return self._shape(delivery, provisional)

    @staticmethod
    def _shape(delivery: Delivery, values: list[Optional[int]]) -> Any:
        if delivery.returns is None:
            return None
        if isinstance(delivery.returns, str):
            return values[0]
        return tuple(values)

    # -- delivering --------------------------------------------------------------

    def _record(self, seq: int) -> Record:
        row = self._db.execute(
            "SELECT seq, kind, key, payload, status, attempts, last_error, created, provisional, result, "
            "progress FROM records WHERE seq = ?",
            (seq,),
        ).fetchone()
        return Record(
            seq=row[0],
            kind=row[1],
            key=row[2],
            payload=_loads(row[3]),
            status=row[4],
            attempts=row[5],
            last_error=row[6],
            created=row[7],
            provisional=json.loads(row[8]) if row[8] else None,
            result=_loads(row[9]),
            progress=_loads(row[10]) or {},
        )

    def _resolve(self, record: Record) -> Any:
        """The payload with provisional ids replaced by real ones.

        Raises:
            LookupError: A referenced record was not (or not yet) delivered.
        """
        payload = record.payload
        for path, id_kind in (self.deliveries[record.kind].refs or {}).items():
            *parents, leaf = path.split(".")
            holder = payload
            for part in parents:
                holder = holder.get(part) if isinstance(holder, dict) else None
            if not isinstance(holder, dict):
                continue
            value = holder.get(leaf)
            if isinstance(value, int) and not isinstance(value, bool) and value <= _PROVISIONAL_BASE:
                row = self._db.execute(
                    "SELECT real FROM ids WHERE kind = ? AND provisional = ?", (id_kind, value)
                ).fetchone()
                if row is None or row[0] is None:
                    raise LookupError(f"{id_kind} {value} has no LIMS id (its record was not delivered)")
                holder[leaf] = json.loads(row[0])
        return payload

    def _attempt(self, record: Record) -> Optional[tuple[Any]]:
        """Delivers one record, waiting at most ``call_timeout`` for the LIMS.

        A LIMS slower than that is not abandoned: the request stays on its
        way in its own greenlet (so it is never sent twice) and its outcome is
        recorded when it lands; meanwhile the record, and those after it, wait.

        Returns:
            ``(result,)`` when delivered, None when the LIMS is unreachable or slow.

        Raises:
            Exception: The LIMS refused it (the record is marked failed).
        """
        if record.seq in self._in_flight:
            return None
        try:
            payload = self._resolve(record)
        except LookupError as error:
            return self._outcome(record, None, error)
        # Counted before sending: after a crash mid-request, a retry knows an
        # earlier attempt may have reached the LIMS (and looks before storing).
        self._db.execute("UPDATE records SET attempts = attempts + 1 WHERE seq = ?", (record.seq,))
        checkpoint = Checkpoint(record.progress, record.attempts, lambda data: self._save_progress(record.seq, data))
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
            self._db.execute("UPDATE records SET last_error = ? WHERE seq = ?", (text, record.seq))
            log.warning("outbox: %s #%s: %s", record.kind, record.seq, text)
            gevent.spawn(self._land, record, flight)
            return None
        del self._in_flight[record.seq]
        return self._outcome(record, *flight.value)

    def _save_progress(self, seq: int, data: dict[str, Any]) -> None:
        if not self._closed:
            self._db.execute("UPDATE records SET progress = ? WHERE seq = ?", (_dumps(data), seq))

    def _send_capped(
        self, kind: str, payload: Any, checkpoint: Checkpoint
    ) -> tuple[Any, Optional[BaseException]]:
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
            try:
                self._outcome(record, result, error)
            except Exception:
                pass  # refused: marked failed and logged by _outcome
        self._notify()
        self._kick()

    def _outcome(self, record: Record, result: Any, error: Optional[BaseException]) -> Optional[tuple[Any]]:
        """Marks a record delivered, waiting or failed after an attempt."""
        waiter = self._waiters.get(record.seq)
        if error is not None:
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise error
            text = f"{type(error).__name__}: {error}"
            self._last_error = text
            if isinstance(error, LookupError) or not is_unavailable(error):
                self._finish(record, FAILED, error=text)
                log.error("outbox: %s #%s refused: %s", record.kind, record.seq, text)
                refusal = error if isinstance(error, Exception) else LimsError(text)
                if waiter is not None:
                    waiter.set_exception(refusal)
                raise refusal
            self._down = True
            self._db.execute("UPDATE records SET last_error = ? WHERE seq = ?", (text, record.seq))
            log.warning("outbox: %s #%s waits, the LIMS does not answer: %s", record.kind, record.seq, text)
            return None
        delivery = self.deliveries[record.kind]
        values = list(result) if isinstance(result, (list, tuple)) else [result]
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for id_kind, provisional, real in zip(delivery.result_kinds(), record.provisional or [], values):
                if id_kind is not None and provisional is not None:
                    self._db.execute(
                        "UPDATE ids SET real = ? WHERE kind = ? AND provisional = ?",
                        (json.dumps(real), id_kind, provisional),
                    )
            self._finish(record, DELIVERED, result=result)
        self._delay = self.backoff[0]
        self._down = False
        if waiter is not None:
            waiter.set((result,))
        return (result,)

    def _finish(self, record: Record, status: str, *, error: Optional[str] = None, result: Any = None) -> None:
        self._db.execute(
            "UPDATE records SET status = ?, last_error = ?, delivered_at = ?, "
            "result = ? WHERE seq = ?",
            (status, error, time.time(), _dumps(result), record.seq),
        )
        if status == DELIVERED:
            if self._counter("delivered") % max(1, min(_PRUNE_EVERY, self.keep_delivered)) == 0:
                self.prune()

    def prune(self) -> None:
        """Drops delivered records beyond ``keep_delivered`` (done every few deliveries)."""
        self._db.execute(
            "DELETE FROM records WHERE status = ? AND seq NOT IN "
            "(SELECT seq FROM records WHERE status = ? ORDER BY seq DESC LIMIT ?)",
            (DELIVERED, DELIVERED, self.keep_delivered),
        )

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
                row = self._db.execute(
                    "SELECT seq FROM records WHERE status = ? ORDER BY seq LIMIT 1", (PENDING,)
                ).fetchone()
                if row is None:
                    self._next_attempt = None
                    break
                record = self._record(row[0])
            try:
                outcome = self._attempt(record)
            except Exception:
                if self._status_of(record.seq) == PENDING:
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

    def _status_of(self, seq: int) -> Optional[str]:
        row = self._db.execute("SELECT status FROM records WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else row[0]

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
        while self._count(PENDING):
            self.replay()
            if not self._count(PENDING):
                break
            head = self._db.execute(
                "SELECT seq FROM records WHERE status = ? ORDER BY seq LIMIT 1", (PENDING,)
            ).fetchone()
            if head is not None and head[0] in self._in_flight and not self._down:
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
        while self._count(PENDING):
            if time.monotonic() >= deadline:
                return False
            self._kick()
            gevent.sleep(0.05)
        return True

    # -- observing --------------------------------------------------------------------

    def status(self) -> OutboxStatus:
        """Counts, the oldest waiting record and the latest error."""
        waiting = {
            status: (count, oldest)
            for status, count, oldest in self._db.execute(
                "SELECT status, COUNT(*), MIN(created) FROM records WHERE status != ? GROUP BY status",
                (DELIVERED,),
            )
        }
        counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
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

    def records(self, status: Optional[str] = None) -> list[Record]:
        """Journalled records (all, or of one status), in order."""
        if status is None:
            seqs = self._db.execute("SELECT seq FROM records ORDER BY seq").fetchall()
        else:
            seqs = self._db.execute("SELECT seq FROM records WHERE status = ? ORDER BY seq", (status,)).fetchall()
        return [self._record(s[0]) for s in seqs]

    def real_id(self, kind: str, provisional: int) -> Any:
        """The LIMS id a provisional id stands for, or None while undelivered."""
        row = self._db.execute(
            "SELECT real FROM ids WHERE kind = ? AND provisional = ?", (kind, provisional)
        ).fetchone()
        return None if row is None or row[0] is None else json.loads(row[0])

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
