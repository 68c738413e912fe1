"""The outbox's SQLite journal: its schema, and the reads and writes of its records and counters.

The ``ids`` table is created here with the rest of the schema (one file, one
on-disk format); :mod:`mxcubecore_lims.outbox.ids` reads and writes it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mxcubecore_lims.outbox.encoding import dumps, loads
from mxcubecore_lims.outbox.errors import OutboxError
from mxcubecore_lims.outbox.records import DELIVERED, PENDING, Record

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        key TEXT NOT NULL UNIQUE,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created REAL NOT NULL,
        delivered_at REAL,
        provisional TEXT,
        result TEXT,
        progress TEXT)""",
    "CREATE INDEX IF NOT EXISTS records_status ON records (status, seq)",
    """CREATE TABLE IF NOT EXISTS ids (
        kind TEXT NOT NULL,
        provisional INTEGER NOT NULL,
        real TEXT,
        PRIMARY KEY (kind, provisional))""",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)


class Journal:
    """The SQLite file of one outbox (WAL mode).

    Writes are durable (committed before the method returns) except those made
    inside :meth:`deferred`: delivered marks, which wait in an open
    transaction for the next durable write or :meth:`commit`. A crash may lose
    those, never a journalled record: a record whose mark was lost is pending
    again, with its attempt counted, and its retry looks up what it stored
    (as after a request whose answer was lost).

    Args:
        path: The SQLite file (created when missing, reused when present).

    Attributes:
        path: The SQLite file.
        db: The connection (the id mapping shares it, and its transactions).

    Raises:
        OutboxError: The file cannot be opened or given the schema.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a process crash
            for statement in _SCHEMA:
                self.db.execute(statement)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(records)")}
            if "progress" not in columns:  # a journal from before checkpoints
                self.db.execute("ALTER TABLE records ADD COLUMN progress TEXT")
        except (sqlite3.Error, OSError) as error:
            raise OutboxError(f"cannot open the outbox journal {self.path}: {error}") from error
        # True while a write transaction holds deferred writes (see deferred()).
        self._open = False

    def close(self) -> None:
        """Commits what waits, then closes the connection."""
        try:
            self.commit()
        finally:
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One durable write: committed on exit, with any deferred writes before it.

        On an error everything uncommitted is undone, deferred writes included
        (their records are pending again; see the class).
        """
        with self.deferred():
            yield
        self.commit()

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Writes that may wait for the next commit; on an error, undone with the others waiting."""
        if not self._open:
            self.db.execute("BEGIN IMMEDIATE")
            self._open = True
        try:
            yield
        except BaseException:
            self.rollback()
            raise

    @property
    def has_deferred(self) -> bool:
        """True while deferred writes wait for a commit."""
        return self._open

    def commit(self) -> None:
        """Commits the deferred writes (nothing when none wait).

        Raises:
            OutboxError: The file refused the commit (the deferred writes are lost:
                their records are delivered again, looking first where they can).
        """
        if not self._open:
            return
        self._open = False
        try:
            self.db.execute("COMMIT")
        except sqlite3.Error as error:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            raise OutboxError(f"cannot commit to the outbox journal {self.path}: {error}") from error

    def rollback(self) -> None:
        """Undoes everything not committed (nothing when nothing waits)."""
        if self._open:
            self._open = False
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")

    # -- counters ------------------------------------------------------------------

    def counter(self, name: str) -> int:
        """Increments a named counter (created at 1) and returns its new value."""
        row = self.db.execute(
            "INSERT INTO counters (name, value) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            (name,),
        ).fetchone()
        return int(row[0])

    def counters(self) -> dict[str, int]:
        """Every named counter's value."""
        return dict(self.db.execute("SELECT name, value FROM counters").fetchall())

    # -- reading records -------------------------------------------------------------

    def count(self, status: str) -> int:
        """The number of records of one status."""
        return int(self.db.execute("SELECT COUNT(*) FROM records WHERE status = ?", (status,)).fetchone()[0])

    def waiting(self) -> dict[str, tuple[int, float | None]]:
        """Count and oldest ``created`` of the records of each status but delivered."""
        return {
            status: (count, oldest)
            for status, count, oldest in self.db.execute(
                "SELECT status, COUNT(*), MIN(created) FROM records WHERE status != ? GROUP BY status",
                (DELIVERED,),
            )
        }

    def latest_error(self) -> str | None:
        """The last error recorded against any record, or None."""
        row = self.db.execute(
            "SELECT last_error FROM records WHERE last_error IS NOT NULL ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return row[0] if row else None

    def head(self) -> int | None:
        """The seq of the first pending record, or None when nothing is pending."""
        row = self.db.execute("SELECT seq FROM records WHERE status = ? ORDER BY seq LIMIT 1", (PENDING,)).fetchone()
        return None if row is None else int(row[0])

    def status_of(self, seq: int) -> str | None:
        """The status of record ``seq``, or None when there is none (pruned)."""
        row = self.db.execute("SELECT status FROM records WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else str(row[0])

    def record(self, seq: int) -> Record:
        """Record ``seq`` as journalled."""
        row = self.db.execute(
            "SELECT seq, kind, key, payload, status, attempts, last_error, created, provisional, result, "
            "progress FROM records WHERE seq = ?",
            (seq,),
        ).fetchone()
        return Record(
            seq=row[0],
            kind=row[1],
            key=row[2],
            payload=loads(row[3]),
            status=row[4],
            attempts=row[5],
            last_error=row[6],
            created=row[7],
            provisional=json.loads(row[8]) if row[8] else None,
            result=loads(row[9]),
            progress=loads(row[10]) or {},
        )

    def records(self, status: str | None = None) -> list[Record]:
        """Journalled records (all, or of one status), in order."""
        if status is None:
            seqs = self.db.execute("SELECT seq FROM records ORDER BY seq").fetchall()
        else:
            seqs = self.db.execute("SELECT seq FROM records WHERE status = ? ORDER BY seq", (status,)).fetchall()
        return [self.record(s[0]) for s in seqs]

    # -- writing records -------------------------------------------------------------

    def append(self, kind: str, payload: Any, provisional: list[int | None], *, attempting: bool = False) -> Record:
        """Journals a new pending record (inside the caller's :meth:`transaction`).

        Args:
            kind: The record's kind.
            payload: What its delivery needs (JSON, datetimes kept).
            provisional: Its provisional ids.
            attempting: Its first attempt follows at once: counted now, in the
                same commit, rather than by :meth:`count_attempt`'s own.

        Returns:
            What a read-back would give (attempts made before the coming one:
            0), without reading back.
        """
        key, created, text = uuid.uuid4().hex, time.time(), dumps(payload)
        cursor = self.db.execute(
            "INSERT INTO records (kind, key, payload, status, attempts, created, provisional) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (kind, key, text, PENDING, int(attempting), created, json.dumps(provisional)),
        )
        if cursor.lastrowid is None:  # never after an INSERT; the type checker cannot know
            raise OutboxError(f"the outbox journal {self.path} did not number a new record")
        seq = int(cursor.lastrowid)
        return Record(seq, kind, key, loads(text), PENDING, 0, None, created, provisional, None, {})

    def count_attempt(self, seq: int) -> None:
        """Counts one more delivery attempt of record ``seq`` (durably: it precedes the request)."""
        with self.transaction():
            self.db.execute("UPDATE records SET attempts = attempts + 1 WHERE seq = ?", (seq,))

    def note_error(self, seq: int, text: str) -> None:
        """Keeps the latest error of record ``seq`` (which stays pending)."""
        self.db.execute("UPDATE records SET last_error = ? WHERE seq = ?", (text, seq))

    def save_progress(self, seq: int, data: dict[str, Any]) -> None:
        """Keeps the :class:`~mxcubecore_lims.outbox.records.Checkpoint` data of record ``seq`` (durably)."""
        with self.transaction():
            self.db.execute("UPDATE records SET progress = ? WHERE seq = ?", (dumps(data), seq))

    def finish(self, seq: int, status: str, *, error: str | None = None, result: Any = None) -> None:
        """Marks record ``seq`` delivered or failed, with its result or error."""
        self.db.execute(
            "UPDATE records SET status = ?, last_error = ?, delivered_at = ?, result = ? WHERE seq = ?",
            (status, error, time.time(), dumps(result), seq),
        )

    def prune(self, keep: int) -> None:
        """Drops delivered records beyond the ``keep`` latest."""
        self.db.execute(
            "DELETE FROM records WHERE status = ? AND seq NOT IN "
            "(SELECT seq FROM records WHERE status = ? ORDER BY seq DESC LIMIT ?)",
            (DELIVERED, DELIVERED, keep),
        )
