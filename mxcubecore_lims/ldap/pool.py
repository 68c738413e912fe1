"""Kept-open LDAP connections, one small pool per server and role.

A login used to open a connection, search, bind and unbind: a TCP (and TLS)
handshake and two extra round trips that python-ldap's long-lived
connection does not pay. Connections are now kept between logins, in two
roles that never mix:

* ``search`` connections are only ever bound as the searching identity
  (the service account, or anonymous), so a search never runs with the
  rights of the user who logged in before;
* ``bind`` connections are only used to check a user's password (and, with
  a bind DN template, to read that user's entry as that user); each login
  binds again, so what the previous bind left behind does not matter.

A kept connection may have died (server restarted, idle timeout): a
transport error on one is retried once on a fresh connection, so a restarted
server is used again at the next login, as before. Concurrent logins
(greenlets) each take their own connection; at most ``MAX_IDLE`` per role
are kept afterwards.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Literal, TypeVar

from ldap3 import Connection

Role = Literal["search", "bind"]
T = TypeVar("T")

#: Idle connections kept per server and role (a burst opens more, closes the rest after).
MAX_IDLE = 8


class ServerDownError(Exception):
    """One server did not answer; internal, so the next URI is tried.

    Attributes:
        reason: What went wrong, for the log and the error naming every URI.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConnectionPool:
    """The kept connections to one server.

    Args:
        open_connection: Opens a connection in a role, ready for it (the
            ``search`` ones bound as the searching identity); raises
            :class:`ServerDownError` when the server does not answer.
        discard: Unbinds and closes a connection, whatever its state.
    """

    def __init__(self, open_connection: Callable[[Role], Connection], discard: Callable[[Connection], None]) -> None:
        self._open = open_connection
        self._discard = discard
        self._idle: dict[Role, deque[Connection]] = {"search": deque(), "bind": deque()}

    def run(self, role: Role, work: Callable[[Connection], T]) -> T:
        """Runs ``work`` on a connection of ``role``: a kept one, or a fresh one when it has died.

        The connection is kept again after ``work`` returns or raises an
        answer from the directory (a wrong password is an answer); it is
        dropped when the server did not answer.

        Raises:
            ServerDownError: The server did not answer on a fresh connection.
        """
        idle = self._idle[role]
        while idle:
            connection = idle.pop()
            if connection.closed:
                self._discard(connection)
                continue
            try:
                return self._use(role, connection, work)
            except ServerDownError:
                break  # kept too long or the server restarted: once more, fresh
        return self._use(role, self._open(role), work)

    def close(self) -> None:
        """Closes every kept connection."""
        for idle in self._idle.values():
            while idle:
                self._discard(idle.pop())

    def _use(self, role: Role, connection: Connection, work: Callable[[Connection], T]) -> T:
        try:
            result = work(connection)
        except ServerDownError:
            self._discard(connection)
            raise
        except Exception:  # the directory answered (a refusal): the connection is fine
            self._keep(role, connection)
            raise
        except BaseException:  # killed mid-exchange: an answer may still be on its way
            self._discard(connection)
            raise
        self._keep(role, connection)
        return result

    def _keep(self, role: Role, connection: Connection) -> None:
        idle = self._idle[role]
        if len(idle) < MAX_IDLE and not connection.closed:
            idle.append(connection)
        else:
            self._discard(connection)
