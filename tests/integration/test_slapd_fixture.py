"""The shipped slapd fixture: a real OpenLDAP server seeded like a site's directory.

These tests talk to slapd with ldap3, the client the project uses, so they
also pin down what an LDAP authenticator can rely on: which binds succeed,
what anonymous clients and the service account may see, and how TLS behaves.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import ldap3
import pytest
from ldap3.core.exceptions import (
    LDAPException,
    LDAPPasswordIsMandatoryError,
    LDAPSocketOpenError,
)
from ldap3.utils.conv import escape_filter_chars

from mxcubecore_lims.errors import ConfigValueError, LimsUnavailableError
from mxcubecore_lims.testing import slapd as slapd_module
from mxcubecore_lims.testing.ldap_seed import (
    DEFAULT_SEED,
    SeedUser,
    check_ssha_password,
    dn_key,
    load_seed_yaml,
    same_dn,
    ssha_password,
)
from mxcubecore_lims.testing.pytest_plugin import is_ci, require_slapd
from mxcubecore_lims.testing.slapd import ENV_SLAPD, SlapdServer, SlapdStartError

pytestmark = pytest.mark.integration

Factory = Callable[..., SlapdServer]

USERS_WITH_PASSWORDS = [user for user in DEFAULT_SEED.users if user.password is not None]

# Connections opened by connect(), unbound after each test.
_open_connections: list[ldap3.Connection] = []


@pytest.fixture(autouse=True)
def _unbind_connections() -> Iterator[None]:
    yield
    while _open_connections:
        connection = _open_connections.pop()
        try:
            connection.unbind()
        except LDAPException:
            pass  # the server may have been stopped by the test
        finally:
            # ldap3 keeps the socket of a refused or failed connection open.
            if connection.socket is not None:
                connection.socket.close()


def connect(
    server: SlapdServer | str,
    user: str | None = None,
    password: str | None = None,
    tls: ldap3.Tls | None = None,
    start_tls: bool = False,
) -> ldap3.Connection:
    """Opens an ldap3 connection, upgrades it if asked, and binds (anonymously without a user)."""
    uri = server if isinstance(server, str) else server.uri
    connection = ldap3.Connection(
        ldap3.Server(uri, tls=tls, get_info=ldap3.NONE, connect_timeout=5),
        user=user,
        password=password,
        receive_timeout=5,
        # Show what the server sent: no empty lists for withheld attributes.
        return_empty_attributes=False,
    )
    _open_connections.append(connection)
    connection.open()
    if start_tls:
        connection.start_tls()
    connection.bind()
    return connection


def uids_found(connection: ldap3.Connection, base_dn: str) -> set[str]:
    """Returns the uids of every person the connection can find."""
    connection.search(f"ou=people,{base_dn}", "(objectClass=inetOrgPerson)", attributes=["uid"])
    return {entry.uid.value for entry in connection.entries}


def verified_tls(ca_file: Path) -> ldap3.Tls:
    """Returns TLS settings that check the server against ``ca_file``."""
    return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=str(ca_file))


# --------------------------------------------------------------------------
# binding


@pytest.mark.parametrize("user", USERS_WITH_PASSWORDS, ids=lambda user: user.uid)
def test_seeded_user_binds_with_its_password(slapd_server: SlapdServer, user: SeedUser) -> None:
    connection = connect(slapd_server, slapd_server.user_dn(user.uid), user.password)
    assert connection.bound, connection.result
    # slapd hex-escapes DN specials (\2B, \2C), so compare normalised DNs.
    whoami = connection.extend.standard.who_am_i()
    assert same_dn(whoami.removeprefix("dn:"), slapd_server.user_dn(user.uid))


@pytest.mark.parametrize("user", USERS_WITH_PASSWORDS, ids=lambda user: user.uid)
def test_seeded_user_is_refused_with_a_wrong_password(slapd_server: SlapdServer, user: SeedUser) -> None:
    for wrong in (user.password + "x", user.password.upper(), "alice-secret "):
        connection = connect(slapd_server, slapd_server.user_dn(user.uid), wrong)
        assert not connection.bound
        assert connection.result["description"] == "invalidCredentials"


def test_user_without_password_and_unknown_user_cannot_bind(slapd_server: SlapdServer) -> None:
    for dn in (slapd_server.user_dn("carol"), f"uid=nobody,ou=people,{slapd_server.base_dn}"):
        connection = connect(slapd_server, dn, "anything")
        assert not connection.bound
        assert connection.result["description"] == "invalidCredentials"


def test_empty_password_is_refused_by_client_and_server(slapd_server: SlapdServer) -> None:
    # A DN with an empty password is an "unauthenticated bind" (RFC 4513
    # 5.1.2) that some servers answer with success. ldap3 refuses to send it,
    # and this slapd refuses it too.
    with pytest.raises(LDAPPasswordIsMandatoryError):
        connect(slapd_server, slapd_server.user_dn("alice"), "")
    ldapwhoami = shutil.which("ldapwhoami")
    if ldapwhoami:
        command = [ldapwhoami, "-x", "-H", slapd_server.uri, "-D", slapd_server.user_dn("alice")]
        result = subprocess.run([*command, "-w", ""], capture_output=True, text=True, timeout=30, check=False)
        assert result.returncode == 53 and "unauthenticated bind" in result.stderr


def test_root_dn_binds_with_root_password(slapd_server: SlapdServer) -> None:
    connection = connect(slapd_server, slapd_server.root_dn, slapd_server.root_password)
    assert connection.bound, connection.result


# --------------------------------------------------------------------------
# the access policy


def test_anonymous_search_finds_users_but_never_their_passwords(
    slapd_server: SlapdServer,
) -> None:
    anonymous = connect(slapd_server)
    assert uids_found(anonymous, slapd_server.base_dn) == {u.uid for u in DEFAULT_SEED.users}
    anonymous.search(
        slapd_server.base_dn,
        "(uid=alice)",
        attributes=["userPassword", "cn", "mail", "homeDirectory"],
    )
    (alice,) = anonymous.entries
    assert alice.cn.value == "Alice Liddell" and alice.homeDirectory.value == "/home/alice"
    assert "userPassword" not in alice.entry_attributes_as_dict
    # Nor can a filter on the password reveal it, one guess at a time.
    anonymous.search(slapd_server.base_dn, "(userPassword=*)", attributes=["uid"])
    assert anonymous.entries == []


def test_a_bound_user_cannot_read_passwords_either(slapd_server: SlapdServer) -> None:
    alice = connect(slapd_server, slapd_server.user_dn("alice"), "alice-secret")
    alice.search(slapd_server.base_dn, "(objectClass=*)", attributes=["userPassword"])
    assert alice.entries and not any(e.entry_attributes_as_dict for e in alice.entries)


def test_service_account_searches_users_but_not_passwords(slapd_server: SlapdServer) -> None:
    service = connect(slapd_server, slapd_server.service_dn, slapd_server.service_password)
    assert service.bound, service.result
    assert uids_found(service, slapd_server.base_dn) == {u.uid for u in DEFAULT_SEED.users}
    service.search(slapd_server.base_dn, "(uid=bob)", attributes=["userPassword"])
    assert service.entries[0].entry_attributes_as_dict == {}


def test_users_with_dn_special_and_unicode_uids_are_found_by_escaped_filters(
    slapd_server: SlapdServer,
) -> None:
    anonymous = connect(slapd_server)
    for uid in ("o'brien+x", "smith, jr", "zoë"):
        query = f"(uid={escape_filter_chars(uid)})"
        anonymous.search(slapd_server.base_dn, query, attributes=["uid"])
        (entry,) = anonymous.entries
        assert entry.uid.value == uid
        assert same_dn(entry.entry_dn, slapd_server.user_dn(uid))
        # What slapd returns is not what we wrote, only equivalent to it.
        assert uid == "zoë" or entry.entry_dn != slapd_server.user_dn(uid)


def test_site_without_anonymous_search_still_lets_the_service_account_search(
    slapd_factory: Factory,
) -> None:
    server = slapd_factory(allow_anonymous_search=False)
    assert uids_found(connect(server), server.base_dn) == set()
    service = connect(server, server.service_dn, server.service_password)
    assert "alice" in uids_found(service, server.base_dn)
    # Binding is still anonymous's business, so users can log in.
    assert connect(server, server.user_dn("alice"), "alice-secret").bound


# --------------------------------------------------------------------------
# groups


def test_group_of_names_lists_member_dns(slapd_server: SlapdServer) -> None:
    anonymous = connect(slapd_server)
    group_dn = slapd_server.group_dn("mx-users")
    anonymous.search(group_dn, "(objectClass=groupOfNames)", ldap3.BASE, attributes=["member"])
    (group,) = anonymous.entries
    expected = {dn_key(slapd_server.user_dn(uid)) for uid in ("alice", "o'brien+x", "zoë")}
    assert {dn_key(dn) for dn in group.member.values} == expected


def test_groups_are_found_from_a_member(slapd_server: SlapdServer) -> None:
    anonymous = connect(slapd_server)
    member = slapd_server.user_dn("o'brien+x")
    # Filter values need escaping too: the DN holds a backslash.
    anonymous.search(
        f"ou=groups,{slapd_server.base_dn}",
        f"(&(objectClass=groupOfNames)(member={escape_filter_chars(member)}))",
        attributes=["cn"],
    )
    assert [entry.cn.value for entry in anonymous.entries] == ["mx-users"]
    anonymous.search(
        f"ou=groups,{slapd_server.base_dn}",
        f"(&(objectClass=posixGroup)(memberUid={escape_filter_chars('smith, jr')}))",
        attributes=["cn", "gidNumber"],
    )
    (staff,) = anonymous.entries
    # Without schema information (get_info=NONE) ldap3 leaves numbers as text.
    assert (staff.cn.value, staff.gidNumber.value) == ("mx-staff", "5000")
    assert [group.cn for group in DEFAULT_SEED.groups_of("bob")] == []


# --------------------------------------------------------------------------
# TLS


def test_ldaps_verifies_against_the_test_ca(slapd_tls_server: SlapdServer) -> None:
    alice = connect(
        slapd_tls_server.ldaps_uri,
        slapd_tls_server.user_dn("alice"),
        "alice-secret",
        tls=verified_tls(slapd_tls_server.ca_file),
    )
    assert alice.bound and alice.server.ssl


def test_ldaps_with_the_wrong_ca_is_refused(slapd_tls_server: SlapdServer) -> None:
    with pytest.raises(LDAPSocketOpenError, match=r"(?i)certificate"):
        connect(slapd_tls_server.ldaps_uri, tls=verified_tls(slapd_tls_server.other_ca_file))


def test_starttls_upgrades_the_plain_port(slapd_tls_server: SlapdServer) -> None:
    zoe = connect(
        slapd_tls_server.uri,
        slapd_tls_server.user_dn("zoë"),
        "pässwörd-ß",
        tls=verified_tls(slapd_tls_server.ca_file),
        start_tls=True,
    )
    assert zoe.tls_started and zoe.bound, zoe.result
    assert not zoe.server.ssl, "the plain port, upgraded"
    # The wrong CA fails the upgrade the same way.
    with pytest.raises(LDAPException, match=r"(?i)certificate"):
        connect(
            slapd_tls_server.uri,
            tls=verified_tls(slapd_tls_server.other_ca_file),
            start_tls=True,
        )


def test_tls_material_names_localhost_and_loopback(slapd_tls_server: SlapdServer) -> None:
    material = slapd_tls_server.tls_material
    assert material is not None
    assert material.server.dns_names == ("localhost",)
    assert material.server.ip_addresses == ("127.0.0.1",)
    assert oct(material.server.key_file.stat().st_mode & 0o777) == "0o600"


# --------------------------------------------------------------------------
# life cycle


def test_stop_then_start_keeps_port_and_data(slapd_factory: Factory) -> None:
    server = slapd_factory(suffix="dc=restart,dc=test")
    port = server.port
    admin = connect(server, server.root_dn, server.root_password)
    dn = f"uid=dave,ou=people,{server.base_dn}"
    assert admin.add(dn, ["inetOrgPerson"], {"cn": "Dave", "sn": "Added", "uid": "dave"})
    server.stop()
    assert not server.is_running
    with pytest.raises(LDAPSocketOpenError):
        connect(server)
    server.start()
    assert (server.port, server.start_count) == (port, 2)
    assert "dave" in uids_found(connect(server), server.base_dn)
    assert "=== start 2:" in server.log_text()


def test_log_records_the_operations(slapd_factory: Factory) -> None:
    server = slapd_factory()
    before = server.log_size()
    connect(server, server.user_dn("bob"), "b*b (pass) \\word")
    assert 'BIND dn="uid=bob,ou=people,dc=example,dc=org"' in server.log_text(since=before)


def test_close_removes_the_run_directory_unless_kept(slapd_factory: Factory) -> None:
    server = slapd_factory()
    run_dir = server.run_dir
    assert run_dir is not None and (run_dir / "slapd.conf").is_file()
    server.close()
    assert not run_dir.exists()
    kept = slapd_factory()
    kept.close(keep_directory=True)
    assert kept.run_dir is not None and (kept.run_dir / "slapd.log").is_file()
    shutil.rmtree(kept.run_dir)


def test_context_manager_starts_and_closes() -> None:
    require_slapd()
    with SlapdServer(seed=None, ldif=[LDIF_ONLY]) as server:
        assert connect(server).bound
        run_dir = server.run_dir
        assert uids_found(connect(server), server.base_dn) == {"ldifonly"}
    assert not server.is_running and run_dir is not None and not run_dir.exists()


LDIF_ONLY = """\
dn: dc=example,dc=org
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: uid=ldifonly,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: ldifonly
cn: LDIF Only
sn: Only
"""


# --------------------------------------------------------------------------
# start-up errors carry slapd's log


def test_bad_suffix_fails_with_slapds_own_words() -> None:
    require_slapd()
    server = SlapdServer(suffix="not a dn", seed=None, ready_timeout=5)
    with pytest.raises(SlapdStartError) as raised:
        server.start()
    error = raised.value
    assert isinstance(error, LimsUnavailableError)
    assert error.returncode not in (None, 0)
    assert "invalid DN" in error.log and "invalid DN" in str(error)
    assert str(error.run_dir) in str(error)
    server.close()


class MisconfiguredServer(SlapdServer):
    """Adds a directive slapd does not know to the database section."""

    def database_config(self) -> list[str]:
        return [*super().database_config(), "no-such-directive on"]


def test_config_hook_error_reaches_the_readiness_error() -> None:
    require_slapd()
    server = MisconfiguredServer(seed=None)
    with pytest.raises(SlapdStartError, match="exited with status") as raised:
        server.start()
    assert "no-such-directive" in raised.value.log
    server.close()


def test_deadline_error_includes_the_output_of_a_hung_server(tmp_path: Path) -> None:
    # A stand-in that talks but never listens: the deadline must fire.
    fake = tmp_path / "slapd"
    fake.write_text("#!/bin/sh\necho 'fake slapd: pretending to start'\nexec sleep 60\n")
    fake.chmod(0o755)
    server = SlapdServer(slapd_path=fake, seed=None, ready_timeout=0.5)
    with pytest.raises(SlapdStartError, match=r"did not answer within 0\.5 s") as raised:
        server.start()
    assert "pretending to start" in str(raised.value)
    assert raised.value.returncode is None and not server.is_running
    server.close()


def test_bad_seed_ldif_fails_with_slapadds_words() -> None:
    require_slapd()
    stray = "dn: cn=stray,dc=elsewhere\nobjectClass: person\ncn: stray\nsn: Stray\n"
    server = SlapdServer(ldif=[stray])
    with pytest.raises(SlapdStartError, match="slapadd failed") as raised:
        server.start()
    assert "not configured to hold" in raised.value.log
    server.close()


def test_first_start_moves_to_new_ports_when_one_was_taken(
    monkeypatch: pytest.MonkeyPatch, slapd_factory: Factory
) -> None:
    with socket.socket() as squatter:
        # Bound, not listening: slapd's bind fails, our probe is refused at once.
        squatter.bind(("127.0.0.1", 0))
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real_free_port = slapd_module.free_port
        monkeypatch.setattr(slapd_module, "free_port", lambda host: next(ports, None) or real_free_port(host))
        server = slapd_factory()
        assert server.port != taken
        assert "errno=98" in server.log_text() or "in use" in server.log_text()


# --------------------------------------------------------------------------
# seeds from YAML and passwords


def test_yaml_seed_loads_and_binds(tmp_path: Path, slapd_factory: Factory) -> None:
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text(
        textwrap.dedent(
            """\
            users:
              - uid: eve
                cn: Eve Example
                sn: Example
                mail: eve@example.org
                password: "0123"
            groups:
              - cn: beamline-staff
                members: [eve]
            services:
              - cn: mxcube-service
                password: svc
            """
        ),
        encoding="utf-8",
    )
    seed = load_seed_yaml(seed_file)
    assert seed.user("eve").home_directory == "/home/eve"
    server = slapd_factory(seed=seed, suffix="o=yaml")
    assert connect(server, server.user_dn("eve"), "0123").bound
    assert connect(server, server.service_dn, "svc").bound
    assert server.group_dn("beamline-staff") == "cn=beamline-staff,ou=groups,o=yaml"


def test_yaml_seed_errors_name_file_line_and_key(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.yaml"
    seed_file.write_text("users:\n  - uid: eve\n    cn: Eve\n    sn: E\n    mail: e@x\n    password: 123\n")
    with pytest.raises(ConfigValueError) as raised:
        load_seed_yaml(seed_file)
    assert (raised.value.file, raised.value.line) == (str(seed_file), 6)
    assert raised.value.field == "users[0].password"


def test_ssha_passwords_are_salted_and_checkable() -> None:
    first, second = ssha_password("pässwörd"), ssha_password("pässwörd")
    assert first != second and first.startswith("{SSHA}")
    assert check_ssha_password("pässwörd", first) and not check_ssha_password("passwörd", first)


# --------------------------------------------------------------------------
# skip locally, fail under CI


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [
        ("1", pytest.fail.Exception),
        ("true", pytest.fail.Exception),
        (None, pytest.skip.Exception),
        ("false", pytest.skip.Exception),
    ],
)
def test_missing_slapd_skips_locally_and_fails_under_ci(
    tmp_path: Path, ci: str | None, outcome: type[BaseException]
) -> None:
    environ = {ENV_SLAPD: str(tmp_path / "no-such-slapd")}
    if ci is not None:
        environ["CI"] = ci
    assert is_ci(environ) is (outcome is pytest.fail.Exception)
    with pytest.raises(outcome, match="no-such-slapd"):
        require_slapd(environ=environ)


@pytest.fixture
def outer_pytest(tmp_path: Path) -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    """Runs pytest on a test file in a child process, with extra environment."""

    def run(source: str, **env: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / "test_child.py").write_text(textwrap.dedent(source), encoding="utf-8")
        environ = {k: v for k, v in os.environ.items() if k not in ("CI", ENV_SLAPD)}
        environ.update(env)
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_child.py"],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    yield run


USES_FIXTURE = """\
    def test_uses_server(slapd_server):
        assert slapd_server.uri
"""


def test_fixture_fails_under_ci_when_the_slapd_path_is_wrong(outer_pytest, tmp_path: Path) -> None:
    wrong = str(tmp_path / "wrong" / "slapd")
    result = outer_pytest(USES_FIXTURE, CI="1", **{ENV_SLAPD: wrong})
    assert result.returncode != 0, result.stdout
    assert "1 error" in result.stdout and "skipped" not in result.stdout
    assert wrong in result.stdout and "CI is set" in result.stdout
    local = outer_pytest(USES_FIXTURE, **{ENV_SLAPD: wrong})
    assert local.returncode == 0 and "1 skipped" in local.stdout, local.stdout


def test_failing_test_report_shows_slapd_log_and_keeps_the_directory(outer_pytest) -> None:
    result = outer_pytest(
        """\
        def test_fails(slapd_factory):
            server = slapd_factory()
            print("RUN_DIR", server.run_dir)
            assert False, "deliberate"
        """
    )
    assert result.returncode == 1
    assert "slapd log ldap://127.0.0.1:" in result.stdout
    assert "slapd starting" in result.stdout and "run directory (kept)" in result.stdout
    run_dir = Path(result.stdout.split("RUN_DIR ", 1)[1].split()[0])
    assert (run_dir / "slapd.log").is_file()
    shutil.rmtree(run_dir)
