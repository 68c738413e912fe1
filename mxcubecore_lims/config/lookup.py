"""Finds configuration files by name on the lookup path.

A reference names a file with or without extension: ``/session`` (XML href),
``session.yaml`` (YAML ``objects:`` entry), ``mockup/motor1``. The first
lookup directory that has the name wins; within one directory, a name that
exists both as XML and as YAML is an error, because which one is meant
cannot be told. References starting with ``./`` or ``../`` are relative to
the directory of the file that makes them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from mxcubecore_lims.config.spec import Format
from mxcubecore_lims.errors import ConfigAmbiguousFileError, ConfigFileNotFoundError

XML_SUFFIXES = (".xml",)
YAML_SUFFIXES = (".yaml", ".yml")
ALL_SUFFIXES = XML_SUFFIXES + YAML_SUFFIXES

#: File names of the top object, best first (mxcubecore reads the first two).
BEAMLINE_FILE_NAMES = ("beamline.yaml", "beamline_config.yml", "beamline.yml", "beamline.xml")


def file_format(path: Path) -> Format:
    """Returns ``"xml"`` or ``"yaml"`` by the file's suffix."""
    return "xml" if path.suffix.lower() in XML_SUFFIXES else "yaml"


class LookupPath:
    """An ordered list of configuration directories.

    Args:
        directories: Directories, best first; given as paths or as one string
            separated by ``os.pathsep`` (as mxcubecore takes it).
    """

    def __init__(self, directories: str | Path | Sequence[str | Path]) -> None:
        if isinstance(directories, (str, Path)):
            parts: list[str | Path] = [p for p in str(directories).split(os.pathsep) if p]
        else:
            parts = list(directories)
        self.directories: list[Path] = [Path(p).expanduser().resolve() for p in parts]
        self._cache: dict[Path, frozenset[str]] | None = None

    def find(self, name: str, referrer: Path | None = None, line: int | None = None) -> Path:
        """Resolves a reference to one file.

        Args:
            name: The name as written.
            referrer: The file making the reference (for relative names and errors).
            line: The line of the reference, for errors.

        Returns:
            The absolute path of the file.

        Raises:
            ConfigFileNotFoundError: No directory has the name.
            ConfigAmbiguousFileError: A directory has it both as XML and as YAML.
        """
        cleaned = name.strip()
        if cleaned.startswith(("./", "../")) and referrer is not None:
            directories = [referrer.parent]
        else:
            cleaned = cleaned.lstrip("/")
            directories = self.directories
        for directory in directories:
            found = self._find_in(directory, cleaned, name, referrer, line)
            if found is not None:
                return found
        searched = ", ".join(str(d) for d in directories)
        raise ConfigFileNotFoundError(
            f"no configuration file for '{name}' (searched {searched})", referrer, line, reference=name
        )

    def _find_in(
        self, directory: Path, name: str, written: str, referrer: Path | None, line: int | None
    ) -> Path | None:
        base = Path(os.path.normpath(directory / name))
        listing = self._listing(base.parent)
        suffix = base.suffix.lower()
        if suffix in ALL_SUFFIXES:
            if base.name not in listing:
                return None
            stem_name = base.name[: -len(base.suffix)]
        else:
            stem_name = base.name
        hits = [base.parent / (stem_name + s) for s in ALL_SUFFIXES if stem_name + s in listing]
        if len({file_format(hit) for hit in hits}) > 1:
            shown = " and ".join(hit.name for hit in hits)
            raise ConfigAmbiguousFileError(
                f"'{written}' is ambiguous: {shown} both exist in {directory}",
                referrer,
                line,
                candidates=tuple(sorted(str(hit) for hit in hits)),
            )
        if suffix in ALL_SUFFIXES:
            return base
        return hits[0] if hits else None

    def _listing(self, directory: Path) -> frozenset[str]:
        """Names of the regular files in a directory (cached while :meth:`cached` is active)."""
        if self._cache is not None and directory in self._cache:
            return self._cache[directory]
        try:
            with os.scandir(directory) as entries:
                names = frozenset(entry.name for entry in entries if entry.is_file())
        except OSError:
            names = frozenset()
        if self._cache is not None:
            self._cache[directory] = names
        return names

    @contextlib.contextmanager
    def cached(self) -> Iterator[None]:
        """Lists each directory once for the duration of a load.

        Resolving a reference then costs set look-ups instead of several
        ``stat`` calls; outside the block, every look-up sees the disk as it is.
        """
        outer = self._cache is not None
        if not outer:
            self._cache = {}
        try:
            yield
        finally:
            if not outer:
                self._cache = None

    def name_of(self, path: Path) -> str:
        """The object name mxcubecore registers a file under (``/session``)."""
        for directory in self.directories:
            try:
                relative = path.relative_to(directory)
            except ValueError:
                continue
            return "/" + str(relative.with_suffix(""))
        return "/" + path.stem

    def find_beamline_file(self) -> Path:
        """Finds the top (beamline) configuration file.

        Raises:
            ConfigFileNotFoundError: No directory has one.
        """
        for directory in self.directories:
            for file_name in BEAMLINE_FILE_NAMES:
                candidate = directory / file_name
                if candidate.is_file():
                    return candidate
        searched = ", ".join(str(d) for d in self.directories)
        raise ConfigFileNotFoundError(
            f"no beamline file ({', '.join(BEAMLINE_FILE_NAMES)}) in {searched}", reference="beamline"
        )
