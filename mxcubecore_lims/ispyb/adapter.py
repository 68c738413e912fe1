"""ISPyB data adapter: our models in, ISPyB value objects out, plain dicts back.

One method per ISPyB use of mxcubecore, over :class:`IspybServices`:

* replies are plain dicts (``zeep.helpers.serialize_object``, nulls dropped)
  or our models, never zeep objects; an empty reply is ``None`` or ``[]``;
* every write builds its value object with the service's type factory from
  a model (:mod:`.value_objects`): typed values, ``None`` left out, the
  caller's model untouched;
* errors are those of :class:`IspybServices` (``IspybFaultError``,
  ``IspybCredentialsError``, ``IspybUnavailableError``), and
  :class:`~mxcubecore_lims.errors.LimsDataError` naming the field when a
  value ISPyB needs is missing (before anything is sent).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from mxcubecore_lims.errors import LimsDataError
from mxcubecore_lims.ispyb import value_objects as vo
from mxcubecore_lims.ispyb.services import IspybServices
from mxcubecore_lims.model.beamline_setup import BeamlineSetup
from mxcubecore_lims.model.data_collection import DataCollection
from mxcubecore_lims.model.data_collection_group import DataCollectionGroup
from mxcubecore_lims.model.energy_scan import EnergyScan
from mxcubecore_lims.model.image import Image
from mxcubecore_lims.model.robot_action import RobotAction
from mxcubecore_lims.model.sample import Sample, SampleUpdate
from mxcubecore_lims.model.xfe_spectrum import XfeSpectrum

__all__ = ["IspybAdapter"]

log = logging.getLogger(__name__)


class IspybAdapter:
    """The ISPyB operations mxcubecore uses, with typed inputs and outputs.

    Args:
        services: The three SOAP services.
    """

    def __init__(self, services: IspybServices) -> None:
        self.services = services

    # -- helpers -------------------------------------------------------------

    def _build(self, service: str, type_name: str, values: dict[str, Any]) -> Any:
        """A value object of ``ns0:<type_name>`` from typed, None-free values."""
        return self.services.client(service).get_type(f"ns0:{type_name}")(**values)

    def _one(self, service: str, operation: str, *args: Any) -> dict[str, Any] | None:
        result = self.services.call(service, operation, *args)
        return None if result is None else vo.plain(result)

    def _many(self, service: str, operation: str, *args: Any) -> list[dict[str, Any]]:
        result = self.services.call(service, operation, *args)
        return [vo.plain(item) for item in result or [] if item is not None]

    def _store(self, model: str, operation: str, value_object: Any) -> int:
        """Calls a store operation; ISPyB's null answer (it refused quietly) is an error."""
        result = self.services.call("collection", operation, value_object)
        if result is None:
            raise LimsDataError(model, "", None, f"ISPyB {operation} stored nothing (null answer)")
        return int(result)

    # -- connectivity ---------------------------------------------------------

    def echo(self) -> bool:
        """Whether ISPyB answers ``echo`` on the shipping service. Never raises."""
        try:
            return bool(self.services.call("shipping", "echo"))
        except Exception as error:
            log.debug("ISPyB echo failed: %s", error)
            return False

    # -- shipping ---------------------------------------------------------------

    def find_proposal(self, code: str, number: str) -> dict[str, Any] | None:
        """``findProposal``: proposalId, code, number, title, type, personId; or None."""
        return self._one("shipping", "findProposal", code, str(number))

    def find_proposal_by_login_and_beamline(self, login: str, beamline: str) -> dict[str, Any] | None:
        """``findProposalByLoginAndBeamline``: the proposal ISPyB picks for a user, or None."""
        return self._one("shipping", "findProposalByLoginAndBeamline", login, beamline)

    def find_person_by_login(self, login: str) -> dict[str, Any] | None:
        """``findPersonByLogin``: personId, givenName, familyName, emailAddress, login, ...; or None."""
        return self._one("shipping", "findPersonByLogin", login)

    def find_person_by_proposal(self, code: str, number: str) -> dict[str, Any] | None:
        """``findPersonByProposal``: the proposal's person, or None."""
        return self._one("shipping", "findPersonByProposal", code, str(number))

    def find_laboratory_by_proposal(self, code: str, number: str) -> dict[str, Any] | None:
        """``findLaboratoryByProposal``: the proposal's laboratory, or None."""
        return self._one("shipping", "findLaboratoryByProposal", code, str(number))

    # -- sessions ----------------------------------------------------------------

    def find_sessions(self, code: str, number: str, beamline: str) -> list[dict[str, Any]]:
        """``findSessionsByProposalAndBeamLine``: the proposal's current sessions on ``beamline``."""
        return self._many("collection", "findSessionsByProposalAndBeamLine", code, str(number), beamline)

    def find_session(self, session_id: int) -> dict[str, Any] | None:
        """``findSession``: one session, or None."""
        return self._one("collection", "findSession", int(session_id))

    def create_session(
        self,
        proposal_id: int,
        beamline: str,
        start: datetime,
        end: datetime,
        comments: str = "Session created by MXCuBE",
    ) -> int:
        """``storeOrUpdateSession`` (create): a new unscheduled session; returns its id.

        ``nbShifts`` is not sent, so ISPyB computes it from the dates (when
        sent, ISPyB stores 3 whatever the value).

        Raises:
            LimsDataError: No proposal id, or no beamline, or end before start.
        """
        positive = proposal_id if proposal_id and int(proposal_id) > 0 else None
        proposal = vo.require("Session", "proposalId", positive)
        vo.require("Session", "beamlineName", beamline)
        if end < start:
            raise LimsDataError("Session", "endDate", end, "ends before it starts")
        session = self._build(
            "collection",
            "sessionWS3VO",
            {
                "proposalId": int(proposal),
                "beamlineName": beamline,
                "startDate": start,
                "endDate": end,
                "comments": comments,
                "scheduled": 0,
            },
        )
        return self._store("Session", "storeOrUpdateSession", session)

    # -- collection ----------------------------------------------------------------

    def store_data_collection_group(self, group: DataCollectionGroup) -> int:
        """``storeOrUpdateDataCollectionGroup``: creates (or updates, with its id) a group.

        Raises:
            LimsDataError: No ``sessionId`` or ``experimentType``.
            IspybFaultError: ISPyB refused it (e.g. an experiment type outside its list).
        """
        values = vo.data_collection_group_values(group)
        return self._store(
            "DataCollectionGroup",
            "storeOrUpdateDataCollectionGroup",
            self._build("collection", "dataCollectionGroupWS3VO", values),
        )

    def store_data_collection(
        self,
        collection: DataCollection,
        group_id: int | None = None,
        detector_id: int | None = None,
    ) -> int:
        """``storeOrUpdateDataCollection``: creates, or updates when ``collection_id`` is set.

        Args:
            collection: The collection dict as a model.
            group_id: The group, if not ``collection.group_id``.
            detector_id: The detector (:meth:`find_detector`), if not ``collection.detector_id``.

        On update the stored collection is read first (``findDataCollection``)
        and only the values given replace its own, because ISPyB rebuilds the
        row from the value object: an update dict without ``group_id`` or
        ``detector_id`` keeps the stored ones.

        Returns:
            The data collection id (the same one on update).

        Raises:
            LimsDataError: No group id (on create), an unknown ``collection_id``,
                or a value ISPyB cannot take.
        """
        values = vo.data_collection_values(collection, group_id, detector_id)
        collection_id = values.get("dataCollectionId")
        if collection_id is not None:
            current = self._one("collection", "findDataCollection", collection_id)
            if current is None:
                raise LimsDataError("DataCollection", "collection_id", collection_id, "no such ISPyB data collection")
            values = {**current, **values}
        vo.require("DataCollection", "group_id", values.get("dataCollectionGroupId"))
        return self._store(
            "DataCollection",
            "storeOrUpdateDataCollection",
            self._build("collection", "dataCollectionWS3VO", values),
        )

    def find_data_collection_by_files(self, directory: str, prefix: str, run_number: int) -> int | None:
        """``findDataCollectionFromImageDirectoryAndImagePrefixAndNumber``: the id, or None.

        A directory, file prefix and run number name one collection's images,
        so this finds a collection stored by a request whose answer was lost.
        """
        found = self._one(
            "collection",
            "findDataCollectionFromImageDirectoryAndImagePrefixAndNumber",
            directory,
            prefix,
            int(run_number),
        )
        return None if not found or found.get("dataCollectionId") is None else int(found["dataCollectionId"])

    def store_image(self, image: Image) -> int:
        """``storeOrUpdateImage``: creates (or updates, with ``imageId``) an image.

        Raises:
            LimsDataError: No ``dataCollectionId``.
        """
        values = vo.image_values(image)
        return self._store("Image", "storeOrUpdateImage", self._build("collection", "imageWS3VO", values))

    def store_robot_action(self, action: RobotAction) -> int | None:
        """``storeRobotAction`` (insert only): returns the new id, or None if ISPyB stored nothing.

        Raises:
            LimsDataError: No ``sessionId``.
        """
        values = vo.robot_action_values(action)
        result = self.services.call(
            "collection", "storeRobotAction", self._build("collection", "robotActionWS3VO", values)
        )
        return None if result is None else int(result)

    def store_beamline_setup(self, session_id: int, setup: BeamlineSetup) -> int:
        """``storeOrUpdateBeamLineSetup``, then links the setup to the session.

        The session is read back (``findSession``) and re-sent whole with its
        new ``beamLineSetupId``, because ISPyB's session update overwrites
        every field.

        Raises:
            LimsDataError: The session does not exist (nothing is stored then).
        """
        session = self.services.call("collection", "findSession", int(session_id))
        if session is None:
            raise LimsDataError("BeamlineSetup", "sessionId", session_id, "no such ISPyB session")
        setup_id = self._store(
            "BeamlineSetup",
            "storeOrUpdateBeamLineSetup",
            self._build("collection", "beamLineSetup3VO", vo.beamline_setup_values(setup)),
        )
        values = vo.plain(session)
        values.pop("proposalName", None)  # computed by ISPyB, not stored
        values["beamLineSetupId"] = setup_id
        self._store("Session", "storeOrUpdateSession", self._build("collection", "sessionWS3VO", values))
        return setup_id

    def find_detector(self, setup: BeamlineSetup) -> int | None:
        """``findDetectorByParam`` on the setup's detector; its ``detectorId``, or None.

        None without asking ISPyB when the setup has no manufacturer or model.
        """
        query = vo.detector_query(setup)
        if query is None:
            return None
        detector = self._one("collection", "findDetectorByParam", *query)
        if not detector or detector.get("detectorId") is None:
            return None
        return int(detector["detectorId"])

    def store_energy_scan(self, scan: EnergyScan) -> int:
        """``storeOrUpdateEnergyScan``: returns the scan id (the sample link is ``blSampleId``).

        Raises:
            LimsDataError: No ``sessionId``.
        """
        values = vo.energy_scan_values(scan)
        return self._store(
            "EnergyScan", "storeOrUpdateEnergyScan", self._build("collection", "energyScanWS3VO", values)
        )

    def store_xfe_spectrum(self, spectrum: XfeSpectrum) -> int:
        """``storeOrUpdateXFEFluorescenceSpectrum``: returns the spectrum id.

        Raises:
            LimsDataError: No ``sessionId``.
        """
        values = vo.xfe_spectrum_values(spectrum)
        return self._store(
            "XfeSpectrum",
            "storeOrUpdateXFEFluorescenceSpectrum",
            self._build("collection", "xfeFluorescenceSpectrumWS3VO", values),
        )

    # -- samples ----------------------------------------------------------------

    def find_samples(self, proposal_id: int, beamline: str) -> list[Sample]:
        """``findSampleInfoLightForProposal``: the proposal's samples on ``beamline``.

        Numbers stay numbers; ``sampleLocation`` and
        ``containerSampleChangerLocation`` are ISPyB strings, which
        :meth:`Sample.to_legacy` gives back as strings for mxcubeweb.
        """
        infos = self._many("sample", "findSampleInfoLightForProposal", int(proposal_id), beamline)
        return [Sample.from_legacy(info) for info in infos]

    def update_bl_sample(self, sample: SampleUpdate) -> int | None:
        """``storeOrUpdateBLSample`` for a known sample; returns its id, or None.

        The sample is read first (``findBLSample``) and only the values given
        are changed, because ISPyB rebuilds the row from the value object: a
        ``get_samples()`` dict lacks ``containerId``, which would otherwise
        be lost. None when ISPyB stores nothing (no crystal).

        Raises:
            LimsDataError: No ``blSampleId``/``sampleId``, or no such sample.
        """
        values = vo.sample_values(sample)
        sample_id = vo.require("SampleUpdate", "blSampleId", values.get("blSampleId"))
        current = self._one("sample", "findBLSample", sample_id)
        if current is None:
            raise LimsDataError("SampleUpdate", "blSampleId", sample_id, "no such ISPyB sample")
        merged = {**current, **values}
        result = self.services.call("sample", "storeOrUpdateBLSample", self._build("sample", "blSampleWS3VO", merged))
        return None if result is None else int(result)
