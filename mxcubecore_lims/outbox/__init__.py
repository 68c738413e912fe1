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

Each record costs one commit: it is committed (its first attempt counted)
before it is sent, and its delivered mark shares the next record's commit
(or is committed alone shortly after, and at close). A crash can lose
delivered marks, never a record. A record whose delivery was recorded is
never sent again. A record whose request reached the LIMS but whose answer
(or delivered mark) was lost is sent again; deliveries that can look up
what an earlier attempt stored do so (``Checkpoint.previous_attempts``), the
others may store it twice. One process delivers a journal (:meth:`Outbox.claim`).

Delivered records are pruned beyond ``keep_delivered`` (every few deliveries,
so at most twice as many are kept meanwhile); pending ones are
never dropped: when ``max_pending`` is reached a new write raises
:class:`OutboxFullError` rather than lose an older one.

The package's modules, each with one job:

* :mod:`.core`: :class:`Outbox`, the one entry point, composed of the parts below;
* :mod:`.journal`: the SQLite schema and the reads and writes of records and counters;
* :mod:`.ids`: provisional ids, and their mapping to the ids the LIMS returned;
* :mod:`.delivery`: one delivery attempt and its outcome, replay, back-off, waiting;
* :mod:`.records`: the value types (:class:`Delivery`, :class:`Checkpoint`,
  :class:`Record`, :class:`OutboxStatus`) and the record statuses;
* :mod:`.encoding`: payloads as JSON, datetimes kept as datetimes;
* :mod:`.errors`: :class:`OutboxError`, :class:`OutboxFullError` and :func:`is_unavailable`.
"""

from __future__ import annotations

from mxcubecore_lims.outbox.core import Outbox
from mxcubecore_lims.outbox.errors import OutboxError, OutboxFullError, is_unavailable
from mxcubecore_lims.outbox.records import DELIVERED as DELIVERED
from mxcubecore_lims.outbox.records import FAILED as FAILED
from mxcubecore_lims.outbox.records import PENDING as PENDING
from mxcubecore_lims.outbox.records import Checkpoint, Delivery, OutboxStatus, Record

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
