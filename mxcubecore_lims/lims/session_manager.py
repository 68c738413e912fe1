"""The session manager: users logged in, the sessions they may use, the selectable and the active session.

The session manager (``self.session_manager``, read by mxcubeweb) is one
object for the life of the hardware object. Users, the sessions each may
use, the selectable sessions (those shared by every logged-in user) and the
active session are kept here; ``sessionsChanged`` is emitted with the list
of selectable sessions whenever that list changes, for every login type.
"""

from __future__ import annotations

from typing import Any

from mxcubecore_lims.errors import LimsNoSessionError
from mxcubecore_lims.lims.beamline_schedule import BeamlineSchedule
from mxcubecore_lims.model.session import LimsSessionManager, LimsUser, Session

__all__ = ["SessionManagement"]


class SessionManagement(BeamlineSchedule):
    """Mixin of the LIMS objects: who is logged in and which session they collect in.

    Attributes:
        session_manager: Users, selectable sessions and the active session; the
            same object for the life of the hardware object.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.session_manager = LimsSessionManager(active_session=None, sessions=[], users={})
        self._tokens: dict[str, str | dict[str, Any]] = {}
        self._active_user_name: str | None = None

    def is_connected(self) -> bool:
        """True when LIMS writes are possible: someone is logged in with an active session.

        mxcubecore's collect routines skip every LIMS write when this is False.
        """
        return bool(self.session_manager.users) and self.session_manager.active_session is not None

    def get_session_manager(self) -> LimsSessionManager:
        """The session manager (also reachable as the attribute ``session_manager``)."""
        return self.session_manager

    # ------------------------------------------------------------- users

    def add_user(self, user_name: str, sessions: list[Session], lims_token: str | dict[str, Any] = "") -> None:
        """Registers (or re-registers) a logged-in user and the sessions they may use.

        While a session is active, only users who may use it are admitted, so
        the active session always stays among the selectable ones.

        Args:
            user_name: Key of the user in the session manager.
            sessions: Sessions this user may collect in.
            lims_token: Backend token for this user, if any. Kept apart from
                the session manager, whose repr would otherwise show it.

        Raises:
            LimsNoSessionError: A session is active and this user may not use it.
        """
        active = self.session_manager.active_session
        if active is not None and all(s.session_id != active.session_id for s in sessions):
            raise LimsNoSessionError(f"user '{user_name}' may not use the active session {active.session_id}")
        self._tokens[user_name] = lims_token
        self.session_manager.users[user_name] = LimsUser(user_name=user_name, sessions=list(sessions))
        if self._active_user_name is None:
            self._active_user_name = user_name
        self.log.debug("user %s registered with %d session(s)", user_name, len(sessions))
        self._refresh_selectable_sessions()

    def remove_user(self, user_name: str) -> bool:
        """Forgets a logged-in user.

        The selectable sessions grow back to those shared by the remaining
        users; the active session stays (every user admitted may use it, see
        :meth:`add_user`). When the last user leaves, the active session is
        cleared.

        Args:
            user_name: The user's key, as given to :meth:`add_user`.

        Returns:
            True if the user was known.
        """
        if user_name not in self.session_manager.users:
            return False
        active = self.session_manager.active_session
        if active is not None and len(self.session_manager.users) == 1:
            self._on_session_ending(active, user_name)
        self.session_manager.users.pop(user_name, None)
        self._tokens.pop(user_name, None)
        self.log.debug("user %s removed", user_name)
        if self._active_user_name == user_name:
            self._active_user_name = next(iter(self.session_manager.users), None)
        if not self.session_manager.users:
            self.session_manager.active_session = None
        self._refresh_selectable_sessions()
        return True

    def set_active_user(self, user_name: str) -> None:
        """Records which logged-in user is in control (mxcubeweb's operator).

        Raises:
            LimsNoSessionError: The user is not logged in.
        """
        if user_name not in self.session_manager.users:
            raise LimsNoSessionError(f"user '{user_name}' is not logged in to the LIMS")
        self._active_user_name = user_name

    def get_user_token(self, user_name: str) -> str | dict[str, Any]:
        """The backend token stored for a logged-in user ("" when none)."""
        return self._tokens.get(user_name, "")

    def add_user_and_shared_sessions(self, lims_session: Any, sessions: list[Session]) -> None:
        """The name mxcubecore gives :meth:`add_user` (``lims_session.name`` is the user)."""
        self.add_user(lims_session.name, sessions)

    def get_active_user(self) -> LimsUser | None:
        """The logged-in user in control, if any."""
        if self._active_user_name is None:
            return None
        return self.session_manager.users.get(self._active_user_name)

    # ---------------------------------------------------------- sessions

    @property
    def active_session(self) -> Session | None:
        """The attribute mxcubecore reads: the session manager's active session."""
        return self.session_manager.active_session

    @active_session.setter
    def active_session(self, session: Session | None) -> None:
        # mxcubecore's constructor assigns None before the manager exists.
        if "session_manager" in self.__dict__:
            self.session_manager.active_session = session

    @property
    def sessions(self) -> list[Session]:
        """The attribute mxcubecore reads: the selectable sessions."""
        return list(self.session_manager.sessions or [])

    @sessions.setter
    def sessions(self, sessions: list[Session]) -> None:
        if "session_manager" in self.__dict__:
            self.session_manager.sessions = list(sessions)

    def get_shared_sessions(self) -> list[Session]:
        """Sessions every logged-in user may use, in the first user's order."""
        users = list(self.session_manager.users.values())
        if not users:
            return []
        common = set.intersection(*({s.session_id for s in user.sessions or []} for user in users))
        shared: dict[str, Session] = {}
        for user in users:
            for session in user.sessions or []:
                if session.session_id in common and session.session_id not in shared:
                    shared[session.session_id] = session
        return list(shared.values())

    def _refresh_selectable_sessions(self) -> None:
        """Recomputes the selectable sessions and emits ``sessionsChanged`` on change."""
        sessions = self.get_shared_sessions()
        previous = self.session_manager.sessions or []
        self.session_manager.sessions = sessions
        # exclude_unset: Session fills unset start/end datetimes with now(), which
        # would make every recomputation look like a change.
        if [s.model_dump(exclude_unset=True) for s in sessions] != [s.model_dump(exclude_unset=True) for s in previous]:
            self.emit("sessionsChanged", (sessions,))

    def get_active_session(self) -> Session | None:
        """The active session, or None."""
        return self.session_manager.active_session

    def get_session_id(self) -> str | None:
        """Id of the active session, or None when no session is active."""
        active = self.session_manager.active_session
        return active.session_id if active is not None else None

    def is_session_already_active(self, session_id: str | Session) -> bool:
        """True when the given session (or session id) is the active one."""
        wanted = session_id.session_id if isinstance(session_id, Session) else str(session_id)
        active = self.session_manager.active_session
        return active is not None and active.session_id == wanted

    def set_active_session_by_id(self, session_id: str) -> Session:
        """Makes a selectable session the active one.

        Args:
            session_id: Id of one of ``session_manager.sessions``.

        Returns:
            The active session.

        Raises:
            LimsNoSessionError: No selectable session has that id.
        """
        wanted = str(session_id)
        for session in self.session_manager.sessions or []:
            if session.session_id == wanted:
                if not self.is_session_already_active(wanted):
                    previous = self.session_manager.active_session
                    if previous is not None:
                        self._on_session_ending(previous, None)
                    self.session_manager.active_session = session
                    self._on_session_activated(session)
                return session
        raise LimsNoSessionError(
            f"session '{wanted}' is not among the selectable sessions "
            f"({', '.join(s.session_id for s in self.session_manager.sessions or []) or 'none'})"
        )

    def use_session(self, session: Session | None) -> None:
        """Makes a session active without a logged-in user (or clears it).

        For composite LIMS objects, which choose the session of a member LIMS
        from the session chosen in another: the member's writes then go there.
        """
        self.session_manager.active_session = session
        if session is not None:
            self._on_session_activated(session)

    def _on_session_activated(self, session: Session) -> None:
        """Hook for backends that need to act when a session becomes active."""

    def _on_session_ending(self, session: Session, leaving_user: str | None) -> None:
        """Hook: the active session ends (another becomes active, or the last user leaves).

        Called while the session is still active and the user still logged in.

        Args:
            session: The session that ends.
            leaving_user: The user logging out, when the last one leaves.
        """

    def allow_session(self, session: Session) -> None:
        """Accepts a session that is not scheduled here and now (mxcubeweb asks before using it).

        The base class only logs the decision; backends that can record it in
        the LIMS override this.
        """
        self.log.info(
            "session %s accepted on %s outside its schedule (scheduled on %s, %s to %s)",
            session.session_id,
            self.beamline_name,
            session.beamline_name,
            session.start_date,
            session.end_date,
        )
