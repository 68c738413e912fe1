"""MXCuBE sample dicts back into MXLIMS shipment objects: the inverse of :mod:`.mounts`.

A LIMS lists a session's samples as the dicts ``get_samples`` returns. This
module turns them into Shipment -> Dewar -> Puck -> Pin -> MacromoleculeSample
(with one Macromolecule per acronym) and a template MxExperiment per pin for
its diffraction plan, so that :func:`.mounts.mounted_samples` of the result
gives the same dicts again (without the LIMS ids). That is what lets a results
document be imported as a shipment into another LIMS.

Samples without a shipment name share one shipment named after the session;
samples without a dewar share one unnamed dewar per shipment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mxcubecore_lims.mxlims._base import Ref
from mxcubecore_lims.mxlims.datasets import CollectionSweep
from mxcubecore_lims.mxlims.datatypes import UnitCell, space_group_names
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.jobs import MxExperiment
from mxcubecore_lims.mxlims.logistics import Dewar, Pin, Puck, Shipment
from mxcubecore_lims.mxlims.mounts import PLAN_FIELDS
from mxcubecore_lims.mxlims.samples import Macromolecule, MacromoleculeSample

__all__ = ["SampleRefs", "add_samples"]

_CELL_KEYS = ("cellA", "cellB", "cellC", "cellAlpha", "cellBeta", "cellGamma")


@dataclass
class SampleRefs:
    """Where each LIMS sample went in the document.

    Attributes:
        pins: LIMS sample id (as text) -> its Pin.
        samples: LIMS sample id -> its MacromoleculeSample.
        skipped: Sample ids that could not be placed (no container or position), with why.
    """

    pins: dict[str, Ref] = field(default_factory=dict)
    samples: dict[str, Ref] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _positive_int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _identifiers(domain: str, value: Any) -> dict[str, str] | None:
    return {domain: str(value)} if value is not None else None


def _unit_cell(entry: Mapping[str, Any]) -> UnitCell | None:
    values = [_number(entry.get(key)) for key in _CELL_KEYS]
    if any(v is None or v <= 0 for v in values):
        return None
    a, b, c, alpha, beta, gamma = (float(v) for v in values if v is not None)
    return UnitCell(a=a, b=b, c=c, alpha=alpha, beta=beta, gamma=gamma)


def _plan(entry: Mapping[str, Any], document: MxlimsDocument, pin: Ref, sample: Ref, space_group: str | None) -> None:
    """The pin's template MxExperiment (and sweep) from ``diffractionPlan`` and the crystal."""
    plan = entry.get("diffractionPlan") or {}
    values: dict[str, dict[str, Any]] = {"plan": {}, "sweep": {}}
    for key, (target, name) in PLAN_FIELDS.items():
        value = plan.get(key)
        if value is None or value == "":
            continue
        if name == "experiment_strategy" or name == "annotation":
            values[target][name] = str(value)
        elif (number := _number(value)) is not None and number > 0:
            values[target][name] = number
    beam = _number(plan.get("preferredBeamDiameter"))
    if beam is not None and beam > 0:
        values["sweep"]["beam_size"] = [beam, beam]
    cell = _unit_cell(entry)
    if not (values["plan"] or values["sweep"] or space_group or cell):
        return
    templates = [document.add(CollectionSweep(scan_axis="omega", role="Template", **values["sweep"]))]
    document.add(
        MxExperiment(
            job_status="Template",
            expected_space_group_name=space_group,
            expected_unit_cell=cell,
            logistical_sample_ref=pin,
            sample_ref=sample,
            template_data_refs=templates if values["sweep"] else None,
            **values["plan"],
        )
    )


def add_samples(
    document: MxlimsDocument,
    samples: Iterable[Mapping[str, Any]],
    proposal_code: str,
    domain: str,
    default_shipment: str,
) -> SampleRefs:
    """Adds the samples (``get_samples`` dicts) as shipment objects.

    Args:
        document: The document to add to.
        samples: The sample dicts, as a LIMS object's ``get_samples`` returns them.
        proposal_code: The shipment's proposal, e.g. ``mx415``.
        domain: The site's domain key for ``identifiers`` (the LIMS ids).
        default_shipment: Name of the shipment for samples that name none.

    Returns:
        Where each sample went, by LIMS sample id.
    """
    refs = SampleRefs()
    shipments: dict[str, Ref] = {}
    dewars: dict[tuple[str, str], Ref] = {}
    pucks: dict[tuple[str, str, str], Ref] = {}
    proteins: dict[str, Ref] = {}
    for entry in samples:
        sample_id = str(entry.get("sampleId", entry.get("sampleName", "")))
        puck_code = entry.get("containerCode")
        position = _positive_int(entry.get("sampleLocation"))
        if not puck_code or position is None:
            refs.skipped[sample_id] = "no container or no position in it"
            continue
        shipment_name = str(entry.get("shippingName") or default_shipment)
        if shipment_name not in shipments:
            shipments[shipment_name] = document.add(Shipment(name=shipment_name, proposal_code=proposal_code))
        # ISPyB names the dewar dewarCode; ICAT's sample dicts keep the parameter's own name.
        dewar_code = entry.get("dewarCode") or entry.get("SampleTrackingParcel_name")
        # A LIMS that names no dewar (ICAT often) gets one unnamed dewar per shipment: a
        # made-up name would come back as a dewar code when the document is imported.
        dewar_key = (shipment_name, str(dewar_code or ""))
        if dewar_key not in dewars:
            dewars[dewar_key] = document.add(
                Dewar(name=dewar_code or None, barcode=dewar_code or None, container_ref=shipments[shipment_name])
            )
        puck_key = (*dewar_key, str(puck_code))
        if puck_key not in pucks:
            pucks[puck_key] = document.add(
                Puck(
                    name=str(puck_code),
                    barcode=str(puck_code),
                    position_in_dewar=_positive_int(entry.get("containerSampleChangerLocation")),
                    number_positions=_positive_int(entry.get("containerCapacity")),
                    puck_type=entry.get("containerType") or None,
                    container_ref=dewars[dewar_key],
                )
            )
        acronym = entry.get("proteinAcronym")
        parent = None
        if acronym:
            if acronym not in proteins:
                proteins[acronym] = document.add(Macromolecule(acronym=str(acronym), name=str(acronym)))
            parent = proteins[acronym]
        sample = document.add(
            MacromoleculeSample(
                name=entry.get("sampleName"),
                parent_sample_ref=parent,
                identifiers=_identifiers(domain, entry.get("sampleId")),
            )
        )
        pin = document.add(
            Pin(
                barcode=entry.get("code") or None,
                position_in_puck=position,
                holder_length=_number(entry.get("holderLength")),
                container_ref=pucks[puck_key],
                sample_ref=sample,
            )
        )
        space_group = entry.get("crystalSpaceGroup") or None
        if space_group not in space_group_names():
            # A spelling MXLIMS does not know (ISPyB stores free text): the sample stays, the name goes.
            space_group = None
        _plan(entry, document, pin, sample, space_group)
        refs.pins[sample_id] = pin
        refs.samples[sample_id] = sample
    return refs
