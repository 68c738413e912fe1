"""What the user-type and proposal-type ISPyB LIMS objects share.

Configured with mxcubecore's keys (``ws_root``, ``ws_username``,
``ws_password``, ``authServerType``, ``loginTranslate``, ``proxy_address``,
``base_result_url``) plus timeouts and TLS settings, and the roles
``session`` and ``ldapServer``. ``init()`` builds the SOAP clients but
connects to nothing: a beamline loads while ISPyB is down, ``echo()`` then
says False and logins are refused with
:class:`~mxcubecore_lims.errors.LimsUnavailableError`.

Every write goes through :class:`~mxcubecore_lims.ispyb.adapter.IspybAdapter`
with our typed models; ids come back as ints.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import SecretStr, field_validator

from mxcubecore_lims.errors import (
    IspybCredentialsError,
    LimsAuthenticationError,
    LimsConfigError,
    LimsDataError,
    LimsNoSessionError,
    LimsNotSupportedError,
)
from mxcubecore_lims.HardwareObjects.AbstractLims import AbstractLims, Id
from mxcubecore_lims.ispyb.adapter import IspybAdapter
from mxcubecore_lims.ispyb.proposal_codes import ProposalCodes
from mxcubecore_lims.ispyb.results import IspybSessionReader, read_session
from mxcubecore_lims.ispyb.services import IspybConnection, IspybServices
from mxcubecore_lims.ispyb.sessions import session_from_ispyb
from mxcubecore_lims.ispyb.shipments import IspybShipmentImporter
from mxcubecore_lims.model import (
    BeamlineSetup,
    DataCollection,
    DataCollectionGroup,
    EnergyScan,
    EnergyScanSampleAssociation,
    Image,
    Lims,
    RobotAction,
    Sample,
    SampleUpdate,
    Session,
    Workflow,
    XfeSpectrum,
)
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.mounts import ShipmentImportReport, mounted_samples
from mxcubecore_lims.mxlims.reading import SessionReading, SessionSweep

__all__ = ["ISPyBAbstractLims"]


class ISPyBAbstractLims(AbstractLims):
    """ISPyB over SOAP: configuration, authentication, sessions, samples and storing."""

    #: Written through the broker with ``delivery: broker``: ISPyB names a
    #: collection by its files, so an ingester can tell what is already stored.
    broker_kinds = frozenset({"data_collection", "data_collection_update", "data_collection_end", "image"})

    #: Roles this object looks up (shown by ``mxcubecore-lims describe``).
    CONFIG_ROLES = {
        "session": "the Session object (beamline name, proposal-code table); else HWR.beamline.session",
        "ldapServer": "the LdapAuthenticator that checks passwords when authServerType is ldap",
    }

    class HOConfig(AbstractLims.HOConfig):
        """Configuration keys (mxcubecore's names kept)."""

        ws_root: str
        """Base URL of the web services, e.g. ``https://ispyb.example.org/ispyb/ispyb-ws/ispybWS/``."""
        ws_username: str | None = None
        """Web-service account."""
        ws_password: SecretStr | None = None
        """Its password (use ``${env:...}`` or ``${file:...}``)."""
        authServerType: Literal["ldap", "ispyb"] = "ldap"  # noqa: N815 (mxcubecore's key)
        """Who checks user passwords: the ``ldapServer`` role object, or ISPyB itself."""
        loginTranslate: bool = True  # noqa: N815 (mxcubecore's key)
        """Translate proposal codes with the session object's ``proposals`` table."""
        proxy_address: str | None = None
        """HTTP(S) proxy for ISPyB."""
        base_result_url: str | None = None
        """Prefix of links to results in ISPyB's web pages."""
        connect_timeout: float = 5.0
        """Seconds to connect to ISPyB."""
        read_timeout: float = 20.0
        """Seconds to wait for an ISPyB answer."""
        verify_tls: bool = True
        """Verify ISPyB's certificate (``https``)."""
        ca_file: str | None = None
        """CA bundle to verify it with (default: the system's)."""
        new_session_days: int = 2
        """Length of sessions created for local proposal logins, in days (ends at 07:59:59)."""
        crims_username: str | None = None
        """ISPyB's ``crims`` account: the only one ISPyB lets list a shipping's collections (MXLIMS export)."""
        crims_password: SecretStr | None = None
        """Its password (use ``${env:...}`` or ``${file:...}``)."""

        @field_validator("ws_root")
        @classmethod
        def _ends_with_slash(cls, value: str) -> str:
            value = value.strip()
            if not value.startswith(("http://", "https://")):
                raise ValueError("ws_root must be an http:// or https:// URL")
            return value if value.endswith("/") else value + "/"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.adapter: IspybAdapter | None = None
        self._codes: ProposalCodes | None = None
        self._full_names: dict[str, str] = {}
        self._energy_scans: dict[int, EnergyScan] = {}
        self._last_user = ""
        self._crims_services: IspybServices | None = None

    # ------------------------------------------------------------ set-up

    def init(self) -> None:
        """Builds the SOAP clients; connects to nothing."""
        self.adapter = self._create_adapter(self._connection())
        super().init()

    def proposal_codes(self) -> ProposalCodes:
        """The session object's ``proposals`` table, read on first use.

        Not at ``init()``: the LIMS object may load before the session object.
        (A method, not a property: mxcubecore's ``init()`` reads every attribute.)
        """
        if self._codes is None:
            proposals = self._session_object().get_property("proposals")
            self._codes = ProposalCodes.from_session_config(proposals, f"{self.name}: session")
        return self._codes

    def _connection(self) -> IspybConnection:
        config = self.config
        return IspybConnection(
            ws_root=config.ws_root,
            username=config.ws_username,
            password=config.ws_password,
            proxy=config.proxy_address,
            verify=config.ca_file or config.verify_tls,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
        )

    def _create_adapter(self, connection: IspybConnection) -> IspybAdapter:
        """Factory seam for the data adapter."""
        return IspybAdapter(IspybServices(connection))

    def _role(self, name: str) -> Any:
        """A role object by name, whatever the case it was configured with."""
        found = self.get_object_by_role(name)
        if found is None:
            for role, obj in self.objects_by_role.items():
                if role.lower() == name.lower():
                    return obj
        return found

    @property
    def _ispyb(self) -> IspybAdapter:
        if self.adapter is None:
            raise LimsConfigError(f"ISPyB LIMS object '{self.name}' is not initialised")
        return self.adapter

    # ---------------------------------------------------------- identity

    def get_lims_name(self) -> list[Lims]:
        """ISPyB is this object's only LIMS."""
        return [Lims(name="ISPyB", description="ISPyB over SOAP")]

    def get_user_name(self) -> str:
        """The user name of the latest login."""
        return self._last_user

    def get_full_user_name(self) -> str:
        """The full name of the latest login's user."""
        return self._full_names.get(self._last_user, self._last_user)

    def echo(self) -> bool:
        """True when ISPyB answers now. Never raises."""
        return self.adapter is not None and self.adapter.echo()

    # ------------------------------------------------------ authentication

    def authenticate(self, login: str, password: str) -> str | None:
        """Checks a password with the configured authentication server.

        Returns:
            The user's full name when the server told it, else None.

        Raises:
            LimsAuthenticationError: Wrong credentials (a typed subclass).
            LimsUnavailableError: The authentication server is down.
            LimsConfigError: ``authServerType`` is ldap and there is no ``ldapServer`` role.
        """
        if not isinstance(password, str) or not password.strip():
            raise LimsAuthenticationError("a password is required")
        if self.config.authServerType == "ldap":
            ldap = self._role("ldapServer")
            if ldap is None:
                raise LimsConfigError(f"'{self.name}': authServerType is ldap but there is no ldapServer role")
            ldap.authenticate(login, password)
            user = ldap.get_user(login) if hasattr(ldap, "get_user") else None
            return getattr(user, "full_name", None)
        # ISPyB checks the person's own password: a call with their credentials.
        try:
            self._ispyb.services.check_credentials(login, password)
        except IspybCredentialsError as error:
            raise LimsAuthenticationError("wrong user name or password") from error
        return None

    # ------------------------------------------------------------ sessions

    def _sessions(self, code: str, number: str, proposal: dict[str, Any] | None = None) -> list[Session]:
        """This proposal's current sessions on this beamline, as Session models."""
        found = self._ispyb.find_sessions(code, number, self.beamline_name)
        return [session_from_ispyb(item, self.beamline_name, proposal) for item in found]

    def create_session(self, proposal: Any) -> Session | None:
        """Creates a session on this beamline from today 00:00 for ``new_session_days``.

        Args:
            proposal: A proposal dict (with ``proposalId``) or a proposal id.

        Returns:
            The new session.
        """
        proposal_id = proposal.get("proposalId") if isinstance(proposal, dict) else proposal
        if not proposal_id:
            raise LimsDataError("Proposal", "proposalId", proposal_id, "a proposal id is needed")
        today = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
        end = (today + timedelta(days=self.config.new_session_days)).replace(hour=7, minute=59, second=59)
        session_id = self._ispyb.create_session(int(proposal_id), self.beamline_name, today, end)
        found = self._ispyb.find_session(session_id)
        if not found:
            raise LimsNoSessionError(f"ISPyB did not keep the session it created for proposal {proposal_id}")
        return session_from_ispyb(found, self.beamline_name, proposal if isinstance(proposal, dict) else None)

    def session_for_proposal(self, code: str, number: str, create: bool = False) -> Session | None:
        """This proposal's current session here (ISPyB's rule: started, not ended); created when ``create`` and there is none.

        Used by composite LIMS objects (ESRFLIMS) that choose the ISPyB session
        matching a session chosen in another LIMS.

        Raises:
            LimsNoSessionError: ISPyB has no such proposal (only when creating).
        """
        found = self._sessions(code, number)
        current = [s for s in found if s.is_scheduled_time] or found
        if current:
            return current[0]
        if not create:
            return None
        proposal = self._ispyb.find_proposal(code, number)
        if not proposal:
            raise LimsNoSessionError(f"ISPyB has no proposal {code}{number}")
        return self.create_session(proposal)

    def get_proposals_by_user(self, login_id: str) -> list[dict[str, Any]]:
        """The user's proposal on this beamline with its person, laboratory and sessions."""
        proposal = self._ispyb.find_proposal_by_login_and_beamline(login_id, self.beamline_name)
        if not proposal:
            return []
        code, number = proposal.get("code", ""), proposal.get("number", "")
        return [
            {
                "Proposal": proposal,
                "Person": self._ispyb.find_person_by_login(login_id) or {},
                "Laboratory": self._ispyb.find_laboratory_by_proposal(code, number) or {},
                "Session": self._ispyb.find_sessions(code, number, self.beamline_name),
            }
        ]

    def _active_session_or_raise(self) -> Session:
        active = self.session_manager.active_session
        if active is None:
            raise LimsNoSessionError(f"'{self.name}': no active session")
        return active

    # ---------------------------------------------------------------- MXLIMS

    def import_mxlims(self, document: MxlimsDocument) -> ShipmentImportReport:
        """Stores the shipments in the active session's proposal, one atomic ``storeShipping`` each.

        See :mod:`mxcubecore_lims.ispyb.shipments`: a repeat creates nothing,
        and an import cut off between two shipments completes when run again.
        """
        active = self._active_session_or_raise()
        self._check_shipment_proposal(document, active)
        importer = IspybShipmentImporter(
            self._ispyb.services, str(active.code), str(active.number), int(active.proposal_id), self.beamline_name
        )
        return importer.run(document, mounted_samples(document), lims=f"ISPyB {active.proposal_name}")

    def read_session(self, session_id: str | None = None, as_user: str | None = None) -> SessionReading:
        """The session's samples and collections, read back from ISPyB (see :mod:`mxcubecore_lims.ispyb.results`).

        ISPyB is read with the web-service accounts whoever the user (``as_user`` is ignored).

        Raises:
            LimsNotSupportedError: No ``crims_username``/``crims_password``.
        """
        if session_id is None:
            session_id = str(self._active_session_or_raise().session_id)
        reader = IspybSessionReader(self._ispyb.services, self._crims())
        return read_session(reader, int(session_id), self.beamline_name, self.config.site_domain)

    def read_collections(self, collection_ids: list[str]) -> list[SessionSweep]:
        """Collections read back from ISPyB by id (ids the outbox journal knows; see ``findDataCollection``)."""
        reader = IspybSessionReader(self._ispyb.services, self._ispyb.services)
        return reader.collections_by_id(int(i) for i in collection_ids if str(i).isdigit())

    def _crims(self) -> IspybServices:
        config = self.config
        if not config.crims_username or config.crims_password is None:
            raise LimsNotSupportedError(
                f"'{self.name}': reading results back from ISPyB needs its 'crims' account "
                "(crims_username, crims_password): ISPyB lets only that account list a shipping's collections"
            )
        if self._crims_services is None:
            update = {"username": config.crims_username, "password": config.crims_password}
            self._crims_services = IspybServices(self._connection().model_copy(update=update))
        return self._crims_services

    # ------------------------------------------------------------- samples

    def _fetch_samples(self, lims_name: str) -> list[Sample]:
        active = self._active_session_or_raise()
        return self._ispyb.find_samples(int(active.proposal_id), self.beamline_name)

    # ------------------------------------------------------------- storing

    def _session_id_for(self, given: Any, record: Any = None) -> int:
        """The session a record goes to: its own, else its proposal's, else the active one.

        A record a composite LIMS could not give a session (ISPyB did not
        answer when the session was chosen) names its proposal instead
        (``proposalCode``/``proposalNumber``); its session is looked up when
        it is delivered, never taken from whatever session is active then.
        """
        if given not in (None, "", 0, -1):
            return int(given)
        extra = getattr(record, "model_extra", None) or {}
        code, number = extra.get("proposalCode"), extra.get("proposalNumber")
        if code and number:
            found = self.session_for_proposal(str(code), str(number))
            if found is None:
                raise LimsNoSessionError(f"ISPyB has no session for {code}{number} on {self.beamline_name} now")
            return int(found.session_id)
        return int(self._active_session_or_raise().session_id)

    def _write_data_collection(self, collection: DataCollection, setup: BeamlineSetup | None) -> tuple[Id, Id]:
        session_id = self._session_id_for(collection.session_id, collection)
        # Three ISPyB writes make one record: each id is kept in the journal as
        # it comes, so a retry after ISPyB went away half-way resumes.
        step = self.delivery_checkpoint
        detector_id = None
        if setup is not None:
            if step.get("beamline_setup_id") is None:
                step.save("beamline_setup_id", self._ispyb.store_beamline_setup(session_id, setup))
            detector_id = self._ispyb.find_detector(setup)
        group_id = collection.group_id or step.get("group_id")
        if not group_id:
            group_id = self._ispyb.store_data_collection_group(self._group_of(collection, session_id))
            step.save("group_id", group_id)
        elif collection.group_id and not step.get("group_linked"):
            # The queue's task group stored its group without the sample (mxcubecore's
            # TaskGroupQueueEntry sends session, type and slots only); ISPyB links a
            # collection to its sample through the group, so the group gets it now,
            # as mxcubecore's own value factory re-stores it from the collection.
            group = self._group_of(collection, session_id)
            if group.bl_sample_id is not None:
                group = group.model_copy(update={"data_collection_group_id": int(group_id)})
                self._ispyb.store_data_collection_group(group)
            step.save("group_linked", True)
        if collection.session_id in (None, ""):
            collection = collection.model_copy(update={"session_id": session_id})
        info = collection.fileinfo
        if step.previous_attempts and info is not None and info.directory and info.prefix:
            # An earlier attempt may have stored it and lost the answer.
            # str(): zeep sends a path as its text anyway.
            found = self._ispyb.find_data_collection_by_files(str(info.directory), info.prefix, info.run_number or 1)
            if found is not None:
                return found, detector_id
        collection_id = self._ispyb.store_data_collection(collection, int(group_id), detector_id)
        return collection_id, detector_id

    def find_collection_by_files(self, files: dict[str, Any]) -> int | None:
        """The ISPyB collection whose images are ``directory``/``prefix``/``run_number``, or None."""
        return self._ispyb.find_data_collection_by_files(
            str(files["directory"]), str(files["prefix"]), int(files.get("run_number") or 1)
        )

    @staticmethod
    def _group_of(collection: DataCollection, session_id: int) -> DataCollectionGroup:
        """The group of a collection stored without one, as mxcubecore's value factory builds it.

        The sample, its place in the sample changer and the start time belong
        to the group in ISPyB: without them the collection is not linked to
        its sample.
        """
        reference = collection.sample_reference
        sample_id = collection.bl_sample_id or (reference.bl_sample_id if reference is not None else None)
        values = {
            "sessionId": session_id,
            "experimentType": collection.experiment_type or "OSC",
            "blSampleId": (
                sample_id
                if sample_id is not None and str(sample_id).lstrip("-").isdigit() and int(sample_id) > 0
                else None
            ),
            "actualContainerSlotInSC": collection.actual_container_slot_in_sc,
            "actualSampleSlotInContainer": collection.actual_sample_slot_in_container,
            "actualContainerBarcode": collection.actual_container_barcode,
            "actualSampleBarcode": collection.actual_sample_barcode,
            "workflowId": collection.workflow_id,
            "startTime": collection.collection_start_time,
        }
        return DataCollectionGroup.from_legacy({k: v for k, v in values.items() if v not in (None, "")})

    def _write_data_collection_update(self, collection: DataCollection) -> None:
        if not collection.collection_id:
            raise LimsDataError("DataCollection", "collection_id", collection.collection_id, "needed to update")
        self._ispyb.store_data_collection(collection)

    def _write_data_collection_end(self, collection: DataCollection) -> None:
        self._write_data_collection_update(collection)

    def _write_data_collection_group(self, group: DataCollectionGroup) -> Id:
        if group.session_id in (None, ""):
            group = group.model_copy(update={"session_id": self._session_id_for(None, group)})
        return self._ispyb.store_data_collection_group(group)

    def _write_beamline_setup(self, session_id: str, setup: BeamlineSetup) -> Id:
        return self._ispyb.store_beamline_setup(int(session_id), setup)

    def _write_image(self, image: Image) -> Id:
        return self._ispyb.store_image(image)

    def _write_robot_action(self, action: RobotAction) -> Id:
        if action.session_id in (None, ""):
            action = action.model_copy(update={"session_id": self._session_id_for(None, action)})
        return self._ispyb.store_robot_action(action)

    def _write_energy_scan(self, scan: EnergyScan) -> Id:
        if scan.session_id in (None, ""):
            scan = scan.model_copy(update={"session_id": self._session_id_for(None, scan)})
        scan_id = self._ispyb.store_energy_scan(scan)
        self._energy_scans[scan_id] = scan
        return scan_id

    def _write_energy_scan_association(self, association: EnergyScanSampleAssociation) -> Id:
        # ISPyB has no link operation: the scan row holds the sample. An update
        # rewrites every column, so the whole scan is sent again, as stored.
        stored = self._energy_scans.get(int(association.energy_scan_id))
        if stored is None:
            raise LimsDataError(
                "EnergyScanSampleAssociation",
                "energyScanId",
                association.energy_scan_id,
                "not an energy scan stored by this MXCuBE",
            )
        linked = stored.model_copy(
            update={"energy_scan_id": int(association.energy_scan_id), "bl_sample_id": association.bl_sample_id}
        )
        return self._ispyb.store_energy_scan(linked)

    def _write_xfe_spectrum(self, spectrum: XfeSpectrum) -> Id:
        if spectrum.session_id in (None, ""):
            spectrum = spectrum.model_copy(update={"session_id": self._session_id_for(None, spectrum)})
        return self._ispyb.store_xfe_spectrum(spectrum)

    def _write_sample_update(self, sample: SampleUpdate) -> None:
        self._ispyb.update_bl_sample(sample)

    def _write_workflow(self, workflow: Workflow) -> tuple[Id, Id, Id]:
        # The ISPyB SOAP services sites run today store no workflows (the
        # operations are gone); AbstractOnlineProcessing still needs 3 values.
        self.log.warning("ISPyB stores no workflows over SOAP; workflow %s not stored", workflow.workflow_type)
        return None, None, None
