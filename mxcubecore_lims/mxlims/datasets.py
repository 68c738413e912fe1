"""MXLIMS datasets: what jobs produce (``Dataset`` types).

A dataset has a ``sourceRef`` (the job that made it) or a ``derivedFromRef``
(the dataset it was made from), never both. As a job's template, a
CollectionSweep carries the beam parameters of a diffraction plan.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from mxcubecore_lims.mxlims._base import LinkTo, MxlimsObject, PositiveFloat, PositiveInt, Ref
from mxcubecore_lims.mxlims.datatypes import ReflectionStatistics, Scan, SpaceGroupName, Tensor, UnitCell
from mxcubecore_lims.mxlims.logistics import MOUNTABLE_TYPES

__all__ = ["CollectionSweep", "Dataset", "ReflectionSet"]

_Pair = Annotated[list[float], Field(min_length=2, max_length=2)]
_IntPair = Annotated[list[int], Field(min_length=2, max_length=2)]


class Dataset(MxlimsObject):
    """Data a job produced (abstract)."""

    base_type: ClassVar[str] = "Dataset"
    model_config = ConfigDict(json_schema_extra={"not": {"required": ["sourceRef", "derivedFromRef"]}})

    role: str | None = None
    """What the data is for: ``Result``, ``Characterisation``, ``Centring``, ``Intermediate``."""

    @model_validator(mode="after")
    def _one_origin(self) -> Self:
        if getattr(self, "source_ref", None) is not None and getattr(self, "derived_from_ref", None) is not None:
            raise ValueError("a dataset has sourceRef or derivedFromRef, not both")
        return self


class CollectionSweep(Dataset):
    """One sweep of diffraction images (or a template for one)."""

    mxlims_type: Literal["CollectionSweep"] = "CollectionSweep"
    scan_axis: str
    """The rotation or translation axis, e.g. ``omega`` (required; the model's default is ``omega``)."""
    sweep_type: str | None = None
    """``simple`` (the model's default), ``mesh``, ``line``, ``helical``, ``xray_centring``."""
    exposure_time: PositiveFloat | None = None
    """Seconds per image."""
    image_width: PositiveFloat | None = None
    """Degrees (or mm for a translation) per image."""
    number_images: PositiveInt | None = None
    overlap: float | None = None
    """Between consecutive images, in units of ``imageWidth``."""
    number_triggers: Annotated[int, Field(ge=0)] | None = None
    number_images_per_trigger: Annotated[int, Field(ge=0)] | None = None
    number_lines: Annotated[int, Field(ge=0)] | None = None
    mesh_range: _Pair | None = None
    """mm, horizontal and vertical."""
    energy: PositiveFloat | None = None
    """Photon energy in eV."""
    transmission: Annotated[float, Field(gt=0, le=100)] | None = None
    """Percent."""
    resolution: PositiveFloat | None = None
    """Å, at the detector edge."""
    detector_roi_mode: str | None = None
    detector_type: str | None = None
    detector_binning_mode: str | None = None
    beam_position: _Pair | None = None
    """Beam centre on the detector, in pixels."""
    beam_size: _Pair | None = None
    """mm, horizontal and vertical."""
    beam_shape: str | None = None
    axis_positions_start: dict[str, float] | None = None
    """Axis name -> position at the start (``detector_distance`` in mm)."""
    axis_positions_end: dict[str, float] | None = None
    scans: list[Scan] | None = None
    file_type: str | None = None
    prefix: str | None = None
    filename_template: str | None = None
    path: str | None = None
    """Directory of the image files."""
    source_ref: Annotated[Ref | None, LinkTo("MxExperiment")] = None
    derived_from_ref: Annotated[Ref | None, LinkTo("CollectionSweep")] = None
    logistical_sample_ref: Annotated[Ref | None, LinkTo(*MOUNTABLE_TYPES)] = None


class ReflectionSet(Dataset):
    """Merged (or unmerged) reflections from processing, with their statistics."""

    mxlims_type: Literal["ReflectionSet"] = "ReflectionSet"
    space_group_name: SpaceGroupName | None = None
    refined_unit_cell: UnitCell | None = None
    operational_resolution: PositiveFloat | None = None
    """Å."""
    diffraction_limits_estimated: Tensor | None = None
    aniso_btensor: Tensor | None = Field(default=None, alias="anisoBtensor")
    wavelengths: list[Annotated[float, Field(ge=0)]] | None = None
    """Å."""
    iso_b_wilson_estimate: float | None = Field(default=None, alias="isoBWilsonEstimate")
    number_reflections: Annotated[int, Field(ge=0)] | None = None
    number_reflections_unique: Annotated[int, Field(ge=0)] | None = None
    h_index_range: _IntPair | None = None
    k_index_range: _IntPair | None = None
    l_index_range: _IntPair | None = None
    possible_twinning: bool | None = None
    twin_fraction: Annotated[float, Field(ge=0, le=1)] | None = None
    anisotropic_diffraction: bool | None = None
    reflection_statistics_overall: ReflectionStatistics | None = None
    reflection_statistics_shells: list[ReflectionStatistics] | None = None
    signal_type: Literal["local <I/sigmaI>", "local wCC_half"] | None = None
    signal_cutoff: float | None = None
    resolution_cutoffs: dict[str, float] | None = None
    """Criterion name (``R_merge``, ``I_over_SigI``...) -> value used for the resolution cut-off."""
    binning_mode: Literal["equalVolume", "equalNumber", "dstarEquidistant", "dstar2Equidistant"] | None = None
    number_bins: PositiveInt | None = None
    reflections_per_bin: PositiveInt | None = None
    reflections_per_bin_per_sweep: PositiveInt | None = None
    resolution_rings_detected: list[_Pair] | None = None
    resolution_rings_excluded: list[_Pair] | None = None
    file_type: str | None = None
    filename: str | None = None
    path: str | None = None
    source_ref: Annotated[Ref | None, LinkTo("MxProcessing")] = None
    derived_from_ref: Annotated[Ref | None, LinkTo("ReflectionSet")] = None
    logistical_sample_ref: Annotated[Ref | None, LinkTo(*MOUNTABLE_TYPES)] = None
