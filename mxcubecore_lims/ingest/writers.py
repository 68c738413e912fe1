"""What an ingester does with one message: write it to the LIMS, once.

Each writer checks in the LIMS whether the message has taken effect already,
by what names the record there, and writes only what is missing; a message
delivered twice (its ingester died before the acknowledgement, the broker
restarted) therefore changes nothing the second time:

* an ICAT dataset: ICAT's own uniqueness (investigation, name), and the
  dataset's ``location`` (:class:`~mxcubecore_lims.icat.datasets.DatasetUploader`);
* an ISPyB collection: its image directory, prefix and run number
  (``findDataCollectionFromImageDirectoryAndImagePrefixAndNumber``); its
  updates set values, so they are the same written once or twice, and they
  find the collection the same way;
* an ISPyB image: ISPyB's SOAP services cannot list a collection's images, so
  an image whose ``storeOrUpdateImage`` reached ISPyB while its ingester was
  killed, before the acknowledgement, is stored again by the next one. That
  window (one request) is the limit of what ISPyB's SOAP contract lets anyone check.
"""

from __future__ import annotations

import copy
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from mxcubecore_lims.broker.envelope import WriteMessage
from mxcubecore_lims.errors import LimsConfigError, LimsDataError
from mxcubecore_lims.icat.datasets import DatasetUploader, UploadResult
from mxcubecore_lims.icat.gateway import IcatGateway, IcatSettings, jpql_string
from mxcubecore_lims.icat.messages import IngestDataset, read_dataset_message
from mxcubecore_lims.icat.metadata import DatafileRecord, DatasetRecord
from mxcubecore_lims.ingest.settings import IcatTarget
from mxcubecore_lims.lims.broker_route import collection_files
from mxcubecore_lims.outbox import Checkpoint

__all__ = ["ISPYB_KINDS", "IcatWriter", "IspybWriter"]

log = logging.getLogger(__name__)

#: The kinds of journalled write an ISPyB ingester takes (what ISPyB's LIMS objects publish).
ISPYB_KINDS = frozenset({"data_collection", "data_collection_update", "data_collection_end", "image"})

#: The gateway's key of the ingester's own ICAT login.
_ICAT_KEY = "ingester"


def _real(value: Any) -> bool:
    # Provisional ids (negative) never reach the LIMS: a record carrying one lets ISPyB find or make the row.
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class IspybWriter:
    """Writes journalled ISPyB records with a LIMS object's backend hooks.

    Args:
        lims: An ISPyB LIMS object (``delivery: direct``) of the ingester's configuration.
    """

    def __init__(self, lims: Any) -> None:
        if getattr(lims, "uses_broker", False):
            raise LimsConfigError(f"{lims.name}: the ingester's ISPyB object must have delivery: direct")
        if not hasattr(lims, "find_collection_by_files"):
            raise LimsConfigError(f"{lims.name}: not an ISPyB LIMS object")
        self.lims = lims

    def handle(self, message: WriteMessage) -> str:
        """Writes one record, unless the LIMS has it already; says what it did.

        Raises:
            LimsDataError: The record cannot be written (refused: retried, then dead-lettered).
            LimsUnavailableError: ISPyB does not answer (the message is kept and retried).
        """
        payload = copy.deepcopy(message.payload)
        kind = message.type
        if kind == "data_collection":
            collection = payload.get("collection") or {}
            files = collection_files(collection)
            if files is not None:
                found = self.lims.find_collection_by_files(files)
                if found is not None:
                    return f"collection {found} already in ISPyB"
            if not _real(collection.get("group_id")):
                collection.pop("group_id", None)
            collection.pop("collection_id", None)
            result = self.lims._deliver(kind, payload, Checkpoint())
            return f"collection {result[0]} stored"
        files = message.collection_files
        if files is None and kind != "image":
            files = collection_files(payload.get("collection") or {})
        if files is None:
            raise LimsDataError("WriteMessage", "collection_files", None, f"a {kind} must say which collection")
        collection_id = self.lims.find_collection_by_files(files)
        if collection_id is None:
            raise LimsDataError(
                "WriteMessage", "collection_files", files, "ISPyB has no collection with these files (not stored yet)"
            )
        if kind == "image":
            payload["image"]["dataCollectionId"] = collection_id
        else:
            collection = payload["collection"]
            collection["collection_id"] = collection_id
            if not _real(collection.get("group_id")):
                collection.pop("group_id", None)
        result = self.lims._deliver(kind, payload, Checkpoint())
        return f"{kind} of collection {collection_id} stored" + (f" (id {result})" if kind == "image" else "")


class IcatWriter:
    """Stores ICAT dataset messages (ours and pyicat-plus's) with python-icat.

    Args:
        target: The ICAT server and the ingester's account.
    """

    def __init__(self, target: IcatTarget) -> None:
        self.target = target
        self.gateway = IcatGateway(
            IcatSettings(
                url=target.url,
                verify_tls=target.verify_tls,
                ca_file=target.ca_file,
                read_timeout=target.read_timeout,
            )
        )
        self.uploader = DatasetUploader(self.gateway, target.dataset_type)

    def login(self) -> None:
        """Logs the ingester in (at start: a refused login stops the ingester with a clear error).

        Raises:
            LimsAuthenticationError: ICAT refused the account.
            IcatUnavailableError: ICAT does not answer.
        """
        self.gateway.login(_ICAT_KEY, self.target.plugin, self.target.username, self.target.password)

    def handle(self, body: bytes) -> str:
        """Stores one dataset message, unless ICAT has it already; says what it did.

        Raises:
            LimsDataError: A malformed message, or no such investigation (dead-lettered).
            IcatError: ICAT refused it; IcatUnavailableError when it does not answer.
        """
        dataset = read_dataset_message(body)
        if self.gateway.user(_ICAT_KEY) is None:
            self.login()
        investigation_id = dataset.investigation_id or self._investigation(dataset)
        record = DatasetRecord(
            name=dataset.name,
            location=dataset.location,
            start=dataset.start,
            end=dataset.end,
            complete=dataset.complete,
            sample_id=self._sample(investigation_id, dataset.sample_name),
            sample_name=dataset.sample_name,
            parameters=dict(dataset.parameters),
            datafiles=_datafiles(dataset),
        )
        result: UploadResult = self.uploader.upload(_ICAT_KEY, investigation_id, record)
        verb = "stored" if result.created else "already in ICAT"
        return f"dataset {result.name} {verb} (id {result.dataset_id})"

    def _investigation(self, dataset: IngestDataset) -> int:
        """The investigation a message without ``investigationId`` belongs to: by name, then by date."""
        names = ", ".join(jpql_string(n) for n in sorted({dataset.proposal, dataset.proposal.upper()}))

        def fetch(client: Any) -> list[Any]:
            query = self.gateway.query("Investigation", conditions={"name": f"IN ({names})"})
            return list(client.search(query))

        found = self.gateway.call(_ICAT_KEY, "read Investigation", fetch)
        if not found:
            raise LimsDataError("ingestion message", "investigation", dataset.proposal, "no such ICAT investigation")
        moment = dataset.start.replace(tzinfo=None) if dataset.start is not None else datetime.now()

        def covers(investigation: Any) -> bool:
            start = _naive(investigation.startDate)
            end = _naive(investigation.endDate)
            return (start is None or start <= moment) and (end is None or moment <= end)

        covering = [i for i in found if covers(i)]
        chosen = covering or sorted(found, key=lambda i: _naive(i.startDate) or datetime.min)[-1:]
        return int(chosen[0].id)

    def _sample(self, investigation_id: int, name: str | None) -> int | None:
        if not name:
            return None
        wanted = jpql_string(name)

        def fetch(client: Any) -> list[Any]:
            query = self.gateway.query(
                "Sample", conditions={"investigation.id": f"= {int(investigation_id)}", "name": f"= {wanted}"}
            )
            return list(client.search(query))

        found = self.gateway.call(_ICAT_KEY, "read Sample", fetch)
        return int(found[0].id) if found else None

    def close(self) -> None:
        """Ends the ingester's ICAT session."""
        self.gateway.logout(_ICAT_KEY)


def _naive(moment: Any) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo is not None else moment


def _datafiles(dataset: IngestDataset) -> list[DatafileRecord]:
    """The files a message lists; else, as ESRF's ingesters do, the files in its directory."""
    if dataset.datafiles:
        return [DatafileRecord(os.path.basename(path), path) for path in dataset.datafiles]
    directory = Path(dataset.location)
    try:
        entries = sorted(p for p in directory.iterdir() if p.is_file())
    except OSError as error:
        log.warning("dataset %s: its directory %s cannot be read (%s); no datafiles", dataset.name, directory, error)
        return []
    return [DatafileRecord(p.name, str(p)) for p in entries]
