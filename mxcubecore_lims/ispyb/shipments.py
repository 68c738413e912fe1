"""MXLIMS shipments into ISPyB, through the one SOAP route ISPyB has for them.

ISPyB's SOAP services have no per-entity create for shippings, dewars,
containers, proteins or crystals. ``CrimsWebService.storeShipping(proposalCode,
proposalNumber, shipping)`` takes a whole shipment as JSON (Java field names
of ``Shipping3VO`` and its ``dewarVOs``/``containerVOs``/``sampleVOs``) and
stores it in one transaction (ISPyB: ``External3ServiceBean.storeShipping``).
So each MXLIMS Shipment is one call, and an import that fails half way leaves
that shipment wholly stored or not at all.

What ISPyB needs so that mxcubeweb lists the samples
(``findSampleInfoLightForProposal``): a crystal of an existing protein for
every sample (ISPyB looks proteins up by acronym and never creates them;
SOAP cannot create one), and containers with ``containerStatus`` "processing"
and this beamline as ``beamlineLocation``. Acronyms are checked first
(``findProteinAcronymsForProposal``), so an unknown one is an error naming
the Macromolecule, not a sample silently stored without a crystal.

A repeated import creates nothing: each shipping's comment carries a marker
(the Shipment's uuid, else a digest of its content), which the proposal's
sample list gives back as ``shippingComments``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mxcubecore_lims.errors import LimsDataError, MxlimsShipmentError
from mxcubecore_lims.ispyb.services import IspybServices
from mxcubecore_lims.mxlims._pointers import pointer
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.mounts import MountedSample, ShipmentImportReport

__all__ = ["MARKER_PREFIX", "IspybShipmentImporter", "shipping_value"]

log = logging.getLogger(__name__)

MARKER_PREFIX = "MXLIMS shipment "
"""Start of the marker in ``Shipping.comments`` that makes a repeated import find its shipping."""

#: ISPyB's ``Container.capacity`` when the puck does not say (a Unipuck).
DEFAULT_CAPACITY = 16


@dataclass(frozen=True)
class _Target:
    """Where the shipment goes: the active session's proposal on this beamline."""

    proposal_code: str
    proposal_number: str
    proposal_id: int
    beamline: str


def _marker(document: MxlimsDocument, shipment_key: str | None, mounted: Sequence[MountedSample]) -> str:
    shipment = mounted[0].shipment
    if shipment is not None and shipment.uuid:
        return MARKER_PREFIX + shipment.uuid
    # No uuid: a digest of what the pins are, so the same document finds itself again.
    content = json.dumps([m.legacy() for m in mounted], sort_keys=True, default=str)
    return MARKER_PREFIX + hashlib.sha256(f"{shipment_key}:{content}".encode()).hexdigest()[:32]


def _crystal(mounted: MountedSample, entry: dict[str, Any]) -> dict[str, Any]:
    crystal: dict[str, Any] = {"name": entry.get("sampleName"), "proteinVO": {"acronym": mounted.protein_acronym}}
    for key in ("cellA", "cellB", "cellC", "cellAlpha", "cellBeta", "cellGamma"):
        if key in entry:
            crystal[key] = entry[key]
    if entry.get("crystalSpaceGroup"):
        crystal["spaceGroup"] = entry["crystalSpaceGroup"]
    return crystal


def _sample(mounted: MountedSample) -> dict[str, Any]:
    entry = mounted.legacy()
    sample: dict[str, Any] = {
        "name": entry["sampleName"],
        "location": str(entry["sampleLocation"]),
        "crystalVO": _crystal(mounted, entry),
    }
    for key, field in (("code", "code"), ("holderLength", "holderLength")):
        if key in entry:
            sample[field] = entry[key]
    loop = getattr(mounted.pin, "loop_type", None)
    if loop:
        sample["loopType"] = loop
    if mounted.sample is not None and mounted.sample.annotation:
        sample["comments"] = mounted.sample.annotation
    plan = entry.get("diffractionPlan")
    if plan:
        # Our diffractionPlan keys are ISPyB's DiffractionPlan field names (see mounts.PLAN_FIELDS).
        sample["diffractionPlanVO"] = dict(plan)
    return sample


def shipping_value(mounted: Sequence[MountedSample], name: str, marker: str, beamline: str) -> dict[str, Any]:
    """The ``Shipping3VO`` JSON of one shipment's mountable samples.

    Args:
        mounted: The pins of one shipment, in document order.
        name: The shipping's name.
        marker: Its comment (the repeat marker).
        beamline: Where its containers wait for mounting.
    """
    dewars: dict[str, dict[str, Any]] = {}
    containers: dict[tuple[str, str], dict[str, Any]] = {}
    for each in mounted:
        dewar = each.dewar
        dewar_code = (dewar.name or dewar.barcode) if dewar is not None else None
        dewar_code = dewar_code or f"{name}-dewar"
        if dewar_code not in dewars:
            dewars[dewar_code] = {"code": dewar_code, "type": "Dewar", "dewarStatus": "processing", "containerVOs": []}
            if dewar is not None and dewar.barcode:
                dewars[dewar_code]["barCode"] = dewar.barcode
        puck = each.puck
        code = str(each.container_code)
        key = (dewar_code, code)
        if key not in containers:
            container: dict[str, Any] = {
                "code": code,
                "containerType": "Puck",
                "capacity": (puck.number_positions if puck is not None else None) or DEFAULT_CAPACITY,
                "sampleChangerLocation": each.changer_location,
                "beamlineLocation": beamline,
                "containerStatus": "processing",
                "sampleVOs": [],
            }
            if puck is not None and puck.barcode:
                container["barcode"] = puck.barcode
            containers[key] = container
            dewars[dewar_code]["containerVOs"].append(container)
        containers[key]["sampleVOs"].append(_sample(each))
    return {
        "shippingName": name,
        "comments": marker,
        "shippingType": "DewarTracking",
        "dewarVOs": list(dewars.values()),
    }


class IspybShipmentImporter:
    """Stores a document's shipments in one ISPyB proposal.

    Args:
        services: The SOAP services of the LIMS object.
        proposal_code: The proposal's code, as ISPyB stores it (``mx``).
        proposal_number: Its number (``415``).
        proposal_id: Its ISPyB id.
        beamline: This beamline, where the containers wait.
    """

    def __init__(
        self, services: IspybServices, proposal_code: str, proposal_number: str, proposal_id: int, beamline: str
    ) -> None:
        self.services = services
        self.target = _Target(proposal_code, proposal_number, int(proposal_id), beamline)

    def run(self, document: MxlimsDocument, mounted: Sequence[MountedSample], lims: str) -> ShipmentImportReport:
        """Stores every shipment not yet in ISPyB.

        Raises:
            MxlimsShipmentError: A protein acronym ISPyB does not know, or a pin without one.
            LimsDataError: ISPyB stored something other than what was sent.
            LimsUnavailableError: ISPyB did not answer (what was stored stays; a repeat finishes).
        """
        by_shipment = self._by_shipment(document, mounted)
        self._check_proteins(document, mounted)
        created = {"shipment": 0, "dewar": 0, "container": 0, "sample": 0}
        existing = {"sample": 0}
        held = self._marked_samples()
        for key, pins in by_shipment.items():
            marker = _marker(document, key, pins)
            if marker in held:
                existing["sample"] += held[marker]
                continue
            shipment = pins[0].shipment
            name = (shipment.name if shipment is not None else None) or f"MXLIMS {key or 'shipment'}"
            rows = self._store(shipping_value(pins, name, marker, self.target.beamline), name)
            self._check_stored(rows, pins, name)
            created["shipment"] += 1
            created["dewar"] += len({r["Dewar_dewarId"] for r in rows if r.get("Dewar_dewarId") is not None})
            created["container"] += len({r["Container_containerId"] for r in rows if r.get("Container_containerId")})
            created["sample"] += len({r["BLSample_blSampleId"] for r in rows if r.get("BLSample_blSampleId")})
            log.info("ISPyB shipping %s stored: %d samples", name, len(pins))
        return ShipmentImportReport(lims=lims, created=created, existing=existing, samples=len(mounted))

    @staticmethod
    def _by_shipment(
        document: MxlimsDocument, mounted: Sequence[MountedSample]
    ) -> dict[str | None, list[MountedSample]]:
        keys = {id(obj): key for key, obj in document.objects.get("Shipment", {}).items()}
        groups: dict[str | None, list[MountedSample]] = {}
        for each in mounted:
            key = keys.get(id(each.shipment)) if each.shipment is not None else None
            groups.setdefault(key, []).append(each)
        return groups

    def _check_proteins(self, document: MxlimsDocument, mounted: Sequence[MountedSample]) -> None:
        found = self.services.call(
            "sample", "findProteinAcronymsForProposal", self.target.proposal_code, self.target.proposal_number
        )
        known = {str(a).lower() for a in found or []}
        for each in mounted:
            acronym = each.protein_acronym
            if not acronym:
                raise MxlimsShipmentError(each.pointer, "has no protein acronym: ISPyB needs one for every sample")
            if acronym.lower() not in known:
                at = each.pointer
                if each.macromolecule is not None:
                    at = pointer("Macromolecule", document.ref_to(each.macromolecule).target_key)
                raise MxlimsShipmentError(
                    at,
                    f"protein {acronym!r} is not in ISPyB proposal {self.target.proposal_code}"
                    f"{self.target.proposal_number} (ISPyB's SOAP cannot create proteins: add it in ISPyB first)",
                )

    def _marked_samples(self) -> dict[str, int]:
        """Marker -> samples of that shipping the proposal lists on this beamline."""
        infos = self.services.call(
            "sample", "findSampleInfoLightForProposal", self.target.proposal_id, self.target.beamline
        )
        counts: dict[str, int] = {}
        for info in infos or []:
            comment = str(getattr(info, "shippingComments", None) or "")
            if comment.startswith(MARKER_PREFIX):
                counts[comment] = counts.get(comment, 0) + 1
        return counts

    def _store(self, value: dict[str, Any], name: str) -> list[dict[str, Any]]:
        answer = self.services.call(
            "crims", "storeShipping", self.target.proposal_code, self.target.proposal_number, json.dumps(value)
        )
        if answer is None:
            raise LimsDataError(
                "Shipping",
                "proposal",
                f"{self.target.proposal_code}{self.target.proposal_number}",
                "ISPyB has no such proposal",
            )
        try:
            rows = json.loads(str(answer))
        except ValueError as error:
            raise LimsDataError("Shipping", "storeShipping", name, f"ISPyB's answer is not JSON: {error}") from error
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise LimsDataError("Shipping", "storeShipping", name, "ISPyB's answer is not a list of rows")
        return rows

    @staticmethod
    def _check_stored(rows: list[dict[str, Any]], pins: Sequence[MountedSample], name: str) -> None:
        samples = {r["BLSample_blSampleId"]: r for r in rows if r.get("BLSample_blSampleId") is not None}
        without = [r.get("BLSample_name") for r in samples.values() if r.get("Crystal_crystalId") is None]
        if len(samples) != len(pins) or without:
            raise LimsDataError(
                "Shipping",
                "samples",
                name,
                f"ISPyB stored {len(samples)} of {len(pins)} samples"
                + (f"; without a crystal (not listed for mounting): {', '.join(map(str, without))}" if without else ""),
            )
