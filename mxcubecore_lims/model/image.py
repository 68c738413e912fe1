"""Images: the dict of ``store_image``.

Built per frame by ``AbstractCollect.store_image_in_lims`` and in the
acquisition loop of ``AbstractMultiCollect``.
"""

from __future__ import annotations

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

    data_collection_id: IntOrText | None = legacy("dataCollectionId")
    """LIMS id of the data collection; None when storing it failed."""
    image_id: IntOrText | None = legacy("imageId")
    """LIMS id of the image, to update an existing one."""
    file_name: str | None = legacy("fileName")
    """Image file name, without directory."""
    file_location: FilePath | None = legacy("fileLocation")
    """Directory of the image file."""
    image_number: Count | None = legacy("imageNumber")
    """Frame number."""
    measured_intensity: NonNegative | None = legacy("measuredIntensity")
    """Flux while taking the image [photons/s]."""
    cumulative_intensity: NonNegative | None = legacy("cumulativeIntensity")
    """Cumulative intensity."""
    synchrotron_current: NonNegative | str | None = legacy("synchrotronCurrent")
    """Machine current [mA] (some machine-info objects give text)."""
    machine_message: str | None = legacy("machineMessage")
    """Operator message of the machine."""
    temperature: NonNegative | None = legacy("temperature")
    """Cryo temperature [K]."""
    jpeg_file_full_path: FilePath | None = legacy("jpegFileFullPath")
    """JPEG rendering of the image."""
    jpeg_thumbnail_file_full_path: FilePath | None = legacy("jpegThumbnailFileFullPath")
    """JPEG thumbnail of the image."""
    motor_position_id: IntOrText | None = legacy("motorPositionId")
    """LIMS id of the motor positions."""
    comments: str | None = legacy("comments")
    """Comments."""
