"""Writes a session record (the HTML report and the MXLIMS results document), now or when a session ends.

At the end of a session (the last user logs out, or another session becomes
active) a LIMS object configured with ``session_record`` builds the record in
a background greenlet: the beamline never waits for it, and a failure to
build is logged, never raised. The files go next to the session's data (the
session object's base data directory) unless ``session_record_directory``
says where.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import gevent

from mxcubecore_lims.mxlims.results import reading_document
from mxcubecore_lims.record.builder import build_record
from mxcubecore_lims.record.model import SessionRecord

__all__ = ["record_files", "spawn_session_record", "write_record"]

log = logging.getLogger(__name__)


def record_files(directory: Path, session_id: str) -> tuple[Path, Path]:
    """The report's and the results document's paths for a session, in a directory."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(session_id)) or "session"
    return directory / f"session-record-{safe}.html", directory / f"session-results-{safe}.mxlims.json"


def _write_text(path: Path, text: str) -> None:
    """Writes then renames: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_record(record: SessionRecord, report: Path, results: Path | None = None) -> list[Path]:
    """Writes the report (and the MXLIMS results document, when the LIMS could be read).

    Returns:
        The files written.
    """
    from mxcubecore_lims.record.report import render_report  # Jinja2 and matplotlib: only when writing

    _write_text(report, render_report(record))
    written = [report]
    if results is not None and record.reading is not None:
        _write_text(results, reading_document(record.reading).to_json() + "\n")
        written.append(results)
    return written


def _build_and_write(lims: Any, session_id: str, directory: Path, as_user: str | None) -> list[Path]:
    try:
        record = build_record(lims, session_id, as_user=as_user)
        written = write_record(record, *record_files(directory, session_id))
    except Exception:  # the beamline goes on whatever happens here; people read the log
        log.exception("%s: the record of session %s was not written", getattr(lims, "name", "lims"), session_id)
        return []
    log.info("%s: record of session %s written: %s", lims.name, session_id, ", ".join(map(str, written)))
    return written


def spawn_session_record(lims: Any, session_id: str, directory: Path, as_user: str | None = None) -> gevent.Greenlet:
    """Builds and writes a session's record in the background; returns the greenlet (its value: the files)."""
    return gevent.spawn(_build_and_write, lims, session_id, directory, as_user)
