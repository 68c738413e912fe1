"""The outbox's value types: record statuses, delivery rules, checkpoints, records and status."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The statuses of a journalled record (the ``status`` column).
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

#: Key of a record's progress data saying the caller got provisional ids (the write was left to the replay).
DEFERRED_MARK = "deferred"


@dataclass(frozen=True)
class Delivery:
    """How to deliver one kind of record.

    Attributes:
        refs: Payload paths (``"image.dataCollectionId"``) -> id kind; provisional
            ids found there are replaced by real ones before delivery.
        returns: Id kind of each element of the result (a tuple result), or
            of the result itself (a single kind); None where nothing is mapped.
    """

    refs: Mapping[str, str] | None = None
    returns: Sequence[str | None] | str | None = None

    def result_kinds(self) -> list[str | None]:
        """The id kind of each element of the result, in order (empty when nothing is returned)."""
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
        key: The record's idempotency key ("" outside a journal).
        provisional: The provisional ids the caller was given for the record's
            result (the broker route hands them on, as it never learns the LIMS's).
    """

    def __init__(
        self,
        data: dict[str, Any] | None = None,
        previous_attempts: int = 0,
        persist: Callable[[dict[str, Any]], None] | None = None,
        *,
        key: str = "",
        provisional: Sequence[int | None] | None = None,
    ) -> None:
        self.data: dict[str, Any] = dict(data or {})
        self.previous_attempts = previous_attempts
        self.key = key
        self.provisional: list[int | None] = list(provisional or [])
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
    last_error: str | None
    created: float
    provisional: list[int | None] | None
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
    oldest_pending: float | None
    last_error: str | None
    next_attempt: float | None

    def as_dict(self) -> dict[str, Any]:
        """The status as a plain dict (for JSON and the command line)."""
        return {
            "pending": self.pending,
            "failed": self.failed,
            "delivered": self.delivered,
            "deferred": self.deferred,
            "oldest_pending": self.oldest_pending,
            "last_error": self.last_error,
            "next_attempt": self.next_attempt,
        }
