"""The demo beamline's collect routine: mxcubecore's CollectMockup, telling the LIMS all.

mxcubecore 2.149's ``CollectMockup`` stores no images (its
``store_image_in_lims_by_frame_num`` returns at once) and, like
``AbstractCollect``, never calls ``finalize_data_collection``, the call after
which an ICAT LIMS creates the dataset (``AbstractMultiCollect`` and ESRF's
collect routines make it). A collection queued through mxcubeweb on the
emulated beamline should reach the LIMS as it would on a real one, so this
class stores the first and last image as ``AbstractCollect.store_image_in_lims``
describes them and finalizes the collection once it has finished. Everything
else is the mockup's.

XML::

    <object class="mxcubecore_lims.testing.beamline.DemoCollect">
      <directory_prefix>id-demo</directory_prefix>
    </object>
"""

from __future__ import annotations

import logging
from typing import Any

from mxcubecore import HardwareRepository as HWR
from mxcubecore.HardwareObjects.mockup.CollectMockup import CollectMockup

__all__ = ["DemoCollect"]

log = logging.getLogger("HWR")


class DemoCollect(CollectMockup):
    """CollectMockup that stores its images in the LIMS and finalizes each collection."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        # (collection id, frame) already stored: the mockup's end of collection and
        # AbstractCollect.collection_finished both store the last frame.
        self._stored_frames: set[tuple[Any, int]] = set()

    def store_image_in_lims_by_frame_num(self, frame: int, motor_position_id: int | None = None) -> Any:
        """Stores one image record, once (the mockup asks for the first and the last frame)."""
        key = (self.current_dc_parameters.get("collection_id"), int(frame))
        if key in self._stored_frames:
            return None
        self._stored_frames.add(key)
        return self.store_image_in_lims(frame, motor_position_id)

    def collection_finished(self) -> None:
        """The mockup's end of a collection, then ``finalize_data_collection`` on the LIMS."""
        super().collection_finished()
        lims = HWR.beamline.lims
        if lims is None or not lims.is_connected() or self.current_dc_parameters.get("in_interleave"):
            return
        try:
            lims.finalize_data_collection(self.current_dc_parameters)
        except Exception:  # a LIMS failure must not fail the collection (as in AbstractMultiCollect)
            log.exception(
                "finalizing collection %s in the LIMS failed", self.current_dc_parameters.get("collection_id")
            )
