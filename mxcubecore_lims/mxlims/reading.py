"""What a LIMS holds about one session, read back: the records every LIMS reader fills.

LIMS-neutral and in MXCuBE's units. :mod:`.results` maps them to an MXLIMS
document; :mod:`mxcubecore_lims.record` to the session record people read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "SHELL_KEYS",
    "SessionInfo",
    "SessionProcessing",
    "SessionReading",
    "SessionScan",
    "SessionSweep",
    "as_datetime",
    "as_float",
    "as_int",
]


@dataclass(frozen=True)
class SessionInfo:
    """The session a results document is about.

    Attributes:
        session_id: The LIMS session id (ISPyB sessionId, ICAT investigation id).
        proposal_code: Proposal code and number together, e.g. ``mx415``.
        beamline: Beamline name.
        domain: The site's domain key for identifiers and extensions (e.g. ``esrf.fr``).
        lims: Which LIMS the document was read from (``ISPyB``, ``ICAT``).
    """

    session_id: str
    proposal_code: str
    beamline: str | None
    domain: str
    lims: str


@dataclass(frozen=True)
class SessionSweep:
    """One data collection as a LIMS holds it, in MXCuBE's units.

    Attributes:
        lims_id: Its id in the LIMS.
        group_id: Its data-collection group (collections of one group share an MxExperiment).
        sample_id: The LIMS sample it was collected on, as ``get_samples`` names it.
        experiment_type: ISPyB's experimentType, e.g. ``OSC``, ``Characterization``.
        start: Start time (naive means local time).
        end: End time.
        succeeded: False when the LIMS says the collection failed; None when it does not say.
        status: The LIMS's own status text, kept as an extension.
        axis: Rotation axis name, lower case (``omega``).
        axis_start: Start angle in degrees.
        image_width: Degrees per image.
        number_images: Images in the sweep.
        first_image_number: Number of its first image.
        exposure_time: Seconds per image.
        energy_kev: Photon energy in keV (else derived from ``wavelength``).
        wavelength: Wavelength in Å.
        transmission: Percent.
        resolution: Å at the detector edge.
        detector_distance: mm.
        beam_size: Horizontal and vertical beam size in mm.
        beam_shape: e.g. ``ellipse``, ``rectangle``.
        directory: Directory of the images.
        prefix: Image file prefix.
        run_number: Run number.
        filename_template: File name template, e.g. ``lyso_1_%04d.cbf``.
        file_type: ``cbf``, ``h5``...
        images: Image file paths the LIMS holds for this collection.
        snapshots: Crystal snapshot image paths the LIMS holds for it.
        comments: Free text.
    """

    lims_id: str
    group_id: str | None = None
    sample_id: str | None = None
    experiment_type: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    succeeded: bool | None = None
    status: str | None = None
    axis: str = "omega"
    axis_start: float | None = None
    image_width: float | None = None
    number_images: int | None = None
    first_image_number: int | None = None
    exposure_time: float | None = None
    energy_kev: float | None = None
    wavelength: float | None = None
    transmission: float | None = None
    resolution: float | None = None
    detector_distance: float | None = None
    beam_size: tuple[float, float] | None = None
    beam_shape: str | None = None
    directory: str | None = None
    prefix: str | None = None
    run_number: int | None = None
    filename_template: str | None = None
    file_type: str | None = None
    images: tuple[str, ...] = ()
    snapshots: tuple[str, ...] = ()
    comments: str | None = None


#: Statistics of one resolution shell, by our key -> ReflectionStatistics field.
SHELL_KEYS = {
    "resolution_low": "",
    "resolution_high": "",
    "r_merge": "r_merge",
    "r_meas": "r_meas",
    "r_pim": "r_pim",
    "i_over_sig_i": "i_over_sig_i",
    "completeness": "completeness",
    "multiplicity": "redundancy",
    "completeness_ano": "completeness_ano",
    "multiplicity_ano": "redundancy_ano",
    "observations": "number_observations",
    "unique_observations": "number_observations_unique",
}


@dataclass(frozen=True)
class SessionProcessing:
    """One processing result (auto-processing of one or more collections) as a LIMS holds it.

    Attributes:
        lims_id: Its id in the LIMS.
        input_ids: The LIMS ids of the collections it processed.
        program: The program (or the LIMS's name for the run).
        succeeded: False when the LIMS says it failed.
        start: When it started.
        end: When it ended.
        space_group: Space group found.
        unit_cell: a, b, c (Å), alpha, beta, gamma (degrees).
        shells: ``overall``, ``inner``, ``outer`` -> statistics by :data:`SHELL_KEYS`
            (resolution limits in Å, completeness in percent).
        extra: Values MXLIMS has no field for (CC½, anomalous flag...), kept as an extension.
        directory: Where its files are.
    """

    lims_id: str
    input_ids: tuple[str, ...] = ()
    program: str | None = None
    succeeded: bool | None = None
    start: datetime | None = None
    end: datetime | None = None
    space_group: str | None = None
    unit_cell: tuple[float, float, float, float, float, float] | None = None
    shells: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    directory: str | None = None


@dataclass(frozen=True)
class SessionScan:
    """An energy scan or a fluorescence spectrum, as a LIMS holds it.

    Attributes:
        lims_id: Its id in the LIMS.
        kind: ``energy_scan`` or ``xrf``.
        name: The LIMS's name for it.
        sample_id: The sample it was measured on, if known.
        start: When it started.
        end: When it ended.
        values: What was measured (element, edge and peak energies, ...), by the LIMS's names.
        files: Its files.
    """

    lims_id: str
    kind: str
    name: str
    sample_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()


@dataclass
class SessionReading:
    """Everything one LIMS gave back about a session.

    Attributes:
        info: The session.
        samples: Its samples as ``get_samples`` dicts.
        sweeps: Its data collections, oldest first.
        processings: Processing results.
        scans: Energy scans and fluorescence spectra.
        users: People on the session (names as the LIMS gives them).
        start: The session's start, if the LIMS tells it.
        end: Its end.
        unread: What could not be read, with why (e.g. "robot actions: ISPyB's SOAP cannot list them").
    """

    info: SessionInfo
    samples: list[dict[str, Any]] = field(default_factory=list)
    sweeps: list[SessionSweep] = field(default_factory=list)
    processings: list[SessionProcessing] = field(default_factory=list)
    scans: list[SessionScan] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    unread: dict[str, str] = field(default_factory=dict)


# -- LIMS values, as every reader converts them ---------------------------------

#: Date formats besides ISO 8601: Gson's default, as real ISPyB writes dates in its JSON
#: answers (e.g. "Dec 3, 2026 10:15:00 PM").
_OTHER_DATE_FORMATS = ("%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S %p")


def as_float(value: Any) -> float | None:
    """A LIMS value as a number, or None (missing, empty or not a number)."""
    try:
        return float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def as_int(value: Any) -> int | None:
    """A LIMS value as an integer, or None."""
    number = as_float(value)
    return int(number) if number is not None else None


def as_datetime(value: Any) -> datetime | None:
    """A LIMS value as a date-time (ISO 8601, or Gson's default format), or None."""
    if isinstance(value, datetime):
        return value
    if value in (None, ""):
        return None
    text = str(value).replace("\u202f", " ")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for pattern in _OTHER_DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None
