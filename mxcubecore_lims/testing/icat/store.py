"""State of the emulated ICAT server: entity rows and login sessions.

Rows live in memory (the query engine walks them) and are written through to
a SQLite file, so a restarted server finds its catalogue and its sessions
again, as a real ICAT does with its database. Every mutating call is atomic:
a ``createMany`` whose third bean fails leaves nothing of the first two.

Row shape: see :mod:`.schema`. Ids come from one sequence shared by all
entities, as EclipseLink's default table sequencing gives them in ICAT.

Read API for tests::

    server.store.find("Dataset", name="scan_1")        # equality filter on attributes/ids
    server.store.get("Dataset", 42)
    server.store.children("Dataset", 42, "parameters")
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mxcubecore_lims.testing.icat.faults import FaultType, IcatFault
from mxcubecore_lims.testing.icat.schema import (
    ENTITIES,
    META_ATTRIBUTES,
    PARAMETER_VALUE_TYPES,
    Attr,
    Entity,
    Many,
    One,
)

__all__ = ["IcatStore", "Login", "NewRow"]

Row = dict[str, Any]
_META_NAMES = frozenset(a.name for a in META_ATTRIBUTES)


@dataclass
class NewRow:
    """A row to create, with the MANY children to cascade-create with it.

    Attributes:
        entity: Entity name.
        values: Attributes and ONE relations (as ids) by field name.
        children: MANY relation name -> rows to create under this one (their
            back reference is filled in).
    """

    entity: str
    values: dict[str, Any]
    children: dict[str, list[NewRow]]


@dataclass(frozen=True)
class Login:
    """An open ICAT session."""

    session_id: str
    user: str
    expires: float  # time.time() seconds

    def remaining_minutes(self, now: float | None = None) -> float:
        """Minutes left before the session expires (0 once it has)."""
        return max(0.0, (self.expires - (time.time() if now is None else now)) / 60.0)


def _fault(kind: FaultType, message: str) -> IcatFault:
    return IcatFault(kind, message)


def _check_value(entity: Entity, attr: Attr, value: Any) -> Any:
    """Coerces a parsed value to the attribute's type or raises VALIDATION."""
    if value is None:
        return None
    kind = attr.type
    where = f"{entity.name}.{attr.name}"
    if kind == "String":
        value = str(value)
        if len(value) > attr.length:
            raise _fault(
                FaultType.VALIDATION,
                f"{where} is {len(value)} characters long; at most {attr.length} are allowed",
            )
        return value
    if kind == "ParameterValueType":
        if value not in PARAMETER_VALUE_TYPES:
            raise _fault(FaultType.BAD_PARAMETER, f"{where}: {value!r} is not a parameterValueType")
        return str(value)
    if kind == "Date":
        if not isinstance(value, datetime):
            raise _fault(FaultType.BAD_PARAMETER, f"{where}: {value!r} is not a date")
        return value if value.tzinfo else value.astimezone()
    if kind == "Boolean":
        return bool(value)
    if kind in ("Long", "Integer"):
        return int(value)
    if kind == "Double":
        return float(value)
    raise _fault(FaultType.INTERNAL, f"{where}: unknown type {kind}")


def _to_json(row: Row) -> str:
    return json.dumps({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()})


def _from_json(entity: Entity, text: str) -> Row:
    row: Row = json.loads(text)
    for name, value in row.items():
        item = entity.field(name)
        if isinstance(item, Attr) and item.type == "Date" and value is not None:
            row[name] = datetime.fromisoformat(value)
    return row


class IcatStore:
    """Entity rows and sessions of one emulated ICAT.

    Args:
        path: SQLite file (created when missing, reused when present) or
            ``":memory:"``.
        session_minutes: Lifetime of a login session and of each refresh.
    """

    def __init__(self, path: str | Path = ":memory:", session_minutes: float = 120.0) -> None:
        self.path = str(path)
        self.session_minutes = session_minutes
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, entity TEXT, data TEXT)")
        self._db.execute("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user TEXT, expires REAL)")
        self._rows: dict[str, dict[int, Row]] = {name: {} for name in ENTITIES}
        # (entity, ONE field) -> related id -> {child id: child row}
        self._refs: dict[tuple[str, str], dict[int, dict[int, Row]]] = {
            (e.name, one.name): {} for e in ENTITIES.values() for one in e.ones
        }
        # entity -> unique key tuple -> id
        self._unique: dict[str, dict[tuple[Any, ...], int]] = {name: {} for name in ENTITIES}
        self._next_id = 1
        self._undo: list[Callable[[], None]] | None = None
        self._dirty: dict[int, tuple[str, Row | None]] = {}
        self._load()

    def close(self) -> None:
        """Closes the database file."""
        self._db.close()

    # -- loading -------------------------------------------------------------

    def _load(self) -> None:
        for row_id, name, data in self._db.execute("SELECT id, entity, data FROM rows ORDER BY id"):
            entity = ENTITIES.get(name)
            if entity is None:
                continue  # a table this version no longer serves
            self._index(entity, _from_json(entity, data))
            self._next_id = max(self._next_id, row_id + 1)

    def is_empty(self) -> bool:
        """True when the catalogue has no facility yet (a fixture may be loaded)."""
        return not self._rows["Facility"]

    # -- reads (the query engine's Graph protocol) -----------------------------

    def rows(self, entity: str) -> Iterable[Row]:
        """Every row of ``entity``, in id order."""
        return self._rows[entity].values()

    def get(self, entity: str, row_id: int) -> Row | None:
        """One row by id, or ``None``."""
        return self._rows[entity].get(row_id)

    def children(self, entity: str, row_id: int, many: str) -> list[Row]:
        """The rows of MANY relation ``many`` of row ``row_id``."""
        relation = ENTITIES[entity].field(many)
        if not isinstance(relation, Many):
            raise KeyError(f"{entity}.{many} is not a MANY relation")
        return list(self._refs[(relation.target, relation.back)].get(row_id, {}).values())

    def find(self, entity: str, **equal: Any) -> list[Row]:
        """Rows whose fields equal the given values (tests and fixtures)."""
        return [r for r in self._rows[entity].values() if all(r.get(k) == v for k, v in equal.items())]

    def count(self, entity: str) -> int:
        """Number of rows of ``entity``."""
        return len(self._rows[entity])

    # -- indexes ---------------------------------------------------------------

    @staticmethod
    def _unique_key(entity: Entity, row: Row) -> tuple[Any, ...] | None:
        if not entity.unique:
            return None
        key = tuple(row.get(name) for name in entity.unique)
        return None if any(v is None for v in key) else key  # NULLs never collide

    def _index(self, entity: Entity, row: Row) -> None:
        self._rows[entity.name][row["id"]] = row
        for one in entity.ones:
            target = row.get(one.name)
            if target is not None:
                self._refs[(entity.name, one.name)].setdefault(target, {})[row["id"]] = row
        key = self._unique_key(entity, row)
        if key is not None:
            self._unique[entity.name][key] = row["id"]

    def _unindex(self, entity: Entity, row: Row) -> None:
        del self._rows[entity.name][row["id"]]
        for one in entity.ones:
            target = row.get(one.name)
            if target is not None:
                siblings = self._refs[(entity.name, one.name)].get(target, {})
                siblings.pop(row["id"], None)
        key = self._unique_key(entity, row)
        if key is not None and self._unique[entity.name].get(key) == row["id"]:
            del self._unique[entity.name][key]

    # -- transactions ------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All changes inside succeed together or are undone together."""
        if self._undo is not None:  # nested: the outer one decides
            yield
            return
        self._undo, self._dirty = [], {}
        try:
            yield
        except BaseException:
            for undo in reversed(self._undo):
                undo()
            raise
        else:
            self._persist(self._dirty)
        finally:
            self._undo, self._dirty = None, {}

    def _persist(self, dirty: Mapping[int, tuple[str, Row | None]]) -> None:
        if not dirty:
            return
        with self._db:
            self._db.execute("BEGIN")
            for row_id, (name, row) in dirty.items():
                if row is None:
                    self._db.execute("DELETE FROM rows WHERE id = ?", (row_id,))
                else:
                    self._db.execute(
                        "INSERT OR REPLACE INTO rows (id, entity, data) VALUES (?, ?, ?)",
                        (row_id, name, _to_json(row)),
                    )

    def _record(self, undo: Callable[[], None], name: str, row_id: int, row: Row | None) -> None:
        assert self._undo is not None, "mutations happen inside transaction()"
        self._undo.append(undo)
        self._dirty[row_id] = (name, row)

    # -- validation ----------------------------------------------------------------

    def _checked_values(self, entity: Entity, values: Mapping[str, Any]) -> Row:
        """Typed attribute and ONE values; unknown names are refused."""
        out: Row = {}
        for name, value in values.items():
            item = entity.field(name)
            if item is None or isinstance(item, Many):
                raise _fault(FaultType.BAD_PARAMETER, f"{entity.name} has no field {name!r}")
            if name in _META_NAMES:
                continue  # the server owns the meta attributes
            if isinstance(item, One):
                if value is not None:
                    if self._rows[item.target].get(int(value)) is None:
                        raise _fault(
                            FaultType.NO_SUCH_OBJECT_FOUND,
                            f"{item.target}[id:{value}] (the {entity.name}.{name} given) does not exist",
                        )
                    value = int(value)
                out[name] = value
            else:
                out[name] = _check_value(entity, item, value)
        return out

    def _check_row(self, entity: Entity, row: Row, own_id: int | None) -> None:
        checked: tuple[Attr | One, ...] = (*entity.attrs, *entity.ones)
        for item in checked:
            if item.not_null and row.get(item.name) is None:
                raise _fault(FaultType.VALIDATION, f"{entity.name}: {item.name} cannot be null")
        key = self._unique_key(entity, row)
        if key is not None:
            other = self._unique[entity.name].get(key)
            if other is not None and other != own_id:
                shown = ", ".join(f"{n}={v!r}" for n, v in zip(entity.unique, key, strict=True))
                raise _fault(
                    FaultType.OBJECT_ALREADY_EXISTS,
                    f"{entity.name} exists with {shown}",
                )

    # -- writes ----------------------------------------------------------------------

    def create(self, new: NewRow, user: str, back: tuple[str, int] | None = None) -> int:
        """Creates a row and its MANY children (cascade) and returns its id.

        Args:
            new: The row to create.
            user: The ICAT user name recorded as creator.
            back: ``(field, id)`` of the parent when cascade-creating.

        Raises:
            IcatFault: VALIDATION, OBJECT_ALREADY_EXISTS, NO_SUCH_OBJECT_FOUND
                or BAD_PARAMETER; nothing is kept then.
        """
        entity = ENTITIES.get(new.entity)
        if entity is None:
            raise _fault(FaultType.BAD_PARAMETER, f"{new.entity} is not an entity")
        with self.transaction():
            values = self._checked_values(entity, new.values)
            if back is not None:
                values[back[0]] = back[1]
            now = datetime.now(UTC).astimezone()
            row: Row = {a.name: None for a in entity.attrs}
            row.update({o.name: None for o in entity.ones})
            row.update(values)
            row.update(id=self._next_id, createId=user, createTime=now, modId=user, modTime=now)
            self._check_row(entity, row, None)
            self._next_id += 1
            self._index(entity, row)
            self._record(lambda: self._unindex(entity, row), entity.name, row["id"], row)
            for many_name, kids in new.children.items():
                many = entity.field(many_name)
                if not isinstance(many, Many):
                    raise _fault(FaultType.BAD_PARAMETER, f"{entity.name}.{many_name} is not a MANY relation")
                for kid in kids:
                    if kid.entity != many.target:
                        raise _fault(
                            FaultType.BAD_PARAMETER,
                            f"{entity.name}.{many_name} holds {many.target}, not {kid.entity}",
                        )
                    self.create(kid, user, back=(many.back, row["id"]))
            return int(row["id"])

    def create_many(self, rows: list[NewRow], user: str) -> list[int]:
        """Creates several rows atomically; a fault names the failing index."""
        with self.transaction():
            ids = []
            for offset, new in enumerate(rows):
                try:
                    ids.append(self.create(new, user))
                except IcatFault as fault:
                    fault.offset = offset
                    raise
            return ids

    def update(self, entity_name: str, row_id: int, values: Mapping[str, Any], user: str) -> None:
        """Replaces the attributes and ONE relations of a row (MANY ones stay).

        Fields absent from ``values`` become null, as ICAT's update does with
        the elements a client leaves out.
        """
        entity = ENTITIES[entity_name]
        old = self._rows[entity_name].get(row_id)
        if old is None:
            raise _fault(FaultType.NO_SUCH_OBJECT_FOUND, f"{entity_name}[id:{row_id}] does not exist")
        with self.transaction():
            checked = self._checked_values(entity, values)
            new: Row = {a.name: None for a in entity.attrs}
            new.update({o.name: None for o in entity.ones})
            new.update(checked)
            new.update(
                {m: old[m] for m in ("id", "createId", "createTime")},
                modId=user,
                modTime=datetime.now(UTC).astimezone(),
            )
            self._check_row(entity, new, row_id)
            saved = dict(old)
            self._unindex(entity, old)
            old.clear()
            old.update(new)  # keep the same dict: indexes of other rows hold it
            self._index(entity, old)

            def undo() -> None:
                self._unindex(entity, old)
                old.clear()
                old.update(saved)
                self._index(entity, old)

            self._record(undo, entity_name, row_id, old)

    def delete(self, entity_name: str, row_id: int, user: str = "") -> None:
        """Deletes a row; children holding a not-null reference go with it.

        Rows that refer to it through a nullable relation (a Dataset's
        ``sample``) keep existing with that relation cleared.
        """
        entity = ENTITIES[entity_name]
        row = self._rows[entity_name].get(row_id)
        if row is None:
            raise _fault(FaultType.NO_SUCH_OBJECT_FOUND, f"{entity_name}[id:{row_id}] does not exist")
        with self.transaction():
            for many in entity.manys:
                child_entity = ENTITIES[many.target]
                back = child_entity.field(many.back)
                assert isinstance(back, One)
                for child in self.children(entity_name, row_id, many.name):
                    if back.not_null:
                        self.delete(many.target, child["id"], user)
                    else:
                        values = {k: v for k, v in child.items() if k != many.back}
                        self.update(many.target, child["id"], values, user or str(child.get("modId")))
            self._unindex(entity, row)
            self._record(lambda: self._index(entity, row), entity_name, row_id, None)

    # -- sessions ------------------------------------------------------------------------

    def open_session(self, user: str) -> Login:
        """Starts a login session for ``user`` (``plugin/name``)."""
        login = Login(str(uuid.uuid4()), user, time.time() + 60.0 * self.session_minutes)
        with self._db:
            self._db.execute(
                "INSERT INTO sessions (id, user, expires) VALUES (?, ?, ?)",
                (login.session_id, login.user, login.expires),
            )
        return login

    def session(self, session_id: str | None) -> Login:
        """The live session ``session_id``.

        Raises:
            IcatFault: SESSION when it is unknown or expired.
        """
        found = self._db.execute("SELECT id, user, expires FROM sessions WHERE id = ?", (session_id or "",)).fetchone()
        if found is None:
            raise _fault(FaultType.SESSION, f"Unable to find user by sessionid: {session_id}")
        login = Login(*found)
        if login.expires <= time.time():
            self.close_session(login.session_id)
            raise _fault(FaultType.SESSION, f"Session id:{session_id} has expired")
        return login

    def refresh_session(self, session_id: str) -> Login:
        """Extends a live session by the full lifetime."""
        login = self.session(session_id)
        expires = time.time() + 60.0 * self.session_minutes
        with self._db:
            self._db.execute("UPDATE sessions SET expires = ? WHERE id = ?", (expires, login.session_id))
        return Login(login.session_id, login.user, expires)

    def expire_session(self, session_id: str) -> None:
        """Makes a session expire now (tests of the expiry path)."""
        with self._db:
            self._db.execute("UPDATE sessions SET expires = 0 WHERE id = ?", (session_id,))

    def close_session(self, session_id: str) -> None:
        """Ends a session (logout)."""
        with self._db:
            self._db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def sessions_of(self, user: str) -> list[Login]:
        """Open sessions of a user (tests)."""
        return [
            Login(*found)
            for found in self._db.execute("SELECT id, user, expires FROM sessions WHERE user = ?", (user,))
        ]
