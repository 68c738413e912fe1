"""The test LDAP server as one object: start, restart, stop and close it, or use it in ``with``."""

from __future__ import annotations

import atexit
import shutil
from types import TracebackType

from mxcubecore_lims.testing.slapd.errors import SlapdError
from mxcubecore_lims.testing.slapd.process import SlapdProcess

__all__ = ["SlapdServer"]


class SlapdServer(SlapdProcess):
    """An OpenLDAP server in a temporary directory, on loopback ports.

    Nothing happens until :meth:`start` (or ``with``). Then it stays usable
    across :meth:`stop` / :meth:`start` cycles (same ports, same database)
    until :meth:`close` removes the run directory.

    Its addresses, accounts and files come from :mod:`.settings`, its
    ``slapd.conf`` from :mod:`.config` (override those methods in a subclass
    to change the set-up), the process from :mod:`.process`.

    Args:
        suffix: The database suffix, e.g. ``dc=example,dc=org``.
        root_password: The root DN's password (stored ``{SSHA}``).
        seed: What to load before the first start; ``None`` for nothing.
        ldif: More LDIF to load after the seed: ``Path`` objects are files,
            strings are LDIF text. Without a seed it must create the suffix
            entry itself.
        tls: Also serve ``ldaps://`` on a second port and StartTLS.
        allow_anonymous_search: Whether anonymous clients may search (never
            read passwords). ``False`` makes a site where only the service
            account and bound users may search.
        slapd_path: The slapd binary (see :func:`find_slapd`).
        schema_dir: Where ``core.schema`` etc. live (found if not given).
        module_dir: Where ``back_mdb`` lives, if it is a module (found if not
            given).
        debug_level: slapd's ``-d`` level (see :data:`DEFAULT_DEBUG_LEVEL`).
        ready_timeout: Seconds to wait for slapd to answer.
        host: The loopback address to listen on.
        port: A fixed ``ldap://`` port (default: a free ephemeral one).
        ldaps_port: A fixed ``ldaps://`` port for the TLS variant.
        keep_directory: Keep the run directory on :meth:`close`. Set to
            ``True`` by the pytest plugin when a test using the server fails.
    """

    def start(self) -> SlapdServer:
        """Starts slapd and waits until it answers; does nothing if running.

        The first start creates the run directory, certificates,
        configuration and seeded database; later starts reuse them and the
        ports.

        Returns:
            The server itself, for chaining.

        Raises:
            SlapdNotFoundError: slapd or its schemas are not installed.
            SlapdStartError: Seeding failed, slapd exited, or it did not
                answer within ``ready_timeout``; the message holds its log.
        """
        if self._closed:
            raise SlapdError("the server was closed; create a new one")
        if self.is_running:
            return self
        if self.run_dir is None:
            self._prepare()
            self._start_on_fresh_ports()
        else:
            self._launch_and_wait()
        return self

    def restart(self) -> None:
        """Stops and starts slapd on the same ports with the same data."""
        self.stop()
        self.start()

    def close(self, keep_directory: bool | None = None) -> None:
        """Stops slapd and removes the run directory.

        Args:
            keep_directory: Keep the directory (for a post-mortem); defaults
                to the ``keep_directory`` attribute.
        """
        self.stop()
        atexit.unregister(self._stop_at_exit)
        self._closed = True
        keep = self.keep_directory if keep_directory is None else keep_directory
        if self.run_dir is not None and not keep:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> SlapdServer:
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
        where = self.uri if self._port else "not started"
        return f"<{type(self).__name__} {self.suffix} {where} {state} run_dir={self.run_dir}>"
