"""Test-suite set-up: gevent monkey-patching first, as mxcubecore and mxcubeweb do."""

from gevent import monkey

monkey.patch_all(thread=False)

import sys
from pathlib import Path

import pytest

# Test-only hardware objects (tests/probes) are importable by bare module name,
# as a beamline's own hardware objects would be.
sys.path.insert(0, str(Path(__file__).parent / "probes"))


@pytest.fixture
def clean_repository():
    """Leaves mxcubecore's global hardware repository uninitialised after the test."""
    from mxcubecore import HardwareRepository as HWR

    HWR.uninit_hardware_repository()
    yield
    HWR.uninit_hardware_repository()


@pytest.fixture(autouse=True)
def private_state_directory(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Each test gets its own outbox journals; every journal is closed afterwards."""
    from mxcubecore_lims.outbox import Outbox

    monkeypatch.setenv("MXCUBECORE_LIMS_STATE_DIR", str(tmp_path_factory.mktemp("state")))
    yield
    for outbox in list(Outbox.instances):
        outbox.close()
