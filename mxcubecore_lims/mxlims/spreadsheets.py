"""Shipment spreadsheets (TSV or CSV, one row per pin) read into MXLIMS documents.

A sheet's layout is data, not code: a tab-separated file of ``Column``,
``MXLIMS`` and ``Comment`` (see ``layouts/maxiv.tsv``), the ``MXLIMS`` cell
a dotted path ``Type.field[.sub]`` into the object the column fills. A site
adds its own sheet by writing such a file (``layout=Path(...)``); the built
in ones are named (``layout="maxiv"``). A path ending in ``[]`` fills every
item of a pair (``CollectionSweep.beamSize[]``: one diameter, both sizes).

Rows are grouped as people fill sheets: one Dewar per parcel name, one Puck
per container name within it, one Macromolecule per acronym; each row gives
a Pin, its MacromoleculeSample, and a template MxExperiment (the diffraction
plan) with its template CollectionSweep when the row fills any of theirs.
A bad cell is an error naming the file, row (the header is row 1) and column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mxcubecore_lims.errors import MxlimsSpreadsheetError
from mxcubecore_lims.mxlims._base import MxlimsObject
from mxcubecore_lims.mxlims.datasets import CollectionSweep
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.jobs import MxExperiment
from mxcubecore_lims.mxlims.logistics import Dewar, Pin, Puck, Shipment
from mxcubecore_lims.mxlims.samples import Macromolecule, MacromoleculeSample

__all__ = ["Layout", "read_layout", "read_spreadsheet"]

_ROW_TYPES: dict[str, type[MxlimsObject]] = {
    "Dewar": Dewar,
    "Puck": Puck,
    "Macromolecule": Macromolecule,
    "MacromoleculeSample": MacromoleculeSample,
    "Pin": Pin,
    "MxExperiment": MxExperiment,
    "CollectionSweep": CollectionSweep,
}


@dataclass(frozen=True)
class Layout:
    """A sheet layout: header text -> MXLIMS path (None: known, not imported)."""

    name: str
    columns: dict[str, tuple[str, ...] | None]
    source: str


def read_layout(layout: str | Path) -> Layout:
    """Reads a layout: a built-in name (``maxiv``) or a layout file.

    Raises:
        MxlimsSpreadsheetError: The layout file is malformed or names an unknown type or field.
    """
    if isinstance(layout, Path) or "/" in str(layout) or str(layout).endswith(".tsv"):
        source = Path(layout)
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as error:
            raise MxlimsSpreadsheetError(f"cannot read the layout: {error}", source) from None
        name = source.stem
    else:
        name = str(layout)
        entry = resources.files("mxcubecore_lims.mxlims").joinpath("layouts", f"{name}.tsv")
        if not entry.is_file():
            raise MxlimsSpreadsheetError(f"no built-in sheet layout {name!r} (try 'maxiv' or a .tsv file)", None)
        text = entry.read_text(encoding="utf-8")
        source = Path(f"<layout {name}>")
    columns: dict[str, tuple[str, ...] | None] = {}
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    for number, line in enumerate(lines, start=1):
        cells = line.split("\t")
        if cells[0] == "Column" and cells[1:2] == ["MXLIMS"]:
            continue
        column, path = cells[0].strip(), (cells[1].strip() if len(cells) > 1 else "")
        columns[column] = _check_path(path, source, number) if path else None
    return Layout(name, columns, str(source))


def _check_path(path: str, source: Path, line: int) -> tuple[str, ...]:
    parts = tuple(path.split("."))
    model = _ROW_TYPES.get(parts[0])
    if model is None:
        raise MxlimsSpreadsheetError(f"line {line}: {parts[0]!r} is not a type a sheet row fills", source, value=path)
    aliases = {info.alias or name for name, info in model.model_fields.items()}
    if len(parts) < 2 or parts[1].removesuffix("[]") not in aliases:
        raise MxlimsSpreadsheetError(f"line {line}: {model.__name__} has no field {parts[1:2]}", source, value=path)
    return parts


def read_spreadsheet(
    path: str | Path, layout: str | Path = "maxiv", proposal_code: str = "", name: str | None = None
) -> MxlimsDocument:
    """Reads a shipment sheet into an MXLIMS document.

    Args:
        path: The sheet: ``.csv`` (comma-separated) or ``.tsv``/``.txt`` (tab-separated).
        layout: A built-in layout name or a layout file.
        proposal_code: The shipment's proposal (sheets do not carry it).
        name: The shipment's name (default: the file's stem).

    Raises:
        MxlimsSpreadsheetError: A header, row or cell is wrong (named by row and column).
    """
    source = Path(path)
    sheet = read_layout(layout)
    rows = _rows(source)
    header = [cell.strip().lstrip("#").strip() for cell in rows[0]]
    unknown = [h for h in header if h and h not in sheet.columns]
    if unknown:
        raise MxlimsSpreadsheetError(f"not a column of the {sheet.name} layout", source, 1, unknown[0])
    document = MxlimsDocument()
    shipment = document.add(Shipment(name=name or source.stem, proposal_code=proposal_code or "unknown"))
    builder = _Builder(document, shipment, source)
    for number, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            raise MxlimsSpreadsheetError(f"{len(cells)} cells where the header has {len(header)}", source, number)
        filled: dict[str, dict[str, Any]] = {}
        where: dict[tuple[str, ...], str] = {}
        for column, cell in zip(header, cells, strict=True):
            target = sheet.columns.get(column)
            if target is None or not cell.strip():
                continue
            _fill(filled, target, _convert(target, cell.strip(), source, number, column))
            where[target] = column
        builder.add_row(filled, where, number)
    return document


def _rows(source: Path) -> list[list[str]]:
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise MxlimsSpreadsheetError(f"cannot read the sheet: {error}", source) from None
    delimiter = "," if source.suffix.lower() == ".csv" else "\t"
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    if not rows:
        raise MxlimsSpreadsheetError("the sheet is empty: it needs a header row", source, 1)
    return rows


@cache
def _json_kinds(target: tuple[str, ...]) -> frozenset[str | None]:
    """The JSON types the model allows at a layout path (computed once per path, not per cell)."""
    schema = _ROW_TYPES[target[0]].model_json_schema(by_alias=True)
    node: Any = schema["properties"].get(target[1].removesuffix("[]"), {})
    for part in target[2:]:
        ref = next((o["$ref"] for o in node.get("anyOf", [node]) if "$ref" in o), None)
        node = schema["$defs"][ref.split("/")[-1]]["properties"].get(part, {}) if ref else {}
    return frozenset({o.get("type") for o in node.get("anyOf", [node])} | {node.get("type")})


def _convert(target: tuple[str, ...], cell: str, source: Path, row: int, column: str) -> Any:
    kinds = _json_kinds(target)
    if target[1].endswith("[]") or kinds & {"number", "integer", "array"}:
        try:
            number = float(cell)
        except ValueError:
            raise MxlimsSpreadsheetError("not a number", source, row, column, cell) from None
        if "integer" in kinds and "number" not in kinds:
            if not number.is_integer():
                raise MxlimsSpreadsheetError("not a whole number", source, row, column, cell)
            return int(number)
        return number
    return cell


def _fill(filled: dict[str, dict[str, Any]], target: tuple[str, ...], value: Any) -> None:
    node = filled.setdefault(target[0], {})
    for part in target[1:-1]:
        node = node.setdefault(part, {})
    last = target[-1]
    if last.endswith("[]"):
        node[last[:-2]] = [value, value]
    else:
        node[last] = value


class _Builder:
    """Turns filled rows into shared dewars, pucks and macromolecules, and per-row pins and plans."""

    def __init__(self, document: MxlimsDocument, shipment: Any, source: Path) -> None:
        self.document = document
        self.shipment = shipment
        self.source = source
        self.dewars: dict[str, Any] = {}
        self.pucks: dict[tuple[str, str], Any] = {}
        self.next_position: dict[tuple[str, str], int] = {}
        self.proteins: dict[str, Any] = {}

    def _make(self, kind: str, values: dict[str, Any], where: dict[tuple[str, ...], str], row: int) -> MxlimsObject:
        try:
            return _ROW_TYPES[kind].model_validate({"mxlimsType": kind, **values})
        except ValidationError as error:
            detail = error.errors(include_url=False)[0]
            path = tuple(str(p) for p in detail["loc"] if isinstance(p, str))
            column = next((c for t, c in where.items() if t[0] == kind and t[1:] == path[: len(t) - 1]), None)
            column = column or next((c for t, c in where.items() if t[0] == kind), None)
            shown = detail.get("input") if column else None
            raise MxlimsSpreadsheetError(
                f"{kind}.{'.'.join(path)}: {detail['msg']}", self.source, row, column, shown
            ) from None

    def add_row(self, filled: dict[str, dict[str, Any]], where: dict[tuple[str, ...], str], row: int) -> None:
        dewar_values = filled.get("Dewar", {})
        dewar_name = str(dewar_values.get("name", ""))
        if dewar_name not in self.dewars:
            dewar = self._make("Dewar", {**dewar_values, "containerRef": self.shipment}, where, row)
            self.dewars[dewar_name] = self.document.add(dewar)
        puck_values = filled.get("Puck", {})
        puck_key = (dewar_name, str(puck_values.get("name", "")))
        if puck_key not in self.pucks:
            puck = self._make("Puck", {**puck_values, "containerRef": self.dewars[dewar_name]}, where, row)
            self.pucks[puck_key] = self.document.add(puck)
        protein = None
        if "Macromolecule" in filled:
            acronym = str(filled["Macromolecule"].get("acronym"))
            if acronym not in self.proteins:
                made = self._make("Macromolecule", filled["Macromolecule"], where, row)
                self.proteins[acronym] = self.document.add(made)
            protein = self.proteins[acronym]
        sample_values = {**filled.get("MacromoleculeSample", {}), "parentSampleRef": protein}
        sample = self.document.add(self._make("MacromoleculeSample", sample_values, where, row))
        pin_values = dict(filled.get("Pin", {}))
        position = self.next_position.get(puck_key, 0) + 1
        pin_values.setdefault("positionInPuck", position)
        self.next_position[puck_key] = max(position, int(pin_values["positionInPuck"]))
        pin_values.update(containerRef=self.pucks[puck_key], sampleRef=sample)
        pin = self.document.add(self._make("Pin", pin_values, where, row))
        if "MxExperiment" in filled or "CollectionSweep" in filled:
            templates = []
            if "CollectionSweep" in filled:
                sweep_values = {"scanAxis": "omega", "role": "Template", **filled["CollectionSweep"]}
                templates.append(self.document.add(self._make("CollectionSweep", sweep_values, where, row)))
            plan = {
                **filled.get("MxExperiment", {}),
                "jobStatus": "Template",
                "logisticalSampleRef": pin,
                "sampleRef": sample,
                "templateDataRefs": templates or None,
            }
            self.document.add(self._make("MxExperiment", plan, where, row))
