"""MXLIMS documents in and out of the LIMS object a beamline configuration names.

What ``mxcubecore-lims mxlims import`` and ``export`` run: load the
configuration with our loader, log in to its ``lims`` object with the
credentials given (options or ``MXCUBECORE_LIMS_USER`` /
``MXCUBECORE_LIMS_PASSWORD``; the password is never printed or logged),
choose the session, import the shipment or read the session's results back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mxcubecore_lims.errors import LimsAuthenticationError, LimsConfigError, LimsNoSessionError
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.mounts import ShipmentImportReport

if TYPE_CHECKING:
    from mxcubecore_lims.HardwareObjects.AbstractLims import AbstractLims

__all__ = ["configured_lims", "export_from_configured_lims", "import_into_configured_lims"]

USER_VARIABLE = "MXCUBECORE_LIMS_USER"
PASSWORD_VARIABLE = "MXCUBECORE_LIMS_PASSWORD"  # noqa: S105 (the variable's name, not a password)


@contextmanager
def configured_lims(
    config: Sequence[str | Path], user: str | None, password: str | None, session_id: str | None, choose: bool = True
) -> Iterator[AbstractLims]:
    """The configuration's ``lims`` object, logged in, with the session active when the user may use it.

    Args:
        config: The configuration lookup path (first directory holds the beamline).
        user: Login name (default: ``$MXCUBECORE_LIMS_USER``).
        password: Password (default: ``$MXCUBECORE_LIMS_PASSWORD``).
        session_id: The session (default: the one session the user may use now).
        choose: Require the session to be one of the user's selectable ones
            (an export may name a past session the LIMS no longer offers).

    Raises:
        LimsConfigError: No ``lims`` object, or no credentials given.
        LimsNoSessionError: The session is not one of the user's, or none/several to choose from.
    """
    from mxcubecore_lims.config.loader import load_beamline
    from mxcubecore_lims.HardwareObjects.AbstractLims import AbstractLims

    user = user or os.environ.get(USER_VARIABLE)
    password = password if password is not None else os.environ.get(PASSWORD_VARIABLE)
    if not user or password is None:
        raise LimsConfigError(f"give --user and ${PASSWORD_VARIABLE} (or ${USER_VARIABLE}) to log in to the LIMS")
    graph = load_beamline([Path(p) for p in config])
    try:
        lims = next((e.obj for _, role, e in graph.walk() if role == "lims" and isinstance(e.obj, AbstractLims)), None)
        if lims is None:
            raise LimsConfigError("the configuration has no LIMS object of ours in the 'lims' role", config[0])
        manager = lims.login(user, password, False)
        sessions = list(manager.sessions or []) if manager is not None else []
        if not sessions and (choose or session_id is None):
            raise LimsAuthenticationError(f"{user} has no session in this LIMS")
        if session_id is None:
            if len(sessions) != 1:
                listed = ", ".join(f"{s.session_id} ({s.proposal_name})" for s in sessions)
                raise LimsNoSessionError(f"choose the session with --session: {listed}")
            session_id = str(sessions[0].session_id)
        if choose or any(str(s.session_id) == str(session_id) for s in sessions):
            lims.set_active_session_by_id(session_id)
        yield lims
    finally:
        graph.close()


def import_into_configured_lims(
    config: Sequence[str | Path],
    document: MxlimsDocument,
    user: str | None = None,
    password: str | None = None,
    session_id: str | None = None,
) -> ShipmentImportReport:
    """Logs in to the configuration's ``lims`` object and imports the shipment into a session.

    Raises:
        LimsConfigError: No ``lims`` object, or no credentials given.
        LimsNoSessionError: The session is not one of the user's, or none/several to choose from.
        LimsError: Whatever the LIMS or the document refuses (typed).
    """
    with configured_lims(config, user, password, session_id) as lims:
        return lims.import_mxlims(document)


def export_from_configured_lims(
    config: Sequence[str | Path],
    session_id: str | None = None,
    user: str | None = None,
    password: str | None = None,
) -> MxlimsDocument:
    """Logs in to the configuration's ``lims`` object and reads one session's results back as MXLIMS.

    Raises:
        LimsConfigError: No ``lims`` object, or no credentials given.
        LimsNotSupportedError: The LIMS cannot read results back.
        LimsError: Whatever the LIMS refuses (typed).
    """
    with configured_lims(config, user, password, session_id, choose=False) as lims:
        return lims.export_mxlims(session_id)
