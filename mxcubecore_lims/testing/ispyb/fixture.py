"""YAML fixtures for the emulated ISPyB server.

A fixture is a mapping of lists; every entry's keys are the table's columns
(see :data:`.store.TABLES`), plus these references resolved by name:

* ``persons``: ``laboratory`` (a laboratory ``name``), ``proposals`` (list of
  proposal names such as ``mx415``), ``login`` and ``password`` (the ISPyB
  credentials of that person);
* ``proposals``: ``person`` (a login: the proposal's main person);
* ``sessions``: ``proposal`` (a proposal name); ``startDate``/``endDate``
  accept relative dates (below);
* ``proteins``: ``proposal``; ``crystals``: ``protein`` (an acronym),
  ``diffractionPlan`` (a mapping, stored as a DiffractionPlan row);
* ``containers``: plain columns (``code``, ``sampleChangerLocation``, ...);
  with ``proposal``, ``shippingName`` and ``dewarCode``, the container sits
  in a Dewar of a Shipping of that proposal (made once per name), as every
  real ISPyB container does;
* ``samples``: ``crystal`` (a crystal name), ``container`` (a container
  code), ``diffractionPlan`` (a mapping).

Relative dates keep fixtures current: ``today``, ``today+2``, ``today-30``,
optionally followed by a time (``today+2 07:59:59``), or ``now``/``now+1``
(days), or any ISO 8601 date-time.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from mxcubecore_lims.errors import LimsError
from mxcubecore_lims.testing.ispyb.store import Store

__all__ = ["DEFAULT_FIXTURE", "IspybFixtureError", "load_fixture", "parse_date"]

#: The fixture shipped with the package (beamline ID-DEMO).
DEFAULT_FIXTURE = Path(__file__).resolve().parents[1] / "data" / "ispyb_fixture.yaml"

_RELATIVE = re.compile(r"^(today|now)\s*(?:([+-])\s*(\d+))?(?:\s+(\d{1,2}:\d{2}(?::\d{2})?))?$")


class IspybFixtureError(LimsError):
    """A fixture file is malformed or refers to something it does not define."""


def parse_date(value: Any, now: datetime | None = None) -> datetime | None:
    """Resolves a fixture date (relative or absolute) to a naive local datetime."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    now = now or datetime.now().replace(microsecond=0)
    match = _RELATIVE.match(str(value).strip())
    if not match:
        try:
            return datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise IspybFixtureError(f"bad date {value!r} (use ISO 8601 or today[+-N] [HH:MM])") from exc
    word, sign, days, clock = match.groups()
    base = now if word == "now" else datetime.combine(now.date(), time())
    if days:
        base += timedelta(days=int(days) * (-1 if sign == "-" else 1))
    if clock:
        hour, minute, *second = (int(part) for part in clock.split(":"))
        base = datetime.combine(base.date(), time(hour, minute, second[0] if second else 0))
    return base


def _need(mapping: dict[str, int], name: Any, what: str, where: str) -> int:
    try:
        return mapping[str(name).lower()]
    except KeyError:
        raise IspybFixtureError(f"{where}: unknown {what} {name!r}") from None


def load_fixture(store: Store, source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """Loads a fixture (file or already parsed mapping) into ``store``.

    Returns:
        The parsed mapping.

    Raises:
        IspybFixtureError: Unknown references or bad dates.
    """
    if isinstance(source, dict):
        data = source
    else:
        data = YAML(typ="safe").load(Path(source).read_text("utf-8")) or {}
    labs: dict[str, int] = {}
    persons: dict[str, int] = {}
    proposals: dict[str, int] = {}
    proteins: dict[str, int] = {}
    crystals: dict[str, int] = {}
    containers: dict[str, int] = {}

    for entry in data.get("laboratories", []):
        labs[str(entry["name"]).lower()] = store.insert("Laboratory", dict(entry))

    person_proposals: list[tuple[int, list[str]]] = []
    for entry in data.get("persons", []):
        row = dict(entry)
        lab = row.pop("laboratory", None)
        if lab is not None:
            row["laboratoryId"] = _need(labs, lab, "laboratory", f"person {row.get('login')}")
        links = row.pop("proposals", []) or []
        pid = store.insert("Person", row)
        persons[str(row.get("login")).lower()] = pid
        person_proposals.append((pid, links))

    for entry in data.get("proposals", []):
        row = dict(entry)
        row["number"] = str(row["number"])
        person = row.pop("person", None)
        if person is not None:
            row["personId"] = _need(persons, person, "person", f"proposal {row['code']}")
        row.setdefault("timeStamp", parse_date("now"))
        proposals[(row["code"] + row["number"]).lower()] = store.insert("Proposal", row)

    for pid, links in person_proposals:
        for name in links:
            store.insert(
                "ProposalHasPerson",
                {"personId": pid, "proposalId": _need(proposals, name, "proposal", "person")},
            )

    for entry in data.get("sessions", []):
        row = dict(entry)
        row["proposalId"] = _need(proposals, row.pop("proposal"), "proposal", "session")
        for key in ("startDate", "endDate", "lastUpdate", "timeStamp"):
            if key in row:
                row[key] = parse_date(row[key])
        row.setdefault("lastUpdate", row.get("endDate"))
        row.setdefault("timeStamp", parse_date("now"))
        store.insert("BLSession", row)

    for entry in data.get("proteins", []):
        row = dict(entry)
        row["proposalId"] = _need(proposals, row.pop("proposal"), "proposal", "protein")
        proteins[str(row["acronym"]).lower()] = store.insert("Protein", row)

    for entry in data.get("crystals", []):
        row = dict(entry)
        where = f"crystal {row.get('name')}"
        row["proteinId"] = _need(proteins, row.pop("protein"), "protein", where)
        plan = row.pop("diffractionPlan", None)
        if plan:
            row["diffractionPlanId"] = store.insert("DiffractionPlan", dict(plan))
        crystals[str(row["name"]).lower()] = store.insert("Crystal", row)

    shippings: dict[tuple[int, str], int] = {}
    dewars: dict[tuple[int, str], int] = {}
    for entry in data.get("containers", []):
        row = dict(entry)
        owner = row.pop("proposal", None)
        if owner is not None and row.get("shippingName") and row.get("dewarCode"):
            proposal_id = _need(proposals, owner, "proposal", f"container {row.get('code')}")
            shipping_key = (proposal_id, str(row["shippingName"]))
            if shipping_key not in shippings:
                shippings[shipping_key] = store.insert(
                    "Shipping",
                    {"proposalId": proposal_id, "shippingName": row["shippingName"], "creationDate": parse_date("now")},
                )
            dewar_key = (shippings[shipping_key], str(row["dewarCode"]))
            if dewar_key not in dewars:
                dewars[dewar_key] = store.insert("Dewar", {"shippingId": dewar_key[0], "code": row["dewarCode"]})
            row["dewarId"] = dewars[dewar_key]
        if "sampleChangerLocation" in row:
            row["sampleChangerLocation"] = str(row["sampleChangerLocation"])
        containers[str(row["code"]).lower()] = store.insert("Container", row)

    for entry in data.get("samples", []):
        row = dict(entry)
        where = f"sample {row.get('name')}"
        row["crystalId"] = _need(crystals, row.pop("crystal"), "crystal", where)
        if "container" in row:
            row["containerId"] = _need(containers, row.pop("container"), "container", where)
        if "location" in row:
            row["location"] = str(row["location"])
        plan = row.pop("diffractionPlan", None)
        if plan:
            row["diffractionPlanId"] = store.insert("DiffractionPlan", dict(plan))
        store.insert("BLSample", row)

    for entry in data.get("detectors", []):
        store.insert("Detector", dict(entry))
    return data
