"""``demo --broker``: the same night through a real ActiveMQ, written to the LIMS by two ingesters.

The demo configuration is copied, and its ICAT and ISPyB objects get
``delivery: broker``; Debian's ActiveMQ runs from a throw-away directory on a
free loopback port, and two ``mxcubecore-lims ingest`` processes write what the
beamline publishes into the emulated ICAT and ISPyB. When ISPyB is stopped in
the middle of the night, the beamline does not notice: its ISPyB messages wait
in the ingesters' hands (and on the broker) until ISPyB is back.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from mxcubecore_lims.testing.activemq import ActiveMqBroker
from mxcubecore_lims.testing.burst import PASSWORD_VARIABLE, BrokerAccess, IngesterPool, ingester_config

__all__ = ["BrokerNight", "broker_configuration"]

#: The demo's LIMS object files that get the broker route.
_ROUTED = ("lims_icat.xml", "lims_ispyb.xml")


def broker_configuration(directory: Path, broker: BrokerAccess) -> Path:
    """A copy of the demo configuration whose ICAT and ISPyB objects publish to ``broker``."""
    copy = Path(tempfile.mkdtemp(prefix="mxcubecore-lims-demo-broker-config-")) / directory.name
    shutil.copytree(directory, copy)
    keys = (
        "  <delivery>broker</delivery>\n"
        f"  <broker_urls>{broker.url}</broker_urls>\n"
        f"  <broker_username>{broker.username}</broker_username>\n"
        # As a site writes it: the password comes from the environment.
        f"  <broker_password>${{env:{PASSWORD_VARIABLE}}}</broker_password>\n"
    )
    for name in _ROUTED:
        path = copy / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("</object>", keys + "</object>"), encoding="utf-8")
    return copy


class BrokerNight:
    """The broker and the two ingesters of ``demo --broker``.

    Args:
        servers: The demo's emulated servers (``ispyb``, ``icat``).
        work: A directory for the ingesters' configuration and logs.
    """

    def __init__(self, servers: Any, work: Path) -> None:
        self.servers = servers
        self.work = work
        self.broker = ActiveMqBroker()
        self.access: BrokerAccess | None = None
        self.pool: IngesterPool | None = None

    def start(self, ingesters: int = 2) -> BrokerNight:
        """Starts the broker, then the ingesters."""
        import os

        self.broker.start()
        self.access = BrokerAccess(self.broker.stomp_url, self.broker.username, self.broker.password)
        os.environ[PASSWORD_VARIABLE] = str(self.broker.password)
        config = ingester_config(
            self.work / "ingest.yaml", self.access, icat_url=self.servers.icat.url, ispyb_root=self.servers.ispyb.root
        )
        self.pool = IngesterPool(config, self.access, self.work)
        self.pool.start(ingesters)
        return self

    def wait_written(self, collections: int, session_datasets: Any, timeout: float = 180.0) -> float | None:
        """Waits until ISPyB and ICAT hold every collection final; seconds waited, or None after ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            finished = [
                r
                for r in self.servers.ispyb.store.rows("DataCollection")
                if r.get("runStatus") == "Data collection successful"
            ]
            if len(finished) >= collections and len(session_datasets()) >= collections:
                return time.monotonic() - started
            time.sleep(0.3)
        return None

    def wait_until_held(self, timeout: float = 15.0) -> bool:
        """Waits until an ingester holds a message for a LIMS that does not answer (the outage, seen)."""
        deadline = time.monotonic() + timeout
        while self.pool is not None and time.monotonic() < deadline:
            if any("the LIMS does not answer" in self.pool.log_of(n) for n in range(len(self.pool.processes))):
                return True
            time.sleep(0.2)
        return False

    def describe(self) -> list[str]:
        """What ran, for the report (each ingester's count once it has stopped)."""
        lines = [f"broker: Debian ActiveMQ at {self.broker.stomp_url}"]
        if self.pool is not None:
            for number in range(len(self.pool.processes)):
                found = re.search(r"stopped; (\d+) written, (\d+) dead-lettered", self.pool.log_of(number))
                what = f"{found.group(1)} messages written, {found.group(2)} dead-lettered" if found else "running"
                lines.append(f"ingester {number}: {what} (log {self.work / f'ingester-{number}.log'})")
        return lines

    def close(self) -> list[int | None]:
        """Stops the ingesters (SIGTERM) and the broker; the ingesters' exit statuses."""
        statuses = self.pool.stop() if self.pool is not None else []
        self.broker.close()
        return statuses
