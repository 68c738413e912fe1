"""The ``mxcubecore-lims`` command.

Sub-commands:

* ``check DIR`` - report every configuration problem in a directory.
* ``convert FILE.xml`` - write the equivalent YAML, comments kept.
* ``demo`` - run the emulated beamline (ISPyB, ICAT and LDAP emulated; logins,
  collections, an ISPyB outage) and report; ``--broker`` through ActiveMQ and two ingesters; ``--describe`` prints its object graph and the
  state of its LIMS objects.
* ``emulate ldap`` - run a real slapd on loopback, seeded with test users, for
  a beamline engineer to point an MXCuBE at.
* ``emulate ispyb`` - run the emulated ISPyB SOAP services likewise.
* ``emulate icat`` - run the emulated ICAT SOAP server likewise.
* ``outbox status|replay`` - show or deliver the LIMS writes waiting in the journals.
* ``migrate`` - move ISPyBClient-style configurations to our LIMS objects.
* ``describe`` - every configuration key of one of our objects.
* ``web`` - mxcubeweb, the real client, on the emulated beamline with one of our LIMS objects.
* ``mxlims validate|schema|sheet|import|export`` - MXLIMS documents: check them, shipments in, results out.
* ``record`` - one session's record (HTML report, MXLIMS results) from the LIMS and the outbox.
* ``ingest`` - take the LIMS writes of the broker route off the broker into ICAT and ISPyB.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mxcubecore_lims.cli.exchange import run_mxlims, run_record
from mxcubecore_lims.cli.ingest import add_ingest_command
from mxcubecore_lims.errors import LimsConfigError


def _default_demo_directory() -> Path:
    """``configuration/demo`` of a source checkout, else of the working directory."""
    source_tree = Path(__file__).resolve().parents[1] / "configuration" / "demo"
    return source_tree if source_tree.is_dir() else Path.cwd() / "configuration" / "demo"


def _lookup_list(directory: str, extra: Sequence[str] | None) -> list[str]:
    return [directory, *(extra or [])]


def run_check(args: argparse.Namespace) -> int:
    """Prints every problem of a configuration directory; 1 if there is any."""
    from mxcubecore_lims.config.check import check_directory, configuration_warnings

    for warning in configuration_warnings(args.directory, args.lookup, stock_loader=not args.our_loader_only):
        print(f"warning: {warning}")
    problems = check_directory(args.directory, args.lookup, strict=not args.lax)
    for problem in problems:
        print(f"{type(problem).__name__}: {problem}")
    if problems:
        print(f"{len(problems)} problem(s) in {args.directory}", file=sys.stderr)
        return 1
    print(f"{args.directory}: no problems found")
    return 0


def run_convert(args: argparse.Namespace) -> int:
    """Writes the YAML equivalent of an XML file to a file or standard output."""
    from mxcubecore_lims.config.convert import xml_to_yaml
    from mxcubecore_lims.config.lookup import LookupPath

    source = Path(args.file)
    lookup = LookupPath([source.parent.resolve(), *(args.lookup or [])])
    text = xml_to_yaml(source, lookup)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        output = Path(args.output) if args.output else source.with_suffix(".yaml")
        if output.exists() and not args.force:
            print(f"{output} exists; use --force to overwrite", file=sys.stderr)
            return 1
        beside_source = output.resolve().parent == source.resolve().parent and output.stem == source.stem
        if beside_source and not args.replace:
            # session.xml and session.yaml side by side make the name ambiguous.
            print(
                f"{output.name} next to {source.name} would make '{source.stem}' ambiguous; "
                "use --replace (the XML file is kept as .xml.bak) or -o elsewhere",
                file=sys.stderr,
            )
            return 1
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}")
        if beside_source:
            backup = source.with_name(source.name + ".bak")
            source.rename(backup)
            print(f"moved {source} to {backup}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """Runs the emulated beamline (servers, logins, collections, an outage) and reports."""
    import logging

    from gevent import monkey

    monkey.patch_all(thread=False)
    if not args.verbose:
        # mxcubecore logs every queue-entry import at INFO, and the outage is
        # logged as warnings by design: the report says what happened.
        logging.disable(logging.WARNING)
    from mxcubecore_lims.demo import describe_beamline, load_demo

    directory = Path(args.config) if args.config else _default_demo_directory()
    if args.describe:
        graph = load_demo(directory)
        try:
            print(describe_beamline(graph))
        finally:
            graph.close()
        return 0
    from mxcubecore_lims.demo.beamtime import run_beamtime

    report = run_beamtime(
        directory, collections=args.collections, out=lambda line: print(line, flush=True), broker=args.broker
    )
    complete = (
        len(report.ispyb_collections) == report.collections
        and len(report.icat_datasets) == report.collections
        and all(not n["pending"] and not n["failed"] for n in report.outbox.values())
    )
    return 0 if complete else 1


def run_web(args: argparse.Namespace) -> int:
    """Runs mxcubeweb's server on the emulated beamline with the chosen LIMS object."""
    import importlib.util

    if importlib.util.find_spec("mxcubeweb") is None:
        print("mxcubeweb is not installed: pip install 'mxcubecore-lims[web]'", file=sys.stderr)
        return 2
    from mxcubecore_lims.web.launcher import run_web as launch

    lookup = [Path(p) for p in (args.config or str(_default_demo_directory())).split(":") if p]
    return launch(
        lookup,
        args.lims,
        args.port,
        emulators=not args.no_emulators,
        log_level="INFO" if args.verbose else "WARNING",
        out=lambda line: print(line, flush=True),
    )


def run_describe(args: argparse.Namespace) -> int:
    """Prints every configuration key of one of our objects (or all: the reference page)."""
    from mxcubecore_lims.config.describe import describe, reference_page

    if args.all:
        sys.stdout.write(reference_page())
        return 0
    if not args.cls:
        print("name a class (e.g. ICATLIMS) or give --all", file=sys.stderr)
        return 2
    sys.stdout.write(describe(args.cls))
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    """Migrates ISPyBClient-style LIMS and LDAP objects to ours; 1 if the result does not check."""
    from mxcubecore_lims.config.migrate import migrate

    report = migrate(args.path, to=args.to, dry_run=args.dry_run, lookup=args.lookup)
    if args.dry_run and report.changes:
        sys.stdout.write(report.diff())
    for finding in report.findings:
        print(finding)
    for problem in report.problems:
        print(f"{type(problem).__name__}: {problem}")
    for problem in report.other_problems:
        print(f"(not migrated, not blocking) {type(problem).__name__}: {problem}")
    if not report.changes:
        print(f"{args.path}: nothing to migrate")
        return 0
    if not report.ok:
        print(
            f"the migrated configuration does not check: nothing written ({len(report.problems)} problem(s))",
            file=sys.stderr,
        )
        return 1
    verb = "would change" if args.dry_run else "changed"
    for path in report.changed:
        print(f"{verb} {path}")
    for backup in report.backups:
        print(f"backup  {backup}")
    return 0


def run_outbox(args: argparse.Namespace) -> int:
    """Shows (``status``) or delivers (``replay``) what the LIMS objects' journals hold."""
    import json
    import time

    from gevent import monkey

    monkey.patch_all(thread=False)
    from mxcubecore_lims.config.loader import load_beamline
    from mxcubecore_lims.HardwareObjects.AbstractLims import AbstractLims

    found: dict[int, tuple[str, AbstractLims]] = {}
    # Looking must not deliver: the objects loaded here start no background replay.
    with AbstractLims.replay_off():
        graph = load_beamline([Path(args.config), *(args.lookup or [])])
    try:
        for _depth, role, entry in graph.walk():
            if isinstance(entry.obj, AbstractLims) and entry.obj.outbox is not None and id(entry.obj) not in found:
                found[id(entry.obj)] = (role or entry.obj.name, entry.obj)
        if not found:
            print(f"no LIMS object with an outbox in {args.config}")
            return 0
        report: list[dict[str, Any]] = []
        for role, lims in found.values():
            outbox = lims.outbox
            if outbox is None:  # never: only objects with an outbox were kept
                continue
            delivered = outbox.replay() if args.action == "replay" else None
            status = outbox.status()
            row = {"object": role, "class": type(lims).__name__, "file": str(outbox.path), **status.as_dict()}
            if delivered is not None:
                row["delivered_now"] = delivered
            if args.records:
                row["records"] = [
                    {"seq": r.seq, "kind": r.kind, "status": r.status, "attempts": r.attempts, "error": r.last_error}
                    for r in outbox.records()
                    if r.status != "delivered"
                ]
            report.append(row)
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            now = time.time()
            for row in report:
                oldest = row["oldest_pending"]
                age = "-" if oldest is None else f"{now - oldest:.0f} s"
                print(f"{row['object']} ({row['class']}): {row['file']}")
                if "delivered_now" in row:
                    print(f"  delivered now: {row['delivered_now']}")
                print(f"  pending: {row['pending']}   failed: {row['failed']}   delivered: {row['delivered']}")
                print(f"  oldest pending: {age}   last error: {row['last_error'] or '-'}")
                for record in row.get("records", []):
                    print(
                        f"    #{record['seq']} {record['kind']} {record['status']} "
                        f"({record['attempts']} attempt(s)) {record['error'] or ''}"
                    )
        return 1 if any(e["pending"] for e in report) else 0
    finally:
        for _role, lims in found.values():
            lims.close_outbox()
        graph.close()


def run_emulate(args: argparse.Namespace) -> int:
    """Runs an emulated server in the foreground until interrupted."""
    import signal
    import threading

    from mxcubecore_lims.testing.ldap_seed import DEFAULT_SEED, load_seed_yaml
    from mxcubecore_lims.testing.slapd import SlapdServer

    if args.seed and args.seed.endswith((".ldif", ".LDIF")):
        server = SlapdServer(seed=None, ldif=[Path(args.seed)], tls=args.tls, port=args.port, suffix=args.suffix)
    else:
        seed = load_seed_yaml(args.seed) if args.seed else DEFAULT_SEED
        server = SlapdServer(seed=seed, tls=args.tls, port=args.port, suffix=args.suffix)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with server:
        print(f"LDAP server (slapd) for {server.base_dn}")
        print(f"  ldap:   {server.uri}")
        if args.tls:
            print(f"  ldaps:  {server.ldaps_uri}   (CA: {server.ca_file})")
        print(f"  root:   {server.root_dn}")
        print(f"  search: {server.service_dn}")
        if server.seed is not None:
            print("  users:  " + ", ".join(user.uid for user in server.seed.users))
        print(f"  log:    {server.log_file}")
        print("Ctrl-C to stop.", flush=True)
        try:
            while not stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Builds the argument parser of the ``mxcubecore-lims`` command."""
    parser = argparse.ArgumentParser(prog="mxcubecore-lims", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="report every problem in a configuration directory")
    check.add_argument("directory")
    check.add_argument("--lookup", action="append", help="further lookup directory (repeatable)")
    check.add_argument("--lax", action="store_true", help="accept undeclared properties")
    check.add_argument(
        "--our-loader-only",
        action="store_true",
        help="the directory is loaded only by mxcubecore-lims (e.g. 'mxcubecore-lims web'): do not warn "
        "about what mxcubecore's own loader would drop or read differently",
    )
    check.set_defaults(run=run_check)

    convert = commands.add_parser("convert", help="convert an XML hardware-object file to YAML")
    convert.add_argument("file")
    convert.add_argument("-o", "--output", help="output file ('-' for standard output; default FILE.yaml)")
    convert.add_argument("--lookup", action="append", help="further lookup directory (repeatable)")
    convert.add_argument("--force", action="store_true", help="overwrite an existing output file")
    convert.add_argument(
        "--replace", action="store_true", help="write FILE.yaml beside FILE.xml and keep the XML as FILE.xml.bak"
    )
    convert.set_defaults(run=run_convert)

    demo = commands.add_parser("demo", help="load the emulated beamline and print it")
    demo.add_argument("--config", help="configuration directory (default: configuration/demo)")
    demo.add_argument("-v", "--verbose", action="store_true", help="show mxcubecore's INFO log")
    demo.add_argument("--describe", action="store_true", help="only load and print the object graph")
    demo.add_argument("--collections", type=int, default=8, help="collections to run (default 8)")
    demo.add_argument(
        "--broker", action="store_true", help="the broker route: a real ActiveMQ, two ingesters write ICAT and ISPyB"
    )
    demo.set_defaults(run=run_demo)

    web = commands.add_parser("web", help="run mxcubeweb on the emulated beamline with one of our LIMS objects")
    web.add_argument("--config", help="configuration lookup path, DIR[:DIR...] (default: configuration/demo)")
    web.add_argument(
        "--lims", default="esrf", help="LIMS object in the lims role: esrf, icat, user, proposal, or a file name"
    )
    web.add_argument("--port", type=int, default=8081, help="HTTP port on 127.0.0.1 (default 8081)")
    web.add_argument("--no-emulators", action="store_true", help="do not start the emulated ISPyB, ICAT and slapd")
    web.add_argument("-v", "--verbose", action="store_true", help="mxcubeweb's INFO log")
    web.set_defaults(run=run_web)

    describe = commands.add_parser("describe", help="print every configuration key of one of our objects")
    describe.add_argument("cls", nargs="?", help="class name, e.g. ICATLIMS or ProposalTypeISPyBLims")
    describe.add_argument("--all", action="store_true", help="every object: the configuration reference page")
    describe.set_defaults(run=run_describe)

    migrate = commands.add_parser("migrate", help="migrate ISPyBClient-style LIMS objects to mxcubecore-lims")
    migrate.add_argument("path", help="configuration directory (or one object file)")
    migrate.add_argument("--dry-run", action="store_true", help="print a unified diff; write nothing")
    migrate.add_argument("--to", choices=["xml", "yaml"], default="xml", help="format of migrated objects")
    migrate.add_argument("--lookup", action="append", help="more directories on the lookup path")
    migrate.set_defaults(run=run_migrate)

    outbox = commands.add_parser("outbox", help="show or deliver the LIMS objects' journalled writes")
    outbox.add_argument("action", choices=["status", "replay"])
    outbox.add_argument("--config", required=True, help="beamline configuration directory")
    outbox.add_argument("--lookup", action="append", help="more directories on the lookup path")
    outbox.add_argument("--records", action="store_true", help="list the waiting and failed records")
    outbox.add_argument("--json", action="store_true", help="print JSON")
    outbox.set_defaults(run=run_outbox)

    mxlims = commands.add_parser("mxlims", help="MXLIMS documents: validate them, print the JSON Schema")
    mxlims_actions = mxlims.add_subparsers(dest="action", required=True)
    validate = mxlims_actions.add_parser("validate", help="check MXLIMS 0.6.13 documents; exit 1 if any is invalid")
    validate.add_argument("files", nargs="+", metavar="FILE")
    mxlims_actions.add_parser("schema", help="print the JSON Schema (draft 2020-12) generated from our models")
    sheet = mxlims_actions.add_parser("sheet", help="turn a shipment spreadsheet (TSV/CSV) into an MXLIMS document")
    sheet.add_argument("file", metavar="SHEET")
    sheet.add_argument("--layout", default="maxiv", help="built-in layout name or a layout .tsv file (default maxiv)")
    sheet.add_argument("--proposal", required=True, help="the shipment's proposal code, e.g. MX415")
    sheet.add_argument("-o", "--output", help="output file (default: standard output)")
    shipment = mxlims_actions.add_parser(
        "import",
        help="create an MXLIMS shipment's samples in the configured LIMS (password: $MXCUBECORE_LIMS_PASSWORD)",
    )
    shipment.add_argument("file", metavar="FILE")
    shipment.add_argument("--config", required=True, help="beamline configuration directory")
    shipment.add_argument("--lookup", action="append", help="more directories on the lookup path")
    shipment.add_argument("--user", help="login name (default: $MXCUBECORE_LIMS_USER)")
    shipment.add_argument("--session", help="session id (default: the user's only session)")
    export = mxlims_actions.add_parser(
        "export",
        help="one session's samples and collections, read back from the configured LIMS, as MXLIMS",
    )
    export.add_argument("--config", required=True, help="beamline configuration directory")
    export.add_argument("--lookup", action="append", help="more directories on the lookup path")
    export.add_argument("--user", help="login name (default: $MXCUBECORE_LIMS_USER)")
    export.add_argument("--session", required=True, help="session id (ISPyB sessionId, ICAT investigation id)")
    export.add_argument("-o", "--output", help="output file (default: standard output)")
    mxlims.set_defaults(run=run_mxlims)

    record = commands.add_parser(
        "record", help="one session's record, read back from the LIMS and the outbox, as an HTML report"
    )
    record.add_argument("--config", required=True, help="beamline configuration directory")
    record.add_argument("--lookup", action="append", help="more directories on the lookup path")
    record.add_argument("--user", help="login name (default: $MXCUBECORE_LIMS_USER)")
    record.add_argument("--session", required=True, help="session id (ISPyB sessionId, ICAT investigation id)")
    record.add_argument("-o", "--output", required=True, help="the HTML report to write")
    record.add_argument("--mxlims", help="also write the session's MXLIMS results document here")
    record.set_defaults(run=run_record)

    add_ingest_command(commands)

    emulate = commands.add_parser("emulate", help="run an emulated LIMS-side server on loopback")
    servers = emulate.add_subparsers(dest="server", required=True)
    ldap = servers.add_parser("ldap", help="a real slapd with test users")
    ldap.add_argument("--port", type=int, help="ldap:// port (default: a free one)")
    ldap.add_argument("--seed", help="users and groups: a YAML seed file or an LDIF file")
    ldap.add_argument("--suffix", default="dc=example,dc=org", help="database suffix")
    ldap.add_argument("--tls", action="store_true", help="also serve ldaps:// and StartTLS with a test CA")
    ldap.set_defaults(run=run_emulate)
    # Listed for --help only: main() hands "emulate ispyb ..." to the emulator's parser.
    servers.add_parser("ispyb", help="the four ISPyB SOAP services (SQLite state, YAML fixture)")
    servers.add_parser("icat", help="the ICAT SOAP API python-icat speaks (SQLite state, YAML fixture)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["emulate", "ispyb"]:
        # Its options (and its --help) belong to the emulator's own parser:
        # argparse cannot hand "--port" through a sub-command untouched.
        from mxcubecore_lims.testing.ispyb.__main__ import main as ispyb_main

        return ispyb_main(argv[2:])
    if argv[:2] == ["emulate", "icat"]:
        from mxcubecore_lims.testing.icat.__main__ import main as icat_main

        return icat_main(argv[2:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except LimsConfigError as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
