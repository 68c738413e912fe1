"""Session models: mxcubecore's own classes, re-exported.

mxcubeweb reads and serialises these objects (``session.__dict__``,
``Lims.dict()``), so they must be mxcubecore's classes, not look-alikes.
"""

from mxcubecore.model.lims_session import (
    Lims,
    LimsSessionManager,
    LimsUser,
    Proposal,
    Session,
)

__all__ = ["Lims", "LimsSessionManager", "LimsUser", "Proposal", "Session"]
