"""Data collection groups: the dict of ``_store_data_collection_group``.

``TaskGroupQueueEntry.execute`` (``queue_entry/base_queue_entry.py``)
creates a group before its collections with ``sessionId``,
``experimentType`` and, when the sample comes from the LIMS, the sample
changer positions. The other keys are those ISPyB's
``dataCollectionGroupWS3VO`` takes, which ``ISPyBValueFactory`` fills from a
data collection dict.
"""

from __future__ import annotations

from typing import Optional

from mxcubecore_lims.model._legacy import (
    FilePath,
    IntOrText,
    LegacyModel,
    Timestamp,
    legacy,
)

__all__ = ["DataCollectionGroup"]


class DataCollectionGroup(LegacyModel):
    """A data collection group.

    Example:
        >>> group = DataCollectionGroup.from_legacy(
        ...     {"sessionId": 42, "experimentType": "OSC", "actualContainerSlotInSC": 5}
        ... )
        >>> group.actual_container_slot_in_sc
        5
    """

    session_id: Optional[IntOrText] = legacy("sessionId")
    """LIMS session id."""
    experiment_type: Optional[str] = legacy("experimentType")
    """Experiment type: ``"OSC"`` or ``"Collect - Multiwedge"`` at creation;
    ISPyB accepts only its own list (not ``"Still"`` or ``"Imaging"``)."""
    actual_container_slot_in_sc: Optional[IntOrText] = legacy("actualContainerSlotInSC")
    """Position of the container in the sample changer."""
    actual_sample_slot_in_container: Optional[IntOrText] = legacy(
        "actualSampleSlotInContainer"
    )
    """Position of the sample in its container."""
    actual_container_barcode: Optional[str] = legacy("actualContainerBarcode")
    """Barcode of the container."""
    actual_sample_barcode: Optional[str] = legacy("actualSampleBarcode")
    """Barcode of the sample."""
    bl_sample_id: Optional[IntOrText] = legacy("blSampleId")
    """LIMS id of the sample."""
    data_collection_group_id: Optional[IntOrText] = legacy("dataCollectionGroupId")
    """LIMS id of the group, to update an existing one."""
    workflow_id: Optional[IntOrText] = legacy("workflowId")
    """LIMS id of the workflow."""
    comments: Optional[str] = legacy("comments")
    """Comments."""
    crystal_class: Optional[str] = legacy("crystalClass")
    """Crystal class."""
    detector_mode: Optional[str] = legacy("detectorMode")
    """Detector mode."""
    start_time: Optional[Timestamp] = legacy("startTime")
    """Start of the group."""
    end_time: Optional[Timestamp] = legacy("endTime")
    """End of the group."""
    xtal_snapshot_full_path: Optional[FilePath] = legacy("xtalSnapshotFullPath")
    """Crystal snapshot."""
