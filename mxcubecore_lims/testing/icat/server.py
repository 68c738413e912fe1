"""The emulated ICAT SOAP server (reference ``icat.md`` §1, §7b).

:class:`EmulatedIcat` serves ``/ICATService/ICAT`` on a loopback port from a
gevent WSGI server in the calling process, so python-icat connects to it
exactly as to a real icat.server::

    with EmulatedIcat() as icat_server:             # in-memory, default fixture
        client = icat.Client(icat_server.url, checkCert=False)
        client.login("simple", {"username": "jdoe", "password": "jdoe-pw"})
        ...
        icat_server.store.find("Dataset")          # what the client stored

Wire behaviour:

* ``GET …/ICAT?wsdl`` and ``GET …/ICAT?xsd=1`` return the generated WSDL and
  schema; ``POST …/ICAT`` runs a document/literal wrapped SOAP 1.1 operation;
* entities come back with ``xsi:type`` and only the relations INCLUDE asked
  for; null attributes are omitted;
* errors are SOAP faults (HTTP 500) with an ``IcatException`` detail whose
  ``type`` python-icat maps to its exception classes.

The server is assembled from one module per job: :mod:`.wsgi` (HTTP and
SOAP dispatch), :mod:`.envelopes` (responses and faults), :mod:`.beans`
(entities on the wire), :mod:`.operations` (what each ICAT operation does)
and :mod:`.jpql` (the query engine), over :mod:`.store` and :mod:`.auth`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mxcubecore_lims.errors import LimsError
from mxcubecore_lims.testing.icat.fixture import DEFAULT_FIXTURE, load_fixture
from mxcubecore_lims.testing.icat.operations import API_VERSION, IcatService
from mxcubecore_lims.testing.icat.store import IcatStore
from mxcubecore_lims.testing.icat.wsgi import SERVICE_PATH, IcatApp
from mxcubecore_lims.testing.loopback import LoopbackServer

__all__ = [
    "API_VERSION",
    "DEFAULT_AUTHENTICATORS",
    "DEFAULT_ROOT_USERS",
    "SERVICE_PATH",
    "EmulatedIcat",
    "IcatServerError",
]


#: ``plugin -> {username: password}`` of the default fixture's people.
DEFAULT_AUTHENTICATORS: dict[str, dict[str, str]] = {
    "simple": {
        "root": "root-pw",
        "alice": "alice-pw",
        "bob": "bob-pw",
        "staff": "staff-pw",
        "nobody": "nobody-pw",
    },
}
DEFAULT_ROOT_USERS = ("simple/root",)


class IcatServerError(LimsError):
    """The emulated ICAT server could not be started or used."""


class EmulatedIcat(LoopbackServer):
    """An emulated ICAT server on a loopback port.

    Args:
        db_path: SQLite file holding the catalogue and sessions (reused when
            it exists, so state survives restarts), or ``":memory:"``.
        fixture: YAML fixture (path or parsed mapping) loaded when the
            catalogue is empty; ``None`` for an empty catalogue. Defaults to
            the shipped fixture (facility ESRF, beamline ``ID-DEMO``).
        authenticators: ``plugin -> {username: password}``; the fixture's
            ``logins`` when omitted (else the default fixture's people).
        root_users: ICAT user names with every right.
        session_minutes: Lifetime of a login session.
        host: Address to bind (loopback by default).
        port: Port to bind; 0 picks a free one.

    Attributes:
        store: The :class:`~mxcubecore_lims.testing.icat.store.IcatStore`.
    """

    name = "emulated ICAT"
    error = IcatServerError

    def __init__(
        self,
        db_path: str | Path = ":memory:",
        fixture: str | Path | Mapping[str, Any] | None = DEFAULT_FIXTURE,
        authenticators: Mapping[str, Mapping[str, str]] | None = None,
        root_users: Iterable[str] = DEFAULT_ROOT_USERS,
        session_minutes: float = 120.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.store = IcatStore(db_path, session_minutes)
        logins: dict[str, dict[str, str]] = {}
        if fixture is not None:
            logins = load_fixture(self.store, fixture, load_rows=self.store.is_empty())
        self.service = IcatService(self.store, authenticators or logins or DEFAULT_AUTHENTICATORS, root_users)
        self._app = IcatApp(self.service)
        super().__init__(self._app, host, port)

    @property
    def latency(self) -> float:
        """Seconds every operation waits before it runs (set it to emulate a slow ICAT)."""
        return self._app.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._app.latency = float(seconds)

    @property
    def calls(self) -> list[tuple[str, str]]:
        """``(operation, user)`` of every operation served (user set for login)."""
        return self.service.calls

    def close_state(self) -> None:
        """Closes the catalogue."""
        self.store.close()

    @property
    def service_url(self) -> str:
        """The SOAP endpoint."""
        return self.url + SERVICE_PATH
