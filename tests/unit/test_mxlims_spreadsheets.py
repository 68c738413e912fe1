"""Shipment spreadsheets into MXLIMS documents: the MAX IV layout, site layouts as data, bad cells."""

from __future__ import annotations

from pathlib import Path

import pytest

from mxcubecore_lims.errors import MxlimsSpreadsheetError
from mxcubecore_lims.mxlims.mounts import mounted_samples
from mxcubecore_lims.mxlims.spreadsheets import read_layout, read_spreadsheet

SHEETS = Path(__file__).resolve().parents[1] / "data" / "sheets"
TWO_PUCKS = SHEETS / "maxiv_two_pucks.tsv"


def sheet_with(tmp_path: Path, row_changes: dict[str, str], suffix: str = ".tsv") -> Path:
    lines = TWO_PUCKS.read_text().splitlines()
    header = lines[0].lstrip("#").split("\t")
    first = dict(zip(header, lines[1].split("\t"), strict=True))
    first.update(row_changes)
    delimiter = "," if suffix == ".csv" else "\t"
    text = "\n".join([delimiter.join(header), delimiter.join(first[h] for h in header)]) + "\n"
    path = tmp_path / f"sheet{suffix}"
    path.write_text(text)
    return path


def test_the_maxiv_sheet_groups_rows_into_shared_containers() -> None:
    document = read_spreadsheet(TWO_PUCKS, "maxiv", proposal_code="MX415")
    document.checked()
    counts = {kind: len(bucket) for kind, bucket in document.objects.items()}
    assert counts == {
        "Shipment": 1,
        "Dewar": 1,
        "Puck": 2,
        "Macromolecule": 2,
        "MacromoleculeSample": 8,
        "Pin": 8,
        "CollectionSweep": 8,
        "MxExperiment": 8,
    }
    samples = [m.legacy() for m in mounted_samples(document)]
    assert [(s["containerCode"], s["sampleLocation"]) for s in samples[:5]] == [
        ("PUCK-1", 1),
        ("PUCK-1", 2),
        ("PUCK-1", 3),
        ("PUCK-1", 4),
        ("PUCK-2", 1),
    ]
    first = samples[0]
    assert first["crystalSpaceGroup"] == "P43212"
    assert first["cellC"] == pytest.approx(37.9)
    assert first["diffractionPlan"] == {
        "aimedResolution": 1.8,
        "comments": "crystal 1",
        "exposureTime": 0.02,
        "preferredBeamDiameter": 0.05,
    }
    assert "cellA" not in samples[4]  # the thaumatin rows give no cell


def test_a_comma_separated_sheet_reads_the_same(tmp_path: Path) -> None:
    document = read_spreadsheet(sheet_with(tmp_path, {}, ".csv"), proposal_code="MX415")
    assert mounted_samples(document)[0].legacy()["sampleName"] == "lyso-1-1"


@pytest.mark.parametrize(
    ("change", "column", "value"),
    [
        ({"aimed Resolution": "high"}, "aimed Resolution", "high"),
        ({"container position": "1.5"}, "container position", "1.5"),
        ({"container position": "0"}, "container position", 0),
        ({"SPG": "p212121"}, "SPG", "p212121"),
        ({"cellA": "-3"}, "cellA", -3.0),
        ({"beam diameter": "wide"}, "beam diameter", "wide"),
    ],
)
def test_a_bad_cell_names_row_and_column(tmp_path: Path, change: dict[str, str], column: str, value: object) -> None:
    with pytest.raises(MxlimsSpreadsheetError) as caught:
        read_spreadsheet(sheet_with(tmp_path, change), proposal_code="MX415")
    assert (caught.value.row, caught.value.column, caught.value.value) == (2, column, value)
    assert "row 2" in str(caught.value) and column in str(caught.value)


def test_an_unknown_column_and_a_short_row_are_refused(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text("parcel name\tcolour\nD1\tred\n")
    with pytest.raises(MxlimsSpreadsheetError) as caught:
        read_spreadsheet(sheet)
    assert (caught.value.row, caught.value.column) == (1, "colour")
    sheet.write_text("parcel name\tcontainer name\nD1\n")
    with pytest.raises(MxlimsSpreadsheetError) as caught:
        read_spreadsheet(sheet)
    assert caught.value.row == 2


def test_a_site_layout_is_a_data_file(tmp_path: Path) -> None:
    layout = tmp_path / "mysite.tsv"
    layout.write_text(
        "Column\tMXLIMS\tComment\n"
        "Dewar\tDewar.barcode\n"
        "Puck\tPuck.barcode\n"
        "Protein\tMacromolecule.acronym\n"
        "Sample\tMacromoleculeSample.name\n"
        "Position\tPin.positionInPuck\n"
        "Resolution\tMxExperiment.requiredResolution\n"
        "Notes\t\tkept out\n"
    )
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("Dewar,Puck,Protein,Sample,Position,Resolution,Notes\nDW1,PK9,lyso,s1,7,2.2,x\n")
    document = read_spreadsheet(sheet, layout, proposal_code="MX415")
    (sample,) = mounted_samples(document)
    entry = sample.legacy()
    assert (entry["containerCode"], entry["sampleLocation"], entry["dewarCode"]) == ("PK9", 7, "DW1")
    assert entry["diffractionPlan"] == {"requiredResolution": 2.2}
    assert read_layout(layout).columns["Notes"] is None


def test_a_layout_naming_an_unknown_field_is_refused(tmp_path: Path) -> None:
    layout = tmp_path / "bad.tsv"
    layout.write_text("Column\tMXLIMS\tComment\nColour\tPin.colour\n")
    with pytest.raises(MxlimsSpreadsheetError) as caught:
        read_layout(layout)
    assert "Pin has no field" in str(caught.value) and str(layout) in str(caught.value)
    with pytest.raises(MxlimsSpreadsheetError):
        read_layout("nosuchsite")


def test_the_sheet_command_writes_a_valid_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mxcubecore_lims.cli import main
    from mxcubecore_lims.mxlims.document import load_document

    out = tmp_path / "shipment.json"
    assert main(["mxlims", "sheet", str(TWO_PUCKS), "--proposal", "MX415", "-o", str(out)]) == 0
    assert len(mounted_samples(load_document(out))) == 8
    assert main(["mxlims", "sheet", str(sheet_with(tmp_path, {"cellA": "x"})), "--proposal", "MX415"]) == 1
    assert "row 2, column 'cellA'" in capsys.readouterr().err
