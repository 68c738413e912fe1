"""IspybAdapter against the emulated ISPyB: what is stored, field by field."""

from __future__ import annotations

import copy
from collections import namedtuple
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mxcubecore_lims.errors import IspybFaultError, IspybUnavailableError, LimsDataError
from mxcubecore_lims.ispyb.adapter import IspybAdapter
from mxcubecore_lims.ispyb.services import IspybConnection, IspybServices
from mxcubecore_lims.model import (
    BeamlineSetup,
    DataCollection,
    DataCollectionGroup,
    EnergyScan,
    Image,
    RobotAction,
    Sample,
    SampleUpdate,
    XfeSpectrum,
)

pytestmark = pytest.mark.integration

BEAMLINE = "ID-DEMO"


class Undulator:
    def __init__(self, type: str) -> None:
        self.type = type


@pytest.fixture
def adapter(ispyb_server: Any) -> IspybAdapter:
    services = IspybServices(IspybConnection(ws_root=ispyb_server.root, username="mxcube", password="ispyb-password"))
    return IspybAdapter(services)


@pytest.fixture
def session_id(adapter: IspybAdapter) -> int:
    (session,) = adapter.find_sessions("MX", "415", BEAMLINE)
    return session["sessionId"]


@pytest.fixture
def group_id(adapter: IspybAdapter, session_id: int) -> int:
    return adapter.store_data_collection_group(
        DataCollectionGroup.from_legacy({"sessionId": session_id, "experimentType": "OSC"})
    )


def collect_dict(session_id: int, group_id: int | None) -> dict:
    """The dict of AbstractCollect at store time (to_collect_dict + do_collect)."""
    return {
        "comments": "",
        "take_snapshots": True,
        "fileinfo": {
            "directory": "/data/id-demo/inhouse/mx415/20240501/RAW_DATA/lyso1",
            "prefix": "lyso1",
            "run_number": 1,
            "template": "lyso1_1_%04d.cbf",
            "process_directory": "/data/id-demo/inhouse/mx415/20240501/PROCESSED_DATA/lyso1",
            "archive_directory": "/data/pyarch/id-demo/mx415/20240501/lyso1",
            "suffix": "cbf",
        },
        "oscillation_sequence": [
            {
                "start": 10.0,
                "range": 0.1,
                "overlap": 0,
                "offset": 0,
                "number_of_images": 100,
                "exposure_time": 0.04,
                "start_image_number": 1,
                "number_of_passes": 1,
                "kappaStart": 0.0,
                "phiStart": 0.0,
            }
        ],
        "group_id": group_id,
        "sessionId": session_id,
        "sample_reference": {"blSampleId": 1, "sample_name": "lyso-01", "acronym": "lyso"},
        "experiment_type": "OSC",
        "energy": 12.7,
        "transmission": 100.0,
        "resolution": 1.8,
        "detector_distance": 0,
        "status": "Running",
        "collection_start_time": "2024-05-01 10:00:00",
        "synchrotronMode": "7/8 multibunch",
        "actualSampleBarcode": "LY01",
        "actualContainerBarcode": "DEMO-PUCK-01",
        "actualSampleSlotInContainer": 1,
        "actualContainerSlotInSC": 1,
    }


def update_keys() -> dict:
    """What AbstractCollect.update_data_collection_in_lims adds."""
    return {
        "flux": 3.2e12,
        "flux_end": 3.1e12,
        "wavelength": 0.976,
        "detectorDistance": 250.0,
        "resolution": 1.8,
        "resolutionAtCorner": 1.4,
        "transmission": 50.0,
        "xBeam": 92.29,
        "yBeam": 95.27,
        "beamSizeAtSampleX": 0.05,
        "beamSizeAtSampleY": 0.02,
        "beamShape": "ellipse",
        "slitGapHorizontal": 0.1,
        "slitGapVertical": 0.05,
        "undulatorGap1": 11.25,
        "centringMethod": "manual",
        "actualCentringPosition": "phi=10.000000 phiy=0.100000",
        "xtalSnapshotFullPath1": "/data/pyarch/id-demo/mx415/20240501/lyso1/lyso1_1_1.snapshot.jpeg",
        "totalAbsorbedDose": 1.2e6,
        "status": "Data collection successful",
    }


BeamlineConfig = namedtuple(
    "BeamlineConfig",
    "synchrotron_name directory_prefix default_exposure_time minimum_exposure_time "
    "detector_fileext detector_type detector_manufacturer detector_model detector_px "
    "detector_py undulators focusing_optic monochromator_type beam_divergence_vertical "
    "beam_divergence_horizontal polarisation input_files_server detector_binning_mode",
)


def bl_config(**changes: Any) -> BeamlineConfig:
    values = {
        "synchrotron_name": "ESRF",
        "directory_prefix": "id-demo",
        "default_exposure_time": 0.04,
        "minimum_exposure_time": 0.002,
        "detector_fileext": "cbf",
        "detector_type": "Hybrid pixel",
        "detector_manufacturer": "DECTRIS",
        "detector_model": "EIGER2 X 9M",
        "detector_px": 0.075,
        "detector_py": 0.075,
        "undulators": [Undulator("U35"), Undulator("CPM18")],
        "focusing_optic": "Compound refractive lenses",
        "monochromator_type": "Si(111)",
        "beam_divergence_vertical": 6.5,
        "beam_divergence_horizontal": 104,
        "polarisation": 0.99,
        "input_files_server": None,
        "detector_binning_mode": 1,
    }
    values.update(changes)
    return BeamlineConfig(**values)


# --------------------------------------------------------------------------
# echo and shipping


def test_echo_is_true_when_up_and_false_never_raising_when_down(ispyb_server: Any, adapter: IspybAdapter) -> None:
    assert adapter.echo() is True
    down = IspybAdapter(
        IspybServices(IspybConnection(ws_root="http://127.0.0.1:9/ispyb/", connect_timeout=1, read_timeout=1))
    )
    assert down.echo() is False


def test_find_proposal_returns_a_plain_dict(adapter: IspybAdapter) -> None:
    proposal = adapter.find_proposal("MX", "415")
    assert type(proposal) is dict
    assert proposal["code"] == "MX"
    assert proposal["number"] == "415"
    assert proposal["title"] == "Lysozyme and thaumatin at ID-DEMO"
    assert proposal["type"] == "MX"
    assert isinstance(proposal["proposalId"], int)
    assert isinstance(proposal["personId"], int)
    assert None not in proposal.values()
    assert adapter.find_proposal("MX", "999") is None


def test_find_proposal_by_login_and_beamline(adapter: IspybAdapter) -> None:
    proposal = adapter.find_proposal_by_login_and_beamline("mx415", BEAMLINE)
    assert (proposal["code"], proposal["number"]) == ("MX", "415")
    assert adapter.find_proposal_by_login_and_beamline("nobody", BEAMLINE) is None


def test_find_person_by_login(ispyb_server: Any, adapter: IspybAdapter) -> None:
    person = adapter.find_person_by_login("mx415")
    (row,) = ispyb_server.store.rows("Person", login="mx415")
    assert type(person) is dict
    assert person["personId"] == row["personId"]
    assert person["givenName"] == "Ada"
    assert person["familyName"] == "Lovelace"
    assert person["emailAddress"] == "ada.lovelace@example.org"
    assert person["login"] == "mx415"
    assert "password" not in person
    assert adapter.find_person_by_login("nobody") is None


def test_find_person_by_proposal(adapter: IspybAdapter) -> None:
    person = adapter.find_person_by_proposal("MX", "415")
    assert person["login"] == "mx415"
    assert adapter.find_person_by_proposal("MX", "999") is None


def test_find_laboratory_by_proposal(adapter: IspybAdapter) -> None:
    laboratory = adapter.find_laboratory_by_proposal("MX", "415")
    assert laboratory["name"] == "Demo Structural Biology Lab"
    assert laboratory["city"] == "Grenoble"
    assert laboratory["country"] == "France"
    assert adapter.find_laboratory_by_proposal("MX", "999") is None


# --------------------------------------------------------------------------
# sessions


def test_find_sessions_gives_current_sessions_on_the_beamline(adapter: IspybAdapter) -> None:
    sessions = adapter.find_sessions("MX", "415", BEAMLINE)
    assert len(sessions) == 1
    (session,) = sessions
    assert type(session) is dict
    assert session["beamlineName"] == BEAMLINE
    assert session["proposalName"] == "mx415"
    assert session["comments"] == "Scheduled session"
    assert isinstance(session["startDate"], datetime)
    now = datetime.now().astimezone()
    assert session["startDate"].date() <= now.date() and now <= session["endDate"]
    assert adapter.find_sessions("OPID", "30", BEAMLINE) == []
    assert adapter.find_sessions("MX", "999", BEAMLINE) == []


def test_find_session(adapter: IspybAdapter, session_id: int) -> None:
    session = adapter.find_session(session_id)
    assert session["sessionId"] == session_id
    assert session["nbShifts"] == 6
    assert adapter.find_session(999999) is None


def test_create_session_stores_typed_dates_and_is_found(ispyb_server: Any, adapter: IspybAdapter) -> None:
    proposal = adapter.find_proposal("OPID", "30")
    today = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today, today + timedelta(days=2, hours=7, minutes=59, seconds=59)

    new_id = adapter.create_session(proposal["proposalId"], BEAMLINE, start, end)

    row = ispyb_server.store.get("BLSession", new_id)
    assert row["proposalId"] == proposal["proposalId"]
    assert row["beamlineName"] == BEAMLINE
    assert row["startDate"] == start.isoformat()
    assert row["endDate"] == end.isoformat()
    assert row["comments"] == "Session created by MXCuBE"
    assert row["scheduled"] == 0
    assert row["nbShifts"] == 6  # computed by ISPyB from the dates (55 h 59 / 8 h)
    assert [s["sessionId"] for s in adapter.find_sessions("OPID", "30", BEAMLINE)] == [new_id]


def test_create_session_without_proposal_is_a_data_error(adapter: IspybAdapter) -> None:
    with pytest.raises(LimsDataError) as caught:
        adapter.create_session(0, BEAMLINE, datetime.now(), datetime.now() + timedelta(days=1))
    assert caught.value.field == "proposalId"


# --------------------------------------------------------------------------
# data collection groups and collections


def test_store_data_collection_group_as_the_task_group_entry_sends_it(
    ispyb_server: Any, adapter: IspybAdapter, session_id: int
) -> None:
    legacy = {
        "sessionId": session_id,
        "experimentType": "OSC",
        "actualContainerSlotInSC": "1",
        "actualSampleSlotInContainer": 3,
    }
    given = copy.deepcopy(legacy)
    group = DataCollectionGroup.from_legacy(legacy)

    new_id = adapter.store_data_collection_group(group)

    row = ispyb_server.store.get("DataCollectionGroup", new_id)
    assert row["sessionId"] == session_id
    assert row["experimentType"] == "OSC"
    assert row["actualContainerSlotInSC"] == 1
    assert row["actualSampleSlotInContainer"] == 3
    assert row["comments"] is None
    assert row["blSampleId"] is None
    assert row["startTime"] is not None
    assert group.to_legacy() == given == legacy


def test_store_data_collection_group_update_keeps_the_id(
    ispyb_server: Any, adapter: IspybAdapter, session_id: int, group_id: int
) -> None:
    updated = DataCollectionGroup.from_legacy(
        {
            "sessionId": session_id,
            "experimentType": "mesh",
            "dataCollectionGroupId": group_id,
            "blSampleId": 1,
            "actualContainerBarcode": "DEMO-PUCK-01",
            "comments": "grid scan",
            "workflowId": None,
        }
    )
    assert adapter.store_data_collection_group(updated) == group_id
    row = ispyb_server.store.get("DataCollectionGroup", group_id)
    assert row["experimentType"] == "Mesh"
    assert row["blSampleId"] == 1
    assert row["actualContainerBarcode"] == "DEMO-PUCK-01"
    assert row["comments"] == " grid scan"  # ISPyB appends comments
    assert len(ispyb_server.store.rows("DataCollectionGroup")) == 1


def test_store_data_collection_group_with_a_type_ispyb_refuses_is_a_fault(
    adapter: IspybAdapter, session_id: int
) -> None:
    with pytest.raises(IspybFaultError) as caught:
        adapter.store_data_collection_group(
            DataCollectionGroup.from_legacy({"sessionId": session_id, "experimentType": "Still"})
        )
    assert caught.value.operation == "storeOrUpdateDataCollectionGroup"


@pytest.mark.parametrize(
    "legacy, field",
    [({"experimentType": "OSC"}, "sessionId"), ({"sessionId": 1}, "experimentType")],
)
def test_store_data_collection_group_missing_values_are_named(
    ispyb_server: Any, adapter: IspybAdapter, legacy: dict, field: str
) -> None:
    with pytest.raises(LimsDataError) as caught:
        adapter.store_data_collection_group(DataCollectionGroup.from_legacy(legacy))
    assert caught.value.field == field
    assert ispyb_server.store.rows("DataCollectionGroup") == []


def test_store_data_collection_creates_then_updates_the_same_row(
    ispyb_server: Any, adapter: IspybAdapter, session_id: int, group_id: int
) -> None:
    legacy = collect_dict(session_id, group_id)
    given = copy.deepcopy(legacy)
    collection = DataCollection.from_legacy(legacy)

    dc_id = adapter.store_data_collection(collection, detector_id=1)

    assert collection.to_legacy() == given  # the caller's model is untouched
    row = ispyb_server.store.get("DataCollection", dc_id)
    assert row["dataCollectionGroupId"] == group_id
    assert row["detectorId"] == 1
    assert row["runStatus"] == "Running"
    assert row["axisStart"] == 10.0
    assert row["axisRange"] == 0.1
    assert row["axisEnd"] == pytest.approx(20.0)
    assert row["overlap"] == 0.0
    assert row["numberOfImages"] == 100
    assert row["startImageNumber"] == 1
    assert row["numberOfPasses"] == 1
    assert row["exposureTime"] == 0.04
    assert row["rotationAxis"] == "Phi"
    assert row["omegaStart"] is None
    assert row["kappaStart"] == 0.0
    assert row["phiStart"] == 0.0
    assert row["imageDirectory"] == "/data/id-demo/inhouse/mx415/20240501/RAW_DATA/lyso1"
    assert row["imagePrefix"] == "lyso1"
    assert row["imageSuffix"] == "cbf"
    assert row["fileTemplate"] == "lyso1_1_%04d.cbf"
    assert row["dataCollectionNumber"] == 1
    assert row["resolution"] == 1.8
    assert row["transmission"] == 100.0
    assert row["synchrotronMode"] == "7/8 multibunch"
    assert row["detectorDistance"] is None  # requested 0 = "from the resolution"
    assert not row["comments"]  # "" is sent as an empty element
    assert row["wavelength"] is None
    assert row["printableForReport"] == 1

    legacy.update(update_keys(), collection_id=dc_id)
    assert adapter.store_data_collection(DataCollection.from_legacy(legacy), detector_id=1) == dc_id

    (row,) = ispyb_server.store.rows("DataCollection")
    assert row["dataCollectionId"] == dc_id
    assert row["runStatus"] == "Data collection successful"
    assert row["flux"] == 3.2e12
    assert row["flux_end"] == 3.1e12
    assert row["wavelength"] == 0.976
    assert row["detectorDistance"] == 250.0
    assert row["resolution"] == 1.8
    assert row["resolutionAtCorner"] == 1.4
    assert row["transmission"] == 50.0
    assert row["xbeam"] == 92.29
    assert row["ybeam"] == 95.27
    assert row["beamSizeAtSampleX"] == 0.05  # mm, as ISPyB stores it
    assert row["beamSizeAtSampleY"] == 0.02
    assert row["beamShape"] == "ellipse"
    assert row["slitGapHorizontal"] == 0.1
    assert row["slitGapVertical"] == 0.05
    assert row["undulatorGap1"] == 11.25
    assert row["centeringMethod"] == "manual"
    assert row["actualCenteringPosition"] == "phi=10.000000 phiy=0.100000"
    assert row["xtalSnapshotFullPath1"].endswith("lyso1_1_1.snapshot.jpeg")
    assert row["totalAbsorbedDose"] == 1.2e6


def test_store_data_collection_update_without_ids_keeps_group_and_detector(
    ispyb_server: Any, adapter: IspybAdapter, session_id: int, group_id: int
) -> None:
    legacy = collect_dict(session_id, None)
    dc_id = adapter.store_data_collection(DataCollection.from_legacy(legacy), group_id, 1)
    update = {**legacy, **update_keys(), "collection_id": dc_id}
    assert adapter.store_data_collection(DataCollection.from_legacy(update)) == dc_id
    (row,) = ispyb_server.store.rows("DataCollection")
    assert row["dataCollectionGroupId"] == group_id
    assert row["detectorId"] == 1
    assert row["imagePrefix"] == "lyso1"
    assert row["runStatus"] == "Data collection successful"
    with pytest.raises(LimsDataError) as caught:
        adapter.store_data_collection(DataCollection.from_legacy({**update, "collection_id": 4242}))
    assert caught.value.field == "collection_id"


def test_store_data_collection_kappa_means_omega_axis_and_enum_shape(
    ispyb_server: Any, adapter: IspybAdapter, session_id: int, group_id: int
) -> None:
    from mxcubecore.HardwareObjects.abstract.AbstractBeam import BeamShape

    legacy = collect_dict(session_id, None)
    legacy["oscillation_sequence"][0].update(kappaStart=30.0, phiStart=5.0)
    legacy["beamShape"] = BeamShape.RECTANGULAR
    dc_id = adapter.store_data_collection(DataCollection.from_legacy(legacy), group_id=group_id)
    row = ispyb_server.store.get("DataCollection", dc_id)
    assert row["dataCollectionGroupId"] == group_id
    assert row["detectorId"] is None
    assert row["rotationAxis"] == "Omega"
    assert row["omegaStart"] == 10.0
    assert row["kappaStart"] == 30.0
    assert row["phiStart"] == 5.0
    assert row["beamShape"] == "rectangular"


def test_store_data_collection_without_group_is_a_data_error(
    ispyb_server: Any, adapter: IspybAdapter, session_id: int
) -> None:
    with pytest.raises(LimsDataError) as caught:
        adapter.store_data_collection(DataCollection.from_legacy(collect_dict(session_id, None)))
    assert caught.value.field == "group_id"
    assert ispyb_server.store.rows("DataCollection") == []


def test_store_data_collection_with_two_oscillations_is_a_data_error(
    adapter: IspybAdapter, session_id: int, group_id: int
) -> None:
    legacy = collect_dict(session_id, group_id)
    legacy["oscillation_sequence"].append(dict(legacy["oscillation_sequence"][0]))
    with pytest.raises(LimsDataError) as caught:
        adapter.store_data_collection(DataCollection.from_legacy(legacy))
    assert caught.value.field == "oscillation_sequence"


def test_store_data_collection_in_an_unknown_group_is_a_fault(adapter: IspybAdapter, session_id: int) -> None:
    with pytest.raises(IspybFaultError):
        adapter.store_data_collection(DataCollection.from_legacy(collect_dict(session_id, 4242)))


# --------------------------------------------------------------------------
# images, robot actions


@pytest.fixture
def dc_id(adapter: IspybAdapter, session_id: int, group_id: int) -> int:
    return adapter.store_data_collection(DataCollection.from_legacy(collect_dict(session_id, group_id)))


def test_store_image_as_abstract_collect_sends_it(ispyb_server: Any, adapter: IspybAdapter, dc_id: int) -> None:
    legacy = {
        "dataCollectionId": dc_id,
        "fileName": "lyso1_1_0001.cbf",
        "fileLocation": "/data/id-demo/inhouse/mx415/20240501/RAW_DATA/lyso1",
        "imageNumber": 1,
        "measuredIntensity": 3.2e12,
        "synchrotronCurrent": "199.9",
        "machineMessage": "Delivery",
        "temperature": 100,
        "jpegFileFullPath": "/data/pyarch/lyso1_1_0001.jpeg",
        "jpegThumbnailFileFullPath": "/data/pyarch/lyso1_1_0001.thumb.jpeg",
        "motorPositionId": 12,
    }
    image = Image.from_legacy(legacy)

    image_id = adapter.store_image(image)

    row = ispyb_server.store.get("Image", image_id)
    assert row["dataCollectionId"] == dc_id
    assert row["fileName"] == "lyso1_1_0001.cbf"
    assert row["fileLocation"] == "/data/id-demo/inhouse/mx415/20240501/RAW_DATA/lyso1"
    assert row["imageNumber"] == 1
    assert row["measuredIntensity"] == 3.2e12
    assert row["synchrotronCurrent"] == 199.9
    assert row["machineMessage"] == "Delivery"
    assert row["temperature"] == 100.0
    assert row["jpegFileFullPath"] == "/data/pyarch/lyso1_1_0001.jpeg"
    assert row["jpegThumbnailFileFullPath"] == "/data/pyarch/lyso1_1_0001.thumb.jpeg"
    assert row["cumulativeIntensity"] is None

    again = Image.from_legacy({**legacy, "imageId": image_id, "comments": "ice rings"})
    assert adapter.store_image(again) == image_id
    (row,) = ispyb_server.store.rows("Image")
    assert row["comments"] == "ice rings"


def test_store_image_without_collection_id_is_a_data_error(adapter: IspybAdapter) -> None:
    with pytest.raises(LimsDataError) as caught:
        adapter.store_image(Image.from_legacy({"dataCollectionId": None, "imageNumber": 1}))
    assert caught.value.field == "dataCollectionId"


def test_store_robot_action_as_mount_sample_sends_it(ispyb_server: Any, adapter: IspybAdapter, session_id: int) -> None:
    legacy = {
        "actionType": "LOAD",
        "containerLocation": 7,
        "dewarLocation": "2",
        "sampleBarcode": "LY01",
        "sampleId": 1,
        "sessionId": session_id,
        "startTime": "2024-05-01 10:00:00",
        "endTime": "2024-05-01 10:00:42",
        "status": "SUCCESS",
        "message": None,
    }
    action_id = adapter.store_robot_action(RobotAction.from_legacy(legacy))

    row = ispyb_server.store.get("RobotAction", action_id)
    assert row["actionType"] == "LOAD"
    assert row["containerLocation"] == 7
    assert row["dewarLocation"] == 2
    assert row["sampleBarcode"] == "LY01"
    assert row["blSampleId"] == 1
    assert row["sessionId"] == session_id
    assert row["startTime"] == "2024-05-01T10:00:00"
    assert row["endTime"] == "2024-05-01T10:00:42"
    assert row["status"] == "SUCCESS"
    assert row["message"] is None

    not_from_lims = adapter.store_robot_action(
        RobotAction.from_legacy({**legacy, "sampleId": -1, "status": "ERROR", "message": "no pin"})
    )
    row = ispyb_server.store.get("RobotAction", not_from_lims)
    assert row["blSampleId"] is None
    assert row["message"] == "no pin"


def test_store_robot_action_without_session_is_a_data_error(adapter: IspybAdapter) -> None:
    with pytest.raises(LimsDataError) as caught:
        adapter.store_robot_action(RobotAction.from_legacy({"actionType": "LOAD"}))
    assert caught.value.field == "sessionId"


# --------------------------------------------------------------------------
# beamline setup and detector


def test_store_beamline_setup_links_it_to_the_session_keeping_the_session(
    ispyb_server: Any, adapter: IspybAdapter, session_id: int
) -> None:
    before = ispyb_server.store.get("BLSession", session_id)
    setup = BeamlineSetup.from_legacy(bl_config())

    setup_id = adapter.store_beamline_setup(session_id, setup)

    row = ispyb_server.store.get("BeamLineSetup", setup_id)
    assert row["synchrotronName"] == "ESRF"
    assert row["undulatorType1"] == "U35"
    assert row["undulatorType2"] == "CPM18"
    assert row["undulatorType3"] is None
    assert row["focusingOptic"] == "Compound refractive lenses"
    assert row["monochromatorType"] == "Si(111)"
    assert row["beamDivergenceVertical"] == 6.5
    assert row["beamDivergenceHorizontal"] == 104.0
    assert row["polarisation"] == 0.99
    assert row["minExposureTimePerImage"] == 0.002
    assert row["goniostatMaxOscillationSpeed"] is None
    assert row["setupDate"] is not None
    after = ispyb_server.store.get("BLSession", session_id)
    assert after["beamLineSetupId"] == setup_id
    for column in (
        "proposalId",
        "beamlineName",
        "startDate",
        "endDate",
        "nbShifts",
        "comments",
        "scheduled",
        "beamlineOperator",
    ):
        assert after[column] == before[column], column


def test_store_beamline_setup_for_an_unknown_session_stores_nothing(ispyb_server: Any, adapter: IspybAdapter) -> None:
    with pytest.raises(LimsDataError) as caught:
        adapter.store_beamline_setup(999999, BeamlineSetup.from_legacy(bl_config()))
    assert caught.value.field == "sessionId"
    assert ispyb_server.store.rows("BeamLineSetup") == []


def test_find_detector(ispyb_server: Any, adapter: IspybAdapter) -> None:
    (detector,) = ispyb_server.store.rows("Detector")
    assert adapter.find_detector(BeamlineSetup.from_legacy(bl_config())) == detector["detectorId"]
    assert (
        adapter.find_detector(BeamlineSetup.from_legacy(bl_config(detector_binning_mode="Unbinned")))
        == detector["detectorId"]
    )
    assert adapter.find_detector(BeamlineSetup.from_legacy(bl_config(detector_model="Pilatus3_6M"))) is None
    assert adapter.find_detector(BeamlineSetup.from_legacy(bl_config(detector_model=None))) is None


# --------------------------------------------------------------------------
# energy scans and XRF spectra


def test_store_energy_scan_as_esrf_energy_scan_sends_it(
    ispyb_server: Any, adapter: IspybAdapter, session_id: int, tmp_path: Path
) -> None:
    legacy = {
        "edgeEnergy": 12.658,
        "startEnergy": 12.608,
        "endEnergy": 12.708,
        "remoteEnergy": 13.658,
        "element": "Se",
        "sample_reference": {"blSampleId": 1, "sample_name": "lyso-01", "acronym": "lyso"},
        "fluorescenceDetector": "KETEK_AXAS-A",
        "sessionId": session_id,
        "startTime": "2024-05-01 10:00:00",
        "transmissionFactor": 3.2,
        "exposureTime": 0.5,
        "flux": 2.0e11,
        "endTime": "2024-05-01 10:02:00",
        "scanFileFullPath": tmp_path / "lyso1_Se_K1.raw",
        "filename": "lyso1_Se_K1.raw",
        "peakEnergy": 12.6605,
        "inflectionEnergy": 12.6585,
        "peakFPrime": -5.9,
        "peakFDoublePrime": 5.1,
        "inflectionFPrime": -8.2,
        "inflectionFDoublePrime": 2.4,
        "jpegChoochFileFullPath": str(tmp_path / "lyso1_Se_K1.png"),
        "choochFileFullPath": str(tmp_path / "lyso1_Se_K1.efs"),
        "beamSizeHorizontal": 0.05,
        "beamSizeVertical": 0.02,
    }
    scan = EnergyScan.from_legacy(legacy)

    scan_id = adapter.store_energy_scan(scan)

    row = ispyb_server.store.get("EnergyScan", scan_id)
    assert row["sessionId"] == session_id
    assert row["blSampleId"] == 1
    assert row["element"] == "Se"
    assert row["edgeEnergy"] == "12.658"
    assert row["startEnergy"] == 12.608
    assert row["endEnergy"] == 12.708
    assert row["remoteEnergy"] == 13.658
    assert row["peakEnergy"] == 12.6605
    assert row["inflectionEnergy"] == 12.6585
    assert row["peakFPrime"] == -5.9
    assert row["peakFDoublePrime"] == 5.1
    assert row["inflectionFPrime"] == -8.2
    assert row["inflectionFDoublePrime"] == 2.4
    assert row["transmissionFactor"] == 3.2
    assert row["exposureTime"] == 0.5
    assert row["flux"] == 2.0e11
    assert row["fluorescenceDetector"] == "KETEK_AXAS-A"
    assert row["scanFileFullPath"] == str(tmp_path / "lyso1_Se_K1.raw")
    assert row["filename"] == "lyso1_Se_K1.raw"
    assert row["jpegChoochFileFullPath"] == str(tmp_path / "lyso1_Se_K1.png")
    assert row["choochFileFullPath"] == str(tmp_path / "lyso1_Se_K1.efs")
    assert row["beamSizeHorizontal"] == pytest.approx(0.05)
    assert row["beamSizeVertical"] == pytest.approx(0.02)
    assert row["startTime"] is not None and row["endTime"] is not None
    assert isinstance(scan.scan_file_full_path, Path)

    updated = EnergyScan.from_legacy({**legacy, "energyScanId": scan_id, "comments": "redo"})
    assert adapter.store_energy_scan(updated) == scan_id
    assert ispyb_server.store.get("EnergyScan", scan_id)["comments"] == "redo"


def test_store_energy_scan_without_session_is_a_data_error(adapter: IspybAdapter) -> None:
    with pytest.raises(LimsDataError) as caught:
        adapter.store_energy_scan(EnergyScan.from_legacy({"element": "Se"}))
    assert caught.value.field == "sessionId"


def test_store_xfe_spectrum_as_abstract_xrf_spectrum_sends_it(
    ispyb_server: Any, adapter: IspybAdapter, session_id: int, tmp_path: Path
) -> None:
    legacy = {
        "sessionId": session_id,
        "blSampleId": 1,
        "exposureTime": 3,
        "filename": str(tmp_path / "lyso1_xrf.dat"),
        "scanFileFullPath": str(tmp_path / "lyso1_xrf.dat"),
        "jpegScanFileFullPath": str(tmp_path / "lyso1_xrf.png"),
        "annotatedPymcaXfeSpectrum": str(tmp_path / "lyso1_xrf.html"),
        "fittedDataFileFullPath": str(tmp_path / "lyso1_xrf.csv"),
        "beamTransmission": 12.5,
        "energy": 12.7,
        "flux": 1.5e11,
        "beamSizeHorizontal": 0.05,
        "beamSizeVertical": 0.02,
        "startTime": "2024-05-01 10:00:00",
        "endTime": "2024-05-01 10:00:05",
        "sample_reference": {"sample_name": "lyso-01", "acronym": "lyso"},
    }

    spectrum_id = adapter.store_xfe_spectrum(XfeSpectrum.from_legacy(legacy))

    row = ispyb_server.store.get("XFEFluorescenceSpectrum", spectrum_id)
    assert row["sessionId"] == session_id
    assert row["blSampleId"] == 1
    assert row["exposureTime"] == 3.0
    assert row["filename"] == str(tmp_path / "lyso1_xrf.dat")
    assert row["scanFileFullPath"] == str(tmp_path / "lyso1_xrf.dat")
    assert row["jpegScanFileFullPath"] == str(tmp_path / "lyso1_xrf.png")
    assert row["annotatedPymcaXfeSpectrum"] == str(tmp_path / "lyso1_xrf.html")
    assert row["fittedDataFileFullPath"] == str(tmp_path / "lyso1_xrf.csv")
    assert row["beamTransmission"] == pytest.approx(12.5)
    assert row["energy"] == pytest.approx(12.7)
    assert row["flux"] == 1.5e11
    assert row["beamSizeHorizontal"] == pytest.approx(0.05)
    assert row["beamSizeVertical"] == pytest.approx(0.02)


def test_store_xfe_spectrum_without_session_is_a_data_error(adapter: IspybAdapter) -> None:
    with pytest.raises(LimsDataError) as caught:
        adapter.store_xfe_spectrum(XfeSpectrum.from_legacy({"energy": 12.7}))
    assert caught.value.field == "sessionId"


# --------------------------------------------------------------------------
# samples


def test_find_samples_gives_typed_sample_models(ispyb_server: Any, adapter: IspybAdapter) -> None:
    proposal = adapter.find_proposal("MX", "415")
    samples = adapter.find_samples(proposal["proposalId"], BEAMLINE)

    assert all(isinstance(sample, Sample) for sample in samples)
    assert [s.sample_name for s in samples] == [
        r["name"]
        for r in ispyb_server.store.query(
            'SELECT b.name FROM "BLSample" b JOIN "Container" c ON c.containerId = b.containerId '
            "WHERE c.code LIKE 'DEMO-PUCK-%' ORDER BY c.containerId, b.blSampleId"
        )
    ]
    first = samples[0]
    row = ispyb_server.store.rows("BLSample", name="lyso-01")[0]
    assert first.sample_id == row["blSampleId"]
    assert first.sample_name == "lyso-01"
    assert first.code == "LY01"
    assert first.protein_acronym == "lyso"
    assert first.crystal_space_group == "P43212"
    assert first.cell_a == 79.1 and first.cell_c == 38.0 and first.cell_gamma == 90.0
    assert first.container_code == "DEMO-PUCK-01"
    assert first.sample_location == 1
    assert first.container_sample_changer_location == 1
    assert first.experiment_type == "OSC"
    assert first.minimal_resolution == 1.8
    assert first.diffraction_plan.required_resolution == 1.5
    legacy = first.to_legacy()
    assert legacy["sampleId"] == row["blSampleId"]  # ids as numbers
    assert legacy["sampleLocation"] == "1"  # locations as ISPyB's strings, for mxcubeweb
    assert legacy["containerSampleChangerLocation"] == "1"
    assert legacy["cellA"] == 79.1
    assert "None" not in legacy.values() and None not in legacy.values()

    lyso4 = next(s for s in samples if s.sample_name == "lyso-04")
    assert lyso4.experiment_type == "SAD"
    assert lyso4.diffraction_plan.anomalous_scatterer == "S"
    no_plan = next(s for s in samples if s.sample_name == "thau-01")
    assert not no_plan.to_legacy().get("diffractionPlan")
    assert adapter.find_samples(999, BEAMLINE) == []


def test_update_bl_sample_from_a_get_samples_dict_keeps_the_rest(ispyb_server: Any, adapter: IspybAdapter) -> None:
    proposal = adapter.find_proposal("MX", "415")
    sample = adapter.find_samples(proposal["proposalId"], BEAMLINE)[0]
    before = ispyb_server.store.get("BLSample", sample.sample_id)
    legacy = {**sample.to_legacy(), "lastKnownCentringPosition": "phi=10.000000 phiy=0.100000"}

    result = adapter.update_bl_sample(SampleUpdate.from_legacy(legacy))

    assert result == sample.sample_id
    after = ispyb_server.store.get("BLSample", sample.sample_id)
    assert after["lastKnownCenteringPosition"] == "phi=10.000000 phiy=0.100000"
    for column in ("name", "code", "location", "containerId", "crystalId", "diffractionPlanId", "blSampleStatus"):
        assert after[column] == before[column], column
    assert len(adapter.find_samples(proposal["proposalId"], BEAMLINE)) == 10


def test_update_bl_sample_unknown_or_without_id_is_a_data_error(adapter: IspybAdapter) -> None:
    with pytest.raises(LimsDataError) as caught:
        adapter.update_bl_sample(SampleUpdate.from_legacy({"sampleName": "x"}))
    assert caught.value.field == "blSampleId"
    with pytest.raises(LimsDataError):
        adapter.update_bl_sample(SampleUpdate.from_legacy({"sampleId": 99999, "crystalId": 1}))


# --------------------------------------------------------------------------
# transport errors come through typed


def test_a_stopped_server_is_unavailable_for_stores(ispyb_server: Any, adapter: IspybAdapter, session_id: int) -> None:
    assert adapter.echo()
    ispyb_server.stop()
    try:
        with pytest.raises(IspybUnavailableError):
            adapter.store_data_collection_group(
                DataCollectionGroup.from_legacy({"sessionId": session_id, "experimentType": "OSC"})
            )
        assert adapter.echo() is False
    finally:
        ispyb_server.start()


def test_value_objects_carry_xsd_types_not_text() -> None:
    from mxcubecore_lims.ispyb import value_objects as vo

    legacy = {**collect_dict(7, "12"), **update_keys(), "collection_id": "34"}
    values = vo.data_collection_values(DataCollection.from_legacy(legacy))
    assert values["dataCollectionGroupId"] == 12 and values["dataCollectionId"] == 34
    assert type(values["numberOfImages"]) is int
    assert type(values["wavelength"]) is float
    assert type(values["startTime"]) is datetime
    assert None not in values.values()
    action = vo.robot_action_values(
        RobotAction.from_legacy({"sessionId": "7", "dewarLocation": "2", "startTime": "2024-05-01 10:00:00"})
    )
    assert action == {"sessionId": 7, "dewarLocation": 2, "startTime": datetime(2024, 5, 1, 10, 0)}
