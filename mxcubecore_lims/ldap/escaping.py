"""Checking and escaping what users type before it reaches an LDAP filter or DN.

Escaping is ldap3's (RFC 4515 for filter values, RFC 4514 for DN values);
these functions add the checks that must come first: a user name with
control characters (NUL among them) or of absurd length, and an empty or
blank password, are refused before any connection is made. An LDAP simple
bind with a DN and an empty password is an "unauthenticated bind" that
servers accept as anonymous, so an empty password must never reach a bind.
"""

from __future__ import annotations

import unicodedata
from typing import cast

from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from mxcubecore_lims.errors import LdapInvalidInputError


def check_username(username: object, max_length: int) -> str:
    """Validates a user name as typed at the login prompt.

    Args:
        username: What was typed.
        max_length: Longest accepted name, in characters.

    Returns:
        The user name, unchanged.

    Raises:
        LdapInvalidInputError: Not a string, empty or blank, too long, or with
            control, format or unassigned characters (the message shows
            neither the name nor any part of it).
    """
    if not isinstance(username, str) or not username.strip():
        raise LdapInvalidInputError("a user name is required")
    if len(username) > max_length:
        raise LdapInvalidInputError(f"user name longer than {max_length} characters")
    # Cc: controls (NUL, newline...), Cf: invisible format characters,
    # Cn: unassigned code points, Cs: lone surrogates.
    if any(unicodedata.category(character) in ("Cc", "Cf", "Cn", "Cs") for character in username):
        raise LdapInvalidInputError("user name contains control or invisible characters")
    if username != username.strip():
        raise LdapInvalidInputError("user name starts or ends with white space")
    return username


def check_password(password: object) -> str:
    """Refuses passwords that would make a bind anonymous.

    Raises:
        LdapInvalidInputError: Not a string, empty or only white space.
    """
    if not isinstance(password, str) or not password.strip():
        raise LdapInvalidInputError("a password is required")
    if "\x00" in password:
        raise LdapInvalidInputError("password contains a NUL character")
    return password


def filter_value(value: str) -> str:
    """Escapes a value for an LDAP search filter (RFC 4515)."""
    return cast(str, escape_filter_chars(value))  # ldap3 is untyped


def dn_value(value: str) -> str:
    """Escapes a value for one attribute value of a DN (RFC 4514)."""
    return cast(str, escape_rdn(value))  # ldap3 is untyped


def equality_filter(attribute: str, value: str) -> str:
    """``(attribute=value)`` with the value escaped."""
    return f"({attribute}={filter_value(value)})"
