"""The query engine of the emulated ICAT server (reference ``icat.md`` §7b).

ICAT clients send searches as strings in ICAT's JPQL-like grammar, rendered
by python-icat's :class:`icat.query.Query`. This package parses such a string
once, compiles every path and condition into closures over a *binding* (one
row per alias, root first) and evaluates them against a :class:`Graph` of
plain-dict rows described by :mod:`~mxcubecore_lims.testing.icat.schema`.

The stages, one module each: :mod:`.lexer` (tokens), :mod:`.parser` (into the
tree of :mod:`.syntax`), :mod:`.compiler` (closures, using :mod:`.operators`),
:mod:`.plan` (the bindings a query yields) and :mod:`.evaluator` (``search``
and ``get``, returning the :mod:`.results` types).

Semantics chosen where the grammar leaves room:

* WHERE uses SQL three-valued logic: a comparison with ``NULL`` is
  *unknown*, ``NOT unknown`` stays unknown, and only rows whose condition is
  true are kept.
* ``LIKE`` is case-sensitive (use ``UPPER``/``LOWER`` for the other case).
* ``ORDER BY`` sorts ``NULL`` first for ``ASC`` and last for ``DESC``.
* Entity results are de-duplicated by id (first occurrence after ordering),
  as the ICAT server does when joins fan out; attribute results only with
  ``DISTINCT``.
* ``MIN``/``MAX``/``AVG``/``SUM`` over no (non-null) value yield no item.
"""

from __future__ import annotations

from .errors import NoSuchObjectError, PrivilegesError, QueryError
from .evaluator import get, search
from .graph import Graph
from .results import Node, Result

__all__ = [
    "Graph",
    "NoSuchObjectError",
    "Node",
    "PrivilegesError",
    "QueryError",
    "Result",
    "get",
    "search",
]
