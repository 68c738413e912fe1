"""The site and the MXLIMS clients ``tools/bench_mxlims.py`` measures: ours and the floor, for ICAT and ISPyB.

Not a benchmark itself. :func:`open_site` loads our two LIMS objects against
the emulators and logs them in (:class:`Site`); :func:`collect` makes the
base shipment and the collections the exports read. ``ours`` drives their
``import_mxlims`` and ``export_mxlims``; ``floor`` sends the same requests
bare: python-icat replaying the searches ours sent in its warm-up (captured
by :func:`record_searches`), or the SOAP envelopes ours sent in its warm-up
(captured by :class:`SoapRecorder`, cut by :class:`Template`) POSTed over one
keep-alive ``requests.Session`` (see the benchmark's docstring). Each keeps
what its pass produced in a :class:`PassState` for the benchmark's checks.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bench_icat_clients import DONE, UPDATE
from bench_icat_clients import collection_dict as icat_collection
from bench_ispyb_emulator import collection_dict as ispyb_collection
from bench_ispyb_emulator import image_dict, update_fields
from benchlib import RefusedError

DOMAIN, BEAMLINE, PROPOSAL_CODE = "esrf.fr", "ID-DEMO", "MX415"
ICAT_USER, ICAT_PASSWORD, ICAT_PLUGIN, INVESTIGATION = "alice", "alice-pw", "simple", "MX-415"
PROPOSAL, PROPOSAL_PASSWORD = "mx415", "mx415-password"
WS_USERNAME, WS_PASSWORD = "mxcube", "ispyb-password"
CRIMS_USERNAME, CRIMS_PASSWORD = "crims", "crims-password"
#: What one pass of a client runs, in this order (a report line is ``<LIMS> <operation>``).
OPERATIONS = ("import", "import again", "export")
ISPYB_TABLES = ("Shipping", "Dewar", "Container", "BLSample", "Crystal")
DEMO_SESSION = Path(__file__).resolve().parents[1] / "configuration" / "demo" / "session.xml"

#: A sample's parameters as the floor sends them: (ParameterType name, SampleParameter field, value).
Parameter = tuple[str, str, Any]
#: The samples of one puck (one ``createMany``): (sample name, its parameters).
Batch = list[tuple[str, list[Parameter]]]


def shipment(name: str, pucks: int, pins_per_puck: int) -> Any:
    """The benchmark's deterministic MXLIMS pin shipment (``pin_shipment``, 5 pucks per dewar)."""
    from mxcubecore_lims.testing.mxlims_shipments import pin_shipment

    return pin_shipment(PROPOSAL_CODE, pucks=pucks, pins_per_puck=pins_per_puck, name=name, first_position=1)


def icat_batches(document: Any, value_types: dict[str, str]) -> list[Batch]:
    """The document's samples by puck, with the parameters ICAT has types for, valued as ICAT stores them."""
    from mxcubecore_lims.icat.shipments import sample_parameters
    from mxcubecore_lims.mxlims.mounts import mounted_samples

    batches: dict[str, Batch] = {}
    for mounted in mounted_samples(document):
        values: list[Parameter] = []
        for name, value in sample_parameters(mounted).items():
            kind = value_types.get(name)
            if kind == "NUMERIC":
                values.append((name, "numericValue", float(value)))
            elif kind is not None:  # 3.0 as "3", None as ""
                text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value or "")
                values.append((name, "stringValue", text))
        batches.setdefault(mounted.container_code or "", []).append((str(mounted.sample_name), values))
    return list(batches.values())


# ------------------------------------------------------------------ the site


@dataclass
class Site:
    """Both emulators, our two LIMS objects logged in, and what the checks read."""

    icat: Any
    ispyb: Any
    icat_lims: Any
    ispyb_lims: Any
    investigation_id: int
    session_id: int
    proposal_id: int
    value_types: dict[str, str]  # sample ParameterType name -> valueType
    type_names: dict[int, str]  # ParameterType id -> name
    validator: Any  # jsonschema, for document_schema()
    pucks: int
    pins_per_puck: int

    def server(self, system: str) -> Any:
        return self.icat if system == "ICAT" else self.ispyb

    def counts(self, system: str) -> dict[str, int]:
        if system == "ICAT":
            return {"Sample": len(self.icat.store.find("Sample", investigation=self.investigation_id))}
        return {table: len(self.ispyb.store.rows(table)) for table in ISPYB_TABLES}


def write_config(directory: Path, icat_url: str, ispyb_root: str) -> Path:
    """A beamline with the demo session, our ICATLIMS (``/icat_lims``) and ISPyB object (``/ispyb_lims``)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO_SESSION, directory / "session.xml")
    head = '<object href="/session" role="session"/>' + f"<site_domain>{DOMAIN}</site_domain>"
    icat = f"<icat_url>{icat_url}</icat_url><authentication_icat_plugin>{ICAT_PLUGIN}</authentication_icat_plugin>"
    ispyb = (
        f"<ws_root>{ispyb_root}</ws_root><ws_username>{WS_USERNAME}</ws_username><ws_password>{WS_PASSWORD}"
        f"</ws_password><authServerType>ispyb</authServerType><crims_username>{CRIMS_USERNAME}</crims_username>"
        f"<crims_password>{CRIMS_PASSWORD}</crims_password>"
    )
    for name, kind, body in (("icat_lims", "ICATLIMS", icat), ("ispyb_lims", "ProposalTypeISPyBLims", ispyb)):
        text = f'<object class="mxcubecore_lims.HardwareObjects.{kind}">{head}{body}</object>\n'
        (directory / f"{name}.xml").write_text(text, encoding="utf-8")
    (directory / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\n"
        "objects:\n  session: session.xml\n  icat_lims: icat_lims.xml\n  ispyb_lims: ispyb_lims.xml\n",
        encoding="utf-8",
    )
    return directory


def open_site(directory: Path, icat: Any, ispyb: Any, pucks: int, pins_per_puck: int) -> tuple[Any, Site]:
    """Loads our two LIMS objects with our loader and logs them in (alice on MX-415; ``mx415``)."""
    import jsonschema
    from mxcubecore import HardwareRepository as HWR

    from mxcubecore_lims.config.loader import load_beamline
    from mxcubecore_lims.mxlims.schema import document_schema

    HWR.uninit_hardware_repository()
    with contextlib.redirect_stdout(io.StringIO()):
        graph = load_beamline(write_config(directory, icat.url, ispyb.root))
    hwr = HWR.get_hardware_repository()
    icat_lims, ispyb_lims = hwr.get_hardware_object("/icat_lims"), hwr.get_hardware_object("/ispyb_lims")
    if icat_lims is None or ispyb_lims is None:
        raise RefusedError(f"the LIMS objects did not load: {graph.problems}")
    (investigation,) = icat.store.find("Investigation", name=INVESTIGATION)
    icat_lims.login(ICAT_USER, ICAT_PASSWORD, False)
    icat_lims.set_active_session_by_id(str(investigation["id"]))
    ispyb_lims.login(PROPOSAL, PROPOSAL_PASSWORD, False)
    session = ispyb_lims.set_active_session_by_id(PROPOSAL)
    kinds = list(icat.store.rows("ParameterType"))
    return graph, Site(
        icat,
        ispyb,
        icat_lims,
        ispyb_lims,
        int(investigation["id"]),
        int(session.session_id),
        int(session.proposal_id),
        {str(k["name"]): str(k["valueType"]) for k in kinds if k.get("applicableToSample")},
        {int(k["id"]): str(k["name"]) for k in kinds},
        jsonschema.Draft202012Validator(document_schema()),
        pucks,
        pins_per_puck,
    )


def collect(site: Site, workdir: Path, collections: int) -> None:
    """A one-puck base shipment in each LIMS (ours) and ``collections`` collections on its samples (untimed)."""
    from mxcubecore_lims.mxlims.mounts import mounted_samples

    base = shipment("bench-base", 1, site.pins_per_puck)
    names = [str(m.sample_name) for m in mounted_samples(base)]
    icat, ispyb = site.icat_lims, site.ispyb_lims
    for lims, kind in ((icat, "ICAT"), (ispyb, "ISPyB")):
        lims.import_mxlims(base)
        lims.get_samples(kind)  # as mxcubeweb does: ICATLIMS links datasets only to samples it offered
    icat_ids = {r["name"]: r["id"] for r in site.icat.store.find("Sample", investigation=site.investigation_id)}
    ispyb_ids = {r["name"]: r["blSampleId"] for r in site.ispyb.store.rows("BLSample")}
    for index in range(collections):
        prefix, name = f"bench-dc{index:03d}", names[index % len(names)]
        directory = workdir / "data" / prefix
        directory.mkdir(parents=True)
        dc = icat_collection(str(site.investigation_id), directory, prefix, icat_ids[name])
        dc["collection_id"], _ = icat.store_data_collection(dc)
        dc.update(UPDATE)
        icat.update_data_collection(dc)
        sweep = ispyb_collection(site.session_id, 0, 1, prefix)  # no group: ours makes one, of the sample
        sweep.update(group_id=None, sample_reference={"blSampleId": ispyb_ids[name]}, blSampleId=ispyb_ids[name])
        collection_id, _ = ispyb.store_data_collection(sweep)
        sweep.update(update_fields(collection_id, ispyb_ids[name]))
        ispyb.update_data_collection(sweep)
        for number in (1, 2, 3):
            image = f"{prefix}_1_{number:05d}.cbf"
            icat.store_image(
                {"dataCollectionId": dc["collection_id"], "fileName": image, "fileLocation": str(directory)}
                | {"imageNumber": number}
            )
            ispyb.store_image(image_dict(collection_id, prefix, number))
        dc["status"] = DONE
        icat.finalize_data_collection(dc)
        ispyb.finalize_data_collection(sweep)
    for lims in (icat, ispyb):
        if not lims.outbox.wait_delivered(60.0):
            raise RefusedError(f"{lims.name}: the collections were not all delivered")


# ------------------------------------------------------------------ the clients


@dataclass
class PassState:
    """What one pass of one client produced, for the checks after it.

    Attributes:
        name: The shipment's name (fresh every pass); ``document``: the shipment.
        reports: Ours' ``ShipmentImportReport`` by operation; ``exported``: ours' export.
        answers: What the LIMS answered the floor's export.
        counts: Row counts before the pass and between the imports (untimed).
    """

    name: str = ""
    document: Any = None
    reports: dict[str, Any] = field(default_factory=dict)
    exported: Any = None
    answers: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)


class Client:
    """One client of one LIMS: ``begin`` a pass (untimed set-up), then ``run`` each operation."""

    key = system = label = ""

    def __init__(self) -> None:
        self.state = PassState()

    def begin(self, name: str, document: Any) -> None:
        self.state = PassState(name, document)

    def run(self, line: str) -> None:
        getattr(self, "op_" + line.removeprefix(self.system + " ").replace(" ", "_"))()

    def close(self) -> None: ...


class Ours(Client):
    """Our LIMS object: ``import_mxlims`` into the active session, ``export_mxlims()`` of it."""

    key = "ours"

    def __init__(self, lims: Any, system: str) -> None:
        super().__init__()
        self.lims, self.system = lims, system
        self.label = f"{system} ours ({type(lims).__name__})"

    def op_import(self) -> None:
        self.state.reports["import"] = self.lims.import_mxlims(self.state.document)

    def op_import_again(self) -> None:
        self.state.reports["import again"] = self.lims.import_mxlims(self.state.document)

    def op_export(self) -> None:
        self.state.exported = self.lims.export_mxlims()


@contextlib.contextmanager
def record_searches(client: Any, into: list[str]) -> Iterator[None]:
    """Appends the query string of every ``client.search`` to ``into`` while the block runs."""
    original = client.search

    def recording(query: Any, *args: Any, **kwargs: Any) -> Any:
        into.append(str(query))
        return original(query, *args, **kwargs)

    client.search = recording
    try:
        yield
    finally:
        del client.search


class IcatFloor(Client):
    """One bare python-icat client, logged in once (untimed), replaying ours' searches.

    Args:
        url: python-icat's URL of the emulator.
        investigation_id: MX-415's id.
        queries: The searches ours sent in its warm-up, by operation.
        value_types: ``valueType`` of every sample ParameterType, by name.
    """

    key, system, label = "floor", "ICAT", "ICAT floor (bare python-icat)"

    def __init__(self, url: str, investigation_id: int, queries: dict[str, list[str]], value_types: dict[str, str]):
        import icat.client

        super().__init__()
        entities = [query.split()[3] for query in queries.get("export", [])]  # SELECT o FROM <entity> ...
        if (
            [len(queries.get(op, [])) for op in OPERATIONS[:2]] != [2, 2]
            or queries["import"] != queries["import again"]
            or not {"Sample", "Dataset"} <= set(entities)
            or len(entities) != len(set(entities))
        ):
            raise RefusedError(f"ICAT: unexpected searches of ours: {queries}")
        self.existing_query, self.types_query = queries["import"]
        self.export_queries = list(zip(entities, queries["export"], strict=True))
        self.investigation_id, self.value_types = investigation_id, value_types
        self.batches: list[Batch] = []
        self.client = icat.client.Client(url, checkCert=False, cache=None)
        self.client.autoLogout = False
        self.client.login(ICAT_PLUGIN, {"username": ICAT_USER, "password": ICAT_PASSWORD})

    def begin(self, name: str, document: Any) -> None:
        """Also computes, untimed, every sample's parameter values with our mapping (``sample_parameters``)."""
        super().begin(name, document)
        self.batches = icat_batches(document, self.value_types)

    def op_import(self) -> None:
        client = self.client
        held = {str(sample.name) for sample in client.search(self.existing_query)}
        types = client.search(self.types_query)
        todo = [[(name, values) for name, values in batch if name not in held] for batch in self.batches]
        if not any(todo):
            return
        used = {kind for batch in todo for _, values in batch for kind, _, _ in values}
        kinds = {str(t.name): client.new("ParameterType", id=t.id) for t in types if str(t.name) in used}
        investigation = client.new("Investigation", id=self.investigation_id)
        for batch in filter(None, todo):
            beans = []
            for name, values in batch:
                bean = client.new("Sample", name=name, investigation=investigation)
                for kind, attribute, value in values:
                    bean.parameters.append(client.new("SampleParameter", type=kinds[kind], **{attribute: value}))
                beans.append(bean)
            client.createMany(beans)

    op_import_again = op_import

    def op_export(self) -> None:
        self.state.answers = {entity: self.client.search(query) for entity, query in self.export_queries}

    def close(self) -> None:
        self.client.logout()


@dataclass(frozen=True)
class Envelope:
    """One SOAP request ours sent: the service, the account it sent it as, the body."""

    service: str
    user: str
    body: bytes


class SoapRecorder:
    """Wraps the ISPyB emulator's SOAP dispatch to keep what ours sends, by phase (``None``: nothing)."""

    def __init__(self, app: Any) -> None:
        self.app, self.original = app, app._soap
        self.phase: str | None = None
        self.bodies: dict[str, list[Envelope]] = {}

    def __enter__(self) -> SoapRecorder:
        def recording(service: Any, body: bytes, user: str) -> Any:
            if self.phase is not None:
                self.bodies.setdefault(self.phase, []).append(Envelope(service.name, user, bytes(body)))
            return self.original(service, body, user)

        self.app._soap = recording
        return self

    def __exit__(self, *exc: object) -> None:
        self.app._soap = self.original

    @contextlib.contextmanager
    def recording(self, phase: str) -> Iterator[None]:
        self.phase = phase
        try:
            yield
        finally:
            self.phase = None


class Template:
    """An envelope cut once around the one piece that changes (``fill`` joins bytes at request time)."""

    def __init__(self, body: bytes, piece: bytes) -> None:
        parts = body.split(piece)
        if len(parts) != 2:
            raise RefusedError(f"ISPyB: {piece[:80]!r} is {len(parts) - 1} times in a captured envelope, not once")
        self.head, self.tail = parts

    def fill(self, piece: bytes) -> bytes:
        return self.head + piece + self.tail


_SHIPPING_ID = re.compile(rb"<(?:[\w-]+:)?shippingId>(\d+)</")


def _texts(body: bytes, element: str) -> list[str]:
    """The texts of the elements of that local name in an envelope (lxml: untimed only)."""
    from lxml import etree

    return [str(text) for text in etree.fromstring(body).xpath(f"//*[local-name()='{element}']/text()")]


class IspybFloor(Client):
    """Ours' envelopes POSTed over one keep-alive ``requests.Session``; it parses only the ids it needs.

    Args:
        root: The emulator's ``ws_root``.
        bodies: What ours sent in its warm-up, by operation.
        warmup: Ours' warm-up shipment (the floor's payload for it must be what ours sent).
    """

    key, system, label = "floor", "ISPyB", "ISPyB floor (raw HTTP)"

    def __init__(self, root: str, bodies: dict[str, list[Envelope]], warmup: Any) -> None:
        import requests

        super().__init__()
        self.root, self.http = root, requests.Session()
        self.http.trust_env = False  # loopback, never a proxy
        self.headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        self.accounts = {WS_USERNAME: (WS_USERNAME, WS_PASSWORD), CRIMS_USERNAME: (CRIMS_USERNAME, CRIMS_PASSWORD)}
        found = {op: [e.service for e in envelopes] for op, envelopes in bodies.items()}
        if (
            found.get("import") != ["ToolsForBLSampleWebService"] * 2 + ["CrimsWebService"]
            or bodies["import again"] != bodies["import"][:2]
            or found["export"][:2] != ["ToolsForCollectionWebService", "ToolsForBLSampleWebService"]
            or {(e.service, e.user) for e in bodies["export"][2:]} != {("CrimsWebService", CRIMS_USERNAME)}
        ):
            raise RefusedError(f"ISPyB: unexpected requests of ours: {found}")
        self.reads, self.store = bodies["import"][:2], bodies["import"][2]
        (sent,) = _texts(self.store.body, "shipping")
        if sent != self.payload(warmup)[0]:
            raise RefusedError("ISPyB: the floor's storeShipping JSON differs from what ours sent")
        self.store_template = Template(self.store.body, escape(sent).encode())
        self.session_read, self.infos_read, self.shipping_read = bodies["export"][:3]
        (shipping,) = _texts(self.shipping_read.body, "shippingId")
        self.shipping_template = Template(self.shipping_read.body, f">{shipping}</".encode())
        self.store_body = self.marker = b""

    @staticmethod
    def payload(document: Any) -> tuple[str, str]:
        """The ``storeShipping`` JSON of a one-shipment document as ours builds it (``shipping_value``), its marker."""
        from mxcubecore_lims.ispyb.shipments import MARKER_PREFIX, shipping_value
        from mxcubecore_lims.mxlims.logistics import Shipment
        from mxcubecore_lims.mxlims.mounts import mounted_samples

        ((_, shipped),) = document.of_type(Shipment)
        marker = MARKER_PREFIX + shipped.uuid
        return json.dumps(shipping_value(mounted_samples(document), shipped.name, marker, BEAMLINE)), marker

    def begin(self, name: str, document: Any) -> None:
        """Also builds, untimed, the pass's ``storeShipping`` envelope (its JSON by ``shipping_value``)."""
        super().begin(name, document)
        value, marker = self.payload(document)
        self.store_body, self.marker = self.store_template.fill(escape(value).encode()), marker.encode()

    def _post(self, envelope: Envelope, body: bytes | None = None) -> bytes:
        url = self.root + envelope.service
        answer = self.http.post(
            url, data=body or envelope.body, headers=self.headers, auth=self.accounts[envelope.user]
        )
        if answer.status_code != 200:
            raise RefusedError(f"ISPyB floor: HTTP {answer.status_code} from {url}: {answer.content[:300]!r}")
        return bytes(answer.content)

    def op_import(self) -> None:
        answer = b""
        for envelope in self.reads:  # findProteinAcronymsForProposal, findSampleInfoLightForProposal
            answer = self._post(envelope)
        if self.marker not in answer:  # the shipping is not there yet
            self._post(self.store, self.store_body)

    op_import_again = op_import

    def op_export(self) -> None:
        self._post(self.session_read)
        infos = self._post(self.infos_read)
        shippings = sorted(set(_SHIPPING_ID.findall(infos)), key=int)
        rows = [self._post(self.shipping_read, self.shipping_template.fill(b">" + s + b"</")) for s in shippings]
        self.state.answers = {"infos": infos, "rows": rows}

    def close(self) -> None:
        self.http.close()


def floor_answers(answers: dict[str, Any], session_id: int) -> tuple[set[int], set[int]]:
    """The sample ids and the session's collection ids in the ISPyB floor's answers (parsed untimed)."""
    samples = {int(text) for text in _texts(answers["infos"], "sampleId")}
    collections = set()
    for answer in answers["rows"]:
        for row in json.loads(_texts(answer, "return")[0]):
            if row.get("DataCollection_dataCollectionId") and row.get("DataCollectionGroup_sessionId") == session_id:
                collections.add(int(row["DataCollection_dataCollectionId"]))
    return samples, collections
