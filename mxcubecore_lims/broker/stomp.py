"""A small STOMP 1.2 client for ActiveMQ, without threads: safe with and without gevent.

stomp.py reads its socket in a thread of its own and waits on threading
conditions, which breaks under MXCuBE's ``gevent.monkey.patch_all(thread=False)``.
This client does all its I/O in the caller: blocking calls on sockets of the
``socket`` and ``ssl`` modules, looked up at call time (so gevent's, once
patched: a wait then yields to the hub), each with a timeout.

One :class:`StompConnection` is used by one caller at a time: it holds no
lock, so callers (threads or greenlets) that share one must serialise their
calls. Frames that arrive while a call waits for its receipt (``MESSAGE``
frames of a subscription) are queued for :meth:`StompConnection.receive`.

Errors: :class:`~mxcubecore_lims.errors.BrokerUnavailableError` when no broker
answered, the connection was lost or a receipt did not come in time (the
connection is then closed); :class:`~mxcubecore_lims.errors.BrokerAuthenticationError`
when CONNECT is refused for the credentials; :class:`~mxcubecore_lims.errors.BrokerRefusedError`
when the broker answers ``ERROR`` (which ends a STOMP connection, so it is closed
here too); :class:`~mxcubecore_lims.errors.LimsConfigError` for a URL that is not
``stomp://``, ``stomp+ssl://``, ``tcp://`` or ``ssl://`` with a host and a port.
The password is never logged, shown by ``repr`` or put in an error message.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import socket
import ssl
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from mxcubecore_lims.broker.frames import Frame, FrameReader, encode
from mxcubecore_lims.errors import (
    BrokerAuthenticationError,
    BrokerMessageError,
    BrokerRefusedError,
    BrokerUnavailableError,
    LimsConfigError,
)

__all__ = ["StompConnection", "StompMessage"]

log = logging.getLogger(__name__)

_PLAIN_SCHEMES = frozenset({"stomp", "tcp"})
_TLS_SCHEMES = frozenset({"stomp+ssl", "ssl", "stomp+tls", "tls"})
# An ERROR in answer to CONNECT that says this is about who we are.
_AUTH_WORDS = re.compile(r"authenticat|credential|password|passcode|user|login", re.IGNORECASE)


@dataclass(frozen=True)
class StompMessage:
    """A ``MESSAGE`` frame received from a subscription.

    Attributes:
        destination: Where it was sent.
        message_id: The broker's ``message-id``.
        ack_id: The ``ack`` header (STOMP 1.2): what ACK and NACK send as ``id``.
        subscription: The subscription id it came through.
        headers: All its headers.
        body: The body bytes.
    """

    destination: str
    message_id: str
    ack_id: str
    subscription: str
    headers: dict[str, str]
    body: bytes

    @property
    def redelivered(self) -> bool:
        """Whether the broker delivered it before (ActiveMQ's ``redelivered:true``)."""
        return self.headers.get("redelivered") == "true"


@dataclass(frozen=True)
class _Url:
    host: str
    port: int
    tls: bool
    shown: str


def _parse_url(url: str) -> _Url:
    """Splits a broker URL, or raises LimsConfigError naming it (without credentials)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise LimsConfigError(f"broker URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    shown = f"{scheme}://{parts.hostname}:{port}" if parts.hostname else url
    if parts.username is not None or parts.password is not None:
        raise LimsConfigError(f"broker URL {shown!r}: give the credentials as username and password, not in the URL")
    if scheme not in _PLAIN_SCHEMES | _TLS_SCHEMES:
        raise LimsConfigError(f"broker URL {url!r}: the scheme must be stomp://, stomp+ssl://, tcp:// or ssl://")
    if not parts.hostname or port is None:
        raise LimsConfigError(f"broker URL {url!r}: a host and a port are needed (stomp://host:61613)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise LimsConfigError(f"broker URL {url!r}: no path, query or fragment is understood")
    host = parts.hostname
    shown = f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
    return _Url(host, port, scheme in _TLS_SCHEMES, shown)


class StompConnection:
    """One STOMP 1.2 connection to the first broker of a failover list that answers.

    Not thread-safe: one caller at a time (see the module docstring).

    Args:
        urls: Broker URLs, tried in order by :meth:`connect`.
        username: The ``login``, or ``None`` for none.
        password: The ``passcode``, or ``None`` for none. Never shown.
        ssl_context: For ``stomp+ssl`` URLs; default
            ``ssl.create_default_context()`` (certificates verified, host name checked).
        connect_timeout: Seconds for the TCP connect, TLS handshake and CONNECTED, per URL.
        receipt_timeout: Seconds to wait for a RECEIPT.
        heartbeat: ``(outgoing, incoming)`` heart-beat milliseconds offered; ``(0, 0)`` none.
        host: The CONNECT ``host`` header (the virtual host); default the URL's host.
        client_id: The ``client-id`` header (ActiveMQ's JMS client id), if any.

    Raises:
        LimsConfigError: No URL, or a URL that is not understood.
    """

    def __init__(
        self,
        urls: Sequence[str],
        username: str | None,
        password: str | None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 10.0,
        receipt_timeout: float = 10.0,
        heartbeat: tuple[int, int] = (0, 0),
        host: str | None = None,
        client_id: str | None = None,
    ) -> None:
        if isinstance(urls, str):
            urls = [urls]
        if not urls:
            raise LimsConfigError("no broker URL given")
        self._urls = [_parse_url(url) for url in urls]
        self._targets = ", ".join(url.shown for url in self._urls)
        self.username = username
        self._password = password
        self.ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.receipt_timeout = receipt_timeout
        self.heartbeat = heartbeat
        self.host = host
        self.client_id = client_id
        self._socket: socket.socket | None = None
        self._url: _Url | None = None
        self._reader = FrameReader()
        self._frames: deque[Frame] = deque()
        self._messages: deque[StompMessage] = deque()
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:12]
        self._send_interval = self._receive_interval = 0.0  # heart-beat seconds, ours and the broker's; 0: none
        self._last_write = self._last_read = 0.0

    # ------------------------------------------------------------ state

    @property
    def connected(self) -> bool:
        """Whether the connection is open (as far as we know: a lost one shows on the next call)."""
        return self._socket is not None

    @property
    def url(self) -> str | None:
        """The URL of the broker connected to (without credentials), or ``None``."""
        return self._url.shown if self._url is not None and self._socket is not None else None

    def __repr__(self) -> str:
        where = self.url or f"not connected, {self._targets}"
        return f"<{type(self).__name__} {where} user={self.username!r}>"

    def _scrub(self, text: str) -> str:
        """The text with the password, should a broker ever echo it, replaced by ``***``."""
        return text.replace(self._password, "***") if self._password else text

    # ------------------------------------------------------------ connecting

    def connect(self) -> None:
        """Opens the connection to the first URL that answers CONNECT with CONNECTED (if not connected yet).

        Raises:
            BrokerUnavailableError: No URL answered within ``connect_timeout`` (all are named, with why).
            BrokerAuthenticationError: A broker refused the credentials.
            BrokerRefusedError: A broker refused CONNECT otherwise, or does not speak STOMP 1.2.
        """
        if self._socket is not None:
            return
        failures: list[str] = []
        for url in self._urls:
            try:
                self._open(url)
            except (OSError, BrokerUnavailableError, BrokerMessageError) as exc:
                # BrokerMessageError: whatever answered does not speak STOMP.
                self.close()
                text = str(exc).removesuffix(f" ({url.shown})")  # a BrokerUnavailableError's target
                failures.append(f"{url.shown}: {self._scrub(text) or type(exc).__name__}")
                log.info("STOMP broker %s did not answer: %s", url.shown, failures[-1])
                continue
            except BaseException:
                self.close()
                raise
            log.info("connected to STOMP broker %s as %s", url.shown, self.username)
            return
        raise BrokerUnavailableError("no STOMP broker answered: " + "; ".join(failures), self._targets)

    def _open(self, url: _Url) -> None:
        deadline = time.monotonic() + self.connect_timeout
        # On any failure connect() closes whatever self._socket then is.
        self._socket, self._url = socket.create_connection((url.host, url.port), timeout=self.connect_timeout), url
        if url.tls:
            context = self.ssl_context or ssl.create_default_context()
            self._socket = context.wrap_socket(self._socket, server_hostname=url.host)
        self._last_read = self._last_write = time.monotonic()
        self._reader = FrameReader()
        self._frames.clear()
        self._messages.clear()
        headers = {
            "accept-version": "1.2",
            "host": self.host or url.host,
            "heart-beat": "{},{}".format(*self.heartbeat),
        }
        if self.username is not None:
            headers["login"] = self.username
        if self._password is not None:
            headers["passcode"] = self._password
        if self.client_id is not None:
            headers["client-id"] = self.client_id
        self._write(Frame("CONNECT", headers))
        frame = self._read_frame(deadline)
        if frame is None:
            raise BrokerUnavailableError(f"no answer to CONNECT within {self.connect_timeout:g} s", url.shown)
        if frame.command == "ERROR":  # connect() closes the socket
            text = self._error_text(frame)
            if _AUTH_WORDS.search(text):
                who = f"user {self.username!r}" if self.username is not None else "an anonymous login"
                raise BrokerAuthenticationError(f"STOMP broker {url.shown} refused {who}: {text}")
            raise BrokerRefusedError(
                f"STOMP broker {url.shown} refused CONNECT: {text}", frame.headers.get("message", "")
            )
        if frame.command != "CONNECTED":
            raise BrokerRefusedError(f"STOMP broker {url.shown} answered CONNECT with {frame.command}")
        version = frame.headers.get("version", "1.0")
        if version != "1.2":
            raise BrokerRefusedError(f"STOMP broker {url.shown} speaks STOMP {version}, not 1.2")
        self._negotiate(frame.headers.get("heart-beat", "0,0"))

    def _negotiate(self, answer: str) -> None:
        try:
            server_send, server_receive = (int(part) for part in answer.split(","))
        except ValueError:
            server_send = server_receive = 0
        ours_send, ours_receive = self.heartbeat
        self._send_interval = max(ours_send, server_receive) / 1000 if ours_send and server_receive else 0.0
        self._receive_interval = max(ours_receive, server_send) / 1000 if ours_receive and server_send else 0.0

    def _error_text(self, frame: Frame) -> str:
        message = frame.headers.get("message", "").strip()
        body = frame.body.decode("utf-8", "replace").strip()
        if body and body != message:
            first = body.splitlines()[0][:500]
            message = f"{message} ({first})" if message else first
        return self._scrub(message or "ERROR without a message")

    # ------------------------------------------------------------ wire

    def _lost(self, reason: str) -> BrokerUnavailableError:
        """Closes the connection and returns the error to raise."""
        target = self._url.shown if self._url is not None else self._targets
        self.close()
        return BrokerUnavailableError(self._scrub(reason), target)

    def _require(self) -> socket.socket:
        if self._socket is None:
            raise BrokerUnavailableError("not connected to a STOMP broker", self._targets)
        return self._socket

    def _write(self, frame: Frame | None) -> None:
        """Sends a frame (``None``: a heart-beat EOL)."""
        sock = self._require()
        data = b"\n" if frame is None else encode(frame)
        try:
            sock.settimeout(self.receipt_timeout)
            sock.sendall(data)
        except OSError as exc:
            raise self._lost(f"lost the connection to the STOMP broker while sending: {exc}") from None
        self._last_write = time.monotonic()

    def _read_frame(self, deadline: float | None) -> Frame | None:
        """Returns the next frame, or ``None`` once ``deadline`` (monotonic; ``None``: never) passes."""
        first = True  # read once even when the deadline has passed (timeout 0: poll)
        while not self._frames:
            sock = self._require()
            now = time.monotonic()
            if self._send_interval and now - self._last_write >= self._send_interval:
                self._write(None)
            if self._receive_interval and now - self._last_read > 2 * self._receive_interval + 1:
                raise self._lost(f"no heart-beat from the STOMP broker for {now - self._last_read:.1f} s")
            waits = [] if deadline is None else [deadline - now]
            if self._send_interval:
                waits.append(self._last_write + self._send_interval - now)
            if self._receive_interval:
                waits.append(self._last_read + 2 * self._receive_interval + 1 - now)
            if deadline is not None and deadline <= now and not first:
                return None
            first = False
            try:
                sock.settimeout(max(min(waits), 0.001) if waits else None)
                data = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise self._lost(f"lost the connection to the STOMP broker: {exc}") from None
            if not data:
                raise self._lost("the STOMP broker closed the connection")
            self._last_read = time.monotonic()
            try:
                self._frames.extend(self._reader.feed(data))
            except BaseException:
                self.close()
                raise
        return self._frames.popleft()

    def _next_id(self, kind: str) -> str:
        return f"{kind}-{self._prefix}-{next(self._ids)}"

    def _request(self, frame: Frame, receipt: bool, timeout: float | None = None) -> None:
        """Sends a frame; with ``receipt``, waits for its RECEIPT (queuing MESSAGE frames meanwhile)."""
        if not receipt:
            self._write(frame)
            return
        receipt_id = self._next_id("receipt")
        self._write(Frame(frame.command, {**frame.headers, "receipt": receipt_id}, frame.body))
        timeout = self.receipt_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_frame(deadline)
            if answer is None:
                raise self._lost(f"no RECEIPT for {frame.command} within {timeout:g} s")
            if answer.command == "RECEIPT" and answer.headers.get("receipt-id") == receipt_id:
                return
            self._dispatch(answer)

    def _dispatch(self, frame: Frame) -> None:
        """Queues a MESSAGE; raises for an ERROR; drops anything else (a late RECEIPT)."""
        if frame.command == "MESSAGE":
            get = frame.headers.get
            ids = get("destination", ""), get("message-id", ""), get("ack", ""), get("subscription", "")
            self._messages.append(StompMessage(*ids, frame.headers, frame.body))
        elif frame.command == "ERROR":
            reason = f"STOMP broker {self.url} sent ERROR: {self._error_text(frame)}"
            self.close()
            raise BrokerRefusedError(reason, frame.headers.get("message", ""))

    # ------------------------------------------------------------ messaging

    def send(
        self,
        destination: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        *,
        receipt: bool = True,
        transaction: str | None = None,
    ) -> None:
        """Sends a message; with ``receipt``, waits until the broker confirms it (a persistent one: on disk).

        Args:
            destination: E.g. ``/queue/lims.datasets``.
            body: The body; ``content-length`` is always sent.
            headers: More headers (``persistent: "true"``, ``content-type``, ...).
            receipt: Wait for the broker's RECEIPT (BrokerUnavailableError if none comes in time).
            transaction: Send within this transaction (see :meth:`begin`).
        """
        all_headers = {**(headers or {}), "destination": destination}
        if transaction is not None:
            all_headers["transaction"] = transaction
        self._request(Frame("SEND", all_headers, body), receipt)

    def subscribe(
        self,
        destination: str,
        *,
        ack: str = "client-individual",
        prefetch: int | None = 1,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Subscribes (and waits for the broker's receipt); returns the subscription id.

        Args:
            destination: The queue or topic.
            ack: ``auto``, ``client`` or ``client-individual``.
            prefetch: ActiveMQ's ``activemq.prefetchSize``: how many unacknowledged
                messages the broker sends ahead; ``None`` for the broker's default.
            headers: More headers (``selector``, ...).
        """
        subscription_id = self._next_id("sub")
        all_headers = {**(headers or {}), "destination": destination, "id": subscription_id, "ack": ack}
        if prefetch is not None:
            all_headers["activemq.prefetchSize"] = str(prefetch)
        self._request(Frame("SUBSCRIBE", all_headers), True)
        return subscription_id

    def unsubscribe(self, subscription_id: str) -> None:
        """Ends a subscription (waiting for the receipt); its queued messages are dropped unacknowledged."""
        self._request(Frame("UNSUBSCRIBE", {"id": subscription_id}), True)
        kept = [message for message in self._messages if message.subscription != subscription_id]
        self._messages = deque(kept)

    def receive(self, timeout: float | None) -> StompMessage | None:
        """Returns the next message of any subscription (queued ones first), or ``None`` after ``timeout`` s.

        ``timeout=None`` waits for ever (heart-beats still go out); ``0`` polls.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._messages:
            frame = self._read_frame(deadline)
            if frame is None:
                return None
            self._dispatch(frame)
        return self._messages.popleft()

    def _acknowledge(self, command: str, message: StompMessage, transaction: str | None, receipt: bool) -> None:
        if not message.ack_id:
            raise ValueError(f"message {message.message_id} has no ack header (an ack:auto subscription?)")
        headers = {"id": message.ack_id}
        if transaction is not None:
            headers["transaction"] = transaction
        self._request(Frame(command, headers), receipt)

    def ack(self, message: StompMessage, *, transaction: str | None = None, receipt: bool = False) -> None:
        """Acknowledges one message (``client-individual``; with ``client``, all before it too)."""
        self._acknowledge("ACK", message, transaction, receipt)

    def nack(self, message: StompMessage, *, transaction: str | None = None, receipt: bool = False) -> None:
        """Refuses a message: ActiveMQ moves a persistent one to the dead-letter queue at once."""
        self._acknowledge("NACK", message, transaction, receipt)

    def begin(self) -> str:
        """Begins a transaction; returns its id for ``transaction=`` and :meth:`commit` / :meth:`abort`."""
        transaction = self._next_id("tx")
        self._request(Frame("BEGIN", {"transaction": transaction}), False)
        return transaction

    def commit(self, transaction: str) -> None:
        """Commits a transaction and waits for the broker's receipt."""
        self._request(Frame("COMMIT", {"transaction": transaction}), True)

    def abort(self, transaction: str) -> None:
        """Rolls a transaction back (its acknowledged messages are redelivered); waits for the receipt."""
        self._request(Frame("ABORT", {"transaction": transaction}), True)

    # ------------------------------------------------------------ closing

    def disconnect(self, timeout: float = 5.0) -> None:
        """Says DISCONNECT, waits up to ``timeout`` seconds for the receipt, then closes.

        Idempotent; never raises for a dead or closed connection.
        """
        if self._socket is None:
            return
        try:
            self._request(Frame("DISCONNECT", {}), True, timeout)
        except (OSError, BrokerUnavailableError, BrokerRefusedError, ValueError) as exc:
            log.debug("STOMP DISCONNECT not confirmed: %s", exc)
        finally:
            self.close()

    def close(self) -> None:
        """Closes the socket at once (unacknowledged messages go back to the broker's queue)."""
        sock, self._socket = self._socket, None
        self._frames.clear()
        self._messages.clear()
        self._send_interval = self._receive_interval = 0.0
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> StompConnection:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()
