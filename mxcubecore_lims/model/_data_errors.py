"""Turns pydantic's ``ValidationError`` into a :class:`~mxcubecore_lims.errors.LimsDataError`.

The error names the model, the legacy key path as the producer wrote it
(``oscillation_sequence[0].exposure_time``) and the value, never pydantic's
own location syntax.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from mxcubecore_lims.errors import LimsDataError

__all__ = ["data_error"]


def _walk(data: Any, loc: tuple[int | str, ...], missing: bool) -> tuple[str, int]:
    """Follows a pydantic error location through the data that was given.

    Location parts that are not keys or indexes of the data (union member
    tags such as ``constrained-float``, validator names) are skipped.

    Returns:
        The legacy key path and how many of its parts matched.
    """
    path = ""
    depth = 0
    node = data
    for position, part in enumerate(loc):
        if isinstance(node, Mapping) and part in node:
            path += f".{part}" if path else str(part)
            node = node[part]
            depth += 1
        elif isinstance(part, int) and isinstance(node, (list, tuple)) and -len(node) <= part < len(node):
            path += f"[{part}]"
            node = node[part]
            depth += 1
        elif missing and position == len(loc) - 1 and isinstance(part, str):
            path += f".{part}" if path else part
            depth += 1
    return path, depth


def data_error(
    model: str,
    exc: ValidationError,
    data: Any,
    rename: Mapping[str, str] | None = None,
) -> LimsDataError:
    """Converts a pydantic ValidationError into a LimsDataError.

    The deepest problem is reported (for a union, the member that got
    furthest); the others are summarised in the reason.

    Args:
        model: The model name.
        exc: The pydantic error.
        data: The data that was validated, to resolve legacy key paths.
        rename: Top-level location parts to rename (assignment by name).

    Returns:
        The error to raise.
    """
    if rename and isinstance(data, Mapping):
        data = {rename.get(key, key): value for key, value in data.items()}
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if rename and loc and isinstance(loc[0], str) and loc[0] in rename:
            loc = (rename[loc[0]], *loc[1:])
        missing = err["type"] == "missing"
        path, depth = _walk(data, loc, missing)
        if missing:
            value = None
            reason = "required key is missing"
        else:
            value = err.get("input")
            reason = err["msg"].removeprefix("Value error, ")
        problems.append((depth, path, value, reason))
    best = max(problems, key=lambda problem: problem[0])
    others = []
    for _depth, path, _value, reason in problems:
        if best[1] == path or best[1].startswith((f"{path}.", f"{path}[")):
            # the same key, or a union member that did not get as far
            continue
        described = f"{path or '(dict)'}: {reason}"
        if described not in others:
            others.append(described)
    reason = best[3]
    if others:
        reason += f" (also: {'; '.join(others)})"
    return LimsDataError(model, best[1], best[2], reason)
