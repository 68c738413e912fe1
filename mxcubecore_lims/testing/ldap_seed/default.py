"""The default seed's people, groups and service account, as data.

Tests log in as these users, so their plain passwords are the point of
this module, not secrets.
"""

# The plain passwords below are test fixtures (S106), not hard-coded secrets.
# ruff: noqa: S106

from __future__ import annotations

from mxcubecore_lims.testing.ldap_seed.model import SERVICE_CN, Seed, SeedGroup, SeedService, SeedUser

__all__ = ["DEFAULT_SEED"]

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
        SeedGroup(cn="mx-staff", members=("alice", "smith, jr"), kind="posixGroup", gid_number=5000),
    ),
    services=(SeedService(cn=SERVICE_CN, password="service-secret"),),
)
