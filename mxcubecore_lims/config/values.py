"""Typing configuration values by the object's declared model, and secret references.

A value's Python type comes from the ``HOConfig`` field that declares it, not
from how its text looks: a ``str`` field keeps ``0123`` as ``"0123"``. Only
undeclared properties (and ``Any`` fields) fall back to a guess: YAML's own
typing, or mxcubecore's XML coercion, so that mxcubecore objects which read
undeclared properties with ``get_property`` see what they always saw.

Any text value may instead name where to find it:

* ``${env:NAME}`` - the environment variable ``NAME``;
* ``${file:PATH}`` - the contents of a file (one trailing newline removed),
  ``PATH`` relative to the configuration file's directory, ``~`` expanded.

Write ``$${`` for a literal ``${``. Errors name the variable or file, never a
value, and resolved values are never logged.
"""

from __future__ import annotations

import enum
import os
import re
import stat
import types
import typing
from collections import abc
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, SecretBytes, SecretStr

from mxcubecore_lims.config.spec import RawList, RawMap, RawScalar, RawValue
from mxcubecore_lims.errors import SecretReferenceError

_REFERENCE = re.compile(r"^\$\{(env|file):([^}]*)\}$")

#: Longest file a ``${file:...}`` reference may name: secrets are small.
MAX_REFERENCED_FILE_BYTES = 64 * 1024
_TEXT_TYPES: tuple[type, ...] = (str, SecretStr, SecretBytes, bytes, Path)
_SCALAR_NON_TEXT_TYPES: tuple[type, ...] = (int, float, bool)


class _Undeclared:
    """Marker annotation: the property is not declared by the model."""


UNDECLARED: Any = _Undeclared


def resolve_reference(text: str, base_dir: Path, file: Path, line: int, field: str) -> str:
    """Replaces an ``${env:...}`` or ``${file:...}`` reference by its value.

    Args:
        text: The value as written.
        base_dir: Directory that relative file references start from.
        file: Configuration file, for error messages.
        line: Line of the value, for error messages.
        field: Property name, for error messages.

    Returns:
        The referenced value, the text with ``$${`` unescaped, or the text itself.

    Raises:
        SecretReferenceError: The variable is unset or the file unreadable.
    """
    if text.startswith("$${"):
        return text[1:]
    if not text.startswith("${"):
        return text
    match = _REFERENCE.match(text)
    if match is None or not match.group(2).strip():
        # A typo must not send "${ENV:PW}" to a server as the password.
        raise SecretReferenceError(
            f"malformed reference in '{field}': write ${{env:NAME}} or ${{file:PATH}}, or $${{ for a literal ${{",
            file,
            line,
            field,
        )
    kind, name = match.group(1), match.group(2).strip()
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise SecretReferenceError(
                f"environment variable {name} (referenced by '{field}') is not set", file, line, field
            )
        return value
    secret_path = (base_dir / Path(name).expanduser()).resolve()
    try:
        content = _read_small_file(secret_path)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise SecretReferenceError(
            f"cannot read file {secret_path} (referenced by '{field}'): {error.__class__.__name__}"
            + (f": {error}" if isinstance(error, ValueError) and not isinstance(error, UnicodeDecodeError) else ""),
            file,
            line,
            field,
        ) from None  # the cause may quote file content; keep it out
    return content[:-1] if content.endswith("\n") else content


def _read_small_file(path: Path) -> str:
    """Reads a regular file of at most :data:`MAX_REFERENCED_FILE_BYTES`.

    Raises:
        ValueError: Not a regular file (a FIFO would hang the load), or too big.
    """
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ValueError("not a regular file")
        data = stream.read(MAX_REFERENCED_FILE_BYTES + 1)
    if len(data) > MAX_REFERENCED_FILE_BYTES:
        raise ValueError(f"larger than {MAX_REFERENCED_FILE_BYTES} bytes")
    return data.decode("utf-8")


def shape_value(
    raw: RawValue,
    annotation: Any,
    resolve: Callable[[str, int], str],
    undeclared: Callable[[str, int], None] | None = None,
) -> Any:
    """Builds the Python value handed to the model for one raw value.

    Args:
        raw: The value as read from the file.
        annotation: The declared type, or :data:`UNDECLARED`.
        resolve: Resolves secret references in a text, given its line.
        undeclared: Called with the key and line of every key a nested model
            does not declare (strict checking).

    Returns:
        The value for pydantic to validate: raw text where the declared type is
        textual, the guessed value where it is not or is unknown.
    """
    return _Shaper(resolve, undeclared).shape(raw, annotation)


class _Shaper:
    """One shaping pass; a raw value shared through YAML aliases is shaped once."""

    def __init__(self, resolve: Callable[[str, int], str], undeclared: Callable[[str, int], None] | None) -> None:
        self.resolve = resolve
        self.undeclared = undeclared
        self._memo: dict[tuple[int, int], Any] = {}

    def shape(self, raw: RawValue, annotation: Any) -> Any:
        if isinstance(raw, RawScalar):
            return _shape_scalar(raw, annotation, self.resolve)
        key = (id(raw), id(annotation))
        if key not in self._memo:
            self._memo[key] = self._shape_container(raw, annotation)
        return self._memo[key]

    def _shape_container(self, raw: RawMap | RawList, annotation: Any) -> Any:
        if isinstance(raw, RawList) and raw.repeated_element and not _is_sequence(annotation):
            # A repeated XML element for a single value: mxcubecore keeps the last.
            return self.shape(raw.items[-1], annotation)
        if isinstance(raw, RawMap):
            model = _model_class(annotation)
            if model is not None:
                fields = declared_fields(model)
                if self.undeclared is not None:
                    for key, value in raw.items.items():
                        if key not in fields:
                            self.undeclared(key, value.line)
                return {key: self.shape(value, fields.get(key, UNDECLARED)) for key, value in raw.items.items()}
            if _is_sequence(annotation) and len(raw.items) == 1:
                # XML's way to write a list: <tags><tag>a</tag><tag>b</tag></tags>.
                (only,) = raw.items.values()
                items = only.items if isinstance(only, RawList) else [only]
                item_type = _sequence_item_type(annotation)
                return [self.shape(item, item_type) for item in items]
            item_type = _mapping_value_type(annotation)
            return {key: self.shape(value, item_type) for key, value in raw.items.items()}
        item_type = _sequence_item_type(annotation)
        return [self.shape(item, item_type) for item in raw.items]


def _shape_scalar(raw: RawScalar, annotation: Any, resolve: Callable[[str, int], str]) -> Any:
    if raw.text is None:
        return None
    text = resolve(raw.text, raw.line)
    if text != raw.text:
        # A resolved value is text and stays text unless its field says
        # otherwise (pydantic converts "12" for an int field): a secret such
        # as "00123" must never be read as the number 123.
        return text
    if _is_textual(annotation):
        if raw.guessed is None and _allows_none(annotation):
            return None
        return text
    return raw.guessed


def _args(annotation: Any) -> tuple[Any, ...]:
    """Union members (or the annotation alone), with Annotated unwrapped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _args(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        members: list[Any] = []
        for arg in typing.get_args(annotation):
            members.extend(_args(arg))
        return tuple(members)
    return (annotation,)


def _is_textual(annotation: Any) -> bool:
    """True when a scalar of this type is best given as its text."""
    if annotation is UNDECLARED or annotation is Any:
        return False
    members = [m for m in _args(annotation) if m is not type(None)]
    textual = False
    for member in members:
        origin = typing.get_origin(member)
        if origin is Literal:
            if all(isinstance(v, str) for v in typing.get_args(member)):
                textual = True
            else:
                return False
        elif isinstance(member, type) and issubclass(member, _SCALAR_NON_TEXT_TYPES):
            return False
        elif isinstance(member, type) and (
            issubclass(member, _TEXT_TYPES) or (issubclass(member, enum.Enum) and issubclass(member, str))
        ):
            textual = True
    return textual


def _allows_none(annotation: Any) -> bool:
    return type(None) in _args(annotation)


def _model_class(annotation: Any) -> type[BaseModel] | None:
    for member in _args(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _mapping_value_type(annotation: Any) -> Any:
    for member in _args(annotation):
        origin = typing.get_origin(member)
        if isinstance(origin, type) and issubclass(origin, abc.Mapping):
            arguments = typing.get_args(member)
            return arguments[1] if len(arguments) == 2 else UNDECLARED
    return UNDECLARED


def _is_sequence(annotation: Any) -> bool:
    for member in _args(annotation):
        origin = typing.get_origin(member)
        if isinstance(origin, type) and issubclass(origin, (abc.Sequence, abc.Set)):
            return True
    return False


def _sequence_item_type(annotation: Any) -> Any:
    for member in _args(annotation):
        origin = typing.get_origin(member)
        if isinstance(origin, type) and issubclass(origin, (abc.Sequence, abc.Set)):
            arguments = typing.get_args(member)
            return arguments[0] if arguments else UNDECLARED
    return UNDECLARED


def declared_fields(model: type[BaseModel]) -> dict[str, Any]:
    """Maps every key a model accepts (name and alias) to its annotation."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        fields[name] = info.annotation
        if info.alias:
            fields[info.alias] = info.annotation
    return fields
