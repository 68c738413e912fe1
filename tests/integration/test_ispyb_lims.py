"""UserTypeISPyBLims and ProposalTypeISPyBLims against the emulated ISPyB (and a real slapd).

The calls follow mxcubeweb's sequences (reference/mxcube_clients.md §1):
login, login_info reads, session selection, sample sync with the in-place
rename, observers, logout; and a collection as AbstractCollect and the queue
entries store it. Stored rows are read back from the emulator's database.
"""

from __future__ import annotations

import collections
import shutil
from pathlib import Path
from typing import Any

import pytest
from mxcubecore import HardwareRepository as HWR

from mxcubecore_lims.config.loader import load_beamline
from mxcubecore_lims.errors import (
    IspybFaultError,
    LimsAuthenticationError,
    LimsDataError,
    LimsNoSessionError,
    LimsUnavailableError,
)
from mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims import ProposalTypeISPyBLims
from mxcubecore_lims.HardwareObjects.UserTypeISPyBLims import UserTypeISPyBLims

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

DEMO = Path(__file__).resolve().parents[2] / "configuration" / "demo"


def make_lims(tmp_path: Path, ispyb: Any, kind: str = "proposal", ldap: Any = None, **keys: str) -> Any:
    """Loads a beamline with one ISPyB LIMS object (our loader) and returns it."""
    shutil.copy(DEMO / "session.xml", tmp_path / "session.xml")
    auth = "ldap" if ldap is not None else "ispyb"
    properties = {
        "ws_root": ispyb.root,
        "ws_username": "mxcube",
        "ws_password": "ispyb-password",
        "authServerType": auth,
        "read_timeout": "5",
        "connect_timeout": "2",
        **keys,
    }
    body = "".join(f"<{key}>{value}</{key}>" for key, value in properties.items())
    roles = '<object href="/session" role="session"/>'
    if ldap is not None:
        roles += '<object href="/ldapconnection" role="ldapServer"/>'
        (tmp_path / "ldapconnection.yaml").write_text(
            "class: mxcubecore_lims.HardwareObjects.LdapAuthenticator.LdapAuthenticator\n"
            f"configuration:\n  uris: {ldap.uri}\n  base_dn: ou=people,{ldap.base_dn}\n",
            encoding="utf-8",
        )
    cls = "ProposalTypeISPyBLims" if kind == "proposal" else "UserTypeISPyBLims"
    (tmp_path / "lims.xml").write_text(
        f'<object class="mxcubecore_lims.HardwareObjects.{cls}">{roles}{body}</object>', encoding="utf-8"
    )
    (tmp_path / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n  session: session.xml\n  lims: lims.xml\n",
        encoding="utf-8",
    )
    load_beamline(tmp_path, strict=True)
    return HWR.beamline.lims


# ------------------------------------------------------------ proposal login


def test_proposal_login_and_mxcubeweb_session_selection(tmp_path: Path, ispyb_server: Any) -> None:
    lims = make_lims(tmp_path, ispyb_server)
    assert isinstance(lims, ProposalTypeISPyBLims) and not lims.is_user_login_type()
    manager = lims.login("mx415", "mx415-password", False)
    assert manager is lims.session_manager
    assert [s.beamline_name for s in manager.sessions] == ["ID-DEMO"]
    session = manager.sessions[0]
    assert (session.code, session.number) == ("MX", "415")
    assert session.is_scheduled_beamline and session.is_scheduled_time
    user = lims.get_user_name()
    assert user.startswith("mx415-") and lims.get_full_user_name() == "mx415"
    assert [entry.name for entry in lims.get_lims_name()] == ["ISPyB"]
    # mxcubeweb passes the proposal name for proposal logins.
    active = lims.set_active_session_by_id("mx415")
    assert active.session_id == session.session_id == lims.get_session_id()
    assert lims.is_connected() and lims.echo()


def test_one_proposal_may_log_in_many_times(tmp_path: Path, ispyb_server: Any) -> None:
    lims = make_lims(tmp_path, ispyb_server)
    lims.login("mx415", "mx415-password", True)
    first = lims.get_user_name()
    lims.login("MX415", "mx415-password", False)
    second = lims.get_user_name()
    assert first != second and len(lims.session_manager.users) == 2
    assert len(lims.session_manager.sessions) == 1
    assert lims.remove_user(second) and list(lims.session_manager.users) == [first]


def test_wrong_password_registers_nobody(tmp_path: Path, ispyb_server: Any) -> None:
    lims = make_lims(tmp_path, ispyb_server)
    with pytest.raises(LimsAuthenticationError):
        lims.login("mx415", "wrong", False)
    with pytest.raises(LimsAuthenticationError):
        lims.login("not a proposal", "x", False)
    assert lims.session_manager.users == {}


def test_a_session_is_created_only_for_a_local_login(tmp_path: Path, ispyb_server: Any) -> None:
    lims = make_lims(tmp_path, ispyb_server)
    before = len(ispyb_server.store.rows("BLSession"))
    with pytest.raises(LimsNoSessionError, match="local host"):
        lims.login("opid30", "opid30-password", False)
    assert len(ispyb_server.store.rows("BLSession")) == before
    lims.login("opid30", "opid30-password", True)
    created = ispyb_server.store.rows("BLSession")[before:]
    assert len(created) == 1
    assert created[0]["beamlineName"] == "ID-DEMO"
    assert created[0]["startDate"].endswith("T00:00:00") and created[0]["endDate"].endswith("07:59:59")
    # nbShifts left to ISPyB, which computes it from the dates (2 days and 8 hours)
    assert created[0]["nbShifts"] == 6
    assert [s.session_id for s in lims.session_manager.sessions] == [str(created[0]["sessionId"])]


def test_ispyb_down_is_a_typed_refusal_and_echo_is_false(tmp_path: Path, ispyb_server: Any) -> None:
    lims = make_lims(tmp_path, ispyb_server)
    ispyb_server.stop()
    assert not lims.echo()
    with pytest.raises(LimsUnavailableError):
        lims.login("mx415", "mx415-password", False)


def test_sample_sync_as_mxcubeweb_does_it(tmp_path: Path, ispyb_server: Any) -> None:
    lims = make_lims(tmp_path, ispyb_server)
    lims.login("mx415", "mx415-password", False)
    lims.set_active_session_by_id("mx415")
    samples = lims.get_samples("ISPyB")
    assert len(samples) == 10
    names = {s["sampleName"] for s in samples}
    assert {"lyso-01", "thau-05"} <= names
    for sample in samples:
        assert isinstance(sample["sampleId"], int)
        assert int(sample["containerSampleChangerLocation"]) in (1, 2)
        assert int(sample["sampleLocation"]) >= 1
    # mxcubeweb's synch_with_lims renames the key in place.
    first = samples[0]
    first["limsID"] = first.pop("sampleId")
    assert lims.find_sample_by_sample_id(first["limsID"]) is first


# ---------------------------------------------------------------- storing


BeamlineConfig = collections.namedtuple(
    "BeamlineConfig",
    "synchrotron_name directory_prefix default_exposure_time minimum_exposure_time detector_fileext "
    "detector_type detector_manufacturer detector_model detector_px detector_py undulators "
    "focusing_optic monochromator_type beam_divergence_vertical beam_divergence_horizontal "
    "polarisation input_files_server",
)


def collection_dict(session_id: str, group_id: Any = None) -> dict[str, Any]:
    return {
        "sessionId": session_id,
        "group_id": group_id,
        "experiment_type": "OSC",
        "status": "Running",
        "collection_start_time": "2026-11-23 10:00:00",
        "fileinfo": {
            "directory": "/data/mx415/lyso",
            "prefix": "lyso",
            "run_number": 1,
            "template": "lyso_1_%05d.cbf",
            "suffix": "cbf",
        },
        "oscillation_sequence": [
            {
                "start": 0.0,
                "range": 0.1,
                "number_of_images": 3,
                "exposure_time": 0.04,
                "overlap": 0,
                "start_image_number": 1,
            }
        ],
        "resolution": {"upper": 1.8},
        "sample_reference": {"blSampleId": 1},
        "synchrotronMode": "7/8+1",
        "unknown_site_key": "kept",
    }


def test_a_collection_as_the_collect_routines_store_it(tmp_path: Path, ispyb_server: Any) -> None:
    lims = make_lims(tmp_path, ispyb_server)
    lims.login("mx415", "mx415-password", False)
    session = lims.set_active_session_by_id("mx415")
    group_id = lims._store_data_collection_group({"sessionId": session.session_id, "experimentType": "OSC"})
    assert isinstance(group_id, int) and group_id > 0
    setup = BeamlineConfig(
        "DEMO",
        "/data",
        0.04,
        0.01,
        "cbf",
        "Pilatus",
        "DECTRIS",
        "PILATUS3 6M",
        0.172,
        0.172,
        [],
        "Toroidal",
        "Si111",
        0.0,
        0.0,
        0.99,
        "",
    )
    dc = collection_dict(session.session_id, group_id)
    collection_id, _detector_id = lims.store_data_collection(dc, setup)
    assert isinstance(collection_id, int) and collection_id > 0
    dc.update(
        collection_id=collection_id,
        flux=1.2e12,
        transmission=50.0,
        wavelength=0.9762,
        xBeam=161.2,
        yBeam=165.4,
        detectorDistance=250.0,
    )
    lims.update_data_collection(dc)
    image_id = lims.store_image(
        {
            "dataCollectionId": collection_id,
            "fileName": "lyso_1_00001.cbf",
            "fileLocation": "/data/mx415/lyso",
            "imageNumber": 1,
            "measuredIntensity": 12.5,
            "synchrotronCurrent": 200.1,
            "machineMessage": "ok",
            "temperature": 100.0,
        }
    )
    assert isinstance(image_id, int) and image_id > 0
    action_id = lims.store_robot_action(
        {
            "actionType": "LOAD",
            "containerLocation": 1,
            "dewarLocation": 1,
            "sampleBarcode": "",
            "sampleId": 1,
            "sessionId": session.session_id,
            "startTime": "2026-11-23 09:58:00",
            "endTime": "2026-11-23 09:59:00",
            "status": "SUCCESS",
        }
    )
    assert isinstance(action_id, int) and action_id > 0
    dc.update(status="Data collection successful", flux_end=1.1e12)
    lims.finalize_data_collection(dc)

    [row] = ispyb_server.store.rows("DataCollection")
    assert row["dataCollectionId"] == collection_id
    assert row["dataCollectionGroupId"] == group_id
    assert row["imageDirectory"] == "/data/mx415/lyso" and row["imagePrefix"] == "lyso"
    assert row["numberOfImages"] == 3 and row["exposureTime"] == pytest.approx(0.04)
    assert row["axisStart"] == 0.0 and row["axisRange"] == pytest.approx(0.1)
    assert row["wavelength"] == pytest.approx(0.9762) and row["transmission"] == pytest.approx(50.0)
    assert row["runStatus"] == "Data collection successful"
    [image] = ispyb_server.store.rows("Image")
    assert (image["dataCollectionId"], image["fileName"], image["imageNumber"]) == (
        collection_id,
        "lyso_1_00001.cbf",
        1,
    )
    [action] = ispyb_server.store.rows("RobotAction")
    assert (action["actionType"], action["status"], action["blSampleId"]) == ("LOAD", "SUCCESS", 1)
    assert len(ispyb_server.store.rows("BeamLineSetup")) == 1


def test_a_group_is_made_when_the_collection_has_none(tmp_path: Path, ispyb_server: Any) -> None:
    lims = make_lims(tmp_path, ispyb_server)
    lims.login("mx415", "mx415-password", False)
    session = lims.set_active_session_by_id("mx415")
    collection_id, _ = lims.store_data_collection(collection_dict(session.session_id), None)
    [group] = ispyb_server.store.rows("DataCollectionGroup")
    assert group["experimentType"] == "OSC" and group["sessionId"] == int(session.session_id)
    assert (
        ispyb_server.store.get("DataCollection", collection_id)["dataCollectionGroupId"]
        == group["dataCollectionGroupId"]
    )


def test_a_fault_and_a_malformed_dict_are_typed_and_store_nothing(tmp_path: Path, ispyb_server: Any) -> None:
    lims = make_lims(tmp_path, ispyb_server)
    lims.login("mx415", "mx415-password", False)
    session = lims.set_active_session_by_id("mx415")
    with pytest.raises(IspybFaultError):
        lims._store_data_collection_group({"sessionId": session.session_id, "experimentType": "Still"})
    bad = collection_dict(session.session_id)
    bad["oscillation_sequence"][0]["exposure_time"] = "fast"
    with pytest.raises(LimsDataError) as caught:
        lims.store_data_collection(bad, None)
    assert caught.value.field == "oscillation_sequence[0].exposure_time"
    assert ispyb_server.store.rows("DataCollectionGroup") == []
    assert ispyb_server.store.rows("DataCollection") == []


# ---------------------------------------------------------------- user login


def test_user_login_with_ldap_and_ispyb(tmp_path: Path, ispyb_server: Any, slapd_server: Any) -> None:
    lims = make_lims(tmp_path, ispyb_server, kind="user", ldap=slapd_server)
    assert isinstance(lims, UserTypeISPyBLims) and lims.is_user_login_type()
    manager = lims.login("alice", "alice-secret", False)
    assert [s.code for s in manager.sessions] and all(s.beamline_name == "ID-DEMO" for s in manager.sessions)
    assert lims.get_user_name() == "alice"
    assert lims.get_full_user_name() == slapd_server.seed.user("alice").cn
    session = lims.set_active_session_by_id(manager.sessions[0].session_id)
    assert lims.is_connected() and lims.get_session_id() == session.session_id
    with pytest.raises(LimsAuthenticationError):
        lims.login("alice", "wrong", False)
    with pytest.raises(LimsNoSessionError):
        lims.login("bob", slapd_server.seed.user("bob").password, False)  # in LDAP, not in ISPyB


def test_our_objects_load_under_stock_mxcubecore_from_a_site_lims_xml(tmp_path: Path, ispyb_server: Any) -> None:
    import contextlib
    import io

    make_lims(tmp_path, ispyb_server)
    HWR.uninit_hardware_repository()
    with contextlib.redirect_stdout(io.StringIO()):
        HWR.init_hardware_repository(str(tmp_path))
    lims = HWR.beamline.lims
    assert isinstance(lims, ProposalTypeISPyBLims)
    lims.login("mx415", "mx415-password", True)
    assert lims.set_active_session_by_id("mx415").beamline_name == "ID-DEMO"


def test_two_people_of_one_proposal_share_its_sessions(tmp_path: Path, ispyb_server: Any, slapd_factory: Any) -> None:
    import dataclasses

    from mxcubecore_lims.testing.ldap_seed import DEFAULT_SEED, SeedUser

    ada = SeedUser(
        uid="mx415",
        cn="Ada Lovelace",
        sn="Lovelace",
        password="ada-secret",
        mail="ada@example.org",
        home_directory="/home/ada",
        uid_number=10101,
    )
    ldap = slapd_factory(seed=dataclasses.replace(DEFAULT_SEED, users=(*DEFAULT_SEED.users, ada)))
    lims = make_lims(tmp_path, ispyb_server, kind="user", ldap=ldap)
    received: list[list[str]] = []

    def on_sessions_changed(sessions: list) -> None:
        received.append([s.session_id for s in sessions])

    lims.connect("sessionsChanged", on_sessions_changed)
    lims.login("alice", "alice-secret", False)  # first: in control (mxcubeweb)
    lims.set_active_session_by_id(lims.session_manager.sessions[0].session_id)
    lims.login("mx415", "ada-secret", False)  # second: observer, same proposal
    assert list(lims.session_manager.users) == ["alice", "mx415"]
    shared = [s.session_id for s in lims.session_manager.sessions]
    assert lims.get_session_id() in shared and received[0] == shared
    assert lims.get_full_user_name() == "Ada Lovelace"
    lims.set_active_user("mx415")  # control handed over
    assert lims.get_active_user().user_name == "mx415"
    # mxcubeweb's login_info serialises the sessions and the LIMS names.
    info = [session.__dict__ for session in lims.session_manager.sessions]
    assert (
        info[0]["beamline_name"] == "ID-DEMO"
        and next(entry.dict() for entry in lims.get_lims_name())["name"] == "ISPyB"
    )
    assert lims.remove_user("alice") and lims.is_connected()


def test_scans_spectra_sample_updates_and_workflows(tmp_path: Path, ispyb_server: Any) -> None:
    lims = make_lims(tmp_path, ispyb_server)
    lims.login("mx415", "mx415-password", False)
    session = lims.set_active_session_by_id("mx415")
    result = lims.store_energy_scan(
        {
            "sessionId": session.session_id,
            "element": "Se",
            "edgeEnergy": "K",
            "startEnergy": 12.6,
            "endEnergy": 12.7,
            "peakEnergy": 12.658,
            "inflectionEnergy": 12.656,
            "exposureTime": 1.0,
            "startTime": "2026-11-23 10:00:00",
            "endTime": "2026-11-23 10:05:00",
        }
    )
    scan_id = result["energyScanId"]
    assert isinstance(scan_id, int) and scan_id > 0
    lims.associate_bl_sample_and_energy_scan({"blSampleId": 1, "energyScanId": scan_id})
    [scan] = ispyb_server.store.rows("EnergyScan")
    assert (scan["element"], scan["blSampleId"]) == ("Se", 1)
    assert scan["peakEnergy"] == pytest.approx(12.658)
    spectrum = lims.store_xfe_spectrum(
        {
            "sessionId": session.session_id,
            "blSampleId": 1,
            "exposureTime": 3.0,
            "energy": 12.7,
            "startTime": "2026-11-23 11:00:00",
            "endTime": "2026-11-23 11:00:10",
        }
    )
    assert spectrum["xfeFluorescenceSpectrumId"] > 0
    [row] = ispyb_server.store.rows("XFEFluorescenceSpectrum")
    assert row["energy"] == pytest.approx(12.7) and row["exposureTime"] == pytest.approx(3.0)
    lims.update_bl_sample({"blSampleId": 1, "lastKnownCentringPosition": "phi=1.5 sampx=0.1"})
    assert ispyb_server.store.get("BLSample", 1)["lastKnownCenteringPosition"] == "phi=1.5 sampx=0.1"
    assert lims.store_workflow({"workflow_type": "MeshScan", "status": "Started"}) == (None, None, None)
