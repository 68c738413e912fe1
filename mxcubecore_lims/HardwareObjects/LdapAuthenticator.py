"""The ``ldapServer`` role object: LDAP authentication for the LIMS objects.

A drop-in replacement for mxcubecore's ``LdapAuthenticator``: it reads the
same keys, so existing ``ldapconnection.xml`` files keep working, and adds
failover, TLS, search-then-bind with a service account, groups, timeouts and
user attributes. The protocol work is done by :mod:`mxcubecore_lims.ldap`.

``authenticate(username, password)`` keeps mxcubecore's contract of
returning True on success, but a refusal is a typed error, never False:
wrong credentials, unknown user, server unreachable and misconfiguration are
different problems for the person at the login prompt and for the log.

XML, as sites have it (mxcubecore's keys)::

    <object class="mxcubecore_lims.HardwareObjects.LdapAuthenticator">
      <ldaphost>ldap.example.org</ldaphost>
      <ldapport>389</ldapport>
      <ldapdomain>example.org</ldapdomain>
      <ldapou>people</ldapou>
    </object>

YAML, with the new keys::

    class: mxcubecore_lims.HardwareObjects.LdapAuthenticator.LdapAuthenticator
    configuration:
      uris: ldaps://ldap1.example.org ldaps://ldap2.example.org
      base_dn: ou=people,dc=example,dc=org
      service_dn: cn=mxcube,ou=services,dc=example,dc=org
      service_password: ${file:/etc/mxcube/ldap-service-password}
      ca_file: /etc/ssl/certs/site-ca.pem
      required_group: cn=mx-users,ou=groups,dc=example,dc=org
      connect_timeout: 3
      operation_timeout: 5
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mxcubecore.HardwareObjects.abstract.AbstractAuthenticator import AbstractAuthenticator
from pydantic import SecretStr, ValidationError, model_validator

from mxcubecore_lims.errors import LdapConfigError
from mxcubecore_lims.ldap.client import LdapAuthClient, LdapUser
from mxcubecore_lims.ldap.settings import LdapSettings, legacy_base_dn, legacy_uris

__all__ = ["LdapAuthenticator"]


class LdapAuthenticator(AbstractAuthenticator):
    """Authenticates users against an LDAP directory (ldap3, cooperative under gevent)."""

    class HOConfig(AbstractAuthenticator.HOConfig):
        """Configuration keys; mxcubecore's four first, then ours."""

        ldaphost: str | None = None
        """mxcubecore: server host name(s), space separated (or URIs)."""
        ldapport: int | None = None
        """mxcubecore: server port."""
        ldapdomain: str | None = None
        """mxcubecore: ``example.org`` (read as ``dc=example,dc=org``) or a DN."""
        ldapou: str | None = None
        """mxcubecore: organisational unit of the users (``people``)."""
        uris: str | None = None
        """Server URIs, space separated, tried in order (instead of ldaphost/ldapport)."""
        base_dn: str | None = None
        """Where users are searched (instead of ldapdomain/ldapou)."""
        login_attribute: str = "uid"
        """Attribute holding the user name typed at login."""
        bind_dn_template: str | None = None
        """Bind directly as this DN (``{username}`` is replaced, escaped)."""
        service_dn: str | None = None
        """Account that searches for users (anonymous search when absent)."""
        service_password: SecretStr | None = None
        """Its password (use ``${env:...}`` or ``${file:...}``)."""
        start_tls: bool = False
        """Upgrade ``ldap://`` connections with StartTLS."""
        ca_file: Path | None = None
        """CA bundle to verify the server with (default: the system's)."""
        verify_certificates: bool = True
        """Verify the server's certificate and host name."""
        connect_timeout: float = 5.0
        """Seconds per server to connect."""
        operation_timeout: float = 10.0
        """Seconds per server answer."""
        required_group: str | None = None
        """DN of a group (groupOfNames, groupOfUniqueNames or posixGroup) users must be in; anyone when absent."""
        full_name_attribute: str = "cn"
        """Attribute giving the full name."""
        email_attribute: str = "mail"
        """Attribute giving the e-mail address."""
        home_directory_attribute: str = "homeDirectory"
        """Attribute giving the home directory."""
        extra_attributes: list[str] = []
        """More attributes to read for the user record."""

        def to_settings(self) -> LdapSettings:
            """The client settings these keys describe."""
            if self.uris:
                uris = tuple(self.uris.split())
            elif self.ldaphost:
                uris = legacy_uris(self.ldaphost, self.ldapport)
            else:
                raise ValueError("give 'uris' (or mxcubecore's 'ldaphost')")
            base_dn = self.base_dn or (legacy_base_dn(self.ldapdomain, self.ldapou) if self.ldapdomain else "")
            return LdapSettings(
                uris=uris,
                base_dn=base_dn,
                login_attribute=self.login_attribute,
                bind_dn_template=self.bind_dn_template,
                service_dn=self.service_dn,
                service_password=self.service_password,
                start_tls=self.start_tls,
                ca_file=self.ca_file,
                verify_certificates=self.verify_certificates,
                connect_timeout=self.connect_timeout,
                operation_timeout=self.operation_timeout,
                required_group=self.required_group,
                full_name_attribute=self.full_name_attribute,
                email_attribute=self.email_attribute,
                home_directory_attribute=self.home_directory_attribute,
                extra_attributes=tuple(self.extra_attributes),
            )

        @model_validator(mode="after")
        def _describes_a_directory(self) -> LdapAuthenticator.HOConfig:
            # Fails at load time, with the file and line, not at the first login.
            self.to_settings()
            return self

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._client: LdapAuthClient | None = None
        self._users: dict[str, LdapUser] = {}

    def init(self) -> None:
        """Builds the client; connects to nothing (a down server must not stop the beamline loading)."""
        try:
            settings = self.config.to_settings()
        except (ValueError, ValidationError) as error:
            raise LdapConfigError(f"LdapAuthenticator '{self.name}': {error}") from error
        if self._client is not None:
            self._client.close()  # initialised again: the kept connections of the old client go
        self._client = self._create_client(settings)
        # After the client exists: mxcubecore's init() reads every attribute.
        super().init()

    def _create_client(self, settings: LdapSettings) -> LdapAuthClient:
        """Factory seam for the client."""
        return LdapAuthClient(settings)

    @property
    def client(self) -> LdapAuthClient:
        """The LDAP client (built by ``init``)."""
        if self._client is None:
            raise LdapConfigError(f"LdapAuthenticator '{self.name}' is not initialised")
        return self._client

    def login(self, username: str, password: str) -> LdapUser:
        """Authenticates and returns the user with their attributes.

        Raises:
            LdapError: One of its typed subclasses (see :meth:`LdapAuthClient.authenticate`).
        """
        user = self.client.authenticate(username, password)
        self._users.pop(username, None)  # re-insert: the latest login is last
        self._users[username] = user
        self.log.info("LDAP login of %s (%s) accepted by %s", username, user.dn, user.server)
        return user

    def authenticate(self, username: str, password: str) -> bool:
        """Mxcubecore's contract: True on success; a refusal raises a typed LdapError."""
        self.login(username, password)
        return True

    def get_user(self, username: str) -> LdapUser | None:
        """The user as of their last successful login here, if any."""
        return self._users.get(username)

    def get_full_name(self, username: str) -> str:
        """Full name from the directory (the user name when unknown)."""
        user = self._users.get(username)
        return user.full_name if user else username

    def get_field_values(self) -> dict[str, Any] | None:
        """Attributes of the latest login (mxcubecore site code reads this)."""
        if not self._users:
            return None
        return dict(next(reversed(self._users.values())).attributes)

    def echo(self) -> bool:
        """True when a server answers now. Never raises."""
        return self._client is not None and self._client.ping()

    def invalidate(self, username: str | None = None) -> None:
        """Forgets what the last login of ``username`` (or of everybody) returned."""
        if username is None:
            self._users.clear()
        else:
            self._users.pop(username, None)
