"""The session operations of ``ToolsForCollectionWebService``: find, list and store beamtime sessions."""

from __future__ import annotations

from typing import Any

from mxcubecore_lims.testing.ispyb.operations.common import (
    COLLECTION,
    DAY,
    IspybFault,
    check_length,
    current_time,
    positive,
    table_columns,
    value_object,
)
from mxcubecore_lims.testing.ispyb.store import Store

__all__ = [
    "current_sessions",
    "find_session",
    "find_sessions_by_proposal_and_beamline",
    "store_or_update_session",
]


def _session_vo(store: Store, row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A session row as ``sessionWS3VO``, with the proposal's name."""
    if row is None:
        return None
    vo = value_object(COLLECTION, "sessionWS3VO", row) or {}
    vo.pop("nbReimbDewars", None)  # not copied by Session3VO(Session3VO)
    proposal = store.get("Proposal", row["proposalId"]) if row.get("proposalId") else None
    if proposal:
        vo["proposalName"] = (str(proposal["code"]) + str(proposal["number"])).lower()
    return vo


def current_sessions(store: Store, code: str | None, number: str | None, beamline: str | None) -> list[dict[str, Any]]:
    """``Session3ServiceBean.findSessionByProposalCodeAndNumber`` (reference §2.2)."""
    now = current_time().isoformat()
    sql = (
        'SELECT s.* FROM "BLSession" s JOIN "Proposal" p ON p.proposalId = s.proposalId '
        "WHERE p.code LIKE ? AND p.number = ? "
    )
    params: list[Any] = [code or "", number or ""]
    if beamline:
        sql += "AND s.beamlineName LIKE ? AND s.endDate >= ? AND date(s.startDate) <= date(?) "
        sql += "ORDER BY s.startDate DESC"
        params += [beamline, now, now]
    else:
        sql += "AND s.startDate <= ? ORDER BY s.sessionId DESC"
        params.append(now)
    return store.query(sql, params)


def find_sessions_by_proposal_and_beamline(
    store: Store,
    code: str | None = None,
    number: str | None = None,
    beamLineName: str | None = None,
) -> list[dict[str, Any] | None]:
    """``findSessionsByProposalAndBeamLine``: the proposal's current sessions (see :func:`current_sessions`)."""
    return [_session_vo(store, r) for r in current_sessions(store, code, number, beamLineName)]


def find_session(store: Store, sessionId: int | None = None) -> dict[str, Any] | None:
    """``findSession``: one session by id, or ``None``."""
    return _session_vo(store, store.get("BLSession", sessionId)) if sessionId else None


def store_or_update_session(store: Store, session: dict[str, Any] | None = None) -> int | None:
    """``storeOrUpdateSession``: creates or rewrites a session of a known proposal; returns its id."""
    if session is None or not positive(session.get("proposalId")):
        return None
    if store.get("Proposal", int(session["proposalId"])) is None:
        raise IspybFault(f"IllegalArgumentException: proposal {session['proposalId']} not found")
    check_length(session, {"beamlineName": 45, "comments": 2000, "beamlineOperator": 255})
    values = table_columns("BLSession", session)
    values.pop("nbReimbDewars", None)
    values["timeStamp"] = current_time()
    session_id = values.pop("sessionId", None)
    if session_id:
        if store.get("BLSession", session_id) is None:
            raise IspybFault(f"session {session_id} not found")
        store.replace("BLSession", int(session_id), values)
        return int(session_id)
    start, end = values.get("startDate"), values.get("endDate")
    if start is not None and end is not None:
        if values.get("nbShifts") is not None:
            values["nbShifts"] = 3  # ISPyB stores 3 whatever was sent
        else:
            values["nbShifts"] = int((end - start).total_seconds() // (8 * 3600))
    elif start is not None:
        values["endDate"] = start + DAY
    else:
        values["startDate"] = current_time()
        values["endDate"] = values["startDate"] + DAY
    values["lastUpdate"] = values["endDate"]
    return store.insert("BLSession", values)
