"""A hardware object for loader tests: declares typed properties, records its life cycle.

Loaded by the real loaders (ours and mxcubecore's) like any hardware object.
Module and class share a name, as mxcubecore's XML loader needs.
"""

from __future__ import annotations

from typing import Any

from mxcubecore.BaseHardwareObjects import HardwareObject
from pydantic import BaseModel, SecretStr

#: (event, object name) in the order they happened, across all probes.
EVENTS: list[tuple[str, str]] = []


class Endpoint(BaseModel):
    """A nested model, to check typing below the top level."""

    host: str
    port: int
    code: str = ""


class ProbeObject(HardwareObject):
    """Records ``_init``/``init`` calls and which roles it saw at ``init``."""

    class HOConfig(HardwareObject.HOConfig):
        proposal_number: str = ""
        port: int = 0
        enabled: bool = False
        ratio: float = 0.0
        tags: list[str] = []
        endpoint: Endpoint | None = None
        password: SecretStr | None = None
        label: str | None = None
        anything: Any = None
        lookup: str | None = None
        """An object name to fetch from mxcubecore's repository in init()."""

    def _init(self) -> None:
        EVENTS.append(("_init", self.name))
        super()._init()

    def init(self) -> None:
        self.roles_at_init = sorted(self._hwobj_by_role)
        if self.config.lookup:
            from mxcubecore import HardwareRepository as HWR

            self.looked_up = HWR.get_hardware_repository().get_hardware_object(self.config.lookup)
        EVENTS.append(("init", self.name))
        super().init()
