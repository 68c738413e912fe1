"""Running the broker's JVM: writing its files, launching, waiting until STOMP answers, stopping, killing."""

from __future__ import annotations

import atexit
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from mxcubecore_lims.testing.activemq.config import LOG4J2_PROPERTIES, LOG4J_PROPERTIES
from mxcubecore_lims.testing.activemq.errors import ActiveMqError, ActiveMqStartError
from mxcubecore_lims.testing.activemq.installation import ActiveMqInstallation, locate_activemq
from mxcubecore_lims.testing.activemq.readiness import stomp_connect
from mxcubecore_lims.testing.activemq.settings import BrokerSettings
from mxcubecore_lims.testing.slapd.ports import free_port

__all__ = ["BrokerProcess"]

_ADDRESS_IN_USE = "Address already in use"
_LOG_TAIL_LINES = 200
# A broker that refuses our own account this often is misconfigured, not starting.
_MAX_REFUSALS = 3


class BrokerProcess(BrokerSettings):
    """The JVM of an :class:`~.broker.ActiveMqBroker` and the steps that start and stop it."""

    @property
    def is_running(self) -> bool:
        """Whether the broker's JVM is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The JVM's process id while it runs."""
        return self._process.pid if self._process is not None and self.is_running else None

    def stop(self, timeout: float | None = None) -> None:
        """Shuts the broker down cleanly (SIGTERM runs its shutdown hook), SIGKILL after ``timeout``.

        The run directory, data and ports stay for a later ``start()``.

        Args:
            timeout: Seconds to wait for the JVM to exit (default ``stop_timeout``).
        """
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(self.stop_timeout if timeout is None else timeout)
            how = "SIGTERM"
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            how = "SIGTERM, then SIGKILL after the timeout"
        self._append_log(f"=== stopped ({how}): exit status {process.returncode}\n")

    def kill(self) -> None:
        """Kills the JVM with SIGKILL, as a crash would: no shutdown hook, KahaDB not closed."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.kill()
        process.wait()
        self._append_log(f"=== killed (SIGKILL): exit status {process.returncode}\n")

    # ------------------------------------------------------------------
    # start-up steps

    def _prepare(self) -> None:
        """Finds Java and ActiveMQ and creates the run directory."""
        self._installation = locate_activemq(self._environ)
        if self.run_dir is None:
            self.run_dir = Path(tempfile.mkdtemp(prefix="mxcubecore-lims-activemq-"))
        for directory in (self.conf_dir, self.data_dir, self._dir() / "tmp"):
            directory.mkdir(parents=True, exist_ok=True)
        atexit.register(self._stop_at_exit)

    def _write_files(self) -> None:
        """(Re)writes ``activemq.xml`` and the log4j files for the current ports."""
        self.config_file.write_text(self.config().xml(), encoding="utf-8")
        (self.conf_dir / "log4j.properties").write_text(LOG4J_PROPERTIES, encoding="utf-8")
        (self.conf_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES, encoding="utf-8")

    def command(self) -> list[str]:
        """Returns the JVM's command line (as the Debian launcher builds it, minus its daemon plumbing)."""
        installation = self._located()
        conf, data = self.conf_dir, self.data_dir
        return [
            str(installation.java),
            f"-Xmx{self.heap_mb}m",
            # Faster start-up on a small machine; a test broker never runs long.
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-XX:-UsePerfData",
            "-Djava.awt.headless=true",
            f"-Djava.io.tmpdir={self._dir() / 'tmp'}",
            f"-Dlog4j.configuration=file:{conf / 'log4j.properties'}",
            f"-Dlog4j2.configurationFile={conf / 'log4j2.properties'}",
            f"-Dactivemq.home={installation.home}",
            f"-Dactivemq.base={self._dir()}",
            f"-Dactivemq.conf={conf}",
            f"-Dactivemq.data={data}",
            "-jar",
            str(installation.launcher),
            "start",
            f"xbean:file:{self.config_file}",
        ]

    def _located(self) -> ActiveMqInstallation:
        if self._installation is None:
            raise ActiveMqError("the broker has not been prepared: call start()")
        return self._installation

    def _start_on_fresh_ports(self, attempts: int = 3) -> None:
        """Starts on newly picked ports, retrying when one was taken in the meantime."""
        requested, requested_openwire = self._requested_ports
        for attempt in range(attempts):
            self._port = requested or free_port(self.host)
            if self._openwire:
                self._openwire_port = requested_openwire or free_port(self.host)
            try:
                self._launch_and_wait()
                return
            except ActiveMqStartError as exc:
                fixed = requested is not None and (requested_openwire is not None or not self._openwire)
                if fixed or _ADDRESS_IN_USE not in exc.log or attempt == attempts - 1:
                    raise

    def _launch_and_wait(self) -> None:
        """Writes the files, launches the JVM and waits until STOMP answers."""
        self._write_files()
        command = self.command()
        self.start_count += 1
        self._append_log(f"=== start {self.start_count}: {' '.join(command)}\n")
        log_offset = self.log_size()
        started = time.monotonic()
        with self.log_file.open("ab") as log:
            # Its own session: a Ctrl-C meant for pytest does not reach the JVM,
            # which stop() (or the atexit hook) shuts down instead.
            self._process = subprocess.Popen(
                command,
                cwd=self._dir(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_ready(log_offset)
        self.startup_seconds = time.monotonic() - started
        self._append_log(f"=== ready after {self.startup_seconds:.1f} s on {self.stomp_url}\n")

    def _wait_until_ready(self, log_offset: int) -> None:
        """Polls with STOMP CONNECT (as the first user) until the broker says CONNECTED."""
        deadline = time.monotonic() + self.ready_timeout
        last_problem = "no attempt yet"
        refusals = 0
        while True:
            process = self._process
            if process is None:
                raise ActiveMqError("the broker was stopped while it was starting")
            if process.poll() is not None:
                self._process = None
                raise self._start_error(
                    f"the broker's JVM exited with status {process.returncode} before it was ready",
                    log_offset,
                    process.returncode,
                )
            try:
                answer = stomp_connect(self.host, self.port, self.username, self.password, timeout=5.0)
            except OSError as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                # Our JVM is alive, so the port is its: another process's would have made it exit.
                if answer.connected:
                    return
                refusals += 1
                last_problem = f"{answer.command}: {answer.headers.get('message', answer.body)}"
                if refusals >= _MAX_REFUSALS:
                    self.stop(timeout=10)
                    raise self._start_error(f"the broker refused the fixture's CONNECT ({last_problem})", log_offset)
            if time.monotonic() >= deadline:
                self.stop(timeout=10)
                raise self._start_error(
                    f"STOMP did not answer within {self.ready_timeout:g} s (last attempt: {last_problem})",
                    log_offset,
                )
            # Cooperative under gevent's monkey patching.
            time.sleep(0.2)

    def _start_error(self, reason: str, log_offset: int, returncode: int | None = None) -> ActiveMqStartError:
        return ActiveMqStartError(reason, self.stomp_url, self._log_tail(log_offset), returncode, self.run_dir)

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
        """Stops the broker when the interpreter exits without close()."""
        self.stop(timeout=5)
