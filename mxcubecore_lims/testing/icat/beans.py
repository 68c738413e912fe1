"""ICAT beans on the wire: request XML -> rows to write, and result entities and values -> XML."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lxml import etree

from mxcubecore_lims.testing.icat import jpql
from mxcubecore_lims.testing.icat.faults import FaultType, IcatFault
from mxcubecore_lims.testing.icat.schema import ENTITIES, META_ATTRIBUTES, XSD_TYPES, Attr, Entity, Many, One
from mxcubecore_lims.testing.icat.store import NewRow
from mxcubecore_lims.testing.icat.wsdl import entity_fields

__all__ = ["XS", "XSI", "emit_node", "emit_value", "format_scalar", "parse_bean"]

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
_BEANS: dict[str, Entity] = {e.bean: e for e in ENTITIES.values()}
_XS_OF_JAVA = {java: xsd.split(":")[1] for java, xsd in XSD_TYPES.items()}
_XS_OF_JAVA["ParameterValueType"] = "string"


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


def format_scalar(value: Any) -> str:
    """A value as xs:boolean, xs:dateTime (with its zone), xs:double or text."""
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


def parse_bean(node: Any, default: Entity | None = None) -> tuple[int | None, NewRow]:
    """A bean element -> (its id if given, the row with its MANY children).

    Args:
        node: The bean element.
        default: Its entity when it has no ``xsi:type`` (a MANY child).

    Returns:
        The id the bean carries (``None`` for a new one) and the row.

    Raises:
        IcatFault: The bean has no known type or a bad value (``BAD_PARAMETER``),
            or a ONE relation without an id (``NO_SUCH_OBJECT_FOUND``).
    """
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
            kid_id, kid = parse_bean(child, ENTITIES[item.target])
            if kid_id is None:  # existing children are left alone, as ICAT does
                children.setdefault(name, []).append(kid)
    return row_id, NewRow(entity.name, values, children)


def emit_node(parent: Any, tag: str, node: jpql.Node, typed: bool) -> None:
    """Append ``node`` as element ``tag`` of ``parent``: non-null attributes and the included relations.

    Args:
        parent: The element to append to.
        tag: The element name.
        node: The entity with what INCLUDE asked for.
        typed: Whether to declare its ``xsi:type`` (top-level results).
    """
    entity = ENTITIES[node.entity]
    element = etree.SubElement(parent, tag)
    if typed:
        element.set(f"{{{XSI}}}type", f"ns2:{entity.bean}")
    row = node.row
    for attr in META_ATTRIBUTES:
        if row.get(attr.name) is not None:
            etree.SubElement(element, attr.name).text = format_scalar(row[attr.name])
    for item in entity_fields(entity):
        name = item.name
        if isinstance(item, Attr):
            if row.get(name) is not None:
                etree.SubElement(element, name).text = format_scalar(row[name])
            continue
        included = node.includes.get(name)
        if included is None:
            continue
        for related in included if isinstance(included, list) else [included]:
            emit_node(element, name, related, typed=False)


def emit_value(parent: Any, tag: str, value: Any, java_type: str) -> None:
    """Append ``value`` as element ``tag`` of ``parent``, typed by ``java_type`` (nil when ``None``)."""
    element = etree.SubElement(parent, tag)
    if value is None:
        element.set(f"{{{XSI}}}nil", "true")
        return
    element.set(f"{{{XSI}}}type", f"xs:{_XS_OF_JAVA.get(java_type, 'string')}")
    element.text = format_scalar(value)
