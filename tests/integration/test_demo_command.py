"""The main job: `mxcubecore-lims demo` loads the emulated beamline and prints its graph."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mxcubecore_lims.model import Session

DEMO = Path(__file__).resolve().parents[2] / "configuration" / "demo"

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
    assert "LIMS /lims (ProposalTypeISPyBLims)" in out
    assert "login type: proposal" in out and "beamline: ID-DEMO" in out
    assert "connected: False" in out



def test_the_report_shows_each_lims_object_state(tmp_path: Path, clean_repository: None) -> None:
    from mxcubecore_lims.demo import describe_beamline, load_demo

    config = tmp_path / "demo"
    shutil.copytree(DEMO, config)
    (config / "lims.xml").write_text(
        '<object class="MemoryLims"><object href="/session" role="session"/></object>', encoding="utf-8"
    )
    graph = load_demo(config)
    try:
        lims = graph.beamline.get_object_by_role("lims")
        lims.add_user("alice", [Session(session_id="s1"), Session(session_id="s2")])
        lims.set_active_session_by_id("s2")
        report = describe_beamline(graph)
    finally:
        graph.close()
    assert "LIMS /lims (MemoryLims)" in report
    assert "LIMS names: memory" in report
    assert "login type: user" in report
    assert "beamline: ID-DEMO" in report
    assert "users logged in: alice" in report
    assert "selectable sessions: 2" in report
    assert "active session: s2" in report
    assert "connected: True" in report
