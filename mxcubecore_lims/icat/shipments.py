"""MXLIMS shipments into ICAT: one Sample per pin, where it sits and its plan as SampleParameters.

The parameters are the ones :mod:`mxcubecore_lims.icat.samples` reads back
(so ``get_samples`` offers what was imported), plus the diffraction plan as
``SampleDiffractionPlan_<key>`` parameters (e.g.
``SampleDiffractionPlan_aimedResolution``).

Safe to repeat and to resume: ICAT's Sample is unique by (investigation,
name), so samples already in the investigation are left alone (and checked
to sit where the document says), and the missing ones are created, a puck at
a time with ``createMany`` (all of a puck or none of it). An import stopped
half way (a server gone, a lost answer) completes when run again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mxcubecore_lims.errors import LimsDataError, MxlimsShipmentError
from mxcubecore_lims.icat.gateway import IcatGateway
from mxcubecore_lims.icat.samples import PLAN_PARAMETER_PREFIX, SAMPLE_PARAMETERS
from mxcubecore_lims.mxlims.mounts import MountedSample, ShipmentImportReport

__all__ = ["IcatShipmentImporter", "sample_parameters"]

log = logging.getLogger(__name__)

_TO_PARAMETER = {key: name for name, key in SAMPLE_PARAMETERS.items()}
#: Without these, ``get_samples`` would not offer the sample (it could not be mounted).
_ESSENTIAL = ("SampleChanger_position", "SampleTrackingContainer_position")


def sample_parameters(mounted: MountedSample) -> dict[str, Any]:
    """SampleParameter type name -> value for one mountable sample."""
    entry = mounted.legacy()
    parameters: dict[str, Any] = {}
    for key, value in entry.items():
        name = _TO_PARAMETER.get(key)
        if name is not None and key != "sampleName":
            parameters[name] = value
    if mounted.puck is not None:
        if mounted.puck.puck_type:
            parameters["SampleTrackingContainer_type"] = mounted.puck.puck_type
        if mounted.puck.number_positions:
            parameters["SampleTrackingContainer_capacity"] = mounted.puck.number_positions
    if "dewarCode" in entry:
        parameters["SampleTrackingParcel_name"] = entry["dewarCode"]
    for key, value in entry.get("diffractionPlan", {}).items():
        parameters[PLAN_PARAMETER_PREFIX + key] = value
    return parameters


@dataclass(frozen=True)
class _ParameterType:
    id: int
    value_type: str


class IcatShipmentImporter:
    """Creates a shipment's samples in one investigation.

    Args:
        gateway: The ICAT gateway of the LIMS object.
        user: The gateway session key to act as.
    """

    def __init__(self, gateway: IcatGateway, user: str) -> None:
        self.gateway = gateway
        self.user = user

    def run(self, investigation_id: int, mounted: Sequence[MountedSample], lims: str = "ICAT") -> ShipmentImportReport:
        """Imports the samples not yet in the investigation.

        Raises:
            MxlimsShipmentError: Two pins have one sample name, or a sample of
                that name is already elsewhere in the investigation.
            LimsDataError: ICAT lacks a parameter type a mountable sample needs.
        """
        wanted = self._named(mounted)
        parameters = {name: sample_parameters(sample) for name, sample in wanted.items()}
        existing = self._existing(investigation_id)
        used = {key for values in parameters.values() for key in values}
        kinds = self._parameter_types(used)
        skipped = sorted(used - set(kinds))
        missing = [name for name in _ESSENTIAL if name in skipped]
        if missing:
            raise LimsDataError("ParameterType", "name", missing[0], "ICAT has no such sample parameter type")
        todo: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        found = 0
        for name, sample in wanted.items():
            if name in existing:
                self._check_place(sample, name, parameters[name], existing[name])
                found += 1
            else:
                todo.setdefault(sample.container_code or "", []).append((name, parameters[name]))
        created = 0
        for puck, batch in todo.items():
            created += self._create(investigation_id, puck, batch, kinds)
        return ShipmentImportReport(
            lims,
            {"sample": created},
            {"sample": found},
            len(wanted),
            tuple(f"ICAT parameter type {n}" for n in skipped),
        )

    @staticmethod
    def _named(mounted: Sequence[MountedSample]) -> dict[str, MountedSample]:
        named: dict[str, MountedSample] = {}
        for sample in mounted:
            name = sample.sample_name
            if not name:
                raise MxlimsShipmentError(sample.pointer, "has no sample name: ICAT names every sample")
            if name in named:
                raise MxlimsShipmentError(
                    sample.pointer,
                    f"has the sample name {name!r} of {named[name].pointer}: ICAT sample names are unique",
                )
            named[name] = sample
        return named

    def _existing(self, investigation_id: int) -> dict[str, dict[str, Any]]:
        def read(client: Any) -> list[Any]:
            query = self.gateway.query(
                "Sample", conditions={"investigation.id": f"= {int(investigation_id)}"}, includes=["parameters.type"]
            )
            return list(client.search(query))

        out: dict[str, dict[str, Any]] = {}
        for sample in self.gateway.call(self.user, "read samples", read):
            values = {}
            for parameter in sample.parameters or []:
                value = parameter.stringValue if parameter.stringValue is not None else parameter.numericValue
                values[str(parameter.type.name)] = value
            out[str(sample.name)] = values
        return out

    @staticmethod
    def _check_place(sample: MountedSample, name: str, mine: Mapping[str, Any], held: Mapping[str, Any]) -> None:
        for parameter in _ESSENTIAL:
            theirs = held.get(parameter)
            if theirs is not None and _text(theirs) != _text(mine.get(parameter)):
                raise MxlimsShipmentError(
                    sample.pointer,
                    f"ICAT already has a sample {name!r} with {parameter} {_text(theirs)}, not {_text(mine.get(parameter))}",
                )

    def _parameter_types(self, names: set[str]) -> dict[str, _ParameterType]:
        def read(client: Any) -> list[Any]:
            return list(client.search(self.gateway.query("ParameterType", conditions={"applicableToSample": "= True"})))

        found = self.gateway.call(self.user, "read ParameterType", read)
        return {str(t.name): _ParameterType(int(t.id), str(t.valueType)) for t in found if str(t.name) in names}

    def _create(
        self,
        investigation_id: int,
        puck: str,
        batch: list[tuple[str, dict[str, Any]]],
        kinds: Mapping[str, _ParameterType],
    ) -> int:
        def create(client: Any) -> int:
            investigation = client.new("Investigation", id=int(investigation_id))
            beans = []
            for name, values in batch:
                bean = client.new("Sample", name=name, investigation=investigation)
                for parameter, value in values.items():
                    kind = kinds.get(parameter)
                    if kind is not None:
                        bean.parameters.append(_parameter(client, kind, value))
                beans.append(bean)
            return len(client.createMany(beans))

        log.info("ICAT: creating %d samples of puck %s", len(batch), puck or "(none)")
        return int(self.gateway.call(self.user, f"create the samples of puck {puck}", create))


def _parameter(client: Any, kind: _ParameterType, value: Any) -> Any:
    parameter = client.new("SampleParameter", type=client.new("ParameterType", id=kind.id))
    if kind.value_type == "NUMERIC":
        parameter.numericValue = float(value)
    else:
        parameter.stringValue = _text(value)
    return parameter


def _text(value: Any) -> str:
    # Positions come back from NUMERIC parameters as 3.0; "3" either way.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)
