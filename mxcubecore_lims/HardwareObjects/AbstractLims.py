"""The LIMS hardware-object interface, with the session manager written once.

Every LIMS object of this package derives from :class:`AbstractLims`. It is a
subclass of mxcubecore's own ``AbstractLims``, so code that checks for that
class keeps working, but it redefines the whole contract:

* ``login(login_id, password, is_local_host)`` always takes the third argument
  as mxcubeweb passes it: a bool saying whether the client is on a local host.
  It returns the :class:`LimsSessionManager`.
* The session manager (``self.session_manager``, read by mxcubeweb) is one
  object for the life of the hardware object. Users, the sessions each may
  use, the selectable sessions (those shared by every logged-in user) and the
  active session are kept here; ``sessionsChanged`` is emitted with the list
  of selectable sessions whenever that list changes, for every login type.
* Methods that mxcubeweb and mxcubecore call but mxcubecore's interface does
  not declare are declared here: ``is_connected``, ``allow_session``,
  ``set_active_user``, ``find_sample_by_sample_id``,
  ``store_data_collection_group`` (and its legacy name
  ``_store_data_collection_group``), ``associate_bl_sample_and_energy_scan``,
  ``store_workflow_step`` and ``set_image_quality_indicators_plot``.
* Dicts passed in by collect routines are validated into the typed models of
  :mod:`mxcubecore_lims.model` before a backend sees them (a bad dict raises
  :class:`~mxcubecore_lims.errors.LimsDataError` naming the key), and the
  backends implement the ``_store_*`` hooks on those models.

The beamline name comes from the ``session`` role object of the LIMS object
when it has one, otherwise from ``HWR.beamline.session``.
"""

from __future__ import annotations

import abc
import logging
from datetime import date, datetime
from typing import Any, Dict, List, Optional, Tuple

from mxcubecore import HardwareRepository as HWR
from mxcubecore.HardwareObjects.abstract import AbstractLims as core_abstract_lims

from mxcubecore_lims.errors import LimsConfigError, LimsNoSessionError, LimsNotSupportedError
from mxcubecore_lims.model.session import Lims, LimsSessionManager, LimsUser, Session

__all__ = ["AbstractLims"]

log = logging.getLogger(__name__)


class AbstractLims(core_abstract_lims.AbstractLims, abc.ABC):
    """Interface and shared session logic of every LIMS hardware object.

    Attributes:
        session_manager: Users, selectable sessions and the active session; the
            same object for the life of the hardware object.
        samples: The sample dicts last returned by :meth:`get_samples`; mxcubeweb
            edits them in place (``sampleId`` -> ``limsID``), so they are kept as
            returned.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.session_manager = LimsSessionManager(active_session=None, sessions=[], users={})
        self.samples: list[dict[str, Any]] = []
        self._active_user_name: str | None = None
        self._beamline_name: str | None = None

    # ------------------------------------------------------------ lifecycle

    def init(self) -> None:
        """Resolves the beamline name, if the session object is there yet."""
        # mxcubecore's AbstractLims.init reads HWR.beamline.session directly and
        # fails when the LIMS object is loaded before the session; ours defers.
        super(core_abstract_lims.AbstractLims, self).init()
        try:
            self._beamline_name = self._session_object().beamline_name
        except LimsConfigError:
            log.debug("%s: beamline name resolved on first use", self.name)

    def _session_object(self) -> Any:
        """The ``session`` role object, else ``HWR.beamline.session``.

        Raises:
            LimsConfigError: Neither exists.
        """
        session = self.get_object_by_role("session")
        if session is None and HWR.beamline is not None:
            session = getattr(HWR.beamline, "session", None)
        if session is None:
            raise LimsConfigError(
                f"LIMS object '{self.name}' has no 'session' role and HWR.beamline has no session"
            )
        return session

    @property
    def beamline_name(self) -> str:
        """Name of this beamline, from the session object."""
        if self._beamline_name is None:
            self._beamline_name = self._session_object().beamline_name
        return self._beamline_name

    @beamline_name.setter
    def beamline_name(self, value: str) -> None:
        # mxcubecore's constructor assigns "unknown"; only a real name counts.
        self._beamline_name = None if value == "unknown" else value

    # ------------------------------------------------------ identity, state

    @abc.abstractmethod
    def get_lims_name(self) -> List[Lims]:
        """The LIMS this object talks to (mxcubeweb offers them for sample sync)."""

    @abc.abstractmethod
    def get_user_name(self) -> str:
        """Name of the user of the latest login (unique per login for proposal login)."""

    @abc.abstractmethod
    def get_full_user_name(self) -> str:
        """Human-readable name of the user of the latest login."""

    @abc.abstractmethod
    def is_user_login_type(self) -> bool:
        """True for user-based login, False for proposal-based login."""

    @abc.abstractmethod
    def echo(self) -> bool:
        """True when the LIMS answers now. Never raises."""

    def is_connected(self) -> bool:
        """True when LIMS writes are possible: someone is logged in with an active session.

        mxcubecore's collect routines skip every LIMS write when this is False.
        """
        return bool(self.session_manager.users) and self.session_manager.active_session is not None

    def get_session_manager(self) -> LimsSessionManager:
        """The session manager (also reachable as the attribute ``session_manager``)."""
        return self.session_manager

    # --------------------------------------------------------------- login

    @abc.abstractmethod
    def login(self, login_id: str, password: str, is_local_host: bool = False) -> LimsSessionManager:
        """Authenticates and registers a user; returns the session manager.

        Args:
            login_id: User name, or proposal name for proposal login.
            password: The password; never logged.
            is_local_host: Whether the client runs on a local host (mxcubeweb's
                ``is_local_host``); some sites create sessions only then.

        Returns:
            The session manager, with the user's sessions now selectable.

        Raises:
            LimsAuthenticationError: Wrong credentials or unknown user.
            LimsAuthorizationError: The user may not use this beamline now.
            LimsUnavailableError: The LIMS or authentication server is down.
        """

    @abc.abstractmethod
    def get_proposals_by_user(self, login_id: str) -> List[Dict]:
        """Proposal dicts (``Proposal``, ``Person``, ``Laboratory``, ``Session``) of a user."""

    def create_session(self, proposal: Any) -> Optional[Session]:
        """Creates a LIMS session on this beamline for a proposal, if the LIMS can.

        Raises:
            LimsNotSupportedError: This LIMS does not create sessions.
        """
        raise LimsNotSupportedError(f"{type(self).__name__} does not create sessions")

    # ----------------------------------------------------- session manager

    def add_user(self, user_name: str, sessions: List[Session], lims_token: str | dict = "") -> None:
        """Registers (or re-registers) a logged-in user and the sessions they may use.

        Args:
            user_name: Key of the user in the session manager.
            sessions: Sessions this user may collect in.
            lims_token: Backend token for this user, if any; never logged.
        """
        self.session_manager.users[user_name] = LimsUser(
            user_name=user_name, sessions=list(sessions), lims_token=lims_token
        )
        if self._active_user_name is None:
            self._active_user_name = user_name
        self.log.debug("user %s registered with %d session(s)", user_name, len(sessions))
        self._refresh_selectable_sessions()

    def remove_user(self, user_name: str) -> bool:
        """Forgets a logged-in user.

        The selectable sessions grow back to those shared by the remaining
        users; the active session stays (it is shared by them too). When the
        last user leaves, the active session is cleared.

        Args:
            user_name: The user's key, as given to :meth:`add_user`.

        Returns:
            True if the user was known.
        """
        if self.session_manager.users.pop(user_name, None) is None:
            return False
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

    def get_active_user(self) -> LimsUser | None:
        """The logged-in user in control, if any."""
        if self._active_user_name is None:
            return None
        return self.session_manager.users.get(self._active_user_name)

    def get_shared_sessions(self) -> List[Session]:
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
        if [s.model_dump() for s in sessions] != [s.model_dump() for s in previous]:
            self.emit("sessionsChanged", (sessions,))

    def get_active_session(self) -> Optional[Session]:
        """The active session, or None."""
        return self.session_manager.active_session

    def get_session_id(self) -> Optional[str]:
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
                    self.session_manager.active_session = session
                    self._on_session_activated(session)
                return session
        raise LimsNoSessionError(
            f"session '{wanted}' is not among the selectable sessions "
            f"({', '.join(s.session_id for s in self.session_manager.sessions or []) or 'none'})"
        )

    def _on_session_activated(self, session: Session) -> None:
        """Hook for backends that need to act when a session becomes active."""

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

    def is_scheduled_on_host_beamline(self, beamline: str) -> bool:
        """True when ``beamline`` names this beamline (case and spaces ignored)."""
        return beamline.strip().upper() == self.beamline_name.strip().upper()

    def is_scheduled_now(self, start_date: str | None, end_date: str | None) -> bool:
        """True when today lies between the two dates (inclusive)."""
        return self.is_time_between(start_date, end_date)

    def is_time_between(
        self, start_date: str | None, end_date: str | None, check_time: date | None = None
    ) -> bool:
        """True when ``check_time`` (default today, UTC) lies between two ISO dates."""
        if not start_date or not end_date:
            return False
        begin = datetime.fromisoformat(str(start_date)).date()
        end = datetime.fromisoformat(str(end_date)).date()
        today = check_time or datetime.utcnow().date()
        return begin <= today <= end
