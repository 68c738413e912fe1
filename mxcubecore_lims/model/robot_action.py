"""Robot actions: the dict of ``store_robot_action``.

``queue_entry.base_queue_entry.mount_sample`` builds it around every sample
load: ``actionType`` ``"LOAD"``, the sample location, times, and status
``"SUCCESS"`` or ``"ERROR"`` (with a ``message``).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationInfo, field_validator

from mxcubecore_lims.model._legacy import (
    FilePath,
    IntOrText,
    LegacyModel,
    Timestamp,
    check_end_after_start,
    legacy,
)

__all__ = ["RobotAction"]


class RobotAction(LegacyModel):
    """A sample changer action.

    Example:
        >>> action = RobotAction.from_legacy({"dewarLocation": "2"})
        >>> action.dewar_location
        2
    """

    action_type: str | None = legacy("actionType")
    """What the robot did, e.g. ``"LOAD"``, ``"UNLOAD"``."""
    container_location: IntOrText | None = legacy("containerLocation")
    """Position of the sample in its container (``location[1]``)."""
    dewar_location: IntOrText | None = legacy("dewarLocation")
    """Position of the container in the dewar (``location[0]``)."""
    sample_barcode: str | None = legacy("sampleBarcode")
    """Barcode of the sample."""
    sample_id: IntOrText | None = legacy("sampleId")
    """LIMS id of the sample (ISPyB ``blSampleId``); -1 when not from the LIMS."""
    session_id: IntOrText | None = legacy("sessionId")
    """LIMS session id."""
    start_time: Timestamp | None = legacy("startTime")
    """Start of the action, ``"%Y-%m-%d %H:%M:%S"``."""
    end_time: Timestamp | None = legacy("endTime")
    """End of the action, ``"%Y-%m-%d %H:%M:%S"``; not before the start."""
    status: str | None = legacy("status")
    """Outcome, ``"SUCCESS"`` or ``"ERROR"``."""
    message: str | None = legacy("message")
    """Why it failed."""
    xtal_snapshot_before: FilePath | None = legacy("xtalSnapshotBefore")
    """Snapshot before the action."""
    xtal_snapshot_after: FilePath | None = legacy("xtalSnapshotAfter")
    """Snapshot after the action."""

    @field_validator("end_time")
    @classmethod
    def _end_not_before_start(cls, end: Any, info: ValidationInfo) -> Any:
        """Rejects an action that ends before it starts."""
        return check_end_after_start(info.data.get("start_time"), end)
