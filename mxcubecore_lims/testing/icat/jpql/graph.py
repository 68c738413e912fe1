"""The rows a query runs over: the store as the engine sees it, and how to walk a relation."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from mxcubecore_lims.testing.icat.schema import Many, One

__all__ = ["Binding", "Graph", "Readable", "Row", "follow"]

#: One stored row: field name -> value (ONE relations as the related id).
Row = dict[str, Any]


class Graph(Protocol):
    """The store as the query engine sees it."""

    def rows(self, entity: str) -> Iterable[Row]:
        """All rows of ``entity``."""
        ...

    def get(self, entity: str, id: int) -> Row | None:
        """The row of ``entity`` with this id, or ``None``."""
        ...

    def children(self, entity: str, id: int, many: str) -> list[Row]:
        """The rows of the MANY relation ``many`` of row ``id`` of ``entity``."""
        ...


Readable = Callable[[str, Row], bool]
Binding = list[Row | None]  # one row (or None) per alias, in alias order


def follow(graph: Graph, owner: str, row: Row | None, step: One | Many) -> list[Row]:
    """The rows reached from ``row`` (of entity ``owner``) through ``step``."""
    if row is None:
        return []
    if isinstance(step, One):
        related = row.get(step.name)
        target = graph.get(step.target, related) if related is not None else None
        return [] if target is None else [target]
    return list(graph.children(owner, row["id"], step.name))
