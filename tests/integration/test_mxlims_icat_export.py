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


SCALING = "MX_AutoprocIntegration_Scaling_"


def _store_processing(server: Any, investigation: int, name: str, location: str, values: dict[str, Any]) -> int:
    """A processing result as an auto-processing pipeline stores it: a 'processed' Dataset with its parameters."""
    from icat.client import Client

    client = Client(server.url, checkCert=False, cache=None)
    client.login("simple", {"username": "alice", "password": "alice-pw"})
    try:
        (kind,) = client.search("SELECT t FROM DatasetType t WHERE t.name = 'processed'")
        types = {t.name: t for t in client.search("SELECT t FROM ParameterType t")}
        dataset = client.new(
            "Dataset",
            name=name,
            location=location,
            complete=True,
            type=kind,
            investigation=client.new("Investigation", id=investigation),
        )
        for key, value in values.items():
            field = "numericValue" if types[key].valueType == "NUMERIC" else "stringValue"
            dataset.parameters.append(client.new("DatasetParameter", type=types[key], **{field: value}))
        return int(client.create(dataset))
    finally:
        client.logout()


def test_processing_results_come_with_their_statistics_and_the_sweeps_they_processed(
    tmp_path: Path, icat_server: Any
) -> None:
    lims, session, _ = alice_on_mx415(tmp_path, icat_server, site_domain=DOMAIN)
    lims.import_mxlims(pin_shipment("MX415", pucks=1, first_position=3))
    collected = _collect_on_three(tmp_path, lims, session.session_id)
    rows = _dataset_rows(icat_server, "MX-415")
    raw = {r["location"]: r["id"] for r in rows}
    first_dir, second_dir = (dc["fileinfo"]["directory"] for _, dc in collected[:2])
    statistics = {
        "MX_AutoprocIntegration_space_group": "P43212",
        "MX_AutoprocIntegration_cell_a": 79.2,
        "MX_AutoprocIntegration_cell_b": 79.2,
        "MX_AutoprocIntegration_cell_c": 37.8,
        "MX_AutoprocIntegration_cell_alpha": 90.0,
        "MX_AutoprocIntegration_cell_beta": 90.0,
        "MX_AutoprocIntegration_cell_gamma": 90.0,
        f"{SCALING}overall_resolution_limit_low": 45.0,
        f"{SCALING}overall_resolution_limit_high": 1.6,
        f"{SCALING}overall_completeness": 99.1,
        f"{SCALING}overall_multiplicity": 6.5,
        f"{SCALING}overall_mean_I_over_sigI": 14.2,
        f"{SCALING}overall_r_merge": 0.062,
        f"{SCALING}overall_n_total_observations": 120000,
        f"{SCALING}overall_cc_half": 0.998,
        f"{SCALING}outer_resolution_limit_low": 1.65,
        f"{SCALING}outer_resolution_limit_high": 1.6,
        f"{SCALING}outer_completeness": 97.0,
    }
    # One result under the first collection's directory; one naming the second collection by id.
    under = _store_processing(icat_server, int(session.session_id), "autoproc_1", f"{first_dir}/autoproc", statistics)
    named = _store_processing(
        icat_server,
        int(session.session_id),
        "autoproc_2",
        str(tmp_path / "elsewhere"),
        {**statistics, "input_datasets": str(raw[second_dir])},
    )

    document = lims.export_mxlims()

    jsonschema.Draft202012Validator(document_schema()).validate(document.to_json_data())
    from mxcubecore_lims.mxlims.datasets import ReflectionSet
    from mxcubecore_lims.mxlims.jobs import MxProcessing

    jobs = {j.identifiers[DOMAIN]: j for _, j in document.of_type(MxProcessing) if j.identifiers}
    assert set(jobs) == {str(under), str(named)}
    results = _results(document)  # the processed datasets are not taken for collections
    assert len(results) == 3
    for job_id, directory in ((under, first_dir), (named, second_dir)):
        job = jobs[str(job_id)]
        assert job.job_status == "Completed" and job.space_group_name == "P43212"
        (processed,) = [_resolve(document, ref) for ref in job.input_data_refs or []]
        assert processed.path == directory and processed.identifiers[DOMAIN] == str(raw[directory])
        assert job.logistical_sample_ref == processed.logistical_sample_ref is not None
    (made,) = [r for _, r in document.of_type(ReflectionSet) if r.identifiers == {DOMAIN: str(under)}]
    assert _resolve(document, made.source_ref) is jobs[str(under)]
    assert made.refined_unit_cell is not None and made.refined_unit_cell.c == pytest.approx(37.8)
    overall = made.reflection_statistics_overall
    assert overall is not None and overall.resolution_limits == [45.0, 1.6]
    assert (overall.completeness, overall.redundancy, overall.i_over_sig_i) == (99.1, 6.5, 14.2)
    assert overall.r_merge == pytest.approx(0.062) and overall.number_observations == 120000
    assert made.operational_resolution == pytest.approx(1.6)
    assert made.reflection_statistics_shells is not None and made.reflection_statistics_shells[0].completeness == 97.0
    assert made.extensions == {DOMAIN: {"overallCcHalf": pytest.approx(0.998)}}
