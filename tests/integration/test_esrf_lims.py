"""ESRFLIMS (a CompositeLims) over the emulated ICAT and ISPyB, driven as mxcubeweb and mxcubecore drive it.

The beamline is loaded with our configuration loader (and once with stock
mxcubecore's ``init_hardware_repository``): an ICATLIMS in role ``drac`` (the
authority: login and sessions) and a ProposalTypeISPyBLims in role ``ispyb``
(the primary: its ids are returned). What each backend stored is read back
from the emulators' stores.
"""

from __future__ import annotations

import contextlib
import copy
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from mxcubecore import HardwareRepository as HWR

from mxcubecore_lims.config.loader import load_beamline
from mxcubecore_lims.errors import LimsAuthenticationError, LimsNoSessionError
from mxcubecore_lims.HardwareObjects.CompositeLims import CompositeLims
from mxcubecore_lims.HardwareObjects.ESRFLIMS import ESRFLIMS
from mxcubecore_lims.HardwareObjects.ICATLIMS import ICATLIMS
from mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims import ProposalTypeISPyBLims

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configuration" / "demo"
ICAT_FIXTURE = ROOT / "mxcubecore_lims" / "testing" / "data" / "icat_fixture.yaml"


# --------------------------------------------------------------------------
# helpers


def write_config(tmp_path: Path, icat: Any, ispyb_root: str, **ispyb_keys: str) -> Path:
    """Writes session.xml, lims-icat.xml, lims-ispyb.xml, lims.xml (ESRFLIMS) and beamline.yaml."""
    shutil.copy(DEMO / "session.xml", tmp_path / "session.xml")
    (tmp_path / "lims-icat.xml").write_text(
        '<object class="mxcubecore_lims.HardwareObjects.ICATLIMS">'
        '<object href="/session" role="session"/>'
        f"<icat_url>{icat.url}</icat_url>"
        "<authentication_icat_plugin>simple</authentication_icat_plugin>"
        "<compatible_beamlines>ID-DEMO, ID-OTHER</compatible_beamlines>"
        "<connect_timeout>2</connect_timeout><read_timeout>5</read_timeout>"
        "<outbox_call_timeout>5</outbox_call_timeout>"
        "</object>",
        encoding="utf-8",
    )
    keys = {"connect_timeout": "2", "read_timeout": "5", "outbox_call_timeout": "5", **ispyb_keys}
    body = "".join(f"<{k}>{v}</{k}>" for k, v in keys.items())
    (tmp_path / "lims-ispyb.xml").write_text(
        '<object class="mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims">'
        '<object href="/session" role="session"/>'
        f"<ws_root>{ispyb_root}</ws_root><ws_username>mxcube</ws_username>"
        f"<ws_password>ispyb-password</ws_password><authServerType>ispyb</authServerType>{body}"
        "</object>",
        encoding="utf-8",
    )
    (tmp_path / "lims.xml").write_text(
        '<object class="mxcubecore_lims.HardwareObjects.ESRFLIMS">'
        '<object href="/session" role="session"/>'
        '<object href="/lims-icat" role="drac"/>'
        '<object href="/lims-ispyb" role="ispyb"/>'
        "</object>",
        encoding="utf-8",
    )
    (tmp_path / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n  session: session.xml\n  lims: lims.xml\n",
        encoding="utf-8",
    )
    return tmp_path


def make_lims(tmp_path: Path, icat: Any, ispyb: Any, **ispyb_keys: str) -> ESRFLIMS:
    """Loads the beamline with our loader and returns its ESRFLIMS."""
    load_beamline(write_config(tmp_path, icat, ispyb.root, **ispyb_keys), strict=True)
    lims = HWR.beamline.lims
    assert isinstance(lims, ESRFLIMS) and isinstance(lims, CompositeLims)
    return lims


def investigation_id(icat: Any, name: str) -> str:
    (row,) = icat.store.find("Investigation", name=name)
    return str(row["id"])


def ispyb_session_ids(ispyb: Any, code: str, number: str, beamline: str = "ID-DEMO") -> list[int]:
    """BLSession ids of a proposal on a beamline (every date)."""
    (proposal,) = ispyb.store.rows("Proposal", code=code, number=number)
    return [
        r["sessionId"]
        for r in ispyb.store.rows("BLSession", proposalId=proposal["proposalId"])
        if r["beamlineName"] == beamline
    ]


def alice_on_mx415(tmp_path: Path, icat: Any, ispyb: Any, **keys: str) -> tuple[ESRFLIMS, Any]:
    """Alice logged in (remote) and MX-415 chosen, as mxcubeweb does."""
    lims = make_lims(tmp_path, icat, ispyb, **keys)
    lims.login("alice", "alice-pw", False)
    session = lims.set_active_session_by_id(investigation_id(icat, "MX-415"))
    return lims, session


def collection_dict(directory: Path, sample: dict[str, Any] | None, session_id: str, prefix: str) -> dict[str, Any]:
    """A collection dict as AbstractCollect's ``current_dc_parameters`` holds it at the start."""
    directory.mkdir(parents=True, exist_ok=True)
    sample_id = None if sample is None else sample.get("limsID", sample.get("sampleId"))
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
        },
        "oscillation_sequence": [
            {
                "start": 10.0,
                "range": 0.5,
                "overlap": 0.0,
                "number_of_images": 3,
                "exposure_time": 0.02,
                "start_image_number": 1,
            }
        ],
        "sample_reference": {
            "blSampleId": sample_id,
            "sample_name": None if sample is None else sample["sampleName"],
            "acronym": None if sample is None else sample.get("proteinAcronym"),
        },
        "blSampleId": sample_id,
        "detector_distance": 250.0,
        "energy": 12.658,
        "transmission": 50.0,
    }


def collect(lims: ESRFLIMS, dc: dict[str, Any], images: int = 3) -> int:
    """Store -> update -> store_image x N -> finalize, as AbstractMultiCollect does."""
    collection_id, _detector = lims.store_data_collection(dc)
    dc["collection_id"] = collection_id
    dc.update({"wavelength": 0.9795, "detectorDistance": 250.3, "resolution": 1.8, "flux": 2.5e12})
    lims.update_data_collection(dc)
    dc["status"] = "Data collection successful"
    lims.update_data_collection(dc)
    for number in range(1, images + 1):
        lims.store_image(
            {
                "dataCollectionId": collection_id,
                "fileName": f"{dc['fileinfo']['prefix']}_1_{number:05d}.cbf",
                "fileLocation": dc["fileinfo"]["directory"],
                "imageNumber": number,
            }
        )
    lims.finalize_data_collection(dc)
    return collection_id


def wait_delivered(lims: ESRFLIMS, timeout: float = 20.0) -> None:
    for member in lims.members().values():
        if member.outbox is not None:
            assert member.outbox.wait_delivered(timeout), member.outbox_status()


def datasets(icat: Any, investigation: str) -> list[dict[str, Any]]:
    inv = int(investigation_id(icat, investigation))
    return [d for d in icat.store.rows("Dataset") if d["investigation"] == inv]


def dataset_parameters(icat: Any, dataset_id: int) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for row in icat.store.children("Dataset", dataset_id, "parameters"):
        kind = icat.store.get("ParameterType", row["type"])
        values[kind["name"]] = row["numericValue"] if kind["valueType"] == "NUMERIC" else row["stringValue"]
    return values


def collection_group(ispyb: Any, collection: dict[str, Any]) -> dict[str, Any]:
    (group,) = ispyb.store.rows("DataCollectionGroup", dataCollectionGroupId=collection["dataCollectionGroupId"])
    return group


def icat_fixture_with(tmp_path: Path, rename: dict[str, tuple[str, str]]) -> Path:
    """The default ICAT fixture with investigations renamed: old name -> (new name, new type)."""
    data = yaml.safe_load(ICAT_FIXTURE.read_text(encoding="utf-8"))
    for investigation in data["investigations"]:
        if investigation["name"] in rename:
            investigation["name"], investigation["type"] = rename[investigation["name"]]
    known = {t["name"] for t in data["investigation_types"]}
    for _name, kind in rename.values():
        if kind not in known:
            data["investigation_types"].append({"name": kind, "description": kind})
            known.add(kind)
    path = tmp_path / "icat_fixture.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


# --------------------------------------------------------------------------
# 1. identity and login


def test_lims_names_list_icat_then_ispyb(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """get_lims_name: the authority's LIMS first, then ISPyB; members by role."""
    lims = make_lims(tmp_path, icat_server, ispyb_server)
    assert [entry.name for entry in lims.get_lims_name()] == ["ICAT", "ISPyB"]
    members = lims.members()
    assert list(members) == ["drac", "ispyb"]
    assert isinstance(members["drac"], ICATLIMS) and isinstance(members["ispyb"], ProposalTypeISPyBLims)
    assert lims.authority() is members["drac"]
    assert lims.echo() and lims.members_echo() == {"drac": True, "ispyb": True}
    assert lims.get_active_lims().name == "ICAT"


def test_login_goes_through_icat_and_offers_its_sessions(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """A good ICAT password logs in; sessions offered are ICAT investigations; ISPyB is not asked."""
    lims = make_lims(tmp_path, icat_server, ispyb_server)
    ispyb_calls = len(ispyb_server.calls)
    manager = lims.login("alice", "alice-pw", False)
    assert manager is lims.session_manager
    assert sorted(s.proposal_name for s in manager.sessions) == ["MX-2345", "MX-415"]
    assert {s.session_id for s in manager.sessions} == {
        investigation_id(icat_server, "MX-415"),
        investigation_id(icat_server, "MX-2345"),
    }
    assert list(manager.users) == ["alice"]
    assert lims.get_user_name() == "simple/alice"
    assert lims.get_full_user_name() == "Alice Martin"
    assert lims.is_user_login_type()
    assert len(icat_server.store.sessions_of("simple/alice")) == 1
    # ISPyB passwords play no part: no authentication call reached ISPyB
    assert not any(op.lower().startswith("login") for _svc, op, _user in ispyb_server.calls[ispyb_calls:])


def test_bad_password_is_refused_and_registers_nobody(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """A wrong ICAT password raises LimsAuthenticationError; no user anywhere."""
    lims = make_lims(tmp_path, icat_server, ispyb_server)
    with pytest.raises(LimsAuthenticationError):
        lims.login("alice", "wrong", False)
    # the ISPyB password of alice is not an ICAT password
    with pytest.raises(LimsAuthenticationError):
        lims.login("alice", "alice-password", False)
    assert lims.session_manager.users == {}
    assert lims.members()["drac"].session_manager.users == {}
    assert icat_server.store.sessions_of("simple/alice") == []


# --------------------------------------------------------------------------
# 2. sessions


def test_choosing_mx415_points_ispyb_at_its_session(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """MX-415 in ICAT is ISPyB's MX 415: the ISPyB member uses its ID-DEMO session."""
    lims, session = alice_on_mx415(tmp_path, icat_server, ispyb_server)
    assert session.proposal_name == "MX-415" and (session.code, session.number) == ("MX", "415")
    assert session.session_id == investigation_id(icat_server, "MX-415")
    assert lims.get_session_id() == session.session_id
    assert lims.members()["drac"].get_session_id() == session.session_id
    # the current ID-DEMO session, not last month's one nor the ID-OTHER one
    (current,) = [
        r
        for r in ispyb_server.store.rows("BLSession")
        if r["sessionId"] in ispyb_session_ids(ispyb_server, "MX", "415") and r["comments"] == "Scheduled session"
    ]
    assert str(lims.members()["ispyb"].get_session_id()) == str(current["sessionId"])
    assert len(ispyb_server.store.rows("BLSession")) == 5  # the fixture's: nothing created


@pytest.fixture
def icat_with_opid30(tmp_path_factory: pytest.TempPathFactory, icat_server_factory: Any) -> Any:
    """ICAT where bob's MX-3456 is named OPID-30 (type OPID): ISPyB has OPID 30, with no session today."""
    fixture = icat_fixture_with(tmp_path_factory.mktemp("icat"), {"MX-3456": ("OPID-30", "OPID")})
    return icat_server_factory(fixture=fixture)


def test_local_login_creates_the_missing_ispyb_session(
    tmp_path: Path, icat_with_opid30: Any, ispyb_server: Any
) -> None:
    """OPID-30 has no ISPyB session today: a local login creates one on ID-DEMO and uses it."""
    lims = make_lims(tmp_path, icat_with_opid30, ispyb_server)
    before = ispyb_session_ids(ispyb_server, "OPID", "30")
    lims.login("bob", "bob-pw", True)
    session = lims.set_active_session_by_id(investigation_id(icat_with_opid30, "OPID-30"))
    assert (session.code, session.number) == ("OPID", "30")
    after = ispyb_session_ids(ispyb_server, "OPID", "30")
    (created,) = set(after) - set(before)
    assert str(lims.members()["ispyb"].get_session_id()) == str(created)


def test_remote_login_creates_no_ispyb_session(tmp_path: Path, icat_with_opid30: Any, ispyb_server: Any) -> None:
    """The same choice from a remote login creates nothing; ISPyB has no session then."""
    lims = make_lims(tmp_path, icat_with_opid30, ispyb_server)
    before = len(ispyb_server.store.rows("BLSession"))
    lims.login("bob", "bob-pw", False)
    session = lims.set_active_session_by_id(investigation_id(icat_with_opid30, "OPID-30"))
    assert session.proposal_name == "OPID-30"
    assert lims.get_session_id() == session.session_id  # ICAT's session is active all the same
    assert len(ispyb_server.store.rows("BLSession")) == before
    assert not lims.members()["ispyb"].get_session_id()


def test_proposal_unknown_to_ispyb_gives_no_ispyb_session(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """Bob's MX-3456 is not in ISPyB: even a local login leaves ISPyB without a session (no error)."""
    lims = make_lims(tmp_path, icat_server, ispyb_server)
    before = len(ispyb_server.store.rows("BLSession"))
    lims.login("bob", "bob-pw", True)
    session = lims.set_active_session_by_id(investigation_id(icat_server, "MX-3456"))
    assert session.proposal_name == "MX-3456"
    assert len(ispyb_server.store.rows("BLSession")) == before
    assert not lims.members()["ispyb"].get_session_id()


def test_allow_session_is_recorded_in_icat(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """Staff (ID-DEMO's scientist), in control, takes over alice's MX-2345 (ID-OTHER): recorded in ICAT."""
    lims = make_lims(tmp_path, icat_server, ispyb_server)
    lims.login("alice", "alice-pw", False)
    (other,) = [s for s in lims.session_manager.users["alice"].sessions if s.proposal_name == "MX-2345"]
    assert not other.is_scheduled_beamline
    lims.login("staff", "staff-pw", False)
    lims.set_active_user("staff")
    inv = int(other.session_id)
    links = lambda: sorted(  # noqa: E731
        icat_server.store.get("Instrument", link["instrument"])["name"]
        for link in icat_server.store.children("Investigation", inv, "investigationInstruments")
    )
    assert links() == ["ID-OTHER"]
    lims.allow_session(other)
    assert links() == ["ID-DEMO", "ID-OTHER"]


def test_sessions_changed_is_emitted_by_the_composite(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """Mxcubeweb listens on the LIMS object itself: logins and removals tell it."""
    lims = make_lims(tmp_path, icat_server, ispyb_server)
    received: list[list[str]] = []
    lims.connect("sessionsChanged", lambda sessions: received.append(sorted(s.proposal_name for s in sessions or [])))
    lims.login("alice", "alice-pw", False)
    assert received and received[-1] == ["MX-2345", "MX-415"]
    lims.login("bob", "bob-pw", False)
    assert received[-1] == ["MX-415"]  # only the shared session remains selectable
    count = len(received)
    assert lims.remove_user("bob")
    assert len(received) > count and received[-1] == ["MX-2345", "MX-415"]


def test_remove_user_forgets_the_user_everywhere(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """remove_user drops the user from the composite and ICAT; the last one out unsets ISPyB's session."""
    lims, _session = alice_on_mx415(tmp_path, icat_server, ispyb_server)
    assert lims.members()["ispyb"].get_session_id()
    assert lims.remove_user("alice") is True
    assert lims.session_manager.users == {}
    assert lims.members()["drac"].session_manager.users == {}
    assert not lims.members()["ispyb"].get_session_id()
    assert lims.remove_user("alice") is False


# --------------------------------------------------------------------------
# 3. samples


def test_samples_come_from_the_lims_named(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """get_samples("ICAT") and get_samples("ISPyB") give each LIMS's own samples."""
    lims, _session = alice_on_mx415(tmp_path, icat_server, ispyb_server)
    icat_samples = lims.get_samples("ICAT")
    icat_ids = {s["id"] for s in icat_server.store.find("Sample")}
    assert {s["sampleName"] for s in icat_samples} == {"lyso-01", "lyso-02", "lyso-03", "thau-01", "thau-02"}
    assert all(int(s["sampleId"]) in icat_ids for s in icat_samples)
    assert lims.get_active_lims().name == "ICAT"
    ispyb_samples = lims.get_samples("ISPyB")
    ispyb_ids = {r["blSampleId"] for r in ispyb_server.store.rows("BLSample")}
    names = {s["sampleName"] for s in ispyb_samples}
    assert {"lyso-01", "thau-05"} <= names and "insu-01" not in names
    assert all(int(s["sampleId"]) in ispyb_ids for s in ispyb_samples)
    assert lims.get_active_lims().name == "ISPyB"
    assert lims.samples is ispyb_samples


def test_find_sample_follows_the_samples_last_read(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """After mxcubeweb's in-place sampleId -> limsID rename, lookups answer from the list read last."""
    lims, _session = alice_on_mx415(tmp_path, icat_server, ispyb_server)
    icat_samples = lims.get_samples("ICAT")
    for s in icat_samples:
        s["limsID"] = s.pop("sampleId")
    first = icat_samples[0]
    assert lims.find_sample_by_sample_id(first["limsID"])["sampleName"] == first["sampleName"]
    ispyb_samples = lims.get_samples("ISPyB")
    for s in ispyb_samples:
        s["limsID"] = s.pop("sampleId")
    by_name = {s["sampleName"]: s for s in ispyb_samples}
    assert lims.find_sample_by_sample_id(by_name["thau-05"]["limsID"])["sampleName"] == "thau-05"
    icat_only = {s["limsID"] for s in icat_samples} - {s["limsID"] for s in ispyb_samples}
    assert icat_only  # the two LIMS number samples differently
    assert lims.find_sample_by_sample_id(next(iter(icat_only))) is None


def test_unknown_lims_name_is_refused(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """A LIMS name no member has raises LimsNoSessionError; the samples in use stay."""
    lims, _session = alice_on_mx415(tmp_path, icat_server, ispyb_server)
    samples = lims.get_samples("ICAT")
    with pytest.raises(LimsNoSessionError):
        lims.get_samples("NotALims")
    assert lims.samples is samples and lims.get_active_lims().name == "ICAT"


# --------------------------------------------------------------------------
# 4. collections: every write to both


def test_collection_with_icat_samples_lands_in_both(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """ICAT samples: one ISPyB DataCollection without sample, one ICAT Dataset linked to the sample."""
    lims, session = alice_on_mx415(tmp_path, icat_server, ispyb_server)
    samples = lims.get_samples("ICAT")
    (lyso,) = [s for s in samples if s["sampleName"] == "lyso-01"]
    dc = collection_dict(tmp_path / "data", lyso, session.session_id, "lyso-01")
    original = copy.deepcopy(dc)
    collection_id, _detector = lims.store_data_collection(dc)
    assert dc == original  # the caller's dict is not mutated
    dc["collection_id"] = collection_id
    dc.update({"wavelength": 0.9795, "resolution": 1.8, "status": "Data collection successful"})
    lims.update_data_collection(dc)
    image_ids = [
        lims.store_image(
            {
                "dataCollectionId": collection_id,
                "fileName": f"lyso-01_1_{n:05d}.cbf",
                "fileLocation": str(tmp_path / "data"),
                "imageNumber": n,
            }
        )
        for n in (1, 2, 3)
    ]
    before_finalize = copy.deepcopy(dc)
    lims.finalize_data_collection(dc)
    assert dc == before_finalize
    wait_delivered(lims)
    # ISPyB: its id returned, its session, final status, images, no sample
    (row,) = ispyb_server.store.rows("DataCollection")
    assert row["dataCollectionId"] == collection_id
    assert str(collection_group(ispyb_server, row)["sessionId"]) == str(lims.members()["ispyb"].get_session_id())
    assert collection_group(ispyb_server, row)["blSampleId"] is None
    assert row["runStatus"] == "Data collection successful"
    assert row["wavelength"] == pytest.approx(0.9795)
    images = ispyb_server.store.rows("Image")
    assert sorted(i["fileName"] for i in images) == [f"lyso-01_1_{n:05d}.cbf" for n in (1, 2, 3)]
    assert {i["dataCollectionId"] for i in images} == {collection_id}
    assert sorted(image_ids) == sorted(i["imageId"] for i in images)
    # ICAT: one dataset in MX-415, linked to the ICAT sample, with parameters and files
    (dataset,) = datasets(icat_server, "MX-415")
    assert dataset["name"] == "lyso-01_1"
    assert dataset["sample"] == int(lyso["sampleId"])
    params = dataset_parameters(icat_server, dataset["id"])
    assert params["MX_numberOfImages"] == 3 and params["MX_template"] == "lyso-01_1_%05d.cbf"
    files = icat_server.store.children("Dataset", dataset["id"], "datafiles")
    assert sorted(f["name"] for f in files) == [f"lyso-01_1_{n:05d}.cbf" for n in (1, 2, 3)]
    # ids: ISPyB's returned, ICAT's mapped inside
    assert lims.outbox_status()["ispyb"]["pending"] == 0 and lims.outbox_status()["drac"]["pending"] == 0


def test_collection_with_ispyb_samples_has_no_icat_sample(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """ISPyB samples: the DataCollectionGroup keeps the ISPyB sample, the ICAT dataset has none."""
    lims, session = alice_on_mx415(tmp_path, icat_server, ispyb_server)
    samples = lims.get_samples("ISPyB")
    (thau,) = [s for s in samples if s["sampleName"] == "thau-01"]
    dc = collection_dict(tmp_path / "data", thau, session.session_id, "thau-01")
    original = copy.deepcopy(dc)
    collection_id = collect(lims, dc)
    wait_delivered(lims)
    (row,) = ispyb_server.store.rows("DataCollection")
    assert row["dataCollectionId"] == collection_id
    assert row["runStatus"] == "Data collection successful"
    assert len(ispyb_server.store.rows("Image")) == 3
    (dataset,) = datasets(icat_server, "MX-415")
    assert dataset["sample"] is None
    assert len(icat_server.store.children("Dataset", dataset["id"], "datafiles")) == 3
    for key in ("sample_reference", "blSampleId", "fileinfo", "oscillation_sequence"):
        assert dc[key] == original[key]


def test_collection_with_ispyb_samples_links_the_ispyb_sample(
    tmp_path: Path, icat_server: Any, ispyb_server: Any
) -> None:
    """ISPyB samples: the ISPyB sample id is kept for ISPyB (its DataCollectionGroup names the sample)."""
    lims, session = alice_on_mx415(tmp_path, icat_server, ispyb_server)
    (thau,) = [s for s in lims.get_samples("ISPyB") if s["sampleName"] == "thau-01"]
    collect(lims, collection_dict(tmp_path / "data", thau, session.session_id, "thau-01"))
    wait_delivered(lims)
    (row,) = ispyb_server.store.rows("DataCollection")
    assert collection_group(ispyb_server, row)["blSampleId"] == int(thau["sampleId"])


def test_later_writes_with_the_returned_id_reach_both(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """Two collections: updates and images given the ISPyB ids reach each backend's own record."""
    lims, session = alice_on_mx415(tmp_path, icat_server, ispyb_server)
    samples = lims.get_samples("ICAT")
    first = collection_dict(tmp_path / "a", samples[0], session.session_id, "first")
    second = collection_dict(tmp_path / "b", samples[1], session.session_id, "second")
    id1, _ = lims.store_data_collection(first)
    id2, _ = lims.store_data_collection(second)
    assert id1 != id2
    second["collection_id"] = id2
    second["comments"] = "second only"
    lims.update_data_collection(second)
    lims.store_image(
        {
            "dataCollectionId": id2,
            "fileName": "second_1_00001.cbf",
            "fileLocation": str(tmp_path / "b"),
            "imageNumber": 1,
        }
    )
    first["collection_id"] = id1
    lims.finalize_data_collection(first)
    second["status"] = "Data collection successful"
    lims.finalize_data_collection(second)
    wait_delivered(lims)
    rows = {r["dataCollectionId"]: r for r in ispyb_server.store.rows("DataCollection")}
    assert set(rows) == {id1, id2}
    assert rows[id2]["comments"] == "second only" and rows[id1]["comments"] != "second only"
    assert [i["dataCollectionId"] for i in ispyb_server.store.rows("Image")] == [id2]
    by_name = {d["name"]: d for d in datasets(icat_server, "MX-415")}
    assert set(by_name) == {"first_1", "second_1"}
    assert [f["name"] for f in icat_server.store.children("Dataset", by_name["second_1"]["id"], "datafiles")] == [
        "second_1_00001.cbf"
    ]
    assert icat_server.store.children("Dataset", by_name["first_1"]["id"], "datafiles") == []


# --------------------------------------------------------------------------
# 5. one backend down never loses the other's write


def test_icat_down_keeps_the_ispyb_write_and_queues_icats(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """ICAT stopped: ISPyB gets the collection; ICAT's dataset waits in drac's outbox, then lands."""
    lims, session = alice_on_mx415(tmp_path, icat_server, ispyb_server)
    samples = lims.get_samples("ICAT")
    icat_server.stop()
    dc = collection_dict(tmp_path / "data", samples[0], session.session_id, "down-icat")
    collection_id = collect(lims, dc)
    (row,) = ispyb_server.store.rows("DataCollection")
    assert row["dataCollectionId"] == collection_id and row["runStatus"] == "Data collection successful"
    assert len(ispyb_server.store.rows("Image")) == 3
    assert datasets(icat_server, "MX-415") == []
    status = lims.outbox_status()
    assert set(status) == {"drac", "ispyb"}
    assert status["drac"]["pending"] >= 1 and status["ispyb"]["pending"] == 0
    icat_server.start()
    wait_delivered(lims, 30)
    (dataset,) = datasets(icat_server, "MX-415")
    assert dataset["name"] == "down-icat_1"
    assert lims.outbox_status()["drac"]["pending"] == 0


def test_ispyb_down_keeps_the_icat_write_and_queues_ispybs(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """ISPyB stopped: ICAT gets its dataset; the ISPyB records wait in ispyb's outbox, then land."""
    lims, session = alice_on_mx415(tmp_path, icat_server, ispyb_server)
    samples = lims.get_samples("ICAT")
    ispyb_server.stop()
    dc = collection_dict(tmp_path / "data", samples[0], session.session_id, "down-ispyb")
    collection_id = collect(lims, dc)
    assert collection_id is not None  # a provisional id, mapped later
    (dataset,) = datasets(icat_server, "MX-415")
    assert dataset["name"] == "down-ispyb_1"
    assert len(icat_server.store.children("Dataset", dataset["id"], "datafiles")) == 3
    assert ispyb_server.store.rows("DataCollection") == []
    status = lims.outbox_status()
    assert status["ispyb"]["pending"] >= 5 and status["drac"]["pending"] == 0
    ispyb_server.start()
    wait_delivered(lims, 30)
    (row,) = ispyb_server.store.rows("DataCollection")
    assert row["runStatus"] == "Data collection successful"
    assert [i["dataCollectionId"] for i in ispyb_server.store.rows("Image")] == [row["dataCollectionId"]] * 3
    assert lims.outbox_status()["ispyb"]["pending"] == 0


# --------------------------------------------------------------------------
# 6. stock mxcubecore loads it


def test_loads_with_stock_mxcubecore(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    """HWR.init_hardware_repository on the XML files gives a working ESRFLIMS."""
    directory = write_config(tmp_path, icat_server, ispyb_server.root)
    with contextlib.redirect_stdout(io.StringIO()):
        HWR.init_hardware_repository(str(directory))
    lims = HWR.beamline.lims
    assert type(lims).__name__ == "ESRFLIMS"
    assert [entry.name for entry in lims.get_lims_name()] == ["ICAT", "ISPyB"]
    lims.login("alice", "alice-pw", False)
    lims.set_active_session_by_id(investigation_id(icat_server, "MX-415"))
    assert lims.members()["ispyb"].get_session_id()
    assert {s["sampleName"] for s in lims.get_samples("ICAT")} >= {"lyso-01"}


def test_ispyb_down_when_the_session_is_chosen_its_writes_find_the_session_later(
    tmp_path: Path, icat_server: Any, ispyb_server: Any
) -> None:
    """ISPyB does not answer when MX-415 is chosen: its records name the proposal and land in MX415's session."""
    lims = make_lims(tmp_path, icat_server, ispyb_server, outbox_call_timeout="2", outbox_retry_max="1")
    lims.login("alice", "alice-pw", False)
    ispyb_server.stop()
    session = lims.set_active_session_by_id(investigation_id(icat_server, "MX-415"))
    assert lims.members()["ispyb"].get_session_id() is None
    dc = collection_dict(tmp_path / "data" / "late", None, session.session_id, "late")
    collection_id = collect(lims, dc)
    assert lims.outbox_status()["ispyb"]["pending"] > 0
    ispyb_server.start()
    wait_delivered(lims)
    (row,) = [r for r in ispyb_server.store.rows("DataCollection") if r["imagePrefix"] == "late"]
    group = collection_group(ispyb_server, row)
    assert group["sessionId"] in ispyb_session_ids(ispyb_server, "MX", "415")
    assert row["runStatus"] == "Data collection successful"
    assert len(ispyb_server.store.rows("Image", dataCollectionId=row["dataCollectionId"])) == 3
    assert lims.outbox_status()["ispyb"]["failed"] == 0
    assert len(datasets(icat_server, "MX-415")) == 1 and collection_id is not None
