"""The JSON Schema (draft 2020-12) of the documents this package writes, generated from the models.

The schema is derived from the pydantic models, never copied from the
MXLIMS project: one definition per object type under ``$defs``, one
top-level map per type (keys are free; only
referenced objects need ``<Type><n>`` keys, which the ``$ref`` pattern enforces), and ``version`` fixed
to :data:`~mxcubecore_lims.mxlims.document.MODEL_VERSION`. What a JSON
Schema cannot say (that a ``$ref`` names an existing object) is checked by
:func:`~mxcubecore_lims.mxlims.document.read_document`.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from mxcubecore_lims.mxlims.document import MODEL_VERSION
from mxcubecore_lims.mxlims.types import TYPES

__all__ = ["SCHEMA_ID", "document_schema", "document_schema_text"]

SCHEMA_ID = f"urn:mxcubecore-lims:mxlims:{MODEL_VERSION}:document"
"""The generated schema's ``$id`` (a URN: the schema is not served anywhere)."""


@cache
def _schema() -> dict[str, Any]:
    _, definitions = models_json_schema(
        [(model, "validation") for model in TYPES.values()],
        ref_template="#/$defs/{model}",
    )
    properties: dict[str, Any] = {"version": {"const": MODEL_VERSION}}
    for type_name in TYPES:
        properties[type_name] = {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"$ref": f"#/$defs/{type_name}"},
        }
    _close_pattern_maps(definitions)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"MXLIMS {MODEL_VERSION} document, as mxcubecore-lims reads and writes it",
        "type": "object",
        "required": ["version"],
        "properties": properties,
        "$defs": definitions.get("$defs", {}),
    }


def _close_pattern_maps(node: Any) -> None:
    # pydantic writes a dict with a key pattern as patternProperties alone,
    # which lets any other key through; the model's domain-keyed maps are closed.
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_pattern_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_maps(value)


def document_schema() -> dict[str, Any]:
    """The generated JSON Schema of a whole document (a fresh copy)."""
    copy: dict[str, Any] = json.loads(json.dumps(_schema()))
    return copy


def document_schema_text() -> str:
    """The generated JSON Schema as indented JSON text."""
    return json.dumps(_schema(), indent=2, sort_keys=False) + "\n"
