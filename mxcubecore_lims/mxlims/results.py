"""A session's results as one MXLIMS document: the one place LIMS rows map to MXLIMS.

Each LIMS reader (ISPyB, ICAT) turns what it holds into the records of
:mod:`.reading`, in MXCuBE's units, and :func:`results_document` makes the document:

* the session's samples as a shipment (:mod:`.inventory`), so the document
  can be imported elsewhere as the same samples;
* one ``MxExperiment`` (``jobStatus`` ``Completed`` or ``Failed``) per
  data-collection group, about the pin its collections were made on;
* one ``CollectionSweep`` (``role`` ``Result``) per data collection, with its
  parameters, a ``Scan`` for its images, its directory and file template,
  and the image files it has in the LIMS;
* one ``MxProcessing`` per processing result the LIMS holds, with the
  ``ReflectionSet`` it produced (space group, refined cell, statistics of the
  overall, inner and outer shells), its ``inputDataRefs`` the sweeps processed.

Units follow MXLIMS: energy in eV (from keV or from the wavelength in Å),
transmission in percent, resolution in Å, beam size and detector distance
in mm, times as ISO 8601 with a UTC offset. LIMS ids go to ``identifiers``
under the site's domain key; what MXLIMS has no field for (the session,
the run number, the image list, the collection's status text) goes to
``extensions`` under the same key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from mxcubecore_lims.mxlims.datasets import CollectionSweep, ReflectionSet
from mxcubecore_lims.mxlims.datatypes import JobStatus, ReflectionStatistics, Scan, UnitCell, space_group_names
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.inventory import SampleRefs, add_samples
from mxcubecore_lims.mxlims.jobs import MxExperiment, MxProcessing
from mxcubecore_lims.mxlims.reading import SHELL_KEYS, SessionInfo, SessionProcessing, SessionReading, SessionSweep

__all__ = [
    "SHELL_KEYS",
    "SessionInfo",
    "SessionProcessing",
    "SessionSweep",
    "aware_text",
    "energy_in_ev",
    "reading_document",
    "results_document",
]

# The records are defined with the rest of what a LIMS reader gives back; re-exported here.

#: h·c in keV·Å: energy (keV) = HC_KEV_ANGSTROM / wavelength (Å).
HC_KEV_ANGSTROM = 12.398419843320026


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


def _statistics(shell: Mapping[str, float]) -> ReflectionStatistics | None:
    low, high = shell.get("resolution_low"), shell.get("resolution_high")
    if low is None or high is None:
        return None  # MXLIMS requires the shell's limits
    values: dict[str, Any] = {}
    for key, name in SHELL_KEYS.items():
        value = shell.get(key)
        if not name or value is None:
            continue
        if name.startswith("number_"):
            if int(value) > 0:
                values[name] = int(value)
        elif name == "i_over_sig_i" or value >= 0:
            values[name] = float(value)
    if "completeness" in values and values["completeness"] > 100:
        del values["completeness"]
    return ReflectionStatistics(resolution_limits=[float(low), float(high)], **values)


def _processing(
    document: MxlimsDocument, processing: SessionProcessing, info: SessionInfo, sweeps: Mapping[str, Any]
) -> None:
    """An MxProcessing job and the ReflectionSet it produced."""
    inputs = [sweeps[i] for i in processing.input_ids if i in sweeps]
    first = document.resolve(inputs[0]) if inputs else None
    space_group = processing.space_group if processing.space_group in space_group_names() else None
    cell = None
    if processing.unit_cell is not None and min(processing.unit_cell) > 0:
        a, b, c, alpha, beta, gamma = processing.unit_cell
        cell = UnitCell(a=a, b=b, c=c, alpha=alpha, beta=beta, gamma=gamma)
    job = document.add(
        MxProcessing(
            job_status="Failed" if processing.succeeded is False else "Completed",
            program_name=processing.program,
            space_group_name=space_group,
            unit_cell=cell,
            start_time=aware_text(processing.start),
            end_time=aware_text(processing.end),
            input_data_refs=inputs or None,
            logistical_sample_ref=getattr(first, "logistical_sample_ref", None),
            identifiers={info.domain: processing.lims_id},
        )
    )
    overall = _statistics(processing.shells.get("overall", {}))
    shells = [s for s in (_statistics(processing.shells.get(n, {})) for n in ("inner", "outer")) if s is not None]
    document.add(
        ReflectionSet(
            role="Result",
            space_group_name=space_group,
            refined_unit_cell=cell,
            operational_resolution=(overall.resolution_limits[1] if overall else None) or None,
            reflection_statistics_overall=overall,
            reflection_statistics_shells=shells or None,
            path=processing.directory,
            source_ref=job,
            logistical_sample_ref=getattr(first, "logistical_sample_ref", None),
            identifiers={info.domain: processing.lims_id},
            extensions={info.domain: dict(processing.extra)} if processing.extra else None,
        )
    )


def results_document(
    info: SessionInfo,
    samples: Iterable[Mapping[str, Any]],
    sweeps: Iterable[SessionSweep],
    processings: Iterable[SessionProcessing] = (),
) -> tuple[MxlimsDocument, SampleRefs]:
    """The session's MXLIMS document.

    Args:
        info: The session.
        samples: Its samples as ``get_samples`` dicts.
        sweeps: Its data collections, in the order to write them.
        processings: What the LIMS holds about their processing.

    Returns:
        The document (checked: every link resolves) and where each sample went.
    """
    document = MxlimsDocument()
    refs = add_samples(document, samples, info.proposal_code, info.domain, f"{info.lims} session {info.session_id}")
    written: dict[str, Any] = {}
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
            written[sweep.lims_id] = document.add(_sweep(sweep, info, experiment, refs.pins.get(sweep.sample_id or "")))
    for processing in processings:
        _processing(document, processing, info, written)
    return document.checked(), refs


def reading_document(reading: SessionReading) -> MxlimsDocument:
    """The MXLIMS document of what a LIMS gave back about a session."""
    document, _ = results_document(reading.info, reading.samples, reading.sweeps, reading.processings)
    return document
