"""SOAP 1.1 envelopes of the emulated ICAT: operation responses and faults."""

from __future__ import annotations

from typing import Any

from lxml import etree

from mxcubecore_lims.testing.icat import jpql
from mxcubecore_lims.testing.icat.beans import XS, XSI, emit_node, emit_value, format_scalar
from mxcubecore_lims.testing.icat.faults import IcatFault
from mxcubecore_lims.testing.icat.schema import META_ATTRIBUTES, Attr, Entity, One
from mxcubecore_lims.testing.icat.wsdl import NAMESPACE, OPERATIONS, entity_fields

__all__ = ["SOAP_ENV", "client_fault_xml", "fault_xml", "response_xml"]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def _envelope() -> tuple[Any, Any]:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"S": SOAP_ENV, "xsi": XSI, "xs": XS})
    return env, etree.SubElement(env, f"{{{SOAP_ENV}}}Body")


def fault_xml(fault: IcatFault) -> bytes:
    """A server fault (``S:Server``) with the ``IcatException`` detail python-icat maps to its exceptions."""
    env, body = _envelope()
    element = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(element, "faultcode").text = "S:Server"
    etree.SubElement(element, "faultstring").text = fault.message
    detail = etree.SubElement(element, "detail")
    exc = etree.SubElement(detail, f"{{{NAMESPACE}}}IcatException", nsmap={"ns2": NAMESPACE})
    etree.SubElement(exc, "message").text = fault.message
    etree.SubElement(exc, "offset").text = str(fault.offset)
    etree.SubElement(exc, "type").text = fault.type.value
    return _to_bytes(env)


def client_fault_xml(message: str) -> bytes:
    """A client fault (``S:Client``): the request was not an ICAT operation."""
    env, body = _envelope()
    element = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(element, "faultcode").text = "S:Client"
    etree.SubElement(element, "faultstring").text = message
    return _to_bytes(env)


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
        etree.SubElement(field, "name").text = item.name
        if isinstance(item, Attr):
            not_null, rel, java = item.not_null or item.name == "id", "ATTRIBUTE", item.type
        elif isinstance(item, One):
            not_null, rel, java = item.not_null, "ONE", item.target
        else:
            not_null, rel, java = False, "MANY", item.target
        etree.SubElement(field, "notNullable").text = "true" if not_null else "false"
        etree.SubElement(field, "relType").text = rel
        if isinstance(item, Attr) and item.type == "String":
            etree.SubElement(field, "stringLength").text = str(item.length)
        etree.SubElement(field, "type").text = java


def response_xml(operation: str, result: Any) -> bytes:
    """The ``<operation>Response`` envelope carrying ``result``.

    Args:
        operation: The operation's name.
        result: What the operation returned: an :class:`~.schema.Entity`
            (``getEntityInfo``), a :class:`~.jpql.Node` (``get``), a
            :class:`~.jpql.Result` (``search``), scalars, or ``None``.

    Returns:
        The envelope's bytes.
    """
    env, body = _envelope()
    wrapper = etree.SubElement(body, f"{{{NAMESPACE}}}{operation}Response", nsmap={"ns2": NAMESPACE})
    spec = OPERATIONS[operation].result
    if spec is None or result is None:
        pass
    elif isinstance(result, Entity):
        _entity_info(wrapper, result)
    elif isinstance(result, jpql.Node):
        emit_node(wrapper, "return", result, typed=True)
    elif isinstance(result, jpql.Result):
        for item in result.items:
            if result.kind == "entity":
                emit_node(wrapper, "return", item, typed=True)
            elif result.kind == "tuple":
                field_set = etree.SubElement(wrapper, "return")
                field_set.set(f"{{{XSI}}}type", "ns2:fieldSet")
                for value, java in zip(item, result.types, strict=False):
                    emit_value(field_set, "fields", value, java)
            else:
                emit_value(wrapper, "return", item, result.types[0] if result.types else "String")
    else:
        for value in result if spec[1] else [result]:
            etree.SubElement(wrapper, "return").text = format_scalar(value)
    return _to_bytes(env)


def _to_bytes(env: Any) -> bytes:
    data: bytes = etree.tostring(env, xml_declaration=True, encoding="UTF-8")  # lxml is untyped (Any)
    return data
