"""Energy scans: the dicts of ``store_energy_scan`` and its sample link, and the store result.

The link is ``associate_bl_sample_and_energy_scan``'s dict.

``AbstractEnergyScan.start_energy_scan`` starts the dict with the static
edge parameters, ``ESRFEnergyScan`` adds the results of chooch and removes
the keys ISPyB does not take; ``store_energy_scan_thread`` then pops
``blSampleId`` and, once the scan is stored, links it to the sample with
``{"blSampleId", "energyScanId"}``.

All energies are in keV. ``peakEnergy`` and ``inflectionEnergy`` are 0 when
chooch's result was too far from the theoretical edge and was discarded.
"""

from __future__ import annotations

from mxcubecore_lims.model._legacy import (
    EnergyKeV,
    EnergyKeVOrUnset,
    FilePath,
    IntOrText,
    LegacyModel,
    NonNegative,
    Percent,
    legacy,
)
from mxcubecore_lims.model._scan import ScanRecord

__all__ = ["EnergyScan", "EnergyScanSampleAssociation", "EnergyScanStoreResult"]


class EnergyScan(ScanRecord):
    """An energy (MAD edge) scan with its chooch analysis.

    Example:
        >>> from pathlib import Path
        >>> scan = EnergyScan.from_legacy(
        ...     {"element": "Se", "scanFileFullPath": Path("/data/se.raw")}
        ... )
        >>> scan.to_legacy()["scanFileFullPath"]
        PosixPath('/data/se.raw')
    """

    energy_scan_id: IntOrText | None = legacy("energyScanId")
    """LIMS id of the scan, to update an existing one."""
    element: str | None = legacy("element")
    """Element symbol, e.g. ``"Se"``."""
    edge_energy: EnergyKeV | str | None = legacy("edgeEnergy")
    """Theoretical edge energy [keV] (ISPyB's column is text)."""
    start_energy: EnergyKeV | None = legacy("startEnergy")
    """Scan start energy [keV]."""
    end_energy: EnergyKeV | None = legacy("endEnergy")
    """Scan end energy [keV]."""
    peak_energy: EnergyKeVOrUnset | None = legacy("peakEnergy")
    """Peak (f'' maximum) energy [keV]; 0 when discarded."""
    inflection_energy: EnergyKeVOrUnset | None = legacy("inflectionEnergy")
    """Inflection (f' minimum) energy [keV]; 0 when discarded."""
    remote_energy: EnergyKeV | None = legacy("remoteEnergy")
    """Remote energy [keV]."""
    peak_f_prime: float | None = legacy("peakFPrime")
    """f' at the peak [electrons]."""
    peak_f_double_prime: float | None = legacy("peakFDoublePrime")
    """f'' at the peak [electrons]."""
    inflection_f_prime: float | None = legacy("inflectionFPrime")
    """f' at the inflection point [electrons]."""
    inflection_f_double_prime: float | None = legacy("inflectionFDoublePrime")
    """f'' at the inflection point [electrons]."""
    remote_f_prime: float | None = legacy("remoteFPrime")
    """f' at the remote energy [electrons]."""
    remote_f_double_prime: float | None = legacy("remoteFDoublePrime")
    """f'' at the remote energy [electrons]."""
    transmission_factor: Percent | None = legacy("transmissionFactor")
    """Transmission during the scan [%]."""
    fluorescence_detector: str | None = legacy("fluorescenceDetector")
    """Fluorescence detector, e.g. ``"KETEK_AXAS-A"``."""
    jpeg_chooch_file_full_path: FilePath | None = legacy("jpegChoochFileFullPath")
    """Plot of the chooch analysis."""
    chooch_file_full_path: FilePath | None = legacy("choochFileFullPath")
    """Chooch output file."""
    synchrotron_current: NonNegative | None = legacy("synchrotronCurrent")
    """Machine current [mA]."""
    temperature: NonNegative | None = legacy("temperature")
    """Sample temperature [K]."""
    xray_dose: NonNegative | None = legacy("xrayDose")
    """X-ray dose [Gy]."""


class EnergyScanSampleAssociation(LegacyModel):
    """``{"blSampleId", "energyScanId"}``: links a stored scan to its sample.

    ``energyScanId`` may be -1: ISPyB's adapter returns it on failure and
    ESRFEnergyScan links it all the same.
    """

    bl_sample_id: IntOrText = legacy("blSampleId", default=...)
    """LIMS id of the sample."""
    energy_scan_id: IntOrText = legacy("energyScanId", default=...)
    """LIMS id of the energy scan."""


class EnergyScanStoreResult(LegacyModel):
    """What ``store_energy_scan`` returns: ``{"energyScanId": id}``, -1 on failure."""

    energy_scan_id: IntOrText | None = legacy("energyScanId")
    """LIMS id of the stored scan, -1 when storing failed."""
