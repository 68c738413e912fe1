"""What a migration reports: the files it changes, its findings, the problems left.

Kept apart from :mod:`~mxcubecore_lims.config.migrate` (which does the work) so
that the report, which the command line prints, reads on its own.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from mxcubecore_lims.errors import LimsConfigError

__all__ = ["Change", "Finding", "MigrationReport"]


@dataclass(frozen=True)
class Finding:
    """Something the migration could not carry over, or did on the user's behalf.

    Attributes:
        file: The original file.
        line: Line of the element concerned, when known.
        kind: ``unmapped`` (a property our class does not take), ``lost``
            (behaviour of a site class or mockup that does not come along),
            ``warning`` (carried over with a value to check, said in the
            message), or ``info``.
        message: What happened.
    """

    file: Path
    line: int | None
    kind: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.kind}: {self.message}"


@dataclass
class Change:
    """One file the migration rewrites: its text before and after, and the bytes written."""

    source: Path  # relative to the directory
    target: Path  # relative; differs from source when converted to YAML
    before: str  # text, for the diff
    after: str
    data: bytes = b""  # what is written (same encoding and line endings as before)

    def __post_init__(self) -> None:
        if not self.data:
            self.data = self.after.encode("utf-8")


@dataclass
class MigrationReport:
    """What a migration did (or would do, in a dry run)."""

    directory: Path
    changes: list[Change] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    problems: list[LimsConfigError] = field(default_factory=list)
    other_problems: list[LimsConfigError] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> list[Path]:
        """Files written (or to be written): the new path of each migrated object."""
        return [self.directory / change.target for change in self.changes]

    @property
    def ok(self) -> bool:
        """True when the migrated files check clean."""
        return not self.problems

    def diff(self) -> str:
        """A unified diff of every change."""
        parts: list[str] = []
        for change in self.changes:
            parts.extend(
                difflib.unified_diff(
                    change.before.splitlines(keepends=True),
                    change.after.splitlines(keepends=True),
                    fromfile=f"a/{change.source.as_posix()}",
                    tofile=f"b/{change.target.as_posix()}",
                )
            )
        return "".join(part if part.endswith("\n") else part + "\n" for part in parts)
