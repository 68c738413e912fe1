"""What the outbox journal adds to one LIMS write, measured against the same write without it.

A stand-in LIMS (a function that numbers what it gets, after a
``gevent.sleep(0)``, as a request's wait would switch greenlets) is called
alternately, in one process, in rounds:

* ``direct``: the stand-in called as the LIMS object would call its client;
* ``outbox``: the same write through :class:`mxcubecore_lims.outbox.Outbox`
  on a journal file in a temporary directory (journalled, delivered, marked),
  with a status observer attached as the LIMS objects attach one.

The report gives the median time per write of each, and the difference (what
a journalled write costs). Verified first: every write of every round is in
the journal, delivered, with the id the stand-in returned, in order.

Usage::

    .venv/bin/python tools/bench_outbox.py            # 5 rounds of 3,000 writes
    .venv/bin/python tools/bench_outbox.py --quick    # 1 round of 200: a check, not a figure
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from itertools import count
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; 0 when verified and reported, 1 when a check failed."""
    import gevent.monkey

    gevent.monkey.patch_all(thread=False)
    import gevent

    from mxcubecore_lims.outbox import DELIVERED, Delivery, Outbox

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 round of 200 writes")
    parser.add_argument("--json", action="store_true")
    arguments = parser.parse_args(argv)
    writes, rounds = (200, 1) if arguments.quick else (arguments.writes, arguments.rounds)

    numbers = count(1)

    def lims(kind: str, payload: Any, checkpoint: Any = None) -> int:
        gevent.sleep(0)
        return next(numbers)

    payload = {"image": {"dataCollectionId": 5, "fileName": "x_0001.cbf", "fileLocation": "/data/x"}}
    per_write: dict[str, list[float]] = {"direct": [], "outbox": []}
    with tempfile.TemporaryDirectory(prefix="bench_outbox_") as directory:
        box = Outbox(
            Path(directory) / "outbox.sqlite",
            lims,
            {"image": Delivery(refs={"image.dataCollectionId": "collection"}, returns="image")},
            on_change=lambda status: None,
            keep_delivered=10 * writes,
        )
        returned: list[int] = []
        for round_number in range(rounds):
            order = ("direct", "outbox") if round_number % 2 == 0 else ("outbox", "direct")
            for contender in order:
                started = time.perf_counter()
                if contender == "direct":
                    for _ in range(writes):
                        lims("image", payload)
                else:
                    for _ in range(writes):
                        returned.append(box.submit("image", payload))
                per_write[contender].append((time.perf_counter() - started) / writes)
        records = box.records()
        box.close()
    if [r.status for r in records] != [DELIVERED] * len(returned) or [r.result for r in records] != returned:
        print("bench_outbox: refusing to report: the journal does not hold every write, delivered", file=sys.stderr)
        return 1
    direct = statistics.median(per_write["direct"]) * 1e6
    journalled = statistics.median(per_write["outbox"]) * 1e6
    report = {"writes": writes, "rounds": rounds, "direct_us": direct, "outbox_us": journalled}
    if arguments.json:
        print(json.dumps(report))
        return 0
    print(f"Outbox benchmark: {writes} writes per contender and round, {rounds} rounds (medians)")
    print(f"  verified: all {len(returned)} journalled writes delivered, in order, with their ids")
    print(f"  direct call       {direct:8.1f} us per write")
    print(f"  through outbox    {journalled:8.1f} us per write")
    print(f"  journal's cost    {journalled - direct:8.1f} us per write")
    return 0


if __name__ == "__main__":
    sys.exit(main())
