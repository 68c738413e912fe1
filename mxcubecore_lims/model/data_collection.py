"""Data collections: the dict of store/update/finalize_data_collection.

One dict travels through a whole collection. ``queue_model_objects.
to_collect_dict`` builds it (snake_case keys: ``fileinfo``,
``oscillation_sequence``, ``sample_reference``, ...); the collect routines
then add ``status``, ``collection_start_time``, ``synchrotronMode``,
``collection_id``, sample-changer positions, snapshots and, at update time,
the beam, flux and detector readings (camelCase keys: ``detectorDistance``,
``xBeam``, ``beamSizeAtSampleX``, ...). :class:`DataCollection` reads any
stage of it.

Two keys hold a requested value and a measured one: ``detector_distance``
(requested, 0 = "use the resolution") and ``detectorDistance`` (measured);
``resolution`` is requested first and overwritten with the measured value.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from mxcubecore_lims.model._legacy import (
    Count,
    EnergyKeVOrUnset,
    FilePath,
    IntOrText,
    LegacyModel,
    NonNegative,
    Percent,
    Positive,
    Timestamp,
    legacy,
)
from mxcubecore_lims.model.sample import SampleReference

__all__ = ["DataCollection", "FileInfo", "Oscillation", "ResolutionRange"]


class FileInfo(LegacyModel):
    """The ``fileinfo`` sub-dict: where the images go."""

    directory: FilePath | None = legacy("directory")
    """Directory of the raw images."""
    prefix: str | None = legacy("prefix")
    """Image file name prefix."""
    run_number: Count | None = legacy("run_number")
    """Run number."""
    suffix: str | None = legacy("suffix")
    """Image file extension, e.g. ``"cbf"`` (added by AbstractMultiCollect)."""
    template: str | None = legacy("template")
    """Image file name template with a ``%d``-style frame number field."""
    process_directory: FilePath | None = legacy("process_directory")
    """Directory for processing results."""
    archive_directory: FilePath | None = legacy("archive_directory")
    """Directory for snapshots and jpeg images."""
    compression: bool | None = legacy("compression")
    """Whether images are compressed."""


class Oscillation(LegacyModel):
    """One entry of ``oscillation_sequence`` (ISPyB accepts exactly one)."""

    start: float | None = legacy("start")
    """Rotation start angle [deg]."""
    range: float | None = legacy("range")
    """Rotation range per image [deg]; the sign gives the direction."""
    offset: float | None = legacy("offset")
    """Angle between images beyond ``range`` [deg]; ISPyB stores ``-offset``
    as overlap."""
    number_of_images: Count | None = legacy("number_of_images")
    """Number of images."""
    start_image_number: Count | None = legacy("start_image_number")
    """Number of the first image."""
    exposure_time: NonNegative | None = legacy("exposure_time")
    """Exposure time per image [s]."""
    number_of_passes: Count | None = legacy("number_of_passes")
    """Passes per image; 0 in mxcubecore's defaults."""
    number_of_lines: Count | None = legacy("number_of_lines")
    """Lines of a mesh scan."""
    mesh_range: tuple[float, ...] | list[float] | dict[str, float] | None = legacy("mesh_range")
    """Mesh size [mm]: ``(horizontal, vertical)`` from mxcubecore's queue model, or
    ``{"horizontal_range", "vertical_range"}`` as mxcubecore's queue library (and so
    mxcubeweb) gives it; empty when not a mesh."""
    num_triggers: Count | None = legacy("num_triggers")
    """Detector triggers."""
    num_images_per_trigger: Count | None = legacy("num_images_per_trigger")
    """Images per detector trigger."""
    kappa_start: float | None = legacy("kappaStart")
    """Kappa angle [deg]; -9999 means "no kappa" to ISPyB."""
    phi_start: float | None = legacy("phiStart")
    """Kappa-phi angle [deg]; -9999 means "no kappa" to ISPyB."""
    reference_interval: Count | None = legacy("reference_interval")
    """Sub-wedge size read by AbstractMultiCollect."""
    detector_distance: NonNegative | None = legacy("detector_distance")
    """Detector distance [mm], read here by AbstractMultiCollect."""

    @property
    def end(self) -> float | None:
        """Rotation end angle [deg], as ISPyB computes it, or None."""
        start, width, count = self.start, self.range, self.number_of_images
        if start is None or width is None or count is None:
            return None
        return start + (width + (self.offset or 0)) * count


class ResolutionRange(LegacyModel):
    """``resolution`` as ``{"lower", "upper"}``, the shape AbstractLims documents.

    The real producers send a single number instead.
    """

    lower: Positive | None = legacy("lower")
    """Low resolution limit [Å]."""
    upper: Positive | None = legacy("upper")
    """High resolution limit [Å]."""


class DataCollection(LegacyModel):
    """The data collection dict, at any stage of a collection.

    Example:
        >>> dc = DataCollection.from_legacy(
        ...     {"oscillation_sequence": [{"exposure_time": 0.04}], "sessionId": 1}
        ... )
        >>> dc.oscillation_sequence[0].exposure_time
        0.04
    """

    # --- identity and grouping
    session_id: IntOrText | None = legacy("sessionId")
    """LIMS session id (ISPyB int, ICAT investigation id)."""
    collection_id: IntOrText | None = legacy("collection_id")
    """LIMS id of this collection, set after storing."""
    group_id: IntOrText | None = legacy("group_id")
    """LIMS id of the data collection group."""
    detector_id: IntOrText | None = legacy("detector_id")
    """LIMS id of the detector."""
    workflow_id: IntOrText | None = legacy("workflow_id")
    """LIMS id of the workflow this collection belongs to."""
    screening_sub_wedge_id: IntOrText | None = legacy("screening_sub_wedge_id")
    """LIMS id of the strategy sub-wedge."""
    ispyb_group_data_collections: bool | None = legacy("ispyb_group_data_collections")
    """Whether to reuse ``group_id`` for the group."""

    # --- what to collect
    experiment_type: str | None = legacy("experiment_type")
    """mxcubecore experiment type, e.g. ``"OSC"``, ``"Helical"``, ``"Mesh"``."""
    status: str | None = legacy("status")
    """Run status, e.g. ``"Running"``, ``"Data collection successful"``."""
    comments: str | None = legacy("comments")
    """Comments; the failure message when the collection failed."""
    comment: str | None = legacy("comment")
    """Singular form read by AbstractMultiCollect and set by ISPyB helical."""
    collection_start_time: Timestamp | None = legacy("collection_start_time")
    """Start of the collection, ``"%Y-%m-%d %H:%M:%S"``."""
    fileinfo: FileInfo | None = legacy("fileinfo")
    """Where the images go."""
    oscillation_sequence: list[Oscillation] | None = legacy("oscillation_sequence")
    """The rotation(s); ISPyB accepts exactly one."""
    sample_reference: SampleReference | None = legacy("sample_reference")
    """The sample collected."""
    bl_sample_id: IntOrText | None = legacy("blSampleId")
    """LIMS id of the sample, None when unknown."""
    workflow_parameters: dict[str, Any] | None = legacy("workflow_parameters")
    """Parameters of the automation workflow (read by ICATLIMS)."""
    motors: dict[Any, Any] | None = legacy("motors")
    """Centred position ``{motor: position}`` [mm, deg]."""
    position_name: int | str | None = legacy("position_name")
    """Index of the centred position."""
    helical: bool | int | None = legacy("helical")
    """Helical collection flag (read by ISPyB)."""

    # --- requested settings
    energy: EnergyKeVOrUnset | None = legacy("energy")
    """Requested energy [keV]; 0 means "keep the current energy"."""
    transmission: Percent | None = legacy("transmission")
    """Transmission [%]: requested, then measured."""
    detector_distance: NonNegative | None = legacy("detector_distance")
    """Requested detector distance [mm]; 0 means "use the resolution"."""
    resolution: Positive | ResolutionRange | None = legacy("resolution")
    """Resolution [Å]: requested (None: keep), then measured. A
    ``{"lower", "upper"}`` dict is read too."""
    shutterless: bool | None = legacy("shutterless")
    """Shutterless collection."""
    take_snapshots: bool | Count | None = legacy("take_snapshots")
    """Snapshots to take: a flag (queue model) or a number (mxcubeweb)."""
    take_video: bool | None = legacy("take_video")
    """Whether to record a sample video."""
    dark: bool | int | None = legacy("dark")
    """Take a dark current image (AbstractMultiCollect resets it to 0)."""
    skip_images: bool | None = legacy("skip_images")
    """Skip images that already exist."""
    detector_binning_mode: int | str | None = legacy("detector_binning_mode")
    """Detector binning mode."""
    detector_roi_mode: int | str | None = legacy("detector_roi_mode")
    """Detector region-of-interest mode."""
    in_queue: bool | None = legacy("in_queue")
    """Whether the collection runs from the queue."""
    in_interleave: Any | None = legacy("in_interleave")
    """Interleave information; truthy to skip LIMS storage."""

    # --- processing
    processing: bool | None = legacy("processing")
    """Run processing; mxcubecore sends the strings ``"True"``/``"False"``."""
    processing_offline: bool | None = legacy("processing_offline")
    """Run offline processing."""
    processing_online: bool | str | None = legacy("processing_online")
    """Online processing: False or its kind (``"XrayCentring"``, ...)."""
    residues: IntOrText | None = legacy("residues")
    """Number of residues in the asymmetric unit."""
    anomalous: bool | None = legacy("anomalous")
    """Anomalous data."""
    do_inducedraddam: bool | None = legacy("do_inducedraddam")
    """Induced radiation damage (burn) strategy."""
    edna_files_dir: FilePath | None = legacy("EDNA_files_dir")
    """EDNA processing directory."""
    xds_dir: FilePath | None = legacy("xds_dir")
    """XDS input directory."""
    archive_dir: FilePath | None = legacy("archive_dir")
    """Archive directory (AbstractMultiCollect)."""

    # --- sample changer (AbstractCollect.get_sample_info)
    actual_sample_barcode: str | None = legacy("actualSampleBarcode")
    """Barcode of the mounted sample."""
    actual_container_barcode: str | None = legacy("actualContainerBarcode")
    """Barcode of the container of the mounted sample."""
    actual_sample_slot_in_container: IntOrText | None = legacy("actualSampleSlotInContainer")
    """Position of the sample in its container."""
    actual_container_slot_in_sc: IntOrText | None = legacy("actualContainerSlotInSC")
    """Position of the container in the sample changer."""

    # --- centring and snapshots
    actual_centring_position: str | None = legacy("actualCentringPosition")
    """Centred motor positions, ``"phi=10.000000 phiy=0.100000"``."""
    centring_method: str | None = legacy("centringMethod")
    """Centring method used."""
    xtal_snapshot_full_path1: FilePath | None = legacy("xtalSnapshotFullPath1")
    """First crystal snapshot."""
    xtal_snapshot_full_path2: FilePath | None = legacy("xtalSnapshotFullPath2")
    """Second crystal snapshot (or the sample animation)."""
    xtal_snapshot_full_path3: FilePath | None = legacy("xtalSnapshotFullPath3")
    """Third crystal snapshot (or the mesh grid snapshot)."""
    xtal_snapshot_full_path4: FilePath | None = legacy("xtalSnapshotFullPath4")
    """Fourth crystal snapshot."""

    # --- machine, beam and detector, measured (update_data_collection)
    synchrotron_mode: str | None = legacy("synchrotronMode")
    """Machine filling mode (at most 20 characters)."""
    flux: NonNegative | None = legacy("flux")
    """Flux at the start [photons/s]."""
    flux_end: NonNegative | None = legacy("flux_end")
    """Flux at the end [photons/s]."""
    total_absorbed_dose: NonNegative | None = legacy("totalAbsorbedDose")
    """Total absorbed dose [Gy]."""
    wavelength: Positive | None = legacy("wavelength")
    """Wavelength [Å]."""
    measured_detector_distance: Positive | None = legacy("detectorDistance")
    """Measured detector distance [mm]."""
    resolution_at_corner: Positive | None = legacy("resolutionAtCorner")
    """Resolution at the detector corner [Å]."""
    x_beam: float | None = legacy("xBeam")
    """Beam centre, horizontal, on the detector [mm]."""
    y_beam: float | None = legacy("yBeam")
    """Beam centre, vertical, on the detector [mm]."""
    beam_size_at_sample_x: NonNegative | None = legacy("beamSizeAtSampleX")
    """Horizontal beam size at the sample [mm]."""
    beam_size_at_sample_y: NonNegative | None = legacy("beamSizeAtSampleY")
    """Vertical beam size at the sample [mm]."""
    beam_shape: str | Enum | None = legacy("beamShape")
    """Beam shape: a name, or mxcubecore's ``BeamShape`` member (AbstractCollect)."""
    slit_gap_horizontal: NonNegative | None = legacy("slitGapHorizontal")
    """Horizontal slit gap [mm]."""
    slit_gap_vertical: NonNegative | None = legacy("slitGapVertical")
    """Vertical slit gap [mm]."""
    undulator_gap1: float | None = legacy("undulatorGap1")
    """Gap of the first undulator [mm]; further ones stay as extras."""
    undulator_gap2: float | None = legacy("undulatorGap2")
    """Gap of the second undulator [mm]."""
    undulator_gap3: float | None = legacy("undulatorGap3")
    """Gap of the third undulator [mm]."""

    @property
    def snapshots(self) -> list[FilePath]:
        """The crystal snapshot paths that are set, in order 1 to 4."""
        paths = (
            self.xtal_snapshot_full_path1,
            self.xtal_snapshot_full_path2,
            self.xtal_snapshot_full_path3,
            self.xtal_snapshot_full_path4,
        )
        return [path for path in paths if path]
