"""What ICAT holds about an investigation's collections and their processing, as MXLIMS result records.

Read back from ICAT itself (never from our outbox), so it works for a session
collected by another process: the investigation's acquisition Datasets with
their ``MX_*`` parameters (the keys :mod:`.metadata` writes) and their
Datafiles. ICAT has no data-collection groups, so each dataset is its own
group unless it carries a ``Workflow_id`` (the datasets of one workflow run
share it). Energy scans and fluorescence spectra (``MX_scanType``
``energy_scan``/``xrf``) have no MXLIMS 0.6.13 type and are left out.

Processing results are the datasets carrying ESRF's auto-processing keys
(``MX.AutoprocIntegration`` and its ``Scaling``, flattened with ``_`` as the
``MX_*`` keys are: ``MX_AutoprocIntegration_space_group``,
``MX_AutoprocIntegration_cell_a``,
``MX_AutoprocIntegration_Scaling_overall_completeness``, ...). A result
names the collections it processed by ``input_datasets`` (dataset ids or
locations, comma- or space-separated); without it, the collection whose
directory holds the result's is taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from mxcubecore_lims.icat.gateway import IcatGateway
from mxcubecore_lims.mxlims.reading import SessionProcessing, SessionScan, SessionSweep, as_datetime, as_float, as_int

__all__ = [
    "COLLECTION_SCAN_TYPES",
    "PROCESSING_PREFIX",
    "processing_from_dataset",
    "read_session_results",
    "scan_from_dataset",
    "sweep_from_dataset",
]

#: ``MX_scanType`` of energy scans and fluorescence spectra.
SCAN_TYPES = frozenset({"energy_scan", "xrf"})

#: Parameters of a processing result start with this.
PROCESSING_PREFIX = "MX_AutoprocIntegration_"

#: Our shell statistic key -> the ESRF key after ``..._Scaling_<shell>_``.
_SHELL_PARAMETERS = {
    "resolution_low": "resolution_limit_low",
    "resolution_high": "resolution_limit_high",
    "r_merge": "r_merge",
    "r_meas": "r_meas_all_IPlus_IMinus",
    "r_pim": "r_pim_all_IPlus_IMinus",
    "i_over_sig_i": "mean_I_over_sigI",
    "completeness": "completeness",
    "multiplicity": "multiplicity",
    "completeness_ano": "anomalous_completeness",
    "multiplicity_ano": "anomalous_multiplicity",
    "observations": "n_total_observations",
    "unique_observations": "n_total_unique_observations",
}

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
    if scan_type not in COLLECTION_SCAN_TYPES or any(k.startswith(PROCESSING_PREFIX) for k in params):
        return None
    template = params.get("MX_template")
    prefix, run = _prefix_and_run(str(dataset.name), template)
    sample = getattr(dataset, "sample", None)
    sample_id = getattr(sample, "id", None) or params.get("MX_lims_sample_id")
    size_x, size_y = as_float(params.get("MX_beamSizeAtSampleX")), as_float(params.get("MX_beamSizeAtSampleY"))
    files = sorted(str(f.location or f.name) for f in getattr(dataset, "datafiles", None) or [])
    complete = getattr(dataset, "complete", None)
    workflow = params.get("Workflow_id")
    return SessionSweep(
        lims_id=str(dataset.id),
        group_id=f"workflow-{workflow}" if workflow else f"dataset-{dataset.id}",
        sample_id=str(as_int(sample_id)) if as_int(sample_id) is not None else None,
        experiment_type=params.get("MX_experimentType"),
        start=as_datetime(getattr(dataset, "startDate", None)),
        end=as_datetime(getattr(dataset, "endDate", None)),
        succeeded=None if complete is None else bool(complete),
        status=params.get("MX_status"),
        axis=str(params.get("MX_rotation_axis") or "omega"),
        axis_start=as_float(params.get("MX_oscillationStart")),
        image_width=as_float(params.get("MX_oscillationRange")),
        number_images=as_int(params.get("MX_numberOfImages")),
        first_image_number=as_int(params.get("MX_startImageNumber")),
        exposure_time=as_float(params.get("MX_exposureTime")),
        energy_kev=as_float(params.get("InstrumentMonochromator_energy")),
        wavelength=as_float(params.get("MX_wavelength") or params.get("InstrumentMonochromator_wavelength")),
        transmission=as_float(params.get("MX_transmission")),
        resolution=as_float(params.get("MX_resolution")),
        detector_distance=as_float(params.get("MX_detectorDistance")),
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


def processing_from_dataset(dataset: Any, collections: Iterable[Any]) -> SessionProcessing | None:
    """The processing result one ICAT Dataset holds, or None when it holds none.

    Args:
        dataset: The dataset (``parameters.type`` included).
        collections: The investigation's collection datasets, to find what it processed.
    """
    params = _parameters(dataset)
    if not any(k.startswith(PROCESSING_PREFIX) for k in params):
        return None
    shells: dict[str, dict[str, float]] = {}
    for shell in ("overall", "inner", "outer"):
        values = {
            key: number
            for key, name in _SHELL_PARAMETERS.items()
            if (number := as_float(params.get(f"{PROCESSING_PREFIX}Scaling_{shell}_{name}"))) is not None
        }
        if values:
            shells[shell] = values
    edges = [as_float(params.get(f"{PROCESSING_PREFIX}cell_{x}")) for x in ("a", "b", "c", "alpha", "beta", "gamma")]
    known = [v for v in edges if v is not None]
    cell = (known[0], known[1], known[2], known[3], known[4], known[5]) if len(known) == 6 else None
    extra: dict[str, Any] = {
        f"{shell}CcHalf": value
        for shell in ("overall", "inner", "outer")
        if (value := as_float(params.get(f"{PROCESSING_PREFIX}Scaling_{shell}_cc_half"))) is not None
    }
    if params.get(f"{PROCESSING_PREFIX}anomalous") is not None:
        extra["anomalous"] = str(params[f"{PROCESSING_PREFIX}anomalous"])
    complete = getattr(dataset, "complete", None)
    return SessionProcessing(
        lims_id=str(dataset.id),
        input_ids=_inputs(dataset, params, collections),
        program=str(dataset.name),
        succeeded=None if complete is None else bool(complete),
        start=as_datetime(getattr(dataset, "startDate", None)),
        end=as_datetime(getattr(dataset, "endDate", None)),
        space_group=params.get(f"{PROCESSING_PREFIX}space_group"),
        unit_cell=cell,
        shells=shells,
        extra=extra,
        directory=getattr(dataset, "location", None),
    )


def _inputs(dataset: Any, params: dict[str, Any], collections: Iterable[Any]) -> tuple[str, ...]:
    by_id = {str(c.id): c for c in collections}
    by_location = {str(getattr(c, "location", "") or "").rstrip("/"): str(c.id) for c in by_id.values()}
    named = str(params.get("input_datasets") or "").replace(",", " ").split()
    found = [n if n in by_id else by_location.get(n.rstrip("/"), "") for n in named]
    if named:
        return tuple(f for f in found if f)
    # No names: the collection whose directory holds the result (auto-processing writes under it).
    location = str(getattr(dataset, "location", "") or "")
    holders = [(len(path), key) for path, key in by_location.items() if path and location.startswith(path + "/")]
    return (max(holders)[1],) if holders else ()


def scan_from_dataset(dataset: Any) -> SessionScan | None:
    """The energy scan or fluorescence spectrum one ICAT Dataset holds, or None."""
    params = _parameters(dataset)
    kind = str(params.get("MX_scanType") or "").lower()
    if kind not in SCAN_TYPES:
        return None
    sample = getattr(dataset, "sample", None)
    sample_id = getattr(sample, "id", None) or params.get("MX_lims_sample_id")
    return SessionScan(
        lims_id=str(dataset.id),
        kind=kind,
        name=str(dataset.name),
        sample_id=str(as_int(sample_id)) if as_int(sample_id) is not None else None,
        start=as_datetime(getattr(dataset, "startDate", None)),
        end=as_datetime(getattr(dataset, "endDate", None)),
        values={k[3:]: v for k, v in params.items() if k.startswith("MX_") and k != "MX_scanType"},
        files=tuple(sorted(str(f.location or f.name) for f in getattr(dataset, "datafiles", None) or [])),
    )


def read_session_results(
    gateway: IcatGateway, user: str, investigation_id: int
) -> tuple[list[SessionSweep], list[SessionProcessing], list[SessionScan]]:
    """The investigation's diffraction collections (oldest first), processing results and scans.

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

    found: list[Any] = list(gateway.call(user, "read datasets", read))
    pairs = [(d, sweep_from_dataset(d)) for d in found]
    sweeps = sorted((s for _, s in pairs if s is not None), key=lambda s: (s.start or datetime.min, int(s.lims_id)))
    collections = [d for d, s in pairs if s is not None]
    processings = [p for p in (processing_from_dataset(d, collections) for d in found) if p is not None]
    scans = [s for s in (scan_from_dataset(d) for d in found) if s is not None]
    return sweeps, processings, scans
