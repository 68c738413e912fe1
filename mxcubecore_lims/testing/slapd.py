"""A real OpenLDAP ``slapd`` on a loopback port, for tests.

:class:`SlapdServer` runs slapd from a fresh temporary directory::

    with SlapdServer() as server:          # seeded with DEFAULT_SEED
        alice = server.seed.user("alice")
        connection = ldap3.Connection(server.uri, server.user_dn("alice"), alice.password)

What it sets up, in ``run_dir``:

* ``slapd.conf``: an ``mdb`` database for ``suffix`` with the core, cosine,
  inetorgperson and nis schemas, a root DN and password, and an access policy
  like a real site's (see :meth:`SlapdServer.access_rules`);
* ``db/``: the database, filled with ``slapd -T add`` (slapadd) before the
  first start, from a :class:`~mxcubecore_lims.testing.ldap_seed.Seed` and/or
  LDIF;
* ``tls/``: a throw-away CA and a server certificate, when ``tls=True``;
  slapd then also listens on ``ldaps://`` and offers StartTLS on ``ldap://``;
* ``slapd.log``: slapd's own output, run in the foreground with
  ``-d stats,none`` so every connection and operation is logged, and so are
  configuration errors (:meth:`SlapdServer.log_text`).

Ports are picked by binding port 0 on 127.0.0.1 and closing the socket again,
then handing the number to slapd. Another process could take the port in the
short gap between: that race cannot be closed for an external binary (it
cannot inherit our socket). The first start therefore retries on new ports
when slapd reports the address in use; a restart reuses the same port on
purpose and fails if it was taken meanwhile.

The slapd binary is found from the ``slapd_path`` argument, then the
``MXCUBECORE_LIMS_SLAPD`` environment variable, then ``PATH`` and
``/usr/sbin``. slapadd is the same binary run as ``slapd -T add``.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from mxcubecore_lims.errors import LimsError, LimsUnavailableError
from mxcubecore_lims.testing.certificates import TlsMaterial, create_tls_material
from mxcubecore_lims.testing.ldap_seed import DEFAULT_SEED, SERVICE_CN, Seed, ssha_password

__all__ = [
    "ENV_SLAPD",
    "DEFAULT_DEBUG_LEVEL",
    "SlapdError",
    "SlapdNotFoundError",
    "SlapdStartError",
    "SlapdServer",
    "find_slapd",
    "free_port",
]

#: Environment variable naming the slapd binary.
ENV_SLAPD = "MXCUBECORE_LIMS_SLAPD"

_SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/libexec", "/usr/local/libexec")
_SCHEMA_DIRS = ("/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema")
# Debian builds backends as modules; other builds may link mdb in.
_MODULE_DIRS = (
    "/usr/lib/ldap",
    "/usr/lib64/openldap",
    "/usr/lib/openldap",
    "/usr/libexec/openldap",
)
_SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
_ADDRESS_IN_USE = ("errno=98", "Address already in use")
_LOG_TAIL_LINES = 200

#: slapd's default ``-d`` level. ``stats`` logs every connection and
#: operation. ``none`` is not "nothing": it is the category of messages that
#: are always logged, such as configuration errors. ``-d`` sets the stderr mask
#: exactly, so without it slapd 2.5 exits on a bad slapd.conf printing nothing.
DEFAULT_DEBUG_LEVEL = "stats,none"


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


def find_slapd(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """Finds the slapd binary.

    Args:
        path: An explicit binary; wins over everything else.
        environ: The environment to read ``MXCUBECORE_LIMS_SLAPD`` from
            (default ``os.environ``).

    Returns:
        The binary.

    Raises:
        SlapdNotFoundError: The named binary, or any slapd, is missing.
    """
    environ = os.environ if environ is None else environ
    named = path or environ.get(ENV_SLAPD)
    if named:
        # An explicit choice must not silently fall back to another slapd.
        candidates = [str(named)]
    else:
        found = shutil.which("slapd")
        candidates = ([found] if found else []) + [f"{d}/slapd" for d in _SEARCH_DIRS]
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return Path(candidate)
    shown = candidates[0] if named else "PATH and " + ", ".join(_SEARCH_DIRS)
    raise SlapdNotFoundError(
        f"slapd (OpenLDAP server) not found in {shown}; install it (Debian: apt-get install "
        f"slapd ldap-utils) or set {ENV_SLAPD} to the binary"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Returns a TCP port that was free a moment ago (see the module docstring)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _first_existing(paths: Sequence[str]) -> Path | None:
    """Returns the first existing directory of ``paths``."""
    return next((Path(p) for p in paths if Path(p).is_dir()), None)


class SlapdServer:
    """An OpenLDAP server in a temporary directory, on loopback ports.

    Nothing happens until :meth:`start` (or ``with``). Then it stays usable
    across :meth:`stop` / :meth:`start` cycles (same ports, same database)
    until :meth:`close` removes the run directory.

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

    def __init__(
        self,
        *,
        suffix: str = "dc=example,dc=org",
        root_password: str = "root-secret",
        seed: Seed | None = DEFAULT_SEED,
        ldif: Sequence[str | Path] = (),
        tls: bool = False,
        allow_anonymous_search: bool = True,
        slapd_path: str | Path | None = None,
        schema_dir: str | Path | None = None,
        module_dir: str | Path | None = None,
        debug_level: str = DEFAULT_DEBUG_LEVEL,
        ready_timeout: float = 10.0,
        host: str = "127.0.0.1",
        port: int | None = None,
        ldaps_port: int | None = None,
        keep_directory: bool = False,
    ) -> None:
        self.suffix = suffix
        self.root_password = root_password
        self.seed = seed
        self.ldif = tuple(ldif)
        self.tls = tls
        self.allow_anonymous_search = allow_anonymous_search
        self.slapd_path = slapd_path
        self.schema_dir = Path(schema_dir) if schema_dir else None
        self.module_dir = Path(module_dir) if module_dir else None
        self.debug_level = debug_level
        self.ready_timeout = ready_timeout
        self.host = host
        self.keep_directory = keep_directory
        self.run_dir: Path | None = None
        self.tls_material: TlsMaterial | None = None
        self.start_count = 0
        self._requested_ports = (port, ldaps_port)
        self._port: int | None = None
        self._ldaps_port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._slapd: Path | None = None
        self._closed = False

    # ------------------------------------------------------------------
    # addresses and accounts

    @property
    def port(self) -> int:
        """The ``ldap://`` port (chosen on the first start)."""
        if self._port is None:
            raise SlapdError("the server has no port before its first start()")
        return self._port

    @property
    def ldaps_port(self) -> int:
        """The ``ldaps://`` port (TLS servers only)."""
        if not self.tls:
            raise SlapdError("this server was created without tls=True: no ldaps port")
        if self._ldaps_port is None:
            raise SlapdError("the server has no port before its first start()")
        return self._ldaps_port

    @property
    def uri(self) -> str:
        """``ldap://127.0.0.1:<port>``; offers StartTLS when ``tls=True``."""
        return f"ldap://{self.host}:{self.port}"

    @property
    def ldaps_uri(self) -> str:
        """``ldaps://127.0.0.1:<ldaps_port>`` (TLS servers only)."""
        return f"ldaps://{self.host}:{self.ldaps_port}"

    @property
    def base_dn(self) -> str:
        """The suffix, e.g. ``dc=example,dc=org``."""
        return self.suffix

    @property
    def root_dn(self) -> str:
        """The root DN, ``cn=admin,<suffix>``; bypasses the access policy."""
        return f"cn=admin,{self.suffix}"

    @property
    def service_dn(self) -> str:
        """The service account's DN, ``cn=mxcube-service,ou=services,<suffix>``."""
        return f"cn={SERVICE_CN},ou=services,{self.suffix}"

    @property
    def service_password(self) -> str:
        """The service account's plain password (from the seed)."""
        if self.seed is None:
            raise SlapdError("this server has no seed, so no service account password")
        return self.seed.service(SERVICE_CN).password

    @property
    def ca_file(self) -> Path:
        """The CA certificate clients must trust (TLS servers only)."""
        return self._tls().ca.cert_file

    @property
    def other_ca_file(self) -> Path:
        """An unrelated CA certificate, for "wrong CA is refused" tests."""
        return self._tls().other_ca.cert_file

    def user_dn(self, uid: str) -> str:
        """Returns a seeded user's DN, escaped as needed.

        Raises:
            KeyError: No such user in the seed.
        """
        return self._seed().user(uid).dn(self.suffix)

    def group_dn(self, cn: str) -> str:
        """Returns a seeded group's DN.

        Raises:
            KeyError: No such group in the seed.
        """
        return self._seed().group(cn).dn(self.suffix)

    def _seed(self) -> Seed:
        if self.seed is None:
            raise SlapdError("this server has no seed")
        return self.seed

    def _tls(self) -> TlsMaterial:
        if not self.tls:
            raise SlapdError("this server was created without tls=True")
        if self.tls_material is None:
            raise SlapdError("the certificates are made on the first start()")
        return self.tls_material

    # ------------------------------------------------------------------
    # files

    @property
    def config_file(self) -> Path:
        """``slapd.conf`` in the run directory."""
        return self._dir() / "slapd.conf"

    @property
    def log_file(self) -> Path:
        """slapd's output, accumulated over every start."""
        return self._dir() / "slapd.log"

    def _dir(self) -> Path:
        if self.run_dir is None:
            raise SlapdError("the server has no run directory before its first start()")
        return self.run_dir

    def log_size(self) -> int:
        """Returns the log's current size, to pass to :meth:`log_text` later."""
        try:
            return self.log_file.stat().st_size
        except (OSError, SlapdError):
            return 0

    def log_text(self, since: int = 0) -> str:
        """Returns slapd's output, from byte offset ``since`` on."""
        try:
            with self.log_file.open("rb") as log:
                log.seek(since)
                return log.read().decode("utf-8", errors="replace")
        except (OSError, SlapdError):
            return ""

    # ------------------------------------------------------------------
    # configuration (override these in a subclass to change the set-up)

    def config_text(self) -> str:
        """Returns the whole ``slapd.conf``."""
        return "\n".join([*self.global_config(), "", *self.database_config()]) + "\n"

    def global_config(self) -> list[str]:
        """Returns the global part: schemas, files, modules, TLS, root DSE access."""
        schema_dir = self._schema_dir()
        lines = [f'include "{schema_dir / name}.schema"' for name in _SCHEMAS]
        lines += [
            f'pidfile "{self._dir() / "slapd.pid"}"',
            f'argsfile "{self._dir() / "slapd.args"}"',
        ]
        module_dir = self._module_dir()
        if module_dir is not None:
            lines += [f'modulepath "{module_dir}"', "moduleload back_mdb"]
        if self.tls:
            material = self._tls()
            lines += [
                f'TLSCACertificateFile "{material.ca.cert_file}"',
                f'TLSCertificateFile "{material.server.cert_file}"',
                f'TLSCertificateKeyFile "{material.server.key_file}"',
                "TLSVerifyClient never",
            ]
        # Clients discover the server through the root DSE and schema, which
        # live outside any database, so the frontend grants them to all.
        lines += [
            'access to dn.base="" by * read',
            'access to dn.base="cn=Subschema" by * read',
        ]
        return lines

    def database_config(self) -> list[str]:
        """Returns the database part: mdb, suffix, root DN, indices and access."""
        return [
            "database mdb",
            f'suffix "{self.suffix}"',
            f'rootdn "{self.root_dn}"',
            f"rootpw {ssha_password(self.root_password)}",
            f'directory "{self._dir() / "db"}"',
            # 64 MiB of address space, not disk: plenty for test data.
            "maxsize 67108864",
            "index objectClass eq",
            "index uid,cn,mail,memberUid,member eq",
            *self.access_rules(),
        ]

    def access_rules(self) -> list[str]:
        """Returns the access policy, like a real site's.

        * ``userPassword``: anonymous may use it to bind (``auth``); nobody
          else, not even the user or the service account, may read it.
        * Everything else: the service account and bound users may read
          (search); anonymous clients too unless ``allow_anonymous_search``
          is off.
        """
        anonymous = "by anonymous read" if self.allow_anonymous_search else "by anonymous auth"
        return [
            "access to attrs=userPassword",
            "    by anonymous auth",
            "    by * none",
            "access to *",
            f'    by dn.exact="{self.service_dn}" read',
            "    by users read",
            f"    {anonymous}",
            "    by * none",
        ]

    def _schema_dir(self) -> Path:
        found = self.schema_dir or _first_existing(_SCHEMA_DIRS)
        if found is None or not (found / "core.schema").is_file():
            looked_in = found or ", ".join(_SCHEMA_DIRS)
            raise SlapdNotFoundError(f"no OpenLDAP schema directory with core.schema ({looked_in})")
        return found

    def _module_dir(self) -> Path | None:
        if self.module_dir is not None:
            return self.module_dir
        found = _first_existing(_MODULE_DIRS)
        # No back_mdb module means mdb is built in (or missing: slapd says so).
        if found is None or not any(found.glob("back_mdb.*")):
            return None
        return found

    # ------------------------------------------------------------------
    # life cycle

    @property
    def is_running(self) -> bool:
        """Whether the slapd process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The slapd process id while it runs."""
        return self._process.pid if self.is_running else None

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
            result = subprocess.run(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=False, timeout=60
            )
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
            self._ldaps_port = (requested_ldaps or free_port(self.host)) if self.tls else None
            self._launch_and_wait()
            return
        for attempt in range(attempts):
            self._port = free_port(self.host)
            self._ldaps_port = free_port(self.host) if self.tls else None
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
            self._process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_until_ready(log_offset)

    def _wait_until_ready(self, log_offset: int) -> None:
        """Polls with an anonymous bind + root DSE read until slapd answers."""
        deadline = time.monotonic() + self.ready_timeout
        last_problem = "no attempt yet"
        while True:
            process = self._process
            assert process is not None
            if process.poll() is not None:
                self._process = None
                raise self._start_error(
                    f"slapd exited with status {process.returncode} before it was ready",
                    log_offset,
                    process.returncode,
                )
            problem = self._probe()
            if problem is None:
                return
            last_problem = problem
            if time.monotonic() >= deadline:
                self.stop(timeout=2)
                raise self._start_error(
                    f"slapd did not answer within {self.ready_timeout:g} s "
                    f"(last attempt: {last_problem})",
                    log_offset,
                    None,
                )
            # Cooperative under gevent's monkey patching.
            time.sleep(0.05)

    def _probe(self) -> str | None:
        """Tries one anonymous bind and root DSE search; returns the problem, if any."""
        import ldap3
        from ldap3.core.exceptions import LDAPException

        # A plain connect first: cheap, and ldap3 leaks its socket when the
        # connection is refused, which is the usual answer while slapd starts.
        try:
            socket.create_connection((self.host, self.port), timeout=1).close()
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"
        server = ldap3.Server(self.host, port=self.port, get_info=ldap3.NONE, connect_timeout=1)
        connection = ldap3.Connection(server, receive_timeout=1, raise_exceptions=True)
        try:
            connection.open()
            connection.bind()
            connection.search("", "(objectClass=*)", ldap3.BASE, attributes=["namingContexts"])
            return None
        except (LDAPException, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"
        finally:
            _close_quietly(connection)

    def _start_error(self, reason: str, log_offset: int, returncode: int | None) -> SlapdStartError:
        return SlapdStartError(
            reason, self.uri, self._log_tail(log_offset), returncode, self.run_dir
        )

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


def _close_quietly(connection: Any) -> None:
    """Unbinds an ldap3 connection and closes its socket whatever state it is in."""
    from ldap3.core.exceptions import LDAPException

    try:
        connection.unbind()
    except (LDAPException, OSError):
        pass
    finally:
        if connection.socket is not None:
            connection.socket.close()
