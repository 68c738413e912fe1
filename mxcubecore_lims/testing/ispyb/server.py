"""The emulated ISPyB SOAP server (reference ``ispyb_soap.md``).

:class:`EmulatedIspyb` serves ``ToolsForShippingWebService``,
``ToolsForCollectionWebService``, ``ToolsForBLSampleWebService`` and
``CrimsWebService`` under ``http://127.0.0.1:PORT/ispyb/ispyb-ws/ispybWS/``
from a gevent WSGI server in the calling process::

    with EmulatedIspyb() as ispyb:                  # in-memory DB, default fixture
        client = suds.client.Client(ispyb.root + "ToolsForCollectionWebService?wsdl", ...)
        ...
        ispyb.store.rows("DataCollection")          # what the client stored

Wire behaviour (reference §1.3, §1.4, §7):

* ``GET <Service>?wsdl`` returns the WSDL without credentials;
* ``POST <Service>`` and ``POST <Service>?wsdl`` (as mxcubecore sends it)
  run an operation: document/literal wrapped SOAP 1.1, dispatched on the
  first child of ``soap:Body``; HTTP basic authentication is required (401
  otherwise);
* responses carry unqualified children in WSDL order, nulls are omitted,
  arrays are repeated elements;
* errors are SOAP 1.1 Faults with HTTP 500 and an ``{ns}Exception`` detail.

Accounts: the web-service account (:data:`DEFAULT_USERNAME` /
:data:`DEFAULT_PASSWORD` unless given), the ``crims`` account
(:data:`CRIMS_USERNAME` / :data:`CRIMS_PASSWORD`), the only login
``CrimsWebService.getDataCollectionFromShippingId`` answers, and every fixture
person with a password.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import gevent
from lxml import etree

from mxcubecore_lims.errors import LimsError
from mxcubecore_lims.testing.ispyb.fixture import DEFAULT_FIXTURE, load_fixture
from mxcubecore_lims.testing.ispyb.operations import CALLER_OPERATIONS, CRIMS_PRINCIPAL, HANDLERS, IspybFault
from mxcubecore_lims.testing.ispyb.schema import SERVICES, Param, Service
from mxcubecore_lims.testing.ispyb.store import Store
from mxcubecore_lims.testing.ispyb.wsdl import wsdl_text
from mxcubecore_lims.testing.loopback import LoopbackServer

__all__ = [
    "BASE_PATH",
    "CRIMS_PASSWORD",
    "CRIMS_USERNAME",
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "EmulatedIspyb",
    "IspybServerError",
    "make_app",
]

log = logging.getLogger(__name__)


#: Where the services live (the real deployment path, reference §1.2).
BASE_PATH = "/ispyb/ispyb-ws/ispybWS/"
DEFAULT_USERNAME = "mxcube"
DEFAULT_PASSWORD = "ispyb-password"  # noqa: S105 (the emulator's documented test account)
#: The CRIMS account: ISPyB answers ``getDataCollectionFromShippingId`` to this login only.
CRIMS_USERNAME = CRIMS_PRINCIPAL
CRIMS_PASSWORD = "crims-password"  # noqa: S105 (the emulator's documented test account)

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class IspybServerError(LimsError):
    """The emulated ISPyB server could not be started or used."""


# --------------------------------------------------------------------------
# value conversion


def _from_text(text: str | None, xsd: str) -> Any:
    if text is None or text == "":
        return None
    text = text.strip()
    kind = xsd[3:]
    if kind in ("int", "long", "byte"):
        return int(text)
    if kind in ("double", "float"):
        return float(text)
    if kind == "boolean":
        return text in ("true", "1")
    if kind == "dateTime":
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    return text


def _to_text(value: Any, xsd: str) -> str:
    kind = xsd[3:]
    if kind == "boolean":
        return "true" if value in (True, 1, "1", "true") else "false"
    if kind in ("int", "long", "byte"):
        return str(int(value))
    if kind in ("double", "float"):
        return repr(float(value))
    if kind == "dateTime":
        when: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return when.astimezone().isoformat()  # naive values are local time
    return str(value)


def _local(tag: Any) -> str:
    return cast(str, etree.QName(tag).localname) if isinstance(tag, str) else ""


def _parse_value(service: Service, param: Param, node: Any) -> Any:
    if param.is_simple:
        return _from_text(node.text, param.type)
    if len(node) == 0 and not (node.text or "").strip():
        # suds omits an all-None object; an empty element still means "an object".
        return {}
    return _parse_object(service, param.type[4:], node)


def _parse_object(service: Service, type_name: str, node: Any) -> dict[str, Any]:
    elements = {p.name: p for p in service.all_elements(type_name)}
    return _parse_children(service, elements, node)


def _parse_children(service: Service, elements: Mapping[str, Param], node: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in node:
        name = _local(child.tag)
        param = elements.get(name)
        if param is None:
            continue  # JAXB ignores unknown elements
        value = _parse_value(service, param, child)
        if param.many:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def _emit(service: Service, parent: Any, param: Param, value: Any) -> None:
    if value is None:
        return
    if param.many:
        for item in value:
            _emit(service, parent, Param(param.name, param.type), item)
        return
    node = etree.SubElement(parent, param.name)
    if param.is_simple:
        node.text = _to_text(value, param.type)
        return
    for element in service.all_elements(param.type[4:]):
        _emit(service, node, element, value.get(element.name))


# --------------------------------------------------------------------------
# envelopes


def _envelope() -> tuple[Any, Any]:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    return env, body


def _fault_xml(message: str, namespace: str | None, code: str = "soap:Server") -> bytes:
    env, body = _envelope()
    fault = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = code
    etree.SubElement(fault, "faultstring").text = message
    if namespace:
        detail = etree.SubElement(fault, "detail")
        exc = etree.SubElement(detail, f"{{{namespace}}}Exception", nsmap={"ns2": namespace})
        etree.SubElement(exc, "message").text = message
    return _serialise(env)


def _response_xml(service: Service, operation: str, result: Any) -> bytes:
    env, body = _envelope()
    op = service.operations[operation]
    wrapper = etree.SubElement(body, f"{{{service.namespace}}}{operation}Response", nsmap={"ns2": service.namespace})
    if op.result is not None:
        _emit(service, wrapper, op.result, result)
    return _serialise(env)


def _serialise(env: Any) -> bytes:
    """The envelope ``env`` (an lxml element) as an XML document in UTF-8."""
    return cast(bytes, etree.tostring(env, xml_declaration=True, encoding="UTF-8"))


# --------------------------------------------------------------------------
# WSGI application


class _App:
    """The WSGI application; one per server."""

    def __init__(self, store: Store, credentials: Mapping[str, str], base_path: str) -> None:
        self.store = store
        self.credentials = dict(credentials)
        self.base_path = base_path
        #: ``(service, operation, user)`` of every operation called, in order.
        self.calls: list[tuple[str, str, str]] = []
        #: Seconds every operation waits before it runs (a slow server).
        self.latency = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if not path.startswith(self.base_path):
            return self._reply(start_response, "404 Not Found", b"not found", "text/plain")
        service = SERVICES.get(path[len(self.base_path) :].strip("/"))
        if service is None:
            return self._reply(start_response, "404 Not Found", b"no such service", "text/plain")
        if method == "GET":
            if query.lower().split("&")[0] != "wsdl":
                return self._reply(start_response, "404 Not Found", b"add ?wsdl", "text/plain")
            location = self._url(environ) + path
            text = wsdl_text(service.name, location).encode("utf-8")
            return self._reply(start_response, "200 OK", text, "text/xml; charset=UTF-8")
        if method != "POST":
            return self._reply(start_response, "405 Method Not Allowed", b"", "text/plain")
        user = self._authenticate(environ)
        if user is None:
            start_response(
                "401 Unauthorized",
                [
                    ("Content-Type", "text/plain"),
                    ("WWW-Authenticate", 'Basic realm="ispyb"'),
                    ("Content-Length", "12"),
                ],
            )
            return [b"Unauthorized"]
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
        if self.latency:
            gevent.sleep(self.latency)  # a slow server, for timeout tests
        status, payload = self._soap(service, body, user)
        return self._reply(start_response, status, payload, "text/xml; charset=UTF-8")

    @staticmethod
    def _url(environ: dict[str, Any]) -> str:
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        return f"http://{host}"

    @staticmethod
    def _reply(start_response: Any, status: str, body: bytes, ctype: str) -> list[bytes]:
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    def _authenticate(self, environ: dict[str, Any]) -> str | None:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if user in self.credentials and self.credentials[user] == password:
            return user
        # Persons with a password are ISPyB users too (role "User").
        for person in self.store.rows("Person", login=user):
            if person.get("password") is not None and person["password"] == password:
                return user
        return None

    def _soap(self, service: Service, body: bytes, user: str) -> tuple[str, bytes]:
        fail = "500 Internal Server Error"
        try:
            env = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as exc:
            return fail, _fault_xml(f"Unmarshalling Error: {exc}", None, "soap:Client")
        soap_body = env.find(f"{{{SOAP_ENV}}}Body")
        request = None if soap_body is None else next(iter(soap_body), None)
        if request is None or not isinstance(request.tag, str):
            return fail, _fault_xml("No SOAP body element", None, "soap:Client")
        qname = etree.QName(request.tag)
        operation = service.operations.get(qname.localname)
        if qname.namespace != service.namespace or operation is None:
            return fail, _fault_xml(
                f"Unexpected wrapper element {{{qname.namespace}}}{qname.localname} found. "
                f"Expected one of the operations of {service.name}.",
                None,
                "soap:Client",
            )
        try:
            params = _parse_children(service, {p.name: p for p in operation.params}, request)
        except ValueError as exc:
            return fail, _fault_xml(f"Unmarshalling Error: {exc}", None, "soap:Client")
        self.calls.append((service.name, operation.name, user))
        handler = HANDLERS[(service.name, operation.name)]
        if (service.name, operation.name) in CALLER_OPERATIONS:
            params["caller"] = user
        try:
            result = handler(self.store, **params)
        except IspybFault as exc:
            return fail, _fault_xml(str(exc), service.namespace)
        except Exception as exc:  # a server bug must still reach the client as a Fault
            log.exception("emulated ISPyB: %s.%s failed", service.name, operation.name)
            return fail, _fault_xml(f"{type(exc).__name__}: {exc}", service.namespace)
        return "200 OK", _response_xml(service, operation.name, result)


def make_app(store: Store, credentials: Mapping[str, str] | None = None, base_path: str = BASE_PATH) -> _App:
    """The WSGI application serving the four services from ``store``.

    Args:
        store: The database.
        credentials: Login -> password of the accounts; by default the
            web-service account and the ``crims`` account.
        base_path: Where the services live.
    """
    default = {DEFAULT_USERNAME: DEFAULT_PASSWORD, CRIMS_USERNAME: CRIMS_PASSWORD}
    return _App(store, credentials or default, base_path)


# --------------------------------------------------------------------------
# server


class EmulatedIspyb(LoopbackServer):
    """An emulated ISPyB SOAP server on a loopback port.

    Args:
        db_path: The SQLite database: a file (reused when it exists, so state
            survives restarts) or ``":memory:"``.
        fixture: A YAML fixture (path or parsed mapping) loaded when the
            database holds no proposal yet; ``None`` for an empty database.
            Defaults to the shipped fixture (beamline ``ID-DEMO``).
        username: Web-service account name (ISPyB role ``WebService``).
        password: Its password.
        crims_password: Password of the ``crims`` account
            (:data:`CRIMS_USERNAME`), which is served besides ``username``;
            ``None`` for no such account.
        host: Address to bind (loopback by default).
        port: Port to bind; 0 picks a free one.

    Attributes:
        store: The :class:`~mxcubecore_lims.testing.ispyb.store.Store`; tests
            read back rows with ``store.rows(table, **where)``.
        calls: ``(service, operation, user)`` of every operation called.
    """

    name = "emulated ISPyB"
    error = IspybServerError
    app: _App

    def __init__(
        self,
        db_path: str | Path = ":memory:",
        fixture: str | Path | Mapping[str, Any] | None = DEFAULT_FIXTURE,
        username: str = DEFAULT_USERNAME,
        password: str = DEFAULT_PASSWORD,
        host: str = "127.0.0.1",
        port: int = 0,
        crims_password: str | None = CRIMS_PASSWORD,
    ) -> None:
        self.db_path = str(db_path)
        self.username = username
        self.password = password
        self.store = Store(self.db_path)
        if fixture is not None and self.store.is_empty():
            load_fixture(self.store, dict(fixture) if isinstance(fixture, Mapping) else fixture)
        credentials = {} if crims_password is None else {CRIMS_USERNAME: crims_password}
        credentials[username] = password
        super().__init__(make_app(self.store, credentials), host, port)

    @property
    def calls(self) -> list[tuple[str, str, str]]:
        """``(service, operation, user)`` of every operation called, in order."""
        return self.app.calls

    @property
    def latency(self) -> float:
        """Seconds every operation waits before it runs (set it to emulate a slow ISPyB)."""
        return self.app.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.app.latency = float(seconds)

    def close_state(self) -> None:
        """Closes the database."""
        self.store.close()

    @property
    def root(self) -> str:
        """The ``ws_root`` to configure mxcubecore with (ends with ``/``)."""
        return self.url + BASE_PATH

    ws_root = root

    def wsdl_url(self, service: str) -> str:
        """``<root><service>?wsdl``."""
        return f"{self.root}{service}?wsdl"
