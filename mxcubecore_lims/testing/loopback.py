"""What the emulated servers share: a gevent WSGI server on a loopback port.

:class:`LoopbackServer` binds (port 0: a free one), serves from a background
greenlet, restarts on the same port (so clients configured with it find the
server again), and on :meth:`stop` also ends kept-alive connections, so a
stopped server looks down to its clients as a real one does.
:func:`serve_until_stopped` runs one in the foreground for the CLI.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

import gevent
import gevent.event
from gevent.pool import Pool
from gevent.pywsgi import WSGIServer

from mxcubecore_lims.errors import LimsError, LimsUnavailableError

__all__ = ["LoopbackServer", "serve_until_stopped"]

log = logging.getLogger(__name__)

#: Concurrent connections served (more wait for a free slot).
MAX_CONNECTIONS = 256

S = TypeVar("S", bound="LoopbackServer")


class _NoDelayWSGIServer(WSGIServer):
    """gevent's WSGI server with Nagle's algorithm off on every accepted socket.

    gevent writes a response's headers and body separately; with Nagle on, each
    kept-alive request then waits for the peer's delayed ACK (~40 ms). Whether
    accepted sockets inherit TCP_NODELAY from the listening one depends on the
    kernel, so it is set on each connection.
    """

    def handle(self, sock: socket.socket, address: Any) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # the peer already went away: the handler will see it
            pass
        super().handle(sock, address)


class LoopbackServer:
    """A WSGI application served on ``host:port`` from this process.

    Subclasses set :attr:`name` (for messages) and :attr:`error` (what using
    a stopped server raises), pass their application, and implement
    :meth:`close_state` to close their database.

    Args:
        app: The WSGI application.
        host: Address to bind (loopback by default).
        port: Port to bind; 0 picks a free one.
    """

    name = "emulated server"
    error: type[LimsError] = LimsError

    def __init__(self, app: Callable[..., Any], host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._port = port
        self._server: WSGIServer | None = None

    def start(self: S) -> S:
        """Binds the port and serves in a background greenlet."""
        if self._server is not None:
            return self
        # A pool, so that stop() also ends kept-alive connections.
        server = _NoDelayWSGIServer(
            (self.host, self._port), self.app, log=None, error_log=log, spawn=Pool(MAX_CONNECTIONS)
        )
        try:
            server.start()
        except OSError as exc:
            raise LimsUnavailableError(f"{self.name} cannot listen on {self.host}:{self._port}: {exc}") from exc
        self._port = server.server_port  # a restart reuses the same port
        self._server = server
        return self

    def stop(self) -> None:
        """Stops serving, connections included; the state stays open (see :meth:`close`)."""
        if self._server is not None:
            self._server.stop(timeout=0.5)
            self._server = None

    def close_state(self) -> None:
        """Closes what the server keeps (its database)."""

    def close(self) -> None:
        """Stops serving and closes the state."""
        self.stop()
        self.close_state()

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def running(self) -> bool:
        """Whether the server is serving now."""
        return self._server is not None

    @property
    def port(self) -> int:
        """The bound port.

        Raises:
            LimsError: The server is not running (the subclass's :attr:`error`).
        """
        if self._server is None:
            raise self.error(f"the {self.name} is not running")
        return self._port

    @property
    def url(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self.host}:{self.port}"


def serve_until_stopped(server: LoopbackServer) -> int:
    """Serves in the foreground until Ctrl-C or SIGTERM, then closes the server."""
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
