"""Reads an mxcubecore XML hardware-object file into an :class:`ObjectSpec`.

The shapes follow mxcubecore's own XML loader, so that an object configured in
XML ends with the same configuration under either loader:

* an element with ``href`` (or ``hwrid``) is a reference; its ``role``
  attribute names the role (the element name when absent);
* ``<command>`` and ``<channel>`` elements with ``name`` and ``type`` are
  control-protocol commands and channels;
* an element with child elements is a complex property: one such element
  gives a mapping, a repeated one a list; below the top level, every nested
  complex element is a list (mxcubecore does the same, and ``Session`` relies
  on it for ``inhouse_users``);
* any other element is a property whose text is the value.

lxml is used, not the SAX parser mxcubecore uses, because it reports line
numbers and keeps comments (for the YAML converter). Entities and network
access are disabled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lxml import etree

from mxcubecore_lims.config.spec import ObjectSpec, RawList, RawMap, RawScalar, RawValue, Reference
from mxcubecore_lims.errors import ConfigSyntaxError, ConfigValueError

_REFERENCE_ATTRIBUTES = ("href", "hwrid")
_HWR_IMPORT_UNSUPPORTED = "<hwr_import> redirection is not supported; reference the target file directly"


def guess_xml_value(text: str) -> Any:
    """Types an XML text the way mxcubecore does for undeclared properties.

    Args:
        text: The element text.

    Returns:
        None for ``"None"``, then the first of int, float, bool
        (``True``/``False`` only) that fits, else the text itself.
    """
    if text == "None":
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text in ("True", "False"):
        return text == "True"
    return text


def make_parser() -> etree.XMLParser:
    """Returns an XML parser that keeps comments and refuses entities and network."""
    return etree.XMLParser(
        remove_comments=False, resolve_entities=False, no_network=True, huge_tree=False
    )


def parse_xml_tree(path: Path) -> etree._ElementTree:
    """Parses an XML file, mapping syntax errors to :class:`ConfigSyntaxError`."""
    try:
        return etree.parse(str(path), make_parser())
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else None
        raise ConfigSyntaxError(f"malformed XML: {error.msg}", path, line) from error
    except OSError as error:
        raise ConfigSyntaxError(f"cannot read file: {error}", path) from error


def read_xml(path: Path) -> ObjectSpec:
    """Reads one XML hardware-object file.

    Args:
        path: Absolute path of the file.

    Returns:
        The object's specification.

    Raises:
        ConfigSyntaxError: The file is not well-formed XML.
        ConfigValueError: An element is malformed (e.g. a reference without target).
    """
    root = parse_xml_tree(path).getroot()
    if root.tag == "hwr_import":
        raise ConfigValueError(_HWR_IMPORT_UNSUPPORTED, path, root.sourceline, "hwr_import")
    spec = ObjectSpec(
        path=path,
        format="xml",
        class_path=root.get("class"),
        class_line=root.sourceline or 1,
    )
    complex_values: dict[str, list[RawMap]] = {}
    for child in _elements(root):
        tag = str(child.tag)
        line = child.sourceline or spec.class_line
        target = next((child.get(a) for a in _REFERENCE_ATTRIBUTES if child.get(a)), None)
        if tag == "hwr_import":
            raise ConfigValueError(_HWR_IMPORT_UNSUPPORTED, path, line, tag)
        if target is not None or any(a in child.attrib for a in _REFERENCE_ATTRIBUTES):
            if not target:
                raise ConfigValueError(f"<{tag}> reference has an empty href", path, line, tag)
            spec.references.append(Reference(child.get("role") or tag, target, line, tag))
        elif tag in ("command", "channel") and "name" in child.attrib and "type" in child.attrib:
            entry = ({k: guess_xml_value(v) for k, v in child.attrib.items()}, _text(child))
            (spec.xml_commands if tag == "command" else spec.xml_channels).append(entry)
        elif _has_elements(child):
            complex_values.setdefault(tag, []).append(_read_complex(child))
        else:
            text = _text(child)
            spec.properties[tag] = RawScalar(text, guess_xml_value(text), line)
    for tag, values in complex_values.items():
        spec.properties[tag] = values[0] if len(values) == 1 else RawList(list(values), values[0].line)
    return spec


def _elements(element: etree._Element) -> list[etree._Element]:
    """Child elements, without comments and processing instructions."""
    return [child for child in element if isinstance(child.tag, str)]


def _has_elements(element: etree._Element) -> bool:
    return bool(_elements(element))


def _text(element: etree._Element) -> str:
    return (element.text or "").strip()


def _read_complex(element: etree._Element) -> RawMap:
    """Converts a complex property element: leaves as scalars, nested complex as lists."""
    items: dict[str, RawValue] = {}
    nested: dict[str, list[RawValue]] = {}
    for child in _elements(element):
        tag = str(child.tag)
        line = child.sourceline or element.sourceline or 1
        if _has_elements(child):
            nested.setdefault(tag, []).append(_read_complex(child))
        else:
            text = _text(child)
            items[tag] = RawScalar(text, guess_xml_value(text), line)
    for tag, values in nested.items():
        items[tag] = RawList(values, values[0].line)
    return RawMap(items, element.sourceline or 1)
