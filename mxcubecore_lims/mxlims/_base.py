"""What every MXLIMS model shares: camelCase JSON names, closed objects, links as ``$ref``.

MXLIMS objects carry links to each other as JSON-pointer references
(``{"$ref": "#/Puck/Puck1"}``) that a :class:`~mxcubecore_lims.mxlims.document.MxlimsDocument`
resolves. A link field is declared as ``Annotated[Ref | None, LinkTo("Puck")]``:
the annotation is what the document checks a target's type against, and what
the generated JSON Schema turns into a ``$ref`` pattern.

Optional fields default to ``None`` and are left out when written, so a
document read and written again keeps exactly the keys it had.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = [
    "BASE_TYPES",
    "DOMAIN_KEY_PATTERN",
    "AwareDatetime",
    "DomainKey",
    "HttpUrl",
    "LinkTo",
    "MxlimsModel",
    "MxlimsObject",
    "PositiveFloat",
    "PositiveInt",
    "Ref",
    "UuidText",
    "ref_pattern",
]

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
"""MXLIMS uuids: lower-case, versions 1 to 5 (uuid7 is refused by the model)."""

DOMAIN_KEY_PATTERN = r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9]$"
"""Keys of ``extensions``, ``identifiers`` and ``urls``: a dotted domain name (the model's
pattern is case-insensitive through an inline flag JSON Schema regexes lack; spelt out here)."""

HTTP_URL_PATTERN = r"^https?://([a-zA-Z0-9-]+\.)+[a-zA-Z]{2,}(:[0-9]+)?(/[^\s]*)?$"
"""An http(s) URL on a named host with a letter top-level domain."""

AWARE_DATETIME_PATTERN = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
"""ISO 8601 date and time with a ``T`` and a zone (``Z`` or an offset)."""

UuidText = Annotated[str, Field(pattern=UUID_PATTERN)]
DomainKey = Annotated[str, Field(pattern=DOMAIN_KEY_PATTERN)]
HttpUrl = Annotated[str, Field(pattern=HTTP_URL_PATTERN)]
AwareDatetime = Annotated[str, Field(pattern=AWARE_DATETIME_PATTERN)]
PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]

#: The abstract MXLIMS base types and their concrete types.
BASE_TYPES: dict[str, tuple[str, ...]] = {
    "LogisticalSample": (
        "Shipment",
        "Dewar",
        "Puck",
        "Pin",
        "MultiPin",
        "PinPosition",
        "Plate",
        "PlateWell",
        "WellDrop",
        "DropRegion",
        "Crystal",
    ),
    "Sample": ("Macromolecule", "MacromoleculeSample", "Medium"),
    "Job": ("MxExperiment", "MxProcessing", "VolumeScan"),
    "Dataset": ("CollectionSweep", "ReflectionSet"),
}


class MxlimsModel(BaseModel):
    """Base of every MXLIMS model and value type: camelCase names, no unknown fields."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,
        ser_json_inf_nan="strings",
    )

    def to_json_data(self) -> dict[str, Any]:
        """The JSON form: camelCase keys, unset optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


_KEY = r"[1-9][0-9]*"


def ref_pattern(targets: tuple[str, ...]) -> str:
    """The ``$ref`` pattern of a link to objects of the given concrete types."""
    return "^#/(" + "|".join(f"{t}/{t}" for t in targets) + f"){_KEY}$"


class Ref(BaseModel):
    """A link in message form: a JSON pointer to an object of the same document.

    Attributes:
        ref: The pointer, ``#/<Type>/<Type><n>``.
        mxlims_type: Optionally the target's type, as the model allows.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    ref: str = Field(alias="$ref", pattern=r"^#/[A-Za-z]+/[A-Za-z]+[1-9][0-9]*$")
    mxlims_type: str | None = Field(default=None, alias="mxlimsType")

    @property
    def target_type(self) -> str:
        """The type the pointer names (``Puck`` for ``#/Puck/Puck1``)."""
        return self.ref.split("/")[1]

    @property
    def target_key(self) -> str:
        """The key the pointer names (``Puck1`` for ``#/Puck/Puck1``)."""
        return self.ref.split("/")[2]

    @classmethod
    def to(cls, type_name: str, key: str) -> Ref:
        """The link to ``#/<type_name>/<key>``."""
        return cls(ref=f"#/{type_name}/{key}")


_KEY_OF_TYPE = re.compile(r"^(?P<type>[A-Za-z]+?)(?P<n>[1-9][0-9]*)$")


@dataclass(frozen=True)
class LinkTo:
    """Marks a field as a link and names the types its target may have, as the model does."""

    names: tuple[str, ...]

    def __init__(self, *names: str) -> None:
        object.__setattr__(self, "names", names)

    @property
    def targets(self) -> tuple[str, ...]:
        """The concrete types a target may have.

        A base type name (``Dataset``...) in the model stands for a stub of an
        object kept elsewhere (``#/Dataset/Dataset1``), not for any concrete
        type; stubs cannot be valid at 0.6.13, so no such target is offered.
        """
        return tuple(name for name in self.names if name not in BASE_TYPES)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The schema of the link: reference objects whose pointer must name an allowed type."""
        del handler  # the reference object is written out in full here
        return self._shape(schema)

    def _shape(self, schema: Any) -> JsonSchemaValue:
        kind = schema.get("type")
        if kind in ("default", "nullable"):
            return self._shape(schema["schema"])
        if kind == "list":
            return {"type": "array", "items": self._reference()}
        return self._reference()

    def _reference(self) -> JsonSchemaValue:
        return {
            "type": "object",
            "properties": {
                "$ref": {"type": "string", "pattern": ref_pattern(self.targets)},
                "mxlimsType": {"enum": list(self.targets)},
            },
            "required": ["$ref"],
            "additionalProperties": False,
        }


_LINK_FIELDS: dict[type, dict[str, LinkTo]] = {}


class MxlimsObject(MxlimsModel):
    """Fields every MXLIMS object has (``MxlimsObjectData``).

    Subclasses set :attr:`base_type` and declare ``mxlims_type`` as a
    ``Literal`` of their own name.
    """

    base_type: ClassVar[str] = ""

    mxlims_type: str
    mxlims_base_type: str | None = None
    """The abstract type, allowed in messages and not checked by the model."""
    uuid: UuidText | None = None
    """Permanent id of the object; optional in messages."""
    annotation: str | None = None
    """Free-text comment."""
    extensions: dict[DomainKey, dict[str, Any]] | None = None
    """Site-specific data, keyed by the site's domain name."""
    identifiers: dict[DomainKey, str] | None = None
    """Site-specific ids (a LIMS primary key as text), keyed by domain name."""
    urls: dict[DomainKey, HttpUrl] | None = None
    """Site-specific links, keyed by domain name."""

    @classmethod
    def link_fields(cls) -> dict[str, LinkTo]:
        """Field name -> link annotation, for every link field of this type."""
        found = _LINK_FIELDS.get(cls)
        if found is None:
            found = {
                name: marker
                for name, info in cls.model_fields.items()
                for marker in info.metadata
                if isinstance(marker, LinkTo)
            }
            _LINK_FIELDS[cls] = found
        return found

    def links(self) -> list[tuple[str, int | None, Ref]]:
        """Every link this object holds: (field name, list index or None, reference)."""
        out: list[tuple[str, int | None, Ref]] = []
        for name in self.link_fields():
            value = getattr(self, name)
            if isinstance(value, Ref):
                out.append((name, None, value))
            elif isinstance(value, list):
                out.extend((name, index, ref) for index, ref in enumerate(value))
        return out


def split_key(key: str) -> tuple[str, int] | None:
    """``("Pin", 3)`` for ``"Pin3"``; None when the key is not ``<Type><n>``."""
    match = _KEY_OF_TYPE.match(key)
    return (match["type"], int(match["n"])) if match else None
