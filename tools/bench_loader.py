"""Benchmarks our configuration loader against mxcubecore's on one large beamline.

The script writes one generated beamline configuration into a temporary
directory and loads it, in one process, alternately with mxcubecore's own
loader (``mxcubecore.HardwareRepository.init_hardware_repository``) and with
ours (``mxcubecore_lims.config.loader.load_beamline``). It reports the median
load time and the median peak memory of each, and the ratios ours/mxcubecore
(of the medians; for time also the median of the per-round ratios, which
holds up better when other processes load the machine).

The generated configuration mixes formats as mxcubecore supports them: a
``beamline.yaml`` whose ``objects:`` map roles to ``.xml`` and ``.yaml`` files,
YAML objects with nested ``objects:``, XML objects referencing other XML files
with ``<object href="/name" role="..."/>``, and properties that are strings,
numbers, booleans, lists, YAML mappings and nested XML complex properties.
Only cheap stock classes are used (``Beamline``, ``Session`` and the
``MotorMockup``, ``EnergyMockup``, ``ShutterMockup`` and ``TransmissionMockup``
mockups), none of which starts a greenlet or touches a device while loading,
so a load is deterministic and costs only what the loader itself does.

Method:

* ``gevent.monkey.patch_all(thread=False)`` first, as mxcubecore does.
* One warm-up load with each loader (imports and class caches are filled).
* ``--repeat`` rounds; each round loads with both loaders, once timed
  (``time.perf_counter``) and once traced (``tracemalloc`` started and stopped
  around the load, peak reported). Time and memory come from separate loads
  because tracing slows every allocation, which would inflate the time of
  whichever loader allocates more. The order of the loaders flips every round
  so that neither always runs on a heap the other just left.
* ``gc.collect()`` before each load; the repository is unloaded after each.
  The warm-up also refuses a loader that leaves greenlets running.
* mxcubecore's loader prints a table and logs at INFO: during every load
  stdout is redirected, the ``HWR``, ``user_level_log`` and ``mxcubecore_lims``
  loggers are raised above CRITICAL and Python warnings are ignored, the same
  way for both loaders.
* mxcubecore's loader logs failures instead of raising. After every load the
  graph is walked from the beamline (role by role) and checked against the
  generated plan: each object must be there with the right class and its
  configured ``username``, and must be registered in
  ``HWR.get_hardware_repository().hardware_objects``. If either loader built
  fewer objects than were generated, the script refuses to report (exit 1).

Usage::

    .venv/bin/python tools/bench_loader.py                 # 240 objects, 5 rounds
    .venv/bin/python tools/bench_loader.py --objects 400 --repeat 9
    .venv/bin/python tools/bench_loader.py --json          # machine-readable
    .venv/bin/python tools/bench_loader.py --keep /tmp/cfg # keep the files
    .venv/bin/python tools/bench_loader.py --profile 25    # + cProfile of ours
    .venv/bin/python tools/bench_loader.py --quick         # 60 objects, 2 rounds: a check, not a figure

Exit status: 0 when both loaders built every object and the report was
printed; 1 when a loader built fewer objects (nothing is reported); 2 for
bad arguments.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import platform
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# tools/ on the path: the harness is found however this script is loaded.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loader_config import MIN_OBJECTS, MOTOR, Plan, PlannedObject, generate_config
from bench_loader_loaders import (
    LoaderUnderTest,
    _mxcubecore_loader,
    _our_loader,
    recorded,
    silenced,
    verify,
)
from benchlib import (
    MIB,
    RefusedError,
    argument_parser,
    at_least,
    format_ratio,
    measure,
    paired_median,
    parse_with_quick,
    profile_text,
    ratio,
    run,
    schedule,
    small_note,
    table_row,
    versions,
)

# What the tests and other tools reach through this script.
__all__ = [
    "MIN_OBJECTS",
    "MOTOR",
    "LoaderUnderTest",
    "PlannedObject",
    "RefusedError",
    "Samples",
    "_our_loader",
    "generate_config",
    "main",
    "parse_arguments",
    "silenced",
    "verify",
    "warm_up",
]

#: Below this size a result is not representative of a real beamline.
REPRESENTATIVE_OBJECTS = 200
DEFAULT_OBJECTS = 240
DEFAULT_REPEAT = 5
#: ``--quick``: a check that everything works, not a figure to quote.
QUICK = {"objects": 60, "repeat": 2}


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


@dataclass
class Samples:
    """Measurements of one loader.

    Attributes:
        seconds: Wall time of each timed load.
        peak_bytes: tracemalloc peak of each traced load.
        loaded: Smallest number of correctly built objects over all loads.
    """

    seconds: list[float] = field(default_factory=list)
    peak_bytes: list[int] = field(default_factory=list)
    loaded: int | None = None


def _check(loader: LoaderUnderTest, plan: Plan, handle: Any, samples: Samples, log: str = "") -> None:
    result = verify(plan, loader.beamline(handle))
    samples.loaded = result.loaded if samples.loaded is None else min(samples.loaded, result.loaded)
    if result.problems:
        shown = "\n  ".join(result.problems[:15])
        more = f"\n  ... and {len(result.problems) - 15} more" if len(result.problems) > 15 else ""
        raise RefusedError(
            f"{loader.label} loader built {result.loaded} of {len(plan.objects)} objects correctly:\n  "
            f"{shown}{more}{log}"
        )


def _running_greenlets() -> int:
    """Greenlets spawned and not finished (the hub and the main greenlet are not counted)."""
    import gevent

    return sum(1 for obj in gc.get_objects() if isinstance(obj, gevent.Greenlet) and not obj.dead)


def warm_up(loader: LoaderUnderTest, plan: Plan, samples: Samples) -> None:
    """Loads once, untimed, to import every module; verifies the graph in detail.

    Also refuses a load that leaves greenlets running: they would do work
    during later measurements and make them depend on scheduling.
    """
    gc.collect()
    greenlets_before = _running_greenlets()
    handle = None
    with recorded() as (_stdout, recorder):
        try:
            handle = loader.load(plan.directory)
        except Exception as error:
            raise RefusedError(f"{loader.label} loader failed: {error.__class__.__name__}: {error}") from error
    try:
        log = "".join(f"\n  log: {record.getMessage()}" for record in recorder.records[:10])
        _check(loader, plan, handle, samples, log)
        started = _running_greenlets() - greenlets_before
        if started > 0:
            raise RefusedError(f"{loader.label} loader left {started} greenlets running; loads are not deterministic")
    finally:
        loader.close(handle)
    del handle


def measure_once(loader: LoaderUnderTest, plan: Plan, samples: Samples, traced: bool) -> None:
    """One load: timed, or traced for its peak memory; then verified and unloaded."""
    gc.collect()
    with silenced():
        load = measure(loader.load, plan.directory, traced=traced)
    try:
        _check(loader, plan, load.result, samples)
    finally:
        loader.close(load.result)
    if traced:
        samples.peak_bytes.append(load.peak_bytes or 0)
    else:
        samples.seconds.append(load.seconds)


def run_rounds(loaders: list[LoaderUnderTest], plan: Plan, repeat: int) -> dict[str, Samples]:
    """Warm-up, then ``repeat`` rounds of alternating timed and traced loads."""
    samples = {loader.key: Samples() for loader in loaders}
    for loader in loaders:
        warm_up(loader, plan, samples[loader.key])
    for _round, traced, loader in schedule(loaders, repeat):
        measure_once(loader, plan, samples[loader.key], traced)
    return samples


def profile_ours(plan: Plan, loader: LoaderUnderTest, top: int) -> str:
    """A cProfile of a few loads with our loader, sorted by cumulative time."""
    profiler = cProfile.Profile()
    for _ in range(3):
        gc.collect()
        with silenced():
            profiler.enable()
            handle = loader.load(plan.directory)
            profiler.disable()
        loader.close(handle)
        del handle
    return profile_text(profiler, top, sorts=("cumulative",))


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def summarise(plan: Plan, samples: dict[str, Samples], repeat: int) -> dict[str, Any]:
    """The report as plain data (what ``--json`` prints)."""
    loaders: dict[str, Any] = {}
    for key, sample in samples.items():
        loaders[key] = {
            "median_seconds": statistics.median(sample.seconds),
            "median_peak_bytes": statistics.median(sample.peak_bytes),
            "seconds": sample.seconds,
            "peak_bytes": sample.peak_bytes,
            "objects_loaded": sample.loaded,
        }
    ours, theirs = loaders["ours"], loaders["mxcubecore"]
    return {
        "objects": len(plan.objects),
        "files": {"xml": plan.count("xml"), "yaml": plan.count("yaml")},
        "nested_in_yaml": plan.nested_in_yaml,
        "referenced_by_xml": plan.referenced_by_xml,
        "repeat": repeat,
        "python": platform.python_version(),
        **versions(("mxcubecore",)),
        "loaders": loaders,
        "ratio": {
            "time": ratio(ours["median_seconds"], theirs["median_seconds"]),
            "peak_memory": ratio(ours["median_peak_bytes"], theirs["median_peak_bytes"]),
            "time_per_round_median": paired_median(ours["seconds"], theirs["seconds"]),
        },
    }


def format_table(report: dict[str, Any]) -> str:
    """The report as a small text table."""
    lines = [
        f"Loader benchmark: {report['objects']} objects" + small_note(report["objects"] < REPRESENTATIVE_OBJECTS),
        f"  files: {report['files']['xml']} XML, {report['files']['yaml']} YAML; "
        f"{report['nested_in_yaml']} nested under a YAML objects:, {report['referenced_by_xml']} by XML href",
        f"  {report['repeat']} rounds (medians), Python {report['python']}, mxcubecore {report['mxcubecore']}",
        f"  verified: both loaders built all {report['objects']} objects in every load",
        "",
        table_row("loader", 22, [("load time (ms)", 16), ("peak memory (MiB)", 20)]),
    ]
    for key, label in (("mxcubecore", "mxcubecore"), ("ours", "mxcubecore-lims (ours)")):
        data = report["loaders"][key]
        cells = [(f"{data['median_seconds'] * 1000:.1f}", 16), (f"{data['median_peak_bytes'] / MIB:.2f}", 20)]
        lines.append(table_row(label, 22, cells))
    shown = report["ratio"]
    cells = [(format_ratio(shown["time"]), 16), (format_ratio(shown["peak_memory"]), 20)]
    lines.append(table_row("ratio ours/mxcubecore", 22, cells))
    lines.append(f"  (median of per-round time ratios: {shown['time_per_round_median']:.2f}x)")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line (bad arguments exit 2)."""
    parser = argument_parser(__doc__)
    parser.add_argument(
        "--objects",
        type=at_least(MIN_OBJECTS),
        default=DEFAULT_OBJECTS,
        help=f"objects to generate (default {DEFAULT_OBJECTS}, at least {MIN_OBJECTS})",
    )
    parser.add_argument(
        "--repeat", type=at_least(1), default=DEFAULT_REPEAT, help=f"measured rounds (default {DEFAULT_REPEAT})"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="generate into DIR (must not exist) and keep it")
    parser.add_argument(
        "--profile",
        type=at_least(1),
        metavar="N",
        help="also profile our loader; print the top N entries by cumtime to stderr",
    )
    arguments = parse_with_quick(parser, argv, QUICK)
    if arguments.keep is not None and arguments.keep.exists():
        parser.error(f"--keep: {arguments.keep} exists; give a new directory")
    return arguments


def _run(arguments: argparse.Namespace, directory: Path) -> dict[str, Any]:
    plan = generate_config(directory, arguments.objects)
    loaders = [_mxcubecore_loader(), _our_loader()]
    samples = run_rounds(loaders, plan, arguments.repeat)
    report = summarise(plan, samples, arguments.repeat)
    if arguments.profile:
        print(profile_ours(plan, loaders[1], arguments.profile), file=sys.stderr)
    return report


def _benchmark(arguments: argparse.Namespace) -> dict[str, Any]:
    if arguments.keep:
        arguments.keep.mkdir(parents=True)
        return _run(arguments, arguments.keep.resolve())
    with tempfile.TemporaryDirectory(prefix="bench_loader_") as temporary:
        return _run(arguments, Path(temporary).resolve())


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the exit status."""
    return run("bench_loader", argv, parse_arguments, _benchmark, format_table)


if __name__ == "__main__":
    sys.exit(main())
