"""The parts the LIMS hardware objects are built from, one seam per module.

:class:`~mxcubecore_lims.HardwareObjects.AbstractLims.AbstractLims` and
:class:`~mxcubecore_lims.HardwareObjects.ICATLIMS.ICATLIMS` are assembled from
the mixins here; each module holds one job:

* :mod:`.beamline_schedule`: which beamline this is, and whether a session is
  scheduled on it now.
* :mod:`.session_manager`: users logged in, the sessions they may use, the
  selectable and the active session.
* :mod:`.outbox_wiring`: the journal every write goes through (DESIGN §6),
  and which backend hook delivers each kind of write.
* :mod:`.collection_writes`: the store templates of data collections, groups,
  beamline set-ups and images.
* :mod:`.record_writes`: the store templates of sample updates, robot actions,
  energy scans, fluorescence spectra and workflows.
* :mod:`.icat_sessions`: ICAT login, identities and the investigations offered
  as sessions.
* :mod:`.icat_uploads`: what ICAT keeps of collections, energy scans and
  spectra: datasets and ``metadata.json``.

The mixins subclass mxcubecore's ``AbstractLims``, so that they see, and
override, the hardware-object methods they build on. They never import
:mod:`mxcubecore_lims.HardwareObjects` (which assembles them) nor
:mod:`mxcubecore_lims.testing`.

This module holds the type aliases they share.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Id", "LegacyDict"]

#: A dict as mxcubecore's collect routines pass it (and get it back).
LegacyDict = dict[str, Any]
#: An id the LIMS gives back; None when it gave none.
Id = int | None
