"""JSON pointers (RFC 6901) into MXLIMS documents, and pydantic error locations turned into them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["pointer", "pointer_of_error"]


def _escape(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer(*parts: str | int) -> str:
    """The JSON pointer of a path: ``pointer("Pin", "Pin3", "sampleRef") == "/Pin/Pin3/sampleRef"``."""
    return "".join("/" + _escape(part) for part in parts)


def pointer_of_error(data: Any, loc: Sequence[int | str], missing: bool) -> tuple[str, Any]:
    """Follows a pydantic error location through the data that was validated.

    Location parts that are not keys or indexes of the data (union member
    names, validator tags) are skipped; a missing field's name is kept as
    the last part.

    Returns:
        The pointer relative to ``data``, and the value found there (None when missing).
    """
    where = ""
    node = data
    found: Any = data
    for position, part in enumerate(loc):
        if isinstance(node, Mapping) and part in node:
            where += "/" + _escape(part)
            node = found = node[part]
        elif isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            where += f"/{part}"
            node = found = node[part]
        elif missing and position == len(loc) - 1 and isinstance(part, str) and isinstance(node, Mapping):
            where += "/" + _escape(part)
            found = None
    return where, found
