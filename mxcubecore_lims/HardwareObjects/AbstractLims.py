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

The class is assembled from the mixins of :mod:`mxcubecore_lims.lims`: the
beamline and its schedule (:mod:`~mxcubecore_lims.lims.beamline_schedule`),
the session manager (:mod:`~mxcubecore_lims.lims.session_manager`), the store
templates (:mod:`~mxcubecore_lims.lims.collection_writes`,
:mod:`~mxcubecore_lims.lims.record_writes`) and the outbox they write through
(:mod:`~mxcubecore_lims.lims.outbox_wiring`). What is left here is the
configuration, the life cycle, the identity and login interface a backend
implements, and the samples.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pydantic
from mxcubecore.HardwareObjects.abstract import AbstractLims as core_abstract_lims

from mxcubecore_lims.errors import LimsNotSupportedError, MxlimsShipmentError
from mxcubecore_lims.lims import Id, LegacyDict
from mxcubecore_lims.lims.broker_route import BrokerRoute
from mxcubecore_lims.lims.collection_writes import CollectionWrites
from mxcubecore_lims.lims.outbox_wiring import DELIVERIES, state_directory
from mxcubecore_lims.lims.record_writes import RecordWrites
from mxcubecore_lims.lims.session_manager import SessionManagement
from mxcubecore_lims.model import Sample
from mxcubecore_lims.model.session import Lims, LimsSessionManager, Session
from mxcubecore_lims.mxlims._base import DOMAIN_KEY_PATTERN
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.logistics import Shipment
from mxcubecore_lims.mxlims.mounts import ShipmentImportReport
from mxcubecore_lims.mxlims.reading import SessionReading
from mxcubecore_lims.mxlims.results import reading_document

# Id, LegacyDict, DELIVERIES and state_directory moved to mxcubecore_lims.lims;
# they are re-exported for the modules that import them from here.
__all__ = ["DELIVERIES", "AbstractLims", "Id", "LegacyDict", "state_directory"]

log = logging.getLogger(__name__)


class AbstractLims(
    SessionManagement, BrokerRoute, CollectionWrites, RecordWrites, core_abstract_lims.AbstractLims, abc.ABC
):
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
        outbox_file: str | None = None
        """The journal (SQLite); default ``<state directory>/<object name>.outbox.sqlite``."""
        outbox_call_timeout: float = 30.0
        """Seconds a write may wait for the LIMS before it is left to the replay."""
        outbox_retry_max: float = 60.0
        """Longest wait between replay attempts, in seconds (backoff from 1 s)."""
        outbox_keep_delivered: int = 1000
        """Delivered records kept in the journal for inspection."""
        session_record: bool = False
        """Build the session record (HTML report and MXLIMS results) when a session ends, in the background."""
        session_record_directory: str | None = None
        """Where it goes; default the session object's base data directory (next to the session's data)."""
        delivery: Literal["direct", "broker"] = "direct"
        """``direct``: the LIMS object writes to its LIMS; ``broker``: it publishes, ingesters write."""
        broker_urls: list[str] = []
        """Broker URLs for ``delivery: broker``, tried in order: ``stomp://host:61613``, ``stomp+ssl://host:61614``."""
        broker_username: str | None = None
        """Broker login (ActiveMQ user); none for a broker without authentication."""
        broker_password: str | None = None
        """Its password: write ``${env:NAME}`` or ``${file:PATH}`` rather than the value."""
        broker_queue: str = "/queue/mxcubecore-lims.writes"
        """Queue of the journalled writes other than ICAT datasets."""
        broker_icat_queue: str = "/queue/icatIngest"
        """Queue of ICAT datasets (pyicat-plus's format and default queue, which ESRF's ingesters read)."""
        broker_ca_file: str | None = None
        """CA bundle verifying a ``stomp+ssl`` broker (default: the system's)."""
        broker_tls_verify: bool = True
        """Verify the broker's TLS certificate and host name."""
        broker_receipt_timeout: float = 10.0
        """Seconds to wait for the broker to confirm a message (then the record waits in the outbox)."""
        site_domain: str = "localhost.localdomain"
        """Your site's domain name (e.g. ``esrf.fr``): the key of LIMS ids in MXLIMS documents."""

        @pydantic.field_validator("broker_urls", mode="before")
        @classmethod
        def _split_urls(cls, value: Any) -> Any:
            # XML gives "stomp://a:61613, stomp://b:61613" as one text; repeated leaves a list.
            items = value if isinstance(value, (list, tuple)) else [value]
            return [part for item in items if item for part in re.split(r"[,\s]+", str(item)) if part]

        @pydantic.field_validator("site_domain")
        @classmethod
        def _is_domain(cls, value: str) -> str:
            if not re.match(DOMAIN_KEY_PATTERN, value):
                raise ValueError("must be a dotted domain name such as esrf.fr")
            return value

    #: Start each journal's background replay at init (the ``outbox status``
    #: command turns it off: looking must not deliver).
    auto_replay = True

    @classmethod
    @contextlib.contextmanager
    def replay_off(cls) -> Iterator[None]:
        """LIMS objects loaded meanwhile start no background replay (commands that only look)."""
        before = AbstractLims.auto_replay
        AbstractLims.auto_replay = False
        try:
            yield
        finally:
            AbstractLims.auto_replay = before

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.samples: list[dict[str, Any]] = []
        #: Session records being built in the background (greenlets; their value: the files written).
        self.session_record_tasks: list[Any] = []

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
        self._start_broker_route()
        if self.outbox is not None and AbstractLims.auto_replay:
            self.outbox.start()

    # ------------------------------------------------------ identity, state

    @abc.abstractmethod
    def get_lims_name(self) -> list[Lims]:
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

    def get_active_lims(self) -> Lims:
        """The LIMS whose samples are in use (ICAT code asks ``HWR.beamline.lims`` for it)."""
        return self.get_lims_name()[0]

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
    def get_proposals_by_user(self, login_id: str) -> list[dict[str, Any]]:
        """Proposal dicts (``Proposal``, ``Person``, ``Laboratory``, ``Session``) of a user."""

    def create_session(self, proposal: Any) -> Session | None:
        """Creates a LIMS session on this beamline for a proposal, if the LIMS can.

        Raises:
            LimsNotSupportedError: This LIMS does not create sessions.
        """
        raise LimsNotSupportedError(f"{type(self).__name__} does not create sessions")

    # ------------------------------------------------------------- samples

    def get_samples(self, lims_name: str) -> list[LegacyDict]:
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
    def _fetch_samples(self, lims_name: str) -> list[Sample]:
        """Reads the active session's samples from the LIMS named."""

    def import_mxlims(self, document: MxlimsDocument) -> ShipmentImportReport:
        """Creates an MXLIMS shipment's samples in the active session, so ``get_samples`` offers them.

        Safe to repeat: what the LIMS already holds is not created again.

        Raises:
            LimsNotSupportedError: This LIMS cannot take shipments.
            MxlimsShipmentError: The document cannot be a shipment here (named by JSON pointer).
        """
        raise LimsNotSupportedError(f"{type(self).__name__} does not import MXLIMS shipments")

    def read_session(self, session_id: str | None = None, as_user: str | None = None) -> SessionReading:
        """What the LIMS holds about one session, read back from it (not from the outbox).

        Args:
            session_id: The LIMS session; default the active one.
            as_user: Whose LIMS login to read with, where logins are per user
                (ICAT); default the user in control.

        Raises:
            LimsNotSupportedError: This LIMS cannot read a session back.
            LimsUnavailableError: The LIMS does not answer.
        """
        raise LimsNotSupportedError(f"{type(self).__name__} cannot read a session back")

    def export_mxlims(self, session_id: str | None = None) -> MxlimsDocument:
        """One session's results as an MXLIMS document, read back from the LIMS (not from the outbox).

        The document holds the session's samples (as a shipment that imports
        elsewhere as the same samples), an MxExperiment per data-collection
        group, a CollectionSweep per data collection and the processing
        results (:mod:`mxcubecore_lims.mxlims.results`).

        Args:
            session_id: The LIMS session; default the active one.

        Raises:
            LimsNotSupportedError: This LIMS cannot read results back.
            LimsUnavailableError: The LIMS does not answer.
        """
        return reading_document(self.read_session(session_id))

    def _on_session_ending(self, session: Session, leaving_user: str | None) -> None:
        """Builds the session's record in the background when ``session_record`` is on."""
        if not self.config.session_record:
            return
        from mxcubecore_lims.record.writer import spawn_session_record

        directory = self.config.session_record_directory or self._session_data_directory()
        active = self.get_active_user()
        user = leaving_user or (active.user_name if active is not None else None)
        task = spawn_session_record(self, str(session.session_id), Path(directory), as_user=user)
        self.session_record_tasks = [t for t in self.session_record_tasks if not t.ready()] + [task]
        if user is not None:
            self._hold_login_for(user, task)

    def _session_data_directory(self) -> str:
        """The session object's base data directory (where the session's data goes)."""
        try:
            return str(self._session_object().get_base_data_directory())
        except Exception as error:  # no session object or an odd one: the state directory will do
            log.debug("%s: no base data directory (%s); record goes to the state directory", self.name, error)
            return str(state_directory())

    def _hold_login_for(self, user: str, task: Any) -> None:
        """Hook: keep ``user``'s LIMS login past a logout until ``task`` is done (ICAT)."""

    @staticmethod
    def _check_shipment_proposal(document: MxlimsDocument, active: Session) -> None:
        """Refuses a shipment made out for another proposal than the active session's."""
        proposals = {str(active.proposal_name or "").lower(), f"{active.code or ''}{active.number or ''}".lower()}
        proposals |= {p.replace("-", "") for p in proposals}
        for key, shipment in document.of_type(Shipment):
            if shipment.proposal_code.lower().replace("-", "") not in proposals:
                raise MxlimsShipmentError(
                    f"/Shipment/{key}/proposalCode",
                    f"is for proposal {shipment.proposal_code!r}; the active session is {active.proposal_name!r}",
                )

    def find_sample_by_sample_id(self, sample_id: int | str) -> LegacyDict | None:
        """The cached sample dict with this LIMS id (``limsID`` or ``sampleId``), or None."""
        wanted = str(sample_id)
        for sample in self.samples:
            if str(sample.get("limsID", sample.get("sampleId"))) == wanted:
                return sample
        return None
