"""XRF (XFE) spectra: the dict of ``store_xfe_spectrum`` and the store result.

``AbstractXRFSpectrum`` builds it in ``start_spectrum`` and
``spectrum_command_finished`` and stores it only when ``sessionId`` is set.
``filename`` is the full path of the data file here (unlike the energy
scan's).
"""

from __future__ import annotations

from mxcubecore_lims.model._legacy import (
    EnergyKeV,
    FilePath,
    IntOrText,
    LegacyModel,
    Percent,
    legacy,
)
from mxcubecore_lims.model._scan import ScanRecord

__all__ = ["XfeSpectrum", "XfeSpectrumStoreResult"]


class XfeSpectrum(ScanRecord):
    """An X-ray fluorescence spectrum.

    Example:
        >>> XfeSpectrum.from_legacy({"exposureTime": 3, "energy": 12.7}).energy
        12.7
    """

    xfe_fluorescence_spectrum_id: IntOrText | None = legacy("xfeFluorescenceSpectrumId")
    """LIMS id of the spectrum, to update an existing one."""
    jpeg_scan_file_full_path: FilePath | None = legacy("jpegScanFileFullPath")
    """Plot of the spectrum."""
    annotated_pymca_xfe_spectrum: FilePath | None = legacy("annotatedPymcaXfeSpectrum")
    """HTML page of the PyMca fit."""
    fitted_data_file_full_path: FilePath | None = legacy("fittedDataFileFullPath")
    """CSV of the fitted peaks."""
    beam_transmission: Percent | None = legacy("beamTransmission")
    """Transmission [%]."""
    energy: EnergyKeV | None = legacy("energy")
    """Excitation energy [keV]."""


class XfeSpectrumStoreResult(LegacyModel):
    """What ``store_xfe_spectrum`` returns: ``{"xfeFluorescenceSpectrumId": id}``."""

    xfe_fluorescence_spectrum_id: IntOrText | None = legacy("xfeFluorescenceSpectrumId")
    """LIMS id of the stored spectrum, -1 when storing failed."""
