"""Loader edge cases found in review: XML shapes, strictness, secrets, hostile YAML, look-ups."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from mxcubecore import HardwareRepository as HWR

from mxcubecore_lims.config.check import check_directory
from mxcubecore_lims.config.loader import load_beamline
from mxcubecore_lims.errors import (
    ConfigSyntaxError,
    ConfigUndeclaredPropertyError,
    SecretReferenceError,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

BEAMLINE = "class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n"


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return directory


def probe(directory: Path, body: str, file_format: str = "xml", strict: bool = True) -> object:
    """Loads a beamline with one probe object configured by ``body``; returns it."""
    write(directory, {"beamline.yaml": BEAMLINE + f"  probe: probe.{file_format}\n", f"probe.{file_format}": body})
    load_beamline(directory, strict=strict)
    return HWR.beamline.get_object_by_role("probe")


def test_an_xml_list_is_written_as_repeated_elements_or_a_wrapper(tmp_path: Path) -> None:
    repeated = probe(tmp_path / "a", '<object class="ProbeObject"><tags>x</tags><tags>y</tags></object>')
    assert repeated.config.tags == ["x", "y"]
    HWR.uninit_hardware_repository()
    wrapped = probe(tmp_path / "b", '<object class="ProbeObject"><tags><tag>x</tag><tag>0123</tag></tags></object>')
    assert wrapped.config.tags == ["x", "0123"]


def test_a_repeated_single_value_keeps_the_last_as_mxcubecore_does(tmp_path: Path) -> None:
    obj = probe(tmp_path, '<object class="ProbeObject"><port>1</port><port>2</port></object>')
    assert obj.config.port == 2


def test_strict_mode_refuses_unknown_keys_inside_nested_models(tmp_path: Path) -> None:
    body = """
        <object class="ProbeObject">
          <endpoint>
            <host>h</host>
            <port>1</port>
            <hots>typo</hots>
          </endpoint>
        </object>"""
    with pytest.raises(ConfigUndeclaredPropertyError) as caught:
        probe(tmp_path, body)
    assert (caught.value.field, caught.value.line) == ("hots", 5)


def test_xml_text_around_comments_and_internal_entities_is_kept(tmp_path: Path) -> None:
    body = """
        <!DOCTYPE object [<!ENTITY site "ID-DEMO">]>
        <object class="ProbeObject">
          <label>abc<!-- note -->def &site;</label>
          <ratio><!-- in mm -->0.5</ratio>
        </object>"""
    obj = probe(tmp_path, body)
    assert obj.config.label == "abcdef ID-DEMO"
    assert obj.config.ratio == 0.5


def test_external_entities_are_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("TOP-SECRET", encoding="utf-8")
    body = f"""
        <!DOCTYPE object [<!ENTITY leak SYSTEM "file://{tmp_path}/secret.txt">]>
        <object class="ProbeObject"><label>&leak;</label></object>"""
    with pytest.raises(ConfigSyntaxError):
        probe(tmp_path, body)


def test_a_reference_inside_a_complex_property_is_a_role(tmp_path: Path) -> None:
    write(tmp_path, {"omega.xml": '<object class="mxcubecore.HardwareObjects.mockup.MotorMockup"/>'})
    obj = probe(tmp_path, '<object class="ProbeObject"><motors><object href="/omega" role="omega"/></motors></object>')
    assert type(obj.get_object_by_role("omega")).__name__ == "MotorMockup"


def test_legacy_xml_nodes_hold_resolved_typed_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_NODE_SECRET", "hunter2")
    obj = probe(
        tmp_path,
        '<object class="ProbeObject"><anything><x><pw>${env:PROBE_NODE_SECRET}</pw></x></anything></object>',
    )
    node = next(iter(obj._get_objects("anything")))
    assert next(iter(node._get_objects("x"))).get_property("pw") == "hunter2"


def test_a_referenced_secret_is_never_read_as_a_number(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_NUMERIC_PASSWORD", "00123")
    obj = probe(
        tmp_path,
        '<object class="ProbeObject"><ws_password>${env:PROBE_NUMERIC_PASSWORD}</ws_password>'
        "<api_token>0042</api_token></object>",
        strict=False,
    )
    # Undeclared, yet secret-named or referenced: text, as written.
    assert obj.get_property("ws_password") == "00123"
    assert obj.get_property("api_token") == "0042"


@pytest.mark.parametrize("written", ["${ENV:PROBE_X}", "${env:}", "${env:PROBE_X}tail", "${vault:x}"])
def test_a_malformed_reference_is_an_error_not_a_literal(tmp_path: Path, written: str) -> None:
    with pytest.raises(SecretReferenceError) as caught:
        probe(tmp_path, f'<object class="ProbeObject"><label>{written}</label></object>')
    assert caught.value.field == "label"


@pytest.mark.parametrize("target", ["directory", "fifo", "big"])
def test_file_references_read_only_small_regular_files(tmp_path: Path, target: str) -> None:
    path = tmp_path / "target"
    if target == "directory":
        path.mkdir()
    elif target == "fifo":
        os.mkfifo(path)
    else:
        path.write_bytes(b"x" * (64 * 1024 + 1))
    with pytest.raises(SecretReferenceError) as caught:
        probe(tmp_path, f'<object class="ProbeObject"><label>${{file:{path}}}</label></object>')
    assert str(path) in str(caught.value)


@pytest.mark.timeout(60)
def test_a_yaml_alias_bomb_stays_small(tmp_path: Path) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        below = ", ".join([f"*a{level - 1}"] * 9)
        levels.append(f"a{level}: &a{level} [{below}]")
    body = "class: ProbeObject.ProbeObject\nconfiguration:\n" + "".join(f"  {line}\n" for line in levels)
    write(tmp_path, {"beamline.yaml": BEAMLINE + "  probe: probe.yaml\n", "probe.yaml": body})
    graph = load_beamline(tmp_path)  # 9**9 leaves if expanded: must not be
    assert graph.beamline.get_object_by_role("probe").get_property("a8")[0][0][0][0][0][0][0][0][0] == "x"


def test_a_recursive_alias_is_a_syntax_error(tmp_path: Path) -> None:
    body = "class: ProbeObject.ProbeObject\nconfiguration:\n  loop: &a\n    - *a\n"
    with pytest.raises(ConfigSyntaxError) as caught:
        probe(tmp_path, body, "yaml")
    assert caught.value.line is not None


@pytest.mark.parametrize("value", ["!!int abc", "!custom foo"])
def test_bad_yaml_values_are_reported_with_their_line(tmp_path: Path, value: str) -> None:
    write(
        tmp_path,
        {
            "beamline.yaml": BEAMLINE + "  probe: probe.yaml\n",
            "probe.yaml": f"class: ProbeObject.ProbeObject\nconfiguration:\n  port: 1\n  anything: {value}\n",
        },
    )
    problems = check_directory(tmp_path)
    assert [(type(p).__name__, p.line) for p in problems] == [("ConfigSyntaxError", 4)]


def test_a_site_module_on_sys_path_wins_over_mxcubecore_for_a_bare_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site_objects"
    write(
        site,
        {
            "SiteOnlyMotor.py": (
                "from mxcubecore.HardwareObjects.mockup.MotorMockup import MotorMockup\n"
                "class SiteOnlyMotor(MotorMockup):\n    pass\n"
            )
        },
    )
    monkeypatch.syspath_prepend(str(site))
    write(
        tmp_path / "config",
        {
            "beamline.yaml": BEAMLINE + "  phi: phi.xml\n  omega: omega.xml\n",
            "phi.xml": '<object class="SiteOnlyMotor"/>',
            "omega.xml": '<object class="MotorMockup"/>',
        },
    )
    load_beamline(tmp_path / "config")
    assert type(HWR.beamline.get_object_by_role("phi")).__module__ == "SiteOnlyMotor"
    # mxcubecore's own modules keep their full name (one class, not two).
    assert type(HWR.beamline.get_object_by_role("omega")).__module__ == "mxcubecore.HardwareObjects.mockup.MotorMockup"


def test_an_object_fetched_through_the_repository_in_init_is_the_shared_instance(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "beamline.yaml": BEAMLINE + "  asker: asker.xml\n  shared: shared.yaml\n",
            "asker.xml": '<object class="ProbeObject"><lookup>/shared</lookup></object>',
            "shared.yaml": "class: ProbeObject.ProbeObject\n",
        },
    )
    load_beamline(tmp_path)
    asker = HWR.beamline.get_object_by_role("asker")
    assert asker.looked_up is HWR.beamline.get_object_by_role("shared")
