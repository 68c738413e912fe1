"""Payload encoding for the journal: JSON, with datetimes and dates kept as such."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any


def encode(value: Any) -> Any:
    """The JSON-ready form of a payload (datetimes and dates tagged, the rest as text if need be)."""
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "item"):  # numpy scalars, which collect routines pass
        return value.item()
    # Anything else is kept as its text rather than refusing the record.
    return str(value)


def decode(value: Any) -> Any:
    """The payload an :func:`encode` result stands for (tagged datetimes and dates restored)."""
    if isinstance(value, dict):
        if set(value) == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        if set(value) == {"$date"}:
            return date.fromisoformat(value["$date"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """A payload as the compact JSON text the journal stores."""
    return json.dumps(encode(value), separators=(",", ":"))


def loads(text: str | None) -> Any:
    """The payload a :func:`dumps` text stands for (None for a missing column)."""
    return None if text is None else decode(json.loads(text))
