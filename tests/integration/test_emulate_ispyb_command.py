"""`mxcubecore-lims emulate ispyb` serves the emulated ISPyB until terminated, state in a file."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mxcubecore_lims.testing.slapd import free_port

pytestmark = pytest.mark.integration


def test_emulate_ispyb_serves_wsdls_and_keeps_its_database(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "ispyb.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-m", "mxcubecore_lims.cli", "emulate", "ispyb", "--db", str(database), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "ws_root:" not in line:
            line = process.stdout.readline()
            if not line:
                break
        assert f"http://127.0.0.1:{port}/" in line, line
        ws_root = line.split("ws_root:", 1)[1].strip()
        wsdl = requests.get(ws_root + "ToolsForCollectionWebService?wsdl", timeout=10)
        assert wsdl.status_code == 200 and b"findSessionsByProposalAndBeamLine" in wsdl.content
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
    assert returncode == 0
    assert database.is_file() and database.stat().st_size > 0
