"""ISPyB sessions (``sessionWS3VO``) as mxcubecore ``Session`` models.

mxcubeweb reads ``Session`` fields as strings: dates as ``YYYYMMDD`` (they
end up in data paths), times as ``HH:MM:SS``, ids as text. ISPyB sends naive
local date-times; a session is "scheduled now" by ISPyB's own rule: it
started on or before today and has not ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mxcubecore_lims.errors import LimsDataError
from mxcubecore_lims.ispyb.proposal_codes import split_proposal_name
from mxcubecore_lims.model.session import Session


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _as_datetime(value: Any, field: str) -> datetime | None:
    """A naive local date-time (zeep gives aware ones when the XML has an offset)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError as error:
            raise LimsDataError("sessionWS3VO", field, value, "not a date-time") from error
    return when.astimezone().replace(tzinfo=None) if when.tzinfo else when


def session_from_ispyb(
    session: Mapping[str, Any],
    beamline_name: str,
    proposal: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Session:
    """Builds the mxcubecore ``Session`` for one ISPyB session.

    Args:
        session: The ``sessionWS3VO`` as a dict (zeep's ``serialize_object``).
        beamline_name: This beamline, to tell whether the session is scheduled here.
        proposal: The ``proposalWS3VO`` as a dict, for code, number and title;
            without it they come from ``proposalName``.
        now: The time "scheduled now" is judged at (default: local now).

    Returns:
        The session model.

    Raises:
        LimsDataError: The session has no id or unreadable dates.
    """
    if session.get("sessionId") is None:
        raise LimsDataError("sessionWS3VO", "sessionId", None, "a session without id")
    start = _as_datetime(session.get("startDate"), "startDate")
    end = _as_datetime(session.get("endDate"), "endDate")
    proposal = proposal or {}
    code, number = _text(proposal.get("code")), _text(proposal.get("number"))
    proposal_name = _text(session.get("proposalName"))
    if not code and proposal_name:
        try:
            parsed = split_proposal_name(proposal_name)
            code, number = parsed.code, parsed.number
        except Exception:  # a site-specific name: keep it whole
            code = proposal_name
    beamline = _text(session.get("beamlineName"))
    now = now or datetime.now()
    values: dict[str, Any] = {
        "session_id": _text(session["sessionId"]),
        "beamline_name": beamline,
        "start_date": start.strftime("%Y%m%d") if start else "",
        "start_time": start.strftime("%H:%M:%S") if start else "",
        "end_date": end.strftime("%Y%m%d") if end else "",
        "end_time": end.strftime("%H:%M:%S") if end else "",
        "title": _text(session.get("sessionTitle") or proposal.get("title")),
        "code": code,
        "number": number,
        "proposal_id": _text(session.get("proposalId") or proposal.get("proposalId")),
        "proposal_name": proposal_name or f"{code}{number}".lower(),
        "comments": _text(session.get("comments")),
        "nb_shifts": _text(session.get("nbShifts")),
        "scheduled": _text(session.get("scheduled")),
        "is_scheduled_beamline": beamline.strip().upper() == beamline_name.strip().upper(),
        # ISPyB's own "current" rule: started on or before today, not yet ended.
        "is_scheduled_time": bool(start and end and start.date() <= now.date() and now <= end),
    }
    if start:
        values["start_datetime"] = start
    if end:
        values["end_datetime"] = end
    return Session(**values)
