"""The mixed XML/YAML loader against stock mxcubecore classes (DESIGN §4)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import ProbeObject as probe_module
import pytest
from mxcubecore import HardwareRepository as HWR
from pydantic import SecretStr

from mxcubecore_lims.config.loader import ConfigLoader, load_beamline
from mxcubecore_lims.config.lookup import LookupPath
from mxcubecore_lims.errors import (
    ConfigAmbiguousFileError,
    ConfigUndeclaredPropertyError,
    ConfigValueError,
    SecretReferenceError,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

BEAMLINE = "mxcubecore.HardwareObjects.Beamline.Beamline"
MOTOR_XML = "mxcubecore.HardwareObjects.mockup.MotorMockup"
MOTOR_YAML = "mxcubecore.HardwareObjects.mockup.MotorMockup.MotorMockup"


def write(directory: Path, files: dict[str, str]) -> Path:
    """Writes dedented files into a directory and returns it."""
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return directory


def beamline_yaml(objects: dict[str, str], configuration: str = "") -> str:
    lines = [f"class: {BEAMLINE}"]
    if configuration:
        lines.append("configuration:")
        lines.extend("  " + line for line in textwrap.dedent(configuration).strip().splitlines())
    lines.append("objects:")
    lines.extend(f"  {role}: {name}" for role, name in objects.items())
    return "\n".join(lines) + "\n"


def test_xml_href_may_point_at_yaml_and_yaml_entry_at_xml(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "beamline.yaml": beamline_yaml({"stage": "stage.xml"}),
            "stage.xml": """
                <object class="ProbeObject">
                  <object href="/phi" role="phi"/>
                  <object href="/kappa" role="kappa"/>
                </object>""",
            "phi.yaml": f"class: {MOTOR_YAML}\nconfiguration:\n  actuator_name: phi\n",
            "kappa.xml": f'<object class="{MOTOR_XML}"><actuator_name>kappa</actuator_name></object>',
        },
    )
    graph = load_beamline(tmp_path)
    stage = HWR.beamline.get_object_by_role("stage")
    assert type(stage).__name__ == "ProbeObject"
    assert stage.get_object_by_role("phi").actuator_name == "phi"
    assert stage.get_object_by_role("kappa").actuator_name == "kappa"
    # XML parents also expose references the legacy way.
    assert list(stage._get_objects("object")) == [
        stage.get_object_by_role("phi"),
        stage.get_object_by_role("kappa"),
    ]
    assert {entry.path.name for entry in graph.objects.values()} == {
        "beamline.yaml",
        "stage.xml",
        "phi.yaml",
        "kappa.xml",
    }


def test_first_lookup_directory_wins(tmp_path: Path) -> None:
    site = write(tmp_path / "site", {"phi.yaml": f"class: {MOTOR_YAML}\nconfiguration:\n  actuator_name: site\n"})
    common = write(
        tmp_path / "common",
        {
            "beamline.yaml": beamline_yaml({"phi": "phi"}),
            "phi.xml": f'<object class="{MOTOR_XML}"><actuator_name>common</actuator_name></object>',
        },
    )
    load_beamline([site, common])
    assert HWR.beamline.get_object_by_role("phi").actuator_name == "site"


def test_same_name_in_both_formats_in_one_directory_is_an_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "beamline.yaml": beamline_yaml({"phi": "phi"}),
            "phi.yaml": f"class: {MOTOR_YAML}\n",
            "phi.xml": f'<object class="{MOTOR_XML}"/>',
        },
    )
    with pytest.raises(ConfigAmbiguousFileError) as caught:
        load_beamline(tmp_path)
    assert caught.value.file == str(tmp_path / "beamline.yaml")
    assert caught.value.line == 3
    assert "phi.xml" in str(caught.value) and "phi.yaml" in str(caught.value)
    assert HWR.beamline is None, "a failed load must not stay registered"


def test_one_instance_per_file_shared_by_every_referrer(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "beamline.yaml": beamline_yaml({"a": "a.xml", "b": "b.yaml", "phi": "phi"}),
            "a.xml": '<object class="ProbeObject"><object href="/phi" role="motor"/></object>',
            "b.yaml": "class: ProbeObject.ProbeObject\nobjects:\n  motor: phi.xml\n",
            "phi.xml": f'<object class="{MOTOR_XML}"/>',
        },
    )
    graph = load_beamline(tmp_path)
    motor = HWR.beamline.get_object_by_role("phi")
    assert HWR.beamline.get_object_by_role("a").get_object_by_role("motor") is motor
    assert HWR.beamline.get_object_by_role("b").get_object_by_role("motor") is motor
    entry = graph.objects[(tmp_path / "phi.xml").resolve()]
    assert sorted(entry.roles) == [("/a", "motor"), ("/b", "motor"), ("/beamline", "phi")]


def test_role_objects_are_initialised_before_their_users(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "beamline.yaml": beamline_yaml({"top_xml": "top_xml", "top_yaml": "top_yaml"}),
            "top_xml.xml": '<object class="ProbeObject"><object href="/leaf_xml" role="leaf"/></object>',
            "top_yaml.yaml": "class: ProbeObject.ProbeObject\nobjects:\n  leaf: leaf_yaml.yaml\n",
            "leaf_xml.xml": '<object class="ProbeObject"/>',
            "leaf_yaml.yaml": "class: ProbeObject.ProbeObject\n",
        },
    )
    probe_module.EVENTS.clear()
    load_beamline(tmp_path)
    events = probe_module.EVENTS
    inits = [name for event, name in events if event == "init"]
    assert inits.index("leaf") < inits.index("top_yaml")
    assert inits.index("/leaf_xml") < inits.index("/top_xml")
    # mxcubecore's order per format: YAML _init() before its contents, XML after.
    assert events.index(("_init", "top_yaml")) < events.index(("_init", "leaf"))
    assert events.index(("_init", "/leaf_xml")) < events.index(("_init", "/top_xml"))
    assert HWR.beamline.get_object_by_role("top_yaml").roles_at_init == ["leaf"]
    assert HWR.beamline.get_object_by_role("top_xml").roles_at_init == ["leaf"]


@pytest.mark.parametrize("file_format", ["xml", "yaml"])
def test_values_are_typed_by_the_declared_model(tmp_path: Path, file_format: str) -> None:
    if file_format == "xml":
        probe = """
            <object class="ProbeObject">
              <proposal_number>0123</proposal_number>
              <port>08080</port>
              <enabled>true</enabled>
              <ratio>2</ratio>
              <label>None</label>
              <endpoint><host>10.0.0.1</host><port>636</port><code>007</code></endpoint>
              <anything>0123</anything>
            </object>"""
    else:
        probe = """
            class: ProbeObject.ProbeObject
            configuration:
              proposal_number: 0123
              port: 08080
              enabled: true
              ratio: 2
              label: null
              endpoint: {host: 10.0.0.1, port: 636, code: 007}
              anything: 0123
            """
    write(tmp_path, {"beamline.yaml": beamline_yaml({"probe": f"probe.{file_format}"}), f"probe.{file_format}": probe})
    load_beamline(tmp_path)
    config = HWR.beamline.get_object_by_role("probe").config
    assert config.proposal_number == "0123"
    assert config.port == 8080
    assert config.enabled is True
    assert config.ratio == 2.0 and isinstance(config.ratio, float)
    assert config.label is None
    assert config.endpoint.host == "10.0.0.1" and config.endpoint.port == 636
    assert config.endpoint.code == "007"
    # Undeclared types keep mxcubecore's reading (XML coercion, YAML typing).
    assert config.anything == 123


def test_wrong_value_names_file_line_and_field(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "beamline.yaml": beamline_yaml({"probe": "probe.xml"}),
            "probe.xml": """
                <object class="ProbeObject">
                  <proposal_number>1</proposal_number>
                  <port>eighty</port>
                </object>""",
        },
    )
    with pytest.raises(ConfigValueError) as caught:
        load_beamline(tmp_path)
    assert caught.value.file == str((tmp_path / "probe.xml").resolve())
    assert caught.value.line == 3
    assert caught.value.field == "port"
    assert "eighty" in str(caught.value)


def test_secret_references_resolve_and_never_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_TEST_PASSWORD", "s3cr3t-0123")
    write(
        tmp_path,
        {
            "beamline.yaml": beamline_yaml({"a": "a.xml", "b": "b.yaml"}),
            "a.xml": '<object class="ProbeObject"><password>${env:PROBE_TEST_PASSWORD}</password>'
            "<proposal_number>${file:secrets/number.txt}</proposal_number>"
            "<label>$${env:literal}</label></object>",
            "b.yaml": "class: ProbeObject.ProbeObject\nconfiguration:\n  password: ${file:secrets/pw}\n",
            "secrets/number.txt": "0042\n",
            "secrets/pw": "from-file\n",
        },
    )
    load_beamline(tmp_path)
    a = HWR.beamline.get_object_by_role("a").config
    b = HWR.beamline.get_object_by_role("b").config
    assert isinstance(a.password, SecretStr)
    assert a.password.get_secret_value() == "s3cr3t-0123"
    assert "s3cr3t" not in repr(a)
    assert a.proposal_number == "0042"
    assert a.label == "${env:literal}"
    assert b.password.get_secret_value() == "from-file"


def test_unset_secret_reference_names_the_variable_not_a_value(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "beamline.yaml": beamline_yaml({"a": "a.yaml"}),
            "a.yaml": "class: ProbeObject.ProbeObject\nconfiguration:\n  password: ${env:PROBE_UNSET_VARIABLE_X}\n",
        },
    )
    with pytest.raises(SecretReferenceError) as caught:
        load_beamline(tmp_path)
    assert "PROBE_UNSET_VARIABLE_X" in str(caught.value)
    assert caught.value.line == 3 and caught.value.field == "password"


def test_strict_mode_refuses_undeclared_properties_lax_mode_keeps_them(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "beamline.yaml": beamline_yaml({"probe": "probe.yaml"}),
            "probe.yaml": "class: ProbeObject.ProbeObject\nconfiguration:\n  port: 1\n  colour: blue\n",
        },
    )
    with pytest.raises(ConfigUndeclaredPropertyError) as caught:
        load_beamline(tmp_path, strict=True)
    assert (caught.value.field, caught.value.line) == ("colour", 4)
    assert HWR.beamline is None
    load_beamline(tmp_path, strict=False)
    assert HWR.beamline.get_object_by_role("probe").get_property("colour") == "blue"


def test_collecting_mode_reports_every_problem_and_keeps_the_rest(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "beamline.yaml": beamline_yaml({"good": "good.xml", "bad1": "bad1.xml", "bad2": "missing"}),
            "good.xml": f'<object class="{MOTOR_XML}"/>',
            "bad1.xml": '<object class="ProbeObject"><port>x</port></object>',
        },
    )
    loader = ConfigLoader(LookupPath(tmp_path), collect_problems=True)
    graph = loader.load_beamline(register=False)
    assert graph.beamline.get_object_by_role("good") is not None
    assert graph.beamline.get_object_by_role("bad1") is None
    assert [type(p).__name__ for p in graph.problems] == ["ConfigValueError", "ConfigFileNotFoundError"]
    assert HWR.beamline is None, "register=False must leave mxcubecore's repository alone"


def test_registration_matches_mxcubecore_lookups(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "beamline.yaml": beamline_yaml({"phi": "motors/phi.xml"}),
            "motors/phi.xml": f'<object class="{MOTOR_XML}"><actuator_name>phi</actuator_name></object>',
        },
    )
    graph = load_beamline(tmp_path)
    phi = HWR.beamline.get_object_by_role("phi")
    assert HWR.get_hardware_repository().get_hardware_object("/motors/phi") is phi
    assert phi.name == "phi" and phi.id == "phi"
    assert phi.hwobj_container is HWR.beamline
    graph.close()
    assert HWR.beamline is None
    with pytest.raises(RuntimeError):
        HWR.get_hardware_repository()


def test_refuses_to_replace_an_initialised_repository(tmp_path: Path) -> None:
    write(tmp_path, {"beamline.yaml": beamline_yaml({})})
    graph = load_beamline(tmp_path)
    with pytest.raises(RuntimeError, match="already initialised"):
        load_beamline(tmp_path)
    assert HWR.beamline is graph.beamline
