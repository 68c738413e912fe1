"""The session record builder on recorded LIMS rows and a real outbox journal (with faults).

The LIMS object here is a stand-in that hands back a recorded reading (the
builder's logic is what is tested); the journal is a real Outbox on a file,
fed by a LIMS that refuses one write and is away for others.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from mxcubecore_lims.errors import LimsDataError, LimsUnavailableError
from mxcubecore_lims.lims.outbox_wiring import DELIVERIES
from mxcubecore_lims.model.session import Lims, Session
from mxcubecore_lims.mxlims.reading import SessionInfo, SessionReading, SessionSweep
from mxcubecore_lims.outbox import Outbox
from mxcubecore_lims.record.builder import build_record

INFO = SessionInfo("42", "mx415", "ID-DEMO", "esrf.fr", "ISPyB")


class RecordedLims:
    """Answers ``read_session`` with recorded rows; writes go through a real outbox."""

    name = "ispyb"

    def __init__(self, tmp_path: Path, reading: SessionReading | Exception) -> None:
        self.reading = reading
        self.up = True
        self.refuse: set[str] = set()
        self.stored = 0
        self.outbox = Outbox(tmp_path / "journal.sqlite", self._deliver, DELIVERIES, backoff=(60.0, 60.0))
        self.session_manager = type("SM", (), {"active_session": Session(session_id="42")})()
        self.by_id: dict[str, SessionSweep] = {}

    def _deliver(self, kind: str, payload: Any, checkpoint: Any = None) -> Any:
        if not self.up:
            raise LimsUnavailableError("ISPyB did not answer (switched off)")
        if kind in self.refuse:
            raise LimsDataError(kind, "sessionId", 42, "refused by the LIMS")
        self.stored += 1
        return (self.stored, None) if kind == "data_collection" else self.stored

    def get_lims_name(self) -> list[Lims]:
        return [Lims(name="ISPyB", description="recorded")]

    def read_session(self, session_id: str | None = None, as_user: str | None = None) -> SessionReading:
        if isinstance(self.reading, Exception):
            raise self.reading
        return self.reading

    def read_collections(self, ids: list[str]) -> list[SessionSweep]:
        return [self.by_id[i] for i in ids if i in self.by_id]


def collection(prefix: str, directory: Path, **extra: Any) -> dict[str, Any]:
    return {
        "collection": {
            "sessionId": "42",
            "fileinfo": {"prefix": prefix, "run_number": 1, "directory": str(directory)},
            **extra,
        }
    }


def test_the_record_joins_the_lims_rows_with_what_the_journal_holds(tmp_path: Path) -> None:
    listed = SessionSweep(lims_id="1", prefix="a", run_number=1, start=datetime(2026, 12, 3, 22, 0))
    lims = RecordedLims(tmp_path, SessionReading(INFO, sweeps=[listed], unread={"robot actions": "cannot list"}))
    shot = tmp_path / "b_snapshot.jpg"
    shot.write_bytes(b"jpeg")
    assert lims.outbox.submit("data_collection", collection("a", tmp_path)) == (1, None)
    lims.up = False
    provisional = lims.outbox.submit("data_collection", collection("b", tmp_path, xtalSnapshotFullPath1=str(shot)))
    image = {"image": {"dataCollectionId": provisional[0], "fileName": "b_1_00001.cbf", "fileLocation": "/data/b"}}
    lims.outbox.submit("image", image)
    lims.outbox.submit("robot_action", {"action": {"actionType": "LOAD", "sessionId": "42", "status": "SUCCESS"}})
    lims.outbox.submit("data_collection", collection("elsewhere", tmp_path, sessionId="7"))  # another session
    lims.up = True
    assert lims.outbox.replay() == 4
    lims.refuse = {"data_collection_end"}
    try:
        lims.outbox.submit("data_collection_end", collection("a", tmp_path, collection_id=1))
    except LimsDataError:
        pass  # refused now, kept as failed
    lims.up = False
    lims.outbox.submit("data_collection_update", collection("c", tmp_path, collection_id=99))
    # ISPyB cannot list "b": read back by the id the journal knows.
    lims.by_id["2"] = SessionSweep(lims_id="2", prefix="b", run_number=1, start=datetime(2026, 12, 3, 22, 5))

    record = build_record(lims)

    assert [s.lims_id for s in record.collections] == ["1", "2"]
    (b_sweep,) = [s for s in record.collections if s.lims_id == "2"]
    assert b_sweep.images == ("/data/b/b_1_00001.cbf",)  # from the journal: SOAP cannot read images
    assert [(d.kind, d.provisional, d.real) for d in record.delivered_ids if d.kind == "collection"] == [
        ("collection", provisional[0], 2)
    ]
    assert {(e.kind, e.status) for e in record.pending} == {
        ("data_collection_end", "failed"),
        ("data_collection_update", "pending"),
    }
    (failed,) = [e for e in record.pending if e.status == "failed"]
    assert "refused by the LIMS" in (failed.error or "") and failed.summary == "data collection end a_1"
    assert all("elsewhere" not in e.summary for e in record.pending + record.replayed)
    assert [r.action for r in record.robot_events] == ["LOAD"]
    assert record.snapshots == {"2": [str(shot)]}
    assert record.problems == {"robot actions": "cannot list"}
    lims.outbox.close()


def test_a_lims_that_fails_leaves_the_journal_part_of_the_record(tmp_path: Path) -> None:
    lims = RecordedLims(tmp_path, LimsUnavailableError("ISPyB did not answer"))
    lims.up = False
    lims.outbox.submit("data_collection", collection("a", tmp_path))
    record = build_record(lims, "42")
    assert record.reading is None and record.collections == []
    assert "ISPyB did not answer" in record.problems["LIMS"]
    assert [e.summary for e in record.pending] == ["data collection a_1"]
    lims.outbox.close()


def test_a_collection_with_missing_fields_and_no_session_are_kept_not_raised(tmp_path: Path) -> None:
    bare = SessionSweep(lims_id="5")  # nothing but its id
    lims = RecordedLims(tmp_path, SessionReading(INFO, sweeps=[bare]))
    lims.outbox.submit("data_collection", {"collection": {"sessionId": "42"}})  # no file info at all
    record = build_record(lims)
    assert [s.lims_id for s in record.collections] == ["5"]
    assert [e.kind for e in record.timeline()] == []  # no start time: not on the timeline, still in the table
    lims.session_manager.active_session = None
    assert build_record(lims).problems == {"session": "no session given and none active"}
    lims.outbox.close()
