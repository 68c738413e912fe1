"""`mxcubecore-lims emulate ldap` runs a real slapd a beamline engineer can point MXCuBE at."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import ldap3
import pytest

from mxcubecore_lims.testing.pytest_plugin import require_slapd
from mxcubecore_lims.testing.slapd import free_port

pytestmark = pytest.mark.integration


def test_emulate_ldap_serves_the_seed_until_terminated(tmp_path: Path) -> None:
    require_slapd()
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "users:\n  - uid: beamline-tester\n    cn: Beamline Tester\n    sn: Tester\n    mail: tester@example.org\n    homeDirectory: /home/tester\n    password: tester-pw\n",
        encoding="utf-8",
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mxcubecore_lims.cli", "emulate", "ldap", "--port", str(port), "--seed", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        output = "".join(lines)
        assert f"ldap://127.0.0.1:{port}" in output, output
        assert "beamline-tester" in output
        connection = ldap3.Connection(
            f"ldap://127.0.0.1:{port}", "uid=beamline-tester,ou=people,dc=example,dc=org", "tester-pw"
        )
        assert connection.bind()
        connection.unbind()
        run_dir = Path(re.search(r"log:\s+(\S+)", output).group(1)).parent
        assert run_dir.is_dir()
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
    assert returncode == 0
    assert not run_dir.exists(), "the server's directory is removed on exit"
