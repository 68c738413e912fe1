"""mxcubeweb, the real MXCuBE client, on the emulated beamline with our LIMS objects.

* :mod:`~mxcubecore_lims.web.overlay` writes the configuration directory that goes
  first on the lookup path: the beamline with the chosen LIMS object in the ``lims``
  role, and mxcubeweb's own ``mxcube-web/`` files with the port and a user database.
* :mod:`~mxcubecore_lims.web.patches` holds every change made to mxcubeweb at run
  time, each with the defect or missing seam it answers (``docs/mxcubeweb.md``).
* :mod:`~mxcubecore_lims.web.launcher` starts the emulated LIMS servers and
  mxcubeweb's server (``mxcubecore-lims web``).

mxcubeweb is an optional dependency (the ``web`` extra): nothing here imports it
before it is asked to run.
"""
