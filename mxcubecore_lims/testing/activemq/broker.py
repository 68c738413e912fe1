"""The test broker as one object: start, stop, restart, kill and close it, or use it in ``with``."""

from __future__ import annotations

import atexit
import shutil
from types import TracebackType

from mxcubecore_lims.testing.activemq.errors import ActiveMqError
from mxcubecore_lims.testing.activemq.process import BrokerProcess

__all__ = ["ActiveMqBroker"]


class ActiveMqBroker(BrokerProcess):
    """A real ActiveMQ 5 broker in a run directory of its own, speaking STOMP on loopback.

    Nothing happens until :meth:`start` (or ``with``). Then it stays usable
    across :meth:`stop` / :meth:`kill` / :meth:`start` cycles (same port, same
    KahaDB store) until :meth:`close`. Its configuration is
    :class:`~.config.BrokerConfig`'s (dead letters go to ActiveMQ's default
    shared ``ActiveMQ.DLQ``); override :meth:`config` in a subclass to change it.

    Args:
        run_dir: The run directory (created if missing, never removed); by
            default a fresh temporary one, removed by :meth:`close`.
        port: A fixed STOMP port (default: a free ephemeral one).
        users: User name to password (default ``mxcube``/``broker-pw``);
            ``None`` or empty for a broker without authentication.
        openwire: Also listen for OpenWire (JMS clients) on a second port.
        openwire_port: A fixed OpenWire port (implies ``openwire``).
        host: The loopback address to listen on.
        broker_name: The broker's name, in its log and message ids.
        advisory_support: Publish advisory messages (off: STOMP needs none).
        heap_mb: The JVM's maximum heap, in MiB.
        ready_timeout: Seconds to wait for STOMP to answer after a launch.
        stop_timeout: Seconds :meth:`stop` waits before it kills.
        environ: Where to read ``MXCUBECORE_LIMS_ACTIVEMQ_HOME``,
            ``JAVA_HOME`` and ``PATH`` (default ``os.environ``).
        keep_directory: Keep the run directory on :meth:`close`. Set to
            ``True`` by the pytest plugin when a test using the broker fails.
    """

    def start(self) -> ActiveMqBroker:
        """Launches the broker and waits until a STOMP CONNECT is answered; does nothing if running.

        The first start finds Java and ActiveMQ, creates the run directory and
        picks the ports; later starts reuse them and the data directory, so
        persistent messages are still there (also after :meth:`kill`).

        Returns:
            The broker itself, for chaining.

        Raises:
            ActiveMqNotFoundError: Java or the ActiveMQ jars are missing.
            ActiveMqStartError: The JVM exited, refused the first user, or
                did not answer within ``ready_timeout``; the message holds
                the tail of its log.
        """
        if self._closed:
            raise ActiveMqError("the broker was closed; create a new one")
        if self.is_running:
            return self
        if self._installation is None:
            self._prepare()
        if self._port is None:
            self._start_on_fresh_ports()
        else:
            self._launch_and_wait()
        return self

    def restart(self) -> ActiveMqBroker:
        """Stops the broker cleanly and starts it again on the same port with the same data."""
        self.stop()
        return self.start()

    def close(self, keep_directory: bool | None = None) -> None:
        """Stops the broker and removes the run directory it created.

        Args:
            keep_directory: Keep the directory (for a post-mortem); defaults
                to the ``keep_directory`` attribute. A ``run_dir`` given to
                the constructor is always kept.
        """
        self.stop()
        atexit.unregister(self._stop_at_exit)
        self._closed = True
        keep = self.keep_directory if keep_directory is None else keep_directory
        if self.run_dir is not None and self._owns_run_dir and not keep:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> ActiveMqBroker:
        try:
            return self.start()
        except BaseException:
            self.close(keep_directory=True)
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Keep the evidence when the block failed.
        self.close(keep_directory=self.keep_directory or exc_type is not None)

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        where = self.stomp_url if self._port else "not started"
        return f"<{type(self).__name__} {where} {state} run_dir={self.run_dir}>"
