"""The field types of the legacy-dict models, and the ``legacy()`` field helper.

Values as mxcubecore's producers give them: numbers as text, ``Path`` or
``str`` paths, blank strings for "unset", timestamps in mxcubecore's format.
Each type validates and keeps what was given, so :class:`~mxcubecore_lims.model._legacy.LegacyModel`
can return it unchanged. Like the rest of :mod:`mxcubecore_lims.model`, no
mxcubecore import.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypedDict, Unpack

from pydantic import AfterValidator, BeforeValidator, Field, Strict

__all__ = [
    "TIMESTAMP_FORMAT",
    "BlankIsNone",
    "Count",
    "EnergyKeV",
    "EnergyKeVOrUnset",
    "FilePath",
    "IntOrText",
    "NonNegative",
    "Percent",
    "Positive",
    "Timestamp",
    "check_end_after_start",
    "legacy",
    "parse_timestamp",
]

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
"""The timestamp format mxcubecore producers use (``time.strftime``)."""

# Canonical integers only: "0123" is a code (a proposal number, a barcode)
# whose leading zero must survive, not the number 123.
_INTEGER_TEXT = re.compile(r"-?(0|[1-9][0-9]*)")


# --------------------------------------------------------------------------
# field types


def _check_timestamp(value: str) -> str:
    """Accepts an ISO 8601 timestamp string and returns it unchanged."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not a timestamp; expected e.g. '2024-05-01 10:00:00'") from None
    return value


def _int_if_integer_text(value: Any) -> Any:
    """Turns ``"12"`` into ``12``; leaves every other value alone."""
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        return int(value)
    return value


def _blank_to_none(value: Any) -> Any:
    """Maps ISPyB's stringified nulls (``"None"``) and ``""`` to ``None``."""
    if isinstance(value, str) and value.strip() in ("", "None"):
        return None
    return value


def _check_energy(value: float) -> float:
    """Accepts a photon energy in keV."""
    if value <= 0:
        raise ValueError("energy must be > 0 keV")
    if value >= 1000:
        # MX edges lie at 4-40 keV; four or five digits mean eV were given.
        raise ValueError("energy must be in keV, this looks like eV")
    return value


def _check_energy_or_unset(value: float) -> float:
    """Like :func:`_check_energy`, but 0 means "not set"."""
    if value == 0:
        return value
    return _check_energy(value)


Timestamp = Annotated[str, AfterValidator(_check_timestamp)] | Annotated[datetime, Strict()]
"""A point in time: a string such as ``"2024-05-01 10:00:00"`` (kept as the
string it is) or a :class:`~datetime.datetime` (ISPyB's adapter replaces the
strings by datetimes in place)."""

FilePath = str | Path
"""A file or directory path, kept as the type it was given in."""

IntOrText = Annotated[int | str, BeforeValidator(_int_if_integer_text)]
"""An identifier or position that producers send as an int, as an integer
string (ISPyB's stringified replies, ICAT's str conversions) or as free text
(plate positions, ICAT ids). Integer strings without leading zeros become
ints."""

Count = Annotated[int, Field(ge=0)]
"""A number of things (images, passes, triggers): an int >= 0."""

NonNegative = Annotated[float, Field(ge=0)]
"""A float >= 0 (times, sizes, gaps, flux)."""

Positive = Annotated[float, Field(gt=0)]
"""A float > 0 (wavelength, resolution, distance)."""

Percent = Annotated[float, Field(ge=0, le=100)]
"""A percentage, 0 to 100 (mxcubecore's transmission unit)."""

EnergyKeV = Annotated[float, AfterValidator(_check_energy)]
"""A photon energy in keV, > 0 and < 1000."""

EnergyKeVOrUnset = Annotated[float, AfterValidator(_check_energy_or_unset)]
"""A photon energy in keV, or 0 for "not set" (mxcubecore's
``AcquisitionParameters.energy`` default)."""

BlankIsNone = BeforeValidator(_blank_to_none)
"""Add to an optional field to read ``"None"`` and ``""`` as ``None``."""


def parse_timestamp(value: str | datetime | None) -> datetime | None:
    """Converts a :data:`Timestamp` value to a :class:`~datetime.datetime`.

    Args:
        value: A timestamp string, a datetime or None.

    Returns:
        The datetime, or None when ``value`` is None.
    """
    return None if value is None else _to_datetime(value)


def _to_datetime(value: str | datetime) -> datetime:
    """:func:`parse_timestamp` of a value that is not None."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def check_end_after_start(start: Any, end: Any) -> Any:
    """Checks that ``end`` is not before ``start``; returns ``end``.

    Timestamps that cannot be compared (one missing, or only one with a
    time zone) pass. Collect routines write local time without a zone, so
    when the clocks go back an hour a real action can seem to end up to an
    hour before it started: naive timestamps get that much slack.

    Raises:
        ValueError: ``end`` is before ``start`` (by more than the slack).
    """
    try:
        if start is not None and end is not None:
            started, ended = _to_datetime(start), _to_datetime(end)
            slack = _DST_SLACK if started.tzinfo is None and ended.tzinfo is None else timedelta(0)
            if ended < started - slack:
                raise ValueError(f"end time is before start time {start!r}")
    except TypeError:
        pass
    return end


_DST_SLACK = timedelta(hours=1)


class FieldOptions(TypedDict, total=False):
    """The :func:`pydantic.Field` arguments :func:`legacy` passes on.

    ``default_factory`` is not one of them: a legacy field's default is a value.
    """

    gt: float
    ge: float
    lt: float
    le: float
    multiple_of: float
    min_length: int
    max_length: int
    pattern: str
    strict: bool
    description: str
    examples: list[Any]
    exclude: bool
    repr: bool
    validate_default: bool


def legacy(key: str, default: Any = None, **kwargs: Unpack[FieldOptions]) -> Any:
    """Declares a field stored under the legacy dict key ``key``.

    Args:
        key: The key in the legacy dict.
        default: The value when the key is absent (never written back).
        **kwargs: Further :func:`pydantic.Field` arguments (``ge``, ...).

    Returns:
        A pydantic ``FieldInfo``.
    """
    return Field(default, alias=key, **kwargs)
