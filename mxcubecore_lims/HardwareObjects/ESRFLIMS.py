"""ESRF's LIMS object: ICAT (role ``drac``) and ISPyB (role ``ispyb``) at once.

A configured :class:`~mxcubecore_lims.HardwareObjects.CompositeLims.CompositeLims`:
people log in to ICAT, which also decides which sessions they may use;
choosing a session points the ISPyB object at the ISPyB session of the same
proposal (``MX-415`` in ICAT is ISPyB's ``MX`` ``415``), created for a local
login when ISPyB has none. Samples come from either (``get_samples("ICAT")``
or ``get_samples("ISPyB")``); every result goes to both, the ids callers get
back are ISPyB's.

XML, as the ``lims.xml`` files of ESRF beamlines are laid out::

    <object class="mxcubecore_lims.HardwareObjects.ESRFLIMS">
      <object href="/session" role="session"/>
      <object href="/lims-icat" role="drac"/>
      <object href="/lims-ispyb" role="ispyb"/>
    </object>
"""

from __future__ import annotations

from mxcubecore_lims.HardwareObjects.CompositeLims import CompositeLims

__all__ = ["ESRFLIMS"]


class ESRFLIMS(CompositeLims):
    """ICAT decides, ISPyB follows; results to both, ISPyB's ids returned."""

    #: Roles this object looks up (shown by ``mxcubecore-lims describe``).
    CONFIG_ROLES = {
        "drac": "the ICATLIMS object: logins, sessions, ICAT datasets",
        "ispyb": "the ISPyB LIMS object (proposal- or user-type) that follows the chosen session",
    }

    class HOConfig(CompositeLims.HOConfig):
        """As the composite, with ESRF's roles as defaults."""

        authority_role: str | None = "drac"
        """The ICAT LIMS object."""
        primary_role: str | None = "ispyb"
        """The ISPyB LIMS object, whose ids callers get."""
