"""The collection operations of ``ToolsForCollectionWebService``: groups, collections, images, scans, robot, detector."""

from __future__ import annotations

from typing import Any

from mxcubecore_lims.testing.ispyb.operations.common import (
    COLLECTION,
    IspybFault,
    check_length,
    current_time,
    positive,
    store_or_update,
    table_columns,
    touch_session,
    value_object,
)
from mxcubecore_lims.testing.ispyb.store import TABLES, Store

__all__ = [
    "EXPERIMENT_TYPES",
    "ROTATION_AXES",
    "find_data_collection",
    "find_data_collection_by_images",
    "find_detector_by_param",
    "store_or_update_beamline_setup",
    "store_or_update_data_collection",
    "store_or_update_data_collection_group",
    "store_or_update_energy_scan",
    "store_or_update_image",
    "store_or_update_xfe",
    "store_robot_action",
]

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


def store_or_update_data_collection_group(
    store: Store, dataCollectionGroup: dict[str, Any] | None = None
) -> int | None:
    """``storeOrUpdateDataCollectionGroup``: creates or updates a group of a known session; returns its id."""
    vo = dataCollectionGroup
    if vo is None or not positive(vo.get("sessionId")) or vo.get("experimentType") is None:
        return None
    if vo["experimentType"] not in EXPERIMENT_TYPES:
        raise IspybFault(
            f"IllegalArgumentException: experimentType {vo['experimentType']!r} is not one of "
            + ", ".join(EXPERIMENT_TYPES)
        )
    check_length(vo, {"comments": 1024, "actualSampleBarcode": 45, "actualContainerBarcode": 45})
    if store.get("BLSession", int(vo["sessionId"])) is None:
        raise IspybFault(f"session {vo['sessionId']} not found")
    values = table_columns("DataCollectionGroup", vo)
    now = current_time()
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
    result = store_or_update(store, "DataCollectionGroup", values)
    touch_session(store, vo["sessionId"])
    return result


def store_or_update_data_collection(store: Store, dataCollection: dict[str, Any] | None = None) -> int | None:
    """``storeOrUpdateDataCollection``: creates or updates a collection of a known group; returns its id."""
    vo = dataCollection
    if vo is None or not positive(vo.get("dataCollectionGroupId")):
        return None
    group = store.get("DataCollectionGroup", int(vo["dataCollectionGroupId"]))
    if group is None:
        raise IspybFault(f"IllegalArgumentException: data collection group {vo['dataCollectionGroupId']} not found")
    if vo.get("rotationAxis") is not None and vo["rotationAxis"] not in ROTATION_AXES:
        raise IspybFault(
            f"IllegalArgumentException: rotationAxis {vo['rotationAxis']!r} is not one of " + ", ".join(ROTATION_AXES)
        )
    check_length(vo, {"imagePrefix": 100, "imageDirectory": 255, "fileTemplate": 255})
    values = table_columns("DataCollection", vo)
    if values.get("printableForReport") is None:
        values["printableForReport"] = 1
    if values.get("numberOfImages") is not None and values["numberOfImages"] < 0:
        values["numberOfImages"] = 0
    now = current_time()
    dc_id = values.get("dataCollectionId")
    old = store.get("DataCollection", dc_id) if dc_id else None
    values["startTime"] = old.get("startTime") if old else now
    values["endTime"] = now
    result = store_or_update(store, "DataCollection", values)
    touch_session(store, group.get("sessionId"))
    return result


def store_or_update_image(store: Store, image: dict[str, Any] | None = None) -> int | None:
    """``storeOrUpdateImage``: creates or updates an image of a known collection; returns its id."""
    if image is None or not positive(image.get("dataCollectionId")):
        return None
    if store.get("DataCollection", int(image["dataCollectionId"])) is None:
        raise IspybFault(f"data collection {image['dataCollectionId']} not found")
    check_length(image, {"fileName": 255, "fileLocation": 255, "comments": 1024})
    return store_or_update(store, "Image", image)


def store_or_update_beamline_setup(store: Store, beamLineSetup: dict[str, Any] | None = None) -> int | None:
    """``storeOrUpdateBeamLineSetup``: creates or updates a beamline set-up; returns its id."""
    if beamLineSetup is None:
        return None
    return store_or_update(store, "BeamLineSetup", beamLineSetup)


def find_detector_by_param(
    store: Store,
    detectorType: str | None = None,
    detectorManufacturer: str | None = None,
    detectorModel: str | None = None,
    detectorMode: str | None = None,
) -> dict[str, Any] | None:
    """``findDetectorByParam``: the first detector of this make, model (and mode), or ``None``."""
    sql = 'SELECT * FROM "Detector" WHERE detectorManufacturer LIKE ? AND detectorModel LIKE ?'
    params = [detectorManufacturer or "", detectorModel or ""]
    if detectorMode:
        sql += " AND detectorMode LIKE ?"
        params.append(detectorMode)
    found = store.query(sql + " ORDER BY detectorId", params)  # detectorType is ignored
    return value_object(COLLECTION, "detector3VO", found[0] if found else None)


def store_robot_action(store: Store, robotAction: dict[str, Any] | None = None) -> int | None:
    """``storeRobotAction``: records a new robot action of a session; returns its id."""
    vo = robotAction
    if vo is None or vo.get("robotActionId") is not None or not positive(vo.get("sessionId")):
        return None
    return store.insert("RobotAction", table_columns("RobotAction", vo))


def _store_timed(store: Store, table: str, vo: dict[str, Any] | None) -> int | None:
    """Creates or updates a row of a session that keeps its first ``startTime``."""
    if vo is None or not positive(vo.get("sessionId")):
        return None
    key = TABLES[table][0]
    values = dict(vo)
    old = store.get(table, values[key]) if values.get(key) else None
    now = current_time()
    values["startTime"] = old.get("startTime") if old else now
    values["endTime"] = now
    return store_or_update(store, table, values)


def store_or_update_energy_scan(store: Store, energyScan: dict[str, Any] | None = None) -> int | None:
    """``storeOrUpdateEnergyScan``: creates or updates an energy scan; returns its id."""
    return _store_timed(store, "EnergyScan", energyScan)


def store_or_update_xfe(store: Store, xfeFluorescenceSpectrum: dict[str, Any] | None = None) -> int | None:
    """``storeOrUpdateXFEFluorescenceSpectrum``: creates or updates an XRF spectrum; returns its id."""
    return _store_timed(store, "XFEFluorescenceSpectrum", xfeFluorescenceSpectrum)


def find_data_collection(store: Store, dataCollectionId: int | None = None) -> dict[str, Any] | None:
    """``findDataCollection``: one collection by id, or ``None``."""
    row = store.get("DataCollection", dataCollectionId) if dataCollectionId else None
    return value_object(COLLECTION, "dataCollectionWS3VO", row)


def find_data_collection_by_images(
    store: Store,
    imageDirectory: str | None = None,
    imagePrefix: str | None = None,
    dataCollectionNumber: int | None = None,
) -> dict[str, Any] | None:
    """``findDataCollectionFromImageDirectoryAndImagePrefixAndNumber``: a collection by its files."""
    # ISPyB answers with the first match (a directory, prefix and run number
    # name one collection's files), or null.
    found = store.rows(
        "DataCollection",
        imageDirectory=imageDirectory,
        imagePrefix=imagePrefix,
        dataCollectionNumber=dataCollectionNumber,
    )
    return value_object(COLLECTION, "dataCollectionWS3VO", found[0] if found else None)
