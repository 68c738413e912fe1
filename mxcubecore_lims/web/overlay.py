"""The configuration directory ``mxcubecore-lims web`` puts first on the lookup path.

Beamline engineers keep site overrides in a directory ahead of the shared ones;
the ``web`` command does the same rather than editing the demo: its overlay holds
a ``beamline.yaml`` that differs from the one it shadows only in the ``lims``
role, and a copy of mxcubeweb's ``mxcube-web/`` directory whose ``server.yaml``
carries the chosen port and a private user database.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from mxcubecore_lims.config.lookup import LookupPath
from mxcubecore_lims.errors import ConfigFileNotFoundError, LimsConfigError

__all__ = ["LIMS_CHOICES", "Overlay", "write_overlay"]

#: ``--lims`` choice -> the demo file that goes into the ``lims`` role.
LIMS_CHOICES: dict[str, str] = {
    "esrf": "lims.xml",
    "icat": "lims_icat.xml",
    "user": "lims_user.yaml",
    "proposal": "lims_ispyb.xml",
}

#: Where mxcubeweb looks for its own configuration (``find_in_repository``).
MXCUBEWEB_DIRECTORY = "mxcube-web"


@dataclass(frozen=True)
class Overlay:
    """A written overlay.

    Attributes:
        directory: The overlay directory (first on the lookup path).
        lookup: The whole lookup path, overlay first.
        lims_file: The file now in the ``lims`` role.
        port: mxcubeweb's HTTP port.
        user_db: mxcubeweb's user database file.
    """

    directory: Path
    lookup: tuple[Path, ...]
    lims_file: str
    port: int
    user_db: Path

    @property
    def lookup_string(self) -> str:
        """The lookup path as mxcubeweb's ``-r`` takes it (``dir1:dir2``)."""
        return ":".join(str(d) for d in self.lookup)


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    return yaml


def _find_first(lookup: LookupPath, name: str) -> Path:
    for directory in lookup.directories:
        candidate = directory / name
        if candidate.exists():
            return candidate
    raise ConfigFileNotFoundError(
        f"'{name}' is not on the lookup path ({', '.join(str(d) for d in lookup.directories)})", None
    )


def write_overlay(directory: Path, lookup: list[Path], lims: str, port: int, host: str = "127.0.0.1") -> Overlay:
    """Writes the overlay into ``directory`` (created; its old contents replaced).

    Args:
        directory: Where to write (a private, throw-away directory).
        lookup: The configuration's lookup path, best first (the demo's directory).
        lims: A key of :data:`LIMS_CHOICES`, or the name of a LIMS object file
            on the lookup path.
        port: The HTTP port mxcubeweb serves on (loopback only).
        host: The address mxcubeweb binds.

    Returns:
        What was written and the lookup path to give mxcubeweb.

    Raises:
        LimsConfigError: No ``beamline.yaml`` or ``mxcube-web/server.yaml`` on
            the lookup path, the LIMS file is missing, or ``beamline.yaml`` has
            no ``objects`` mapping.
    """
    path = LookupPath([Path(p) for p in lookup])
    lims_file = LIMS_CHOICES.get(lims, lims)
    _find_first(path, lims_file)
    directory = Path(directory)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)

    beamline_source = _find_first(path, "beamline.yaml")
    yaml = _yaml()
    beamline: Any = yaml.load(beamline_source.read_text(encoding="utf-8"))
    objects: Any = beamline.get("objects") if hasattr(beamline, "get") else None
    if not hasattr(objects, "__setitem__"):
        raise LimsConfigError("has no 'objects' mapping to put the LIMS object in", beamline_source)
    objects["lims"] = lims_file
    _dump(
        yaml,
        beamline,
        directory / "beamline.yaml",
        f"# Written by mxcubecore-lims web from {beamline_source}: the lims role is {lims_file}.\n",
    )

    web_source = _find_first(path, MXCUBEWEB_DIRECTORY)
    web_target = directory / MXCUBEWEB_DIRECTORY
    shutil.copytree(web_source, web_target)
    server_file = web_target / "server.yaml"
    if not server_file.is_file():
        raise ConfigFileNotFoundError(f"'{MXCUBEWEB_DIRECTORY}/server.yaml' is missing", web_source)
    server: Any = yaml.load(server_file.read_text(encoding="utf-8"))
    user_db = directory / "mxcube-user.db"
    server["server"]["HOST"] = host
    server["server"]["PORT"] = port
    server["server"]["USER_DB_PATH"] = str(user_db)
    _dump(
        yaml,
        server,
        server_file,
        f"# Written by mxcubecore-lims web from {web_source / 'server.yaml'}: port and user database.\n",
    )
    return Overlay(directory, (directory, *path.directories), lims_file, port, user_db)


def _dump(yaml: YAML, data: Any, target: Path, header: str) -> None:
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    target.write_text(header + buffer.getvalue(), encoding="utf-8")
