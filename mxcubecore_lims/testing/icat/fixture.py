"""YAML fixtures for the emulated ICAT server.

A fixture describes a facility's catalogue (see the shipped
``testing/data/icat_fixture.yaml`` for a complete example)::

    facility: {name: ESRF}
    logins: {simple: {alice: alice-pw}}           # plugin -> user -> password
    users: [{name: simple/alice, fullName: ...}]
    instruments: [{name: ID-DEMO, scientists: [simple/staff]}]
    investigation_types: [{name: MX}]
    dataset_types: [{name: acquisition}]
    sample_types: [{name: protein, molecularFormula: unknown}]
    parameter_types:                              # merged by name
      - {valueType: NUMERIC, applicableTo: [Dataset], units: NA, names: [MX_flux]}
    investigations:
      - name: MX-415
        type: MX
        startDate: today-1 08:00                  # relative dates, as the ISPyB fixture
        instruments: [ID-DEMO]
        users: [{user: simple/alice, role: Principal investigator}]
        parameters: {Id: "415"}                   # InvestigationParameters by type name
        samples: [{name: lyso-01, params: {SampleChanger_position: "1"}}]

Every reference is by name; an unknown one is a :class:`IcatFixtureError`
naming the entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from mxcubecore_lims.errors import LimsError
from mxcubecore_lims.testing.icat.faults import IcatFault
from mxcubecore_lims.testing.icat.store import IcatStore, NewRow
from mxcubecore_lims.testing.ispyb.fixture import IspybFixtureError, parse_date

__all__ = ["DEFAULT_FIXTURE", "IcatFixtureError", "load_fixture"]

#: The fixture shipped with the package (facility ESRF, beamline ID-DEMO).
DEFAULT_FIXTURE = Path(__file__).resolve().parents[1] / "data" / "icat_fixture.yaml"

_LOADER = "fixture"


class IcatFixtureError(LimsError):
    """A fixture is malformed or refers to something it does not define."""


def _date(value: Any, where: str) -> datetime | None:
    try:
        parsed = parse_date(value)
    except IspybFixtureError as exc:
        raise IcatFixtureError(f"{where}: {exc}") from exc
    return None if parsed is None else (parsed if parsed.tzinfo else parsed.astimezone())


class _Loader:
    def __init__(self, store: IcatStore, data: Mapping[str, Any]) -> None:
        self.store = store
        self.data = data
        self.ids: dict[tuple[str, str], int] = {}

    def need(self, kind: str, name: Any, where: str) -> int:
        try:
            return self.ids[(kind, str(name))]
        except KeyError:
            raise IcatFixtureError(f"{where}: unknown {kind} {name!r}") from None

    def add(self, entity: str, values: dict[str, Any], key: str | None = None, **children: Any) -> int:
        try:
            row_id = self.store.create(NewRow(entity, values, children), _LOADER)
        except IcatFault as fault:
            raise IcatFixtureError(f"{entity} {values.get('name', '')!r}: {fault.message}") from fault
        if key is not None:
            self.ids[(entity, key)] = row_id
        return row_id

    def run(self) -> None:
        facility = dict(self.data.get("facility") or {"name": "ESRF"})
        self.facility = self.add("Facility", facility, str(facility["name"]))
        for entry in self.data.get("users", []):
            self.add("User", dict(entry), str(entry["name"]))
        for entry in self.data.get("instruments", []):
            row = dict(entry)
            scientists = row.pop("scientists", []) or []
            iid = self.add("Instrument", {**row, "facility": self.facility}, str(row["name"]))
            for user in scientists:
                self.add(
                    "InstrumentScientist",
                    {"instrument": iid, "user": self.need("User", user, f"instrument {row['name']}")},
                )
        for kind, entity in (
            ("investigation_types", "InvestigationType"),
            ("dataset_types", "DatasetType"),
            ("sample_types", "SampleType"),
        ):
            for entry in self.data.get(kind, []):
                self.add(entity, {**entry, "facility": self.facility}, str(entry["name"]))
        self._parameter_types()
        for entry in self.data.get("investigations", []):
            self._investigation(dict(entry))

    def _parameter_types(self) -> None:
        merged: dict[str, dict[str, Any]] = {}
        for group in self.data.get("parameter_types", []):
            for name in group.get("names", []):
                row = merged.setdefault(
                    str(name),
                    {
                        "name": str(name),
                        "units": str(group.get("units", "NA")),
                        "valueType": group["valueType"],
                        "facility": self.facility,
                    },
                )
                if row["valueType"] != group["valueType"]:
                    raise IcatFixtureError(
                        f"parameter type {name}: valueType {group['valueType']} contradicts {row['valueType']}"
                    )
                for target in group.get("applicableTo", []):
                    row[f"applicableTo{target}"] = True
        for name, row in merged.items():
            self.add("ParameterType", row, name)

    def _parameters(self, values: Mapping[str, Any], where: str) -> list[NewRow]:
        rows = []
        for name, value in (values or {}).items():
            type_id = self.need("ParameterType", name, where)
            kind = self.store.get("ParameterType", type_id)["valueType"]  # type: ignore[index]
            field: dict[str, Any]
            if kind == "NUMERIC":
                field = {"numericValue": float(value)}
            elif kind == "DATE_AND_TIME":
                field = {"dateTimeValue": _date(value, f"{where} {name}")}
            else:
                field = {"stringValue": str(value)}
            rows.append(NewRow("", {"type": type_id, **field}, {}))
        return rows

    def _investigation(self, entry: dict[str, Any]) -> None:
        name = str(entry.pop("name"))
        where = f"investigation {name}"
        instruments = entry.pop("instruments", []) or []
        users = entry.pop("users", []) or []
        samples = entry.pop("samples", []) or []
        parameters = self._parameters(entry.pop("parameters", {}), where)
        type_id = self.need("InvestigationType", entry.pop("type", "MX"), where)
        for key in ("startDate", "endDate", "releaseDate"):
            if key in entry:
                entry[key] = _date(entry[key], f"{where} {key}")
        entry.setdefault("visitId", name.lower())
        entry.setdefault("title", name)
        for row in parameters:
            row.entity = "InvestigationParameter"
        inv = self.add(
            "Investigation",
            {**entry, "name": name, "facility": self.facility, "type": type_id},
            name,
            parameters=parameters,
            investigationInstruments=[
                NewRow("InvestigationInstrument", {"instrument": self.need("Instrument", i, where)}, {})
                for i in instruments
            ],
            investigationUsers=[
                NewRow(
                    "InvestigationUser",
                    {
                        "user": self.need("User", u["user"], where),
                        "role": str(u.get("role", "Investigator")),
                    },
                    {},
                )
                for u in users
            ],
        )
        sample_type = next(iter(self.data.get("sample_types", [])), None)
        for sample in samples:
            params = self._parameters(sample.get("params", {}), f"{where} sample {sample['name']}")
            for row in params:
                row.entity = "SampleParameter"
            values = {"name": str(sample["name"]), "investigation": inv}
            if sample_type is not None:
                values["type"] = self.need("SampleType", sample_type["name"], where)
            self.add("Sample", values, parameters=params)


def load_fixture(
    store: IcatStore, source: str | Path | Mapping[str, Any], load_rows: bool = True
) -> dict[str, dict[str, str]]:
    """Loads a fixture into ``store`` and returns its ``logins``.

    Args:
        store: The catalogue to fill.
        source: A YAML file or an already parsed mapping.
        load_rows: False to read only the logins (the catalogue is already
            there, e.g. a restarted server on its old database).

    Returns:
        ``plugin -> {username: password}`` from the fixture's ``logins``.

    Raises:
        IcatFixtureError: Bad references, dates or constraint violations.
    """
    if isinstance(source, Mapping):
        data: Mapping[str, Any] = source
    else:
        data = YAML(typ="safe").load(Path(source).read_text("utf-8")) or {}
    if load_rows:
        with store.transaction():
            _Loader(store, data).run()
    logins = data.get("logins") or {}
    return {str(p): {str(u): str(pw) for u, pw in users.items()} for p, users in logins.items()}
