"""LDAP authentication on ldap3, with failover, TLS and typed outcomes.

One authentication searches (as the service account, or anonymously) on a
kept ``search`` connection, then binds as the user on a kept ``bind``
connection (:mod:`.pool`: the two roles never mix, so no search runs with an
earlier user's rights). A kept connection that died with a server restart is
replaced at once by a fresh one, without the reconnect dance mxcubecore's
authenticator needs: a server that comes back is used again at the next
login. The ldap3 ``Server`` objects are kept, so host names are resolved
once, not per login.

An anonymous bind never counts as a login: the only bind that can succeed
for a user is a simple bind with that user's DN and a non-empty password
(empty ones are refused before any connection, see :mod:`.escaping`).

ldap3 is pure Python, so once gevent has patched the standard library its
sockets are cooperative: a login waiting on a slow server lets every other
greenlet run. Every connect and every answer has a timeout.
"""

from __future__ import annotations

import logging
import math
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ldap3 import BASE, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
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
from mxcubecore_lims.ldap.pool import ConnectionPool, Role
from mxcubecore_lims.ldap.pool import ServerDownError as _ServerDownError
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
    email: str | None = None
    home_directory: str | None = None
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
        self._servers = {
            uri: Server(uri, connect_timeout=settings.connect_timeout, tls=self._tls, get_info=NONE)
            for uri in settings.uris
        }
        self._pools = {uri: self._pool(uri) for uri in settings.uris}
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
            except _ServerDownError as down:
                log.warning("LDAP server %s unavailable: %s", uri, down.reason)
                failures.append(f"{uri}: {down.reason}")
        raise LdapUnavailableError(
            "no LDAP server answered: " + "; ".join(failures), target=" ".join(self.settings.uris)
        )

    def ping(self) -> bool:
        """True when at least one server accepts a connection (and TLS). Never raises."""
        for uri in self.settings.uris:
            try:
                with self._connect(uri):
                    return True
            except (_ServerDownError, LdapConfigError):
                continue
        return False

    def close(self) -> None:
        """Closes the kept connections (a later login opens new ones)."""
        for pool in self._pools.values():
            pool.close()

    # ------------------------------------------------------------- helpers

    def _authenticate_on(self, uri: str, username: str, password: str) -> LdapUser:
        settings = self.settings
        pool = self._pools[uri]

        def as_the_user(connection: Connection) -> tuple[str, dict[str, Any], bool]:
            dn = settings.bind_dn_template.format(username=dn_value(username))  # type: ignore[union-attr]
            self._bind(connection, dn, password, user=True)
            entry = self._read_entry(connection, dn)
            self._check_same_name(entry, username)
            return dn, entry, self._in_group(connection, dn, username)

        def as_the_searcher(connection: Connection) -> tuple[str, dict[str, Any], bool]:
            dn, entry = self._find_user(connection, username)
            self._check_same_name(entry, username)
            # Asked as the searching identity, which may read groups; told
            # only after the password is checked, so a wrong password never
            # learns about group membership.
            return dn, entry, self._in_group(connection, dn, username)

        if not settings.searches:
            dn, entry, in_group = pool.run("bind", as_the_user)
        else:
            dn, entry, in_group = pool.run("search", as_the_searcher)
            pool.run("bind", lambda connection: self._bind(connection, dn, password, user=True))
        if not in_group:
            raise LdapNotInGroupError(f"user is not a member of {settings.required_group}")
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

    def _in_group(self, connection: Connection, dn: str, username: str) -> bool:
        """True when no group is required or the user is in it."""
        group = self.settings.required_group
        if not group:
            return True
        member_filter = "(|{}{}{})".format(
            equality_filter("member", dn),
            equality_filter("uniqueMember", dn),
            equality_filter("memberUid", username),
        )
        return self._search(connection, group, member_filter, BASE, [], missing_ok=True)

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
            _ServerDownError: The server went away or is busy.
            LdapConfigError: The base does not exist or may not be searched.
        """
        try:
            found = connection.search(base, search_filter, search_scope=scope, attributes=attributes)
        except _TRANSPORT_ERRORS as error:
            raise _ServerDownError(_describe(error)) from error
        except ldap_exceptions.LDAPException as error:
            raise LdapConfigError(f"LDAP search under {base} failed: {_describe(error)}") from error
        result = connection.result or {}
        description = result.get("description", "")
        if description in _UNAVAILABLE_RESULTS:
            raise _ServerDownError(description)
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

    def _pool(self, uri: str) -> ConnectionPool:
        def open_connection(role: Role) -> Connection:
            bound = self._connect(uri)
            if role == "search" and self.settings.service_dn:
                service_password = self.settings.service_password.get_secret_value()  # type: ignore[union-attr]
                try:
                    self._bind(bound.connection, self.settings.service_dn, service_password, user=False)
                except BaseException:
                    _discard(bound.connection)
                    raise
            return bound.connection

        return ConnectionPool(open_connection, _discard)

    def _connect(self, uri: str) -> _Bound:
        """Opens a connection to one server, upgraded to TLS if configured; no bind yet."""
        server = self._servers[uri]
        # ldap3 remembers a failed address as unavailable for minutes; each
        # login must try again, so a restarted server is used at once.
        server.reset_availability()
        connection = self._connection_factory(
            server,
            # ldap3 packs this into SO_RCVTIMEO as a C long: whole seconds only.
            receive_timeout=max(1, math.ceil(self.settings.operation_timeout)),
            read_only=True,
            raise_exceptions=False,
            auto_bind=False,
        )
        try:
            connection.open()
            if self.settings.start_tls and not uri.startswith("ldaps://"):
                if not connection.start_tls():
                    raise _ServerDownError(f"StartTLS refused: {_result(connection)}")
        except _ServerDownError:
            _discard(connection)
            raise
        except ssl.SSLError as error:
            _discard(connection)
            raise _ServerDownError(f"TLS failed: {error.__class__.__name__}: {error}") from error
        except _TRANSPORT_ERRORS as error:
            _discard(connection)
            raise _ServerDownError(_describe(error)) from error
        except ldap_exceptions.LDAPException as error:
            _discard(connection)
            raise LdapConfigError(f"LDAP connection to {uri} failed: {_describe(error)}") from error
        return _Bound(connection)

    @staticmethod
    def _bind(connection: Connection, dn: str, password: str, user: bool) -> None:
        """Binds as ``dn`` (simple bind; the password is never empty here).

        Args:
            connection: An open connection.
            dn: Who to bind as.
            password: Their password.
            user: The bind checks a user's password (a refusal is theirs);
                otherwise it is the service account (a refusal is ours).
        """
        try:
            bound = connection.rebind(user=dn, password=password, authentication=SIMPLE)
        except _TRANSPORT_ERRORS as error:
            raise _ServerDownError(_describe(error)) from error
        except ldap_exceptions.LDAPException as error:
            if user:
                raise LdapInvalidCredentialsError("wrong user name or password") from None
            raise LdapConfigError(f"the LDAP server refused the service account ({_describe(error)})") from None
        if bound:
            return
        description = _result(connection)
        if description in _UNAVAILABLE_RESULTS:
            raise _ServerDownError(description)
        if user:
            raise LdapInvalidCredentialsError("wrong user name or password")
        raise LdapConfigError(f"the LDAP server refused the service account ({description})")


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


def _describe(error: BaseException) -> str:
    return f"{error.__class__.__name__}: {error}"


def _result(connection: Connection) -> str:
    return str((connection.result or {}).get("description", "no answer"))


def _first(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def _text_or_none(value: Any) -> str | None:
    return None if value in (None, "", []) else str(value)


__all__ = ["LdapAuthClient", "LdapUser"]
