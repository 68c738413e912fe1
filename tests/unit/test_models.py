"""Legacy dict models: real producer shapes round-trip, values are typed, bad values are named.

A bad value raises LimsDataError naming the legacy key.

Wherever mxcubecore can build a dict without a beamline, its own code builds
it here: ``to_collect_dict``, ``AbstractCollect``'s LIMS methods,
``TaskGroupQueueEntry.execute``, ``mount_sample``, ``AbstractXRFSpectrum``,
``ESRFEnergyScan.store_energy_scan``, ISPyB's ``utf_encode``. The hardware
they read is faked on ``HWR.beamline``, and a recording LIMS object keeps a
deep copy of every dict it is given. The other shapes are copied by hand
from their producers.
"""

from __future__ import annotations

import collections
import copy
import doctest
import functools
import importlib
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gevent
import pytest
from mxcubecore import HardwareRepository as HWR
from mxcubecore.HardwareObjects.abstract import AbstractCollect as abstract_collect
from mxcubecore.HardwareObjects.abstract import (
    AbstractMultiCollect as abstract_multi_collect,
)
from mxcubecore.HardwareObjects.abstract.AbstractBeam import BeamShape
from mxcubecore.HardwareObjects.abstract.AbstractXRFSpectrum import (
    AbstractXRFSpectrum,
)
from mxcubecore.HardwareObjects.abstract.ISPyBDataAdapter import utf_encode
from mxcubecore.HardwareObjects.abstract.ISPyBValueFactory import ISPyBValueFactory
from mxcubecore.HardwareObjects.ESRF import ESRFEnergyScan as esrf_energy_scan
from mxcubecore.model import queue_model_objects as qmo
from mxcubecore.model.queue_model_enumerables import CENTRING_METHOD
from mxcubecore.queue_entry import base_queue_entry
from suds.sudsobject import Factory

from mxcubecore_lims.errors import LimsDataError
from mxcubecore_lims.model import (
    BeamlineSetup,
    DataCollection,
    DataCollectionGroup,
    EnergyScan,
    EnergyScanSampleAssociation,
    EnergyScanStoreResult,
    Image,
    LegacyModel,
    Oscillation,
    RobotAction,
    Sample,
    SampleUpdate,
    Workflow,
    XfeSpectrum,
    XfeSpectrumStoreResult,
)
from mxcubecore_lims.model._legacy import legacy

ns = SimpleNamespace

MODEL_MODULES = [
    "mxcubecore_lims.model._legacy",
    "mxcubecore_lims.model.sample",
    "mxcubecore_lims.model.data_collection",
    "mxcubecore_lims.model.data_collection_group",
    "mxcubecore_lims.model.beamline_setup",
    "mxcubecore_lims.model.image",
    "mxcubecore_lims.model.robot_action",
    "mxcubecore_lims.model.energy_scan",
    "mxcubecore_lims.model.xfe_spectrum",
    "mxcubecore_lims.model.workflow",
]


# --------------------------------------------------------------------------
# recording LIMS and fake hardware


class RecordingLims:
    """Stands in for ``HWR.beamline.lims``; keeps a copy of every call."""

    RETURNS = {
        "store_data_collection": (4711, 3),
        "store_image": 77,
        "_store_data_collection_group": 99,
        "store_energy_scan": {"energyScanId": 31},
    }

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def is_connected(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def call(*args: Any) -> Any:
            # the producers keep mutating their dicts after the call
            self.calls.append((name, copy.deepcopy(args)))
            return self.RETURNS.get(name, 1)

        return call

    def args(self, name: str) -> list[tuple]:
        return [args for called, args in self.calls if called == name]


class Attrs:
    """An object with the given attributes (sample-changer samples, undulators)."""

    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)


def wait_for(condition, timeout: float = 5.0) -> None:
    """Lets spawned greenlets run until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the producer never called the LIMS"
        gevent.sleep(0.01)


@pytest.fixture
def lims(monkeypatch: pytest.MonkeyPatch) -> RecordingLims:
    """A recording LIMS on a fake ``HWR.beamline``; tests add hardware to it."""
    recorder = RecordingLims()
    monkeypatch.setattr(HWR, "beamline", ns(lims=recorder, session=ns(session_id=1234)), raising=False)
    return recorder


# --------------------------------------------------------------------------
# data collections, built by mxcubecore


@pytest.fixture
def collect_dict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The dict ``queue_model_objects.to_collect_dict`` builds for a rotation."""
    # the path template style is normally set by the session object
    monkeypatch.setattr(qmo.PathTemplate, "synchrotron_name", "MAXLAB", raising=False)
    data_collection = qmo.DataCollection()
    data_collection.lims_session_id = 1234
    acquisition = data_collection.acquisitions[0]
    template = acquisition.path_template
    template.directory = str(tmp_path / "RAW_DATA")
    template.base_prefix = "lyso1"
    template.run_number = 1
    # the file name normally comes from the detector object
    template.get_image_file_name = lambda suffix=None: "lyso1_1_%04d.cbf"
    parameters = acquisition.acquisition_parameters
    parameters.exp_time = 0.04
    parameters.num_images = 100
    parameters.osc_range = 0.1
    parameters.first_image = 1
    parameters.num_passes = 1
    sample = qmo.Sample()
    sample.lims_id = 515485
    sample.name = "s1"
    sample.crystals[0].protein_acronym = "lyso"
    (result,) = qmo.to_collect_dict(data_collection, sample, qmo.CentredPosition())
    return result


class Collect(abstract_collect.AbstractCollect):
    """The smallest concrete AbstractCollect."""

    def move_motors(self, motor_position_dict):
        pass

    def _take_crystal_snapshot(self, snapshot_filename):
        pass

    def data_collection_hook(self):
        pass

    def trigger_auto_processing(self, process_event, frame_number):
        pass

    def get_undulators_gaps(self):
        return {"PPU35C": 11.25}


@pytest.fixture
def collect(lims: RecordingLims, collect_dict: dict, tmp_path: Path) -> Collect:
    """AbstractCollect after storing, updating and imaging one collection."""
    loaded = Attrs(
        getID=lambda: "BC123",
        getContainer=lambda: Attrs(getID=lambda: "PUCK1"),
        getCoords=lambda: (5, 3),
    )
    HWR.beamline.__dict__.update(
        machine_info=None,
        diffractometer=ns(in_plate_mode=False, omega=ns(set_value_relative=lambda angle: None)),
        sample_changer=ns(getLoadedSample=lambda: loaded),
        flux=ns(get_value=lambda: 3.2e12),
        energy=ns(get_wavelength=lambda: 0.976),
        detector=ns(
            distance=ns(get_value=lambda: 250.0),
            get_beam_position=lambda: (1230.5, 1270.25),
            get_pixel_size=lambda: (0.075, 0.075),
        ),
        resolution=ns(get_value=lambda: 1.8, get_value_at_corner=lambda: 1.4),
        transmission=ns(get_value=lambda: 50.0),
        beam=ns(
            get_beam_size=lambda: (0.05, 0.02),
            get_beam_shape=lambda: BeamShape.ELLIPTICAL,
            get_slits_gap=lambda: (0.1, 0.05),
        ),
    )
    ho = Collect("collect")
    ho.set_beamline_configuration(
        synchrotron_name="ESRF",
        directory_prefix="id30a1",
        default_exposure_time=0.04,
        minimum_exposure_time=0.002,
        detector_fileext="cbf",
        detector_type="hpc",
        detector_manufacturer="Dectris",
        detector_model="Pilatus3_6M",
        detector_px=0.172,
        detector_py=0.172,
        detector_binning_mode=1,
        undulators=[Attrs(type="PPU35C")],
        focusing_optic="Compound refractive lenses",
        monochromator_type="Si(111)",
        beam_divergence_vertical=6.5,
        beam_divergence_horizontal=104,
        polarisation=0.99,
        input_files_server=None,
    )
    ho.current_dc_parameters = collect_dict
    # do_collect sets these two before storing
    collect_dict["status"] = "Running"
    collect_dict["collection_start_time"] = "2024-05-01 10:00:00"
    ho.store_data_collection_in_lims()
    ho.get_sample_info()
    ho.current_lims_sample = {
        "sampleId": 515485,
        "sampleName": "s1",
        "lastKnownCentringPosition": "phi=10.000000 phiy=0.100000",
    }
    ho.store_sample_info_in_lims()
    ho.move_to_centered_position()
    ho.take_crystal_snapshots()
    ho.update_data_collection_in_lims()
    ho.store_image_in_lims(1, motor_position_id=12)
    ho.update_lims_with_workflow(5, str(tmp_path / "grid.png"))
    return ho


def test_to_collect_dict_round_trips_with_typed_values(collect_dict: dict) -> None:
    model = DataCollection.from_legacy(collect_dict)

    assert model.to_legacy() == collect_dict
    oscillation = model.oscillation_sequence[0]
    assert oscillation.exposure_time == 0.04
    assert isinstance(oscillation.exposure_time, float)
    assert oscillation.number_of_images == 100
    assert oscillation.range == 0.1
    assert oscillation.mesh_range == ()
    assert model.session_id == 1234
    assert model.fileinfo.template == "lyso1_1_%04d.cbf"
    assert model.sample_reference.bl_sample_id == 515485
    assert model.sample_reference.spacegroup == 0
    assert model.sample_reference.cell_parameters is None
    # mxcubecore's "not set" values are accepted, and the strings stay strings
    assert model.energy == 0.0
    assert model.resolution is None
    assert model.processing is True
    assert model.to_legacy()["processing"] == "True"


def test_abstract_collect_store_and_update_dicts_round_trip(collect: Collect, lims: RecordingLims) -> None:
    (stored, _bl_config) = lims.args("store_data_collection")[0]
    updates = [args[0] for args in lims.args("update_data_collection")]
    assert len(updates) == 2

    for shape in (stored, *updates):
        assert DataCollection.from_legacy(shape).to_legacy() == shape

    model = DataCollection.from_legacy(updates[-1])
    assert model.collection_id == 4711
    assert model.detector_id == 3
    assert model.status == "Running"
    assert model.synchrotron_mode == ""
    assert model.actual_container_slot_in_sc == 5
    assert model.actual_sample_barcode == "BC123"
    assert model.measured_detector_distance == 250.0
    assert model.detector_distance == 0.0
    assert model.wavelength == 0.976
    assert model.resolution == 1.8
    assert model.x_beam == pytest.approx(1230.5 * 0.075)
    assert model.beam_shape is BeamShape.ELLIPTICAL
    assert model.undulator_gap1 == 11.25
    assert model.total_absorbed_dose is None
    assert model.workflow_id == 5
    assert str(model.xtal_snapshot_full_path3).endswith("grid.png")
    assert [str(path) for path in model.snapshots] == [
        updates[-1]["xtalSnapshotFullPath1"],
        updates[-1]["xtalSnapshotFullPath3"],
    ]


def test_abstract_collect_beamline_namedtuple(collect: Collect, lims: RecordingLims) -> None:
    (_stored, bl_config) = lims.args("store_data_collection")[0]
    assert isinstance(bl_config, abstract_collect.BeamlineConfig)

    setup = BeamlineSetup.from_legacy(bl_config)

    assert setup.to_legacy() == bl_config._asdict()
    assert list(setup.to_legacy()) == list(bl_config._fields)
    assert setup.to_namedtuple() == bl_config
    assert type(setup.to_namedtuple()) is abstract_collect.BeamlineConfig
    assert setup.detector_px == 0.172
    assert setup.detector_binning_mode == 1
    assert setup.beam_divergence_horizontal == 104.0
    assert setup.undulator_types == ["PPU35C"]
    assert setup.input_files_server is None


def test_abstract_multi_collect_beamline_namedtuple() -> None:
    config_class = abstract_multi_collect.BeamlineConfig
    empty = config_class(*[None] * len(config_class._fields))
    filled = empty._replace(
        synchrotron_name="ESRF",
        detector_binning_mode="1",
        maximum_phi_speed=360,
        minimum_phi_oscillation=0.01,
        undulators=["U20"],
    )

    for bl_config in (empty, filled):
        setup = BeamlineSetup.from_legacy(bl_config)
        assert setup.to_legacy() == bl_config._asdict()
        assert setup.to_namedtuple() == bl_config

    setup = BeamlineSetup.from_legacy(filled)
    assert setup.maximum_phi_speed == 360.0
    assert setup.undulator_types == ["U20"]
    assert type(setup.to_legacy()["maximum_phi_speed"]) is int


def test_store_beamline_setup_dict_round_trips() -> None:
    # AbstractLims documents the setup as a dict with string exposure times
    bl_config = {
        "synchrotron_name": "ESRF",
        "default_exposure_time": "0.04",
        "minimum_exposure_time": "0.002",
        "detector_px": 2463,
        "detector_py": 2527,
        "undulators": ["U20"],
    }

    setup = BeamlineSetup.from_legacy(bl_config)

    assert setup.to_legacy() == bl_config
    assert setup.default_exposure_time == 0.04
    assert setup.to_namedtuple().detector_px == 2463


def test_update_bl_sample_dicts_round_trip(collect: Collect, lims: RecordingLims) -> None:
    (sample,) = lims.args("update_bl_sample")[0]

    model = SampleUpdate.from_legacy(sample)

    assert model.to_legacy() == sample
    assert model.last_known_centring_position == "phi=10.000000 phiy=0.100000"
    assert model.centring_motor_positions == {"phi": 10.0, "phiy": 0.1}
    assert model.sample_id == 515485
    # AbstractCollect's default current_lims_sample
    assert SampleUpdate.from_legacy({}).to_legacy() == {}


def test_abstract_collect_image_round_trips(collect: Collect, lims: RecordingLims) -> None:
    (image,) = lims.args("store_image")[0]

    model = Image.from_legacy(image)

    assert model.to_legacy() == image
    assert model.data_collection_id == 4711
    assert model.image_number == 1
    assert model.file_name == "lyso1_1_0001.cbf"
    assert model.motor_position_id == 12
    assert model.synchrotron_current == 0
    assert model.measured_intensity is None
    assert str(model.jpeg_thumbnail_file_full_path).endswith("lyso1_1_0001.thumb.jpeg")


def test_abstract_multi_collect_image_shape_round_trips() -> None:
    # AbstractMultiCollect's loop: flux as intensity, no motor position, and
    # None jpeg paths when the template could not be filled
    image = {
        "dataCollectionId": None,
        "fileName": "lyso1_1_0002.cbf",
        "fileLocation": "/data/RAW_DATA",
        "imageNumber": 2,
        "measuredIntensity": 3.2e12,
        "synchrotronCurrent": "199.8 mA",
        "machineMessage": "USM",
        "temperature": 100,
        "jpegFileFullPath": None,
        "jpegThumbnailFileFullPath": None,
    }

    model = Image.from_legacy(image)

    assert model.to_legacy() == image
    assert model.temperature == 100.0
    assert type(model.to_legacy()["temperature"]) is int
    assert model.synchrotron_current == "199.8 mA"


def test_legacy_output_feeds_ispyb_value_factory(collect: Collect, lims: RecordingLims) -> None:
    """ISPyB's own converter builds the same value objects from to_legacy()."""
    (update,) = lims.args("update_data_collection")[-1]
    client = ns(factory=ns(create=lambda type_name: ns()))

    def value_objects(shape: dict) -> tuple[dict, dict]:
        shape = copy.deepcopy(shape)  # the factory writes kappaStart into it
        collection = vars(ISPyBValueFactory.from_data_collect_parameters(client, shape))
        group = vars(ISPyBValueFactory.dcg_from_dc_params(client, shape))
        for made in (collection, group):
            made.pop("endTime")  # datetime.now()
        return collection, group

    assert value_objects(DataCollection.from_legacy(update).to_legacy()) == (value_objects(update))


def test_ssx_finalize_parameters_keep_their_objects() -> None:
    """SSX queue entries finalize with a dict of objects (ssx_base_queue_entry)."""
    from mxcubecore.model.common import ISPYBCollectionParameters

    lims_values = ISPYBCollectionParameters(
        flux_start=1e12,
        flux_end=1e12,
        start_time="2024-05-01T10:00:00",
        end_time="2024-05-01T10:10:00",
        chip_model="",
        mono_stripe="PdB4C",
    )
    parameters = {
        "collection_parameters": ns(path_parameters=ns(prefix="ssx")),
        "data_path": "/data/RAW_DATA/ssx",
        "data_process_path": "/data/PROCESSED_DATA/ssx",
        "beamline_parameters": ns(energy=12.4),
        "extra_lims_values": lims_values,
        "sample": qmo.Crystal(),
        "experiment_type": "SSX",
    }

    model = DataCollection.from_legacy(parameters)

    assert model.to_legacy() == parameters
    assert model.to_legacy()["extra_lims_values"] is lims_values
    assert model.experiment_type == "SSX"


# --------------------------------------------------------------------------
# groups and robot actions, built by the queue entries


def test_task_group_entry_group_dict_round_trips(lims: RecordingLims) -> None:
    sample = qmo.Sample()
    sample.lims_container_location = 5
    sample.lims_sample_location = "3"
    task_group = qmo.TaskGroup()
    task_group._parent = sample
    base_queue_entry.TaskGroupQueueEntry(view=None, data_model=task_group).execute()
    (group,) = lims.args("_store_data_collection_group")[0]

    model = DataCollectionGroup.from_legacy(group)

    assert model.to_legacy() == group
    assert model.session_id == 1234
    assert model.experiment_type == "OSC"
    assert model.actual_container_slot_in_sc == 5
    assert model.actual_sample_slot_in_container == 3
    assert task_group.lims_group_id == 99


@pytest.mark.parametrize(
    "group",
    [
        {"sessionId": 1234, "experimentType": "Collect - Multiwedge"},
        {"sessionId": "ICAT-987654", "experimentType": "OSC"},
        {
            "sessionId": 1234,
            "experimentType": "Mesh",
            "actualContainerBarcode": "PUCK1",
            "blSampleId": 515485,
            "comments": "",
            "workflowId": 5,
            "startTime": "2024-05-01 10:00:00",
            "dataCollectionGroupId": 99,
        },
    ],
)
def test_group_dict_shapes_round_trip(group: dict) -> None:
    assert DataCollectionGroup.from_legacy(group).to_legacy() == group


class SampleChanger:
    def __init__(self, loads: bool) -> None:
        self.loads = loads

    def trigger_progress_message(self, message: str) -> None:
        pass

    def load(self, sample: str | None = None, wait: bool = True) -> bool:
        return True

    def has_loaded_sample(self) -> bool:
        return self.loads


@pytest.mark.parametrize("loads", [True, False])
def test_mount_sample_robot_action_round_trips(lims: RecordingLims, loads: bool) -> None:
    sample = qmo.Sample()
    sample.location = (2, 7)
    sample.loc_str = "2:7"
    sample.code = "BC123"
    sample.lims_id = 515485
    HWR.beamline.__dict__.update(
        sample_changer=SampleChanger(loads),
        sample_view=ns(clear_all=lambda: None),
        queue_manager=ns(centring_method=CENTRING_METHOD.NONE),
    )
    try:
        base_queue_entry.mount_sample(sample, None, None)
    except base_queue_entry.QueueSkipEntryException:
        assert not loads
    (action,) = lims.args("store_robot_action")[0]

    model = RobotAction.from_legacy(action)

    assert model.to_legacy() == action
    assert model.action_type == "LOAD"
    assert (model.dewar_location, model.container_location) == (2, 7)
    assert model.sample_id == 515485
    assert model.status == ("SUCCESS" if loads else "ERROR")
    assert model.message == (None if loads else "Sample was not loaded")
    assert isinstance(model.start_time, str)


def test_robot_action_text_locations_become_ints_but_round_trip() -> None:
    action = {
        "actionType": "LOAD",
        "containerLocation": "7",
        "dewarLocation": "2",
        "sampleBarcode": None,
        "sampleId": -1,
        "sessionId": 1234,
        "startTime": "2024-05-01 10:00:00",
        "endTime": "2024-05-01 10:00:00",
        "status": "SUCCESS",
        "xtalSnapshotBefore": "/data/before.jpeg",
        "xtalSnapshotAfter": Path("/data/after.jpeg"),
    }

    model = RobotAction.from_legacy(action)

    assert model.to_legacy() == action
    assert model.to_legacy()["dewarLocation"] == "2"
    assert (model.dewar_location, model.container_location) == (2, 7)
    assert model.sample_id == -1
    assert isinstance(model.to_legacy()["xtalSnapshotAfter"], Path)


@pytest.mark.parametrize(
    ("given", "typed"),
    [("7", 7), ("-1", -1), ("0", 0), ("007", "007"), ("+5", "+5"), ("A1", "A1")],
)
def test_only_canonical_integer_text_becomes_an_int(given: str, typed: Any) -> None:
    model = RobotAction.from_legacy({"dewarLocation": given})

    assert model.dewar_location == typed
    assert type(model.dewar_location) is type(typed)
    assert model.to_legacy() == {"dewarLocation": given}


# --------------------------------------------------------------------------
# energy scans and XRF spectra


@pytest.fixture
def energy_scan_calls(lims: RecordingLims, tmp_path: Path) -> RecordingLims:
    """ESRFEnergyScan.store_energy_scan on the parameters of a finished scan."""
    parameters = {
        # from GetStaticParameters and start_energy_scan
        "atomic_nb": 34,
        "eroi_min": 11.1,
        "eroi_max": 11.4,
        "edgeEnergy": 12.658,
        "startEnergy": 12.608,
        "endEnergy": 12.708,
        "findattEnergy": 12.688,
        "remoteEnergy": 13.658,
        "element": "Se",
        "edge": "K",
        "directory": str(tmp_path),
        "sample_reference": {"sample_name": "s1", "acronym": "lyso"},
        "fluorescenceDetector": "KETEK_AXAS-A",
        "prefix": "lyso1",
        "sessionId": 1234,
        "blSampleId": 515485,
        "startTime": "2024-05-01 10:00:00",
        # from the scan and from do_chooch
        "transmissionFactor": 3.2,
        "exposureTime": 0.5,
        "flux": 2.0e11,
        "endTime": "2024-05-01 10:02:00",
        "scanFileFullPath": tmp_path / "gallery" / "lyso1_Se_K1.raw",
        "filename": "lyso1_Se_K1.raw",
        "peakEnergy": 12.6605,
        "inflectionEnergy": 12.6585,
        "peakFPrime": -5.9,
        "peakFDoublePrime": 5.1,
        "inflectionFPrime": -8.2,
        "inflectionFDoublePrime": 2.4,
        "jpegChoochFileFullPath": str(tmp_path / "lyso1_Se_K1.png"),
    }
    scan = ns(energy_scan_parameters=parameters)
    esrf_energy_scan.ESRFEnergyScan.store_energy_scan(scan)
    wait_for(lambda: lims.args("associate_bl_sample_and_energy_scan"))
    return lims


def test_esrf_energy_scan_round_trips_with_path(
    energy_scan_calls: RecordingLims,
) -> None:
    (scan,) = energy_scan_calls.args("store_energy_scan")[0]
    assert "blSampleId" not in scan and "edge" not in scan

    model = EnergyScan.from_legacy(scan)

    assert model.to_legacy() == scan
    assert isinstance(model.to_legacy()["scanFileFullPath"], Path)
    assert model.scan_file_full_path == scan["scanFileFullPath"]
    assert model.element == "Se"
    assert model.edge_energy == 12.658
    assert model.peak_energy == 12.6605
    assert model.inflection_f_prime == -8.2
    assert model.start_time == "2024-05-01 10:00:00"
    assert model.sample_reference.acronym == "lyso"


def test_energy_scan_association_round_trips(energy_scan_calls: RecordingLims) -> None:
    (association,) = energy_scan_calls.args("associate_bl_sample_and_energy_scan")[0]
    assert association == {"blSampleId": 515485, "energyScanId": 31}

    model = EnergyScanSampleAssociation.from_legacy(association)

    assert model.to_legacy() == association
    assert (model.bl_sample_id, model.energy_scan_id) == (515485, 31)
    # ISPyB answers -1 on failure and ESRFEnergyScan links it anyway
    failed = {"blSampleId": 515485, "energyScanId": -1}
    assert EnergyScanSampleAssociation.from_legacy(failed).to_legacy() == failed


def test_energy_scan_with_discarded_chooch_result_is_accepted() -> None:
    scan = {
        "sessionId": 1234,
        "element": "Se",
        "edgeEnergy": 12.658,
        "startEnergy": 12.608,
        "endEnergy": 12.708,
        "remoteEnergy": 12.688,
        "peakEnergy": 0,
        "inflectionEnergy": 0,
        "comments": "Calculated peak 12.7 is more than 50 eV above ...",
        "startTime": "2024-05-01 10:00:00",
        "endTime": "2024-05-01 10:02:00",
    }

    model = EnergyScan.from_legacy(scan)

    assert model.to_legacy() == scan
    assert model.peak_energy == 0.0
    assert type(model.to_legacy()["peakEnergy"]) is int


@pytest.mark.parametrize(
    ("model", "result"),
    [
        (EnergyScanStoreResult, {"energyScanId": 31}),
        (EnergyScanStoreResult, {"energyScanId": -1}),
        (XfeSpectrumStoreResult, {"xfeFluorescenceSpectrumId": 8}),
    ],
)
def test_store_results_round_trip(model: type[LegacyModel], result: dict) -> None:
    assert model.from_legacy(result).to_legacy() == result


class XRFSpectrum(AbstractXRFSpectrum):
    """The smallest concrete AbstractXRFSpectrum."""

    def _execute_spectrum(self, integration_time=None, filename=None):
        return True


def test_xrf_spectrum_round_trips(lims: RecordingLims, tmp_path: Path) -> None:
    HWR.beamline.__dict__.update(
        transmission=ns(get_value=lambda: 12.5),
        energy=ns(get_value=lambda: 12.7),
        flux=ns(get_value=lambda: 1.5e11),
        beam=ns(get_value=lambda: (0.05, 0.02, BeamShape.RECTANGULAR, "A")),
    )
    spectrum = XRFSpectrum("xrf")
    spectrum.init()
    spectrum.start_spectrum(
        3,
        str(tmp_path / "raw"),
        "lyso1",
        str(tmp_path / "archive"),
        1234,
        515485,
        None,
        {"sample_name": "s1", "acronym": "lyso"},
    )
    wait_for(lambda: lims.args("store_xfe_spectrum"))
    (info,) = lims.args("store_xfe_spectrum")[0]

    model = XfeSpectrum.from_legacy(info)

    assert model.to_legacy() == info
    assert model.exposure_time == 3.0
    assert type(model.to_legacy()["exposureTime"]) is int
    assert model.energy == 12.7
    assert model.beam_transmission == 12.5
    assert model.bl_sample_id == 515485
    assert str(model.filename).endswith("_xrf.dat")
    assert model.sample_reference.sample_name == "s1"


# --------------------------------------------------------------------------
# workflows (AbstractOnlineProcessing.params_dict), by hand

MESH_WORKFLOW = {
    "process_root_directory": "/data/PROCESSED_DATA/xray_centring_lyso1_run1_1",
    "archive_root_directory": "/data/ARCHIVE/xray_centring_lyso1_run1_1",
    "result_file_path": "/data/ARCHIVE/xray_centring_lyso1_run1_1",
    "collection_id": 4711,
    "process_directory": "/data/PROCESSED_DATA/xray_centring_lyso1_run1_1/mesh",
    "archive_directory": "/data/ARCHIVE/xray_centring_lyso1_run1_1/mesh",
    "folder_path": "/data/ARCHIVE/xray_centring_lyso1_run1_1/mesh",
    "snapshot_path": "/data/ARCHIVE/xray_centring_lyso1_run1_1/mesh/snapshot.png",
    "cartography_path": "/data/ARCHIVE/.../mesh/online_processing_plot.png",
    "log_file_path": "/data/ARCHIVE/.../mesh/online_processing.log",
    "html_file_path": "/data/ARCHIVE/.../mesh/index.html",
    "json_file_path": "/data/ARCHIVE/.../mesh/report.json",
    "csv_file_path": "/data/ARCHIVE/.../mesh/online_processing_results.csv",
    "template": "xray_centring_lyso1_1_%05d.cbf",
    "first_image_num": 1,
    "images_num": 100,
    "lines_num": 10,
    "images_per_line": 10.0,
    "run_number": 1,
    "osc_midle": 0.0,
    "osc_range": 0.1,
    "resolution": 2.0,
    "exp_time": 0.01,
    "hare_num": 1,
    "num_images_per_trigger": 1,
    "status": "Success",
    "title": "xray_centring_lyso1_1_#####.cbf (1 - 100)",
    "comments": "Scan lines: 10, frames per line: 10",
    "workflow_type": "XrayCentring",
    "group_id": 99,
    "processing_start_time": "2024-05-01 10:05:00",
    "dx_mm": 0.2,
    "dy_mm": 0.1,
    "steps_x": 10,
    "steps_y": 10,
    "xOffset": 0.02,
    "yOffset": 0.01,
    "reversing_rotation": True,
    "max_dozor_score": 57.25,
    "workflow_id": 5,
}


def test_mesh_workflow_round_trips() -> None:
    model = Workflow.from_legacy(MESH_WORKFLOW)

    assert model.to_legacy() == MESH_WORKFLOW
    assert model.workflow_type == "XrayCentring"
    assert (model.steps_x, model.steps_y) == (10, 10)
    assert (model.x_offset, model.y_offset) == (0.02, 0.01)
    assert model.dx_mm == 0.2
    assert model.osc_middle == 0.0
    assert model.images_per_line == 10.0
    assert model.reversing_rotation is True


def test_line_scan_workflow_and_returned_ids_round_trip() -> None:
    line = {
        **{key: MESH_WORKFLOW[key] for key in ("template", "status", "title")},
        "workflow_type": "LineScan",
        "steps_y": 1,
        "reversing_rotation": False,
        "images_per_line": 33.333333333333336,
        # store_workflow's ids come back into the same dict
        "workflow_id": None,
        "workflow_mesh_id": 12,
        "grid_info_id": 13,
    }

    model = Workflow.from_legacy(line)

    assert model.to_legacy() == line
    assert model.workflow_mesh_id == 12
    assert model.workflow_id is None


# --------------------------------------------------------------------------
# samples: ISPyB (stringified by utf_encode) and ICAT


def ispyb_sample_info(plan_type: Any = dict) -> dict:
    """A sampleInfo as suds' ``asdict`` gives it, before ``utf_encode``.

    ``asdict`` is shallow: the nested plan stays a suds object, which
    ``utf_encode`` turns into a dict (a plain dict it would turn into its repr).
    """
    plan = {
        "diffractionPlanId": 7,
        "experimentKind": "OSC",
        "anomalousData": False,
        "aimedResolution": 1.5,
    }
    return {
        "cellA": 79.1,
        "cellAlpha": 90.0,
        "cellB": 79.1,
        "cellBeta": 90.0,
        "cellC": 37.9,
        "cellGamma": 90.0,
        "code": None,
        "containerCode": "PUCK1",
        "containerSampleChangerLocation": "2",
        "crystalId": 301,
        "crystalSpaceGroup": "P43212",
        "diffractionPlan": plan_type(plan),
        "experimentType": "OSC",
        "holderLength": 22.0,
        "minimalResolution": None,
        "proteinAcronym": "lyso",
        "sampleId": 515485,
        "sampleLocation": "5",
        "sampleName": "s1",
    }


def test_ispyb_stringified_sample_round_trips_and_is_typed() -> None:
    suds_plan = functools.partial(Factory.object, "diffractionPlanWS3VO")
    sample = utf_encode(ispyb_sample_info(suds_plan))
    assert sample["sampleId"] == "515485" and sample["code"] == "None"
    assert sample["diffractionPlan"]["diffractionPlanId"] == "7"

    model = Sample.from_legacy(sample)

    assert model.to_legacy() == sample
    assert model.sample_id == 515485
    assert model.cell_a == 79.1
    assert model.code is None
    assert model.minimal_resolution is None
    assert model.container_sample_changer_location == 2
    assert model.sample_location == 5
    assert model.diffraction_plan.diffraction_plan_id == 7
    assert model.diffraction_plan.anomalous_data is False
    assert model.diffraction_plan.aimed_resolution == 1.5


def test_ispyb_typed_sample_round_trips() -> None:
    sample = ispyb_sample_info()

    model = Sample.from_legacy(sample)

    assert model.to_legacy() == sample
    assert model.to_legacy()["containerSampleChangerLocation"] == "2"
    assert model.container_sample_changer_location == 2
    assert model.crystal_space_group == "P43212"


@pytest.mark.parametrize(
    "processing_plan",
    [
        {},
        {"reference": None, "forceSpaceGroup": "P1"},
        [{"key": "reference", "value": {"filepath": "/tmp/ref.mtz"}}],
    ],
)
def test_icat_sample_round_trips(processing_plan: Any) -> None:
    # ICATLIMS.__to_sample, after get_samples made the location a string
    sample = {
        "sampleName": "s1",
        "sampleId": 123456,
        "sample_sheet_id": "6628e5a8f1e3a6d0c4d5b0a1",
        "trackingSampleId": "6628e5a8f1e3a6d0c4d5b0b2",
        "proteinAcronym": "lyso",
        "sampleLocation": 5,
        "containerCode": "PUCK1",
        "containerSampleChangerLocation": "2",
        "SampleTrackingParcel_name": "parcel-1",
        "SampleTrackingParcel_id": "6628e5a8f1e3a6d0c4d5b0c3",
        "SampleTrackingContainer_id": "PUCK1",
        "SampleTrackingContainer_name": "6628e5a8f1e3a6d0c4d5b0d4",
        "experimentType": "MXPressE",
        "crystalSpaceGroup": None,
        "diffractionPlan": {},
        "experimentPlan": {"workflowType": "MXPressE", "aimedResolution": 1.5},
        "processingPlan": processing_plan,
        "comments": None,
    }

    model = Sample.from_legacy(sample)

    assert model.to_legacy() == sample
    assert model.sample_id == 123456
    assert model.sample_sheet_id == "6628e5a8f1e3a6d0c4d5b0a1"
    assert model.tracking_parcel_name == "parcel-1"
    assert model.experiment_plan["workflowType"] == "MXPressE"
    assert model.processing_plan == processing_plan
    assert model.diffraction_plan.to_legacy() == {}


# --------------------------------------------------------------------------
# the legacy contract, on any model


def test_absent_keys_stay_absent() -> None:
    for model in (DataCollection, Sample, EnergyScan, BeamlineSetup, Workflow):
        assert model.from_legacy({}).to_legacy() == {}
    nested = {"oscillation_sequence": [{"exposure_time": 0.04}]}
    assert DataCollection.from_legacy(nested).to_legacy() == nested


def test_unknown_keys_are_kept_in_order() -> None:
    data = {
        "zeta": {"nested": [1, (2, 3)]},
        "sessionId": 1,
        "archive_dir": "/x",
        "SSX_thing": object(),
    }

    model = DataCollection.from_legacy(data)

    assert model.to_legacy() == data
    assert list(model.to_legacy()) == list(data)
    assert model.legacy_extras["zeta"] == {"nested": [1, (2, 3)]}
    assert model.to_legacy()["SSX_thing"] is data["SSX_thing"]


def test_key_equal_to_a_python_name_is_an_unknown_key() -> None:
    # "session_id" is the Python name of "sessionId", not a legacy key
    data = {"sessionId": 1, "session_id": "other"}

    model = DataCollection.from_legacy(data)

    assert model.session_id == 1
    assert model.to_legacy() == data
    model.session_id = 2
    assert model.to_legacy() == {"sessionId": 2, "session_id": "other"}


def test_changes_are_written_back_and_converted_values_kept() -> None:
    data = {"sessionId": "1234", "oscillation_sequence": [{"exposure_time": 1}]}
    model = DataCollection.from_legacy(data)

    model.oscillation_sequence[0].exposure_time = 0.5
    model.wavelength = 0.98
    model.status = "Data collection successful"

    assert model.to_legacy() == {
        "sessionId": "1234",
        "oscillation_sequence": [{"exposure_time": 0.5}],
        "wavelength": 0.98,
        "status": "Data collection successful",
    }
    model.session_id = 99
    assert model.to_legacy()["sessionId"] == 99


def test_assignment_by_legacy_key_and_python_construction() -> None:
    image = Image(data_collection_id=7, fileName="a_1_0001.cbf", image_number=1)
    image.fileLocation = "/data"

    assert image.to_legacy() == {
        "dataCollectionId": 7,
        "fileName": "a_1_0001.cbf",
        "imageNumber": 1,
        "fileLocation": "/data",
    }


def test_to_legacy_returns_a_copy() -> None:
    data = {"workflow_parameters": {"workflow_type": "MXPressE"}}
    model = DataCollection.from_legacy(data)

    model.to_legacy()["workflow_parameters"]["workflow_type"] = "changed"

    assert model.workflow_parameters == {"workflow_type": "MXPressE"}
    assert data == {"workflow_parameters": {"workflow_type": "MXPressE"}}


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (Sample, {"sampleId": -1}),
        (DataCollection, {"oscillation_sequence": [{"kappaStart": -9999}]}),
        (DataCollection, {"energy": 0.0, "transmission": 0, "detector_distance": 0}),
        (DataCollection, {"resolution": None, "wavelength": None, "flux": None}),
        (DataCollection, {"resolution": {"lower": 50.0, "upper": 1.5}}),
        (DataCollection, {"take_snapshots": 4, "dark": 0, "processing": "False"}),
        (DataCollection, {"processing_online": "XrayCentring", "in_interleave": None}),
        (DataCollection, {"sessionId": "ICAT-987", "blSampleId": None}),
        (DataCollection, {"collection_start_time": "2024-05-01T10:00:00+02:00"}),
        (Image, {"dataCollectionId": None, "synchrotronCurrent": 0}),
        (RobotAction, {"sampleId": -1, "containerLocation": "A1"}),
        (XfeSpectrum, {"filename": "", "sessionId": None}),
    ],
)
def test_values_the_producers_send_are_accepted(model: type[LegacyModel], data: dict) -> None:
    assert model.from_legacy(data).to_legacy() == data


@pytest.mark.parametrize(
    ("model", "data", "field", "value"),
    [
        (
            DataCollection,
            {"oscillation_sequence": [{"exposure_time": 0.1}, {"exposure_time": -1}]},
            "oscillation_sequence[1].exposure_time",
            -1,
        ),
        (
            DataCollection,
            {"oscillation_sequence": [{"number_of_images": 2.5}]},
            "oscillation_sequence[0].number_of_images",
            2.5,
        ),
        (DataCollection, {"wavelength": 0}, "wavelength", 0),
        (DataCollection, {"energy": 12658.0}, "energy", 12658.0),
        (DataCollection, {"transmission": 150}, "transmission", 150),
        (DataCollection, {"detectorDistance": -250.0}, "detectorDistance", -250.0),
        (DataCollection, {"resolution": -2.0}, "resolution", -2.0),
        (
            DataCollection,
            {"resolution": {"upper": "high"}},
            "resolution.upper",
            "high",
        ),
        (
            DataCollection,
            {"collection_start_time": "yesterday"},
            "collection_start_time",
            "yesterday",
        ),
        (
            DataCollection,
            {"fileinfo": {"run_number": -1}},
            "fileinfo.run_number",
            -1,
        ),
        (
            DataCollection,
            {"sample_reference": {"sample_name": 5}},
            "sample_reference.sample_name",
            5,
        ),
        (
            DataCollection,
            {"xtalSnapshotFullPath1": 42},
            "xtalSnapshotFullPath1",
            42,
        ),
        (Sample, {"cellA": -79.1}, "cellA", -79.1),
        (
            Sample,
            {"diffractionPlan": {"aimedResolution": "x"}},
            "diffractionPlan.aimedResolution",
            "x",
        ),
        (Image, {"imageNumber": -1}, "imageNumber", -1),
        (Image, {"temperature": -5.0}, "temperature", -5.0),
        (
            RobotAction,
            # more than the hour of slack that clocks going back may need
            {"startTime": "2024-05-01 11:00:05", "endTime": "2024-05-01 10:00:00"},
            "endTime",
            "2024-05-01 10:00:00",
        ),
        (EnergyScan, {"edgeEnergy": 12658.0}, "edgeEnergy", 12658.0),
        (EnergyScan, {"startEnergy": 0}, "startEnergy", 0),
        (EnergyScan, {"exposureTime": -0.5}, "exposureTime", -0.5),
        (EnergyScan, {"sample_reference": []}, "sample_reference", []),
        (XfeSpectrum, {"energy": -12.7}, "energy", -12.7),
        (XfeSpectrum, {"beamTransmission": 101}, "beamTransmission", 101),
        (BeamlineSetup, {"polarisation": 1.5}, "polarisation", 1.5),
        (Workflow, {"steps_x": -1}, "steps_x", -1),
        (EnergyScanSampleAssociation, {"blSampleId": 1}, "energyScanId", None),
    ],
)
def test_invalid_values_raise_lims_data_error(model: type[LegacyModel], data: dict, field: str, value: Any) -> None:
    with pytest.raises(LimsDataError) as caught:
        model.from_legacy(data)

    assert caught.value.model == model.__name__
    assert caught.value.field == field
    assert caught.value.value == value
    assert f"{model.__name__}.{field}:" in str(caught.value)


def test_not_a_dict_raises_lims_data_error() -> None:
    with pytest.raises(LimsDataError) as caught:
        DataCollection.from_legacy([("sessionId", 1)])

    assert caught.value.field == ""
    assert caught.value.value == [("sessionId", 1)]


def test_bad_assignment_and_construction_name_the_legacy_key() -> None:
    model = DataCollection.from_legacy({"wavelength": 0.98})
    with pytest.raises(LimsDataError) as caught:
        model.wavelength = -1.0
    assert (caught.value.field, caught.value.value) == ("wavelength", -1.0)
    assert model.wavelength == 0.98

    with pytest.raises(LimsDataError) as caught:
        Image(image_number=-3)
    assert (caught.value.field, caught.value.value) == ("imageNumber", -3)

    with pytest.raises(LimsDataError) as caught:
        model.measured_detector_distance = 0
    assert caught.value.field == "detectorDistance"


def test_a_python_name_that_is_another_key_is_refused() -> None:
    with pytest.raises(TypeError, match="Python name is also a legacy key"):

        class Ambiguous(LegacyModel):
            energy: float | None = legacy("photonEnergy")
            wavelength: float | None = legacy("energy")


@pytest.mark.parametrize(
    ("model", "name", "unit"),
    [
        (DataCollection, "wavelength", "[Å]"),
        (DataCollection, "energy", "[keV]"),
        (DataCollection, "measured_detector_distance", "[mm]"),
        (DataCollection, "beam_size_at_sample_x", "[mm]"),
        (EnergyScan, "peak_energy", "[keV]"),
        (XfeSpectrum, "exposure_time", "[s]"),
        (Workflow, "mesh_angle", "[deg]"),
    ],
)
def test_fields_state_their_unit(model: type[LegacyModel], name: str, unit: str) -> None:
    assert unit in model.model_fields[name].description


def test_oscillation_fields_state_their_unit() -> None:
    assert "[s]" in Oscillation.model_fields["exposure_time"].description
    assert "[deg]" in Oscillation.model_fields["start"].description


def test_models_import_without_mxcubecore() -> None:
    code = (
        "import sys\n"
        f"for name in {MODEL_MODULES!r}:\n"
        "    __import__(name)\n"
        "import mxcubecore_lims.model as model\n"
        "assert model.DataCollection.from_legacy({'sessionId': 1}).session_id == 1\n"
        "loaded = sorted(n for n in sys.modules if n.split('.')[0] == 'mxcubecore')\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_session_models_are_mxcubecores_own() -> None:
    from mxcubecore.model import lims_session

    import mxcubecore_lims.model as model

    for name in ("Lims", "LimsSessionManager", "LimsUser", "Proposal", "Session"):
        assert getattr(model, name) is getattr(lims_session, name)
        assert name in model.__all__
    with pytest.raises(AttributeError):
        model.NoSuchModel  # noqa: B018


@pytest.mark.parametrize("module_name", MODEL_MODULES)
def test_docstring_examples(module_name: str) -> None:
    results = doctest.testmod(importlib.import_module(module_name))
    assert results.failed == 0


def test_collections_namedtuple_is_accepted_for_any_model() -> None:
    Group = collections.namedtuple("Group", ["sessionId", "experimentType"])

    model = DataCollectionGroup.from_legacy(Group(1, "OSC"))

    assert model.to_legacy() == {"sessionId": 1, "experimentType": "OSC"}


@pytest.mark.parametrize(
    "model, data",
    [
        (Oscillation, {"mesh_range": [1, 2]}),
        (Oscillation, {"mesh_range": ["0.1", "0.2"]}),
        (Oscillation, {"mesh_range": (0.1, 0.2)}),
        # mxcubecore's queue library (what mxcubeweb queues) gives a dict, {} when not a mesh
        (Oscillation, {"mesh_range": {}}),
        (Oscillation, {"mesh_range": {"horizontal_range": 0.1, "vertical_range": 0.2}}),
        (DataCollection, {"oscillation_sequence": ({"start": 0, "range": 0.1},)}),
        (BeamlineSetup, {"undulators": ("u1", "u2")}),
    ],
)
def test_containers_round_trip_with_their_types(model: type[LegacyModel], data: dict) -> None:
    out = model.from_legacy(copy.deepcopy(data)).to_legacy()
    assert repr(out) == repr(data)


def test_an_edited_list_is_written_as_edited() -> None:
    setup = BeamlineSetup.from_legacy({"undulators": ("u1", "u2")})
    assert setup.undulators == ["u1", "u2"]
    setup.undulators.append("u3")
    assert setup.to_legacy()["undulators"] == ["u1", "u2", "u3"]
