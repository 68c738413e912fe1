"""Session results as MXLIMS: LIMS rows in, a document out that re-imports as the same samples."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import pytest

from mxcubecore_lims.mxlims import read_document
from mxcubecore_lims.mxlims.datasets import CollectionSweep
from mxcubecore_lims.mxlims.jobs import MxExperiment
from mxcubecore_lims.mxlims.logistics import Pin, Puck
from mxcubecore_lims.mxlims.mounts import mounted_samples
from mxcubecore_lims.mxlims.results import SessionInfo, SessionSweep, energy_in_ev, results_document
from mxcubecore_lims.mxlims.schema import document_schema

INFO = SessionInfo(session_id="42", proposal_code="mx415", beamline="ID30A-1", domain="esrf.fr", lims="ISPyB")

SAMPLES = [
    {
        "sampleId": 7,
        "sampleName": "lyso-01",
        "proteinAcronym": "lyso",
        "containerCode": "PUCK-01",
        "containerSampleChangerLocation": "3",
        "sampleLocation": 1,
        "code": "PIN-0101",
        "holderLength": 22.0,
        "crystalSpaceGroup": "P43212",
        "cellA": 79.1,
        "cellB": 79.1,
        "cellC": 37.9,
        "cellAlpha": 90.0,
        "cellBeta": 90.0,
        "cellGamma": 90.0,
        "diffractionPlan": {"experimentKind": "OSC", "aimedResolution": 1.8, "exposureTime": 0.02},
        "dewarCode": "DEWAR-1",
        "shippingName": "spring",
    },
    {
        "sampleId": 8,
        "sampleName": "thau-01",
        "proteinAcronym": "thau",
        "containerCode": "PUCK-01",
        "containerSampleChangerLocation": "3",
        "sampleLocation": 2,
        "crystalSpaceGroup": "not a group",
        "dewarCode": "DEWAR-1",
        "shippingName": "spring",
    },
    {"sampleId": 9, "sampleName": "loose", "proteinAcronym": "lyso"},
]


def _sweep(lims_id: str, group: str, sample: str | None, ok: bool | None = True) -> SessionSweep:
    return SessionSweep(
        lims_id=lims_id,
        group_id=group,
        sample_id=sample,
        experiment_type="OSC",
        start=datetime(2026, 12, 3, 22, 0, int(lims_id)),
        end=datetime(2026, 12, 3, 22, 5, tzinfo=UTC),
        succeeded=ok,
        status="Data collection successful" if ok else "Data collection failed",
        axis="Omega",
        axis_start=10.0,
        image_width=0.1,
        number_images=100,
        first_image_number=1,
        exposure_time=0.02,
        wavelength=0.9763,
        transmission=50.0,
        resolution=1.9,
        detector_distance=250.0,
        beam_size=(0.05, 0.03),
        directory="/data/mx415/lyso-01",
        prefix="lyso-01",
        run_number=1,
        filename_template="lyso-01_1_%04d.cbf",
        file_type="cbf",
        images=tuple(f"/data/mx415/lyso-01/lyso-01_1_{n:04d}.cbf" for n in (1, 2)),
    )


def test_the_samples_come_back_as_the_same_sample_dicts_when_the_document_is_imported() -> None:
    document, refs = results_document(INFO, SAMPLES, [])
    again = mounted_samples(read_document(document.to_json_data()))
    assert [m.legacy() for m in again] == [
        {k: v for k, v in SAMPLES[0].items() if k != "sampleId"},
        {k: v for k, v in SAMPLES[1].items() if k not in ("sampleId", "crystalSpaceGroup")},
    ]
    assert refs.skipped == {"9": "no container or no position in it"}
    assert set(refs.pins) == {"7", "8"}
    assert [p.position_in_dewar for _, p in document.of_type(Puck)] == [3]


def test_groups_become_experiments_and_collections_become_result_sweeps() -> None:
    sweeps = [_sweep("1", "g1", "7"), _sweep("2", "g1", "7", ok=False), _sweep("3", "g2", "8")]
    document, refs = results_document(INFO, SAMPLES, sweeps)
    experiments = dict(document.of_type(MxExperiment))
    results = [e for e in experiments.values() if e.job_status != "Template"]
    assert [(e.job_status, e.identifiers) for e in results] == [
        ("Failed", {"esrf.fr": "g1"}),
        ("Completed", {"esrf.fr": "g2"}),
    ]
    assert results[0].logistical_sample_ref == refs.pins["7"]
    assert results[0].start_time == datetime(2026, 12, 3, 22, 0, 1).astimezone().isoformat(timespec="seconds")
    assert results[0].end_time == "2026-12-03T22:05:00+00:00"
    collected = [s for _, s in document.of_type(CollectionSweep) if s.role == "Result"]
    assert len(collected) == 3
    first = collected[0]
    assert first.scan_axis == "omega"
    assert first.energy == pytest.approx(12699.3, abs=0.1)
    assert first.scans is not None and first.scans[0].number_images == 100
    assert first.scans[0].scan_position_start == 10.0
    assert first.axis_positions_start == {"detector_distance": 250.0}
    assert first.beam_size == [0.05, 0.03]
    assert first.path == "/data/mx415/lyso-01"
    assert first.identifiers == {"esrf.fr": "1"}
    assert first.extensions is not None
    assert first.extensions["esrf.fr"]["imageFiles"][1].endswith("_0002.cbf")
    assert first.source_ref is not None and document.resolve(first.source_ref) is results[0]
    assert first.logistical_sample_ref == refs.pins["7"]
    assert isinstance(document.resolve(refs.pins["7"]), Pin)


def test_the_document_is_valid_against_the_generated_schema() -> None:
    document, _ = results_document(INFO, SAMPLES, [_sweep("1", "g1", "7"), _sweep("2", "", None)])
    jsonschema.Draft202012Validator(document_schema()).validate(document.to_json_data())
    assert read_document(document.to_json_data()).to_json_data() == document.to_json_data()


def test_energy_comes_from_kev_or_else_from_the_wavelength() -> None:
    assert energy_in_ev(12.7, 0.5) == 12700.0
    assert energy_in_ev(None, 1.0) == pytest.approx(12398.42, abs=0.01)
    assert energy_in_ev(None, None) is None
    assert energy_in_ev(0.0, 0.0) is None


def test_a_processing_result_without_shell_limits_or_known_inputs_is_kept_without_them() -> None:
    from mxcubecore_lims.mxlims.datasets import ReflectionSet
    from mxcubecore_lims.mxlims.jobs import MxProcessing
    from mxcubecore_lims.mxlims.results import SessionProcessing

    processing = SessionProcessing(
        lims_id="p1",
        input_ids=("1", "404"),
        succeeded=False,
        space_group="P 43 21 2 (a typo)",
        unit_cell=(79.0, 79.0, 0.0, 90.0, 90.0, 90.0),
        shells={"overall": {"completeness": 99.0}, "outer": {"resolution_low": 1.7, "resolution_high": 1.6}},
    )
    document, _ = results_document(INFO, SAMPLES, [_sweep("1", "g1", "7")], [processing])
    (job,) = [j for _, j in document.of_type(MxProcessing)]
    assert job.job_status == "Failed"
    assert job.space_group_name is None and job.unit_cell is None
    assert job.input_data_refs is not None and len(job.input_data_refs) == 1  # the unknown 404 is dropped
    (made,) = [r for _, r in document.of_type(ReflectionSet)]
    assert made.reflection_statistics_overall is None  # MXLIMS needs a shell's limits
    assert made.reflection_statistics_shells is not None
    assert made.reflection_statistics_shells[0].resolution_limits == [1.7, 1.6]


def test_lims_values_convert_as_every_reader_needs() -> None:
    from mxcubecore_lims.mxlims.reading import as_datetime, as_float, as_int

    assert (as_float("0.5"), as_float(""), as_float(None), as_float("x")) == (0.5, None, None, None)
    assert (as_int("3.0"), as_int(None)) == (3, None)
    assert as_datetime("2026-12-03T22:05:00") == datetime(2026, 12, 3, 22, 5)
    assert as_datetime("Dec 3, 2026 10:15:00 PM") == datetime(2026, 12, 3, 22, 15)  # Gson, as ISPyB writes
    assert as_datetime("yesterday") is None and as_datetime("") is None
