"""The directory and the two authenticators ``tools/bench_ldap.py`` measures.

Not a benchmark itself: the benchmark users (``bench0`` .. ``bench<N-1>``,
known passwords) seeded into slapd beside the default test users, the two
``LdapAuthenticator`` objects (mxcubecore's, python-ldap; ours, ldap3) each
reduced to "log this user in", and the checks each must pass before anything
is measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchlib import RefusedError

WRONG_PASSWORD = "certainly-not-the-password"


# --------------------------------------------------------------------------
# The directory
# --------------------------------------------------------------------------


def bench_password(uid: str) -> str:
    """The password of a benchmark user."""
    return f"{uid}-secret"


def bench_uids(count: int) -> list[str]:
    """``bench0`` .. ``bench<count-1>``."""
    return [f"bench{index}" for index in range(count)]


def bench_seed(count: int) -> Any:
    """The default seed plus ``count`` benchmark users with known passwords."""
    from mxcubecore_lims.testing.ldap_seed import DEFAULT_SEED, Seed, SeedUser

    users = tuple(
        SeedUser(
            uid=uid,
            cn=f"Bench User {index}",
            sn=f"User{index}",
            given_name="Bench",
            password=bench_password(uid),
            mail=f"{uid}@example.org",
            home_directory=f"/home/{uid}",
            uid_number=20000 + index,
        )
        for index, uid in enumerate(bench_uids(count))
    )
    return Seed(
        users=DEFAULT_SEED.users + users,
        groups=DEFAULT_SEED.groups,
        services=DEFAULT_SEED.services,
        organisation=DEFAULT_SEED.organisation,
    )


def suffix_to_domain(suffix: str) -> str:
    """``dc=example,dc=org`` -> ``example.org`` (mxcubecore's ``ldapdomain`` spelling).

    Raises:
        ValueError: The suffix is not made of ``dc=`` parts only; mxcubecore's
            authenticator cannot describe it.
    """
    parts = []
    for rdn in suffix.split(","):
        name, _, value = rdn.strip().partition("=")
        if name.strip().lower() != "dc" or not value:
            raise ValueError(f"mxcubecore's ldapdomain cannot express the suffix {suffix!r}")
        parts.append(value.strip())
    return ".".join(parts)


# --------------------------------------------------------------------------
# The two authenticators
# --------------------------------------------------------------------------


@dataclass
class AuthenticatorUnderTest:
    """One authenticator, reduced to "log this user in".

    Attributes:
        key: Short name for reports and JSON.
        label: Name shown in the table.
        authenticator: The hardware object.
        keys: The configuration keys it was given.
    """

    key: str
    label: str
    authenticator: Any
    keys: dict[str, Any]

    def attempt(self, username: str, password: str) -> tuple[bool, str | None]:
        """Logs in; returns (accepted, why not). Never raises for a refusal."""
        try:
            result = self.authenticator.authenticate(username, password)
        except Exception as error:  # ours refuses by raising a typed error
            return False, f"{error.__class__.__name__}: {error}"
        if result is True:
            return True, None
        return False, f"returned {result!r}"


def mxcubecore_authenticator(keys: dict[str, Any]) -> AuthenticatorUnderTest:
    """The python-ldap authenticator of mxcubecore, configured with ``keys``."""
    from mxcubecore.HardwareObjects.LdapAuthenticator import LdapAuthenticator as Theirs

    authenticator = Theirs("ldapServer")
    authenticator._config = Theirs.HOConfig(**keys)
    authenticator.init()
    return AuthenticatorUnderTest("mxcubecore", "mxcubecore", authenticator, dict(keys))


def our_authenticator(keys: dict[str, Any]) -> AuthenticatorUnderTest:
    """Our ldap3 authenticator, configured with ``keys``."""
    from mxcubecore_lims.HardwareObjects.LdapAuthenticator import LdapAuthenticator as Ours

    authenticator = Ours("ldapServer")
    authenticator._config = Ours.HOConfig(**keys)
    authenticator.init()
    return AuthenticatorUnderTest("ours", "mxcubecore-lims (ours)", authenticator, dict(keys))


def check_authenticator(under_test: AuthenticatorUnderTest, username: str, password: str) -> None:
    """Refuses an authenticator that does not accept a good or refuse a wrong password.

    mxcubecore's must return True, then False; ours must return True, then
    raise ``LdapInvalidCredentialsError``.

    Raises:
        RefusedError: It does not.
    """
    accepted, why = under_test.attempt(username, password)
    if not accepted:
        raise RefusedError(f"{under_test.label} refused {username} with the right password ({why})")
    try:
        result = under_test.authenticator.authenticate(username, WRONG_PASSWORD)
    except Exception as error:
        from mxcubecore_lims.errors import LdapInvalidCredentialsError

        if under_test.key == "ours" and isinstance(error, LdapInvalidCredentialsError):
            return
        raise RefusedError(
            f"{under_test.label} raised {error.__class__.__name__} for a wrong password: {error}"
        ) from error
    if under_test.key == "ours" or result is not False:
        raise RefusedError(f"{under_test.label} returned {result!r} for {username} with a wrong password")


def check_all_users(under_test: AuthenticatorUnderTest, uids: list[str]) -> None:
    """Every benchmark user logs in once (a verified warm-up).

    Raises:
        RefusedError: One did not.
    """
    for uid in uids:
        accepted, why = under_test.attempt(uid, bench_password(uid))
        if not accepted:
            raise RefusedError(f"{under_test.label} refused {uid} with the right password ({why})")
