"""Samples: as the LIMS lists them, as collections refer to them, as updated.

Three dict shapes carry sample information:

* :class:`Sample`: one entry of ``get_samples()`` (and
  ``find_sample_by_sample_id()``). ISPyB builds it from its ``sampleInfo``
  value object and stringifies every value on the way (``"515485"``,
  ``"None"``); ICATLIMS builds it from sample tracking, with a few extra
  keys. Both shapes read and write back unchanged.
* :class:`SampleUpdate`: the dict given to ``update_bl_sample()``, a sample
  dict plus ``lastKnownCentringPosition``.
* :class:`SampleReference`: the ``sample_reference`` sub-dict that data
  collections, energy scans and XRF spectra carry.
"""

from __future__ import annotations

from typing import Annotated, Any

from mxcubecore_lims.model._legacy import (
    BlankIsNone,
    IntOrText,
    LegacyModel,
    NonNegative,
    legacy,
)

__all__ = ["DiffractionPlan", "Sample", "SampleReference", "SampleUpdate"]

# ISPyB's client stringifies every value of a sample (None becomes "None"),
# so the sample models read "None" and "" as None. Only here: elsewhere a
# blank number is a producer bug worth reporting.
_Text = Annotated[str | None, BlankIsNone]
_Int = Annotated[int | None, BlankIsNone]
_Id = Annotated[IntOrText | None, BlankIsNone]
_Float = Annotated[float | None, BlankIsNone]
_Bool = Annotated[bool | None, BlankIsNone]
_Cell = Annotated[NonNegative | None, BlankIsNone]


class DiffractionPlan(LegacyModel):
    """The ``diffractionPlan`` sub-dict of a sample (ISPyB ``diffractionPlanWS3VO``).

    ICATLIMS always sends an empty dict here.
    """

    diffraction_plan_id: _Id = legacy("diffractionPlanId")
    """ISPyB id of the plan."""
    experiment_kind: _Text = legacy("experimentKind")
    """Requested experiment, e.g. ``"OSC"``, ``"SAD"``, ``"MAD"``."""
    comments: _Text = legacy("comments")
    """Free text."""
    complexity: _Text = legacy("complexity")
    """Strategy complexity, e.g. ``"none"``, ``"full"``."""
    aimed_resolution: _Float = legacy("aimedResolution")
    """Aimed resolution [Å]."""
    required_resolution: _Float = legacy("requiredResolution")
    """Required resolution [Å]."""
    minimal_resolution: _Float = legacy("minimalResolution")
    """Minimal (lowest) resolution [Å]."""
    maximal_resolution: _Float = legacy("maximalResolution")
    """Maximal (highest) resolution [Å]."""
    observed_resolution: _Float = legacy("observedResolution")
    """Observed resolution [Å]."""
    screening_resolution: _Float = legacy("screeningResolution")
    """Resolution seen at screening [Å]."""
    aimed_completeness: _Float = legacy("aimedCompleteness")
    """Aimed completeness (fraction)."""
    required_completeness: _Float = legacy("requiredCompleteness")
    """Required completeness (fraction)."""
    aimed_multiplicity: _Float = legacy("aimedMultiplicity")
    """Aimed multiplicity."""
    required_multiplicity: _Float = legacy("requiredMultiplicity")
    """Required multiplicity."""
    aimed_i_over_sigma_at_highest_res: _Float = legacy("aimedIOverSigmaAtHighestRes")
    """Aimed I/sigma(I) in the highest resolution shell."""
    anomalous_data: _Bool = legacy("anomalousData")
    """Whether anomalous data are wanted."""
    anomalous_scatterer: _Text = legacy("anomalousScatterer")
    """Element symbol of the anomalous scatterer."""
    estimate_radiation_damage: _Bool = legacy("estimateRadiationDamage")
    """Whether to estimate radiation damage."""
    exposure_time: _Float = legacy("exposureTime")
    """Exposure time per image [s]."""
    oscillation_range: _Float = legacy("oscillationRange")
    """Oscillation range per image [deg]."""
    axis_range: _Float = legacy("axisRange")
    """Total rotation range [deg]."""
    min_osc_width: _Float = legacy("minOscWidth")
    """Smallest oscillation width [deg]."""
    forced_space_group: _Text = legacy("forcedSpaceGroup")
    """Space group to force in processing."""
    kappa_strategy_option: _Text = legacy("kappaStrategyOption")
    """Kappa strategy option."""
    strategy_option: _Text = legacy("strategyOption")
    """Strategy program option."""
    number_of_positions: _Int = legacy("numberOfPositions")
    """Number of positions to collect."""
    preferred_beam_diameter: _Float = legacy("preferredBeamDiameter")
    """Preferred beam diameter [µm]."""
    preferred_beam_size_x: _Float = legacy("preferredBeamSizeX")
    """Preferred horizontal beam size [µm]."""
    preferred_beam_size_y: _Float = legacy("preferredBeamSizeY")
    """Preferred vertical beam size [µm]."""
    radiation_sensitivity: _Float = legacy("radiationSensitivity")
    """Relative radiation sensitivity."""
    radiation_sensitivity_beta: _Float = legacy("radiationSensitivityBeta")
    """Radiation sensitivity, beta."""
    radiation_sensitivity_gamma: _Float = legacy("radiationSensitivityGamma")
    """Radiation sensitivity, gamma."""
    max_dim_accross_spindle_axis: _Float = legacy("maxDimAccrossSpindleAxis")
    """Largest crystal dimension across the spindle axis [µm] (ISPyB spelling)."""
    min_dim_accross_spindle_axis: _Float = legacy("minDimAccrossSpindleAxis")
    """Smallest crystal dimension across the spindle axis [µm] (ISPyB spelling)."""


class Sample(LegacyModel):
    """One sample as ``get_samples()`` returns it.

    Keys come from ISPyB's ``sampleInfo`` (``sampleId``, ``cellA``, ...) and
    from ICATLIMS (``sample_sheet_id``, ``SampleTrackingParcel_name``,
    ``experimentPlan``, ...). Positions are ints when they are integers;
    mxcubeweb wants ``containerSampleChangerLocation`` as a string, which
    :meth:`to_legacy` keeps when it was given as one.
    """

    sample_id: _Id = legacy("sampleId")
    """LIMS id of the sample (ISPyB ``blSampleId``; ICAT: last six digits of
    the tracking object id)."""
    sample_name: _Text = legacy("sampleName")
    """Sample name."""
    code: _Text = legacy("code")
    """Sample barcode."""
    lims_id: _Id = legacy("limsID")
    """Sample id as mxcubeweb stores it (read by ICATLIMS' sample search)."""
    sample_location: _Id = legacy("sampleLocation")
    """Position of the sample in its container (1-based)."""
    container_sample_changer_location: _Id = legacy("containerSampleChangerLocation")
    """Position of the container in the sample changer (1-based)."""
    container_code: _Text = legacy("containerCode")
    """Container (puck) name or barcode."""
    container_comments: _Text = legacy("containerComments")
    """Container comments."""
    container_capacity: _Int = legacy("containerCapacity")
    """Number of sample positions of the container."""
    container_type: _Text = legacy("containerType")
    """Container type, e.g. ``"Unipuck"``."""
    protein_acronym: _Text = legacy("proteinAcronym")
    """Protein acronym."""
    crystal_id: _Id = legacy("crystalId")
    """LIMS id of the crystal."""
    crystal_space_group: _Text = legacy("crystalSpaceGroup")
    """Space group of the crystal, e.g. ``"P212121"``."""
    cell_a: _Cell = legacy("cellA")
    """Unit cell length a [Å]."""
    cell_b: _Cell = legacy("cellB")
    """Unit cell length b [Å]."""
    cell_c: _Cell = legacy("cellC")
    """Unit cell length c [Å]."""
    cell_alpha: _Cell = legacy("cellAlpha")
    """Unit cell angle alpha [deg]."""
    cell_beta: _Cell = legacy("cellBeta")
    """Unit cell angle beta [deg]."""
    cell_gamma: _Cell = legacy("cellGamma")
    """Unit cell angle gamma [deg]."""
    diffraction_plan: DiffractionPlan | None = legacy("diffractionPlan")
    """The diffraction plan (empty for ICAT)."""
    experiment_type: _Text = legacy("experimentType")
    """Experiment type of the plan (ISPyB ``experimentKind``; ICAT ``workflowType``)."""
    minimal_resolution: _Float = legacy("minimalResolution")
    """Minimal resolution of the plan [Å]."""
    holder_length: _Float = legacy("holderLength")
    """Pin (holder) length [mm]."""
    smiles: _Text = legacy("smiles")
    """SMILES string of a ligand."""
    blsample_image_path: _Text = legacy("blsampleImagePath")
    """Path of a sample image."""
    dewar_id: _Id = legacy("dewarId")
    """LIMS id of the dewar."""
    dewar_code: _Text = legacy("dewarCode")
    """Dewar name or barcode."""
    shipping_id: _Id = legacy("shippingId")
    """LIMS id of the shipment."""
    shipping_name: _Text = legacy("shippingName")
    """Shipment name."""
    shipping_comments: _Text = legacy("shippingComments")
    """Shipment comments."""
    comments: _Text = legacy("comments")
    """Sample comments."""
    # ICATLIMS (sample tracking) keys
    sample_sheet_id: _Id = legacy("sample_sheet_id")
    """ICAT: id of the sample sheet declared in the user portal."""
    tracking_sample_id: _Id = legacy("trackingSampleId")
    """ICAT: sample-tracking object id."""
    tracking_parcel_name: _Text = legacy("SampleTrackingParcel_name")
    """ICAT: parcel name."""
    tracking_parcel_id: _Id = legacy("SampleTrackingParcel_id")
    """ICAT: parcel id."""
    tracking_container_id: _Id = legacy("SampleTrackingContainer_id")
    """ICAT: container id (ICATLIMS puts the puck *name* here)."""
    tracking_container_name: _Id = legacy("SampleTrackingContainer_name")
    """ICAT: container name (ICATLIMS puts the puck *id* here)."""
    experiment_plan: dict[str, Any] | None = legacy("experimentPlan")
    """ICAT: the experiment plan, by key."""
    processing_plan: dict[str, Any] | list[Any] | None = legacy("processingPlan")
    """ICAT: the processing plan, a dict by key or a list of entries."""


class SampleUpdate(Sample):
    """The dict given to ``update_bl_sample()``.

    mxcubecore passes the current LIMS sample dict, to which
    ``AbstractMultiCollect`` adds ``lastKnownCentringPosition``. The other
    keys are those of ISPyB's ``blSampleWS3VO``, which spells the centring
    key ``lastKnownCenteringPosition``; both spellings are kept apart.
    """

    last_known_centring_position: _Text = legacy("lastKnownCentringPosition")
    """Motor positions of the last centring, ``"phi=10.000000 phiy=0.100000"``
    (motor names and positions in mm or deg), as mxcubecore writes it."""
    last_known_centering_position: _Text = legacy("lastKnownCenteringPosition")
    """The same, under ISPyB's ``blSampleWS3VO`` element name."""
    bl_sample_id: _Id = legacy("blSampleId")
    """ISPyB id of the sample (``blSampleWS3VO``)."""
    name: _Text = legacy("name")
    """Sample name (``blSampleWS3VO``)."""
    location: _Id = legacy("location")
    """Position in the container (``blSampleWS3VO``)."""
    container_id: _Id = legacy("containerId")
    """ISPyB id of the container."""
    diffraction_plan_id: _Id = legacy("diffractionPlanId")
    """ISPyB id of the diffraction plan."""
    loop_length: _Float = legacy("loopLength")
    """Loop length [mm]."""
    loop_type: _Text = legacy("loopType")
    """Loop type."""
    wire_width: _Float = legacy("wireWidth")
    """Wire width [mm]."""
    bl_sample_status: _Text = legacy("blSampleStatus")
    """Sample status, e.g. ``"processing"``."""
    is_in_sample_changer: Annotated[bool | int | None, BlankIsNone] = legacy("isInSampleChanger")
    """Whether the sample is in the sample changer (ISPyB sends a byte)."""
    last_image_url: _Text = legacy("lastImageURL")
    """URL of the last sample image."""
    completion_stage: _Text = legacy("completionStage")
    """Completion stage."""
    structure_stage: _Text = legacy("structureStage")
    """Structure stage."""
    publication_stage: _Text = legacy("publicationStage")
    """Publication stage."""
    publication_comments: _Text = legacy("publicationComments")
    """Publication comments."""

    @property
    def centring_motor_positions(self) -> dict[str, float]:
        """The last known centring position as ``{motor: position}``.

        Reads ``lastKnownCentringPosition`` (or ISPyB's spelling); pairs
        that are not ``name=number`` are skipped.
        """
        text = self.last_known_centring_position or self.last_known_centering_position
        positions: dict[str, float] = {}
        for pair in (text or "").split():
            motor, _, value = pair.partition("=")
            try:
                positions[motor] = float(value)
            except ValueError:
                continue
        return positions


class SampleReference(LegacyModel):
    """The ``sample_reference`` sub-dict of collections, scans and spectra.

    Built by ``queue_model_objects.to_collect_dict`` from the queue's sample
    and its processing parameters.
    """

    bl_sample_id: IntOrText | None = legacy("blSampleId")
    """LIMS id of the sample; -1 when the sample is not from the LIMS."""
    sample_name: str | None = legacy("sample_name")
    """Sample name."""
    acronym: str | None = legacy("acronym")
    """Protein acronym."""
    spacegroup: str | int | None = legacy("spacegroup")
    """Space group; mxcubecore's default is the int 0 ("unknown")."""
    cell: str | None = legacy("cell")
    """Unit cell ``"a,b,c,alpha,beta,gamma"`` [Å, deg]; ``"0,0,0,0,0,0"``
    when unknown."""

    @property
    def cell_parameters(self) -> tuple[float, ...] | None:
        """The six unit cell parameters [Å, deg], or None when unknown."""
        try:
            values = tuple(float(part) for part in (self.cell or "").split(","))
        except ValueError:
            return None
        if len(values) != 6 or not any(values):
            return None
        return values
