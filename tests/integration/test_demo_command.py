"""The main job: `mxcubecore-lims demo` loads the emulated beamline and prints its graph."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_demo_prints_the_object_graph_and_lims_state() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mxcubecore_lims.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "beamline               mxcubecore.HardwareObjects.Beamline.Beamline" in out
    assert "  session" in out and "session.xml:" in out
    assert "    omega" in out and "motors/omega.xml:" in out
    assert "session: beamline ID-DEMO" in out
    assert "LIMS objects:" in out
