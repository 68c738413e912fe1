"""The three ISPyB SOAP services through zeep, with timeouts and typed errors.

One :class:`IspybServices` holds one persistent HTTP session (basic auth,
proxy, TLS verification on by default) shared by the three zeep clients,
each created on first use; parsed WSDLs are cached, so a second object over
the same ``ws_root`` does not download them again. requests is cooperative
under gevent's monkey patching, and every request carries a connect and a
read timeout.

Errors are mapped once, here:

* a SOAP fault: :class:`~mxcubecore_lims.errors.IspybFaultError` (ISPyB is up
  and said no; not "server down");
* HTTP 401/403: :class:`~mxcubecore_lims.errors.IspybCredentialsError` (the
  web-service account);
* no connection, a timeout, any other HTTP error:
  :class:`~mxcubecore_lims.errors.IspybUnavailableError`.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, cast

import requests
from pydantic import BaseModel, ConfigDict, SecretStr
from zeep import Client, Settings
from zeep.cache import InMemoryCache
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault, TransportError
from zeep.transports import Transport

from mxcubecore_lims.errors import IspybCredentialsError, IspybFaultError, IspybUnavailableError

log = logging.getLogger(__name__)

ServiceName = Literal["shipping", "collection", "sample", "crims"]

#: Our short names for the ISPyB services we call (the WSDL is ``<ws_root><Service>?wsdl``).
#: ``crims`` (CrimsWebService) is the only one that stores whole shipments.
SERVICES: dict[str, str] = {
    "shipping": "ToolsForShippingWebService",
    "collection": "ToolsForCollectionWebService",
    "sample": "ToolsForBLSampleWebService",
    "crims": "CrimsWebService",
}

#: The Shipping service's echo, for checking a person's credentials.
_ECHO_ENVELOPE = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<ns:echo xmlns:ns="http://ispyb.ejb3.webservices.shipping"/>'
    b"</soap:Body></soap:Envelope>"
)

#: Parsed WSDLs, shared by every client in the process (zeep's own cache).
_WSDL_CACHE = InMemoryCache(timeout=24 * 3600)


class IspybConnection(BaseModel):
    """Where ISPyB is and how to reach it.

    Attributes:
        ws_root: Base URL ending in ``/`` (``.../ispyb/ispyb-ws/ispybWS/``).
        username: Web-service account, if the server wants one.
        password: Its password.
        proxy: Proxy URL for both schemes, if any.
        verify: TLS verification: True (system CAs), False, or a CA bundle path.
        connect_timeout: Seconds to connect.
        read_timeout: Seconds to wait for an answer.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ws_root: str
    username: str | None = None
    password: SecretStr | None = None
    proxy: str | None = None
    verify: bool | str = True
    connect_timeout: float = 5.0
    read_timeout: float = 20.0

    def wsdl_url(self, service: str) -> str:
        """The WSDL URL of one service."""
        root = self.ws_root if self.ws_root.endswith("/") else self.ws_root + "/"
        return f"{root}{SERVICES[service]}?wsdl"


class IspybServices:
    """Lazily built zeep clients for the three services, sharing one HTTP session.

    Args:
        connection: Where and how.
        session: The requests session to use (built from ``connection`` by default).
    """

    def __init__(self, connection: IspybConnection, session: requests.Session | None = None) -> None:
        self.connection = connection
        self._session = session or self._make_session(connection)
        self._clients: dict[str, Client] = {}

    @staticmethod
    def _make_session(connection: IspybConnection) -> requests.Session:
        session = requests.Session()
        if connection.username is not None:
            password = connection.password.get_secret_value() if connection.password else ""
            session.auth = (connection.username, password)
        if connection.proxy:
            session.proxies = {"http": connection.proxy, "https": connection.proxy}
        session.verify = connection.verify
        return session

    def client(self, service: str) -> Client:
        """The zeep client of one service, built (WSDL fetched or cached) on first use.

        Raises:
            IspybUnavailableError: The WSDL could not be fetched.
            IspybCredentialsError: The server refused the account while serving it.
        """
        if service not in self._clients:
            transport = Transport(
                session=self._session,
                cache=_WSDL_CACHE,
                timeout=self.connection.connect_timeout,
                operation_timeout=(self.connection.connect_timeout, self.connection.read_timeout),
            )
            url = self.connection.wsdl_url(service)
            try:
                self._clients[service] = Client(url, transport=transport, settings=Settings(strict=True))
            except Exception as error:  # WSDL fetch: requests, zeep or XML errors
                raise self._translate(f"{SERVICES[service]} WSDL", error) from error
        return self._clients[service]

    def check_credentials(self, username: str, password: str) -> None:
        """Checks a person's own ISPyB account with an ``echo`` under their credentials.

        One small request on the shared HTTP session, with the person's
        credentials on that request only (no client, no WSDL).

        Raises:
            IspybCredentialsError: ISPyB refused them (HTTP 401/403).
            IspybUnavailableError: ISPyB did not answer.
        """
        url = self.connection.wsdl_url("shipping").removesuffix("?wsdl")
        try:
            response = self._session.post(
                url,
                data=_ECHO_ENVELOPE,
                auth=(username, password),
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
                timeout=(self.connection.connect_timeout, self.connection.read_timeout),
            )
        except requests.RequestException as error:
            raise self._translate("echo", error) from error
        if response.status_code in (401, 403):
            raise IspybCredentialsError(f"ISPyB refused the account ({response.status_code})")
        if response.status_code != 200:
            raise IspybUnavailableError(
                f"ISPyB did not answer echo: HTTP {response.status_code}", target=self.connection.ws_root
            )

    def call(self, service: str, operation: str, *args: Any, **kwargs: Any) -> Any:
        """Calls one operation; returns zeep's result (None for an empty reply).

        Raises:
            IspybFaultError: ISPyB answered with a fault.
            IspybCredentialsError: HTTP 401 or 403.
            IspybUnavailableError: No answer in time, or an HTTP error.
        """
        method = getattr(self.client(service).service, operation)
        try:
            return method(*args, **kwargs)
        except Exception as error:
            raise self._translate(operation, error) from error

    def _translate(self, operation: str, error: Exception) -> Exception:
        target = self.connection.ws_root
        if isinstance(error, Fault):
            return IspybFaultError(operation, error.message or "fault", str(error.code or ""), _fault_detail(error))
        status = _status_of(error)
        if status in (401, 403):
            return IspybCredentialsError(f"ISPyB refused the web-service account ({status}) calling {operation}")
        if isinstance(error, (requests.RequestException, TransportError, OSError)):
            reason = f"HTTP {status}" if status else error.__class__.__name__
            return IspybUnavailableError(f"ISPyB did not answer {operation}: {reason}", target=target)
        if isinstance(error, ZeepError):
            return IspybUnavailableError(f"ISPyB gave an unreadable answer to {operation}: {error}", target=target)
        return error


def _status_of(error: Exception) -> int | None:
    # zeep and requests are untyped: their status codes are ints or absent.
    if isinstance(error, TransportError):
        return cast(int | None, error.status_code)
    response = getattr(error, "response", None)
    return cast(int | None, getattr(response, "status_code", None))


def _fault_detail(fault: Fault) -> str:
    """The ``<message>`` of ISPyB's ``Exception`` fault detail, if present."""
    detail = fault.detail
    if detail is None:
        return ""
    for element in detail.iter():
        if isinstance(element.tag, str) and element.tag.endswith("message") and element.text:
            return cast(str, element.text).strip()
    return ""
