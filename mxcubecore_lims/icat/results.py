"""What ICAT holds about an investigation's collections, as :class:`SessionSweep` records.

Read back from ICAT itself (never from our outbox), so it works for a session
collected by another process: the investigation's acquisition Datasets with
their ``MX_*`` parameters (the keys :mod:`.metadata` writes) and their
Datafiles. ICAT has no data-collection groups, so each dataset is its own
group unless it carries a ``Workflow_id`` (the datasets of one workflow run
share it). Energy scans and fluorescence spectra (``MX_scanType``
``energy_scan``/``xrf``) have no MXLIMS 0.6.13 type and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from mxcubecore_lims.icat.gateway import IcatGateway
from mxcubecore_lims.mxlims.results import SessionSweep

__all__ = ["COLLECTION_SCAN_TYPES", "read_session_sweeps", "sweep_from_dataset"]

#: ``MX_scanType`` values of diffraction collections (a dataset without one is taken as one).
COLLECTION_SCAN_TYPES = frozenset({"datacollection", "characterisation", "mesh", "line"})


def _parameters(dataset: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for parameter in getattr(dataset, "parameters", None) or []:
        name = getattr(getattr(parameter, "type", None), "name", None)
        if name is None:
            continue
        for field in ("numericValue", "stringValue", "dateTimeValue"):
            value = getattr(parameter, field, None)
            if value is not None:
                # suds hands out its own str subclass; records hold plain values.
                values[str(name)] = str(value) if isinstance(value, str) else value
                break
    return values


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None else None


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _prefix_and_run(name: str, template: str | None) -> tuple[str | None, int | None]:
    """``lyso_1`` (``<prefix>_<run>``, mxcubecore's dataset naming) -> (``lyso``, 1)."""
    stem, _, run = name.rpartition("_")
    if stem and run.isdigit():
        return stem, int(run)
    return (template.split("_")[0] if template else None), None


def sweep_from_dataset(dataset: Any) -> SessionSweep | None:
    """The record of one ICAT Dataset (``parameters.type``, ``datafiles``, ``sample`` included).

    Returns:
        The record, or None when the dataset is not a diffraction collection.
    """
    params = _parameters(dataset)
    scan_type = str(params.get("MX_scanType") or "datacollection").lower()
    if scan_type not in COLLECTION_SCAN_TYPES:
        return None
    template = params.get("MX_template")
    prefix, run = _prefix_and_run(str(dataset.name), template)
    sample = getattr(dataset, "sample", None)
    sample_id = getattr(sample, "id", None) or params.get("MX_lims_sample_id")
    size_x, size_y = _float(params.get("MX_beamSizeAtSampleX")), _float(params.get("MX_beamSizeAtSampleY"))
    files = sorted(str(f.location or f.name) for f in getattr(dataset, "datafiles", None) or [])
    complete = getattr(dataset, "complete", None)
    workflow = params.get("Workflow_id")
    return SessionSweep(
        lims_id=str(dataset.id),
        group_id=f"workflow-{workflow}" if workflow else f"dataset-{dataset.id}",
        sample_id=str(_int(sample_id)) if _int(sample_id) is not None else None,
        experiment_type=params.get("MX_experimentType"),
        start=_moment(getattr(dataset, "startDate", None)),
        end=_moment(getattr(dataset, "endDate", None)),
        succeeded=None if complete is None else bool(complete),
        status=params.get("MX_status"),
        axis=str(params.get("MX_rotation_axis") or "omega"),
        axis_start=_float(params.get("MX_oscillationStart")),
        image_width=_float(params.get("MX_oscillationRange")),
        number_images=_int(params.get("MX_numberOfImages")),
        first_image_number=_int(params.get("MX_startImageNumber")),
        exposure_time=_float(params.get("MX_exposureTime")),
        energy_kev=_float(params.get("InstrumentMonochromator_energy")),
        wavelength=_float(params.get("MX_wavelength") or params.get("InstrumentMonochromator_wavelength")),
        transmission=_float(params.get("MX_transmission")),
        resolution=_float(params.get("MX_resolution")),
        detector_distance=_float(params.get("MX_detectorDistance")),
        beam_size=(size_x, size_y) if size_x and size_y else None,
        beam_shape=params.get("MX_beamShape"),
        directory=params.get("MX_directory") or getattr(dataset, "location", None),
        prefix=prefix,
        run_number=run,
        filename_template=template,
        file_type=template.rsplit(".", 1)[-1] if template and "." in template else None,
        images=tuple(files),
        comments=params.get("MX_comments"),
    )


def read_session_sweeps(gateway: IcatGateway, user: str, investigation_id: int) -> list[SessionSweep]:
    """The investigation's diffraction collections, oldest first.

    Raises:
        LimsUnavailableError: ICAT does not answer.
        LimsAuthorizationError: The user may not read the investigation.
    """

    def read(client: Any) -> list[Any]:
        query = gateway.query(
            "Dataset",
            conditions={"investigation.id": f"= {int(investigation_id)}"},
            includes=["parameters.type", "datafiles", "sample"],
            order=["id"],
        )
        return list(client.search(query))

    found: Iterable[Any] = gateway.call(user, "read datasets", read)
    sweeps = [s for s in (sweep_from_dataset(d) for d in found) if s is not None]
    return sorted(sweeps, key=lambda s: (s.start or datetime.min, int(s.lims_id)))
