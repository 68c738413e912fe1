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
    .venv/bin/python tools/bench_ispyb.py --samples 20 --collections 3 --images 7 --repeat 1  # a small run
    .venv/bin/python tools/bench_ispyb.py --quick         # the same sizes: a check, not a figure

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
import io
import platform
import sys
from pathlib import Path
from typing import Any

# tools/ on the path: the harness is found however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_backlog import backlog_lines, backlog_summary, measure_backlog
from bench_ispyb_clients import _RETURN_INT, ClientUnderTest, FloorClient, OurClient, Recorder, StockClient, Template
from bench_ispyb_emulator import (
    OUR_MODULE,
    PROPOSAL,
    STOCK_MODULE,
    WS_PASSWORD,
    WS_USERNAME,
    Sizes,
    check_pass,
    expected_from,
    image_dict,
    make_fixture,
    set_nodelay,
    write_config,
)
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
    profile_text,
    quiet_loggers,
    ratio,
    run,
    schedule,
    small_note,
    versions,
)

# What the tests and other tools reach through this script.
__all__ = [
    "CLIENTS",
    "OPERATIONS",
    "QUIET_LOGGERS",
    "_RETURN_INT",
    "OurClient",
    "Sizes",
    "StockClient",
    "Template",
    "main",
    "make_fixture",
    "parse_arguments",
]

DEFAULT_SAMPLES = 1000
DEFAULT_COLLECTIONS = 200
DEFAULT_IMAGES = 1000
DEFAULT_REPEAT = 3
#: Below these sizes a result is not representative.
REPRESENTATIVE = (1000, 200, 1000)
#: ``--quick``: a check that everything works, not a figure to quote.
QUICK = {"samples": 20, "collections": 3, "images": 7, "repeat": 1}

OPERATIONS = ("init", "login", "get_samples", "store", "update", "images")
CLIENTS = ("stock", "ours", "floor")

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


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


def one_pass(client: ClientUnderTest, server: Any, prefix: str, traced: bool, samples: OperationSamples | None) -> None:
    """The six operations, in order, timed or traced; then checked."""
    client.begin(prefix)
    measured = measure_operations(client.run, OPERATIONS, traced, lambda: len(server.calls), prepare=client.prepare)
    stored = check_pass(client, server, client.sizes, client.expected)
    if samples is not None:
        samples.add(measured, stored, client.label, what="SOAP requests")


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


def run_rounds(clients: list[ClientUnderTest], server: Any, repeat: int) -> dict[str, OperationSamples]:
    """``repeat`` rounds, each a timed and a traced pass per client."""
    samples = {client.key: OperationSamples(OPERATIONS) for client in clients}
    for round_number, traced, client in schedule(clients, repeat):
        prefix = f"{client.key}-r{round_number}-{'m' if traced else 't'}"
        one_pass(client, server, prefix, traced, samples[client.key])
    return samples


def backlog_of_ours(ours: OurClient, server: Any, rounds: int) -> dict[str, Any]:
    """``--images`` images written directly, then the same journalled during an outage and drained."""
    ours.begin("ours-backlog")
    ours.prepare("store")
    ours.run("store")
    collections = list(ours.state.collection_ids)
    sizes = ours.sizes

    def write(name: str) -> int:
        written = 0
        for index, collection_id in enumerate(collections):
            for number in sizes.images_of(index):
                ours.lims.store_image(image_dict(collection_id, name, number))
                written += 1
        return written

    def verify(name: str) -> None:
        rows = [row for row in server.store.rows("Image") if row["fileName"].startswith(name + "_")]
        stored = {(row["dataCollectionId"], row["fileName"]) for row in rows}
        wanted = {
            (collection_id, f"{name}_{number:04d}.cbf")
            for index, collection_id in enumerate(collections)
            for number in sizes.images_of(index)
        }
        if len(rows) != len(wanted) or stored != wanted:
            raise RefusedError(f"backlog {name}: {len(rows)} image rows, {len(wanted)} expected, each once")

    return backlog_summary(measure_backlog(ours.lims, server, write, verify, rounds))


def profile_ours(ours: OurClient, server: Any, top: int) -> str:
    """A cProfile of one checked pass of ours (cumtime, then tottime)."""
    profiler = cProfile.Profile()
    ours.begin("ours-profile")
    for operation in OPERATIONS:
        ours.prepare(operation)
        profiler.enable()
        ours.run(operation)
        profiler.disable()
    check_pass(ours, server, ours.sizes, ours.expected)
    return profile_text(profiler, top)


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def summarise(arguments: argparse.Namespace, server: Any, samples: dict[str, OperationSamples]) -> dict[str, Any]:
    """The report as plain data (what ``--json`` prints)."""
    clients: dict[str, Any] = {}
    for key, sample in samples.items():
        clients[key] = {"operations": operation_summary(sample), "passes": sample.passes, "stored": sample.stored}
    ratios: dict[str, Any] = {}
    for op in OPERATIONS:
        stock, ours, floor = (clients[key]["operations"][op] for key in CLIENTS)
        ratios[op] = {
            "stock_over_ours": ratio(stock["median_ms"], ours["median_ms"]),
            "ours_over_floor": ratio(ours["median_ms"], floor["median_ms"]),
            "stock_over_ours_per_round_median": paired_median(stock["ms"], ours["ms"]),
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
        "versions": versions(("mxcubecore", "suds", "zeep", "requests", "gevent")),
        "clients": clients,
        "ratios": ratios,
        "emulator_totals": {
            "DataCollection": len(server.store.rows("DataCollection")),
            "Image": len(server.store.rows("Image")),
        },
    }


def format_table(report: dict[str, Any]) -> str:
    """The report as text tables."""
    small = (report["samples"], report["collections"], report["images"]) < REPRESENTATIVE
    v = report["versions"]
    lines = [
        f"ISPyB client benchmark: emulator at {report['server']}, proposal {report['proposal']}{small_note(small)}",
        "  emulator socket: "
        + (
            "TCP_NODELAY set by the benchmark (as production servers do)"
            if report["server_tcp_nodelay"]
            else "Nagle on (--server-nagle): keep-alive requests wait ~40 ms"
        ),
        f"  {report['samples']} samples, {report['collections']} data collections stored and updated, "
        f"{report['images']} images; {report['repeat']} rounds (medians)",
        f"  Python {report['python']}, mxcubecore {v['mxcubecore']}, suds {v['suds']}, zeep {v['zeep']}, "
        f"requests {v['requests']}, gevent {v['gevent']}",
        f"  verified: every pass of every client selected the scheduled session, got all {report['samples']} samples,",
        f"  and left {report['collections']} updated collections and {report['images']} images in the emulator "
        f"(totals: {report['emulator_totals']['DataCollection']} collections, {report['emulator_totals']['Image']} images)",
        "",
    ]
    lines += operation_tables(
        report,
        OPERATIONS,
        CLIENTS,
        headers=(
            "  time (ms, median)          requests     stock      ours     floor  stock/ours  ours/floor",
            "  peak memory (MiB, median)             stock      ours     floor  stock/ours  ours/floor",
        ),
        ratios=(("stock_over_ours", "ours_over_floor"), ("peak_stock_over_ours", "peak_ours_over_floor")),
        widths=(16, 19, 10),
    )
    lines += [
        "",
        "  requests: SOAP operations per pass, stock/ours/floor (init fetches WSDLs: no operations)",
        "  ratios > 1x under stock/ours mean ours is faster or smaller; the emulator runs in-process,",
        "  so its work is in every number (the floor's too).",
    ]
    if "backlog" in report:
        lines += ["", *backlog_lines(report["backlog"], "images (ours)")]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (bad arguments exit 2)."""
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--samples",
        type=at_least(1),
        default=DEFAULT_SAMPLES,
        help=f"samples of proposal {PROPOSAL} (default {DEFAULT_SAMPLES})",
    )
    parser.add_argument(
        "--collections",
        type=at_least(1),
        default=DEFAULT_COLLECTIONS,
        help=f"data collections stored and updated per pass (default {DEFAULT_COLLECTIONS})",
    )
    parser.add_argument(
        "--images",
        type=at_least(1),
        default=DEFAULT_IMAGES,
        help=f"images stored per pass, spread over the collections (default {DEFAULT_IMAGES})",
    )
    parser.add_argument(
        "--repeat", type=at_least(1), default=DEFAULT_REPEAT, help=f"measured rounds (default {DEFAULT_REPEAT})"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--server-nagle",
        action="store_true",
        help="leave Nagle's algorithm on in the emulator (about 40 ms per keep-alive request)",
    )
    parser.add_argument(
        "--profile",
        type=at_least(1),
        metavar="N",
        help="also profile one pass of ours; print the top N entries to stderr",
    )
    return parse_with_quick(parser, argv, QUICK)


def _run(arguments: argparse.Namespace, directory: Path) -> dict[str, Any]:
    # Importing mxcubecore sets up HWR's logging: silence after it.
    from mxcubecore import HardwareRepository as HWR

    from mxcubecore_lims.config.loader import load_beamline
    from mxcubecore_lims.testing.ispyb import EmulatedIspyb

    sizes = Sizes(arguments.samples, arguments.collections, arguments.images)
    with quiet_loggers(QUIET_LOGGERS):
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
            backlog = backlog_of_ours(ours, server, arguments.repeat)
            report = summarise(arguments, server, samples)
            report["backlog"] = backlog
            if arguments.profile:
                print(profile_ours(ours, server, arguments.profile), file=sys.stderr)
            return report
        finally:
            if graph is not None:
                graph.close()
            HWR.uninit_hardware_repository()
            server.close()


def _benchmark(arguments: argparse.Namespace) -> dict[str, Any]:
    with lims_workdir("bench_ispyb_") as directory:
        return _run(arguments, directory)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the exit status."""
    return run("bench_ispyb", argv, parse_arguments, _benchmark, format_table)


if __name__ == "__main__":
    sys.exit(main())
