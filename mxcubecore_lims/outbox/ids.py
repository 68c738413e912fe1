"""Provisional ids: handing them out, and mapping them to the ids the LIMS returned.

Provisional ids are large negative integers (below -10⁹), unique per journal,
kept in their record; the journal's ``ids`` table maps each to the LIMS id it
stands for once its record is delivered (no row until then).
"""

from __future__ import annotations

import json
from typing import Any

from mxcubecore_lims.outbox.journal import Journal
from mxcubecore_lims.outbox.records import Delivery, Record

#: Provisional ids start below this: far from -1 and 0, which producers use
#: to say "none" or "failed" (an energy scan id of -1, for instance).
PROVISIONAL_BASE = -1_000_000_000


class IdMap:
    """The provisional ids of one journal and the LIMS ids they stand for.

    Args:
        journal: The journal whose ``ids`` table and ``provisional`` counter hold them.
    """

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def allocate(self, delivery: Delivery) -> list[int | None]:
        """New provisional ids for a record's result (kept in the record; mapped once delivered).

        Called inside the transaction that journals the record.

        Returns:
            One per element of the result: a provisional id where an id kind
            is expected, None elsewhere.
        """
        return [
            None if k is None else PROVISIONAL_BASE - self._journal.counter("provisional")
            for k in delivery.result_kinds()
        ]

    def resolve(self, record: Record, delivery: Delivery) -> Any:
        """The payload with provisional ids replaced by real ones.

        Raises:
            LookupError: A referenced record was not (or not yet) delivered.
        """
        payload = record.payload
        for path, id_kind in (delivery.refs or {}).items():
            *parents, leaf = path.split(".")
            holder = payload
            for part in parents:
                holder = holder.get(part) if isinstance(holder, dict) else None
            if not isinstance(holder, dict):
                continue
            value = holder.get(leaf)
            if isinstance(value, int) and not isinstance(value, bool) and value <= PROVISIONAL_BASE:
                row = self._journal.db.execute(
                    "SELECT real FROM ids WHERE kind = ? AND provisional = ?", (id_kind, value)
                ).fetchone()
                if row is None or row[0] is None:
                    raise LookupError(f"{id_kind} {value} has no LIMS id (its record was not delivered)")
                holder[leaf] = json.loads(row[0])
        return payload

    def map_result(self, record: Record, delivery: Delivery, result: Any) -> None:
        """Keeps the LIMS ids of a delivered record's result against its provisional ids.

        Called inside the transaction that marks the record delivered.
        """
        values = list(result) if isinstance(result, (list, tuple)) else [result]
        # Lengths may differ (no provisional ids, or a result shorter than its
        # kinds): what has no partner is not mapped.
        for id_kind, provisional, real in zip(delivery.result_kinds(), record.provisional or [], values, strict=False):
            if id_kind is not None and provisional is not None:
                self._journal.db.execute(
                    "INSERT OR REPLACE INTO ids (kind, provisional, real) VALUES (?, ?, ?)",
                    (id_kind, provisional, json.dumps(real)),
                )

    def real_id(self, kind: str, provisional: int) -> Any:
        """The LIMS id a provisional id stands for, or None while undelivered."""
        row = self._journal.db.execute(
            "SELECT real FROM ids WHERE kind = ? AND provisional = ?", (kind, provisional)
        ).fetchone()
        return None if row is None or row[0] is None else json.loads(row[0])

    @staticmethod
    def shape(delivery: Delivery, values: list[int | None]) -> Any:
        """Provisional ids in the shape the delivery's result has (None, one id, or a tuple)."""
        if delivery.returns is None:
            return None
        if isinstance(delivery.returns, str):
            return values[0]
        return tuple(values)
