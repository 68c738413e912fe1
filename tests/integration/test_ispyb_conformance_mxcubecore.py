"""Conformance: stock mxcubecore's suds-based ISPyB client against the emulator.

``mxcubecore.HardwareObjects.ProposalTypeISPyBLims.ProposalTypeISPyBLims`` is
used UNCHANGED, loaded through ``mxcubecore_lims.config.loader.load_beamline``
from a temporary configuration directory (``beamline.yaml``, the demo
``session.xml`` and a ``lims.xml`` for the stock class). Its ``init()``
downloads the three WSDLs with suds and builds the clients exactly as on a
beamline (basic auth, POST on the ``?wsdl`` URL).

Documented defects of the stock client (``ispyb_soap.md`` §5) and how the
tests go around them, without changing mxcubecore:

* L5: with ``authServerType="ispyb"`` the password check, ``ispyb_login``,
  raises ``NotImplementedError``; ``login()`` is asserted to do so, and the
  tests then run the rest of the login, ``get_session_manager_by_proposal_name``
  (what ``login()`` calls after authenticating), directly. A full ``login()``
  is proven with ``authServerType="ldap"`` against a real slapd
  (``test_full_login_through_ldap``);
* L9: ``is_connected()`` stays ``False`` after a proposal-type login, so
  ``AbstractCollect`` would never store anything; the tests call the adapter
  methods the collect routines call (``_store_data_collection_group``,
  ``store_data_collection``, ``store_image``, ``store_robot_action``) directly;
* L6: ``ISPyBAbstractLIMS.store_image`` drops the image id, so the image is
  stored through ``lims.adapter.store_image``, which returns it.
"""

from __future__ import annotations

import shutil
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from mxcubecore import HardwareRepository as HWR

from mxcubecore_lims.config.loader import load_beamline
from mxcubecore_lims.errors import LdapInvalidCredentialsError
from mxcubecore_lims.testing.ispyb import EmulatedIspyb

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

DEMO_DIR = Path(__file__).resolve().parents[2] / "configuration" / "demo"
STOCK_CLASS = "mxcubecore.HardwareObjects.ProposalTypeISPyBLims.ProposalTypeISPyBLims"


def write_config(directory: Path, server: EmulatedIspyb) -> Path:
    """A beamline with only a session and the stock ISPyB LIMS object."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO_DIR / "session.xml", directory / "session.xml")
    (directory / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n  session: session.xml\n  lims: lims.xml\n",
        encoding="utf-8",
    )
    (directory / "lims.xml").write_text(
        textwrap.dedent(
            f"""\
            <object class="{STOCK_CLASS.rsplit(".", 1)[0]}">
              <ws_root>{server.root}</ws_root>
              <ws_username>{server.username}</ws_username>
              <ws_password>{server.password}</ws_password>
              <authServerType>ispyb</authServerType>
              <base_result_url>http://127.0.0.1/ispyb/results</base_result_url>
            </object>
            """
        ),
        encoding="utf-8",
    )
    return directory


@pytest.fixture
def lims(ispyb_server: EmulatedIspyb, tmp_path: Path):
    graph = load_beamline(write_config(tmp_path / "config", ispyb_server))
    lims = HWR.beamline.lims
    assert type(lims).__module__ + "." + type(lims).__name__ == STOCK_CLASS
    yield lims
    graph.close()


def test_init_downloads_all_three_wsdls(lims, ispyb_server: EmulatedIspyb) -> None:
    assert lims.beamline_name == "ID-DEMO"
    assert lims.ws_root == ispyb_server.root
    for client in (lims.adapter._shipping, lims.adapter._collection, lims.adapter._tools_ws):
        assert client.options.location.startswith(ispyb_server.root)
        assert client.options.location.endswith("?wsdl")
    # the factory names mxcubecore relies on resolve in the emulator's WSDL
    for name in ("ns0:dataCollectionWS3VO", "ns0:dataCollectionGroupWS3VO", "ns0:beamLineSetup3VO"):
        assert lims.adapter._collection.factory.create(name) is not None
    assert ispyb_server.calls == []  # init only reads WSDLs


def test_proposal_login_existing_session_samples_and_storing(lims, ispyb_server: EmulatedIspyb) -> None:
    """mx415 (a session today): login, samples, then a DCG, a DC, an image, a robot action."""
    sessions_before = ispyb_server.store.rows("BLSession")
    with pytest.raises(NotImplementedError):  # reference §5 L5
        lims.login("mx415", "mx415-password", False)

    manager = lims.get_session_manager_by_proposal_name("mx415", False)
    session = manager.active_session
    expected = ispyb_server.store.rows("BLSession", proposalId=1, beamlineName="ID-DEMO")
    current = next(r for r in expected if r["comments"] == "Scheduled session")
    assert len(manager.sessions) == 1
    assert session.session_id == str(current["sessionId"])
    assert session.proposal_id == "1"
    assert session.proposal_name == "mx415"
    assert (session.code, session.number) == ("mx", "415")
    assert session.beamline_name == "ID-DEMO"
    assert session.nb_shifts == "6"
    assert session.is_scheduled_time
    assert session.start_date == datetime.now().strftime("%Y%m%d")
    assert lims.is_connected() is False  # reference §5 L9
    assert ispyb_server.store.rows("BLSession") == sessions_before  # nothing created

    # samples: the stock client stringifies every value (reference §4.3)
    samples = lims.get_samples("ISPyB")
    assert len(samples) == 10
    first = samples[0]
    assert first["sampleName"] == "lyso-01"
    (lyso_01,) = ispyb_server.store.rows("BLSample", name="lyso-01")
    assert first["sampleId"] == str(lyso_01["blSampleId"])
    assert first["containerSampleChangerLocation"] == "1"
    assert first["sampleLocation"] == "1"
    assert first["containerCode"] == "DEMO-PUCK-01"
    assert first["proteinAcronym"] == "lyso"
    assert first["crystalSpaceGroup"] == "P43212"
    assert first["cellA"] == "79.1"
    assert first["diffractionPlan"]["experimentKind"] == "OSC"
    sad = next(s for s in samples if s["sampleName"] == "lyso-04")
    assert sad["experimentType"] == "SAD" and sad["diffractionPlan"]["anomalousScatterer"] == "S"
    assert "code" not in sad  # absent element stays absent

    session_id = int(session.session_id)
    sample_id = int(first["sampleId"])

    # data collection group: a plain dict, as queue_entry/base_queue_entry.py sends it
    group_id = lims._store_data_collection_group(
        {
            "sessionId": session_id,
            "experimentType": "OSC",
            "actualContainerSlotInSC": 1,
            "actualSampleSlotInContainer": 1,
        }
    )
    assert isinstance(group_id, int) and group_id > 0
    (group,) = ispyb_server.store.rows("DataCollectionGroup")
    assert group["dataCollectionGroupId"] == group_id
    assert group["sessionId"] == session_id
    assert group["experimentType"] == "OSC"
    assert group["actualContainerSlotInSC"] == 1
    assert group["actualSampleSlotInContainer"] == 1
    assert group["comments"] is None
    assert group["startTime"] is not None and group["startTime"] == group["endTime"]

    # data collection, built by ISPyBValueFactory.from_data_collect_parameters
    mx_collection = {
        "sessionId": session_id,
        "group_id": group_id,
        "status": "Running",
        "oscillation_sequence": [
            {
                "start": 10.0,
                "range": 0.1,
                "offset": 0.0,
                "number_of_images": 100,
                "start_image_number": 1,
                "number_of_passes": 1,
                "exposure_time": 0.04,
                "kappaStart": 0,
                "phiStart": 0,
            }
        ],
        "fileinfo": {
            "directory": "/tmp/mxcubecore-lims-demo/data/mx415/RAW_DATA",
            "prefix": "lyso-01",
            "suffix": "cbf",
            "template": "lyso-01_1_%04d.cbf",
            "run_number": 1,
        },
        "wavelength": 0.9793,
        "resolution": 1.8,
        "detectorDistance": 250.5,
        "xBeam": 155.1,
        "yBeam": 163.9,
        "transmission": 50.0,
        "synchrotronMode": "7/8+1",
        "flux": 1.5e12,
        "collection_start_time": datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
    }
    collection_id, detector_id = lims.store_data_collection(mx_collection)
    assert isinstance(collection_id, int) and collection_id > 0 and detector_id == 0
    (dc,) = ispyb_server.store.rows("DataCollection")
    assert dc["dataCollectionId"] == collection_id
    assert dc["dataCollectionGroupId"] == group_id
    assert dc["runStatus"] == "Running"
    assert dc["axisStart"] == 10.0
    assert dc["axisRange"] == 0.1
    assert dc["axisEnd"] == pytest.approx(20.0)
    assert dc["overlap"] == 0.0
    assert dc["numberOfImages"] == 100
    assert dc["startImageNumber"] == 1
    assert dc["numberOfPasses"] == 1
    assert dc["exposureTime"] == 0.04
    assert dc["rotationAxis"] == "Phi"  # kappaStart 0
    assert dc["imageDirectory"] == "/tmp/mxcubecore-lims-demo/data/mx415/RAW_DATA"
    assert dc["imagePrefix"] == "lyso-01"
    assert dc["imageSuffix"] == "cbf"
    assert dc["fileTemplate"] == "lyso-01_1_%04d.cbf"
    assert dc["dataCollectionNumber"] == 1
    assert dc["wavelength"] == 0.9793
    assert dc["resolution"] == 1.8
    assert dc["detectorDistance"] == 250.5
    assert (dc["xbeam"], dc["ybeam"]) == (155.1, 163.9)
    assert dc["transmission"] == 50.0
    assert dc["synchrotronMode"] == "7/8+1"
    assert dc["flux"] == 1.5e12
    assert dc["detector2theta"] == 0.0
    assert dc["printableForReport"] == 1
    assert dc["startTime"] is not None

    # update (as finalize_data_collection does): group and DC keep their ids
    mx_collection.update(
        collection_id=collection_id,
        status="Data collection successful",
        ispyb_group_data_collections=True,
        experiment_type="OSC",
        sample_reference={"blSampleId": sample_id},
        comments="done",
    )
    assert lims.finalize_data_collection(mx_collection) == (0, 0)
    assert len(ispyb_server.store.rows("DataCollection")) == 1
    assert ispyb_server.store.get("DataCollection", collection_id)["runStatus"] == ("Data collection successful")
    groups = ispyb_server.store.rows("DataCollectionGroup")
    assert [g["dataCollectionGroupId"] for g in groups] == [group_id]
    assert groups[0]["blSampleId"] == sample_id
    assert groups[0]["comments"] == " done"

    # image: a plain dict, as AbstractCollect.store_image_in_lims sends it
    image_id = lims.adapter.store_image(
        {
            "dataCollectionId": collection_id,
            "fileName": "lyso-01_1_0001.cbf",
            "fileLocation": "/tmp/mxcubecore-lims-demo/data/mx415/RAW_DATA",
            "imageNumber": 1,
            "measuredIntensity": 1.5e12,
            "synchrotronCurrent": 200.0,
            "machineMessage": "",
            "temperature": 100.0,
        }
    )
    (image,) = ispyb_server.store.rows("Image")
    assert image["imageId"] == image_id
    assert image["dataCollectionId"] == collection_id
    assert image["fileName"] == "lyso-01_1_0001.cbf"
    assert image["fileLocation"] == "/tmp/mxcubecore-lims-demo/data/mx415/RAW_DATA"
    assert image["imageNumber"] == 1
    assert image["measuredIntensity"] == 1.5e12
    assert image["synchrotronCurrent"] == 200.0
    assert image["machineMessage"] is None  # suds sends "" as an empty element
    assert image["temperature"] == 100.0

    # robot action, as queue_entry/base_queue_entry.py mount_sample builds it
    start = datetime.now().replace(microsecond=0)
    action_id = lims.store_robot_action(
        {
            "actionType": "LOAD",
            "containerLocation": 1,
            "dewarLocation": 1,
            "message": "mounted",
            "sampleBarcode": "LY01",
            "sessionId": session_id,
            "sampleId": sample_id,
            "startTime": start.strftime("%Y-%m-%d %H:%M:%S"),
            "endTime": (start + timedelta(seconds=30)).strftime("%Y-%m-%d %H:%M:%S"),
            "status": "SUCCESS",
        }
    )
    (action,) = ispyb_server.store.rows("RobotAction")
    assert action["robotActionId"] == action_id
    assert action["actionType"] == "LOAD"
    assert action["containerLocation"] == 1
    assert action["dewarLocation"] == 1
    assert action["message"] == "mounted"
    assert action["sampleBarcode"] == "LY01"
    assert action["sessionId"] == session_id
    assert action["blSampleId"] == sample_id
    assert action["startTime"] == start.isoformat()
    assert action["endTime"] == (start + timedelta(seconds=30)).isoformat()
    assert action["status"] == "SUCCESS"

    operations = [op for _, op, _ in ispyb_server.calls]
    assert operations[:2] == ["findSessionsByProposalAndBeamLine", "findSampleInfoLightForProposal"]
    assert all(user == "mxcube" for _, _, user in ispyb_server.calls)


def test_local_login_without_session_creates_one(lims, ispyb_server: EmulatedIspyb) -> None:
    """opid30 has no session today: on a local host the stock client creates one."""
    before = ispyb_server.store.rows("BLSession", proposalId=2)
    manager = lims.get_session_manager_by_proposal_name("opid30", True)
    after = ispyb_server.store.rows("BLSession", proposalId=2)
    assert len(after) == len(before) + 1
    created = after[-1]
    today = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    assert created["beamlineName"] == "ID-DEMO"
    assert created["comments"] == "Session created by the BCM"
    assert created["scheduled"] == 0
    assert created["nbShifts"] == 3
    assert created["startDate"] == today.isoformat()
    end = (today + timedelta(days=2)).replace(hour=7, minute=59, second=59)
    assert created["endDate"] == end.isoformat()
    assert created["lastUpdate"] == end.isoformat()
    assert created["timeStamp"] is not None

    assert [s.session_id for s in manager.sessions] == [str(created["sessionId"])]
    assert manager.active_session.session_id == str(created["sessionId"])
    assert manager.active_session.proposal_name == "opid30"
    operations = [op for _, op, _ in ispyb_server.calls]
    assert operations == [
        "findSessionsByProposalAndBeamLine",
        "findProposal",
        "storeOrUpdateSession",
        "findSession",
        "findSessionsByProposalAndBeamLine",
    ]


def test_remote_login_without_session_creates_nothing(lims, ispyb_server: EmulatedIspyb) -> None:
    before = ispyb_server.store.rows("BLSession")
    with pytest.raises(Exception, match="No sessions available"):
        lims.get_session_manager_by_proposal_name("opid30", False)
    assert ispyb_server.store.rows("BLSession") == before


def test_wrong_ws_password_looks_like_no_session(tmp_path: Path, ispyb_server_factory) -> None:
    """Reference §5 A10: the stock client turns a 401 into an empty session list."""
    server = ispyb_server_factory(password="other-password")
    config = write_config(tmp_path / "config", server)
    lims_xml = config / "lims.xml"
    lims_xml.write_text(lims_xml.read_text().replace("other-password", "wrong"))
    graph = load_beamline(config)
    try:
        manager = HWR.beamline.lims.adapter.get_sessions_by_code_and_number("mx", "415", "ID-DEMO")
        assert manager.sessions == []
        assert server.calls == []  # refused before any operation ran
    finally:
        graph.close()


def test_full_login_through_ldap(tmp_path: Path, ispyb_server: EmulatedIspyb, slapd_factory) -> None:
    """A real ``login()``: authServerType ``ldap`` with an ``ldapServer`` role object.

    The password is checked by a real slapd (through mxcubecore-lims'
    ``LdapAuthenticator``, which keeps mxcubecore's ``authenticate`` contract);
    the sessions then come from the emulator, all in the stock ``login()``.
    """
    from mxcubecore_lims.testing.ldap_seed import Seed, SeedUser

    seed = Seed(
        users=(
            SeedUser(
                uid="mx415",
                cn="Proposal mx415",
                sn="mx415",
                password="mx415-ldap-secret",
                mail="mx415@example.org",
                home_directory="/home/mx415",
                uid_number=20415,
            ),
        )
    )
    ldap = slapd_factory(seed=seed)
    config = write_config(tmp_path / "config", ispyb_server)
    lims_xml = config / "lims.xml"
    lims_xml.write_text(
        lims_xml.read_text()
        .replace("<authServerType>ispyb</authServerType>", "<authServerType>ldap</authServerType>")
        .replace("</object>", '  <object href="/ldapconnection" role="ldapServer"/>\n</object>')
    )
    (config / "ldapconnection.yaml").write_text(
        "class: mxcubecore_lims.HardwareObjects.LdapAuthenticator.LdapAuthenticator\n"
        "configuration:\n"
        f"  uris: {ldap.uri}\n"
        f"  base_dn: ou=people,{ldap.base_dn}\n",
        encoding="utf-8",
    )
    graph = load_beamline(config)
    try:
        lims = HWR.beamline.lims
        assert lims.ldapConnection is not None
        with pytest.raises(LdapInvalidCredentialsError):  # ours, passed through by stock
            lims.login("mx415", "wrong-password", False)
        assert ispyb_server.calls == []  # refused before ISPyB was asked
        manager = lims.login("mx415", "mx415-ldap-secret", False)
        assert manager.active_session.proposal_name == "mx415"
        assert manager.active_session.beamline_name == "ID-DEMO"
        assert lims.get_user_name().startswith("mx415-")
        assert [op for _, op, _ in ispyb_server.calls] == ["findSessionsByProposalAndBeamLine"]
    finally:
        graph.close()


def test_store_data_collection_with_beamline_setup(lims, ispyb_server: EmulatedIspyb) -> None:
    """The ``bl_config`` path, in the order the stock client calls it.

    findSession, storeOrUpdateBeamLineSetup, the session update (the stock
    client re-sends the whole stringified session) and findDetectorByParam,
    then the data collection with the detector id.
    """
    from types import SimpleNamespace

    manager = lims.get_session_manager_by_proposal_name("mx415", False)
    session_id = int(manager.active_session.session_id)
    before = ispyb_server.store.get("BLSession", session_id)
    group_id = lims._store_data_collection_group({"sessionId": session_id, "experimentType": "OSC"})
    bl_config = SimpleNamespace(
        synchrotron_name="DEMO",
        undulators=[SimpleNamespace(type="U21"), SimpleNamespace(type="U35")],
        monochromator_type="Si(111)",
        focusing_optic="KB mirrors",
        beam_divergence_vertical=6.5,
        beam_divergence_horizontal=104.0,
        polarisation=0.99,
        minimum_exposure_time=0.001,
        maximum_phi_speed=360.0,
        minimum_phi_oscillation=0.01,
        detector_manufacturer="Dectris",
        detector_type="Hybrid pixel",
        detector_model="EIGER2 X 9M",
        detector_binning_mode="Unbinned",
    )
    mx_collection = {
        "sessionId": session_id,
        "group_id": group_id,
        "status": "Running",
        "synchrotronMode": "16 bunch",
        "oscillation_sequence": [
            {
                "start": 0.0,
                "range": 1.0,
                "offset": 0.0,
                "number_of_images": 3,
                "start_image_number": 1,
                "number_of_passes": 1,
                "exposure_time": 0.1,
                "kappaStart": 10.0,
                "phiStart": 5.0,
            }
        ],
        "fileinfo": {"directory": "/tmp/thau", "prefix": "thau-01", "run_number": 2},
    }
    collection_id, detector_id = lims.store_data_collection(mx_collection, bl_config)
    (detector,) = ispyb_server.store.rows("Detector")
    assert detector_id == detector["detectorId"]

    (setup,) = ispyb_server.store.rows("BeamLineSetup")
    assert setup["synchrotronName"] == "DEMO"
    assert (setup["undulatorType1"], setup["undulatorType2"]) == ("U21", "U35")
    assert setup["undulatorType3"] is None
    assert setup["monochromatorType"] == "Si(111)"
    assert setup["focusingOptic"] == "KB mirrors"
    assert setup["beamDivergenceVertical"] == 6.5
    assert setup["beamDivergenceHorizontal"] == 104.0
    assert setup["polarisation"] == 0.99
    assert setup["minExposureTimePerImage"] == 0.001
    assert setup["goniostatMaxOscillationSpeed"] == 360.0
    assert setup["goniostatMinOscillationWidth"] == 0.01
    assert setup["synchrotronMode"] == "16 bunch"
    assert setup["setupDate"] is not None

    after = ispyb_server.store.get("BLSession", session_id)
    assert after["beamLineSetupId"] == setup["beamLineSetupId"]
    for key in ("proposalId", "beamlineName", "startDate", "endDate", "nbShifts", "comments"):
        assert after[key] == before[key], key

    dc = ispyb_server.store.get("DataCollection", collection_id)
    assert dc["detectorId"] == detector["detectorId"]
    assert dc["rotationAxis"] == "Omega"  # kappaStart neither 0 nor -9999
    assert dc["omegaStart"] == 0.0
    assert (dc["kappaStart"], dc["phiStart"]) == (10.0, 5.0)
    assert dc["axisEnd"] == 3.0
    assert dc["imagePrefix"] == "thau-01" and dc["dataCollectionNumber"] == 2
    operations = [op for _, op, _ in ispyb_server.calls][2:]
    assert operations == [
        "findSession",
        "storeOrUpdateBeamLineSetup",
        "storeOrUpdateSession",
        "findDetectorByParam",
        "storeOrUpdateDataCollection",
    ]
