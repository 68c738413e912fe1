"""ICAT investigations as mxcubecore ``Session`` models.

The mapping follows mxcubecore's ICATLIMS (reference ``icat.md`` §5) so
mxcubeweb sees the same values whichever ICATLIMS runs:

* ``session_id`` = ``proposal_id`` = the investigation id (text);
* ``proposal_name`` = the investigation name (``MX-415``); ``code`` = its
  type name (``MX``); ``number`` = the name without the code and its dash;
* ``beamline_name`` = the host beamline when the investigation runs there,
  else its first instrument;
* actual dates from the investigation parameters ``actualStartDate`` /
  ``actualEndDate``; ``is_rescheduled`` when ``actualEndDate`` is set;
* ``volume`` / ``sample_count`` / ``dataset_count`` from ``__volume`` /
  ``__sampleCount`` / ``__datasetCount`` when the facility keeps them;
* portal and logbook URLs from templates with ``{id}`` (the user portal's
  ``{id}`` is the ``Id`` parameter when there is one, as at ESRF).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mxcubecore_lims.errors import LimsDataError
from mxcubecore_lims.model.session import Session

__all__ = ["SessionContext", "investigation_parameters", "session_from_investigation"]


@dataclass(frozen=True)
class SessionContext:
    """What the mapping needs to know about this beamline.

    Attributes:
        host_beamline: The beamline this MXCuBE runs (``override_beamline_name``).
        data_portal_url: Template with ``{id}``, or None.
        user_portal_url: Template with ``{id}``, or None.
        logbook_url: Template with ``{id}``, or None.
    """

    host_beamline: str
    data_portal_url: str | None = None
    user_portal_url: str | None = None
    logbook_url: str | None = None


def _naive_local(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        when = value
    else:
        try:
            when = datetime.fromisoformat(str(value))
        except ValueError as error:
            raise LimsDataError("Investigation", "date", value, "not a date-time") from error
    return when.astimezone().replace(tzinfo=None) if when.tzinfo else when


def investigation_parameters(investigation: Any) -> dict[str, Any]:
    """Parameter values of an investigation by type name (INCLUDE ``parameters.type``)."""
    values: dict[str, Any] = {}
    for parameter in getattr(investigation, "parameters", None) or []:
        kind = getattr(parameter, "type", None)
        name = getattr(kind, "name", None)
        if not name:
            continue
        for field in ("stringValue", "numericValue", "dateTimeValue"):
            value = getattr(parameter, field, None)
            if value is not None:
                values[str(name)] = str(value) if isinstance(value, str) else value
                break
    return values


def _instrument_names(investigation: Any) -> list[str]:
    names = []
    for link in getattr(investigation, "investigationInstruments", None) or []:
        instrument = getattr(link, "instrument", None)
        if instrument is not None and getattr(instrument, "name", None):
            names.append(str(instrument.name))
    return names


def _number(name: str, code: str) -> str:
    if code and name.upper().startswith(code.upper()):
        return name[len(code) :].lstrip("-_ ") or name
    return name


def _url(template: str | None, value: Any) -> str | None:
    return template.replace("{id}", str(value)) if template else None


def session_from_investigation(investigation: Any, context: SessionContext, now: datetime | None = None) -> Session:
    """Builds the ``Session`` for one investigation.

    Args:
        investigation: A python-icat Investigation with ``type``,
            ``investigationInstruments.instrument`` and ``parameters.type``
            included.
        context: Host beamline and URL templates.
        now: The moment "scheduled now" is judged at (default: local now).

    Raises:
        LimsDataError: The investigation has no id or unreadable dates.
    """
    if getattr(investigation, "id", None) is None:
        raise LimsDataError("Investigation", "id", None, "an investigation without id")
    params = investigation_parameters(investigation)
    start = _naive_local(investigation.startDate)
    end = _naive_local(investigation.endDate)
    actual_start = _naive_local(params.get("actualStartDate")) or start
    actual_end = _naive_local(params.get("actualEndDate")) or end
    instruments = _instrument_names(investigation)
    host = context.host_beamline.strip().upper()
    here = [name for name in instruments if name.strip().upper() == host]
    beamline = here[0] if here else (instruments[0] if instruments else "")
    name = str(investigation.name)
    kind = getattr(investigation, "type", None)
    code = str(getattr(kind, "name", "") or "")
    now = now or datetime.now()
    values: dict[str, Any] = {
        "session_id": str(investigation.id),
        "proposal_id": str(investigation.id),
        "proposal_name": name,
        "code": code,
        "number": _number(name, code),
        "title": str(investigation.title or ""),
        "beamline_name": beamline,
        "start_date": start.strftime("%Y%m%d") if start else "",
        "start_time": start.strftime("%H:%M:%S") if start else "",
        "end_date": end.strftime("%Y%m%d") if end else "",
        "end_time": end.strftime("%H:%M:%S") if end else "",
        "actual_start_date": actual_start.strftime("%Y%m%d") if actual_start else "",
        "actual_start_time": actual_start.strftime("%H:%M:%S") if actual_start else "",
        "actual_end_date": actual_end.strftime("%Y%m%d") if actual_end else "",
        "actual_end_time": actual_end.strftime("%H:%M:%S") if actual_end else "",
        "is_rescheduled": "actualEndDate" in params,
        "is_scheduled_beamline": bool(here),
        "scheduled": "true" if here else "false",
        "is_scheduled_time": bool(actual_start and actual_end and actual_start <= now <= actual_end),
        "comments": str(getattr(investigation, "summary", None) or ""),
        "data_portal_URL": _url(context.data_portal_url, investigation.id),
        "user_portal_URL": _url(context.user_portal_url, params.get("Id", investigation.id)),
        "logbook_URL": _url(context.logbook_url, investigation.id),
    }
    for key, param in (("volume", "__volume"), ("sample_count", "__sampleCount"), ("dataset_count", "__datasetCount")):
        if param in params:
            values[key] = str(params[param])
    if start:
        values["start_datetime"] = start
    if end:
        values["end_datetime"] = end
    return Session(**values)


def instruments_of(investigation: Any) -> Sequence[str]:
    """Names of the instruments an investigation runs on."""
    return _instrument_names(investigation)
