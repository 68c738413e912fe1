"""A LIMS object over an in-memory catalogue, for testing AbstractLims' shared logic.

It implements only the backend hooks, trivially: logins are checked against
configured users, writes are appended to lists and get increasing ids. What is
under test is everything :class:`AbstractLims` does around those hooks.
"""

from __future__ import annotations

import itertools
from typing import Any

from mxcubecore_lims.errors import LimsAuthenticationError
from mxcubecore_lims.HardwareObjects.AbstractLims import AbstractLims
from mxcubecore_lims.model import Lims, LimsSessionManager, Sample, Session


class MemoryLims(AbstractLims):
    """User-type LIMS whose users, sessions and samples come from configuration."""

    class HOConfig(AbstractLims.HOConfig):
        users: dict[str, Any] = {}
        """user name -> {password, full_name, sessions: [session ids]}"""
        sessions: list[dict[str, Any]] = []
        """Session model fields, one dict per session."""
        samples: list[dict[str, Any]] = []
        """Legacy sample dicts of every session."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.written: list[tuple[str, Any]] = []
        self._ids = itertools.count(1000)
        self._last_user = ""

    def _next_id(self) -> int:
        return next(self._ids)

    def _record(self, kind: str, value: Any) -> int:
        self.written.append((kind, value))
        return self._next_id()

    def get_lims_name(self) -> list[Lims]:
        return [Lims(name="memory", description="in-memory catalogue")]

    def get_user_name(self) -> str:
        return self._last_user

    def get_full_user_name(self) -> str:
        return self.config.users[self._last_user]["full_name"]

    def is_user_login_type(self) -> bool:
        return True

    def echo(self) -> bool:
        return True

    def login(self, login_id: str, password: str, is_local_host: bool = False) -> LimsSessionManager:
        user = self.config.users.get(login_id)
        if user is None or user["password"] != password:
            raise LimsAuthenticationError(f"wrong credentials for '{login_id}'")
        sessions = [Session(**s) for s in self.config.sessions if s["session_id"] in user["sessions"]]
        self._last_user = login_id
        self.add_user(login_id, sessions)
        return self.session_manager

    def get_proposals_by_user(self, login_id: str) -> list[dict]:
        return []

    def _fetch_samples(self, lims_name: str) -> list[Sample]:
        return [Sample.from_legacy(dict(sample)) for sample in self.config.samples]

    def _write_sample_update(self, sample):
        self._record("sample_update", sample)

    def _write_data_collection(self, collection, setup):
        return self._record("data_collection", (collection, setup)), 7

    def _write_data_collection_update(self, collection):
        self._record("data_collection_update", collection)

    def _write_data_collection_end(self, collection):
        self._record("data_collection_end", collection)

    def _write_data_collection_group(self, group) -> int | None:
        return self._record("data_collection_group", group)

    def _write_beamline_setup(self, session_id, setup):
        return self._record("beamline_setup", (session_id, setup))

    def _write_image(self, image):
        return self._record("image", image)

    def _write_robot_action(self, action):
        return self._record("robot_action", action)

    def _write_energy_scan(self, scan):
        return self._record("energy_scan", scan)

    def _write_xfe_spectrum(self, spectrum):
        return self._record("xfe_spectrum", spectrum)

    def _write_workflow(self, workflow):
        return self._record("workflow", workflow), self._next_id(), self._next_id()
