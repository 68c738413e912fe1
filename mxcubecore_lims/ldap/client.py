"""LDAP authentication on ldap3, with failover, TLS and typed outcomes.

One authentication opens fresh connections and closes them: logins are rare,
and a connection that outlives a server restart is exactly what made
mxcubecore's authenticator need a reconnect dance. A server that comes back
is simply used again at the next login.

ldap3 is pure Python, so once gevent has patched the standard library its
sockets are cooperative: a login waiting on a slow server lets every other
greenlet run. Every connect and every answer has a timeout.
"""

from __future__ import annotations

import logging
import math
import ssl
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ldap3 import ANONYMOUS, BASE, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core import exceptions as ldap_exceptions

from mxcubecore_lims.errors import (
    LdapConfigError,
    LdapInvalidCredentialsError,
    LdapNotInGroupError,
    LdapUnavailableError,
    LdapUnknownUserError,
)
from mxcubecore_lims.ldap.escaping import (
    check_password,
    check_username,
    dn_value,
    equality_filter,
)
from mxcubecore_lims.ldap.settings import LdapSettings

log = logging.getLogger(__name__)

#: ldap3 errors that mean "this server did not answer": try the next one.
_TRANSPORT_ERRORS = (
    ldap_exceptions.LDAPSocketOpenError,
    ldap_exceptions.LDAPSocketReceiveError,
    ldap_exceptions.LDAPSocketSendError,
    ldap_exceptions.LDAPSocketCloseError,
    ldap_exceptions.LDAPSessionTerminatedByServerError,
    ldap_exceptions.LDAPResponseTimeoutError,
    ldap_exceptions.LDAPStartTLSError,
    ldap_exceptions.LDAPCommunicationError,
    OSError,
)

#: Result codes that mean "server busy or going away" rather than "no".
_UNAVAILABLE_RESULTS = {"busy", "unavailable", "unwillingToPerform", "other", "adminLimitExceeded"}


@dataclass(frozen=True)
class LdapUser:
    """A user the directory vouched for.

    Attributes:
        username: The login name as typed.
        dn: The entry's distinguished name.
        full_name: From ``full_name_attribute`` (``cn``); the user name when absent.
        email: From ``email_attribute``, if any.
        home_directory: From ``home_directory_attribute``, if any.
        attributes: Every attribute read, first value of each.
        server: The URI that answered.
    """

    username: str
    dn: str
    full_name: str
    email: Optional[str] = None
    home_directory: Optional[str] = None
    attributes: dict[str, Any] = field(default_factory=dict)
    server: str = ""


ConnectionFactory = Callable[..., Connection]


class LdapAuthClient:
    """Authenticates users against one directory served by one or more servers.

    Args:
        settings: What to connect to and how to find users.
        connection_factory: Builds ldap3 connections; replaceable for tests
            of pure logic (the default is ldap3's :class:`Connection`).
    """

    def __init__(self, settings: LdapSettings, connection_factory: ConnectionFactory = Connection) -> None:
        self.settings = settings
        self._connection_factory = connection_factory
        self._tls = self._make_tls(settings)
        if not settings.verify_certificates:
            log.warning("LDAP server certificates are NOT verified (verify_certificates is off)")

    # ------------------------------------------------------------------ API

    def authenticate(self, username: str, password: str) -> LdapUser:
        """Checks a user name and password.

        Args:
            username: The login name as typed.
            password: The password; never logged, never in an error.

        Returns:
            The user, with the configured attributes.

        Raises:
            LdapInvalidInputError: Empty, blank or malformed input (before any bind).
            LdapUnknownUserError: No entry has this login name (search modes only).
            LdapInvalidCredentialsError: The password (or, without search, the
                user name) was refused.
            LdapNotInGroupError: Authenticated but not in ``required_group``.
            LdapUnavailableError: No server answered, or TLS failed, on every URI.
            LdapConfigError: The directory refused our own configuration
                (service account, search base, ambiguous user).
        """
        check_username(username, self.settings.max_username_length)
        check_password(password)
        failures: list[str] = []
        for uri in self.settings.uris:
            try:
                return self._authenticate_on(uri, username, password)
            except _ServerDown as down:
                log.warning("LDAP server %s unavailable: %s", uri, down.reason)
                failures.append(f"{uri}: {down.reason}")
        raise LdapUnavailableError(
            "no LDAP server answered: " + "; ".join(failures), target=" ".join(self.settings.uris)
        )

    def ping(self) -> bool:
        """True when at least one server accepts a connection and an anonymous bind. Never raises."""
        for uri in self.settings.uris:
            try:
                with self._open(uri, None, None):
                    return True
            except (_ServerDown, LdapConfigError, LdapInvalidCredentialsError):
                continue
        return False

    # ------------------------------------------------------------- helpers

    def _authenticate_on(self, uri: str, username: str, password: str) -> LdapUser:
        settings = self.settings
        if not settings.searches:
            dn = settings.bind_dn_template.format(username=dn_value(username))  # type: ignore[union-attr]
            with self._open(uri, dn, password, user_bind=True) as user_connection:
                entry = self._read_entry(user_connection, dn)
                self._check_same_name(entry, username)
                self._check_group(user_connection, dn, username)
            return self._user(username, dn, entry, uri)
        search_password = settings.service_password.get_secret_value() if settings.service_password else None
        with self._open(uri, settings.service_dn, search_password) as search_connection:
            dn, entry = self._find_user(search_connection, username)
            self._check_same_name(entry, username)
            with self._open(uri, dn, password, user_bind=True):
                pass
            self._check_group(search_connection, dn, username)
        return self._user(username, dn, entry, uri)

    def _find_user(self, connection: Connection, username: str) -> tuple[str, dict[str, Any]]:
        search_filter = equality_filter(self.settings.login_attribute, username)
        self._search(connection, self.settings.base_dn, search_filter, SUBTREE, self.settings.attributes)
        entries = [e for e in connection.response or [] if e.get("type") == "searchResEntry"]
        if not entries:
            raise LdapUnknownUserError("unknown user")
        if len(entries) > 1:
            raise LdapConfigError(
                f"{len(entries)} entries match {self.settings.login_attribute} under "
                f"{self.settings.base_dn}; the login attribute must be unique"
            )
        return entries[0]["dn"], dict(entries[0].get("attributes") or {})

    def _check_same_name(self, entry: dict[str, Any], username: str) -> None:
        """Refuses a match that is not the typed name up to letter case.

        Directory matching rules fold more than case (OpenLDAP's caseIgnoreMatch
        maps full-width ``ａｌｉｃｅ`` to ``alice``); accepting such a match would
        log in one person under two names.
        """
        values = entry.get(self.settings.login_attribute) or []
        values = values if isinstance(values, list) else [values]
        if not any(str(value).casefold() == username.casefold() for value in values):
            raise LdapUnknownUserError("unknown user")

    def _read_entry(self, connection: Connection, dn: str) -> dict[str, Any]:
        self._search(connection, dn, "(objectClass=*)", BASE, self.settings.attributes)
        entries = [e for e in connection.response or [] if e.get("type") == "searchResEntry"]
        return dict(entries[0].get("attributes") or {}) if entries else {}

    def _check_group(self, connection: Connection, dn: str, username: str) -> None:
        group = self.settings.required_group
        if not group:
            return
        member_filter = "(|{}{}{})".format(
            equality_filter("member", dn),
            equality_filter("uniqueMember", dn),
            equality_filter("memberUid", username),
        )
        found = self._search(connection, group, member_filter, BASE, [], missing_ok=True)
        if not found:
            raise LdapNotInGroupError(f"user is not a member of {group}")

    def _search(
        self,
        connection: Connection,
        base: str,
        search_filter: str,
        scope: str,
        attributes: list[str],
        missing_ok: bool = False,
    ) -> bool:
        """Runs a search; True when it found something.

        Raises:
            _ServerDown: The server went away or is busy.
            LdapConfigError: The base does not exist or may not be searched.
        """
        try:
            found = connection.search(base, search_filter, search_scope=scope, attributes=attributes)
        except _TRANSPORT_ERRORS as error:
            raise _ServerDown(_describe(error)) from error
        except ldap_exceptions.LDAPException as error:
            raise LdapConfigError(f"LDAP search under {base} failed: {_describe(error)}") from error
        result = connection.result or {}
        description = result.get("description", "")
        if description in _UNAVAILABLE_RESULTS:
            raise _ServerDown(description)
        if description == "noSuchObject":
            if missing_ok:
                return False
            raise LdapConfigError(f"search base {base} does not exist on the LDAP server")
        if description in ("insufficientAccessRights", "inappropriateAuthentication", "strongerAuthRequired"):
            raise LdapConfigError(f"searching {base} is not allowed ({description}); configure a service account")
        return bool(found)

    def _user(self, username: str, dn: str, entry: dict[str, Any], uri: str) -> LdapUser:
        first = {name: _first(value) for name, value in entry.items()}
        settings = self.settings
        return LdapUser(
            username=username,
            dn=dn,
            full_name=str(first.get(settings.full_name_attribute) or username),
            email=_text_or_none(first.get(settings.email_attribute)),
            home_directory=_text_or_none(first.get(settings.home_directory_attribute)),
            attributes=first,
            server=uri,
        )

    # ---------------------------------------------------------- connections

    @staticmethod
    def _make_tls(settings: LdapSettings) -> Tls:
        return Tls(
            validate=ssl.CERT_REQUIRED if settings.verify_certificates else ssl.CERT_NONE,
            ca_certs_file=str(settings.ca_file) if settings.ca_file else None,
            version=ssl.PROTOCOL_TLS_CLIENT if settings.verify_certificates else ssl.PROTOCOL_TLS,
        )

    def _open(
        self, uri: str, dn: Optional[str], password: Optional[str], user_bind: bool = False
    ) -> "_Bound":
        """Connects to one server, upgrades to TLS if configured, and binds.

        Args:
            uri: The server.
            dn: Who to bind as; None for an anonymous bind (searching only).
            password: The password for ``dn``.
            user_bind: This bind checks a user's password (its refusal is the
                user's, not the configuration's).
        """
        settings = self.settings
        server = Server(uri, connect_timeout=settings.connect_timeout, tls=self._tls, get_info=NONE)
        connection = self._connection_factory(
            server,
            user=dn,
            password=password,
            authentication=SIMPLE if dn else ANONYMOUS,
            # ldap3 packs this into SO_RCVTIMEO as a C long: whole seconds only.
            receive_timeout=max(1, math.ceil(settings.operation_timeout)),
            read_only=True,
            raise_exceptions=False,
            auto_bind=False,
        )
        try:
            connection.open()
            if settings.start_tls and not uri.startswith("ldaps://"):
                if not connection.start_tls():
                    raise _ServerDown(f"StartTLS refused: {_result(connection)}")
            bound = connection.bind()
        except ssl.SSLError as error:
            _discard(connection)
            raise _ServerDown(f"TLS failed: {error.__class__.__name__}: {error}") from error
        except _TRANSPORT_ERRORS as error:
            _discard(connection)
            raise _ServerDown(_describe(error)) from error
        except ldap_exceptions.LDAPException as error:
            _discard(connection)
            raise LdapConfigError(f"LDAP connection to {uri} failed: {_describe(error)}") from error
        if not bound:
            description = _result(connection)
            _discard(connection)
            if description in _UNAVAILABLE_RESULTS:
                raise _ServerDown(description)
            if user_bind:
                raise LdapInvalidCredentialsError("wrong user name or password")
            who = "the service account" if dn else "an anonymous bind"
            raise LdapConfigError(f"the LDAP server refused {who} ({description})")
        if user_bind and not self._is_authenticated(connection):
            _discard(connection)
            raise LdapInvalidCredentialsError("the server treated the bind as anonymous")
        return _Bound(connection)

    @staticmethod
    def _is_authenticated(connection: Connection) -> bool:
        """True when the server says who we are: an anonymous bind has no identity."""
        try:
            identity = connection.extend.standard.who_am_i()
        except _TRANSPORT_ERRORS as error:
            raise _ServerDown(_describe(error)) from error
        except ldap_exceptions.LDAPException:
            # Server without the Who am I? extension: trust the successful bind,
            # which our non-empty password made a real one.
            return True
        return bool(identity and str(identity).strip() not in ("", "dn:"))


class _Bound:
    """A bound connection that is always unbound when the block ends."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def __enter__(self) -> Connection:
        return self.connection

    def __exit__(self, *exc_info: object) -> None:
        _discard(self.connection)


def _discard(connection: Connection) -> None:
    """Unbinds and closes a connection, whatever state it is in.

    ldap3 leaves the socket open when ``open()`` fails part-way (e.g. a TLS
    handshake refused), so it is closed here explicitly.
    """
    try:
        connection.unbind()
    except (*_TRANSPORT_ERRORS, ldap_exceptions.LDAPException):
        pass
    sock = getattr(connection, "socket", None)
    if sock is not None:
        try:
            sock.close()
        except OSError:
            pass


class _ServerDown(Exception):
    """One server did not answer; internal, so the next URI is tried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _describe(error: BaseException) -> str:
    return f"{error.__class__.__name__}: {error}"


def _result(connection: Connection) -> str:
    return str((connection.result or {}).get("description", "no answer"))


def _first(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def _text_or_none(value: Any) -> Optional[str]:
    return None if value in (None, "", []) else str(value)


__all__ = ["LdapAuthClient", "LdapUser"]
