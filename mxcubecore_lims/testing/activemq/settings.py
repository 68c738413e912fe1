"""What a test broker is set to, and where it is: addresses, accounts and run-directory files."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from mxcubecore_lims.testing.activemq.config import BrokerConfig
from mxcubecore_lims.testing.activemq.errors import ActiveMqError
from mxcubecore_lims.testing.activemq.installation import ActiveMqInstallation

__all__ = ["DEFAULT_READY_TIMEOUT", "DEFAULT_USERS", "BrokerSettings"]

#: The fixture's account: ``mxcube`` / ``broker-pw``.
DEFAULT_USERS: Mapping[str, str] = MappingProxyType({"mxcube": "broker-pw"})

#: Seconds to wait for STOMP to answer: a JVM starts in 2-5 s on an idle
#: machine, many times that on a busy two-core one.
DEFAULT_READY_TIMEOUT = 90.0

# STOMP 1.2 does not escape CONNECT headers, so these cannot be in a login.
_UNSENDABLE = ("\r", "\n", "\0")


class BrokerSettings:
    """The arguments, addresses, accounts and files of an :class:`~.broker.ActiveMqBroker`.

    The arguments are documented on :class:`~.broker.ActiveMqBroker`, which
    adds the process (:mod:`.process`) and the life cycle.
    """

    def __init__(
        self,
        run_dir: str | Path | None = None,
        *,
        port: int | None = None,
        users: Mapping[str, str] | None = DEFAULT_USERS,
        openwire: bool = False,
        openwire_port: int | None = None,
        host: str = "127.0.0.1",
        broker_name: str = "mxcubecore-lims-test",
        advisory_support: bool = False,
        heap_mb: int = 128,
        ready_timeout: float = DEFAULT_READY_TIMEOUT,
        stop_timeout: float = 30.0,
        environ: Mapping[str, str] | None = None,
        keep_directory: bool = False,
    ) -> None:
        self.users: dict[str, str] = dict(users or {})
        for name, password in self.users.items():
            if not name or any(bad in name + password for bad in _UNSENDABLE):
                raise ActiveMqError(f"user {name!r}: empty, or a CR, LF or NUL in the name or password")
        self.host = host
        self.broker_name = broker_name
        self.advisory_support = advisory_support
        self.heap_mb = heap_mb
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.keep_directory = keep_directory
        self.run_dir: Path | None = Path(run_dir) if run_dir is not None else None
        self.start_count = 0
        #: Seconds the last successful start took, from launch to CONNECTED.
        self.startup_seconds: float | None = None
        self._owns_run_dir = run_dir is None
        self._environ = dict(os.environ if environ is None else environ)
        self._requested_ports = (port, openwire_port)
        self._openwire = openwire or openwire_port is not None
        self._port: int | None = None
        self._openwire_port: int | None = None
        self._installation: ActiveMqInstallation | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._closed = False

    # ------------------------------------------------------------------
    # addresses and accounts

    @property
    def port(self) -> int:
        """The STOMP port (chosen on the first start, kept by restarts)."""
        if self._port is None:
            raise ActiveMqError("the broker has no port before its first start()")
        return self._port

    @property
    def openwire_port(self) -> int:
        """The OpenWire port (brokers created with ``openwire=True`` only)."""
        if not self._openwire:
            raise ActiveMqError("this broker was created without openwire=True: no OpenWire port")
        if self._openwire_port is None:
            raise ActiveMqError("the broker has no port before its first start()")
        return self._openwire_port

    @property
    def stomp_url(self) -> str:
        """``stomp://127.0.0.1:<port>``."""
        return f"stomp://{self.host}:{self.port}"

    @property
    def openwire_url(self) -> str:
        """``tcp://127.0.0.1:<openwire_port>`` (OpenWire brokers only)."""
        return f"tcp://{self.host}:{self.openwire_port}"

    @property
    def host_and_ports(self) -> list[tuple[str, int]]:
        """``[(host, port)]``, as ``stomp.Connection(host_and_ports=...)`` wants it."""
        return [(self.host, self.port)]

    @property
    def username(self) -> str | None:
        """The first user's name (``mxcube`` by default), or ``None`` without authentication."""
        return next(iter(self.users), None)

    @property
    def password(self) -> str | None:
        """The first user's password (``broker-pw`` by default), or ``None``."""
        name = self.username
        return None if name is None else self.users[name]

    def config(self) -> BrokerConfig:
        """Returns the configuration written before each start (override to change it)."""
        return BrokerConfig(
            data_dir=self.data_dir,
            stomp_port=self.port,
            host=self.host,
            openwire_port=self._openwire_port if self._openwire else None,
            users=self.users,
            broker_name=self.broker_name,
            advisory_support=self.advisory_support,
        )

    # ------------------------------------------------------------------
    # files

    def _dir(self) -> Path:
        if self.run_dir is None:
            raise ActiveMqError("the broker has no run directory before its first start()")
        return self.run_dir

    @property
    def conf_dir(self) -> Path:
        """``conf/``: ``activemq.xml`` and the log4j files (``activemq.conf``)."""
        return self._dir() / "conf"

    @property
    def config_file(self) -> Path:
        """``conf/activemq.xml``."""
        return self.conf_dir / "activemq.xml"

    @property
    def data_dir(self) -> Path:
        """``data/`` (``activemq.data``), with the KahaDB store in ``data/kahadb``; kept by restarts."""
        return self._dir() / "data"

    @property
    def log_file(self) -> Path:
        """``activemq.log``: the JVM's output over every start, with a header line per start and stop."""
        return self._dir() / "activemq.log"

    def log_size(self) -> int:
        """Returns the log's current size, to pass to :meth:`log_text` later."""
        try:
            return self.log_file.stat().st_size
        except (OSError, ActiveMqError):
            return 0

    def log_text(self, since: int = 0) -> str:
        """Returns the broker's output, from byte offset ``since`` on."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(since)
                return log.read().decode("utf-8", errors="replace")
        except (OSError, ActiveMqError):
            return ""
