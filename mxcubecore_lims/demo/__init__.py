"""The emulated-beamline demo, ``mxcubecore-lims demo``.

* :mod:`~mxcubecore_lims.demo.beamtime`: the main job, a scripted stretch of
  beamtime (logins, collections, an outage, the outboxes catching up) against
  the emulated ISPyB, ICAT and a real slapd;
* :mod:`~mxcubecore_lims.demo.describe`: ``--describe``, the loaded object graph.
"""

from mxcubecore_lims.demo.describe import describe_beamline, load_demo

__all__ = ["describe_beamline", "load_demo"]
