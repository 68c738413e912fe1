"""Self-describing configuration: describe, the reference page, deprecation warnings."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mxcubecore import HardwareRepository as HWR

from mxcubecore_lims.config.check import check_directory, configuration_warnings
from mxcubecore_lims.config.describe import CLASSES, deprecation, describe, keys_of, reference_page
from mxcubecore_lims.config.loader import load_beamline
from mxcubecore_lims.errors import LimsConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_page_is_the_code() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == reference_page(), "regenerate: mxcubecore-lims describe --all > docs/configuration.md"


@pytest.mark.parametrize("name", CLASSES)
def test_every_key_has_a_type_and_a_meaning(name: str) -> None:
    keys = keys_of(name)
    assert keys and all(k.type and k.meaning for k in keys)
    text = describe(name)
    for key in keys:
        assert f"| `{key.name}` |" in text


def test_required_keys_defaults_and_roles_are_shown() -> None:
    text = describe("ICATLIMS")
    assert "| `icat_url` | `str` | **required** |" in text
    assert "| `before_offset_days` | `int` | `1` |" in text
    assert "- `session`:" in text and "<icat_url>https://icat.example.org</icat_url>" in text
    esrf = describe("ESRFLIMS")
    assert "- `drac`:" in esrf and "- `ispyb`:" in esrf and "  drac: drac" in esrf


def test_deprecated_keys_are_marked_with_what_to_use() -> None:
    assert "uris" in (deprecation("mxcubecore_lims.HardwareObjects.LdapAuthenticator", "ldaphost") or "")
    assert deprecation("mxcubecore_lims.HardwareObjects.LdapAuthenticator", "uris") is None
    assert "*Deprecated:*" in describe("LdapAuthenticator")
    assert "migrate" in (deprecation("x.UserTypeISPyBLims", "loginType") or "")


def test_unknown_class_is_a_typed_error() -> None:
    with pytest.raises(LimsConfigError, match="ISPyBClient"):
        describe("ISPyBClient")


@pytest.mark.parametrize("fmt", ["xml", "yaml"])
@pytest.mark.parametrize("name", ["ProposalTypeISPyBLims", "ICATLIMS"])
def test_the_examples_load(tmp_path: Path, name: str, fmt: str, clean_repository: None) -> None:
    text = describe(name)
    example = text.split(f"```{fmt}\n", 1)[1].split("```", 1)[0]
    shutil.copy(ROOT / "configuration" / "demo" / "session.xml", tmp_path / "session.xml")
    if "ldapServer" in example:  # the ISPyB objects name their LDAP role
        (tmp_path / "ldapserver.yaml").write_text(
            "class: mxcubecore_lims.HardwareObjects.LdapAuthenticator.LdapAuthenticator\n"
            "configuration:\n  uris: ldap://127.0.0.1:1\n  base_dn: dc=example,dc=org\n",
            encoding="utf-8",
        )
    (tmp_path / f"lims.{fmt}").write_text(example, encoding="utf-8")
    (tmp_path / "beamline.yaml").write_text(
        f"class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n  session: session.xml\n  lims: lims.{fmt}\n",
        encoding="utf-8",
    )
    assert check_directory(tmp_path) == []
    load_beamline(tmp_path, strict=True)
    assert type(HWR.beamline.lims).__name__ == name


def test_check_warns_about_legacy_classes_and_deprecated_keys(tmp_path: Path) -> None:
    (tmp_path / "lims.xml").write_text(
        '<object class="ISPyBClient">\n  <ws_root>http://x/</ws_root>\n</object>\n', encoding="utf-8"
    )
    (tmp_path / "ldap.xml").write_text(
        '<object class="mxcubecore_lims.HardwareObjects.LdapAuthenticator">\n'
        "  <ldaphost>ldap.example.org</ldaphost>\n</object>\n",
        encoding="utf-8",
    )
    warnings = configuration_warnings(tmp_path, stock_loader=False)
    assert any(w.startswith(f"{tmp_path / 'lims.xml'}:1:") and "mxcubecore-lims migrate" in w for w in warnings)
    assert any(w.startswith(f"{tmp_path / 'ldap.xml'}:2: ldaphost is deprecated") for w in warnings)


def test_describe_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mxcubecore_lims.cli", "describe", "UserTypeISPyBLims"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("## UserTypeISPyBLims") and "`ws_root`" in result.stdout
