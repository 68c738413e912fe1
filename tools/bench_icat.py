"""Benchmarks our ICAT LIMS object against bare python-icat calls (the floor).

One emulated ICAT (:class:`mxcubecore_lims.testing.icat.EmulatedIcat`, in
memory, loopback, in this process) holds a catalogue generated from the
shipped fixture: its facility, logins, users, instruments, types and
parameter types; MX-415 (alice's, on ``ID-DEMO``) with ``--samples``
generated samples carrying the sample-changer parameters; ``--investigations``
generated investigations of alice on ``ID-DEMO``/``ID-OTHER``, one in ten
inside the date window, a quarter with parameters. Two clients do the same
work: ``ours`` (``mxcubecore_lims.HardwareObjects.ICATLIMS`` loaded with
``mxcubecore_lims.config.loader``) and ``floor`` (one
``icat.client.Client(url, checkCert=False, cache=None)`` built once, untimed,
replaying the query strings ours sent in its warm-up; nothing is mapped).

Operations (in this order in a pass):

``connect``  ours: ``IcatGateway._shared`` emptied, ``IcatGateway.shared(...).client``
             (the old gateway put back, untimed); floor: ``icat.client.Client(...)``.
``login``    ours: ``login("alice", ...)`` + ``set_active_session_by_id`` (MX-415);
             floor: ``login`` (python-icat asks ``getRemainingMinutes`` itself),
             ``getUserName`` and the User, InstrumentScientist COUNT and Investigation
             searches. Both log out after
             the pass, untimed.
``get_samples``  ours: ``get_samples("ICAT")``; floor: the Sample search (INCLUDE
             ``parameters.type``), entity objects only.
``upload``   ``--datasets`` collections; ours: ``store_data_collection``,
             ``update_data_collection``, ``finalize_data_collection`` each, in its own
             directory (ours writes ``metadata.json``; the floor does NOT); floor: one
             ``client.create`` of the same Dataset with the same DatasetParameters
             (values computed untimed with our metadata module; types looked up once).

Method: ``gevent.monkey.patch_all(thread=False)`` first; the emulator's work is
in every number (the floor's too), so ours/floor is what our code adds. One
verified warm-up pass per client (``WARMUP_DATASETS`` uploads), then
``--repeat`` rounds of one timed pass per client (``time.perf_counter``), the
order flipping every round; the first ``--traced-rounds`` rounds add one
``tracemalloc`` pass per client (tracing makes a pass 4-5x slower; peaks vary
little). ``gc.collect()`` before each operation; mxcubecore's, our, suds' and
python-icat's loggers silenced; warnings ignored. After every pass, untimed,
the emulator's store is checked: MX-415 active among the number of sessions
the fixture implies, every sample id of MX-415 returned, exactly the pass's
datasets in MX-415 with their sample and the expected parameter count (and
ours' ``metadata.json``); they are then deleted. Anything wrong: no report.

Usage::

    /tmp/venv/bin/python tools/bench_icat.py                 # 500 / 1000 / 200, 3 rounds: ~8 min on 2 cores
    /tmp/venv/bin/python tools/bench_icat.py --json report.json   # also write the JSON ('-': JSON only)
    /tmp/venv/bin/python tools/bench_icat.py --investigations 20 --samples 30 --datasets 3 --repeat 2

Both clients spend nearly all their time in suds (python-icat's SOAP layer)
marshalling and parsing, and the one traced round is most of the run time.

Exit status: 0 reported; 1 a check failed (nothing reported); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any, Iterator

# tools/ on the path: benchlib is found however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import RefusedError, at_least, quiet_loggers, ratio  # noqa: E402

DEFAULTS = {"investigations": 500, "samples": 1000, "datasets": 200, "repeat": 3}
WARMUP_DATASETS = 5
OPERATIONS = ("connect", "login", "get_samples", "upload")
CLIENTS = ("ours", "floor")
LABELS = {"ours": "mxcubecore-lims ICATLIMS (ours)", "floor": "floor (bare python-icat)"}
QUIET_LOGGERS = ("HWR", "HRW", "user_level_log", "mxcubecore_lims", "suds", "icat", "urllib3")

REPO = Path(__file__).resolve().parents[1]
DEMO_SESSION = REPO / "configuration" / "demo" / "session.xml"
USER, PASSWORD, PLUGIN, PROPOSAL, BEAMLINE = "alice", "alice-pw", "simple", "MX-415", "ID-DEMO"
DONE = "Data collection successful"



# ------------------------------------------------------------------ catalogue


def make_fixture(investigations: int, samples: int) -> dict[str, Any]:
    """The shipped fixture's reference data, MX-415 with ``samples`` samples, and generated investigations."""
    from ruamel.yaml import YAML

    from mxcubecore_lims.testing.icat.fixture import DEFAULT_FIXTURE

    shipped = YAML(typ="safe").load(DEFAULT_FIXTURE.read_text("utf-8"))
    keep = ("facility", "logins", "users", "instruments", "investigation_types", "dataset_types",
            "sample_types", "parameter_types")
    data = {key: shipped[key] for key in keep}
    (mx415,) = [copy.deepcopy(i) for i in shipped["investigations"] if i["name"] == PROPOSAL]
    mx415["samples"] = []
    for index in range(samples):
        puck = index // 16 + 1
        params = {
            "SampleTrackingContainer_name": f"BENCH-PUCK-{puck:03d}",
            "SampleTrackingContainer_type": "Unipuck",
            "SampleChanger_position": str((puck - 1) % 29 + 1),
            "SampleTrackingContainer_position": str(index % 16 + 1),
            "SampleProtein_acronym": "lyso" if index % 2 == 0 else "thau",
        }
        if index % 3 == 0:
            params["SampleCrystal_spaceGroup"] = "P43212" if index % 2 == 0 else "P41212"
        mx415["samples"].append({"name": f"bench-{index + 1:04d}", "params": params})
    data["investigations"] = [mx415]
    for index in range(investigations):
        inside = index % 10 in (0, 5)  # 0 on ID-DEMO, 5 on ID-OTHER
        days = 5 + index % 360
        if inside:
            start, end = "today-1 08:00", "today+1 08:00"
        elif index % 3:
            start, end = f"today-{days} 08:00", f"today-{days - 2} 08:00"
        else:
            start, end = f"today+{days} 08:00", f"today+{days + 2} 08:00"
        entry: dict[str, Any] = {
            "name": f"MX-B{index:04d}",
            "visitId": f"bench-{index:04d}",
            "type": "MX",
            "title": f"Generated beamtime {index}",
            "startDate": start,
            "endDate": end,
            "instruments": [("ID-DEMO", "ID-OTHER")[index % 2]],
            "users": [{"user": f"{PLUGIN}/{USER}", "role": "Principal investigator"}],
        }
        if index % 4 == 0:
            entry["parameters"] = {"Id": str(10000 + index)}
            if inside:
                entry["parameters"].update(actualStartDate="today-1 09:00", actualEndDate="today+1 07:00")
        data["investigations"].append(entry)
    return data


def expected_sessions(fixture: dict[str, Any]) -> int:
    """How many investigations ICATLIMS offers alice on ID-DEMO (window: today -1/+1 day)."""
    from mxcubecore_lims.testing.ispyb.fixture import parse_date

    today = datetime.combine(datetime.now().date(), clock())
    low, high = today - timedelta(days=1), today + timedelta(days=2) - timedelta(seconds=1)
    return sum(
        1
        for i in fixture["investigations"]
        if BEAMLINE in i.get("instruments", [])
        and any(u["user"] == f"{PLUGIN}/{USER}" for u in i.get("users", []))
        and parse_date(i["startDate"]) <= high
        and parse_date(i["endDate"]) >= low
    )


@dataclass
class Expected:
    """What the catalogue holds (read from the store) and what each pass must give."""

    mx415_id: int
    sessions: int
    sample_ids: list[int]
    dataset_parameter_types: dict[str, str]  # name -> valueType
    parameters_per_dataset: int = 0


def expected_from(server: Any, fixture: dict[str, Any], samples: int) -> Expected:
    store = server.store
    (mx415,) = store.find("Investigation", name=PROPOSAL)
    ids = sorted(r["id"] for r in store.find("Sample", investigation=mx415["id"]))
    if len(ids) != samples:
        raise RefusedError(f"the emulator holds {len(ids)} samples of {PROPOSAL}, expected {samples}")
    types = {r["name"]: r["valueType"] for r in store.rows("ParameterType") if r.get("applicableToDataset")}
    return Expected(mx415["id"], expected_sessions(fixture), ids, types)


def write_config(directory: Path, url: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO_SESSION, directory / "session.xml")
    (directory / "lims.xml").write_text(
        '<object class="mxcubecore_lims.HardwareObjects.ICATLIMS"><object href="/session" role="session"/>'
        f"<icat_url>{url}</icat_url><authentication_icat_plugin>{PLUGIN}</authentication_icat_plugin></object>\n",
        encoding="utf-8",
    )
    (directory / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n  session: session.xml\n  lims: lims.xml\n",
        encoding="utf-8",
    )
    return directory


def collection_dict(session_id: str, directory: Path, prefix: str, sample_id: int) -> dict[str, Any]:
    """A collection dict as the collect routines pass it to store_data_collection."""
    return {
        "sessionId": session_id,
        "experiment_type": "OSC",
        "status": "Running",
        "fileinfo": {"directory": str(directory), "prefix": prefix, "run_number": 1, "suffix": "cbf",
                     "template": f"{prefix}_1_%05d.cbf"},
        "oscillation_sequence": [{"start": 0.0, "range": 0.1, "number_of_images": 100, "exposure_time": 0.02,
                                  "start_image_number": 1, "offset": 0.0, "kappaStart": 0, "phiStart": 0}],
        "sample_reference": {"blSampleId": sample_id, "sample_name": prefix, "acronym": "lyso"},
        "blSampleId": sample_id,
        "wavelength": 0.9793, "resolution": 1.8, "detectorDistance": 250.5, "xBeam": 155.1, "yBeam": 163.9,
        "transmission": 50.0, "synchrotronMode": "7/8+1",
        "collection_start_time": "2026-11-23 10:00:00",
    }


UPDATE = {"flux": 1.5e12, "flux_end": 1.1e12, "comments": "done"}


# ------------------------------------------------------------------ clients


@dataclass
class PassState:
    prefix: str = ""
    directory: Path = Path()
    collections: list[dict[str, Any]] = field(default_factory=list)
    active: str | None = None
    sessions: int = 0
    sample_ids: list[int] = field(default_factory=list)


class Client:
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
                collection_dict(str(self.expected.mx415_id), where, f"{prefix}-{index:04d}", sample))

    def run(self, operation: str) -> None:
        getattr(self, f"op_{operation}")()

    def end(self) -> None: ...


class Ours(Client):
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
            IcatGateway.shared(self.lims.gateway.settings).client
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

    def capture(self, operation: str) -> contextlib.AbstractContextManager:
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
        self.parameter_types = {t.name: t for t in self.client.search("SELECT o FROM ParameterType o")
                                if t.name in expected.dataset_parameter_types}
        self.dataset_type = self.client.search("SELECT o FROM DatasetType o WHERE o.name = 'acquisition'")[0]
        self.client.logout()
        self.records: list[tuple[Any, list[tuple[Any, str, Any]]]] = []

    def begin(self, prefix: str, directory: Path, datasets: int | None = None) -> None:
        from mxcubecore_lims.icat.metadata import collection_record
        from mxcubecore_lims.model import DataCollection

        super().begin(prefix, directory, datasets)
        self.records = []
        for index, dc in enumerate(self.state.collections):
            final = {**dc, **UPDATE, "collection_id": index + 1, "status": DONE}
            record = collection_record(DataCollection.from_legacy(final), local_id=index + 1,
                                       sample_ids=self.expected.sample_ids)
            params = []
            for name, value in record.parameters.items():
                kind = self.parameter_types.get(name)
                if kind is not None:
                    numeric = kind.valueType == "NUMERIC"
                    params.append((kind, "numericValue" if numeric else "stringValue",
                                   float(value) if numeric else str(value)))
            self.records.append((record, params))

    def op_connect(self) -> None:
        import icat.client

        icat.client.Client(self.url, checkCert=False, cache=None).autoLogout = False

    def op_login(self) -> None:
        client = self.client
        client.login(PLUGIN, {"username": USER, "password": PASSWORD})
        client.getUserName()
        users, count, found = (client.search(query) for query in self.login_queries)
        ids = [i.id for i in found]
        self.state.active = PROPOSAL if self.expected.mx415_id in ids else None
        self.state.sessions = len(ids)

    def op_get_samples(self) -> None:
        self.state.sample_ids = [s.id for s in self.client.search(self.sample_queries[0])]

    def op_upload(self) -> None:
        client = self.client
        investigation = client.new("Investigation", id=self.expected.mx415_id)
        for record, params in self.records:
            dataset = client.new("Dataset", name=record.name, location=record.location, complete=record.complete,
                                 startDate=record.start, endDate=record.end, investigation=investigation,
                                 type=self.dataset_type)
            dataset.sample = client.new("Sample", id=record.sample_id)
            for kind, attribute, value in params:
                dataset.parameters.append(client.new("DatasetParameter", type=kind, **{attribute: value}))
            client.create(dataset)

    def end(self) -> None:
        self.client.logout()


# ------------------------------------------------------------------ checks


def check_pass(client: Client, server: Any) -> int:
    """Checks a pass against the store, deletes its datasets; returns how many there were."""
    who, state, expected = LABELS[client.key], client.state, client.expected
    if state.active != PROPOSAL or state.sessions != expected.sessions:
        raise RefusedError(f"{who}: active {state.active}, {state.sessions} sessions offered, "
                           f"expected {PROPOSAL} and {expected.sessions}")
    if sorted(state.sample_ids) != expected.sample_ids:
        raise RefusedError(f"{who}: {len(state.sample_ids)} samples, expected {len(expected.sample_ids)} "
                           f"(ids {'differ' if len(state.sample_ids) == len(expected.sample_ids) else 'missing'})")
    store = server.store
    datasets = {d["name"]: d for d in store.rows("Dataset") if str(d["name"]).startswith(state.prefix + "-")}
    names = {dc["fileinfo"]["prefix"] + "_1" for dc in state.collections}
    if set(datasets) != names:
        raise RefusedError(f"{who}: {len(datasets)} datasets of the pass in the emulator, expected {len(names)}")
    for dc in state.collections:
        row = datasets[dc["fileinfo"]["prefix"] + "_1"]
        count = len(store.children("Dataset", row["id"], "parameters"))
        if row["investigation"] != expected.mx415_id or row["sample"] != dc["blSampleId"]:
            raise RefusedError(f"{who}: dataset {row['name']} not in {PROPOSAL} or not of its sample")
        if count != expected.parameters_per_dataset:
            raise RefusedError(f"{who}: dataset {row['name']} has {count} parameters, "
                               f"expected {expected.parameters_per_dataset}")
        if client.key == "ours" and not (Path(dc["fileinfo"]["directory"]) / "metadata.json").is_file():
            raise RefusedError(f"{who}: no metadata.json for {row['name']}")
    for row in list(datasets.values()):
        store.delete("Dataset", row["id"])
    return len(datasets)


# ------------------------------------------------------------------ measuring


@dataclass
class Samples:
    seconds: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPERATIONS})
    peak_bytes: dict[str, list[int]] = field(default_factory=lambda: {op: [] for op in OPERATIONS})
    requests: dict[str, int] = field(default_factory=dict)
    passes: int = 0
    datasets: int = 0


def one_pass(client: Client, server: Any, prefix: str, workdir: Path, traced: bool, samples: Samples | None,
             datasets: int | None = None) -> None:
    directory = workdir / prefix
    client.begin(prefix, directory, datasets)
    calls: dict[str, int] = {}
    try:
        for operation in OPERATIONS:
            gc.collect()
            before = len(server.calls)
            if traced:
                tracemalloc.start()
            start = time.perf_counter()
            client.run(operation)
            elapsed = time.perf_counter() - start
            if traced:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            calls[operation] = len(server.calls) - before
            if samples is not None:
                (samples.peak_bytes[operation].append(peak) if traced
                 else samples.seconds[operation].append(elapsed))
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        client.end()
    stored = check_pass(client, server)
    shutil.rmtree(directory)
    if samples is not None:
        samples.passes += 1
        samples.datasets += stored
        if samples.requests and samples.requests != calls:
            raise RefusedError(f"{LABELS[client.key]}: requests per operation changed: {calls} after {samples.requests}")
        samples.requests = calls


def run_rounds(clients: list[Client], server: Any, workdir: Path, repeat: int, traced_rounds: int) -> dict[str, Samples]:
    samples = {client.key: Samples() for client in clients}
    for number in range(repeat):
        order = clients if number % 2 == 0 else clients[::-1]
        for traced in (False, True)[: 2 if number < traced_rounds else 1]:
            for client in order:
                one_pass(client, server, f"{client.key}-r{number}{'m' if traced else 't'}", workdir, traced,
                         samples[client.key])
    return samples


# ------------------------------------------------------------------ reporting





def summarise(arguments: argparse.Namespace, server: Any, expected: Expected,
              samples: dict[str, Samples]) -> dict[str, Any]:
    from importlib.metadata import version

    clients = {
        key: {
            "operations": {
                op: {
                    "median_ms": statistics.median(s.seconds[op]) * 1000,
                    "ms": [value * 1000 for value in s.seconds[op]],
                    "median_peak_bytes": statistics.median(s.peak_bytes[op]),
                    "peak_bytes": s.peak_bytes[op],
                    "requests": s.requests[op],
                }
                for op in OPERATIONS
            },
            "passes": s.passes,
            "datasets": s.datasets,
        }
        for key, s in samples.items()
    }
    ratios = {}
    for op in OPERATIONS:
        ours, floor = (clients[key]["operations"][op] for key in CLIENTS)
        ratios[op] = {
            "ours_over_floor": ratio(ours["median_ms"], floor["median_ms"]),
            "ours_over_floor_per_round_median": statistics.median(
                a / b for a, b in zip(ours["ms"], floor["ms"]) if b),
            "peak_ours_over_floor": ratio(ours["median_peak_bytes"], floor["median_peak_bytes"]),
        }
    return {
        "server": server.url,
        "proposal": PROPOSAL,
        **{key: getattr(arguments, key) for key in DEFAULTS},
        "traced_rounds": min(arguments.traced_rounds, arguments.repeat),
        "sessions_offered": expected.sessions,
        "parameters_per_dataset": expected.parameters_per_dataset,
        "floor_writes_metadata_json": False,
        "python": platform.python_version(),
        "versions": {name: version(name) for name in ("mxcubecore", "python-icat", "suds", "gevent")},
        "clients": clients,
        "ratios": ratios,
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def format_table(report: dict[str, Any]) -> str:
    small = any(report[key] < value for key, value in DEFAULTS.items() if key != "repeat")
    v, c, mib = report["versions"], report["clients"], 1024 * 1024
    lines = [
        f"ICAT client benchmark: emulator at {report['server']}, investigation {report['proposal']}"
        + ("  (small: not representative)" if small else ""),
        f"  {report['investigations']} generated investigations ({report['sessions_offered']} offered to alice), "
        f"{report['samples']} samples, {report['datasets']} datasets of {report['parameters_per_dataset']} "
        f"parameters; {report['repeat']} rounds "
        f"({report['traced_rounds']} traced; medians)",
        f"  Python {report['python']}, mxcubecore {v['mxcubecore']}, python-icat {v['python-icat']}, "
        f"suds {v['suds']}, gevent {v['gevent']}",
        "  verified: every pass of both clients chose MX-415 among the sessions expected, got every sample,",
        "  and created exactly its datasets with all their parameters (ours also wrote metadata.json; the floor does not)",
        "",
        "  time (ms, median)   requests       ours      floor  ours/floor",
    ]
    for op in OPERATIONS:
        reqs = "/".join(str(c[key]["operations"][op]["requests"]) for key in CLIENTS)
        times = "".join(f"{c[key]['operations'][op]['median_ms']:>11.1f}" for key in CLIENTS)
        lines.append(f"  {op:<12}{reqs:>15}{times}{_fmt(report['ratios'][op]['ours_over_floor']):>12}")
    lines += ["", "  peak memory (MiB, median)      ours      floor  ours/floor"]
    for op in OPERATIONS:
        peaks = "".join(f"{c[key]['operations'][op]['median_peak_bytes'] / mib:>11.2f}" for key in CLIENTS)
        lines.append(f"  {op:<27}{peaks}{_fmt(report['ratios'][op]['peak_ours_over_floor']):>12}")
    lines += ["", "  requests: ICAT operations per pass, ours/floor; the emulator runs in-process, so its work is",
              "  in every number (the floor's too)."]
    return "\n".join(lines)


# ------------------------------------------------------------------ command line


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--investigations", type=at_least(0), default=DEFAULTS["investigations"],
                        help="generated investigations of alice (default %(default)s)")
    parser.add_argument("--samples", type=at_least(1), default=DEFAULTS["samples"],
                        help=f"samples of {PROPOSAL} (default %(default)s)")
    parser.add_argument("--datasets", type=at_least(1), default=DEFAULTS["datasets"],
                        help="datasets uploaded per pass (default %(default)s)")
    parser.add_argument("--repeat", type=at_least(1), default=DEFAULTS["repeat"],
                        help="measured rounds (default %(default)s)")
    parser.add_argument("--traced-rounds", type=at_least(1), default=1,
                        help="rounds that also run a tracemalloc pass per client (default %(default)s; "
                        "tracing makes a pass 4-5x slower)")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH ('-': stdout only)")
    return parser.parse_args(argv)


def silenced() -> Any:
    """QUIET_LOGGERS above CRITICAL and warnings ignored, for the whole run."""
    return quiet_loggers(QUIET_LOGGERS)


def _run(arguments: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from mxcubecore import HardwareRepository as HWR  # sets up HWR's logging: silence after it

    from mxcubecore_lims.config.loader import load_beamline
    from mxcubecore_lims.icat.gateway import IcatGateway
    from mxcubecore_lims.testing.icat import EmulatedIcat

    with silenced():
        fixture = make_fixture(arguments.investigations, arguments.samples)
        server = EmulatedIcat(db_path=":memory:", fixture=fixture).start()
        graph, lims = None, None
        try:
            expected = expected_from(server, fixture, arguments.samples)
            HWR.uninit_hardware_repository()
            with contextlib.redirect_stdout(io.StringIO()):
                graph = load_beamline(write_config(workdir / "config", server.url))
            lims = HWR.get_hardware_repository().get_hardware_object("/lims")
            ours = Ours(lims, expected, arguments.datasets)
            # Ours' warm-up (WARMUP_DATASETS uploads) fills its caches (ParameterTypes, DatasetType),
            # tells how many parameters a dataset gets, and captures the queries the floor replays.
            warm = min(arguments.datasets, WARMUP_DATASETS)
            ours.begin("ours-warmup", workdir / "ours-warmup", warm)
            for operation in OPERATIONS:
                with ours.capture(operation):
                    ours.run(operation)
            ours.end()
            rows = server.store.find("Dataset", name=ours.state.collections[0]["fileinfo"]["prefix"] + "_1")
            expected.parameters_per_dataset = len(server.store.children("Dataset", rows[0]["id"], "parameters")) if rows else -1
            check_pass(ours, server)  # every dataset of the warm-up has as many
            if expected.parameters_per_dataset < 10:
                raise RefusedError(f"ours stored {expected.parameters_per_dataset} parameters with its first dataset")
            floor = Floor(server.url, expected, arguments.datasets, ours.captured)
            one_pass(floor, server, "floor-warmup", workdir, False, None, datasets=warm)
            samples = run_rounds([ours, floor], server, workdir, arguments.repeat, arguments.traced_rounds)
            return summarise(arguments, server, expected, samples)
        finally:
            if lims is not None and lims.gateway is not None:
                IcatGateway._shared.pop(lims.gateway.settings, None)
            if graph is not None:
                graph.close()
            HWR.uninit_hardware_repository()
            server.close()


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the exit status."""
    from gevent import monkey

    monkey.patch_all(thread=False)
    arguments = parse_arguments(argv)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    try:
        with tempfile.TemporaryDirectory(prefix="bench_icat_") as temporary:
            # Our LIMS objects journal every write: a private journal per run,
            # never one an earlier run left behind.
            os.environ["MXCUBECORE_LIMS_STATE_DIR"] = str(Path(temporary) / "state")
            report = _run(arguments, Path(temporary).resolve())
    except RefusedError as refusal:
        print(f"bench_icat: refusing to report: {refusal}", file=sys.stderr)
        return 1
    if arguments.json == "-":
        print(json.dumps(report, indent=2))
        return 0
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
