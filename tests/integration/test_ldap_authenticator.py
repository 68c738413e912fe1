"""LdapAuthenticator against a real slapd on loopback (fixtures from mxcubecore_lims.testing)."""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent.server import StreamServer
from mxcubecore import HardwareRepository as HWR

from mxcubecore_lims.config.loader import load_beamline
from mxcubecore_lims.errors import (
    LdapConfigError,
    LdapError,
    LdapInvalidCredentialsError,
    LdapInvalidInputError,
    LdapNotInGroupError,
    LdapUnavailableError,
    LdapUnknownUserError,
    LimsAuthenticationError,
    LimsUnavailableError,
)
from mxcubecore_lims.HardwareObjects.LdapAuthenticator import LdapAuthenticator
from mxcubecore_lims.testing.slapd import free_port

pytestmark = pytest.mark.integration

ALICE_PASSWORD = "alice-secret"


def make_authenticator(**keys: Any) -> LdapAuthenticator:
    """An initialised authenticator configured with the given keys."""
    authenticator = LdapAuthenticator("ldapServer")
    authenticator._config = LdapAuthenticator.HOConfig(**keys)
    authenticator.init()
    return authenticator


def search_keys(server: Any, **more: Any) -> dict[str, Any]:
    return {"uris": server.uri, "base_dn": f"ou=people,{server.base_dn}", **more}


# ---------------------------------------------------------------- logins


def test_good_login_returns_the_directory_attributes(slapd_server: Any) -> None:
    authenticator = make_authenticator(**search_keys(slapd_server))
    assert authenticator.authenticate("alice", ALICE_PASSWORD) is True
    user = authenticator.get_user("alice")
    assert user.dn.lower() == slapd_server.user_dn("alice").lower()
    assert user.email and "@" in user.email
    assert user.home_directory and user.home_directory.startswith("/")
    assert authenticator.get_full_name("alice") == user.full_name != "alice"
    assert authenticator.get_field_values()["mail"] == user.email


def test_wrong_password_and_unknown_user_are_told_apart(slapd_server: Any) -> None:
    authenticator = make_authenticator(**search_keys(slapd_server))
    with pytest.raises(LdapInvalidCredentialsError):
        authenticator.authenticate("alice", "not-her-password")
    with pytest.raises(LdapUnknownUserError):
        authenticator.authenticate("mallory", ALICE_PASSWORD)
    assert authenticator.get_user("alice") is None


@pytest.mark.parametrize("uid", ["o'brien+x", "smith, jr", "zoë", "bob"])
def test_users_with_special_characters_log_in(slapd_server: Any, uid: str) -> None:
    password = slapd_server.seed.user(uid).password
    authenticator = make_authenticator(**search_keys(slapd_server))
    assert authenticator.authenticate(uid, password)
    assert authenticator.get_user(uid).username == uid


def test_a_user_without_password_cannot_log_in(slapd_server: Any) -> None:
    authenticator = make_authenticator(**search_keys(slapd_server))
    with pytest.raises(LdapInvalidCredentialsError):
        authenticator.authenticate("carol", "anything")


@pytest.mark.parametrize("password", ["", "   "])
def test_empty_password_never_reaches_a_bind(slapd_server: Any, password: str) -> None:
    authenticator = make_authenticator(**search_keys(slapd_server))
    before = slapd_server.log_size()
    with pytest.raises(LdapInvalidInputError):
        authenticator.authenticate("alice", password)
    assert "BIND" not in slapd_server.log_text(since=before)


def test_search_then_bind_with_a_service_account(slapd_factory: Any) -> None:
    server = slapd_factory(allow_anonymous_search=False)
    anonymous = make_authenticator(**search_keys(server))
    with pytest.raises(LdapConfigError):
        anonymous.authenticate("alice", ALICE_PASSWORD)
    service = make_authenticator(
        **search_keys(server, service_dn=server.service_dn, service_password=server.service_password)
    )
    assert service.authenticate("alice", ALICE_PASSWORD)
    with pytest.raises(LdapUnknownUserError):
        service.authenticate("mallory", "x")


def test_a_wrong_service_password_is_a_configuration_error(slapd_server: Any) -> None:
    authenticator = make_authenticator(
        **search_keys(slapd_server, service_dn=slapd_server.service_dn, service_password="wrong")
    )
    with pytest.raises(LdapConfigError, match="service account"):
        authenticator.authenticate("alice", ALICE_PASSWORD)


def test_bind_dn_template(slapd_server: Any) -> None:
    authenticator = make_authenticator(
        uris=slapd_server.uri, bind_dn_template=f"uid={{username}},ou=people,{slapd_server.base_dn}"
    )
    assert authenticator.authenticate("smith, jr", slapd_server.seed.user("smith, jr").password)
    assert authenticator.get_user("smith, jr").email
    with pytest.raises(LdapInvalidCredentialsError):
        authenticator.authenticate("alice", "wrong")


@pytest.mark.parametrize(
    "group, uid, allowed",
    [
        ("mx-users", "alice", True),
        ("mx-users", "bob", False),
        ("mx-users", "o'brien+x", True),
        ("mx-staff", "smith, jr", True),  # posixGroup: memberUid
        ("mx-staff", "zoë", False),
    ],
)
def test_group_requirement(slapd_server: Any, group: str, uid: str, allowed: bool) -> None:
    authenticator = make_authenticator(**search_keys(slapd_server, required_group=slapd_server.group_dn(group)))
    password = slapd_server.seed.user(uid).password
    if allowed:
        assert authenticator.authenticate(uid, password)
    else:
        with pytest.raises(LdapNotInGroupError):
            authenticator.authenticate(uid, password)


# ------------------------------------------- mxcubecore's configuration shapes


@pytest.mark.parametrize("shape", ["domain-and-ou", "domain-only", "dn-domain"])
@pytest.mark.parametrize("loader", ["ours", "mxcubecore"])
def test_existing_ldapconnection_xml_files_keep_working(
    slapd_server: Any, tmp_path: Path, shape: str, loader: str, clean_repository: None
) -> None:
    domain = {"domain-and-ou": "example.org", "domain-only": "example.org", "dn-domain": slapd_server.base_dn}[shape]
    ou = "<ldapou>people</ldapou>" if shape == "domain-and-ou" else ""
    (tmp_path / "ldapconnection.xml").write_text(
        '<object class="mxcubecore_lims.HardwareObjects.LdapAuthenticator">'
        f"<ldaphost>127.0.0.1</ldaphost><ldapport>{slapd_server.port}</ldapport>"
        f"<ldapdomain>{domain}</ldapdomain>{ou}</object>",
        encoding="utf-8",
    )
    (tmp_path / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n  ldapServer: ldapconnection.xml\n",
        encoding="utf-8",
    )
    if loader == "ours":
        load_beamline(tmp_path, strict=True)
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            HWR.init_hardware_repository(str(tmp_path))
    # Both loaders keep a YAML role's case, and get_object_by_role lower-cases
    # its argument, so a mixed-case YAML role is read from the mapping.
    authenticator = HWR.beamline.objects_by_role["ldapServer"]
    assert isinstance(authenticator, LdapAuthenticator), "the authenticator must load"
    assert authenticator.authenticate("alice", ALICE_PASSWORD)
    with pytest.raises(LdapInvalidCredentialsError):
        authenticator.authenticate("alice", "wrong")


# ------------------------------------------------------------------- TLS


def test_ldaps_with_the_right_ca_is_accepted(slapd_tls_server: Any) -> None:
    authenticator = make_authenticator(
        uris=slapd_tls_server.ldaps_uri, base_dn=slapd_tls_server.base_dn, ca_file=str(slapd_tls_server.ca_file)
    )
    assert authenticator.authenticate("alice", ALICE_PASSWORD)


def test_starttls_with_the_right_ca_is_accepted(slapd_tls_server: Any) -> None:
    authenticator = make_authenticator(
        uris=slapd_tls_server.uri,
        base_dn=slapd_tls_server.base_dn,
        start_tls=True,
        ca_file=str(slapd_tls_server.ca_file),
    )
    assert authenticator.authenticate("alice", ALICE_PASSWORD)


@pytest.mark.parametrize("start_tls", [False, True], ids=["ldaps", "starttls"])
def test_a_server_certificate_from_another_ca_is_refused(slapd_tls_server: Any, start_tls: bool) -> None:
    uri = slapd_tls_server.uri if start_tls else slapd_tls_server.ldaps_uri
    authenticator = make_authenticator(
        uris=uri, base_dn=slapd_tls_server.base_dn, start_tls=start_tls, ca_file=str(slapd_tls_server.other_ca_file)
    )
    with pytest.raises(LdapUnavailableError) as caught:
        authenticator.authenticate("alice", ALICE_PASSWORD)
    assert "certificate" in str(caught.value).lower() or "tls" in str(caught.value).lower()


# ----------------------------------------------------- failover and restarts


def test_failover_from_a_dead_uri_to_a_live_one(slapd_server: Any) -> None:
    dead = f"ldap://127.0.0.1:{free_port()}"
    authenticator = make_authenticator(uris=f"{dead} {slapd_server.uri}", base_dn=slapd_server.base_dn)
    assert authenticator.authenticate("alice", ALICE_PASSWORD)
    assert authenticator.get_user("alice").server == slapd_server.uri


def test_every_uri_dead_is_unavailable_naming_them(slapd_server: Any) -> None:
    dead = [f"ldap://127.0.0.1:{free_port()}" for _ in range(2)]
    authenticator = make_authenticator(uris=" ".join(dead), base_dn=slapd_server.base_dn, connect_timeout=2)
    with pytest.raises(LdapUnavailableError) as caught:
        authenticator.authenticate("alice", ALICE_PASSWORD)
    assert isinstance(caught.value, LimsUnavailableError)
    assert all(uri in str(caught.value) for uri in dead)
    assert not authenticator.echo()


def test_a_restarted_server_is_used_again(slapd_factory: Any) -> None:
    server = slapd_factory()
    authenticator = make_authenticator(**search_keys(server))
    assert authenticator.authenticate("alice", ALICE_PASSWORD) and authenticator.echo()
    server.stop()
    with pytest.raises(LdapUnavailableError):
        authenticator.authenticate("alice", ALICE_PASSWORD)
    assert not authenticator.echo()
    server.start()
    assert authenticator.authenticate("alice", ALICE_PASSWORD) and authenticator.echo()


# ------------------------------------------------------- secrets and logs


def test_no_password_in_logs_errors_or_reprs(slapd_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    service_password = slapd_server.service_password
    authenticator = make_authenticator(
        **search_keys(slapd_server, service_dn=slapd_server.service_dn, service_password=service_password)
    )
    texts = [repr(authenticator.config), repr(authenticator.client.settings)]
    for password in ("wrong-pw-7731", ALICE_PASSWORD):
        try:
            authenticator.authenticate("alice", password)
        except LdapError as error:
            texts.append(str(error))
            texts.append(repr(error))
    texts.append(caplog.text)
    combined = "\n".join(texts)
    for secret in ("wrong-pw-7731", ALICE_PASSWORD, service_password):
        assert secret not in combined


# ------------------------------------------------------------ injection


INJECTION_USERNAMES = [
    "*",
    "**",
    "a*",
    "*)(uid=*",
    "*)(|(uid=*",
    "alice)(uid=*",
    "alice)(|(objectClass=*)",
    "alice*",
    "*alice",
    "(uid=alice)",
    "alice\x00",
    "alice\x00)(uid=*",
    "uid=alice,ou=people,dc=example,dc=org",
    "alice,ou=people",
    "alice+cn=x",
    'alice"',
    "alice<script>",
    "#alice",
    "alice;bob",
    "alice\\2a",
    "\\2a",
    "ａｌｉｃｅ",  # full-width look-alike
    "аlice",  # Cyrillic a
    "alice\u200b",  # zero-width space
    "alice\u202e",  # right-to-left override
    "x" * 5000,
    "alice\n",
    " alice",
    "admin",
    "cn=admin,dc=example,dc=org",
]


@pytest.mark.parametrize("username", INJECTION_USERNAMES, ids=range(len(INJECTION_USERNAMES)))
@pytest.mark.parametrize("password", [ALICE_PASSWORD, "*", "root-secret"])
def test_injection_payloads_never_authenticate(slapd_server: Any, username: str, password: str) -> None:
    authenticator = make_authenticator(**search_keys(slapd_server, bind_dn_template=None))
    with pytest.raises(LdapError) as caught:
        authenticator.authenticate(username, password)
    assert isinstance(caught.value, LimsAuthenticationError | LdapConfigError)
    assert authenticator.get_user(username) is None


@pytest.mark.parametrize("username", INJECTION_USERNAMES, ids=range(len(INJECTION_USERNAMES)))
def test_injection_payloads_never_authenticate_with_a_bind_template(slapd_server: Any, username: str) -> None:
    authenticator = make_authenticator(
        uris=slapd_server.uri, bind_dn_template=f"uid={{username}},ou=people,{slapd_server.base_dn}"
    )
    with pytest.raises(LdapError):
        authenticator.authenticate(username, ALICE_PASSWORD)


@pytest.mark.parametrize("mode", ["search", "template"])
def test_letter_case_is_folded_but_look_alikes_are_not(slapd_server: Any, mode: str) -> None:
    keys = (
        search_keys(slapd_server)
        if mode == "search"
        else {"uris": slapd_server.uri, "bind_dn_template": f"uid={{username}},ou=people,{slapd_server.base_dn}"}
    )
    authenticator = make_authenticator(**keys)
    assert authenticator.authenticate("ALICE", ALICE_PASSWORD)
    for look_alike in ("ａｌｉｃｅ", "ALİCE"):
        with pytest.raises(LdapError):
            authenticator.authenticate(look_alike, ALICE_PASSWORD)


# ---------------------------------------------------------------- gevent


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server on loopback that accepts connections and never answers."""
    held: list[socket.socket] = []

    def hold(client: socket.socket, address: Any) -> None:
        held.append(client)
        gevent.sleep(60)

    server = StreamServer(("127.0.0.1", 0), hold)
    server.start()
    try:
        yield f"ldap://127.0.0.1:{server.server_port}"
    finally:
        server.stop(timeout=1)
        for client in held:
            client.close()


@pytest.mark.parametrize("target", ["silent", "refused"])
def test_a_waiting_login_does_not_stall_other_greenlets(silent_server: str, target: str) -> None:
    uri = silent_server if target == "silent" else f"ldap://127.0.0.1:{free_port()}"
    authenticator = make_authenticator(uris=uri, base_dn="dc=example,dc=org", connect_timeout=1, operation_timeout=1)
    beats: list[float] = []
    stop = gevent.event.Event()

    def heartbeat() -> None:
        while not stop.is_set():
            beats.append(time.monotonic())
            gevent.sleep(0.01)

    beating = gevent.spawn(heartbeat)
    gevent.sleep(0.05)
    started = time.monotonic()
    with pytest.raises(LdapUnavailableError):
        authenticator.authenticate("alice", ALICE_PASSWORD)
    elapsed = time.monotonic() - started
    gevent.sleep(0.05)
    stop.set()
    beating.join()
    worst_stall = max(b - a for a, b in itertools.pairwise(beats))
    assert elapsed < 5, "the login must give up within its timeouts"
    assert worst_stall < 0.25, f"the hub was blocked for {worst_stall:.3f} s"
    if target == "silent":
        assert elapsed >= 0.9, "the silent server must have been waited for"
