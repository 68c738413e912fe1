"""The session record built through our LIMS objects, against the emulated ICAT and ISPyB over loopback.

What the record holds is checked against the emulators' rows and the outbox
journal: every collection and image, what still waits (with why), the
provisional ids shown as what they became, the robot actions, and what could
not be read when the LIMS does not answer or the session does not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gevent
import pytest
from test_icat_lims import alice_on_mx415, collect, collection_dict, investigation_id
from test_mxlims_ispyb import mx415

from mxcubecore_lims.record.builder import build_record
from mxcubecore_lims.record.writer import record_files

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]


def _icat_collections(server: Any, investigation: str) -> list[dict[str, Any]]:
    wanted = int(investigation_id(server, investigation))
    return [d for d in server.store.rows("Dataset") if d["investigation"] == wanted]


def test_an_icat_record_holds_every_collection_image_snapshot_and_mount(tmp_path: Path, icat_server: Any) -> None:
    lims, session, samples = alice_on_mx415(tmp_path, icat_server)
    for number, sample in enumerate(samples[:2], start=1):
        folder = tmp_path / f"c{number}"
        folder.mkdir()
        (folder / "snapshot_1.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
        collect(lims, collection_dict(folder, sample, session.session_id, prefix=f"s{number}"), images=3)
    lims.store_robot_action(
        {
            "actionType": "LOAD",
            "sampleId": samples[0]["sampleId"],
            "sessionId": session.session_id,
            "startTime": "2026-11-23 06:58:00",
            "endTime": "2026-11-23 06:59:00",
            "status": "SUCCESS",
        }
    )

    record = build_record(lims)

    rows = _icat_collections(icat_server, "MX-415")
    assert sorted(s.lims_id for s in record.collections) == sorted(str(r["id"]) for r in rows)
    for sweep in record.collections:
        files = [f["location"] for f in icat_server.store.children("Dataset", int(sweep.lims_id), "datafiles")]
        assert sorted(sweep.images) == sorted(files) and len(files) == 3
    assert record.reading is not None and record.reading.users  # alice is on MX-415
    shots = {k: v for k, v in record.snapshots.items() if v}
    assert all(Path(p).name == "snapshot_1.jpg" for paths in shots.values() for p in paths) and len(shots) == 2
    assert [(e.action, e.status) for e in record.robot_events] == [("LOAD", "SUCCESS")]
    assert "robot actions" in record.problems  # ICAT cannot give them back: the record says so
    assert record.pending == []
    kinds = [e.kind for e in record.timeline()]
    assert kinds.count("collection") == len(record.collections) and "mount" in kinds


def test_an_esrflims_record_shows_what_ispyb_does_not_hold_yet(
    tmp_path: Path, icat_server: Any, ispyb_server: Any
) -> None:
    from test_esrf_lims import alice_on_mx415 as esrf_alice_on_mx415
    from test_esrf_lims import collect as esrf_collect
    from test_esrf_lims import collection_dict as esrf_collection_dict

    lims, session = esrf_alice_on_mx415(tmp_path, icat_server, ispyb_server)
    samples = lims.get_samples("ICAT")
    esrf_collect(lims, esrf_collection_dict(tmp_path / "a", samples[0], session.session_id, "a"))
    ispyb_server.stop()  # ISPyB away for the rest: its copies wait; ICAT has everything
    esrf_collect(lims, esrf_collection_dict(tmp_path / "b", samples[1], session.session_id, "b"))

    record = build_record(lims)

    assert record.lims == "ICAT, ISPyB"
    assert sorted(s.prefix for s in record.collections) == ["a", "b"]  # read from ICAT, the authority
    waiting = [e for e in record.pending if e.lims == "ispyb"]
    assert waiting and all(e.status == "pending" for e in waiting)
    assert any(e.summary == "data collection b_1" for e in waiting)
    assert all("ISPyB did not answer" in (e.error or "") for e in waiting if e.error)
    assert not [e for e in record.pending if e.lims == "icat"]
    ispyb_server.start()


def test_an_ispyb_record_shows_provisional_ids_as_delivered(tmp_path: Path, ispyb_server: Any) -> None:
    from test_mxlims_ispyb import _collect

    from mxcubecore_lims.testing.mxlims_shipments import pin_shipment

    lims, session = mx415(tmp_path, ispyb_server, outbox_retry_max="0.2", outbox_call_timeout="2")
    lims.import_mxlims(pin_shipment("MX415", pucks=1, first_position=3))
    samples = [s for s in lims.get_samples("ISPyB") if "shipment-P" in str(s["sampleName"])]
    _collect(lims, session.session_id, samples[0], "first")
    ispyb_server.stop()
    provisional = _collect(lims, session.session_id, samples[1], "second")
    assert provisional < 0  # ISPyB away: the caller got a provisional id
    ispyb_server.start()
    assert lims.outbox.wait_delivered(30.0)

    record = build_record(lims)

    real = lims.outbox.real_id("collection", provisional)
    assert real is not None
    mapped = [d for d in record.delivered_ids if d.kind == "collection" and d.provisional == provisional]
    assert [d.real for d in mapped] == [real]
    assert {s.lims_id for s in record.collections} == {
        str(r["dataCollectionId"]) for r in ispyb_server.store.rows("DataCollection")
    }
    assert str(real) in {s.lims_id for s in record.collections}
    assert not record.pending
    assert any(e.kind == "replay" for e in record.timeline())  # what waited is shown as replayed


def test_a_session_that_does_not_exist_is_a_record_that_says_so(tmp_path: Path, icat_server: Any) -> None:
    lims, _, _ = alice_on_mx415(tmp_path, icat_server)
    record = build_record(lims, "999999")
    assert record.reading is None and record.collections == []
    assert "no such investigation" in record.problems["LIMS"]


def test_a_lims_that_does_not_answer_is_a_record_that_says_so(tmp_path: Path, icat_server: Any) -> None:
    lims, session, _ = alice_on_mx415(tmp_path, icat_server)
    icat_server.stop()
    record = build_record(lims, session.session_id)
    assert record.reading is None
    assert "could not be read" in record.problems["LIMS"] and "Unavailable" in record.problems["LIMS"]


def test_the_record_is_written_when_the_last_user_logs_out_without_waiting(tmp_path: Path, icat_server: Any) -> None:
    out = tmp_path / "records"
    lims, session, samples = alice_on_mx415(
        tmp_path, icat_server, session_record="true", session_record_directory=str(out)
    )
    folder = tmp_path / "c1"
    folder.mkdir()
    collect(lims, collection_dict(folder, samples[0], session.session_id, prefix="night"), images=2)
    assert lims.remove_user("alice")  # returns at once: the record is built in the background
    (task,) = lims.session_record_tasks
    assert not task.ready()
    written = task.get(timeout=60)
    report, results = record_files(out, session.session_id)
    assert written == [report, results]
    text = report.read_text(encoding="utf-8")
    assert "night_1" in text
    assert "night_1" in results.read_text(encoding="utf-8")
    # The ICAT login was kept for the record, then ended.
    assert lims.gateway is not None
    for _ in range(100):
        if lims.gateway.user("alice") is None:
            break
        gevent.sleep(0.05)
    assert lims.gateway.user("alice") is None


def test_the_record_command_writes_the_report_of_a_session_another_process_collected(
    tmp_path: Path, icat_server: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mxcubecore import HardwareRepository as HWR
    from test_icat_lims import make_lims

    from mxcubecore_lims.cli import main

    for part in ("beamline", "office"):
        (tmp_path / part).mkdir()
    lims, session, samples = alice_on_mx415(tmp_path / "beamline", icat_server)
    folder = tmp_path / "c1"
    folder.mkdir()
    collect(lims, collection_dict(folder, samples[0], session.session_id, prefix="office"), images=2)
    HWR.uninit_hardware_repository()
    make_lims(tmp_path / "office", icat_server, outbox_file=str(tmp_path / "office.sqlite"))
    HWR.uninit_hardware_repository()
    monkeypatch.setenv("MXCUBECORE_LIMS_PASSWORD", "alice-pw")
    report, results = tmp_path / "out" / "record.html", tmp_path / "out" / "results.json"
    argv = ["record", "--config", str(tmp_path / "office"), "--user", "alice", "--session", session.session_id]
    assert main([*argv, "-o", str(report), "--mxlims", str(results)]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == [str(report), str(results)]
    assert "robot actions" in captured.err  # what ICAT cannot give back is said
    assert "office_1" in report.read_text(encoding="utf-8")
    assert main(["mxlims", "validate", str(results)]) == 0
    assert "alice-pw" not in report.read_text(encoding="utf-8") + captured.out + captured.err
    monkeypatch.setenv("MXCUBECORE_LIMS_PASSWORD", "wrong")
    assert main([*argv, "-o", str(report)]) == 1


def test_looking_at_the_journals_leaves_replay_on_for_objects_loaded_later() -> None:
    from mxcubecore_lims.HardwareObjects.AbstractLims import AbstractLims

    with AbstractLims.replay_off():
        assert AbstractLims.auto_replay is False
    assert AbstractLims.auto_replay is True  # the record command used to switch it off for good
