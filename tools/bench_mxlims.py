"""Benchmarks MXLIMS shipment import and session export through our LIMS objects, against a bare floor.

One process starts an emulated ICAT (``mxcubecore_lims.testing.icat``, in
memory, sessions of a day: no refresh falls in a pass) and an emulated ISPyB
(``mxcubecore_lims.testing.ispyb``, in-memory SQLite, ``TCP_NODELAY`` as in
``bench_ispyb.py``), default fixtures, on loopback. Our ``ICATLIMS`` and
``ProposalTypeISPyBLims`` (with ``crims_username``/``crims_password``: the
export needs ISPyB's crims account) are loaded from one generated
configuration with ``mxcubecore_lims.config.loader`` and logged in once
(alice on MX-415; ``mx415``). The shipment: ``pin_shipment("MX415",
--pucks, --pins-per-puck, name=<fresh every pass>, first_position=1)``, 5
pucks per dewar; by default 63 pucks of 16 pins = 1,008 samples, 13 dewars.

Set-up (untimed, verified): ours imports a one-puck base shipment into each
LIMS and makes ``--collections`` collections on its samples as the collect
routines do (``store_data_collection``, ``update_data_collection``, three
``store_image``, ``finalize_data_collection``), so the exports read results.

A pass (one client, one LIMS): ``import`` (ours: ``import_mxlims`` of the
pass's fresh shipment), ``import again`` (the same document: it must create
nothing), ``export`` (ours: ``export_mxlims()`` of the session, which then
holds the fixture's samples, the base puck, the shipment and the
collections). The floor sends the same requests bare and maps nothing:

* ICAT: one ``icat.client.Client(url, checkCert=False, cache=None)``, logged
  in as alice once, untimed, replaying the query strings ours sent in its
  warm-up (import: the investigation's Samples INCLUDE ``parameters.type``,
  the sample ParameterTypes; export: the Investigation, its Samples, its
  Datasets INCLUDE ``parameters.type``, ``datafiles``, ``sample``); it keeps
  the entity objects. Importing, it skips the names the first search found
  and sends one ``createMany`` per puck of the same Samples with the same
  SampleParameters: entity objects built timed (``client.new``, as
  ``bench_icat.py``'s floor builds its Datasets), values computed untimed
  with our ``sample_parameters``, one ParameterType reference per type where
  ours builds one per parameter. It builds no document.
* ISPyB: ours' warm-up envelopes (captured at the emulator), POSTed over one
  keep-alive ``requests.Session`` as the account ours used. ``storeShipping``
  is the captured envelope with its JSON replaced: built untimed with our
  ``shipping_value`` (checked to be what ours sent for its warm-up), sent
  unless the ``findSampleInfoLightForProposal`` answer holds the shipment's
  marker (a byte search). The export posts ``findSession``,
  ``findSampleInfoLightForProposal`` and, as crims,
  ``getAllDataCollectionFromShippingId`` for each ``shippingId`` in that
  answer (a regex); it parses nothing else and builds no document.

Method: gevent patched first; the emulators' work is in every number (the
floor's too): ours/floor is what our code adds. A verified one-puck warm-up
pass per client and LIMS (ours' captures what the floor replays), then
``--repeat`` rounds per LIMS of a timed pass per client, the order flipping
every round, the first ``--traced-rounds`` adding a ``tracemalloc`` pass per
client; ``gc.collect()`` before each operation; the clients' and servers'
loggers silenced, warnings ignored. After every pass, untimed, from the
emulators' databases: the import created exactly the shipment's samples
(ICAT: with the parameters our mapping gives; ISPyB: one shipping with its
dewars, containers, samples, crystals), the repeat nothing (ours' reports
agree); the export holds every mountable sample of the session as a Pin and
every collection as a Result CollectionSweep, with the LIMS ids (ours'
document valid against ``document_schema()``; the floor's answers hold the
same ids). The pass's samples are then retired (ICAT: deleted; ISPyB: their
containers leave "processing"), so every pass sees the same session.
Anything wrong: no report.

Usage::

    .venv/bin/python tools/bench_mxlims.py                 # 1,008 samples, 20 collections, 1 round: ~35 min
    .venv/bin/python tools/bench_mxlims.py --only ISPyB --repeat 3   # ISPyB alone: ~2.5 min
    .venv/bin/python tools/bench_mxlims.py --json report.json   # also write the JSON ('-': JSON only)
    .venv/bin/python tools/bench_mxlims.py --quick          # 2 pucks of 4, 3 collections: a check, not a figure
    .venv/bin/python tools/bench_mxlims.py --pucks 8 --profile 25   # + cProfile of a pass of ours (stderr)

ICAT dominates the run time, on both sides: python-icat's suds builds every
entity object by walking the WSDL schema, then marshals it, and parses every
parameter it reads; a 1,008-sample import builds over 23,000 entity objects,
and tracing (the memory pass) makes that about five times slower.

Exit status: 0 reported; 1 a check failed (nothing reported); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import platform
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# tools/ on the path: the harness is found however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_mxlims_clients as lims_clients
from bench_ispyb_emulator import set_nodelay
from bench_mxlims_clients import DOMAIN, ISPYB_TABLES, OPERATIONS, Client, Site
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

__all__ = ["CLIENTS", "SYSTEMS", "main", "parse_arguments"]

DEFAULTS = {"pucks": 63, "pins_per_puck": 16, "collections": 20, "repeat": 1}
#: ``--quick``: a check that everything works, not a figure to quote.
QUICK = {"pucks": 2, "pins_per_puck": 4, "collections": 3, "repeat": 1}
SYSTEMS = ("ICAT", "ISPyB")
CLIENTS = ("ours", "floor")
QUIET_LOGGERS = ("HWR", "HRW", "user_level_log", "mxcubecore_lims", "suds", "icat", "zeep", "urllib3")
#: The ICAT sample parameters that make a sample mountable (offered, exported as a Pin).
MOUNTABLE = {"SampleChanger_position", "SampleTrackingContainer_position"}
#: The proposal's samples ISPyB lists on the beamline (as ``findSampleInfoLightForProposal`` selects them).
LISTED_SQL = (
    'SELECT s.blSampleId AS id FROM "BLSample" s JOIN "Crystal" c ON c.crystalId = s.crystalId '
    'JOIN "Protein" p ON p.proteinId = c.proteinId JOIN "Container" ct ON ct.containerId = s.containerId '
    "WHERE p.proposalId = ? AND (ct.containerStatus LIKE 'processing' OR s.blSampleStatus LIKE 'processing') "
    "AND (ct.beamlineLocation LIKE ? OR ct.beamlineLocation = '' OR ct.beamlineLocation IS NULL)"
)


# ------------------------------------------------------------------ checks


def _refuse_unless(condition: bool, who: str, what: str) -> None:
    if not condition:
        raise RefusedError(f"{who}: {what}")


def _shape(document: Any) -> dict[str, int]:
    from mxcubecore_lims.mxlims.logistics import Dewar, Pin, Puck

    return {kind: len(list(document.of_type(cls))) for kind, cls in (("pin", Pin), ("puck", Puck), ("dewar", Dewar))}


def exported_ids(site: Site, document: Any, who: str) -> tuple[list[int], dict[int, int | None]]:
    """The samples of a document's Pins, and its Result sweeps' ids -> their pin's sample; after the schema check."""
    import jsonschema

    from mxcubecore_lims.mxlims.datasets import CollectionSweep
    from mxcubecore_lims.mxlims.logistics import Pin
    from mxcubecore_lims.mxlims.samples import MacromoleculeSample

    try:
        site.validator.validate(document.to_json_data())
    except jsonschema.ValidationError as error:
        raise RefusedError(f"{who}: the export is not valid MXLIMS: {error.message}") from error

    def sample_of(pin: Pin | None) -> int | None:
        sample = document.get(pin.sample_ref, MacromoleculeSample) if pin is not None else None
        found = (sample.identifiers or {}).get(DOMAIN) if sample is not None else None
        return None if found is None else int(found)

    pins = [sample_of(pin) for _, pin in document.of_type(Pin)]
    _refuse_unless(None not in pins, who, "a Pin without its sample's id")
    results = {
        int((sweep.identifiers or {}).get(DOMAIN, -1)): sample_of(document.get(sweep.logistical_sample_ref, Pin))
        for _, sweep in document.of_type(CollectionSweep)
        if sweep.role == "Result"
    }
    return [p for p in pins if p is not None], results


def check_export(client: Client, site: Site, mountable: set[int], read: set[int], collections: dict[int, Any]) -> None:
    """Ours' export (or the floor's answers) against the LIMS: its mountable samples, all it reads, its collections."""
    who, state = client.label, client.state
    if isinstance(client, lims_clients.Ours):
        pins, results = exported_ids(site, state.exported, who)
        _refuse_unless(len(pins) == len(set(pins)), who, "a sample on two pins")
        _refuse_unless(set(pins) == mountable, who, f"{len(pins)} Pins exported, {len(mountable)} samples to mount")
        _refuse_unless(results == collections, who, f"results {results} for the collections {collections}")
        return
    if client.system == "ICAT":
        got = {int(s.id) for s in state.answers["Sample"]}, {int(d.id) for d in state.answers["Dataset"]}
    else:
        got = lims_clients.floor_answers(state.answers, site.session_id)
    _refuse_unless(got == (read, set(collections)), who, "the export read other samples or collections")


def check_imports(client: Client, counts: dict[str, int], made: dict[str, int], created: dict[str, int]) -> None:
    """The import made ``made`` rows, the repeat none; ours' reports say ``created``, then nothing."""
    state, pins = client.state, created["sample"]
    before, between = state.counts["before"], state.counts["after import"]
    delta = {table: between[table] - before[table] for table in made}
    _refuse_unless(delta == made, client.label, f"the import created {delta}, expected {made}")
    _refuse_unless(counts == between, client.label, f"import again created rows: {between} -> {counts}")
    if isinstance(client, lims_clients.Ours):
        first, again = state.reports["import"], state.reports["import again"]
        ok = first.created == created and first.existing == {"sample": 0}
        _refuse_unless(ok, client.label, f"import: {first.summary()}")
        ok = again.created == dict.fromkeys(created, 0) and again.existing == {"sample": pins}
        _refuse_unless(ok, client.label, f"import again: {again.summary()}")


def check_icat(client: Client, site: Site) -> None:
    """Checks an ICAT pass against the catalogue, then deletes the pass's samples."""
    who, state, store, investigation = client.label, client.state, site.icat.store, site.investigation_id
    wanted = {
        name: {kind: (attribute, value) for kind, attribute, value in values}
        for batch in lims_clients.icat_batches(state.document, site.value_types)
        for name, values in batch
    }
    pins = _shape(state.document)["pin"]
    rows = {r["name"]: r for r in store.find("Sample", investigation=investigation) if r["name"] in wanted}
    _refuse_unless(len(rows) == len(wanted) == pins, who, f"{len(rows)} samples of the shipment in ICAT, not {pins}")
    for name, row in rows.items():
        stored = {
            site.type_names[p["type"]]: (attribute, p[attribute])
            for p in store.children("Sample", row["id"], "parameters")
            for attribute in ("numericValue", "stringValue")
            if p[attribute] is not None
        }
        _refuse_unless(stored == wanted[name], who, f"sample {name} has parameters {stored}, not {wanted[name]}")
    check_imports(client, site.counts("ICAT"), {"Sample": pins}, {"sample": pins})
    read = {int(r["id"]) for r in store.find("Sample", investigation=investigation)}
    kinds = {i: {site.type_names[p["type"]] for p in store.children("Sample", i, "parameters")} for i in read}
    datasets = {int(d["id"]): d["sample"] for d in store.find("Dataset", investigation=investigation)}
    check_export(client, site, {i for i in read if MOUNTABLE <= kinds[i]}, read, datasets)
    for row in rows.values():
        store.delete("Sample", row["id"])


def check_ispyb(client: Client, site: Site) -> None:
    """Checks an ISPyB pass against the database, then takes the pass's containers out of "processing"."""
    state, store, shape = client.state, site.ispyb.store, _shape(client.state.document)
    pins = shape["pin"]
    made = dict(zip(ISPYB_TABLES, (1, shape["dewar"], shape["puck"], pins, pins), strict=True))
    created = {"shipment": 1, "dewar": shape["dewar"], "container": shape["puck"], "sample": pins}
    check_imports(client, site.counts("ISPyB"), made, created)
    shippings = store.rows("Shipping", shippingName=state.name)
    marker = lims_clients.IspybFloor.payload(state.document)[1]
    _refuse_unless([s["comments"] for s in shippings] == [marker], client.label, "no shipping with the marker")
    listed = {int(r["id"]) for r in store.query(LISTED_SQL, [site.proposal_id, lims_clients.BEAMLINE])}
    collections = {}
    for group in store.rows("DataCollectionGroup", sessionId=site.session_id):
        for row in store.rows("DataCollection", dataCollectionGroupId=group["dataCollectionGroupId"]):
            collections[int(row["dataCollectionId"])] = group["blSampleId"]
    check_export(client, site, listed, listed, collections)
    for dewar in store.rows("Dewar", shippingId=shippings[0]["shippingId"]):
        for container in store.rows("Container", dewarId=dewar["dewarId"]):
            store.update("Container", container["containerId"], {"containerStatus": "at facility"})


# ------------------------------------------------------------------ measuring

Around = Callable[[str], contextlib.AbstractContextManager[Any]]


def one_pass(client: Client, site: Site, name: str, traced: bool, samples: OperationSamples | None, **how: Any) -> None:
    """A pass of the three operations, timed or traced (or, with ``around``, wrapped and untimed); then checked.

    Args:
        client: Who runs it.
        site: Where.
        name: The fresh shipment's name.
        traced: Trace (peak memory) instead of timing.
        samples: Where the measurements go (None: a warm-up).
        how: ``pucks`` (default ``site.pucks``); ``around``, an untimed wrapper of each operation.
    """
    system = client.system
    document = lims_clients.shipment(name, how.get("pucks") or site.pucks, site.pins_per_puck)
    client.begin(name, document)
    client.state.counts["before"] = site.counts(system)

    def prepare(line: str) -> None:
        if line.endswith("import again"):
            client.state.counts["after import"] = site.counts(system)

    lines, around = [f"{system} {operation}" for operation in OPERATIONS], how.get("around")
    measured = None
    if around is None:
        server = site.server(system)
        measured = measure_operations(client.run, lines, traced, lambda: len(server.calls), prepare=prepare)
    else:
        for line in lines:
            prepare(line)
            with around(line.removeprefix(system + " ")):
                client.run(line)
    (check_icat if system == "ICAT" else check_ispyb)(client, site)
    if samples is not None and measured is not None:
        samples.add(measured, {"samples": _shape(document)["pin"]}, client.label)


def warm_up(site: Site) -> dict[str, tuple[Client, Client]]:
    """Verified one-puck passes: ours' capture what the floors replay, then each floor's own."""
    icat_ours, ispyb_ours = lims_clients.Ours(site.icat_lims, "ICAT"), lims_clients.Ours(site.ispyb_lims, "ISPyB")
    queries: dict[str, list[str]] = {}
    icat = site.icat_lims.gateway.client

    def searches(operation: str) -> contextlib.AbstractContextManager[None]:
        return lims_clients.record_searches(icat, queries.setdefault(operation, []))

    one_pass(icat_ours, site, "icat-ours-warmup", False, None, pucks=1, around=searches)
    with lims_clients.SoapRecorder(site.ispyb.app) as recorder:
        one_pass(ispyb_ours, site, "ispyb-ours-warmup", False, None, pucks=1, around=recorder.recording)
    icat_floor = lims_clients.IcatFloor(site.icat.url, site.investigation_id, queries, site.value_types)
    ispyb_floor = lims_clients.IspybFloor(site.ispyb.root, recorder.bodies, ispyb_ours.state.document)
    for floor in (icat_floor, ispyb_floor):
        name = f"{floor.system.lower()}-floor-warmup"
        one_pass(floor, site, name, False, None, pucks=1, around=lambda _: contextlib.nullcontext())
    return {"ICAT": (icat_ours, icat_floor), "ISPyB": (ispyb_ours, ispyb_floor)}


def run_rounds(
    clients: dict[str, tuple[Client, Client]], site: Site, arguments: argparse.Namespace
) -> dict[tuple[str, str], OperationSamples]:
    """``--repeat`` rounds per LIMS (ISPyB first), traced passes in the first ``--traced-rounds``."""
    samples: dict[tuple[str, str], OperationSamples] = {}
    for system in sorted(arguments.systems, reverse=True):
        for client in clients[system]:
            samples[(system, client.key)] = OperationSamples(f"{system} {op}" for op in OPERATIONS)
        for number, traced, client in schedule(clients[system], arguments.repeat, arguments.traced_rounds):
            name = f"{system.lower()}-{client.key}-r{number}{'m' if traced else 't'}"
            one_pass(client, site, name, traced, samples[(system, client.key)])
    return samples


def profile_ours(clients: dict[str, tuple[Client, Client]], site: Site, systems: list[str], top: int) -> str:
    """A cProfile of one checked pass of ours per LIMS (cumtime, then tottime)."""
    texts = []
    for system in systems:
        profiler = cProfile.Profile()

        @contextlib.contextmanager
        def profiled(_: str, profiler: cProfile.Profile = profiler) -> Iterator[None]:
            profiler.enable()
            try:
                yield
            finally:
                profiler.disable()

        one_pass(clients[system][0], site, f"{system.lower()}-ours-profile", False, None, around=profiled)
        texts.append(f"=== {system}: one pass of ours (import, import again, export)\n{profile_text(profiler, top)}")
    return "\n".join(texts)


# ------------------------------------------------------------------ reporting


def summarise(
    arguments: argparse.Namespace, site: Site, samples: dict[tuple[str, str], OperationSamples]
) -> dict[str, Any]:
    """The report as plain data (what ``--json`` writes)."""
    lines = [f"{system} {op}" for system in SYSTEMS if system in arguments.systems for op in OPERATIONS]
    clients: dict[str, Any] = {}
    for key in CLIENTS:
        parts = [part for (_, who), part in samples.items() if who == key]
        operations = {line: entry for part in parts for line, entry in operation_summary(part).items()}
        clients[key] = {"operations": operations, "passes": sum(p.passes for p in parts)}
    ratios = {}
    for line in lines:
        ours, floor = (clients[key]["operations"][line] for key in CLIENTS)
        ratios[line] = {
            "ours_over_floor": ratio(ours["median_ms"], floor["median_ms"]),
            "ours_over_floor_per_round_median": paired_median(ours["ms"], floor["ms"]),
            "peak_ours_over_floor": ratio(ours["median_peak_bytes"], floor["median_peak_bytes"]),
        }
    shape = _shape(lims_clients.shipment("shape", arguments.pucks, arguments.pins_per_puck))
    return {
        "servers": {"ICAT": site.icat.url, "ISPyB": site.ispyb.root},
        **{key: getattr(arguments, key) for key in DEFAULTS},
        "samples": shape["pin"],
        "dewars": shape["dewar"],
        "lines": lines,
        "traced_rounds": min(arguments.traced_rounds, arguments.repeat),
        "session_samples_besides": {
            "ICAT": len(site.icat.store.find("Sample", investigation=site.investigation_id)),
            "ISPyB": len(site.ispyb.store.query(LISTED_SQL, [site.proposal_id, lims_clients.BEAMLINE])),
        },
        "python": platform.python_version(),
        "versions": versions(("mxcubecore", "python-icat", "suds", "zeep", "requests", "gevent")),
        "clients": clients,
        "ratios": ratios,
    }


def format_table(report: dict[str, Any]) -> str:
    """The report as text tables."""
    small = report["samples"] < 1000 or report["collections"] < DEFAULTS["collections"]
    v, besides = report["versions"], report["session_samples_besides"]
    systems = [system for system in SYSTEMS if f"{system} import" in report["lines"]]
    lines = [
        f"MXLIMS benchmark: a {report['samples']}-sample pin shipment ({report['pucks']} pucks of "
        f"{report['pins_per_puck']}, {report['dewars']} dewars) into and out of {' and '.join(systems)}"
        + small_note(small),
        "  emulators in this process on loopback: " + ", ".join(f"{s} {report['servers'][s]}" for s in systems),
        f"  an export reads the shipment, {' / '.join(f'{besides[s]} other {s}' for s in systems)} samples and "
        f"{report['collections']} collections; {report['repeat']} rounds ({report['traced_rounds']} traced; medians)",
        f"  Python {report['python']}, mxcubecore {v['mxcubecore']}, python-icat {v['python-icat']}, suds {v['suds']}, "
        f"zeep {v['zeep']}, requests {v['requests']}, gevent {v['gevent']}",
        f"  verified: every import of both clients created exactly the shipment's {report['samples']} samples "
        "(ICAT: with their parameters; ISPyB: with a shipping, dewars, containers, crystals)",
        "  verified: every import again created nothing (ours' reports agree)",
        "  verified: every export held every mountable sample of the session as a Pin and every collection as a",
        "  Result CollectionSweep, with the LIMS ids (ours' documents valid against document_schema())",
        "",
    ]
    lines += operation_tables(
        report,
        report["lines"],
        CLIENTS,
        headers=(
            "  time (ms, median)         requests       ours      floor  ours/floor",
            "  peak memory (MiB, median)            ours      floor  ours/floor",
        ),
        ratios=(("ours_over_floor",), ("peak_ours_over_floor",)),
        widths=(18, 15, 11),
    )
    lines += [
        "",
        "  requests: LIMS operations per pass, ours/floor; the emulators run in-process, so their work is",
        "  in every number (the floor's too). The floor maps nothing and builds no document.",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------ command line


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (bad arguments exit 2)."""
    parser = argument_parser(__doc__)
    add = parser.add_argument
    add("--pucks", type=at_least(1), default=DEFAULTS["pucks"], help="pucks in a shipment (default %(default)s)")
    add("--pins-per-puck", type=at_least(1), default=DEFAULTS["pins_per_puck"], help="1-16 (default %(default)s)")
    add("--collections", type=at_least(1), default=DEFAULTS["collections"], help="in the session (default %(default)s)")
    add("--repeat", type=at_least(1), default=DEFAULTS["repeat"], help="measured rounds (default %(default)s)")
    add("--traced-rounds", type=at_least(1), default=1, help="rounds with a tracemalloc pass (default %(default)s)")
    add("--only", choices=SYSTEMS, help="measure one LIMS (both are set up)")
    add("--json", metavar="PATH", help="also write the report as JSON to PATH ('-': stdout only)")
    add("--profile", type=at_least(1), metavar="N", help="also profile a pass of ours per LIMS: top N on stderr")
    arguments = parse_with_quick(parser, argv, QUICK)
    if arguments.pins_per_puck > 16:
        parser.error("--pins-per-puck: a Unipuck has 16 positions")
    arguments.systems = [arguments.only] if arguments.only else list(SYSTEMS)
    return arguments


def _run(arguments: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from mxcubecore import HardwareRepository as HWR  # sets up HWR's logging: silence after it

    from mxcubecore_lims.icat.gateway import IcatGateway
    from mxcubecore_lims.testing.icat import EmulatedIcat
    from mxcubecore_lims.testing.ispyb import EmulatedIspyb

    with quiet_loggers(QUIET_LOGGERS):
        icat = EmulatedIcat(db_path=":memory:", session_minutes=24 * 60.0).start()
        ispyb = EmulatedIspyb(db_path=":memory:", username=lims_clients.WS_USERNAME, password=lims_clients.WS_PASSWORD)
        set_nodelay(ispyb.start())
        graph, site, clients = None, None, {}
        try:
            graph, site = lims_clients.open_site(
                workdir / "config", icat, ispyb, arguments.pucks, arguments.pins_per_puck
            )
            lims_clients.collect(site, workdir, arguments.collections)
            clients = warm_up(site)
            report = summarise(arguments, site, run_rounds(clients, site, arguments))
            if arguments.profile:
                print(profile_ours(clients, site, arguments.systems, arguments.profile), file=sys.stderr)
            return report
        finally:
            for _ours, floor in clients.values():
                floor.close()
            if site is not None and site.icat_lims.gateway is not None:
                IcatGateway._shared.pop(site.icat_lims.gateway.settings, None)
            if graph is not None:
                graph.close()
            HWR.uninit_hardware_repository()
            icat.close()
            ispyb.close()


def _benchmark(arguments: argparse.Namespace) -> dict[str, Any]:
    with lims_workdir("bench_mxlims_") as workdir:
        return _run(arguments, workdir)


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the exit status."""
    return run(
        "bench_mxlims", argv, parse_arguments, _benchmark, format_table, json_to=lambda arguments: arguments.json
    )


if __name__ == "__main__":
    sys.exit(main())
