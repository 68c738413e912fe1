"""Telling whether a started slapd answers: one anonymous bind and root DSE read."""

from __future__ import annotations

import socket
from typing import Any

__all__ = ["probe"]


def probe(host: str, port: int) -> str | None:
    """Tries one anonymous bind and root DSE search; returns the problem, if any."""
    import ldap3
    from ldap3.core.exceptions import LDAPException

    # A plain connect first: cheap, and ldap3 leaks its socket when the
    # connection is refused, which is the usual answer while slapd starts.
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    server = ldap3.Server(host, port=port, get_info=ldap3.NONE, connect_timeout=1)
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
