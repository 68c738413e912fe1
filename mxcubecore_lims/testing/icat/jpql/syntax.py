"""The syntax tree of the JPQL engine: what the parser builds from a query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Between",
    "BoolOp",
    "Compare",
    "Func",
    "InList",
    "IncludeClause",
    "IsNull",
    "JoinClause",
    "Like",
    "Literal",
    "NotOp",
    "Param",
    "PathExpr",
    "QueryAst",
    "SelectItem",
]


@dataclass(frozen=True)
class PathExpr:
    """``alias`` or ``alias.field.field``."""

    text: str
    pos: int


@dataclass(frozen=True)
class Literal:
    """A constant; ``type`` is the Java type name (``"Null"`` for NULL)."""

    value: Any
    type: str


@dataclass(frozen=True)
class Param:
    """A named parameter such as ``:user``."""

    name: str
    pos: int


@dataclass(frozen=True)
class Func:
    """``UPPER(x)``, ``LOWER(x)``, ``LENGTH(x)``, ``TRIM(x)``, ``ABS(x)``."""

    name: str
    arg: Any
    pos: int


@dataclass(frozen=True)
class Compare:
    """``left op right``."""

    op: str
    left: Any
    right: Any


@dataclass(frozen=True)
class Like:
    """``expr [NOT] LIKE pattern``."""

    expr: Any
    pattern: Any
    negate: bool


@dataclass(frozen=True)
class InList:
    """``expr [NOT] IN (values)``."""

    expr: Any
    values: tuple[Any, ...]
    negate: bool


@dataclass(frozen=True)
class IsNull:
    """``expr IS [NOT] NULL``."""

    expr: Any
    negate: bool


@dataclass(frozen=True)
class Between:
    """``expr [NOT] BETWEEN low AND high``."""

    expr: Any
    low: Any
    high: Any
    negate: bool


@dataclass(frozen=True)
class BoolOp:
    """``AND``/``OR`` of several conditions."""

    op: str
    items: tuple[Any, ...]


@dataclass(frozen=True)
class NotOp:
    """``NOT condition``."""

    item: Any


@dataclass(frozen=True)
class SelectItem:
    """One item of the SELECT list; ``aggregate`` is e.g. ``"COUNT"``."""

    path: PathExpr
    aggregate: str | None = None
    distinct: bool = False


@dataclass(frozen=True)
class JoinClause:
    """``[LEFT] JOIN path AS alias``."""

    path: PathExpr
    alias: str
    alias_pos: int
    left: bool


@dataclass(frozen=True)
class IncludeClause:
    """``path [AS alias]`` of INCLUDE."""

    path: PathExpr
    alias: str | None


@dataclass
class QueryAst:
    """A parsed query, aliases not yet resolved."""

    entity: str
    entity_pos: int
    alias: str
    select: list[SelectItem] | None = None  # None: the root entity (short form)
    distinct: bool = False
    joins: list[JoinClause] = field(default_factory=list)
    where: Any = None
    order: list[tuple[Any, bool]] = field(default_factory=list)  # (expr, descending)
    includes: list[IncludeClause] = field(default_factory=list)
    include_one: bool = False
    limit: tuple[int, int] | None = None
