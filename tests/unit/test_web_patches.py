"""What mxcubeweb 4.791 uses of a LIMS object, read from its installed source, and our patches.

The access list is made from mxcubeweb's code, not written by hand: every
``HWR.beamline.lims.<name>`` (and ``hasattr``/``getattr`` of it), and every
attribute read on the session objects its ``Lims`` component handles. A new
access in a new mxcubeweb that one of our LIMS objects lacks fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mxcubecore_lims.testing.pytest_plugin import skip_or_fail

try:
    import mxcubeweb
except ImportError:  # pragma: no cover - depends on the installation
    mxcubeweb = None

DEMO = Path(__file__).resolve().parents[2] / "configuration" / "demo"


@pytest.fixture(scope="module")
def source() -> Path:
    if mxcubeweb is None:
        skip_or_fail("mxcubeweb is not installed (pip install 'mxcubecore-lims[web]')")
    return Path(mxcubeweb.__file__).parent


def _is_lims(node: ast.AST) -> bool:
    """``HWR.beamline.lims``."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "lims"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "beamline"
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "HWR"
    )


def lims_accesses(root: Path) -> dict[str, list[str]]:
    """Attribute name -> where mxcubeweb reads it on ``HWR.beamline.lims``."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Attribute) and _is_lims(node.value):
                name = node.attr
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("hasattr", "getattr")
                and len(node.args) >= 2
                and _is_lims(node.args[0])
                and isinstance(node.args[1], ast.Constant)
            ):
                name = str(node.args[1].value)
            if name:
                found.setdefault(name, []).append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def session_accesses(root: Path) -> dict[str, list[str]]:
    """Attributes read on sessions in mxcubeweb's Lims component and login info."""
    found: dict[str, list[str]] = {}
    for path in (root / "core/components/lims.py", root / "core/components/user/usermanager.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "session":
                found.setdefault(node.attr, []).append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_the_scan_finds_what_mxcubeweb_is_known_to_call(source: Path) -> None:
    accesses = lims_accesses(source)
    # Calls documented in shared/reference/mxcube_clients.md: the scan must see them.
    for name in (
        "login",
        "set_active_session_by_id",
        "get_samples",
        "get_lims_name",
        "is_user_login_type",
        "session_manager",
        "remove_user",
        "set_active_user",
        "allow_session",
        "get_session_id",
    ):
        assert name in accesses, name


@pytest.mark.usefixtures("clean_repository")
def test_every_lims_object_of_ours_has_what_mxcubeweb_uses(source: Path) -> None:
    from mxcubecore import HardwareRepository as HWR

    from mxcubecore_lims.config.loader import load_beamline

    graph = load_beamline([DEMO])
    try:
        objects = {
            "ESRFLIMS": HWR.beamline.lims,
            "ICATLIMS": HWR.get_hardware_repository().get_hardware_object("/lims_icat"),
            "ProposalTypeISPyBLims": HWR.get_hardware_repository().get_hardware_object("/lims_ispyb"),
            "UserTypeISPyBLims": HWR.get_hardware_repository().get_hardware_object("/lims_user"),
        }
        missing = {
            f"{cls}.{name} (used at {', '.join(where)})"
            for name, where in lims_accesses(source).items()
            for cls, lims in objects.items()
            if not hasattr(lims, name)
        }
        assert not missing, sorted(missing)
        assert {type(o).__name__ for o in objects.values()} == set(objects)
    finally:
        graph.close()


def test_our_session_model_has_what_mxcubeweb_reads(source: Path) -> None:
    from mxcubecore_lims.model import Session

    reads = session_accesses(source)
    # A bare name "session" in these modules is always a LIMS session (mxcubecore's
    # Session object is reached as HWR.beamline.session, an attribute chain).
    assert {"title", "session_id", "start_date", "proposal_id"} <= set(reads)
    fields = set(Session.model_fields) | set(dir(Session))
    missing = sorted(f"{n} ({', '.join(w)})" for n, w in reads.items() if n not in fields)
    assert not missing, missing


def test_the_patches_apply_for_the_block_and_are_undone(source: Path) -> None:
    from mxcubecore import HardwareRepository
    from mxcubeweb.core.components.lims import Lims
    from mxcubeweb.core.components.user.usermanager import BaseUserManager

    from mxcubecore_lims.web import patches

    # Upstream's defect still stands: when this fails, drop our get_proposal_info.
    assert not hasattr(Lims, "get_proposal_info")
    stock_init = HardwareRepository.init_hardware_repository
    stock_signout = BaseUserManager.signout
    with patches.applied():
        assert HardwareRepository.init_hardware_repository is patches.init_with_our_loader
        assert hasattr(Lims, "get_proposal_info")
        assert BaseUserManager.signout is not stock_signout
    assert HardwareRepository.init_hardware_repository is stock_init
    assert not hasattr(Lims, "get_proposal_info")
    assert BaseUserManager.signout is stock_signout


def test_the_overlay_puts_the_chosen_lims_in_the_role(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    from mxcubecore_lims.web.overlay import LIMS_CHOICES, write_overlay

    for choice, file_name in LIMS_CHOICES.items():
        overlay = write_overlay(tmp_path / choice, [DEMO], choice, 18999)
        beamline = YAML(typ="safe").load(overlay.directory / "beamline.yaml")
        assert beamline["objects"]["lims"] == file_name
        server = YAML(typ="safe").load(overlay.directory / "mxcube-web" / "server.yaml")
        assert server["server"]["PORT"] == 18999 and server["server"]["HOST"] == "127.0.0.1"
        assert server["server"]["USER_DB_PATH"] == str(overlay.user_db)
        assert overlay.lookup == (overlay.directory, DEMO.resolve())
        assert (overlay.directory / "mxcube-web" / "ui.yaml").is_file()
