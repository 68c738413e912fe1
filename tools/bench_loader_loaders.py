"""The two loaders ``tools/bench_loader.py`` measures, and the check of what a load built.

Not a benchmark itself: each loader reduced to load, find the top object,
and unload (:class:`LoaderUnderTest`); the loaders' output silenced
(:func:`silenced`) or kept to explain a failure (:func:`recorded`); and
:func:`verify`, which walks a loaded graph from the beamline, role by role,
and compares it with the generated plan.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_loader_config import Plan
from benchlib import quiet_loggers

#: Loggers silenced during loads (mxcubecore's objects log to HWR children).
QUIET_LOGGERS = ("HWR", "user_level_log", "mxcubecore_lims")


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
    """The loader of mxcubecore, ``init_hardware_repository`` (it registers every object it builds)."""
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
    captured = io.StringIO()
    # Warnings too: load_from_yaml warns for every role its container has no attribute for.
    with quiet_loggers(QUIET_LOGGERS), contextlib.redirect_stdout(captured):
        yield captured


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
        for logger, (level, propagate) in zip(loggers, saved, strict=True):
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
                pending.append(((*path, role), child))
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
