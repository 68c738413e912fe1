"""The registry of MXLIMS object types, in the order documents are written."""

from __future__ import annotations

from mxcubecore_lims.mxlims._base import MxlimsObject
from mxcubecore_lims.mxlims.datasets import CollectionSweep, ReflectionSet
from mxcubecore_lims.mxlims.jobs import MxExperiment, MxProcessing, VolumeScan
from mxcubecore_lims.mxlims.logistics import (
    Crystal,
    Dewar,
    DropRegion,
    MultiPin,
    Pin,
    PinPosition,
    Plate,
    PlateWell,
    Puck,
    Shipment,
    WellDrop,
)
from mxcubecore_lims.mxlims.samples import Macromolecule, MacromoleculeSample, Medium

__all__ = ["CYCLE_LINKS", "TYPES"]

#: Type name -> model, every concrete type of the strict message.
TYPES: dict[str, type[MxlimsObject]] = {
    model.model_fields["mxlims_type"].default: model
    for model in (
        Shipment,
        Dewar,
        Puck,
        Pin,
        MultiPin,
        PinPosition,
        Plate,
        PlateWell,
        WellDrop,
        DropRegion,
        Crystal,
        Macromolecule,
        Medium,
        MacromoleculeSample,
        MxExperiment,
        MxProcessing,
        VolumeScan,
        CollectionSweep,
        ReflectionSet,
    )
}

#: Single links whose chains must not loop (a type may point at its own kind).
CYCLE_LINKS = ("container_ref", "started_from_ref", "derived_from_ref", "parent_sample_ref")
