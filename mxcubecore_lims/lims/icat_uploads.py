"""ICAT uploads: collections, energy scans and spectra become ICAT Datasets and ``metadata.json``.

A finished collection becomes an ICAT Dataset with its parameters and files,
and a ``metadata.json`` beside the data. ICAT keeps finished datasets only, so
a collection waits here, with its images, between ``store_data_collection``
and ``finalize_data_collection``; the ids callers get are local
(``MX_dataCollectionId`` in ICAT). What an upload needs (the investigation,
the take-over instruments, the known samples) is journalled with the write.
"""

from __future__ import annotations

import collections
import itertools
from dataclasses import dataclass, field
from typing import Any, cast

from mxcubecore_lims import errors
from mxcubecore_lims.errors import IcatError, LimsConfigError, LimsDataError, LimsNoSessionError
from mxcubecore_lims.icat.datasets import DatasetUploader, UploadResult
from mxcubecore_lims.icat.messages import dataset_message
from mxcubecore_lims.icat.metadata import (
    DatasetRecord,
    collection_record,
    energy_scan_record,
    write_metadata_json,
    xfe_spectrum_record,
)
from mxcubecore_lims.lims import Id
from mxcubecore_lims.lims.collection_writes import CollectionWrites
from mxcubecore_lims.lims.icat_sessions import IcatSessions
from mxcubecore_lims.lims.record_writes import RecordWrites
from mxcubecore_lims.model import (
    BeamlineSetup,
    DataCollection,
    DataCollectionGroup,
    EnergyScan,
    Image,
    RobotAction,
    SampleUpdate,
    Session,
    Workflow,
    XfeSpectrum,
)

__all__ = ["IcatUploads"]

#: Finished collections remembered for a repeated finalize.
_FINALIZED_KEPT = 200


@dataclass(frozen=True)
class _WriteContext:
    """Where an upload goes: fixed when the write is made, journalled with it."""

    investigation_id: int
    investigation_name: str
    actual_instrument: str | None
    scheduled_instrument: str | None
    sample_ids: list[int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "investigation_id": self.investigation_id,
            "investigation_name": self.investigation_name,
            "actual_instrument": self.actual_instrument,
            "scheduled_instrument": self.scheduled_instrument,
            "sample_ids": list(self.sample_ids),
        }


@dataclass
class _PendingCollection:
    """A collection between ``store_data_collection`` and ``finalize_data_collection``."""

    collection: DataCollection
    images: list[Image] = field(default_factory=list)


def _merge(old: DataCollection, new: DataCollection) -> DataCollection:
    # Updates carry the whole dict again, sometimes with fewer keys: keep
    # what an earlier call told and the later one left out.
    merged = old.to_legacy()
    merged.update({k: v for k, v in new.to_legacy().items() if v is not None})
    return DataCollection.from_legacy(merged)


class IcatUploads(IcatSessions, CollectionWrites, RecordWrites):
    """Mixin of the ICAT LIMS object: the backend write hooks, as ICAT datasets.

    Attributes:
        uploader: Creates the datasets; None before ``init()``.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.uploader: DatasetUploader | None = None
        self._collections: dict[int, _PendingCollection] = {}
        # Finished collections, for a finalize repeated by the caller (bounded).
        self._finalized: collections.OrderedDict[int, _PendingCollection] = collections.OrderedDict()
        self._local_ids = itertools.count(1)
        #: ICAT ids of the active session's samples, as last read.
        self._sample_ids: set[int] = set()
        #: Sessions taken over from another beamline: session id -> the beamline it was scheduled on.
        self._allowed: dict[str, str] = {}

    def _instruments_for(self, session: Session) -> tuple[str | None, str | None]:
        scheduled_elsewhere = self._allowed.get(session.session_id)
        if scheduled_elsewhere is None:
            return None, None
        return self.host_beamline, scheduled_elsewhere

    def _context(self) -> _WriteContext:
        """Where a write goes, judged when the call is made (the active session)."""
        session = self._active_session_or_raise()
        actual, scheduled = self._instruments_for(session)
        return _WriteContext(
            investigation_id=int(session.session_id),
            investigation_name=session.proposal_name,
            actual_instrument=actual,
            scheduled_instrument=scheduled,
            sample_ids=sorted(self._sample_ids),
        )

    def _journal_payload(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Journals what an ICAT upload needs besides the caller's dict.

        The investigation, the take-over instruments and the known samples are
        fixed at the call; for a collection's end, so are its merged values
        and images: a replay after a restart has none of this in memory.
        """
        if kind not in ("data_collection_end", "energy_scan", "xfe_spectrum"):
            return payload
        payload = dict(payload)
        if self.session_manager.active_session is not None:
            payload["icat"] = self._context().as_dict()
        if kind == "data_collection_end":
            collection_id = payload["collection"].get("collection_id")
            pending = self._collections.get(collection_id) if isinstance(collection_id, int) else None
            if pending is not None:
                merged = _merge(pending.collection, DataCollection.from_legacy(payload["collection"]))
                payload["collection"] = merged.to_legacy()
                payload["images"] = [image.to_legacy() for image in pending.images]
        return payload

    def _deliver_now(self, kind: str, payload: dict[str, Any]) -> Any:
        if kind not in ("data_collection_end", "energy_scan", "xfe_spectrum"):
            return super()._deliver_now(kind, payload)
        try:
            context = _WriteContext(**payload["icat"]) if "icat" in payload else self._context()
        except LimsNoSessionError as error:
            raise errors.LimsMetadataGatherError(f"{kind}: no session to file it under: {error}") from error
        if kind == "energy_scan":
            scan = EnergyScan.from_legacy(payload["scan"])
            record = energy_scan_record(
                scan, context.sample_ids, context.actual_instrument, context.scheduled_instrument
            )
            return self._upload(record, context).dataset_id
        if kind == "xfe_spectrum":
            spectrum = XfeSpectrum.from_legacy(payload["spectrum"])
            record = xfe_spectrum_record(
                spectrum, context.sample_ids, context.actual_instrument, context.scheduled_instrument
            )
            return self._upload(record, context).dataset_id
        collection = DataCollection.from_legacy(payload["collection"])
        images = [Image.from_legacy(i) for i in payload.get("images", [])]
        return self._finish_collection(collection, images if "images" in payload else None, context)

    def _upload(self, record: DatasetRecord, context: _WriteContext) -> UploadResult:
        """Writes ``metadata.json`` (when there is a location) and creates the dataset.

        Raises:
            LimsMetadataWriteError: ``metadata.json`` could not be written.
            LimsMetadataUploadError: ICAT refused the dataset or did not answer.
        """
        investigation = {"id": context.investigation_id, "name": context.investigation_name}
        unwritten: OSError | None = None
        if record.location:
            try:
                write_metadata_json(record, investigation)
            except OSError as error:
                # The dataset still goes to ICAT; the error is raised after.
                self.log.error("metadata.json for %s not written: %s", record.name, error)
                unwritten = error
        if self.uses_broker:
            # The ingestion service stores it; the message counts once the broker has it.
            body = dataset_message(record, context.investigation_name, self.beamline_name, context.investigation_id)
            self._publish_dataset(body, record.name)
            self.log.info("dataset %s published for ingestion", record.name)
            if unwritten is not None:
                raise errors.LimsMetadataWriteError(
                    f"dataset {record.name} is published, but metadata.json could not be written in "
                    f"{record.location}: {unwritten}"
                ) from unwritten
            return UploadResult(self._new_local_id(), record.name, True)
        try:
            if self.uploader is None:  # init() builds it (this was an assert)
                raise LimsConfigError(f"ICAT LIMS object '{self.name}' is not initialised")
            result = self.uploader.upload(self._acting_user(), context.investigation_id, record)
        except (IcatError, LimsNoSessionError) as error:
            self.log.error("dataset %s not stored in ICAT: %s", record.name, error)
            raise errors.LimsMetadataUploadError(f"dataset {record.name} not stored in ICAT: {error}") from error
        self.log.info(
            "dataset %s %s in ICAT (id %s)", result.name, "created" if result.created else "already", result.dataset_id
        )
        if unwritten is not None:
            raise errors.LimsMetadataWriteError(
                f"dataset {result.name} is in ICAT (id {result.dataset_id}), but metadata.json could not be "
                f"written in {record.location}: {unwritten}"
            ) from unwritten
        return result

    def _new_local_id(self) -> int:
        # Journalled records of an earlier run may still carry local ids:
        # with an outbox, numbering continues across restarts.
        if self.outbox is not None:
            return self.outbox.next_number("icat_local_id")
        return next(self._local_ids)

    def _write_data_collection(self, collection: DataCollection, setup: BeamlineSetup | None) -> tuple[Id, Id]:
        # ICAT keeps finished datasets only: the collection waits here for its
        # end; the id is ours (MX_dataCollectionId in ICAT).
        local_id = self._new_local_id()
        self._collections[local_id] = _PendingCollection(collection)
        return local_id, None

    def _pending(self, collection: DataCollection) -> _PendingCollection:
        if not collection.collection_id:
            raise LimsDataError("DataCollection", "collection_id", collection.collection_id, "needed to update")
        local_id = int(collection.collection_id)
        pending = self._collections.get(local_id) or self._finalized.get(local_id)
        if pending is None:
            # Not stored through this object (e.g. before a restart): start from here.
            pending = self._collections[local_id] = _PendingCollection(collection)
        else:
            pending.collection = _merge(pending.collection, collection)
        return pending

    def _write_data_collection_update(self, collection: DataCollection) -> None:
        self._pending(collection)

    def _write_data_collection_end(self, collection: DataCollection) -> None:
        """Finishes a collection in the active session (see :meth:`_finish_collection`)."""
        self._finish_collection(collection, None, self._context())

    def _finish_collection(
        self, collection: DataCollection, images: list[Image] | None, context: _WriteContext
    ) -> None:
        """Gathers the metadata, writes ``metadata.json`` and creates the Dataset.

        Args:
            collection: The collection's final dict.
            images: Its images as journalled, or None to use those stored
                through this object.
            context: Investigation, take-over instruments and known samples.

        Raises:
            LimsMetadataGatherError: The metadata could not be put together.
            LimsMetadataWriteError: ``metadata.json`` could not be written.
            LimsMetadataUploadError: ICAT refused the dataset or did not answer.
        """
        try:
            pending = self._pending(collection)
            if images is not None and not pending.images:
                pending.images = list(images)
            record = collection_record(
                pending.collection,
                pending.images,
                local_id=int(collection.collection_id),  # type: ignore[arg-type]
                sample_ids=context.sample_ids,
                actual_instrument=context.actual_instrument,
                scheduled_instrument=context.scheduled_instrument,
            )
        except Exception as error:
            self.log.error("metadata of collection %s not gathered: %s", collection.collection_id, error)
            raise errors.LimsMetadataGatherError(
                f"metadata of collection {collection.collection_id} not gathered: {error}"
            ) from error
        self._upload(record, context)
        local_id = int(collection.collection_id)  # type: ignore[arg-type]
        self._finalized[local_id] = self._collections.pop(local_id, pending)
        while len(self._finalized) > _FINALIZED_KEPT:
            self._finalized.popitem(last=False)

    def _write_data_collection_group(self, group: DataCollectionGroup) -> Id:
        # ICAT has no groups; datasets carry their experiment type instead.
        return self._new_local_id()

    def _write_beamline_setup(self, session_id: str, setup: BeamlineSetup) -> Id:
        return self._new_local_id()

    def _write_image(self, image: Image) -> Id:
        if image.data_collection_id is None:
            raise LimsDataError("Image", "dataCollectionId", None, "an image needs its collection")
        pending = self._collections.get(int(image.data_collection_id))
        if pending is None:
            raise LimsDataError("Image", "dataCollectionId", image.data_collection_id, "no such collection pending")
        pending.images.append(image)
        return self._new_local_id()

    def _write_robot_action(self, action: RobotAction) -> Id:
        self.log.debug("ICAT keeps no robot actions; %s not stored", action.action_type)
        return None

    def _write_energy_scan(self, scan: EnergyScan) -> Id:
        return cast(Id, self._deliver("energy_scan", self._journal_payload("energy_scan", {"scan": scan.to_legacy()})))

    def _write_xfe_spectrum(self, spectrum: XfeSpectrum) -> Id:
        return cast(
            Id, self._deliver("xfe_spectrum", self._journal_payload("xfe_spectrum", {"spectrum": spectrum.to_legacy()}))
        )

    def _write_sample_update(self, sample: SampleUpdate) -> None:
        self.log.debug("ICAT samples are not updated from the beamline; nothing stored")

    def _write_workflow(self, workflow: Workflow) -> tuple[Id, Id, Id]:
        self.log.warning("ICAT stores no workflows; workflow %s not stored", workflow.workflow_type)
        return None, None, None

    def pending_collections(self) -> list[int]:
        """Ids of collections stored but not finalised yet."""
        return sorted(self._collections)
