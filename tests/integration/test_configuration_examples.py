"""The example LIMS configurations load (strictly) and work against the emulated servers."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from mxcubecore import HardwareRepository as HWR

from mxcubecore_lims.config.check import check_directory
from mxcubecore_lims.config.loader import load_beamline

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

ROOT = Path(__file__).resolve().parents[2] / "configuration"
EXAMPLES = ROOT / "examples"


def beamline_with(tmp_path: Path, fmt: str, lims: str, ispyb: Any = None, ldap: Any = None, icat: Any = None) -> Path:
    """The demo session plus one example LIMS (and the LDAP example), ports pointed at test servers."""
    shutil.copy(ROOT / "demo" / "session.xml", tmp_path / "session.xml")
    for example in EXAMPLES.joinpath(fmt).iterdir():
        text = example.read_text(encoding="utf-8")
        if ispyb is not None:
            text = text.replace("http://127.0.0.1:18080/ispyb/ispyb-ws/ispybWS/", ispyb.root)
        if ldap is not None:
            text = text.replace("13389", str(ldap.port))
        if icat is not None:
            text = text.replace("http://127.0.0.1:18181", icat.url)
        (tmp_path / example.name).write_text(text, encoding="utf-8")
    (tmp_path / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\n"
        f"objects:\n  session: session.xml\n  lims: {lims}.{fmt}\n",
        encoding="utf-8",
    )
    return tmp_path


@pytest.mark.parametrize("fmt", ["xml", "yaml"])
def test_every_example_directory_checks_clean(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISPYB_PASSWORD", "ispyb-password")
    assert check_directory(EXAMPLES / fmt, [ROOT / "demo"]) == []


@pytest.mark.parametrize("fmt", ["xml", "yaml"])
def test_proposal_example_logs_in(tmp_path: Path, fmt: str, ispyb_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISPYB_PASSWORD", "ispyb-password")
    load_beamline(beamline_with(tmp_path, fmt, "lims-proposal", ispyb=ispyb_server), strict=True)
    lims = HWR.beamline.lims
    lims.login("mx415", "mx415-password", False)
    assert lims.set_active_session_by_id("mx415").beamline_name == "ID-DEMO"


@pytest.mark.parametrize("fmt", ["xml", "yaml"])
def test_user_example_logs_in(
    tmp_path: Path, fmt: str, ispyb_server: Any, slapd_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ISPYB_PASSWORD", "ispyb-password")
    load_beamline(beamline_with(tmp_path, fmt, "lims-user", ispyb=ispyb_server, ldap=slapd_server), strict=True)
    lims = HWR.beamline.lims
    lims.login("alice", "alice-secret", False)
    assert lims.get_full_user_name() == slapd_server.seed.user("alice").cn


def test_xml_examples_load_with_stock_mxcubecore(
    tmp_path: Path, ispyb_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # mxcubecore's loader does not resolve ${env:...}: give the password literally.
    directory = beamline_with(tmp_path, "xml", "lims-proposal", ispyb=ispyb_server)
    lims_xml = directory / "lims-proposal.xml"
    lims_xml.write_text(lims_xml.read_text().replace("${env:ISPYB_PASSWORD}", "ispyb-password"), encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()):
        HWR.init_hardware_repository(str(directory))
    assert type(HWR.beamline.lims).__name__ == "ProposalTypeISPyBLims"
    HWR.beamline.lims.login("mx415", "mx415-password", False)


@pytest.mark.parametrize("fmt", ["xml", "yaml"])
def test_icat_example_logs_in_and_offers_the_breakdown_session(tmp_path: Path, fmt: str, icat_server: Any) -> None:
    load_beamline(beamline_with(tmp_path, fmt, "lims-icat", icat=icat_server), strict=True)
    lims = HWR.beamline.lims
    assert lims.compatible_beamlines() == ["ID-DEMO", "ID-OTHER"]
    manager = lims.login("alice", "alice-pw", False)
    offered = {s.proposal_name: s for s in manager.sessions}
    assert set(offered) == {"MX-415", "MX-2345"}
    assert offered["MX-415"].is_scheduled_beamline and not offered["MX-2345"].is_scheduled_beamline
    assert offered["MX-415"].data_portal_URL == (
        f"https://data.example.org/investigation/{offered['MX-415'].session_id}/datasets"
    )


@pytest.mark.parametrize("fmt", ["xml", "yaml"])
def test_icat_example_loads_with_stock_mxcubecore(tmp_path: Path, fmt: str, icat_server: Any) -> None:
    directory = beamline_with(tmp_path, fmt, "lims-icat", icat=icat_server)
    with contextlib.redirect_stdout(io.StringIO()):
        HWR.init_hardware_repository(str(directory))
    lims = HWR.beamline.lims
    assert type(lims).__name__ == "ICATLIMS"
    assert lims.compatible_beamlines() == ["ID-DEMO", "ID-OTHER"]
    manager = lims.login("bob", "bob-pw", False)
    assert [s.proposal_name for s in manager.sessions] == ["MX-415", "MX-3456"]
