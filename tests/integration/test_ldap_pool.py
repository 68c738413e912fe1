"""Kept LDAP connections against a real slapd: roles never mix, dead ones are replaced, bursts are bounded."""

from __future__ import annotations

from typing import Any

import gevent
import pytest

from mxcubecore_lims.errors import LdapInvalidCredentialsError
from mxcubecore_lims.HardwareObjects.LdapAuthenticator import LdapAuthenticator
from mxcubecore_lims.ldap.pool import MAX_IDLE
from tests.integration.test_ldap_authenticator import ALICE_PASSWORD, make_authenticator

pytestmark = pytest.mark.integration


def kept(authenticator: LdapAuthenticator, uri: str, role: str) -> list[Any]:
    """The connections the authenticator keeps for ``role`` (its client's pool, read only)."""
    client = authenticator._client
    assert client is not None
    return list(client._pools[uri]._idle[role])  # type: ignore[index]


def identity(connection: Any) -> str:
    """Who the server thinks the connection is (RFC 4532 "Who am I?"; "" for anonymous)."""
    answer = connection.extend.standard.who_am_i()
    return (answer or "").removeprefix("dn:").lower()


def test_searches_run_as_the_searcher_never_as_the_last_user(slapd_server: Any) -> None:
    """After alice logs in, the kept search connection is still anonymous; the bind one is alice."""
    authenticator = make_authenticator(uris=slapd_server.uri, base_dn=f"ou=people,{slapd_server.base_dn}")
    assert authenticator.authenticate("alice", ALICE_PASSWORD)
    assert authenticator.authenticate("alice", ALICE_PASSWORD)  # the second login reuses both
    [search] = kept(authenticator, slapd_server.uri, "search")
    [bind] = kept(authenticator, slapd_server.uri, "bind")
    assert identity(search) == ""
    assert identity(bind) == slapd_server.user_dn("alice").lower()


def test_the_service_account_search_connection_stays_the_service_account(slapd_factory: Any) -> None:
    server = slapd_factory(allow_anonymous_search=False)
    authenticator = make_authenticator(
        uris=server.uri,
        base_dn=f"ou=people,{server.base_dn}",
        service_dn=server.service_dn,
        service_password=server.service_password,
    )
    assert authenticator.authenticate("alice", ALICE_PASSWORD)
    with pytest.raises(LdapInvalidCredentialsError):
        authenticator.authenticate("alice", "wrong")
    assert authenticator.authenticate("alice", ALICE_PASSWORD)
    [search] = kept(authenticator, server.uri, "search")
    assert identity(search) == server.service_dn.lower()


def test_connections_kept_across_a_server_restart_are_replaced_at_the_next_login(slapd_factory: Any) -> None:
    """No failed login in between: the dead kept connections are noticed and replaced."""
    server = slapd_factory()
    authenticator = make_authenticator(uris=server.uri, base_dn=f"ou=people,{server.base_dn}")
    assert authenticator.authenticate("alice", ALICE_PASSWORD)
    before = kept(authenticator, server.uri, "search") + kept(authenticator, server.uri, "bind")
    server.stop()
    server.start()
    assert authenticator.authenticate("alice", ALICE_PASSWORD)
    after = kept(authenticator, server.uri, "search") + kept(authenticator, server.uri, "bind")
    assert len(after) == 2 and not set(map(id, after)) & set(map(id, before))
    with pytest.raises(LdapInvalidCredentialsError):
        authenticator.authenticate("alice", "wrong")


def test_a_burst_of_concurrent_logins_all_succeed_and_few_connections_are_kept(slapd_server: Any) -> None:
    authenticator = make_authenticator(uris=slapd_server.uri, base_dn=f"ou=people,{slapd_server.base_dn}")
    logins = [gevent.spawn(authenticator.authenticate, "alice", ALICE_PASSWORD) for _ in range(40)]
    wrong = [gevent.spawn(authenticator.authenticate, "alice", "nope") for _ in range(10)]
    gevent.joinall(logins + wrong, timeout=60, raise_error=False)
    assert all(g.successful() and g.value is True for g in logins)
    assert all(isinstance(g.exception, LdapInvalidCredentialsError) for g in wrong)
    for role in ("search", "bind"):
        assert 1 <= len(kept(authenticator, slapd_server.uri, role)) <= MAX_IDLE


def test_initialising_again_closes_the_kept_connections(slapd_server: Any) -> None:
    authenticator = make_authenticator(uris=slapd_server.uri, base_dn=f"ou=people,{slapd_server.base_dn}")
    assert authenticator.authenticate("alice", ALICE_PASSWORD)
    old = kept(authenticator, slapd_server.uri, "search") + kept(authenticator, slapd_server.uri, "bind")
    authenticator.init()
    assert old and all(connection.closed for connection in old)
    assert authenticator.authenticate("alice", ALICE_PASSWORD)
