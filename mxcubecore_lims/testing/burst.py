"""Publishing beamlines and ingesters of the broker route, as separate processes.

For the broker tests, ``tools/bench_broker.py`` and ``demo --broker``:

* :func:`beamline_config` writes a configuration directory with an ESRFLIMS
  (ICAT and ISPyB members), an ICATLIMS or an ISPyB LIMS object, each member
  with ``delivery: broker`` (or ``direct``) and its own outbox file;
* ``python -m mxcubecore_lims.testing.burst publish ...`` is one beamline: it
  loads that configuration (gevent-patched, as MXCuBE is), logs in, makes
  ``count`` collections as mxcubecore's collect routine does
  (:mod:`.collect_calls`), waits until its journals have nothing pending and
  prints a JSON summary; ``--count 0`` only replays what its journals hold;
* :func:`ingester_config` writes an ingester's configuration, and
  :class:`IngesterPool` runs ``mxcubecore-lims ingest`` processes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BrokerAccess", "IngesterPool", "beamline_config", "ingester_config", "publisher_command"]

DEMO = Path(__file__).resolve().parents[2] / "configuration" / "demo"

#: The environment variable the configurations read the broker password from.
PASSWORD_VARIABLE = "MXCUBECORE_LIMS_TEST_BROKER_PASSWORD"  # noqa: S105 (the variable's name, not a password)


@dataclass(frozen=True)
class BrokerAccess:
    """Where the broker is, for the configuration files."""

    url: str
    username: str | None
    password: str | None


def _xml(cls: str, roles: str, properties: Mapping[str, str]) -> str:
    body = "".join(f"<{key}>{value}</{key}>" for key, value in properties.items())
    return f'<object class="mxcubecore_lims.HardwareObjects.{cls}">{roles}{body}</object>\n'


def _route(broker: BrokerAccess | None, outbox: Path) -> dict[str, str]:
    keys = {"outbox_file": str(outbox), "outbox_call_timeout": "2", "outbox_retry_max": "1"}
    if broker is not None:
        keys.update({"delivery": "broker", "broker_urls": broker.url, "broker_receipt_timeout": "5"})
        if broker.username:
            keys["broker_username"] = broker.username
            # The password goes through the environment, as a site would write it.
            keys["broker_password"] = "${env:" + PASSWORD_VARIABLE + "}"
    return keys


def beamline_config(
    directory: Path,
    kind: str,
    *,
    broker: BrokerAccess | None,
    icat_url: str | None = None,
    ispyb_root: str | None = None,
) -> Path:
    """A beamline configuration with one LIMS object (``esrf``, ``icat`` or ``ispyb``) at role ``lims``.

    Args:
        directory: Created if missing; its outbox journals go in it too.
        kind: ``esrf`` (ICAT and ISPyB), ``icat`` or ``ispyb``.
        broker: The broker for ``delivery: broker``; None for ``direct``.
        icat_url: The ICAT server (``esrf`` and ``icat``).
        ispyb_root: The ISPyB services' root (``esrf`` and ``ispyb``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO / "session.xml", directory / "session.xml")
    session = '<object href="/session" role="session"/>'
    icat = {
        "icat_url": str(icat_url),
        "authentication_icat_plugin": "simple",
        "connect_timeout": "5",
        "read_timeout": "10",
        **_route(broker, directory / "icat.outbox.sqlite"),
    }
    ispyb = {
        "ws_root": str(ispyb_root),
        "ws_username": "mxcube",
        "ws_password": "ispyb-password",
        "authServerType": "ispyb",
        "read_timeout": "10",
        "connect_timeout": "5",
        **_route(broker, directory / "ispyb.outbox.sqlite"),
    }
    if kind == "esrf":
        (directory / "lims-icat.xml").write_text(_xml("ICATLIMS", session, icat), encoding="utf-8")
        (directory / "lims-ispyb.xml").write_text(_xml("ProposalTypeISPyBLims", session, ispyb), encoding="utf-8")
        roles = session + '<object href="/lims-icat" role="drac"/><object href="/lims-ispyb" role="ispyb"/>'
        (directory / "lims.xml").write_text(_xml("ESRFLIMS", roles, {}), encoding="utf-8")
    elif kind == "icat":
        (directory / "lims.xml").write_text(_xml("ICATLIMS", session, icat), encoding="utf-8")
    elif kind == "ispyb":
        (directory / "lims.xml").write_text(_xml("ProposalTypeISPyBLims", session, ispyb), encoding="utf-8")
    else:
        raise ValueError(f"kind: esrf, icat or ispyb, not {kind!r}")
    (directory / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n  session: session.xml\n  lims: lims.xml\n",
        encoding="utf-8",
    )
    return directory


def ingester_config(
    path: Path,
    broker: BrokerAccess,
    *,
    icat_url: str | None = None,
    ispyb_root: str | None = None,
    retries: int = 3,
) -> Path:
    """An ingester configuration writing to the given ICAT (as ``root``) and ISPyB (its own beamline directory)."""
    lines = ["broker:", f"  urls: [{broker.url}]", "  receipt_timeout: 5"]
    if broker.username:
        lines += [f"  username: {broker.username}", "  password: ${env:" + PASSWORD_VARIABLE + "}"]
    lines += [f"retries: {retries}", "retry_wait: 0.5", "retry_wait_max: 2"]
    if icat_url:
        lines += ["icat:", f"  url: {icat_url}", "  username: root", "  password: root-pw", "  read_timeout: 10"]
    if ispyb_root:
        beamline = beamline_config(path.parent / f"{path.stem}-beamline", "ispyb", broker=None, ispyb_root=ispyb_root)
        (beamline / "lims.xml").write_text(
            (beamline / "lims.xml").read_text(encoding="utf-8").replace("</object>", "<outbox>false</outbox></object>"),
            encoding="utf-8",
        )
        lines += ["ispyb:", f"  configuration: {beamline}", "  role: lims"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _environment(password: str | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if password:
        env[PASSWORD_VARIABLE] = password
    env.update(extra or {})
    return env


def publisher_command(
    config: Path, *, first: int, count: int, data: Path, investigation: str = "", drain_timeout: float = 600.0
) -> list[str]:
    """The command line of one publishing beamline."""
    return [
        sys.executable,
        "-m",
        "mxcubecore_lims.testing.burst",
        "publish",
        "--config",
        str(config),
        "--first",
        str(first),
        "--count",
        str(count),
        "--data",
        str(data),
        "--investigation",
        investigation,
        "--drain-timeout",
        str(drain_timeout),
    ]


def start_publisher(
    config: Path,
    *,
    first: int,
    count: int,
    data: Path,
    investigation: str,
    broker: BrokerAccess,
    log: Path,
    drain_timeout: float = 600.0,
) -> subprocess.Popen[bytes]:
    """Starts one publishing beamline; its output goes to ``log``."""
    handle = open(log, "ab")
    return subprocess.Popen(
        publisher_command(
            config, first=first, count=count, data=data, investigation=investigation, drain_timeout=drain_timeout
        ),
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=_environment(broker.password, {"MXCUBECORE_LIMS_STATE_DIR": str(config)}),
    )


@dataclass
class IngesterPool:
    """``mxcubecore-lims ingest`` processes on one configuration.

    Attributes:
        config: The ingester configuration file.
        broker: For the password, passed through the environment.
        logs: Directory of each ingester's log (``ingester-N.log``).
    """

    config: Path
    broker: BrokerAccess
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, count: int = 1) -> list[subprocess.Popen[bytes]]:
        """Starts ``count`` more ingesters."""
        started = []
        for _ in range(count):
            number = len(self.processes)
            handle = open(self.logs / f"ingester-{number}.log", "ab")
            process = subprocess.Popen(
                [sys.executable, "-m", "mxcubecore_lims.cli", "ingest", "--config", str(self.config)],
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_environment(self.broker.password),
            )
            self.processes.append(process)
            started.append(process)
        return started

    def log_of(self, number: int) -> str:
        """What ingester ``number`` wrote so far."""
        return (self.logs / f"ingester-{number}.log").read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 30.0) -> list[int | None]:
        """SIGTERM to every running ingester; their exit statuses (None: killed after ``timeout``)."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        statuses: list[int | None] = []
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                statuses.append(process.wait(max(0.1, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                statuses.append(None)
        return statuses


# ---------------------------------------------------------------- the publishing process


def _report(event: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _publish(args: argparse.Namespace) -> int:
    from gevent import monkey

    monkey.patch_all(thread=False)  # as mxcubeweb does, before anything else

    from mxcubecore import HardwareRepository as HWR

    from mxcubecore_lims.config.loader import load_beamline
    from mxcubecore_lims.testing.collect_calls import collect, prefix_of

    load_beamline(Path(args.config), strict=True)
    lims = HWR.beamline.lims
    members = list(lims.members().values()) if hasattr(lims, "members") else [lims]
    sample = None
    started = time.monotonic()
    if args.count:
        if args.investigation:
            lims.login("alice", "alice-pw", False)
            session = lims.set_active_session_by_id(args.investigation)
            samples = lims.get_samples("ICAT")
            sample = samples[0] if samples else None
        else:
            lims.login("mx415", "mx415-password", False)
            session = lims.set_active_session_by_id("mx415")
        for number in range(args.first, args.first + args.count):
            directory = Path(args.data) / prefix_of(number)
            directory.mkdir(parents=True, exist_ok=True)
            collect(lims, number, directory, session.session_id, sample=sample)
    collected = time.monotonic()
    _report({"event": "collected", "count": args.count, "seconds": collected - started})
    deadline = time.monotonic() + args.drain_timeout
    while any(m.outbox is not None and m.outbox_status()["pending"] for m in members):
        if time.monotonic() > deadline:
            break
        for member in members:
            if member.outbox is not None:
                member.outbox.wait_delivered(0.5)
    statuses = {m.name: m.outbox_status() for m in members}
    _report({"event": "published", "seconds": time.monotonic() - started, "outboxes": statuses})
    for member in members:
        member.close_outbox()  # the broker connection with it
    return 0 if all(not s.get("pending") and not s.get("failed") for s in statuses.values()) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mxcubecore_lims.testing.burst publish ...``: one publishing beamline."""
    parser = argparse.ArgumentParser(prog="python -m mxcubecore_lims.testing.burst")
    commands = parser.add_subparsers(dest="command", required=True)
    publish = commands.add_parser("publish", help="make collections through a beamline configuration")
    publish.add_argument("--config", required=True)
    publish.add_argument("--first", type=int, default=0)
    publish.add_argument("--count", type=int, default=10)
    publish.add_argument("--data", required=True, help="data directory (one sub-directory per collection)")
    publish.add_argument("--investigation", default="", help="ICAT investigation id (ICAT and ESRF logins)")
    publish.add_argument("--drain-timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    return _publish(args)


if __name__ == "__main__":
    sys.exit(main())
