"""The errors of the JPQL engine: why a query is refused."""

from __future__ import annotations

__all__ = ["NoSuchObjectError", "PrivilegesError", "QueryError"]


class QueryError(Exception):
    """A query the server refuses (an ICAT ``BAD_PARAMETER`` fault)."""


class NoSuchObjectError(QueryError):
    """``get`` found no row with the requested id (``NO_SUCH_OBJECT_FOUND``)."""


class PrivilegesError(QueryError):
    """``get`` found a row the user may not read (``INSUFFICIENT_PRIVILEGES``)."""
