"""MXLIMS shipment documents made to order, for tests, benchmarks and the demo.

``pin_shipment(...)`` builds what a user would send: one shipment, dewars of
pucks of pins, one macromolecule per acronym shared by its samples, and a
template MxExperiment (the diffraction plan) with a template CollectionSweep
for every pin. Names and uuids are deterministic, so two calls with the same
arguments give equal documents (a repeated import is the same shipment).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from mxcubecore_lims.mxlims.datasets import CollectionSweep
from mxcubecore_lims.mxlims.datatypes import Person, UnitCell
from mxcubecore_lims.mxlims.document import MODEL_VERSION, MxlimsDocument, read_document
from mxcubecore_lims.mxlims.jobs import MxExperiment
from mxcubecore_lims.mxlims.logistics import Dewar, Pin, Puck, Shipment
from mxcubecore_lims.mxlims.samples import Macromolecule, MacromoleculeSample

__all__ = ["merged", "pin_shipment"]

_NAMESPACE = uuid.UUID("5b0d7c1e-4f8a-4c55-9a57-3f0c1d2e6a10")

#: Acronym -> (space group, cell) for the proteins of the emulators' fixtures.
CRYSTALS = {
    "lyso": ("P43212", UnitCell(a=79.1, b=79.1, c=37.9, alpha=90, beta=90, gamma=90)),
    "thau": ("P41212", UnitCell(a=58.4, b=58.4, c=151.6, alpha=90, beta=90, gamma=90)),
    "insu": ("I213", UnitCell(a=78.0, b=78.0, c=78.0, alpha=90, beta=90, gamma=90)),
}


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def pin_shipment(
    proposal_code: str,
    pucks: int = 10,
    pins_per_puck: int = 16,
    acronyms: Sequence[str] = ("lyso", "thau"),
    name: str = "shipment",
    first_position: int = 1,
    pucks_per_dewar: int = 5,
) -> MxlimsDocument:
    """A pin shipment of ``pucks`` pucks of ``pins_per_puck`` pins each.

    Args:
        proposal_code: The shipment's proposal (e.g. ``MX415``).
        pucks: How many pucks.
        pins_per_puck: Pins in each puck (all positions filled).
        acronyms: Protein acronyms, used in turn, puck by puck.
        name: Shipment name; puck, pin and sample names derive from it.
        first_position: ``positionInDewar`` of the first puck (then counted on).
        pucks_per_dewar: Pucks per transport dewar.
    """
    document = MxlimsDocument()
    shipment = document.add(
        Shipment(
            name=name,
            proposal_code=proposal_code,
            uuid=_uuid(name),
            lab_contact_outbound=Person(name="Alice Example", email_address="alice@lab.example.org"),
            lab_contact_return=Person(name="Alice Example", email_address="alice@lab.example.org"),
        )
    )
    proteins = {a: document.add(Macromolecule(acronym=a, name=a, uuid=_uuid(name, a))) for a in acronyms}
    dewar = None
    for p in range(pucks):
        if p % pucks_per_dewar == 0:
            dewar = document.add(
                Dewar(name=f"{name}-D{p // pucks_per_dewar + 1}", container_ref=shipment, uuid=_uuid(name, "dewar", p))
            )
        acronym = acronyms[p % len(acronyms)]
        space_group, cell = CRYSTALS.get(acronym, (None, None))
        puck_name = f"{name}-P{p + 1:02d}"
        puck = document.add(
            Puck(
                name=puck_name,
                barcode=f"{name.upper()}-{p + 1:02d}",
                puck_type="Unipuck",
                number_positions=16,
                position_in_dewar=first_position + p,
                container_ref=dewar,
                uuid=_uuid(name, puck_name),
            )
        )
        for position in range(1, pins_per_puck + 1):
            label = f"{acronym}-{puck_name}-{position:02d}"
            sample = document.add(
                MacromoleculeSample(name=label, parent_sample_ref=proteins[acronym], uuid=_uuid(name, label))
            )
            pin = document.add(
                Pin(
                    barcode=f"PIN-{p + 1:02d}{position:02d}",
                    position_in_puck=position,
                    container_ref=puck,
                    sample_ref=sample,
                    uuid=_uuid(name, label, "pin"),
                )
            )
            sweep = document.add(
                CollectionSweep(
                    scan_axis="omega",
                    role="Template",
                    exposure_time=0.02,
                    image_width=0.1,
                    energy=12700.0,
                    transmission=50.0,
                    beam_size=[0.05, 0.05],
                    uuid=_uuid(name, label, "sweep"),
                )
            )
            document.add(
                MxExperiment(
                    job_status="Template",
                    experiment_strategy="OSC",
                    expected_resolution=1.8,
                    required_resolution=2.5,
                    target_completeness=99.0,
                    target_multiplicity=4.0,
                    expected_space_group_name=space_group,
                    expected_unit_cell=cell,
                    logistical_sample_ref=pin,
                    sample_ref=sample,
                    template_data_refs=[sweep],
                    uuid=_uuid(name, label, "plan"),
                )
            )
    return document


def _shifted(node: Any, offsets: dict[str, int]) -> Any:
    """A copy of JSON data with every ``$ref`` key number moved on by its type's offset."""
    if isinstance(node, dict):
        if set(node) == {"$ref"}:
            _, type_name, key = str(node["$ref"]).split("/")
            number = int(key[len(type_name) :]) + offsets.get(type_name, 0)
            return {"$ref": f"#/{type_name}/{type_name}{number}"}
        return {k: _shifted(v, offsets) for k, v in node.items()}
    if isinstance(node, list):
        return [_shifted(v, offsets) for v in node]
    return node


def merged(*documents: MxlimsDocument) -> MxlimsDocument:
    """One document holding all of them (e.g. two shipments), keys and links renumbered."""
    data: dict[str, Any] = {"version": MODEL_VERSION}
    for document in documents:
        part = document.to_json_data()
        offsets = {t: len(data.get(t, {})) for t in part if isinstance(part[t], dict)}
        for type_name, bucket in part.items():
            if not isinstance(bucket, dict):
                continue
            target = data.setdefault(type_name, {})
            for key, obj in bucket.items():
                number = int(key[len(type_name) :]) + offsets[type_name]
                target[f"{type_name}{number}"] = _shifted(obj, offsets)
    return read_document(data)
