"""The three ISPyB clients ``tools/bench_ispyb.py`` measures, reduced to its six operations.

Not a benchmark itself. ``stock`` is mxcubecore's suds-based LIMS object,
``ours`` ours (zeep over one ``requests`` session), ``floor`` the envelopes
ours sent in its warm-up (captured by :class:`Recorder`, cut around their
ids by :class:`Template`) POSTed over one keep-alive session (see the
benchmark's docstring). Each keeps what its pass produced in a
:class:`PassState` for :func:`bench_ispyb_emulator.check_pass`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bench_ispyb_emulator import (
    PROPOSAL,
    PROPOSAL_PASSWORD,
    SERVICE_NAMES,
    WS_PASSWORD,
    WS_USERNAME,
    Expected,
    Sizes,
    collection_dict,
    image_dict,
    update_fields,
)
from benchlib import RefusedError


@dataclass
class PassState:
    """What one pass of one client produced (checked after the pass)."""

    prefix: str
    session_id: Any = None
    samples: list[dict] = field(default_factory=list)
    sample_count: int = -1
    group_id: int | None = None
    collection_ids: list[int] = field(default_factory=list)
    image_ids: list[int] = field(default_factory=list)
    image_targets: list[tuple[int, str]] = field(default_factory=list)


class ClientUnderTest:
    """One client, reduced to the six operations."""

    key = ""
    label = ""

    def __init__(self, sizes: Sizes, expected: Expected) -> None:
        self.sizes = sizes
        self.expected = expected
        self.state = PassState("")

    def begin(self, prefix: str) -> None:
        self.state = PassState(prefix)

    def run(self, operation: str) -> None:
        getattr(self, "op_" + operation)()

    def prepare(self, operation: str) -> None:
        """Untimed set-up before an operation (the group before ``store``)."""
        if operation == "store":
            self.state.group_id = self.store_group()

    def store_group(self) -> int:
        raise NotImplementedError


class StockClient(ClientUnderTest):
    """mxcubecore's own ProposalTypeISPyBLims, unchanged."""

    key = "stock"
    label = "mxcubecore (suds)"

    def __init__(self, lims: Any, sizes: Sizes, expected: Expected) -> None:
        super().__init__(sizes, expected)
        self.lims = lims
        self.dicts: list[dict] = []

    def op_init(self) -> None:
        self.lims.adapter = self.lims._create_data_adapter()

    def op_login(self) -> None:
        manager = self.lims.get_session_manager_by_proposal_name(PROPOSAL, False)
        self.state.session_id = manager.active_session.session_id

    def op_get_samples(self) -> None:
        self.state.samples = self.lims.get_samples("ISPyB")

    def store_group(self) -> int:
        return self.lims._store_data_collection_group({"sessionId": self.expected.session_id, "experimentType": "OSC"})

    def op_store(self) -> None:
        self.dicts = []
        for index in range(self.sizes.collections):
            dc = collection_dict(self.expected.session_id, self.state.group_id, index + 1, self.state.prefix)
            collection_id, _detector = self.lims.store_data_collection(dc)
            self.state.collection_ids.append(collection_id)
            self.dicts.append(dc)

    def op_update(self) -> None:
        for index, (dc, collection_id) in enumerate(zip(self.dicts, self.state.collection_ids, strict=False)):
            dc.update(update_fields(collection_id, self.expected.sample_ids[index % len(self.expected.sample_ids)]))
            self.lims.update_data_collection(dc)

    def op_images(self) -> None:
        store_image = self.lims.adapter.store_image  # §5 L6: lims.store_image drops the id
        for index, collection_id in enumerate(self.state.collection_ids):
            for number in self.sizes.images_of(index):
                self.state.image_ids.append(store_image(image_dict(collection_id, self.state.prefix, number)))
                self.state.image_targets.append((collection_id, f"{self.state.prefix}_{number:04d}.cbf"))


class OurClient(StockClient):
    """Our ProposalTypeISPyBLims."""

    key = "ours"
    label = "mxcubecore-lims (ours)"

    def op_init(self) -> None:
        from mxcubecore_lims.ispyb import services as services_module
        from mxcubecore_lims.ispyb.adapter import IspybAdapter

        services_module._WSDL_CACHE._cache.clear()  # cold, as stock's cache=None
        services = services_module.IspybServices(self.lims._connection())
        for name in services_module.SERVICES:
            services.client(name)  # what the first call needing each service does
        self.lims.adapter = IspybAdapter(services)

    def op_login(self) -> None:
        self.lims.login(PROPOSAL, PROPOSAL_PASSWORD, False)
        self.state.session_id = self.lims.set_active_session_by_id(PROPOSAL).session_id

    def op_images(self) -> None:
        store_image = self.lims.store_image  # ours returns the id
        for index, collection_id in enumerate(self.state.collection_ids):
            for number in self.sizes.images_of(index):
                self.state.image_ids.append(store_image(image_dict(collection_id, self.state.prefix, number)))
                self.state.image_targets.append((collection_id, f"{self.state.prefix}_{number:04d}.cbf"))


class Recorder:
    """Wraps the emulator's SOAP dispatch to keep the bodies ours sends, by operation."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.original = app._soap
        self.phase: str | None = None
        self.bodies: dict[str, list[tuple[str, bytes]]] = {}

    def __enter__(self) -> Recorder:
        def recording(service: Any, body: bytes, user: str) -> Any:
            if self.phase is not None:
                self.bodies.setdefault(self.phase, []).append((service.name, bytes(body)))
            return self.original(service, body, user)

        self.app._soap = recording
        return self

    def __exit__(self, *exc: Any) -> None:
        self.app._soap = self.original


_ID_ELEMENT = re.compile(rb"(<(?:[\w-]+:)?(dataCollectionId|dataCollectionGroupId)>)\s*\d+\s*(</)")
#: The id a store answers with: the single child of the ``...Response`` wrapper.
_RETURN_INT = re.compile(rb"Response[^>]*>\s*<([\w:-]+)>(\d+)</\1>")


class Template:
    """A captured envelope cut around its collection and group ids (bytes cut once).

    ``fill(ids)`` puts the floor's own ids back in: only byte joins at request time.
    """

    def __init__(self, body: bytes) -> None:
        self.parts: list[bytes] = []
        self.slots: list[str] = []
        #: The ids the envelope held when captured, by slot name.
        self.captured: dict[str, int] = {}
        position = 0
        for match in _ID_ELEMENT.finditer(body):
            self.parts.append(body[position : match.end(1)])
            self.slots.append(match.group(2).decode())
            self.captured[self.slots[-1]] = int(body[match.end(1) : match.start(3)])
            position = match.start(3)
        self.parts.append(body[position:])

    def fill(self, ids: dict[str, bytes]) -> bytes:
        if not self.slots:
            return self.parts[0]
        out = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:], strict=True):
            out += (ids[slot], part)
        return b"".join(out)


class FloorClient(ClientUnderTest):
    """Captured envelopes POSTed over one keep-alive requests.Session."""

    key = "floor"
    label = "floor (raw HTTP)"

    def __init__(
        self,
        root: str,
        sizes: Sizes,
        expected: Expected,
        bodies: dict[str, list[tuple[str, bytes]]],
        captured_ids: list[int],
    ) -> None:
        import requests

        super().__init__(sizes, expected)
        self.root = root
        self.http = requests.Session()
        self.http.trust_env = False  # loopback, never a proxy
        self.http.auth = (WS_USERNAME, WS_PASSWORD)
        self.headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        try:
            self.login_bodies = [(root + name, body) for name, body in bodies["login"]]
            (self.samples_body,) = [(root + name, body) for name, body in bodies["get_samples"]]
            (self.group_body,) = [(root + name, body) for name, body in bodies["group"]]
            self.store_parts = [(root + name, Template(body)) for name, body in bodies["store"]]
            self.update_parts = [(root + name, Template(body)) for name, body in bodies["update"]]
            self.image_parts = [(root + name, Template(body)) for name, body in bodies["images"]]
        except (KeyError, ValueError) as error:
            raise RefusedError(f"ours' envelopes were not all captured: {error!r}") from error
        if len(self.store_parts) != sizes.collections or len(self.image_parts) != sizes.images:
            raise RefusedError("ours sent an unexpected number of store or image requests")
        if not all("dataCollectionId" in t.slots for _, t in self.update_parts + self.image_parts) or not all(
            "dataCollectionGroupId" in t.slots for _, t in self.store_parts
        ):
            raise RefusedError("a captured envelope does not name its collection or group")
        # Which of ours' collections each captured update or image named: the
        # floor sends it for its own collection at the same position.
        position = {collection_id: index for index, collection_id in enumerate(captured_ids)}
        try:
            self.update_slots = [position[t.captured["dataCollectionId"]] for _, t in self.update_parts]
            self.image_slots = [position[t.captured["dataCollectionId"]] for _, t in self.image_parts]
        except KeyError as error:
            raise RefusedError(f"a captured envelope names collection {error}, not one of ours'") from error
        self.wsdl_urls = [f"{root}{name}?wsdl" for name in SERVICE_NAMES]
        self.prefix_of_capture = ""

    def _post(self, url: str, body: bytes) -> bytes:
        response = self.http.post(url, data=body, headers=self.headers)
        if response.status_code != 200:
            raise RefusedError(f"floor: HTTP {response.status_code} from {url}")
        return response.content

    def _post_for_id(self, url: str, body: bytes) -> int:
        answer = self._post(url, body)
        match = _RETURN_INT.search(answer)
        if match is None:
            raise RefusedError(f"floor: no id in the answer from {url}: {answer[:300]!r} to {body[:600]!r}")
        return int(match.group(2))

    def op_init(self) -> None:
        for url in self.wsdl_urls:
            response = self.http.get(url)
            if response.status_code != 200 or b"definitions" not in response.content:
                raise RefusedError(f"floor: no WSDL at {url}")

    def op_login(self) -> None:
        answer = b""
        for url, body in self.login_bodies:
            answer = self._post(url, body)
        match = re.search(rb"<sessionId>(\d+)</sessionId>", answer)
        self.state.session_id = match.group(1).decode() if match else None

    def op_get_samples(self) -> None:
        url, body = self.samples_body
        self.state.sample_count = self._post(url, body).count(b"<sampleId>")

    def store_group(self) -> int:
        return self._post_for_id(*self.group_body)

    def op_store(self) -> None:
        group = {"dataCollectionGroupId": str(self.state.group_id).encode()}
        for url, template in self.store_parts:
            self.state.collection_ids.append(self._post_for_id(url, template.fill(group)))

    def op_update(self) -> None:
        group = str(self.state.group_id).encode()
        collection_ids = self.state.collection_ids
        for (url, template), slot in zip(self.update_parts, self.update_slots, strict=True):
            ids = {"dataCollectionGroupId": group, "dataCollectionId": str(collection_ids[slot]).encode()}
            self._post(url, template.fill(ids))

    def op_images(self) -> None:
        ids = self.state.collection_ids
        for (url, template), slot in zip(self.image_parts, self.image_slots, strict=True):
            filled = template.fill({"dataCollectionId": str(ids[slot]).encode()})
            self.state.image_ids.append(self._post_for_id(url, filled))
            self.state.image_targets.append((ids[slot], ""))
