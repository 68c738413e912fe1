"""The errors of the test LDAP server: not installed, or failed to start."""

from __future__ import annotations

from pathlib import Path

from mxcubecore_lims.errors import LimsError, LimsUnavailableError

__all__ = ["SlapdError", "SlapdNotFoundError", "SlapdStartError"]


class SlapdError(LimsError):
    """The test LDAP server could not be set up or run."""


class SlapdNotFoundError(SlapdError, FileNotFoundError):
    """The slapd binary (or its schema directory) is not installed."""


class SlapdStartError(SlapdError, LimsUnavailableError):
    """slapd (or slapadd) failed, exited early, or was not ready in time.

    Attributes:
        target: The URI that was polled.
        log: slapd's output (the tail, when long), also in the message.
        returncode: slapd's exit status, or ``None`` if it was still running.
        run_dir: The run directory, kept for inspection.
    """

    def __init__(
        self,
        reason: str,
        target: str = "",
        log: str = "",
        returncode: int | None = None,
        run_dir: Path | None = None,
    ) -> None:
        self.log = log
        self.returncode = returncode
        self.run_dir = run_dir
        where = f"\nrun directory: {run_dir}" if run_dir else ""
        super().__init__(f"{reason}{where}\n--- slapd output ---\n{log.rstrip()}\n---", target)
