"""The broker route of a LIMS object (``delivery: broker``): journalled writes published, not sent.

The outbox is unchanged: every write is journalled first, and a record is
delivered in order, with replay and back-off. What changes is what delivering
means for the kinds of write the backend declares (:attr:`BrokerRoute.broker_kinds`):
the record is published as a persistent message (:mod:`mxcubecore_lims.broker`),
and it counts as delivered once the broker's receipt is in. Until then it
stays in the journal: a broker outage, like a LIMS outage, loses nothing.

The broker never tells the beamline the LIMS's ids, so the caller keeps the
provisional ids the journal handed out; the ingester that writes the record
finds the real rows in the LIMS by what names them (a collection's files).
Other kinds of write are delivered directly, through the same journal and in
the same order.
"""

from __future__ import annotations

import collections
import socket
from typing import Any, ClassVar

from mxcubecore_lims.broker import ICAT_QUEUE, WRITES_QUEUE, BrokerSettings, Publisher, WriteMessage, encode_write
from mxcubecore_lims.errors import LimsConfigError
from mxcubecore_lims.lims.outbox_wiring import DELIVERIES, OutboxWiring
from mxcubecore_lims.outbox.ids import IdMap

__all__ = ["BrokerRoute"]

#: Collections remembered for the records that refer to them (updates, images).
_FILES_KEPT = 2000

#: The kinds that refer to a collection by its id.
_COLLECTION_REFERENCES = ("data_collection_update", "data_collection_end", "image")


def collection_files(collection: dict[str, Any]) -> dict[str, Any] | None:
    """Directory, prefix and run number of a collection dict: what names its images."""
    info = collection.get("fileinfo")
    if not isinstance(info, dict) or not info.get("directory") or not info.get("prefix"):
        return None
    return {
        "directory": str(info["directory"]),
        "prefix": str(info["prefix"]),
        "run_number": int(info.get("run_number") or 1),
    }


class BrokerRoute(OutboxWiring):
    """Mixin of the LIMS objects: delivery by publishing, when ``delivery`` is ``broker``.

    Attributes:
        broker_kinds: The kinds of write this backend publishes (the others
            are delivered directly).
        publisher: The broker connection, when the route is on (after ``init()``).
    """

    broker_kinds: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.publisher: Publisher | None = None
        self._collection_files: collections.OrderedDict[int, dict[str, Any]] = collections.OrderedDict()

    @property
    def uses_broker(self) -> bool:
        """Whether writes go through the broker (``delivery: broker``)."""
        return bool(self.config.delivery == "broker")

    def _start_broker_route(self) -> None:
        """Sets the publisher up (no connection yet: the first publish makes it).

        Raises:
            LimsConfigError: The route is chosen without an outbox, or without brokers.
        """
        if not self.uses_broker:
            return
        config = self.config
        if not config.outbox:
            raise LimsConfigError(
                f"{self.name}: delivery: broker needs the outbox (outbox: true): it holds what the broker has "
                "not confirmed"
            )
        settings = BrokerSettings.of(
            config.broker_urls,
            config.broker_username,
            config.broker_password,
            ca_file=config.broker_ca_file,
            verify_tls=config.broker_tls_verify,
            receipt_timeout=config.broker_receipt_timeout,
        )
        self.publisher = Publisher(settings, name=self.name)

    def close_outbox(self) -> None:
        """Closes the journal, and the broker connection with it (what waits stays in the journal)."""
        super().close_outbox()
        if self.publisher is not None:
            self.publisher.close()
            self.publisher = None

    def broker_source(self) -> str:
        """This object's journal, as the broker route names it: the message group of its writes."""
        where = self.outbox.path.resolve() if self.outbox is not None else self.name
        return f"{socket.gethostname()}:{where}"

    # ------------------------------------------------------------ publishing

    def _send(self, kind: str, payload: dict[str, Any]) -> Any:
        if not self.uses_broker or kind not in self.broker_kinds:
            return super()._send(kind, payload)
        if kind in _COLLECTION_REFERENCES:
            payload = dict(payload)
            record = payload.get("collection") if kind != "image" else None
            collection_id = (record or {}).get("collection_id") if record else payload["image"].get("dataCollectionId")
            files = self._collection_files.get(collection_id) if isinstance(collection_id, int) else None
            if files is None and record is not None:
                files = collection_files(record)
            payload["collection_files"] = files
        result = super()._send(kind, payload)
        if kind == "data_collection" and isinstance(result, tuple) and isinstance(result[0], int):
            files = collection_files(payload.get("collection") or {})
            if files is not None:
                self._collection_files[result[0]] = files
                while len(self._collection_files) > _FILES_KEPT:
                    self._collection_files.popitem(last=False)
        return result

    def _deliver_now(self, kind: str, payload: dict[str, Any]) -> Any:
        if self.uses_broker and kind in self.broker_kinds:
            return self._publish_write(kind, payload)
        return super()._deliver_now(kind, payload)

    def _publish_write(self, kind: str, payload: dict[str, Any]) -> Any:
        """Publishes one journalled record; its result is the provisional ids it was given."""
        if self.publisher is None:
            raise LimsConfigError(f"LIMS object '{self.name}' is not initialised")
        checkpoint = self.delivery_checkpoint
        payload = dict(payload)
        files = payload.pop("collection_files", None)
        if kind == "data_collection":
            files = collection_files(payload.get("collection") or {})
        message = WriteMessage(
            type=kind,
            key=checkpoint.key,
            source=self.broker_source(),
            provisional=list(checkpoint.provisional),
            payload=payload,
            collection_files=files,
        )
        body, headers = encode_write(message)
        self.publisher.publish(self.config.broker_queue or WRITES_QUEUE, body, headers)
        return IdMap.shape(DELIVERIES[kind], list(checkpoint.provisional))

    def _publish_dataset(self, body: bytes, name: str) -> None:
        """Publishes one ICAT dataset message (pyicat-plus's XML) to the ingestion queue."""
        if self.publisher is None:
            raise LimsConfigError(f"LIMS object '{self.name}' is not initialised")
        headers = {"persistent": "true", "content-type": "application/xml", "mxcubecore-lims-dataset": name}
        self.publisher.publish(self.config.broker_icat_queue or ICAT_QUEUE, body, headers)
