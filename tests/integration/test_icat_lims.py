"""ICATLIMS against the emulated ICAT server, driven as mxcubeweb and mxcubecore drive it.

Every test builds the hardware object with our configuration loader (as a
beamline would), talks to the emulator over loopback through python-icat, and
reads what ICAT stored back from ``icat_server.store``. The calls follow
mxcubeweb (reference/mxcube_clients.md §1: login, set_active_session_by_id,
allow_session, get_samples with the in-place ``sampleId`` -> ``limsID``
rename, find_sample_by_sample_id) and mxcubecore's AbstractCollect
(store_data_collection, update_data_collection, store_image,
finalize_data_collection).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from mxcubecore import HardwareRepository as HWR
from mxcubecore.HardwareObjects.abstract import AbstractLims as core_abstract_lims

from mxcubecore_lims.config.loader import load_beamline
from mxcubecore_lims.errors import (
    LimsAuthenticationError,
    LimsMetadataUploadError,
    LimsMetadataWriteError,
    LimsNoSessionError,
    LimsUnavailableError,
)
from mxcubecore_lims.HardwareObjects.ICATLIMS import ICATLIMS
from mxcubecore_lims.icat.metadata import disambiguated
from mxcubecore_lims.model import LimsSessionManager

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

DEMO = Path(__file__).resolve().parents[2] / "configuration" / "demo"
DEFAULT_FIXTURE = Path(__file__).resolve().parents[2] / "mxcubecore_lims" / "testing" / "data" / "icat_fixture.yaml"


# --------------------------------------------------------------------------
# helpers


def make_lims(tmp_path: Path, server: Any, **keys: str) -> ICATLIMS:
    """Loads a beamline (host ID-DEMO) with one ICATLIMS object and returns it."""
    shutil.copy(DEMO / "session.xml", tmp_path / "session.xml")
    properties = {"connect_timeout": "5", "read_timeout": "5", **keys}
    body = "".join(f"<{key}>{value}</{key}>" for key, value in properties.items())
    (tmp_path / "lims.xml").write_text(
        '<object class="mxcubecore_lims.HardwareObjects.ICATLIMS">'
        '<object href="/session" role="session"/>'
        f"<icat_url>{server.url}</icat_url>"
        "<authentication_icat_plugin>simple</authentication_icat_plugin>"
        f"{body}</object>",
        encoding="utf-8",
    )
    (tmp_path / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n  session: session.xml\n  lims: lims.xml\n",
        encoding="utf-8",
    )
    load_beamline(tmp_path, strict=True)
    lims = HWR.beamline.lims
    assert isinstance(lims, ICATLIMS)
    return lims


def login(lims: ICATLIMS, user: str) -> LimsSessionManager:
    return lims.login(user, f"{user}-pw", False)


def investigation_id(server: Any, name: str) -> str:
    (row,) = server.store.find("Investigation", name=name)
    return str(row["id"])


def names(sessions: Any) -> list[str]:
    return sorted(s.proposal_name for s in sessions or [])


def session_named(lims: ICATLIMS, name: str) -> Any:
    (found,) = [s for s in lims.session_manager.sessions if s.proposal_name == name]
    return found


def dataset_parameters(server: Any, dataset_id: int) -> dict[str, Any]:
    """DatasetParameters of a stored dataset: type name -> numericValue or stringValue."""
    values: dict[str, Any] = {}
    for row in server.store.children("Dataset", dataset_id, "parameters"):
        kind = server.store.get("ParameterType", row["type"])
        name = kind["name"]
        assert name not in values, f"parameter {name} stored twice"
        if kind["valueType"] == "NUMERIC":
            assert row["stringValue"] is None
            values[name] = row["numericValue"]
        else:
            assert row["numericValue"] is None
            values[name] = row["stringValue"]
    return values


def assert_parameters(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Same names; numbers equal to 1e-9 relative, text exactly."""
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert isinstance(actual[name], (int, float)), name
            assert actual[name] == pytest.approx(value, rel=1e-9), name
        else:
            assert actual[name] == value, name


def ingested_datasets(server: Any, investigation: str) -> list[dict[str, Any]]:
    inv = int(investigation_id(server, investigation))
    return [d for d in server.store.rows("Dataset") if d["investigation"] == inv]


def collection_dict(
    directory: Path, sample: dict[str, Any], session_id: str, prefix: str = "lyso-01"
) -> dict[str, Any]:
    """A collection dict as AbstractCollect's ``current_dc_parameters`` holds it at the start."""
    return {
        "sessionId": session_id,
        "experiment_type": "OSC",
        "status": "Running",
        "collection_start_time": "2026-11-23 07:00:00",
        "fileinfo": {
            "directory": str(directory),
            "prefix": prefix,
            "run_number": 1,
            "template": f"{prefix}_1_%05d.cbf",
            "suffix": "cbf",
            "process_directory": str(directory / "process"),
        },
        "oscillation_sequence": [
            {
                "start": 10.0,
                "range": 0.5,
                "overlap": 0.0,
                "number_of_images": 4,
                "exposure_time": 0.02,
                "start_image_number": 1,
                "kappaStart": 0.0,
                "phiStart": 12.5,
            }
        ],
        "sample_reference": {
            "blSampleId": sample["sampleId"],
            "sample_name": sample["sampleName"],
            "acronym": sample["proteinAcronym"],
        },
        "blSampleId": sample["sampleId"],
        "detector_distance": 250.0,
        "resolution": {"lower": 1.8, "upper": 1.8},
        "energy": 12.658,
        "transmission": 50.0,
    }


BEAMLINE_CONFIG = {
    "synchrotron_name": "ESRF",
    "directory_prefix": "",
    "default_exposure_time": 0.02,
    "detector_fileext": "cbf",
    "detector_type": "Pilatus",
    "detector_manufacturer": "Dectris",
    "detector_model": "6M",
    "polarisation": 0.99,
}


def collect(lims: ICATLIMS, dc: dict[str, Any], images: int = 4) -> int:
    """Runs store -> two updates -> store_image x N -> finalize, as AbstractCollect does."""
    collection_id, detector_id = lims.store_data_collection(dc, BEAMLINE_CONFIG)
    assert detector_id is None and isinstance(collection_id, int)
    dc["collection_id"] = collection_id
    # first update: update_data_collection_in_lims reads the hardware (a number replaces the requested range)
    dc.update(
        {
            "flux": 2.5e12,
            "flux_end": 2.5e12,
            "totalAbsorbedDose": 0.1,
            "wavelength": 0.9795,
            "detectorDistance": 250.3,
            "resolution": 1.8,
            "resolutionAtCorner": 1.5,
            "transmission": 50.0,
            "xBeam": 210.1,
            "yBeam": 205.2,
        }
    )
    lims.update_data_collection(dc)
    # second update: end-of-collection values
    dc.update(
        {
            "flux_end": 2.4e12,
            "beamSizeAtSampleX": 0.05,
            "beamSizeAtSampleY": 0.03,
            "beamShape": "ellipse",
            "synchrotronMode": "7/8+1",
            "actualContainerSlotInSC": "1",
            "actualSampleSlotInContainer": 1,
            "actualContainerBarcode": "DEMO-PUCK-01",
            "status": "Data collection successful",
        }
    )
    lims.update_data_collection(dc)
    directory = dc["fileinfo"]["directory"]
    for number in range(1, images + 1):
        lims.store_image(
            {
                "dataCollectionId": collection_id,
                "fileName": f"{dc['fileinfo']['prefix']}_1_{number:05d}.cbf",
                "fileLocation": directory,
                "imageNumber": number,
            }
        )
    lims.finalize_data_collection(dc)
    return collection_id


def alice_on_mx415(tmp_path: Path, server: Any, **keys: str) -> tuple[ICATLIMS, Any, list[dict[str, Any]]]:
    """Alice logged in, MX-415 active, its samples read (as mxcubeweb does after login)."""
    lims = make_lims(tmp_path, server, **keys)
    login(lims, "alice")
    session = lims.set_active_session_by_id(investigation_id(server, "MX-415"))
    samples = lims.get_samples("ICAT")
    return lims, session, samples


# --------------------------------------------------------------------------
# 1. login


def test_login_returns_the_session_manager_and_who_logged_in(tmp_path: Path, icat_server: Any) -> None:
    """A good login opens an ICAT session and tells ICAT's name, full name and role."""
    lims = make_lims(tmp_path, icat_server)
    assert lims.is_user_login_type()
    assert icat_server.store.sessions_of("simple/alice") == []
    manager = login(lims, "alice")
    assert manager is lims.session_manager and isinstance(manager, LimsSessionManager)
    assert lims.get_user_name() == "simple/alice"
    assert lims.get_full_user_name() == "Alice Martin"
    assert not lims.is_staff()
    assert [entry.name for entry in lims.get_lims_name()] == ["ICAT"]
    assert list(manager.users) == ["alice"]
    assert len(icat_server.store.sessions_of("simple/alice")) == 1
    assert ("login", "simple/alice") in icat_server.calls
    assert lims.echo()
    # collect routines write only once a session is active
    assert not lims.is_connected()
    lims.set_active_session_by_id(investigation_id(icat_server, "MX-415"))
    assert lims.is_connected()


@pytest.mark.parametrize(
    ("user", "password"),
    [("alice", "wrong"), ("mallory", "mallory-pw"), ("", "alice-pw"), ("   ", "x"), ("alice", "")],
    ids=["bad-password", "unknown-user", "empty-name", "blank-name", "empty-password"],
)
def test_refused_logins_register_nobody(tmp_path: Path, icat_server: Any, user: str, password: str) -> None:
    """Wrong, unknown or empty credentials raise LimsAuthenticationError and leave no trace."""
    lims = make_lims(tmp_path, icat_server)
    with pytest.raises(LimsAuthenticationError):
        lims.login(user, password, False)
    assert lims.session_manager.users == {}
    assert lims.gateway.user(user.strip()) is None
    assert icat_server.store.sessions_of("simple/alice") == []
    if not user.strip() or not password:
        # refused before asking ICAT
        assert not any(op == "login" for op, _ in icat_server.calls)


def test_user_without_investigation_is_refused_and_logged_out(tmp_path: Path, icat_server: Any) -> None:
    """Nobody authenticates but has no investigation here: LimsNoSessionError, ICAT session ended."""
    lims = make_lims(tmp_path, icat_server)
    with pytest.raises(LimsNoSessionError, match="ID-DEMO"):
        login(lims, "nobody")
    assert ("login", "simple/nobody") in icat_server.calls
    assert icat_server.store.sessions_of("simple/nobody") == []
    assert lims.session_manager.users == {} and lims.gateway.user("nobody") is None


def test_logging_in_again_keeps_one_icat_session(tmp_path: Path, icat_server: Any) -> None:
    """The same person logging in twice (a second browser) ends the first ICAT session."""
    lims = make_lims(tmp_path, icat_server)
    login(lims, "alice")
    (first,) = icat_server.store.sessions_of("simple/alice")
    login(lims, "alice")
    (second,) = icat_server.store.sessions_of("simple/alice")
    assert second.session_id != first.session_id
    assert list(lims.session_manager.users) == ["alice"]
    lims.set_active_session_by_id(investigation_id(icat_server, "MX-415"))
    assert len(lims.get_samples("ICAT")) == 5


def test_refused_relogin_leaves_the_user_consistent(tmp_path: Path, icat_server: Any) -> None:
    """A logged-in user whose second login is refused is either still usable or logged out, not half of each."""
    lims = make_lims(tmp_path, icat_server)
    login(lims, "alice")
    login(lims, "bob")
    lims.set_active_session_by_id(investigation_id(icat_server, "MX-415"))
    # ICAT takes alice off MX-415 meanwhile: her next login finds no investigation here
    inv = int(investigation_id(icat_server, "MX-415"))
    (link,) = [
        row
        for row in icat_server.store.children("Investigation", inv, "investigationUsers")
        if icat_server.store.get("User", row["user"])["name"] == "simple/alice"
    ]
    icat_server.store.delete("InvestigationUser", link["id"])
    with pytest.raises(LimsNoSessionError):
        login(lims, "alice")
    still_registered = "alice" in lims.session_manager.users
    has_icat_session = lims.gateway.user("alice") is not None
    assert still_registered == has_icat_session


# --------------------------------------------------------------------------
# 2. session lists


def test_default_lists_only_investigations_on_the_host_beamline(tmp_path: Path, icat_server: Any) -> None:
    """compatible_beamlines defaults to ID-DEMO: alice sees MX-415, not MX-2345 (ID-OTHER) nor MX-999 (past)."""
    lims = make_lims(tmp_path, icat_server)
    assert lims.compatible_beamlines() == ["ID-DEMO"]
    manager = login(lims, "alice")
    assert names(manager.sessions) == ["MX-415"]
    assert names(manager.users["alice"].sessions) == ["MX-415"]


def test_compatible_beamlines_add_investigations_scheduled_elsewhere(tmp_path: Path, icat_server: Any) -> None:
    """With ID-DEMO and ID-OTHER compatible, MX-2345 is offered, flagged as scheduled elsewhere."""
    lims = make_lims(tmp_path, icat_server, compatible_beamlines="ID-DEMO, ID-OTHER")
    assert lims.compatible_beamlines() == ["ID-DEMO", "ID-OTHER"]
    manager = login(lims, "alice")
    assert names(manager.sessions) == ["MX-2345", "MX-415"]
    other = session_named(lims, "MX-2345")
    assert other.beamline_name == "ID-OTHER" and other.is_scheduled_beamline is False
    here = session_named(lims, "MX-415")
    assert here.beamline_name == "ID-DEMO" and here.is_scheduled_beamline is True


def test_past_investigations_need_a_wider_window(tmp_path: Path, icat_server: Any) -> None:
    """MX-999 ended 28 days ago: offered only when before_offset_days reaches back that far."""
    lims = make_lims(tmp_path, icat_server, before_offset_days="40")
    manager = login(lims, "alice")
    assert names(manager.sessions) == ["MX-415", "MX-999"]
    past = session_named(lims, "MX-999")
    assert past.is_scheduled_time is False


def test_staff_see_every_investigation_on_their_beamline(tmp_path: Path, icat_server: Any) -> None:
    """The instrument scientist of ID-DEMO sees MX-415 and MX-3456 (not a member) and IH-MX-1."""
    lims = make_lims(tmp_path, icat_server)
    manager = login(lims, "staff")
    assert lims.is_staff() and lims.get_full_user_name() == "Sam Staff"
    assert names(manager.sessions) == ["IH-MX-1", "MX-3456", "MX-415"]
    inhouse = session_named(lims, "IH-MX-1")
    assert (inhouse.code, inhouse.number) == ("IH-MX", "1")


def test_staff_users_key_makes_a_user_staff(tmp_path: Path, icat_server: Any) -> None:
    """staff_users lists ICAT names treated as staff; ICAT's rules still decide what they read."""
    lims = make_lims(tmp_path, icat_server, staff_users="simple/bob, simple/root")
    manager = login(lims, "bob")
    assert lims.is_staff()
    # bob cannot read IH-MX-1 in ICAT, staff or not
    assert names(manager.sessions) == ["MX-3456", "MX-415"]
    login(lims, "root")
    assert lims.is_staff() and names(lims.session_manager.users["root"].sessions) == ["IH-MX-1", "MX-3456", "MX-415"]


def test_only_staff_session_selection(tmp_path: Path, icat_server: Any) -> None:
    """A non-staff user gets no session until staff activated one, then only that one."""
    lims = make_lims(tmp_path, icat_server, only_staff_session_selection="true")
    with pytest.raises(LimsNoSessionError):
        login(lims, "bob")
    assert icat_server.store.sessions_of("simple/bob") == []
    login(lims, "staff")
    lims.set_active_session_by_id(investigation_id(icat_server, "MX-415"))
    manager = login(lims, "bob")
    # bob is on MX-415 and MX-3456, but only the active one is offered
    assert names(manager.users["bob"].sessions) == ["MX-415"]
    assert names(manager.sessions) == ["MX-415"]


# --------------------------------------------------------------------------
# 3. session fields


def test_session_fields_follow_mxcubecore_icatlims(tmp_path: Path, icat_server: Any) -> None:
    """Codes, numbers, ids, dates and portal URLs of MX-415 as mxcubecore's ICATLIMS gives them."""
    lims = make_lims(
        tmp_path,
        icat_server,
        data_portal_url="https://data.example.org/investigation/{id}/datasets",
        logbook_url="https://data.example.org/investigation/{id}/logbook",
        user_portal_url="https://smis.example.org/proposal/{id}",
    )
    login(lims, "alice")
    session = session_named(lims, "MX-415")
    inv = investigation_id(icat_server, "MX-415")
    today = datetime.now().date()
    assert (session.code, session.number, session.proposal_name) == ("MX", "415", "MX-415")
    assert session.session_id == session.proposal_id == inv
    assert session.title == "Lysozyme and thaumatin at ID-DEMO"
    assert session.start_date == (today - timedelta(days=1)).strftime("%Y%m%d")
    assert session.end_date == (today + timedelta(days=2)).strftime("%Y%m%d")
    assert (session.start_time, session.end_time) == ("08:00:00", "08:00:00")
    assert session.is_scheduled_time is True and session.is_scheduled_beamline is True
    assert session.is_rescheduled is False
    assert session.data_portal_URL == f"https://data.example.org/investigation/{inv}/datasets"
    assert session.logbook_URL == f"https://data.example.org/investigation/{inv}/logbook"
    # the user portal's {id} is the investigation's "Id" parameter
    assert session.user_portal_URL == "https://smis.example.org/proposal/415"
    proposals = lims.get_proposals_by_user("alice")
    assert proposals[0]["Proposal"] == {"proposalId": inv, "code": "MX", "number": "415", "title": session.title}


# --------------------------------------------------------------------------
# 4. several users


def test_users_share_the_sessions_they_have_in_common(tmp_path: Path, icat_server: Any) -> None:
    """Staff then bob log in: selectable sessions shrink to the shared ones, sessionsChanged tells it."""
    lims = make_lims(tmp_path, icat_server)
    received: list[list[str]] = []
    lims.connect("sessionsChanged", lambda sessions: received.append(names(sessions)))
    login(lims, "staff")
    assert received == [["IH-MX-1", "MX-3456", "MX-415"]]
    login(lims, "bob")
    assert names(lims.session_manager.sessions) == ["MX-3456", "MX-415"]
    assert received[-1] == ["MX-3456", "MX-415"] and len(received) == 2
    assert lims.get_user_name() == "simple/bob"
    # the first user to log in stays in control until set_active_user
    assert lims.get_active_user().user_name == "staff"
    lims.set_active_user("bob")
    assert lims.get_active_user().user_name == "bob"
    with pytest.raises(LimsNoSessionError):
        lims.set_active_user("alice")
    # logging in again with the same account changes nothing
    login(lims, "bob")
    assert len(received) == 2


def test_active_session_refuses_users_not_on_it(tmp_path: Path, icat_server: Any) -> None:
    """With MX-3456 active, alice (MX-415 only) is refused and her ICAT session is ended."""
    lims = make_lims(tmp_path, icat_server)
    login(lims, "staff")
    login(lims, "bob")
    lims.set_active_session_by_id(investigation_id(icat_server, "MX-3456"))
    with pytest.raises(LimsNoSessionError, match="active session"):
        login(lims, "alice")
    assert icat_server.store.sessions_of("simple/alice") == []
    assert set(lims.session_manager.users) == {"staff", "bob"}
    assert lims.get_user_name() == "simple/bob"  # the refused login did not become "latest"
    assert lims.get_session_id() == investigation_id(icat_server, "MX-3456")


def test_remove_user_ends_their_icat_session(tmp_path: Path, icat_server: Any) -> None:
    """remove_user logs the user out of ICAT; the remaining user's sessions become selectable again."""
    lims = make_lims(tmp_path, icat_server)
    received: list[list[str]] = []
    lims.connect("sessionsChanged", lambda sessions: received.append(names(sessions)))
    login(lims, "staff")
    login(lims, "alice")
    assert names(lims.session_manager.sessions) == ["MX-415"]
    assert len(icat_server.store.sessions_of("simple/alice")) == 1
    assert lims.remove_user("alice") is True
    assert icat_server.store.sessions_of("simple/alice") == []
    assert ("logout", "") in icat_server.calls
    assert names(lims.session_manager.sessions) == ["IH-MX-1", "MX-3456", "MX-415"]
    assert received[-1] == ["IH-MX-1", "MX-3456", "MX-415"]
    assert lims.get_user_name() == "simple/staff"
    assert lims.remove_user("alice") is False
    assert len(icat_server.store.sessions_of("simple/staff")) == 1


def test_writes_use_the_icat_session_of_the_user_in_control(tmp_path: Path, icat_server: Any) -> None:
    """set_active_user decides whose ICAT session creates the datasets (ICAT's createId)."""
    lims = make_lims(tmp_path, icat_server)
    login(lims, "alice")
    login(lims, "bob")
    lims.set_active_session_by_id(investigation_id(icat_server, "MX-415"))
    lims.set_active_user("bob")
    scan_dir = tmp_path / "scan"
    scan_dir.mkdir()
    result = lims.store_xfe_spectrum(
        {"workingDirectory": str(scan_dir), "filename": str(scan_dir / "xrf.dat"), "startTime": "2026-11-23 07:00:00"}
    )
    dataset = icat_server.store.get("Dataset", result["xfeFluorescenceSpectrumId"])
    assert dataset["createId"] == "simple/bob"


# --------------------------------------------------------------------------
# 5. breakdown: a session scheduled on another beamline


def _instrument_links(server: Any, investigation: str) -> list[str]:
    inv = int(investigation_id(server, investigation))
    return sorted(
        server.store.get("Instrument", link["instrument"])["name"]
        for link in server.store.children("Investigation", inv, "investigationInstruments")
    )


def test_allow_session_without_rights_is_logged_not_recorded(
    tmp_path: Path, icat_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Alice may not add an instrument to MX-2345: warned, not in ICAT, but datasets still say where."""
    lims = make_lims(tmp_path, icat_server, compatible_beamlines="ID-DEMO, ID-OTHER")
    login(lims, "alice")
    session = lims.set_active_session_by_id(investigation_id(icat_server, "MX-2345"))
    links_before = icat_server.store.count("InvestigationInstrument")
    with caplog.at_level(logging.WARNING):
        lims.allow_session(session)
    assert "not recorded in ICAT" in caplog.text and "MX-2345" in caplog.text
    assert icat_server.store.count("InvestigationInstrument") == links_before
    assert _instrument_links(icat_server, "MX-2345") == ["ID-OTHER"]
    # twice does not fail either
    lims.allow_session(session)
    # the take-over is kept in this process: the collection's dataset tells both beamlines
    (insulin,) = lims.get_samples("ICAT")
    assert insulin["sampleName"] == "insu-01"
    data = tmp_path / "data"
    data.mkdir()
    collect(lims, collection_dict(data, insulin, session.session_id, prefix="insu-01"), images=1)
    (dataset,) = icat_server.store.find("Dataset", name="insu-01_1")
    assert dataset["investigation"] == int(session.session_id) and dataset["sample"] == insulin["sampleId"]
    params = dataset_parameters(icat_server, dataset["id"])
    assert params["actualInstrument"] == "ID-DEMO" and params["scheduledInstrument"] == "ID-OTHER"
    metadata = json.loads((data / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["parameters"]["actualInstrument"] == "ID-DEMO"


def test_scans_of_a_taken_over_session_tell_both_beamlines(tmp_path: Path, icat_server: Any) -> None:
    """Energy scans and spectra in a session scheduled elsewhere should say where they ran, like collections."""
    lims = make_lims(tmp_path, icat_server, compatible_beamlines="ID-DEMO, ID-OTHER")
    login(lims, "alice")
    session = lims.set_active_session_by_id(investigation_id(icat_server, "MX-2345"))
    lims.allow_session(session)
    scan_dir = tmp_path / "scan"
    scan_dir.mkdir()
    result = lims.store_energy_scan(
        {"element": "Se", "edgeEnergy": "K", "workingDirectory": str(scan_dir), "startTime": "2026-11-23 07:00:00"}
    )
    params = dataset_parameters(icat_server, result["energyScanId"])
    assert params.get("actualInstrument") == "ID-DEMO" and params.get("scheduledInstrument") == "ID-OTHER"


def test_host_instrument_scientist_records_the_takeover(
    tmp_path: Path, icat_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Staff (scientist of ID-DEMO) may link any investigation to ID-DEMO: MX-2345 is recorded.

    The emulator's rules (testing/icat/auth.py): instrument scientists may
    create an InvestigationInstrument onto their own instrument even for an
    investigation they cannot read yet. staff does not see MX-2345 before
    (ID-OTHER only), so alice's Session object is the one taken over.
    """
    lims = make_lims(tmp_path, icat_server, compatible_beamlines="ID-DEMO, ID-OTHER")
    login(lims, "alice")
    other = session_named(lims, "MX-2345")
    login(lims, "staff")
    assert "MX-2345" not in names(lims.session_manager.users["staff"].sessions)
    assert names(lims.session_manager.sessions) == ["MX-415"]
    lims.set_active_user("staff")
    with caplog.at_level(logging.INFO):
        lims.allow_session(other)
    assert "not recorded" not in caplog.text
    assert _instrument_links(icat_server, "MX-2345") == ["ID-DEMO", "ID-OTHER"]
    created = [
        link
        for link in icat_server.store.children("Investigation", int(other.session_id), "investigationInstruments")
        if icat_server.store.get("Instrument", link["instrument"])["name"] == "ID-DEMO"
    ]
    assert [link["createId"] for link in created] == ["simple/staff"]
    # ICAT now lets staff read it, and lists it as running here
    refreshed = {s.proposal_name: s for s in lims.refresh_sessions("staff")}
    assert refreshed["MX-2345"].beamline_name == "ID-DEMO" and refreshed["MX-2345"].is_scheduled_beamline
    assert names(lims.session_manager.sessions) == ["MX-2345", "MX-415"]


def test_root_records_the_takeover_in_icat(tmp_path: Path, icat_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Root (treated as staff) records MX-2345 on ID-DEMO; later lists and datasets show it."""
    lims = make_lims(tmp_path, icat_server, compatible_beamlines="ID-DEMO, ID-OTHER", staff_users="simple/root")
    manager = login(lims, "root")
    assert lims.is_staff()
    assert names(manager.sessions) == ["IH-MX-1", "MX-2345", "MX-3456", "MX-415"]
    session = lims.set_active_session_by_id(investigation_id(icat_server, "MX-2345"))
    assert session.is_scheduled_beamline is False
    with caplog.at_level(logging.INFO):
        lims.allow_session(session)
    assert _instrument_links(icat_server, "MX-2345") == ["ID-DEMO", "ID-OTHER"]
    (link,) = [
        link_row
        for link_row in icat_server.store.children("Investigation", int(session.session_id), "investigationInstruments")
        if icat_server.store.get("Instrument", link_row["instrument"])["name"] == "ID-DEMO"
    ]
    assert link["createId"] == "simple/root"
    # a second call meets the existing link: no error, no duplicate
    lims.allow_session(session)
    assert _instrument_links(icat_server, "MX-2345") == ["ID-DEMO", "ID-OTHER"]
    assert "already on ID-DEMO" in caplog.text
    # the next session list sees it scheduled here
    refreshed = {s.proposal_name: s for s in lims.refresh_sessions("root")}
    assert refreshed["MX-2345"].beamline_name == "ID-DEMO" and refreshed["MX-2345"].is_scheduled_beamline
    # a dataset of the session carries both instruments, written with root's session
    (insulin,) = lims.get_samples("ICAT")
    data = tmp_path / "data"
    data.mkdir()
    collect(lims, collection_dict(data, insulin, session.session_id, prefix="insu-01"), images=1)
    (dataset,) = icat_server.store.find("Dataset", name="insu-01_1")
    assert dataset["investigation"] == int(session.session_id) and dataset["createId"] == "simple/root"
    params = dataset_parameters(icat_server, dataset["id"])
    assert params["actualInstrument"] == "ID-DEMO" and params["scheduledInstrument"] == "ID-OTHER"


# --------------------------------------------------------------------------
# 6. samples


def test_samples_are_the_mountable_ones_with_icat_ids(tmp_path: Path, icat_server: Any) -> None:
    """get_samples gives MX-415's five samples in the sample changer, keyed by ICAT Sample id."""
    _lims, _, samples = alice_on_mx415(tmp_path, icat_server)
    by_name = {s["sampleName"]: s for s in samples}
    assert [s["sampleName"] for s in samples] == ["lyso-01", "lyso-02", "lyso-03", "thau-01", "thau-02"]
    assert "thau-spare" not in by_name
    inv = int(investigation_id(icat_server, "MX-415"))
    for name, sample in by_name.items():
        (row,) = icat_server.store.find("Sample", name=name, investigation=inv)
        assert sample["sampleId"] == row["id"]
        assert isinstance(sample["containerSampleChangerLocation"], str)
        assert isinstance(sample["sampleLocation"], int)
    first = by_name["lyso-01"]
    assert first["containerSampleChangerLocation"] == "1" and first["sampleLocation"] == 1
    assert first["containerCode"] == "DEMO-PUCK-01" and first["containerType"] == "Unipuck"
    assert first["containerCapacity"] == 16
    assert first["proteinAcronym"] == "lyso" and first["crystalSpaceGroup"] == "P43212"
    assert (first["cellA"], first["cellB"], first["cellC"]) == (79.1, 79.1, 37.9)
    assert (first["cellAlpha"], first["cellBeta"], first["cellGamma"]) == (90.0, 90.0, 90.0)
    assert first["code"] == "LY01"
    assert by_name["thau-02"]["containerSampleChangerLocation"] == "2"
    assert by_name["thau-02"]["sampleLocation"] == 2


def test_mxcubeweb_renames_sample_id_in_place(tmp_path: Path, icat_server: Any) -> None:
    """After mxcubeweb's ``s["limsID"] = s.pop("sampleId")`` the sample is still found by id."""
    lims, _, samples = alice_on_mx415(tmp_path, icat_server)
    for sample in samples:
        sample["limsID"] = sample.pop("sampleId")
    wanted = samples[3]
    assert lims.find_sample_by_sample_id(wanted["limsID"]) is wanted
    assert lims.find_sample_by_sample_id(str(wanted["limsID"])) is wanted
    assert lims.find_sample_by_sample_id(999999) is None


def test_samples_need_an_active_session(tmp_path: Path, icat_server: Any) -> None:
    """get_samples before any session is chosen raises LimsNoSessionError."""
    lims = make_lims(tmp_path, icat_server)
    login(lims, "alice")
    with pytest.raises(LimsNoSessionError):
        lims.get_samples("ICAT")


# --------------------------------------------------------------------------
# 7. a full data collection


def test_full_collection_becomes_one_dataset_and_metadata_json(tmp_path: Path, icat_server: Any) -> None:
    """Store -> update x2 -> images -> finalize: one complete Dataset, every parameter, files, metadata.json."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    sample = samples[0]
    data = tmp_path / "data"
    data.mkdir()
    datasets_before = icat_server.store.count("Dataset")
    dc = collection_dict(data, sample, session.session_id)
    collection_id = collect(lims, dc, images=4)
    assert lims.pending_collections() == []
    assert icat_server.store.count("Dataset") == datasets_before + 1

    (dataset,) = icat_server.store.find("Dataset", name="lyso-01_1")
    assert dataset["location"] == str(data)
    assert dataset["complete"] is True
    assert dataset["investigation"] == int(session.session_id)
    assert dataset["sample"] == sample["sampleId"]
    assert icat_server.store.get("DatasetType", dataset["type"])["name"] == "acquisition"
    assert dataset["createId"] == "simple/alice"
    assert dataset["startDate"] is not None and dataset["endDate"] is not None
    start = dataset["startDate"]
    start = start.astimezone().replace(tzinfo=None) if start.tzinfo else start
    assert start == datetime(2026, 11, 23, 7, 0, 0)

    expected = {
        "MX_dataCollectionId": float(collection_id),
        "MX_directory": str(data),
        "MX_template": "lyso-01_1_%05d.cbf",
        "MX_scanType": "datacollection",
        "MX_experimentType": "OSC",
        "MX_status": "Data collection successful",
        "MX_numberOfImages": 4.0,
        "MX_startImageNumber": 1.0,
        "MX_exposureTime": 0.02,
        "MX_oscillationStart": 10.0,
        "MX_oscillationRange": 0.5,
        "MX_kappa": 0.0,
        "MX_phi": 12.5,
        "MX_axis_start": 10.0,
        "MX_axis_range": 2.0,
        "MX_axis_end": 12.0,
        "MX_flux": 2.5e12,
        "MX_fluxEnd": 2.4e12,
        "MX_transmission": 50.0,
        "MX_wavelength": 0.9795,
        "MX_resolution": 1.8,
        "MX_resolution_at_corner": 1.5,
        "MX_detectorDistance": 250.3,
        "MX_xBeam": 210.1,
        "MX_yBeam": 205.2,
        "MX_beamSizeAtSampleX": 0.05,
        "MX_beamSizeAtSampleY": 0.03,
        "MX_beamShape": "ellipse",
        "InstrumentMonochromator_energy": 12.658,
        "InstrumentMonochromator_wavelength": 0.9795,
        "InstrumentSource_mode": "7/8+1",
        "SampleChanger_position": "1",
        "SampleTrackingContainer_position": "1",
        "SampleTrackingContainer_name": "DEMO-PUCK-01",
        "SampleProtein_acronym": "lyso",
        "Sample_name": "lyso-01",
        "MX_lims_sample_id": str(sample["sampleId"]),
    }
    stored = dataset_parameters(icat_server, dataset["id"])
    assert_parameters(stored, expected)

    files = sorted(icat_server.store.children("Dataset", dataset["id"], "datafiles"), key=lambda f: f["name"])
    assert [f["name"] for f in files] == [f"lyso-01_1_{n:05d}.cbf" for n in range(1, 5)]
    assert [f["location"] for f in files] == [str(data / f"lyso-01_1_{n:05d}.cbf") for n in range(1, 5)]

    metadata = json.loads((data / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["dataset"] == "lyso-01_1" and metadata["location"] == str(data)
    assert metadata["investigation"] == {"id": int(session.session_id), "name": "MX-415"}
    assert metadata["sample"] == {"id": sample["sampleId"], "name": "lyso-01"}
    assert metadata["complete"] is True
    assert metadata["startDate"].startswith("2026-11-23T07:00:00")
    # the same values as in ICAT (the sample id is a number in the file, text in ICAT's STRING type)
    assert_parameters(
        metadata["parameters"],
        {
            **expected,
            "MX_lims_sample_id": sample["sampleId"],
            "SampleChanger_position": 1,
            "SampleTrackingContainer_position": 1,
        },
    )
    assert [f["name"] for f in metadata["datafiles"]] == [f["name"] for f in files]
    assert not list(data.glob(".metadata-*"))  # no temporary file left


def test_finalize_without_store_still_creates_the_dataset(tmp_path: Path, icat_server: Any) -> None:
    """A collection id this object never stored (e.g. after a restart) is finalised from its dict."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    data = tmp_path / "restart"
    data.mkdir()
    dc = collection_dict(data, samples[1], session.session_id, prefix="lyso-02")
    dc.update({"collection_id": 4242, "status": "Data collection successful"})
    lims.finalize_data_collection(dc)
    (dataset,) = icat_server.store.find("Dataset", name="lyso-02_1")
    assert dataset_parameters(icat_server, dataset["id"])["MX_dataCollectionId"] == 4242.0
    assert dataset["sample"] == samples[1]["sampleId"]


def test_failed_collection_is_an_incomplete_dataset(tmp_path: Path, icat_server: Any) -> None:
    """Status "Failed" gives complete False (and a sample of another investigation is not linked)."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    data = tmp_path / "failed"
    data.mkdir()
    dc = collection_dict(data, samples[0], session.session_id, prefix="bad")
    (foreign,) = icat_server.store.find("Sample", name="insu-01")
    dc["blSampleId"] = foreign["id"]
    dc["sample_reference"]["blSampleId"] = foreign["id"]
    collection_id, _ = lims.store_data_collection(dc)
    dc.update({"collection_id": collection_id, "status": "Failed"})
    lims.finalize_data_collection(dc)
    (dataset,) = icat_server.store.find("Dataset", name="bad_1")
    assert dataset["complete"] is False and dataset["sample"] is None


def test_resolution_range_is_stored_as_a_number(tmp_path: Path, icat_server: Any) -> None:
    """A collection finalised with the documented {lower, upper} resolution still records MX_resolution."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    data = tmp_path / "data"
    data.mkdir()
    dc = collection_dict(data, samples[0], session.session_id)  # resolution {lower: 1.8, upper: 1.8}
    collection_id, _ = lims.store_data_collection(dc)
    dc["collection_id"] = collection_id
    lims.finalize_data_collection(dc)
    metadata = json.loads((data / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["parameters"]["MX_resolution"] == pytest.approx(1.8)
    (dataset,) = icat_server.store.find("Dataset", name="lyso-01_1")
    assert dataset_parameters(icat_server, dataset["id"]).get("MX_resolution") == pytest.approx(1.8)


def test_finalize_without_active_session_is_a_gather_error(tmp_path: Path, icat_server: Any) -> None:
    """Everyone logged out before the end: LimsMetadataGatherError (mxcubecore's class), nothing written."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    data = tmp_path / "data"
    data.mkdir()
    dc = collection_dict(data, samples[0], session.session_id)
    collection_id, _ = lims.store_data_collection(dc)
    dc["collection_id"] = collection_id
    lims.remove_user("alice")
    assert lims.get_active_session() is None
    with pytest.raises(core_abstract_lims.LimsMetadataGatherError):
        lims.finalize_data_collection(dc)
    assert not (data / "metadata.json").exists()
    assert icat_server.store.find("Dataset", name="lyso-01_1") == []


# --------------------------------------------------------------------------
# 8. re-upload


def test_finalize_twice_does_not_duplicate(tmp_path: Path, icat_server: Any) -> None:
    """A repeated finalize (e.g. after a lost answer) finds the dataset: no duplicate, no error."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    data = tmp_path / "data"
    data.mkdir()
    dc = collection_dict(data, samples[0], session.session_id)
    collect(lims, dc, images=3)
    count = icat_server.store.count("Dataset")
    lims.finalize_data_collection(dc)
    assert icat_server.store.count("Dataset") == count
    (dataset,) = icat_server.store.find("Dataset", name="lyso-01_1")
    assert len(icat_server.store.children("Dataset", dataset["id"], "datafiles")) == 3
    # and once more through a new store (same fileinfo, new local id)
    again = collection_dict(data, samples[0], session.session_id)
    collect(lims, again, images=3)
    assert icat_server.store.count("Dataset") == count


def test_repeated_finalize_keeps_metadata_json_in_agreement_with_icat(tmp_path: Path, icat_server: Any) -> None:
    """metadata.json and the catalogue entry should still agree after a repeated finalize."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    data = tmp_path / "data"
    data.mkdir()
    dc = collection_dict(data, samples[0], session.session_id)
    collect(lims, dc, images=3)
    lims.finalize_data_collection(dc)
    metadata = json.loads((data / "metadata.json").read_text(encoding="utf-8"))
    assert len(metadata["datafiles"]) == 3


def test_same_name_in_another_directory_gets_a_stable_other_name(tmp_path: Path, icat_server: Any) -> None:
    """Same prefix and run elsewhere: a second dataset named from its location, itself idempotent."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    collect(lims, collection_dict(first, samples[0], session.session_id))
    collect(lims, collection_dict(second, samples[0], session.session_id))
    datasets = ingested_datasets(icat_server, "MX-415")
    by_name = {d["name"]: d for d in datasets}
    other = disambiguated("lyso-01_1", str(second))
    assert set(by_name) == {"lyso-01_1", other} and other != "lyso-01_1"
    assert by_name["lyso-01_1"]["location"] == str(first) and by_name[other]["location"] == str(second)
    # repeated in the second directory: found again under the same alternative name
    collect(lims, collection_dict(second, samples[0], session.session_id))
    assert len(ingested_datasets(icat_server, "MX-415")) == 2


# --------------------------------------------------------------------------
# 9. energy scans and XRF spectra


def test_energy_scan_becomes_a_dataset(tmp_path: Path, icat_server: Any) -> None:
    """store_energy_scan returns {"energyScanId": dataset id}; scan type and energies are parameters."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    scan_dir = tmp_path / "escan"
    scan_dir.mkdir()
    scan = {
        "sessionId": session.session_id,
        "blSampleId": samples[0]["sampleId"],
        "element": "Se",
        "edgeEnergy": "K",
        "startEnergy": 12.6,
        "endEnergy": 12.7,
        "peakEnergy": 12.6578,
        "inflectionEnergy": 12.6562,
        "remoteEnergy": 12.7,
        "peakFPrime": -5.1,
        "peakFDoublePrime": 6.2,
        "inflectionFPrime": -8.3,
        "inflectionFDoublePrime": 3.4,
        "transmissionFactor": 10.0,
        "exposureTime": 1.0,
        "fluorescenceDetector": "Vortex",
        "scanFileFullPath": str(scan_dir / "se.raw"),
        "workingDirectory": str(scan_dir),
        "startTime": "2026-11-23 07:10:00",
        "endTime": "2026-11-23 07:12:00",
    }
    result = lims.store_energy_scan(scan)
    assert set(result) == {"energyScanId"}
    dataset = icat_server.store.get("Dataset", result["energyScanId"])
    assert dataset is not None and dataset["investigation"] == int(session.session_id)
    assert dataset["name"] == "energy_scan_se_20261123-071000"
    assert dataset["location"] == str(scan_dir) and dataset["sample"] == samples[0]["sampleId"]
    params = dataset_parameters(icat_server, dataset["id"])
    assert params["MX_scanType"] == "energy_scan"
    assert params["MX_element"] == "Se"
    assert params["MX_startEnergy"] == pytest.approx(12.6)
    assert params["MX_peakEnergy"] == pytest.approx(12.6578)
    assert params["MX_inflectionEnergy"] == pytest.approx(12.6562)
    assert params["MX_peakFDoublePrime"] == pytest.approx(6.2)
    assert params["MX_transmission"] == pytest.approx(10.0)
    assert params["MX_fluorescenceDetector"] == "Vortex"
    assert params["MX_exposureTime"] == pytest.approx(1.0)
    # MX_edgeEnergy is NUMERIC in ICAT; the edge "K" is text
    assert "MX_edgeEnergy" not in params
    files = icat_server.store.children("Dataset", dataset["id"], "datafiles")
    assert [(f["name"], f["location"]) for f in files] == [("se.raw", str(scan_dir / "se.raw"))]
    metadata = json.loads((scan_dir / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["parameters"]["MX_edgeEnergy"] == "K"
    assert lims.storeEnergyScan({**scan, "startTime": "2026-11-23 08:00:00"})["energyScanId"] != result["energyScanId"]


def test_energy_scan_with_numeric_edge_energy(tmp_path: Path, icat_server: Any) -> None:
    """A numeric edgeEnergy (keV) is stored as MX_edgeEnergy."""
    lims, _session, _ = alice_on_mx415(tmp_path, icat_server)
    scan_dir = tmp_path / "escan"
    scan_dir.mkdir()
    result = lims.store_energy_scan(
        {"element": "Zn", "edgeEnergy": 9.659, "workingDirectory": str(scan_dir), "startTime": "2026-11-23 07:20:00"}
    )
    params = dataset_parameters(icat_server, result["energyScanId"])
    assert params["MX_edgeEnergy"] == pytest.approx(9.659) and params["MX_element"] == "Zn"


def test_xrf_spectrum_becomes_a_dataset(tmp_path: Path, icat_server: Any) -> None:
    """store_xfe_spectrum returns {"xfeFluorescenceSpectrumId": dataset id} with scan type xrf."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    xrf_dir = tmp_path / "xrf"
    xrf_dir.mkdir()
    result = lims.store_xfe_spectrum(
        {
            "sessionId": session.session_id,
            "blSampleId": samples[1]["sampleId"],
            "energy": 12.7,
            "beamTransmission": 5.0,
            "exposureTime": 3.0,
            "scanFileFullPath": str(xrf_dir / "spectrum.dat"),
            "workingDirectory": str(xrf_dir),
            "startTime": "2026-11-23 07:30:00",
        }
    )
    assert set(result) == {"xfeFluorescenceSpectrumId"}
    dataset = icat_server.store.get("Dataset", result["xfeFluorescenceSpectrumId"])
    assert dataset["name"] == "xrf_spectrum_20261123-073000"
    assert dataset["sample"] == samples[1]["sampleId"]
    params = dataset_parameters(icat_server, dataset["id"])
    assert params["MX_scanType"] == "xrf"
    assert params["MX_energy"] == pytest.approx(12.7)
    assert params["MX_transmission"] == pytest.approx(5.0)
    assert params["MX_exposureTime"] == pytest.approx(3.0)
    assert params["MX_directory"] == str(xrf_dir)
    assert (xrf_dir / "metadata.json").exists()


# --------------------------------------------------------------------------
# 10. errors


def test_unwritable_directory_raises_metadata_write_error_after_the_upload(tmp_path: Path, icat_server: Any) -> None:
    """metadata.json cannot be written: the dataset still goes to ICAT, then LimsMetadataWriteError (mxcubecore's too)."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    dc = collection_dict(blocker / "data", samples[0], session.session_id)
    collection_id, _ = lims.store_data_collection(dc)
    dc["collection_id"] = collection_id
    count = icat_server.store.count("Dataset")
    with pytest.raises(LimsMetadataWriteError) as caught:
        lims.finalize_data_collection(dc)
    assert isinstance(caught.value, core_abstract_lims.LimsMetadataWriteError)
    assert "is in ICAT" in str(caught.value)
    assert icat_server.store.count("Dataset") == count + 1
    assert not (blocker / "data" / "metadata.json").exists()


def test_server_down_the_upload_waits_in_the_outbox_and_is_replayed(tmp_path: Path, icat_server: Any) -> None:
    """ICAT stopped: finalize returns, metadata.json is written, the upload waits; ICAT back: delivered once."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    data = tmp_path / "data"
    data.mkdir()
    dc = collection_dict(data, samples[0], session.session_id)
    collection_id, _ = lims.store_data_collection(dc)
    dc.update({"collection_id": collection_id, "status": "Data collection successful"})
    icat_server.stop()
    lims.finalize_data_collection(dc)
    assert (data / "metadata.json").exists()
    status = lims.outbox_status()
    assert status["pending"] == 1 and "ICAT does not answer" in status["last_error"]
    assert lims.echo() is False
    with pytest.raises(LimsUnavailableError):
        login(lims, "bob")
    icat_server.start()
    assert lims.echo() is True
    assert lims.outbox.wait_delivered(10.0)
    assert len(icat_server.store.find("Dataset", name="lyso-01_1")) == 1
    assert lims.pending_collections() == []


def test_server_down_without_outbox_raises_the_upload_error(tmp_path: Path, icat_server: Any) -> None:
    """With the outbox switched off, a finalize while ICAT is down raises LimsMetadataUploadError."""
    lims, session, samples = alice_on_mx415(tmp_path, icat_server, outbox="false")
    assert lims.outbox is None
    data = tmp_path / "data"
    data.mkdir()
    dc = collection_dict(data, samples[0], session.session_id)
    collection_id, _ = lims.store_data_collection(dc)
    dc.update({"collection_id": collection_id, "status": "Data collection successful"})
    icat_server.stop()
    with pytest.raises(LimsMetadataUploadError) as caught:
        lims.finalize_data_collection(dc)
    assert isinstance(caught.value, core_abstract_lims.LimsMetadataUploadError)
    assert lims.pending_collections() == [collection_id]


def test_beamline_loads_while_icat_is_down(tmp_path: Path, icat_server: Any) -> None:
    """Init connects to nothing: the beamline loads, echo is False, login says unavailable."""
    stopped = SimpleNamespace(url=icat_server.url)
    icat_server.stop()
    lims = make_lims(tmp_path, stopped)
    assert lims.echo() is False
    with pytest.raises(LimsUnavailableError):
        login(lims, "alice")
    assert lims.session_manager.users == {}


# --------------------------------------------------------------------------
# 11. expired and refreshed sessions


def test_expired_session_logs_in_again_once(tmp_path: Path, icat_server: Any) -> None:
    """ICAT ended alice's session: the next call logs in again and succeeds."""
    lims, _, samples = alice_on_mx415(tmp_path, icat_server)
    (old,) = icat_server.store.sessions_of("simple/alice")
    icat_server.store.expire_session(old.session_id)
    logins = sum(1 for op, user in icat_server.calls if op == "login" and user == "simple/alice")
    again = lims.get_samples("ICAT")
    assert [s["sampleId"] for s in again] == [s["sampleId"] for s in samples]
    (new,) = icat_server.store.sessions_of("simple/alice")
    assert new.session_id != old.session_id
    assert sum(1 for op, user in icat_server.calls if op == "login" and user == "simple/alice") == logins + 1


def test_session_near_expiry_is_refreshed(tmp_path: Path, icat_server: Any) -> None:
    """A session due for refresh is refreshed before the call (same ICAT session kept)."""
    lims, _, _ = alice_on_mx415(tmp_path, icat_server)
    (old,) = icat_server.store.sessions_of("simple/alice")
    assert not any(op == "refresh" for op, _ in icat_server.calls)
    lims.gateway.expire_locally("alice")
    lims.get_samples("ICAT")
    assert any(op == "refresh" for op, _ in icat_server.calls)
    (same,) = icat_server.store.sessions_of("simple/alice")
    assert same.session_id == old.session_id and same.expires >= old.expires
    # refreshed once: the next call does not refresh again
    refreshes = sum(1 for op, _ in icat_server.calls if op == "refresh")
    lims.get_samples("ICAT")
    assert sum(1 for op, _ in icat_server.calls if op == "refresh") == refreshes


def test_short_sessions_are_refreshed_before_they_expire(tmp_path: Path, icat_server_factory: Any) -> None:
    """With 3-second ICAT sessions, a call after half the lifetime refreshes instead of logging in again."""
    server = icat_server_factory(session_minutes=3.0 / 60.0)
    lims, _, _ = alice_on_mx415(tmp_path, server)
    logins = sum(1 for op, _ in server.calls if op == "login")
    time.sleep(1.7)
    lims.get_samples("ICAT")
    assert any(op == "refresh" for op, _ in server.calls)
    assert sum(1 for op, _ in server.calls if op == "login") == logins


# --------------------------------------------------------------------------
# 12. parameters ICAT has no type for


def test_parameters_without_parameter_type_are_skipped_but_kept_in_metadata_json(
    tmp_path: Path, icat_server_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A fixture without MX_flux: the value is warned about, not in ICAT, still in metadata.json."""
    fixture = yaml.safe_load(DEFAULT_FIXTURE.read_text(encoding="utf-8"))
    for group in fixture["parameter_types"]:
        if "Dataset" in group["applicableTo"]:
            group["names"] = [n for n in group["names"] if n != "MX_flux"]
    server = icat_server_factory(fixture=fixture)
    lims, session, samples = alice_on_mx415(tmp_path, server)
    data = tmp_path / "data"
    data.mkdir()
    dc = collection_dict(data, samples[0], session.session_id)
    dc["position_name"] = "pos-1"  # MX_positionName: no type in the default fixture either
    with caplog.at_level(logging.WARNING):
        collect(lims, dc, images=2)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("'MX_flux'" in w for w in warnings)
    assert any("'MX_positionName'" in w for w in warnings)
    (dataset,) = server.store.find("Dataset", name="lyso-01_1")
    params = dataset_parameters(server, dataset["id"])
    assert "MX_flux" not in params and "MX_positionName" not in params
    assert params["MX_fluxEnd"] == pytest.approx(2.4e12)
    metadata = json.loads((data / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["parameters"]["MX_flux"] == pytest.approx(2.5e12)
    assert metadata["parameters"]["MX_positionName"] == "pos-1"
    # warned once per name, not once per dataset
    caplog.clear()
    other = tmp_path / "other"
    other.mkdir()
    with caplog.at_level(logging.WARNING):
        collect(lims, collection_dict(other, samples[1], session.session_id, prefix="lyso-02"), images=1)
    assert not any("'MX_flux'" in r.getMessage() for r in caplog.records)
