"""One consumer per LIMS in one ingester process: ISPyB's writes never queue behind ICAT's datasets.

An ICAT dataset costs an ingester about fifteen times an ISPyB write
(python-icat's SOAP), so a single consumer of both queues writes ISPyB at
ICAT's pace. :class:`Lanes` runs one :class:`~mxcubecore_lims.ingest.worker.Ingester`
per queue, each with its own broker connection and writer, the ISPyB one in
the main thread and the ICAT one in a thread of its own; SIGTERM stops both.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from mxcubecore_lims.ingest.worker import Ingester, IngestStats

__all__ = ["Lanes"]


class Lanes:
    """Several consumers of one ingester process, stopped together.

    Args:
        lanes: The consumers, each built with ``stopping`` = :attr:`stopping`.
        stopping: Their shared stop event.
    """

    def __init__(self, lanes: list[Ingester], stopping: threading.Event) -> None:
        self.lanes = lanes
        self.stopping = stopping
        #: Whatever must live as long as the ingester (the loaded ISPyB object graph).
        self.keep_alive: Any = None

    def stop(self, *_: object) -> None:
        """Asks every consumer to end after its message in hand."""
        for lane in self.lanes:
            lane.stop()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop every consumer cleanly."""

        def handler(signum: int, frame: FrameType | None) -> None:
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def run(self, max_messages: int | None = None) -> IngestStats:
        """Runs every consumer until stopped; their statistics added up.

        Raises:
            Exception: What a consumer raised (a refused login); the others are stopped first.
        """
        failures: list[BaseException] = []

        def run_lane(lane: Ingester) -> None:
            try:
                lane.run(max_messages)
            except BaseException as error:
                failures.append(error)
                self.stop()

        threads = [threading.Thread(target=run_lane, args=(lane,), name=lane.name) for lane in self.lanes[1:]]
        for thread in threads:
            thread.start()
        run_lane(self.lanes[0])
        for thread in threads:
            thread.join()
        if failures:
            raise failures[0]
        total = IngestStats()
        for lane in self.lanes:
            total.written += lane.stats.written
            total.dead_lettered += lane.stats.dead_lettered
            total.retried += lane.stats.retried
            total.reconnects += lane.stats.reconnects
            total.by_queue.update(lane.stats.by_queue)
        return total
