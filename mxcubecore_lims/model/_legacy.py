"""Base class and field types for the legacy dicts of mxcubecore.

mxcubecore's collect routines, queue entries and scans talk to the LIMS
hardware object with plain dicts (and one namedtuple). Their keys are a mix
of camelCase and snake_case, their values are whatever the producer had at
hand: ``int`` or ``float``, ``str`` or :class:`pathlib.Path`, numbers as
strings (ISPyB's ``utf_encode`` stringifies every value it returns), and the
same dict grows new keys as a collection goes on.

:class:`LegacyModel` gives those dicts a typed, validated face without
losing anything on the way back:

* :meth:`LegacyModel.from_legacy` takes the dict exactly as the producer
  built it. Python field names are snake_case; the legacy keys are aliases.
  Unknown keys are kept as extras.
* :meth:`LegacyModel.to_legacy` gives the dict back so that
  ``Model.from_legacy(d).to_legacy() == d``: absent keys stay absent, and a
  value that validation had to convert (``"515485"`` to ``515485``, ``1`` to
  ``1.0``) comes back as it was given, unless it has been changed since.
* A value that does not fit raises :class:`~mxcubecore_lims.errors.LimsDataError`
  naming the model, the legacy key path (``oscillation_sequence[0].exposure_time``)
  and the value, never a bare pydantic ``ValidationError``.

This module must not import mxcubecore: protocol clients import the models
and must not pay for mxcubecore's import-time side effects.
"""

from __future__ import annotations

import copy

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from mxcubecore_lims.errors import LimsDataError

__all__ = [
    "LegacyModel",
    "check_end_after_start",
    "legacy",
    "parse_timestamp",
    "TIMESTAMP_FORMAT",
    # field types
    "Count",
    "EnergyKeV",
    "EnergyKeVOrUnset",
    "FilePath",
    "IntOrText",
    "NonNegative",
    "Percent",
    "Positive",
    "Timestamp",
    "BlankIsNone",
]

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
"""The timestamp format mxcubecore producers use (``time.strftime``)."""

# Marks a validation as coming from from_legacy(): only then may a key that
# equals a Python field name (rather than its legacy alias) be treated as an
# unknown key. Construction by Python name stays possible otherwise.
_LEGACY_CONTEXT_KEY = "mxcubecore_lims.legacy"
_LEGACY_CONTEXT = {_LEGACY_CONTEXT_KEY: True}

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
        raise ValueError(
            "not a timestamp; expected e.g. '2024-05-01 10:00:00'"
        ) from None
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


Timestamp = Union[
    Annotated[str, AfterValidator(_check_timestamp)],
    Annotated[datetime, Strict()],
]
"""A point in time: a string such as ``"2024-05-01 10:00:00"`` (kept as the
string it is) or a :class:`~datetime.datetime` (ISPyB's adapter replaces the
strings by datetimes in place)."""

FilePath = Union[str, Path]
"""A file or directory path, kept as the type it was given in."""

IntOrText = Annotated[Union[int, str], BeforeValidator(_int_if_integer_text)]
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
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


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
            started, ended = parse_timestamp(start), parse_timestamp(end)
            slack = _DST_SLACK if started.tzinfo is None and ended.tzinfo is None else timedelta(0)
            if ended < started - slack:
                raise ValueError(f"end time is before start time {start!r}")
    except TypeError:
        pass
    return end


_DST_SLACK = timedelta(hours=1)


def legacy(key: str, default: Any = None, **kwargs: Any) -> Any:
    """Declares a field stored under the legacy dict key ``key``.

    Args:
        key: The key in the legacy dict.
        default: The value when the key is absent (never written back).
        **kwargs: Further :func:`pydantic.Field` arguments (``ge``, ...).

    Returns:
        A pydantic ``FieldInfo``.
    """
    return Field(default, alias=key, **kwargs)


# --------------------------------------------------------------------------
# the base class


def _holds_models(value: Any) -> bool:
    """True for values that validation turns into nested models (or may).

    Their legacy form is rebuilt from the nested models, which remember their
    own input; a flat container of scalars (``[0.1, 0.2]``) is remembered as
    given, like a scalar.
    """
    if isinstance(value, (Mapping, BaseModel)):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(isinstance(item, (Mapping, BaseModel, list, tuple, set, frozenset)) for item in value)
    return False


def _items_differ(typed: Any, given: Any) -> bool:
    """True when a flat container's items changed type (``[1, 2]`` read as ``[1.0, 2.0]``)."""
    if isinstance(typed, (list, tuple)) and isinstance(given, (list, tuple)):
        return any(type(a) is not type(b) for a, b in zip(typed, given))
    return False


def _export(value: Any) -> Any:
    """Turns a field value back into its legacy form, copying containers."""
    if isinstance(value, LegacyModel):
        return value.to_legacy()
    if isinstance(value, dict):
        return {key: _export(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_export(item) for item in value]
    if isinstance(value, tuple):
        items = [_export(item) for item in value]
        # namedtuples take positional arguments, plain tuples an iterable
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    return value


class LegacyModel(BaseModel):
    """A typed view of one legacy dict structure.

    Subclasses declare every field with :func:`legacy` so that the legacy
    key is the alias. Fields default to None; absent keys are not written
    back by :meth:`to_legacy`.

    Example:
        >>> from mxcubecore_lims.model import Image
        >>> image = Image.from_legacy({"fileName": "a_1_0001.cbf", "imageNumber": "1"})
        >>> image.image_number
        1
        >>> image.to_legacy()
        {'fileName': 'a_1_0001.cbf', 'imageNumber': '1'}
    """

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        validate_assignment=True,
        use_attribute_docstrings=True,
        protected_namespaces=(),
    )

    # Per class: legacy key or Python name -> Python name, and the Python
    # names that differ from their key (see _keep_legacy_shape).
    __legacy_fields__: ClassVar[dict[str, str]] = {}
    __legacy_name_only__: ClassVar[frozenset[str]] = frozenset()

    # value as given and value after validation, per field converted by
    # validation; key order as given
    _legacy_raw: dict[str, tuple[Any, Any]] = PrivateAttr(default_factory=dict)
    _legacy_order: tuple[str, ...] = PrivateAttr(default=())
    # fields given as a tuple of dicts (validated into a list of models)
    _legacy_tuples: frozenset[str] = PrivateAttr(default=frozenset())

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Indexes the fields by key and checks that keys are unambiguous."""
        super().__pydantic_init_subclass__(**kwargs)
        by_key: dict[str, str] = {}
        keys = {info.alias or name for name, info in cls.model_fields.items()}
        name_only = set()
        for name, info in cls.model_fields.items():
            key = info.alias or name
            by_key[key] = name
            if key != name:
                # A Python name that is another field's legacy key would make
                # that key ambiguous when read back.
                if name in keys:
                    raise TypeError(
                        f"{cls.__name__}.{name}: Python name is also a legacy key"
                    )
                by_key.setdefault(name, name)
                name_only.add(name)
        cls.__legacy_fields__ = by_key
        cls.__legacy_name_only__ = frozenset(name_only)

    def __init__(self, /, **data: Any) -> None:
        """Builds a model from Python field names or legacy keys.

        Raises:
            LimsDataError: A value does not fit.
        """
        try:
            super().__init__(**data)
        except ValidationError as exc:
            # report Python names by their legacy key, as from_legacy does
            fields = type(self).model_fields
            rename = {
                name: fields[name].alias or name for name in data if name in fields
            }
            raise _data_error(type(self).__name__, exc, data, rename) from exc

    # Only translates errors: tell pydantic this is not a custom __init__, or
    # it would call it for every nested model and lose the legacy context.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def __setattr__(self, name: str, value: Any) -> None:
        """Validates assignments (by Python name or legacy key).

        Raises:
            LimsDataError: The value does not fit.
        """
        name = type(self).__legacy_fields__.get(name, name)
        if name not in type(self).model_fields:
            # private attributes and unknown keys: nothing to validate
            super().__setattr__(name, value)
            return
        extra = dict(self.__pydantic_extra__ or {})
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            key = self._legacy_key(name)
            raise _data_error(
                type(self).__name__, exc, {key: value}, rename={name: key}
            ) from exc
        if self.__pydantic_extra__ is not None:
            # pydantic drops an unknown key that equals the assigned field's
            # Python name; it was a separate key of the legacy dict.
            for key, kept in extra.items():
                self.__pydantic_extra__.setdefault(key, kept)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_legacy_shape(
        cls, data: Any, handler: Any, info: ValidationInfo
    ) -> Any:
        """Remembers what validation changed, so to_legacy can undo it."""
        if not isinstance(data, Mapping):
            # an instance (assignment, nested model) or a wrong type that
            # pydantic reports itself
            return handler(data)
        given = dict(data)
        hidden: dict[str, Any] = {}
        if info.context and info.context.get(_LEGACY_CONTEXT_KEY):
            # In a legacy dict, a key equal to a Python name (not a legacy
            # key) is an unknown key; populate_by_name would misfile it.
            hidden = {
                key: given.pop(key)
                for key in list(given)
                if key in cls.__legacy_name_only__
            }
        model = handler(given)
        if hidden:
            model.__pydantic_extra__.update(hidden)
        converted = {}
        tuples = set()
        for key, value in given.items():
            name = cls.__legacy_fields__.get(key)
            if name is not None and _holds_models(value) and isinstance(value, tuple):
                tuples.add(name)
            if name is None or _holds_models(value):
                continue
            typed = getattr(model, name)
            if type(typed) is not type(value) or typed != value or _items_differ(typed, value):
                # A copy of a container, so an in-place edit counts as a change.
                kept = copy.copy(typed) if isinstance(typed, (list, set, dict)) else typed
                converted[name] = (value, kept)
        model._legacy_raw = converted
        model._legacy_tuples = frozenset(tuples)
        model._legacy_order = tuple(data)
        return model

    @classmethod
    def from_legacy(cls, data: Mapping[str, Any] | tuple) -> Self:
        """Reads a legacy dict as the collect routines pass it.

        Args:
            data: The dict (a namedtuple is read through ``_asdict()``).

        Returns:
            The model; unknown keys are kept as extras.

        Raises:
            LimsDataError: ``data`` is not a dict, or a value does not fit.
        """
        if isinstance(data, tuple) and hasattr(data, "_asdict"):
            data = data._asdict()
        if not isinstance(data, Mapping):
            raise LimsDataError(
                cls.__name__, "", data, f"expected a dict, got {type(data).__name__}"
            )
        try:
            return cls.model_validate(data, context=_LEGACY_CONTEXT)
        except ValidationError as exc:
            raise _data_error(cls.__name__, exc, data) from exc

    def to_legacy(self) -> dict[str, Any]:
        """Writes the model back as the legacy dict.

        Returns:
            A new dict with the legacy keys that were given or set since,
            extras included, in the order they were given.
        """
        fields = type(self).model_fields
        out: dict[str, Any] = {}
        for name in fields:
            if name in self.model_fields_set:
                out[self._legacy_key(name)] = self._legacy_value(name)
        for key, value in (self.__pydantic_extra__ or {}).items():
            out[key] = _export(value)
        order = {key: index for index, key in enumerate(self._legacy_order)}
        last = len(order)
        return dict(sorted(out.items(), key=lambda item: order.get(item[0], last)))

    @property
    def legacy_extras(self) -> dict[str, Any]:
        """The keys of the legacy dict that this model does not declare."""
        return dict(self.__pydantic_extra__ or {})

    def _legacy_key(self, name: str) -> str:
        """The legacy key of field ``name`` (extras are their own key)."""
        info = type(self).model_fields.get(name)
        return (info.alias or name) if info is not None else name

    def _legacy_value(self, name: str) -> Any:
        """The legacy form of field ``name``: as given, unless changed since."""
        value = getattr(self, name)
        if name in self._legacy_raw:
            given, typed = self._legacy_raw[name]
            if type(value) is type(typed) and value == typed:
                return given
        exported = _export(value)
        if name in self._legacy_tuples and isinstance(exported, list):
            return tuple(exported)
        return exported


# --------------------------------------------------------------------------
# pydantic errors -> LimsDataError


def _walk(data: Any, loc: tuple, missing: bool) -> tuple[str, int]:
    """Follows a pydantic error location through the data that was given.

    Location parts that are not keys or indexes of the data (union member
    tags such as ``constrained-float``, validator names) are skipped.

    Returns:
        The legacy key path and how many of its parts matched.
    """
    path = ""
    depth = 0
    node = data
    for position, part in enumerate(loc):
        if isinstance(node, Mapping) and part in node:
            path += f".{part}" if path else str(part)
            node = node[part]
            depth += 1
        elif (
            isinstance(part, int)
            and isinstance(node, (list, tuple))
            and -len(node) <= part < len(node)
        ):
            path += f"[{part}]"
            node = node[part]
            depth += 1
        elif missing and position == len(loc) - 1 and isinstance(part, str):
            path += f".{part}" if path else part
            depth += 1
    return path, depth


def _data_error(
    model: str,
    exc: ValidationError,
    data: Any,
    rename: Mapping[str, str] | None = None,
) -> LimsDataError:
    """Converts a pydantic ValidationError into a LimsDataError.

    The deepest problem is reported (for a union, the member that got
    furthest); the others are summarised in the reason.

    Args:
        model: The model name.
        exc: The pydantic error.
        data: The data that was validated, to resolve legacy key paths.
        rename: Top-level location parts to rename (assignment by name).

    Returns:
        The error to raise.
    """
    if rename and isinstance(data, Mapping):
        data = {rename.get(key, key): value for key, value in data.items()}
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if rename and loc and loc[0] in rename:
            loc = (rename[loc[0]], *loc[1:])
        missing = err["type"] == "missing"
        path, depth = _walk(data, loc, missing)
        if missing:
            value = None
            reason = "required key is missing"
        else:
            value = err.get("input")
            reason = err["msg"].removeprefix("Value error, ")
        problems.append((depth, path, value, reason))
    best = max(problems, key=lambda problem: problem[0])
    others = []
    for _depth, path, _value, reason in problems:
        if best[1] == path or best[1].startswith((f"{path}.", f"{path}[")):
            # the same key, or a union member that did not get as far
            continue
        described = f"{path or '(dict)'}: {reason}"
        if described not in others:
            others.append(described)
    reason = best[3]
    if others:
        reason += f" (also: {'; '.join(others)})"
    return LimsDataError(model, best[1], best[2], reason)

