"""Runs the emulated ICAT server in the foreground.

``mxcubecore-lims emulate icat --db icat.sqlite --port 8181`` (or
``python -m mxcubecore_lims.testing.icat``), then point python-icat or an
``ICATLIMS`` at the printed URL. Stop with Ctrl-C.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all(thread=False)

import argparse  # noqa: E402
import sys  # noqa: E402

from mxcubecore_lims.testing.icat.fixture import DEFAULT_FIXTURE  # noqa: E402
from mxcubecore_lims.testing.icat.server import DEFAULT_ROOT_USERS, EmulatedIcat  # noqa: E402
from mxcubecore_lims.testing.loopback import serve_until_stopped  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """``mxcubecore-lims emulate icat``: serves until Ctrl-C or SIGTERM; the exit code."""
    parser = argparse.ArgumentParser(prog="mxcubecore-lims emulate icat")
    parser.add_argument("--db", default=":memory:", help="SQLite file (default: in memory)")
    parser.add_argument("--fixture", default=str(DEFAULT_FIXTURE), help="YAML fixture, or ''")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--root-user", action="append", help=f"ICAT root user (default: {DEFAULT_ROOT_USERS[0]})")
    parser.add_argument("--session-minutes", type=float, default=120.0, help="login session lifetime")
    args = parser.parse_args(argv)
    server = EmulatedIcat(
        db_path=args.db,
        fixture=args.fixture or None,
        root_users=args.root_user or DEFAULT_ROOT_USERS,
        session_minutes=args.session_minutes,
        host=args.host,
        port=args.port,
    ).start()
    print(f"url: {server.url}", flush=True)
    plugins = server.service.authenticators
    for plugin, users in sorted(plugins.items()):
        print(f"plugin {plugin}: users {', '.join(sorted(users))}", flush=True)
    return serve_until_stopped(server)


if __name__ == "__main__":
    sys.exit(main())
