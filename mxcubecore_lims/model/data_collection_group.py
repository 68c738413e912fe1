"""Data collection groups: the dict of ``_store_data_collection_group``.

``TaskGroupQueueEntry.execute`` (``queue_entry/base_queue_entry.py``)
creates a group before its collections with ``sessionId``,
``experimentType`` and, when the sample comes from the LIMS, the sample
changer positions. The other keys are those ISPyB's
``dataCollectionGroupWS3VO`` takes, which ``ISPyBValueFactory`` fills from a
data collection dict.
"""

from __future__ import annotations

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

    session_id: IntOrText | None = legacy("sessionId")
    """LIMS session id."""
    experiment_type: str | None = legacy("experimentType")
    """Experiment type: ``"OSC"`` or ``"Collect - Multiwedge"`` at creation;
    ISPyB accepts only its own list (not ``"Still"`` or ``"Imaging"``)."""
    actual_container_slot_in_sc: IntOrText | None = legacy("actualContainerSlotInSC")
    """Position of the container in the sample changer."""
    actual_sample_slot_in_container: IntOrText | None = legacy("actualSampleSlotInContainer")
    """Position of the sample in its container."""
    actual_container_barcode: str | None = legacy("actualContainerBarcode")
    """Barcode of the container."""
    actual_sample_barcode: str | None = legacy("actualSampleBarcode")
    """Barcode of the sample."""
    bl_sample_id: IntOrText | None = legacy("blSampleId")
    """LIMS id of the sample."""
    data_collection_group_id: IntOrText | None = legacy("dataCollectionGroupId")
    """LIMS id of the group, to update an existing one."""
    workflow_id: IntOrText | None = legacy("workflowId")
    """LIMS id of the workflow."""
    comments: str | None = legacy("comments")
    """Comments."""
    crystal_class: str | None = legacy("crystalClass")
    """Crystal class."""
    detector_mode: str | None = legacy("detectorMode")
    """Detector mode."""
    start_time: Timestamp | None = legacy("startTime")
    """Start of the group."""
    end_time: Timestamp | None = legacy("endTime")
    """End of the group."""
    xtal_snapshot_full_path: FilePath | None = legacy("xtalSnapshotFullPath")
    """Crystal snapshot."""
