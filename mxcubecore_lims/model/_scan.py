"""What energy scans and XRF spectra share: the sample, the files, the beam, the times."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationInfo, field_validator

from mxcubecore_lims.model._legacy import (
    FilePath,
    IntOrText,
    LegacyModel,
    NonNegative,
    Timestamp,
    check_end_after_start,
    legacy,
)
from mxcubecore_lims.model.sample import SampleReference


class ScanRecord(LegacyModel):
    """Keys common to :class:`EnergyScan` and :class:`XfeSpectrum`."""

    session_id: IntOrText | None = legacy("sessionId")
    """LIMS session id."""
    bl_sample_id: IntOrText | None = legacy("blSampleId")
    """LIMS id of the sample."""
    sample_reference: SampleReference | None = legacy("sample_reference")
    """The sample measured."""
    exposure_time: NonNegative | None = legacy("exposureTime")
    """Counting time [s]."""
    filename: FilePath | None = legacy("filename")
    """Data file (bare name for energy scans, full path for XRF spectra)."""
    scan_file_full_path: FilePath | None = legacy("scanFileFullPath")
    """Full path of the raw data file."""
    working_directory: FilePath | None = legacy("workingDirectory")
    """Where the analysis ran."""
    start_time: Timestamp | None = legacy("startTime")
    """Start, ``"%Y-%m-%d %H:%M:%S"``."""
    end_time: Timestamp | None = legacy("endTime")
    """End, ``"%Y-%m-%d %H:%M:%S"``; not before the start."""
    flux: NonNegative | None = legacy("flux")
    """Flux [photons/s]."""
    flux_end: NonNegative | None = legacy("flux_end")
    """Flux at the end [photons/s]."""
    beam_size_horizontal: NonNegative | None = legacy("beamSizeHorizontal")
    """Horizontal beam size [mm]."""
    beam_size_vertical: NonNegative | None = legacy("beamSizeVertical")
    """Vertical beam size [mm]."""
    comments: str | None = legacy("comments")
    """Comments."""
    crystal_class: str | None = legacy("crystalClass")
    """Crystal class."""

    @field_validator("end_time")
    @classmethod
    def _end_not_before_start(cls, end: Any, info: ValidationInfo) -> Any:
        """Rejects a record that ends before it starts."""
        return check_end_after_start(info.data.get("start_time"), end)
