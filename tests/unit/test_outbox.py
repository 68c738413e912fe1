"""The outbox journal: order, provisional ids, replay, failures, restarts, bounds.

The LIMS here is a small in-memory stand-in that can be switched off: the
journal's logic (what is kept, when, in which order, with which ids) is what
these tests pin. The integration tests replay against the real emulators.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gevent
import pytest

from mxcubecore_lims.errors import LimsDataError, LimsUnavailableError
from mxcubecore_lims.outbox import Delivery, Outbox, OutboxFullError, is_unavailable

DELIVERIES = {
    "collection": Delivery(returns=("collection", None)),
    "update": Delivery(refs={"collection_id": "collection"}),
    "image": Delivery(refs={"image.dataCollectionId": "collection"}, returns="image"),
}


class FakeLims:
    """Numbers what it stores; ``up`` False makes every call unreachable."""

    def __init__(self) -> None:
        self.up = True
        self.refuse: set[str] = set()
        self.rows: list[tuple[str, Any]] = []
        self.delay = 0.0

    def __call__(self, kind: str, payload: Any, checkpoint: Any = None) -> Any:
        if self.delay:
            gevent.sleep(self.delay)
        if not self.up:
            raise LimsUnavailableError("switched off")
        if kind in self.refuse:
            raise LimsDataError(kind, "x", 1, "refused")
        self.rows.append((kind, payload))
        new_id = 100 + len(self.rows)
        return (new_id, None) if kind == "collection" else new_id


def make(tmp_path: Path, lims: FakeLims, **kwargs: Any) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite", lims, DELIVERIES, **kwargs)


def test_delivered_at_once_when_the_lims_answers(tmp_path: Path) -> None:
    lims = FakeLims()
    box = make(tmp_path, lims)
    assert box.submit("collection", {"prefix": "a"}) == (101, None)
    assert box.submit("image", {"image": {"dataCollectionId": 101}}) == 102
    status = box.status()
    assert (status.pending, status.failed, status.delivered) == (0, 0, 2)


def test_unreachable_lims_gives_provisional_ids_that_replay_maps(tmp_path: Path) -> None:
    lims = FakeLims()
    box = make(tmp_path, lims)
    lims.up = False
    collection_id, detector = box.submit("collection", {"prefix": "a"})
    assert collection_id < 0 and detector is None
    image_id = box.submit("image", {"image": {"dataCollectionId": collection_id}})
    box.submit("update", {"collection_id": collection_id, "status": "done"})
    assert image_id < 0 and box.status().pending == 3 and lims.rows == []
    lims.up = True
    assert box.replay() == 3
    kinds = [k for k, _ in lims.rows]
    assert kinds == ["collection", "image", "update"]  # in order
    real = box.real_id("collection", collection_id)
    assert lims.rows[1][1]["image"]["dataCollectionId"] == real == 101
    assert lims.rows[2][1]["collection_id"] == real
    assert box.real_id("image", image_id) == 102


def test_a_write_behind_waiting_ones_is_queued_not_sent(tmp_path: Path) -> None:
    lims = FakeLims()
    box = make(tmp_path, lims)
    lims.up = False
    box.submit("collection", {"prefix": "a"})
    lims.up = True
    # The LIMS is back, but order comes first: this one waits its turn.
    assert box.submit("collection", {"prefix": "b"})[0] < 0
    assert lims.rows == []
    box.replay()
    assert [p["prefix"] for _, p in lims.rows] == ["a", "b"]


def test_refused_record_raises_now_and_is_kept_as_failed(tmp_path: Path) -> None:
    lims = FakeLims()
    lims.refuse.add("update")
    box = make(tmp_path, lims)
    with pytest.raises(LimsDataError):
        box.submit("update", {"collection_id": 5})
    failed = box.records("failed")
    assert [r.kind for r in failed] == ["update"] and "refused" in (failed[0].last_error or "")
    assert box.status().failed == 1 and box.status().pending == 0


def test_replay_skips_refused_records_and_their_dependants(tmp_path: Path) -> None:
    lims = FakeLims()
    box = make(tmp_path, lims)
    lims.up = False
    first, _ = box.submit("collection", {"prefix": "a"})
    box.submit("image", {"image": {"dataCollectionId": first}})
    box.submit("collection", {"prefix": "b"})
    lims.up, lims.refuse = True, {"collection"}
    box.replay()
    lims.refuse = set()
    # The image referred to the refused collection: it fails too; nothing is stuck.
    assert box.status().pending == 0 and box.status().failed == 3


def test_journal_survives_a_restart(tmp_path: Path) -> None:
    lims = FakeLims()
    lims.up = False
    box = make(tmp_path, lims)
    collection_id, _ = box.submit("collection", {"prefix": "a", "when": __import__("datetime").datetime(2026, 1, 2, 3)})
    box.submit("image", {"image": {"dataCollectionId": collection_id}})
    box.close()
    lims.up = True
    again = make(tmp_path, lims)
    assert again.status().pending == 2
    assert again.replay() == 2
    # Datetimes come back as datetimes.
    assert lims.rows[0][1]["when"].year == 2026
    assert again.real_id("collection", collection_id) == 101


def test_background_replay_with_backoff_and_status_signal(tmp_path: Path) -> None:
    lims = FakeLims()
    seen: list[int] = []
    box = make(tmp_path, lims, backoff=(0.05, 0.2), on_change=lambda s: seen.append(s.pending))
    box.start()
    lims.up = False
    box.submit("collection", {"prefix": "a"})
    gevent.sleep(0.3)
    assert box.status().pending == 1 and box.status().next_attempt is not None
    lims.up = True
    assert box.wait_delivered(5.0)
    assert seen[0] == 1 and seen[-1] == 0
    box.close()


def test_a_slow_lims_does_not_hold_the_caller_and_is_never_sent_twice(tmp_path: Path) -> None:
    lims = FakeLims()
    lims.delay = 0.5
    box = make(tmp_path, lims, call_timeout=0.1)
    started = gevent.get_hub().loop.now()
    provisional, _ = box.submit("collection", {"prefix": "slow"})
    assert provisional < 0 and gevent.get_hub().loop.now() - started < 0.4
    # A replay while the request is on its way sends nothing more.
    assert box.replay() == 0 and box.status().pending == 1
    gevent.sleep(0.7)
    assert box.status().pending == 0 and len(lims.rows) == 1
    assert box.real_id("collection", provisional) == 101
    assert box.replay() == 0 and len(lims.rows) == 1


def test_pending_records_are_never_dropped_when_full(tmp_path: Path) -> None:
    lims = FakeLims()
    lims.up = False
    box = make(tmp_path, lims, max_pending=2)
    box.submit("update", {"collection_id": 1})
    box.submit("update", {"collection_id": 2})
    with pytest.raises(OutboxFullError):
        box.submit("update", {"collection_id": 3})
    assert box.status().pending == 2


def test_delivered_records_are_pruned(tmp_path: Path) -> None:
    lims = FakeLims()
    box = make(tmp_path, lims, keep_delivered=3)
    for number in range(10):
        box.submit("update", {"collection_id": number})
    assert 3 <= len(box.records("delivered")) <= 6 and box.status().delivered == 10
    box.prune()
    kept = box.records("delivered")
    assert [r.payload["collection_id"] for r in kept] == [7, 8, 9]  # the latest ones


def test_unreadable_journal_is_a_typed_error(tmp_path: Path) -> None:
    from mxcubecore_lims.outbox import OutboxError

    (tmp_path / "outbox.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(OutboxError, match=r"outbox\.sqlite"):
        make(tmp_path, FakeLims())


def test_unavailability_is_found_in_the_cause_chain() -> None:
    try:
        try:
            raise ConnectionRefusedError("refused")
        except ConnectionRefusedError as inner:
            raise RuntimeError("upload failed") from inner
    except RuntimeError as outer:
        assert is_unavailable(outer)
    assert not is_unavailable(LimsDataError("X", "y", 1, "bad"))


def test_a_retry_resumes_from_the_saved_steps(tmp_path: Path) -> None:
    calls: list[tuple[int, Any]] = []

    def two_steps(kind: str, payload: Any, checkpoint: Any) -> Any:
        calls.append((checkpoint.previous_attempts, dict(checkpoint.data)))
        if checkpoint.get("first") is None:
            checkpoint.save("first", 7)
        if len(calls) == 1:
            raise LimsUnavailableError("gone after the first step")
        return (checkpoint.get("first") * 10, None)

    box = Outbox(tmp_path / "outbox.sqlite", two_steps, DELIVERIES)
    assert box.submit("collection", {"prefix": "a"})[0] < 0
    box.close()
    # A new process: the step saved before the outage is still known.
    again = Outbox(tmp_path / "outbox.sqlite", two_steps, DELIVERIES)
    assert again.replay() == 1
    assert calls == [(0, {}), (1, {"first": 7})]
    assert again.records("delivered")[0].result == [70, None]


def test_a_killed_caller_does_not_jam_the_journal(tmp_path: Path) -> None:
    lims = FakeLims()
    lims.delay = 0.3
    box = make(tmp_path, lims, call_timeout=5.0)
    box.start()
    caller = gevent.spawn(box.submit, "collection", {"prefix": "aborted"})
    gevent.sleep(0.1)
    caller.kill()  # an aborted collection: the request is on its way
    assert box.wait_delivered(5.0)
    assert len(lims.rows) == 1 and box.records("delivered")[0].attempts == 1
    # The journal goes on at once.
    assert box.submit("collection", {"prefix": "next"}) == (102, None)
    box.close()


def test_overlapping_writes_to_a_healthy_lims_get_real_ids(tmp_path: Path) -> None:
    lims = FakeLims()
    lims.delay = 0.05
    box = make(tmp_path, lims, call_timeout=2.0)
    box.start()
    results = [r.get() for r in [gevent.spawn(box.submit, "collection", {"n": n}) for n in range(6)]]
    assert all(collection_id > 0 for collection_id, _ in results)
    assert box.status().deferred == 0 and box.status().pending == 0
    box.close()


def test_provisional_ids_stay_clear_of_producers_minus_one(tmp_path: Path) -> None:
    lims = FakeLims()
    box = make(tmp_path, lims)
    lims.up = False
    provisional, _ = box.submit("collection", {"prefix": "a"})
    assert provisional <= -1_000_000_000
    box.submit("update", {"collection_id": -1})  # a producer's "none", not ours
    lims.up = True
    box.replay()
    assert lims.rows[-1] == ("update", {"collection_id": -1})


def test_one_journal_has_one_deliverer(tmp_path: Path) -> None:
    import fcntl

    from mxcubecore_lims.outbox import OutboxError

    box = make(tmp_path, FakeLims())
    # Another process holding the journal (its lock file, exclusively).
    with open(tmp_path / "outbox.sqlite.lock", "a+") as other_process:
        fcntl.flock(other_process, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(OutboxError, match="in use by another process"):
            box.replay()
        fcntl.flock(other_process, fcntl.LOCK_UN)
    assert box.replay() == 0  # free again
    box.close()


def test_an_object_loaded_again_in_this_process_takes_the_journal_over(tmp_path: Path) -> None:
    lims = FakeLims()
    first = make(tmp_path, lims)
    first.start()
    second = make(tmp_path, lims)
    second.start()  # the configuration was loaded again: the old object lets go
    assert first._closed
    assert second.submit("update", {"collection_id": 1}) == 101 and len(lims.rows) == 1
    second.close()
