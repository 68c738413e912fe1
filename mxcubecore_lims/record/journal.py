"""The outbox's account of a session: what still waits, what waited and got through, the mounts.

The journal keeps every write until it is delivered, and the delivered ones
up to ``outbox_keep_delivered``. So on the machine that collected (even after
a restart: the journal is a file) it tells what the LIMS does not hold yet,
which provisional ids became which LIMS ids, and what the LIMS cannot give
back over its API (robot actions, snapshot paths).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from mxcubecore_lims.mxlims.reading import as_datetime
from mxcubecore_lims.outbox.records import DEFERRED_MARK, DELIVERED, FAILED, PENDING, Delivery, Record
from mxcubecore_lims.record.model import DeliveredId, JournalEntry, RobotEvent

__all__ = ["JournalAccount", "OutboxLike", "account_of"]

_SNAPSHOT_KEYS = tuple(f"xtalSnapshotFullPath{n}" for n in range(1, 5))


class OutboxLike(Protocol):
    """What is read of an outbox (:class:`mxcubecore_lims.outbox.Outbox`)."""

    def records(self, status: str | None = None) -> list[Record]:
        """Journalled records, in order."""

    def real_id(self, kind: str, provisional: int) -> Any:
        """The LIMS id a provisional id became, or None."""


@dataclass
class JournalAccount:
    """What one journal says about a session."""

    pending: list[JournalEntry] = field(default_factory=list)
    replayed: list[JournalEntry] = field(default_factory=list)
    delivered_ids: list[DeliveredId] = field(default_factory=list)
    robot_events: list[RobotEvent] = field(default_factory=list)
    snapshots: dict[str, list[str]] = field(default_factory=dict)
    #: Delivered collections (LIMS id), and the images journalled for each (LIMS collection id -> paths).
    collections: list[str] = field(default_factory=list)
    images: dict[str, list[str]] = field(default_factory=dict)


def _values(node: Any, keys: tuple[str, ...]) -> Iterator[Any]:
    """Every value of these keys anywhere in a payload."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in keys and value not in (None, ""):
                yield value
            yield from _values(value, keys)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value, keys)


def _in_session(record: Record, sessions: set[str]) -> bool:
    """A record names the session, or names none (an image: it belongs to its collection)."""
    named = {str(v) for v in _values(record.payload, ("sessionId", "session_id"))}
    return not named or bool(named & sessions)


def _summary(record: Record) -> str:
    payload = record.payload if isinstance(record.payload, dict) else {}
    if "collection" in payload:
        collection = payload["collection"] or {}
        info = collection.get("fileinfo") or {}
        name = (
            f"{info.get('prefix', '?')}_{info.get('run_number', '?')}" if info else str(collection.get("collection_id"))
        )
        return f"{record.kind.replace('_', ' ')} {name}"
    if "image" in payload:
        return f"image {(payload['image'] or {}).get('fileName', '?')}"
    if "action" in payload:
        action = payload["action"] or {}
        return (
            f"robot {action.get('actionType', '?')} sample {action.get('blSampleId') or action.get('sampleId') or '?'}"
        )
    if "scan" in payload:
        return f"energy scan {(payload['scan'] or {}).get('element', '')}".strip()
    if "spectrum" in payload:
        return "fluorescence spectrum"
    return record.kind.replace("_", " ")


def _entry(lims: str, record: Record) -> JournalEntry:
    return JournalEntry(
        lims=lims,
        seq=record.seq,
        kind=record.kind,
        status=record.status,
        attempts=record.attempts,
        error=record.last_error,
        created=datetime.fromtimestamp(record.created),
        summary=_summary(record),
    )


def _collection_id(outbox: OutboxLike, value: Any) -> str | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    if number < 0:  # provisional: the id the LIMS gave it, if delivered
        real = outbox.real_id("collection", number)
        return str(real) if real is not None else None
    return str(number)


def _stored_collection(outbox: OutboxLike, record: Record) -> str | None:
    """The LIMS id of the collection a ``data_collection`` record stored (None while undelivered)."""
    result = record.result[0] if isinstance(record.result, list | tuple) and record.result else record.result
    if result is None and record.provisional:
        result = record.provisional[0]
    return _collection_id(outbox, result)


def _delivered(account: JournalAccount, outbox: OutboxLike, record: Record, payload: dict[str, Any]) -> None:
    """The collections and images a delivered record put into the LIMS."""
    if record.kind == "data_collection":
        key = _stored_collection(outbox, record)
        if key is not None and key not in account.collections:
            account.collections.append(key)
    image = payload.get("image")
    if record.kind == "image" and isinstance(image, dict) and image.get("fileName"):
        key = _collection_id(outbox, image.get("dataCollectionId"))
        if key is not None:
            location = str(image.get("fileLocation") or "").rstrip("/")
            path = f"{location}/{image['fileName']}" if location else str(image["fileName"])
            known = account.images.setdefault(key, [])
            if path not in known:
                known.append(path)


def account_of(
    lims: str, outbox: OutboxLike, sessions: Iterable[str], deliveries: dict[str, Delivery]
) -> JournalAccount:
    """What one journal says about a session.

    Args:
        lims: The LIMS object's name (shown with each entry).
        outbox: Its outbox.
        sessions: The session's ids as this LIMS object knows them.
        deliveries: How each kind of write is delivered (which ids it returns).
    """
    wanted = {str(s) for s in sessions}
    account = JournalAccount()
    for record in outbox.records():
        if not _in_session(record, wanted):
            continue
        if record.status in (PENDING, FAILED):
            account.pending.append(_entry(lims, record))
        deferred = bool((record.progress or {}).get(DEFERRED_MARK))
        if record.status == DELIVERED and deferred:
            account.replayed.append(_entry(lims, record))
        delivery = deliveries.get(record.kind)
        # Only where the caller got the provisional ids: a write delivered at once handed out real ones.
        if delivery is not None and record.provisional and deferred:
            for kind, provisional in zip(delivery.result_kinds(), record.provisional, strict=False):
                if kind is not None and provisional is not None:
                    real = outbox.real_id(kind, provisional)
                    account.delivered_ids.append(DeliveredId(lims, kind, provisional, real))
        payload = record.payload if isinstance(record.payload, dict) else {}
        if record.kind == "robot_action" and isinstance(payload.get("action"), dict):
            action = payload["action"]
            account.robot_events.append(
                RobotEvent(
                    when=as_datetime(action.get("startTime")),
                    action=str(action.get("actionType") or "?"),
                    sample=str(action.get("blSampleId") or action.get("sampleBarcode") or "?"),
                    status=str(action.get("status") or ""),
                    message=action.get("message"),
                )
            )
        if record.status == DELIVERED:
            _delivered(account, outbox, record, payload)
        collection = payload.get("collection")
        if isinstance(collection, dict):
            shots = [str(collection[k]) for k in _SNAPSHOT_KEYS if collection.get(k)]
            key = _collection_id(outbox, collection.get("collection_id"))
            if key is None and record.kind == "data_collection":
                key = _stored_collection(outbox, record)
            if shots and key is not None:
                known = account.snapshots.setdefault(key, [])
                known.extend(s for s in shots if s not in known)
    return account
