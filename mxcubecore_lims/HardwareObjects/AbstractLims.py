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
import os
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from mxcubecore import HardwareRepository as HWR
from mxcubecore.HardwareObjects.abstract import AbstractLims as core_abstract_lims

from mxcubecore_lims.errors import (
    LimsConfigError,
    LimsDataError,
    LimsError,
    LimsNoSessionError,
    LimsNotSupportedError,
)
from mxcubecore_lims.model import (
    BeamlineSetup,
    DataCollection,
    DataCollectionGroup,
    EnergyScan,
    EnergyScanSampleAssociation,
    EnergyScanStoreResult,
    Image,
    RobotAction,
    Sample,
    SampleUpdate,
    Workflow,
    XfeSpectrum,
    XfeSpectrumStoreResult,
)
from mxcubecore_lims.model.session import Lims, LimsSessionManager, LimsUser, Session
from mxcubecore_lims.outbox import Checkpoint, Delivery, Outbox, OutboxStatus

LegacyDict = Dict[str, Any]
Id = Optional[int]

__all__ = ["AbstractLims", "DELIVERIES", "state_directory"]

log = logging.getLogger(__name__)

#: How each kind of journalled write is delivered: which payload fields hold
#: ids of earlier records, and which ids its result holds (see outbox).
DELIVERIES: Dict[str, Delivery] = {
    "data_collection": Delivery(refs={"collection.group_id": "group"}, returns=("collection", None)),
    "data_collection_update": Delivery(refs={"collection.collection_id": "collection", "collection.group_id": "group"}),
    "data_collection_end": Delivery(refs={"collection.collection_id": "collection", "collection.group_id": "group"}),
    "data_collection_group": Delivery(returns="group"),
    "beamline_setup": Delivery(returns="beamline_setup"),
    "image": Delivery(refs={"image.dataCollectionId": "collection"}, returns="image"),
    "robot_action": Delivery(returns="robot_action"),
    "energy_scan": Delivery(returns="energy_scan"),
    "energy_scan_association": Delivery(refs={"association.energyScanId": "energy_scan"}),
    "xfe_spectrum": Delivery(returns="xfe_spectrum"),
    "sample_update": Delivery(),
    "workflow": Delivery(returns=("workflow", "workflow_mesh", "grid_info")),
}


def state_directory() -> Path:
    """Where journals live by default: ``$MXCUBECORE_LIMS_STATE_DIR``, else the XDG state directory."""
    explicit = os.environ.get("MXCUBECORE_LIMS_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "mxcubecore-lims"


class AbstractLims(core_abstract_lims.AbstractLims, abc.ABC):
    """Interface and shared session logic of every LIMS hardware object.

    Attributes:
        session_manager: Users, selectable sessions and the active session; the
            same object for the life of the hardware object.
        samples: The sample dicts last returned by :meth:`get_samples`; mxcubeweb
            edits them in place (``sampleId`` -> ``limsID``), so they are kept as
            returned.
    """

    class HOConfig(core_abstract_lims.AbstractLims.HOConfig):
        """Keys every LIMS object has: the outbox (DESIGN §6)."""

        outbox: bool = True
        """Journal every write before sending it, and replay what the LIMS did not take."""
        outbox_file: Optional[str] = None
        """The journal (SQLite); default ``<state directory>/<object name>.outbox.sqlite``."""
        outbox_call_timeout: float = 30.0
        """Seconds a write may wait for the LIMS before it is left to the replay."""
        outbox_retry_max: float = 60.0
        """Longest wait between replay attempts, in seconds (backoff from 1 s)."""
        outbox_keep_delivered: int = 1000
        """Delivered records kept in the journal for inspection."""

    #: Start each journal's background replay at init (the ``outbox status``
    #: command turns it off: looking must not deliver).
    auto_replay = True

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.outbox: Optional[Outbox] = None
        #: Progress of the write being delivered (see :class:`~mxcubecore_lims.outbox.Checkpoint`).
        self.delivery_checkpoint = Checkpoint()
        self.session_manager = LimsSessionManager(active_session=None, sessions=[], users={})
        self.samples: list[dict[str, Any]] = []
        self._tokens: dict[str, str | dict] = {}
        self._active_user_name: str | None = None
        self._beamline_name: str | None = None

    # ------------------------------------------------------------ lifecycle

    def init(self) -> None:
        """Resolves the beamline name, if the session object is there yet."""
        # mxcubecore's AbstractLims.init reads HWR.beamline.session directly and
        # fails when the LIMS object is loaded before the session; ours defers.
        super(core_abstract_lims.AbstractLims, self).init()
        if self.beamline_name == "unknown":
            log.debug("%s: no session object yet; beamline name resolved on first use", self.name)
        if self.config.outbox:
            self.outbox = self._create_outbox()
            if AbstractLims.auto_replay:
                self.outbox.start()

    def _create_outbox(self) -> Outbox:
        """Opens this object's journal (a local file: no LIMS is contacted)."""
        config = self.config
        if config.outbox_file:
            path = Path(config.outbox_file).expanduser()
        else:
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name.strip("/")) or "lims"
            path = state_directory() / f"{safe}.outbox.sqlite"
        return Outbox(
            path,
            self._deliver,
            DELIVERIES,
            call_timeout=config.outbox_call_timeout,
            backoff=(1.0, max(1.0, config.outbox_retry_max)),
            keep_delivered=config.outbox_keep_delivered,
            on_change=self._outbox_changed,
        )

    def _outbox_changed(self, status: OutboxStatus) -> None:
        self.emit("outboxChanged", (status.as_dict(),))

    def outbox_status(self) -> Dict[str, Any]:
        """Pending and failed records, the oldest waiting one, the latest error."""
        if self.outbox is None:
            return {"enabled": False}
        return {"enabled": True, "file": str(self.outbox.path), **self.outbox.status().as_dict()}

    def close_outbox(self) -> None:
        """Stops replaying and closes the journal (waiting records stay in it)."""
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None

    # ------------------------------------------------------ journalled writes

    def _send(self, kind: str, payload: Dict[str, Any]) -> Any:
        """Journals a write and delivers it now, or later when the LIMS is back."""
        payload = self._journal_payload(kind, payload)
        if self.outbox is None:
            return self._deliver(kind, payload)
        return self.outbox.submit(kind, payload)

    def _journal_payload(self, kind: str, payload: Dict[str, Any]) -> Dict[str, Any]:
        """Hook: what a backend needs journalled beyond the caller's dict (default: nothing)."""
        return payload

    def _with_session(self, record: Any) -> Any:
        """The record with the active session's id where it has none.

        Filled in when the call is made, not at replay: by then another
        session (or none, after a restart) may be active.
        """
        active = self.session_manager.active_session
        if active is None or getattr(record, "session_id", "") not in (None, "", 0, -1):
            return record
        return record.model_copy(update={"session_id": active.session_id})

    def _deliver(self, kind: str, payload: Dict[str, Any], checkpoint: Optional[Checkpoint] = None) -> Any:
        """Sends one journalled write to the backend (the ``_write_*`` hooks).

        ``checkpoint`` (the journal's record of this write's progress) is
        reachable from the hooks as :attr:`delivery_checkpoint` meanwhile.
        """
        previous = self.delivery_checkpoint
        self.delivery_checkpoint = checkpoint or Checkpoint()
        try:
            return self._deliver_now(kind, payload)
        finally:
            self.delivery_checkpoint = previous

    def _deliver_now(self, kind: str, payload: Dict[str, Any]) -> Any:
        if kind == "data_collection":
            setup = payload.get("setup")
            return self._write_data_collection(
                DataCollection.from_legacy(payload["collection"]),
                None if setup is None else BeamlineSetup.from_legacy(setup),
            )
        if kind == "data_collection_update":
            return self._write_data_collection_update(DataCollection.from_legacy(payload["collection"]))
        if kind == "data_collection_end":
            return self._write_data_collection_end(DataCollection.from_legacy(payload["collection"]))
        if kind == "data_collection_group":
            return self._write_data_collection_group(DataCollectionGroup.from_legacy(payload["group"]))
        if kind == "beamline_setup":
            return self._write_beamline_setup(payload["session_id"], BeamlineSetup.from_legacy(payload["setup"]))
        if kind == "image":
            return self._write_image(Image.from_legacy(payload["image"]))
        if kind == "robot_action":
            return self._write_robot_action(RobotAction.from_legacy(payload["action"]))
        if kind == "energy_scan":
            return self._write_energy_scan(EnergyScan.from_legacy(payload["scan"]))
        if kind == "energy_scan_association":
            return self._write_energy_scan_association(
                EnergyScanSampleAssociation.from_legacy(payload["association"])
            )
        if kind == "xfe_spectrum":
            return self._write_xfe_spectrum(XfeSpectrum.from_legacy(payload["spectrum"]))
        if kind == "sample_update":
            return self._write_sample_update(SampleUpdate.from_legacy(payload["sample"]))
        if kind == "workflow":
            return self._write_workflow(Workflow.from_legacy(payload["workflow"]))
        raise LimsDataError("outbox record", "kind", kind, "not a kind of LIMS write")

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
        """Name of this beamline, from the session object; ``"unknown"`` until there is one.

        A property that never raises: mxcubecore's ``init()`` reads every
        attribute of the object, before the session may have loaded.
        """
        if self._beamline_name is None:
            try:
                self._beamline_name = self._session_object().beamline_name
            except LimsConfigError:
                return "unknown"
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

    def get_active_lims(self) -> Lims:
        """The LIMS whose samples are in use (ICAT code asks ``HWR.beamline.lims`` for it)."""
        return self.get_lims_name()[0]

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
            raise LimsNoSessionError(
                f"user '{user_name}' may not use the active session {active.session_id}"
            )
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
        if self.session_manager.users.pop(user_name, None) is None:
            return False
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

    def get_user_token(self, user_name: str) -> str | dict:
        """The backend token stored for a logged-in user ("" when none)."""
        return self._tokens.get(user_name, "")

    def add_user_and_shared_sessions(self, lims_session: Any, sessions: List[Session]) -> None:
        """mxcubecore's name for :meth:`add_user` (``lims_session.name`` is the user)."""
        self.add_user(lims_session.name, sessions)

    @property
    def active_session(self) -> Optional[Session]:
        """mxcubecore's attribute: the session manager's active session."""
        return self.session_manager.active_session

    @active_session.setter
    def active_session(self, session: Optional[Session]) -> None:
        # mxcubecore's constructor assigns None before the manager exists.
        if "session_manager" in self.__dict__:
            self.session_manager.active_session = session

    @property
    def sessions(self) -> List[Session]:
        """mxcubecore's attribute: the selectable sessions."""
        return list(self.session_manager.sessions or [])

    @sessions.setter
    def sessions(self, sessions: List[Session]) -> None:
        if "session_manager" in self.__dict__:
            self.session_manager.sessions = list(sessions)

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
        # exclude_unset: Session fills unset start/end datetimes with now(), which
        # would make every recomputation look like a change.
        if [s.model_dump(exclude_unset=True) for s in sessions] != [
            s.model_dump(exclude_unset=True) for s in previous
        ]:
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

    def use_session(self, session: Optional[Session]) -> None:
        """Makes a session active without a logged-in user (or clears it).

        For composite LIMS objects, which choose the session of a member LIMS
        from the session chosen in another: the member's writes then go there.
        """
        self.session_manager.active_session = session
        if session is not None:
            self._on_session_activated(session)

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

    # ------------------------------------------------------------- samples

    def get_samples(self, lims_name: str) -> List[LegacyDict]:
        """Sample dicts of the active session from the LIMS named.

        The returned dicts are kept in :attr:`samples` as they are: mxcubeweb
        renames ``sampleId`` to ``limsID`` in place, and
        :meth:`find_sample_by_sample_id` must see that.

        Args:
            lims_name: One of the names :meth:`get_lims_name` returns.
        """
        self.samples = [sample.to_legacy() for sample in self._fetch_samples(lims_name)]
        return self.samples

    @abc.abstractmethod
    def _fetch_samples(self, lims_name: str) -> List[Sample]:
        """Reads the active session's samples from the LIMS named."""

    def find_sample_by_sample_id(self, sample_id: int | str) -> Optional[LegacyDict]:
        """The cached sample dict with this LIMS id (``limsID`` or ``sampleId``), or None."""
        wanted = str(sample_id)
        for sample in self.samples:
            if str(sample.get("limsID", sample.get("sampleId"))) == wanted:
                return sample
        return None

    def update_bl_sample(self, bl_sample: LegacyDict) -> None:
        """Stores what the beamline learnt about a sample (e.g. its centring position).

        A dict that does not fit :class:`SampleUpdate`, or a LIMS that refuses
        it, is logged (field and value at fault) and not stored: AbstractCollect
        calls this outside any ``try``, and a lost record must not abort a
        collection. A dict without sample id (AbstractCollect's default ``{}``)
        stores nothing.
        """
        sample = self._parse_or_log(SampleUpdate, bl_sample, "update_bl_sample")
        if sample is None:
            return
        if all(i in (None, "", -1) for i in (sample.bl_sample_id, sample.sample_id, sample.lims_id)):
            # AbstractCollect passes {} for a sample that is not from the LIMS.
            self.log.debug("update_bl_sample: no LIMS sample id, nothing to store")
            return
        self._write_or_log(self._send, "sample_update", {"sample": sample.to_legacy()}, operation="update_bl_sample")

    def _write_or_log(self, write: Any, *args: Any, operation: str) -> Any:
        """Calls a backend write; on a LIMS error logs it and returns None.

        For the calls that mxcubecore makes without guarding them (and inside
        greenlets that only catch RuntimeError): an exception there hangs or
        aborts the experiment, a lost record does not.
        """
        try:
            return write(*args)
        except LimsError as error:
            self.log.error("%s: record not stored: %s", operation, error)
            return None

    def _parse_or_log(self, model: Any, data: Any, operation: str) -> Any:
        """``model.from_legacy(data)``, or None after logging the typed error.

        For the calls that mxcubecore makes without guarding them, where an
        exception would abort the experiment rather than just the record.
        """
        try:
            return model.from_legacy(data)
        except LimsDataError as error:
            self.log.error("%s: record not stored: %s", operation, error)
            return None

    @abc.abstractmethod
    def _write_sample_update(self, sample: SampleUpdate) -> None:
        """Backend part of :meth:`update_bl_sample`."""

    # ----------------------------------------------------- data collection

    def store_data_collection(
        self, datacollection_dict: LegacyDict, beamline_config_dict: Any = None
    ) -> Tuple[Id, Id]:
        """Stores a new data collection and the beamline set-up it ran with.

        Args:
            datacollection_dict: The collection dict of the collect routines
                (``current_dc_parameters``).
            beamline_config_dict: The beamline set-up, as a dict or as
                AbstractCollect's ``BeamlineConfig`` namedtuple; may be None.

        Returns:
            ``(data_collection_id, detector_id)``; either may be None.

        Raises:
            LimsDataError: A dict does not fit its model.
        """
        collection = DataCollection.from_legacy(datacollection_dict)
        setup = None if beamline_config_dict is None else BeamlineSetup.from_legacy(beamline_config_dict)
        return self._send(
            "data_collection",
            {"collection": self._with_session(collection).to_legacy(), "setup": None if setup is None else setup.to_legacy()},
        )

    @abc.abstractmethod
    def _write_data_collection(
        self, collection: DataCollection, setup: Optional[BeamlineSetup]
    ) -> Tuple[Id, Id]:
        """Backend part of :meth:`store_data_collection`."""

    def update_data_collection(self, datacollection_dict: LegacyDict) -> None:
        """Updates the collection whose ``collection_id`` the dict gives.

        Raises:
            LimsDataError: The dict does not fit :class:`DataCollection`.
        """
        collection = self._with_session(DataCollection.from_legacy(datacollection_dict))
        self._send("data_collection_update", {"collection": collection.to_legacy()})

    @abc.abstractmethod
    def _write_data_collection_update(self, collection: DataCollection) -> None:
        """Backend part of :meth:`update_data_collection`."""

    def finalize_data_collection(self, datacollection_dict: LegacyDict) -> None:
        """Records the end of a collection (final values, status, metadata).

        Raises:
            LimsDataError: The dict does not fit :class:`DataCollection`.
        """
        collection = self._with_session(DataCollection.from_legacy(datacollection_dict))
        self._send("data_collection_end", {"collection": collection.to_legacy()})

    @abc.abstractmethod
    def _write_data_collection_end(self, collection: DataCollection) -> None:
        """Backend part of :meth:`finalize_data_collection`."""

    def store_data_collection_group(self, group_dict: LegacyDict) -> Id:
        """Stores a data-collection group; returns its id.

        Raises:
            LimsDataError: The dict does not fit :class:`DataCollectionGroup`.
        """
        group = self._with_session(DataCollectionGroup.from_legacy(group_dict))
        return self._send("data_collection_group", {"group": group.to_legacy()})

    def _store_data_collection_group(self, group_dict: LegacyDict) -> Id:
        """The name mxcubecore's task-group queue entry calls; see :meth:`store_data_collection_group`."""
        return self.store_data_collection_group(group_dict)

    @abc.abstractmethod
    def _write_data_collection_group(self, group: DataCollectionGroup) -> Id:
        """Backend part of :meth:`store_data_collection_group`."""

    def store_beamline_setup(self, session_id: str, bl_config_dict: Any) -> Id:
        """Stores a beamline set-up for a session; returns its id.

        Raises:
            LimsDataError: The set-up does not fit :class:`BeamlineSetup`.
        """
        setup = BeamlineSetup.from_legacy(bl_config_dict)
        return self._send("beamline_setup", {"session_id": str(session_id), "setup": setup.to_legacy()})

    @abc.abstractmethod
    def _write_beamline_setup(self, session_id: str, setup: BeamlineSetup) -> Id:
        """Backend part of :meth:`store_beamline_setup`."""

    def store_image(self, image_dict: LegacyDict) -> Id:
        """Stores one image of a collection; returns the image id.

        A dict that does not fit :class:`Image`, or a LIMS error, is logged and
        None returned: AbstractCollect calls this outside any ``try``.
        """
        image = self._parse_or_log(Image, image_dict, "store_image")
        if image is None:
            return None
        return self._write_or_log(self._send, "image", {"image": image.to_legacy()}, operation="store_image")

    @abc.abstractmethod
    def _write_image(self, image: Image) -> Id:
        """Backend part of :meth:`store_image`."""

    # ------------------------------------------------------- other records

    def store_robot_action(self, robot_action_dict: LegacyDict) -> Id:
        """Stores a sample-changer action (load, unload...); returns its id.

        A dict that does not fit :class:`RobotAction`, or a LIMS error, is
        logged and None returned: the queue's ``mount_sample`` calls this
        outside any ``try``, and a mount that worked must not fail over its record.
        """
        action = self._parse_or_log(RobotAction, robot_action_dict, "store_robot_action")
        if action is None:
            return None
        action = self._with_session(action)
        return self._write_or_log(
            self._send, "robot_action", {"action": action.to_legacy()}, operation="store_robot_action"
        )

    @abc.abstractmethod
    def _write_robot_action(self, action: RobotAction) -> Id:
        """Backend part of :meth:`store_robot_action`."""

    def store_energy_scan(self, energyscan_dict: LegacyDict) -> LegacyDict:
        """Stores an energy scan.

        Returns:
            ``{"energyScanId": id}`` (id None when the LIMS gave none).

        Raises:
            LimsDataError: The dict does not fit :class:`EnergyScan`.
        """
        scan = self._with_session(EnergyScan.from_legacy(energyscan_dict))
        scan_id = self._send("energy_scan", {"scan": scan.to_legacy()})
        return EnergyScanStoreResult(energy_scan_id=scan_id).to_legacy()

    def storeEnergyScan(self, energyscan_dict: LegacyDict) -> LegacyDict:  # noqa: N802
        """The camelCase name mxcubecore's EnergyScanMockup (and EMBL, PX1 code) calls."""
        return self.store_energy_scan(energyscan_dict)

    @abc.abstractmethod
    def _write_energy_scan(self, scan: EnergyScan) -> Id:
        """Backend part of :meth:`store_energy_scan`."""

    def associate_bl_sample_and_energy_scan(self, entry_dict: LegacyDict) -> Id:
        """Links a stored energy scan to its sample (``blSampleId``, ``energyScanId``).

        Raises:
            LimsDataError: The dict does not fit :class:`EnergyScanSampleAssociation`.
            LimsNotSupportedError: This LIMS has no such link.
        """
        association = EnergyScanSampleAssociation.from_legacy(entry_dict)
        return self._send("energy_scan_association", {"association": association.to_legacy()})

    def _write_energy_scan_association(self, association: EnergyScanSampleAssociation) -> Id:
        """Backend part of :meth:`associate_bl_sample_and_energy_scan`."""
        raise LimsNotSupportedError(f"{type(self).__name__} does not link energy scans to samples")

    def store_xfe_spectrum(self, xfespectrum_dict: LegacyDict) -> LegacyDict:
        """Stores an X-ray fluorescence spectrum.

        Returns:
            ``{"xfeFluorescenceSpectrumId": id}`` (id None when the LIMS gave none).

        Raises:
            LimsDataError: The dict does not fit :class:`XfeSpectrum`.
        """
        spectrum = self._with_session(XfeSpectrum.from_legacy(xfespectrum_dict))
        spectrum_id = self._send("xfe_spectrum", {"spectrum": spectrum.to_legacy()})
        return XfeSpectrumStoreResult(xfe_fluorescence_spectrum_id=spectrum_id).to_legacy()

    @abc.abstractmethod
    def _write_xfe_spectrum(self, spectrum: XfeSpectrum) -> Id:
        """Backend part of :meth:`store_xfe_spectrum`."""

    def store_workflow(self, workflow_dict: LegacyDict) -> Tuple[Id, Id, Id]:
        """Stores a workflow (and its mesh and grid information).

        Returns:
            ``(workflow_id, workflow_mesh_id, grid_info_id)``; AbstractOnlineProcessing
            unpacks three values, so it is always a 3-tuple.

        Raises:
            LimsDataError: The dict does not fit :class:`Workflow`.
        """
        result = self._send("workflow", {"workflow": Workflow.from_legacy(workflow_dict).to_legacy()})
        return tuple(result)  # type: ignore[return-value]

    @abc.abstractmethod
    def _write_workflow(self, workflow: Workflow) -> Tuple[Id, Id, Id]:
        """Backend part of :meth:`store_workflow`."""

    def store_workflow_step(self, workflow_step_dict: LegacyDict) -> Id:
        """Stores one workflow step (AbstractOnlineProcessing calls it).

        Raises:
            LimsNotSupportedError: This LIMS does not store workflow steps.
        """
        raise LimsNotSupportedError(f"{type(self).__name__} does not store workflow steps")

    def set_image_quality_indicators_plot(
        self, collection_id: int, cartography_path: str, csv_path: str
    ) -> None:
        """Attaches image-quality plots to a collection (AbstractOnlineProcessing calls it).

        Raises:
            LimsNotSupportedError: This LIMS does not store such plots.
        """
        raise LimsNotSupportedError(f"{type(self).__name__} does not store image-quality plots")
