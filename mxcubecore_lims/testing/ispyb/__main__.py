"""Runs the emulated ISPyB server in the foreground.

``python -m mxcubecore_lims.testing.ispyb --db ispyb.sqlite --port 8080`` then
point a real MXCuBE at the printed ``ws_root``. Stop with Ctrl-C.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all(thread=False)

import argparse  # noqa: E402
import sys  # noqa: E402

from mxcubecore_lims.testing.ispyb.fixture import DEFAULT_FIXTURE  # noqa: E402
from mxcubecore_lims.testing.ispyb.server import (  # noqa: E402
    CRIMS_PASSWORD,
    CRIMS_USERNAME,
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    EmulatedIspyb,
)
from mxcubecore_lims.testing.loopback import serve_until_stopped  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """``mxcubecore-lims emulate ispyb``: serves until Ctrl-C or SIGTERM; the exit code."""
    parser = argparse.ArgumentParser(prog="mxcubecore-lims emulate ispyb")
    parser.add_argument("--db", default=":memory:", help="SQLite file (default: in memory)")
    parser.add_argument("--fixture", default=str(DEFAULT_FIXTURE), help="YAML fixture, or ''")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    args = parser.parse_args(argv)
    server = EmulatedIspyb(
        db_path=args.db,
        fixture=args.fixture or None,
        username=args.username,
        password=args.password,
        host=args.host,
        port=args.port,
    ).start()
    print(f"ws_root: {server.root}", flush=True)
    print(f"web-service account: {args.username} (password as given)", flush=True)
    print(f"CRIMS account: {CRIMS_USERNAME}/{CRIMS_PASSWORD}", flush=True)
    return serve_until_stopped(server)


if __name__ == "__main__":
    sys.exit(main())
