"""The two ICAT clients ``tools/bench_icat.py`` measures, reduced to its four operations.

Not a benchmark itself: ``ours`` drives our ``ICATLIMS`` object, ``floor``
sends the same queries and creates the same datasets with bare python-icat
calls (see the benchmark's docstring). Each keeps what its pass produced in
a :class:`PassState` for the benchmark's checks against the emulator's store.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib import RefusedError

USER, PASSWORD, PLUGIN, PROPOSAL, BEAMLINE = "alice", "alice-pw", "simple", "MX-415", "ID-DEMO"
DONE = "Data collection successful"
#: What the collect routines add to a collection's dict before the update.
UPDATE = {"flux": 1.5e12, "flux_end": 1.1e12, "comments": "done"}


@dataclass
class Expected:
    """What the catalogue holds (read from the store) and what each pass must give."""

    mx415_id: int
    sessions: int
    sample_ids: list[int]
    dataset_parameter_types: dict[str, str]  # name -> valueType
    parameters_per_dataset: int = 0


def collection_dict(session_id: str, directory: Path, prefix: str, sample_id: int) -> dict[str, Any]:
    """A collection dict as the collect routines pass it to store_data_collection."""
    return {
        "sessionId": session_id,
        "experiment_type": "OSC",
        "status": "Running",
        "fileinfo": {
            "directory": str(directory),
            "prefix": prefix,
            "run_number": 1,
            "suffix": "cbf",
            "template": f"{prefix}_1_%05d.cbf",
        },
        "oscillation_sequence": [
            {
                "start": 0.0,
                "range": 0.1,
                "number_of_images": 100,
                "exposure_time": 0.02,
                "start_image_number": 1,
                "offset": 0.0,
                "kappaStart": 0,
                "phiStart": 0,
            }
        ],
        "sample_reference": {"blSampleId": sample_id, "sample_name": prefix, "acronym": "lyso"},
        "blSampleId": sample_id,
        "wavelength": 0.9793,
        "resolution": 1.8,
        "detectorDistance": 250.5,
        "xBeam": 155.1,
        "yBeam": 163.9,
        "transmission": 50.0,
        "synchrotronMode": "7/8+1",
        "collection_start_time": "2026-11-23 10:00:00",
    }


@dataclass
class PassState:
    """What one pass of one client produced (checked after the pass)."""

    prefix: str = ""
    directory: Path = Path()
    collections: list[dict[str, Any]] = field(default_factory=list)
    active: str | None = None
    sessions: int = 0
    sample_ids: list[int] = field(default_factory=list)


class Client:
    """One client: ``begin`` a pass, ``run`` each operation, ``end`` it (untimed)."""

    key = ""

    def __init__(self, expected: Expected, datasets: int) -> None:
        self.expected, self.datasets, self.state = expected, datasets, PassState()

    def begin(self, prefix: str, directory: Path, datasets: int | None = None) -> None:
        self.state = PassState(prefix, directory)
        for index in range(self.datasets if datasets is None else datasets):
            where = directory / f"dc{index:04d}"
            where.mkdir(parents=True)
            sample = self.expected.sample_ids[index % len(self.expected.sample_ids)]
            self.state.collections.append(
                collection_dict(str(self.expected.mx415_id), where, f"{prefix}-{index:04d}", sample)
            )

    def run(self, operation: str) -> None:
        getattr(self, f"op_{operation}")()

    def end(self) -> None: ...


class Ours(Client):
    """Our ``ICATLIMS`` hardware object."""

    key = "ours"

    def __init__(self, lims: Any, expected: Expected, datasets: int) -> None:
        super().__init__(expected, datasets)
        self.lims = lims
        self.captured: dict[str, list[str]] = {}

    def op_connect(self) -> None:
        from mxcubecore_lims.icat.gateway import IcatGateway

        saved = dict(IcatGateway._shared)
        IcatGateway._shared.clear()
        try:
            _ = IcatGateway.shared(self.lims.gateway.settings).client  # the property builds the client
        finally:
            IcatGateway._shared.clear()
            IcatGateway._shared.update(saved)

    def op_login(self) -> None:
        self.lims.login(USER, PASSWORD)
        self.lims.set_active_session_by_id(str(self.expected.mx415_id))
        manager = self.lims.session_manager
        self.state.active = manager.active_session.proposal_name if manager.active_session else None
        self.state.sessions = len(manager.sessions)

    def op_get_samples(self) -> None:
        self.state.sample_ids = [s["sampleId"] for s in self.lims.get_samples("ICAT")]

    def op_upload(self) -> None:
        lims = self.lims
        for dc in self.state.collections:
            collection_id, _ = lims.store_data_collection(dc)
            dc["collection_id"] = collection_id
            dc.update(UPDATE)
            lims.update_data_collection(dc)
            dc["status"] = DONE
            lims.finalize_data_collection(dc)

    def end(self) -> None:
        self.lims.remove_user(USER)

    def capture(self, operation: str) -> contextlib.AbstractContextManager[None]:
        """Records the query strings ours sends during ``operation`` (the floor replays them)."""
        client = self.lims.gateway.client
        searches = self.captured.setdefault(operation, [])

        @contextlib.contextmanager
        def recording() -> Iterator[None]:
            original = client.search
            client.search = lambda query, *a, **k: searches.append(str(query)) or original(query, *a, **k)
            try:
                yield
            finally:
                del client.search

        return recording()


class Floor(Client):
    """Bare python-icat calls: one client built once, replaying ours' queries; nothing is mapped."""

    key = "floor"

    def __init__(self, url: str, expected: Expected, datasets: int, queries: dict[str, list[str]]) -> None:
        import icat.client

        super().__init__(expected, datasets)
        self.url = url
        self.client = icat.client.Client(url, checkCert=False, cache=None)
        self.client.autoLogout = False
        self.login_queries = queries["login"]
        self.sample_queries = queries["get_samples"]
        if len(self.login_queries) != 3 or len(self.sample_queries) != 1:
            raise RefusedError(f"unexpected searches of ours: {queries}")
        self.client.login(PLUGIN, {"username": USER, "password": PASSWORD})
        self.parameter_types = {
            t.name: t
            for t in self.client.search("SELECT o FROM ParameterType o")
            if t.name in expected.dataset_parameter_types
        }
        self.dataset_type = self.client.search("SELECT o FROM DatasetType o WHERE o.name = 'acquisition'")[0]
        self.client.logout()
        self.records: list[tuple[Any, list[tuple[Any, str, Any]]]] = []

    def begin(self, prefix: str, directory: Path, datasets: int | None = None) -> None:
        """Also computes, untimed, each dataset and its parameters with our metadata module."""
        from mxcubecore_lims.icat.metadata import collection_record
        from mxcubecore_lims.model import DataCollection

        super().begin(prefix, directory, datasets)
        self.records = []
        for index, dc in enumerate(self.state.collections):
            final = {**dc, **UPDATE, "collection_id": index + 1, "status": DONE}
            record = collection_record(
                DataCollection.from_legacy(final), local_id=index + 1, sample_ids=self.expected.sample_ids
            )
            params = []
            for name, value in record.parameters.items():
                kind = self.parameter_types.get(name)
                if kind is not None:
                    numeric = kind.valueType == "NUMERIC"
                    params.append(
                        (kind, "numericValue" if numeric else "stringValue", float(value) if numeric else str(value))
                    )
            self.records.append((record, params))

    def op_connect(self) -> None:
        import icat.client

        icat.client.Client(self.url, checkCert=False, cache=None).autoLogout = False

    def op_login(self) -> None:
        client = self.client
        client.login(PLUGIN, {"username": USER, "password": PASSWORD})
        client.getUserName()
        _users, _count, found = (client.search(query) for query in self.login_queries)
        ids = [i.id for i in found]
        self.state.active = PROPOSAL if self.expected.mx415_id in ids else None
        self.state.sessions = len(ids)

    def op_get_samples(self) -> None:
        self.state.sample_ids = [s.id for s in self.client.search(self.sample_queries[0])]

    def op_upload(self) -> None:
        client = self.client
        investigation = client.new("Investigation", id=self.expected.mx415_id)
        for record, params in self.records:
            dataset = client.new(
                "Dataset",
                name=record.name,
                location=record.location,
                complete=record.complete,
                startDate=record.start,
                endDate=record.end,
                investigation=investigation,
                type=self.dataset_type,
            )
            dataset.sample = client.new("Sample", id=record.sample_id)
            for kind, attribute, value in params:
                dataset.parameters.append(client.new("DatasetParameter", type=kind, **{attribute: value}))
            client.create(dataset)

    def end(self) -> None:
        self.client.logout()
