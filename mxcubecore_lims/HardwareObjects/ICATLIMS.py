"""ICAT LIMS object: the ICAT API itself, through python-icat.

People log in with their own account (ICAT authentication plugin). Their
sessions are the investigations on this beamline's ``compatible_beamlines``
within ``before_offset_days``/``after_offset_days`` of today; instrument
scientists of those beamlines see every one of them. Samples are the
investigation's ICAT samples (sample-changer places by the convention of
:mod:`mxcubecore_lims.icat.samples`). A finished collection becomes an ICAT
Dataset with its parameters and files, and a ``metadata.json`` beside the
data.

Unlike mxcubecore's ICATLIMS (ICAT+ REST and a message broker), ``login``
returns the session manager, so this object works directly under mxcubeweb.

XML::

    <object class="mxcubecore_lims.HardwareObjects.ICATLIMS">
      <object href="/session" role="session"/>
      <icat_url>https://icat.example.org</icat_url>
      <authentication_icat_plugin>ldap</authentication_icat_plugin>
      <compatible_beamlines>ID30A-1, ID30A-3</compatible_beamlines>
      <data_portal_url>https://data.example.org/investigation/{id}/datasets</data_portal_url>
    </object>
"""

from __future__ import annotations

import collections
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, List, Optional, Tuple

from pydantic import field_validator

from mxcubecore_lims import errors
from mxcubecore_lims.errors import (
    IcatError,
    IcatObjectExistsError,
    IcatPrivilegesError,
    IcatUnavailableError,
    LimsAuthenticationError,
    LimsConfigError,
    LimsDataError,
    LimsNoSessionError,
)
from mxcubecore_lims.HardwareObjects.AbstractLims import AbstractLims, Id
from mxcubecore_lims.icat.datasets import DatasetUploader, UploadResult
from mxcubecore_lims.icat.gateway import IcatGateway, IcatSettings, jpql_string, jpql_timestamp
from mxcubecore_lims.icat.metadata import (
    DatasetRecord,
    collection_record,
    energy_scan_record,
    write_metadata_json,
    xfe_spectrum_record,
)
from mxcubecore_lims.icat.samples import samples_from_icat
from mxcubecore_lims.icat.sessions import SessionContext, session_from_investigation
from mxcubecore_lims.model import (
    BeamlineSetup,
    DataCollection,
    DataCollectionGroup,
    EnergyScan,
    Image,
    Lims,
    LimsSessionManager,
    RobotAction,
    Sample,
    SampleUpdate,
    Session,
    Workflow,
    XfeSpectrum,
)

__all__ = ["ICATLIMS"]

#: Finished collections remembered for a repeated finalize.
_FINALIZED_KEPT = 200


@dataclass
class _Identity:
    """What ICAT told about a logged-in user."""

    icat_name: str
    full_name: str
    is_staff: bool


@dataclass(frozen=True)
class _WriteContext:
    """Where an upload goes: fixed when the write is made, journalled with it."""

    investigation_id: int
    investigation_name: str
    actual_instrument: Optional[str]
    scheduled_instrument: Optional[str]
    sample_ids: List[int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "investigation_id": self.investigation_id,
            "investigation_name": self.investigation_name,
            "actual_instrument": self.actual_instrument,
            "scheduled_instrument": self.scheduled_instrument,
            "sample_ids": list(self.sample_ids),
        }


@dataclass
class _PendingCollection:
    """A collection between ``store_data_collection`` and ``finalize_data_collection``."""

    collection: DataCollection
    images: list[Image] = field(default_factory=list)


def _merge(old: DataCollection, new: DataCollection) -> DataCollection:
    # Updates carry the whole dict again, sometimes with fewer keys: keep
    # what an earlier call told and the later one left out.
    merged = old.to_legacy()
    merged.update({k: v for k, v in new.to_legacy().items() if v is not None})
    return DataCollection.from_legacy(merged)


class ICATLIMS(AbstractLims):
    """ICAT over its SOAP API (python-icat): user login, investigations, samples, datasets."""

    #: Roles this object looks up (shown by ``mxcubecore-lims describe``).
    CONFIG_ROLES = {"session": "the Session object (beamline name); else HWR.beamline.session"}

    class HOConfig(AbstractLims.HOConfig):
        """Configuration keys (mxcubecore's ICATLIMS names where they still apply)."""

        icat_url: str
        """ICAT server URL, e.g. ``https://icat.example.org`` (python-icat adds the service path)."""
        authentication_icat_plugin: str = "esrf"
        """ICAT authentication plugin people log in with (``simple``, ``ldap``, ``db``, ...)."""
        compatible_beamlines: Optional[List[str]] = None
        """Instruments whose investigations are offered (default: this beamline). Comma-separated or repeated."""
        override_beamline_name: Optional[str] = None
        """The host beamline for "scheduled here" (default: the session object's beamline name)."""
        before_offset_days: int = 1
        """Offer investigations that end at most this many days before today."""
        after_offset_days: int = 1
        """Offer investigations that start at most this many days after today."""
        only_staff_session_selection: bool = False
        """Only staff choose sessions; other users may join only the active one."""
        staff_users: List[str] = []
        """ICAT user names (``plugin/name``) treated as staff besides the instrument scientists."""
        data_portal_url: Optional[str] = None
        """Link to an investigation's data; ``{id}`` is the investigation id."""
        user_portal_url: Optional[str] = None
        """Link to the user portal; ``{id}`` is the investigation's ``Id`` parameter (or its id)."""
        logbook_url: Optional[str] = None
        """Link to the electronic logbook; ``{id}`` is the investigation id."""
        use_set_endstation_name: bool = False
        """Tell the session object the beamline of the session chosen (``set_endstation_name``)."""
        dataset_type: str = "acquisition"
        """ICAT DatasetType of the datasets of collections, energy scans and spectra."""
        verify_tls: bool = True
        """Verify ICAT's certificate (``https``)."""
        ca_file: Optional[str] = None
        """CA bundle to verify it with (default: the system's)."""
        connect_timeout: float = 20.0
        """Seconds allowed to connect (python-icat reads the WSDL and entity information then)."""
        read_timeout: float = 20.0
        """Seconds to wait for each ICAT answer."""

        @field_validator("icat_url")
        @classmethod
        def _is_http(cls, value: str) -> str:
            value = value.strip()
            if not value.startswith(("http://", "https://")):
                raise ValueError("icat_url must be an http:// or https:// URL")
            return value

        @field_validator("compatible_beamlines", "staff_users", mode="before")
        @classmethod
        def _split(cls, value: Any) -> Any:
            # XML gives "ID30A-1, ID30A-3" as one text; repeated leaves a list.
            if value is None:
                return None
            items = value if isinstance(value, (list, tuple)) else [value]
            return [part for item in items for part in re.split(r"[,\s]+", str(item)) if part]

        @field_validator("before_offset_days", "after_offset_days")
        @classmethod
        def _not_negative(cls, value: int) -> int:
            if value < 0:
                raise ValueError("must be 0 or more days")
            return value

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.gateway: Optional[IcatGateway] = None
        self.uploader: Optional[DatasetUploader] = None
        self._identities: dict[str, _Identity] = {}
        self._last_user = ""
        self._collections: dict[int, _PendingCollection] = {}
        # Finished collections, for a finalize repeated by the caller (bounded).
        self._finalized: collections.OrderedDict[int, _PendingCollection] = collections.OrderedDict()
        self._local_ids = itertools.count(1)
        self._sample_ids: set[int] = set()
        self._allowed: dict[str, str] = {}
        self._host_instrument_id: Optional[int] = None

    # ------------------------------------------------------------ set-up

    def init(self) -> None:
        """Prepares the python-icat gateway; connects to nothing."""
        config = self.config
        settings = IcatSettings(
            url=config.icat_url,
            verify_tls=config.verify_tls,
            ca_file=config.ca_file,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
        )
        self.gateway = self._create_gateway(settings)
        self.uploader = DatasetUploader(self.gateway, config.dataset_type)
        super().init()

    def _create_gateway(self, settings: IcatSettings) -> IcatGateway:
        """Factory seam: one shared gateway (and python-icat client) per ICAT server."""
        return IcatGateway.shared(settings)

    @property
    def _icat(self) -> IcatGateway:
        if self.gateway is None:
            raise LimsConfigError(f"ICAT LIMS object '{self.name}' is not initialised")
        return self.gateway

    @property
    def host_beamline(self) -> str:
        """The beamline "scheduled here" is judged against."""
        return self.config.override_beamline_name or self.beamline_name

    def compatible_beamlines(self) -> List[str]:
        """Instruments whose investigations are offered (a method: never read at init)."""
        return list(self.config.compatible_beamlines or [self.host_beamline])

    def is_scheduled_on_host_beamline(self, beamline: str) -> bool:
        """True when ``beamline`` is the host beamline (``override_beamline_name``)."""
        return beamline.strip().upper() == self.host_beamline.strip().upper()

    # ---------------------------------------------------------- identity

    def get_lims_name(self) -> List[Lims]:
        """ICAT is this object's only LIMS."""
        return [Lims(name="ICAT", description="ICAT metadata catalogue")]

    def get_user_name(self) -> str:
        """ICAT's name of the latest login's user (``plugin/name``)."""
        identity = self._identities.get(self._last_user)
        return identity.icat_name if identity else self._last_user

    def get_full_user_name(self) -> str:
        """Full name of the latest login's user."""
        identity = self._identities.get(self._last_user)
        return identity.full_name if identity else self._last_user

    def is_user_login_type(self) -> bool:
        """Always True: people log in with their own account."""
        return True

    def echo(self) -> bool:
        """True when ICAT answers now. Never raises."""
        return self.gateway is not None and self.gateway.echo()

    def is_staff(self, user_name: Optional[str] = None) -> bool:
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
            users = client.search(f"SELECT o FROM User o WHERE o.name = {jpql_string(name)}")
            full_name = str(getattr(users[0], "fullName", None) or name) if users else name
            staff = name in self.config.staff_users or bool(
                client.search(
                    "SELECT COUNT(o) FROM InstrumentScientist o JOIN o.user AS u JOIN o.instrument AS i "
                    f"WHERE u.name = {jpql_string(name)} AND UPPER(i.name) IN ({beamlines})"
                )[0]
            )
            return _Identity(name, full_name, staff)

        return self._icat.call(key, "read user", read)

    def _list_sessions(self, key: str, identity: _Identity) -> List[Session]:
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

    def refresh_sessions(self, user_name: Optional[str] = None) -> List[Session]:
        """Reads a logged-in user's sessions again (e.g. after a reschedule)."""
        key = user_name or self._last_user
        identity = self._identities.get(key)
        if identity is None:
            raise LimsNoSessionError(f"user '{key}' is not logged in to ICAT")
        sessions = self._list_sessions(key, identity)
        self.add_user(key, sessions)
        return sessions

    def get_proposals_by_user(self, login_id: str) -> List[dict]:
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
        candidates = ([active.user_name] if active else []) + list(self.session_manager.users)
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

    # ------------------------------------------------------ session choice

    def _on_session_activated(self, session: Session) -> None:
        self._sample_ids = set()
        if self.config.use_set_endstation_name:
            target = self._session_object()
            if hasattr(target, "set_endstation_name"):
                target.set_endstation_name(session.beamline_name.lower())

    def allow_session(self, session: Session) -> None:
        """Takes over a session scheduled on another beamline (a breakdown), recorded in ICAT.

        The record is an InvestigationInstrument linking the investigation to
        the host beamline, so ICAT (and every later session list) shows that
        it now runs here. When the user may not write it (ICAT's rules decide),
        the take-over is kept in this process only, and logged.
        """
        super().allow_session(session)
        if self.is_scheduled_on_host_beamline(session.beamline_name or ""):
            return
        self._allowed[session.session_id] = session.beamline_name
        key = self._acting_user()
        try:
            instrument_id = self._host_instrument(key)
            self._icat.call(
                key,
                "record the session on the host beamline",
                lambda client: client.create(
                    client.new(
                        "InvestigationInstrument",
                        investigation=client.new("Investigation", id=int(session.session_id)),
                        instrument=client.new("Instrument", id=instrument_id),
                    )
                ),
            )
            self.log.info("investigation %s now also runs on %s in ICAT", session.proposal_name, self.host_beamline)
        except IcatObjectExistsError:
            self.log.info("investigation %s was already on %s in ICAT", session.proposal_name, self.host_beamline)
        except (IcatPrivilegesError, LimsDataError) as error:
            self.log.warning(
                "session %s taken over on %s, but not recorded in ICAT: %s",
                session.proposal_name,
                self.host_beamline,
                error,
            )

    def _host_instrument(self, key: str) -> int:
        if self._host_instrument_id is None:
            wanted = jpql_string(self.host_beamline.upper())
            found = self._icat.call(
                key,
                "read Instrument",
                lambda client: client.search(f"SELECT o.id FROM Instrument o WHERE UPPER(o.name) = {wanted}"),
            )
            if not found:
                raise LimsDataError("Instrument", "name", self.host_beamline, "ICAT has no such instrument")
            self._host_instrument_id = int(found[0])
        return self._host_instrument_id

    # ------------------------------------------------------------- samples

    def _fetch_samples(self, lims_name: str) -> List[Sample]:
        active = self._active_session_or_raise()
        investigation_id = int(active.session_id)

        def read(client: Any) -> list[Any]:
            query = self._icat.query(
                "Sample",
                conditions={"investigation.id": f"= {investigation_id}"},
                includes=["parameters.type"],
                order=["name"],
            )
            return list(client.search(query))

        found = self._icat.call(self._acting_user(), "read samples", read)
        self._sample_ids = {int(s.id) for s in found}
        return samples_from_icat(found)

    # ------------------------------------------------------------- storing

    def _instruments_for(self, session: Session) -> tuple[Optional[str], Optional[str]]:
        scheduled_elsewhere = self._allowed.get(session.session_id)
        if scheduled_elsewhere is None:
            return None, None
        return self.host_beamline, scheduled_elsewhere

    def _context(self) -> _WriteContext:
        """Where a write goes, judged when the call is made (the active session)."""
        session = self._active_session_or_raise()
        actual, scheduled = self._instruments_for(session)
        return _WriteContext(
            investigation_id=int(session.session_id),
            investigation_name=session.proposal_name,
            actual_instrument=actual,
            scheduled_instrument=scheduled,
            sample_ids=sorted(self._sample_ids),
        )

    def _journal_payload(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Journals what an ICAT upload needs besides the caller's dict.

        The investigation, the take-over instruments and the known samples are
        fixed at the call; for a collection's end, so are its merged values
        and images: a replay after a restart has none of this in memory.
        """
        if kind not in ("data_collection_end", "energy_scan", "xfe_spectrum"):
            return payload
        payload = dict(payload)
        if self.session_manager.active_session is not None:
            payload["icat"] = self._context().as_dict()
        if kind == "data_collection_end":
            collection_id = payload["collection"].get("collection_id")
            pending = self._collections.get(collection_id) if isinstance(collection_id, int) else None
            if pending is not None:
                merged = _merge(pending.collection, DataCollection.from_legacy(payload["collection"]))
                payload["collection"] = merged.to_legacy()
                payload["images"] = [image.to_legacy() for image in pending.images]
        return payload

    def _deliver_now(self, kind: str, payload: dict[str, Any]) -> Any:
        if kind not in ("data_collection_end", "energy_scan", "xfe_spectrum"):
            return super()._deliver_now(kind, payload)
        try:
            context = _WriteContext(**payload["icat"]) if "icat" in payload else self._context()
        except LimsNoSessionError as error:
            raise errors.LimsMetadataGatherError(f"{kind}: no session to file it under: {error}") from error
        if kind == "energy_scan":
            scan = EnergyScan.from_legacy(payload["scan"])
            record = energy_scan_record(scan, context.sample_ids, context.actual_instrument, context.scheduled_instrument)
            return self._upload(record, context).dataset_id
        if kind == "xfe_spectrum":
            spectrum = XfeSpectrum.from_legacy(payload["spectrum"])
            record = xfe_spectrum_record(
                spectrum, context.sample_ids, context.actual_instrument, context.scheduled_instrument
            )
            return self._upload(record, context).dataset_id
        collection = DataCollection.from_legacy(payload["collection"])
        images = [Image.from_legacy(i) for i in payload.get("images", [])]
        return self._finish_collection(collection, images if "images" in payload else None, context)

    def _upload(self, record: DatasetRecord, context: _WriteContext) -> UploadResult:
        """Writes ``metadata.json`` (when there is a location) and creates the dataset.

        Raises:
            LimsMetadataWriteError: ``metadata.json`` could not be written.
            LimsMetadataUploadError: ICAT refused the dataset or did not answer.
        """
        investigation = {"id": context.investigation_id, "name": context.investigation_name}
        unwritten: Optional[OSError] = None
        if record.location:
            try:
                write_metadata_json(record, investigation)
            except OSError as error:
                # The dataset still goes to ICAT; the error is raised after.
                self.log.error("metadata.json for %s not written: %s", record.name, error)
                unwritten = error
        try:
            assert self.uploader is not None
            result = self.uploader.upload(self._acting_user(), context.investigation_id, record)
        except (IcatError, LimsNoSessionError) as error:
            self.log.error("dataset %s not stored in ICAT: %s", record.name, error)
            raise errors.LimsMetadataUploadError(f"dataset {record.name} not stored in ICAT: {error}") from error
        self.log.info(
            "dataset %s %s in ICAT (id %s)", result.name, "created" if result.created else "already", result.dataset_id
        )
        if unwritten is not None:
            raise errors.LimsMetadataWriteError(
                f"dataset {result.name} is in ICAT (id {result.dataset_id}), but metadata.json could not be "
                f"written in {record.location}: {unwritten}"
            ) from unwritten
        return result

    def _new_local_id(self) -> int:
        # Journalled records of an earlier run may still carry local ids:
        # with an outbox, numbering continues across restarts.
        if self.outbox is not None:
            return self.outbox.next_number("icat_local_id")
        return next(self._local_ids)

    def _write_data_collection(
        self, collection: DataCollection, setup: Optional[BeamlineSetup]
    ) -> Tuple[Id, Id]:
        # ICAT keeps finished datasets only: the collection waits here for its
        # end; the id is ours (MX_dataCollectionId in ICAT).
        local_id = self._new_local_id()
        self._collections[local_id] = _PendingCollection(collection)
        return local_id, None

    def _pending(self, collection: DataCollection) -> _PendingCollection:
        if not collection.collection_id:
            raise LimsDataError("DataCollection", "collection_id", collection.collection_id, "needed to update")
        local_id = int(collection.collection_id)
        pending = self._collections.get(local_id) or self._finalized.get(local_id)
        if pending is None:
            # Not stored through this object (e.g. before a restart): start from here.
            pending = self._collections[local_id] = _PendingCollection(collection)
        else:
            pending.collection = _merge(pending.collection, collection)
        return pending

    def _write_data_collection_update(self, collection: DataCollection) -> None:
        self._pending(collection)

    def _write_data_collection_end(self, collection: DataCollection) -> None:
        """Finishes a collection in the active session (see :meth:`_finish_collection`)."""
        self._finish_collection(collection, None, self._context())

    def _finish_collection(
        self, collection: DataCollection, images: Optional[List[Image]], context: _WriteContext
    ) -> None:
        """Gathers the metadata, writes ``metadata.json`` and creates the Dataset.

        Args:
            collection: The collection's final dict.
            images: Its images as journalled, or None to use those stored
                through this object.
            context: Investigation, take-over instruments and known samples.

        Raises:
            LimsMetadataGatherError: The metadata could not be put together.
            LimsMetadataWriteError: ``metadata.json`` could not be written.
            LimsMetadataUploadError: ICAT refused the dataset or did not answer.
        """
        try:
            pending = self._pending(collection)
            if images is not None and not pending.images:
                pending.images = list(images)
            record = collection_record(
                pending.collection,
                pending.images,
                local_id=int(collection.collection_id),  # type: ignore[arg-type]
                sample_ids=context.sample_ids,
                actual_instrument=context.actual_instrument,
                scheduled_instrument=context.scheduled_instrument,
            )
        except Exception as error:
            self.log.error("metadata of collection %s not gathered: %s", collection.collection_id, error)
            raise errors.LimsMetadataGatherError(
                f"metadata of collection {collection.collection_id} not gathered: {error}"
            ) from error
        self._upload(record, context)
        local_id = int(collection.collection_id)  # type: ignore[arg-type]
        self._finalized[local_id] = self._collections.pop(local_id, pending)
        while len(self._finalized) > _FINALIZED_KEPT:
            self._finalized.popitem(last=False)

    def _write_data_collection_group(self, group: DataCollectionGroup) -> Id:
        # ICAT has no groups; datasets carry their experiment type instead.
        return self._new_local_id()

    def _write_beamline_setup(self, session_id: str, setup: BeamlineSetup) -> Id:
        return self._new_local_id()

    def _write_image(self, image: Image) -> Id:
        if image.data_collection_id is None:
            raise LimsDataError("Image", "dataCollectionId", None, "an image needs its collection")
        pending = self._collections.get(int(image.data_collection_id))
        if pending is None:
            raise LimsDataError("Image", "dataCollectionId", image.data_collection_id, "no such collection pending")
        pending.images.append(image)
        return self._new_local_id()

    def _write_robot_action(self, action: RobotAction) -> Id:
        self.log.debug("ICAT keeps no robot actions; %s not stored", action.action_type)
        return None

    def _write_energy_scan(self, scan: EnergyScan) -> Id:
        return self._deliver("energy_scan", self._journal_payload("energy_scan", {"scan": scan.to_legacy()}))

    def _write_xfe_spectrum(self, spectrum: XfeSpectrum) -> Id:
        return self._deliver(
            "xfe_spectrum", self._journal_payload("xfe_spectrum", {"spectrum": spectrum.to_legacy()})
        )

    def _write_sample_update(self, sample: SampleUpdate) -> None:
        self.log.debug("ICAT samples are not updated from the beamline; nothing stored")

    def _write_workflow(self, workflow: Workflow) -> Tuple[Id, Id, Id]:
        self.log.warning("ICAT stores no workflows; workflow %s not stored", workflow.workflow_type)
        return None, None, None

    def pending_collections(self) -> List[int]:
        """Ids of collections stored but not finalised yet."""
        return sorted(self._collections)

