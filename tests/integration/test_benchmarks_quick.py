"""Each benchmark runs end to end in its ``--quick`` mode, so none can rot unnoticed.

Nothing is timed here: a run must verify its results against the emulators'
databases (its ``verified:`` lines) and exit 0. The figures are for people.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from mxcubecore_lims.testing.pytest_plugin import require_slapd

pytestmark = pytest.mark.integration

TOOLS = Path(__file__).resolve().parents[2] / "tools"


def run_tool(script: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Runs one script of tools/ from the checkout; it must exit 0."""
    run = subprocess.run(
        [sys.executable, str(TOOLS / script), *arguments],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=TOOLS.parent,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


@pytest.mark.parametrize(
    "benchmark",
    ["bench_loader", "bench_ldap", "bench_ispyb", "bench_icat", "bench_mxlims", "bench_broker", "bench_outbox"],
)
def test_benchmark_runs_quick_and_verifies_what_it_measured(benchmark: str) -> None:
    if benchmark == "bench_ldap":
        require_slapd()
    run = run_tool(f"{benchmark}.py", "--quick")
    verified = [line for line in run.stdout.splitlines() if line.strip().startswith("verified:")]
    assert verified, run.stdout[-3000:]
    assert "refusing to report" not in run.stdout


def test_the_ispyb_layer_profile_runs_and_nests_its_layers() -> None:
    """tools/profile_ispyb_layers.py on a small run: each layer inside the one above it."""
    run = run_tool("profile_ispyb_layers.py", "--samples", "20", "--collections", "3", "--images", "7")
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]] for line in run.stdout.splitlines()[1:]}
    assert set(rows) == {"store", "update", "images"}, run.stdout
    for operation, times in rows.items():
        assert all(outer >= inner > 0 for outer, inner in itertools.pairwise(times)), (operation, times)
