"""MXLIMS documents in and out of the LIMS object a beamline configuration names.

What ``mxcubecore-lims mxlims import`` runs: load the configuration with our
loader, log in to its ``lims`` object with the credentials given (options or
``MXCUBECORE_LIMS_USER`` / ``MXCUBECORE_LIMS_PASSWORD``; the password is
never printed or logged), choose the session, import the shipment.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from mxcubecore_lims.errors import LimsAuthenticationError, LimsConfigError, LimsNoSessionError
from mxcubecore_lims.mxlims.document import MxlimsDocument
from mxcubecore_lims.mxlims.mounts import ShipmentImportReport

__all__ = ["import_into_configured_lims"]

USER_VARIABLE = "MXCUBECORE_LIMS_USER"
PASSWORD_VARIABLE = "MXCUBECORE_LIMS_PASSWORD"  # noqa: S105 (the variable's name, not a password)


def import_into_configured_lims(
    config: Sequence[str | Path],
    document: MxlimsDocument,
    user: str | None = None,
    password: str | None = None,
    session_id: str | None = None,
) -> ShipmentImportReport:
    """Logs in to the configuration's ``lims`` object and imports the shipment into a session.

    Args:
        config: The configuration lookup path (first directory holds the beamline).
        document: The shipment.
        user: Login name (default: ``$MXCUBECORE_LIMS_USER``).
        password: Password (default: ``$MXCUBECORE_LIMS_PASSWORD``).
        session_id: The session (default: the one session the user may use now).

    Raises:
        LimsConfigError: No ``lims`` object, or no credentials given.
        LimsNoSessionError: The session is not one of the user's, or none/several to choose from.
        LimsError: Whatever the LIMS or the document refuses (typed).
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
        if manager is None or not manager.sessions:
            raise LimsAuthenticationError(f"{user} has no session in this LIMS")
        sessions = list(manager.sessions)
        if session_id is None:
            if len(sessions) != 1:
                listed = ", ".join(f"{s.session_id} ({s.proposal_name})" for s in sessions)
                raise LimsNoSessionError(f"choose the session with --session: {listed}")
            session_id = str(sessions[0].session_id)
        lims.set_active_session_by_id(session_id)
        return lims.import_mxlims(document)
    finally:
        graph.close()
