"""The publishing beamline of ``tools/bench_broker.py``, and what the benchmark reads of its processes and LIMS.

Run as a script, this is one beamline (``python tools/bench_broker_route.py
--config DIR --first N --count M --data DIR --investigation ID``): it does what
``python -m mxcubecore_lims.testing.burst publish`` does (load the
configuration gevent-patched, log in, make ``count`` collections with
:func:`mxcubecore_lims.testing.collect_calls.collect`, wait until its journals
have nothing pending), with three differences the benchmark needs:

* after loading and logging in it prints ``{"event": "ready"}`` and waits for
  a line on standard input, so every beamline starts collecting at the same
  moment and the clock leaves the start-up (imports, WSDLs, logins) out;
* it records ``time.time()`` just before each ``finalize_data_collection``
  call (the moment the collection ends at the beamline), through ``collect``'s
  ``timer`` hook;
* its closing line ``{"event": "done", ...}`` carries those times, its
  journals' status, its peak RSS (``VmHWM``) and its CPU seconds since the go.

Everything else it (or mxcubecore) prints goes to standard error: standard
output holds only the JSON lines. The parent side is :class:`PublisherProcess`;
:func:`peak_rss_kib` and :func:`cpu_seconds` read another process's ``/proc``
entry (the ingesters', the broker's), and :func:`percentile` makes the latency
figures. :class:`Watch` polls the emulated ISPyB and ICAT (in the benchmark's
process) for the moment each collection is final in both, and
:func:`lims_problems` checks what they hold at the end.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = [
    "FINAL",
    "IMAGES",
    "PublisherProcess",
    "Watch",
    "collection_number",
    "cpu_seconds",
    "lims_problems",
    "peak_rss_kib",
    "percentile",
]

FINAL = "Data collection successful"
IMAGES = 3


# ------------------------------------------------------------------ /proc and figures


def peak_rss_kib(pid: int | str = "self") -> int | None:
    """The peak resident set size (``VmHWM``) of a running process, in KiB; None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of a running process so far; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command's closing parenthesis, utime and stime are fields 12 and 13 (from 0).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (linear between the closest ranks)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ------------------------------------------------------------------ reading the LIMS back


def collection_number(name: str) -> int | None:
    """Collection number of a file prefix (``c042``) or dataset name (``c042_1``)."""
    try:
        return int(name.split("_", 1)[0][1:])
    except (ValueError, IndexError):
        return None


class Watch:
    """What the emulators hold of each collection, polled: when each was first seen final in ICAT, ISPyB, both."""

    def __init__(self, ispyb: Any, icat: Any, numbers: range) -> None:
        from mxcubecore_lims.testing.collect_calls import wavelength_of

        self.ispyb, self.icat = ispyb, icat
        self.wavelengths = {n: wavelength_of(n) for n in numbers}
        self.icat_at: dict[int, float] = {}
        self.ispyb_at: dict[int, float] = {}
        self.final_at: dict[int, float] = {}

    def poll(self) -> bool:
        """Reads both databases once; True when every collection is final."""
        now = time.time()
        final_ids = {}
        query = 'SELECT "dataCollectionId", "imagePrefix", "runStatus", "wavelength" FROM "DataCollection"'
        for row in self.ispyb.store.query(query):
            number = collection_number(row["imagePrefix"] or "")
            wanted = self.wavelengths.get(number) if number is not None else None
            if row["runStatus"] == FINAL and wanted is not None and abs(float(row["wavelength"] or 0) - wanted) < 1e-9:
                final_ids[row["dataCollectionId"]] = number
        images = self.ispyb.store.query('SELECT "dataCollectionId" AS id, COUNT(*) AS n FROM "Image" GROUP BY 1')
        image_counts = {row["id"]: row["n"] for row in images}
        for dataset in self.icat.store.rows("Dataset"):
            number = collection_number(dataset["name"])
            if number in self.wavelengths and number not in self.icat_at:
                self.icat_at[number] = now
        for collection_id, number in final_ids.items():
            if number not in self.ispyb_at and image_counts.get(collection_id, 0) >= IMAGES:
                self.ispyb_at[number] = now
            if number not in self.final_at and number in self.icat_at and number in self.ispyb_at:
                self.final_at[number] = now
        return len(self.final_at) == len(self.wavelengths)


def lims_problems(ispyb: Any, icat: Any, numbers: range, data: Path) -> list[str]:
    """What is wrong in the emulators' databases: each collection must be there exactly once, final.

    ISPyB: each collection once, final (runStatus, wavelength), in its directory, each of its
    images once and on it; ICAT: each dataset once, with its datafiles and final parameters.
    """
    from mxcubecore_lims.testing.collect_calls import icat_parameters, image_name, prefix_of, wavelength_of

    problems: list[str] = []
    rows = ispyb.store.rows("DataCollection")
    counts = collections.Counter(row["imagePrefix"] for row in rows)
    if sorted(counts.elements()) != sorted(prefix_of(n) for n in numbers):
        twice = sorted(p for p, c in counts.items() if c > 1)[:5]
        problems.append(f"ISPyB: {len(rows)} collections for {len(numbers)}, twice: {twice}")
    by_id = {}
    for row in rows:
        number = collection_number(row["imagePrefix"]) or 0
        by_id[row["dataCollectionId"]] = number
        if row["runStatus"] != FINAL or abs(float(row["wavelength"] or 0) - wavelength_of(number)) > 1e-9:
            problems.append(f"ISPyB: {row['imagePrefix']} not final ({row['runStatus']}, {row['wavelength']})")
        if row["imageDirectory"] != str(data / prefix_of(number)):
            problems.append(f"ISPyB: {row['imagePrefix']} in {row['imageDirectory']}")
    images = ispyb.store.rows("Image")
    expected_images = sorted(image_name(n, i) for n in numbers for i in range(1, IMAGES + 1))
    if sorted(row["fileName"] for row in images) != expected_images:
        problems.append(f"ISPyB: {len(images)} image rows for {len(expected_images)} images (missing or twice)")
    stray = [
        row["fileName"]
        for row in images
        if not row["fileName"].startswith(f"{prefix_of(by_id.get(row['dataCollectionId'], -1))}_")
    ]
    if stray:
        problems.append(f"ISPyB: images on another collection: {stray[:3]}")
    datasets = list(icat.store.rows("Dataset"))
    if sorted(d["name"] for d in datasets) != sorted(f"{prefix_of(n)}_1" for n in numbers):
        problems.append(f"ICAT: {len(datasets)} datasets for {len(numbers)} (missing or twice)")
    for dataset in datasets:
        number = collection_number(dataset["name"]) or 0
        files = sorted(f["name"] for f in icat.store.children("Dataset", dataset["id"], "datafiles"))
        if files != [image_name(number, i) for i in range(1, IMAGES + 1)]:
            problems.append(f"ICAT: {dataset['name']} has datafiles {files}")
        try:
            parameters = icat_parameters(icat, dataset["id"])
        except AssertionError as error:
            problems.append(f"ICAT: {dataset['name']}: {error}")
            continue
        wavelength = parameters.get("MX_wavelength")
        if parameters.get("MX_status") != FINAL or abs(float(wavelength or 0) - wavelength_of(number)) > 1e-9:
            problems.append(f"ICAT: {dataset['name']} not final ({parameters.get('MX_status')}, {wavelength})")
    return problems


# ------------------------------------------------------------------ the parent's side


class PublisherProcess:
    """One beamline process of this module, started, made ready, released and read back.

    Args:
        config: The beamline configuration directory (its journals in it too).
        first: The number of its first collection.
        count: How many collections it makes.
        data: The data directory (one sub-directory per collection).
        investigation: The ICAT investigation id to log in to.
        environment: The process's environment (the broker password in it).
        log: Where its standard error goes.
    """

    def __init__(
        self,
        config: Path,
        *,
        first: int,
        count: int,
        data: Path,
        investigation: str,
        environment: dict[str, str],
        log: Path,
    ) -> None:
        self._log = open(log, "ab")  # closed by result() or kill()
        command = [sys.executable, __file__, "--config", str(config), "--first", str(first), "--count", str(count)]
        command += ["--data", str(data), "--investigation", investigation]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={**environment, "MXCUBECORE_LIMS_STATE_DIR": str(config)},
        )
        self.log = log

    def _event(self, name: str) -> dict[str, Any]:
        assert self.process.stdout is not None
        while line := self.process.stdout.readline():
            if line.startswith(b"{"):
                event = json.loads(line)
                if event.get("event") == name:
                    return dict(event)
        raise RuntimeError(f"the publisher exited ({self.process.wait()}) before {name!r}; see {self.log}")

    def wait_ready(self) -> None:
        """Until it has loaded its configuration and logged in.

        Raises:
            RuntimeError: It exited first.
        """
        self._event("ready")

    def go(self) -> None:
        """Lets it start collecting."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        self.process.stdin.close()

    def result(self, timeout: float) -> dict[str, Any]:
        """Its closing report (``finalize_at`` by collection number, ``outboxes``, ``peak_rss_kib``, ...).

        Raises:
            RuntimeError: It exited without one, or with a status other than 0.
        """
        try:
            done = self._event("done")
            status = self.process.wait(timeout)
        finally:
            self._log.close()
        if status != 0:
            raise RuntimeError(f"the publisher exited {status}; see {self.log}")
        done["finalize_at"] = {int(number): at for number, at in done["finalize_at"].items()}
        return done

    def kill(self) -> None:
        """Kills it if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


# ------------------------------------------------------------------ the beamline process


def _finalize_clock(finalize_at: dict[int, float], number: int) -> Callable[..., Any]:
    """``collect``'s timer: notes the wall clock as finalize is called, and calls."""

    def timed(operation: str, call: Callable[..., Any], *args: Any) -> Any:
        if operation == "finalize":
            finalize_at[number] = time.time()
        return call(*args)

    return timed


def _publish(args: argparse.Namespace, out: IO[str]) -> int:
    from gevent import monkey

    monkey.patch_all(thread=False)  # as mxcubeweb does, before anything else

    from mxcubecore import HardwareRepository as HWR

    from mxcubecore_lims.config.loader import load_beamline
    from mxcubecore_lims.testing.collect_calls import collect, prefix_of

    def report(event: dict[str, Any]) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()

    load_beamline(Path(args.config), strict=True)
    lims = HWR.beamline.lims
    members = list(lims.members().values()) if hasattr(lims, "members") else [lims]
    lims.login("alice", "alice-pw", False)
    session = lims.set_active_session_by_id(args.investigation)
    samples = lims.get_samples("ICAT")
    sample = samples[0] if samples else None
    report({"event": "ready"})
    sys.stdin.readline()  # the go
    started = time.time()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_started = usage.ru_utime + usage.ru_stime
    finalize_at: dict[int, float] = {}
    for number in range(args.first, args.first + args.count):
        directory = Path(args.data) / prefix_of(number)
        directory.mkdir(parents=True, exist_ok=True)
        collect(lims, number, directory, session.session_id, sample=sample, timer=_finalize_clock(finalize_at, number))
    collected = time.time()
    deadline = time.monotonic() + args.drain_timeout
    while any(m.outbox is not None and m.outbox_status()["pending"] for m in members):
        if time.monotonic() > deadline:
            break
        for member in members:
            if member.outbox is not None:
                member.outbox.wait_delivered(0.5)
    drained = time.time()
    statuses = {m.name: m.outbox_status() for m in members}
    for member in members:
        if member.publisher is not None:
            member.publisher.close()
        member.close_outbox()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report(
        {
            "event": "done",
            "started": started,
            "collected": collected,
            "drained": drained,
            "finalize_at": finalize_at,
            "outboxes": statuses,
            "peak_rss_kib": peak_rss_kib(),
            "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu_started,
        }
    )
    return 0 if all(not s.get("pending") and not s.get("failed") for s in statuses.values()) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """One publishing beamline (see the module docstring); its JSON lines on standard output."""
    parser = argparse.ArgumentParser(description="one publishing beamline of tools/bench_broker.py")
    parser.add_argument("--config", required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--data", required=True, help="data directory (one sub-directory per collection)")
    parser.add_argument("--investigation", required=True, help="ICAT investigation id (alice logs in to it)")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    out, sys.stdout = sys.stdout, sys.stderr  # whatever else prints goes to the log
    return _publish(args, out)


if __name__ == "__main__":
    sys.exit(main())
