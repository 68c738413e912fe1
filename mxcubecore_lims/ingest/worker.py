"""The ingester's loop: take a message, write it to the LIMS, then acknowledge it.

Any number of ingesters may consume the same queues, on any machine:

* each subscription is ``client-individual`` with a prefetch of one, so an
  ingester holds at most one unacknowledged message per queue, and a message
  is acknowledged only after the LIMS has it;
* publishers set ActiveMQ's message group (``JMSXGroupID``) to their journal:
  the broker hands one group's messages to one consumer at a time, in order,
  so a collection's store reaches the LIMS before its updates and images, and
  a group whose consumer dies moves, unacknowledged messages first, to another;
* what the LIMS refuses is tried ``retries`` times, then moved to the
  dead-letter queue with the reason, in one broker transaction with its
  acknowledgement; a LIMS that does not answer is waited for (back-off), the
  message kept in hand, while the other queue goes on (ISPyB's writes do not
  wait for ICAT, nor ICAT's for ISPyB);
* SIGTERM (or SIGINT) lets the message in hand finish and be acknowledged, or,
  while waiting for the LIMS, leaves it unacknowledged for another ingester;
  then the ingester disconnects and returns.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from mxcubecore_lims.broker.envelope import KEY_HEADER, REASON_HEADER, decode_write
from mxcubecore_lims.broker.stomp import StompConnection, StompMessage
from mxcubecore_lims.errors import (
    BrokerAuthenticationError,
    BrokerError,
    BrokerUnavailableError,
    LimsDataError,
    LimsError,
)
from mxcubecore_lims.ingest.settings import IngestSettings
from mxcubecore_lims.ingest.writers import ISPYB_KINDS, IcatWriter, IspybWriter
from mxcubecore_lims.outbox import is_unavailable

__all__ = ["IngestStats", "Ingester"]

log = logging.getLogger(__name__)


@dataclass
class IngestStats:
    """What an ingester has done since it started."""

    written: int = 0
    dead_lettered: int = 0
    retried: int = 0
    reconnects: int = 0
    by_queue: dict[str, int] = field(default_factory=dict)


@dataclass
class _Held:
    """A message in hand, waiting for its retry."""

    message: StompMessage
    wait: float
    due: float = 0.0
    refusals: int = 0


class Ingester:
    """Consumes the broker's LIMS messages and writes them.

    Args:
        settings: The ingester's configuration.
        icat: The ICAT writer, when ICAT datasets are consumed.
        ispyb: The ISPyB writer, when the other writes are consumed.
        name: Who this is, in the log (host and process id by default).
        stopping: The event that stops it (one per process, when it has several consumers).
    """

    def __init__(
        self,
        settings: IngestSettings,
        *,
        icat: IcatWriter | None = None,
        ispyb: IspybWriter | None = None,
        name: str = "ingester",
        stopping: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.name = name
        self.stats = IngestStats()
        # Shared by the consumers of one process (see :class:`~mxcubecore_lims.ingest.lanes.Lanes`).
        self._stopping = stopping if stopping is not None else threading.Event()
        self._handlers: dict[str, Callable[[StompMessage], str]] = {}
        if icat is not None:
            self._handlers[settings.queues.icat] = lambda message: icat.handle(message.body)
        if ispyb is not None:
            self._handlers[settings.queues.writes] = lambda message: ispyb.handle(
                decode_write(message.body, ISPYB_KINDS)
            )
        self._connection: StompConnection | None = None
        self._held: dict[str, _Held] = {}
        self._finished = 0
        #: Whatever must live as long as the ingester (the loaded ISPyB object graph).
        self.keep_alive: Any = None
        self._icat = icat

    # ------------------------------------------------------------ life cycle

    def stop(self, *_: object) -> None:
        """Asks the loop to end after the message in hand (a signal handler)."""
        if not self._stopping.is_set():
            log.info("%s: stopping after the message in hand", self.name)
        self._stopping.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the loop cleanly."""

        def handler(signum: int, frame: FrameType | None) -> None:
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def connect(self) -> None:
        """Connects and subscribes (a refused login raises at once: it will not get better by itself).

        Raises:
            BrokerAuthenticationError: The broker refused the ingester's login.
            BrokerUnavailableError: No broker answered.
        """
        connection = self.settings.broker_settings().connection()
        connection.connect()
        self._held.clear()  # their acknowledgement ids belonged to the old connection
        for queue in self._handlers:
            connection.subscribe(queue, ack="client-individual", prefetch=1)
        self._connection = connection
        log.info("%s: consuming %s from %s", self.name, ", ".join(self._handlers), connection.url)

    def run(self, max_messages: int | None = None) -> IngestStats:
        """Consumes until stopped (or ``max_messages`` were written or dead-lettered).

        Raises:
            BrokerAuthenticationError: The broker refused the login (at start or
                after a reconnection: it will not get better by retrying).
        """
        # Connected in the loop: a broker that is not up yet is waited for, like one that restarts.
        wait = self.settings.retry_wait
        try:
            while not self._stopping.is_set() and (max_messages is None or self._finished < max_messages):
                try:
                    if self._connection is None:
                        self.connect()
                        wait = self.settings.retry_wait
                    self._retry_due()
                    message = self._live().receive(timeout=self._receive_timeout())
                    if message is not None:
                        self._attempt(_Held(message, self.settings.retry_wait))
                except BrokerAuthenticationError:
                    raise
                except BrokerError as error:
                    # Lost the broker (restarted, network): what was not acknowledged,
                    # held messages included, is redelivered to whoever consumes next.
                    log.warning("%s: broker connection lost (%s); reconnecting in %.1f s", self.name, error, wait)
                    self._drop()
                    self.stats.reconnects += 1
                    self._stopping.wait(wait)
                    wait = min(self.settings.retry_wait_max, wait * 2)
        finally:
            self._disconnect()
            if self._icat is not None:
                self._icat.close()
        return self.stats

    def _receive_timeout(self) -> float:
        if not self._held:
            return 0.5
        due = min(held.due for held in self._held.values())
        return max(0.0, min(0.5, due - time.monotonic()))

    def _retry_due(self) -> None:
        now = time.monotonic()
        for held in [h for h in self._held.values() if h.due <= now]:
            self._attempt(held)

    def _live(self) -> StompConnection:
        if self._connection is None:
            raise BrokerUnavailableError("not connected to the broker")
        return self._connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.disconnect(timeout=2.0)
            self._connection = None
        log.info("%s: stopped (%d written, %d dead-lettered)", self.name, self.stats.written, self.stats.dead_lettered)

    # ------------------------------------------------------------ one message

    def _attempt(self, held: _Held) -> None:
        """Writes one message, then acknowledges it; or dead-letters it; or holds it for a retry.

        A held message keeps its queue's one prefetch slot: the broker sends
        nothing more from that queue (so nothing of its group overtakes it)
        while the other queue goes on.
        """
        message = held.message
        key = message.headers.get(KEY_HEADER) or message.message_id
        self._held.pop(message.destination, None)
        try:
            outcome = self._handlers[message.destination](message)
        except LimsDataError as error:
            # The message itself is wrong: no retry makes it right.
            self._dead_letter(message, f"{type(error).__name__}: {error}")
            return
        except BrokerError:
            raise
        except Exception as error:
            self.stats.retried += 1
            if is_unavailable(error):
                log.warning("%s: %s waits %.1f s, the LIMS does not answer: %s", self.name, key, held.wait, error)
                held.due = time.monotonic() + held.wait
                held.wait = min(self.settings.retry_wait_max, held.wait * 2)
                self._held[message.destination] = held
                return
            if not isinstance(error, LimsError):
                log.exception("%s: %s failed", self.name, key)
            held.refusals += 1
            if held.refusals >= self.settings.retries:
                self._dead_letter(message, f"{type(error).__name__}: {error}")
                return
            log.warning("%s: %s refused (%d of %d): %s", self.name, key, held.refusals, self.settings.retries, error)
            held.due = time.monotonic() + min(held.wait, 1.0)
            self._held[message.destination] = held
            return
        self._live().ack(message)
        self._finished += 1
        self.stats.written += 1
        self.stats.by_queue[message.destination] = self.stats.by_queue.get(message.destination, 0) + 1
        log.info("%s: %s: %s", self.name, key, outcome)

    def _dead_letter(self, message: StompMessage, reason: str) -> None:
        """Moves a message to the dead-letter queue with the reason, atomically with its acknowledgement."""
        connection = self._live()
        log.error("%s: %s dead-lettered: %s", self.name, message.message_id, reason)
        headers = {
            k: v
            for k, v in message.headers.items()
            if k not in ("message-id", "destination", "subscription", "ack", "redelivered", "content-length")
        }
        headers.update(
            {
                REASON_HEADER: reason[:1000].replace("\n", " "),
                "original-destination": message.destination,
                "original-message-id": message.message_id,
                "persistent": "true",
            }
        )
        transaction = connection.begin()
        connection.send(self.settings.queues.dead_letter, message.body, headers, receipt=False, transaction=transaction)
        connection.ack(message, transaction=transaction)
        connection.commit(transaction)
        self._finished += 1
        self.stats.dead_lettered += 1
