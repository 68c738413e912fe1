"""ISPyB LIMS object for sites where people log in with their own account.

Login: the password is checked by the ``ldapServer`` role object (or by
ISPyB), then ISPyB names the person's proposal on this beamline and its
current sessions. Several people of one proposal share its sessions; the
first is in control, the others observe (mxcubeweb decides that; the LIMS
object keeps every user's sessions and offers the shared ones).

XML::

    <object class="mxcubecore_lims.HardwareObjects.UserTypeISPyBLims">
      <object href="/session" role="session"/>
      <object href="/ldapconnection" role="ldapServer"/>
      <ws_root>https://ispyb.example.org/ispyb/ispyb-ws/ispybWS/</ws_root>
      <ws_username>mxcube</ws_username>
      <ws_password>${env:ISPYB_PASSWORD}</ws_password>
      <authServerType>ldap</authServerType>
    </object>
"""

from __future__ import annotations

from mxcubecore_lims.errors import LimsAuthenticationError, LimsNoSessionError
from mxcubecore_lims.HardwareObjects.ISPyBAbstractLims import ISPyBAbstractLims
from mxcubecore_lims.model import LimsSessionManager

__all__ = ["UserTypeISPyBLims"]


class UserTypeISPyBLims(ISPyBAbstractLims):
    """User-based login against ISPyB."""

    def is_user_login_type(self) -> bool:
        """Always True: people log in with their own account."""
        return True

    def login(self, login_id: str, password: str, is_local_host: bool = False) -> LimsSessionManager:
        """Authenticates a person and offers their proposal's sessions on this beamline now.

        Args:
            login_id: The person's login (never translated: it is not a proposal).
            password: Their password.
            is_local_host: Unused: sessions are never created for people.

        Raises:
            LimsAuthenticationError: Wrong credentials.
            LimsNoSessionError: No proposal, or no current session, on this beamline.
            LimsUnavailableError: ISPyB or the authentication server is down.
        """
        if not isinstance(login_id, str) or not login_id.strip():
            raise LimsAuthenticationError("a user name is required")
        full_name = self.authenticate(login_id, password)
        proposal = self._ispyb.find_proposal_by_login_and_beamline(login_id, self.beamline_name)
        if not proposal:
            raise LimsNoSessionError(f"'{login_id}' has no proposal on {self.beamline_name}")
        code, number = str(proposal.get("code", "")), str(proposal.get("number", ""))
        sessions = self._sessions(code, number, proposal)
        if not sessions:
            raise LimsNoSessionError(f"proposal {code}{number} has no session on {self.beamline_name} now")
        self._full_names[login_id] = full_name or self._person_name(login_id) or login_id
        self.add_user(login_id, sessions)
        self._last_user = login_id
        return self.session_manager

    def _person_name(self, login_id: str) -> str | None:
        person = self._ispyb.find_person_by_login(login_id) or {}
        name = " ".join(part for part in (person.get("givenName"), person.get("familyName")) if part)
        return name or None
