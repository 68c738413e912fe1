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
