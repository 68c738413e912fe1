"""Builds the session record from a LIMS object: what the LIMS holds, and what its outbox still holds.

The LIMS is read back (``read_session``), so the record is right for a
session collected by another process or before a restart; the outbox
journals (the object's own, and each member's for ESRFLIMS) add what the
LIMS does not hold yet and what its API cannot give back. Every failure to
read is kept in :attr:`SessionRecord.problems`, never raised: a record of
half a session says which half is missing.

Snapshots are taken from the LIMS (ISPyB keeps their paths), from the
journal (the collection dicts name them) and from the collection's own
directory (files named ``*snapshot*``), since ICAT keeps none.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from mxcubecore_lims.errors import LimsError
from mxcubecore_lims.lims.outbox_wiring import DELIVERIES
from mxcubecore_lims.record.journal import JournalAccount, account_of
from mxcubecore_lims.record.model import SessionRecord, naive

__all__ = ["build_record"]

log = logging.getLogger(__name__)

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _members(lims: Any) -> dict[str, Any]:
    """The LIMS objects whose journals count: the members of a composite, else the object itself."""
    members = getattr(lims, "members", None)
    if callable(members):
        found = dict(members())
        if found:
            return found
    return {str(getattr(lims, "name", "lims")): lims}


def _session_ids(member: Any, session_id: str) -> set[str]:
    """The session's ids as one member knows them (ESRFLIMS: ISPyB's own session for ICAT's)."""
    ids = {str(session_id)}
    active = getattr(getattr(member, "session_manager", None), "active_session", None)
    if active is not None:
        ids.add(str(active.session_id))
        own = getattr(member, "get_session_id", None)
        if callable(own):
            try:
                value = own()
            except LimsError:
                value = None
            if value not in (None, ""):
                ids.add(str(value))
    return ids


def _reads_itself(lims: Any, member: Any) -> bool:
    """Whether the record's reading came from this member (its ids are the reading's ids)."""
    if member is lims:
        return True
    config = getattr(lims, "config", None)
    role = getattr(config, "results_role", None) or getattr(config, "authority_role", None)
    members = getattr(lims, "members", None)
    return callable(members) and role is not None and members().get(role) is member


def _directory_snapshots(directory: str | None) -> list[str]:
    if not directory:
        return []
    try:
        return sorted(
            str(p)
            for p in Path(directory).iterdir()
            if p.is_file() and "snapshot" in p.name.lower() and p.suffix.lower() in _IMAGE_SUFFIXES
        )
    except OSError:
        return []


def _add_journalled_collections(record: SessionRecord, member: Any, account: JournalAccount) -> None:
    """Adds collections the journal says were delivered but the LIMS's listing lacks.

    ISPyB cannot list collections on samples outside a shipping: those are
    read back by id, and their images taken from the journal.
    """
    if record.reading is None:
        return
    listed = {s.lims_id for s in record.reading.sweeps}
    missing = [c for c in account.collections if c not in listed]
    reader = getattr(member, "read_collections", None)
    if missing and callable(reader):
        try:
            record.reading.sweeps.extend(reader(missing))
        except LimsError as error:
            record.problems[f"collections of {member.name}"] = f"could not be read by id: {error}"
    for index, sweep in enumerate(record.reading.sweeps):
        journalled = account.images.get(sweep.lims_id)
        if journalled and not sweep.images:
            record.reading.sweeps[index] = replace(sweep, images=tuple(sorted(journalled)))
    record.reading.sweeps.sort(key=lambda s: (naive(s.start) if s.start else datetime.min, s.lims_id))


def _merge(record: SessionRecord, account: JournalAccount) -> None:
    record.pending.extend(account.pending)
    record.replayed.extend(account.replayed)
    record.delivered_ids.extend(account.delivered_ids)
    record.robot_events.extend(account.robot_events)
    for key, paths in account.snapshots.items():
        known = record.snapshots.setdefault(key, [])
        known.extend(p for p in paths if p not in known)


def build_record(lims: Any, session_id: str | None = None, as_user: str | None = None) -> SessionRecord:
    """The record of one session, from a LIMS object of ours (logged in).

    Args:
        lims: The LIMS hardware object (ICATLIMS, an ISPyB object, ESRFLIMS).
        session_id: The LIMS session; default the active one.
        as_user: Whose login to read with (ICAT logins are per user); default the user in control.

    Returns:
        The record; what could not be read is in its ``problems``.
    """
    if session_id is None:
        active = getattr(getattr(lims, "session_manager", None), "active_session", None)
        session_id = str(active.session_id) if active is not None else ""
    names = ", ".join(item.name for item in lims.get_lims_name())
    record = SessionRecord(session_id=str(session_id), lims=names)
    if not session_id:
        record.problems["session"] = "no session given and none active"
        return record
    try:
        record.reading = lims.read_session(str(session_id), as_user=as_user)
    except LimsError as error:
        record.problems["LIMS"] = f"{names} could not be read: {type(error).__name__}: {error}"
        log.warning("session record %s: %s", session_id, record.problems["LIMS"])
    if record.reading is not None:
        record.problems.update(record.reading.unread)
    for name, member in _members(lims).items():
        outbox = getattr(member, "outbox", None)
        if outbox is None:
            continue
        try:
            account = account_of(name, outbox, _session_ids(member, str(session_id)), DELIVERIES)
            _merge(record, account)
            if _reads_itself(lims, member):
                _add_journalled_collections(record, member, account)
        except Exception as error:  # a damaged journal must not cost the rest of the record
            record.problems[f"outbox {name}"] = f"the journal could not be read: {type(error).__name__}: {error}"
    for sweep in record.collections:
        known = record.snapshots.setdefault(sweep.lims_id, [])
        for path in [*sweep.snapshots, *_directory_snapshots(sweep.directory)]:
            if path not in known:
                known.append(path)
        if not known:
            del record.snapshots[sweep.lims_id]
    return record
