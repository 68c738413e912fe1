"""MXLIMS shipments into ICAT, through ICATLIMS and the emulated ICAT over loopback.

A 10-puck shipment (160 pins) becomes 160 ICAT Samples of the active
investigation, which ``get_samples`` offers with container, position and
diffraction plan; importing it again creates nothing; an import cut off by
the server going away completes when run again, without duplicates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gevent
import pytest
from test_icat_lims import alice_on_mx415, investigation_id, make_lims

from mxcubecore_lims.errors import LimsUnavailableError, MxlimsShipmentError
from mxcubecore_lims.testing.mxlims_shipments import pin_shipment

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]


def icat_samples(server: Any, investigation: str) -> list[dict[str, Any]]:
    return server.store.find("Sample", investigation=int(investigation_id(server, investigation)))


def test_a_160_pin_shipment_becomes_the_samples_mxcube_lists(tmp_path: Path, icat_server: Any) -> None:
    lims, _, before = alice_on_mx415(tmp_path, icat_server)
    document = pin_shipment("MX415", pucks=10, first_position=3)
    report = lims.import_mxlims(document)
    assert report.created == {"sample": 160}
    assert report.existing == {"sample": 0}
    samples = lims.get_samples("ICAT")
    imported = [s for s in samples if s["sampleName"].startswith(("lyso-shipment", "thau-shipment"))]
    assert len(imported) == 160
    assert len(samples) == len(before) + 160
    first = next(s for s in imported if s["sampleName"] == "lyso-shipment-P01-01")
    assert first["containerCode"] == "SHIPMENT-01"
    assert first["containerSampleChangerLocation"] == "3"
    assert first["sampleLocation"] == 1
    assert first["proteinAcronym"] == "lyso"
    assert first["crystalSpaceGroup"] == "P43212"
    assert first["cellA"] == pytest.approx(79.1)
    assert first["diffractionPlan"]["aimedResolution"] == pytest.approx(1.8)
    assert first["diffractionPlan"]["experimentKind"] == "OSC"
    assert first["diffractionPlan"]["preferredBeamDiameter"] == pytest.approx(0.05)
    places = {(s["containerSampleChangerLocation"], s["sampleLocation"]) for s in imported}
    assert places == {(str(puck), pin) for puck in range(3, 13) for pin in range(1, 17)}


def test_importing_again_creates_nothing(tmp_path: Path, icat_server: Any) -> None:
    lims, _, _ = alice_on_mx415(tmp_path, icat_server)
    lims.import_mxlims(pin_shipment("MX415", pucks=2, first_position=3))
    count = len(icat_samples(icat_server, "MX-415"))
    again = lims.import_mxlims(pin_shipment("MX415", pucks=2, first_position=3))
    assert again.created == {"sample": 0}
    assert again.existing == {"sample": 32}
    assert len(icat_samples(icat_server, "MX-415")) == count


def test_an_import_cut_off_by_the_server_completes_when_run_again(tmp_path: Path, icat_server: Any) -> None:
    lims, _, _ = alice_on_mx415(tmp_path, icat_server)
    before = len(icat_samples(icat_server, "MX-415"))
    document = pin_shipment("MX415", pucks=6, first_position=3)

    def stop_after_two_pucks() -> None:
        while sum(1 for call in icat_server.calls if call[0] == "createMany") < 2:
            gevent.sleep(0.001)
        icat_server.stop()

    watcher = gevent.spawn(stop_after_two_pucks)
    with pytest.raises(LimsUnavailableError):
        lims.import_mxlims(document)
    watcher.join(timeout=5)
    partial = len(icat_samples(icat_server, "MX-415")) - before
    assert 0 < partial < 96  # cut off half way: some pucks in, not all
    icat_server.start()
    report = lims.import_mxlims(document)
    assert report.created["sample"] + report.existing["sample"] == 96
    assert report.existing["sample"] == partial
    names = [row["name"] for row in icat_samples(icat_server, "MX-415")]
    assert len(names) == len(set(names)) == before + 96


def test_a_shipment_for_another_proposal_is_refused(tmp_path: Path, icat_server: Any) -> None:
    lims, _, _ = alice_on_mx415(tmp_path, icat_server)
    before = len(icat_samples(icat_server, "MX-415"))
    with pytest.raises(MxlimsShipmentError) as caught:
        lims.import_mxlims(pin_shipment("MX9999", pucks=1))
    assert caught.value.pointer == "/Shipment/Shipment1/proposalCode"
    assert len(icat_samples(icat_server, "MX-415")) == before


def test_the_import_command_logs_in_and_imports(
    tmp_path: Path, icat_server: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mxcubecore import HardwareRepository as HWR

    from mxcubecore_lims.cli import main
    from mxcubecore_lims.mxlims.document import load_document

    make_lims(tmp_path, icat_server)  # writes the configuration directory (and loads it: unloaded here)
    HWR.uninit_hardware_repository()
    shipment = pin_shipment("MX415", pucks=1, first_position=3).write(tmp_path / "shipment.json")
    assert load_document(shipment).objects  # what the user sends is a valid document
    monkeypatch.setenv("MXCUBECORE_LIMS_PASSWORD", "alice-pw")
    session = investigation_id(icat_server, "MX-415")
    argv = ["mxlims", "import", str(shipment), "--config", str(tmp_path), "--user", "alice", "--session", session]
    assert main(argv) == 0
    assert "16 samples; created 16 samples" in capsys.readouterr().out
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "created nothing; already there 16 samples" in out
    assert "alice-pw" not in out
    monkeypatch.setenv("MXCUBECORE_LIMS_PASSWORD", "wrong")
    assert main(argv) == 1
    assert "alice-pw" not in capsys.readouterr().err


def test_esrflims_imports_into_its_authority_icat(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    from test_esrf_lims import alice_on_mx415 as esrf_alice_on_mx415

    lims, _ = esrf_alice_on_mx415(tmp_path, icat_server, ispyb_server)
    before = len(icat_samples(icat_server, "MX-415"))
    report = lims.import_mxlims(pin_shipment("MX415", pucks=1, first_position=3))
    assert report.created == {"sample": 16}
    assert len(icat_samples(icat_server, "MX-415")) == before + 16
    offered = lims.get_samples("ICAT")
    assert sum(1 for s in offered if s.get("containerCode") == "SHIPMENT-01") == 16
