"""The publishing side of the broker route: one connection, a message counts once the broker has it."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping

import gevent.lock

from mxcubecore_lims.broker.settings import BrokerSettings
from mxcubecore_lims.broker.stomp import StompConnection
from mxcubecore_lims.errors import BrokerAuthenticationError, BrokerError, BrokerUnavailableError

__all__ = ["Publisher"]

log = logging.getLogger(__name__)


class Publisher:
    """Publishes persistent messages and waits for each receipt.

    Called by the outbox's delivery of a record: a publish that raises leaves
    the record pending (every failure is a :class:`BrokerUnavailableError`,
    a refused login included, so nothing is marked failed because of the
    broker), and the outbox replays it later. The connection is made on
    first use and again after any failure.

    Args:
        settings: Where the broker is and how to log in.
        name: Who publishes, for the broker's client id and the log.
    """

    def __init__(self, settings: BrokerSettings, name: str = "mxcubecore-lims") -> None:
        self.settings = settings
        self.name = name
        self._connection: StompConnection | None = None
        # One frame exchange at a time on the connection (greenlets share it).
        self._lock = gevent.lock.RLock()
        self._login_refused = False

    def publish(self, destination: str, body: bytes, headers: Mapping[str, str]) -> None:
        """Sends one message and returns once the broker's receipt is in.

        Raises:
            BrokerUnavailableError: No broker took it (down, refused the login,
                or the connection broke before the receipt).
        """
        with self._lock:
            try:
                connection = self._connect()
                connection.send(destination, body, headers, receipt=True)
            except BrokerAuthenticationError as error:
                if not self._login_refused:
                    log.error("%s: the broker refused the login: %s (messages wait in the outbox)", self.name, error)
                self._login_refused = True
                self._drop()
                raise BrokerUnavailableError(f"the broker refused the login: {error}") from error
            except BrokerError as error:
                self._drop()
                if isinstance(error, BrokerUnavailableError):
                    raise
                raise BrokerUnavailableError(f"the broker did not take the message: {error}") from error
            self._login_refused = False

    def _connect(self) -> StompConnection:
        if self._connection is not None and self._connection.connected:
            return self._connection
        connection = self.settings.connection(client_id=None)
        connection.connect()
        log.info("%s: connected to the broker at %s from %s", self.name, connection.url, socket.gethostname())
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        """Disconnects (waiting briefly for the broker to confirm)."""
        with self._lock:
            if self._connection is not None:
                self._connection.disconnect(timeout=2.0)
                self._connection = None
