"""MXLIMS samples: what the material is (``Sample`` types).

A MacromoleculeSample names its Macromolecule (``parentSampleRef``) and its
Medium; the composition is the union of the three, so a shipment of a
hundred pins declares the protein once.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from mxcubecore_lims.mxlims._base import LinkTo, MxlimsObject, Ref
from mxcubecore_lims.mxlims.datatypes import SampleComponent

__all__ = ["Macromolecule", "MacromoleculeSample", "Medium", "Sample"]


class Sample(MxlimsObject):
    """Material, whatever it sits in (abstract)."""

    base_type: ClassVar[str] = "Sample"

    name: str | None = None
    acronym: str | None = None
    """Short name, e.g. the protein acronym."""
    campaign_name: str | None = None
    """The project or campaign the sample belongs to."""
    components: list[SampleComponent] | None = None


class Macromolecule(Sample):
    """The macromolecule of a set of samples (the ISPyB Protein)."""

    mxlims_type: Literal["Macromolecule"] = "Macromolecule"
    acronym: str
    """The acronym is required for a macromolecule."""


class Medium(Sample):
    """The solution a sample sits in (buffer, cryoprotectant...)."""

    mxlims_type: Literal["Medium"] = "Medium"


class MacromoleculeSample(Sample):
    """A sample of a macromolecule in a medium: what sits on a pin."""

    mxlims_type: Literal["MacromoleculeSample"] = "MacromoleculeSample"
    parent_sample_ref: Annotated[Ref | None, LinkTo("Macromolecule")] = None
    medium_ref: Annotated[Ref | None, LinkTo("Medium")] = None
