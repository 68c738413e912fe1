"""The ingester: ``mxcubecore-lims ingest --config FILE`` (DESIGN: the broker route).

It takes the LIMS writes that beamlines publish with ``delivery: broker``
(and the datasets pyicat-plus publishes) off the broker and writes them to
ICAT, with python-icat, and to ISPyB, with an ISPyB LIMS object's own
backend. The modules:

* :mod:`.settings`: the configuration file;
* :mod:`.writers`: one message into the LIMS, once (checked in the LIMS);
* :mod:`.worker`: the consuming loop: acknowledgements, retries, the
  dead-letter queue, reconnection, SIGTERM;
* :mod:`.lanes`: one consuming loop per LIMS in one process.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from mxcubecore_lims.errors import LimsConfigError
from mxcubecore_lims.ingest.lanes import Lanes
from mxcubecore_lims.ingest.settings import IngestSettings, IspybTarget, read_settings
from mxcubecore_lims.ingest.worker import Ingester, IngestStats
from mxcubecore_lims.ingest.writers import IcatWriter, IspybWriter
from mxcubecore_lims.outbox import is_unavailable

__all__ = ["IngestSettings", "IngestStats", "Ingester", "Lanes", "build_ingester", "read_settings"]

log = logging.getLogger(__name__)


def _ispyb_object(settings: IngestSettings, target: IspybTarget) -> tuple[Any, Any]:
    """Loads the ISPyB LIMS object the configuration names (its outbox closed: the ingester writes directly)."""
    from mxcubecore_lims.config.loader import load_beamline
    from mxcubecore_lims.HardwareObjects.AbstractLims import AbstractLims

    directory = Path(target.configuration)
    if not directory.is_absolute() and settings.source:
        directory = Path(settings.source).parent / directory
    with AbstractLims.replay_off():
        loaded = load_beamline(directory, strict=True, register=False)
    lims = getattr(loaded.beamline, target.role, None)
    if lims is None:
        raise LimsConfigError(f"ispyb.role: the configuration {directory} has no object with role {target.role!r}")
    if getattr(lims, "outbox", None) is not None:
        lims.close_outbox()
    return lims, loaded


def build_ingester(settings: IngestSettings) -> Lanes:
    """The ingester a configuration describes: one consumer per LIMS, its writer ready (ICAT logged in).

    Raises:
        LimsConfigError: The ISPyB configuration cannot be loaded or has no such object.
        LimsAuthenticationError: ICAT refused the ingester's account.
    """
    icat = ispyb = None
    keep: Any = None
    if settings.icat is not None:
        icat = IcatWriter(settings.icat)
        try:
            icat.login()
        except Exception as error:
            if not is_unavailable(error):
                raise
            # ICAT away now is no reason not to start: the first dataset logs in (and waits for it).
            log.warning("ICAT does not answer yet (%s); logging in with the first dataset", error)
    if settings.ispyb is not None:
        lims, keep = _ispyb_object(settings, settings.ispyb)
        ispyb = IspybWriter(lims)
    name = f"ingester {socket.gethostname()}:{os.getpid()}"
    stopping = threading.Event()
    lanes = []
    # The ISPyB lane first: it runs in the main thread, where its LIMS object was loaded.
    if ispyb is not None:
        lanes.append(Ingester(settings, ispyb=ispyb, name=f"{name} ISPyB", stopping=stopping))
    if icat is not None:
        lanes.append(Ingester(settings, icat=icat, name=f"{name} ICAT", stopping=stopping))
    ingester = Lanes(lanes, stopping)
    # The loaded graph holds the strong references mxcubecore's weak registry needs.
    ingester.keep_alive = keep
    return ingester
