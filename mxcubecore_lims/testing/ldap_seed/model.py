"""What a seed is: users, groups and service accounts as frozen dataclasses, checked on creation.

The entries a :class:`Seed` renders are built by :mod:`.ldif`; the default
people are in :mod:`.default`, and :mod:`.from_yaml` reads others from YAML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from mxcubecore_lims.errors import LimsConfigError
from mxcubecore_lims.testing.ldap_seed.dn import escape_dn_value
from mxcubecore_lims.testing.ldap_seed.ldif import (
    Entry,
    base_entry,
    entries_to_ldif,
    group_entry,
    service_entry,
    user_entry,
)

__all__ = [
    "GROUPS_OU",
    "PEOPLE_OU",
    "SERVICES_OU",
    "SERVICE_CN",
    "GroupKind",
    "Seed",
    "SeedGroup",
    "SeedService",
    "SeedUser",
]

PEOPLE_OU = "people"
GROUPS_OU = "groups"
SERVICES_OU = "services"
#: The service account the server's access policy allows to search.
SERVICE_CN = "mxcube-service"

GroupKind = Literal["groupOfNames", "posixGroup"]


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
        r"""Returns the escaped relative DN, e.g. ``uid=smith\, jr``."""
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
            entries.append((f"ou={ou},{base_dn}", {"objectClass": ["organizationalUnit"], "ou": [ou]}))
        entries += [user_entry(user, base_dn) for user in self.users]
        entries += [group_entry(group, base_dn, self._by_uid) for group in self.groups]
        entries += [service_entry(service, base_dn) for service in self.services]
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


_Named = TypeVar("_Named", SeedGroup, SeedService)


def _find(items: Iterable[_Named], cn: str, what: str) -> _Named:
    """Returns the item whose ``cn`` is ``cn``."""
    for item in items:
        if item.cn == cn:
            return item
    raise KeyError(f"no {what} {cn!r} in the seed")
