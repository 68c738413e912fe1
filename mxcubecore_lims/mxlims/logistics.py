"""MXLIMS logistical samples: what is shipped and mounted (``LogisticalSample`` types).

Containment runs Shipment -> Dewar -> Puck -> Pin (or MultiPin -> PinPosition),
and Shipment -> Plate -> PlateWell -> WellDrop -> DropRegion; a Crystal sits
in a Pin, PinPosition or DropRegion. Only the mountable types (Pin,
PinPosition, PlateWell, WellDrop, DropRegion, Crystal) carry a sample.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from mxcubecore_lims.mxlims._base import LinkTo, MxlimsObject, PositiveInt, Ref
from mxcubecore_lims.mxlims.datatypes import ImageRegion, Person, PlateRegion, PlateType, TrackingDevice

__all__ = [
    "MOUNTABLE_TYPES",
    "Crystal",
    "Dewar",
    "DropRegion",
    "LogisticalSample",
    "MultiPin",
    "Pin",
    "PinPosition",
    "Plate",
    "PlateWell",
    "Puck",
    "Shipment",
    "WellDrop",
]

MOUNTABLE_TYPES = ("Pin", "PinPosition", "PlateWell", "WellDrop", "DropRegion", "Crystal")
"""The logistical samples a job or dataset can be about."""


class LogisticalSample(MxlimsObject):
    """Something shipped or mounted (abstract)."""

    base_type: ClassVar[str] = "LogisticalSample"

    name: str | None = None
    """Human-readable name."""


class Shipment(LogisticalSample):
    """One shipment of a proposal: dewars or plates sent together."""

    mxlims_type: Literal["Shipment"] = "Shipment"
    proposal_code: str
    """The proposal the shipment is for, e.g. ``mx1234``."""
    session_number: PositiveInt | None = None
    """The session (visit) it is for; absent for unattended collection."""
    lab_contact_outbound: Person | None = None
    """Who sends it."""
    lab_contact_return: Person | None = None
    """Who gets it back."""
    tracking_device: TrackingDevice | None = None
    """A tracker travelling with it."""


class Dewar(LogisticalSample):
    """A transport dewar holding pucks."""

    mxlims_type: Literal["Dewar"] = "Dewar"
    barcode: str | None = None
    tracking_device: TrackingDevice | None = None
    container_ref: Annotated[Ref | None, LinkTo("Shipment")] = None


class Puck(LogisticalSample):
    """A puck (cassette) of pins."""

    mxlims_type: Literal["Puck"] = "Puck"
    barcode: str | None = None
    position_in_dewar: PositiveInt | None = None
    """1-based position in its dewar."""
    number_positions: PositiveInt | None = None
    """How many pins it holds."""
    puck_type: str | None = None
    """Puck model, e.g. ``Unipuck`` (not yet an enumeration in the model)."""
    container_ref: Annotated[Ref | None, LinkTo("Dewar")] = None


class Pin(LogisticalSample):
    """A pin with one loop: the usual mounted sample."""

    mxlims_type: Literal["Pin"] = "Pin"
    barcode: str | None = None
    position_in_puck: PositiveInt | None = None
    """1-based position in its puck."""
    loop_type: str | None = None
    holder_length: float | None = None
    """Pin length in mm."""
    container_ref: Annotated[Ref | None, LinkTo("Puck")] = None
    sample_ref: Annotated[Ref | None, LinkTo("MacromoleculeSample")] = None


class MultiPin(LogisticalSample):
    """A pin with several sample positions."""

    mxlims_type: Literal["MultiPin"] = "MultiPin"
    barcode: str | None = None
    number_positions: PositiveInt
    position_in_puck: PositiveInt
    container_ref: Annotated[Ref | None, LinkTo("Puck")] = None


class PinPosition(LogisticalSample):
    """One position of a MultiPin."""

    mxlims_type: Literal["PinPosition"] = "PinPosition"
    position_in_pin: PositiveInt
    container_ref: Annotated[Ref | None, LinkTo("MultiPin")] = None
    sample_ref: Annotated[Ref | None, LinkTo("MacromoleculeSample")] = None


class Plate(LogisticalSample):
    """A crystallisation plate."""

    mxlims_type: Literal["Plate"] = "Plate"
    barcode: str | None = None
    plate_type: PlateType | None = None
    tracking_device: TrackingDevice | None = None
    container_ref: Annotated[Ref | None, LinkTo("Shipment")] = None


class PlateWell(LogisticalSample):
    """A well of a plate (rows and columns count from 1)."""

    mxlims_type: Literal["PlateWell"] = "PlateWell"
    row_number: PositiveInt
    column_number: PositiveInt
    container_ref: Annotated[Ref | None, LinkTo("Plate")] = None
    sample_ref: Annotated[Ref | None, LinkTo("MacromoleculeSample")] = None


class WellDrop(LogisticalSample):
    """A drop in a well."""

    mxlims_type: Literal["WellDrop"] = "WellDrop"
    drop_number: PositiveInt
    container_ref: Annotated[Ref | None, LinkTo("PlateWell")] = None
    sample_ref: Annotated[Ref | None, LinkTo("MacromoleculeSample")] = None


class DropRegion(LogisticalSample):
    """A region of a drop, given on an image or in plate coordinates."""

    mxlims_type: Literal["DropRegion"] = "DropRegion"
    region: ImageRegion | PlateRegion
    container_ref: Annotated[Ref | None, LinkTo("WellDrop")] = None
    sample_ref: Annotated[Ref | None, LinkTo("MacromoleculeSample")] = None


class Crystal(LogisticalSample):
    """One physical crystal, usually found during the experiment."""

    mxlims_type: Literal["Crystal"] = "Crystal"
    container_ref: Annotated[Ref | None, LinkTo("Pin", "PinPosition", "DropRegion")] = None
    sample_ref: Annotated[Ref | None, LinkTo("MacromoleculeSample")] = None
