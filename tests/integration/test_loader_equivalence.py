"""Our loader and mxcubecore's give the same graph; converted XML loads to the same object."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from mxcubecore import HardwareRepository as HWR

from mxcubecore_lims.cli import main as cli_main
from mxcubecore_lims.config.convert import xml_to_yaml
from mxcubecore_lims.config.loader import load_beamline
from mxcubecore_lims.config.lookup import LookupPath
from mxcubecore_lims.errors import ConfigValueError

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

DEMO = Path(__file__).resolve().parents[2] / "configuration" / "demo"


def graph_signature(beamline: Any) -> dict[str, tuple[str, dict[str, Any], list[str]]]:
    """Role path -> (class, configuration, roles) for every object below the beamline."""
    signature: dict[str, tuple[str, dict[str, Any], list[str]]] = {}

    def visit(obj: Any, path: str) -> None:
        cls = type(obj)
        roles = sorted(obj._hwobj_by_role)
        config = obj.config.model_dump() if obj.config is not None else {}
        signature[path] = (f"{cls.__module__}.{cls.__qualname__}", config, roles)
        for role in roles:
            visit(obj._hwobj_by_role[role], f"{path}.{role}")

    visit(beamline, "beamline")
    return signature


def load_with_mxcubecore(directory: Path) -> dict[str, Any]:
    with contextlib.redirect_stdout(io.StringIO()):
        HWR.init_hardware_repository(str(directory))
    try:
        return graph_signature(HWR.beamline)
    finally:
        HWR.uninit_hardware_repository()


def load_with_ours(directory: Path) -> dict[str, Any]:
    graph = load_beamline(directory)
    try:
        return graph_signature(graph.beamline)
    finally:
        graph.close()


def test_demo_gives_the_same_graph_with_both_loaders() -> None:
    theirs = load_with_mxcubecore(DEMO)
    ours = load_with_ours(DEMO)
    assert len(ours) >= 25
    assert ours.keys() == theirs.keys()
    for path in ours:
        assert ours[path] == theirs[path], path


def test_demo_session_is_named_after_the_beamline() -> None:
    graph = load_beamline(DEMO)
    assert HWR.beamline.session.beamline_name == "ID-DEMO"
    assert HWR.get_hardware_repository().get_hardware_object("/session") is HWR.beamline.session
    graph.close()


def test_every_demo_xml_file_converts_to_yaml_that_loads_to_the_same_graph(tmp_path: Path) -> None:
    converted = tmp_path / "demo"
    shutil.copytree(DEMO, converted)
    xml_files = sorted(converted.rglob("*.xml"))
    assert len(xml_files) >= 5
    lookup = LookupPath([converted])
    for xml_file in xml_files:
        yaml_text = xml_to_yaml(xml_file, lookup)
        xml_file.with_suffix(".yaml").write_text(yaml_text, encoding="utf-8")
    for xml_file in xml_files:
        xml_file.unlink()
    # References in YAML files name their targets with extension: point them at the new files.
    for yaml_file in converted.rglob("*.yaml"):
        text = yaml_file.read_text(encoding="utf-8")
        yaml_file.write_text(text.replace(".xml", ".yaml"), encoding="utf-8")
    assert not list(converted.rglob("*.xml"))
    assert load_with_ours(converted) == load_with_ours(DEMO)


def test_conversion_keeps_comments_and_quotes_what_yaml_would_retype(tmp_path: Path) -> None:
    (tmp_path / "probe.xml").write_text(
        "<!-- Probe for the converter -->\n"
        '<object class="ProbeObject">\n'
        "  <!-- the proposal number keeps its zero -->\n"
        "  <proposal_number>0123</proposal_number>\n"
        "  <label>true</label>\n"
        "  <anything>None</anything>\n"
        '  <object href="/phi" role="Phi"/>\n'
        "</object>\n",
        encoding="utf-8",
    )
    (tmp_path / "phi.xml").write_text(
        '<object class="mxcubecore.HardwareObjects.mockup.MotorMockup"/>', encoding="utf-8"
    )
    text = xml_to_yaml(tmp_path / "probe.xml")
    assert text.startswith("# Probe for the converter\n")
    assert "# the proposal number keeps its zero\n  proposal_number: '0123'" in text
    assert "label: 'true'" in text
    assert "class: ProbeObject.ProbeObject" in text
    assert "phi: phi.xml" in text


def test_convert_command_replaces_the_xml_file_only_when_asked(tmp_path: Path) -> None:
    source = tmp_path / "session.xml"
    shutil.copy(DEMO / "session.xml", source)
    expected = xml_to_yaml(source)
    # Beside the XML file, the YAML file would make "session" ambiguous.
    assert cli_main(["convert", str(source)]) == 1
    assert not (tmp_path / "session.yaml").exists()
    assert cli_main(["convert", str(source), "--replace"]) == 0
    assert (tmp_path / "session.yaml").read_text(encoding="utf-8") == expected
    assert not source.exists() and (tmp_path / "session.xml.bak").is_file()


def test_convert_command_writes_elsewhere_and_refuses_to_overwrite(tmp_path: Path) -> None:
    source = DEMO / "session.xml"
    output = tmp_path / "session.yaml"
    assert cli_main(["convert", str(source), "-o", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == xml_to_yaml(source)
    assert cli_main(["convert", str(source), "-o", str(output)]) == 1
    assert cli_main(["convert", str(source), "-o", str(output), "--force"]) == 0


def test_conversion_refuses_two_references_with_one_role(tmp_path: Path) -> None:
    (tmp_path / "group.xml").write_text(
        '<object class="ProbeObject">\n  <object href="/a"/>\n  <object href="/b"/>\n</object>\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigValueError) as caught:
        xml_to_yaml(tmp_path / "group.xml")
    assert caught.value.line == 3 and caught.value.field == "object"
