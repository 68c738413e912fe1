"""Where the broker is and how to log in: :class:`BrokerSettings`."""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import SecretStr

from mxcubecore_lims.broker.stomp import StompConnection
from mxcubecore_lims.errors import LimsConfigError

__all__ = ["BrokerSettings"]

_SCHEMES = ("stomp://", "stomp+ssl://", "tcp://", "ssl://")


@dataclass(frozen=True)
class BrokerSettings:
    """How to reach the broker.

    Attributes:
        urls: Broker URLs, tried in order (failover): ``stomp://host:61613`` or,
            with TLS, ``stomp+ssl://host:61614``.
        username: Broker login, or None for a broker without authentication.
        password: Its password (kept as a secret: never in a repr or a log).
        ca_file: CA bundle that verifies the broker's certificate (default: the system's).
        verify_tls: Verify the broker's certificate and host name (on by default).
        receipt_timeout: Seconds to wait for the broker's receipt of a message.
        connect_timeout: Seconds to wait for a connection.
    """

    urls: tuple[str, ...]
    username: str | None = None
    password: SecretStr | None = field(default=None, repr=False)
    ca_file: str | None = None
    verify_tls: bool = True
    receipt_timeout: float = 10.0
    connect_timeout: float = 10.0

    @classmethod
    def of(
        cls,
        urls: Sequence[str] | str,
        username: str | None = None,
        password: str | None = None,
        *,
        ca_file: str | None = None,
        verify_tls: bool = True,
        receipt_timeout: float = 10.0,
        connect_timeout: float = 10.0,
    ) -> BrokerSettings:
        """Settings from configuration values (a comma-separated string or a list of URLs).

        Raises:
            LimsConfigError: No URL, or one that is not a STOMP URL.
        """
        listed = [u.strip() for u in (urls.split(",") if isinstance(urls, str) else urls) if u and u.strip()]
        if not listed:
            raise LimsConfigError("broker_urls: the broker route needs at least one broker URL (stomp://host:port)")
        for url in listed:
            if not url.startswith(_SCHEMES):
                raise LimsConfigError(f"broker_urls: {url!r} is not a STOMP URL (stomp://host:port or stomp+ssl://...)")
        return cls(
            tuple(listed),
            username or None,
            SecretStr(password) if password else None,
            ca_file=ca_file or None,
            verify_tls=verify_tls,
            receipt_timeout=receipt_timeout,
            connect_timeout=connect_timeout,
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for ``stomp+ssl`` URLs: verification on unless turned off."""
        if not any(u.startswith(("stomp+ssl://", "ssl://")) for u in self.urls):
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if not self.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def connection(self, client_id: str | None = None) -> StompConnection:
        """A new, not yet connected, STOMP connection to the broker."""
        return StompConnection(
            list(self.urls),
            self.username,
            None if self.password is None else self.password.get_secret_value(),
            ssl_context=self.ssl_context(),
            connect_timeout=self.connect_timeout,
            receipt_timeout=self.receipt_timeout,
            client_id=client_id,
        )
