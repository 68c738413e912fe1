"""The operations of ``ToolsForShippingWebService``: proposals, people and their laboratories."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mxcubecore_lims.testing.ispyb.operations.common import SHIPPING, IspybFault, value_object
from mxcubecore_lims.testing.ispyb.operations.sessions import current_sessions
from mxcubecore_lims.testing.ispyb.store import Store

__all__ = [
    "find_laboratory_by_proposal",
    "find_person_by_login",
    "find_person_by_proposal",
    "find_person_by_session_id_local_contact",
    "find_proposal",
    "find_proposal_by_login_and_beamline",
    "find_proposals_by_login_name",
]


def _proposal_vo(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A proposal row as ``proposalWS3VO``."""
    return value_object(SHIPPING, "proposalWS3VO", row)


def _proposal_code(code: str | None) -> str:
    """``getProposalCode``: only ``ifx`` maps to ``fx``."""
    return "fx" if (code or "").lower() == "ifx" else (code or "")


def _find_proposal_row(store: Store, code: str | None, number: str | None) -> dict[str, Any] | None:
    """The first proposal with this code and number, or ``None``."""
    found = store.query(
        'SELECT * FROM "Proposal" WHERE code LIKE ? AND number = ? ORDER BY proposalId',
        [_proposal_code(code), number or ""],
    )
    return found[0] if found else None


def find_proposal(store: Store, arg0: str | None = None, arg1: str | None = None) -> dict[str, Any] | None:
    """``findProposal``: a proposal by code (``arg0``) and number (``arg1``), or ``None``."""
    return _proposal_vo(_find_proposal_row(store, arg0, arg1))


def _proposals_of_login(store: Store, login: str | None) -> list[dict[str, Any]]:
    """The proposals a login leads or is linked to, in id order."""
    return store.query(
        'SELECT DISTINCT p.* FROM "Proposal" p JOIN "Person" pe ON pe.login = ? '
        'LEFT JOIN "ProposalHasPerson" l ON l.personId = pe.personId '
        "WHERE p.personId = pe.personId OR p.proposalId = l.proposalId ORDER BY p.proposalId",
        [login or ""],
    )


def find_proposal_by_login_and_beamline(
    store: Store, arg0: str | None = None, arg1: str | None = None
) -> dict[str, Any] | None:
    """``findProposalByLoginAndBeamline``: the proposal ISPyB picks for a login (``arg0``) on a beamline (``arg1``).

    The login's proposals are walked in id order: an ``mxi`` or ``fx`` one is
    always taken; another only if it has at most one current session on the
    beamline, and only until one with exactly one was taken. The last taken
    is the answer.
    """
    chosen = None
    found_single = False
    for proposal in _proposals_of_login(store, arg0):
        code = str(proposal["code"]).lower()
        if code.startswith(("mxi", "fx")):
            chosen = proposal
            continue
        if found_single:
            continue
        count = len(current_sessions(store, proposal["code"], proposal["number"], arg1))
        if count <= 1:
            chosen = proposal
            found_single = count == 1
    return _proposal_vo(chosen)


def find_proposals_by_login_name(store: Store, loginName: str | None = None) -> str:
    """``findProposalsByLoginName``: the login's proposals as a JSON list, time stamps as ISPyB writes them."""
    items = []
    for p in _proposals_of_login(store, loginName):
        if p.get("timeStamp") is None:
            raise IspybFault("java.lang.NullPointerException")
        stamp = datetime.fromisoformat(p["timeStamp"])
        item = {
            "title": p.get("title"),
            "code": p.get("code"),
            "number": p.get("number"),
            "type": p.get("type"),
            "proposalId": str(p["proposalId"]),
            # ISPyB's pattern "yyyy-MM-dd HH:mm:SS" puts milliseconds where seconds belong.
            "timeStamp": stamp.strftime("%Y-%m-%d %H:%M:") + f"{stamp.microsecond // 1000:02d}",
        }
        items.append({k: v for k, v in item.items() if v is not None})
    return json.dumps(items)


def _person_vo(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A person row as ``personWS3VO``."""
    return value_object(SHIPPING, "personWS3VO", row)


def find_person_by_login(store: Store, arg0: str | None = None) -> dict[str, Any] | None:
    """``findPersonByLogin``: a person by login (``arg0``), or ``None``."""
    found = store.rows("Person", login=arg0) if arg0 else []
    return _person_vo(found[0] if found else None)


def _person_of_proposal(store: Store, code: str | None, number: Any) -> dict[str, Any] | None:
    """The proposal's own person, else the first person linked to it, or ``None``."""
    proposal = _find_proposal_row(store, code, None if number is None else str(number))
    if proposal is None:
        return None
    if proposal.get("personId"):
        return store.get("Person", proposal["personId"])
    links = store.rows("ProposalHasPerson", proposalId=proposal["proposalId"])
    return store.get("Person", links[0]["personId"]) if links else None


def find_person_by_proposal(store: Store, arg0: str | None = None, arg1: str | None = None) -> dict[str, Any] | None:
    """``findPersonByProposal``: the person of a proposal, by code (``arg0``) and number (``arg1``)."""
    return _person_vo(_person_of_proposal(store, arg0, arg1))


def find_laboratory_by_proposal(store: Store, arg0: str | None = None, arg1: Any = None) -> dict[str, Any] | None:
    """``findLaboratoryByProposal`` (and ``...ByCodeAndNumber``): the laboratory of the proposal's person."""
    person = _person_of_proposal(store, arg0, arg1)
    if person is None or not person.get("laboratoryId"):
        return None
    return value_object(SHIPPING, "laboratory3VO", store.get("Laboratory", person["laboratoryId"]))


def find_person_by_session_id_local_contact(store: Store, sessionId: int | None = None) -> dict[str, Any] | None:
    """``findPersonBySessionIdLocalContact``: the person named as the session's beamline operator, or ``None``."""
    session = store.get("BLSession", sessionId) if sessionId else None
    if session is None:
        raise IspybFault("java.lang.NullPointerException")
    operator = (session.get("beamlineOperator") or "").strip().lower()
    for person in store.rows("Person"):
        names = {
            (person.get("familyName") or "").lower(),
            f"{person.get('givenName') or ''} {person.get('familyName') or ''}".strip().lower(),
            (person.get("login") or "").lower(),
        }
        if operator and operator in names:
            return _person_vo(person)
    return None
