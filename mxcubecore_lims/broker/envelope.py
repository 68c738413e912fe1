"""The JSON message of one journalled LIMS write, and the names the broker route uses.

A message is the outbox record as it was journalled: its kind (``type``), its
idempotency key (the journal's record key, unique across journals), the
journal it came from (``source``: also the broker's message group, so one
beamline's writes reach the LIMS in the order they were made), the
provisional ids the beamline handed out for it, and the payload.

Records that refer to a collection by its provisional id (an update, an image)
also carry ``collection_files``: the directory, prefix and run number of the
collection's images, which name it in ISPyB, so an ingester finds the real
collection in the LIMS rather than in a memory of its own.

Headers (STOMP): ``persistent:true``, ``content-type:application/json``,
``mxcubecore-lims-type``, ``mxcubecore-lims-key`` and ``JMSXGroupID`` (ActiveMQ's
message groups: every message of a group goes to one consumer at a time, in order).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mxcubecore_lims.errors import BrokerMessageError
from mxcubecore_lims.outbox.encoding import decode, dumps

__all__ = [
    "DEAD_LETTER_QUEUE",
    "FORMAT",
    "GROUP_HEADER",
    "ICAT_QUEUE",
    "KEY_HEADER",
    "REASON_HEADER",
    "TYPE_HEADER",
    "WRITES_QUEUE",
    "WriteMessage",
    "decode_write",
    "encode_write",
]

#: The queue of ICAT datasets: pyicat-plus's default ``METADATA_QUEUE`` (``icatIngest``).
ICAT_QUEUE = "/queue/icatIngest"
#: The queue of every other journalled write.
WRITES_QUEUE = "/queue/mxcubecore-lims.writes"
#: Where ingesters put what the LIMS refused, with the reason.
DEAD_LETTER_QUEUE = "/queue/mxcubecore-lims.DLQ"

#: The envelope's format name and version.
FORMAT = "mxcubecore-lims.write/1"
TYPE_HEADER = "mxcubecore-lims-type"
KEY_HEADER = "mxcubecore-lims-key"
#: Why an ingester dead-lettered a message (set on the dead-letter copy).
REASON_HEADER = "mxcubecore-lims-reason"
GROUP_HEADER = "JMSXGroupID"


@dataclass(frozen=True)
class WriteMessage:
    """One journalled write, as it travels.

    Attributes:
        type: The outbox kind (``data_collection``, ``image``, ...).
        key: Idempotency key: the journal's record key.
        source: The journal it was written to (host and path); the message group.
        provisional: The provisional ids the beamline got for it (None where no id).
        payload: The journalled payload (provisional ids where the LIMS's are not known).
        collection_files: ``directory``, ``prefix``, ``run_number`` of the collection referred to.
        lims: The LIMS it is for (``ISPyB``).
    """

    type: str
    key: str
    source: str
    provisional: list[int | None]
    payload: dict[str, Any]
    collection_files: dict[str, Any] | None = None
    lims: str = "ISPyB"


def encode_write(message: WriteMessage) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a message."""
    body = dumps(
        {
            "format": FORMAT,
            "type": message.type,
            "key": message.key,
            "source": message.source,
            "lims": message.lims,
            "provisional": list(message.provisional),
            "collection_files": message.collection_files,
            "payload": message.payload,
        }
    ).encode("utf-8")
    headers = {
        "persistent": "true",
        "content-type": "application/json;charset=utf-8",
        TYPE_HEADER: message.type,
        KEY_HEADER: message.key,
        GROUP_HEADER: message.source,
    }
    return body, headers


def _field(document: Mapping[str, Any], name: str, kind: type | tuple[type, ...], nullable: bool = False) -> Any:
    value = document.get(name)
    if value is None and nullable:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise BrokerMessageError("WriteMessage", name, value, f"expected {getattr(kind, '__name__', kind)}")
    return value


def decode_write(body: bytes | str, known_types: frozenset[str] | None = None) -> WriteMessage:
    """Reads a message's body.

    Args:
        body: The body as received.
        known_types: The kinds an ingester can write; others are refused.

    Raises:
        BrokerMessageError: Not JSON, not this format, a field missing or of the
            wrong type, or an unknown kind (the error names the field).
    """
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BrokerMessageError("WriteMessage", "", _preview(body), f"not JSON: {error}") from error
    if not isinstance(document, dict):
        raise BrokerMessageError("WriteMessage", "", _preview(body), "not a JSON object")
    if document.get("format") != FORMAT:
        raise BrokerMessageError("WriteMessage", "format", document.get("format"), f"expected {FORMAT!r}")
    kind = _field(document, "type", str)
    if known_types is not None and kind not in known_types:
        raise BrokerMessageError("WriteMessage", "type", kind, "not a kind of LIMS write an ingester knows")
    provisional = _field(document, "provisional", list)
    if not all(p is None or (isinstance(p, int) and not isinstance(p, bool)) for p in provisional):
        raise BrokerMessageError("WriteMessage", "provisional", provisional, "expected ids or nulls")
    files = _field(document, "collection_files", dict, nullable=True)
    return WriteMessage(
        type=kind,
        key=_field(document, "key", str),
        source=_field(document, "source", str),
        provisional=provisional,
        payload=decode(_field(document, "payload", dict)),
        collection_files=files,
        lims=_field(document, "lims", str),
    )


def _preview(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text if len(text) <= 80 else text[:77] + "..."
