"""Which beamline this LIMS object serves, and whether a session is scheduled on it now.

The beamline name comes from the ``session`` role object of the LIMS object
when it has one, otherwise from ``HWR.beamline.session``; it is resolved on
first use, since the LIMS object may load before the session object.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from mxcubecore import HardwareRepository as HWR
from mxcubecore.HardwareObjects.abstract import AbstractLims as core_abstract_lims

from mxcubecore_lims.errors import LimsConfigError

__all__ = ["BeamlineSchedule"]


class BeamlineSchedule(core_abstract_lims.AbstractLims):
    """Mixin of the LIMS objects: the beamline name and the schedule checks against it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._beamline_name: str | None = None

    def _session_object(self) -> Any:
        """The ``session`` role object, else ``HWR.beamline.session``.

        Raises:
            LimsConfigError: Neither exists.
        """
        session = self.get_object_by_role("session")
        if session is None and HWR.beamline is not None:
            session = getattr(HWR.beamline, "session", None)
        if session is None:
            raise LimsConfigError(f"LIMS object '{self.name}' has no 'session' role and HWR.beamline has no session")
        return session

    @property
    def beamline_name(self) -> str:
        """Name of this beamline, from the session object; ``"unknown"`` until there is one.

        A property that never raises: mxcubecore's ``init()`` reads every
        attribute of the object, before the session may have loaded.
        """
        if self._beamline_name is None:
            try:
                self._beamline_name = self._session_object().beamline_name
            except LimsConfigError:
                return "unknown"
        return self._beamline_name

    @beamline_name.setter
    def beamline_name(self, value: str) -> None:
        # mxcubecore's constructor assigns "unknown"; only a real name counts.
        self._beamline_name = None if value == "unknown" else value

    def is_scheduled_on_host_beamline(self, beamline: str) -> bool:
        """True when ``beamline`` names this beamline (case and spaces ignored)."""
        return beamline.strip().upper() == self.beamline_name.strip().upper()

    def is_scheduled_now(self, start_date: str | None, end_date: str | None) -> bool:
        """True when today lies between the two dates (inclusive)."""
        return self.is_time_between(start_date, end_date)

    def is_time_between(self, start_date: str | None, end_date: str | None, check_time: date | None = None) -> bool:
        """True when ``check_time`` (default today, UTC) lies between two ISO dates."""
        if not start_date or not end_date:
            return False
        begin = datetime.fromisoformat(str(start_date)).date()
        end = datetime.fromisoformat(str(end_date)).date()
        today = check_time or datetime.utcnow().date()
        return begin <= today <= end
