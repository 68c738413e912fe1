"""``mxcubecore-lims web``: mxcubeweb's server on the emulated beamline.

Starts the emulated ISPyB, ICAT and a real slapd on the demo's ports (unless
told the LIMS servers run elsewhere), writes the overlay that puts the chosen
LIMS object in the ``lims`` role (:mod:`~mxcubecore_lims.web.overlay`), then
runs mxcubeweb's own ``build_server_and_config`` and server with our loader in
place of mxcubecore's (:mod:`~mxcubecore_lims.web.patches`). It serves until
Ctrl-C or SIGTERM, then stops mxcubeweb, closes the beamline and the servers.
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["ACCOUNTS", "run_web"]

#: What a person can log in with, per ``--lims`` choice (the emulators' fixtures).
ACCOUNTS: dict[str, list[str]] = {
    "esrf": [
        "alice / alice-pw   (ICAT user on MX-415, MX-2345; ISPyB follows MX415)",
        "bob / bob-pw       (ICAT user on MX-415, MX-3456)",
        "staff / staff-pw   (instrument scientist of ID-DEMO: every investigation there)",
    ],
    "icat": [
        "alice / alice-pw   (investigations MX-415, MX-2345)",
        "bob / bob-pw       (investigations MX-415, MX-3456)",
        "staff / staff-pw   (instrument scientist of ID-DEMO)",
    ],
    "user": [
        "alice / alice-secret   (LDAP account; ISPyB names her proposal MX415)",
    ],
    "proposal": [
        "mx415 / mx415-password     (proposal MX415, sessions on ID-DEMO)",
        "idtest0 / idtest0-password (proposal IDTEST0)",
        "opid30 / opid30-password   (in-house proposal OPID30)",
    ],
}


def _api_examples(base: str) -> list[str]:
    jar = "-b /tmp/mx.cookies -c /tmp/mx.cookies"
    api = f"{base}/mxcube/api/v0.1"
    return [
        f'curl {jar} -H \'Content-Type: application/json\' -d \'{{"proposal": "alice", "password": "alice-pw"}}\' {api}/login/',
        f"curl {jar} {api}/login/login_info",
        f"curl {jar} -H 'Content-Type: application/json' -d '{{\"proposal_number\": \"<session id>\"}}' {api}/lims/proposal",
        f"curl {jar} '{api}/lims/lims_samples?lims=<LIMS name from login_info>'",
        f"curl {jar} {api}/login/signout",
    ]


def run_web(
    lookup: list[Path],
    lims: str,
    port: int,
    emulators: bool = True,
    log_level: str = "WARNING",
    out: Callable[[str], None] = print,
) -> int:
    """Runs mxcubeweb on the configuration until stopped.

    Args:
        lookup: The configuration's lookup path, best first.
        lims: A ``--lims`` choice (``esrf``, ``icat``, ``user``, ``proposal``)
            or a LIMS object file on the lookup path.
        port: mxcubeweb's HTTP port on 127.0.0.1.
        emulators: Start the emulated ISPyB, ICAT and slapd on the demo ports.
        log_level: mxcubeweb's log level.
        out: Where the banner goes.

    Returns:
        The exit status (0 after a clean stop).
    """
    from gevent import monkey

    monkey.patch_all(thread=False)
    import gevent

    from mxcubecore_lims.web import patches
    from mxcubecore_lims.web.overlay import write_overlay

    work = Path(tempfile.mkdtemp(prefix="mxcubecore-lims-web-"))
    # Journals of this run's LIMS objects, unless the caller keeps them elsewhere.
    os.environ.setdefault("MXCUBECORE_LIMS_STATE_DIR", str(work / "state"))
    servers: Any | None = None
    server: Any | None = None
    try:
        if emulators:
            from mxcubecore_lims.testing.demo_servers import DemoServers

            servers = DemoServers().start()
            for line in servers.describe():
                out(f"emulated {line}")
        overlay = write_overlay(work / "config", lookup, lims, port)
        import mxcubeweb

        with patches.applied():
            server, cfg = mxcubeweb.build_server_and_config(
                argv=["-r", overlay.lookup_string, "-L", log_level, "-s", str(work / "no-front-end")]
            )
            base = f"http://127.0.0.1:{port}"
            out(f"mxcubeweb {mxcubeweb_version()} on {base} (API under {base}/mxcube/api/v0.1)")
            out(f"lims role: {overlay.lims_file}; configuration: {overlay.lookup_string}")
            for account in ACCOUNTS.get(lims, []):
                out(f"  login: {account}")
            out("mxcubeweb's front end is not on PyPI; call the API, for example:")
            for example in _api_examples(base):
                out(f"  {example}")
            out("Ctrl-C to stop.")
            gevent.signal_handler(signal.SIGTERM, server.flask_socketio.stop)
            try:
                server.run(cfg)
            except KeyboardInterrupt:
                pass
    finally:
        if server is not None:
            server.close()
        while patches.loaded_graphs:
            patches.loaded_graphs.pop().close()
        if servers is not None:
            servers.close()
    return 0


def mxcubeweb_version() -> str:
    """The installed mxcubeweb's version."""
    from importlib.metadata import version

    return version("mxcubeweb")
