"""A session's results as one MXLIMS document: the one place LIMS rows map to MXLIMS.

Each LIMS reader (ISPyB, ICAT) turns what it holds into :class:`SessionSweep`
records, in MXCuBE's units, and :func:`results_document` makes the document:

* the session's samples as a shipment (:mod:`.inventory`), so the document
  can be imported elsewhere as the same samples;
* one ``MxExperiment`` (``jobStatus`` ``Completed`` or ``Failed``) per
  data-collection group, about the pin its collections were made on;
* one ``CollectionSweep`` (``role`` ``Result``) per data collection, with its
  parameters, a ``Scan`` for its images, its directory and file template,
  and the image files it has in the LIMS.

Units follow MXLIMS: energy in eV (from keV or from the wavelength in Å),
transmission in percent, resolution in Å, beam size and detector distance
in mm, times as ISO 8601 with a UTC offset. LIMS ids go to ``identifiers``
under the site's domain key; what MXLIMS has no field for (the session,
the run number, the image list, the collection's status text) goes to
``extensions`` under the same key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mxcubecore_lims.mxlims.datasets import CollectionSweep
from mxcubecore_lims.mxlims.datatypes import JobStatus, Scan
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.inventory import SampleRefs, add_samples
from mxcubecore_lims.mxlims.jobs import MxExperiment

__all__ = ["SessionInfo", "SessionSweep", "aware_text", "energy_in_ev", "results_document"]

#: h·c in keV·Å: energy (keV) = HC_KEV_ANGSTROM / wavelength (Å).
HC_KEV_ANGSTROM = 12.398419843320026


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
    comments: str | None = None


def aware_text(moment: datetime | None) -> str | None:
    """ISO 8601 with a UTC offset, as MXLIMS requires (naive means local time)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.isoformat(timespec="seconds")


def energy_in_ev(energy_kev: float | None, wavelength: float | None) -> float | None:
    """Photon energy in eV, from keV or else from the wavelength in Å."""
    if energy_kev is not None and energy_kev > 0:
        return round(energy_kev * 1000.0, 3)
    if wavelength is not None and wavelength > 0:
        return round(HC_KEV_ANGSTROM / wavelength * 1000.0, 3)
    return None


def _positive(value: float | int | None) -> Any:
    return value if value is not None and value > 0 else None


def _sweep(sweep: SessionSweep, info: SessionInfo, experiment: Any, pin: Any) -> CollectionSweep:
    scans = None
    if sweep.number_images and sweep.number_images > 0:
        scans = [
            Scan(
                scan_position_start=sweep.axis_start or 0.0,
                first_image_number=sweep.first_image_number if sweep.first_image_number is not None else 1,
                number_images=sweep.number_images,
                ordinal=1,
            )
        ]
    extension = {
        "session": info.session_id,
        "runNumber": sweep.run_number,
        "status": sweep.status,
        "startTime": aware_text(sweep.start),
        "endTime": aware_text(sweep.end),
        "imageFiles": list(sweep.images) or None,
        "wavelength": sweep.wavelength,
    }
    transmission = sweep.transmission if sweep.transmission is not None and 0 < sweep.transmission <= 100 else None
    return CollectionSweep(
        scan_axis=sweep.axis.lower() or "omega",
        sweep_type="simple",
        role="Result",
        exposure_time=_positive(sweep.exposure_time),
        image_width=_positive(sweep.image_width),
        number_images=_positive(sweep.number_images),
        energy=energy_in_ev(sweep.energy_kev, sweep.wavelength),
        transmission=transmission,
        resolution=_positive(sweep.resolution),
        beam_size=list(sweep.beam_size) if sweep.beam_size and min(sweep.beam_size) > 0 else None,
        beam_shape=sweep.beam_shape,
        axis_positions_start=(
            {"detector_distance": sweep.detector_distance} if sweep.detector_distance is not None else None
        ),
        scans=scans,
        file_type=sweep.file_type,
        prefix=sweep.prefix,
        filename_template=sweep.filename_template,
        path=sweep.directory,
        annotation=sweep.comments or None,
        source_ref=experiment,
        logistical_sample_ref=pin,
        identifiers={info.domain: sweep.lims_id},
        extensions={info.domain: {k: v for k, v in extension.items() if v is not None}},
    )


def _status(sweeps: Sequence[SessionSweep]) -> JobStatus:
    return "Failed" if any(s.succeeded is False for s in sweeps) else "Completed"


def _groups(sweeps: Iterable[SessionSweep]) -> dict[str, list[SessionSweep]]:
    groups: dict[str, list[SessionSweep]] = {}
    for sweep in sweeps:
        groups.setdefault(sweep.group_id or f"collection-{sweep.lims_id}", []).append(sweep)
    return groups


def results_document(
    info: SessionInfo, samples: Iterable[Mapping[str, Any]], sweeps: Iterable[SessionSweep]
) -> tuple[MxlimsDocument, SampleRefs]:
    """The session's MXLIMS document.

    Args:
        info: The session.
        samples: Its samples as ``get_samples`` dicts.
        sweeps: Its data collections, in the order to write them.

    Returns:
        The document (checked: every link resolves) and where each sample went.
    """
    document = MxlimsDocument()
    refs = add_samples(document, samples, info.proposal_code, info.domain, f"{info.lims} session {info.session_id}")
    for group_id, members in _groups(sweeps).items():
        members.sort(key=lambda s: (s.start or datetime.min, s.lims_id))
        first = members[0]
        sample_key = first.sample_id or ""
        starts = [s.start for s in members if s.start is not None]
        ends = [s.end for s in members if s.end is not None]
        experiment = document.add(
            MxExperiment(
                job_status=_status(members),
                experiment_strategy=first.experiment_type,
                experiment_location=info.beamline,
                start_time=aware_text(min(starts)) if starts else None,
                end_time=aware_text(max(ends)) if ends else None,
                logistical_sample_ref=refs.pins.get(sample_key),
                sample_ref=refs.samples.get(sample_key),
                identifiers={info.domain: group_id} if first.group_id else None,
                extensions={info.domain: {"session": info.session_id}},
            )
        )
        for sweep in members:
            document.add(_sweep(sweep, info, experiment, refs.pins.get(sweep.sample_id or "")))
    return document.checked(), refs
