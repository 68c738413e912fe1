"""ISPyB LIMS object for sites where people log in with a proposal name.

Login: the proposal name (``mx415``) is split into code and number, the code
translated with the session object's ``proposals`` table (once from the
typed code for LDAP, once for ISPyB), the password checked, and the
proposal's current sessions on this beamline offered. A local-host login
of a proposal with no session today gets a new one. Each login gets its own
user name (``mx415-<uuid>``), so one proposal may be logged in many times;
while a proposal is logged in, no other proposal can log in ("only one
proposal can be active on a beamline at the same time"): its users sign out
first (mxcubeweb's sign-out, or ``remove_user``).

XML::

    <object class="mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims">
      <object href="/session" role="session"/>
      <object href="/ldapconnection" role="ldapServer"/>
      <ws_root>https://ispyb.example.org/ispyb/ispyb-ws/ispybWS/</ws_root>
      <ws_username>mxcube</ws_username>
      <ws_password>${env:ISPYB_PASSWORD}</ws_password>
    </object>
"""

from __future__ import annotations

import uuid
from typing import Any

from mxcubecore_lims.errors import LimsAuthorizationError, LimsNoSessionError
from mxcubecore_lims.HardwareObjects.ISPyBAbstractLims import ISPyBAbstractLims
from mxcubecore_lims.ispyb.proposal_codes import ProposalCodes, split_proposal_name
from mxcubecore_lims.model import LimsSessionManager, Session

__all__ = ["ProposalTypeISPyBLims"]


class ProposalTypeISPyBLims(ISPyBAbstractLims):
    """Proposal-based login against ISPyB."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._proposals: dict[tuple[str, str], dict[str, Any]] = {}

    def is_user_login_type(self) -> bool:
        """Always False: people log in with a proposal name."""
        return False

    def login(self, login_id: str, password: str, is_local_host: bool = False) -> LimsSessionManager:
        """Authenticates a proposal and offers its sessions on this beamline now.

        Args:
            login_id: The proposal name as typed (``mx415``).
            password: The proposal's password.
            is_local_host: The client is on a local host; then a proposal with
                no session today gets one.

        Raises:
            LimsAuthenticationError: Not a proposal name, or wrong credentials.
            LimsAuthorizationError: Another proposal is logged in.
            LimsNoSessionError: No such proposal, or no session here now (remote login).
            LimsUnavailableError: ISPyB or the authentication server is down.
        """
        name = split_proposal_name(login_id)
        codes = self.proposal_codes() if self.config.loginTranslate else ProposalCodes()
        if self.config.authServerType == "ldap":
            auth_login = f"{codes.translate(name.code, 'ldap')}{name.number}"
        else:
            # ISPyB keeps proposal accounts as lower-case code and number.
            auth_login = f"{codes.translate(name.code, 'ispyb')}{name.number}".lower()
        self.authenticate(auth_login, password)
        ispyb_code = codes.translate(name.code, "ispyb")
        # Checked after the password, so that only the proposal's own people learn
        # that the beamline is taken.
        active = self._logged_in_proposal()
        if active is not None and active != (ispyb_code.lower(), str(name.number)):
            raise LimsAuthorizationError(
                f"proposal {active[0].upper()}{active[1]} is logged in on {self.beamline_name}: "
                f"only its users can log in until it signs out"
            )
        proposal = self._proposal(ispyb_code, name.number)
        sessions = self._sessions(ispyb_code, name.number, proposal)
        if not sessions and is_local_host:
            self.create_session(proposal)
            sessions = self._sessions(ispyb_code, name.number, proposal)
        if not sessions:
            raise LimsNoSessionError(
                f"proposal {login_id} has no session on {self.beamline_name} now"
                + ("" if is_local_host else " (sessions are created only for logins on a local host)")
            )
        user_name = f"{login_id}-{uuid.uuid4()}"
        self._full_names[user_name] = login_id
        self.add_user(user_name, sessions)
        self._last_user = user_name
        return self.session_manager

    def _logged_in_proposal(self) -> tuple[str, str] | None:
        """``(code, number)`` (code in lower case) of the proposal logged in, or None."""
        for user in self.session_manager.users.values():
            for session in user.sessions or []:
                return (str(session.code).lower(), str(session.number))
        return None

    def _proposal(self, code: str, number: str) -> dict[str, Any]:
        """The proposal record (title, id), asked once per proposal and kept.

        Raises:
            LimsNoSessionError: ISPyB has no such proposal.
        """
        key = (code.lower(), number)
        if key not in self._proposals:
            found = self._ispyb.find_proposal(code, number)
            if not found:
                raise LimsNoSessionError(f"ISPyB has no proposal {code}{number}")
            self._proposals[key] = found
        return self._proposals[key]

    def set_active_session_by_id(self, session_id: str) -> Session:
        """Activates a session given by id, or by proposal name as mxcubeweb passes it.

        For a proposal name, the proposal's session scheduled here now is
        chosen (the first, if several are).

        Raises:
            LimsNoSessionError: No selectable session matches.
        """
        wanted = str(session_id)
        if any(s.session_id == wanted for s in self.session_manager.sessions or []):
            return super().set_active_session_by_id(wanted)
        matching = [
            s
            for s in self.session_manager.sessions or []
            if wanted.lower() in (s.proposal_name.lower(), f"{s.code}{s.number}".lower())
        ]
        current = [s for s in matching if s.is_scheduled_beamline and s.is_scheduled_time] or matching
        if not current:
            raise LimsNoSessionError(f"no selectable session for '{wanted}'")
        return super().set_active_session_by_id(current[0].session_id)
