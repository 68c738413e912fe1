"""AbstractLims' shared logic: session manager, signals, samples, dict validation.

The backend is MemoryLims (tests/probes), which implements only the hooks;
what is tested is the logic AbstractLims adds around them, the same for every
LIMS object of this package.
"""

from __future__ import annotations

from typing import Any

import pytest
from MemoryLims import MemoryLims
from mxcubecore.HardwareObjects.abstract.AbstractLims import AbstractLims as CoreAbstractLims

from mxcubecore_lims.errors import (
    LimsAuthenticationError,
    LimsDataError,
    LimsNoSessionError,
    LimsNotSupportedError,
)
from mxcubecore_lims.HardwareObjects.AbstractLims import AbstractLims
from mxcubecore_lims.model import DataCollection, LimsSessionManager, Session

SESSIONS = [
    {"session_id": "s1", "beamline_name": "ID-DEMO", "code": "mx", "number": "415"},
    {"session_id": "s2", "beamline_name": "ID-DEMO", "code": "mx", "number": "416"},
    {"session_id": "s3", "beamline_name": "ID-OTHER", "code": "mx", "number": "417"},
]
USERS = {
    "alice": {"password": "a-pw", "full_name": "Alice A", "sessions": ["s1", "s2"]},
    "bob": {"password": "b-pw", "full_name": "Bob B", "sessions": ["s2", "s3"]},
    "carol": {"password": "c-pw", "full_name": "Carol C", "sessions": ["s3"]},
}
SAMPLES = [
    {"sampleId": 11, "sampleName": "lyso1", "containerSampleChangerLocation": "1", "sampleLocation": "1"},
    {"sampleId": "12", "sampleName": "lyso2", "containerSampleChangerLocation": "1", "sampleLocation": "2"},
]


@pytest.fixture
def lims() -> MemoryLims:
    obj = MemoryLims("lims")
    obj._config = MemoryLims.HOConfig(users=USERS, sessions=SESSIONS, samples=SAMPLES)
    obj.beamline_name = "ID-DEMO"
    return obj


@pytest.fixture
def signals(lims: MemoryLims) -> list[list[str]]:
    """Session ids of every sessionsChanged emission, in order."""
    received: list[list[str]] = []

    def on_sessions_changed(sessions: list[Session]) -> None:
        received.append([s.session_id for s in sessions])

    lims.connect("sessionsChanged", on_sessions_changed)
    lims._keep_alive = on_sessions_changed  # the dispatcher holds weak references
    return received


def test_is_mxcubecore_abstract_lims_too(lims: MemoryLims) -> None:
    assert isinstance(lims, CoreAbstractLims)
    assert isinstance(lims, AbstractLims)


def test_login_returns_the_one_session_manager(lims: MemoryLims) -> None:
    manager = lims.session_manager
    result = lims.login("alice", "a-pw", False)
    assert result is manager
    assert isinstance(result, LimsSessionManager)
    assert [s.session_id for s in result.sessions] == ["s1", "s2"]
    assert lims.get_session_manager() is manager


def test_selectable_sessions_are_those_every_user_shares(lims: MemoryLims, signals: list) -> None:
    lims.login("alice", "a-pw", True)
    lims.login("bob", "b-pw", True)
    assert [s.session_id for s in lims.session_manager.sessions] == ["s2"]
    lims.login("carol", "c-pw", True)
    assert lims.session_manager.sessions == []
    assert signals == [["s1", "s2"], ["s2"], []]


def test_sessions_changed_is_not_emitted_when_nothing_changed(lims: MemoryLims, signals: list) -> None:
    lims.login("alice", "a-pw")
    lims.login("alice", "a-pw")  # the same user again: same selectable sessions
    assert signals == [["s1", "s2"]]


def test_removing_a_user_widens_the_selection_and_keeps_the_active_session(lims: MemoryLims, signals: list) -> None:
    lims.login("alice", "a-pw")
    lims.login("bob", "b-pw")
    active = lims.set_active_session_by_id("s2")
    assert lims.remove_user("bob") is True
    assert [s.session_id for s in lims.session_manager.sessions] == ["s1", "s2"]
    assert lims.get_active_session() is active
    assert signals[-1] == ["s1", "s2"]
    assert lims.remove_user("nobody") is False


def test_the_last_user_leaving_clears_the_active_session_not_the_manager(lims: MemoryLims) -> None:
    manager = lims.session_manager
    lims.login("alice", "a-pw")
    lims.set_active_session_by_id("s1")
    assert lims.is_connected()
    lims.remove_user("alice")
    assert lims.session_manager is manager
    assert lims.get_active_session() is None
    assert lims.get_session_id() is None
    assert not lims.is_connected()


def test_set_active_session_by_id(lims: MemoryLims) -> None:
    lims.login("alice", "a-pw")
    assert lims.get_session_id() is None
    session = lims.set_active_session_by_id("s2")
    assert session.session_id == "s2" and lims.get_active_session() is session
    assert lims.get_session_id() == "s2"
    assert lims.is_session_already_active("s2") and lims.is_session_already_active(session)
    assert not lims.is_session_already_active("s1")
    with pytest.raises(LimsNoSessionError, match="s3"):
        lims.set_active_session_by_id("s3")  # alice may not use s3
    assert lims.get_session_id() == "s2", "a refused selection keeps the active session"


def test_active_user(lims: MemoryLims) -> None:
    lims.login("alice", "a-pw")
    lims.login("bob", "b-pw")
    assert lims.get_active_user().user_name == "alice"
    lims.set_active_user("bob")
    assert lims.get_active_user().user_name == "bob"
    with pytest.raises(LimsNoSessionError):
        lims.set_active_user("carol")
    lims.remove_user("bob")
    assert lims.get_active_user().user_name == "alice"


def test_wrong_credentials_register_nobody(lims: MemoryLims, signals: list) -> None:
    with pytest.raises(LimsAuthenticationError):
        lims.login("alice", "wrong", False)
    assert lims.session_manager.users == {} and signals == []


def test_samples_are_cached_as_returned_for_mxcubeweb_in_place_edits(lims: MemoryLims) -> None:
    lims.login("alice", "a-pw")
    samples = lims.get_samples("memory")
    assert samples == SAMPLES and samples is lims.samples
    # mxcubeweb's synch_with_lims renames the key in place.
    for sample in samples:
        sample["limsID"] = sample.pop("sampleId")
    assert lims.find_sample_by_sample_id(12) is samples[1]
    assert lims.find_sample_by_sample_id("11") is samples[0]
    assert lims.find_sample_by_sample_id(99) is None


def test_store_data_collection_validates_and_returns_two_ids(lims: MemoryLims) -> None:
    dc = {
        "sessionId": "s1",
        "oscillation_sequence": [{"start": 0.0, "range": 0.1, "number_of_images": 100, "exposure_time": 0.02}],
        "fileinfo": {"directory": "/data/x", "prefix": "lyso", "run_number": 1},
        "status": "Running",
        "site_specific_key": {"kept": True},
    }
    collection_id, detector_id = lims.store_data_collection(dc, None)
    assert (collection_id, detector_id) == (1000, 7)
    kind, (collection, setup) = lims.written[-1]
    assert kind == "data_collection" and setup is None
    assert isinstance(collection, DataCollection)
    assert collection.oscillation_sequence[0].exposure_time == 0.02
    assert collection.to_legacy() == dc


def test_a_bad_collection_dict_is_a_typed_error_and_writes_nothing(lims: MemoryLims) -> None:
    dc = {"oscillation_sequence": [{"exposure_time": "fast"}]}
    with pytest.raises(LimsDataError) as caught:
        lims.update_data_collection(dc)
    assert caught.value.field == "oscillation_sequence[0].exposure_time"
    assert caught.value.value == "fast"
    assert lims.written == []


def test_every_store_method_returns_the_shape_its_callers_unpack(lims: MemoryLims) -> None:
    assert lims._store_data_collection_group({"sessionId": "s1", "experimentType": "OSC"}) == 1000
    assert (
        lims.store_image({"dataCollectionId": 1, "fileName": "x_0001.cbf", "fileLocation": "/d", "imageNumber": 1})
        == 1001
    )
    assert lims.store_robot_action({"actionType": "LOAD", "sessionId": "s1", "status": "SUCCESS"}) == 1002
    assert lims.store_energy_scan({"sessionId": "s1", "element": "Se", "edgeEnergy": "K"}) == {"energyScanId": 1003}
    assert lims.store_xfe_spectrum({"sessionId": "s1", "exposureTime": 1.0}) == {"xfeFluorescenceSpectrumId": 1004}
    assert lims.store_workflow({"workflow_type": "MeshScan", "status": "Started"}) == (1005, 1006, 1007)
    lims.finalize_data_collection({"collection_id": 1000, "status": "Data collection successful"})
    lims.update_bl_sample({"blSampleId": 11, "lastKnownCentringPosition": "phi=0"})
    assert [kind for kind, _ in lims.written] == [
        "data_collection_group",
        "image",
        "robot_action",
        "energy_scan",
        "xfe_spectrum",
        "workflow",
        "data_collection_end",
        "sample_update",
    ]


def test_optional_operations_say_they_are_not_supported(lims: MemoryLims) -> None:
    with pytest.raises(LimsNotSupportedError):
        lims.associate_bl_sample_and_energy_scan({"blSampleId": 1, "energyScanId": 2})
    with pytest.raises(LimsNotSupportedError):
        lims.store_workflow_step({})
    with pytest.raises(LimsNotSupportedError):
        lims.set_image_quality_indicators_plot(1, "/a.png", "/a.csv")
    with pytest.raises(LimsNotSupportedError):
        lims.create_session({"proposalId": 1})


def test_schedule_helpers(lims: MemoryLims) -> None:
    import datetime as dt

    assert lims.is_scheduled_on_host_beamline(" id-demo ")
    assert not lims.is_scheduled_on_host_beamline("ID-OTHER")
    assert lims.is_time_between("2026-01-01", "2026-01-03", dt.date(2026, 1, 3))
    assert not lims.is_time_between("2026-01-01", "2026-01-03", dt.date(2026, 1, 4))
    assert not lims.is_time_between(None, "2026-01-03")


def test_allow_session_accepts_without_error(lims: MemoryLims, caplog: Any) -> None:
    lims.allow_session(Session(session_id="s3", beamline_name="ID-OTHER"))
    assert "s3" in caplog.text


def test_a_user_who_may_not_use_the_active_session_is_refused(lims: MemoryLims, signals: list) -> None:
    lims.login("alice", "a-pw")
    lims.set_active_session_by_id("s1")
    with pytest.raises(LimsNoSessionError, match="s1"):
        lims.login("bob", "b-pw")  # bob has s2 and s3, not the active s1
    assert list(lims.session_manager.users) == ["alice"]
    assert [s.session_id for s in lims.session_manager.sessions] == ["s1", "s2"]
    assert signals == [["s1", "s2"]]


def test_tokens_are_kept_out_of_the_session_manager(lims: MemoryLims) -> None:
    lims.add_user("dave", [Session(session_id="s9")], lims_token="tok-5581")
    assert lims.get_user_token("dave") == "tok-5581"
    assert "tok-5581" not in repr(lims.session_manager)
    assert "tok-5581" not in lims.session_manager.model_dump_json()
    lims.remove_user("dave")
    assert lims.get_user_token("dave") == ""


def test_mxcubecore_attribute_and_method_names_work(lims: MemoryLims, signals: list) -> None:
    class IcatSession:
        name = "erin"

    lims.add_user_and_shared_sessions(IcatSession(), [Session(session_id="s1")])
    assert list(lims.session_manager.users) == ["erin"] and signals == [["s1"]]
    assert [s.session_id for s in lims.sessions] == ["s1"]
    lims.set_active_session_by_id("s1")
    assert lims.active_session is lims.get_active_session()
    assert lims.get_active_lims().name == "memory"
    assert lims.storeEnergyScan({"sessionId": "s1", "element": "Se"}) == {"energyScanId": 1000}


@pytest.mark.parametrize(
    "call, bad",
    [
        (
            "store_robot_action",
            {"actionType": "LOAD", "startTime": "2024-05-01 12:00:00", "endTime": "2024-05-01 10:00:00"},
        ),
        ("store_image", {"dataCollectionId": 1, "imageNumber": "first"}),
        ("update_bl_sample", {"blSampleId": "not-an-id", "lastKnownCentringPosition": 5j}),
    ],
)
def test_calls_mxcubecore_does_not_guard_log_a_bad_dict_instead_of_raising(
    lims: MemoryLims, caplog: Any, call: str, bad: dict
) -> None:
    assert getattr(lims, call)(bad) is None
    assert lims.written == []
    assert f"{call}: record not stored" in caplog.text


def test_a_robot_action_across_the_autumn_clock_change_is_stored(lims: MemoryLims) -> None:
    # Local time went back an hour during the mount: end seems 40 min before start.
    action = {"actionType": "LOAD", "startTime": "2026-10-25 02:50:00", "endTime": "2026-10-25 02:10:00"}
    assert lims.store_robot_action(action) == 1000


def test_unguarded_calls_log_a_lims_error_from_the_backend(lims: MemoryLims, caplog: Any, monkeypatch: Any) -> None:
    from mxcubecore_lims.errors import LimsUnavailableError

    def down(*args: Any) -> None:
        raise LimsUnavailableError("LIMS down", target="http://lims")

    monkeypatch.setattr(lims, "_write_image", down)
    monkeypatch.setattr(lims, "_write_robot_action", down)
    monkeypatch.setattr(lims, "_write_sample_update", down)
    assert lims.store_image({"dataCollectionId": 1, "imageNumber": 1}) is None
    assert lims.store_robot_action({"actionType": "LOAD"}) is None
    assert lims.update_bl_sample({"blSampleId": 3}) is None
    assert caplog.text.count("record not stored: LIMS down") == 3
    # Guarded callers still get the typed error.
    monkeypatch.setattr(lims, "_write_data_collection_update", down)
    with pytest.raises(LimsUnavailableError):
        lims.update_data_collection({"collection_id": 1})


def test_a_sample_update_without_lims_id_stores_nothing(lims: MemoryLims) -> None:
    lims.update_bl_sample({})  # AbstractCollect's default current_lims_sample
    lims.update_bl_sample({"limsID": 12, "lastKnownCentringPosition": "phi=0"})  # renamed by mxcubeweb
    assert [kind for kind, _ in lims.written] == ["sample_update"]
