"""What every group of emulated ISPyB operations shares: the fault, the services, rows as value objects."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mxcubecore_lims.errors import LimsError
from mxcubecore_lims.testing.ispyb.schema import SERVICES, Service
from mxcubecore_lims.testing.ispyb.store import TABLES, Store

__all__ = [
    "BLSAMPLE",
    "COLLECTION",
    "CRIMS",
    "DAY",
    "ECHO",
    "SHIPPING",
    "IspybFault",
    "check_length",
    "current_time",
    "echo",
    "positive",
    "store_or_update",
    "table_columns",
    "touch_session",
    "value_object",
]

#: The constant ``echo`` reply of every service.
ECHO = "echo from server..."

DAY = timedelta(days=1)

#: The four services whose operations are emulated.
COLLECTION = SERVICES["ToolsForCollectionWebService"]
SHIPPING = SERVICES["ToolsForShippingWebService"]
BLSAMPLE = SERVICES["ToolsForBLSampleWebService"]
CRIMS = SERVICES["CrimsWebService"]


class IspybFault(LimsError):  # noqa: N818 - named after the SOAP Fault it becomes; importers use this name
    """An operation failed; the server answers with a SOAP Fault (HTTP 500)."""


def current_time() -> datetime:
    """Returns the time now, to the second (as ISPyB stores it)."""
    return datetime.now().replace(microsecond=0)


def _date(value: Any) -> Any:
    """Stored ISO text back to a naive datetime."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def value_object(service: Service, type_name: str, row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A row as a value object of ``type_name`` (only that type's elements)."""
    if row is None:
        return None
    out = {}
    for p in service.all_elements(type_name):
        if p.is_simple and row.get(p.name) is not None:
            out[p.name] = _date(row[p.name]) if p.type == "xs:dateTime" else row[p.name]
    return out


def table_columns(table: str, vo: dict[str, Any]) -> dict[str, Any]:
    """The VO values that are columns of ``table``."""
    key, columns = TABLES[table]
    known = {key, *columns}
    return {k: v for k, v in vo.items() if k in known}


def positive(value: Any) -> bool:
    """Tells whether an id was sent and is above 0."""
    return value is not None and int(value) > 0


def check_length(vo: dict[str, Any], limits: dict[str, int]) -> None:
    """Raises :class:`IspybFault` when a string value is longer than its column allows."""
    for name, limit in limits.items():
        value = vo.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise IspybFault(f"IllegalArgumentException: {name} is longer than {limit} characters")


def store_or_update(store: Store, table: str, vo: dict[str, Any]) -> int:
    """Creates a row when the VO's id is null/0, else rebuilds the row from the VO."""
    key = TABLES[table][0]
    values = table_columns(table, vo)
    ident = values.pop(key, None)
    if not ident:
        return store.insert(table, values)
    if store.get(table, ident) is None:
        raise IspybFault(f"{table} {ident} not found")
    store.replace(table, int(ident), values)
    return int(ident)


def touch_session(store: Store, session_id: Any) -> None:
    """Sets a session's ``lastUpdate`` to now, after a write that belongs to it."""
    if session_id:
        store.update("BLSession", int(session_id), {"lastUpdate": current_time()})


def echo(store: Store) -> str:
    """``echo``, the same in every service: a constant reply."""
    return ECHO
