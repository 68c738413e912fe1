"""WSDL documents generated from :mod:`.schema` (so they cannot diverge from it).

The layout follows what JAX-WS/CXF produces for ISPyB (reference §1): all types
in the service namespace (no ``ns0`` prefix bound, reference §1.4), unqualified
local elements, every element ``minOccurs="0"``, wrapper elements
``{ns}op``/``{ns}opResponse``, a fault ``Exception`` with ``{ns}Exception``
detail, service ``ispybWS`` with port ``<Service>Port``.
"""

from __future__ import annotations

from functools import cache
from xml.sax.saxutils import quoteattr

from mxcubecore_lims.testing.ispyb.schema import SERVICES, Param, Service

__all__ = ["wsdl_text"]


def _element(param: Param) -> str:
    occurs = ' maxOccurs="unbounded"' if param.many else ""
    return f'<xs:element name="{param.name}" type="{param.type}" minOccurs="0"{occurs}/>'


def _complex(name: str, base: str | None, elements: list[Param]) -> str:
    inner = "".join(_element(p) for p in elements)
    if base:
        body = (
            f'<xs:complexContent><xs:extension base="tns:{base}"><xs:sequence>{inner}'
            "</xs:sequence></xs:extension></xs:complexContent>"
        )
    else:
        body = f"<xs:sequence>{inner}</xs:sequence>"
    abstract = ' abstract="true"' if name == "isPyBValueObject" else ""
    return f'<xs:complexType name="{name}"{abstract}>{body}</xs:complexType>'


def _schema(service: Service) -> str:
    parts = []
    for op in service.operations.values():
        parts.append(f'<xs:element name="{op.name}" type="tns:{op.name}"/>')
        parts.append(f'<xs:element name="{op.name}Response" type="tns:{op.name}Response"/>')
    parts.append('<xs:element name="Exception" type="tns:Exception"/>')
    for op in service.operations.values():
        parts.append(_complex(op.name, None, list(op.params)))
        parts.append(_complex(f"{op.name}Response", None, [op.result] if op.result else []))
    for ctype in service.types.values():
        parts.append(_complex(ctype.name, ctype.base, list(ctype.elements)))
    parts.append(_complex("Exception", None, [Param("message", "xs:string")]))
    return (
        f'<xs:schema xmlns:tns="{service.namespace}" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" attributeFormDefault="unqualified" '
        f'elementFormDefault="unqualified" targetNamespace="{service.namespace}">' + "".join(parts) + "</xs:schema>"
    )


@cache
def wsdl_text(service_name: str, location: str) -> str:
    """The WSDL of one service, with ``location`` as the SOAP address."""
    service = SERVICES[service_name]
    ns = service.namespace
    messages, port_ops, binding_ops = [], [], []
    for op in service.operations.values():
        for suffix in ("", "Response"):
            messages.append(
                f'<wsdl:message name="{op.name}{suffix}">'
                f'<wsdl:part element="tns:{op.name}{suffix}" name="parameters"/></wsdl:message>'
            )
        port_ops.append(
            f'<wsdl:operation name="{op.name}">'
            f'<wsdl:input message="tns:{op.name}" name="{op.name}"/>'
            f'<wsdl:output message="tns:{op.name}Response" name="{op.name}Response"/>'
            '<wsdl:fault message="tns:Exception" name="Exception"/>'
            "</wsdl:operation>"
        )
        binding_ops.append(
            f'<wsdl:operation name="{op.name}"><soap:operation soapAction="" style="document"/>'
            f'<wsdl:input name="{op.name}"><soap:body use="literal"/></wsdl:input>'
            f'<wsdl:output name="{op.name}Response"><soap:body use="literal"/></wsdl:output>'
            '<wsdl:fault name="Exception"><soap:fault name="Exception" use="literal"/>'
            "</wsdl:fault></wsdl:operation>"
        )
    messages.append(
        '<wsdl:message name="Exception"><wsdl:part element="tns:Exception" name="Exception"/></wsdl:message>'
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        f'xmlns:tns="{ns}" name="ispybWS" targetNamespace="{ns}">'
        f"<wsdl:types>{_schema(service)}</wsdl:types>"
        + "".join(messages)
        + f'<wsdl:portType name="{service.name}">{"".join(port_ops)}</wsdl:portType>'
        f'<wsdl:binding name="ispybWSSoapBinding" type="tns:{service.name}">'
        '<soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>'
        + "".join(binding_ops)
        + "</wsdl:binding>"
        f'<wsdl:service name="ispybWS"><wsdl:port binding="tns:ispybWSSoapBinding" '
        f'name="{service.name}Port"><soap:address location={quoteattr(location)}/>'
        "</wsdl:port></wsdl:service></wsdl:definitions>"
    )
