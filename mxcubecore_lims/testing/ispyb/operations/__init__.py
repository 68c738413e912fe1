"""Handlers of the emulated ISPyB operations (behaviour of reference §2).

Each handler takes the :class:`~mxcubecore_lims.testing.ispyb.store.Store`
and the request's parameters (already converted to Python values by
:mod:`mxcubecore_lims.testing.ispyb.server`; value objects are dicts) and
returns a Python value: a dict for a value object, a list for a repeated
result, a scalar, or ``None`` for an empty reply. Errors the real server
would turn into a SOAP Fault raise :class:`IspybFault`.

The handlers are grouped by service: :mod:`.proposals`
(``ToolsForShippingWebService``), :mod:`.sessions` and :mod:`.collection`
(``ToolsForCollectionWebService``), :mod:`.samples`
(``ToolsForBLSampleWebService``) and :mod:`.crims` (``CrimsWebService``, with
Gson's JSON reading and writing in :mod:`.gson`), on the helpers of
:mod:`.common`; :mod:`.handlers` maps each operation to its handler
(:data:`HANDLERS`). The handlers of :data:`CALLER_OPERATIONS` are also given
the authenticated login, as ``caller=``.
"""

from __future__ import annotations

from mxcubecore_lims.testing.ispyb.operations.collection import EXPERIMENT_TYPES
from mxcubecore_lims.testing.ispyb.operations.collection import ROTATION_AXES as ROTATION_AXES
from mxcubecore_lims.testing.ispyb.operations.common import ECHO, IspybFault
from mxcubecore_lims.testing.ispyb.operations.crims import CRIMS_PRINCIPAL
from mxcubecore_lims.testing.ispyb.operations.handlers import CALLER_OPERATIONS, HANDLERS

__all__ = ["CALLER_OPERATIONS", "CRIMS_PRINCIPAL", "ECHO", "EXPERIMENT_TYPES", "HANDLERS", "IspybFault"]
