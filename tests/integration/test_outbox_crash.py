"""A process killed while it writes: what its journal keeps, and what the next process does with it.

The journal commits once per record: the record (with its first attempt
counted) before it is sent, and the delivered mark of the record before it in
the same commit (or on its own after a short quiet spell). A SIGKILL may
therefore lose delivered marks, never a record; a record whose mark was lost
is pending again with its attempt counted, so its retry looks up what it stored.
These tests kill a real writing process (``python -c`` over a real journal
file) and open the journal again here.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from mxcubecore_lims.outbox import DELIVERED, PENDING, Checkpoint, Delivery, Outbox
from mxcubecore_lims.outbox.delivery import MARK_COMMIT_DELAY

DELIVERIES = {"image": Delivery(returns="image")}

# The writer: journals and delivers images to a stand-in LIMS that numbers them,
# prints each returned id, then (with a pause first, or not) waits to be killed.
WRITER = textwrap.dedent(
    """
    import sys, time
    import gevent.monkey; gevent.monkey.patch_all(thread=False)
    import gevent
    from mxcubecore_lims.outbox import Delivery, Outbox
    numbers = iter(range(1, 10**9))
    box = Outbox(sys.argv[1], lambda kind, payload, checkpoint: next(numbers), {"image": Delivery(returns="image")})
    for index in range(int(sys.argv[2])):
        print(box.submit("image", {"index": index}), flush=True)
    gevent.sleep(float(sys.argv[3]))
    print("idle", flush=True)
    time.sleep(60)
    """
)


def write_then_kill(journal: Path, writes: int, pause: float) -> list[str]:
    """Runs the writer until it says it is idle, kills it with SIGKILL; its output lines."""
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(journal), str(writes), str(pause)],
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None
        lines = []
        for line in writer.stdout:
            lines.append(line.strip())
            if line.strip() == "idle":
                break
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    assert lines[-1] == "idle", lines[-3:]
    return lines[:-1]


def reopen(journal: Path, seen: list[Checkpoint]) -> Outbox:
    def deliver(kind: str, payload: Any, checkpoint: Checkpoint) -> Any:
        seen.append(checkpoint)
        return 10_000 + payload["index"]

    return Outbox(journal, deliver, DELIVERIES)


def test_a_killed_writer_loses_no_record_and_a_lost_mark_is_retried_as_attempted(tmp_path: Path) -> None:
    """Killed right after its last write: every record is there; only the last mark may be missing."""
    journal = tmp_path / "outbox.sqlite"
    ids = write_then_kill(journal, 300, pause=0.0)
    assert ids == [str(n) for n in range(1, 301)], "every write was delivered at once"

    seen: list[Checkpoint] = []
    box = reopen(journal, seen)
    records = box.records()
    assert [r.payload["index"] for r in records] == list(range(300)), "no record lost, none twice"
    pending = [r for r in records if r.status == PENDING]
    # In a stream each mark shares the next record's commit: only the last can be missing.
    assert [r.payload["index"] for r in pending] in ([], [299])
    assert all(r.attempts == 1 for r in records), "each attempt was counted before its request"
    assert all(r.status == DELIVERED for r in records if r not in pending)

    assert box.replay() == len(pending)
    assert [c.previous_attempts for c in seen] == [1] * len(pending), "the retry knows it may have been stored"
    assert box.status().pending == 0
    box.close()


def test_a_writer_killed_after_a_quiet_spell_has_every_mark_kept(tmp_path: Path) -> None:
    """After MARK_COMMIT_DELAY without writes the waiting mark is committed on its own."""
    journal = tmp_path / "outbox.sqlite"
    write_then_kill(journal, 20, pause=MARK_COMMIT_DELAY * 10)
    seen: list[Checkpoint] = []
    box = reopen(journal, seen)
    assert [r.status for r in box.records()] == [DELIVERED] * 20
    assert box.replay() == 0
    assert seen == []
    box.close()


def test_a_closed_journal_keeps_every_mark(tmp_path: Path) -> None:
    """close() commits the marks that wait (a clean MXCuBE stop re-sends nothing)."""
    journal = tmp_path / "outbox.sqlite"
    numbers = iter(range(1, 100))
    box = Outbox(journal, lambda kind, payload, checkpoint: next(numbers), DELIVERIES)
    assert [box.submit("image", {"index": i}) for i in range(5)] == [1, 2, 3, 4, 5]
    box.close()
    seen: list[Checkpoint] = []
    again = reopen(journal, seen)
    assert again.status().pending == 0
    assert again.replay() == 0 and seen == []
    again.close()
