"""Proposal names as users type them, and their codes in LDAP, ISPyB and the GUI.

Sites keep a translation table in the session object's ``proposals``
property: one entry per proposal code as typed at login (``code``), with the
code the LDAP directory uses (``ldap``), the one ISPyB uses (``ispyb``) and
the one shown to users (``gui``)::

    <proposals>
      <proposal><code>ifx</code><ldap>fx</ldap><ispyb>FX</ispyb><gui>IFX</gui></proposal>
    </proposals>

Each translation starts from the typed code. (mxcubecore translates the
already LDAP-translated code again with the ISPyB table, which is only right
when the two agree.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mxcubecore_lims.errors import LimsAuthenticationError, LimsConfigError

System = Literal["ldap", "ispyb", "gui"]

# Letters (and - or _ inside a code such as IH-LS), then the number; the
# number keeps its leading zeros.
_PROPOSAL_NAME = re.compile(r"^(?P<code>[A-Za-z](?:[A-Za-z_-]*[A-Za-z])?)-?(?P<number>\d+)$")


@dataclass(frozen=True)
class ProposalName:
    """A proposal name split into code and number.

    Attributes:
        code: The code as typed (``mx``).
        number: The number as text, leading zeros kept (``0415``).
    """

    code: str
    number: str

    def __str__(self) -> str:
        return f"{self.code}{self.number}"


def split_proposal_name(name: str) -> ProposalName:
    """Splits ``mx415`` (or ``ih-ls2345``, ``mx-415``) into code and number.

    Raises:
        LimsAuthenticationError: Not a proposal name (the login is refused).
    """
    match = _PROPOSAL_NAME.fullmatch(name.strip()) if isinstance(name, str) else None
    if match is None:
        raise LimsAuthenticationError("not a proposal name: letters followed by a number are expected")
    return ProposalName(match.group("code"), match.group("number"))


@dataclass(frozen=True)
class ProposalCodeEntry:
    """One row of the translation table."""

    code: str
    ldap: str
    ispyb: str
    gui: str


class ProposalCodes:
    """The translation table; codes without an entry translate to themselves.

    Args:
        entries: The table's rows.
    """

    def __init__(self, entries: Iterable[ProposalCodeEntry] = ()) -> None:
        self._by_code = {entry.code.lower(): entry for entry in entries}

    @classmethod
    def from_session_config(cls, proposals: Any, source: str = "session") -> ProposalCodes:
        """Reads the session object's ``proposals`` property.

        Accepts the shape mxcubecore gives an XML ``<proposals>`` block
        (``{"proposal": [{...}, ...]}``) and a plain YAML list of entries.

        Raises:
            LimsConfigError: An entry lacks ``code`` (the other columns default to it).
        """
        if not proposals:
            return cls()
        rows = proposals.get("proposal", []) if isinstance(proposals, Mapping) else proposals
        if isinstance(rows, Mapping):
            rows = [rows]
        entries = []
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping) or not str(row.get("code") or "").strip():
                raise LimsConfigError(f"{source}: proposals entry {index} has no 'code'")
            code = str(row["code"]).strip()
            entries.append(
                ProposalCodeEntry(
                    code=code,
                    ldap=str(row.get("ldap") or code).strip(),
                    ispyb=str(row.get("ispyb") or code).strip(),
                    gui=str(row.get("gui") or code).strip(),
                )
            )
        return cls(entries)

    def translate(self, typed_code: str, system: System) -> str:
        """The code ``system`` uses for the code a user typed (case-insensitive look-up)."""
        entry = self._by_code.get(typed_code.lower())
        return getattr(entry, system) if entry else typed_code

    def typed_code(self, code: str, system: System) -> str:
        """The typed code for a code as ``system`` spells it (the reverse look-up)."""
        for entry in self._by_code.values():
            if getattr(entry, system).lower() == code.lower():
                return entry.code
        return code
