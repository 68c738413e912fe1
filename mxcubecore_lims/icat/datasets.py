"""Creating ICAT Datasets: one cascaded create, safe to repeat.

A Dataset goes in with its DatasetParameters and Datafiles in one ``create``
call (ICAT cascades MANY relations), so ICAT never holds half a dataset. An
upload repeated after a crash or a lost answer meets ICAT's uniqueness
constraint (investigation, name); the existing dataset is then looked up and,
when it is ours (same location), taken as the result instead of failing or
duplicating.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mxcubecore_lims.errors import IcatFaultError, IcatObjectExistsError
from mxcubecore_lims.icat.gateway import IcatGateway, jpql_string
from mxcubecore_lims.icat.metadata import DatasetRecord, disambiguated

__all__ = ["DatasetUploader", "UploadResult"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadResult:
    """What an upload did.

    Attributes:
        dataset_id: ICAT id of the dataset.
        name: The name it has in ICAT.
        created: False when it was already there (a repeated upload).
        skipped: Parameter names ICAT has no ParameterType for (not stored).
    """

    dataset_id: int
    name: str
    created: bool
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True)
class _ParameterType:
    id: int
    value_type: str
    entity: Any


class DatasetUploader:
    """Uploads :class:`~mxcubecore_lims.icat.metadata.DatasetRecord` objects.

    Args:
        gateway: The shared python-icat gateway.
        dataset_type: Name of the DatasetType of acquisitions.
    """

    def __init__(self, gateway: IcatGateway, dataset_type: str = "acquisition") -> None:
        self.gateway = gateway
        self.dataset_type = dataset_type
        self._parameter_types: dict[str, _ParameterType | None] = {}
        self._dataset_types: dict[str, Any] = {}
        self._warned: set[str] = set()

    # -- reference data (cached: ParameterTypes do not change during a run) --

    def _load_parameter_types(self, user: str, names: list[str]) -> None:
        missing = [n for n in names if n not in self._parameter_types]
        if not missing:
            return
        listed = ", ".join(jpql_string(n) for n in sorted(set(missing)))

        def fetch(client: Any) -> list[Any]:
            query = self.gateway.query("ParameterType", conditions={"name": f"IN ({listed})"})
            return list(client.search(query))

        found = self.gateway.call(user, "read ParameterTypes", fetch)
        for kind in found:
            if kind.applicableToDataset is False:
                continue
            self._parameter_types[str(kind.name)] = _ParameterType(int(kind.id), str(kind.valueType), kind)
        for name in missing:
            self._parameter_types.setdefault(name, None)

    def _dataset_type(self, user: str) -> Any:
        kind = self._dataset_types.get(self.dataset_type)
        if kind is None:
            wanted = jpql_string(self.dataset_type)

            def fetch(client: Any) -> list[Any]:
                return list(client.search(self.gateway.query("DatasetType", conditions={"name": f"= {wanted}"})))

            found = self.gateway.call(user, "read DatasetType", fetch)
            if not found:
                raise IcatFaultError("create Dataset", f"ICAT has no DatasetType {self.dataset_type!r}")
            kind = self._dataset_types[self.dataset_type] = found[0]
        return kind

    # -- upload ---------------------------------------------------------------------

    def upload(self, user: str, investigation_id: int, record: DatasetRecord) -> UploadResult:
        """Creates the dataset (or finds it, when it is already there).

        Args:
            user: Key of the logged-in user whose ICAT session writes.
            investigation_id: The investigation (session) the data belong to.
            record: What to store.

        Raises:
            IcatFaultError: ICAT refused it (typed subclasses).
            IcatUnavailableError: ICAT does not answer.
        """
        self._load_parameter_types(user, list(record.parameters))
        dataset_type = self._dataset_type(user)
        skipped = tuple(sorted(n for n in record.parameters if self._parameter_types.get(n) is None))
        for name in skipped:
            if name not in self._warned:
                self._warned.add(name)
                log.warning("ICAT has no dataset ParameterType %r: that value stays in metadata.json only", name)
        name = record.name
        for attempt in (1, 2):
            try:
                dataset_id = self._create(user, investigation_id, record, name, dataset_type)
                return UploadResult(dataset_id, name, True, skipped)
            except IcatObjectExistsError:
                existing = self._find(user, investigation_id, name)
                if existing is not None and (existing.location or "") == record.location:
                    log.info("dataset %s is already in ICAT (id %s): repeated upload", name, existing.id)
                    return UploadResult(int(existing.id), name, False, skipped)
                if attempt == 2:
                    raise
                # Same name, other data (e.g. the same prefix in another
                # directory): a stable alternative name.
                name = disambiguated(record.name, record.location)
        raise AssertionError("unreachable")

    def _find(self, user: str, investigation_id: int, name: str) -> Any:
        wanted = jpql_string(name)

        def fetch(client: Any) -> list[Any]:
            query = self.gateway.query(
                "Dataset", conditions={"investigation.id": f"= {int(investigation_id)}", "name": f"= {wanted}"}
            )
            return list(client.search(query))

        found = self.gateway.call(user, "read Dataset", fetch)
        return found[0] if found else None

    def _create(self, user: str, investigation_id: int, record: DatasetRecord, name: str, dataset_type: Any) -> int:
        def create(client: Any) -> int:
            investigation = client.new("Investigation", id=int(investigation_id))
            dataset = client.new(
                "Dataset",
                name=name,
                location=record.location or None,
                complete=record.complete,
                startDate=record.start,
                endDate=record.end,
                investigation=investigation,
                type=dataset_type,
            )
            if record.sample_id is not None:
                dataset.sample = client.new("Sample", id=int(record.sample_id))
            for key, value in record.parameters.items():
                parameter = self._parameter(client, key, value)
                if parameter is not None:
                    dataset.parameters.append(parameter)
            for datafile in record.datafiles:
                dataset.datafiles.append(client.new("Datafile", name=datafile.name, location=datafile.location))
            return int(client.create(dataset))

        return self.gateway.call(user, f"create Dataset {name}", create)

    def _parameter(self, client: Any, key: str, value: Any) -> Any:
        kind = self._parameter_types.get(key)
        if kind is None:
            return None
        values: Mapping[str, Any]
        if kind.value_type == "NUMERIC":
            try:
                values = {"numericValue": float(value)}
            except (TypeError, ValueError):
                log.warning("parameter %s: %r is not a number; not stored in ICAT", key, value)
                return None
        elif kind.value_type == "DATE_AND_TIME":
            if isinstance(value, str):
                # Ingestion messages carry every value as text (ISO 8601 for dates).
                try:
                    value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
                except ValueError:
                    pass
            if not isinstance(value, datetime):
                log.warning("parameter %s: %r is not a date; not stored in ICAT", key, value)
                return None
            values = {"dateTimeValue": value}
        else:
            values = {"stringValue": str(value)}
        return client.new("DatasetParameter", type=kind.entity, **values)
