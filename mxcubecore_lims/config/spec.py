"""Format-neutral description of one configured object, as read from its file.

The XML and YAML readers both produce an :class:`ObjectSpec`; everything after
reading (typing values, resolving references, building objects) works on this
one shape, so the two formats cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Format = Literal["xml", "yaml"]


@dataclass
class RawScalar:
    """A leaf value as written in the file.

    Attributes:
        text: The text as written (stripped for XML), None for a YAML null.
        guessed: The value read without a declared type: YAML's own typing, or
            for XML mxcubecore's coercion (int, float, True/False, None, str).
        line: 1-based line of the value.
    """

    text: str | None
    guessed: Any
    line: int


@dataclass
class RawMap:
    """A mapping value (YAML mapping, XML element with child elements)."""

    items: dict[str, RawValue]
    line: int


@dataclass
class RawList:
    """A sequence value (YAML sequence, repeated XML elements).

    Attributes:
        items: The values.
        line: Line of the first.
        repeated_element: The same XML element written several times: a list
            for a field declared as one, else its last value (as mxcubecore).
    """

    items: list[RawValue]
    line: int
    repeated_element: bool = False


RawValue = RawScalar | RawMap | RawList


@dataclass
class Reference:
    """A role pointing at another configuration file.

    Attributes:
        role: Role name under which the target is attached.
        target: The name as written (``/session``, ``session.yaml``, ...).
        line: 1-based line of the reference.
        tag: The XML element name (``object``, ``device``...), ``object`` for YAML.
    """

    role: str
    target: str
    line: int
    tag: str = "object"


@dataclass
class ObjectSpec:
    """Everything one configuration file says about its object.

    Attributes:
        path: Absolute path of the file.
        format: ``"xml"`` or ``"yaml"``.
        class_path: The ``class`` value as written, or None when absent.
        class_line: Line of the ``class`` declaration.
        properties: Property name to raw value, in file order.
        references: Roles pointing at other files, in file order.
        xml_commands: XML ``<command>`` elements as ``(attributes, text)``.
        xml_channels: XML ``<channel>`` elements as ``(attributes, text)``.
        yaml_extra: Other top-level YAML sections (commands and channels of
            control protocols), passed to mxcubecore unchanged.
    """

    path: Path
    format: Format
    class_path: str | None
    class_line: int
    properties: dict[str, RawValue] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)
    xml_commands: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    xml_channels: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    yaml_extra: dict[str, Any] = field(default_factory=dict)

    def line_of(self, location: tuple[Any, ...]) -> int:
        """Finds the line of a value from a pydantic error location.

        Args:
            location: The path into the properties (names and list indices).

        Returns:
            The line of the deepest value found on that path, or the class
            line when the first element names no property.
        """
        if not location or location[0] not in self.properties:
            return self.class_line
        node: RawValue = self.properties[location[0]]
        for step in location[1:]:
            if isinstance(node, RawMap) and step in node.items:
                node = node.items[step]
            elif isinstance(node, RawList) and isinstance(step, int) and step < len(node.items):
                node = node.items[step]
            else:
                break
        return node.line
