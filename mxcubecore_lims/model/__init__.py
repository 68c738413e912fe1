"""Typed models of the data the LIMS hardware objects exchange.

* Sessions (:mod:`~mxcubecore_lims.model.session`): mxcubecore's own
  classes, re-exported.
* Every dict structure the collect routines pass to the LIMS object, or get
  back from it: :class:`Sample`, :class:`SampleUpdate`,
  :class:`DataCollection`, :class:`DataCollectionGroup`,
  :class:`BeamlineSetup`, :class:`Image`, :class:`RobotAction`,
  :class:`EnergyScan`, :class:`XfeSpectrum`, :class:`Workflow`, ... Each
  reads the legacy dict with ``from_legacy()`` and writes it back with
  ``to_legacy()`` (see :class:`LegacyModel`).

The session names are imported on first use: they are mxcubecore classes,
and importing mxcubecore has side effects (``sys.path``, logging handlers)
that protocol clients importing the other models must not pay for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mxcubecore_lims.model._legacy import LegacyModel, parse_timestamp
from mxcubecore_lims.model.beamline_setup import BeamlineSetup
from mxcubecore_lims.model.data_collection import (
    DataCollection,
    FileInfo,
    Oscillation,
    ResolutionRange,
)
from mxcubecore_lims.model.data_collection_group import DataCollectionGroup
from mxcubecore_lims.model.energy_scan import (
    EnergyScan,
    EnergyScanSampleAssociation,
    EnergyScanStoreResult,
)
from mxcubecore_lims.model.image import Image
from mxcubecore_lims.model.robot_action import RobotAction
from mxcubecore_lims.model.sample import (
    DiffractionPlan,
    Sample,
    SampleReference,
    SampleUpdate,
)
from mxcubecore_lims.model.workflow import Workflow
from mxcubecore_lims.model.xfe_spectrum import XfeSpectrum, XfeSpectrumStoreResult

if TYPE_CHECKING:
    from mxcubecore_lims.model.session import (
        Lims,
        LimsSessionManager,
        LimsUser,
        Proposal,
        Session,
    )

_SESSION_NAMES = ("Lims", "LimsSessionManager", "LimsUser", "Proposal", "Session")

__all__ = [  # noqa: RUF022 (grouped by kind, each group sorted)
    # base
    "LegacyModel",
    "parse_timestamp",
    # legacy dict models
    "BeamlineSetup",
    "DataCollection",
    "DataCollectionGroup",
    "DiffractionPlan",
    "EnergyScan",
    "EnergyScanSampleAssociation",
    "EnergyScanStoreResult",
    "FileInfo",
    "Image",
    "Oscillation",
    "ResolutionRange",
    "RobotAction",
    "Sample",
    "SampleReference",
    "SampleUpdate",
    "Workflow",
    "XfeSpectrum",
    "XfeSpectrumStoreResult",
    # sessions (mxcubecore's classes, imported on first use): _SESSION_NAMES, spelled
    # out so that type checkers see them exported
    "Lims",
    "LimsSessionManager",
    "LimsUser",
    "Proposal",
    "Session",
]


def __getattr__(name: str) -> Any:
    """Imports the session models (and so mxcubecore) on first access."""
    if name in _SESSION_NAMES:
        session = importlib.import_module("mxcubecore_lims.model.session")
        value = getattr(session, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
