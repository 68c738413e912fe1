"""The errors of the test message broker: not installed, or failed to start."""

from __future__ import annotations

from pathlib import Path

from mxcubecore_lims.errors import LimsError, LimsUnavailableError

__all__ = ["ActiveMqError", "ActiveMqNotFoundError", "ActiveMqStartError"]


class ActiveMqError(LimsError):
    """The test ActiveMQ broker could not be set up or run."""


class ActiveMqNotFoundError(ActiveMqError, FileNotFoundError):
    """Java or the ActiveMQ jars are not installed (the message names which)."""


class ActiveMqStartError(ActiveMqError, LimsUnavailableError):
    """The broker's JVM exited early, or its STOMP port did not answer in time.

    Attributes:
        log: The broker's output since this start (the tail, when long), also
            in the message.
        returncode: The JVM's exit status, or ``None`` if it was still running.
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
        super().__init__(f"{reason}{where}\n--- ActiveMQ output ---\n{log.rstrip()}\n---", target)
