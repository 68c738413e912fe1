"""Pure mappings of the ICAT LIMS: investigations -> sessions, samples, dataset metadata.

The objects stand in for python-icat entities (plain attribute bags): these
functions only read attributes, and the integration tests run them on real
python-icat entities from the emulated server.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace as Obj

import pytest

from mxcubecore_lims.errors import LimsDataError
from mxcubecore_lims.icat.gateway import jpql_string, jpql_timestamp
from mxcubecore_lims.icat.metadata import (
    collection_record,
    dataset_name,
    disambiguated,
    energy_scan_record,
    write_metadata_json,
    xfe_spectrum_record,
)
from mxcubecore_lims.icat.samples import sample_from_icat, samples_from_icat
from mxcubecore_lims.icat.sessions import SessionContext, session_from_investigation
from mxcubecore_lims.model import DataCollection, EnergyScan, Image, XfeSpectrum


def _param(name: str, **value: object) -> Obj:
    fields: dict[str, object] = {"stringValue": None, "numericValue": None, "dateTimeValue": None}
    fields.update(value)
    return Obj(type=Obj(name=name), **fields)


def _investigation(**overrides: object) -> Obj:
    values = {
        "id": 103,
        "name": "MX-415",
        "title": "Lysozyme",
        "summary": None,
        "startDate": datetime(2026, 11, 22, 8, tzinfo=UTC),
        "endDate": datetime(2026, 11, 25, 8, tzinfo=UTC),
        "type": Obj(name="MX"),
        "investigationInstruments": [Obj(instrument=Obj(name="ID-OTHER")), Obj(instrument=Obj(name="ID-DEMO"))],
        "parameters": [_param("Id", stringValue="415")],
    }
    values.update(overrides)
    return Obj(**values)


# ------------------------------------------------------------------ sessions


def test_investigation_becomes_the_session_mxcubeweb_reads() -> None:
    context = SessionContext("id-demo", data_portal_url="https://d/{id}", user_portal_url="https://u/{id}")
    session = session_from_investigation(_investigation(), context, now=datetime(2026, 11, 23, 12))
    assert (session.session_id, session.proposal_id, session.proposal_name) == ("103", "103", "MX-415")
    assert (session.code, session.number, session.title) == ("MX", "415", "Lysozyme")
    # The host beamline wins over the first instrument listed.
    assert session.beamline_name == "ID-DEMO" and session.is_scheduled_beamline
    assert session.is_scheduled_time and not session.is_rescheduled
    assert session.start_date == datetime(2026, 11, 22, 8, tzinfo=UTC).astimezone().strftime("%Y%m%d")
    assert session.data_portal_URL == "https://d/103" and session.user_portal_URL == "https://u/415"
    assert session.logbook_URL is None


def test_actual_dates_decide_scheduled_time_and_reschedule() -> None:
    moved = _investigation(
        parameters=[
            _param("actualStartDate", dateTimeValue=datetime(2026, 12, 1, 8)),
            _param("actualEndDate", dateTimeValue=datetime(2026, 12, 2, 8)),
            _param("__sampleCount", numericValue=12.0),
        ]
    )
    session = session_from_investigation(moved, SessionContext("ID-DEMO"), now=datetime(2026, 11, 23, 12))
    assert session.is_rescheduled and not session.is_scheduled_time
    assert (session.actual_start_date, session.actual_end_date) == ("20261201", "20261202")
    assert session.sample_count == "12.0"


def test_session_elsewhere_is_not_scheduled_here() -> None:
    elsewhere = _investigation(investigationInstruments=[Obj(instrument=Obj(name="ID-OTHER"))])
    session = session_from_investigation(elsewhere, SessionContext("ID-DEMO"))
    assert session.beamline_name == "ID-OTHER" and not session.is_scheduled_beamline


def test_number_keeps_names_that_do_not_start_with_the_type() -> None:
    odd = _investigation(name="IH-MX-7", type=Obj(name="IH-MX"))
    assert session_from_investigation(odd, SessionContext("ID-DEMO")).number == "7"
    other = _investigation(name="proposal7", type=Obj(name="MX"))
    assert session_from_investigation(other, SessionContext("ID-DEMO")).number == "proposal7"


def test_investigation_without_id_is_a_data_error() -> None:
    with pytest.raises(LimsDataError, match="id"):
        session_from_investigation(_investigation(id=None), SessionContext("ID-DEMO"))


# ------------------------------------------------------------------- samples


def _sample(sample_id: int, name: str, **params: object) -> Obj:
    parameters = [
        _param(key, **({"numericValue": value} if isinstance(value, float) else {"stringValue": value}))
        for key, value in params.items()
    ]
    return Obj(id=sample_id, name=name, parameters=parameters)


def test_sample_parameters_follow_the_documented_convention() -> None:
    model = sample_from_icat(
        _sample(
            7,
            "lyso-01",
            SampleChanger_position=3.0,
            SampleTrackingContainer_position="4",
            SampleTrackingContainer_name="PUCK-1",
            SampleProtein_acronym="lyso",
            SampleCrystal_spaceGroup="P43212",
            SampleCrystal_cell_a=79.1,
        )
    )
    assert model is not None
    legacy = model.to_legacy()
    assert legacy["sampleId"] == 7 and legacy["sampleName"] == "lyso-01"
    # A NUMERIC puck position still reads as the text mxcubeweb int-parses.
    assert legacy["containerSampleChangerLocation"] == "3" and legacy["sampleLocation"] == 4
    assert (legacy["containerCode"], legacy["proteinAcronym"]) == ("PUCK-1", "lyso")
    assert (legacy["crystalSpaceGroup"], legacy["cellA"]) == ("P43212", 79.1)


def test_samples_without_a_place_are_not_offered_and_order_is_by_place() -> None:
    found = samples_from_icat(
        [
            _sample(1, "b", SampleChanger_position="10", SampleTrackingContainer_position="1"),
            _sample(2, "spare"),
            _sample(3, "a", SampleChanger_position="2", SampleTrackingContainer_position="5"),
            _sample(4, "c", SampleChanger_position="2", SampleTrackingContainer_position="1"),
        ]
    )
    assert [s.sample_name for s in found] == ["c", "a", "b"]


def test_a_position_that_is_not_a_number_names_sample_and_parameter() -> None:
    bad = _sample(5, "x", SampleChanger_position="1", SampleTrackingContainer_position="left")
    with pytest.raises(LimsDataError, match="SampleTrackingContainer_position") as caught:
        sample_from_icat(bad)
    assert "sample x" in str(caught.value)


# ------------------------------------------------------------------ metadata


def _collection(directory: str, **extra: object) -> DataCollection:
    return DataCollection.from_legacy(
        {
            "sessionId": "103",
            "fileinfo": {"directory": directory, "prefix": "lyso-01", "run_number": 2, "template": "t_%05d.cbf"},
            "oscillation_sequence": [
                {"start": 10.0, "range": 0.5, "number_of_images": 20, "exposure_time": 0.1, "start_image_number": 1}
            ],
            "sample_reference": {"blSampleId": 7, "sample_name": "01", "acronym": "lyso"},
            "collection_start_time": "2026-11-23 07:00:00",
            "experiment_type": "Mesh",
            "status": "Data collection successful",
            **extra,
        }
    )


def test_collection_record_names_axes_sample_and_files(tmp_path: Path) -> None:
    image = Image.from_legacy({"dataCollectionId": 1, "fileName": "t_00001.cbf", "fileLocation": str(tmp_path)})
    record = collection_record(
        _collection(str(tmp_path), flux=2e12, wavelength=0.98),
        [image],
        local_id=1,
        sample_ids=[7],
        actual_instrument="ID-DEMO",
        scheduled_instrument="ID-OTHER",
    )
    assert record.name == "lyso-01_2" and record.location == str(tmp_path)
    assert record.sample_id == 7 and record.sample_name == "lyso-01"
    params = record.parameters
    assert (params["MX_axis_start"], params["MX_axis_range"], params["MX_axis_end"]) == (10.0, 10.0, 20.0)
    assert params["MX_scanType"] == "mesh" and params["MX_flux"] == 2e12
    assert (params["actualInstrument"], params["scheduledInstrument"]) == ("ID-DEMO", "ID-OTHER")
    assert "MX_fluxEnd" not in params  # ICAT stores no nulls
    assert [(f.name, f.location) for f in record.datafiles] == [("t_00001.cbf", str(tmp_path / "t_00001.cbf"))]
    assert record.start == datetime(2026, 11, 23, 7) and record.complete


def test_sample_outside_the_investigation_is_not_linked(tmp_path: Path) -> None:
    record = collection_record(_collection(str(tmp_path)), local_id=1, sample_ids=[8, 9])
    assert record.sample_id is None and record.sample_name == "lyso-01"


def test_failed_collection_is_an_incomplete_dataset(tmp_path: Path) -> None:
    assert not collection_record(_collection(str(tmp_path), status="Failed"), local_id=1).complete


def test_names_and_alternative_names_are_stable() -> None:
    assert dataset_name("p", 3, "/d/x", "fallback") == "p_3"
    assert dataset_name(None, None, "/d/run_7", "fallback") == "run_7"
    assert disambiguated("p_3", "/d/a") == disambiguated("p_3", "/d/a") != disambiguated("p_3", "/d/b")


def test_energy_scan_and_spectrum_records() -> None:
    scan = EnergyScan.from_legacy(
        {
            "element": "Se",
            "edgeEnergy": "K",
            "peakEnergy": 12.66,
            "startTime": "2026-11-23 07:00:00",
            "scanFileFullPath": "/d/scan/se.raw",
            "workingDirectory": "/d/scan",
        }
    )
    record = energy_scan_record(scan)
    assert record.parameters["MX_scanType"] == "energy_scan" and record.parameters["MX_element"] == "Se"
    assert record.name == "energy_scan_se_20261123-070000" and record.datafiles[0].name == "se.raw"
    spectrum = XfeSpectrum.from_legacy({"energy": 13.0, "filename": "/d/xrf/s.dat", "workingDirectory": "/d/xrf"})
    assert xfe_spectrum_record(spectrum).parameters["MX_scanType"] == "xrf"


def test_metadata_json_holds_the_upload(tmp_path: Path) -> None:
    record = collection_record(_collection(str(tmp_path)), local_id=4)
    path = write_metadata_json(record, {"id": 103, "name": "MX-415"})
    content = json.loads(path.read_text())
    assert content["dataset"] == "lyso-01_2" and content["investigation"] == {"id": 103, "name": "MX-415"}
    assert content["parameters"]["MX_dataCollectionId"] == 4
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]  # no temporary left


def test_metadata_json_in_a_missing_directory_raises(tmp_path: Path) -> None:
    record = collection_record(_collection(str(tmp_path / "missing")), local_id=4)
    with pytest.raises(OSError):
        write_metadata_json(record, {"id": 1})


# ------------------------------------------------------------- query values


@pytest.mark.parametrize(
    "value, literal",
    [("alice", "'alice'"), ("o'brien", "'o''brien'"), ("x' OR '1'='1", "'x'' OR ''1''=''1'")],
)
def test_query_strings_are_escaped(value: str, literal: str) -> None:
    assert jpql_string(value) == literal


def test_nul_cannot_enter_a_query() -> None:
    with pytest.raises(ValueError):
        jpql_string("a\x00b")


def test_timestamps_are_icat_literals() -> None:
    assert jpql_timestamp(datetime(2026, 1, 2, 3, 4, 5)) == "{ts 2026-01-02 03:04:05}"


def test_an_image_stored_twice_is_one_datafile(tmp_path: Path) -> None:
    # AbstractCollect.collection_finished stores the last frame again after the
    # collect routine's own store: ICAT refuses two Datafiles of one name.
    first, last = (
        Image.from_legacy({"dataCollectionId": 1, "fileName": f"t_{n:05d}.cbf", "fileLocation": str(tmp_path)})
        for n in (1, 5)
    )
    record = collection_record(_collection(str(tmp_path)), [first, last, last], local_id=1)
    assert [f.name for f in record.datafiles] == ["t_00001.cbf", "t_00005.cbf"]
