"""The one error hierarchy of mxcubecore-lims.

Every error a user can cause ends in a subclass of :class:`LimsError` whose
message names the file, line, field or value at fault. Errors carry those
facts as attributes too, so callers and tests need not parse messages.

Families:

* :class:`LimsConfigError` - configuration files and values.
* :class:`LimsDataError` - a dict passed in by a collect routine, or a server
  reply, that does not fit its model.
* :class:`LimsAuthenticationError` - who you are: wrong credentials, unknown user.
* :class:`LimsAuthorizationError` - what you may do: no session, not on the
  investigation.
* :class:`LimsUnavailableError` - the server could not be reached in time.
* Per backend: :class:`IspybError`, :class:`IcatError`, :class:`LdapError`,
  :class:`BrokerError` (the STOMP broker of the ``delivery: broker`` route).

mxcubecore's own ``LimsMetadataGatherError``, ``LimsMetadataWriteError`` and
``LimsMetadataUploadError`` are subclassed here together with our root, so
both ``except`` clauses catch them. They are created on first use, because
importing mxcubecore has side effects (``sys.path``, logging handlers) that
the protocol layers must not pay for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _where(file: str | Path | None, line: int | None) -> str:
    """Formats a ``file:line`` prefix, or an empty string when unknown."""
    if file is None:
        return ""
    return f"{file}:{line}: " if line else f"{file}: "


class LimsError(Exception):
    """Root of every error raised by mxcubecore-lims."""


# --------------------------------------------------------------------------
# configuration


class LimsConfigError(LimsError, ValueError):
    """A configuration file or value is wrong.

    Attributes:
        file: The configuration file at fault, if known.
        line: The 1-based line in that file, if known.
        reason: The message without the location prefix.
    """

    def __init__(self, reason: str, file: str | Path | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.file = str(file) if file is not None else None
        self.line = line
        super().__init__(_where(self.file, line) + reason)


class ConfigSyntaxError(LimsConfigError):
    """Malformed XML or YAML."""


class ConfigFileNotFoundError(LimsConfigError):
    """A referenced configuration file exists in no lookup directory.

    Attributes:
        reference: The name that was looked up.
    """

    def __init__(
        self,
        reason: str,
        file: str | Path | None = None,
        line: int | None = None,
        reference: str = "",
    ) -> None:
        self.reference = reference
        super().__init__(reason, file, line)


class ConfigAmbiguousFileError(LimsConfigError):
    """A name exists as both XML and YAML in one lookup directory.

    Attributes:
        candidates: The clashing files.
    """

    def __init__(
        self,
        reason: str,
        file: str | Path | None = None,
        line: int | None = None,
        candidates: tuple[str, ...] = (),
    ) -> None:
        self.candidates = candidates
        super().__init__(reason, file, line)


class ConfigCycleError(LimsConfigError):
    """Objects refer to each other in a cycle.

    Attributes:
        cycle: The files of the cycle, in reference order, first repeated last.
    """

    def __init__(
        self,
        reason: str,
        file: str | Path | None = None,
        line: int | None = None,
        cycle: tuple[str, ...] = (),
    ) -> None:
        self.cycle = cycle
        super().__init__(reason, file, line)


class ConfigClassError(LimsConfigError):
    """A class is missing, cannot be imported, or cannot be constructed."""


class ConfigInitError(LimsConfigError):
    """An object's ``_init()`` or ``init()`` failed while loading."""


class ConfigValueError(LimsConfigError):
    """A property value does not fit the type its object declares.

    Attributes:
        field: The property name.
    """

    def __init__(
        self,
        reason: str,
        file: str | Path | None = None,
        line: int | None = None,
        field: str = "",
    ) -> None:
        self.field = field
        super().__init__(reason, file, line)


class ConfigUndeclaredPropertyError(ConfigValueError):
    """A property its object does not declare (strict mode only)."""


class SecretReferenceError(ConfigValueError):
    """An ``${env:...}`` or ``${file:...}`` reference cannot be resolved.

    The message names the variable or file, never a value.
    """


# --------------------------------------------------------------------------
# data passed in by collect routines or returned by servers


class LimsDataError(LimsError, ValueError):
    """A dict does not fit its model.

    Attributes:
        model: The model name (e.g. ``DataCollection``).
        field: The dotted path of the field at fault, with legacy key names.
        value: The offending value.
    """

    def __init__(self, model: str, field: str, value: Any, reason: str) -> None:
        self.model = model
        self.field = field
        self.value = value
        self.reason = reason
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:197] + "..."
        where = f"{model}.{field}" if field else model
        super().__init__(f"{where}: {reason} (got {shown})")


# --------------------------------------------------------------------------
# MXLIMS documents and shipment spreadsheets


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 120 else shown[:117] + "..."


class MxlimsError(LimsError, ValueError):
    """An MXLIMS document, a shipment spreadsheet or a shipment is wrong."""


class MxlimsDocumentError(MxlimsError):
    """One problem in an MXLIMS document, located by a JSON pointer.

    Attributes:
        pointer: The JSON pointer of the value at fault (``/Pin/Pin3/sampleRef``).
        value: The value at fault (``None`` when it is missing).
        reason: What is wrong, without the location.
        file: The document's file, if it came from one.
    """

    def __init__(self, pointer: str, value: Any, reason: str, file: str | Path | None = None) -> None:
        self.pointer = pointer or "/"
        self.value = value
        self.reason = reason
        self.file = str(file) if file is not None else None
        super().__init__(f"{_where(self.file, None)}{self.pointer}: {reason} (got {_shown(value)})")


class MxlimsVersionError(MxlimsDocumentError):
    """The document's ``version`` is missing or not the model version we read."""


class MxlimsSchemaError(MxlimsDocumentError):
    """A value breaks the model: wrong type, out of range, unknown or missing field."""


class MxlimsReferenceError(MxlimsDocumentError):
    """A ``$ref`` points at nothing, or at an object of a type the link does not allow."""


class MxlimsCycleError(MxlimsDocumentError):
    """Links of one kind (container, derivation, start) loop back to where they began."""


class MxlimsInvalidDocumentError(MxlimsDocumentError):
    """A document has one or more problems; all of them are in :attr:`problems`.

    The pointer, value and reason are those of the first problem.
    """

    def __init__(self, problems: list[MxlimsDocumentError], file: str | Path | None = None) -> None:
        self.problems = problems
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first.pointer, first.value, first.reason + more, file)


class MxlimsSpreadsheetError(MxlimsError):
    """A shipment spreadsheet cell, header or layout is wrong.

    Attributes:
        file: The spreadsheet (or layout) file.
        row: The 1-based row in the file (the header is row 1), if known.
        column: The column's header text, if known.
        value: The cell's text.
    """

    def __init__(
        self, reason: str, file: str | Path | None, row: int | None = None, column: str | None = None, value: Any = None
    ) -> None:
        self.reason = reason
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.value = value
        where = "".join(
            [
                f"row {row}" if row else "",
                ", " if row and column else "",
                f"column {column!r}" if column else "",
            ]
        )
        super().__init__(
            _where(self.file, None)
            + (f"{where}: " if where else "")
            + reason
            + (f" (got {value!r})" if value is not None else "")
        )


class MxlimsShipmentError(MxlimsError):
    """A valid document cannot become a shipment in this LIMS (no sample on a pin, wrong proposal).

    Attributes:
        pointer: The JSON pointer of the object at fault.
    """

    def __init__(self, pointer: str, reason: str) -> None:
        self.pointer = pointer
        self.reason = reason
        super().__init__(f"{pointer}: {reason}")


# --------------------------------------------------------------------------
# access


class LimsAuthenticationError(LimsError):
    """The credentials were refused. Never carries the password."""


class LimsUnknownUserError(LimsAuthenticationError):
    """No such user."""


class LimsAuthorizationError(LimsError):
    """The user is known but may not do this."""


class LimsNoSessionError(LimsAuthorizationError):
    """No session is selectable or active for this action."""


class LimsUnavailableError(LimsError):
    """The LIMS (or authentication server) did not answer in time.

    Attributes:
        target: What was tried (URL or server URIs), without credentials.
    """

    def __init__(self, reason: str, target: str = "") -> None:
        self.target = target
        super().__init__(f"{reason} ({target})" if target else reason)


class LimsNotSupportedError(LimsError, NotImplementedError):
    """This LIMS object does not offer the operation."""


# --------------------------------------------------------------------------
# backend families


class IspybError(LimsError):
    """ISPyB reported an error."""


class IspybFaultError(IspybError):
    """ISPyB answered with a SOAP fault: it is up, and refused the request.

    Attributes:
        operation: The operation called.
        code: The fault code.
        detail: The fault's detail message, if any.
    """

    def __init__(self, operation: str, message: str, code: str = "", detail: str = "") -> None:
        self.operation = operation
        self.code = code
        self.detail = detail
        super().__init__(f"ISPyB {operation}: {message}" + (f" ({detail})" if detail and detail != message else ""))


class IspybUnavailableError(IspybError, LimsUnavailableError):
    """ISPyB did not answer (connection refused, timeout, HTTP 5xx without a fault)."""


class IspybCredentialsError(IspybError, LimsConfigError):
    """ISPyB refused the web-service account (HTTP 401/403): ``ws_username``/``ws_password``."""


class IcatError(LimsError):
    """ICAT reported an error."""


class IcatFaultError(IcatError):
    """ICAT answered and refused the request (python-icat raised an ``ICATError``).

    Attributes:
        operation: What was attempted, e.g. ``"create Dataset"``.
        icat_type: ICAT's exception type (``BAD_PARAMETER``, ``VALIDATION``, ...).
    """

    def __init__(self, operation: str, message: str, icat_type: str = "") -> None:
        self.operation = operation
        self.icat_type = icat_type
        super().__init__(f"ICAT {operation}: {message}" + (f" [{icat_type}]" if icat_type else ""))


class IcatObjectExistsError(IcatFaultError):
    """ICAT already holds an object with the same unique key."""


class IcatPrivilegesError(IcatFaultError, LimsAuthorizationError):
    """The ICAT user may not read or write this object."""


class IcatSessionError(IcatFaultError):
    """The ICAT session is unknown or expired (and could not be re-established)."""


class IcatUnavailableError(IcatError, LimsUnavailableError):
    """ICAT did not answer (connection refused, timeout, not an ICAT server)."""


class BrokerError(LimsError):
    """The message broker (STOMP) reported an error."""


class BrokerUnavailableError(BrokerError, LimsUnavailableError):
    """No broker answered in time, or the connection was lost before a receipt."""


class BrokerAuthenticationError(BrokerError, LimsAuthenticationError):
    """The broker refused the login (wrong ``broker_username``/``broker_password``)."""


class BrokerRefusedError(BrokerError):
    """The broker answered a frame with ERROR (a bad destination, a refused send).

    Attributes:
        frame_message: The ERROR frame's ``message`` header.
    """

    def __init__(self, reason: str, frame_message: str = "") -> None:
        self.frame_message = frame_message
        super().__init__(reason)


class BrokerMessageError(BrokerError, LimsDataError):
    """A message taken from the broker does not fit its type (malformed, unknown type).

    It goes to the dead-letter queue with this reason.
    """


class LdapError(LimsError):
    """Authentication through LDAP failed."""


class LdapInvalidInputError(LdapError, LimsAuthenticationError):
    """A user name or password refused before any bind (empty, control characters, too long)."""


class LdapInvalidCredentialsError(LdapError, LimsAuthenticationError):
    """The server refused the password (or, without a search, the user name)."""


class LdapUnknownUserError(LdapError, LimsUnknownUserError):
    """No entry matches the user name."""


class LdapNotInGroupError(LdapError, LimsAuthorizationError):
    """The user authenticated but is not in the required group."""


class LdapUnavailableError(LdapError, LimsUnavailableError):
    """No configured LDAP server answered (every URI was tried), or TLS failed."""


class LdapConfigError(LdapError, LimsConfigError):
    """The LDAP configuration is wrong (e.g. the service account is refused)."""


# --------------------------------------------------------------------------
# mxcubecore's metadata errors

_METADATA_ERRORS = (
    "LimsMetadataGatherError",
    "LimsMetadataWriteError",
    "LimsMetadataUploadError",
)
_created: dict[str, type] = {}


def __getattr__(name: str) -> type:
    """Creates the mxcubecore metadata error subclasses on first access."""
    if name not in _METADATA_ERRORS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _created:
        from mxcubecore.HardwareObjects.abstract import AbstractLims as core_lims

        core_class = getattr(core_lims, name)
        _created[name] = type(
            name,
            (LimsError, core_class),
            {"__module__": __name__, "__doc__": core_class.__doc__},
        )
    return _created[name]


#: Every error class above, and mxcubecore's metadata errors (made on first access).
__all__ = [
    *(name for name, value in list(globals().items()) if isinstance(value, type) and issubclass(value, Exception)),
    *_METADATA_ERRORS,
]
