"""What ISPyB holds about a session's collections, read back over SOAP, as :class:`SessionSweep` records.

ISPyB's SOAP services cannot list a session's groups or collections (no
find-by-session operation; only by id, by file, or by directory and prefix).
The one read that enumerates them is ``CrimsWebService.
getAllDataCollectionFromShippingId``: every Shipping -> Dewar -> Container ->
BLSample -> DataCollectionGroup -> DataCollection -> Image row of one
shipping, each column named ``<Table>_<column>``. So the session's
collections are found through the shippings of the proposal's samples on
the beamline (``findSampleInfoLightForProposal`` gives their
``shippingId``), keeping the rows whose group belongs to the session.

Limits, from ISPyB itself: ISPyB lets only its ``crims`` account call that
operation (so the LIMS object needs ``crims_username``/``crims_password``);
collections made on a sample outside any shipping, or on samples no longer
in "processing" status, are not found; auto-processing results cannot be read
over SOAP at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from mxcubecore_lims.errors import LimsDataError
from mxcubecore_lims.ispyb import value_objects as vo
from mxcubecore_lims.ispyb.services import IspybServices
from mxcubecore_lims.model import Sample
from mxcubecore_lims.mxlims.reading import SessionInfo, SessionReading, SessionSweep, as_datetime, as_float, as_int

__all__ = ["UNREADABLE", "IspybSessionReader", "read_session", "sweeps_from_rows"]


def _succeeded(status: Any) -> bool | None:
    text = str(status or "").lower()
    if not text:
        return None
    return not any(word in text for word in ("fail", "abort", "error"))


def _sweep(row: Mapping[str, Any], images: list[str]) -> SessionSweep:
    def col(name: str) -> Any:
        return row.get(f"DataCollection_{name}")

    size_x, size_y = as_float(col("beamSizeAtSampleX")), as_float(col("beamSizeAtSampleY"))
    template = col("fileTemplate")
    return SessionSweep(
        lims_id=str(col("dataCollectionId")),
        group_id=str(row.get("DataCollectionGroup_dataCollectionGroupId")),
        sample_id=str(row["BLSample_blSampleId"]) if row.get("BLSample_blSampleId") is not None else None,
        experiment_type=row.get("DataCollectionGroup_experimentType"),
        start=as_datetime(col("startTime")),
        end=as_datetime(col("endTime")),
        succeeded=_succeeded(col("runStatus")),
        status=col("runStatus"),
        axis=str(col("rotationAxis") or "omega"),
        axis_start=as_float(col("axisStart")),
        image_width=as_float(col("axisRange")),
        number_images=as_int(col("numberOfImages")),
        first_image_number=as_int(col("startImageNumber")),
        exposure_time=as_float(col("exposureTime")),
        wavelength=as_float(col("wavelength")),
        transmission=as_float(col("transmission")),
        resolution=as_float(col("resolution")),
        detector_distance=as_float(col("detectorDistance")),
        beam_size=(size_x, size_y) if size_x and size_y else None,
        beam_shape=col("beamShape"),
        directory=col("imageDirectory"),
        prefix=col("imagePrefix"),
        run_number=as_int(col("dataCollectionNumber")),
        filename_template=template,
        file_type=col("imageSuffix") or (str(template).rsplit(".", 1)[-1] if template and "." in template else None),
        images=tuple(images),
        snapshots=tuple(str(p) for n in range(1, 5) if (p := col(f"xtalSnapshotFullPath{n}"))),
        comments=col("comments"),
    )


def sweeps_from_rows(rows: Iterable[Mapping[str, Any]], session_id: int) -> list[SessionSweep]:
    """The session's collections among ``getAllDataCollectionFromShippingId`` rows (one row per image)."""
    first: dict[int, Mapping[str, Any]] = {}
    images: dict[int, list[str]] = {}
    for row in rows:
        collection = as_int(row.get("DataCollection_dataCollectionId"))
        if collection is None or as_int(row.get("DataCollectionGroup_sessionId")) != int(session_id):
            continue
        first.setdefault(collection, row)
        name, location = row.get("Image_fileName"), row.get("Image_fileLocation")
        files = images.setdefault(collection, [])
        if name:
            path = f"{str(location).rstrip('/')}/{name}" if location else str(name)
            if path not in files:
                files.append(path)
    return [_sweep(first[c], sorted(images[c])) for c in sorted(first)]


class IspybSessionReader:
    """Reads one session's samples and collections back from ISPyB.

    Args:
        services: The LIMS object's services (its web-service account).
        crims: The same services under ISPyB's ``crims`` account.
    """

    def __init__(self, services: IspybServices, crims: IspybServices) -> None:
        self.services = services
        self.crims = crims

    def session(self, session_id: int) -> dict[str, Any]:
        """``findSession`` as a dict.

        Raises:
            LimsDataError: No such session.
        """
        found = self.services.call("collection", "findSession", int(session_id))
        if found is None:
            raise LimsDataError("Session", "sessionId", session_id, "no such ISPyB session")
        return dict(vo.plain(found))

    def samples(self, proposal_id: int, beamline: str) -> list[dict[str, Any]]:
        """The proposal's sample infos on the beamline, as plain dicts (``shippingId`` kept)."""
        infos = self.services.call("sample", "findSampleInfoLightForProposal", int(proposal_id), beamline)
        return [vo.plain(info) for info in infos or [] if info is not None]

    def collections_by_id(self, collection_ids: Iterable[int]) -> list[SessionSweep]:
        """Collections read by id (``findDataCollection``): for ids known from elsewhere (the outbox journal).

        ``findDataCollection`` gives the collection's own row, not its group's
        experiment type or sample, nor its images. Ids ISPyB does not know are left out.
        """
        found = []
        for collection_id in sorted(set(collection_ids)):
            row = self.services.call("collection", "findDataCollection", int(collection_id))
            if row is None:
                continue
            values = dict(vo.plain(row))
            prefixed = {f"DataCollection_{key}": value for key, value in values.items()}
            prefixed["DataCollectionGroup_dataCollectionGroupId"] = values.get("dataCollectionGroupId")
            found.append(_sweep(prefixed, []))
        return found

    def sweeps(self, session_id: int, shipping_ids: Iterable[int]) -> list[SessionSweep]:
        """The session's collections on the samples of these shippings, oldest first.

        Raises:
            LimsDataError: ISPyB's answer is not the JSON row list.
        """
        rows: list[Mapping[str, Any]] = []
        for shipping in sorted(set(shipping_ids)):
            answer = self.crims.call("crims", "getAllDataCollectionFromShippingId", str(shipping))
            try:
                found = json.loads(str(answer)) if answer is not None else []
            except ValueError as error:
                raise LimsDataError(
                    "Shipping", "shippingId", shipping, f"ISPyB's answer is not JSON: {error}"
                ) from error
            if not isinstance(found, list):
                raise LimsDataError("Shipping", "shippingId", shipping, "ISPyB's answer is not a list of rows")
            rows.extend(r for r in found if isinstance(r, dict))
        sweeps = sweeps_from_rows(rows, session_id)
        return sorted(sweeps, key=lambda s: (s.start or datetime.min, int(s.lims_id)))


#: What a session holds that ISPyB's SOAP services cannot give back.
UNREADABLE = {
    "robot actions": "ISPyB's SOAP services cannot list them (storeRobotAction only)",
    "energy scans and fluorescence spectra": "ISPyB's SOAP services cannot list them (store operations only)",
    "processing results": "ISPyB's SOAP services cannot read auto-processing back",
}


def read_session(reader: IspybSessionReader, session_id: int, default_beamline: str, domain: str) -> SessionReading:
    """What ISPyB holds about one session: its samples and the collections on them.

    Args:
        reader: Reads ISPyB (the crims account for the collections).
        session_id: The ISPyB session.
        default_beamline: The beamline when the session names none.
        domain: The site's domain key for the LIMS ids.

    Raises:
        LimsDataError: No such session, or an unreadable answer.
        LimsUnavailableError: ISPyB did not answer.
    """
    session = reader.session(int(session_id))
    beamline = str(session.get("beamlineName") or default_beamline)
    infos = reader.samples(int(session["proposalId"]), beamline)
    samples = []
    for info in infos:
        sample = Sample.from_legacy(info).to_legacy()
        # What the shipment needs to be imported again as itself: where each sample came from.
        for key in ("dewarCode", "shippingName", "containerCapacity", "containerType"):
            if info.get(key) is not None:
                sample.setdefault(key, info[key])
        samples.append(sample)
    shippings = {int(i["shippingId"]) for i in infos if i.get("shippingId") is not None}
    about = SessionInfo(str(session_id), str(session.get("proposalName") or ""), beamline, domain, "ISPyB")
    operator = session.get("beamlineOperator")
    return SessionReading(
        about,
        samples,
        reader.sweeps(int(session_id), shippings),
        users=[str(operator)] if operator else [],
        start=as_datetime(session.get("startDate")),
        end=as_datetime(session.get("endDate")),
        unread=dict(UNREADABLE),
    )
