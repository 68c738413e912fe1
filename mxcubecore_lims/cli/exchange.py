"""The ``mxlims`` and ``record`` sub-commands: MXLIMS documents in and out, and the session record."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mxcubecore_lims.errors import LimsConfigError

__all__ = ["run_mxlims", "run_record"]


def _export_mxlims(args: argparse.Namespace) -> int:
    from gevent import monkey

    monkey.patch_all(thread=False)
    from mxcubecore_lims.config.exchange import export_from_configured_lims
    from mxcubecore_lims.errors import LimsError

    try:
        document = export_from_configured_lims([args.config, *(args.lookup or [])], args.session, args.user)
    except LimsConfigError:
        raise  # main() prints it and exits 2
    except LimsError as error:
        print(f"session {args.session}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if args.output in (None, "-"):
        sys.stdout.write(document.to_json() + "\n")
    else:
        print(f"{document.write(args.output)}: {len(document)} objects")
    return 0


def run_record(args: argparse.Namespace) -> int:
    """Builds one session's record from the configured LIMS and writes the HTML report (and MXLIMS results)."""
    from gevent import monkey

    monkey.patch_all(thread=False)
    from mxcubecore_lims.config.exchange import configured_lims
    from mxcubecore_lims.errors import LimsError
    from mxcubecore_lims.HardwareObjects.AbstractLims import AbstractLims
    from mxcubecore_lims.record.builder import build_record
    from mxcubecore_lims.record.writer import write_record

    config = [args.config, *(args.lookup or [])]
    try:
        # Looking at the journals must not deliver them.
        with AbstractLims.replay_off(), configured_lims(config, args.user, None, args.session, choose=False) as lims:
            record = build_record(lims, args.session)
    except LimsConfigError:
        raise  # main() prints it and exits 2
    except LimsError as error:
        print(f"session {args.session}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    written = write_record(record, Path(args.output), Path(args.mxlims) if args.mxlims else None)
    for path in written:
        print(path)
    for what, why in record.problems.items():
        print(f"not in the record: {what}: {why}", file=sys.stderr)
    return 0


def run_mxlims(args: argparse.Namespace) -> int:
    """``mxlims validate``, ``schema``, ``sheet``, ``import`` and ``export`` (see ``build_parser``)."""
    from mxcubecore_lims.errors import MxlimsInvalidDocumentError
    from mxcubecore_lims.mxlims.document import load_document
    from mxcubecore_lims.mxlims.schema import document_schema_text

    if args.action == "schema":
        sys.stdout.write(document_schema_text())
        return 0
    if args.action == "sheet":
        from mxcubecore_lims.errors import MxlimsSpreadsheetError
        from mxcubecore_lims.mxlims.spreadsheets import read_spreadsheet

        try:
            document = read_spreadsheet(args.file, args.layout, proposal_code=args.proposal)
        except MxlimsSpreadsheetError as error:
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
            return 1
        if args.output in (None, "-"):
            sys.stdout.write(document.to_json() + "\n")
        else:
            document.write(args.output)
        return 0
    if args.action == "import":
        from gevent import monkey

        monkey.patch_all(thread=False)
        from mxcubecore_lims.config.exchange import import_into_configured_lims
        from mxcubecore_lims.errors import LimsError

        try:
            document = load_document(args.file)
            config = [args.config, *(args.lookup or [])]
            report = import_into_configured_lims(config, document, args.user, None, args.session)
        except LimsConfigError:
            raise  # main() prints it and exits 2
        except LimsError as error:
            print(f"{args.file}: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
        print(report.summary())
        return 0
    if args.action == "export":
        return _export_mxlims(args)
    failed = 0
    for name in args.files:
        try:
            document = load_document(name)
        except MxlimsInvalidDocumentError as error:
            failed += 1
            for problem in error.problems:
                shown = repr(problem.value)
                shown = shown if len(shown) <= 80 else shown[:77] + "..."
                print(f"{name}: {problem.pointer}: {problem.reason} (got {shown}) [{type(problem).__name__}]")
            continue
        unknown = f"; kept unknown top-level keys {', '.join(document.extra)}" if document.extra else ""
        print(f"{name}: valid MXLIMS {document.version} ({len(document)} objects{unknown})")
    return 1 if failed else 0
