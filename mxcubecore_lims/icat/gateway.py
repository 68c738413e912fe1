"""One python-icat client per process, one ICAT session per logged-in user.

python-icat builds its entity classes from ~20–60 ``getEntityInfo`` calls
when a :class:`icat.client.Client` is created (reference ``icat.md`` §1.2),
so a client is built once per ICAT URL and shared: each call swaps the
client's ``sessionId`` to the user's under a lock (the idiom python-icat's
own tests use). Sessions are refreshed before they expire and logged in
again, once, when ICAT says a session is gone.

Credentials are kept (as :class:`~pydantic.SecretStr`) only to re-establish
an expired session; they are never logged.
"""

from __future__ import annotations

import logging
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.client import HTTPException
from typing import Any, TypeVar

import gevent
import gevent.lock
from pydantic import SecretStr

from mxcubecore_lims.errors import (
    IcatFaultError,
    IcatObjectExistsError,
    IcatPrivilegesError,
    IcatSessionError,
    IcatUnavailableError,
    LimsAuthenticationError,
)

__all__ = ["IcatGateway", "IcatSettings", "IcatUserSession", "jpql_string", "jpql_timestamp"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Refresh a session when fewer minutes than this remain (python-icat's own margin).
REFRESH_MARGIN_MINUTES = 30.0


def jpql_string(value: object) -> str:
    """An ICAT query string literal: quoted, inner quotes doubled.

    Every value put into a query goes through this (or :func:`int`), so a
    user name or sample name can never change the query's meaning.
    """
    text = str(value)
    if "\x00" in text:
        raise ValueError("a NUL character cannot be part of an ICAT query")
    return "'" + text.replace("'", "''") + "'"


def jpql_timestamp(moment: datetime) -> str:
    """``{ts YYYY-MM-DD HH:MM:SS}`` for a datetime (local time when naive)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone().replace(tzinfo=None)
    return "{ts " + moment.strftime("%Y-%m-%d %H:%M:%S") + "}"


@dataclass(frozen=True)
class IcatSettings:
    """How to reach one ICAT server.

    Attributes:
        url: ICAT base URL (python-icat adds ``/ICATService/ICAT?wsdl``).
        verify_tls: Verify the server certificate.
        ca_file: CA bundle to verify it with (default: the system's).
        connect_timeout: Seconds allowed to build the client (WSDL and entity
            information: a few dozen requests).
        read_timeout: Seconds to wait for each answer afterwards.
    """

    url: str
    verify_tls: bool = True
    ca_file: str | None = None
    connect_timeout: float = 20.0
    read_timeout: float = 20.0


@dataclass
class IcatUserSession:
    """One logged-in user's ICAT session.

    Attributes:
        key: Our key for the user (the name they typed).
        user_name: ICAT's name for them (``plugin/name``).
        session_id: The ICAT session id (a secret: never logged).
        plugin: Authentication plugin.
        refresh_after: ``time.monotonic()`` after which to refresh.
    """

    key: str
    user_name: str
    session_id: str = field(repr=False)
    plugin: str
    refresh_after: float
    _credentials: dict[str, SecretStr] = field(default_factory=dict, repr=False)


def _is_transport_error(error: BaseException) -> bool:
    import suds.transport

    return isinstance(
        error,
        (
            OSError,
            urllib.error.URLError,
            HTTPException,
            suds.transport.TransportError,
            gevent.Timeout,
        ),
    )


def translate(error: BaseException, operation: str) -> Exception:
    """Our typed error for an exception python-icat (or the network) raised."""
    import icat.exception as icat_errors

    if isinstance(error, icat_errors.ICATError):
        message = getattr(error, "message", None) or str(error)
        kind = type(error).__name__
        icat_type = {
            "ICATSessionError": "SESSION",
            "ICATPrivilegesError": "INSUFFICIENT_PRIVILEGES",
            "ICATObjectExistsError": "OBJECT_ALREADY_EXISTS",
            "ICATNoObjectError": "NO_SUCH_OBJECT_FOUND",
            "ICATValidationError": "VALIDATION",
            "ICATParameterError": "BAD_PARAMETER",
            "ICATInternalError": "INTERNAL",
            "ICATNotImplementedError": "NOT_IMPLEMENTED",
        }.get(kind, kind)
        if isinstance(error, icat_errors.ICATSessionError):
            return IcatSessionError(operation, message, icat_type)
        if isinstance(error, icat_errors.ICATPrivilegesError):
            return IcatPrivilegesError(operation, message, icat_type)
        if isinstance(error, icat_errors.ICATObjectExistsError):
            return IcatObjectExistsError(operation, message, icat_type)
        return IcatFaultError(operation, message, icat_type)
    if _is_transport_error(error):
        return IcatUnavailableError(f"ICAT does not answer ({operation}): {error}")
    return IcatFaultError(operation, f"{type(error).__name__}: {error}")


class IcatGateway:
    """A python-icat client shared by every user of one ICAT server.

    Args:
        settings: Where the server is and how to talk to it.
        client_factory: Builds the python-icat client (a seam for tests of
            the wiring; the default builds :class:`icat.client.Client`).
    """

    _shared: dict[IcatSettings, IcatGateway] = {}

    def __init__(
        self,
        settings: IcatSettings,
        client_factory: Callable[[IcatSettings], Any] | None = None,
    ) -> None:
        self.settings = settings
        self._client_factory = client_factory or _build_client
        self._client: Any = None
        self._lock = gevent.lock.RLock()
        self._users: dict[str, IcatUserSession] = {}
        # Sessions logged out while work still needed them (a session record being
        # built): ended when that work is done.
        self._held: dict[str, IcatUserSession] = {}
        self._holds: dict[str, list[gevent.Greenlet]] = {}

    @classmethod
    def shared(cls, settings: IcatSettings) -> IcatGateway:
        """The process-wide gateway for these settings (one client per server)."""
        gateway = cls._shared.get(settings)
        if gateway is None:
            gateway = cls._shared[settings] = cls(settings)
        return gateway

    # -- client --------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The python-icat client, built on first use.

        Raises:
            IcatUnavailableError: The server does not answer, or is not ICAT.
        """
        if self._client is None:
            with self._lock:
                if self._client is None:
                    budget = gevent.Timeout(self.settings.connect_timeout)
                    budget.start()
                    try:
                        self._client = self._client_factory(self.settings)
                    except BaseException as error:
                        if isinstance(error, (KeyboardInterrupt, SystemExit, gevent.GreenletExit)):
                            raise
                        if isinstance(error, gevent.Timeout) and error is not budget:
                            raise  # the caller's own deadline, not ours
                        raise IcatUnavailableError(
                            f"cannot connect to ICAT at {self.settings.url}: {type(error).__name__}: {error}"
                        ) from error
                    finally:
                        budget.cancel()
        return self._client

    def echo(self) -> bool:
        """True when ICAT answers now. Never raises."""
        try:
            with self._lock:
                self.client.getApiVersion()
            return True
        except Exception:  # any failure means "not reachable now"
            return False

    def query(self, entity: str, **kwargs: Any) -> Any:
        """A python-icat :class:`~icat.query.Query` on the shared client."""
        from icat.query import Query

        return Query(self.client, entity, **kwargs)

    def new(self, entity: str, **values: Any) -> Any:
        """A new python-icat entity object (not yet created in ICAT)."""
        return self.client.new(entity, **values)

    # -- sessions ------------------------------------------------------------

    def login(self, key: str, plugin: str, username: str, password: str) -> IcatUserSession:
        """Logs a user in and keeps their session under ``key``.

        Raises:
            LimsAuthenticationError: ICAT refused the credentials.
            IcatUnavailableError: ICAT does not answer.
        """
        import icat.exception as icat_errors

        credentials = {"username": SecretStr(username), "password": SecretStr(password)}
        with self._lock:
            client = self.client
            # python-icat's login() first logs out whatever session is set:
            # it must not be another user's.
            client.sessionId = None
            try:
                session_id = client.login(plugin, {k: v.get_secret_value() for k, v in credentials.items()})
                user_name = str(client.getUserName())
                remaining = _remaining_after_login(client)
            except icat_errors.ICATSessionError as error:
                raise LimsAuthenticationError(f"ICAT refused the login of '{username}' ({plugin})") from error
            except Exception as error:
                raise translate(error, "login") from error
            finally:
                client.sessionId = None
        session = IcatUserSession(
            key=key,
            user_name=user_name,
            session_id=session_id,
            plugin=plugin,
            refresh_after=_refresh_after(remaining),
            _credentials=credentials,
        )
        previous = self._users.get(key)
        self._users[key] = session
        if previous is not None:
            # The same person logged in again: one ICAT session per user.
            self._end(previous)
        log.info("ICAT session opened for %s (%s)", user_name, plugin)
        return session

    def user(self, key: str) -> IcatUserSession | None:
        """The session kept under ``key``, if any (one held past its logout included)."""
        return self._users.get(key) or self._held.get(key)

    def hold(self, key: str, task: gevent.Greenlet) -> None:
        """Keeps a user's session past a logout until ``task`` is done (at most 5 minutes)."""
        self._holds.setdefault(key, []).append(task)

    def logout(self, key: str) -> None:
        """Ends a user's session (errors are logged: the user is gone either way).

        When work holds the session (:meth:`hold`), it ends when that work is done.
        """
        session = self._users.pop(key, None)
        if session is None:
            return
        tasks = [task for task in self._holds.pop(key, []) if not task.ready()]
        if not tasks:
            self._end(session)
            return
        self._held[key] = session

        def end_when_done() -> None:
            gevent.joinall(tasks, timeout=300)
            if self._held.get(key) is session:
                del self._held[key]
            self._end(session)

        gevent.spawn(end_when_done)

    def _end(self, session: IcatUserSession) -> None:
        if self._client is None:
            return
        with self._lock:
            self._client.sessionId = session.session_id
            try:
                self._client.logout()
            except Exception as error:  # an expired session or a down server
                log.debug("ICAT logout of %s: %s", session.user_name, type(error).__name__)
            finally:
                self._client.sessionId = None

    def expire_locally(self, key: str) -> None:
        """Forces the next call to refresh first (tests of the refresh path)."""
        session = self._users.get(key)
        if session is not None:
            session.refresh_after = 0.0

    def call(self, key: str, operation: str, action: Callable[[Any], T]) -> T:
        """Runs ``action(client)`` inside a user's ICAT session.

        Refreshes the session when it is about to expire; when ICAT reports
        the session gone, logs in again once and retries.

        Args:
            key: The user's key.
            operation: What is done, for error messages.
            action: Receives the client, its ``sessionId`` set to the user's.

        Raises:
            IcatSessionError: No session for ``key``, or re-login failed.
            IcatFaultError: ICAT refused the request (typed subclasses).
            IcatUnavailableError: ICAT does not answer.
        """
        import icat.exception as icat_errors

        session = self.user(key)
        if session is None:
            raise IcatSessionError(operation, f"no ICAT session for user '{key}'")
        for attempt in (1, 2):
            with self._lock:
                client = self.client
                client.sessionId = session.session_id
                try:
                    self._refresh_if_due(client, session)
                    return action(client)
                except icat_errors.ICATSessionError as error:
                    if attempt == 2:
                        raise translate(error, operation) from error
                    log.info("ICAT session of %s ended; logging in again", session.user_name)
                except Exception as error:
                    raise translate(error, operation) from error
                finally:
                    client.sessionId = None
            session = self._relogin(session, operation)
        raise AssertionError("unreachable")

    def _refresh_if_due(self, client: Any, session: IcatUserSession) -> None:
        if time.monotonic() < session.refresh_after:
            return
        client.refresh()
        session.refresh_after = _refresh_after(float(client.getRemainingMinutes()))

    def _relogin(self, session: IcatUserSession, operation: str) -> IcatUserSession:
        current = self._users.get(session.key)
        if current is not None and current.session_id != session.session_id:
            return current  # another greenlet logged in again meanwhile: use its session
        creds = session._credentials
        try:
            return self.login(
                session.key,
                session.plugin,
                creds["username"].get_secret_value(),
                creds["password"].get_secret_value(),
            )
        except LimsAuthenticationError as error:
            self._users.pop(session.key, None)
            raise IcatSessionError(
                operation, f"the ICAT session of '{session.key}' ended and re-login failed"
            ) from error


def _remaining_after_login(client: Any) -> float:
    """Minutes left in a session just opened.

    python-icat's ``login`` has just asked the server (to schedule its own
    auto-refresh, ``AutoRefreshRemain`` minutes before the end); reuse that
    answer instead of a second round trip, or ask when the client differs.
    """
    scheduled = getattr(client, "_next_refresh", None)
    margin = getattr(client, "AutoRefreshRemain", None)
    if isinstance(scheduled, (int, float)) and isinstance(margin, (int, float)):
        left = (scheduled - time.time()) / 60.0 + margin
        if left > margin:  # a session shorter than the margin: ask exactly
            return left
    return float(client.getRemainingMinutes())


def _refresh_after(remaining_minutes: float) -> float:
    # Refresh when the margin is reached; a session shorter than the margin
    # is refreshed at half its life.
    margin = min(REFRESH_MARGIN_MINUTES, remaining_minutes / 2.0)
    return time.monotonic() + max(0.0, remaining_minutes - margin) * 60.0


def _build_client(settings: IcatSettings) -> Any:
    import icat.client

    client = icat.client.Client(
        settings.url,
        checkCert=settings.verify_tls,
        caFile=settings.ca_file,
        cache=None,  # no stale WSDL from another server version in a temp dir
    )
    client.autoLogout = False  # we end sessions ourselves, per user
    client.options.transport.options.timeout = settings.read_timeout
    return client
