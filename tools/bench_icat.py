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

    .venv/bin/python tools/bench_icat.py                 # 500 / 1000 / 200, 3 rounds: ~8 min on 2 cores
    .venv/bin/python tools/bench_icat.py --json report.json   # also write the JSON ('-': JSON only)
    .venv/bin/python tools/bench_icat.py --quick          # 20 / 30 / 3, 1 round: a check, not a figure
    .venv/bin/python tools/bench_icat.py --investigations 20 --samples 30 --datasets 3 --repeat 2

Both clients spend nearly all their time in suds (python-icat's SOAP layer)
marshalling and parsing, and the one traced round is most of the run time.

Exit status: 0 reported; 1 a check failed (nothing reported); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import platform
import shutil
import sys
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

# tools/ on the path: the harness is found however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_backlog import backlog_lines, backlog_summary, measure_backlog
from bench_icat_clients import BEAMLINE, PLUGIN, PROPOSAL, USER, Client, Expected, Floor, Ours
from benchlib import (
    OperationSamples,
    RefusedError,
    argument_parser,
    at_least,
    lims_workdir,
    measure_operations,
    operation_summary,
    operation_tables,
    paired_median,
    parse_with_quick,
    quiet_loggers,
    ratio,
    run,
    schedule,
    small_note,
    versions,
)

__all__ = ["CLIENTS", "OPERATIONS", "QUIET_LOGGERS", "Floor", "Ours", "expected_sessions", "main", "make_fixture"]

DEFAULTS = {"investigations": 500, "samples": 1000, "datasets": 200, "repeat": 3}
#: ``--quick``: a check that everything works, not a figure to quote.
QUICK = {"investigations": 20, "samples": 30, "datasets": 3, "repeat": 1}
WARMUP_DATASETS = 5
OPERATIONS = ("connect", "login", "get_samples", "upload")
CLIENTS = ("ours", "floor")
LABELS = {"ours": "mxcubecore-lims ICATLIMS (ours)", "floor": "floor (bare python-icat)"}
QUIET_LOGGERS = ("HWR", "HRW", "user_level_log", "mxcubecore_lims", "suds", "icat", "urllib3")

REPO = Path(__file__).resolve().parents[1]
DEMO_SESSION = REPO / "configuration" / "demo" / "session.xml"


# ------------------------------------------------------------------ catalogue


def make_fixture(investigations: int, samples: int) -> dict[str, Any]:
    """The shipped fixture's reference data, MX-415 with ``samples`` samples, and generated investigations."""
    from ruamel.yaml import YAML

    from mxcubecore_lims.testing.icat.fixture import DEFAULT_FIXTURE

    shipped = YAML(typ="safe").load(DEFAULT_FIXTURE.read_text("utf-8"))
    keep = (
        "facility",
        "logins",
        "users",
        "instruments",
        "investigation_types",
        "dataset_types",
        "sample_types",
        "parameter_types",
    )
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


def expected_from(server: Any, fixture: dict[str, Any], samples: int) -> Expected:
    """What the emulator's store holds for the benchmark, and the sessions the fixture implies."""
    store = server.store
    (mx415,) = store.find("Investigation", name=PROPOSAL)
    ids = sorted(r["id"] for r in store.find("Sample", investigation=mx415["id"]))
    if len(ids) != samples:
        raise RefusedError(f"the emulator holds {len(ids)} samples of {PROPOSAL}, expected {samples}")
    types = {r["name"]: r["valueType"] for r in store.rows("ParameterType") if r.get("applicableToDataset")}
    return Expected(mx415["id"], expected_sessions(fixture), ids, types)


def write_config(directory: Path, url: str) -> Path:
    """A beamline with the demo session and our ICATLIMS pointed at the emulator."""
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


def check_pass(client: Client, server: Any) -> int:
    """Checks a pass against the store, deletes its datasets; returns how many there were.

    Raises:
        RefusedError: Something is missing or wrong.
    """
    who, state, expected = LABELS[client.key], client.state, client.expected
    if state.active != PROPOSAL or state.sessions != expected.sessions:
        raise RefusedError(
            f"{who}: active {state.active}, {state.sessions} sessions offered, "
            f"expected {PROPOSAL} and {expected.sessions}"
        )
    if sorted(state.sample_ids) != expected.sample_ids:
        raise RefusedError(
            f"{who}: {len(state.sample_ids)} samples, expected {len(expected.sample_ids)} "
            f"(ids {'differ' if len(state.sample_ids) == len(expected.sample_ids) else 'missing'})"
        )
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
            raise RefusedError(
                f"{who}: dataset {row['name']} has {count} parameters, expected {expected.parameters_per_dataset}"
            )
        if client.key == "ours" and not (Path(dc["fileinfo"]["directory"]) / "metadata.json").is_file():
            raise RefusedError(f"{who}: no metadata.json for {row['name']}")
    for row in list(datasets.values()):
        store.delete("Dataset", row["id"])
    return len(datasets)


# ------------------------------------------------------------------ measuring


def one_pass(
    client: Client,
    server: Any,
    prefix: str,
    workdir: Path,
    traced: bool,
    samples: OperationSamples | None,
    datasets: int | None = None,
) -> None:
    """The four operations in order, timed or traced; then checked (and added to ``samples``)."""
    directory = workdir / prefix
    client.begin(prefix, directory, datasets)
    try:
        measured = measure_operations(client.run, OPERATIONS, traced, lambda: len(server.calls))
    finally:
        client.end()
    stored = check_pass(client, server)
    shutil.rmtree(directory)
    if samples is not None:
        samples.add(measured, {"datasets": stored}, LABELS[client.key])


def run_rounds(
    clients: list[Client], server: Any, workdir: Path, repeat: int, traced_rounds: int
) -> dict[str, OperationSamples]:
    """``repeat`` rounds, traced passes in the first ``traced_rounds`` of them."""
    samples = {client.key: OperationSamples(OPERATIONS) for client in clients}
    for number, traced, client in schedule(clients, repeat, traced_rounds):
        prefix = f"{client.key}-r{number}{'m' if traced else 't'}"
        one_pass(client, server, prefix, workdir, traced, samples[client.key])
    return samples


def backlog_of_ours(ours: Ours, server: Any, workdir: Path, rounds: int) -> dict[str, Any]:
    """``--datasets`` collections uploaded directly, then the same journalled during an outage and drained."""
    ours.begin("ours-backlog-login", workdir / "ours-backlog-login", 0)
    ours.run("login")

    def write(name: str) -> int:
        ours.begin(name, workdir / name)
        ours.state.active, ours.state.sessions = PROPOSAL, ours.expected.sessions
        ours.run("upload")
        return len(ours.state.collections)

    def verify(name: str) -> None:
        store = server.store
        rows = [d for d in store.rows("Dataset") if str(d["name"]).startswith(name + "-")]
        wanted = {f"{name}-{index:04d}_1" for index in range(ours.datasets)}
        if len(rows) != len(wanted) or {d["name"] for d in rows} != wanted:
            raise RefusedError(f"backlog {name}: {len(rows)} datasets, {len(wanted)} expected, each once")
        for row in rows:
            store.delete("Dataset", row["id"])
        shutil.rmtree(workdir / name)

    try:
        return backlog_summary(measure_backlog(ours.lims, server, write, verify, rounds))
    finally:
        ours.end()


# ------------------------------------------------------------------ reporting


def summarise(
    arguments: argparse.Namespace, server: Any, expected: Expected, samples: dict[str, OperationSamples]
) -> dict[str, Any]:
    """The report as plain data (what ``--json`` writes)."""
    clients = {
        key: {"operations": operation_summary(s), "passes": s.passes, "datasets": s.stored["datasets"]}
        for key, s in samples.items()
    }
    ratios = {}
    for op in OPERATIONS:
        ours, floor = (clients[key]["operations"][op] for key in CLIENTS)
        ratios[op] = {
            "ours_over_floor": ratio(ours["median_ms"], floor["median_ms"]),
            "ours_over_floor_per_round_median": paired_median(ours["ms"], floor["ms"]),
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
        "versions": versions(("mxcubecore", "python-icat", "suds", "gevent")),
        "clients": clients,
        "ratios": ratios,
    }


def format_table(report: dict[str, Any]) -> str:
    """The report as text tables."""
    small = any(report[key] < value for key, value in DEFAULTS.items() if key != "repeat")
    v = report["versions"]
    lines = [
        f"ICAT client benchmark: emulator at {report['server']}, investigation {report['proposal']}"
        + small_note(small),
        f"  {report['investigations']} generated investigations ({report['sessions_offered']} offered to alice), "
        f"{report['samples']} samples, {report['datasets']} datasets of {report['parameters_per_dataset']} "
        f"parameters; {report['repeat']} rounds "
        f"({report['traced_rounds']} traced; medians)",
        f"  Python {report['python']}, mxcubecore {v['mxcubecore']}, python-icat {v['python-icat']}, "
        f"suds {v['suds']}, gevent {v['gevent']}",
        "  verified: every pass of both clients chose MX-415 among the sessions expected, got every sample,",
        "  and created exactly its datasets with all their parameters (ours also wrote metadata.json; the floor does not)",
        "",
    ]
    lines += operation_tables(
        report,
        OPERATIONS,
        CLIENTS,
        headers=(
            "  time (ms, median)   requests       ours      floor  ours/floor",
            "  peak memory (MiB, median)      ours      floor  ours/floor",
        ),
        ratios=(("ours_over_floor",), ("peak_ours_over_floor",)),
        widths=(12, 15, 11),
    )
    lines += [
        "",
        "  requests: ICAT operations per pass, ours/floor; the emulator runs in-process, so its work is",
        "  in every number (the floor's too).",
    ]
    if "backlog" in report:
        lines += ["", *backlog_lines(report["backlog"], "dataset uploads (ours)")]
    return "\n".join(lines)


# ------------------------------------------------------------------ command line


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (bad arguments exit 2)."""
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--investigations",
        type=at_least(0),
        default=DEFAULTS["investigations"],
        help="generated investigations of alice (default %(default)s)",
    )
    parser.add_argument(
        "--samples", type=at_least(1), default=DEFAULTS["samples"], help=f"samples of {PROPOSAL} (default %(default)s)"
    )
    parser.add_argument(
        "--datasets",
        type=at_least(1),
        default=DEFAULTS["datasets"],
        help="datasets uploaded per pass (default %(default)s)",
    )
    parser.add_argument(
        "--repeat", type=at_least(1), default=DEFAULTS["repeat"], help="measured rounds (default %(default)s)"
    )
    parser.add_argument(
        "--traced-rounds",
        type=at_least(1),
        default=1,
        help="rounds that also run a tracemalloc pass per client (default %(default)s; "
        "tracing makes a pass 4-5x slower)",
    )
    parser.add_argument(
        "--backlog-rounds",
        type=at_least(1),
        default=1,
        help="rounds of the backlog drain, each --datasets uploads direct and drained (default %(default)s)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON to PATH ('-': stdout only)")
    return parse_with_quick(parser, argv, QUICK)


def _run(arguments: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from mxcubecore import HardwareRepository as HWR  # sets up HWR's logging: silence after it

    from mxcubecore_lims.config.loader import load_beamline
    from mxcubecore_lims.icat.gateway import IcatGateway
    from mxcubecore_lims.testing.icat import EmulatedIcat

    with quiet_loggers(QUIET_LOGGERS):
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
            expected.parameters_per_dataset = (
                len(server.store.children("Dataset", rows[0]["id"], "parameters")) if rows else -1
            )
            check_pass(ours, server)  # every dataset of the warm-up has as many
            if expected.parameters_per_dataset < 10:
                raise RefusedError(f"ours stored {expected.parameters_per_dataset} parameters with its first dataset")
            floor = Floor(server.url, expected, arguments.datasets, ours.captured)
            one_pass(floor, server, "floor-warmup", workdir, False, None, datasets=warm)
            samples = run_rounds([ours, floor], server, workdir, arguments.repeat, arguments.traced_rounds)
            backlog = backlog_of_ours(ours, server, workdir, arguments.backlog_rounds)
            return {**summarise(arguments, server, expected, samples), "backlog": backlog}
        finally:
            if lims is not None and lims.gateway is not None:
                IcatGateway._shared.pop(lims.gateway.settings, None)
            if graph is not None:
                graph.close()
            HWR.uninit_hardware_repository()
            server.close()


def _benchmark(arguments: argparse.Namespace) -> dict[str, Any]:
    with lims_workdir("bench_icat_") as workdir:
        return _run(arguments, workdir)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the exit status."""
    return run("bench_icat", argv, parse_arguments, _benchmark, format_table, json_to=lambda arguments: arguments.json)


if __name__ == "__main__":
    sys.exit(main())
