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

Exit status: 0 when both loaders built every object and the report was
printed; 1 when a loader built fewer objects (nothing is reported); 2 for
bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import logging
import platform
import pstats
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

#: Below this size a result is not representative of a real beamline.
REPRESENTATIVE_OBJECTS = 200
DEFAULT_OBJECTS = 240
DEFAULT_REPEAT = 5

_MOCKUP = "mxcubecore.HardwareObjects.mockup"
MOTOR = f"{_MOCKUP}.MotorMockup"
ENERGY = f"{_MOCKUP}.EnergyMockup"
SHUTTER = f"{_MOCKUP}.ShutterMockup"
TRANSMISSION = f"{_MOCKUP}.TransmissionMockup"
SESSION = "mxcubecore.HardwareObjects.Session"
BEAMLINE = "mxcubecore.HardwareObjects.Beamline"

#: Loggers silenced during loads (mxcubecore's objects log to HWR children).
QUIET_LOGGERS = ("HWR", "user_level_log", "mxcubecore_lims")


# --------------------------------------------------------------------------
# Generating the configuration
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedObject:
    """One generated object, as both loaders must build it.

    Attributes:
        role_path: Roles from the beamline down to the object (``()`` for it).
        name: The name it is registered under (``/motors/energy_003_gap``).
        file: Its file, relative to the configuration directory.
        module: Module of its class (mxcubecore's XML ``class`` attribute).
        username: Its configured ``username`` (None where it has none).
    """

    role_path: tuple[str, ...]
    name: str
    file: str
    module: str
    username: str | None

    @property
    def class_name(self) -> str:
        """The class name, the last part of the module path for these classes."""
        return self.module.rsplit(".", 1)[1]

    @property
    def format(self) -> str:
        """``xml`` or ``yaml``."""
        return "xml" if self.file.endswith(".xml") else "yaml"


@dataclass
class Plan:
    """A generated configuration.

    Attributes:
        directory: Where the files are.
        objects: Every object, the beamline first.
        nested_in_yaml: Objects listed in a YAML ``objects:`` other than the beamline's.
        referenced_by_xml: Objects referenced by an XML ``<object href>``.
    """

    directory: Path
    objects: list[PlannedObject] = field(default_factory=list)
    nested_in_yaml: int = 0
    referenced_by_xml: int = 0

    def count(self, file_format: str) -> int:
        """Number of files of one format."""
        return sum(1 for planned in self.objects if planned.format == file_format)


def _xml_text(module: str, lines: list[str], comment: str) -> str:
    body = "\n".join(f"  {line}" for line in lines)
    return f'<!-- {comment} -->\n<object class="{module}">\n{body}\n</object>\n'


def _yaml_text(module: str, configuration: list[str], objects: dict[str, str], comment: str) -> str:
    parts = [f"# {comment}", f"class: {module}.{module.rsplit('.', 1)[1]}", "", "configuration:"]
    parts += [f"  {line}" for line in configuration]
    if objects:
        parts += ["", "objects:"] + [f"  {role}: {file}" for role, file in objects.items()]
    return "\n".join(parts) + "\n"


def _actuator_properties(kind: str, index: int, username: str) -> dict[str, Any]:
    """Scalar properties of one actuator, varied by index so files differ."""
    properties: dict[str, Any] = {"username": username, "actuator_name": f"{kind}_{index:04d}"}
    if kind in ("motor", "energy", "transmission"):
        low = -float(10 + index % 50) if kind == "motor" else float(4 + index % 3)
        high = float(20 + index % 7) if kind == "energy" else float(100 + index % 90)
        properties["default_value"] = round((low + high) / 2 + (index % 10) * 0.1, 3)
        properties["default_limits"] = [low, high]
        properties["tolerance"] = 0.001 * (1 + index % 5)
    properties["read_only"] = False
    properties["simulated"] = True  # undeclared: accepted by lax validation
    if kind == "motor":
        properties["velocity"] = 50 + index % 200
        properties["wrap_range"] = None
    return properties


def _xml_scalar(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)  # None, True, 1.5, text: mxcubecore's XML spelling


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


def _xml_properties(properties: dict[str, Any]) -> list[str]:
    return [f"<{key}>{_xml_scalar(value)}</{key}>" for key, value in properties.items()]


def _yaml_properties(properties: dict[str, Any]) -> list[str]:
    return [f"{key}: {_yaml_scalar(value)}" for key, value in properties.items()]


def _xml_calibration(index: int) -> list[str]:
    """A nested complex property: a mapping with a repeated nested element."""
    points = [
        f"  <point><position>{step}</position><value>{step * 0.25 + index % 3}</value></point>"
        for step in range(3)
    ]
    return ["<calibration>", f"  <offset>{index % 7 * 0.5}</offset>", "  <unit>mm</unit>", *points, "</calibration>"]


def _yaml_calibration(index: int) -> list[str]:
    """A nested mapping with a list of mappings, the YAML twin of the XML one."""
    points = [f"    - {{position: {step}, value: {step * 0.25 + index % 3}}}" for step in range(3)]
    return ["calibration:", f"  offset: {index % 7 * 0.5}", "  unit: mm", "  points:", *points]


def _xml_filters(index: int) -> list[str]:
    """A repeated complex property (a list of mappings in both loaders)."""
    lines = ["<filters>"]
    for number, material in enumerate(("Al", "Cu", "Mo")):
        thickness = 25 * (number + 1) + index % 5
        lines += [
            "  <filter>",
            f"    <material>{material}</material>",
            f"    <thickness>{thickness}</thickness>",
            f"    <enabled>{number % 2 == 0}</enabled>",
            "  </filter>",
        ]
    return lines + ["</filters>"]


class _Generator:
    """Writes objects and records them in the plan."""

    def __init__(self, directory: Path) -> None:
        self.plan = Plan(directory)
        self.top_roles: dict[str, str] = {}

    def write(self, relative: str, text: str) -> None:
        path = self.plan.directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def add(self, role_path: tuple[str, ...], file: str, module: str, username: str | None) -> None:
        name = "/" + file.rsplit(".", 1)[0]
        self.plan.objects.append(PlannedObject(role_path, name, file, module, username))

    def actuator(
        self,
        role_path: tuple[str, ...],
        file: str,
        module: str,
        index: int,
        extra: list[str] | None = None,
        objects: dict[str, str] | None = None,
    ) -> None:
        """Writes one mockup actuator in the format its file name says."""
        kind = {MOTOR: "motor", ENERGY: "energy", SHUTTER: "shutter", TRANSMISSION: "transmission"}[module]
        # The serial number makes every username unique, so a mix-up shows.
        username = f"{kind.capitalize()} {len(self.plan.objects)}"
        properties = _actuator_properties(kind, index, username)
        comment = f"generated: {username} ({'/'.join(role_path)})"
        if file.endswith(".xml"):
            references = [f'<object href="/{target[:-4]}" role="{role}"/>' for role, target in (objects or {}).items()]
            text = _xml_text(module, _xml_properties(properties) + (extra or []) + references, comment)
        else:
            text = _yaml_text(module, _yaml_properties(properties) + (extra or []), objects or {}, comment)
        self.write(file, text)
        self.add(role_path, file, module, username)


# Units of the repeating pattern: (name, number of objects).
_UNITS = (
    ("yaml_assembly", 4),  # YAML EnergyMockup nesting two YAML motors and one XML motor
    ("xml_assembly", 3),  # XML TransmissionMockup referencing two XML motors by href
    ("xml_shutter", 1),
    ("yaml_shutter", 1),
    ("xml_motor", 1),
    ("yaml_motor", 1),
    ("yaml_transmission", 1),
    ("xml_energy", 1),
)

#: Smallest configuration that holds every unit once, plus beamline and session.
MIN_OBJECTS = 2 + sum(size for _, size in _UNITS)


def _write_unit(generator: _Generator, unit: str, index: int) -> None:
    """Writes one unit of the pattern as a role of the beamline."""
    if unit == "yaml_assembly":
        role = f"energy_{index:03d}"
        children = {
            "undulator_gap": f"motors/{role}_undulator_gap.yaml",
            "mono_angle": f"motors/{role}_mono_angle.yaml",
            "mono_pitch": f"motors/{role}_mono_pitch.xml",
        }
        generator.actuator((role,), f"{role}.yaml", ENERGY, index, objects=children)
        for number, (child_role, child_file) in enumerate(children.items()):
            extra = _xml_calibration(index) if child_file.endswith(".xml") else _yaml_calibration(index)
            generator.actuator((role, child_role), child_file, MOTOR, index * 10 + number, extra)
        generator.plan.nested_in_yaml += len(children)
    elif unit == "xml_assembly":
        role = f"attenuator_{index:03d}"
        children = {f"filter_{side}": f"motors/{role}_filter_{side}.xml" for side in ("a", "b")}
        generator.actuator((role,), f"{role}.xml", TRANSMISSION, index, _xml_filters(index), children)
        for number, (child_role, child_file) in enumerate(children.items()):
            generator.actuator((role, child_role), child_file, MOTOR, index * 10 + number, _xml_calibration(index))
        generator.plan.referenced_by_xml += len(children)
    else:
        file_format, kind = unit.split("_")
        module = {"motor": MOTOR, "shutter": SHUTTER, "transmission": TRANSMISSION, "energy": ENERGY}[kind]
        role = f"{kind}_{index:03d}"
        extra: list[str] = []
        if kind == "motor":
            extra = _xml_calibration(index) if file_format == "xml" else _yaml_calibration(index)
        generator.actuator((role,), f"{role}.{file_format}", module, index, extra)
    generator.top_roles[role] = f"{role}.yaml" if unit.startswith("yaml") else f"{role}.xml"


def _session_xml(directory: Path) -> str:
    """The session, shaped like configuration/demo/session.xml, data under ``directory``."""
    data = directory / "data"
    proposals = "".join(
        f"""
    <proposal>
      <code>{code}</code>
      <ldap>{ldap}</ldap>
      <ispyb>{ispyb}</ispyb>
      <gui>{gui}</gui>
    </proposal>"""
        for code, ldap, ispyb, gui in (
            ("ifx", "fx", "FX", "IFX"),
            ("fx", "fx", "FX", "FX"),
            ("mx", "mx", "MX", "MX"),
            ("opid", "opid", "OPID", "OPID"),
        )
    )
    return f"""<!-- generated session (shape of configuration/demo/session.xml) -->
<object class="{SESSION}">
  <synchrotron_name>BENCH</synchrotron_name>
  <beamline_name>ID-BENCH</beamline_name>
  <endstation_name>ID-BENCH</endstation_name>

  <file_info>
    <base_directory>{data / "raw"}</base_directory>
    <processed_data_base_directory>{data / "processed"}</processed_data_base_directory>
    <archive_base_directory>{data / "archive"}</archive_base_directory>
    <raw_data_folder_name>RAW_DATA</raw_data_folder_name>
    <processed_data_folder_name>PROCESSED_DATA</processed_data_folder_name>
    <archive_folder>ARCHIVE</archive_folder>
    <precision>4</precision>
  </file_info>

  <inhouse_users>
    <proposal>
      <code>opid</code>
      <number>30</number>
    </proposal>
    <proposal>
      <code>mx</code>
      <number>415</number>
    </proposal>
  </inhouse_users>

  <proposals>{proposals}
  </proposals>
</object>
"""


def _beamline_yaml(top_roles: dict[str, str]) -> str:
    objects = "\n".join(f"  {role}: {file}" for role, file in top_roles.items())
    return f"""# generated beamline for tools/bench_loader.py
class: {BEAMLINE}.Beamline

objects:
{objects}

configuration:
  tunable_wavelength: true
  disable_num_passes: false
  run_number: 1
  click_centring_num_clicks: 3
  available_methods:
    datacollection: true
    characterisation: false
    helical: false
    meshscan: false
  default_acquisition_parameters:
    default:
      first_image: 1
      num_images: 1
      exp_time: 0.04
      osc_range: 0.1
      detector_binning_mode: 1
      shutterless: true
"""


def generate_config(directory: Path, n_objects: int) -> Plan:
    """Writes a beamline configuration of exactly ``n_objects`` objects.

    The beamline and the session come first; the rest repeats the units of
    ``_UNITS`` in turn, falling back to the single-object units when a larger
    unit no longer fits, so the total is exact.

    Args:
        directory: An empty directory to write into.
        n_objects: Total number of objects, at least :data:`MIN_OBJECTS`.

    Returns:
        The plan of every generated object.

    Raises:
        ValueError: ``n_objects`` is below :data:`MIN_OBJECTS`.
    """
    if n_objects < MIN_OBJECTS:
        raise ValueError(f"need at least {MIN_OBJECTS} objects, got {n_objects}")
    generator = _Generator(directory)
    generator.add((), "beamline.yaml", BEAMLINE, None)
    generator.write("session.xml", _session_xml(directory))
    generator.add(("session",), "session.xml", SESSION, None)
    generator.top_roles["session"] = "session.xml"
    remaining = n_objects - 2
    index = 0
    while remaining > 0:
        unit, size = _UNITS[index % len(_UNITS)]
        index += 1
        if size > remaining:
            continue  # a single-object unit comes round within the cycle
        _write_unit(generator, unit, index)
        remaining -= size
    generator.write("beamline.yaml", _beamline_yaml(generator.top_roles))
    return generator.plan


# --------------------------------------------------------------------------
# The two loaders
# --------------------------------------------------------------------------


@dataclass
class LoaderUnderTest:
    """One loader, reduced to load, find the top object, and unload.

    Attributes:
        key: Short name for reports and JSON.
        label: Name shown in the table.
        load: Loads the directory; returns a handle for ``beamline`` and ``close``.
        beamline: The top object of a loaded handle.
        close: Unloads (uninitialises mxcubecore's repository).
    """

    key: str
    label: str
    load: Callable[[Path], Any]
    beamline: Callable[[Any], Any]
    close: Callable[[Any], None]


def _mxcubecore_loader() -> LoaderUnderTest:
    from mxcubecore import HardwareRepository as HWR

    def load(directory: Path) -> Any:
        try:
            HWR.init_hardware_repository(str(directory))
        except BaseException:
            HWR.uninit_hardware_repository()  # a half-initialised repository blocks the next load
            raise
        return HWR.beamline

    return LoaderUnderTest(
        key="mxcubecore",
        label="mxcubecore",
        load=load,
        beamline=lambda handle: handle,
        close=lambda handle: HWR.uninit_hardware_repository(),
    )


def _our_loader() -> LoaderUnderTest:
    from mxcubecore_lims.config.loader import load_beamline

    # Registered like mxcubecore's (HWR.beamline and the repository), non-strict
    # like its default lax validation: the same work on both sides.
    return LoaderUnderTest(
        key="ours",
        label="mxcubecore-lims",
        load=lambda directory: load_beamline(str(directory), strict=False, register=True),
        beamline=lambda graph: graph.beamline,
        close=lambda graph: graph.close(),
    )


@contextlib.contextmanager
def silenced() -> Iterator[io.StringIO]:
    """Silences stdout, the loaders' loggers and Python warnings; yields captured stdout."""
    saved = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    captured = io.StringIO()
    try:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
        with contextlib.redirect_stdout(captured), warnings.catch_warnings():
            # load_from_yaml warns for every role its container has no attribute for.
            warnings.simplefilter("ignore")
            yield captured
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


class _Recorder(logging.Handler):
    """Keeps log records, to explain a failed load."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def recorded() -> Iterator[tuple[io.StringIO, _Recorder]]:
    """Like :func:`silenced`, but keeps warnings and errors (for the verified warm-up)."""
    recorder = _Recorder()
    loggers = [logging.getLogger(name) for name in QUIET_LOGGERS]
    saved = [(logger.level, logger.propagate) for logger in loggers]
    captured = io.StringIO()
    try:
        for logger in loggers:
            logger.setLevel(logging.WARNING)
            logger.propagate = False
            logger.addHandler(recorder)
        with contextlib.redirect_stdout(captured), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield captured, recorder
    finally:
        for logger, (level, propagate) in zip(loggers, saved):
            logger.removeHandler(recorder)
            logger.setLevel(level)
            logger.propagate = propagate


# --------------------------------------------------------------------------
# Verifying a loaded graph
# --------------------------------------------------------------------------


@dataclass
class Verification:
    """What one load built, compared with the plan.

    Attributes:
        loaded: Planned objects found with the right class and username.
        distinct: Distinct objects reachable from the beamline by role.
        problems: One line per missing or wrong object.
    """

    loaded: int
    distinct: int
    problems: list[str]


def _walk(beamline: Any) -> dict[tuple[str, ...], Any]:
    """Objects by role path, following ``_hwobj_by_role`` (set by both loaders)."""
    found: dict[tuple[str, ...], Any] = {}
    pending: list[tuple[tuple[str, ...], Any]] = [((), beamline)]
    while pending:
        path, obj = pending.pop()
        if path in found or len(path) > 8:  # the plan is a tree of depth 2
            continue
        found[path] = obj
        for role, child in getattr(obj, "_hwobj_by_role", {}).items():
            if child is not None:
                pending.append((path + (role,), child))
    return found


def verify(plan: Plan, beamline: Any) -> Verification:
    """Checks a loaded graph against the plan.

    Args:
        plan: What was generated.
        beamline: The top object the loader returned (or None).

    Returns:
        The count of correctly built objects and what is wrong.
    """
    from mxcubecore import HardwareRepository as HWR

    if beamline is None:
        return Verification(0, 0, ["no beamline object"])
    by_path = _walk(beamline)
    registry = HWR.get_hardware_repository().hardware_objects if HWR._instance is not None else {}
    problems: list[str] = []
    loaded = 0
    for planned in plan.objects:
        obj = by_path.get(planned.role_path)
        where = "/".join(planned.role_path) or "beamline"
        if obj is None:
            problems.append(f"{where} ({planned.file}): missing")
            continue
        cls = type(obj)
        if (cls.__module__, cls.__name__) != (planned.module, planned.class_name):
            problems.append(f"{where}: {cls.__module__}.{cls.__name__}, expected {planned.module}")
            continue
        if planned.username is not None and getattr(obj, "username", None) != planned.username:
            problems.append(f"{where}: username {getattr(obj, 'username', None)!r}, expected {planned.username!r}")
            continue
        # mxcubecore registers every object but the beamline by name; so do we.
        if planned.role_path and registry.get(planned.name) is not obj:
            problems.append(f"{where}: not registered as {planned.name}")
            continue
        loaded += 1
    distinct = len({id(obj) for obj in by_path.values()})
    if distinct != len(plan.objects):
        problems.append(f"{distinct} distinct objects reachable, {len(plan.objects)} generated")
    return Verification(loaded, distinct, problems)


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


class RefusedError(Exception):
    """A loader built fewer objects than were generated."""


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
        if traced:
            tracemalloc.start()
        start = time.perf_counter()
        handle = loader.load(plan.directory)
        elapsed = time.perf_counter() - start
        if traced:
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    try:
        _check(loader, plan, handle, samples)
    finally:
        loader.close(handle)
    del handle
    if traced:
        samples.peak_bytes.append(peak)
    else:
        samples.seconds.append(elapsed)


def run_rounds(loaders: list[LoaderUnderTest], plan: Plan, repeat: int) -> dict[str, Samples]:
    """Warm-up, then ``repeat`` rounds of alternating timed and traced loads."""
    samples = {loader.key: Samples() for loader in loaders}
    for loader in loaders:
        warm_up(loader, plan, samples[loader.key])
    for round_number in range(repeat):
        # Flip the order every round: neither loader always follows the other.
        order = loaders if round_number % 2 == 0 else loaders[::-1]
        for traced in (False, True):
            for loader in order:
                measure_once(loader, plan, samples[loader.key], traced)
    return samples


def profile_ours(plan: Plan, loader: LoaderUnderTest, top: int) -> str:
    """cProfile of a few loads with our loader, sorted by cumulative time."""
    profiler = cProfile.Profile()
    for _ in range(3):
        gc.collect()
        with silenced():
            profiler.enable()
            handle = loader.load(plan.directory)
            profiler.disable()
        loader.close(handle)
        del handle
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------


def summarise(plan: Plan, samples: dict[str, Samples], repeat: int) -> dict[str, Any]:
    """The report as plain data (what ``--json`` prints)."""
    from importlib.metadata import version

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
        "mxcubecore": version("mxcubecore"),
        "loaders": loaders,
        "ratio": {
            "time": ours["median_seconds"] / theirs["median_seconds"],
            "peak_memory": ours["median_peak_bytes"] / theirs["median_peak_bytes"],
            # Both loads of a round ran back to back, under the same machine
            # load; the median of per-round ratios resists load changing
            # between rounds better than the ratio of medians.
            "time_per_round_median": statistics.median(
                mine / other for mine, other in zip(ours["seconds"], theirs["seconds"])
            ),
        },
    }


def format_table(report: dict[str, Any]) -> str:
    """The report as a small text table."""
    mib = 1024 * 1024
    note = "" if report["objects"] >= REPRESENTATIVE_OBJECTS else "  (small: not representative)"
    lines = [
        f"Loader benchmark: {report['objects']} objects{note}",
        f"  files: {report['files']['xml']} XML, {report['files']['yaml']} YAML; "
        f"{report['nested_in_yaml']} nested under a YAML objects:, {report['referenced_by_xml']} by XML href",
        f"  {report['repeat']} rounds (medians), Python {report['python']}, mxcubecore {report['mxcubecore']}",
        f"  verified: both loaders built all {report['objects']} objects in every load",
        "",
        f"  {'loader':<22}{'load time (ms)':>16}{'peak memory (MiB)':>20}",
    ]
    for key in ("mxcubecore", "ours"):
        data = report["loaders"][key]
        label = "mxcubecore" if key == "mxcubecore" else "mxcubecore-lims (ours)"
        lines.append(
            f"  {label:<22}{data['median_seconds'] * 1000:>16.1f}{data['median_peak_bytes'] / mib:>20.2f}"
        )
    ratio = report["ratio"]
    lines.append(f"  {'ratio ours/mxcubecore':<22}{ratio['time']:>15.2f}x{ratio['peak_memory']:>19.2f}x")
    lines.append(f"  (median of per-round time ratios: {ratio['time_per_round_median']:.2f}x)")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _objects_argument(text: str) -> int:
    value = int(text)
    if value < MIN_OBJECTS:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_OBJECTS}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--objects", type=_objects_argument, default=DEFAULT_OBJECTS,
                        help=f"objects to generate (default {DEFAULT_OBJECTS}, at least {MIN_OBJECTS})")
    parser.add_argument("--repeat", type=_positive, default=DEFAULT_REPEAT,
                        help=f"measured rounds (default {DEFAULT_REPEAT})")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="generate into DIR (must not exist) and keep it")
    parser.add_argument("--profile", type=_positive, metavar="N",
                        help="also profile our loader; print the top N entries by cumtime to stderr")
    arguments = parser.parse_args(argv)
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


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark; returns the exit status."""
    # As mxcubecore and mxcubeweb do, before mxcubecore is imported.
    from gevent import monkey

    monkey.patch_all(thread=False)
    arguments = parse_arguments(argv)
    try:
        if arguments.keep:
            arguments.keep.mkdir(parents=True)
            report = _run(arguments, arguments.keep.resolve())
        else:
            with tempfile.TemporaryDirectory(prefix="bench_loader_") as temporary:
                report = _run(arguments, Path(temporary).resolve())
    except RefusedError as refusal:
        print(f"bench_loader: refusing to report: {refusal}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if arguments.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
