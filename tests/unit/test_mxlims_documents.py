"""MXLIMS documents: the conformance corpus, round trips, and the generated JSON Schema.

The corpus under ``tests/data/mxlims`` was written from the MXLIMS 0.6.13
facts independently of the reader: every valid document must read, write
back unchanged and validate against our generated schema; every invalid one
must fail with the error class and JSON pointer its index names.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mxcubecore_lims import errors
from mxcubecore_lims.cli import main
from mxcubecore_lims.mxlims.document import load_document, read_document
from mxcubecore_lims.mxlims.schema import document_schema

CORPUS = Path(__file__).resolve().parents[1] / "data" / "mxlims"
VALID = sorted((CORPUS / "valid").glob("*.json"))
EXPECTED = json.loads((CORPUS / "invalid" / "expected.json").read_text())
INVALID = sorted(name for name in EXPECTED)


def test_the_corpus_is_large_enough() -> None:
    assert len(VALID) >= 30
    assert len(INVALID) >= 30
    assert all((CORPUS / "invalid" / name).exists() for name in INVALID)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = document_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", VALID, ids=[p.stem for p in VALID])
def test_a_valid_document_round_trips_and_validates(path: Path, validator: jsonschema.Draft202012Validator) -> None:
    data = json.loads(path.read_text())
    document = load_document(path)
    written = document.to_json_data()
    assert written == data  # nothing lost, nothing added: extensions and extra keys included
    again = read_document(json.loads(json.dumps(written)))
    assert again.objects == document.objects
    assert again.extra == document.extra
    validator.validate(written)


@pytest.mark.parametrize("name", INVALID)
def test_an_invalid_document_names_its_problem(name: str) -> None:
    expected = EXPECTED[name]
    with pytest.raises(errors.MxlimsInvalidDocumentError) as caught:
        load_document(CORPUS / "invalid" / name)
    found = [(type(p).__name__, p.pointer) for p in caught.value.problems]
    assert (expected["error"], expected["pointer"]) in found, expected.get("why")
    assert str(CORPUS / "invalid" / name) in str(caught.value)


def test_the_schema_refuses_what_the_reader_refuses(validator: jsonschema.Draft202012Validator) -> None:
    # Schema-level problems (not $ref integrity, which only the reader sees) fail both.
    for name in INVALID:
        if EXPECTED[name]["error"] not in ("MxlimsSchemaError", "MxlimsVersionError"):
            continue
        data = json.loads((CORPUS / "invalid" / name).read_text())
        assert not validator.is_valid(data), name


def test_a_built_document_gets_keys_and_links() -> None:
    from mxcubecore_lims.mxlims.document import MxlimsDocument
    from mxcubecore_lims.mxlims.logistics import Pin, Puck

    document = MxlimsDocument()
    puck = document.add(Puck(name="P1"))
    first = document.add(Pin(position_in_puck=1, container_ref=puck))
    second = document.add(Pin(position_in_puck=2, container_ref=puck))
    assert (puck.ref, first.ref, second.ref) == ("#/Puck/Puck1", "#/Pin/Pin1", "#/Pin/Pin2")
    checked = document.checked()
    assert [key for key, _ in checked.pointing_at(puck, "container_ref")] == ["Pin/Pin1", "Pin/Pin2"]


def test_validate_command_reports_file_and_pointer(capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = VALID[0], CORPUS / "invalid" / INVALID[0]
    assert main(["mxlims", "validate", str(good)]) == 0
    assert main(["mxlims", "validate", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{good}: valid MXLIMS 0.6.13" in out
    assert f"{bad}: {EXPECTED[INVALID[0]]['pointer']}" in out


def test_schema_command_prints_the_generated_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mxlims", "schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == document_schema()
    assert printed["properties"]["version"] == {"const": "0.6.13"}
