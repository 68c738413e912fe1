"""The outbox wiring of a LIMS object: every write journalled, then delivered to a backend hook.

Every LIMS write is journalled locally before it is sent (DESIGN §6); the
journal (:class:`~mxcubecore_lims.outbox.Outbox`) delivers it now, or replays
it once the LIMS answers again. This module opens the journal, hands writes
to it (:meth:`OutboxWiring._send`) and, at delivery, calls the backend's
``_write_*`` hook of each kind of write (:meth:`OutboxWiring._deliver_now`).
The store templates that build the journalled payloads are in
:mod:`~mxcubecore_lims.lims.collection_writes` and
:mod:`~mxcubecore_lims.lims.record_writes`, next to the hooks they declare.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mxcubecore.HardwareObjects.abstract import AbstractLims as core_abstract_lims

from mxcubecore_lims.errors import LimsDataError, LimsError
from mxcubecore_lims.model import (
    BeamlineSetup,
    DataCollection,
    DataCollectionGroup,
    EnergyScan,
    EnergyScanSampleAssociation,
    Image,
    RobotAction,
    SampleUpdate,
    Workflow,
    XfeSpectrum,
)
from mxcubecore_lims.outbox import Checkpoint, Delivery, Outbox, OutboxStatus

__all__ = ["DELIVERIES", "OutboxWiring", "state_directory"]

#: How each kind of journalled write is delivered: which payload fields hold
#: ids of earlier records, and which ids its result holds (see outbox).
DELIVERIES: dict[str, Delivery] = {
    "data_collection": Delivery(refs={"collection.group_id": "group"}, returns=("collection", None)),
    "data_collection_update": Delivery(refs={"collection.collection_id": "collection", "collection.group_id": "group"}),
    "data_collection_end": Delivery(refs={"collection.collection_id": "collection", "collection.group_id": "group"}),
    "data_collection_group": Delivery(returns="group"),
    "beamline_setup": Delivery(returns="beamline_setup"),
    "image": Delivery(refs={"image.dataCollectionId": "collection"}, returns="image"),
    "robot_action": Delivery(returns="robot_action"),
    "energy_scan": Delivery(returns="energy_scan"),
    "energy_scan_association": Delivery(refs={"association.energyScanId": "energy_scan"}),
    "xfe_spectrum": Delivery(returns="xfe_spectrum"),
    "sample_update": Delivery(),
    "workflow": Delivery(returns=("workflow", "workflow_mesh", "grid_info")),
}


def state_directory() -> Path:
    """Where journals live by default: ``$MXCUBECORE_LIMS_STATE_DIR``, else the XDG state directory."""
    explicit = os.environ.get("MXCUBECORE_LIMS_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "mxcubecore-lims"


class OutboxWiring(core_abstract_lims.AbstractLims):
    """Mixin of the LIMS objects: the journal, and delivery of its records to the backend hooks.

    The ``outbox*`` configuration keys it reads are declared by the hardware
    object's ``HOConfig``; the journal is opened by its ``init()``.

    Attributes:
        outbox: The journal, or None when ``outbox`` is off (writes go straight
            to the backend) or before ``init()``.
        delivery_checkpoint: Progress of the write being delivered.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.outbox: Outbox | None = None
        #: Progress of the write being delivered (see :class:`~mxcubecore_lims.outbox.Checkpoint`).
        self.delivery_checkpoint = Checkpoint()

    # ------------------------------------------------------------- journal

    def _create_outbox(self) -> Outbox:
        """Opens this object's journal (a local file: no LIMS is contacted)."""
        config = self.config
        if config.outbox_file:
            path = Path(config.outbox_file).expanduser()
        else:
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name.strip("/")) or "lims"
            path = state_directory() / f"{safe}.outbox.sqlite"
        return Outbox(
            path,
            self._deliver,
            DELIVERIES,
            call_timeout=config.outbox_call_timeout,
            backoff=(1.0, max(1.0, config.outbox_retry_max)),
            keep_delivered=config.outbox_keep_delivered,
            on_change=self._outbox_changed,
        )

    def _outbox_changed(self, status: OutboxStatus) -> None:
        """Emits ``outboxChanged`` with the journal's new status."""
        self.emit("outboxChanged", (status.as_dict(),))

    def outbox_status(self) -> dict[str, Any]:
        """Pending and failed records, the oldest waiting one, the latest error."""
        if self.outbox is None:
            return {"enabled": False}
        return {"enabled": True, "file": str(self.outbox.path), **self.outbox.status().as_dict()}

    def close_outbox(self) -> None:
        """Stops replaying and closes the journal (waiting records stay in it)."""
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None

    # ------------------------------------------------------ journalled writes

    def _send(self, kind: str, payload: dict[str, Any]) -> Any:
        """Journals a write and delivers it now, or later when the LIMS is back."""
        payload = self._journal_payload(kind, payload)
        if self.outbox is None:
            return self._deliver(kind, payload)
        return self.outbox.submit(kind, payload)

    def _journal_payload(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Hook: what a backend needs journalled beyond the caller's dict (default: nothing)."""
        return payload

    def _with_session(self, record: Any) -> Any:
        """The record with the active session's id where it has none.

        Filled in when the call is made, not at replay: by then another
        session (or none, after a restart) may be active.
        """
        active = self.session_manager.active_session
        if active is None or getattr(record, "session_id", "") not in (None, "", 0, -1):
            return record
        return record.model_copy(update={"session_id": active.session_id})

    def _write_or_log(self, write: Any, *args: Any, operation: str) -> Any:
        """Calls a backend write; on a LIMS error logs it and returns None.

        For the calls that mxcubecore makes without guarding them (and inside
        greenlets that only catch RuntimeError): an exception there hangs or
        aborts the experiment, a lost record does not.
        """
        try:
            return write(*args)
        except LimsError as error:
            self.log.error("%s: record not stored: %s", operation, error)
            return None

    def _parse_or_log(self, model: Any, data: Any, operation: str) -> Any:
        """``model.from_legacy(data)``, or None after logging the typed error.

        For the calls that mxcubecore makes without guarding them, where an
        exception would abort the experiment rather than just the record.
        """
        try:
            return model.from_legacy(data)
        except LimsDataError as error:
            self.log.error("%s: record not stored: %s", operation, error)
            return None

    # ------------------------------------------------------------ delivery

    def _deliver(self, kind: str, payload: dict[str, Any], checkpoint: Checkpoint | None = None) -> Any:
        """Sends one journalled write to the backend (the ``_write_*`` hooks).

        ``checkpoint`` (the journal's record of this write's progress) is
        reachable from the hooks as :attr:`delivery_checkpoint` meanwhile.
        """
        previous = self.delivery_checkpoint
        self.delivery_checkpoint = checkpoint or Checkpoint()
        try:
            return self._deliver_now(kind, payload)
        finally:
            self.delivery_checkpoint = previous

    def _deliver_now(self, kind: str, payload: dict[str, Any]) -> Any:
        """Calls the backend hook of one kind of write with the journalled payload, as models.

        The hooks are declared next to their store templates
        (:mod:`~mxcubecore_lims.lims.collection_writes`,
        :mod:`~mxcubecore_lims.lims.record_writes`).

        Raises:
            LimsDataError: ``kind`` is not a kind of LIMS write.
        """
        if kind == "data_collection":
            setup = payload.get("setup")
            return self._write_data_collection(
                DataCollection.from_legacy(payload["collection"]),
                None if setup is None else BeamlineSetup.from_legacy(setup),
            )
        if kind == "data_collection_update":
            return self._write_data_collection_update(DataCollection.from_legacy(payload["collection"]))
        if kind == "data_collection_end":
            return self._write_data_collection_end(DataCollection.from_legacy(payload["collection"]))
        if kind == "data_collection_group":
            return self._write_data_collection_group(DataCollectionGroup.from_legacy(payload["group"]))
        if kind == "beamline_setup":
            return self._write_beamline_setup(payload["session_id"], BeamlineSetup.from_legacy(payload["setup"]))
        if kind == "image":
            return self._write_image(Image.from_legacy(payload["image"]))
        if kind == "robot_action":
            return self._write_robot_action(RobotAction.from_legacy(payload["action"]))
        if kind == "energy_scan":
            return self._write_energy_scan(EnergyScan.from_legacy(payload["scan"]))
        if kind == "energy_scan_association":
            return self._write_energy_scan_association(EnergyScanSampleAssociation.from_legacy(payload["association"]))
        if kind == "xfe_spectrum":
            return self._write_xfe_spectrum(XfeSpectrum.from_legacy(payload["spectrum"]))
        if kind == "sample_update":
            return self._write_sample_update(SampleUpdate.from_legacy(payload["sample"]))
        if kind == "workflow":
            return self._write_workflow(Workflow.from_legacy(payload["workflow"]))
        raise LimsDataError("outbox record", "kind", kind, "not a kind of LIMS write")
