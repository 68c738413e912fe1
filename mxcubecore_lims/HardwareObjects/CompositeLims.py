"""One LIMS object over several: authorization by one, every result to all.

The members are this object's role objects that are LIMS objects (in the
order configured). One of them, the *authority* (``authority_role``), logs
people in and offers the sessions; when a session is chosen, every other
member is pointed at its own matching session (found by proposal code and
number, and created for a local login where the member can). Samples come
from the member named in ``get_samples``; every write goes to every member,
each with its own ids, through that member's outbox: one backend failing
never loses another's write.

Ids returned to callers are those of the *primary* member (``primary_role``,
default: the first member that gives ids); the others' ids are mapped
internally, so a later ``update_data_collection`` or ``store_image`` with the
primary id reaches each member under its own id.

Session and sample ids are per LIMS: a record's ``sessionId`` becomes each
member's own session, and when the samples in use came from one member, the
others get the records without sample ids (their own ids would not match).
"""

from __future__ import annotations

import collections
from typing import Any

from mxcubecore_lims.errors import LimsConfigError, LimsError, LimsNoSessionError
from mxcubecore_lims.HardwareObjects.AbstractLims import AbstractLims, Id, LegacyDict
from mxcubecore_lims.model import Lims, LimsSessionManager, Sample, Session
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.mounts import ShipmentImportReport
from mxcubecore_lims.mxlims.reading import SessionReading

__all__ = ["CompositeLims"]

_SAMPLE_KEYS = ("blSampleId", "blsampleid", "sampleId", "limsID")

#: Kinds of ids later calls refer to (the others are not remembered).
_REFERENCED = {"collection", "group", "energy_scan", "workflow"}
#: Id mappings kept (oldest forgotten first): a night of collections, and more.
_IDS_KEPT = 20_000


def _without_sample_ids(record: LegacyDict) -> LegacyDict:
    """A copy of a record without LIMS sample ids (nested references too), the caller's left intact."""
    copy = dict(record)
    for key in _SAMPLE_KEYS:
        if key in copy:
            copy[key] = None
    reference = copy.get("sample_reference")
    if isinstance(reference, dict):
        copy["sample_reference"] = {k: (None if k in _SAMPLE_KEYS else v) for k, v in reference.items()}
    return copy


class CompositeLims(AbstractLims):
    """Several LIMS objects behind one: login and sessions from one, writes to all."""

    #: Roles this object looks up (shown by ``mxcubecore-lims describe``).
    CONFIG_ROLES = {"<any role>": "every role whose object is a LIMS object is a member, in configuration order"}

    class HOConfig(AbstractLims.HOConfig):
        """Which role decides, and whose ids callers see."""

        outbox: bool = False
        """Off: each member journals its own writes."""
        authority_role: str | None = None
        """Role of the member that logs people in and lists sessions (default: the first member)."""
        primary_role: str | None = None
        """Role of the member whose ids are returned (default: the first member giving ids)."""
        shipments_role: str | None = None
        """Role of the member MXLIMS shipments are imported into (default: the authority)."""
        results_role: str | None = None
        """Role of the member MXLIMS results are read back from (default: the authority)."""
        create_sessions: bool = True
        """Create a member's session for a local login when it has none for the proposal."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._local_logins: dict[str, bool] = {}
        # (kind, id given to the caller) -> {role: that member's id}
        self._ids: collections.OrderedDict[tuple[str, Any], dict[str, Any]] = collections.OrderedDict()
        self._active_lims: str | None = None
        self._sample_source: str | None = None

    # ------------------------------------------------------------- members

    def members(self) -> dict[str, AbstractLims]:
        """Role -> member, in configuration order (a method: never read at init)."""
        found = {role: obj for role, obj in self.objects_by_role.items() if isinstance(obj, AbstractLims)}
        if not found:
            raise LimsConfigError(f"'{self.name}' has no LIMS role objects")
        return found

    def _member(self, role: str | None, what: str) -> tuple[str, AbstractLims]:
        members = self.members()
        if role is None:
            return next(iter(members.items()))
        for name, obj in members.items():
            if name.lower() == role.lower():
                return name, obj
        raise LimsConfigError(f"'{self.name}': {what} role '{role}' is not one of {', '.join(members)}")

    def authority(self) -> AbstractLims:
        """The member that logs people in."""
        return self._member(self.config.authority_role, "authority")[1]

    def _others(self) -> dict[str, AbstractLims]:
        authority = self.authority()
        return {role: obj for role, obj in self.members().items() if obj is not authority}

    # ---------------------------------------------------------- identity

    def get_lims_name(self) -> list[Lims]:
        """Every member's LIMS, authority first."""
        names: list[Lims] = list(self.authority().get_lims_name())
        for member in self._others().values():
            names.extend(member.get_lims_name())
        return names

    def get_active_lims(self) -> Lims:
        """The LIMS the samples in use came from (the authority's until samples are read)."""
        for lims in self.get_lims_name():
            if lims.name == self._active_lims:
                return lims
        return self.get_lims_name()[0]

    def get_user_name(self) -> str:
        """The authority's user name."""
        return self.authority().get_user_name()

    def get_full_user_name(self) -> str:
        """The authority's full user name."""
        return self.authority().get_full_user_name()

    def is_user_login_type(self) -> bool:
        """Whether the authority logs in users (rather than proposals)."""
        return self.authority().is_user_login_type()

    def echo(self) -> bool:
        """True when the authority answers (logins depend on it alone). Never raises."""
        return self.authority().echo()

    def members_echo(self) -> dict[str, bool]:
        """Whether each member answers now."""
        return {role: member.echo() for role, member in self.members().items()}

    def outbox_status(self) -> dict[str, Any]:
        """Each member's journal."""
        return {role: member.outbox_status() for role, member in self.members().items()}

    # ------------------------------------------------------------- login

    def login(self, login_id: str, password: str, is_local_host: bool = False) -> LimsSessionManager:
        """Logs in through the authority and offers its sessions.

        Raises:
            LimsAuthenticationError, LimsNoSessionError, LimsUnavailableError:
                As the authority raises them.
        """
        authority = self.authority()
        authority.login(login_id, password, is_local_host)
        user = authority.session_manager.users.get(login_id)
        if user is None:  # proposal-type authorities key users by a generated name
            user = authority.get_active_user()
        sessions = list(user.sessions or []) if user is not None else list(authority.session_manager.sessions or [])
        key = user.user_name if user is not None else login_id
        try:
            self.add_user(key, sessions)
        except LimsError:
            authority.remove_user(key)
            raise
        self._local_logins[key] = bool(is_local_host)
        return self.session_manager

    def remove_user(self, user_name: str) -> bool:
        """Logs a user out here and at the authority; the last one out releases the members' sessions."""
        known = super().remove_user(user_name)
        self.authority().remove_user(user_name)
        self._local_logins.pop(user_name, None)
        if not self.session_manager.users:
            for member in self._others().values():
                member.use_session(None)
        return known

    def set_active_user(self, user_name: str) -> None:
        """Makes ``user_name`` the active user here and at the authority."""
        super().set_active_user(user_name)
        self.authority().set_active_user(user_name)

    def get_proposals_by_user(self, login_id: str) -> list[dict[str, Any]]:
        """The authority's proposals of a user."""
        return self.authority().get_proposals_by_user(login_id)

    # ------------------------------------------------------------ sessions

    def _on_session_activated(self, session: Session) -> None:
        """The authority activates it; every other member gets its matching session."""
        self.authority().set_active_session_by_id(session.session_id)
        # The user in control decides whether sessions may be created.
        active = self.get_active_user()
        local = bool(active and self._local_logins.get(active.user_name, False))
        for role, member in self._others().items():
            matching = self._matching_session(member, session, create=local and self.config.create_sessions)
            member.use_session(matching)
            if matching is None:
                self.log.warning(
                    "%s has no session for %s%s here: its writes wait for one",
                    role,
                    session.code,
                    session.number,
                )

    def _matching_session(self, member: AbstractLims, session: Session, create: bool) -> Session | None:
        finder = getattr(member, "session_for_proposal", None)
        if finder is None:
            return None
        try:
            return finder(session.code, session.number, create=create)
        except LimsError as error:
            self.log.warning("no matching session in %s: %s", member.name, error)
            return None

    def allow_session(self, session: Session) -> None:
        """The authority records the take-over (ICAT); the others follow the chosen session."""
        self.authority().allow_session(session)

    # ------------------------------------------------------------- samples

    def _member_for_lims(self, lims_name: str) -> tuple[str, AbstractLims]:
        for role, member in self.members().items():
            if any(lims.name == lims_name for lims in member.get_lims_name()):
                return role, member
        raise LimsNoSessionError(f"'{self.name}' has no LIMS named {lims_name!r}")

    def get_samples(self, lims_name: str) -> list[LegacyDict]:
        """Samples from the member named; they become the ones in use."""
        role, member = self._member_for_lims(lims_name)
        self.samples = member.get_samples(lims_name)
        self._active_lims = lims_name
        self._sample_source = role
        return self.samples

    def import_mxlims(self, document: MxlimsDocument) -> ShipmentImportReport:
        """Imports the shipment into the member named by ``shipments_role`` (its own active session)."""
        role = self.config.shipments_role or self.config.authority_role
        return self._member(role, "shipments")[1].import_mxlims(document)

    def read_session(self, session_id: str | None = None, as_user: str | None = None) -> SessionReading:
        """Reads the session back from the member named by ``results_role`` (ids are its own)."""
        role = self.config.results_role or self.config.authority_role
        return self._member(role, "results")[1].read_session(session_id, as_user=as_user)

    def _hold_login_for(self, user: str, task: Any) -> None:
        """The members keep the user's logins until ``task`` is done."""
        for member in self.members().values():
            member._hold_login_for(user, task)

    def _fetch_samples(self, lims_name: str) -> list[Sample]:  # pragma: no cover - get_samples delegates
        raise AssertionError("CompositeLims.get_samples delegates to its members")

    # ------------------------------------------------------------- writing

    def _for_member(self, role: str, record: LegacyDict) -> LegacyDict:
        """The record as one member must see it: its own session, no foreign sample ids."""
        copy = dict(record)
        member = self.members()[role]
        own = member.get_session_id()
        if "sessionId" in copy:
            # Callers give the session they know (the authority's, which
            # mxcubeweb copied into HWR.beamline.session); each member files
            # the record under its own matching session.
            copy["sessionId"] = own
        active = self.session_manager.active_session
        if own is None and active is not None and member is not self.authority():
            # No matching session yet (the member did not answer when the
            # session was chosen): the member finds it when it delivers.
            copy["sessionId"] = None
            copy["proposalCode"], copy["proposalNumber"] = active.code, active.number
        # Sample ids belong to the LIMS the samples came from: the authority's
        # until samples were read from another member.
        source = self._sample_source or self._member(self.config.authority_role, "authority")[0]
        if role != source:
            return _without_sample_ids(copy)
        return copy

    def _translate(self, kind: str, given: Any, role: str) -> Any:
        """The member's own id for an id the caller got.

        Raises:
            LookupError: The member has none (it refused the original record,
                or the id is not one this object handed out): passing the
                caller's id on would name another member's record.
        """
        mapping = self._ids.get((kind, given))
        if mapping is None or mapping.get(role) is None:
            raise LookupError(f"{role} has no {kind} for id {given}")
        return mapping[role]

    def _to_all(self, operation: str, call: Any) -> dict[str, Any]:
        """Runs ``call(role, member)`` for every member; one failing never stops the others."""
        results: dict[str, Any] = {}
        for role, member in self.members().items():
            try:
                results[role] = call(role, member)
            except LookupError as error:
                self.log.error("%s: not sent to %s: %s", operation, role, error)
            except Exception as error:  # a member's refusal must not lose the others' writes
                self.log.error("%s: %s did not take it: %s", operation, role, error)
        return results

    def _primary(self, results: dict[str, Any], pick: Any) -> str | None:
        if self.config.primary_role is not None:
            role = self._member(self.config.primary_role, "primary")[0]
            if role in results and pick(results[role]) is not None:
                return role
        return next((role for role, value in results.items() if pick(value) is not None), None)

    def _remember(self, kind: str, results: dict[str, Any], pick: Any) -> Id:
        primary = self._primary(results, pick)
        if primary is None:
            return None
        given: Id = pick(results[primary])
        if kind in _REFERENCED:
            self._ids[(kind, given)] = {role: pick(value) for role, value in results.items()}
            while len(self._ids) > _IDS_KEPT:
                self._ids.popitem(last=False)
        return given

    def store_data_collection(self, datacollection_dict: LegacyDict, beamline_config_dict: Any = None) -> tuple[Id, Id]:
        """Stores a collection in every member; returns the primary's collection and detector ids."""
        results = self._to_all(
            "store_data_collection",
            lambda role, m: m.store_data_collection(
                self._member_collection(role, datacollection_dict), beamline_config_dict
            ),
        )
        collection_id = self._remember("collection", results, lambda value: value[0])
        primary = self._primary(results, lambda value: value[0])
        detector_id = results[primary][1] if primary is not None else None
        return collection_id, detector_id

    def _member_collection(self, role: str, record: LegacyDict) -> LegacyDict:
        """The collection dict with the member's own ids.

        An unknown collection id stops the member's copy (see :meth:`_translate`);
        an unknown group is dropped, so the member makes its own group.
        """
        copy = self._for_member(role, record)
        if copy.get("collection_id") not in (None, ""):
            copy["collection_id"] = self._translate("collection", copy["collection_id"], role)
        if copy.get("group_id") not in (None, ""):
            try:
                copy["group_id"] = self._translate("group", copy["group_id"], role)
            except LookupError:
                copy["group_id"] = None
        return copy

    def update_data_collection(self, datacollection_dict: LegacyDict) -> None:
        """Updates a collection in every member, each under its own ids."""
        self._to_all(
            "update_data_collection",
            lambda role, m: m.update_data_collection(self._member_collection(role, datacollection_dict)),
        )

    def finalize_data_collection(self, datacollection_dict: LegacyDict) -> None:
        """Finalises a collection in every member, each under its own ids."""
        self._to_all(
            "finalize_data_collection",
            lambda role, m: m.finalize_data_collection(self._member_collection(role, datacollection_dict)),
        )

    def store_data_collection_group(self, group_dict: LegacyDict) -> Id:
        """Stores a group in every member; returns the primary's id."""
        results = self._to_all(
            "store_data_collection_group",
            lambda role, m: m.store_data_collection_group(self._for_member(role, group_dict)),
        )
        return self._remember("group", results, lambda value: value)

    def store_beamline_setup(self, session_id: str, bl_config_dict: Any) -> Id:
        """Stores the setup in every member under its own session; returns the primary's id."""

        def one(role: str, member: AbstractLims) -> Any:
            own = member.get_session_id()
            if own is None:
                raise LookupError("no session of its own to file it under")
            return member.store_beamline_setup(own, bl_config_dict)

        results = self._to_all("store_beamline_setup", one)
        return self._remember("beamline_setup", results, lambda value: value)

    def store_image(self, image_dict: LegacyDict) -> Id:
        """Stores an image in every member, with its own collection id; returns the primary's id."""

        def one(role: str, member: AbstractLims) -> Any:
            copy = dict(image_dict)
            if copy.get("dataCollectionId") not in (None, ""):
                copy["dataCollectionId"] = self._translate("collection", copy["dataCollectionId"], role)
            return member.store_image(copy)

        return self._remember("image", self._to_all("store_image", one), lambda value: value)

    def store_robot_action(self, robot_action_dict: LegacyDict) -> Id:
        """Stores a robot action in every member; returns the primary's id."""
        results = self._to_all(
            "store_robot_action",
            lambda role, m: m.store_robot_action(self._for_member(role, robot_action_dict)),
        )
        return self._remember("robot_action", results, lambda value: value)

    def store_energy_scan(self, energyscan_dict: LegacyDict) -> LegacyDict:
        """Stores an energy scan in every member; returns the primary's ``energyScanId``."""
        results = self._to_all(
            "store_energy_scan", lambda role, m: m.store_energy_scan(self._for_member(role, energyscan_dict))
        )
        scan_id = self._remember("energy_scan", results, lambda value: value.get("energyScanId"))
        return {"energyScanId": scan_id}

    def associate_bl_sample_and_energy_scan(self, entry_dict: LegacyDict) -> Id:
        """Links a sample and a scan in every member, with its own scan id; returns the primary's id."""

        def one(role: str, member: AbstractLims) -> Any:
            copy = dict(entry_dict)
            copy["energyScanId"] = self._translate("energy_scan", copy.get("energyScanId"), role)
            return member.associate_bl_sample_and_energy_scan(copy)

        return self._remember("association", self._to_all("associate_bl_sample_and_energy_scan", one), lambda v: v)

    def store_xfe_spectrum(self, xfespectrum_dict: LegacyDict) -> LegacyDict:
        """Stores an XRF spectrum in every member; returns the primary's ``xfeFluorescenceSpectrumId``."""
        results = self._to_all(
            "store_xfe_spectrum", lambda role, m: m.store_xfe_spectrum(self._for_member(role, xfespectrum_dict))
        )
        spectrum_id = self._remember("xfe_spectrum", results, lambda value: value.get("xfeFluorescenceSpectrumId"))
        return {"xfeFluorescenceSpectrumId": spectrum_id}

    def update_bl_sample(self, bl_sample: LegacyDict) -> None:
        """Updates the sample in the LIMS it came from (the authority's by default); never raises."""
        # Only the LIMS the sample came from knows its id (the authority's by default).
        source = self._sample_source or self._member(self.config.authority_role, "authority")[0]
        for role, member in self.members().items():
            if role == source:
                try:
                    member.update_bl_sample(bl_sample)
                except Exception as error:  # unguarded caller: never raise
                    self.log.error("update_bl_sample: %s did not take it: %s", role, error)

    def store_workflow(self, workflow_dict: LegacyDict) -> tuple[Id, Id, Id]:
        """Stores a workflow in every member; returns the primary's ids."""
        results = self._to_all(
            "store_workflow", lambda role, m: m.store_workflow(self._for_member(role, workflow_dict))
        )
        primary = self._primary(results, lambda value: value[0])
        if primary is None:
            return None, None, None
        self._remember("workflow", results, lambda value: value[0])
        return tuple(results[primary])

    # The hooks below are never reached: every public write is delegated.
    def _write_sample_update(self, sample: Any) -> None:  # pragma: no cover
        raise AssertionError("delegated")

    def _write_data_collection(self, collection: Any, setup: Any) -> tuple[Id, Id]:  # pragma: no cover
        raise AssertionError("delegated")

    def _write_data_collection_update(self, collection: Any) -> None:  # pragma: no cover
        raise AssertionError("delegated")

    def _write_data_collection_end(self, collection: Any) -> None:  # pragma: no cover
        raise AssertionError("delegated")

    def _write_data_collection_group(self, group: Any) -> Id:  # pragma: no cover
        raise AssertionError("delegated")

    def _write_beamline_setup(self, session_id: str, setup: Any) -> Id:  # pragma: no cover
        raise AssertionError("delegated")

    def _write_image(self, image: Any) -> Id:  # pragma: no cover
        raise AssertionError("delegated")

    def _write_robot_action(self, action: Any) -> Id:  # pragma: no cover
        raise AssertionError("delegated")

    def _write_energy_scan(self, scan: Any) -> Id:  # pragma: no cover
        raise AssertionError("delegated")

    def _write_xfe_spectrum(self, spectrum: Any) -> Id:  # pragma: no cover
        raise AssertionError("delegated")

    def _write_workflow(self, workflow: Any) -> tuple[Id, Id, Id]:  # pragma: no cover
        raise AssertionError("delegated")
