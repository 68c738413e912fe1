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

__all__ = ["CallTimer", "collect", "collection_dict", "image_name", "prefix_of", "wavelength_of"]


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
