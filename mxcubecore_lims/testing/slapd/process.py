"""Running slapd: preparing the run directory, seeding with slapadd, launching, waiting until it answers, stopping."""

from __future__ import annotations

import atexit
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from mxcubecore_lims.testing.certificates import create_tls_material
from mxcubecore_lims.testing.slapd.config import SlapdConfig
from mxcubecore_lims.testing.slapd.errors import SlapdError, SlapdStartError
from mxcubecore_lims.testing.slapd.installation import find_slapd
from mxcubecore_lims.testing.slapd.readiness import probe

__all__ = ["SlapdProcess"]

_ADDRESS_IN_USE = ("errno=98", "Address already in use")
_LOG_TAIL_LINES = 200


def _free_port(host: str) -> int:
    """Calls ``free_port`` as the package exports it, looked up on every call.

    Tests replace ``mxcubecore_lims.testing.slapd.free_port`` to make a start
    lose the port race (see :mod:`.ports`).
    """
    from mxcubecore_lims.testing import slapd

    return slapd.free_port(host)


class SlapdProcess(SlapdConfig):
    """The slapd process of a :class:`~.server.SlapdServer` and the steps that start it."""

    @property
    def is_running(self) -> bool:
        """Whether the slapd process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The slapd process id while it runs."""
        return self._process.pid if self._process is not None and self.is_running else None

    def stop(self, timeout: float = 10.0) -> None:
        """Stops slapd (SIGTERM, then SIGKILL after ``timeout`` seconds).

        The run directory, ports and data stay for a later :meth:`start`.
        """
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    # ------------------------------------------------------------------
    # start-up steps

    def _prepare(self) -> None:
        """Creates the run directory, certificates, config and database."""
        self._slapd = find_slapd(self.slapd_path)
        self.run_dir = Path(tempfile.mkdtemp(prefix="mxcubecore-lims-slapd-"))
        (self.run_dir / "db").mkdir()
        if self.tls:
            self.tls_material = create_tls_material(self.run_dir / "tls")
        self.config_file.write_text(self.config_text(), encoding="utf-8")
        self._load_seed()
        atexit.register(self._stop_at_exit)

    def _load_seed(self) -> None:
        """Fills the database with slapadd (slapd -T add) before slapd runs."""
        parts = [self.seed.to_ldif(self.suffix)] if self.seed is not None else []
        for item in self.ldif:
            parts.append(item.read_text(encoding="utf-8") if isinstance(item, Path) else item)
        if not parts:
            return
        seed_file = self._dir() / "seed.ldif"
        seed_file.write_text("\n".join(part.strip() + "\n" for part in parts), encoding="utf-8")
        command = [str(self._slapd), "-T", "add", "-f", str(self.config_file), "-l", str(seed_file)]
        self._append_log(f"=== {' '.join(command)}\n")
        with self.log_file.open("ab") as log:
            result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=False, timeout=60)
        if result.returncode != 0:
            raise SlapdStartError(
                f"slapadd failed with exit status {result.returncode}",
                str(self.config_file),
                self._log_tail(),
                result.returncode,
                self.run_dir,
            )

    def _start_on_fresh_ports(self, attempts: int = 3) -> None:
        """Starts on newly picked ports, retrying if one was taken meanwhile."""
        requested, requested_ldaps = self._requested_ports
        if requested is not None:
            # A fixed port (standalone use): no race to retry.
            self._port = requested
            self._ldaps_port = (requested_ldaps or _free_port(self.host)) if self.tls else None
            self._launch_and_wait()
            return
        for attempt in range(attempts):
            self._port = _free_port(self.host)
            self._ldaps_port = _free_port(self.host) if self.tls else None
            try:
                self._launch_and_wait()
                return
            except SlapdStartError as exc:
                lost_race = any(marker in exc.log for marker in _ADDRESS_IN_USE)
                if not lost_race or attempt == attempts - 1:
                    raise

    def _urls(self) -> list[str]:
        urls = [f"ldap://{self.host}:{self.port}/"]
        if self.tls:
            urls.append(f"ldaps://{self.host}:{self.ldaps_port}/")
        return urls

    def _launch_and_wait(self) -> None:
        """Starts the slapd process and waits until it answers."""
        command = [
            str(self._slapd),
            # -d keeps slapd in the foreground and logs to stderr.
            "-d", self.debug_level,
            "-f", str(self.config_file),
            "-h", " ".join(self._urls()),
        ]  # fmt: skip
        self.start_count += 1
        self._append_log(f"=== start {self.start_count}: {' '.join(command)}\n")
        log_offset = self.log_size()
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_ready(log_offset)

    def _wait_until_ready(self, log_offset: int) -> None:
        """Polls with an anonymous bind + root DSE read until slapd answers."""
        deadline = time.monotonic() + self.ready_timeout
        last_problem = "no attempt yet"
        while True:
            process = self._process
            if process is None:
                # Only stop() clears it, e.g. from another greenlet meanwhile.
                raise SlapdError("slapd was stopped while it was starting")
            if process.poll() is not None:
                self._process = None
                raise self._start_error(
                    f"slapd exited with status {process.returncode} before it was ready",
                    log_offset,
                    process.returncode,
                )
            problem = probe(self.host, self.port)
            if problem is None:
                return
            last_problem = problem
            if time.monotonic() >= deadline:
                self.stop(timeout=2)
                raise self._start_error(
                    f"slapd did not answer within {self.ready_timeout:g} s (last attempt: {last_problem})",
                    log_offset,
                    None,
                )
            # Cooperative under gevent's monkey patching.
            time.sleep(0.05)

    def _start_error(self, reason: str, log_offset: int, returncode: int | None) -> SlapdStartError:
        return SlapdStartError(reason, self.uri, self._log_tail(log_offset), returncode, self.run_dir)

    def _log_tail(self, since: int = 0) -> str:
        """Returns at most the last few hundred lines of the log since ``since``."""
        lines = self.log_text(since).splitlines()
        if len(lines) > _LOG_TAIL_LINES:
            omitted = len(lines) - _LOG_TAIL_LINES
            lines = [f"[... {omitted} earlier lines ...]", *lines[-_LOG_TAIL_LINES:]]
        return "\n".join(lines)

    def _append_log(self, text: str) -> None:
        with self.log_file.open("ab") as log:
            log.write(text.encode("utf-8"))

    def _stop_at_exit(self) -> None:
        """Stops slapd when the interpreter exits without close()."""
        self.stop(timeout=2)
