"""How Gson reads the JSON of ``CrimsWebService.storeShipping``, and how it writes the answers.

ISPyB reads the ``shipping`` argument with ``new Gson().fromJson(json,
Shipping3VO.class)`` before it does anything else, so a malformed document or a
value of the wrong JSON type is a Fault and nothing is stored.
:func:`read_shipping` does the same for what the emulator keeps: the scalar
fields of :func:`~mxcubecore_lims.testing.ispyb.json_types.value_object_fields`
and the nesting of :data:`~mxcubecore_lims.testing.ispyb.json_types.NESTING`. Keys are Java field names (case-sensitive);
any other key is skipped, as Gson skips keys its class lacks (so are the
fields of the Java classes the emulator does not model, such as
``blSubSampleVOs``).

Gson's conversions, followed here:

* a string field takes a JSON string, a number (its literal text) or a
  boolean (``"true"``/``"false"``);
* an ``int``/``long``/``byte`` field takes a number or a numeric string whose
  value is integral and in range (``16``, ``"16"``, ``16.0``); a byte above
  127 wraps to negative, as Java's cast does;
* a ``double``/``float`` field takes a number or a numeric string;
* a boolean field takes a boolean, or a string (``"true"`` in any case is
  true, any other string false), never a number;
* a date field takes a string: an ISO 8601 date, an ISO 8601 date-time with
  a zone (``Z`` or an offset), or Gson's default US format
  (``Jan 5, 2024, 3:04:05 PM``);
* ``null`` is null everywhere; an object or array where a scalar belongs, or
  a scalar where an object or array belongs, is an error.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from mxcubecore_lims.testing.ispyb.json_types import NESTING, value_object_fields
from mxcubecore_lims.testing.ispyb.operations.common import IspybFault

__all__ = ["read_shipping", "write_json"]

_INT_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1), "byte": (-128, 255)}
_EXPECTED = {
    "string": "a string",
    "int": "an int",
    "byte": "an int",
    "long": "a long",
    "double": "a double",
    "float": "a double",
    "boolean": "a boolean",
    "dateTime": "a string",
}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"\s*[+-]?(NaN|Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)[fFdD]?\s*")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_ZONED = re.compile(r".+T.+(Z|[+-][0-9]{2}(:?[0-9]{2})?)")
_US_FORMATS = ("%b %d, %Y, %I:%M:%S %p", "%b %d, %Y %I:%M:%S %p")
#: Gson's default HTML-safe escapes (and the two line separators it always escapes).
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "=": "\\u003d", "'": "\\u0027"}
_ESCAPES |= {"\u2028": "\\u2028", "\u2029": "\\u2029"}


class _Number(str):
    """A JSON number, as its literal text (Gson converts numbers from their text)."""

    __slots__ = ()


def _fault(detail: str, path: str) -> IspybFault:
    return IspybFault(f"com.google.gson.JsonSyntaxException: {detail} at path {path}")


def _token(value: Any) -> str:
    """The JSON token Gson's reader would name for ``value``."""
    if isinstance(value, dict):
        return "BEGIN_OBJECT"
    if isinstance(value, list):
        return "BEGIN_ARRAY"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, _Number):
        return "NUMBER"
    return "NULL" if value is None else "STRING"


def _expected(what: str, value: Any, path: str) -> IspybFault:
    return _fault(f"java.lang.IllegalStateException: Expected {what} but was {_token(value)}", path)


def _not_a_number(text: str, path: str) -> IspybFault:
    return _fault(f'java.lang.NumberFormatException: For input string: "{text}"', path)


def _as_int(value: Any, kind: str, path: str) -> int:
    if isinstance(value, bool):
        raise _expected(_EXPECTED[kind], value, path)
    text = str(value)
    if _INTEGER.fullmatch(text):
        number = int(text)
    elif _DECIMAL.fullmatch(text):
        as_float = float(text.strip().rstrip("fFdD"))
        if not as_float.is_integer():
            raise _fault(f"java.lang.NumberFormatException: Expected {_EXPECTED[kind]} but was {text}", path)
        number = int(as_float)
    else:
        raise _not_a_number(text, path)
    low, high = _INT_RANGES[kind]
    if not low <= number <= high:
        raise _fault(f"java.lang.NumberFormatException: Expected {_EXPECTED[kind]} but was {text}", path)
    return number - 256 if kind == "byte" and number > 127 else number


def _as_double(value: Any, path: str) -> float:
    if isinstance(value, bool):
        raise _expected("a double", value, path)
    text = str(value)
    if not _DECIMAL.fullmatch(text):
        raise _not_a_number(text, path)
    return float(text.strip().rstrip("fFdD"))


def _as_boolean(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, _Number):
        raise _expected("a boolean", value, path)
    return str(value).lower() == "true"


def _as_date(value: Any, path: str) -> datetime:
    if isinstance(value, bool):
        raise _expected("a string", value, path)
    text = str(value)
    normal = text.replace("\u202f", " ").strip()
    for pattern in _US_FORMATS:
        try:
            return datetime.strptime(normal, pattern)
        except ValueError:
            continue
    if _ISO_DATE.fullmatch(normal) or _ISO_ZONED.fullmatch(normal):
        try:
            return datetime.fromisoformat(normal)
        except ValueError:
            pass
    raise IspybFault(f"com.google.gson.JsonSyntaxException: Failed parsing '{text}' as Date; at path {path}")


def _scalar(value: Any, xsd: str, path: str) -> Any:
    """One field's JSON value as Gson converts it for a field of type ``xsd``."""
    if value is None:
        return None
    kind = xsd[3:]
    if isinstance(value, (dict, list)):
        raise _expected(_EXPECTED.get(kind, "a string"), value, path)
    if kind in _INT_RANGES:
        return _as_int(value, kind, path)
    if kind in ("double", "float"):
        return _as_double(value, path)
    if kind == "boolean":
        return _as_boolean(value, path)
    if kind == "dateTime":
        return _as_date(value, path)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _collection(value: Any, type_name: str, path: str) -> list[dict[str, Any] | None] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _expected("BEGIN_ARRAY", value, path)
    return [None if item is None else _object(item, type_name, f"{path}[{i}]") for i, item in enumerate(value)]


def _object(value: Any, type_name: str, path: str) -> dict[str, Any]:
    """A JSON object as the value object ``type_name``: its known fields, converted, and its nested objects."""
    if not isinstance(value, dict):
        raise _expected("BEGIN_OBJECT", value, path)
    fields = {p.name: p.type for p in value_object_fields(type_name)}
    nested = NESTING.get(type_name, {})
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{key}"
        if key in fields:
            out[key] = _scalar(item, fields[key], where)
        elif key in nested:
            inner, many = nested[key]
            if many:
                out[key] = _collection(item, inner, where)
            else:
                out[key] = None if item is None else _object(item, inner, where)
    return out


def read_shipping(text: str | None) -> dict[str, Any] | None:
    """``new Gson().fromJson(text, Shipping3VO.class)``, for the fields the emulator keeps.

    Args:
        text: The ``shipping`` argument.

    Returns:
        The shipping as nested dicts (scalar fields converted to Python
        values, collections as lists whose elements may be ``None``), or
        ``None`` for an empty document or ``null`` (Gson returns null).

    Raises:
        IspybFault: Malformed JSON, not an object, or a value of the wrong
            type (Gson's ``JsonSyntaxException``).
    """
    if text is None or not text.strip():
        return None
    try:
        document = json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=_Number)
    except json.JSONDecodeError as exc:
        raise IspybFault(
            "com.google.gson.JsonSyntaxException: com.google.gson.stream.MalformedJsonException: "
            f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    return None if document is None else _object(document, "shipping3VO", "$")


def write_json(value: Any) -> str:
    r"""``new GsonBuilder().serializeNulls().create().toJson(value)`` for lists, dicts and scalars.

    Compact, nulls written as ``null``, non-ASCII text as is, and Gson's
    HTML-safe escapes (``<`` is ``\u003c``, ...). Dates are whatever the
    value holds: the store's ISO text (real ISPyB writes Gson's default
    date format, e.g. ``Jan 5, 2024, 3:04:05 PM``).
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in _ESCAPES.items():
        text = text.replace(char, escape)
    return text
