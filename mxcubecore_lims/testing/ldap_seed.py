"""Seed data for the test LDAP server: users, groups and service accounts.

A :class:`Seed` describes what a fresh directory holds. It is plain Python data,
so tests know every user's plain password, and it renders to LDIF for
``slapadd`` (:meth:`Seed.to_ldif`). Seeds come from Python
(:data:`DEFAULT_SEED`) or from YAML (:func:`load_seed_yaml`)::

    users:
      - uid: alice
        cn: Alice Liddell
        sn: Liddell
        mail: alice@example.org
        homeDirectory: /home/alice
        password: alice-secret
    groups:
      - cn: mx-users                 # groupOfNames, members as DNs
        members: [alice]
      - cn: mx-staff                 # posixGroup, members as memberUid
        objectClass: posixGroup
        gidNumber: 5000
        members: [alice]
    services:
      - cn: mxcube-service
        password: service-secret

The directory tree under the suffix is always::

    <suffix>
      ou=people    users: inetOrgPerson + posixAccount
      ou=groups    groupOfNames and posixGroup entries
      ou=services  service accounts: applicationProcess + simpleSecurityObject

A groupOfNames and a posixGroup cannot share one entry: both are structural
in the ``nis`` schema Debian ships (only the rfc2307bis draft makes
posixGroup auxiliary), so each group is one or the other.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mxcubecore_lims.errors import (
    ConfigSyntaxError,
    ConfigUndeclaredPropertyError,
    ConfigValueError,
    LimsConfigError,
)

__all__ = [
    "PEOPLE_OU",
    "GROUPS_OU",
    "SERVICES_OU",
    "SERVICE_CN",
    "GroupKind",
    "SeedUser",
    "SeedGroup",
    "SeedService",
    "Seed",
    "DEFAULT_SEED",
    "escape_dn_value",
    "dn_key",
    "same_dn",
    "ssha_password",
    "check_ssha_password",
    "seed_from_mapping",
    "load_seed_yaml",
    "base_entry",
    "entries_to_ldif",
]

PEOPLE_OU = "people"
GROUPS_OU = "groups"
SERVICES_OU = "services"
#: The service account the server's access policy allows to search.
SERVICE_CN = "mxcube-service"

GroupKind = Literal["groupOfNames", "posixGroup"]

Entry = tuple[str, dict[str, list[str]]]


# --------------------------------------------------------------------------
# the data


@dataclass(frozen=True)
class SeedUser:
    """A person in ``ou=people``.

    Attributes:
        uid: The login name; may hold DN-special or non-ASCII characters.
        cn: The full name.
        sn: The surname.
        password: The plain password; stored hashed as ``{SSHA}``, or no
            ``userPassword`` at all when ``None`` (the user cannot bind).
        mail: The e-mail address (ASCII: ``mail`` is an IA5 string).
        home_directory: ``homeDirectory`` (ASCII too).
        uid_number: ``uidNumber`` of the posixAccount.
        gid_number: ``gidNumber`` (primary group) of the posixAccount.
        given_name: ``givenName``, if any.
    """

    uid: str
    cn: str
    sn: str
    password: str | None
    mail: str
    home_directory: str
    uid_number: int
    gid_number: int = 100
    given_name: str | None = None

    def rdn(self) -> str:
        """Returns the escaped relative DN, e.g. ``uid=smith\\, jr``."""
        return f"uid={escape_dn_value(self.uid)}"

    def dn(self, base_dn: str) -> str:
        """Returns the user's DN under ``base_dn``."""
        return f"{self.rdn()},ou={PEOPLE_OU},{base_dn}"


@dataclass(frozen=True)
class SeedGroup:
    """A group in ``ou=groups``.

    Attributes:
        cn: The group name.
        members: The members' uids (every one must be a seeded user).
        kind: ``groupOfNames`` (``member`` holds DNs) or ``posixGroup``
            (``memberUid`` holds uids).
        gid_number: The posixGroup's ``gidNumber``; required for that kind.
    """

    cn: str
    members: tuple[str, ...]
    kind: GroupKind = "groupOfNames"
    gid_number: int | None = None

    def dn(self, base_dn: str) -> str:
        """Returns the group's DN under ``base_dn``."""
        return f"cn={escape_dn_value(self.cn)},ou={GROUPS_OU},{base_dn}"


@dataclass(frozen=True)
class SeedService:
    """A service account in ``ou=services`` that binds with a password.

    Attributes:
        cn: The account name.
        password: The plain password.
    """

    cn: str
    password: str

    def dn(self, base_dn: str) -> str:
        """Returns the account's DN under ``base_dn``."""
        return f"cn={escape_dn_value(self.cn)},ou={SERVICES_OU},{base_dn}"


@dataclass(frozen=True)
class Seed:
    """Everything a fresh directory holds below its suffix.

    Attributes:
        users: People, in ``ou=people``.
        groups: Groups, in ``ou=groups``.
        services: Service accounts, in ``ou=services``.
        organisation: The ``o`` value of the suffix entry.

    Raises:
        LimsConfigError: On duplicate names, unknown group members, a
            posixGroup without ``gidNumber`` or with a non-ASCII member, or a
            groupOfNames without members.
    """

    users: tuple[SeedUser, ...] = ()
    groups: tuple[SeedGroup, ...] = ()
    services: tuple[SeedService, ...] = ()
    organisation: str = "Example"
    _by_uid: dict[str, SeedUser] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_uid = {user.uid: user for user in self.users}
        # A frozen dataclass still needs its private index set once.
        object.__setattr__(self, "_by_uid", by_uid)
        _check_unique("uid", [user.uid for user in self.users])
        _check_unique("group cn", [group.cn for group in self.groups])
        _check_unique("service cn", [service.cn for service in self.services])
        for group in self.groups:
            _check_group(group, by_uid)

    def user(self, uid: str) -> SeedUser:
        """Returns the user with this uid.

        Raises:
            KeyError: No such user.
        """
        return self._by_uid[uid]

    def group(self, cn: str) -> SeedGroup:
        """Returns the group with this cn.

        Raises:
            KeyError: No such group.
        """
        return _find(self.groups, cn, "group")

    def service(self, cn: str = SERVICE_CN) -> SeedService:
        """Returns the service account with this cn.

        Raises:
            KeyError: No such account.
        """
        return _find(self.services, cn, "service account")

    def groups_of(self, uid: str) -> tuple[SeedGroup, ...]:
        """Returns the groups that list ``uid`` as a member."""
        return tuple(group for group in self.groups if uid in group.members)

    def entries(self, base_dn: str) -> list[Entry]:
        """Returns the entries, parents first, as ``(dn, attributes)`` pairs.

        Passwords are hashed afresh (new salt) on every call.
        """
        entries = [base_entry(base_dn, self.organisation)]
        for ou in (PEOPLE_OU, GROUPS_OU, SERVICES_OU):
            entries.append(
                (f"ou={ou},{base_dn}", {"objectClass": ["organizationalUnit"], "ou": [ou]})
            )
        entries += [_user_entry(user, base_dn) for user in self.users]
        entries += [_group_entry(group, base_dn, self._by_uid) for group in self.groups]
        entries += [_service_entry(service, base_dn) for service in self.services]
        return entries

    def to_ldif(self, base_dn: str) -> str:
        """Renders :meth:`entries` as LDIF for ``slapadd``."""
        return entries_to_ldif(self.entries(base_dn))


def _check_unique(what: str, names: Sequence[str]) -> None:
    """Raises when a name occurs twice."""
    seen: set[str] = set()
    for name in names:
        # LDAP compares these names case-insensitively.
        if name.casefold() in seen:
            raise LimsConfigError(f"duplicate {what} {name!r} in the LDAP seed")
        seen.add(name.casefold())


def _check_group(group: SeedGroup, users: Mapping[str, SeedUser]) -> None:
    """Raises when a group cannot be stored as described."""
    unknown = [uid for uid in group.members if uid not in users]
    if unknown:
        raise LimsConfigError(f"group {group.cn!r} lists unknown member(s) {unknown}")
    if group.kind == "posixGroup":
        if group.gid_number is None:
            raise LimsConfigError(f"posixGroup {group.cn!r} needs a gidNumber")
        # memberUid is an IA5 (ASCII) string in the nis schema.
        if not all(uid.isascii() for uid in group.members):
            raise LimsConfigError(f"posixGroup {group.cn!r}: memberUid must be ASCII")
    elif group.kind == "groupOfNames":
        if not group.members:
            # groupOfNames requires at least one member.
            raise LimsConfigError(f"groupOfNames {group.cn!r} needs at least one member")
    else:
        raise LimsConfigError(f"group {group.cn!r}: unknown kind {group.kind!r}")


def _find(items: Iterable[Any], cn: str, what: str) -> Any:
    """Returns the item whose ``cn`` is ``cn``."""
    for item in items:
        if item.cn == cn:
            return item
    raise KeyError(f"no {what} {cn!r} in the seed")


# --------------------------------------------------------------------------
# the default seed

#: Users, groups and the service account every default test server holds.
#: ``o'brien+x`` and ``smith, jr`` need DN escaping (``+`` and ``,``), ``zoë``
#: has a non-ASCII uid, name and password, ``bob``'s password holds LDAP filter
#: characters, and ``carol`` has no password at all.
DEFAULT_SEED = Seed(
    users=(
        SeedUser(
            uid="alice",
            cn="Alice Liddell",
            sn="Liddell",
            given_name="Alice",
            password="alice-secret",
            mail="alice@example.org",
            home_directory="/home/alice",
            uid_number=10001,
        ),
        SeedUser(
            uid="bob",
            cn="Bob Builder",
            sn="Builder",
            given_name="Bob",
            password="b*b (pass) \\word",
            mail="bob@example.org",
            home_directory="/home/bob",
            uid_number=10002,
        ),
        SeedUser(
            uid="o'brien+x",
            cn="Flann O'Brien",
            sn="O'Brien",
            given_name="Flann",
            password="obrien-secret",
            mail="obrien@example.org",
            home_directory="/home/obrien",
            uid_number=10003,
        ),
        SeedUser(
            uid="smith, jr",
            cn="John Smith, Jr.",
            sn="Smith",
            given_name="John",
            password="smith-secret",
            mail="smith.jr@example.org",
            home_directory="/home/smithjr",
            uid_number=10004,
        ),
        SeedUser(
            uid="zoë",
            cn="Zoë Ångström-Łukasiewicz",
            sn="Ångström-Łukasiewicz",
            given_name="Zoë",
            password="pässwörd-ß",
            mail="zoe@example.org",
            home_directory="/home/zoe",
            uid_number=10005,
        ),
        SeedUser(
            uid="carol",
            cn="Carol Nopass",
            sn="Nopass",
            given_name="Carol",
            password=None,
            mail="carol@example.org",
            home_directory="/home/carol",
            uid_number=10006,
        ),
    ),
    groups=(
        SeedGroup(cn="mx-users", members=("alice", "o'brien+x", "zoë")),
        SeedGroup(
            cn="mx-staff", members=("alice", "smith, jr"), kind="posixGroup", gid_number=5000
        ),
    ),
    services=(SeedService(cn=SERVICE_CN, password="service-secret"),),
)


# --------------------------------------------------------------------------
# DNs, passwords and LDIF


def escape_dn_value(value: str) -> str:
    """Escapes an attribute value for use in a DN string (RFC 4514 §2.4).

    Non-ASCII characters stay as they are: DN strings are UTF-8.

    Args:
        value: The raw value, e.g. ``smith, jr``.

    Returns:
        The escaped value, e.g. ``smith\\, jr``.
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
    """Returns a DN in a form that compares equal however it was escaped.

    slapd returns DNs with specials hex-escaped (``uid=smith\\2C jr``) where
    a client wrote ``uid=smith\\, jr``. Attribute names and values are
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
    """Undoes RFC 4514 escapes (``\\,`` and ``\\2C`` alike); drops unescaped edge spaces."""
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


def _user_entry(user: SeedUser, base_dn: str) -> Entry:
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


def _group_entry(group: SeedGroup, base_dn: str, users: Mapping[str, SeedUser]) -> Entry:
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


def _service_entry(service: SeedService, base_dn: str) -> Entry:
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


# --------------------------------------------------------------------------
# YAML

_USER_KEYS = {
    "uid": "uid",
    "cn": "cn",
    "sn": "sn",
    "givenName": "given_name",
    "password": "password",
    "mail": "mail",
    "homeDirectory": "home_directory",
    "uidNumber": "uid_number",
    "gidNumber": "gid_number",
}
_GROUP_KEYS = {"cn": "cn", "members": "members", "objectClass": "kind", "gidNumber": "gid_number"}
_GROUP_DEFAULTS = {"members": (), "kind": "groupOfNames", "gid_number": None}
_SERVICE_KEYS = {"cn": "cn", "password": "password"}
_TOP_KEYS = {"organisation", "users", "groups", "services"}
_INT_FIELDS = {"uid_number", "gid_number"}


def load_seed_yaml(path: str | Path) -> Seed:
    """Reads a seed from a YAML file (format in the module docstring).

    Args:
        path: The YAML file.

    Returns:
        The seed.

    Raises:
        ConfigSyntaxError: The file is not valid YAML.
        ConfigValueError: A key is missing or has the wrong type (the error
            carries the file, line and key).
        LimsConfigError: The seed is inconsistent (see :class:`Seed`).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    path = Path(path)
    try:
        data = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        raise ConfigSyntaxError(f"malformed YAML: {exc}", path) from exc
    return seed_from_mapping(data or {}, source=path)


def seed_from_mapping(data: Mapping[str, Any], source: str | Path | None = None) -> Seed:
    """Builds a seed from a mapping shaped like the YAML format.

    Args:
        data: The mapping, e.g. parsed YAML.
        source: Where the data came from, for error messages.

    Raises:
        ConfigValueError: A key is missing or has the wrong type.
        LimsConfigError: The seed is inconsistent.
    """
    if not isinstance(data, Mapping):
        raise ConfigValueError("an LDAP seed must be a mapping", source, _line(data), "")
    _reject_unknown(data, _TOP_KEYS, source, "")
    users = tuple(
        SeedUser(**_fields(item, _USER_KEYS, source, f"users[{index}]", _user_defaults(index)))
        for index, item in enumerate(_list(data, "users", source))
    )
    groups = tuple(
        SeedGroup(**_fields(item, _GROUP_KEYS, source, f"groups[{index}]", _GROUP_DEFAULTS))
        for index, item in enumerate(_list(data, "groups", source))
    )
    services = tuple(
        SeedService(**_fields(item, _SERVICE_KEYS, source, f"services[{index}]", {}))
        for index, item in enumerate(_list(data, "services", source))
    )
    return Seed(
        users=users,
        groups=groups,
        services=services,
        organisation=str(data.get("organisation", "Example")),
    )


def _user_defaults(index: int) -> dict[str, Any]:
    """Returns defaults for optional user keys (uidNumber counts from 10001)."""
    return {"uid_number": 10001 + index, "given_name": None, "gid_number": 100}


def _list(data: Mapping[str, Any], key: str, source: str | Path | None) -> list[Any]:
    """Returns ``data[key]`` as a list (empty when absent)."""
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ConfigValueError(f"{key} must be a list", source, _line(data, key), key)
    return value


def _fields(
    item: Any,
    keys: Mapping[str, str],
    source: str | Path | None,
    where: str,
    defaults: Mapping[str, Any],
) -> dict[str, Any]:
    """Maps one YAML item's LDAP-style keys to dataclass fields, checking types."""
    if not isinstance(item, Mapping):
        raise ConfigValueError(f"{where} must be a mapping", source, _line(item), where)
    _reject_unknown(item, set(keys), source, where)
    values = dict(defaults)
    for key, name in keys.items():
        if key in item:
            values[name] = _checked(item, key, name, source, f"{where}.{key}")
    if "home_directory" in keys.values() and "home_directory" not in values and "uid" in values:
        values["home_directory"] = f"/home/{values['uid']}"
    missing = [key for key, name in keys.items() if name not in values]
    if missing:
        raise ConfigValueError(f"{where} lacks {', '.join(missing)}", source, _line(item), where)
    return values


def _checked(item: Mapping[str, Any], key: str, name: str, source: Any, where: str) -> Any:
    """Returns one value after checking its type."""
    value = item[key]
    if name == "members":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigValueError(
                f"{where} must be a list of uids", source, _line(item, key), where
            )
        return tuple(value)
    if name in _INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigValueError(f"{where} must be an integer", source, _line(item, key), where)
        return value
    if name == "password" and value is None:
        return None
    if not isinstance(value, str):
        # Passwords like 0123 must be quoted, or YAML reads a number.
        raise ConfigValueError(f"{where} must be a string", source, _line(item, key), where)
    return value


def _reject_unknown(item: Mapping[str, Any], allowed: set[str], source: Any, where: str) -> None:
    """Raises on keys the format does not define (a typo would pass silently)."""
    for key in item:
        if key not in allowed:
            raise ConfigUndeclaredPropertyError(
                f"unknown key {key!r} in {where or 'the seed'}", source, _line(item, key), str(key)
            )


def _line(node: Any, key: Any = None) -> int | None:
    """Returns the 1-based line of a ruamel node (or of one of its keys)."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        return (lc.key(key)[0] if key is not None else lc.line) + 1
    except (KeyError, TypeError, AttributeError):
        return None
