"""pytest plugin shipped with mxcubecore-lims (fixtures for emulated LIMS servers)."""
