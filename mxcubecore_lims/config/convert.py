"""Converts an XML hardware-object file to the equivalent YAML, keeping comments.

The YAML loads to the same object: the same class, the same typed
configuration and the same roles. Each value is written as the Python value
the loader would give it (text for declared ``str`` fields, mxcubecore's
coercion for the rest), and ruamel quotes whatever YAML would otherwise read
as another type (``'0123'``, ``'true'``, ``''``).

XML comments before the root element become the YAML header; comments inside
it are placed before the key of the element that follows them. Comments
nested inside complex properties are not carried over.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from lxml import etree
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from mxcubecore_lims.config.classes import config_model, resolve_class
from mxcubecore_lims.config.lookup import LookupPath
from mxcubecore_lims.config.values import UNDECLARED, declared_fields, shape_value
from mxcubecore_lims.config.xml_reader import parse_xml_tree, read_xml
from mxcubecore_lims.errors import ConfigValueError, LimsConfigError


def xml_to_yaml(xml_path: str | Path, lookup: LookupPath | None = None) -> str:
    """Returns the YAML equivalent of an XML hardware-object file.

    Args:
        xml_path: The XML file.
        lookup: Where references are resolved, to name their files with the
            right extension; defaults to the file's own directory.

    Returns:
        The YAML text.

    Raises:
        LimsConfigError: The file cannot be read, its class is unknown, or it
            holds ``<command>``/``<channel>`` elements, which have no YAML form
            in mxcubecore.
    """
    path = Path(xml_path).resolve()
    lookup = lookup or LookupPath([path.parent])
    spec = read_xml(path)
    if spec.xml_commands or spec.xml_channels:
        raise ConfigValueError(
            "<command>/<channel> elements have no YAML equivalent; describe them in a control-protocol section by hand",
            path,
            spec.class_line,
        )
    if not spec.class_path:
        raise ConfigValueError("no 'class' attribute on the root element", path, spec.class_line, "class")
    cls = resolve_class(spec.class_path, "xml", path, spec.class_line)
    model = config_model(cls)
    fields = declared_fields(model) if model.model_fields else {}

    document = CommentedMap()
    document["class"] = f"{cls.__module__}.{cls.__qualname__}"
    configuration = CommentedMap()
    for name, raw in spec.properties.items():
        value = shape_value(raw, fields.get(name, UNDECLARED), lambda text, line: text)
        configuration[name] = _commented(value)
    objects = CommentedMap()
    for reference in spec.references:
        role = reference.role.lower()
        if role in objects:
            # YAML's objects: is a mapping; a second entry would silently replace the first.
            raise ConfigValueError(
                f"role '{role}' is given twice; YAML needs one role per reference", path, reference.line, role
            )
        objects[role] = _reference_file(reference.target, path, reference.line, lookup)
    if configuration:
        document["configuration"] = configuration
    if objects:
        document["objects"] = objects
    trailing = _carry_comments(path, document, configuration, objects)

    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    out = io.StringIO()
    yaml.dump(document, out)
    # ruamel attaches comments after a nested block unreliably; write them plainly.
    out.writelines(f"# {line}\n" if line else "#\n" for text in trailing for line in text.splitlines())
    return out.getvalue()


def _commented(value: Any) -> Any:
    """Wraps nested values in ruamel containers so they dump in block style."""
    if isinstance(value, dict):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[key] = _commented(item)
        return mapping
    if isinstance(value, list):
        return CommentedSeq(_commented(item) for item in value)
    return value


def _reference_file(target: str, referrer: Path, line: int, lookup: LookupPath) -> str:
    """The referenced file's name as a YAML ``objects:`` entry (with extension)."""
    try:
        found = lookup.find(target, referrer, line)
    except LimsConfigError:
        return target.lstrip("/")
    name = lookup.name_of(found).lstrip("/")
    return name + found.suffix


def _carry_comments(
    path: Path, document: CommentedMap, configuration: CommentedMap, objects: CommentedMap
) -> list[str]:
    """Moves XML comments onto the YAML keys they precede; returns the trailing ones."""
    root = parse_xml_tree(path).getroot()
    header = [_comment_text(node) for node in root.itersiblings(preceding=True) if _is_comment(node)]
    if header:
        document.yaml_set_start_comment("\n".join(reversed(header)))
    pending: list[str] = []
    trailing: list[str] = []
    for node in root:
        if _is_comment(node):
            pending.append(_comment_text(node))
            continue
        if not pending:
            continue
        key = node.get("role", node.tag) if (node.get("href") or node.get("hwrid")) else node.tag
        target = objects if key.lower() in objects else configuration
        key = key.lower() if target is objects else key
        if key in target:
            target.yaml_set_comment_before_after_key(key, before="\n".join(pending), indent=2)
            pending = []
    trailing.extend(pending)
    trailing.extend(_comment_text(node) for node in root.itersiblings() if _is_comment(node))
    return trailing


def _is_comment(node: Any) -> bool:
    return isinstance(node, etree._Comment)


def _comment_text(node: Any) -> str:
    return "\n".join(line.strip() for line in (node.text or "").strip().splitlines())
