"""Layers point downwards: runtime code never imports the shipped test support."""

from __future__ import annotations

import subprocess
import sys

import pytest

RUNTIME_MODULES = [
    "mxcubecore_lims.errors",
    "mxcubecore_lims.model",
    "mxcubecore_lims.config",
    "mxcubecore_lims.cli",
    "mxcubecore_lims.demo",
    "mxcubecore_lims.HardwareObjects.AbstractLims",
]


@pytest.mark.parametrize("module", RUNTIME_MODULES)
def test_runtime_module_does_not_import_testing(module: str) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "sys.exit(any(m.startswith('mxcubecore_lims.testing') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("module", ["mxcubecore_lims.errors", "mxcubecore_lims.config.lookup"])
def test_bottom_layers_do_not_import_mxcubecore(module: str) -> None:
    code = f"import sys, importlib; importlib.import_module({module!r}); sys.exit('mxcubecore' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
