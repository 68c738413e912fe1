"""Images: the dict of ``store_image``.

Built per frame by ``AbstractCollect.store_image_in_lims`` and in the
acquisition loop of ``AbstractMultiCollect``.
"""

from __future__ import annotations

from typing import Optional, Union

from mxcubecore_lims.model._legacy import (
    Count,
    FilePath,
    IntOrText,
    LegacyModel,
    NonNegative,
    legacy,
)

__all__ = ["Image"]


class Image(LegacyModel):
    """One image of a data collection.

    Example:
        >>> Image.from_legacy({"dataCollectionId": 7, "imageNumber": 1}).image_number
        1
    """

    data_collection_id: Optional[IntOrText] = legacy("dataCollectionId")
    """LIMS id of the data collection; None when storing it failed."""
    image_id: Optional[IntOrText] = legacy("imageId")
    """LIMS id of the image, to update an existing one."""
    file_name: Optional[str] = legacy("fileName")
    """Image file name, without directory."""
    file_location: Optional[FilePath] = legacy("fileLocation")
    """Directory of the image file."""
    image_number: Optional[Count] = legacy("imageNumber")
    """Frame number."""
    measured_intensity: Optional[NonNegative] = legacy("measuredIntensity")
    """Flux while taking the image [photons/s]."""
    cumulative_intensity: Optional[NonNegative] = legacy("cumulativeIntensity")
    """Cumulative intensity."""
    synchrotron_current: Optional[Union[NonNegative, str]] = legacy(
        "synchrotronCurrent"
    )
    """Machine current [mA] (some machine-info objects give text)."""
    machine_message: Optional[str] = legacy("machineMessage")
    """Operator message of the machine."""
    temperature: Optional[NonNegative] = legacy("temperature")
    """Cryo temperature [K]."""
    jpeg_file_full_path: Optional[FilePath] = legacy("jpegFileFullPath")
    """JPEG rendering of the image."""
    jpeg_thumbnail_file_full_path: Optional[FilePath] = legacy(
        "jpegThumbnailFileFullPath"
    )
    """JPEG thumbnail of the image."""
    motor_position_id: Optional[IntOrText] = legacy("motorPositionId")
    """LIMS id of the motor positions."""
    comments: Optional[str] = legacy("comments")
    """Comments."""
