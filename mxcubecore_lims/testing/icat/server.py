"""The emulated ICAT SOAP server (reference ``icat.md`` §1, §7b).

:class:`EmulatedIcat` serves ``/ICATService/ICAT`` on a loopback port from a
gevent WSGI server in the calling process, so python-icat connects to it
exactly as to a real icat.server::

    with EmulatedIcat() as icat_server:             # in-memory, default fixture
        client = icat.Client(icat_server.url, checkCert=False)
        client.login("simple", {"username": "jdoe", "password": "jdoe-pw"})
        ...
        icat_server.store.find("Dataset")          # what the client stored

Wire behaviour:

* ``GET …/ICAT?wsdl`` and ``GET …/ICAT?xsd=1`` return the generated WSDL and
  schema; ``POST …/ICAT`` runs a document/literal wrapped SOAP 1.1 operation;
* entities come back with ``xsi:type`` and only the relations INCLUDE asked
  for; null attributes are omitted;
* errors are SOAP faults (HTTP 500) with an ``IcatException`` detail whose
  ``type`` python-icat maps to its exception classes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import gevent
from lxml import etree

from mxcubecore_lims.errors import LimsError
from mxcubecore_lims.testing.icat import jpql
from mxcubecore_lims.testing.icat.auth import Access
from mxcubecore_lims.testing.icat.faults import FaultType, IcatFault
from mxcubecore_lims.testing.icat.fixture import DEFAULT_FIXTURE, load_fixture
from mxcubecore_lims.testing.icat.schema import (
    ENTITIES,
    ENTITY_NAMES,
    META_ATTRIBUTES,
    PARAMETER_INFO,
    XSD_TYPES,
    Attr,
    Entity,
    Many,
    One,
)
from mxcubecore_lims.testing.icat.store import IcatStore, NewRow
from mxcubecore_lims.testing.icat.wsdl import NAMESPACE, OPERATIONS, entity_fields, wsdl_text, xsd_text
from mxcubecore_lims.testing.loopback import LoopbackServer

__all__ = [
    "API_VERSION",
    "DEFAULT_AUTHENTICATORS",
    "DEFAULT_ROOT_USERS",
    "SERVICE_PATH",
    "EmulatedIcat",
    "IcatServerError",
]

log = logging.getLogger(__name__)

API_VERSION = "6.2.0"
SERVICE_PATH = "/ICATService/ICAT"

#: ``plugin -> {username: password}`` of the default fixture's people.
DEFAULT_AUTHENTICATORS: dict[str, dict[str, str]] = {
    "simple": {
        "root": "root-pw",
        "alice": "alice-pw",
        "bob": "bob-pw",
        "staff": "staff-pw",
        "nobody": "nobody-pw",
    },
}
DEFAULT_ROOT_USERS = ("simple/root",)

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_BEANS: dict[str, Entity] = {e.bean: e for e in ENTITIES.values()}
_XS_OF_JAVA = {java: xsd.split(":")[1] for java, xsd in XSD_TYPES.items()}
_XS_OF_JAVA["ParameterValueType"] = "string"


class IcatServerError(LimsError):
    """The emulated ICAT server could not be started or used."""


# --------------------------------------------------------------------------
# values


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _is_nil(node: Any) -> bool:
    return node.get(f"{{{XSI}}}nil") in ("true", "1")


def _parse_scalar(text: str | None, java_type: str, where: str) -> Any:
    if text is None:
        return None
    text = text.strip()
    try:
        if java_type in ("Long", "Integer"):
            return int(text)
        if java_type == "Double":
            return float(text)
        if java_type == "Boolean":
            return text in ("true", "1")
        if java_type == "Date":
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return value if value.tzinfo else value.astimezone()
    except ValueError as exc:
        raise IcatFault(FaultType.BAD_PARAMETER, f"{where}: bad {java_type} {text!r}") from exc
    return text


def _format_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.astimezone()).isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _bean_entity(node: Any, default: Entity | None) -> Entity:
    declared = node.get(f"{{{XSI}}}type")
    if declared is None:
        if default is None:
            raise IcatFault(FaultType.BAD_PARAMETER, f"<{_local(node.tag)}> has no xsi:type")
        return default
    name = declared.rpartition(":")[2]
    found = _BEANS.get(name)
    if found is None:
        raise IcatFault(FaultType.BAD_PARAMETER, f"{declared} is not an entity type")
    return found


def _parse_bean(node: Any, default: Entity | None = None) -> tuple[int | None, NewRow]:
    """A bean element -> (its id if given, the row with its MANY children)."""
    entity = _bean_entity(node, default)
    row_id: int | None = None
    values: dict[str, Any] = {}
    children: dict[str, list[NewRow]] = {}
    for child in node:
        name = _local(child.tag)
        item = entity.field(name)
        if item is None:
            continue  # JAXB ignores unknown elements
        if isinstance(item, Attr):
            value = None if _is_nil(child) else _parse_scalar(child.text, item.type, f"{entity.name}.{name}")
            if name == "id":
                row_id = value
            else:
                values[name] = value
        elif isinstance(item, One):
            if _is_nil(child):
                values[name] = None
                continue
            ident = child.find("id")
            if ident is None or not (ident.text or "").strip():
                raise IcatFault(
                    FaultType.NO_SUCH_OBJECT_FOUND,
                    f"{entity.name}.{name} refers to a {item.target} without an id",
                )
            values[name] = int(ident.text)
        elif isinstance(item, Many) and not _is_nil(child):
            kid_id, kid = _parse_bean(child, ENTITIES[item.target])
            if kid_id is None:  # existing children are left alone, as ICAT does
                children.setdefault(name, []).append(kid)
    return row_id, NewRow(entity.name, values, children)


def _emit_node(parent: Any, tag: str, node: jpql.Node, typed: bool) -> None:
    entity = ENTITIES[node.entity]
    element = etree.SubElement(parent, tag)
    if typed:
        element.set(f"{{{XSI}}}type", f"ns2:{entity.bean}")
    row = node.row
    for attr in META_ATTRIBUTES:
        if row.get(attr.name) is not None:
            etree.SubElement(element, attr.name).text = _format_scalar(row[attr.name])
    for item in entity_fields(entity):
        name = item.name  # type: ignore[attr-defined]
        if isinstance(item, Attr):
            if row.get(name) is not None:
                etree.SubElement(element, name).text = _format_scalar(row[name])
            continue
        included = node.includes.get(name)
        if included is None:
            continue
        for related in included if isinstance(included, list) else [included]:
            _emit_node(element, name, related, typed=False)


def _emit_value(parent: Any, tag: str, value: Any, java_type: str) -> None:
    element = etree.SubElement(parent, tag)
    if value is None:
        element.set(f"{{{XSI}}}nil", "true")
        return
    element.set(f"{{{XSI}}}type", f"xs:{_XS_OF_JAVA.get(java_type, 'string')}")
    element.text = _format_scalar(value)


# --------------------------------------------------------------------------
# envelopes


def _envelope() -> tuple[Any, Any]:
    env = etree.Element(
        f"{{{SOAP_ENV}}}Envelope", nsmap={"S": SOAP_ENV, "xsi": XSI, "xs": XS}
    )
    return env, etree.SubElement(env, f"{{{SOAP_ENV}}}Body")


def _fault_xml(fault: IcatFault) -> bytes:
    env, body = _envelope()
    element = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(element, "faultcode").text = "S:Server"
    etree.SubElement(element, "faultstring").text = fault.message
    detail = etree.SubElement(element, "detail")
    exc = etree.SubElement(detail, f"{{{NAMESPACE}}}IcatException", nsmap={"ns2": NAMESPACE})
    etree.SubElement(exc, "message").text = fault.message
    etree.SubElement(exc, "offset").text = str(fault.offset)
    etree.SubElement(exc, "type").text = fault.type.value
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def _client_fault_xml(message: str) -> bytes:
    env, body = _envelope()
    element = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(element, "faultcode").text = "S:Client"
    etree.SubElement(element, "faultstring").text = message
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


# --------------------------------------------------------------------------
# operations


class _Service:
    """The ICAT operations over one store."""

    def __init__(
        self,
        store: IcatStore,
        authenticators: Mapping[str, Mapping[str, str]],
        root_users: Iterable[str],
    ) -> None:
        self.store = store
        self.authenticators = {k: dict(v) for k, v in authenticators.items()}
        self.root_users = frozenset(root_users)
        #: ``(operation, user or "")`` of every call, in order.
        self.calls: list[tuple[str, str]] = []

    # -- helpers -------------------------------------------------------------

    def _access(self, session_id: str | None) -> Access:
        login = self.store.session(session_id)
        return Access(self.store, login.user, self.root_users)

    def _require_write(self, access: Access, new: NewRow, old: dict[str, Any] | None = None) -> None:
        candidate = dict(old or {})
        candidate.update(new.values)
        allowed = access.can_write(new.entity, candidate)
        if allowed and old is not None:
            allowed = access.can_write(new.entity, old)
        if not allowed:
            raise IcatFault(
                FaultType.INSUFFICIENT_PRIVILEGES,
                f"{access.user} may not write this {new.entity}",
            )
        self._require_children(access, new)

    def _require_children(self, access: Access, new: NewRow) -> None:
        # Cascaded children belong to the checked parent; only their kind matters.
        for kids in new.children.values():
            for kid in kids:
                if not access.is_root and kid.entity not in ("DatasetParameter", "Datafile"):
                    raise IcatFault(
                        FaultType.INSUFFICIENT_PRIVILEGES,
                        f"{access.user} may not create a {kid.entity}",
                    )
                self._require_children(access, kid)

    @staticmethod
    def _bean(node: Any) -> tuple[int | None, NewRow]:
        if node is None:
            raise IcatFault(FaultType.BAD_PARAMETER, "no bean given")
        return _parse_bean(node)

    # -- operations: body element -> (result, result kind) ----------------------

    def getApiVersion(self, request: Any) -> Any:
        return API_VERSION

    getVersion = getApiVersion

    def getEntityNames(self, request: Any) -> Any:
        return list(ENTITY_NAMES)

    def getEntityInfo(self, request: Any) -> Any:
        name = (request.findtext("beanName") or "").strip()
        entity = PARAMETER_INFO if name == "Parameter" else ENTITIES.get(name)
        if entity is None:
            raise IcatFault(FaultType.BAD_PARAMETER, f"{name!r} is not an ICAT entity")
        return entity

    def login(self, request: Any) -> Any:
        plugin = (request.findtext("plugin") or "").strip()
        credentials = {
            (entry.findtext("key") or ""): entry.findtext("value") or ""
            for entry in request.iterfind("credentials/entry")
        }
        users = self.authenticators.get(plugin)
        if users is None:
            raise IcatFault(FaultType.SESSION, f"Authenticator mnemonic {plugin} not recognised")
        username = credentials.get("username", "")
        if username not in users or users[username] != credentials.get("password"):
            raise IcatFault(FaultType.SESSION, "The username and password do not match")
        login = self.store.open_session(f"{plugin}/{username}")
        self.calls[-1] = ("login", login.user)
        return login.session_id

    def logout(self, request: Any) -> Any:
        login = self.store.session(request.findtext("sessionId"))
        self.store.close_session(login.session_id)
        return None

    def getUserName(self, request: Any) -> Any:
        return self.store.session(request.findtext("sessionId")).user

    def getRemainingMinutes(self, request: Any) -> Any:
        return self.store.session(request.findtext("sessionId")).remaining_minutes()

    def refresh(self, request: Any) -> Any:
        self.store.refresh_session(request.findtext("sessionId") or "")
        return None

    def getProperties(self, request: Any) -> Any:
        self.store.session(request.findtext("sessionId"))
        return [f"lifetimeMinutes {int(self.store.session_minutes)}", "maxEntities 10000"]

    def search(self, request: Any) -> Any:
        access = self._access(request.findtext("sessionId"))
        return self._query(lambda: jpql.search(
            request.findtext("query") or "", self.store, user=access.user, readable=access.can_read
        ))

    def get(self, request: Any) -> Any:
        access = self._access(request.findtext("sessionId"))
        try:
            key = int((request.findtext("primaryKey") or "").strip())
        except ValueError as exc:
            raise IcatFault(FaultType.BAD_PARAMETER, "primaryKey is not a number") from exc
        return self._query(lambda: jpql.get(
            request.findtext("query") or "", key, self.store, user=access.user, readable=access.can_read
        ))

    @staticmethod
    def _query(run: Any) -> Any:
        try:
            return run()
        except jpql.NoSuchObjectError as exc:
            raise IcatFault(FaultType.NO_SUCH_OBJECT_FOUND, str(exc)) from exc
        except jpql.PrivilegesError as exc:
            raise IcatFault(FaultType.INSUFFICIENT_PRIVILEGES, str(exc)) from exc
        except jpql.QueryError as exc:
            raise IcatFault(FaultType.BAD_PARAMETER, str(exc)) from exc

    def create(self, request: Any) -> Any:
        access = self._access(request.findtext("sessionId"))
        _, new = self._bean(request.find("bean"))
        return self._create_checked(access, new)

    def _create_checked(self, access: Access, new: NewRow) -> int:
        # icat.server persists (VALIDATION, OBJECT_ALREADY_EXISTS) before it
        # authorises; a refusal then rolls the create back.
        with self.store.transaction():
            row_id = self.store.create(new, access.user)
            self._require_write(access, new)
            return row_id

    def createMany(self, request: Any) -> Any:
        access = self._access(request.findtext("sessionId"))
        ids = []
        with self.store.transaction():
            for offset, node in enumerate(request.iterfind("beans")):
                try:
                    _, new = self._bean(node)
                    ids.append(self._create_checked(access, new))
                except IcatFault as fault:
                    fault.offset = offset
                    raise
        return ids

    def _existing(self, access: Access, node: Any) -> tuple[int, NewRow, dict[str, Any]]:
        row_id, new = self._bean(node)
        old = None if row_id is None else self.store.get(new.entity, row_id)
        if old is None or not access.can_read(new.entity, old):
            raise IcatFault(
                FaultType.NO_SUCH_OBJECT_FOUND, f"{new.entity}[id:{row_id}] not found"
            )
        return int(row_id), new, old  # type: ignore[arg-type]

    def update(self, request: Any) -> Any:
        access = self._access(request.findtext("sessionId"))
        row_id, new, old = self._existing(access, request.find("bean"))
        self._require_write(access, NewRow(new.entity, new.values, {}), old)
        self.store.update(new.entity, row_id, new.values, access.user)
        return None

    def delete(self, request: Any) -> Any:
        return self._delete(request, [request.find("bean")])

    def deleteMany(self, request: Any) -> Any:
        return self._delete(request, list(request.iterfind("beans")))

    def _delete(self, request: Any, nodes: list[Any]) -> Any:
        access = self._access(request.findtext("sessionId"))
        with self.store.transaction():
            for node in nodes:
                row_id, new, old = self._existing(access, node)
                self._require_write(access, NewRow(new.entity, {}, {}), old)
                self.store.delete(new.entity, row_id, access.user)
        return None

    def isAccessAllowed(self, request: Any) -> Any:
        access = self._access(request.findtext("sessionId"))
        _, new = self._bean(request.find("bean"))
        if (request.findtext("accessType") or "").strip() == "READ":
            return access.can_read(new.entity, new.values)
        return access.can_write(new.entity, new.values)


def _entity_info(wrapper: Any, entity: Entity) -> None:
    info = etree.SubElement(wrapper, "return")
    etree.SubElement(info, "classComment").text = entity.comment
    if entity.unique:  # omitted, not empty, when there is none (python-icat indexes [0])
        constraint = etree.SubElement(info, "constraints")
        for name in entity.unique:
            etree.SubElement(constraint, "fieldNames").text = name
    items = [*META_ATTRIBUTES, *entity_fields(entity)]
    for item in items:
        field = etree.SubElement(info, "fields")
        etree.SubElement(field, "comment").text = getattr(item, "comment", "") or ""
        etree.SubElement(field, "name").text = item.name  # type: ignore[attr-defined]
        if isinstance(item, Attr):
            not_null, rel, java = item.not_null or item.name == "id", "ATTRIBUTE", item.type
        elif isinstance(item, One):
            not_null, rel, java = item.not_null, "ONE", item.target
        else:
            not_null, rel, java = False, "MANY", item.target  # type: ignore[attr-defined]
        etree.SubElement(field, "notNullable").text = "true" if not_null else "false"
        etree.SubElement(field, "relType").text = rel
        if isinstance(item, Attr) and item.type == "String":
            etree.SubElement(field, "stringLength").text = str(item.length)
        etree.SubElement(field, "type").text = java


def _response_xml(operation: str, result: Any) -> bytes:
    env, body = _envelope()
    wrapper = etree.SubElement(body, f"{{{NAMESPACE}}}{operation}Response", nsmap={"ns2": NAMESPACE})
    spec = OPERATIONS[operation].result
    if spec is None or result is None:
        pass
    elif isinstance(result, Entity):
        _entity_info(wrapper, result)
    elif isinstance(result, jpql.Node):
        _emit_node(wrapper, "return", result, typed=True)
    elif isinstance(result, jpql.Result):
        for item in result.items:
            if result.kind == "entity":
                _emit_node(wrapper, "return", item, typed=True)
            elif result.kind == "tuple":
                field_set = etree.SubElement(wrapper, "return")
                field_set.set(f"{{{XSI}}}type", "ns2:fieldSet")
                for value, java in zip(item, result.types):
                    _emit_value(field_set, "fields", value, java)
            else:
                _emit_value(wrapper, "return", item, result.types[0] if result.types else "String")
    else:
        for value in result if spec[1] else [result]:
            etree.SubElement(wrapper, "return").text = _format_scalar(value)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


# --------------------------------------------------------------------------
# WSGI application


class _App:
    def __init__(self, service: _Service) -> None:
        self.service = service
        #: Seconds every POST waits before it runs (a slow server).
        self.latency = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "").lower()
        method = environ.get("REQUEST_METHOD", "GET")
        if path.rstrip("/") != SERVICE_PATH:
            return self._reply(start_response, "404 Not Found", b"not found", "text/plain")
        if method == "GET":
            if query.startswith("wsdl"):
                endpoint = f"http://{self._host(environ)}{SERVICE_PATH}"
                text = wsdl_text(endpoint)
            elif query.startswith("xsd"):
                text = xsd_text()
            else:
                return self._reply(start_response, "404 Not Found", b"add ?wsdl", "text/plain")
            return self._reply(start_response, "200 OK", text.encode(), "text/xml; charset=utf-8")
        if method != "POST":
            return self._reply(start_response, "405 Method Not Allowed", b"", "text/plain")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
        if self.latency:
            gevent.sleep(self.latency)  # a slow server, for timeout tests
        status, payload = self._soap(body)
        return self._reply(start_response, status, payload, "text/xml; charset=utf-8")

    @staticmethod
    def _host(environ: dict[str, Any]) -> str:
        return environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"

    @staticmethod
    def _reply(start_response: Any, status: str, body: bytes, ctype: str) -> list[bytes]:
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    def _soap(self, body: bytes) -> tuple[str, bytes]:
        fail = "500 Internal Server Error"
        try:
            envelope = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as exc:
            return fail, _client_fault_xml(f"Unmarshalling Error: {exc}")
        soap_body = envelope.find(f"{{{SOAP_ENV}}}Body")
        request = None if soap_body is None else next(iter(soap_body), None)
        if request is None or not isinstance(request.tag, str):
            return fail, _client_fault_xml("No SOAP body element")
        qname = etree.QName(request.tag)
        if qname.namespace != NAMESPACE or qname.localname not in OPERATIONS:
            return fail, _client_fault_xml(
                f"Cannot find dispatch method for {{{qname.namespace}}}{qname.localname}"
            )
        name = qname.localname
        self.service.calls.append((name, ""))
        try:
            result = getattr(self.service, name)(request)
        except IcatFault as fault:
            return fail, _fault_xml(fault)
        except Exception as exc:  # a server bug must still reach the client as a fault
            log.exception("emulated ICAT: %s failed", name)
            return fail, _fault_xml(IcatFault(FaultType.INTERNAL, f"{type(exc).__name__}: {exc}"))
        return "200 OK", _response_xml(name, result)


# --------------------------------------------------------------------------
# server


class EmulatedIcat(LoopbackServer):
    """An emulated ICAT server on a loopback port.

    Args:
        db_path: SQLite file holding the catalogue and sessions (reused when
            it exists, so state survives restarts), or ``":memory:"``.
        fixture: YAML fixture (path or parsed mapping) loaded when the
            catalogue is empty; ``None`` for an empty catalogue. Defaults to
            the shipped fixture (facility ESRF, beamline ``ID-DEMO``).
        authenticators: ``plugin -> {username: password}``; the fixture's
            ``logins`` when omitted (else the default fixture's people).
        root_users: ICAT user names with every right.
        session_minutes: Lifetime of a login session.
        host: Address to bind (loopback by default).
        port: Port to bind; 0 picks a free one.

    Attributes:
        store: The :class:`~mxcubecore_lims.testing.icat.store.IcatStore`.
    """

    name = "emulated ICAT"
    error = IcatServerError

    def __init__(
        self,
        db_path: str | Path = ":memory:",
        fixture: str | Path | Mapping[str, Any] | None = DEFAULT_FIXTURE,
        authenticators: Mapping[str, Mapping[str, str]] | None = None,
        root_users: Iterable[str] = DEFAULT_ROOT_USERS,
        session_minutes: float = 120.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.store = IcatStore(db_path, session_minutes)
        logins: dict[str, dict[str, str]] = {}
        if fixture is not None:
            logins = load_fixture(self.store, fixture, load_rows=self.store.is_empty())
        self.service = _Service(
            self.store, authenticators or logins or DEFAULT_AUTHENTICATORS, root_users
        )
        self._app = _App(self.service)
        super().__init__(self._app, host, port)

    @property
    def latency(self) -> float:
        """Seconds every operation waits before it runs (set it to emulate a slow ICAT)."""
        return self._app.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._app.latency = float(seconds)

    @property
    def calls(self) -> list[tuple[str, str]]:
        """``(operation, user)`` of every operation served (user set for login)."""
        return self.service.calls

    def close_state(self) -> None:
        """Closes the catalogue."""
        self.store.close()

    @property
    def service_url(self) -> str:
        """The SOAP endpoint."""
        return self.url + SERVICE_PATH
