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

The modules: :mod:`.model` (the dataclasses and their checks),
:mod:`.default` (the default people and groups), :mod:`.from_yaml` (seeds
from YAML), :mod:`.ldif` (entries and LDIF), :mod:`.dn` (DN escaping and
comparison) and :mod:`.passwords` (``{SSHA}``).
"""

from __future__ import annotations

from mxcubecore_lims.testing.ldap_seed.default import DEFAULT_SEED
from mxcubecore_lims.testing.ldap_seed.dn import DnKey as DnKey
from mxcubecore_lims.testing.ldap_seed.dn import dn_key, escape_dn_value, same_dn
from mxcubecore_lims.testing.ldap_seed.from_yaml import load_seed_yaml, seed_from_mapping
from mxcubecore_lims.testing.ldap_seed.ldif import Entry as Entry
from mxcubecore_lims.testing.ldap_seed.ldif import base_entry, entries_to_ldif
from mxcubecore_lims.testing.ldap_seed.model import (
    GROUPS_OU,
    PEOPLE_OU,
    SERVICE_CN,
    SERVICES_OU,
    GroupKind,
    Seed,
    SeedGroup,
    SeedService,
    SeedUser,
)
from mxcubecore_lims.testing.ldap_seed.passwords import check_ssha_password, ssha_password

__all__ = [
    "DEFAULT_SEED",
    "GROUPS_OU",
    "PEOPLE_OU",
    "SERVICES_OU",
    "SERVICE_CN",
    "GroupKind",
    "Seed",
    "SeedGroup",
    "SeedService",
    "SeedUser",
    "base_entry",
    "check_ssha_password",
    "dn_key",
    "entries_to_ldif",
    "escape_dn_value",
    "load_seed_yaml",
    "same_dn",
    "seed_from_mapping",
    "ssha_password",
]
