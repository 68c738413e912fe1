"""The mountable samples of a shipment document, and the MXCuBE sample model of each.

MXCuBE lists what its sample changer can mount: pins (and positions of
multi-pins) in pucks. For each, this module gathers its containers, its
sample and macromolecule, and its diffraction plan: the template
MxExperiment whose ``logisticalSampleRef`` is the pin, with that job's
template CollectionSweep. Plates are read but not offered: MXCuBE's sample
list has no place for them.

Mapping (MXCuBE key <- MXLIMS):

============================== ===============================================
``sampleName``                 MacromoleculeSample.name, else the pin's name
``proteinAcronym``             Macromolecule.acronym, else the sample's acronym
``containerCode``              Puck.barcode, else Puck.name
``containerSampleChangerLocation`` Puck.positionInDewar, else the puck's rank in the shipment
``sampleLocation``             Pin.positionInPuck (MultiPin.positionInPuck)
``code`` / ``holderLength``    Pin.barcode / Pin.holderLength
``crystalSpaceGroup``, cell    plan expectedSpaceGroupName / expectedUnitCell
``diffractionPlan``            plan and template sweep fields (see :data:`PLAN_FIELDS`)
============================== ===============================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mxcubecore_lims.errors import MxlimsShipmentError
from mxcubecore_lims.mxlims._base import Ref
from mxcubecore_lims.mxlims._pointers import pointer
from mxcubecore_lims.mxlims.datasets import CollectionSweep
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.jobs import MxExperiment
from mxcubecore_lims.mxlims.logistics import Dewar, MultiPin, Pin, PinPosition, Puck, Shipment
from mxcubecore_lims.mxlims.samples import Macromolecule, MacromoleculeSample

__all__ = ["PLAN_FIELDS", "MountedSample", "ShipmentImportReport", "mounted_samples"]

#: diffractionPlan key -> (object, field): ``plan`` is the template MxExperiment,
#: ``sweep`` its template CollectionSweep.
PLAN_FIELDS: dict[str, tuple[str, str]] = {
    "experimentKind": ("plan", "experiment_strategy"),
    "aimedResolution": ("plan", "expected_resolution"),
    "requiredResolution": ("plan", "required_resolution"),
    "requiredCompleteness": ("plan", "target_completeness"),
    "requiredMultiplicity": ("plan", "target_multiplicity"),
    "radiationSensitivity": ("plan", "radiation_sensitivity"),
    "axisRange": ("plan", "aimed_total_range"),
    "comments": ("plan", "annotation"),
    "exposureTime": ("sweep", "exposure_time"),
    "oscillationRange": ("sweep", "image_width"),
}


@dataclass(frozen=True)
class MountedSample:
    """One mountable sample of a shipment, with everything around it.

    Attributes:
        pointer: The JSON pointer of the pin (or pin position).
        pin: The Pin or PinPosition.
        multi_pin: The MultiPin holding a PinPosition.
        puck: The puck holding the pin.
        dewar: The dewar holding the puck.
        shipment: The shipment holding the dewar.
        sample: The MacromoleculeSample on the pin.
        macromolecule: That sample's Macromolecule.
        plan: The template MxExperiment of the pin (its diffraction plan).
        sweep: The plan's first template CollectionSweep.
        puck_rank: 1-based rank of the puck among the shipment's pucks, in document order.
    """

    pointer: str
    pin: Pin | PinPosition
    multi_pin: MultiPin | None
    puck: Puck | None
    dewar: Dewar | None
    shipment: Shipment | None
    sample: MacromoleculeSample | None
    macromolecule: Macromolecule | None
    plan: MxExperiment | None
    sweep: CollectionSweep | None
    puck_rank: int

    @property
    def sample_name(self) -> str | None:
        """The name MXCuBE shows."""
        return (self.sample.name if self.sample else None) or self.pin.name

    @property
    def protein_acronym(self) -> str | None:
        """The protein acronym MXCuBE shows."""
        if self.macromolecule is not None:
            return self.macromolecule.acronym
        return self.sample.acronym if self.sample else None

    @property
    def container_code(self) -> str | None:
        """The puck's code: its barcode, else its name."""
        return (self.puck.barcode or self.puck.name) if self.puck else None

    @property
    def changer_location(self) -> str:
        """Where the puck goes in the sample changer."""
        if self.puck is not None and self.puck.position_in_dewar is not None:
            return str(self.puck.position_in_dewar)
        return str(self.puck_rank)

    @property
    def location(self) -> int | None:
        """The position in the puck."""
        holder = self.multi_pin if self.multi_pin is not None else self.pin
        return getattr(holder, "position_in_puck", None)

    def diffraction_plan(self) -> dict[str, Any]:
        """The ``diffractionPlan`` dict MXCuBE reads (only what the document gives)."""
        sources = {"plan": self.plan, "sweep": self.sweep}
        plan: dict[str, Any] = {}
        for key, (source, field) in PLAN_FIELDS.items():
            value = getattr(sources[source], field, None) if sources[source] is not None else None
            if value is not None:
                plan[key] = value
        if self.sweep is not None and self.sweep.beam_size:
            plan["preferredBeamDiameter"] = max(self.sweep.beam_size)
        return plan

    def legacy(self) -> dict[str, Any]:
        """The sample as an entry of ``get_samples()``, without the LIMS ids."""
        entry: dict[str, Any] = {
            "sampleName": self.sample_name,
            "proteinAcronym": self.protein_acronym,
            "containerCode": self.container_code,
            "containerSampleChangerLocation": self.changer_location,
            "sampleLocation": self.location,
        }
        barcode = getattr(self.pin, "barcode", None) or (self.multi_pin.barcode if self.multi_pin else None)
        if barcode:
            entry["code"] = barcode
        if isinstance(self.pin, Pin) and self.pin.holder_length is not None:
            entry["holderLength"] = self.pin.holder_length
        if self.plan is not None:
            if self.plan.expected_space_group_name:
                entry["crystalSpaceGroup"] = self.plan.expected_space_group_name
            cell = self.plan.expected_unit_cell
            if cell is not None:
                entry.update(
                    cellA=cell.a,
                    cellB=cell.b,
                    cellC=cell.c,
                    cellAlpha=cell.alpha,
                    cellBeta=cell.beta,
                    cellGamma=cell.gamma,
                )
        plan = self.diffraction_plan()
        if plan:
            entry["diffractionPlan"] = plan
        if self.dewar is not None:
            entry["dewarCode"] = self.dewar.barcode or self.dewar.name
        if self.shipment is not None and self.shipment.name:
            entry["shippingName"] = self.shipment.name
        return {key: value for key, value in entry.items() if value is not None}


def _plans(document: MxlimsDocument) -> dict[Ref, tuple[MxExperiment, CollectionSweep | None]]:
    plans: dict[Ref, tuple[MxExperiment, CollectionSweep | None]] = {}
    for _, experiment in document.of_type(MxExperiment):
        if experiment.job_status != "Template" or experiment.logistical_sample_ref is None:
            continue
        sweep = None
        for ref in experiment.template_data_refs or []:
            sweep = document.get(ref, CollectionSweep)
            if sweep is not None:
                break
        plans.setdefault(experiment.logistical_sample_ref, (experiment, sweep))
    return plans


def mounted_samples(document: MxlimsDocument) -> list[MountedSample]:
    """Every pin and pin position of the document, in document order, with its context.

    Raises:
        MxlimsShipmentError: A pin is in no puck, or two pins share a puck position.
    """
    plans = _plans(document)
    ranks: dict[int, int] = {}
    for _, each_puck in document.of_type(Puck):
        ranks[id(each_puck)] = len(ranks) + 1
    holders: list[tuple[str, Pin | PinPosition]] = [(key, pin) for key, pin in document.of_type(Pin)]
    holders += [(key, position) for key, position in document.of_type(PinPosition)]
    found: list[MountedSample] = []
    taken: dict[tuple[int, int | None, int | None], str] = {}
    for key, holder in holders:
        at = pointer(holder.mxlims_type, key)
        multi_pin = document.get(holder.container_ref, MultiPin) if isinstance(holder, PinPosition) else None
        puck = document.get((multi_pin or holder).container_ref, Puck)
        if puck is None:
            raise MxlimsShipmentError(at, "is in no puck: a sample changer cannot mount it")
        dewar = document.get(puck.container_ref, Dewar)
        shipment = document.get(dewar.container_ref, Shipment) if dewar else None
        sample = document.get(holder.sample_ref, MacromoleculeSample)
        macromolecule = document.get(sample.parent_sample_ref, Macromolecule) if sample else None
        plan, sweep = plans.get(Ref.to(holder.mxlims_type, key), (None, None))
        mounted = MountedSample(
            at, holder, multi_pin, puck, dewar, shipment, sample, macromolecule, plan, sweep, ranks[id(puck)]
        )
        slot = (id(puck), mounted.location, holder.position_in_pin if isinstance(holder, PinPosition) else None)
        if slot in taken:
            raise MxlimsShipmentError(at, f"has the same puck position as {taken[slot]}")
        taken[slot] = at
        found.append(mounted)
    return found


@dataclass(frozen=True)
class ShipmentImportReport:
    """What importing a shipment into one LIMS did.

    Attributes:
        lims: The LIMS written to (its ``get_lims_name`` name or kind).
        created: Objects the LIMS did not hold before, by kind (``sample``, ``container``...).
        existing: Objects found already there (a repeated or resumed import), by kind.
        samples: How many samples the shipment offers for mounting.
        skipped: Facts the LIMS has no place for (e.g. ICAT parameter types it lacks).
    """

    lims: str
    created: dict[str, int]
    existing: dict[str, int]
    samples: int
    skipped: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for people: what was created and what was there."""

        def counts(table: dict[str, int]) -> str:
            return ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in table.items() if n) or "nothing"

        line = f"{self.lims}: {self.samples} samples; created {counts(self.created)}; already there {counts(self.existing)}"
        return line + (f"; not stored: {', '.join(self.skipped)}" if self.skipped else "")
