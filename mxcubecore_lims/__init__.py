"""LIMS hardware objects for MXCuBE (mxcubecore), and what they need.

Runtime code never imports :mod:`mxcubecore_lims.testing`.
"""

__version__ = "0.1.0"
