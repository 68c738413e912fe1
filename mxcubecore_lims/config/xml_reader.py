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
    # Internal entities are expanded as mxcubecore's parser does; external
    # ones (files, URLs) never are.
    return etree.XMLParser(remove_comments=False, resolve_entities="internal", no_network=True, huge_tree=False)


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
    complex_values: dict[str, list[RawValue]] = {}
    leaves: dict[str, list[RawValue]] = {}
    for child in _elements(root):
        tag = str(child.tag)
        line = child.sourceline or spec.class_line
        if tag == "hwr_import":
            raise ConfigValueError(_HWR_IMPORT_UNSUPPORTED, path, line, tag)
        reference = _reference(child, path)
        if reference is not None:
            spec.references.append(reference)
        elif tag in ("command", "channel") and "name" in child.attrib and "type" in child.attrib:
            entry = ({k: guess_xml_value(v) for k, v in child.attrib.items()}, _text(child))
            (spec.xml_commands if tag == "command" else spec.xml_channels).append(entry)
        elif _has_elements(child):
            value = _read_complex(child, spec)
            if value.items or not all(_reference(c, path) for c in _elements(child)):
                # (an element holding only references is a container of roles)
                complex_values.setdefault(tag, []).append(value)
        else:
            leaves.setdefault(tag, []).append(_scalar(child, line))
    for tag, values in leaves.items():
        spec.properties[tag] = values[0] if len(values) == 1 else RawList(values, values[0].line, True)
    for tag, values in complex_values.items():
        spec.properties[tag] = values[0] if len(values) == 1 else RawList(values, values[0].line)
    return spec


def _reference(element: etree._Element, path: Path) -> Reference | None:
    """The reference an element with ``href``/``hwrid`` makes, else None."""
    if not any(attribute in element.attrib for attribute in _REFERENCE_ATTRIBUTES):
        return None
    tag = str(element.tag)
    line = element.sourceline or 1
    target = next((element.get(a) for a in _REFERENCE_ATTRIBUTES if element.get(a)), None)
    if not target:
        raise ConfigValueError(f"<{tag}> reference has an empty href", path, line, tag)
    return Reference(element.get("role") or tag, target, line, tag)


def _scalar(element: etree._Element, line: int) -> RawScalar:
    text = _text(element)
    return RawScalar(text, guess_xml_value(text), line)


def _elements(element: etree._Element) -> list[etree._Element]:
    """Child elements, without comments and processing instructions."""
    return [child for child in element if isinstance(child.tag, str)]


def _has_elements(element: etree._Element) -> bool:
    return bool(_elements(element))


def _text(element: etree._Element) -> str:
    """The element's text, including text after comments inside it."""
    parts = [element.text or ""]
    parts.extend(child.tail or "" for child in element if not isinstance(child.tag, str))
    return "".join(parts).strip()


def _read_complex(element: etree._Element, spec: ObjectSpec) -> RawMap:
    """Converts a complex property element: leaves as scalars, nested complex as lists.

    A reference inside it (the old ``<motors><object href=.../></motors>``
    style) is a role of the object itself, as mxcubecore attaches it.
    """
    leaves: dict[str, list[RawValue]] = {}
    nested: dict[str, list[RawValue]] = {}
    for child in _elements(element):
        tag = str(child.tag)
        line = child.sourceline or element.sourceline or 1
        reference = _reference(child, spec.path)
        if reference is not None:
            spec.references.append(reference)
        elif _has_elements(child):
            nested.setdefault(tag, []).append(_read_complex(child, spec))
        else:
            leaves.setdefault(tag, []).append(_scalar(child, line))
    items: dict[str, RawValue] = {
        tag: values[0] if len(values) == 1 else RawList(values, values[0].line, True) for tag, values in leaves.items()
    }
    for tag, values in nested.items():
        items[tag] = RawList(values, values[0].line)
    return RawMap(items, element.sourceline or 1)
