"""What the operators and functions of the JPQL engine do to values.

Comparisons, ``LIKE`` patterns, ``UPPER``/``LOWER``/... and the SQL
three-valued ``AND``/``OR``/``NOT`` (``None`` is *unknown*), plus the order
``ORDER BY``, ``MIN`` and ``MAX`` sort values in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .errors import QueryError
from .graph import Binding

__all__ = [
    "COMPARATORS",
    "FUNCTION_IMPLS",
    "and_",
    "and_values",
    "aware",
    "compare_values",
    "like_regex",
    "not_",
    "or_",
    "sort_key",
]

#: Function name -> (implementation, result type; ``None``: the argument's type).
FUNCTION_IMPLS: dict[str, tuple[Callable[[Any], Any], str | None]] = {
    "UPPER": (lambda v: str(v).upper(), "String"),
    "LOWER": (lambda v: str(v).lower(), "String"),
    "TRIM": (lambda v: str(v).strip(), "String"),
    "LENGTH": (lambda v: len(str(v)), "Integer"),
    "ABS": (abs, None),
}

#: Comparison operator -> its test on two non-null values.
COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def _comparable(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers):
        return True
    return type(a) is type(b) or (isinstance(a, datetime) and isinstance(b, datetime))


def compare_values(check: Callable[[Any, Any], bool], a: Any, b: Any, op: str) -> bool:
    """``check(a, b)`` for two non-null values, refusing values of different types.

    Args:
        check: One of :data:`COMPARATORS`.
        a: The left value.
        b: The right value.
        op: The operator, for the error message.

    Returns:
        The comparison's result.

    Raises:
        QueryError: ``a`` and ``b`` cannot be compared.
    """
    if not _comparable(a, b):
        raise QueryError(f"Cannot compare {type(a).__name__} value {a!r} with {type(b).__name__} value {b!r} ({op})")
    if isinstance(a, datetime):
        a, b = aware(a), aware(b)
    return check(a, b)


def aware(value: datetime) -> datetime:
    """``value`` with a time zone (naive values are taken as local time)."""
    # Naive datetimes are local time, like the {ts ...} literals.
    return value if value.tzinfo else value.astimezone()


def like_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression a ``LIKE`` pattern stands for (``%`` and ``_`` as wildcards)."""
    parts = []
    for char in pattern:
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def and_(tests: list[Callable[[Binding], bool | None]]) -> Callable[[Binding], bool | None]:
    """The three-valued ``AND`` of ``tests``: false if any is false, else unknown if any is unknown."""

    def test(binding: Binding) -> bool | None:
        result: bool | None = True
        for part in tests:
            value = part(binding)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    return test


def or_(tests: list[Callable[[Binding], bool | None]]) -> Callable[[Binding], bool | None]:
    """The three-valued ``OR`` of ``tests``: true if any is true, else unknown if any is unknown."""

    def test(binding: Binding) -> bool | None:
        result: bool | None = False
        for part in tests:
            value = part(binding)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    return test


def and_values(a: bool | None, b: bool | None) -> bool | None:
    """The three-valued ``AND`` of two truth values."""
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def not_(value: bool | None) -> bool | None:
    """The three-valued ``NOT``: unknown stays unknown."""
    return None if value is None else not value


def sort_key(value: Any) -> tuple[int, Any]:
    """The key ``value`` sorts by: ``NULL`` before every value, datetimes by the instant."""
    # NULL sorts before every value (after them when reversed for DESC).
    if value is None:
        return (0, 0)
    if isinstance(value, datetime):
        return (1, aware(value))
    return (1, value)
