"""The session record: what happened at the beamline during one session, as built from the LIMS and the outbox.

A :class:`SessionRecord` is what the report shows and what the MXLIMS
results document is made from: the LIMS's own reading of the session
(:class:`~mxcubecore_lims.mxlims.reading.SessionReading`), the outbox's
account of what is still waiting or was refused, the ids that were
provisional and are now delivered, the robot actions and the snapshots of
each collection, and what could not be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mxcubecore_lims.mxlims.reading import SessionReading, SessionSweep

__all__ = ["DeliveredId", "JournalEntry", "RobotEvent", "SessionRecord", "TimelineEvent", "naive"]


@dataclass(frozen=True)
class JournalEntry:
    """One LIMS write the outbox still holds: waiting for the LIMS, or refused by it.

    Attributes:
        lims: The LIMS object whose journal holds it (its name).
        seq: Its number in the journal.
        kind: What it writes (``data_collection``, ``image``, ``robot_action``...).
        status: ``pending`` or ``failed``.
        attempts: Delivery attempts so far.
        error: The latest error (why it waits, or why the LIMS refused it).
        created: When it was journalled.
        summary: What it is about, for people (``collection lyso-01_1``).
    """

    lims: str
    seq: int
    kind: str
    status: str
    attempts: int
    error: str | None
    created: datetime
    summary: str


@dataclass(frozen=True)
class DeliveredId:
    """An id handed out while the LIMS was away, and the LIMS id it became.

    Attributes:
        lims: The LIMS object.
        kind: ``collection``, ``group``, ``image``...
        provisional: The negative id the caller got.
        real: The LIMS's id, or None while still waiting.
    """

    lims: str
    kind: str
    provisional: int
    real: Any


@dataclass(frozen=True)
class RobotEvent:
    """A sample mount or unmount, as the outbox journalled it.

    Attributes:
        when: Its start.
        action: ``LOAD``, ``UNLOAD``...
        sample: The sample (id or barcode) it moved.
        status: Its outcome as the robot reported it.
        message: The robot's message, if any.
    """

    when: datetime | None
    action: str
    sample: str
    status: str
    message: str | None = None


@dataclass(frozen=True)
class TimelineEvent:
    """One moment of the session, for the timeline.

    Attributes:
        when: When it happened.
        kind: ``collection``, ``mount``, ``scan``, ``processing``, ``fault`` or ``replay``.
        title: What happened, in a few words.
        ok: False for a failure, None when not known.
    """

    when: datetime
    kind: str
    title: str
    ok: bool | None = None


@dataclass
class SessionRecord:
    """Everything known about one session.

    Attributes:
        reading: What the LIMS gave back (None when it could not be read at all).
        session_id: The session asked for.
        lims: The LIMS read (its name, e.g. ``ICAT``).
        pending: Writes the outbox still holds.
        replayed: Writes that waited for the LIMS and were delivered later.
        delivered_ids: Provisional ids and what they became.
        robot_events: Mounts and unmounts (from the outbox journal).
        snapshots: Collection LIMS id -> snapshot image paths.
        problems: What could not be read, and why.
        built_at: When the record was built.
    """

    session_id: str
    lims: str
    reading: SessionReading | None = None
    pending: list[JournalEntry] = field(default_factory=list)
    replayed: list[JournalEntry] = field(default_factory=list)
    delivered_ids: list[DeliveredId] = field(default_factory=list)
    robot_events: list[RobotEvent] = field(default_factory=list)
    snapshots: dict[str, list[str]] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    built_at: datetime = field(default_factory=datetime.now)

    @property
    def collections(self) -> list[SessionSweep]:
        """The session's data collections, oldest first (none when the LIMS could not be read)."""
        return list(self.reading.sweeps) if self.reading is not None else []

    def sample_name(self, sample_id: str | None) -> str:
        """The name of a sample of the session, else its id (or ``-``)."""
        if self.reading is not None and sample_id is not None:
            for sample in self.reading.samples:
                if str(sample.get("sampleId")) == str(sample_id):
                    return str(sample.get("sampleName") or sample_id)
        return sample_id or "-"

    def timeline(self) -> list[TimelineEvent]:
        """Collections, mounts, scans, processing and outbox faults, in time order."""
        events: list[TimelineEvent] = []
        for sweep in self.collections:
            if sweep.start is not None:
                name = sweep.prefix or sweep.lims_id
                run = f"_{sweep.run_number}" if sweep.run_number is not None else ""
                events.append(TimelineEvent(sweep.start, "collection", f"{name}{run}", sweep.succeeded))
        for robot in self.robot_events:
            if robot.when is not None:
                ok = robot.status.lower() in ("success", "ok", "done") if robot.status else None
                events.append(TimelineEvent(robot.when, "mount", f"{robot.action} {robot.sample}", ok))
        if self.reading is not None:
            for scan in self.reading.scans:
                if scan.start is not None:
                    events.append(TimelineEvent(scan.start, "scan", f"{scan.kind} {scan.name}"))
            for result in self.reading.processings:
                if result.start is not None:
                    events.append(
                        TimelineEvent(result.start, "processing", result.program or result.lims_id, result.succeeded)
                    )
        for entry in self.pending:
            events.append(TimelineEvent(entry.created, "fault", f"{entry.status}: {entry.summary}", False))
        by_lims: dict[str, list[JournalEntry]] = {}
        for entry in self.replayed:
            by_lims.setdefault(entry.lims, []).append(entry)
        for lims, entries in by_lims.items():
            # One line per LIMS, not per write: an outage of ten collections is forty writes.
            first, last = min(e.created for e in entries), max(e.created for e in entries)
            title = f"{lims}: {len(entries)} write(s) made from {first:%H:%M:%S} to {last:%H:%M:%S} waited for the LIMS, then were delivered"
            events.append(TimelineEvent(last, "replay", title, True))
        return sorted(events, key=lambda e: naive(e.when))


def naive(moment: datetime) -> datetime:
    """Naive local time, so aware and naive moments sort together."""
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo is not None else moment
