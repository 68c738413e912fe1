"""Pure logic of the LDAP client: input checks, escaping, settings and mxcubecore's keys."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mxcubecore_lims.errors import LdapInvalidInputError, LimsAuthenticationError
from mxcubecore_lims.HardwareObjects.LdapAuthenticator import LdapAuthenticator
from mxcubecore_lims.ldap.escaping import check_password, check_username, dn_value, equality_filter
from mxcubecore_lims.ldap.settings import LdapSettings, domain_to_dn, legacy_base_dn, legacy_uris


@pytest.mark.parametrize(
    "username",
    [
        "",
        "   ",
        None,
        42,
        "a\x00b",
        "a\nb",
        "tab\there",
        "zero\u200bwidth",
        "rtl\u202eevil",
        "x" * 257,
        " lead",
        "trail ",
    ],
)
def test_bad_user_names_are_refused_before_any_bind(username: object) -> None:
    with pytest.raises(LdapInvalidInputError) as caught:
        check_username(username, 256)
    assert isinstance(caught.value, LimsAuthenticationError)
    if isinstance(username, str) and username.strip():
        assert username.strip() not in str(caught.value), "the message must not echo the input"


@pytest.mark.parametrize("username", ["alice", "o'brien+x", "smith, jr", "élodie", "*)(uid=*", "x" * 256])
def test_ordinary_and_special_user_names_pass_the_check(username: str) -> None:
    assert check_username(username, 256) == username


@pytest.mark.parametrize("password", ["", " ", "\t\n", None, b"bytes", "nul\x00inside"])
def test_passwords_that_would_bind_anonymously_are_refused(password: object) -> None:
    with pytest.raises(LdapInvalidInputError):
        check_password(password)


def test_filter_values_are_escaped_per_rfc4515() -> None:
    assert equality_filter("uid", "*)(uid=*") == r"(uid=\2a\29\28uid=\2a)"
    assert equality_filter("uid", "a\\b") == r"(uid=a\5cb)"


def test_dn_values_are_escaped_per_rfc4514() -> None:
    assert dn_value("smith, jr") == r"smith\, jr"
    assert dn_value("a+b=c") == r"a\+b\=c"
    assert dn_value("#lead") == r"\#lead"
    assert dn_value('q"<>;') == r"q\"\<\>\;"


def test_mxcubecore_keys_map_to_search_then_bind() -> None:
    assert domain_to_dn("esrf.fr") == "dc=esrf,dc=fr"
    assert domain_to_dn("dc=example,dc=org") == "dc=example,dc=org"
    assert legacy_base_dn("example.org", "people") == "ou=people,dc=example,dc=org"
    assert legacy_base_dn("example.org", None) == "dc=example,dc=org"
    assert legacy_uris("ldap1 ldap2", 389) == ("ldap://ldap1:389", "ldap://ldap2:389")
    assert legacy_uris("ldaps://ldap1:636", 389) == ("ldaps://ldap1:636",)
    settings = LdapAuthenticator.HOConfig(
        ldaphost="ldap.example.org", ldapport=389, ldapdomain="example.org", ldapou="people"
    ).to_settings()
    assert settings.uris == ("ldap://ldap.example.org:389",)
    assert settings.base_dn == "ou=people,dc=example,dc=org"
    assert settings.searches and settings.verify_certificates


@pytest.mark.parametrize(
    "keys, message",
    [
        ({}, "uris"),
        ({"uris": "http://x"}, "not an ldap"),
        ({"uris": "ldap://x"}, "base_dn"),
        ({"uris": "ldap://x", "bind_dn_template": "uid=x,dc=o"}, "{username}"),
        ({"uris": "ldap://x", "base_dn": "dc=o", "service_dn": "cn=s,dc=o"}, "go together"),
        ({"uris": "ldap://x", "base_dn": "dc=o", "connect_timeout": 0}, "greater than 0"),
    ],
)
def test_inconsistent_configuration_is_refused_when_the_model_is_built(keys: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        LdapAuthenticator.HOConfig(**keys)


def test_settings_forbid_unknown_keys_and_hide_the_service_password() -> None:
    settings = LdapSettings(uris=("ldap://x",), base_dn="dc=o", service_dn="cn=s", service_password="pw-123")
    assert "pw-123" not in repr(settings)
    with pytest.raises(ValidationError):
        LdapSettings(uris=("ldap://x",), base_dn="dc=o", colour="blue")
