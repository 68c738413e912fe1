"""What a test LDAP server is set to, and where it is: addresses, accounts and run-directory files."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from mxcubecore_lims.testing.certificates import TlsMaterial
from mxcubecore_lims.testing.ldap_seed import DEFAULT_SEED, SERVICE_CN, Seed
from mxcubecore_lims.testing.slapd.errors import SlapdError

__all__ = ["DEFAULT_DEBUG_LEVEL", "SlapdSettings"]

#: slapd's default ``-d`` level. ``stats`` logs every connection and
#: operation. ``none`` is not "nothing": it is the category of messages that
#: are always logged, such as configuration errors. ``-d`` sets the stderr mask
#: exactly, so without it slapd 2.5 exits on a bad slapd.conf printing nothing.
DEFAULT_DEBUG_LEVEL = "stats,none"


class SlapdSettings:
    """The arguments, addresses, accounts and files of a :class:`~.server.SlapdServer`.

    The arguments are documented on :class:`~.server.SlapdServer`, which
    adds the configuration (:mod:`.config`) and the process (:mod:`.process`).
    """

    def __init__(
        self,
        *,
        suffix: str = "dc=example,dc=org",
        root_password: str = "root-secret",  # noqa: S107 - a throw-away test server's documented default
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
        """The output of slapd, accumulated over every start."""
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
