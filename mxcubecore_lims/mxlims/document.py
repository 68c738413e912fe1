"""Whole MXLIMS documents ("messages"): read with every link resolved, written back unchanged.

A document is one JSON object: ``version``, then one map per object type
(``"Pin": {"Pin1": {...}}``). Objects link to each other with
``{"$ref": "#/Puck/Puck1"}``. Reading checks what the JSON Schema cannot:
that every pointer names an object of the document, of a type the link
allows, and that no chain of one link kind loops. Every problem is reported,
each with its JSON pointer (``/Pin/Pin3/sampleRef``) and value.

Top-level keys that are not MXLIMS types are kept as they are
(:attr:`MxlimsDocument.extra`), as the strict message schema allows them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from mxcubecore_lims.errors import (
    MxlimsCycleError,
    MxlimsDocumentError,
    MxlimsInvalidDocumentError,
    MxlimsReferenceError,
    MxlimsSchemaError,
    MxlimsVersionError,
)
from mxcubecore_lims.mxlims._base import MxlimsObject, Ref
from mxcubecore_lims.mxlims._pointers import pointer, pointer_of_error
from mxcubecore_lims.mxlims.types import CYCLE_LINKS, TYPES

__all__ = ["MODEL_VERSION", "MxlimsDocument", "load_document", "read_document"]

MODEL_VERSION = "0.6.13"
"""The MXLIMS model version this package reads and writes."""

T = TypeVar("T", bound=MxlimsObject)


@dataclass
class MxlimsDocument:
    """An MXLIMS document in memory.

    Attributes:
        objects: Type name -> key -> object, in document order.
        extra: Top-level keys that are not MXLIMS types, kept verbatim.
        version: The model version (always :data:`MODEL_VERSION` once read).
    """

    objects: dict[str, dict[str, MxlimsObject]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    version: str = MODEL_VERSION

    # -- building -----------------------------------------------------------

    def add(self, obj: MxlimsObject, key: str | None = None) -> Ref:
        """Adds an object under ``key`` (default: the next free ``<Type><n>``); returns the link to it."""
        type_name = obj.mxlims_type
        bucket = self.objects.setdefault(type_name, {})
        if key is None:
            # A dict look-up per candidate: documents of thousands of objects are built in linear time.
            number = len(bucket) + 1
            while f"{type_name}{number}" in bucket:
                number += 1
            key = f"{type_name}{number}"
        if key in bucket:
            raise KeyError(f"{type_name}/{key} is already in the document")
        bucket[key] = obj
        return Ref.to(type_name, key)

    # -- reading ------------------------------------------------------------

    def resolve(self, ref: Ref) -> MxlimsObject:
        """The object a link points at.

        Raises:
            KeyError: Nothing is there (a read document never has such links).
        """
        return self.objects[ref.target_type][ref.target_key]

    def get(self, ref: Ref | None, kind: type[T]) -> T | None:
        """The object a link points at when it is of ``kind``; None for no link or another type."""
        if ref is None:
            return None
        found = self.objects.get(ref.target_type, {}).get(ref.target_key)
        return found if isinstance(found, kind) else None

    def of_type(self, kind: type[T]) -> Iterator[tuple[str, T]]:
        """(key, object) of every object of one model class, in document order."""
        type_name = kind.model_fields["mxlims_type"].default
        for key, obj in self.objects.get(type_name, {}).items():
            if isinstance(obj, kind):
                yield key, obj

    def ref_to(self, obj: MxlimsObject) -> Ref:
        """The link to an object of this document (by identity)."""
        for key, candidate in self.objects.get(obj.mxlims_type, {}).items():
            if candidate is obj:
                return Ref.to(obj.mxlims_type, key)
        raise KeyError(f"this {obj.mxlims_type} is not in the document")

    def pointing_at(self, target: Ref, link: str) -> Iterator[tuple[str, MxlimsObject]]:
        """(type/key, object) of the objects whose ``link`` field holds ``target`` (reverse links)."""
        for type_name, bucket in self.objects.items():
            for key, obj in bucket.items():
                value = getattr(obj, link, None)
                if value == target or (isinstance(value, list) and target in value):
                    yield f"{type_name}/{key}", obj

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self.objects.values())

    # -- writing ------------------------------------------------------------

    def to_json_data(self) -> dict[str, Any]:
        """The document as JSON data: ``version``, the type maps in model order, then the extra keys."""
        data: dict[str, Any] = {"version": self.version}
        for type_name in TYPES:
            bucket = self.objects.get(type_name)
            if bucket:
                data[type_name] = {key: obj.to_json_data() for key, obj in bucket.items()}
        data.update(self.extra)
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The document as JSON text."""
        return json.dumps(self.to_json_data(), indent=indent, ensure_ascii=False)

    def write(self, path: str | Path) -> Path:
        """Writes the document to ``path`` (UTF-8, indented) and returns the path."""
        target = Path(path)
        target.write_text(self.to_json() + "\n", encoding="utf-8")
        return target

    def checked(self) -> MxlimsDocument:
        """Reads this document's own JSON form again: the check that what we write is valid.

        Raises:
            MxlimsInvalidDocumentError: The document holds a problem.
        """
        return read_document(self.to_json_data())


# --------------------------------------------------------------------------
# reading


def load_document(path: str | Path) -> MxlimsDocument:
    """Reads an MXLIMS document from a JSON file.

    Raises:
        MxlimsInvalidDocumentError: The file is not JSON or not a valid document;
            every problem names the file.
    """
    source = Path(path)
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise MxlimsInvalidDocumentError(
            [MxlimsSchemaError("/", None, f"cannot read: {error}", source)], source
        ) from None
    except json.JSONDecodeError as error:
        problem = MxlimsSchemaError(
            "/", None, f"not JSON: {error.msg} at line {error.lineno} column {error.colno}", source
        )
        raise MxlimsInvalidDocumentError([problem], source) from None
    return read_document(data, file=source)


def read_document(data: Any, file: str | Path | None = None) -> MxlimsDocument:
    """Reads an MXLIMS document from JSON data, resolving every link.

    Args:
        data: The parsed JSON.
        file: Where it came from, for the error messages.

    Raises:
        MxlimsInvalidDocumentError: One or more problems, each a
            :class:`MxlimsVersionError`, :class:`MxlimsSchemaError`,
            :class:`MxlimsReferenceError` or :class:`MxlimsCycleError`.
    """
    problems: list[MxlimsDocumentError] = []
    document = _read_objects(data, problems, file)
    if document is not None and not problems:
        _check_links(document, problems, file)
    if problems or document is None:
        raise MxlimsInvalidDocumentError(problems, file)
    return document


def _read_objects(data: Any, problems: list[MxlimsDocumentError], file: str | Path | None) -> MxlimsDocument | None:
    if not isinstance(data, Mapping):
        problems.append(MxlimsSchemaError("/", data, "an MXLIMS document is a JSON object", file))
        return None
    version = data.get("version")
    if version != MODEL_VERSION:
        reason = "missing" if "version" not in data else f"this reader reads MXLIMS {MODEL_VERSION} only"
        problems.append(MxlimsVersionError("/version", version, reason, file))
    document = MxlimsDocument()
    for top_key, bucket in data.items():
        if top_key == "version":
            continue
        model = TYPES.get(top_key)
        if model is None:
            document.extra[top_key] = bucket
            continue
        where = pointer(top_key)
        if not isinstance(bucket, Mapping) or not bucket:
            problems.append(MxlimsSchemaError(where, bucket, f"a non-empty object of {top_key} objects by key", file))
            continue
        objects: dict[str, MxlimsObject] = {}
        for key, raw in bucket.items():
            at = pointer(top_key, key)
            if isinstance(raw, Mapping) and raw.get("mxlimsType") != top_key:
                problems.append(
                    MxlimsSchemaError(f"{at}/mxlimsType", raw.get("mxlimsType"), f"must be {top_key!r} here", file)
                )
                continue
            try:
                objects[key] = model.model_validate(raw)
            except ValidationError as error:
                problems.extend(_schema_problems(error, raw, at, file))
        document.objects[top_key] = objects
    return document


def _schema_problems(error: ValidationError, raw: Any, at: str, file: str | Path | None) -> Iterator[MxlimsSchemaError]:
    seen: set[str] = set()
    for detail in error.errors(include_url=False):
        where, value = pointer_of_error(raw, detail["loc"], detail["type"] == "missing")
        where = at + where
        if where in seen:  # one problem per place: unions report once per member
            continue
        seen.add(where)
        reason = "required field missing" if detail["type"] == "missing" else detail["msg"]
        if detail["type"] == "extra_forbidden":
            reason = "not a field of this type (site data goes in extensions)"
        yield MxlimsSchemaError(where, value, reason, file)


def _check_links(document: MxlimsDocument, problems: list[MxlimsDocumentError], file: str | Path | None) -> None:
    for type_name, bucket in document.objects.items():
        for key, obj in bucket.items():
            markers = obj.link_fields()
            for name, index, ref in obj.links():
                at = pointer(type_name, key, obj.model_fields[name].alias or name)
                if index is not None:
                    at += f"/{index}"
                target = document.objects.get(ref.target_type, {}).get(ref.target_key)
                allowed = markers[name].targets
                if target is None:
                    problems.append(MxlimsReferenceError(at, ref.ref, "points at no object of this document", file))
                elif ref.target_type not in allowed:
                    problems.append(
                        MxlimsReferenceError(
                            at, ref.ref, f"must point at {' or '.join(allowed)}, not {ref.target_type}", file
                        )
                    )
                elif ref.mxlims_type is not None and ref.mxlims_type != ref.target_type:
                    problems.append(
                        MxlimsReferenceError(
                            at, ref.ref, f"says mxlimsType {ref.mxlims_type!r} but points at a {ref.target_type}", file
                        )
                    )
    if not problems:
        _check_cycles(document, problems, file)


def _check_cycles(document: MxlimsDocument, problems: list[MxlimsDocumentError], file: str | Path | None) -> None:
    order = {f"{t}/{k}": n for n, (t, k) in enumerate((t, k) for t, b in document.objects.items() for k in b)}
    for link in CYCLE_LINKS:
        reported: set[str] = set()
        for type_name, bucket in document.objects.items():
            for key in bucket:
                path = [f"{type_name}/{key}"]
                here: Any = bucket[key]
                while isinstance(ref := getattr(here, link, None), Ref):
                    step = f"{ref.target_type}/{ref.target_key}"
                    if step in path:
                        loop = path[path.index(step) :]
                        if not reported.intersection(loop):
                            reported.update(loop)
                            problems.append(_cycle_problem(document, link, loop, order, file))
                        break
                    path.append(step)
                    here = document.resolve(ref)


def _cycle_problem(
    document: MxlimsDocument, link: str, loop: list[str], order: dict[str, int], file: str | Path | None
) -> MxlimsCycleError:
    # Reported at the loop member that comes first in the document, so the
    # same document always gives the same pointer.
    first = min(loop, key=order.__getitem__)
    at = loop.index(first)
    members = loop[at:] + loop[:at]
    type_name, key = first.split("/")
    model = TYPES[type_name]
    ref = getattr(document.objects[type_name][key], link)
    return MxlimsCycleError(
        pointer(type_name, key, model.model_fields[link].alias or link),
        ref.ref,
        f"{model.model_fields[link].alias or link} loops: " + " -> ".join([*members, first]),
        file,
    )
