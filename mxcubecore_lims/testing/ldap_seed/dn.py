"""DN strings: escaping a value for a DN, and comparing DNs however they were escaped."""

from __future__ import annotations

import re

__all__ = ["DnKey", "dn_key", "escape_dn_value", "same_dn"]


def escape_dn_value(value: str) -> str:
    r"""Escapes an attribute value for use in a DN string (RFC 4514 §2.4).

    Non-ASCII characters stay as they are: DN strings are UTF-8.

    Args:
        value: The raw value, e.g. ``smith, jr``.

    Returns:
        The escaped value, e.g. ``smith\, jr``.
    """
    escaped = re.sub(r'([\\,+"<>;=])', r"\\\1", value).replace("\0", "\\00")
    if value.startswith((" ", "#")):
        escaped = "\\" + escaped
    # Decide on the raw value: the escaped one may end in an escaped backslash.
    if value.endswith(" ") and len(value) > 1:
        escaped = escaped[:-1] + "\\ "
    return escaped


_DN_ESCAPE = re.compile(rb"\\([0-9A-Fa-f]{2}|.)", re.DOTALL)

DnKey = tuple[tuple[tuple[str, str], ...], ...]


def dn_key(dn: str) -> DnKey:
    r"""Returns a DN in a form that compares equal however it was escaped.

    slapd returns DNs with specials hex-escaped (``uid=smith\2C jr``) where
    a client wrote ``uid=smith\, jr``. Attribute names and values are
    compared case-insensitively, as the seed's attributes (uid, cn, ou, dc)
    match, and the parts of a multi-valued RDN in any order.

    Args:
        dn: A DN string (RFC 4514; quoted values are not supported).

    Returns:
        Per RDN, its sorted ``(attribute, value)`` pairs, unescaped and
        case-folded.

    Raises:
        ValueError: A part has no ``=``.
    """
    rdns = []
    for rdn in _split_unescaped(dn, ","):
        pairs = []
        for part in _split_unescaped(rdn, "+"):
            name, equals, value = part.partition("=")
            if not equals:
                raise ValueError(f"not a DN: {dn!r}")
            pairs.append((name.strip().lower(), _unescape_dn_value(value).casefold()))
        rdns.append(tuple(sorted(pairs)))
    return tuple(rdns)


def _split_unescaped(text: str, separator: str) -> list[str]:
    """Splits at ``separator`` where it is not escaped with a backslash."""
    parts, current, index = [], [], 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            current.append(text[index : index + 2])
            index += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _unescape_dn_value(value: str) -> str:
    r"""Undoes RFC 4514 escapes (``\,`` and ``\2C`` alike); drops unescaped edge spaces."""
    value = value.lstrip()
    # A trailing space survives only when escaped: by an odd run of backslashes.
    while value.endswith(" "):
        body = value[:-1]
        if (len(body) - len(body.rstrip("\\"))) % 2:
            break
        value = body

    def unescape(match: re.Match[bytes]) -> bytes:
        escaped = match.group(1)
        return bytes.fromhex(escaped.decode("ascii")) if len(escaped) == 2 else escaped

    # Work on UTF-8 bytes: hex escapes may spell out one character in pieces.
    return _DN_ESCAPE.sub(unescape, value.encode("utf-8")).decode("utf-8")


def same_dn(first: str, second: str) -> bool:
    """Tells whether two DN strings name the same entry (see :func:`dn_key`)."""
    return dn_key(first) == dn_key(second)
