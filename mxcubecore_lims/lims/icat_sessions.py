"""ICAT login and sessions: who logged in to ICAT, and the investigations offered to them.

People log in with their own account (ICAT authentication plugin). Their
sessions are the investigations on this beamline's ``compatible_beamlines``
within ``before_offset_days``/``after_offset_days`` of today; instrument
scientists of those beamlines see every one of them. ``login`` returns the
session manager, so the object works directly under mxcubeweb.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from mxcubecore_lims.errors import IcatUnavailableError, LimsAuthenticationError, LimsConfigError, LimsNoSessionError
from mxcubecore_lims.icat.gateway import IcatGateway, jpql_string, jpql_timestamp
from mxcubecore_lims.icat.sessions import SessionContext, session_from_investigation
from mxcubecore_lims.lims.session_manager import SessionManagement
from mxcubecore_lims.model import LimsSessionManager, Session

__all__ = ["IcatSessions"]


@dataclass
class _Identity:
    """What ICAT told about a logged-in user."""

    icat_name: str
    full_name: str
    is_staff: bool


class IcatSessions(SessionManagement):
    """Mixin of the ICAT LIMS object: ICAT logins, identities and investigations as sessions.

    The configuration keys it reads are declared by the hardware object's
    ``HOConfig``; the gateway is built by its ``init()``.

    Attributes:
        gateway: The python-icat gateway, or None before ``init()``.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.gateway: IcatGateway | None = None
        self._identities: dict[str, _Identity] = {}
        self._last_user = ""

    @property
    def _icat(self) -> IcatGateway:
        if self.gateway is None:
            raise LimsConfigError(f"ICAT LIMS object '{self.name}' is not initialised")
        return self.gateway

    @property
    def host_beamline(self) -> str:
        """The beamline "scheduled here" is judged against."""
        return self.config.override_beamline_name or self.beamline_name

    def compatible_beamlines(self) -> list[str]:
        """Instruments whose investigations are offered (a method: never read at init)."""
        return list(self.config.compatible_beamlines or [self.host_beamline])

    def is_scheduled_on_host_beamline(self, beamline: str) -> bool:
        """True when ``beamline`` is the host beamline (``override_beamline_name``)."""
        return beamline.strip().upper() == self.host_beamline.strip().upper()

    # ---------------------------------------------------------- identity

    def get_user_name(self) -> str:
        """ICAT's name of the latest login's user (``plugin/name``)."""
        identity = self._identities.get(self._last_user)
        return identity.icat_name if identity else self._last_user

    def get_full_user_name(self) -> str:
        """Full name of the latest login's user."""
        identity = self._identities.get(self._last_user)
        return identity.full_name if identity else self._last_user

    def is_staff(self, user_name: str | None = None) -> bool:
        """Whether a logged-in user (default: the latest) is beamline staff."""
        identity = self._identities.get(user_name or self._last_user)
        return bool(identity and identity.is_staff)

    # ------------------------------------------------------------- login

    def login(self, login_id: str, password: str, is_local_host: bool = False) -> LimsSessionManager:
        """Logs a person in to ICAT and offers the investigations they may use here.

        Args:
            login_id: The person's user name for the ICAT authentication plugin.
            password: Their password (never logged).
            is_local_host: Unused: ICAT sessions are never created here.

        Returns:
            The session manager; its selectable sessions are those every
            logged-in user shares.

        Raises:
            LimsAuthenticationError: ICAT refused the credentials.
            LimsNoSessionError: No investigation here now, or another
                session is active that this person is not part of.
            LimsUnavailableError: ICAT does not answer.
        """
        if not isinstance(login_id, str) or not login_id.strip():
            raise LimsAuthenticationError("a user name is required")
        if not isinstance(password, str) or not password:
            raise LimsAuthenticationError("a password is required")
        login_id = login_id.strip()
        self._icat.login(login_id, self.config.authentication_icat_plugin, login_id, password)
        try:
            identity = self._identify(login_id)
            sessions = self._list_sessions(login_id, identity)
            if not sessions:
                raise LimsNoSessionError(
                    f"'{login_id}' has no investigation on {', '.join(self.compatible_beamlines())} "
                    f"between {self.config.before_offset_days} day(s) ago and "
                    f"{self.config.after_offset_days} day(s) ahead"
                )
            self.add_user(login_id, sessions)
        except BaseException:
            # A refused login (or re-login) leaves the person logged out
            # everywhere, never registered without an ICAT session.
            if not self.remove_user(login_id):
                self._icat.logout(login_id)
            raise
        self._identities[login_id] = identity
        self._last_user = login_id
        return self.session_manager

    def remove_user(self, user_name: str) -> bool:
        """Forgets a user and ends their ICAT session."""
        known = super().remove_user(user_name)
        self._identities.pop(user_name, None)
        if self.gateway is not None:
            self.gateway.logout(user_name)
        if self._last_user == user_name:
            self._last_user = next(iter(self.session_manager.users), "")
        return known

    def _identify(self, key: str) -> _Identity:
        beamlines = ", ".join(jpql_string(b.upper()) for b in self.compatible_beamlines())

        session = self._icat.user(key)
        known_name = session.user_name if session is not None else None

        def read(client: Any) -> _Identity:
            # The login already asked ICAT for the name: one round trip less.
            name = known_name or str(client.getUserName())
            users = client.search(f"SELECT o FROM User o WHERE o.name = {jpql_string(name)}")  # noqa: S608 (JPQL; jpql_string quotes the value)
            full_name = str(getattr(users[0], "fullName", None) or name) if users else name
            staff = name in self.config.staff_users or bool(
                client.search(
                    "SELECT COUNT(o) FROM InstrumentScientist o JOIN o.user AS u JOIN o.instrument AS i "  # noqa: S608 (JPQL; jpql_string quotes the values)
                    f"WHERE u.name = {jpql_string(name)} AND UPPER(i.name) IN ({beamlines})"
                )[0]
            )
            return _Identity(name, full_name, staff)

        return self._icat.call(key, "read user", read)

    def _list_sessions(self, key: str, identity: _Identity) -> list[Session]:
        """The investigations this user may use here, as sessions."""
        config = self.config
        conditions: dict[str, Any] = {}
        if config.only_staff_session_selection and not identity.is_staff:
            active = self.session_manager.active_session
            if active is None:
                return []
            conditions["id"] = f"= {int(active.session_id)}"
        today = datetime.combine(datetime.now().date(), time())
        window_start = today - timedelta(days=config.before_offset_days)
        window_end = today + timedelta(days=config.after_offset_days + 1) - timedelta(seconds=1)
        beamlines = ", ".join(jpql_string(b.upper()) for b in self.compatible_beamlines())
        conditions["UPPER(investigationInstruments.instrument.name)"] = f"IN ({beamlines})"
        conditions["startDate"] = f"<= {jpql_timestamp(window_end)}"
        conditions["endDate"] = f">= {jpql_timestamp(window_start)}"
        if not identity.is_staff:
            # ICAT's own rules would hide the rest anyway; this says "mine" for
            # users who may read more (e.g. through a group).
            conditions["investigationUsers.user.name"] = "= :user"

        def search(client: Any) -> list[Any]:
            query = self._icat.query(
                "Investigation",
                conditions=conditions,
                includes=["type", "investigationInstruments.instrument", "parameters.type"],
                order=["startDate", "id"],
            )
            return list(client.search(query))

        found = self._icat.call(key, "list investigations", search)
        context = SessionContext(
            host_beamline=self.host_beamline,
            data_portal_url=config.data_portal_url,
            user_portal_url=config.user_portal_url,
            logbook_url=config.logbook_url,
        )
        return [session_from_investigation(inv, context) for inv in found]

    def refresh_sessions(self, user_name: str | None = None) -> list[Session]:
        """Reads a logged-in user's sessions again (e.g. after a reschedule)."""
        key = user_name or self._last_user
        identity = self._identities.get(key)
        if identity is None:
            raise LimsNoSessionError(f"user '{key}' is not logged in to ICAT")
        sessions = self._list_sessions(key, identity)
        self.add_user(key, sessions)
        return sessions

    def get_proposals_by_user(self, login_id: str) -> list[dict[str, Any]]:
        """The user's investigations here as proposal dicts (``Proposal`` and ``Session`` keys)."""
        user = self.session_manager.users.get(login_id)
        if user is None:
            return []
        return [
            {
                "Proposal": {
                    "proposalId": s.proposal_id,
                    "code": s.code,
                    "number": s.number,
                    "title": s.title,
                },
                "Session": [s.model_dump()],
            }
            for s in user.sessions or []
        ]

    # ----------------------------------------------------- whose session writes

    def _acting_user(self) -> str:
        """The logged-in user whose ICAT session reads and writes (the one in control)."""
        active = self.get_active_user()
        candidates: list[str] = ([active.user_name] if active else []) + list(self.session_manager.users)
        for key in candidates:
            if self._icat.user(key) is not None:
                return key
        # Transient for the outbox: the write waits until someone logs in again.
        raise IcatUnavailableError(f"'{self.name}': nobody is logged in to ICAT to write with")

    def _active_session_or_raise(self) -> Session:
        active = self.session_manager.active_session
        if active is None:
            raise LimsNoSessionError(f"'{self.name}': no active session")
        return active
