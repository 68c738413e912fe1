"""MXLIMS jobs: experiments and calculations (``Job`` types).

A job is a plan (``jobStatus: "Template"``, e.g. the diffraction plan of a
pin) or a record (Completed, Failed...). Its datasets link back to it with
``sourceRef``; templates and inputs are linked from the job.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from mxcubecore_lims.mxlims._base import AwareDatetime, LinkTo, MxlimsObject, PositiveFloat, PositiveInt, Ref
from mxcubecore_lims.mxlims.datatypes import JobStatus, PointCloud, SpaceGroupName, UnitCell
from mxcubecore_lims.mxlims.logistics import MOUNTABLE_TYPES

__all__ = ["Job", "MxExperiment", "MxProcessing", "VolumeScan"]

_Mountable = LinkTo(*MOUNTABLE_TYPES, "LogisticalSample")


class Job(MxlimsObject):
    """An experiment or calculation (abstract)."""

    base_type: ClassVar[str] = "Job"

    start_time: AwareDatetime | None = None
    end_time: AwareDatetime | None = None
    job_status: JobStatus | None = None


class MxExperiment(Job):
    """A crystallographic experiment on one sample: a diffraction plan, or what was done."""

    mxlims_type: Literal["MxExperiment"] = "MxExperiment"
    experiment_strategy: str | None = None
    """The kind of experiment (ISPyB ``experimentKind``), e.g. ``MXPressE``."""
    experiment_location: str | None = None
    """Where it was or is to be done (beamline)."""
    expected_resolution: PositiveFloat | None = None
    """Resolution expected, in Å."""
    required_resolution: PositiveFloat | None = None
    """Minimum acceptable resolution, in Å."""
    target_completeness: Annotated[float, Field(gt=0, le=100)] | None = None
    """Percent."""
    target_multiplicity: PositiveFloat | None = None
    aimed_total_range: PositiveFloat | None = None
    """Total rotation, in degrees."""
    priority: PositiveInt | None = None
    """1 is the highest priority."""
    sample_group: str | None = None
    dose_budget: PositiveFloat | None = None
    """MGy."""
    radiation_sensitivity: Annotated[float, Field(gt=0, le=1)] | None = None
    snapshot_count: Annotated[int, Field(ge=0)] | None = None
    """Snapshots to take (the model's default is 0)."""
    wedge_width: PositiveFloat | None = None
    """Degrees."""
    measured_flux: PositiveFloat | None = None
    """Photons per second."""
    radiation_dose: PositiveFloat | None = None
    """MGy."""
    expected_space_group_name: SpaceGroupName | None = None
    selected_space_group_name: SpaceGroupName | None = None
    expected_unit_cell: UnitCell | None = None
    selected_unit_cell: UnitCell | None = None
    sample_ref: Annotated[Ref | None, LinkTo("MacromoleculeSample", "Sample")] = None
    started_from_ref: Annotated[Ref | None, LinkTo("MxExperiment", "Job")] = None
    logistical_sample_ref: Annotated[Ref | None, _Mountable] = None
    template_data_refs: Annotated[list[Ref] | None, LinkTo("CollectionSweep", "Dataset")] = None
    reference_data_refs: Annotated[list[Ref] | None, LinkTo("ReflectionSet", "Dataset")] = None


class MxProcessing(Job):
    """A data-processing run over collection sweeps."""

    mxlims_type: Literal["MxProcessing"] = "MxProcessing"
    program_name: str | None = None
    program_version: str | None = None
    space_group_name: SpaceGroupName | None = None
    unit_cell: UnitCell | None = None
    sample_ref: Annotated[Ref | None, LinkTo("MacromoleculeSample")] = None
    started_from_ref: Annotated[Ref | None, LinkTo("MxProcessing")] = None
    logistical_sample_ref: Annotated[Ref | None, LinkTo(*MOUNTABLE_TYPES)] = None
    input_data_refs: Annotated[list[Ref] | None, LinkTo("CollectionSweep")] = None
    template_data_refs: Annotated[list[Ref] | None, LinkTo("ReflectionSet")] = None
    reference_data_refs: Annotated[list[Ref] | None, LinkTo("ReflectionSet")] = None


class VolumeScan(Job):
    """An X-ray centring scan over a volume of the sample."""

    mxlims_type: Literal["VolumeScan"] = "VolumeScan"
    experiment_type: str | None = None
    rotation_angles: list[float] | None = None
    search_volume: PointCloud | None = None
    result_volume: PointCloud | None = None
    bounding_box_size: Annotated[list[float], Field(min_length=3, max_length=3)] | None = None
    bounding_box_shape: str | None = None
    """The model's default is ``Box``."""
    sample_ref: Annotated[Ref | None, LinkTo("MacromoleculeSample", "Sample")] = None
    started_from_ref: Annotated[Ref | None, LinkTo("MxExperiment", "Job")] = None
    logistical_sample_ref: Annotated[Ref | None, _Mountable] = None
    template_data_refs: Annotated[list[Ref] | None, LinkTo("CollectionSweep", "Dataset")] = None
