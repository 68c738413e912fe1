"""Our models to ISPyB value objects (as plain keyword dicts), and replies back.

Each ``*_values`` function returns the elements of one ISPyB value object
with their XSD types (``int``, ``float``, ``datetime``, ``str``); ``None``
values are left out, so they are absent on the wire. The caller's model is
only read. The adapter hands the dict to the service's type factory
(``client.get_type("ns0:...")``).

Units: ISPyB stores what mxcubecore measures, in the same units (checked
against ``ISPyBValueFactory``, which copies the values unchanged):
wavelength and resolution in Å, detector distance, beam centre, beam size
and slit gaps in mm, exposure times in s, flux in photons/s, transmission in
%, energies in keV, angles in degrees, beam divergence in µrad, machine
current in mA, temperature in K. No conversion is needed and none is done.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime
from enum import Enum
from pathlib import PurePath
from typing import Any

from zeep.helpers import serialize_object

from mxcubecore_lims.errors import LimsDataError
from mxcubecore_lims.model._legacy import parse_timestamp
from mxcubecore_lims.model.beamline_setup import BeamlineSetup
from mxcubecore_lims.model.data_collection import DataCollection, ResolutionRange
from mxcubecore_lims.model.data_collection_group import DataCollectionGroup
from mxcubecore_lims.model.energy_scan import EnergyScan
from mxcubecore_lims.model.image import Image
from mxcubecore_lims.model.robot_action import RobotAction
from mxcubecore_lims.model.sample import SampleUpdate
from mxcubecore_lims.model.xfe_spectrum import XfeSpectrum

log = logging.getLogger(__name__)

__all__ = [
    "beamline_setup_values",
    "data_collection_group_values",
    "data_collection_values",
    "energy_scan_values",
    "image_values",
    "plain",
    "robot_action_values",
    "sample_values",
    "xfe_spectrum_values",
]

#: kappaStart values that mean "no kappa" to mxcubecore and ISPyB.
_NO_KAPPA = (0, -9999)


# --------------------------------------------------------------------------
# replies


def plain(value: Any) -> Any:
    """A zeep reply as plain dicts and lists, with null values dropped."""
    return _drop_nulls(serialize_object(value, target_cls=dict))


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value if v is not None]
    return value


# --------------------------------------------------------------------------
# scalar conversions (typed, never stringified)


def _int(model: str, field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise LimsDataError(model, field, value, "ISPyB needs an integer here")


def _id(model: str, field: str, value: Any) -> int | None:
    """A LIMS id: an int; 0 or negative (mxcubecore's -1 "not from the LIMS") is None."""
    number = _int(model, field, value)
    return number if number is not None and number > 0 else None


def _float(model: str, field: str, value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise LimsDataError(model, field, value, "ISPyB needs a number here") from error


def _text(value: Any) -> str | None:
    """Paths and enum members as text; strings as they are."""
    if value is None:
        return None
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, PurePath):
        return str(value)
    return value if isinstance(value, str) else str(value)


def _time(model: str, field: str, value: Any) -> datetime | None:
    try:
        return parse_timestamp(value)
    except (TypeError, ValueError) as error:
        raise LimsDataError(model, field, value, "not a timestamp") from error


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def require(model: str, field: str, value: Any) -> Any:
    """Returns ``value``, or raises LimsDataError naming ``field`` when it is missing."""
    if value is None or value == "":
        raise LimsDataError(model, field, value, "required to store this in ISPyB")
    return value


# --------------------------------------------------------------------------
# collection service


def data_collection_group_values(group: DataCollectionGroup) -> dict[str, Any]:
    """``dataCollectionGroupWS3VO`` elements; sessionId and experimentType required."""
    m = "DataCollectionGroup"
    experiment = require(m, "experimentType", group.experiment_type)
    if experiment.lower() == "mesh":
        experiment = "Mesh"
    return _compact(
        {
            "actualContainerBarcode": group.actual_container_barcode,
            "actualContainerSlotInSC": _int(m, "actualContainerSlotInSC", group.actual_container_slot_in_sc),
            "actualSampleBarcode": group.actual_sample_barcode,
            "actualSampleSlotInContainer": _int(
                m, "actualSampleSlotInContainer", group.actual_sample_slot_in_container
            ),
            "comments": group.comments,
            "crystalClass": group.crystal_class,
            "dataCollectionGroupId": _id(m, "dataCollectionGroupId", group.data_collection_group_id),
            "detectorMode": group.detector_mode,
            "endTime": _time(m, "endTime", group.end_time),
            "experimentType": experiment,
            "startTime": _time(m, "startTime", group.start_time),
            "xtalSnapshotFullPath": _text(group.xtal_snapshot_full_path),
            "blSampleId": _id(m, "blSampleId", group.bl_sample_id),
            "sessionId": require(m, "sessionId", _id(m, "sessionId", group.session_id)),
            "workflowId": _id(m, "workflowId", group.workflow_id),
        }
    )


def _resolution(value: float | ResolutionRange | None) -> float | None:
    if isinstance(value, ResolutionRange):
        return value.upper  # the high-resolution limit, at the detector edge
    return value


def data_collection_values(
    dc: DataCollection, group_id: int | None = None, detector_id: int | None = None
) -> dict[str, Any]:
    """``dataCollectionWS3VO`` elements (the group id, argument or ``group_id``, may be absent here)."""
    m = "DataCollection"
    group = _id(m, "group_id", group_id if group_id is not None else dc.group_id)
    detector = detector_id if detector_id is not None else dc.detector_id
    values: dict[str, Any] = {
        "dataCollectionId": _id(m, "collection_id", dc.collection_id),
        "dataCollectionGroupId": group,
        "detectorId": _id(m, "detector_id", detector),
        "strategySubWedgeOrigId": _id(m, "screening_sub_wedge_id", dc.screening_sub_wedge_id),
        "runStatus": dc.status,
        "comments": dc.comments if dc.comments is not None else dc.comment,
        "startTime": _time(m, "collection_start_time", dc.collection_start_time),
        "wavelength": dc.wavelength,
        "resolution": _resolution(dc.resolution),
        "resolutionAtCorner": dc.resolution_at_corner,
        "detectorDistance": (
            dc.measured_detector_distance
            if dc.measured_detector_distance is not None
            else (dc.detector_distance or None)  # requested; 0 means "from the resolution"
        ),
        "xbeam": dc.x_beam,
        "ybeam": dc.y_beam,
        "beamSizeAtSampleX": dc.beam_size_at_sample_x,
        "beamSizeAtSampleY": dc.beam_size_at_sample_y,
        "beamShape": _text(dc.beam_shape),
        "slitGapHorizontal": dc.slit_gap_horizontal,
        "slitGapVertical": dc.slit_gap_vertical,
        "synchrotronMode": dc.synchrotron_mode,
        "flux": dc.flux,
        "flux_end": dc.flux_end,
        "totalAbsorbedDose": dc.total_absorbed_dose,
        "transmission": dc.transmission,
        "undulatorGap1": dc.undulator_gap1,
        "undulatorGap2": dc.undulator_gap2,
        "undulatorGap3": dc.undulator_gap3,
        "centeringMethod": dc.centring_method,
        "actualCenteringPosition": dc.actual_centring_position,
        "xtalSnapshotFullPath1": _text(dc.xtal_snapshot_full_path1),
        "xtalSnapshotFullPath2": _text(dc.xtal_snapshot_full_path2),
        "xtalSnapshotFullPath3": _text(dc.xtal_snapshot_full_path3),
        "xtalSnapshotFullPath4": _text(dc.xtal_snapshot_full_path4),
    }
    if dc.fileinfo is not None:
        info = dc.fileinfo
        values.update(
            imageDirectory=_text(info.directory),
            imagePrefix=info.prefix,
            imageSuffix=info.suffix,
            fileTemplate=info.template,
            dataCollectionNumber=info.run_number,
        )
    sequence = dc.oscillation_sequence or []
    if len(sequence) > 1:
        raise LimsDataError(m, "oscillation_sequence", len(sequence), "ISPyB takes exactly one oscillation")
    if sequence:
        osc = sequence[0]
        kappa = osc.kappa_start
        omega_axis = kappa is not None and kappa not in _NO_KAPPA
        values.update(
            axisStart=osc.start,
            axisRange=osc.range,
            axisEnd=osc.end,
            overlap=-osc.offset if osc.offset is not None else None,
            numberOfImages=osc.number_of_images,
            startImageNumber=osc.start_image_number,
            numberOfPasses=osc.number_of_passes,
            exposureTime=osc.exposure_time,
            rotationAxis="Omega" if omega_axis else "Phi",
            omegaStart=osc.start if omega_axis else None,
            kappaStart=kappa,
            phiStart=osc.phi_start,
        )
    return _compact(values)


def image_values(image: Image) -> dict[str, Any]:
    """``imageWS3VO`` elements; dataCollectionId required.

    ``motorPositionId`` is not an element of ``imageWS3VO`` and is left out;
    a machine current given as text that is not a number is left out too.
    """
    m = "Image"
    current = image.synchrotron_current
    if isinstance(current, str):
        try:
            current = float(current)
        except ValueError:
            log.debug("Image.synchrotronCurrent %r is not a number; not stored", current)
            current = None
    return _compact(
        {
            "comments": image.comments,
            "cumulativeIntensity": _float(m, "cumulativeIntensity", image.cumulative_intensity),
            "fileLocation": _text(image.file_location),
            "fileName": image.file_name,
            "imageId": _id(m, "imageId", image.image_id),
            "imageNumber": image.image_number,
            "jpegFileFullPath": _text(image.jpeg_file_full_path),
            "jpegThumbnailFileFullPath": _text(image.jpeg_thumbnail_file_full_path),
            "machineMessage": image.machine_message,
            "measuredIntensity": _float(m, "measuredIntensity", image.measured_intensity),
            "synchrotronCurrent": _float(m, "synchrotronCurrent", current),
            "temperature": _float(m, "temperature", image.temperature),
            "dataCollectionId": require(m, "dataCollectionId", _id(m, "dataCollectionId", image.data_collection_id)),
        }
    )


def robot_action_values(action: RobotAction) -> dict[str, Any]:
    """``robotActionWS3VO`` elements; sessionId required. ``sampleId`` -1 is left out."""
    m = "RobotAction"
    return _compact(
        {
            "actionType": action.action_type,
            "containerLocation": _int(m, "containerLocation", action.container_location),
            "dewarLocation": _int(m, "dewarLocation", action.dewar_location),
            "endTime": _time(m, "endTime", action.end_time),
            "message": action.message,
            "sampleBarcode": action.sample_barcode,
            "startTime": _time(m, "startTime", action.start_time),
            "status": action.status,
            "xtalSnapshotAfter": _text(action.xtal_snapshot_after),
            "xtalSnapshotBefore": _text(action.xtal_snapshot_before),
            "blSampleId": _id(m, "sampleId", action.sample_id),
            "sessionId": require(m, "sessionId", _id(m, "sessionId", action.session_id)),
        }
    )


def beamline_setup_values(setup: BeamlineSetup, now: datetime | None = None) -> dict[str, Any]:
    """``beamLineSetup3VO`` elements (setupDate: now)."""
    m = "BeamlineSetup"
    values: dict[str, Any] = {
        "beamDivergenceHorizontal": _float(m, "beam_divergence_horizontal", setup.beam_divergence_horizontal),
        "beamDivergenceVertical": _float(m, "beam_divergence_vertical", setup.beam_divergence_vertical),
        "focusingOptic": setup.focusing_optic,
        "goniostatMaxOscillationSpeed": _float(m, "maximum_phi_speed", setup.maximum_phi_speed),
        "goniostatMinOscillationWidth": _float(m, "minimum_phi_oscillation", setup.minimum_phi_oscillation),
        "minExposureTimePerImage": _float(m, "minimum_exposure_time", setup.minimum_exposure_time),
        "monochromatorType": setup.monochromator_type,
        "polarisation": _float(m, "polarisation", setup.polarisation),
        "setupDate": now or datetime.now().replace(microsecond=0),
        "synchrotronName": setup.synchrotron_name,
    }
    types = setup.undulator_types
    if len(types) > 3:
        raise LimsDataError(m, "undulators", types, "ISPyB records at most three undulators")
    for index, kind in enumerate(types, start=1):
        values[f"undulatorType{index}"] = kind
    return _compact(values)


def detector_query(setup: BeamlineSetup) -> tuple[str, str, str, str] | None:
    """``findDetectorByParam`` arguments (type, manufacturer, model, mode), or None.

    ISPyB matches manufacturer and model with LIKE and ignores the type; a
    mode is sent only when it is a name (a numeric binning mode is not an
    ISPyB detector mode). None when manufacturer or model is unknown.
    """
    if not setup.detector_manufacturer or not setup.detector_model:
        return None
    mode = setup.detector_binning_mode
    return (
        setup.detector_type or "",
        setup.detector_manufacturer,
        setup.detector_model,
        mode if isinstance(mode, str) else "",
    )


def _scan_sample_id(model: str, scan: Any) -> int | None:
    if scan.bl_sample_id is not None:
        return _id(model, "blSampleId", scan.bl_sample_id)
    if scan.sample_reference is not None:
        return _id(model, "sample_reference.blSampleId", scan.sample_reference.bl_sample_id)
    return None


def _scan_common(m: str, scan: Any) -> dict[str, Any]:
    return {
        "beamSizeHorizontal": _float(m, "beamSizeHorizontal", scan.beam_size_horizontal),
        "beamSizeVertical": _float(m, "beamSizeVertical", scan.beam_size_vertical),
        "comments": scan.comments,
        "crystalClass": scan.crystal_class,
        "endTime": _time(m, "endTime", scan.end_time),
        "exposureTime": _float(m, "exposureTime", scan.exposure_time),
        "filename": _text(scan.filename),
        "flux": _float(m, "flux", scan.flux),
        "flux_end": _float(m, "flux_end", scan.flux_end),
        "scanFileFullPath": _text(scan.scan_file_full_path),
        "startTime": _time(m, "startTime", scan.start_time),
        "workingDirectory": _text(scan.working_directory),
        "blSampleId": _scan_sample_id(m, scan),
        "sessionId": require(m, "sessionId", _id(m, "sessionId", scan.session_id)),
    }


def energy_scan_values(scan: EnergyScan) -> dict[str, Any]:
    """``energyScanWS3VO`` elements; sessionId required. Energies in keV."""
    m = "EnergyScan"
    f = functools.partial(_float, m)
    edge = scan.edge_energy
    return _compact(
        {
            **_scan_common(m, scan),
            "choochFileFullPath": _text(scan.chooch_file_full_path),
            # xs:string in ISPyB (the column is text): the one value sent as text
            "edgeEnergy": None if edge is None else (edge if isinstance(edge, str) else repr(float(edge))),
            "element": scan.element,
            "endEnergy": f("endEnergy", scan.end_energy),
            "energyScanId": _id(m, "energyScanId", scan.energy_scan_id),
            "fluorescenceDetector": scan.fluorescence_detector,
            "inflectionEnergy": f("inflectionEnergy", scan.inflection_energy),
            "inflectionFDoublePrime": f("inflectionFDoublePrime", scan.inflection_f_double_prime),
            "inflectionFPrime": f("inflectionFPrime", scan.inflection_f_prime),
            "jpegChoochFileFullPath": _text(scan.jpeg_chooch_file_full_path),
            "peakEnergy": f("peakEnergy", scan.peak_energy),
            "peakFDoublePrime": f("peakFDoublePrime", scan.peak_f_double_prime),
            "peakFPrime": f("peakFPrime", scan.peak_f_prime),
            "remoteEnergy": f("remoteEnergy", scan.remote_energy),
            "remoteFDoublePrime": f("remoteFDoublePrime", scan.remote_f_double_prime),
            "remoteFPrime": f("remoteFPrime", scan.remote_f_prime),
            "startEnergy": f("startEnergy", scan.start_energy),
            "synchrotronCurrent": f("synchrotronCurrent", scan.synchrotron_current),
            "temperature": f("temperature", scan.temperature),
            "transmissionFactor": f("transmissionFactor", scan.transmission_factor),
            "xrayDose": f("xrayDose", scan.xray_dose),
        }
    )


def xfe_spectrum_values(spectrum: XfeSpectrum) -> dict[str, Any]:
    """``xfeFluorescenceSpectrumWS3VO`` elements; sessionId required. Energy in keV."""
    m = "XfeSpectrum"
    return _compact(
        {
            **_scan_common(m, spectrum),
            "annotatedPymcaXfeSpectrum": _text(spectrum.annotated_pymca_xfe_spectrum),
            "beamTransmission": _float(m, "beamTransmission", spectrum.beam_transmission),
            "energy": _float(m, "energy", spectrum.energy),
            "fittedDataFileFullPath": _text(spectrum.fitted_data_file_full_path),
            "jpegScanFileFullPath": _text(spectrum.jpeg_scan_file_full_path),
            "xfeFluorescenceSpectrumId": _id(m, "xfeFluorescenceSpectrumId", spectrum.xfe_fluorescence_spectrum_id),
        }
    )


# --------------------------------------------------------------------------
# sample service


def sample_values(sample: SampleUpdate) -> dict[str, Any]:
    """``blSampleWS3VO`` elements from a sample dict (``sampleInfo`` or ``blSampleWS3VO`` keys).

    ISPyB's own keys win over the ``sampleInfo`` ones (``blSampleId`` over
    ``sampleId``, ``name`` over ``sampleName``, ``location`` over
    ``sampleLocation``); the centring is read under either spelling.
    """
    m = "SampleUpdate"
    # not from ``diffractionPlan``: in a sampleInfo that may be the crystal's plan
    plan_id = sample.diffraction_plan_id
    location = sample.location if sample.location is not None else sample.sample_location
    in_changer = sample.is_in_sample_changer
    return _compact(
        {
            "blSampleId": _id(
                m,
                "blSampleId",
                # mxcubeweb renames a get_samples() dict's sampleId to limsID
                next(
                    (v for v in (sample.bl_sample_id, sample.sample_id, sample.lims_id) if v is not None),
                    None,
                ),
            ),
            "blSampleStatus": sample.bl_sample_status,
            "code": sample.code,
            "comments": sample.comments,
            "completionStage": sample.completion_stage,
            "holderLength": sample.holder_length,
            "isInSampleChanger": None if in_changer is None else int(in_changer),
            "lastImageURL": sample.last_image_url,
            "lastKnownCenteringPosition": (
                sample.last_known_centering_position
                if sample.last_known_centering_position is not None
                else sample.last_known_centring_position
            ),
            "location": None if location is None else str(location),  # xs:string in ISPyB
            "loopLength": sample.loop_length,
            "loopType": sample.loop_type,
            "name": sample.name if sample.name is not None else sample.sample_name,
            "publicationComments": sample.publication_comments,
            "publicationStage": sample.publication_stage,
            "smiles": sample.smiles,
            "structureStage": sample.structure_stage,
            "wireWidth": sample.wire_width,
            "containerId": _id(m, "containerId", sample.container_id),
            "crystalId": _id(m, "crystalId", sample.crystal_id),
            "diffractionPlanId": _id(m, "diffractionPlanId", plan_id),
        }
    )
