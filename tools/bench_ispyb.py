"""Benchmarks our ISPyB SOAP client against mxcubecore's, with a raw-HTTP floor.

The script starts one emulated ISPyB (:class:`mxcubecore_lims.testing.ispyb.
EmulatedIspyb`, in-memory SQLite, loopback only) whose fixture is the shipped
one with proposal ``mx415`` given ``--samples`` samples (1,000 by default) in
16-sample pucks on ``ID-DEMO``. In one process it then drives, alternately:

* ``stock``: mxcubecore's own suds-based
  ``mxcubecore.HardwareObjects.ProposalTypeISPyBLims.ProposalTypeISPyBLims``,
  unchanged, configured with ``authServerType`` ispyb;
* ``ours``: ``mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims``
  (zeep over one ``requests`` session);
* ``floor``: the same SOAP requests ours sends, as envelopes captured from
  ours during its warm-up (bytes built once, before anything is timed),
  POSTed over one keep-alive ``requests.Session``. Where a request must
  name a collection the floor itself stored, the id is spliced between two
  pre-built byte strings. The floor parses nothing but the ids it needs.

Both LIMS objects are loaded once from one generated configuration (a
``beamline.yaml`` with the demo ``session.xml``, ``lims.xml`` for stock and
``lims_ours.xml`` for ours) with ``mxcubecore_lims.config.loader``.

Operations (one "pass" runs them in this order for one client):

``init``
    stock: ``ISPyBDataAdapter`` is rebuilt (what ``init()`` does: three
    WSDL downloads and suds parses, ``cache=None``). ours: a new
    ``IspybServices`` with zeep's WSDL cache emptied, then the client of each
    of the three services is built (what the first call that needs each
    service does, without the call). floor: the three WSDLs are GET.
``login``
    stock: ``get_session_manager_by_proposal_name("mx415", False)``, what its
    ``login()`` calls after authenticating (its ``ispyb`` password check
    raises ``NotImplementedError``, reference ``ispyb_soap.md`` §5 L5; it
    selects the session itself). ours: ``login("mx415", password, False)``
    then ``set_active_session_by_id("mx415")``; ours checks the password
    with ISPyB, which stock cannot. floor: ours' requests.
``get_samples``
    ``get_samples("ISPyB")``: the ``--samples`` samples of the proposal.
``store``
    ``--collections`` data collections stored (``store_data_collection``),
    all in one group stored beforehand, untimed.
``update``
    each of them updated (``update_data_collection``, as
    ``AbstractCollect`` does). Stock also re-stores the group each time
    (two requests per update), as its adapter does.
``images``
    ``--images`` images spread over the collections; stock through
    ``lims.adapter.store_image`` (its ``store_image`` drops the id, §5 L6;
    its ``is_connected()`` stays False, §5 L9, so the collect routines
    would store nothing: the methods are driven directly, as there).

Method:

* ``gevent.monkey.patch_all(thread=False)`` first, as mxcubecore does; the
  emulator is a gevent WSGI server in the same process, so its work (SQL,
  XML) is part of every number, the floor's included: ours/floor is what
  our client adds over the cheapest possible client of the same server.
* The emulator's listening socket gets ``TCP_NODELAY`` (see
  :func:`set_nodelay`): gevent's pywsgi sends headers and body in two
  writes, and with Nagle's algorithm every request on a kept-alive
  connection (ours, the floor; not stock, which opens a connection per
  request) would wait ~40 ms for the client's delayed ACK. Production ISPyB
  servers set it; ``--server-nagle`` leaves the emulator as it is.
* A verified warm-up pass per client (ours gets two; the second captures its
  envelopes, so the floor replays what a steady-state pass of ours sends).
* ``--repeat`` rounds; each round runs one timed pass per client
  (``time.perf_counter`` around each operation) and one traced pass
  (``tracemalloc`` started and stopped around each operation, its peak
  reported; the emulator's allocations are in it too). The order of the
  clients flips every round. ``gc.collect()`` before each operation.
* The loggers ``HWR``, ``HRW``, ``user_level_log``, ``ispyb_client``,
  ``ispyb_adapter``, ``suds``, ``zeep``, ``urllib3`` and
  ``mxcubecore_lims`` are raised above CRITICAL for the whole run (after
  mxcubecore is imported), the same for all clients; warnings are ignored.
* After every pass, outside the timing, the results are checked against the
  emulator's database: the session selected is mx415's scheduled one, the
  samples are the proposal's ``--samples`` (ids and names), the
  ``--collections`` ids returned exist with the right group, file prefix and
  (after the update) ``runStatus``, and the ``--images`` image ids exist with
  the right collection and file name. Each pass adds its own collections and
  images; at the end the emulator must hold exactly ``--collections`` and
  ``--images`` of them per pass. Anything wrong: the script refuses to
  report (exit 1).

Usage::

    .venv/bin/python tools/bench_ispyb.py                 # 1000 samples, 200 DCs, 1000 images, 3 rounds
    .venv/bin/python tools/bench_ispyb.py --repeat 5
    .venv/bin/python tools/bench_ispyb.py --json          # machine-readable
    .venv/bin/python tools/bench_ispyb.py --profile 30    # + cProfile of one pass of ours (stderr)
    .venv/bin/python tools/bench_ispyb.py --samples 20 --collections 3 --images 7 --repeat 1  # quick check

The table gives, per operation, the SOAP requests each client sent
(stock/ours/floor), median times and peak memory, and the ratios
stock/ours (above 1x: ours is faster or smaller) and ours/floor (what our
client costs over raw HTTP).

Exit status: 0 when every check passed and the report was printed; 1 when a
check failed (nothing is reported); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# tools/ on the path: benchlib is found however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import RefusedError, at_least, quiet_loggers, ratio  # noqa: E402

DEFAULT_SAMPLES = 1000
DEFAULT_COLLECTIONS = 200
DEFAULT_IMAGES = 1000
DEFAULT_REPEAT = 3
#: Below these sizes a result is not representative.
REPRESENTATIVE = (1000, 200, 1000)

PROPOSAL = "mx415"
PROPOSAL_PASSWORD = "mx415-password"
BEAMLINE = "ID-DEMO"
WS_USERNAME = "mxcube"
WS_PASSWORD = "ispyb-password"
DONE = "Data collection successful"

OPERATIONS = ("init", "login", "get_samples", "store", "update", "images")
CLIENTS = ("stock", "ours", "floor")
LABELS = {"stock": "mxcubecore (suds)", "ours": "mxcubecore-lims (ours)", "floor": "floor (raw HTTP)"}

QUIET_LOGGERS = (
    "HWR",
    "HRW",  # sic: mxcubecore's ProposalTypeISPyBLims logs there
    "user_level_log",
    "ispyb_client",
    "ispyb_adapter",
    "suds",
    "zeep",
    "urllib3",
    "mxcubecore_lims",
)

REPO = Path(__file__).resolve().parents[1]
DEMO_SESSION = REPO / "configuration" / "demo" / "session.xml"
STOCK_MODULE = "mxcubecore.HardwareObjects.ProposalTypeISPyBLims"
OUR_MODULE = "mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims"
SERVICE_NAMES = ("ToolsForShippingWebService", "ToolsForCollectionWebService", "ToolsForBLSampleWebService")



# --------------------------------------------------------------------------
# The emulator and the configuration
# --------------------------------------------------------------------------


def make_fixture(samples: int) -> dict[str, Any]:
    """The shipped fixture with mx415's samples replaced by ``samples`` generated ones.

    Samples alternate between the two mx415 crystals and fill 16-place pucks
    (all ``processing`` on ``ID-DEMO``); every seventh has its own
    diffraction plan. idtest0's puck and sample are kept.
    """
    from ruamel.yaml import YAML

    from mxcubecore_lims.testing.ispyb.fixture import DEFAULT_FIXTURE

    data = YAML(typ="safe").load(DEFAULT_FIXTURE.read_text("utf-8"))
    data["containers"] = [c for c in data["containers"] if c["code"] == "TEST-PUCK-01"]
    data["samples"] = [s for s in data["samples"] if s["container"] == "TEST-PUCK-01"]
    pucks = (samples + 15) // 16
    for puck in range(pucks):
        data["containers"].append(
            {
                "code": f"BENCH-PUCK-{puck + 1:03d}",
                "containerType": "Unipuck",
                "capacity": 16,
                "sampleChangerLocation": puck % 29 + 4,
                "beamlineLocation": BEAMLINE,
                "containerStatus": "processing",
                "dewarCode": f"BENCH-DEWAR-{puck // 29 + 1}",
                "shippingName": "bench-shipment",
            }
        )
    for index in range(samples):
        crystal = "lyso-p43212" if index % 2 == 0 else "thau-p41212"
        sample: dict[str, Any] = {
            "name": f"bench-{index + 1:04d}",
            "code": f"B{index + 1:04d}",
            "crystal": crystal,
            "container": f"BENCH-PUCK-{index // 16 + 1:03d}",
            "location": index % 16 + 1,
        }
        if index % 7 == 3:
            sample["diffractionPlan"] = {"experimentKind": "SAD", "minimalResolution": 2.0, "anomalousScatterer": "S"}
        data["samples"].append(sample)
    return data


def write_config(directory: Path, root: str) -> Path:
    """One beamline holding both LIMS objects (stock as ``lims``, ours as ``lims_ours``)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO_SESSION, directory / "session.xml")
    (directory / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\n"
        "objects:\n  session: session.xml\n  lims: lims.xml\n  lims_ours: lims_ours.xml\n",
        encoding="utf-8",
    )
    common = (
        f"<ws_root>{root}</ws_root><ws_username>{WS_USERNAME}</ws_username>"
        f"<ws_password>{WS_PASSWORD}</ws_password><authServerType>ispyb</authServerType>"
        "<base_result_url>http://127.0.0.1/ispyb/results</base_result_url>"
    )
    (directory / "lims.xml").write_text(f'<object class="{STOCK_MODULE}">{common}</object>\n', encoding="utf-8")
    (directory / "lims_ours.xml").write_text(
        f'<object class="{OUR_MODULE}"><object href="/session" role="session"/>{common}</object>\n',
        encoding="utf-8",
    )
    return directory


def set_nodelay(server: Any) -> None:
    """Sets TCP_NODELAY on the emulator's listening socket (accepted sockets inherit it on Linux).

    gevent's pywsgi writes a response's headers and body in two sends; with
    Nagle's algorithm on, a kept-alive connection then waits for the client's
    delayed ACK (about 40 ms) on every request. Production servers (ISPyB's
    WildFly/Undertow) set TCP_NODELAY; without it every keep-alive client
    (ours, the floor) would measure the emulator's socket, not itself.
    """
    import socket

    server._server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass
class Expected:
    """What the emulator holds for the benchmark, read from its database."""

    session_id: int
    proposal_id: int
    sample_ids: list[int]
    sample_names: list[str]


def expected_from(server: Any, samples: int) -> Expected:
    store = server.store
    (proposal,) = [p for p in store.rows("Proposal") if (p["code"] + p["number"]).lower() == PROPOSAL]
    sessions = [
        s
        for s in store.rows("BLSession", proposalId=proposal["proposalId"], beamlineName=BEAMLINE)
        if s["comments"] == "Scheduled session"
    ]
    rows = [r for r in store.rows("BLSample") if str(r["name"]).startswith("bench-")]
    if len(rows) != samples or len(sessions) != 1:
        raise RefusedError(f"the emulator holds {len(rows)} bench samples and {len(sessions)} current sessions")
    return Expected(sessions[0]["sessionId"], proposal["proposalId"], [r["blSampleId"] for r in rows], [r["name"] for r in rows])


# --------------------------------------------------------------------------
# What the collect routines pass
# --------------------------------------------------------------------------


def collection_dict(session_id: int, group_id: int, number: int, prefix: str) -> dict[str, Any]:
    """A collection dict as AbstractCollect builds it (the conformance test's)."""
    return {
        "sessionId": session_id,
        "group_id": group_id,
        "experiment_type": "OSC",
        "status": "Running",
        "oscillation_sequence": [
            {
                "start": 10.0,
                "range": 0.1,
                "offset": 0.0,
                "overlap": 0.0,
                "number_of_images": 100,
                "start_image_number": 1,
                "number_of_passes": 1,
                "exposure_time": 0.04,
                "kappaStart": 0,
                "phiStart": 0,
            }
        ],
        "fileinfo": {
            "directory": f"/data/{PROPOSAL}/RAW_DATA/{prefix}",
            "prefix": prefix,
            "suffix": "cbf",
            "template": f"{prefix}_{number}_%04d.cbf",
            "run_number": number,
        },
        "wavelength": 0.9793,
        "resolution": 1.8,
        "detectorDistance": 250.5,
        "xBeam": 155.1,
        "yBeam": 163.9,
        "transmission": 50.0,
        "synchrotronMode": "7/8+1",
        "flux": 1.5e12,
        "collection_start_time": "2026-11-23 10:00:00",
        "ispyb_group_data_collections": True,
    }


def update_fields(collection_id: int, sample_id: int) -> dict[str, Any]:
    """What finalize/update adds to the dict."""
    return {
        "collection_id": collection_id,
        "status": DONE,
        "sample_reference": {"blSampleId": sample_id},
        "comments": "done",
        "flux_end": 1.1e12,
    }


def image_dict(collection_id: int, prefix: str, number: int) -> dict[str, Any]:
    """An image dict as AbstractCollect.store_image_in_lims sends it."""
    return {
        "dataCollectionId": collection_id,
        "fileName": f"{prefix}_{number:04d}.cbf",
        "fileLocation": f"/data/{PROPOSAL}/RAW_DATA/{prefix}",
        "imageNumber": number,
        "measuredIntensity": 1.5e12,
        "synchrotronCurrent": 200.0,
        "machineMessage": "ok",
        "temperature": 100.0,
    }


# --------------------------------------------------------------------------
# The three clients
# --------------------------------------------------------------------------


@dataclass
class Sizes:
    samples: int
    collections: int
    images: int

    def images_of(self, index: int) -> list[int]:
        """Image numbers of collection ``index`` (images spread round robin)."""
        return [n // self.collections + 1 for n in range(self.images) if n % self.collections == index]


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
    key = "stock"

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
        return self.lims._store_data_collection_group(
            {"sessionId": self.expected.session_id, "experimentType": "OSC"}
        )

    def op_store(self) -> None:
        self.dicts = []
        for index in range(self.sizes.collections):
            dc = collection_dict(self.expected.session_id, self.state.group_id, index + 1, self.state.prefix)
            collection_id, _detector = self.lims.store_data_collection(dc)
            self.state.collection_ids.append(collection_id)
            self.dicts.append(dc)

    def op_update(self) -> None:
        for index, (dc, collection_id) in enumerate(zip(self.dicts, self.state.collection_ids)):
            dc.update(update_fields(collection_id, self.expected.sample_ids[index % len(self.expected.sample_ids)]))
            self.lims.update_data_collection(dc)

    def op_images(self) -> None:
        store_image = self.lims.adapter.store_image  # §5 L6: lims.store_image drops the id
        for index, collection_id in enumerate(self.state.collection_ids):
            for number in self.sizes.images_of(index):
                self.state.image_ids.append(store_image(image_dict(collection_id, self.state.prefix, number)))
                self.state.image_targets.append((collection_id, f"{self.state.prefix}_{number:04d}.cbf"))


class OurClient(StockClient):
    key = "ours"

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
        for slot, part in zip(self.slots, self.parts[1:]):
            out += (ids[slot], part)
        return b"".join(out)


class FloorClient(ClientUnderTest):
    """Captured envelopes POSTed over one keep-alive requests.Session."""

    key = "floor"

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
        for (url, template), slot in zip(self.update_parts, self.update_slots):
            ids = {"dataCollectionGroupId": group, "dataCollectionId": str(collection_ids[slot]).encode()}
            self._post(url, template.fill(ids))

    def op_images(self) -> None:
        ids = self.state.collection_ids
        for (url, template), slot in zip(self.image_parts, self.image_slots):
            filled = template.fill({"dataCollectionId": str(ids[slot]).encode()})
            self.state.image_ids.append(self._post_for_id(url, filled))
            self.state.image_targets.append((ids[slot], ""))


# --------------------------------------------------------------------------
# Checking a pass
# --------------------------------------------------------------------------


def check_pass(client: ClientUnderTest, server: Any, sizes: Sizes, expected: Expected) -> dict[str, int]:
    """Checks one pass against the database; returns what it stored.

    Raises:
        RefusedError: Something is missing or wrong.
    """
    state, who = client.state, LABELS[client.key]
    if str(state.session_id) != str(expected.session_id):
        raise RefusedError(f"{who}: selected session {state.session_id!r}, expected {expected.session_id}")
    if client.key == "floor":
        if state.sample_count != sizes.samples:
            raise RefusedError(f"{who}: {state.sample_count} samples, expected {sizes.samples}")
    else:
        ids = [int(s.get("sampleId", s.get("limsID", -1))) for s in state.samples]
        names = [s.get("sampleName") for s in state.samples]
        if len(state.samples) != sizes.samples or sorted(ids) != sorted(expected.sample_ids) or sorted(names) != sorted(expected.sample_names):
            raise RefusedError(f"{who}: {len(state.samples)} samples (or wrong ids), expected {sizes.samples}")
    store = server.store
    collections = {r["dataCollectionId"]: r for r in store.rows("DataCollection", dataCollectionGroupId=state.group_id)}
    ids = state.collection_ids
    if len(ids) != sizes.collections or len(set(ids)) != len(ids) or not all(isinstance(i, int) and i > 0 for i in ids):
        raise RefusedError(f"{who}: {len(set(ids))} distinct collection ids, expected {sizes.collections}")
    for collection_id in ids:
        row = collections.get(collection_id)
        if row is None:
            raise RefusedError(f"{who}: collection {collection_id} is not in group {state.group_id}")
        if row["runStatus"] != DONE:
            raise RefusedError(f"{who}: collection {collection_id} has runStatus {row['runStatus']!r} after the update")
        if client.key != "floor" and row["imagePrefix"] != state.prefix:
            raise RefusedError(f"{who}: collection {collection_id} has prefix {row['imagePrefix']!r}")
    images = {r["imageId"]: r for r in store.rows("Image") if r["dataCollectionId"] in collections}
    if len(state.image_ids) != sizes.images or len(set(state.image_ids)) != sizes.images:
        raise RefusedError(f"{who}: {len(set(state.image_ids))} distinct image ids, expected {sizes.images}")
    for image_id, (collection_id, file_name) in zip(state.image_ids, state.image_targets):
        row = images.get(image_id)
        if row is None or row["dataCollectionId"] != collection_id or (file_name and row["fileName"] != file_name):
            raise RefusedError(f"{who}: image {image_id} missing or not of collection {collection_id}")
    if len(collections) != sizes.collections or len(images) != sizes.images:
        raise RefusedError(
            f"{who}: the emulator holds {len(collections)} collections and {len(images)} images of this pass, "
            f"expected {sizes.collections} and {sizes.images}"
        )
    return {"collections": len(collections), "images": len(images)}


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


@dataclass
class Samples:
    seconds: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPERATIONS})
    peak_bytes: dict[str, list[int]] = field(default_factory=lambda: {op: [] for op in OPERATIONS})
    requests: dict[str, int] = field(default_factory=dict)
    passes: int = 0
    stored: dict[str, int] = field(default_factory=lambda: {"collections": 0, "images": 0})


def one_pass(client: ClientUnderTest, server: Any, prefix: str, traced: bool, samples: Samples | None) -> None:
    """The six operations, in order, timed or traced; then checked."""
    client.begin(prefix)
    calls: dict[str, int] = {}
    for operation in OPERATIONS:
        client.prepare(operation)
        gc.collect()
        before = len(server.calls)
        if traced:
            tracemalloc.start()
        start = time.perf_counter()
        client.run(operation)
        elapsed = time.perf_counter() - start
        if traced:
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        calls[operation] = len(server.calls) - before
        if samples is not None:
            if traced:
                samples.peak_bytes[operation].append(peak)
            else:
                samples.seconds[operation].append(elapsed)
    stored = check_pass(client, server, client.sizes, client.expected)
    if samples is not None:
        samples.passes += 1
        for key, value in stored.items():
            samples.stored[key] += value
        if samples.requests and samples.requests != calls:
            raise RefusedError(f"{LABELS[client.key]}: SOAP requests per operation changed: {calls} after {samples.requests}")
        samples.requests = calls


def warm_up_ours_and_capture(ours: OurClient, server: Any) -> dict[str, list[tuple[str, bytes]]]:
    """One verified pass of ours, recording its envelopes by operation."""
    with Recorder(server.app) as recorder:
        ours.begin("ours-warmup")
        for operation in OPERATIONS:
            recorder.phase = "group" if operation == "store" else None
            ours.prepare(operation)
            recorder.phase = operation
            ours.run(operation)
        recorder.phase = None
    check_pass(ours, server, ours.sizes, ours.expected)
    return recorder.bodies


def run_rounds(clients: list[ClientUnderTest], server: Any, repeat: int) -> dict[str, Samples]:
    samples = {client.key: Samples() for client in clients}
    for round_number in range(repeat):
        order = clients if round_number % 2 == 0 else clients[::-1]
        for traced in (False, True):
            for client in order:
                prefix = f"{client.key}-r{round_number}-{'m' if traced else 't'}"
                one_pass(client, server, prefix, traced, samples[client.key])
    return samples


def profile_ours(ours: OurClient, server: Any, top: int) -> str:
    profiler = cProfile.Profile()
    ours.begin("ours-profile")
    for operation in OPERATIONS:
        ours.prepare(operation)
        profiler.enable()
        ours.run(operation)
        profiler.disable()
    check_pass(ours, server, ours.sizes, ours.expected)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------





def summarise(arguments: argparse.Namespace, server: Any, samples: dict[str, Samples]) -> dict[str, Any]:
    from importlib.metadata import version

    clients: dict[str, Any] = {}
    for key, sample in samples.items():
        clients[key] = {
            "operations": {
                op: {
                    "median_ms": statistics.median(sample.seconds[op]) * 1000,
                    "ms": [value * 1000 for value in sample.seconds[op]],
                    "median_peak_bytes": statistics.median(sample.peak_bytes[op]),
                    "peak_bytes": sample.peak_bytes[op],
                    "requests": sample.requests[op],
                }
                for op in OPERATIONS
            },
            "passes": sample.passes,
            "stored": sample.stored,
        }
    ratios: dict[str, Any] = {}
    for op in OPERATIONS:
        stock, ours, floor = (clients[key]["operations"][op] for key in CLIENTS)
        ratios[op] = {
            "stock_over_ours": ratio(stock["median_ms"], ours["median_ms"]),
            "ours_over_floor": ratio(ours["median_ms"], floor["median_ms"]),
            "stock_over_ours_per_round_median": statistics.median(
                a / b for a, b in zip(stock["ms"], ours["ms"]) if b
            ),
            "peak_stock_over_ours": ratio(stock["median_peak_bytes"], ours["median_peak_bytes"]),
            "peak_ours_over_floor": ratio(ours["median_peak_bytes"], floor["median_peak_bytes"]),
        }
    return {
        "server": server.url,
        "server_tcp_nodelay": not arguments.server_nagle,
        "proposal": PROPOSAL,
        "samples": arguments.samples,
        "collections": arguments.collections,
        "images": arguments.images,
        "repeat": arguments.repeat,
        "python": platform.python_version(),
        "versions": {name: version(name) for name in ("mxcubecore", "suds", "zeep", "requests", "gevent")},
        "clients": clients,
        "ratios": ratios,
        "emulator_totals": {
            "DataCollection": len(server.store.rows("DataCollection")),
            "Image": len(server.store.rows("Image")),
        },
    }


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def format_table(report: dict[str, Any]) -> str:
    mib = 1024 * 1024
    small = (report["samples"], report["collections"], report["images"]) < REPRESENTATIVE
    note = "  (small: not representative)" if small else ""
    v = report["versions"]
    lines = [
        f"ISPyB client benchmark: emulator at {report['server']}, proposal {report['proposal']}{note}",
        "  emulator socket: " + ("TCP_NODELAY set by the benchmark (as production servers do)"
                                 if report["server_tcp_nodelay"] else "Nagle on (--server-nagle): keep-alive requests wait ~40 ms"),
        f"  {report['samples']} samples, {report['collections']} data collections stored and updated, "
        f"{report['images']} images; {report['repeat']} rounds (medians)",
        f"  Python {report['python']}, mxcubecore {v['mxcubecore']}, suds {v['suds']}, zeep {v['zeep']}, "
        f"requests {v['requests']}, gevent {v['gevent']}",
        f"  verified: every pass of every client selected the scheduled session, got all {report['samples']} samples,",
        f"  and left {report['collections']} updated collections and {report['images']} images in the emulator "
        f"(totals: {report['emulator_totals']['DataCollection']} collections, {report['emulator_totals']['Image']} images)",
        "",
        "  time (ms, median)          requests     stock      ours     floor  stock/ours  ours/floor",
    ]
    c = report["clients"]
    for op in OPERATIONS:
        reqs = "/".join(str(c[key]["operations"][op]["requests"]) for key in CLIENTS)
        times = "".join(f"{c[key]['operations'][op]['median_ms']:>10.1f}" for key in CLIENTS)
        r = report["ratios"][op]
        lines.append(
            f"  {op:<16}{reqs:>19}{times}{_fmt_ratio(r['stock_over_ours']):>12}{_fmt_ratio(r['ours_over_floor']):>12}"
        )
    lines += ["", "  peak memory (MiB, median)             stock      ours     floor  stock/ours  ours/floor"]
    for op in OPERATIONS:
        peaks = "".join(f"{c[key]['operations'][op]['median_peak_bytes'] / mib:>10.2f}" for key in CLIENTS)
        r = report["ratios"][op]
        lines.append(
            f"  {op:<35}{peaks}{_fmt_ratio(r['peak_stock_over_ours']):>12}{_fmt_ratio(r['peak_ours_over_floor']):>12}"
        )
    lines += [
        "",
        "  requests: SOAP operations per pass, stock/ours/floor (init fetches WSDLs: no operations)",
        "  ratios > 1x under stock/ours mean ours is faster or smaller; the emulator runs in-process,",
        "  so its work is in every number (the floor's too).",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--samples", type=at_least(1), default=DEFAULT_SAMPLES,
                        help=f"samples of proposal {PROPOSAL} (default {DEFAULT_SAMPLES})")
    parser.add_argument("--collections", type=at_least(1), default=DEFAULT_COLLECTIONS,
                        help=f"data collections stored and updated per pass (default {DEFAULT_COLLECTIONS})")
    parser.add_argument("--images", type=at_least(1), default=DEFAULT_IMAGES,
                        help=f"images stored per pass, spread over the collections (default {DEFAULT_IMAGES})")
    parser.add_argument("--repeat", type=at_least(1), default=DEFAULT_REPEAT,
                        help=f"measured rounds (default {DEFAULT_REPEAT})")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--server-nagle", action="store_true",
                        help="leave Nagle's algorithm on in the emulator (about 40 ms per keep-alive request)")
    parser.add_argument("--profile", type=at_least(1), metavar="N",
                        help="also profile one pass of ours; print the top N entries to stderr")
    return parser.parse_args(argv)


def silenced() -> Any:
    """QUIET_LOGGERS above CRITICAL and warnings ignored, for the whole run."""
    return quiet_loggers(QUIET_LOGGERS)


def _run(arguments: argparse.Namespace, directory: Path) -> dict[str, Any]:
    # Importing mxcubecore sets up HWR's logging: silence after it.
    from mxcubecore import HardwareRepository as HWR

    from mxcubecore_lims.config.loader import load_beamline
    from mxcubecore_lims.testing.ispyb import EmulatedIspyb

    sizes = Sizes(arguments.samples, arguments.collections, arguments.images)
    with silenced():
        server = EmulatedIspyb(
            db_path=":memory:", fixture=make_fixture(sizes.samples), username=WS_USERNAME, password=WS_PASSWORD
        ).start()
        if not arguments.server_nagle:
            set_nodelay(server)
        graph = None
        try:
            expected = expected_from(server, sizes.samples)
            HWR.uninit_hardware_repository()
            with contextlib.redirect_stdout(io.StringIO()):
                graph = load_beamline(write_config(directory, server.root))
            hwr = HWR.get_hardware_repository()
            stock_lims, our_lims = hwr.get_hardware_object("/lims"), hwr.get_hardware_object("/lims_ours")
            if type(stock_lims).__module__ != STOCK_MODULE or type(our_lims).__module__ != OUR_MODULE:
                raise RefusedError(f"loaded {type(stock_lims)} and {type(our_lims)}")
            stock = StockClient(stock_lims, sizes, expected)
            ours = OurClient(our_lims, sizes, expected)
            one_pass(stock, server, "stock-warmup", False, None)
            # Ours keeps what it learnt (the proposal record) between logins:
            # capture a steady-state pass, as the measured ones are.
            one_pass(ours, server, "ours-warmup0", False, None)
            bodies = warm_up_ours_and_capture(ours, server)
            floor = FloorClient(server.root, sizes, expected, bodies, list(ours.state.collection_ids))
            one_pass(floor, server, "floor-warmup", False, None)
            samples = run_rounds([stock, ours, floor], server, arguments.repeat)
            report = summarise(arguments, server, samples)
            if arguments.profile:
                print(profile_ours(ours, server, arguments.profile), file=sys.stderr)
            return report
        finally:
            if graph is not None:
                graph.close()
            HWR.uninit_hardware_repository()
            server.close()


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the exit status."""
    from gevent import monkey

    monkey.patch_all(thread=False)
    arguments = parse_arguments(argv)
    # Loopback only: no proxy from the environment for urllib (suds) or requests (zeep).
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    try:
        with tempfile.TemporaryDirectory(prefix="bench_ispyb_") as temporary:
            # Our LIMS objects journal every write: a private journal per run,
            # never one an earlier run left behind.
            os.environ["MXCUBECORE_LIMS_STATE_DIR"] = str(Path(temporary) / "state")
            report = _run(arguments, Path(temporary).resolve())
    except RefusedError as refusal:
        print(f"bench_ispyb: refusing to report: {refusal}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if arguments.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
