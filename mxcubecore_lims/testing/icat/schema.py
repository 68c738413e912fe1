"""The entity table of the emulated ICAT server (reference ``icat.md`` §4).

One table drives everything that describes the catalogue: the WSDL and XSD
(:mod:`.wsdl`), the ``getEntityInfo`` replies, the store's constraint checks
and the query engine's path resolution. So the schema python-icat builds its
entity classes from cannot drift from what the server accepts.

Row shape used by the store and the query engine: a plain ``dict`` with
``id``, the five meta attributes, every attribute by name, and every ONE
relation by name holding the related row's id (or ``None``). MANY relations
are not stored: they are the rows of the target entity whose back reference
(:attr:`Many.back`) points at this row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "ENTITIES",
    "ENTITY_NAMES",
    "META_ATTRIBUTES",
    "PARAMETER_INFO",
    "Attr",
    "Entity",
    "Many",
    "One",
    "bean_type",
    "entity",
]

#: Java type name (as ``getEntityInfo`` reports it) -> XSD type.
XSD_TYPES: Final[dict[str, str]] = {
    "String": "xs:string",
    "Long": "xs:long",
    "Integer": "xs:int",
    "Double": "xs:double",
    "Boolean": "xs:boolean",
    "Date": "xs:dateTime",
    "ParameterValueType": "tns:parameterValueType",
}

#: Values of the ``parameterValueType`` enumeration.
PARAMETER_VALUE_TYPES: Final = ("DATE_AND_TIME", "NUMERIC", "STRING")


@dataclass(frozen=True)
class Attr:
    """A scalar attribute.

    Attributes:
        name: Field name.
        type: Java type name, a key of :data:`XSD_TYPES`.
        not_null: Whether ICAT refuses a row without it (VALIDATION fault).
        length: Maximum length of a ``String``.
        comment: The ``comment`` of ``getEntityInfo``.
    """

    name: str
    type: str = "String"
    not_null: bool = False
    length: int = 255
    comment: str = ""


@dataclass(frozen=True)
class One:
    """A many-to-one relation, stored as the related row's id."""

    name: str
    target: str
    not_null: bool = False
    comment: str = ""


@dataclass(frozen=True)
class Many:
    """A one-to-many relation; children are cascade-created and -deleted.

    Attributes:
        name: Field name on the parent.
        target: Child entity.
        back: Name of the child's ONE relation pointing at the parent.
    """

    name: str
    target: str
    back: str
    comment: str = ""


@dataclass(frozen=True)
class Entity:
    """One ICAT entity type."""

    name: str
    comment: str
    attrs: tuple[Attr, ...] = ()
    ones: tuple[One, ...] = ()
    manys: tuple[Many, ...] = ()
    #: Field names of the uniqueness constraint; empty when there is none.
    unique: tuple[str, ...] = ()
    #: ``Parameter`` subclasses share the parameter attributes.
    parent: str | None = None
    fields_by_name: dict[str, Attr | One | Many] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        every: tuple[Attr | One | Many, ...] = (*META_ATTRIBUTES, *self.attrs, *self.ones, *self.manys)
        for item in every:
            self.fields_by_name[item.name] = item

    def field(self, name: str) -> Attr | One | Many | None:
        """The attribute or relation called ``name``, or ``None``."""
        return self.fields_by_name.get(name)

    @property
    def bean(self) -> str:
        """The XSD complexType name: the entity name with a lower-case initial."""
        return bean_type(self.name)


def bean_type(name: str) -> str:
    """``DatasetParameter`` -> ``datasetParameter``."""
    return name[:1].lower() + name[1:]


#: Attributes every entity has (``entityBaseBean``); ``id`` comes first.
META_ATTRIBUTES: Final = (
    Attr("createId", comment="Id of the user who created this row"),
    Attr("createTime", "Date", comment="Time this row was created"),
    Attr("id", "Long", comment="Primary key"),
    Attr("modId", comment="Id of the user who last changed this row"),
    Attr("modTime", "Date", comment="Time this row was last changed"),
)

_PARAMETER_ATTRS: Final = (
    Attr("dateTimeValue", "Date"),
    Attr("error", "Double"),
    Attr("numericValue", "Double"),
    Attr("rangeBottom", "Double"),
    Attr("rangeTop", "Double"),
    Attr("stringValue", length=4000),
)


def _parameter(name: str, parent_field: str, parent_entity: str) -> Entity:
    return Entity(
        name,
        f"A parameter associated with a {parent_entity.lower()}",
        attrs=_PARAMETER_ATTRS,
        ones=(One(parent_field, parent_entity, True), One("type", "ParameterType", True)),
        unique=(parent_field, "type"),
        parent="Parameter",
    )


_ENTITY_LIST: Final = (
    Entity(
        "Facility",
        "An experimental facility",
        attrs=(
            Attr("daysUntilRelease", "Integer"),
            Attr("description", length=1023),
            Attr("fullName"),
            Attr("name", not_null=True),
            Attr("url"),
        ),
        manys=(
            Many("datafileFormats", "DatafileFormat", "facility"),
            Many("datasetTypes", "DatasetType", "facility"),
            Many("instruments", "Instrument", "facility"),
            Many("investigationTypes", "InvestigationType", "facility"),
            Many("investigations", "Investigation", "facility"),
            Many("parameterTypes", "ParameterType", "facility"),
            Many("sampleTypes", "SampleType", "facility"),
        ),
        unique=("name",),
    ),
    Entity(
        "Instrument",
        "Used by a user within an investigation",
        attrs=(
            Attr("description", length=4000),
            Attr("endDate", "Date"),
            Attr("fullName"),
            Attr("name", not_null=True),
            Attr("pid"),
            Attr("startDate", "Date"),
            Attr("type"),
            Attr("url"),
        ),
        ones=(One("facility", "Facility", True),),
        manys=(
            Many("instrumentScientists", "InstrumentScientist", "instrument"),
            Many("investigationInstruments", "InvestigationInstrument", "instrument"),
        ),
        unique=("facility", "name"),
    ),
    Entity(
        "InstrumentScientist",
        "Relationship between an ICAT user as an instrument scientist and the instrument",
        ones=(One("instrument", "Instrument", True), One("user", "User", True)),
        unique=("user", "instrument"),
    ),
    Entity(
        "InvestigationType",
        "A type of investigation",
        attrs=(Attr("description"), Attr("name", not_null=True)),
        ones=(One("facility", "Facility", True),),
        manys=(Many("investigations", "Investigation", "type"),),
        unique=("name", "facility"),
    ),
    Entity(
        "Investigation",
        "An investigation or experiment",
        attrs=(
            Attr("doi"),
            Attr("endDate", "Date"),
            Attr("fileCount", "Long"),
            Attr("fileSize", "Long"),
            Attr("name", not_null=True),
            Attr("releaseDate", "Date"),
            Attr("startDate", "Date"),
            Attr("summary", length=4000),
            Attr("title", not_null=True),
            Attr("visitId", not_null=True),
        ),
        ones=(One("facility", "Facility", True), One("type", "InvestigationType", True)),
        manys=(
            Many("datasets", "Dataset", "investigation"),
            Many("investigationInstruments", "InvestigationInstrument", "investigation"),
            Many("investigationUsers", "InvestigationUser", "investigation"),
            Many("parameters", "InvestigationParameter", "investigation"),
            Many("samples", "Sample", "investigation"),
        ),
        unique=("facility", "name", "visitId"),
    ),
    Entity(
        "InvestigationInstrument",
        "Represents a many-to-many relationship between an investigation and the instruments which were used",
        ones=(One("instrument", "Instrument", True), One("investigation", "Investigation", True)),
        unique=("investigation", "instrument"),
    ),
    Entity(
        "InvestigationUser",
        "Many to many relationship between investigation and user",
        attrs=(Attr("role", not_null=True),),
        ones=(One("investigation", "Investigation", True), One("user", "User", True)),
        unique=("user", "investigation", "role"),
    ),
    Entity(
        "User",
        "A user of the facility",
        attrs=(
            Attr("affiliation"),
            Attr("email"),
            Attr("familyName"),
            Attr("fullName"),
            Attr("givenName"),
            Attr("name", not_null=True),
            Attr("orcidId"),
        ),
        manys=(
            Many("instrumentScientists", "InstrumentScientist", "user"),
            Many("investigationUsers", "InvestigationUser", "user"),
            Many("userGroups", "UserGroup", "user"),
        ),
        unique=("name",),
    ),
    Entity(
        "Grouping",
        "A group of users",
        attrs=(Attr("name", not_null=True),),
        manys=(Many("userGroups", "UserGroup", "grouping"),),
        unique=("name",),
    ),
    Entity(
        "UserGroup",
        "Many to many relationship between user and group",
        ones=(One("grouping", "Grouping", True), One("user", "User", True)),
        unique=("user", "grouping"),
    ),
    _parameter("InvestigationParameter", "investigation", "Investigation"),
    Entity(
        "SampleType",
        "A sample to be used in an investigation",
        attrs=(
            Attr("molecularFormula", not_null=True),
            Attr("name", not_null=True),
            Attr("safetyInformation", length=4000),
        ),
        ones=(One("facility", "Facility", True),),
        manys=(Many("samples", "Sample", "type"),),
        unique=("facility", "name", "molecularFormula"),
    ),
    Entity(
        "Sample",
        "A sample to be used in an investigation",
        attrs=(Attr("name", not_null=True), Attr("pid")),
        ones=(One("investigation", "Investigation", True), One("type", "SampleType")),
        manys=(
            Many("datasets", "Dataset", "sample"),
            Many("parameters", "SampleParameter", "sample"),
        ),
        unique=("investigation", "name"),
    ),
    _parameter("SampleParameter", "sample", "Sample"),
    Entity(
        "DatasetType",
        "A type of data set",
        attrs=(Attr("description"), Attr("name", not_null=True)),
        ones=(One("facility", "Facility", True),),
        manys=(Many("datasets", "Dataset", "type"),),
        unique=("facility", "name"),
    ),
    Entity(
        "Dataset",
        "A collection of data files and part of an investigation",
        attrs=(
            Attr("complete", "Boolean", not_null=True),
            Attr("description"),
            Attr("doi"),
            Attr("endDate", "Date"),
            Attr("fileCount", "Long"),
            Attr("fileSize", "Long"),
            Attr("location", length=511),
            Attr("name", not_null=True),
            Attr("startDate", "Date"),
        ),
        ones=(
            One("investigation", "Investigation", True),
            One("sample", "Sample"),
            One("type", "DatasetType", True),
        ),
        manys=(
            Many("datafiles", "Datafile", "dataset"),
            Many("parameters", "DatasetParameter", "dataset"),
        ),
        unique=("investigation", "name"),
    ),
    _parameter("DatasetParameter", "dataset", "Dataset"),
    Entity(
        "ParameterType",
        "A parameter type with unique name and units",
        attrs=(
            Attr("applicableToDataCollection", "Boolean"),
            Attr("applicableToDatafile", "Boolean"),
            Attr("applicableToDataset", "Boolean"),
            Attr("applicableToInvestigation", "Boolean"),
            Attr("applicableToSample", "Boolean"),
            Attr("description"),
            Attr("enforced", "Boolean"),
            Attr("maximumNumericValue", "Double"),
            Attr("minimumNumericValue", "Double"),
            Attr("name", not_null=True),
            Attr("pid"),
            Attr("units", not_null=True),
            Attr("unitsFullName"),
            Attr("valueType", "ParameterValueType", not_null=True),
            Attr("verified", "Boolean"),
        ),
        ones=(One("facility", "Facility", True),),
        manys=(
            Many("datasetParameters", "DatasetParameter", "type"),
            Many("investigationParameters", "InvestigationParameter", "type"),
            Many("sampleParameters", "SampleParameter", "type"),
        ),
        unique=("facility", "name", "units"),
    ),
    Entity(
        "DatafileFormat",
        "A data file format",
        attrs=(
            Attr("description"),
            Attr("name", not_null=True),
            Attr("type"),
            Attr("version", not_null=True),
        ),
        ones=(One("facility", "Facility", True),),
        manys=(Many("datafiles", "Datafile", "datafileFormat"),),
        unique=("facility", "name", "version"),
    ),
    Entity(
        "Datafile",
        "A data file",
        attrs=(
            Attr("checksum"),
            Attr("datafileCreateTime", "Date"),
            Attr("datafileModTime", "Date"),
            Attr("description"),
            Attr("doi"),
            Attr("fileSize", "Long"),
            Attr("location", length=511),
            Attr("name", not_null=True),
        ),
        ones=(One("datafileFormat", "DatafileFormat"), One("dataset", "Dataset", True)),
        unique=("dataset", "name"),
    ),
)

#: Entity name -> :class:`Entity`, for every entity the server serves.
ENTITIES: Final[dict[str, Entity]] = {e.name: e for e in _ENTITY_LIST}

#: What ``getEntityNames`` returns, sorted as the server sorts them.
ENTITY_NAMES: Final[tuple[str, ...]] = tuple(sorted(ENTITIES))

#: ``getEntityInfo("Parameter")``: the abstract parent, never stored.
PARAMETER_INFO: Final = Entity(
    "Parameter",
    "A parameter of a dataset, datafile, investigation or sample",
    attrs=_PARAMETER_ATTRS,
    ones=(One("type", "ParameterType", True),),
)


def entity(name: str) -> Entity | None:
    """The entity called ``name`` (exact case), or ``None``."""
    return ENTITIES.get(name)


def _check_table() -> None:
    # A wrong back reference would silently empty a MANY relation.
    for ent in _ENTITY_LIST:
        for many in ent.manys:
            child = ENTITIES[many.target]
            back = child.field(many.back)
            assert isinstance(back, One) and back.target == ent.name, (ent.name, many.name)
        for one in ent.ones:
            assert one.target in ENTITIES, (ent.name, one.name)
        for name in ent.unique:
            assert ent.field(name) is not None, (ent.name, name)


_check_table()
