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

The login and the sessions are in :mod:`mxcubecore_lims.lims.icat_sessions`,
the uploads in :mod:`mxcubecore_lims.lims.icat_uploads`; this module holds
the configuration, the set-up, the samples and the session choice.

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

import re
from typing import Any

from pydantic import field_validator

from mxcubecore_lims.errors import IcatObjectExistsError, IcatPrivilegesError, LimsDataError
from mxcubecore_lims.HardwareObjects.AbstractLims import AbstractLims
from mxcubecore_lims.icat.datasets import DatasetUploader
from mxcubecore_lims.icat.gateway import IcatGateway, IcatSettings, jpql_string
from mxcubecore_lims.icat.results import read_session_results
from mxcubecore_lims.icat.samples import samples_from_icat
from mxcubecore_lims.icat.shipments import IcatShipmentImporter
from mxcubecore_lims.lims.icat_uploads import IcatUploads
from mxcubecore_lims.model import Lims, Sample, Session
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.mounts import ShipmentImportReport, mounted_samples
from mxcubecore_lims.mxlims.reading import SessionInfo, SessionReading

__all__ = ["ICATLIMS"]


class ICATLIMS(IcatUploads, AbstractLims):
    """ICAT over its SOAP API (python-icat): user login, investigations, samples, datasets."""

    #: Roles this object looks up (shown by ``mxcubecore-lims describe``).
    CONFIG_ROLES = {"session": "the Session object (beamline name); else HWR.beamline.session"}

    class HOConfig(AbstractLims.HOConfig):
        """Configuration keys (mxcubecore's ICATLIMS names where they still apply)."""

        icat_url: str
        """ICAT server URL, e.g. ``https://icat.example.org`` (python-icat adds the service path)."""
        authentication_icat_plugin: str = "esrf"
        """ICAT authentication plugin people log in with (``simple``, ``ldap``, ``db``, ...)."""
        compatible_beamlines: list[str] | None = None
        """Instruments whose investigations are offered (default: this beamline). Comma-separated or repeated."""
        override_beamline_name: str | None = None
        """The host beamline for "scheduled here" (default: the session object's beamline name)."""
        before_offset_days: int = 1
        """Offer investigations that end at most this many days before today."""
        after_offset_days: int = 1
        """Offer investigations that start at most this many days after today."""
        only_staff_session_selection: bool = False
        """Only staff choose sessions; other users may join only the active one."""
        staff_users: list[str] = []
        """ICAT user names (``plugin/name``) treated as staff besides the instrument scientists."""
        data_portal_url: str | None = None
        """Link to an investigation's data; ``{id}`` is the investigation id."""
        user_portal_url: str | None = None
        """Link to the user portal; ``{id}`` is the investigation's ``Id`` parameter (or its id)."""
        logbook_url: str | None = None
        """Link to the electronic logbook; ``{id}`` is the investigation id."""
        use_set_endstation_name: bool = False
        """Tell the session object the beamline of the session chosen (``set_endstation_name``)."""
        dataset_type: str = "acquisition"
        """ICAT DatasetType of the datasets of collections, energy scans and spectra."""
        verify_tls: bool = True
        """Verify ICAT's certificate (``https``)."""
        ca_file: str | None = None
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
        # The gateway and the login state are set up by IcatSessions, the
        # uploader, pending collections and known samples by IcatUploads.
        super().__init__(name)
        self._host_instrument_id: int | None = None

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

    # ---------------------------------------------------------- identity

    def get_lims_name(self) -> list[Lims]:
        """ICAT is this object's only LIMS."""
        return [Lims(name="ICAT", description="ICAT metadata catalogue")]

    def is_user_login_type(self) -> bool:
        """Always True: people log in with their own account."""
        return True

    def echo(self) -> bool:
        """True when ICAT answers now. Never raises."""
        return self.gateway is not None and self.gateway.echo()

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
                lambda client: client.search(f"SELECT o.id FROM Instrument o WHERE UPPER(o.name) = {wanted}"),  # noqa: S608 (JPQL; jpql_string quotes the value)
            )
            if not found:
                raise LimsDataError("Instrument", "name", self.host_beamline, "ICAT has no such instrument")
            self._host_instrument_id = int(found[0])
        return self._host_instrument_id

    # ------------------------------------------------------------- samples

    def _fetch_samples(self, lims_name: str) -> list[Sample]:
        active = self._active_session_or_raise()
        found = self._read_samples(int(active.session_id))
        self._sample_ids = {int(s.id) for s in found}
        return samples_from_icat(found)

    def _read_samples(self, investigation_id: int, key: str | None = None) -> list[Any]:
        def read(client: Any) -> list[Any]:
            query = self._icat.query(
                "Sample",
                conditions={"investigation.id": f"= {investigation_id}"},
                includes=["parameters.type"],
                order=["name"],
            )
            return list(client.search(query))

        return list(self._icat.call(key or self._acting_user(), "read samples", read))

    def import_mxlims(self, document: MxlimsDocument) -> ShipmentImportReport:
        """Creates the shipment's samples in the active investigation (see :mod:`mxcubecore_lims.icat.shipments`)."""
        active = self._active_session_or_raise()
        self._check_shipment_proposal(document, active)
        importer = IcatShipmentImporter(self._icat, self._acting_user())
        return importer.run(int(active.session_id), mounted_samples(document), lims=f"ICAT {active.proposal_name}")

    def read_session(self, session_id: str | None = None, as_user: str | None = None) -> SessionReading:
        """The investigation's samples, collections, processing results and scans, read from ICAT.

        See :mod:`mxcubecore_lims.icat.results`. Robot actions are not in ICAT.
        """
        active = self._active_session_or_raise() if session_id is None else self.session_manager.active_session
        investigation_id = int(session_id if session_id is not None else self._active_session_or_raise().session_id)
        key = as_user if as_user is not None and self._icat.user(as_user) is not None else self._acting_user()
        investigation = self._investigation(key, investigation_id)
        instruments = [i.instrument.name for i in getattr(investigation, "investigationInstruments", None) or []]
        beamline = (
            active.beamline_name if active is not None and str(active.session_id) == str(investigation_id) else None
        )
        info = SessionInfo(
            str(investigation_id),
            str(investigation.name),
            beamline or (str(instruments[0]) if instruments else None),
            self.config.site_domain,
            "ICAT",
        )
        samples = [s.to_legacy() for s in samples_from_icat(self._read_samples(investigation_id, key))]
        sweeps, processings, scans = read_session_results(self._icat, key, investigation_id)
        users = [
            str(getattr(u.user, "fullName", None) or u.user.name)
            for u in getattr(investigation, "investigationUsers", None) or []
        ]
        return SessionReading(
            info,
            samples,
            sweeps,
            processings,
            scans,
            users=sorted(users),
            start=getattr(investigation, "startDate", None),
            end=getattr(investigation, "endDate", None),
            unread={"robot actions": "ICAT keeps no robot actions (sample mounts)"},
        )

    def _hold_login_for(self, user: str, task: Any) -> None:
        """Keeps the user's ICAT session past a logout until ``task`` (a session record) is done."""
        if self.gateway is not None:
            self.gateway.hold(user, task)

    def _investigation(self, key: str, investigation_id: int) -> Any:
        def read(client: Any) -> list[Any]:
            query = self._icat.query(
                "Investigation",
                conditions={"id": f"= {investigation_id}"},
                includes=["investigationInstruments.instrument", "investigationUsers.user"],
            )
            return list(client.search(query))

        found = self._icat.call(key, "read investigation", read)
        if not found:
            raise LimsDataError("Investigation", "id", investigation_id, "no such investigation (or not yours)")
        return found[0]
