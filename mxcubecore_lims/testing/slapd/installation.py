"""Where the installed OpenLDAP is: the slapd binary, its schema files and its backend modules.

The slapd binary is found from the ``slapd_path`` argument, then the
``MXCUBECORE_LIMS_SLAPD`` environment variable, then ``PATH`` and
``/usr/sbin``. slapadd is the same binary run as ``slapd -T add``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from mxcubecore_lims.testing.slapd.errors import SlapdNotFoundError

__all__ = ["ENV_SLAPD", "MODULE_DIRS", "SCHEMA_DIRS", "SEARCH_DIRS", "find_slapd", "first_existing"]

#: Environment variable naming the slapd binary.
ENV_SLAPD = "MXCUBECORE_LIMS_SLAPD"

SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/libexec", "/usr/local/libexec")
SCHEMA_DIRS = ("/etc/ldap/schema", "/etc/openldap/schema", "/usr/local/etc/openldap/schema")
# Debian builds backends as modules; other builds may link mdb in.
MODULE_DIRS = (
    "/usr/lib/ldap",
    "/usr/lib64/openldap",
    "/usr/lib/openldap",
    "/usr/libexec/openldap",
)


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
        candidates = ([found] if found else []) + [f"{d}/slapd" for d in SEARCH_DIRS]
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return Path(candidate)
    shown = candidates[0] if named else "PATH and " + ", ".join(SEARCH_DIRS)
    raise SlapdNotFoundError(
        f"slapd (OpenLDAP server) not found in {shown}; install it (Debian: apt-get install "
        f"slapd ldap-utils) or set {ENV_SLAPD} to the binary"
    )


def first_existing(paths: Sequence[str]) -> Path | None:
    """Returns the first existing directory of ``paths``."""
    return next((Path(p) for p in paths if Path(p).is_dir()), None)
