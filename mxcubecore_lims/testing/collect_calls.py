"""One collection as mxcubecore's AbstractCollect stores it: the LIMS calls, in order, with checkable values.

Used by the outbox fault tests and by the broker route's publishing processes
(:mod:`mxcubecore_lims.testing.burst`): store, update, images, update, finalize,
with a per-collection value (the wavelength) that tells final values from early ones.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "CallTimer",
    "assert_icat_has_each_once",
    "collect",
    "collection_dict",
    "icat_investigation_id",
    "icat_parameters",
    "image_name",
    "prefix_of",
    "wavelength_of",
]


def prefix_of(number: int) -> str:
    """The file prefix of collection ``number`` (what, with the directory, names it in ISPyB)."""
    return f"c{number:03d}"


def wavelength_of(number: int) -> float:
    """A per-collection value set by the first update (checks final values)."""
    return round(0.9 + number * 1e-4, 6)


def collection_dict(
    number: int, directory: Path | str, session_id: Any, sample: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``current_dc_parameters`` at the start of collection ``number``."""
    prefix = prefix_of(number)
    dc: dict[str, Any] = {
        "sessionId": session_id,
        "experiment_type": "OSC",
        "status": "Running",
        "collection_start_time": "2026-11-23 10:00:00",
        "fileinfo": {
            "directory": str(directory),
            "prefix": prefix,
            "run_number": 1,
            "template": f"{prefix}_1_%05d.cbf",
            "suffix": "cbf",
        },
        "oscillation_sequence": [
            {
                "start": 0.0,
                "range": 0.1,
                "number_of_images": 3,
                "exposure_time": 0.04,
                "overlap": 0,
                "start_image_number": 1,
            }
        ],
        "resolution": {"upper": 1.8},
    }
    if sample is not None:
        dc["sample_reference"] = {
            "blSampleId": sample["sampleId"],
            "sample_name": sample["sampleName"],
            "acronym": sample["proteinAcronym"],
        }
        dc["blSampleId"] = sample["sampleId"]
    else:
        dc["sample_reference"] = {"blSampleId": 1}
    return dc


def image_name(number: int, image: int) -> str:
    """The file name of image ``image`` of collection ``number``."""
    return f"{prefix_of(number)}_1_{image:05d}.cbf"


class CallTimer:
    """Durations of LIMS calls, by operation."""

    def __init__(self) -> None:
        self.durations: dict[str, list[float]] = collections.defaultdict(list)

    def __call__(self, operation: str, call: Callable[..., Any], *args: Any) -> Any:
        """Calls ``call(*args)`` and keeps how long it took under ``operation``."""
        start = time.monotonic()
        try:
            return call(*args)
        finally:
            self.durations[operation].append(time.monotonic() - start)

    def longest(self) -> float:
        """The longest call so far, in seconds."""
        return max((max(values) for values in self.durations.values()), default=0.0)


def collect(
    lims: Any,
    number: int,
    directory: Path | str,
    session_id: Any,
    *,
    sample: Any = None,
    images: int = 3,
    timer: CallTimer | None = None,
    real_ids: bool = False,
) -> Any:
    """Store -> update -> update -> images -> status update -> finalize, as AbstractCollect.

    With ``real_ids`` (the LIMS is up and nothing waits), the ids returned must be real (positive).
    """
    timed = timer or (lambda operation, call, *args: call(*args))
    dc = collection_dict(number, directory, session_id, sample)
    collection_id, _ = timed("store", lims.store_data_collection, dc, None)
    assert isinstance(collection_id, int) and collection_id != 0
    if real_ids:
        assert collection_id > 0, f"collection {number}: provisional id {collection_id} while the LIMS is up"
    dc["collection_id"] = collection_id
    dc.update(
        {
            "flux": 2.5e12,
            "wavelength": wavelength_of(number),
            "detectorDistance": 250.3,
            "resolution": 1.8,
            "transmission": 50.0,
            "xBeam": 210.1,
            "yBeam": 205.2,
        }
    )
    timed("update", lims.update_data_collection, dc)
    for n in range(1, images + 1):
        timed(
            "image",
            lims.store_image,
            {
                "dataCollectionId": collection_id,
                "fileName": image_name(number, n),
                "fileLocation": str(directory),
                "imageNumber": n,
            },
        )
    dc.update({"flux_end": 2.4e12, "status": "Data collection successful"})
    timed("update", lims.update_data_collection, dc)
    timed("finalize", lims.finalize_data_collection, dc)
    return collection_id


# ---------------------------------------------------------------- reading the emulated ICAT back


def icat_investigation_id(server: Any, name: str = "MX-415") -> str:
    """The id of an emulated ICAT's investigation, as text (what ``set_active_session_by_id`` takes)."""
    (row,) = server.store.find("Investigation", name=name)
    return str(row["id"])


def icat_parameters(server: Any, dataset_id: int) -> dict[str, Any]:
    """DatasetParameters of a dataset: type name -> value; a name twice fails."""
    values: dict[str, Any] = {}
    for row in server.store.children("Dataset", dataset_id, "parameters"):
        name = server.store.get("ParameterType", row["type"])["name"]
        assert name not in values, f"parameter {name} stored twice"
        values[name] = row["numericValue"] if row["stringValue"] is None else row["stringValue"]
    return values


def assert_icat_has_each_once(
    server: Any, numbers: range, images: int, data: Path, *, one_beamline: bool = True
) -> None:
    """Every collection one Dataset, its datafiles = its images, its final parameters.

    ``one_beamline``: the collections came from one MXCuBE, so their local ids
    (``MX_dataCollectionId``) differ; several beamlines each number their own.
    """
    datasets = server.store.rows("Dataset")
    by_name = collections.Counter(d["name"] for d in datasets)
    duplicated = {name: count for name, count in by_name.items() if count != 1}
    assert not duplicated, f"datasets stored more than once: {duplicated}"
    assert sorted(by_name) == sorted(f"{prefix_of(n)}_1" for n in numbers)
    local_ids = set()
    for dataset in datasets:
        number = int(dataset["name"][1:4])
        files = server.store.children("Dataset", dataset["id"], "datafiles")
        assert sorted(f["name"] for f in files) == [image_name(number, n) for n in range(1, images + 1)], dataset[
            "name"
        ]
        parameters = icat_parameters(server, dataset["id"])
        assert parameters["MX_status"] == "Data collection successful"
        assert parameters["MX_wavelength"] == pytest.approx(wavelength_of(number))
        assert parameters["MX_directory"] == str(data / prefix_of(number))
        assert parameters["MX_dataCollectionId"] > 0, "a provisional id reached ICAT"
        local_ids.add(parameters["MX_dataCollectionId"])
        assert (data / prefix_of(number) / "metadata.json").exists()
    if one_beamline:
        assert len(local_ids) == len(datasets), "two datasets share an MX_dataCollectionId"
