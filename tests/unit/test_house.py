"""The house keeps its order: lint, format, types, import contracts, module sizes, floor plan.

Each tool runs as a command, exactly as CONTRIBUTING.md tells a person to run
it, with the configuration in pyproject.toml. A missing tool fails the test
(the setup script's test job installs the ``lint`` extra); outside CI it skips
with the command that installs it.
"""

from __future__ import annotations

import ast
import re
import shutil
import statistics
import subprocess
import sys
import tomllib
from pathlib import Path

from mxcubecore_lims.testing.pytest_plugin import skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mxcubecore_lims"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
MAX_MODULE_LINES = 500
MAX_MEDIAN_LINES = 200


def run_tool(executable: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Runs one of the virtualenv's tools from the repository root."""
    tool = Path(sys.executable).with_name(executable)
    if not tool.exists():
        found = shutil.which(executable)
        if found is None:
            skip_or_fail(f"{executable} is not installed: pip install -e '.[lint]'")
        tool = Path(found)
    return subprocess.run([str(tool), *arguments], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    )


def test_ruff_finds_nothing_to_lint() -> None:
    assert_clean(run_tool("ruff", "check", "mxcubecore_lims", "tests", "tools"))


def test_ruff_format_changes_nothing() -> None:
    assert_clean(run_tool("ruff", "format", "--check", "mxcubecore_lims", "tests", "tools"))


def test_mypy_strict_over_the_package() -> None:
    assert_clean(run_tool("mypy"))


def test_import_contracts_hold() -> None:
    assert_clean(run_tool("lint-imports", "--no-cache"))


def module_lines() -> dict[str, int]:
    """Lines of every module in the package, by path relative to the repository."""
    return {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_no_module_over_the_size_limit_and_most_are_small() -> None:
    lines = module_lines()
    too_big = {path: count for path, count in lines.items() if count > MAX_MODULE_LINES}
    assert not too_big, f"modules over {MAX_MODULE_LINES} lines: {too_big}"
    # __init__ files that only re-export would flatter the median: count real modules.
    real = [count for path, count in lines.items() if not path.endswith("__init__.py")]
    assert statistics.median(real) < MAX_MEDIAN_LINES


# ------------------------------------------------------------ the floor plan


def contract_layers() -> list[list[str]]:
    """The layers contract of pyproject.toml, top first, each layer's packages."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (layers,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return [[name.strip().removeprefix("mxcubecore_lims.") for name in layer.split("|")] for layer in layers["layers"]]


def drawn_layers() -> list[list[str]]:
    """The floor plan drawn in docs/architecture.md (the block between its markers)."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    match = re.search(r"<!-- floor plan -->\n```text\n(.*?)```", text, re.DOTALL)
    assert match, f"{ARCHITECTURE} has no floor-plan block"
    layers = []
    for line in match.group(1).splitlines():
        names = re.findall(r"\[([A-Za-z_]+)/?\]", line)
        if names:
            layers.append(names)
    return layers


def test_the_drawn_floor_plan_is_the_checked_one() -> None:
    assert drawn_layers() == contract_layers()


def top_level_parts() -> set[str]:
    """Every package and module directly under mxcubecore_lims (the rooms of the plan)."""
    parts = {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    parts |= {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()}
    return parts


def test_every_room_of_the_package_is_on_the_plan() -> None:
    placed = {name for layer in contract_layers() for name in layer}
    assert top_level_parts() == placed, "place new packages in the layers contract and the drawing"


def test_runtime_code_names_no_emulator_even_lazily() -> None:
    # import-linter sees function-local imports too; this also catches an
    # importlib.import_module("mxcubecore_lims.testing...") string.
    runtime = [
        p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] not in {"testing", "demo", "web", "cli"}
    ]
    offenders = []
    for path in runtime:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
        for node in ast.walk(tree):
            if id(node) in docstrings:
                continue
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "mxcubecore_lims.testing" in node.value
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders
