"""ICAT through python-icat: client gateway, session and sample mapping, metadata.

No mxcubecore imports here (see DESIGN §2); the hardware object
:mod:`mxcubecore_lims.HardwareObjects.ICATLIMS` puts the pieces together.
"""
