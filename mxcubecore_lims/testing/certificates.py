"""Throw-away certificates for TLS tests, made with the ``openssl`` tool.

:func:`create_tls_material` makes, in one directory:

* a test CA,
* a server certificate signed by it for ``localhost`` and ``127.0.0.1``
  (subjectAltName holds both, as DNS and IP entries), and
* a second, unrelated CA, so a test can show that a client trusting the wrong
  CA refuses the server.

The ``openssl`` command-line tool is used rather than Python's
``cryptography`` package, which is not a dependency of this project. Keys are
ECDSA P-256: fast to generate, and accepted by both OpenSSL (Python's ``ssl``)
and GnuTLS (Debian's slapd). Private keys are made readable by their owner
only; slapd runs as the same user, so it can read them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mxcubecore_lims.errors import LimsError

__all__ = [
    "ENV_OPENSSL",
    "CertificateAuthority",
    "CertificateError",
    "OpenSslNotFoundError",
    "ServerCertificate",
    "TlsMaterial",
    "create_ca",
    "create_server_certificate",
    "create_tls_material",
    "find_openssl",
]

#: Environment variable naming the ``openssl`` binary to use.
ENV_OPENSSL = "MXCUBECORE_LIMS_OPENSSL"

# Two days: long enough for any test run, short enough to be obviously junk.
_DAYS = 2


class CertificateError(LimsError):
    """``openssl`` failed to make a key or certificate.

    Attributes:
        output: What ``openssl`` printed.
    """

    def __init__(self, reason: str, output: str = "") -> None:
        self.output = output
        super().__init__(f"{reason}\n{output}".rstrip())


class OpenSslNotFoundError(CertificateError, FileNotFoundError):
    """The ``openssl`` command-line tool is not installed."""


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed CA.

    Attributes:
        name: The CA's common name.
        cert_file: Its PEM certificate (what clients trust).
        key_file: Its PEM private key.
    """

    name: str
    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class ServerCertificate:
    """A server certificate and key.

    Attributes:
        cert_file: The PEM certificate.
        key_file: The PEM private key (mode 0600).
        ca: The CA that signed it.
        dns_names: The DNS names in subjectAltName.
        ip_addresses: The IP addresses in subjectAltName.
    """

    cert_file: Path
    key_file: Path
    ca: CertificateAuthority
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]


@dataclass(frozen=True)
class TlsMaterial:
    """What a TLS test server and its clients need.

    Attributes:
        ca: The CA that signed :attr:`server`.
        server: The server certificate for localhost / 127.0.0.1.
        other_ca: An unrelated CA, for "wrong CA is refused" tests.
    """

    ca: CertificateAuthority
    server: ServerCertificate
    other_ca: CertificateAuthority


def find_openssl(path: str | Path | None = None) -> Path:
    """Finds the ``openssl`` binary.

    Args:
        path: An explicit binary; otherwise ``$MXCUBECORE_LIMS_OPENSSL``, then
            ``openssl`` on ``PATH``.

    Raises:
        OpenSslNotFoundError: It is not there.
    """
    candidate = path or os.environ.get(ENV_OPENSSL) or shutil.which("openssl")
    if not candidate or not os.access(candidate, os.X_OK) or Path(candidate).is_dir():
        raise OpenSslNotFoundError(
            f"the openssl command-line tool was not found ({candidate or 'not on PATH'}); "
            f"install it or set {ENV_OPENSSL}"
        )
    return Path(candidate)


def create_ca(
    directory: str | Path,
    name: str = "mxcubecore-lims test CA",
    *,
    stem: str = "ca",
    openssl: str | Path | None = None,
) -> CertificateAuthority:
    """Creates a self-signed CA certificate and key.

    Args:
        directory: Where to write ``<stem>.pem`` and ``<stem>.key``.
        name: The CA's common name.
        stem: The file name stem.
        openssl: The ``openssl`` binary (see :func:`find_openssl`).

    Raises:
        CertificateError: ``openssl`` failed.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = _write_config(directory / f"{stem}.cnf", name, _CA_EXTENSIONS)
    ca = CertificateAuthority(name, directory / f"{stem}.pem", directory / f"{stem}.key")
    _run(
        openssl,
        [
            "req",
            "-x509",
            "-new",
            *_NEW_KEY,
            "-keyout",
            ca.key_file,
            "-out",
            ca.cert_file,
            "-days",
            str(_DAYS),
            "-sha256",
            "-config",
            config,
            "-extensions",
            "extensions",
        ],
        f"creating CA {name!r}",
    )
    _restrict(ca.key_file)
    return ca


def create_server_certificate(
    ca: CertificateAuthority,
    directory: str | Path,
    *,
    stem: str = "server",
    dns_names: Sequence[str] = ("localhost",),
    ip_addresses: Sequence[str] = ("127.0.0.1",),
    openssl: str | Path | None = None,
) -> ServerCertificate:
    """Creates a server key and a certificate signed by ``ca``.

    Args:
        ca: The signing CA.
        directory: Where to write ``<stem>.pem`` and ``<stem>.key``.
        stem: The file name stem.
        dns_names: DNS names for subjectAltName; the first is also the CN.
        ip_addresses: IP addresses for subjectAltName.
        openssl: The ``openssl`` binary (see :func:`find_openssl`).

    Raises:
        CertificateError: ``openssl`` failed.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    alt_names = [f"DNS:{name}" for name in dns_names] + [f"IP:{ip}" for ip in ip_addresses]
    extensions = _SERVER_EXTENSIONS + f"subjectAltName = {', '.join(alt_names)}\n"
    common_name = (list(dns_names) + list(ip_addresses))[0]
    config = _write_config(directory / f"{stem}.cnf", common_name, extensions)
    cert = ServerCertificate(
        directory / f"{stem}.pem",
        directory / f"{stem}.key",
        ca,
        tuple(dns_names),
        tuple(ip_addresses),
    )
    request = directory / f"{stem}.csr"
    _run(
        openssl,
        ["req", "-new", *_NEW_KEY, "-keyout", cert.key_file, "-out", request, "-config", config],
        f"creating the key and request for {common_name}",
    )
    _restrict(cert.key_file)
    # -set_serial with a random value: two runs never issue equal serials.
    _run(
        openssl,
        [
            "x509",
            "-req",
            "-in",
            request,
            "-CA",
            ca.cert_file,
            "-CAkey",
            ca.key_file,
            "-set_serial",
            str(secrets.randbits(63)),
            "-days",
            str(_DAYS),
            "-sha256",
            "-extfile",
            config,
            "-extensions",
            "extensions",
            "-out",
            cert.cert_file,
        ],
        f"signing the certificate for {common_name}",
    )
    return cert


def create_tls_material(directory: str | Path, *, openssl: str | Path | None = None) -> TlsMaterial:
    """Creates a CA, a localhost server certificate, and an unrelated CA.

    Args:
        directory: Where to write the files (created if needed).
        openssl: The ``openssl`` binary (see :func:`find_openssl`).

    Raises:
        OpenSslNotFoundError: ``openssl`` is not installed.
        CertificateError: ``openssl`` failed.
    """
    openssl = find_openssl(openssl)
    ca = create_ca(directory, openssl=openssl)
    server = create_server_certificate(ca, directory, openssl=openssl)
    other = create_ca(directory, "mxcubecore-lims unrelated CA", stem="other-ca", openssl=openssl)
    return TlsMaterial(ca=ca, server=server, other_ca=other)


# --------------------------------------------------------------------------
# helpers

_NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

_CA_EXTENSIONS = """\
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

_SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _write_config(path: Path, common_name: str, extensions: str) -> Path:
    """Writes a self-contained openssl config, so the system's cannot interfere."""
    path.write_text(
        "[req]\n"
        "prompt = no\n"
        "distinguished_name = subject\n"
        "[subject]\n"
        "O = mxcubecore-lims tests\n"
        f"CN = {common_name}\n"
        "[extensions]\n" + extensions,
        encoding="utf-8",
    )
    return path


def _restrict(key_file: Path) -> None:
    """Makes a private key readable by its owner only."""
    key_file.chmod(0o600)


def _run(openssl: str | Path | None, arguments: list[object], doing: str) -> None:
    """Runs ``openssl`` and raises with its output when it fails."""
    command = [str(find_openssl(openssl)), *(str(argument) for argument in arguments)]
    # OPENSSL_CONF would otherwise be read before our -config for some commands.
    environment = {**os.environ, "OPENSSL_CONF": os.devnull}
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False, env=environment, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CertificateError(f"openssl failed while {doing}: {exc}") from exc
    if result.returncode != 0:
        raise CertificateError(
            f"openssl failed while {doing} (exit status {result.returncode})",
            result.stdout + result.stderr,
        )
