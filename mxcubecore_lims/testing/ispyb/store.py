"""SQLite state of the emulated ISPyB server.

Tables are modelled on the ISPyB entities mxcubecore touches. Columns of the
tables behind a value object are the scalar elements of that object in
:mod:`.schema` (so whatever the client may send can be stored), plus the
foreign keys ISPyB keeps. Dates are stored as naive local ISO 8601 text
(``YYYY-MM-DDTHH:MM:SS``), as the JVM's default time zone would see them.

``Shipping``, ``Dewar``, ``Container`` and ``Crystal`` take their columns
from the value objects Gson fills in ``CrimsWebService.storeShipping``
(:func:`~mxcubecore_lims.testing.ispyb.json_types.value_object_fields`).
``Container`` also keeps the denormalised ``dewarCode`` and ``shippingName`` of
fixture-loaded containers (which have no Dewar or Shipping row).

A database file written by an older emulator gains the columns added since
when it is opened (``ALTER TABLE ... ADD COLUMN``).

Read API for tests::

    server.store.rows("DataCollection")                 # every row, as dicts
    server.store.rows("BLSession", proposalId=1)         # equality filter
    server.store.get("Image", 3)                         # one row by primary key
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from mxcubecore_lims.errors import LimsError
from mxcubecore_lims.testing.ispyb.json_types import value_object_fields
from mxcubecore_lims.testing.ispyb.schema import SERVICES

__all__ = ["TABLES", "IspybStoreError", "Store", "columns", "to_db_date"]


class IspybStoreError(LimsError):
    """The emulator's database was used wrongly (unknown table or column)."""


def _vo_columns(service: str, type_name: str, skip: Iterable[str] = ()) -> list[str]:
    return [p.name for p in SERVICES[service].all_elements(type_name) if p.is_simple and p.name not in set(skip)]


def _json_columns(type_name: str) -> list[str]:
    """The fields of a value object Gson fills from JSON (see :mod:`.json_types`)."""
    return [p.name for p in value_object_fields(type_name)]


_C = "ToolsForCollectionWebService"
_S = "ToolsForShippingWebService"
_B = "ToolsForBLSampleWebService"

#: table -> (primary key, columns). The primary key is the first column.
TABLES: dict[str, tuple[str, list[str]]] = {
    "Laboratory": ("laboratoryId", _vo_columns(_S, "laboratory3VO")),
    "Person": ("personId", [*_vo_columns(_S, "personWS3VO"), "password"]),
    "Proposal": ("proposalId", [*_vo_columns(_S, "proposalWS3VO"), "timeStamp"]),
    "ProposalHasPerson": ("proposalHasPersonId", ["proposalId", "personId"]),
    "BLSession": (
        "sessionId",
        _vo_columns(_C, "sessionWS3VO", skip=("proposalName",)),
    ),
    "Protein": ("proteinId", ["proposalId", "name", "acronym"]),
    "DiffractionPlan": ("diffractionPlanId", _vo_columns(_B, "diffractionPlan3VO")),
    "Crystal": ("crystalId", ["proteinId", "diffractionPlanId", *_json_columns("crystal3VO")]),
    "Shipping": ("shippingId", ["proposalId", *_json_columns("shipping3VO")]),
    "Dewar": ("dewarId", ["shippingId", *_json_columns("dewar3VO")]),
    "Container": (
        "containerId",
        [
            "code",
            "containerType",
            "capacity",
            "sampleChangerLocation",
            "beamlineLocation",
            "containerStatus",
            "comments",
            "dewarCode",
            "shippingName",
            "dewarId",
            *_json_columns("container3VO"),
        ],
    ),
    "BLSample": ("blSampleId", _vo_columns(_B, "blSampleWS3VO")),
    "DataCollectionGroup": ("dataCollectionGroupId", _vo_columns(_C, "dataCollectionGroupWS3VO")),
    "DataCollection": ("dataCollectionId", _vo_columns(_C, "dataCollectionWS3VO")),
    "Image": ("imageId", _vo_columns(_C, "imageWS3VO")),
    "RobotAction": ("robotActionId", _vo_columns(_C, "robotActionWS3VO")),
    "BeamLineSetup": ("beamLineSetupId", _vo_columns(_C, "beamLineSetup3VO")),
    "Detector": ("detectorId", _vo_columns(_C, "detector3VO")),
    "EnergyScan": ("energyScanId", _vo_columns(_C, "energyScanWS3VO")),
    "XFEFluorescenceSpectrum": (
        "xfeFluorescenceSpectrumId",
        _vo_columns(_C, "xfeFluorescenceSpectrumWS3VO"),
    ),
}


def columns(table: str) -> list[str]:
    """Every column of a table, primary key first, each once, in table order."""
    key, names = TABLES[table]
    return list(dict.fromkeys([key, *names]))


def to_db_date(value: Any) -> Any:
    """Datetimes become naive local ISO text; other values pass through."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone().replace(tzinfo=None)
        return value.replace(microsecond=0).isoformat()
    return value


class Store:
    """The emulator's SQLite database.

    Args:
        path: A database file (created when missing, reused when present:
            state survives restarts), or ``":memory:"``.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        for table in TABLES:
            key, _ = TABLES[table]
            cols = ", ".join(f'"{c}"' for c in columns(table)[1:])
            self._db.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" ("{key}" INTEGER PRIMARY KEY AUTOINCREMENT, {cols})'
            )
            present = {row["name"] for row in self._db.execute(f'PRAGMA table_info("{table}")')}
            for column in columns(table):
                if column not in present:  # a file from an older emulator
                    self._db.execute(f'ALTER TABLE "{table}" ADD COLUMN "{column}"')
        self._savepoints = 0

    def close(self) -> None:
        """Closes the connection."""
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Makes the writes of a block atomic: all committed, or none when it raises.

        ``BEGIN IMMEDIATE`` / ``COMMIT``, or ``ROLLBACK`` when the block raises
        (the exception propagates). Nested blocks use savepoints, so an inner
        failure that the outer block catches undoes only the inner writes.
        The server runs each handler without yielding to other greenlets, so
        no other request's statements interleave with a transaction.

        Yields:
            Nothing; use the store inside the block as usual.
        """
        if self._db.in_transaction:
            self._savepoints += 1
            name = f"sp{self._savepoints}"
            self._db.execute(f'SAVEPOINT "{name}"')
            try:
                yield
            except BaseException:
                self._db.execute(f'ROLLBACK TO "{name}"')
                self._db.execute(f'RELEASE "{name}"')
                raise
            else:
                self._db.execute(f'RELEASE "{name}"')
            finally:
                self._savepoints -= 1
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- checks ------------------------------------------------------------

    @staticmethod
    def _check(table: str, names: Iterable[str]) -> None:
        if table not in TABLES:
            raise IspybStoreError(f"unknown table {table!r}; known: {', '.join(TABLES)}")
        known = set(columns(table))
        bad = [c for c in names if c not in known]
        if bad:
            raise IspybStoreError(f"table {table}: unknown column(s) {', '.join(bad)}")

    # -- writes ------------------------------------------------------------

    def insert(self, table: str, values: dict[str, Any]) -> int:
        """Inserts a row and returns its primary key."""
        values = {k: to_db_date(v) for k, v in values.items()}
        self._check(table, values)
        names = ", ".join(f'"{c}"' for c in values)
        marks = ", ".join("?" for _ in values)
        if not values:
            cursor = self._db.execute(f'INSERT INTO "{table}" DEFAULT VALUES')
        else:
            cursor = self._db.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', list(values.values()))
        if cursor.lastrowid is None:  # sqlite3 sets it after every INSERT
            raise TypeError(f"no row id after an INSERT into {table}")
        return cursor.lastrowid

    def update(self, table: str, key: int, values: dict[str, Any]) -> None:
        """Sets columns of one row."""
        values = {k: to_db_date(v) for k, v in values.items() if k != TABLES[table][0]}
        self._check(table, values)
        if not values:
            return
        sets = ", ".join(f'"{c}" = ?' for c in values)
        self._db.execute(
            f'UPDATE "{table}" SET {sets} WHERE "{TABLES[table][0]}" = ?',
            [*values.values(), key],
        )

    def replace(self, table: str, key: int, values: dict[str, Any]) -> None:
        """Overwrites every column of a row (missing ones become NULL)."""
        self.update(table, key, {c: values.get(c) for c in columns(table)[1:]})

    # -- reads -------------------------------------------------------------

    def rows(self, table: str, **where: Any) -> list[dict[str, Any]]:
        """Rows of a table as dicts (all columns), in primary-key order."""
        self._check(table, where)
        clause = " AND ".join(f'"{c}" = ?' for c in where)
        sql = f'SELECT * FROM "{table}"' + (f" WHERE {clause}" if clause else "")
        sql += f' ORDER BY "{TABLES[table][0]}"'
        return [dict(r) for r in self._db.execute(sql, [to_db_date(v) for v in where.values()])]

    def get(self, table: str, key: Any) -> dict[str, Any] | None:
        """One row by primary key, or ``None``."""
        found = self.rows(table, **{TABLES[table][0]: key})
        return found[0] if found else None

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Runs a read-only SQL query and returns dicts."""
        return [dict(r) for r in self._db.execute(sql, list(params))]

    def is_empty(self) -> bool:
        """True when no proposal has been stored yet."""
        return not self._db.execute('SELECT 1 FROM "Proposal" LIMIT 1').fetchone()
