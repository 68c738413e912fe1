"""Writing the test LDAP server's ``slapd.conf``: schemas, modules, TLS, the database and its access policy."""

from __future__ import annotations

from pathlib import Path

from mxcubecore_lims.testing.ldap_seed import ssha_password
from mxcubecore_lims.testing.slapd.errors import SlapdNotFoundError
from mxcubecore_lims.testing.slapd.installation import MODULE_DIRS, SCHEMA_DIRS, first_existing
from mxcubecore_lims.testing.slapd.settings import SlapdSettings

__all__ = ["SlapdConfig"]

_SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


class SlapdConfig(SlapdSettings):
    """The ``slapd.conf`` of a :class:`~.server.SlapdServer`.

    Override these methods in a subclass to change the set-up.
    """

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
        found = self.schema_dir or first_existing(SCHEMA_DIRS)
        if found is None or not (found / "core.schema").is_file():
            looked_in = found or ", ".join(SCHEMA_DIRS)
            raise SlapdNotFoundError(f"no OpenLDAP schema directory with core.schema ({looked_in})")
        return found

    def _module_dir(self) -> Path | None:
        if self.module_dir is not None:
            return self.module_dir
        found = first_existing(MODULE_DIRS)
        # No back_mdb module means mdb is built in (or missing: slapd says so).
        if found is None or not any(found.glob("back_mdb.*")):
            return None
        return found
