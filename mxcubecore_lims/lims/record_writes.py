"""Store templates of sample updates, robot actions, energy scans, fluorescence spectra and workflows.

Each public method validates the caller's dict into its typed model and
journals it; the backend implements the ``_write_*`` hook declared beside it,
called at delivery. The calls mxcubecore makes outside any ``try`` log a bad
dict or a LIMS error instead of raising.
"""

from __future__ import annotations

import abc
from typing import cast

from mxcubecore_lims.errors import LimsNotSupportedError
from mxcubecore_lims.lims import Id, LegacyDict
from mxcubecore_lims.lims.outbox_wiring import OutboxWiring
from mxcubecore_lims.model import (
    EnergyScan,
    EnergyScanSampleAssociation,
    EnergyScanStoreResult,
    RobotAction,
    SampleUpdate,
    Workflow,
    XfeSpectrum,
    XfeSpectrumStoreResult,
)

__all__ = ["RecordWrites"]


class RecordWrites(OutboxWiring):
    """Mixin of the LIMS objects: the journalled writes of everything but data collections."""

    # ------------------------------------------------------------- samples

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

    @abc.abstractmethod
    def _write_sample_update(self, sample: SampleUpdate) -> None:
        """Backend part of :meth:`update_bl_sample`."""

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
        return cast(
            Id,
            self._write_or_log(
                self._send, "robot_action", {"action": action.to_legacy()}, operation="store_robot_action"
            ),
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
        return cast(Id, self._send("energy_scan_association", {"association": association.to_legacy()}))

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

    def store_workflow(self, workflow_dict: LegacyDict) -> tuple[Id, Id, Id]:
        """Stores a workflow (and its mesh and grid information).

        Returns:
            ``(workflow_id, workflow_mesh_id, grid_info_id)``; AbstractOnlineProcessing
            unpacks three values, so it is always a 3-tuple.

        Raises:
            LimsDataError: The dict does not fit :class:`Workflow`.
        """
        result = self._send("workflow", {"workflow": Workflow.from_legacy(workflow_dict).to_legacy()})
        return tuple(result)

    @abc.abstractmethod
    def _write_workflow(self, workflow: Workflow) -> tuple[Id, Id, Id]:
        """Backend part of :meth:`store_workflow`."""

    def store_workflow_step(self, workflow_step_dict: LegacyDict) -> Id:
        """Stores one workflow step (AbstractOnlineProcessing calls it).

        Raises:
            LimsNotSupportedError: This LIMS does not store workflow steps.
        """
        raise LimsNotSupportedError(f"{type(self).__name__} does not store workflow steps")

    def set_image_quality_indicators_plot(self, collection_id: int, cartography_path: str, csv_path: str) -> None:
        """Attaches image-quality plots to a collection (AbstractOnlineProcessing calls it).

        Raises:
            LimsNotSupportedError: This LIMS does not store such plots.
        """
        raise LimsNotSupportedError(f"{type(self).__name__} does not store image-quality plots")
