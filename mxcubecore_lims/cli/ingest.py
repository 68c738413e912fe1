"""``mxcubecore-lims ingest --config FILE``: consume the broker's LIMS messages until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import sys

from mxcubecore_lims.errors import BrokerAuthenticationError, LimsAuthenticationError

__all__ = ["add_ingest_command", "run_ingest"]

#: Exit status of a refused login (broker or ICAT): starting again would not help.
EXIT_REFUSED = 3


def run_ingest(args: argparse.Namespace) -> int:
    """Runs one ingester; 0 after a clean stop, 2 for a bad configuration, 3 for a refused login."""
    from mxcubecore_lims.ingest import build_ingester, read_settings

    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    settings = read_settings(args.config)
    try:
        ingester = build_ingester(settings)
        ingester.install_signal_handlers()
        stats = ingester.run(max_messages=args.max_messages)
    except (BrokerAuthenticationError, LimsAuthenticationError) as error:
        print(f"ingest: login refused, not retrying: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_REFUSED
    print(
        f"ingest: stopped; {stats.written} written, {stats.dead_lettered} dead-lettered, "
        f"{stats.reconnects} reconnections",
        file=sys.stderr,
    )
    return 0


def add_ingest_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declares ``ingest`` on the command line."""
    ingest = commands.add_parser(
        "ingest", help="write the LIMS messages on the broker to ICAT and ISPyB (until SIGTERM)"
    )
    ingest.add_argument("--config", required=True, help="the ingester's YAML configuration (broker:, icat:, ispyb:)")
    ingest.add_argument("--max-messages", type=int, help="stop after this many messages (default: run until SIGTERM)")
    ingest.add_argument("--log-level", default="info", help="debug, info, warning or error (default: info)")
    ingest.set_defaults(run=run_ingest)
