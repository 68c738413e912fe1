"""Passwords hashed and checked the way slapd's ``{SSHA}`` scheme does."""

from __future__ import annotations

import base64
import hashlib
import os

__all__ = ["check_ssha_password", "ssha_password"]


def ssha_password(password: str, salt: bytes | None = None) -> str:
    """Hashes a password the way slapd's ``{SSHA}`` scheme checks it.

    Args:
        password: The plain password; hashed as UTF-8, as clients send it.
        salt: The salt; 8 random bytes when not given.

    Returns:
        ``{SSHA}`` followed by base64 of SHA-1(password + salt) + salt.
    """
    salt = os.urandom(8) if salt is None else salt
    digest = hashlib.sha1(password.encode("utf-8") + salt).digest()  # noqa: S324 - slapd's scheme
    return "{SSHA}" + base64.b64encode(digest + salt).decode("ascii")


def check_ssha_password(password: str, hashed: str) -> bool:
    """Tells whether ``hashed`` (an ``{SSHA}`` value) matches ``password``."""
    if not hashed.startswith("{SSHA}"):
        return False
    raw = base64.b64decode(hashed[len("{SSHA}") :])
    return ssha_password(password, raw[20:]) == hashed
