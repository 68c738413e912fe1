"""Seed data as LDAP entries, and entries as LDIF text for ``slapadd``.

An entry is a ``(dn, attributes)`` pair. People become inetOrgPerson +
posixAccount, groups groupOfNames or posixGroup, service accounts
applicationProcess + simpleSecurityObject; passwords are stored ``{SSHA}``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from mxcubecore_lims.errors import LimsConfigError
from mxcubecore_lims.testing.ldap_seed.passwords import ssha_password

if TYPE_CHECKING:
    from mxcubecore_lims.testing.ldap_seed.model import SeedGroup, SeedService, SeedUser

__all__ = ["Entry", "base_entry", "entries_to_ldif", "group_entry", "service_entry", "user_entry"]

Entry = tuple[str, dict[str, list[str]]]


def base_entry(base_dn: str, organisation: str = "Example") -> Entry:
    """Returns the suffix entry for ``dc=``, ``o=`` or ``ou=`` suffixes.

    Raises:
        LimsConfigError: The suffix starts with another attribute.
    """
    attribute, _, value = base_dn.split(",", 1)[0].partition("=")
    attribute = attribute.strip().lower()
    # The value is used unescaped: test suffixes are plain words.
    value = value.strip()
    if attribute == "dc":
        return base_dn, {
            "objectClass": ["dcObject", "organization"],
            "dc": [value],
            "o": [organisation],
        }
    if attribute == "o":
        return base_dn, {"objectClass": ["organization"], "o": [value]}
    if attribute == "ou":
        return base_dn, {"objectClass": ["organizationalUnit"], "ou": [value]}
    raise LimsConfigError(f"cannot seed suffix {base_dn!r}: it must start with dc=, o= or ou=")


def user_entry(user: SeedUser, base_dn: str) -> Entry:
    """Returns a person as inetOrgPerson + posixAccount."""
    attributes = {
        "objectClass": ["inetOrgPerson", "posixAccount"],
        "uid": [user.uid],
        "cn": [user.cn],
        "sn": [user.sn],
        "mail": [user.mail],
        "homeDirectory": [user.home_directory],
        "uidNumber": [str(user.uid_number)],
        "gidNumber": [str(user.gid_number)],
    }
    if user.given_name:
        attributes["givenName"] = [user.given_name]
    if user.password is not None:
        attributes["userPassword"] = [ssha_password(user.password)]
    return user.dn(base_dn), attributes


def group_entry(group: SeedGroup, base_dn: str, users: Mapping[str, SeedUser]) -> Entry:
    """Returns a group as groupOfNames (member DNs) or posixGroup (memberUid)."""
    if group.kind == "posixGroup":
        attributes = {
            "objectClass": ["posixGroup"],
            "cn": [group.cn],
            "gidNumber": [str(group.gid_number)],
        }
        if group.members:
            attributes["memberUid"] = list(group.members)
    else:
        attributes = {
            "objectClass": ["groupOfNames"],
            "cn": [group.cn],
            "member": [users[uid].dn(base_dn) for uid in group.members],
        }
    return group.dn(base_dn), attributes


def service_entry(service: SeedService, base_dn: str) -> Entry:
    """Returns a service account that can bind with a password."""
    return service.dn(base_dn), {
        "objectClass": ["applicationProcess", "simpleSecurityObject"],
        "cn": [service.cn],
        "userPassword": [ssha_password(service.password)],
    }


# RFC 2849 SAFE-STRING: no NUL/CR/LF, ASCII only, and no leading space, ':'
# or '<'. A trailing space is legal but some readers strip it, so encode it.
_SAFE_LDIF = re.compile(
    r"[\x01-\x09\x0b\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f]"  # SAFE-INIT-CHAR
    r"[\x01-\x09\x0b\x0c\x0e-\x7f]*"  # SAFE-CHAR
)


def _ldif_line(name: str, value: str) -> str:
    """Returns ``name: value``, or ``name:: base64`` when the value is not safe."""
    if value == "" or (_SAFE_LDIF.fullmatch(value) and not value.endswith(" ")):
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def entries_to_ldif(entries: Iterable[Entry]) -> str:
    """Renders ``(dn, attributes)`` pairs as LDIF content records."""
    records = []
    for dn, attributes in entries:
        lines = [_ldif_line("dn", dn)]
        for name, values in attributes.items():
            lines += [_ldif_line(name, value) for value in values]
        records.append("\n".join(lines) + "\n")
    return "\n".join(records)
