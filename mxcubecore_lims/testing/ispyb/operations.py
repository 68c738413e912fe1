"""Handlers of the emulated ISPyB operations (behaviour of reference §2).

Each handler takes the :class:`~.store.Store` and the request's parameters
(already converted to Python values by :mod:`.server`; value objects are
dicts) and returns a Python value: a dict for a value object, a list for a
repeated result, a scalar, or ``None`` for an empty reply. Errors the real
server would turn into a SOAP Fault raise :class:`IspybFault`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from mxcubecore_lims.errors import LimsError
from mxcubecore_lims.testing.ispyb.schema import SERVICES
from mxcubecore_lims.testing.ispyb.store import TABLES, Store

__all__ = ["ECHO", "EXPERIMENT_TYPES", "HANDLERS", "IspybFault"]

#: The constant ``echo`` reply of every service.
ECHO = "echo from server..."

#: ``DataCollectionGroup3VO.checkValues`` (reference §2.2).
EXPERIMENT_TYPES = (
    "EM",
    "SAD",
    "SAD - Inverse Beam",
    "OSC",
    "Collect - Multiwedge",
    "MAD",
    "Helical",
    "Multi-positional",
    "Mesh",
    "Burn",
    "MAD - Inverse Beam",
    "Characterization",
    "Dehydration",
)

ROTATION_AXES = ("Omega", "Kappa", "Phi")

_DAY = timedelta(days=1)


class IspybFault(LimsError):
    """An operation failed; the server answers with a SOAP Fault (HTTP 500)."""


# --------------------------------------------------------------------------
# helpers

_C = SERVICES["ToolsForCollectionWebService"]
_S = SERVICES["ToolsForShippingWebService"]
_B = SERVICES["ToolsForBLSampleWebService"]


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _date(value: Any) -> Any:
    """Stored ISO text back to a naive datetime."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _vo(service: Any, type_name: str, row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A row as a value object of ``type_name`` (only that type's elements)."""
    if row is None:
        return None
    out = {}
    for p in service.all_elements(type_name):
        if p.is_simple and row.get(p.name) is not None:
            out[p.name] = _date(row[p.name]) if p.type == "xs:dateTime" else row[p.name]
    return out


def _columns(table: str, vo: dict[str, Any]) -> dict[str, Any]:
    """The VO values that are columns of ``table``."""
    key, columns = TABLES[table]
    known = {key, *columns}
    return {k: v for k, v in vo.items() if k in known}


def _positive(value: Any) -> bool:
    return value is not None and int(value) > 0


def _check_length(vo: dict[str, Any], limits: dict[str, int]) -> None:
    for name, limit in limits.items():
        value = vo.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise IspybFault(f"IllegalArgumentException: {name} is longer than {limit} characters")


def _store_or_update(store: Store, table: str, vo: dict[str, Any]) -> int:
    """Creates a row when the VO's id is null/0, else rebuilds the row from the VO."""
    key = TABLES[table][0]
    values = _columns(table, vo)
    ident = values.pop(key, None)
    if not ident:
        return store.insert(table, values)
    if store.get(table, ident) is None:
        raise IspybFault(f"{table} {ident} not found")
    store.replace(table, int(ident), values)
    return int(ident)


def _touch_session(store: Store, session_id: Any) -> None:
    if session_id:
        store.update("BLSession", int(session_id), {"lastUpdate": _now()})


# --------------------------------------------------------------------------
# sessions and proposals


def _session_vo(store: Store, row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    vo = _vo(_C, "sessionWS3VO", row) or {}
    vo.pop("nbReimbDewars", None)  # not copied by Session3VO(Session3VO)
    proposal = store.get("Proposal", row["proposalId"]) if row.get("proposalId") else None
    if proposal:
        vo["proposalName"] = (str(proposal["code"]) + str(proposal["number"])).lower()
    return vo


def _current_sessions(store: Store, code: str, number: str, beamline: str | None) -> list[dict]:
    """``Session3ServiceBean.findSessionByProposalCodeAndNumber`` (reference §2.2)."""
    now = _now().isoformat()
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
) -> list[dict]:
    return [_session_vo(store, r) for r in _current_sessions(store, code, number, beamLineName)]


def find_session(store: Store, sessionId: int | None = None) -> dict | None:
    return _session_vo(store, store.get("BLSession", sessionId)) if sessionId else None


def store_or_update_session(store: Store, session: dict | None = None) -> int | None:
    if session is None or not _positive(session.get("proposalId")):
        return None
    if store.get("Proposal", int(session["proposalId"])) is None:
        raise IspybFault(f"IllegalArgumentException: proposal {session['proposalId']} not found")
    _check_length(session, {"beamlineName": 45, "comments": 2000, "beamlineOperator": 255})
    values = _columns("BLSession", session)
    values.pop("nbReimbDewars", None)
    values["timeStamp"] = _now()
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
        values["endDate"] = start + _DAY
    else:
        values["startDate"] = _now()
        values["endDate"] = values["startDate"] + _DAY
    values["lastUpdate"] = values["endDate"]
    return store.insert("BLSession", values)




def _proposal_vo(row: dict | None) -> dict | None:
    return _vo(_S, "proposalWS3VO", row)


def _proposal_code(code: str | None) -> str:
    """``getProposalCode``: only ``ifx`` maps to ``fx``."""
    return "fx" if (code or "").lower() == "ifx" else (code or "")


def _find_proposal_row(store: Store, code: str | None, number: str | None) -> dict | None:
    found = store.query(
        'SELECT * FROM "Proposal" WHERE code LIKE ? AND number = ? ORDER BY proposalId',
        [_proposal_code(code), number or ""],
    )
    return found[0] if found else None


def find_proposal(store: Store, arg0: str | None = None, arg1: str | None = None) -> dict | None:
    return _proposal_vo(_find_proposal_row(store, arg0, arg1))


def _proposals_of_login(store: Store, login: str | None) -> list[dict]:
    return store.query(
        'SELECT DISTINCT p.* FROM "Proposal" p JOIN "Person" pe ON pe.login = ? '
        "LEFT JOIN \"ProposalHasPerson\" l ON l.personId = pe.personId "
        "WHERE p.personId = pe.personId OR p.proposalId = l.proposalId ORDER BY p.proposalId",
        [login or ""],
    )


def find_proposal_by_login_and_beamline(
    store: Store, arg0: str | None = None, arg1: str | None = None
) -> dict | None:
    chosen = None
    found_single = False
    for proposal in _proposals_of_login(store, arg0):
        code = str(proposal["code"]).lower()
        if code.startswith(("mxi", "fx")):
            chosen = proposal
            continue
        if found_single:
            continue
        count = len(_current_sessions(store, proposal["code"], proposal["number"], arg1))
        if count <= 1:
            chosen = proposal
            found_single = count == 1
    return _proposal_vo(chosen)


def find_proposals_by_login_name(store: Store, loginName: str | None = None) -> str:
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


def _person_vo(row: dict | None) -> dict | None:
    return _vo(_S, "personWS3VO", row)


def find_person_by_login(store: Store, arg0: str | None = None) -> dict | None:
    found = store.rows("Person", login=arg0) if arg0 else []
    return _person_vo(found[0] if found else None)


def _person_of_proposal(store: Store, code: str | None, number: Any) -> dict | None:
    proposal = _find_proposal_row(store, code, None if number is None else str(number))
    if proposal is None:
        return None
    if proposal.get("personId"):
        return store.get("Person", proposal["personId"])
    links = store.rows("ProposalHasPerson", proposalId=proposal["proposalId"])
    return store.get("Person", links[0]["personId"]) if links else None


def find_person_by_proposal(store: Store, arg0: str | None = None, arg1: str | None = None):
    return _person_vo(_person_of_proposal(store, arg0, arg1))


def find_laboratory_by_proposal(store: Store, arg0: str | None = None, arg1: Any = None):
    person = _person_of_proposal(store, arg0, arg1)
    if person is None or not person.get("laboratoryId"):
        return None
    return _vo(_S, "laboratory3VO", store.get("Laboratory", person["laboratoryId"]))


def find_person_by_session_id_local_contact(store: Store, sessionId: int | None = None):
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


# --------------------------------------------------------------------------
# collection


def store_or_update_data_collection_group(store: Store, dataCollectionGroup: dict | None = None):
    vo = dataCollectionGroup
    if vo is None or not _positive(vo.get("sessionId")) or vo.get("experimentType") is None:
        return None
    if vo["experimentType"] not in EXPERIMENT_TYPES:
        raise IspybFault(
            f"IllegalArgumentException: experimentType {vo['experimentType']!r} is not one of "
            + ", ".join(EXPERIMENT_TYPES)
        )
    _check_length(vo, {"comments": 1024, "actualSampleBarcode": 45, "actualContainerBarcode": 45})
    if store.get("BLSession", int(vo["sessionId"])) is None:
        raise IspybFault(f"session {vo['sessionId']} not found")
    values = _columns("DataCollectionGroup", vo)
    now = _now()
    group_id = values.get("dataCollectionGroupId")
    old = store.get("DataCollectionGroup", group_id) if group_id else None
    if group_id and old is None:
        raise IspybFault(f"data collection group {group_id} not found")
    if values.get("comments") is not None:
        # ISPyB appends: old + " " + new (a new group gets a leading space).
        values["comments"] = f"{(old or {}).get('comments') or ''} {values['comments']}"
    elif old is not None:
        values["comments"] = old.get("comments")
    if old is not None:
        values["startTime"] = old.get("startTime")
        values["workflowId"] = old.get("workflowId")
        values["endTime"] = now
    else:
        values["startTime"] = values["endTime"] = now
    result = _store_or_update(store, "DataCollectionGroup", values)
    _touch_session(store, vo["sessionId"])
    return result


def store_or_update_data_collection(store: Store, dataCollection: dict | None = None):
    vo = dataCollection
    if vo is None or not _positive(vo.get("dataCollectionGroupId")):
        return None
    group = store.get("DataCollectionGroup", int(vo["dataCollectionGroupId"]))
    if group is None:
        raise IspybFault(
            f"IllegalArgumentException: data collection group {vo['dataCollectionGroupId']} "
            "not found"
        )
    if vo.get("rotationAxis") is not None and vo["rotationAxis"] not in ROTATION_AXES:
        raise IspybFault(
            f"IllegalArgumentException: rotationAxis {vo['rotationAxis']!r} is not one of "
            + ", ".join(ROTATION_AXES)
        )
    _check_length(vo, {"imagePrefix": 100, "imageDirectory": 255, "fileTemplate": 255})
    values = _columns("DataCollection", vo)
    if values.get("printableForReport") is None:
        values["printableForReport"] = 1
    if values.get("numberOfImages") is not None and values["numberOfImages"] < 0:
        values["numberOfImages"] = 0
    now = _now()
    dc_id = values.get("dataCollectionId")
    old = store.get("DataCollection", dc_id) if dc_id else None
    values["startTime"] = old.get("startTime") if old else now
    values["endTime"] = now
    result = _store_or_update(store, "DataCollection", values)
    _touch_session(store, group.get("sessionId"))
    return result


def store_or_update_image(store: Store, image: dict | None = None):
    if image is None or not _positive(image.get("dataCollectionId")):
        return None
    if store.get("DataCollection", int(image["dataCollectionId"])) is None:
        raise IspybFault(f"data collection {image['dataCollectionId']} not found")
    _check_length(image, {"fileName": 255, "fileLocation": 255, "comments": 1024})
    return _store_or_update(store, "Image", image)


def store_or_update_beamline_setup(store: Store, beamLineSetup: dict | None = None):
    if beamLineSetup is None:
        return None
    return _store_or_update(store, "BeamLineSetup", beamLineSetup)


def find_detector_by_param(
    store: Store,
    detectorType: str | None = None,
    detectorManufacturer: str | None = None,
    detectorModel: str | None = None,
    detectorMode: str | None = None,
):
    sql = 'SELECT * FROM "Detector" WHERE detectorManufacturer LIKE ? AND detectorModel LIKE ?'
    params = [detectorManufacturer or "", detectorModel or ""]
    if detectorMode:
        sql += " AND detectorMode LIKE ?"
        params.append(detectorMode)
    found = store.query(sql + " ORDER BY detectorId", params)  # detectorType is ignored
    return _vo(_C, "detector3VO", found[0] if found else None)


def store_robot_action(store: Store, robotAction: dict | None = None):
    vo = robotAction
    if vo is None or vo.get("robotActionId") is not None or not _positive(vo.get("sessionId")):
        return None
    return store.insert("RobotAction", _columns("RobotAction", vo))


def _store_timed(store: Store, table: str, vo: dict | None):
    if vo is None or not _positive(vo.get("sessionId")):
        return None
    key = TABLES[table][0]
    values = dict(vo)
    old = store.get(table, values[key]) if values.get(key) else None
    now = _now()
    values["startTime"] = old.get("startTime") if old else now
    values["endTime"] = now
    return _store_or_update(store, table, values)


def store_or_update_energy_scan(store: Store, energyScan: dict | None = None):
    return _store_timed(store, "EnergyScan", energyScan)


def store_or_update_xfe(store: Store, xfeFluorescenceSpectrum: dict | None = None):
    return _store_timed(store, "XFEFluorescenceSpectrum", xfeFluorescenceSpectrum)


def find_data_collection(store: Store, dataCollectionId: int | None = None):
    row = store.get("DataCollection", dataCollectionId) if dataCollectionId else None
    return _vo(_C, "dataCollectionWS3VO", row)


def find_data_collection_by_images(
    store: Store,
    imageDirectory: str | None = None,
    imagePrefix: str | None = None,
    dataCollectionNumber: int | None = None,
):
    # ISPyB answers with the first match (a directory, prefix and run number
    # name one collection's files), or null.
    found = store.rows(
        "DataCollection",
        imageDirectory=imageDirectory,
        imagePrefix=imagePrefix,
        dataCollectionNumber=dataCollectionNumber,
    )
    return _vo(_C, "dataCollectionWS3VO", found[0] if found else None)


# --------------------------------------------------------------------------
# samples


def find_sample_info_light_for_proposal(
    store: Store, proposalId: int | None = None, beamlineLocation: str | None = None
) -> list[dict]:
    rows = store.query(
        "SELECT s.blSampleId AS sampleId, s.name AS sampleName, s.code AS code, "
        "s.location AS sampleLocation, s.smiles AS smiles, s.holderLength AS holderLength, "
        "s.diffractionPlanId AS samplePlanId, "
        "p.acronym AS proteinAcronym, c.crystalId AS crystalId, "
        "c.spaceGroup AS crystalSpaceGroup, c.cellA AS cellA, c.cellB AS cellB, "
        "c.cellC AS cellC, c.cellAlpha AS cellAlpha, c.cellBeta AS cellBeta, "
        "c.cellGamma AS cellGamma, c.diffractionPlanId AS crystalPlanId, "
        "ct.sampleChangerLocation AS containerSampleChangerLocation, "
        "ct.code AS containerCode, ct.comments AS containerComments, "
        "ct.capacity AS containerCapacity, ct.containerType AS containerType, "
        "ct.dewarCode AS dewarCode, ct.shippingName AS shippingName "
        'FROM "BLSample" s JOIN "Crystal" c ON c.crystalId = s.crystalId '
        'JOIN "Protein" p ON p.proteinId = c.proteinId '
        'JOIN "Container" ct ON ct.containerId = s.containerId '
        "WHERE p.proposalId = ? "
        "AND (ct.containerStatus LIKE 'processing' OR s.blSampleStatus LIKE 'processing') "
        "AND (ct.beamlineLocation LIKE ? OR ct.beamlineLocation = '' "
        "OR ct.beamlineLocation IS NULL) ORDER BY ct.containerId, s.blSampleId",
        [proposalId, beamlineLocation or ""],
    )
    out = []
    for row in rows:
        plan_id = row.pop("samplePlanId") or row.pop("crystalPlanId", None)
        row.pop("crystalPlanId", None)
        plan = store.get("DiffractionPlan", plan_id) if plan_id else None
        row["diffractionPlan"] = _vo(_B, "diffractionPlanWS3VO", plan) or {}
        if plan:
            row["minimalResolution"] = plan.get("minimalResolution")
            row["experimentType"] = plan.get("experimentKind")
        out.append({k: v for k, v in row.items() if v is not None})
    return out


def store_or_update_bl_sample(store: Store, blSample: dict | None = None):
    if blSample is None:
        return None
    vo = dict(blSample)
    for key in ("diffractionPlanId", "crystalId", "containerId"):
        if vo.get(key) == 0:
            vo[key] = None
    if vo.get("crystalId") is None:
        return None
    return _store_or_update(store, "BLSample", vo)


def find_bl_sample(store: Store, blSampleId: int | None = None):
    row = store.get("BLSample", blSampleId) if blSampleId else None
    return _vo(_B, "blSampleWS3VO", row)


def _echo(store: Store) -> str:
    return ECHO


#: (service, operation) -> handler. Must cover exactly the operations of :data:`SERVICES`.
HANDLERS: dict[tuple[str, str], Callable[..., Any]] = {
    (_S.name, "echo"): _echo,
    (_S.name, "findProposal"): find_proposal,
    (_S.name, "findProposalByLoginAndBeamline"): find_proposal_by_login_and_beamline,
    (_S.name, "findPersonByLogin"): find_person_by_login,
    (_S.name, "findPersonByProposal"): find_person_by_proposal,
    (_S.name, "findLaboratoryByProposal"): find_laboratory_by_proposal,
    (_S.name, "findLaboratoryByCodeAndNumber"): find_laboratory_by_proposal,
    (_S.name, "findProposalsByLoginName"): find_proposals_by_login_name,
    (_S.name, "findPersonBySessionIdLocalContact"): find_person_by_session_id_local_contact,
    (_C.name, "echo"): _echo,
    (_C.name, "findSessionsByProposalAndBeamLine"): find_sessions_by_proposal_and_beamline,
    (_C.name, "findSession"): find_session,
    (_C.name, "storeOrUpdateSession"): store_or_update_session,
    (_C.name, "storeOrUpdateDataCollectionGroup"): store_or_update_data_collection_group,
    (_C.name, "storeOrUpdateDataCollection"): store_or_update_data_collection,
    (_C.name, "storeOrUpdateImage"): store_or_update_image,
    (_C.name, "storeOrUpdateBeamLineSetup"): store_or_update_beamline_setup,
    (_C.name, "findDetectorByParam"): find_detector_by_param,
    (_C.name, "storeRobotAction"): store_robot_action,
    (_C.name, "storeOrUpdateEnergyScan"): store_or_update_energy_scan,
    (_C.name, "storeOrUpdateXFEFluorescenceSpectrum"): store_or_update_xfe,
    (_C.name, "findDataCollection"): find_data_collection,
    (_C.name, "findDataCollectionFromImageDirectoryAndImagePrefixAndNumber"): find_data_collection_by_images,
    (_B.name, "echo"): _echo,
    (_B.name, "findSampleInfoLightForProposal"): find_sample_info_light_for_proposal,
    (_B.name, "storeOrUpdateBLSample"): store_or_update_bl_sample,
    (_B.name, "findBLSample"): find_bl_sample,
}
