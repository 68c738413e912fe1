"""A LIMS object built on our AbstractLims loads under stock mxcubecore and under our loader.

The beamline name comes from the LIMS object's ``session`` role when it has
one, else from ``HWR.beamline.session``, whichever loads first.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from mxcubecore import HardwareRepository as HWR

from mxcubecore_lims.config.loader import load_beamline

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

DEMO = Path(__file__).resolve().parents[2] / "configuration" / "demo"


def load_with_mxcubecore(directory: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        HWR.init_hardware_repository(str(directory))


def load_with_ours(directory: Path) -> None:
    load_beamline(directory)


LOADERS: dict[str, Callable[[Path], None]] = {"mxcubecore": load_with_mxcubecore, "ours": load_with_ours}


def make_beamline(tmp_path: Path, lims_xml: str, lims_first: bool) -> Path:
    shutil.copy(DEMO / "session.xml", tmp_path / "session.xml")
    (tmp_path / "lims.xml").write_text(lims_xml, encoding="utf-8")
    roles = ["lims: lims.xml", "session: session.xml"]
    if not lims_first:
        roles.reverse()
    (tmp_path / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n" + "".join(f"  {role}\n" for role in roles),
        encoding="utf-8",
    )
    return tmp_path


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("lims_first", [True, False], ids=["lims-first", "session-first"])
def test_beamline_name_from_the_session_role(tmp_path: Path, loader: str, lims_first: bool) -> None:
    make_beamline(
        tmp_path,
        '<object class="MemoryLims"><object href="/session" role="session"/></object>',
        lims_first,
    )
    LOADERS[loader](tmp_path)
    lims = HWR.beamline.get_object_by_role("lims")
    assert type(lims).__name__ == "MemoryLims", "the LIMS object must load"
    assert lims.beamline_name == "ID-DEMO"
    assert lims.get_object_by_role("session") is HWR.beamline.session


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("lims_first", [True, False], ids=["lims-first", "session-first"])
def test_beamline_name_falls_back_to_the_beamline_session(tmp_path: Path, loader: str, lims_first: bool) -> None:
    make_beamline(tmp_path, '<object class="MemoryLims"/>', lims_first)
    LOADERS[loader](tmp_path)
    lims = HWR.beamline.get_object_by_role("lims")
    assert type(lims).__name__ == "MemoryLims"
    assert lims.get_object_by_role("session") is None
    assert lims.beamline_name == "ID-DEMO"
    assert lims.session_manager.sessions == [] and not lims.is_connected()
