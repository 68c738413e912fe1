"""Dataset metadata: from our models to ICAT parameter names, and ``metadata.json``.

The parameter names are the ESRF ICAT keys (``MX_*``, ``Sample*``,
``Instrument*``; reference ``icat.md`` §4), so a facility that already
defines those ParameterTypes needs nothing new. Values keep their units:
energies in keV, wavelengths in Å, distances in mm, times in s.

:class:`DatasetRecord` is what gets uploaded, and exactly what
``metadata.json`` holds (plus the investigation), so the file next to the
data and the catalogue entry always agree.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mxcubecore_lims.model import DataCollection, EnergyScan, Image, XfeSpectrum

__all__ = [
    "DatafileRecord",
    "DatasetRecord",
    "collection_record",
    "energy_scan_record",
    "write_metadata_json",
    "xfe_spectrum_record",
]

METADATA_FILE = "metadata.json"


@dataclass(frozen=True)
class DatafileRecord:
    """A file of a dataset (an image the collect routine stored)."""

    name: str
    location: str


@dataclass
class DatasetRecord:
    """One ICAT Dataset to create.

    Attributes:
        name: Dataset name (unique within the investigation).
        location: Directory of the data.
        start: Start of the acquisition (naive local or aware).
        end: Its end.
        complete: Whether the acquisition finished normally.
        sample_id: ICAT Sample id, if the sample came from ICAT.
        sample_name: Sample name, for the metadata when there is no id.
        parameters: ICAT parameter name -> value (numbers or text).
        datafiles: Files of the dataset.
    """

    name: str
    location: str
    start: datetime | None
    end: datetime | None
    complete: bool = True
    sample_id: int | None = None
    sample_name: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    datafiles: list[DatafileRecord] = field(default_factory=list)

    def as_json(self, investigation: Mapping[str, Any]) -> dict[str, Any]:
        """The ``metadata.json`` content."""
        return {
            "dataset": self.name,
            "location": self.location,
            "investigation": dict(investigation),
            "startDate": _iso(self.start),
            "endDate": _iso(self.end),
            "complete": self.complete,
            "sample": {"id": self.sample_id, "name": self.sample_name},
            "parameters": dict(sorted(self.parameters.items())),
            "datafiles": [{"name": f.name, "location": f.location} for f in self.datafiles],
        }


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.astimezone()).isoformat()


def _when(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text[:19], pattern)
        except ValueError:
            continue
    return datetime.fromisoformat(text)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Sets a parameter unless the value is missing (ICAT stores no nulls)."""
    if value is None or value == "":
        return
    if isinstance(value, bool):
        value = "true" if value else "false"
    target[key] = value


def dataset_name(prefix: str | None, run_number: Any, directory: str, fallback: str) -> str:
    """``<prefix>_<run>`` (mxcubecore's file naming), else the directory's name."""
    if prefix:
        return f"{prefix}_{run_number}" if run_number not in (None, "") else str(prefix)
    return Path(directory).name or fallback


def disambiguated(name: str, location: str) -> str:
    """A stable alternative name for a dataset whose name is taken elsewhere.

    Derived from the location, so an upload repeated after a crash finds the
    same name again (and the dataset it created the first time).
    """
    return f"{name}_{hashlib.sha1(location.encode('utf-8'), usedforsecurity=False).hexdigest()[:8]}"


def _scan_type(collection: DataCollection) -> str:
    kind = (collection.experiment_type or "").lower()
    if "mesh" in kind:
        return "mesh"
    if "line" in kind or "helical" in kind:
        return "line"
    if "character" in kind or "screening" in kind:
        return "characterisation"
    return "datacollection"


def collection_record(
    collection: DataCollection,
    images: Iterable[Image] = (),
    *,
    local_id: int | None = None,
    sample_ids: Iterable[int] = (),
    actual_instrument: str | None = None,
    scheduled_instrument: str | None = None,
    end: datetime | None = None,
) -> DatasetRecord:
    """The dataset of one finished data collection.

    Args:
        collection: The collection dict, merged over its updates.
        images: Images stored for it (they become Datafiles).
        local_id: Our id for the collection (``MX_dataCollectionId``).
        sample_ids: ICAT ids of the investigation's samples; a collection
            whose sample is one of them is linked to it.
        actual_instrument: The beamline that collected, when the session was
            scheduled on another one.
        scheduled_instrument: The beamline the session was scheduled on.
        end: End of the acquisition (default: now).
    """
    info = collection.fileinfo
    # Text: the model keeps a Path as given, and the record (its JSON, ICAT) needs str.
    directory = str((info.directory if info else None) or "")
    prefix = info.prefix if info else None
    run = info.run_number if info else None
    osc = collection.oscillation_sequence[0] if collection.oscillation_sequence else None
    ref = collection.sample_reference
    params: dict[str, Any] = {}
    _put(params, "MX_dataCollectionId", local_id)
    _put(params, "MX_directory", directory)
    _put(params, "MX_template", info.template if info else None)
    _put(params, "MX_scanType", _scan_type(collection))
    _put(params, "MX_experimentType", collection.experiment_type)
    _put(params, "MX_status", collection.status)
    _put(params, "MX_positionName", collection.position_name)
    if osc is not None:
        _put(params, "MX_numberOfImages", osc.number_of_images)
        _put(params, "MX_startImageNumber", osc.start_image_number)
        _put(params, "MX_exposureTime", osc.exposure_time)
        _put(params, "MX_oscillationStart", osc.start)
        _put(params, "MX_oscillationRange", osc.range)
        _put(params, "MX_oscillationOverlap", osc.offset)
        _put(params, "MX_kappa", osc.kappa_start)
        _put(params, "MX_phi", osc.phi_start)
        if osc.start is not None and osc.range is not None and osc.number_of_images:
            total = float(osc.range) * int(osc.number_of_images)
            _put(params, "MX_axis_start", float(osc.start))
            _put(params, "MX_axis_range", total)
            _put(params, "MX_axis_end", float(osc.start) + total)
    _put(params, "MX_flux", collection.flux)
    _put(params, "MX_fluxEnd", collection.flux_end)
    _put(params, "MX_transmission", collection.transmission)
    _put(params, "MX_wavelength", collection.wavelength)
    _put(params, "MX_resolution", _resolution(collection.resolution))
    _put(params, "MX_resolution_at_corner", collection.resolution_at_corner)
    _put(params, "MX_detectorDistance", collection.measured_detector_distance or collection.detector_distance)
    _put(params, "MX_xBeam", collection.x_beam)
    _put(params, "MX_yBeam", collection.y_beam)
    _put(params, "MX_beamSizeAtSampleX", collection.beam_size_at_sample_x)
    _put(params, "MX_beamSizeAtSampleY", collection.beam_size_at_sample_y)
    _put(params, "MX_beamShape", collection.beam_shape)
    _put(params, "InstrumentMonochromator_energy", collection.energy)
    _put(params, "InstrumentMonochromator_wavelength", collection.wavelength)
    _put(params, "InstrumentSource_mode", collection.synchrotron_mode)
    _put(params, "SampleChanger_position", collection.actual_container_slot_in_sc)
    _put(params, "SampleTrackingContainer_position", collection.actual_sample_slot_in_container)
    _put(params, "SampleTrackingContainer_name", collection.actual_container_barcode)
    _put(params, "actualInstrument", actual_instrument)
    _put(params, "scheduledInstrument", scheduled_instrument)
    sample_id, sample_name = _sample(collection, sample_ids)
    if ref is not None:
        _put(params, "SampleProtein_acronym", ref.acronym)
    _put(params, "Sample_name", sample_name)
    _put(params, "MX_lims_sample_id", sample_id)
    workflow = collection.workflow_parameters or {}
    for key, name in (
        ("workflow_id", "Workflow_id"),
        ("workflow_name", "Workflow_name"),
        ("workflow_type", "Workflow_type"),
    ):
        _put(params, name, workflow.get(key))
    if collection.motors:
        names = [str(k) for k in collection.motors]
        _put(params, "MX_motors_name", " ".join(names))
        _put(params, "MX_motors_value", " ".join(str(collection.motors[k]) for k in collection.motors))
    # One Datafile per file: mxcubecore's collect routines may store the same image
    # twice (CollectMockup and AbstractCollect.collection_finished both store the
    # last frame), and ICAT refuses two Datafiles of one name in a dataset.
    by_location: dict[str, DatafileRecord] = {}
    for img in images:
        if img.file_name:
            location = os.path.join(img.file_location or directory, img.file_name)
            by_location.setdefault(location, DatafileRecord(name=img.file_name, location=location))
    files = list(by_location.values())
    return DatasetRecord(
        name=dataset_name(prefix, run, directory, f"collection_{local_id}"),
        location=directory,
        start=_when(collection.collection_start_time),
        end=end or datetime.now(),
        complete=(collection.status or "").lower() not in ("failed", "aborted"),
        sample_id=sample_id,
        sample_name=sample_name,
        parameters=params,
        datafiles=files,
    )


def _resolution(value: Any) -> float | None:
    """A number for ICAT: the high-resolution limit of a ``{lower, upper}`` range."""
    if value is None or isinstance(value, (int, float)):
        return value
    upper, lower = getattr(value, "upper", None), getattr(value, "lower", None)
    return upper if upper is not None else lower


def _sample(collection: Any, sample_ids: Iterable[int]) -> tuple[int | None, str | None]:
    ref = collection.sample_reference
    candidates: list[Any] = [getattr(collection, "bl_sample_id", None), getattr(ref, "bl_sample_id", None)]
    known = {int(i) for i in sample_ids}
    sample_id = next((int(c) for c in candidates if str(c or "").isdigit() and int(c) in known), None)
    name = None
    if ref is not None and ref.sample_name:
        # ESRF's convention is "<acronym>-<name>"; names often start with it already.
        name = str(ref.sample_name)
        if ref.acronym and not name.startswith(f"{ref.acronym}-"):
            name = f"{ref.acronym}-{name}"
    return sample_id, name


def _scan_record(
    scan: EnergyScan | XfeSpectrum,
    kind: str,
    params: dict[str, Any],
    sample_ids: Iterable[int],
    actual_instrument: str | None,
    scheduled_instrument: str | None,
) -> DatasetRecord:
    _put(params, "actualInstrument", actual_instrument)
    _put(params, "scheduledInstrument", scheduled_instrument)
    # Text: the model keeps a Path as given, and the record (its JSON, ICAT) needs str.
    directory = str(scan.working_directory or (os.path.dirname(scan.scan_file_full_path or "") or ""))
    _put(params, "MX_scanType", kind)
    _put(params, "MX_directory", directory)
    _put(params, "MX_exposureTime", scan.exposure_time)
    _put(params, "MX_flux", scan.flux)
    _put(params, "MX_fluxEnd", scan.flux_end)
    _put(params, "MX_beamSizeAtSampleX", scan.beam_size_horizontal)
    _put(params, "MX_beamSizeAtSampleY", scan.beam_size_vertical)
    _put(params, "MX_filename", scan.filename or scan.scan_file_full_path)
    sample_id, sample_name = _sample(scan, sample_ids)
    _put(params, "Sample_name", sample_name)
    _put(params, "MX_lims_sample_id", sample_id)
    start = _when(scan.start_time)
    base = Path(scan.filename or scan.scan_file_full_path or kind).stem
    stamp = start.strftime("%Y%m%d-%H%M%S") if start else "undated"
    files = []
    if scan.scan_file_full_path:
        files.append(DatafileRecord(os.path.basename(scan.scan_file_full_path), str(scan.scan_file_full_path)))
    return DatasetRecord(
        name=f"{kind}_{base}_{stamp}",
        location=directory,
        start=start,
        end=_when(scan.end_time) or datetime.now(),
        sample_id=sample_id,
        sample_name=sample_name,
        parameters=params,
        datafiles=files,
    )


def energy_scan_record(
    scan: EnergyScan,
    sample_ids: Iterable[int] = (),
    actual_instrument: str | None = None,
    scheduled_instrument: str | None = None,
) -> DatasetRecord:
    """The dataset of an energy scan (scan type ``energy_scan``); instruments as for collections."""
    params: dict[str, Any] = {}
    _put(params, "MX_element", scan.element)
    _put(params, "MX_edgeEnergy", scan.edge_energy)
    _put(params, "MX_startEnergy", scan.start_energy)
    _put(params, "MX_endEnergy", scan.end_energy)
    _put(params, "MX_peakEnergy", scan.peak_energy)
    _put(params, "MX_inflectionEnergy", scan.inflection_energy)
    _put(params, "MX_remoteEnergy", scan.remote_energy)
    _put(params, "MX_peakFPrime", scan.peak_f_prime)
    _put(params, "MX_peakFDoublePrime", scan.peak_f_double_prime)
    _put(params, "MX_inflectionFPrime", scan.inflection_f_prime)
    _put(params, "MX_inflectionFDoublePrime", scan.inflection_f_double_prime)
    _put(params, "MX_transmission", scan.transmission_factor)
    _put(params, "MX_fluorescenceDetector", scan.fluorescence_detector)
    return _scan_record(scan, "energy_scan", params, sample_ids, actual_instrument, scheduled_instrument)


def xfe_spectrum_record(
    spectrum: XfeSpectrum,
    sample_ids: Iterable[int] = (),
    actual_instrument: str | None = None,
    scheduled_instrument: str | None = None,
) -> DatasetRecord:
    """The dataset of an X-ray fluorescence spectrum (scan type ``xrf``); instruments as for collections."""
    params: dict[str, Any] = {}
    _put(params, "MX_energy", spectrum.energy)
    _put(params, "MX_transmission", spectrum.beam_transmission)
    return _scan_record(spectrum, "xrf", params, sample_ids, actual_instrument, scheduled_instrument)


def write_metadata_json(record: DatasetRecord, investigation: Mapping[str, Any]) -> Path:
    """Writes ``<location>/metadata.json`` atomically and returns its path.

    Raises:
        OSError: The directory is missing or not writable.
    """
    directory = Path(record.location)
    target = directory / METADATA_FILE
    text = json.dumps(record.as_json(investigation), indent=2, default=str)
    # Write then rename: a crash never leaves half a file for the ingester.
    handle, temporary = tempfile.mkstemp(prefix=".metadata-", suffix=".json", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text + "\n")
        # mkstemp makes it private; an ingester running as another user must read it.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
