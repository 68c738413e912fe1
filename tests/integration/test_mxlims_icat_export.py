"""Session results out of ICAT as MXLIMS, through ICATLIMS and the emulated ICAT over loopback.

A 10-puck shipment is imported, three of its samples are collected on the
way mxcubecore's collect routines do it, and the export (by the LIMS object,
and by the command in a fresh process state that never saw the collections)
is checked against the rows in the emulator's catalogue. The export then
imports into a fresh emulator as the same samples.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from test_icat_lims import alice_on_mx415, collect, collection_dict, investigation_id, make_lims

from mxcubecore_lims.mxlims.datasets import CollectionSweep
from mxcubecore_lims.mxlims.document import MxlimsDocument, load_document, read_document
from mxcubecore_lims.mxlims.jobs import MxExperiment
from mxcubecore_lims.mxlims.logistics import Pin
from mxcubecore_lims.mxlims.mounts import mounted_samples
from mxcubecore_lims.mxlims.samples import MacromoleculeSample
from mxcubecore_lims.mxlims.schema import document_schema
from mxcubecore_lims.testing.mxlims_shipments import pin_shipment

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

DOMAIN = "esrf.fr"


def _collect_on_three(tmp_path: Path, lims: Any, session_id: str) -> list[tuple[int, dict[str, Any]]]:
    samples = [s for s in lims.get_samples("ICAT") if str(s["sampleName"]).startswith("lyso-shipment-P01-0")][:3]
    assert len(samples) == 3
    done = []
    for number, sample in enumerate(samples, start=1):
        directory = tmp_path / "data" / f"c{number}"
        directory.mkdir(parents=True)
        dc = collection_dict(directory, sample, session_id, prefix=f"lyso-{number}")
        collect(lims, dc, images=3)
        done.append((int(sample["sampleId"]), dc))
    return done


def _resolve(document: MxlimsDocument, ref: Any) -> Any:
    assert ref is not None
    return document.resolve(ref)


def _results(document: MxlimsDocument) -> list[CollectionSweep]:
    return [s for _, s in document.of_type(CollectionSweep) if s.role == "Result"]


def _dataset_rows(server: Any, investigation: str) -> list[dict[str, Any]]:
    wanted = int(investigation_id(server, investigation))
    return [d for d in server.store.rows("Dataset") if d["investigation"] == wanted]


def test_the_export_holds_every_sample_and_collection_as_icat_has_them(tmp_path: Path, icat_server: Any) -> None:
    lims, session, _ = alice_on_mx415(tmp_path, icat_server, site_domain=DOMAIN)
    lims.import_mxlims(pin_shipment("MX415", pucks=10, first_position=3))
    collected = _collect_on_three(tmp_path, lims, session.session_id)
    offered = lims.get_samples("ICAT")

    document = lims.export_mxlims()

    jsonschema.Draft202012Validator(document_schema()).validate(document.to_json_data())
    assert len(list(document.of_type(Pin))) == len(offered) >= 160
    results = _results(document)
    rows = _dataset_rows(icat_server, "MX-415")
    assert sorted(s.identifiers[DOMAIN] for s in results if s.identifiers) == sorted(str(r["id"]) for r in rows)
    assert len(results) == 3
    for (sample_id, dc), sweep in zip(collected, results, strict=True):
        assert sweep.identifiers is not None
        (row,) = [r for r in rows if str(r["id"]) == sweep.identifiers[DOMAIN]]
        assert row["sample"] == sample_id
        assert sweep.path == dc["fileinfo"]["directory"] == row["location"]
        assert sweep.number_images == 4
        assert sweep.image_width == pytest.approx(0.5)
        assert sweep.exposure_time == pytest.approx(0.02)
        assert sweep.energy == pytest.approx(12658.0)
        assert sweep.transmission == pytest.approx(50.0)
        assert sweep.resolution == pytest.approx(1.8)
        assert sweep.axis_positions_start == {"detector_distance": pytest.approx(250.3)}
        assert sweep.beam_size == [pytest.approx(0.05), pytest.approx(0.03)]
        assert sweep.scans is not None and sweep.scans[0].scan_position_start == pytest.approx(10.0)
        files = [f["location"] for f in icat_server.store.children("Dataset", row["id"], "datafiles")]
        assert sweep.extensions is not None
        assert sweep.extensions[DOMAIN]["imageFiles"] == sorted(files) and len(files) == 3
        pin = _resolve(document, sweep.logistical_sample_ref)
        assert isinstance(pin, Pin)
        sample = _resolve(document, pin.sample_ref)
        assert isinstance(sample, MacromoleculeSample)
        assert sample.identifiers == {DOMAIN: str(sample_id)}
        experiment = _resolve(document, sweep.source_ref)
        assert isinstance(experiment, MxExperiment)
        assert experiment.job_status == "Completed"
        assert experiment.logistical_sample_ref == sweep.logistical_sample_ref


def test_the_export_reimports_into_a_fresh_icat_as_the_same_samples(
    tmp_path: Path, icat_server: Any, icat_server_factory: Any
) -> None:
    for part in ("one", "two"):
        (tmp_path / part).mkdir()
    lims, session, _ = alice_on_mx415(tmp_path / "one", icat_server)
    lims.import_mxlims(pin_shipment("MX415", pucks=2, first_position=3))
    _collect_on_three(tmp_path, lims, session.session_id)
    before = {s["sampleName"]: s for s in lims.get_samples("ICAT")}
    exported = read_document(json.loads(lims.export_mxlims().to_json()))

    from mxcubecore import HardwareRepository as HWR

    HWR.uninit_hardware_repository()
    fresh = icat_server_factory()
    other, _, untouched = alice_on_mx415(tmp_path / "two", fresh)
    report = other.import_mxlims(exported)
    assert report.created["sample"] == len(before) - len(untouched)  # the fixture's own samples are there already
    after = {s["sampleName"]: s for s in other.get_samples("ICAT")}
    assert set(after) == set(before)

    def comparable(sample: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in sample.items() if k not in ("sampleId", "limsID")}

    for name, sample in before.items():
        assert comparable(after[name]) == comparable(sample), name
    assert len(mounted_samples(exported)) == len(before)


def test_the_export_command_reads_back_what_another_process_collected(
    tmp_path: Path, icat_server: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mxcubecore import HardwareRepository as HWR

    from mxcubecore_lims.cli import main

    for part in ("beamline", "office"):
        (tmp_path / part).mkdir()
    lims, session, _ = alice_on_mx415(tmp_path / "beamline", icat_server)
    lims.import_mxlims(pin_shipment("MX415", pucks=1, first_position=3))
    _collect_on_three(tmp_path, lims, session.session_id)
    HWR.uninit_hardware_repository()
    # A configuration of its own, with an outbox of its own: nothing of the collecting process.
    make_lims(tmp_path / "office", icat_server, outbox_file=str(tmp_path / "office.sqlite"))
    HWR.uninit_hardware_repository()
    monkeypatch.setenv("MXCUBECORE_LIMS_PASSWORD", "alice-pw")
    output = tmp_path / "results.json"
    argv = ["mxlims", "export", "--config", str(tmp_path / "office"), "--user", "alice"]
    argv += ["--session", session.session_id, "-o", str(output)]
    assert main(argv) == 0
    assert str(output) in capsys.readouterr().out
    document = load_document(output)
    assert len(_results(document)) == 3
    assert main(["mxlims", "validate", str(output)]) == 0
    assert "alice-pw" not in output.read_text(encoding="utf-8")
    assert os.environ["MXCUBECORE_LIMS_PASSWORD"] == "alice-pw"


def test_exporting_an_investigation_the_user_is_not_on_is_an_error(
    tmp_path: Path, icat_server: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mxcubecore import HardwareRepository as HWR

    from mxcubecore_lims.cli import main

    make_lims(tmp_path, icat_server)
    HWR.uninit_hardware_repository()
    monkeypatch.setenv("MXCUBECORE_LIMS_PASSWORD", "alice-pw")
    other = max(int(r["id"]) for r in icat_server.store.rows("Investigation")) + 1000
    argv = ["mxlims", "export", "--config", str(tmp_path), "--user", "alice", "--session", str(other)]
    assert main(argv) == 1
    assert f"session {other}:" in capsys.readouterr().err


def test_esrflims_exports_from_its_authority_icat(tmp_path: Path, icat_server: Any, ispyb_server: Any) -> None:
    from test_esrf_lims import alice_on_mx415 as esrf_alice_on_mx415

    lims, _ = esrf_alice_on_mx415(tmp_path, icat_server, ispyb_server)
    lims.import_mxlims(pin_shipment("MX415", pucks=1, first_position=3))
    document = lims.export_mxlims()
    icat_ids = {
        str(r["id"])
        for r in icat_server.store.find("Sample", investigation=int(investigation_id(icat_server, "MX-415")))
    }
    exported = {
        value for _, sample in document.of_type(MacromoleculeSample) for value in (sample.identifiers or {}).values()
    }
    assert len(exported) >= 16
    assert exported <= icat_ids
