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
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from mxcubecore_lims.errors import LimsDataError
from mxcubecore_lims.model._data_errors import data_error
from mxcubecore_lims.model._field_types import (
    TIMESTAMP_FORMAT,
    BlankIsNone,
    Count,
    EnergyKeV,
    EnergyKeVOrUnset,
    FilePath,
    IntOrText,
    NonNegative,
    Percent,
    Positive,
    Timestamp,
    check_end_after_start,
    legacy,
    parse_timestamp,
)

# The field types live in _field_types; the models import them from here.
__all__ = [
    "TIMESTAMP_FORMAT",
    "BlankIsNone",
    "Count",
    "EnergyKeV",
    "EnergyKeVOrUnset",
    "FilePath",
    "IntOrText",
    "LegacyModel",
    "NonNegative",
    "Percent",
    "Positive",
    "Timestamp",
    "check_end_after_start",
    "legacy",
    "parse_timestamp",
]

# Marks a validation as coming from from_legacy(): only then may a key that
# equals a Python field name (rather than its legacy alias) be treated as an
# unknown key. Construction by Python name stays possible otherwise.
_LEGACY_CONTEXT_KEY = "mxcubecore_lims.legacy"
_LEGACY_CONTEXT = {_LEGACY_CONTEXT_KEY: True}


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
        return any(type(a) is not type(b) for a, b in zip(typed, given, strict=False))
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
                    raise TypeError(f"{cls.__name__}.{name}: Python name is also a legacy key")
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
            rename = {name: fields[name].alias or name for name in data if name in fields}
            raise data_error(type(self).__name__, exc, data, rename) from exc

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
            raise data_error(type(self).__name__, exc, {key: value}, rename={name: key}) from exc
        if self.__pydantic_extra__ is not None:
            # pydantic drops an unknown key that equals the assigned field's
            # Python name; it was a separate key of the legacy dict.
            for key, kept in extra.items():
                self.__pydantic_extra__.setdefault(key, kept)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_legacy_shape(cls, data: Any, handler: Any, info: ValidationInfo) -> Any:
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
            hidden = {key: given.pop(key) for key in list(given) if key in cls.__legacy_name_only__}
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
    def from_legacy(cls, data: Mapping[str, Any] | tuple[Any, ...]) -> Self:
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
            raise LimsDataError(cls.__name__, "", data, f"expected a dict, got {type(data).__name__}")
        try:
            return cls.model_validate(data, context=_LEGACY_CONTEXT)
        except ValidationError as exc:
            raise data_error(cls.__name__, exc, data) from exc

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
