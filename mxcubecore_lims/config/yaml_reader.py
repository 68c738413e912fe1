"""Reads an mxcubecore YAML hardware-object file into an :class:`ObjectSpec`.

The file has the shape mxcubecore's ``load_from_yaml`` reads::

    class: package.module.ClassName
    configuration:        # properties
      key: value
    objects:              # role: file (with or without extension)
      session: session.xml
    tango: {...}          # any other section: control-protocol set-up

The YAML is composed to a node tree rather than loaded, so that every value
keeps its line and its text as written: a ``str`` property declared by the
object keeps ``0123`` as ``"0123"`` even though YAML 1.2 reads it as 123.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TextIO, cast

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver

from mxcubecore_lims.config.spec import ObjectSpec, RawList, RawMap, RawScalar, RawValue, Reference
from mxcubecore_lims.errors import ConfigSyntaxError, ConfigValueError

_TOP_LEVEL_KEYS = ("class", "configuration", "objects")


try:  # libyaml's parser, shipped compiled with ruamel.yaml on most platforms
    from _ruamel_yaml import CParser as _CParser
except ImportError:  # pragma: no cover - a build of ruamel.yaml without it
    _CParser = None


class YamlReader:
    """A YAML reader of the flavour mxcubecore's loader uses: safe, YAML 1.2.

    Files are composed by libyaml's parser (ruamel's ``CParser``, six times
    faster than the pure-Python one) with ruamel's YAML 1.2 resolver, so every
    node gets the tag the pure reader gives it (``0123`` stays an int, ``yes``
    a string); a document with a ``%YAML`` directive, which only the pure
    parser passes to the resolver, is read by the pure one. Values are
    constructed by the pure reader's safe constructor.

    Reuse one for many files: building one costs more than reading a small file.

    Attributes:
        constructor: ruamel's safe constructor (YAML 1.2).
    """

    def __init__(self) -> None:
        self._pure = YAML(typ="safe", pure=True)
        self.constructor = self._pure.constructor

    def compose(self, stream: TextIO) -> Node | None:
        """The document's node tree (None for an empty document)."""
        text = stream.read()
        if _CParser is None or _YAML_DIRECTIVE.search(text):
            return cast(Node | None, self._pure.compose(text))
        return cast(Node | None, _Composer(text).get_single_node())


if _CParser is not None:

    class _Composer(_CParser, VersionedResolver):
        """libyaml's parser with ruamel's YAML 1.2 resolver (the pairing ruamel's C loaders make with 1.1's)."""

        def __init__(self, text: str) -> None:
            _CParser.__init__(self, text)
            VersionedResolver.__init__(self, None, loader=self)


_YAML_DIRECTIVE = re.compile(r"^%YAML", re.MULTILINE)


def new_yaml() -> YamlReader:
    """A :class:`YamlReader` (one per load: reuse it for many files)."""
    return YamlReader()


def compose_yaml(path: Path, yaml: YamlReader | None = None) -> Node | None:
    """Composes a YAML file to a node tree, mapping errors to :class:`ConfigSyntaxError`."""
    try:
        with open(path, encoding="utf-8") as stream:
            return (yaml or new_yaml()).compose(stream)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigSyntaxError(f"malformed YAML: {error.problem or error}", path, line) from error
    except YAMLError as error:
        raise ConfigSyntaxError(f"malformed YAML: {error}", path) from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigSyntaxError(f"cannot read file: {error}", path) from error


def read_yaml(path: Path, yaml: YamlReader | None = None) -> ObjectSpec:
    """Reads one YAML hardware-object file.

    Args:
        path: Absolute path of the file.
        yaml: A reader from :func:`new_yaml` to reuse, if any.

    Returns:
        The object's specification.

    Raises:
        ConfigSyntaxError: Malformed YAML, a duplicate key, or not a mapping.
        ConfigValueError: A section has the wrong shape.
    """
    yaml = yaml or new_yaml()
    try:
        return _read_spec(path, compose_yaml(path, yaml), yaml.constructor)
    finally:
        # Constructing node by node bypasses ruamel's per-document reset of
        # these caches; without it a reused reader keeps every file's values.
        yaml.constructor.constructed_objects.clear()
        yaml.constructor.recursive_objects.clear()


def _read_spec(path: Path, root: Node | None, constructor: Any) -> ObjectSpec:
    if not isinstance(root, MappingNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise ConfigSyntaxError("a hardware-object file must be a YAML mapping", path, line)
    converter = _Converter(path, constructor)
    top = {key: node for key, (_, node) in _mapping_items(root, path).items()}
    class_node = top.get("class")
    class_path = None
    if class_node is not None:
        if not isinstance(class_node, ScalarNode) or not class_node.value:
            raise ConfigValueError("'class' must be a dotted class path", path, _line(class_node), "class")
        class_path = class_node.value
    spec = ObjectSpec(
        path=path,
        format="yaml",
        class_path=class_path,
        class_line=_line(class_node) if class_node is not None else _line(root),
    )
    configuration = top.get("configuration")
    if configuration is not None and not _is_null(configuration):
        if not isinstance(configuration, MappingNode):
            raise ConfigValueError("'configuration' must be a mapping", path, _line(configuration), "configuration")
        for name, (key_line, node) in _mapping_items(configuration, path).items():
            spec.properties[name] = converter.raw(node, key_line)
    objects = top.get("objects")
    if objects is not None and not _is_null(objects):
        if not isinstance(objects, MappingNode):
            raise ConfigValueError("'objects' must be a mapping of role to file", path, _line(objects), "objects")
        for role, (key_line, node) in _mapping_items(objects, path).items():
            if not isinstance(node, ScalarNode) or not node.value:
                raise ConfigValueError(f"object '{role}' must name a configuration file", path, key_line, role)
            spec.references.append(Reference(role, node.value, key_line))
    for key, node in top.items():
        if key not in _TOP_LEVEL_KEYS:
            spec.yaml_extra[key] = converter.construct(node)
    return spec


def _line(node: Node) -> int:
    return cast(int, node.start_mark.line) + 1  # ruamel is untyped


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag.endswith(":null")


def _mapping_items(node: MappingNode, path: Path) -> dict[str, tuple[int, Node]]:
    """Mapping entries by key as ``(key line, value node)``, refusing duplicate and non-scalar keys.

    The key's line is the one reported: an empty or block value starts on
    another line than the entry it belongs to.
    """
    items: dict[str, tuple[int, Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            raise ConfigSyntaxError("mapping keys must be plain names", path, _line(key_node))
        key = str(key_node.value)
        if key in items:
            raise ConfigSyntaxError(f"duplicate key '{key}'", path, _line(key_node))
        items[key] = (_line(key_node), value_node)
    return items


class _Converter:
    """Turns nodes into raw values, keeping text, typed value and line.

    Aliases make a YAML document a graph, not a tree: each node is converted
    once (an alias shares the result, so a "billion laughs" document stays
    small) and a node that contains itself is refused.
    """

    def __init__(self, path: Path, constructor: Any) -> None:
        self.path = path
        self.constructor = constructor
        self._done: dict[tuple[int, int], RawValue] = {}
        self._open: set[int] = set()

    def construct(self, node: Node) -> Any:
        """YAML's own typing of a node, with construction errors mapped."""
        try:
            return self.constructor.construct_object(node, deep=True)
        except (YAMLError, ValueError, TypeError, RecursionError) as error:
            raise ConfigSyntaxError(
                f"invalid YAML value: {getattr(error, 'problem', None) or error}", self.path, _line(node)
            ) from error

    def raw(self, node: Node, line: int | None = None) -> RawValue:
        """Converts a node; ``line`` is the line to report (the key's, for mapping values)."""
        line = line if line is not None else _line(node)
        key = (id(node), line)
        if key in self._done:
            return self._done[key]
        if id(node) in self._open:
            raise ConfigSyntaxError("a YAML alias refers to a value that contains it", self.path, line)
        self._open.add(id(node))
        try:
            value: RawValue
            if isinstance(node, MappingNode):
                items = _mapping_items(node, self.path).items()
                value = RawMap({k: self.raw(v, key_line) for k, (key_line, v) in items}, line)
            elif isinstance(node, SequenceNode):
                value = RawList([self.raw(item) for item in node.value], line)
            else:
                # Plain style is None from the pure parser, '' from libyaml's.
                text = None if _is_null(node) and not node.style else str(node.value)
                value = RawScalar(text, self.construct(node), line)
        finally:
            self._open.discard(id(node))
        self._done[key] = value
        return value
