"""Settings of the LDAP authentication client.

The client supports three ways to find and check a user:

* **search then bind** (default): search ``base_dn`` for ``login_attribute``
  equal to the user name, anonymously or as a service account, then bind as
  the entry found. Tells "unknown user" from "wrong password".
* **bind-DN template**: bind directly as ``bind_dn_template`` with the
  DN-escaped user name filled in (``uid={username},ou=people,dc=example,dc=org``).
  Needs no search rights; cannot tell an unknown user from a wrong password.
* mxcubecore's keys (``ldaphost``, ``ldapport``, ``ldapdomain``, ``ldapou``)
  map to an anonymous search-then-bind under ``ou=<ldapou>,<domain>`` (or
  the domain), the way mxcubecore's own authenticator searches.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class LdapSettings(BaseModel):
    """Everything the client needs; built once from the hardware object's configuration.

    Attributes are documented on the fields. Timeouts are in seconds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    uris: tuple[str, ...] = Field(min_length=1)
    """Server URIs (``ldap://host:389``, ``ldaps://host:636``), tried in order."""
    base_dn: str = ""
    """Where users are searched (subtree)."""
    login_attribute: str = "uid"
    """The attribute that holds the login name."""
    bind_dn_template: str | None = None
    """Direct bind DN with ``{username}``; when set and no service account is, no search is made."""
    service_dn: str | None = None
    """Service account that searches (otherwise the search is anonymous)."""
    service_password: SecretStr | None = None
    """Password of the service account."""
    start_tls: bool = False
    """Upgrade ``ldap://`` connections with StartTLS."""
    ca_file: Path | None = None
    """CA certificates (PEM) to verify servers with; default: the system's."""
    verify_certificates: bool = True
    """Verify server certificates and host names. Turning it off is logged as a warning."""
    connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait for a TCP (and TLS) connection to one server."""
    operation_timeout: float = Field(default=10.0, gt=0)
    """Seconds to wait for one LDAP answer (rounded up to whole seconds by ldap3)."""
    required_group: str | None = None
    """DN of a group (groupOfNames, groupOfUniqueNames or posixGroup) the user must be in."""
    full_name_attribute: str = "cn"
    email_attribute: str = "mail"
    home_directory_attribute: str = "homeDirectory"
    extra_attributes: tuple[str, ...] = ()
    """Further attributes to return with the user."""
    max_username_length: int = Field(default=256, gt=0)

    @field_validator("uris")
    @classmethod
    def _known_schemes(cls, uris: tuple[str, ...]) -> tuple[str, ...]:
        for uri in uris:
            if not uri.startswith(("ldap://", "ldaps://")):
                raise ValueError(f"'{uri}' is not an ldap:// or ldaps:// URI")
        return uris

    @model_validator(mode="after")
    def _consistent(self) -> LdapSettings:
        if self.bind_dn_template is not None and "{username}" not in self.bind_dn_template:
            raise ValueError("bind_dn_template must contain {username}")
        if self.bind_dn_template is None and not self.base_dn:
            raise ValueError("base_dn (or ldapdomain) is needed to search for users")
        if (self.service_dn is None) != (self.service_password is None):
            raise ValueError("service_dn and service_password go together")
        return self

    @property
    def searches(self) -> bool:
        """True when users are found by a search before binding."""
        return self.bind_dn_template is None or self.service_dn is not None

    @property
    def attributes(self) -> list[str]:
        """Every attribute read from a user's entry."""
        wanted = [self.login_attribute, self.full_name_attribute, self.email_attribute, self.home_directory_attribute]
        return list(dict.fromkeys([*wanted, *self.extra_attributes]))


def domain_to_dn(domain: str) -> str:
    """Turns mxcubecore's ``ldapdomain`` (``esrf.fr``) into a DN (``dc=esrf,dc=fr``).

    A value that already is a DN (contains ``=``) is returned unchanged.
    """
    domain = domain.strip()
    if "=" in domain:
        return domain
    return ",".join(f"dc={part}" for part in domain.split(".") if part)


def legacy_uris(host: str, port: int | None) -> tuple[str, ...]:
    """URIs from mxcubecore's ``ldaphost``/``ldapport`` (several hosts separated by spaces)."""
    uris = []
    for entry in host.split():
        if entry.startswith(("ldap://", "ldaps://")):
            uris.append(entry)
        else:
            uris.append(f"ldap://{entry}:{port}" if port else f"ldap://{entry}")
    return tuple(uris)


def legacy_base_dn(domain: str, organisational_unit: str | None) -> str:
    """The search base mxcubecore's ``ldapdomain`` and ``ldapou`` describe."""
    base = domain_to_dn(domain)
    if organisational_unit:
        unit = organisational_unit.strip()
        return f"{unit},{base}" if "=" in unit else f"ou={unit},{base}"
    return base
