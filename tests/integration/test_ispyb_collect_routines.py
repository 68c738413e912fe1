"""mxcubecore's own collect and queue code stores a collection through our ISPyB LIMS.

Nothing of mxcubecore is changed: its ``mount_sample`` stores the robot
action, its ``TaskGroupQueueEntry.execute`` stores the data-collection group,
``to_collect_dict`` builds the collection dict and ``AbstractCollect.collect``
(``do_collect`` in a greenlet, then ``collection_finished``) stores, updates
and images the collection, followed by ``update_lims_with_workflow``. Only
the hardware is faked, on the loaded ``HWR.beamline``; the LIMS object is our
``ProposalTypeISPyBLims`` talking SOAP to the emulated ISPyB, whose database
is read back column by column.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gevent
import pytest
from mxcubecore import HardwareRepository as HWR
from mxcubecore.HardwareObjects.abstract import AbstractCollect as abstract_collect
from mxcubecore.HardwareObjects.abstract.AbstractBeam import BeamShape
from mxcubecore.model import queue_model_objects as qmo
from mxcubecore.model.queue_model_enumerables import CENTRING_METHOD
from mxcubecore.queue_entry import base_queue_entry

from mxcubecore_lims.config.loader import load_beamline
from mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims import ProposalTypeISPyBLims

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

DEMO = Path(__file__).resolve().parents[2] / "configuration" / "demo"
ns = SimpleNamespace

# What the faked hardware measures (different from what the queue asked for).
FLUX = 3.2e12
WAVELENGTH = 0.9763
DISTANCE = 251.5
RESOLUTION = 1.79
CORNER = 1.41
TRANSMISSION = 49.8
BEAM_POSITION = (1230.5, 1270.25)
PIXEL = (0.075, 0.075)
BEAM_SIZE = (0.05, 0.02)
SLITS = (0.1, 0.05)
UNDULATOR_GAP = 11.25
SAMPLE_ID = 1  # lyso-01 in the emulator's default fixture
NUM_IMAGES = 3
CENTRING = "phi=15.000000 phiy=0.125000 sampx=-0.031000"


def now() -> str:
    """The local time as the emulator stores it."""
    return time.strftime("%Y-%m-%dT%H:%M:%S")


def make_lims(tmp_path: Path, ispyb: Any) -> Any:
    """Loads a beamline with our ProposalTypeISPyBLims (our loader) and returns it."""
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(DEMO / "session.xml", config / "session.xml")
    properties = {
        "ws_root": ispyb.root,
        "ws_username": "mxcube",
        "ws_password": "ispyb-password",
        "authServerType": "ispyb",
        "read_timeout": "5",
        "connect_timeout": "2",
    }
    body = "".join(f"<{key}>{value}</{key}>" for key, value in properties.items())
    (config / "lims.xml").write_text(
        '<object class="mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims">'
        f'<object href="/session" role="session"/>{body}</object>',
        encoding="utf-8",
    )
    (config / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n  session: session.xml\n  lims: lims.xml\n",
        encoding="utf-8",
    )
    load_beamline(config, strict=True)
    return HWR.beamline.lims


class Attrs:
    """An object with the given attributes (sample-changer samples, undulators)."""

    def __init__(self, **attributes: Any) -> None:
        self.__dict__.update(attributes)


class SampleChanger:
    """Loads whatever it is asked to; reports the loaded sample's coordinates."""

    def __init__(self) -> None:
        self.loaded: str | None = None

    def trigger_progress_message(self, message: str) -> None:
        pass

    def load(self, sample: str | None = None, wait: bool = True) -> bool:
        self.loaded = sample
        return True

    def has_loaded_sample(self) -> bool:
        return self.loaded is not None

    def getLoadedSample(self) -> Attrs:
        return Attrs(
            getID=lambda: "LY01",
            getContainer=lambda: Attrs(getID=lambda: "DEMO-PUCK-01"),
            getCoords=lambda: (1, 1),
        )


class Collect(abstract_collect.AbstractCollect):
    """The smallest concrete AbstractCollect.

    Like sites' collect objects, it stores images through
    ``store_image_in_lims_by_frame_num`` while acquiring (here: in the hook,
    every frame but the last; ``collection_finished`` stores the last).
    """

    def move_motors(self, motor_position_dict):
        pass

    def _take_crystal_snapshot(self, snapshot_filename):
        Path(snapshot_filename).write_bytes(b"\xff\xd8\xff\xd9")

    def data_collection_hook(self):
        for frame in range(1, NUM_IMAGES):
            self.store_image_in_lims_by_frame_num(frame)

    def store_image_in_lims_by_frame_num(self, frame_number):
        self.image_ids.append(self.store_image_in_lims(frame_number))

    def trigger_auto_processing(self, process_event, frame_number):
        pass

    def get_undulators_gaps(self):
        return {"PPU35C": UNDULATOR_GAP}


@pytest.fixture
def beamline(tmp_path: Path, ispyb_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Our LIMS logged in as mx415 with its session selected as mxcubeweb does; faked hardware."""
    lims = make_lims(tmp_path, ispyb_server)
    assert isinstance(lims, ProposalTypeISPyBLims)
    lims.login("mx415", "mx415-password", False)
    chosen = lims.set_active_session_by_id("mx415")
    # mxcubeweb's select_session (reference/mxcube_clients.md §1c)
    session = HWR.beamline.session
    assert lims.get_session_id() != session.session_id
    session.proposal_code = chosen.code
    session.proposal_number = chosen.number
    session.session_id = lims.get_session_id()
    session.proposal_id = chosen.proposal_id
    session.set_session_start_date(chosen.start_date)

    # Every is_connected() answer mxcubecore gets.
    answers: list[bool] = []
    real_is_connected = lims.is_connected

    def is_connected() -> bool:
        answer = real_is_connected()
        answers.append(answer)
        return answer

    monkeypatch.setattr(lims, "is_connected", is_connected)

    # the archive directory is the raw-data directory (under tmp_path)
    monkeypatch.setattr(qmo.PathTemplate, "synchrotron_name", "MAXLAB", raising=False)
    requested: dict[str, Any] = {}
    hardware = {
        "sample_changer": SampleChanger(),
        "sample_view": ns(clear_all=lambda: None, get_positions=lambda: {}),
        "queue_manager": ns(centring_method=CENTRING_METHOD.NONE),
        "diffractometer": ns(in_plate_mode=False, omega=ns(set_value_relative=lambda angle: None)),
        "flux": ns(get_value=lambda: FLUX),
        "energy": ns(
            get_wavelength=lambda: WAVELENGTH,
            calculate_wavelength=lambda energy: 12.3984 / energy,
            wait_ready=lambda: None,
        ),
        "detector": ns(
            distance=ns(get_value=lambda: DISTANCE),
            get_beam_position=lambda: BEAM_POSITION,
            get_pixel_size=lambda: PIXEL,
        ),
        "resolution": ns(
            get_value=lambda: RESOLUTION,
            get_value_at_corner=lambda: CORNER,
            set_value=lambda value: requested.__setitem__("resolution", value),
        ),
        "transmission": ns(get_value=lambda: TRANSMISSION),
        "beam": ns(
            get_beam_size=lambda: BEAM_SIZE,
            get_beam_shape=lambda: BeamShape.ELLIPTICAL,
            get_slits_gap=lambda: SLITS,
        ),
    }
    for role, fake in hardware.items():
        monkeypatch.setitem(HWR.beamline._hwobj_by_role, role, fake)
    return ns(lims=lims, session=chosen, answers=answers, requested=requested, hardware=hardware)


def make_collect(tmp_path: Path) -> Collect:
    ho = Collect("collect")
    ho.ready_event = abstract_collect.gevent.event.Event()  # init() would make it
    ho.image_ids = []
    ho.set_beamline_configuration(
        synchrotron_name="DEMO",
        directory_prefix="id-demo",
        default_exposure_time=0.04,
        minimum_exposure_time=0.002,
        detector_fileext="cbf",
        detector_type="Hybrid pixel",
        detector_manufacturer="DECTRIS",
        detector_model="EIGER2 X 9M",
        detector_px=0.075,
        detector_py=0.075,
        detector_binning_mode=1,
        undulators=[Attrs(type="PPU35C")],
        focusing_optic="Compound refractive lenses",
        monochromator_type="Si(111)",
        beam_divergence_vertical=6.5,
        beam_divergence_horizontal=104,
        polarisation=0.99,
        input_files_server=None,
    )
    return ho


def queue_model(tmp_path: Path, session_id: str) -> tuple[Any, Any, Any]:
    """Sample, task group and rotation collection as mxcubeweb's queue builds them."""
    sample = qmo.Sample()
    sample.lims_id = SAMPLE_ID
    sample.name = "lyso-01"
    sample.code = "LY01"
    sample.location = (1, 1)
    sample.loc_str = "1:1"
    sample.lims_container_location = 1
    sample.lims_sample_location = "1"
    sample.crystals[0].protein_acronym = "LYSO"
    task_group = qmo.TaskGroup()
    task_group._parent = sample
    dc = qmo.DataCollection()
    dc._parent = task_group
    dc.lims_session_id = session_id
    acquisition = dc.acquisitions[0]
    template = acquisition.path_template
    template.directory = str(tmp_path / "RAW_DATA" / "lyso")
    template.process_directory = str(tmp_path / "PROCESSED_DATA" / "lyso")
    template.base_prefix = "lyso1"
    template.run_number = 2
    # the file name normally comes from the detector object
    template.get_image_file_name = lambda suffix=None: "lyso1_2_%05d.cbf"
    parameters = acquisition.acquisition_parameters
    parameters.osc_start = 15.0
    parameters.osc_range = 0.2
    parameters.num_images = NUM_IMAGES
    parameters.exp_time = 0.037
    parameters.first_image = 1
    parameters.num_passes = 1
    parameters.energy = 12.7
    parameters.resolution = 1.8
    parameters.transmission = 50.0
    parameters.take_snapshots = 2
    return sample, task_group, dc


def test_mxcubecore_collect_and_queue_store_a_collection_in_ispyb(
    tmp_path: Path, beamline: Any, ispyb_server: Any
) -> None:
    store = ispyb_server.store
    before = now()
    session_id = int(beamline.session.session_id)
    assert HWR.beamline.session.session_id == str(session_id)
    sample, task_group, dc = queue_model(tmp_path, HWR.beamline.session.session_id)

    # 1. SampleQueueEntry: the robot loads the sample and mount_sample records it.
    base_queue_entry.mount_sample(sample, None, None)
    assert HWR.beamline.sample_changer.loaded == "1:1"

    # 2. TaskGroupQueueEntry: the data-collection group.
    assert store.rows("DataCollectionGroup") == []
    base_queue_entry.TaskGroupQueueEntry(view=None, data_model=task_group).execute()
    [group] = store.rows("DataCollectionGroup")
    assert task_group.lims_group_id == group["dataCollectionGroupId"]

    # 3. DataCollectionQueueEntry: pre_execute copies the group id, collect_dc
    #    builds the dict and runs AbstractCollect.collect.
    dc.lims_group_id = dc.get_parent().lims_group_id
    (params,) = qmo.to_collect_dict(dc, sample, None)
    collect = make_collect(tmp_path)
    # AbstractCollect leaves current_lims_sample to the site's code (default
    # {}, see test_the_default_sample_info_does_not_stop_a_collection); a site
    # gives the LIMS sample with the centring found.
    [lims_sample] = [s for s in beamline.lims.get_samples("ISPyB") if s["sampleId"] == SAMPLE_ID]
    collect.current_lims_sample = {**lims_sample, "lastKnownCentringPosition": CENTRING}
    with gevent.Timeout(60):  # collect() waits for do_collect without a timeout
        task = collect.collect("MXCuBE", [params])
        task.get()
    assert params["status"] == "Data collection successful"
    # a LIMS failure would only have been logged: the id proves the store worked
    [row] = store.rows("DataCollection")
    collection_id = row["dataCollectionId"]
    assert params["collection_id"] == collect.collection_id == collection_id

    # 4. A workflow links its grid snapshot to the collection.
    grid = str(tmp_path / "RAW_DATA" / "lyso" / "grid.png")
    collect.update_lims_with_workflow(None, grid)

    # every LIMS step AbstractCollect guards saw a connected LIMS
    # (store, sample info, NUM_IMAGES images, workflow)
    assert len(beamline.answers) == 3 + NUM_IMAGES
    assert all(beamline.answers)
    assert beamline.lims.is_connected()

    # ------------------------------------------------------------ the group
    assert group["sessionId"] == session_id
    assert group["experimentType"] == "OSC"
    assert group["actualContainerSlotInSC"] == 1
    assert group["actualSampleSlotInContainer"] == 1

    # ------------------------------------------------------- the collection
    [row] = store.rows("DataCollection")
    assert row["dataCollectionGroupId"] == group["dataCollectionGroupId"]
    [detector] = store.rows("Detector")
    assert row["detectorId"] == detector["detectorId"] == params["detector_id"]
    assert row["imageDirectory"] == str(tmp_path / "RAW_DATA" / "lyso")
    assert row["imagePrefix"] == "lyso1"
    assert row["dataCollectionNumber"] == 2
    assert row["fileTemplate"] == "lyso1_2_%05d.cbf"
    assert row["axisStart"] == pytest.approx(15.0)
    assert row["axisRange"] == pytest.approx(0.2)
    assert row["numberOfImages"] == NUM_IMAGES
    assert row["startImageNumber"] == 1
    assert row["numberOfPasses"] == 1
    assert row["exposureTime"] == pytest.approx(0.037)
    # measured by the hardware in update_data_collection_in_lims
    assert row["wavelength"] == pytest.approx(WAVELENGTH)
    assert row["resolution"] == pytest.approx(RESOLUTION)
    assert row["resolutionAtCorner"] == pytest.approx(CORNER)
    assert row["transmission"] == pytest.approx(TRANSMISSION)
    assert row["flux"] == pytest.approx(FLUX)
    assert row["flux_end"] == pytest.approx(FLUX)
    assert row["detectorDistance"] == pytest.approx(DISTANCE)
    assert row["xbeam"] == pytest.approx(BEAM_POSITION[0] * PIXEL[0])
    assert row["ybeam"] == pytest.approx(BEAM_POSITION[1] * PIXEL[1])
    assert row["beamSizeAtSampleX"] == pytest.approx(BEAM_SIZE[0])
    assert row["beamSizeAtSampleY"] == pytest.approx(BEAM_SIZE[1])
    assert row["slitGapHorizontal"] == pytest.approx(SLITS[0])
    assert row["slitGapVertical"] == pytest.approx(SLITS[1])
    assert row["undulatorGap1"] == pytest.approx(UNDULATOR_GAP)
    assert row["runStatus"] == "Data collection successful"
    # ISPyB sets the times itself (its clock), after do_collect's start time
    requested_start = params["collection_start_time"].replace(" ", "T")
    assert before <= requested_start <= row["startTime"] <= row["endTime"] <= now()
    # snapshots taken by take_crystal_snapshots, then the workflow's grid
    archive = tmp_path / "RAW_DATA" / "lyso"
    assert row["xtalSnapshotFullPath1"] == str(archive / "lyso1_2_1.snapshot.jpeg")
    assert row["xtalSnapshotFullPath2"] == str(archive / "lyso1_2_2.snapshot.jpeg")
    assert row["xtalSnapshotFullPath3"] == grid

    # the sample-info steps: get_sample_info read the changer, and
    # store_sample_info_in_lims updated the sample (keeping what it did not give)
    assert params["actualSampleBarcode"] == "LY01" and params["blSampleId"] == SAMPLE_ID
    bl_sample = store.get("BLSample", SAMPLE_ID)
    assert bl_sample["lastKnownCenteringPosition"] == CENTRING
    assert (bl_sample["name"], bl_sample["code"], bl_sample["containerId"]) == ("lyso-01", "LY01", 1)

    # ------------------------------------------------------------ the images
    images = store.rows("Image")
    assert [image["imageId"] for image in images] == collect.image_ids
    assert [image["dataCollectionId"] for image in images] == [collection_id] * NUM_IMAGES
    assert [image["imageNumber"] for image in images] == list(range(1, NUM_IMAGES + 1))
    assert [image["fileName"] for image in images] == [f"lyso1_2_{frame:05d}.cbf" for frame in range(1, NUM_IMAGES + 1)]
    assert {image["fileLocation"] for image in images} == {str(archive)}
    assert [image["jpegThumbnailFileFullPath"] for image in images] == [
        str(archive / f"lyso1_2_{frame:05d}.thumb.jpeg") for frame in range(1, NUM_IMAGES + 1)
    ]

    # ------------------------------------------------------ the robot action
    [action] = store.rows("RobotAction")
    assert action["actionType"] == "LOAD"
    assert action["status"] == "SUCCESS"
    assert action["sessionId"] == session_id
    assert action["blSampleId"] == SAMPLE_ID
    assert (action["dewarLocation"], action["containerLocation"]) == (1, 1)
    assert action["sampleBarcode"] == "LY01"
    assert before <= action["startTime"] <= action["endTime"] <= now()

    # nothing else was written
    assert len(store.rows("DataCollectionGroup")) == 1


def test_the_default_sample_info_does_not_stop_a_collection(tmp_path: Path, beamline: Any) -> None:
    collect = make_collect(tmp_path)
    assert collect.current_lims_sample == {}  # mxcubecore's default, never set by core
    collect.current_dc_parameters = {"in_interleave": None}
    collect.store_sample_info_in_lims()  # must return (it used to raise into do_collect)
    assert beamline.answers == [True]


def test_an_image_of_an_unstored_collection_does_not_stop_a_collection(tmp_path: Path, beamline: Any) -> None:
    collect = make_collect(tmp_path)
    collect.current_dc_parameters = {
        "in_interleave": None,
        "fileinfo": {"directory": str(tmp_path), "template": "lyso1_2_%05d.cbf", "archive_directory": ""},
    }
    assert collect.store_image_in_lims(3) is None
    assert beamline.answers == [True]
