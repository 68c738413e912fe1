"""ICAT samples as the sample dicts mxcubeweb needs.

ICAT has no parcels or pucks, so where a sample sits is told by
SampleParameters, one ParameterType per fact. The convention (names chosen to
match the ESRF metadata keys where one exists, reference ``icat.md`` §4):

=================================== ================================ =========
SampleParameter type name           sample dict key                  value
=================================== ================================ =========
``SampleChanger_position``          ``containerSampleChangerLocation`` text, e.g. ``"3"``
``SampleTrackingContainer_position`` ``sampleLocation``              integer
``SampleTrackingContainer_name``    ``containerCode``                text
``SampleTrackingContainer_type``    ``containerType``                text
``SampleTrackingContainer_capacity`` ``containerCapacity``           integer
``SampleProtein_acronym``           ``proteinAcronym``               text
``SampleCrystal_spaceGroup``        ``crystalSpaceGroup``            text
``SampleCrystal_cell_a`` … ``_gamma`` ``cellA`` … ``cellGamma``      Å / deg
``SampleTrackingParcel_name``       ``SampleTrackingParcel_name``    text
``Sample_code``                     ``code``                         text
``Sample_comments``                 ``comments``                     text
``SampleDiffractionPlan_<key>``     ``diffractionPlan[<key>]``       text or number
=================================== ================================ =========

``sampleId`` is the ICAT Sample id and ``sampleName`` its name. Only samples
with both a sample-changer position and a position in their container are
offered: the others cannot be mounted (mxcubeweb needs both).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from mxcubecore_lims.errors import LimsDataError
from mxcubecore_lims.model import Sample

__all__ = ["PLAN_PARAMETER_PREFIX", "SAMPLE_PARAMETERS", "sample_from_icat", "samples_from_icat"]

log = logging.getLogger(__name__)

#: SampleParameter type name -> sample dict key.
SAMPLE_PARAMETERS: dict[str, str] = {
    "SampleChanger_position": "containerSampleChangerLocation",
    "SampleTrackingContainer_position": "sampleLocation",
    "SampleTrackingContainer_name": "containerCode",
    "SampleTrackingContainer_type": "containerType",
    "SampleTrackingContainer_capacity": "containerCapacity",
    "SampleProtein_acronym": "proteinAcronym",
    "SampleCrystal_spaceGroup": "crystalSpaceGroup",
    "SampleCrystal_cell_a": "cellA",
    "SampleCrystal_cell_b": "cellB",
    "SampleCrystal_cell_c": "cellC",
    "SampleCrystal_cell_alpha": "cellAlpha",
    "SampleCrystal_cell_beta": "cellBeta",
    "SampleCrystal_cell_gamma": "cellGamma",
    "SampleTrackingParcel_name": "SampleTrackingParcel_name",
    "Sample_code": "code",
    "Sample_comments": "comments",
}

_INTEGER_KEYS = {"sampleLocation", "containerCapacity"}

PLAN_PARAMETER_PREFIX = "SampleDiffractionPlan_"
"""SampleParameters named ``SampleDiffractionPlan_<key>`` are the ``diffractionPlan`` entry ``<key>``."""


def _value(parameter: Any) -> Any:
    for field in ("stringValue", "numericValue", "dateTimeValue"):
        value = getattr(parameter, field, None)
        if value is not None:
            # suds hands out its own str subclass; callers get plain values.
            return str(value) if isinstance(value, str) else value
    return None


def _as_text_number(value: Any) -> str:
    # 3.0 from a NUMERIC parameter is still puck "3".
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def sample_from_icat(sample: Any) -> Sample | None:
    """The sample model of one ICAT Sample (``parameters.type`` included).

    Returns:
        The model, or None when the sample is not in the sample changer.

    Raises:
        LimsDataError: A convention parameter has a value of the wrong kind.
    """
    legacy: dict[str, Any] = {"sampleId": int(sample.id), "sampleName": str(sample.name)}
    for parameter in getattr(sample, "parameters", None) or []:
        name = getattr(getattr(parameter, "type", None), "name", None)
        key = SAMPLE_PARAMETERS.get(str(name))
        value = _value(parameter)
        if key is None and str(name).startswith(PLAN_PARAMETER_PREFIX) and value is not None:
            legacy.setdefault("diffractionPlan", {})[str(name)[len(PLAN_PARAMETER_PREFIX) :]] = value
            continue
        if key is None or value is None:
            continue
        if key in _INTEGER_KEYS:
            try:
                value = int(float(_as_text_number(value)))
            except ValueError as error:
                raise LimsDataError(
                    "SampleParameter", str(name), value, f"sample {sample.name}: not an integer"
                ) from error
        elif key == "containerSampleChangerLocation":
            value = _as_text_number(value)
        legacy[key] = value
    if "containerSampleChangerLocation" not in legacy or "sampleLocation" not in legacy:
        return None
    return Sample.from_legacy(legacy)


def samples_from_icat(samples: Iterable[Any]) -> list[Sample]:
    """Models of the mountable samples, ordered by sample-changer position then position."""
    found: list[Sample] = []
    for sample in samples:
        model = sample_from_icat(sample)
        if model is None:
            log.debug("ICAT sample %s has no sample-changer position; not offered", sample.name)
            continue
        found.append(model)

    def order(model: Sample) -> tuple[Any, ...]:
        location = model.container_sample_changer_location or ""
        return (len(str(location)), str(location), model.sample_location or 0, model.sample_name or "")

    return sorted(found, key=order)
