"""``check`` warns about exactly what mxcubecore's own loader drops or reads otherwise.

Each trap is loaded twice, by stock mxcubecore 2.149's
``HardwareRepository.init_hardware_repository`` (the loader mxcubeweb-server
uses) and by ours, so the warning is proven against the real behaviour: the
stock graph lacks what the warning names, ours has it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mxcubecore import HardwareRepository as HWR

from mxcubecore_lims.config.check import configuration_warnings
from mxcubecore_lims.config.loader import load_beamline

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

REPOSITORY = Path(__file__).resolve().parents[2]
BEAMLINE = "mxcubecore.HardwareObjects.Beamline.Beamline"
ENERGY = "mxcubecore.HardwareObjects.mockup.EnergyMockup.EnergyMockup"
MOTOR = "mxcubecore.HardwareObjects.mockup.MotorMockup.MotorMockup"

TRAPS = {
    # line 4: an extensionless objects: entry
    "beamline.yaml": f"""\
        class: {BEAMLINE}
        objects:
          session: session.xml
          energy: energy
        """,
    "energy.yaml": f"class: {ENERGY}\n",
    # line 2: a reference from XML to a YAML-only object; line 3: an ${{env:}} value
    "session.xml": """\
        <object class="Session">
          <object href="/phi" role="phi"/>
          <beamline_name>${env:STOCK_TRAP_BEAMLINE}</beamline_name>
          <synchrotron_name>TRAP</synchrotron_name>
          <endstation_name>ID99</endstation_name>
          <file_info>
            <base_directory>/data/visitor</base_directory>
            <processed_data_base_directory>/data/processed</processed_data_base_directory>
            <archive_base_directory>/data/archive</archive_base_directory>
          </file_info>
        </object>
        """,
    "phi.yaml": f"class: {MOTOR}\nconfiguration:\n  actuator_name: phi\n",
}


@pytest.fixture
def traps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A beamline with one of each stock-loader trap."""
    for name, text in TRAPS.items():
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    monkeypatch.setenv("STOCK_TRAP_BEAMLINE", "ID99")
    return tmp_path


def test_check_names_each_trap_with_file_and_line(traps: Path) -> None:
    warnings = configuration_warnings(traps)
    assert len(warnings) == 3, warnings
    extensionless, xml_to_yaml, expansion = warnings
    assert extensionless.startswith(f"{traps / 'beamline.yaml'}:4: objects entry 'energy: energy'")
    assert "skips it without a word; write 'energy.yaml'" in extensionless
    assert xml_to_yaml.startswith(f"{traps / 'session.xml'}:2: reference '/phi' (role phi) is the YAML file phi.yaml")
    assert expansion.startswith(
        f"{traps / 'session.xml'}:3: 'beamline_name' holds a reference (${{env:STOCK_TRAP_BEAMLINE}})"
    )
    assert "ID99" not in expansion, "a warning shows the reference, never its value"


def test_our_loader_only_silences_the_stock_warnings(traps: Path) -> None:
    assert configuration_warnings(traps, stock_loader=False) == []


def test_stock_loader_drops_or_misreads_what_is_warned_about(traps: Path) -> None:
    HWR.init_hardware_repository(str(traps))
    beamline = HWR.beamline
    assert beamline is not None and beamline.session is not None
    assert getattr(beamline, "energy", None) is None, "stock skips the extensionless entry"
    assert beamline.session.get_object_by_role("phi") is None, "stock finds XML files only"
    assert beamline.session.get_property("beamline_name") == "${env:STOCK_TRAP_BEAMLINE}"


def test_our_loader_reads_them_as_written(traps: Path) -> None:
    graph = load_beamline(traps)
    try:
        beamline = HWR.beamline
        assert type(beamline.energy).__name__ == "EnergyMockup"
        assert type(beamline.session.get_object_by_role("phi")).__name__ == "MotorMockup"
        assert beamline.session.get_property("beamline_name") == "ID99"
    finally:
        graph.close()


def test_written_as_stock_needs_them_there_is_no_warning(tmp_path: Path) -> None:
    (tmp_path / "beamline.yaml").write_text(
        f"class: {BEAMLINE}\nobjects:\n  session: session.xml\n  energy: energy.yaml\n  phi: phi.yaml\n",
        encoding="utf-8",
    )
    (tmp_path / "energy.yaml").write_text(f"class: {ENERGY}\n", encoding="utf-8")
    (tmp_path / "phi.yaml").write_text(TRAPS["phi.yaml"], encoding="utf-8")
    (tmp_path / "session.xml").write_text(
        '<object class="Session">\n  <beamline_name>ID99</beamline_name>\n</object>\n', encoding="utf-8"
    )
    assert configuration_warnings(tmp_path) == []


def test_check_command_prints_the_warnings_and_still_passes(traps: Path) -> None:
    def check(*options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mxcubecore_lims.cli", "check", str(traps), *options],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=REPOSITORY,
            env={**os.environ, "STOCK_TRAP_BEAMLINE": "ID99"},
        )

    loud = check()
    assert loud.returncode == 0, loud.stdout + loud.stderr
    warned = [line for line in loud.stdout.splitlines() if line.startswith("warning: ")]
    assert len(warned) == 3 and all("mxcubecore's own loader" in line for line in warned), loud.stdout
    quiet = check("--our-loader-only")
    assert quiet.returncode == 0 and "warning:" not in quiet.stdout, quiet.stdout
