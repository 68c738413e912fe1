"""The broker route: LIMS writes as persistent messages on a STOMP broker (ActiveMQ).

A LIMS object configured with ``delivery: broker`` still journals every write
in its outbox; delivering a record then means *publishing* it, and a record
counts as delivered only once the broker has sent the receipt of its message.
Ingesters (``mxcubecore-lims ingest``, :mod:`mxcubecore_lims.ingest`) take the
messages off the broker and write them to ICAT and ISPyB.

Two kinds of message travel:

* ICAT datasets, in the XML pyicat-plus publishes (``tns:dataset`` on
  ``/queue/icatIngest``, :mod:`mxcubecore_lims.icat.messages`): what stock
  mxcubecore's ICATLIMS sends today, so an ingestion service a site already runs
  takes ours, and ours takes pyicat-plus's;
* every other LIMS write (ISPyB's collections, their updates and images), as
  the outbox journalled it, in a JSON envelope (:mod:`.envelope`).

The modules:

* :mod:`.frames`: STOMP 1.2 frames, written and read;
* :mod:`.stomp`: one STOMP connection, with receipts, acknowledgements and
  transactions, on plain or gevent sockets (no threads);
* :mod:`.settings`: where the broker is and how to log in, from configuration;
* :mod:`.envelope`: the JSON message of a journalled write;
* :mod:`.publisher`: the publishing side of a LIMS object.

Why our own STOMP client: stomp.py (the well-kept library) reads the socket
from a thread of its own and waits on ``threading`` conditions, which cannot
work inside MXCuBE, where gevent patches the sockets but not the threads
(``monkey.patch_all(thread=False)``: a gevent socket used from another thread
fails with "Cannot switch to a different thread"); stompest, which
pyicat-plus uses, has seen no release since 2017. STOMP 1.2 is small: the
client here is a frame codec and a socket.
"""

from __future__ import annotations

from mxcubecore_lims.broker.envelope import (
    DEAD_LETTER_QUEUE,
    ICAT_QUEUE,
    WRITES_QUEUE,
    WriteMessage,
    decode_write,
    encode_write,
)
from mxcubecore_lims.broker.publisher import Publisher
from mxcubecore_lims.broker.settings import BrokerSettings

__all__ = [
    "DEAD_LETTER_QUEUE",
    "ICAT_QUEUE",
    "WRITES_QUEUE",
    "BrokerSettings",
    "Publisher",
    "WriteMessage",
    "decode_write",
    "encode_write",
]
