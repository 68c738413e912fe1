"""ICAT exception types, as the emulated server reports them in SOAP faults.

python-icat maps the ``type`` of a fault's ``IcatException`` detail to its own
exception classes (``icat.exception.IcatExceptionTypeMap``), so these names
are the wire contract.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["FaultType", "IcatFault"]


class FaultType(str, Enum):
    """Values of the ``icatExceptionType`` enumeration."""

    BAD_PARAMETER = "BAD_PARAMETER"
    INTERNAL = "INTERNAL"
    INSUFFICIENT_PRIVILEGES = "INSUFFICIENT_PRIVILEGES"
    NO_SUCH_OBJECT_FOUND = "NO_SUCH_OBJECT_FOUND"
    OBJECT_ALREADY_EXISTS = "OBJECT_ALREADY_EXISTS"
    SESSION = "SESSION"
    VALIDATION = "VALIDATION"
    NOT_IMPLEMENTED = "NOT_IMPLEMENTED"


class IcatFault(Exception):  # noqa: N818 - named as ICAT names its faults, public API
    """An error the emulated server returns to the client as a SOAP fault.

    Args:
        type: The ICAT exception type.
        message: Human-readable text (the fault string).
        offset: Index of the failing bean in a ``createMany``, else -1.
    """

    def __init__(self, type: FaultType, message: str, offset: int = -1) -> None:
        super().__init__(message)
        self.type = FaultType(type)
        self.message = message
        self.offset = offset

    def __repr__(self) -> str:
        return f"IcatFault({self.type.value}, {self.message!r})"
