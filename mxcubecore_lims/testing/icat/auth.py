"""Simplified ICAT authorization for the emulated server.

Real ICAT evaluates ``Rule`` rows (queries with CRUD flags). The emulator
hard-codes the rules a facility typically grants for MX, which is what the
LIMS objects meet in production:

* root users (``rootUserNames``) read and write everything;
* reference tables (facility, instruments, types, parameter types, users,
  instrument scientists, groups) are readable by every logged-in user;
* an investigation, and everything in it (its users, instruments,
  parameters, samples, datasets, datafiles and their parameters), is readable
  by its investigation users and by the instrument scientists of any of its
  instruments;
* datasets, datafiles and their parameters may be created, updated and
  deleted inside a readable investigation;
* instrument scientists may also add instruments and parameters to the
  investigations they can read, and link any investigation to their own
  instrument (the record of a session taken over after a breakdown);
* everything else is INSUFFICIENT_PRIVILEGES.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mxcubecore_lims.testing.icat.store import IcatStore

__all__ = ["REFERENCE_ENTITIES", "Access"]

Row = dict[str, Any]

#: Readable by every logged-in user.
REFERENCE_ENTITIES = frozenset(
    {
        "DatafileFormat",
        "DatasetType",
        "Facility",
        "Grouping",
        "Instrument",
        "InstrumentScientist",
        "InvestigationType",
        "ParameterType",
        "SampleType",
        "User",
        "UserGroup",
    }
)

#: Entity -> the chain of ONE relations leading to its investigation.
_PATH_TO_INVESTIGATION: dict[str, tuple[tuple[str, str], ...]] = {
    "Investigation": (),
    "InvestigationUser": (("investigation", "Investigation"),),
    "InvestigationInstrument": (("investigation", "Investigation"),),
    "InvestigationParameter": (("investigation", "Investigation"),),
    "Sample": (("investigation", "Investigation"),),
    "SampleParameter": (("sample", "Sample"), ("investigation", "Investigation")),
    "Dataset": (("investigation", "Investigation"),),
    "DatasetParameter": (("dataset", "Dataset"), ("investigation", "Investigation")),
    "Datafile": (("dataset", "Dataset"), ("investigation", "Investigation")),
}

#: Writable by users who can read the investigation.
_USER_WRITABLE = frozenset({"Dataset", "DatasetParameter", "Datafile"})
#: Creatable (not updated or deleted) by them too: the rule a facility adds so
#: that users register their shipment's samples (an MXLIMS import).
_USER_CREATABLE = frozenset({"Sample", "SampleParameter"})
#: Writable in addition by instrument scientists of the investigation.
_STAFF_WRITABLE = _USER_WRITABLE | {"InvestigationInstrument", "InvestigationParameter"}


class Access:
    """What one user may read and write, computed once per request.

    Args:
        store: The catalogue.
        user: The ICAT user name (``plugin/name``).
        root_users: Names with every right.
    """

    def __init__(self, store: IcatStore, user: str, root_users: Iterable[str]) -> None:
        self.store = store
        self.user = user
        self.is_root = user in set(root_users)
        self._member: set[int] | None = None
        self._staff: set[int] | None = None
        self._instruments: set[int] | None = None

    def _compute(self) -> None:
        member: set[int] = set()
        staff: set[int] = set()
        instruments: set[int] = set()
        for user in self.store.find("User", name=self.user):
            for link in self.store.children("User", user["id"], "investigationUsers"):
                member.add(link["investigation"])
            for role in self.store.children("User", user["id"], "instrumentScientists"):
                instruments.add(role["instrument"])
                for link in self.store.children("Instrument", role["instrument"], "investigationInstruments"):
                    staff.add(link["investigation"])
        self._member, self._staff, self._instruments = member, staff, instruments

    @property
    def instruments(self) -> set[int]:
        """Instruments the user is an instrument scientist of."""
        if self._instruments is None:
            self._compute()
        assert self._instruments is not None
        return self._instruments

    @property
    def member_of(self) -> set[int]:
        """Investigations the user takes part in."""
        if self._member is None:
            self._compute()
        assert self._member is not None
        return self._member

    @property
    def staff_of(self) -> set[int]:
        """Investigations on an instrument the user is a scientist of."""
        if self._staff is None:
            self._compute()
        assert self._staff is not None
        return self._staff

    def investigation_of(self, entity: str, row: Row) -> int | None:
        """The investigation a row belongs to, or ``None`` (reference rows)."""
        path = _PATH_TO_INVESTIGATION.get(entity)
        if path is None:
            return None
        current: Row | None = row
        for field, target in path:
            if current is None:
                return None
            related = current.get(field)
            current = None if related is None else self.store.get(target, related)
        return None if current is None else current["id"]

    def can_read(self, entity: str, row: Row) -> bool:
        """Whether the user may see ``row``."""
        if self.is_root or entity in REFERENCE_ENTITIES:
            return True
        investigation = self.investigation_of(entity, row)
        return investigation is not None and (investigation in self.member_of or investigation in self.staff_of)

    def can_write(self, entity: str, row: Row, creating: bool = False) -> bool:
        """Whether the user may create (``creating``), update or delete ``row`` (its new values)."""
        if self.is_root:
            return True
        if creating and entity in _USER_CREATABLE:
            investigation = self.investigation_of(entity, row)
            return investigation is not None and (investigation in self.member_of or investigation in self.staff_of)
        if entity == "InvestigationInstrument" and row.get("instrument") in self.instruments:
            return True  # taking an investigation over onto one's own beamline
        if entity not in _STAFF_WRITABLE:
            return False
        investigation = self.investigation_of(entity, row)
        if investigation is None:
            return False
        if investigation in self.staff_of:
            return True
        return entity in _USER_WRITABLE and investigation in self.member_of
