"""``demo --describe``: load a beamline with our loader and print its object graph.

The graph (role, class, source file) and the state of every LIMS object in
it; nothing talks to a server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mxcubecore_lims.config.loader import LoadedBeamline, load_beamline


def load_demo(directory: Path) -> LoadedBeamline:
    """Loads a configuration directory with our loader and registers it as ``HWR.beamline``."""
    return load_beamline([directory])


def describe_beamline(graph: LoadedBeamline) -> str:
    """Formats the loaded graph and the LIMS objects' state as text.

    Args:
        graph: A loaded beamline.

    Returns:
        A table of ``role path | class | source`` rows, then one block per
        LIMS object.
    """
    rows: list[tuple[str, str, str]] = []
    path_of: dict[int, str] = {}
    for depth, role, entry in graph.walk():
        label = "  " * depth + role
        shared = id(entry.obj) in path_of
        source = _relative(entry.path, graph) + f":{entry.class_line}"
        rows.append((label, entry.class_name, source + ("  (shared)" if shared else "")))
        path_of.setdefault(id(entry.obj), label)
    widths = [max(len(row[i]) for row in [*rows, ("role", "class", "source")]) for i in range(3)]
    lines = [f"Beamline graph loaded from {', '.join(str(d) for d in graph.lookup.directories)}", ""]
    header = ("role", "class", "source")
    lines.append("  ".join(text.ljust(width) for text, width in zip(header, widths, strict=False)))
    lines.append("  ".join("-" * width for width in widths))
    lines.extend("  ".join(text.ljust(width) for text, width in zip(row, widths, strict=False)) for row in rows)
    lines.append("")
    lines.append(f"{len(graph.objects)} objects from {len({e.path for e in graph.objects.values()})} files")
    session = getattr(graph.beamline, "session", None)
    if session is not None:
        lines.append(f"session: beamline {session.beamline_name}, synchrotron {session.synchrotron_name}")
    lines.append("")
    lims_objects = [entry for entry in graph.objects.values() if _is_lims(entry.obj)]
    if not lims_objects:
        lines.append("LIMS objects: none configured yet (role 'lims' is added by later work)")
    for entry in lims_objects:
        lines.extend(_describe_lims(entry.obj, entry.name))
    return "\n".join(lines)


def _relative(path: Path, graph: LoadedBeamline) -> str:
    for directory in graph.lookup.directories:
        try:
            return str(path.relative_to(directory))
        except ValueError:
            continue
    return str(path)


def _is_lims(obj: Any) -> bool:
    from mxcubecore.HardwareObjects.abstract.AbstractLims import AbstractLims

    return isinstance(obj, AbstractLims)


def _describe_lims(lims: Any, name: str) -> list[str]:
    """State of one LIMS object, read without network calls."""
    manager = lims.session_manager
    active = manager.active_session
    return [
        f"LIMS {name} ({type(lims).__name__})",
        f"  LIMS names: {', '.join(entry.name for entry in lims.get_lims_name())}",
        f"  login type: {'user' if lims.is_user_login_type() else 'proposal'}",
        f"  beamline: {lims.beamline_name}",
        f"  users logged in: {', '.join(manager.users) or 'none'}",
        f"  selectable sessions: {len(manager.sessions or [])}",
        f"  active session: {active.session_id if active else 'none'}",
        f"  connected: {lims.is_connected()}",
    ]
