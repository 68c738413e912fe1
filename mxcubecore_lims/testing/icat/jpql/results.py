"""What the JPQL engine returns: entity nodes with their INCLUDEs, and search results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .graph import Row

__all__ = ["Node", "Result"]


@dataclass
class Node:
    """One entity of a result, with the relations INCLUDE asked for.

    Attributes:
        entity: Entity name.
        row: The stored row (not a copy).
        includes: Relation name -> related node (ONE, ``None`` when unset or
            unreadable) or nodes ordered by id (MANY). Only included
            relations are present.
    """

    entity: str
    row: Row
    includes: dict[str, Node | list[Node] | None] = field(default_factory=dict)


@dataclass
class Result:
    """What a search returns.

    Attributes:
        kind: ``"entity"``, ``"value"`` or ``"tuple"``.
        items: :class:`Node` objects, plain values, or tuples of values.
        types: For ``value``/``tuple``: the Java type name of each column.
    """

    kind: str
    items: list[Any]
    types: list[str] = field(default_factory=list)
