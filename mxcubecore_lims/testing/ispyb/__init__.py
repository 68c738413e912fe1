"""An emulated ISPyB SOAP server for tests (see :mod:`.server`)."""

from mxcubecore_lims.testing.ispyb.fixture import DEFAULT_FIXTURE, load_fixture
from mxcubecore_lims.testing.ispyb.operations import IspybFault
from mxcubecore_lims.testing.ispyb.server import (
    CRIMS_PASSWORD,
    CRIMS_USERNAME,
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    EmulatedIspyb,
    IspybServerError,
)
from mxcubecore_lims.testing.ispyb.store import Store

__all__ = [
    "CRIMS_PASSWORD",
    "CRIMS_USERNAME",
    "DEFAULT_FIXTURE",
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "EmulatedIspyb",
    "IspybFault",
    "IspybServerError",
    "Store",
    "load_fixture",
]
