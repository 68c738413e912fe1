"""WSDL and XSD of the emulated ICAT, generated from :mod:`.schema`.

The shapes follow what JAX-WS generates for icat.server's ``ICAT`` web
service (reference ``icat.md`` §1.1, §1.4): service ``ICATService``, port
``ICATPort``, document/literal wrapped operations with unqualified children,
an ``entityBaseBean`` every entity type extends, ONE relations typed by their
bean and MANY relations as unbounded nillable elements.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import quoteattr

from mxcubecore_lims.testing.icat.schema import (
    ENTITIES,
    META_ATTRIBUTES,
    PARAMETER_VALUE_TYPES,
    XSD_TYPES,
    Attr,
    Entity,
    Many,
    One,
    bean_type,
)

__all__ = ["NAMESPACE", "OPERATIONS", "Operation", "entity_fields", "wsdl_text", "xsd_text"]

NAMESPACE = "http://icatproject.org"

FAULT_TYPES = (
    "BAD_PARAMETER",
    "INTERNAL",
    "INSUFFICIENT_PRIVILEGES",
    "NO_SUCH_OBJECT_FOUND",
    "OBJECT_ALREADY_EXISTS",
    "SESSION",
    "VALIDATION",
    "NOT_IMPLEMENTED",
)


@dataclass(frozen=True)
class Operation:
    """One web method: request children and the ``return`` element.

    Attributes:
        name: Operation name.
        params: ``(name, xsd type, many)`` in wire order.
        result: ``(xsd type, many)`` of ``return``, or ``None`` for void.
    """

    name: str
    params: tuple[tuple[str, str, bool], ...] = ()
    result: tuple[str, bool] | None = None


_SID = ("sessionId", "xs:string", False)
_BEAN = ("bean", "tns:entityBaseBean", False)

#: Every operation the emulator serves, by name.
OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("getApiVersion", (), ("xs:string", False)),
        Operation("getVersion", (), ("xs:string", False)),
        Operation("getEntityNames", (), ("xs:string", True)),
        Operation("getEntityInfo", (("beanName", "xs:string", False),), ("tns:entityInfo", False)),
        Operation(
            "login",
            (("plugin", "xs:string", False), ("credentials", "credentials", False)),
            ("xs:string", False),
        ),
        Operation("logout", (_SID,)),
        Operation("getUserName", (_SID,), ("xs:string", False)),
        Operation("getRemainingMinutes", (_SID,), ("xs:double", False)),
        Operation("refresh", (_SID,)),
        Operation("getProperties", (_SID,), ("xs:string", True)),
        Operation("search", (_SID, ("query", "xs:string", False)), ("xs:anyType", True)),
        Operation(
            "get",
            (_SID, ("query", "xs:string", False), ("primaryKey", "xs:long", False)),
            ("tns:entityBaseBean", False),
        ),
        Operation("create", (_SID, _BEAN), ("xs:long", False)),
        Operation("createMany", (_SID, ("beans", "tns:entityBaseBean", True)), ("xs:long", True)),
        Operation("update", (_SID, _BEAN)),
        Operation("delete", (_SID, _BEAN)),
        Operation("deleteMany", (_SID, ("beans", "tns:entityBaseBean", True))),
        Operation(
            "isAccessAllowed",
            (_SID, _BEAN, ("accessType", "tns:accessType", False)),
            ("xs:boolean", False),
        ),
    )
}


def entity_fields(entity: Entity) -> list[Attr | One | Many]:
    """Non-meta fields of an entity in wire order (alphabetical, as JAXB orders them)."""
    items: list[Attr | One | Many] = [*entity.attrs, *entity.ones, *entity.manys]
    return sorted(items, key=lambda item: item.name)


def _element(name: str, xsd_type: str, many: bool = False, nillable: bool = False) -> str:
    occurs = ' maxOccurs="unbounded"' if many else ""
    nil = ' nillable="true"' if nillable else ""
    return f'<xs:element name="{name}" type="{xsd_type}"{nil} minOccurs="0"{occurs}/>'


def _entity_type(entity: Entity) -> str:
    parts = []
    for item in entity_fields(entity):
        if isinstance(item, Attr):
            parts.append(_element(item.name, XSD_TYPES[item.type]))
        elif isinstance(item, Many):
            parts.append(_element(item.name, f"tns:{bean_type(item.target)}", True, True))
        else:  # One
            parts.append(_element(item.name, f"tns:{bean_type(item.target)}"))
    return (
        f'<xs:complexType name="{entity.bean}"><xs:complexContent>'
        '<xs:extension base="tns:entityBaseBean"><xs:sequence>'
        + "".join(parts)
        + "</xs:sequence></xs:extension></xs:complexContent></xs:complexType>"
    )


def _enum(name: str, values: tuple[str, ...]) -> str:
    options = "".join(f'<xs:enumeration value="{v}"/>' for v in values)
    return f'<xs:simpleType name="{name}"><xs:restriction base="xs:string">{options}</xs:restriction></xs:simpleType>'


def _operation_types(op: Operation) -> str:
    params = []
    for name, xsd_type, many in op.params:
        if xsd_type == "credentials":
            params.append(
                '<xs:element name="credentials" minOccurs="0"><xs:complexType><xs:sequence>'
                '<xs:element name="entry" minOccurs="0" maxOccurs="unbounded">'
                "<xs:complexType><xs:sequence>"
                '<xs:element name="key" type="xs:string" minOccurs="0"/>'
                '<xs:element name="value" type="xs:string" minOccurs="0"/>'
                "</xs:sequence></xs:complexType></xs:element>"
                "</xs:sequence></xs:complexType></xs:element>"
            )
        else:
            params.append(_element(name, xsd_type, many, nillable=many))
    result = "" if op.result is None else _element("return", op.result[0], op.result[1])
    return (
        f'<xs:element name="{op.name}" type="tns:{op.name}"/>'
        f'<xs:element name="{op.name}Response" type="tns:{op.name}Response"/>'
        f'<xs:complexType name="{op.name}"><xs:sequence>{"".join(params)}</xs:sequence>'
        "</xs:complexType>"
        f'<xs:complexType name="{op.name}Response"><xs:sequence>{result}</xs:sequence>'
        "</xs:complexType>"
    )


@lru_cache(maxsize=1)
def xsd_text() -> str:
    """The schema served at ``?xsd=1``."""
    base = "".join(_element(a.name, XSD_TYPES[a.type]) for a in META_ATTRIBUTES)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<xs:schema xmlns:tns="http://icatproject.org" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" version="1.0" '
        'targetNamespace="http://icatproject.org">',
        '<xs:element name="IcatException" type="tns:IcatException"/>',
        '<xs:complexType name="IcatException"><xs:sequence>'
        '<xs:element name="message" type="xs:string" minOccurs="0"/>'
        '<xs:element name="offset" type="xs:int"/>'
        '<xs:element name="type" type="tns:icatExceptionType" minOccurs="0"/>'
        "</xs:sequence></xs:complexType>",
        f'<xs:complexType name="entityBaseBean" abstract="true"><xs:sequence>{base}</xs:sequence></xs:complexType>',
        *(_entity_type(e) for e in ENTITIES.values()),
        '<xs:complexType name="entityInfo"><xs:sequence>'
        '<xs:element name="classComment" type="xs:string" minOccurs="0"/>'
        '<xs:element name="constraints" type="tns:constraint" nillable="true" minOccurs="0" '
        'maxOccurs="unbounded"/>'
        '<xs:element name="fields" type="tns:entityField" nillable="true" minOccurs="0" '
        'maxOccurs="unbounded"/>'
        "</xs:sequence></xs:complexType>",
        '<xs:complexType name="constraint"><xs:sequence>'
        '<xs:element name="fieldNames" type="xs:string" nillable="true" minOccurs="0" '
        'maxOccurs="unbounded"/>'
        "</xs:sequence></xs:complexType>",
        '<xs:complexType name="entityField"><xs:sequence>'
        '<xs:element name="comment" type="xs:string" minOccurs="0"/>'
        '<xs:element name="name" type="xs:string" minOccurs="0"/>'
        '<xs:element name="notNullable" type="xs:boolean"/>'
        '<xs:element name="relType" type="tns:relType" minOccurs="0"/>'
        '<xs:element name="stringLength" type="xs:int" minOccurs="0"/>'
        '<xs:element name="type" type="xs:string" minOccurs="0"/>'
        "</xs:sequence></xs:complexType>",
        '<xs:complexType name="fieldSet"><xs:sequence>'
        '<xs:element name="fields" type="xs:anyType" nillable="true" minOccurs="0" '
        'maxOccurs="unbounded"/>'
        "</xs:sequence></xs:complexType>",
        _enum("icatExceptionType", FAULT_TYPES),
        _enum("relType", ("ATTRIBUTE", "MANY", "ONE")),
        _enum("parameterValueType", PARAMETER_VALUE_TYPES),
        _enum("accessType", ("CREATE", "READ", "UPDATE", "DELETE")),
        *(_operation_types(op) for op in OPERATIONS.values()),
        "</xs:schema>",
    ]
    return "".join(parts)


def wsdl_text(endpoint: str) -> str:
    """The WSDL served at ``?wsdl``; ``endpoint`` is the service URL (no query)."""
    messages, port_ops, binding_ops = [], [], []
    for name in OPERATIONS:
        messages.append(
            f'<message name="{name}"><part name="parameters" element="tns:{name}"/></message>'
            f'<message name="{name}Response"><part name="parameters" '
            f'element="tns:{name}Response"/></message>'
        )
        port_ops.append(
            f'<operation name="{name}"><input message="tns:{name}"/>'
            f'<output message="tns:{name}Response"/>'
            '<fault message="tns:IcatException" name="IcatException"/></operation>'
        )
        binding_ops.append(
            f'<operation name="{name}"><soap:operation soapAction=""/>'
            '<input><soap:body use="literal"/></input>'
            '<output><soap:body use="literal"/></output>'
            '<fault name="IcatException"><soap:fault name="IcatException" use="literal"/>'
            "</fault></operation>"
        )
    return "".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" '
            'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
            'xmlns:tns="http://icatproject.org" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'targetNamespace="http://icatproject.org" name="ICATService">',
            "<types><xsd:schema>",
            f'<xsd:import namespace="http://icatproject.org" schemaLocation={quoteattr(endpoint + "?xsd=1")}/>',
            "</xsd:schema></types>",
            '<message name="IcatException"><part name="fault" element="tns:IcatException"/></message>',
            *messages,
            '<portType name="ICAT">',
            *port_ops,
            "</portType>",
            '<binding name="ICATPortBinding" type="tns:ICAT">'
            '<soap:binding transport="http://schemas.xmlsoap.org/soap/http" style="document"/>',
            *binding_ops,
            "</binding>",
            '<service name="ICATService"><port name="ICATPort" binding="tns:ICATPortBinding">',
            f"<soap:address location={quoteattr(endpoint)}/>",
            "</port></service></definitions>",
        ]
    )
