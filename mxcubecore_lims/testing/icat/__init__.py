"""An emulated ICAT SOAP server for tests (see :mod:`.server`)."""

from mxcubecore_lims.testing.icat.faults import FaultType, IcatFault
from mxcubecore_lims.testing.icat.fixture import DEFAULT_FIXTURE, IcatFixtureError, load_fixture
from mxcubecore_lims.testing.icat.server import (
    API_VERSION,
    DEFAULT_AUTHENTICATORS,
    DEFAULT_ROOT_USERS,
    EmulatedIcat,
    IcatServerError,
)
from mxcubecore_lims.testing.icat.store import IcatStore

__all__ = [
    "API_VERSION",
    "DEFAULT_AUTHENTICATORS",
    "DEFAULT_FIXTURE",
    "DEFAULT_ROOT_USERS",
    "EmulatedIcat",
    "FaultType",
    "IcatFault",
    "IcatFixtureError",
    "IcatServerError",
    "IcatStore",
    "load_fixture",
]
