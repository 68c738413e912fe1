"""The YAML reader composes with libyaml's parser and must type every node as the pure YAML 1.2 reader does."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from mxcubecore_lims.config import yaml_reader
from mxcubecore_lims.config.yaml_reader import YamlReader, read_yaml
from mxcubecore_lims.errors import ConfigSyntaxError

EDGE_CASES = """\
class: mxcubecore.HardwareObjects.Beamline.Beamline
configuration:
  yes_word: yes
  on_word: on
  leading_zero: 0123
  underscores: 1_000
  octal: 0o17
  hex: 0x1F
  exponent: 12e03
  infinity: .inf
  tilde: ~
  null_word: Null
  date: 2001-12-14
  sexagesimal: 1:20
  forced: !!str 5
  single: 'q'
  double: "dq"
  literal: |
    two
    lines
  folded: >
    one
    line
  flow: {a: [1, 2.5, "x"], b: null}
  anchors: &shared [1, 2]
  alias: *shared
objects:
  session: session.xml
"""


def shape(node: Node | None) -> Any:
    """Tag, value, plain-or-not and line of every node (libyaml says '' where pure says None for plain)."""
    if node is None:
        return None
    if isinstance(node, MappingNode):
        return (node.tag, [(shape(k), shape(v)) for k, v in node.value], node.start_mark.line)
    if isinstance(node, SequenceNode):
        return (node.tag, [shape(v) for v in node.value], node.start_mark.line)
    return (node.tag, node.value, node.style or None, node.start_mark.line)


def test_libyaml_is_there_so_the_fast_parser_is_the_one_used() -> None:
    assert yaml_reader._CParser is not None


def test_every_node_is_typed_as_the_pure_yaml_1_2_reader_types_it() -> None:
    fast = YamlReader().compose(io.StringIO(EDGE_CASES))
    pure = YAML(typ="safe", pure=True).compose(EDGE_CASES)
    assert shape(fast) == shape(pure)
    values = {k.value: v for k, v in fast.value[1][1].value}  # type: ignore[union-attr]
    assert values["yes_word"].tag.endswith(":str") and values["leading_zero"].tag.endswith(":int")


def test_a_yaml_1_1_directive_is_honoured_as_the_pure_reader_honours_it() -> None:
    text = "%YAML 1.1\n---\nflag: yes\n"
    fast = YamlReader().compose(io.StringIO(text))
    assert shape(fast) == shape(YAML(typ="safe", pure=True).compose(text))
    assert fast.value[0][1].tag.endswith(":bool")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "line"),
    [("a: [1, 2\n", 2), ("a: b\n  c: d\n", 2), ("\tx: 1\n", 1)],
)
def test_malformed_yaml_names_the_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ConfigSyntaxError) as caught:
        read_yaml(path)
    assert caught.value.line == line and str(path) in str(caught.value)


def test_read_values_keep_their_text_and_their_yaml_type(tmp_path: Path) -> None:
    path = tmp_path / "object.yaml"
    path.write_text(EDGE_CASES)
    spec = read_yaml(path)
    assert spec.properties["leading_zero"].text == "0123"
    assert spec.properties["leading_zero"].guessed == 123
    assert spec.properties["tilde"].text is None and spec.properties["null_word"].text is None
    assert spec.properties["single"].text == "q"
