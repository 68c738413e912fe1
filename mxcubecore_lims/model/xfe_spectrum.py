"""XRF (XFE) spectra: the dict of ``store_xfe_spectrum`` and the store result.

``AbstractXRFSpectrum`` builds it in ``start_spectrum`` and
``spectrum_command_finished`` and stores it only when ``sessionId`` is set.
``filename`` is the full path of the data file here (unlike the energy
scan's).
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import ValidationInfo, field_validator

from mxcubecore_lims.model._legacy import (
    EnergyKeV,
    FilePath,
    IntOrText,
    LegacyModel,
    NonNegative,
    Percent,
    Timestamp,
    check_end_after_start,
    legacy,
)
from mxcubecore_lims.model.sample import SampleReference

__all__ = ["XfeSpectrum", "XfeSpectrumStoreResult"]


class XfeSpectrum(LegacyModel):
    """An X-ray fluorescence spectrum.

    Example:
        >>> XfeSpectrum.from_legacy({"exposureTime": 3, "energy": 12.7}).energy
        12.7
    """

    session_id: Optional[IntOrText] = legacy("sessionId")
    """LIMS session id; the spectrum is not stored without one."""
    bl_sample_id: Optional[IntOrText] = legacy("blSampleId")
    """LIMS id of the sample."""
    xfe_fluorescence_spectrum_id: Optional[IntOrText] = legacy(
        "xfeFluorescenceSpectrumId"
    )
    """LIMS id of the spectrum, to update an existing one."""
    sample_reference: Optional[SampleReference] = legacy("sample_reference")
    """The sample measured."""
    exposure_time: Optional[NonNegative] = legacy("exposureTime")
    """MCA integration time [s]."""
    filename: Optional[FilePath] = legacy("filename")
    """Data file (full path); ``""`` before acquisition when no directory was given."""
    scan_file_full_path: Optional[FilePath] = legacy("scanFileFullPath")
    """Archived data file."""
    jpeg_scan_file_full_path: Optional[FilePath] = legacy("jpegScanFileFullPath")
    """Plot of the spectrum."""
    annotated_pymca_xfe_spectrum: Optional[FilePath] = legacy(
        "annotatedPymcaXfeSpectrum"
    )
    """HTML page of the PyMca fit."""
    fitted_data_file_full_path: Optional[FilePath] = legacy("fittedDataFileFullPath")
    """CSV of the fitted peaks."""
    working_directory: Optional[FilePath] = legacy("workingDirectory")
    """Working directory."""
    start_time: Optional[Timestamp] = legacy("startTime")
    """Start, ``"%Y-%m-%d %H:%M:%S"`` (ISPyB's adapter turns it into a datetime)."""
    end_time: Optional[Timestamp] = legacy("endTime")
    """End, ``"%Y-%m-%d %H:%M:%S"``; not before the start."""
    beam_transmission: Optional[Percent] = legacy("beamTransmission")
    """Transmission [%]."""
    energy: Optional[EnergyKeV] = legacy("energy")
    """Excitation energy [keV]."""
    flux: Optional[NonNegative] = legacy("flux")
    """Flux [photons/s]."""
    flux_end: Optional[NonNegative] = legacy("flux_end")
    """Flux at the end [photons/s]."""
    beam_size_horizontal: Optional[NonNegative] = legacy("beamSizeHorizontal")
    """Horizontal beam size [mm]."""
    beam_size_vertical: Optional[NonNegative] = legacy("beamSizeVertical")
    """Vertical beam size [mm]."""
    comments: Optional[str] = legacy("comments")
    """Comments."""
    crystal_class: Optional[str] = legacy("crystalClass")
    """Crystal class."""

    @field_validator("end_time")
    @classmethod
    def _end_not_before_start(cls, end: Any, info: ValidationInfo) -> Any:
        """Rejects a spectrum that ends before it starts."""
        return check_end_after_start(info.data.get("start_time"), end)


class XfeSpectrumStoreResult(LegacyModel):
    """What ``store_xfe_spectrum`` returns: ``{"xfeFluorescenceSpectrumId": id}``."""

    xfe_fluorescence_spectrum_id: Optional[IntOrText] = legacy(
        "xfeFluorescenceSpectrumId"
    )
    """LIMS id of the stored spectrum, -1 when storing failed."""
