"""mxcubeweb 4.791, the real client, on our LIMS objects: login to stored collection.

Each LIMS object of ours goes into the demo beamline's ``lims`` role in turn
(``esrf``: ESRFLIMS, ``icat``: ICATLIMS, ``user``: UserTypeISPyBLims with LDAP,
``proposal``: ProposalTypeISPyBLims). ``mxcubecore-lims web`` runs mxcubeweb's
own server in a child process; these tests are its browsers, over real HTTP on
loopback (and socket.io where mxcubeweb pushes state). The LIMS servers are the
emulated ISPyB and ICAT of this process and a real slapd; what mxcubeweb queued
is read back from their databases.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from ruamel.yaml import YAML

from mxcubecore_lims.testing.pytest_plugin import skip_or_fail

pytestmark = pytest.mark.integration

try:  # mxcubeweb is the peer these tests talk to: CI must have it
    import mxcubeweb  # noqa: F401
except ImportError:  # pragma: no cover - depends on the installation
    mxcubeweb = None

DEMO = Path(__file__).resolve().parents[2] / "configuration" / "demo"
INJECTION_NAMES = ["*)(uid=*))(|(uid=*", "admin' OR '1'='1", "alice)(|(objectClass=*"]


@dataclass(frozen=True)
class Kind:
    """How one LIMS object is logged in to, and what it holds (the emulators' fixtures).

    Logins are names; ``passwords`` gives each one's (``<ldap>``: slapd's seed).
    """

    lims: str
    user_type: bool
    passwords: dict[str, str]
    operator: str
    colleague: str  # another login of the operator's proposal: an observer
    session: str  # proposal_name of the session the operator chooses
    other: tuple[str, str, str]  # (a login, their own session, a login outside it)
    lims_names: tuple[str, ...]
    samples: dict[str, set[str]]  # LIMS name -> sample names of the session
    staff: str | None = None  # a staff login, admitted as observer or refused
    staff_outcome: str = ""

    def login(self, name: str) -> tuple[str, str]:
        """``(name, password)``."""
        return name, self.passwords[name]


ICAT_SAMPLES = {"lyso-01", "lyso-02", "lyso-03", "thau-01", "thau-02"}
ISPYB_SAMPLES = {f"lyso-0{n}" for n in range(1, 6)} | {f"thau-0{n}" for n in range(1, 6)}
ICAT_PASSWORDS = {"alice": "alice-pw", "bob": "bob-pw", "staff": "staff-pw"}

KINDS = {
    "esrf": Kind(
        "esrf", True, ICAT_PASSWORDS, "alice", "bob", "MX-415", ("bob", "MX-3456", "alice"),
        ("ICAT", "ISPyB"), {"ICAT": ICAT_SAMPLES, "ISPyB": ISPYB_SAMPLES}, "staff", "observer",
    ),
    "icat": Kind(
        "icat", True, ICAT_PASSWORDS, "alice", "bob", "MX-415", ("bob", "MX-3456", "alice"),
        ("ICAT",), {"ICAT": ICAT_SAMPLES}, "staff", "observer",
    ),
    "user": Kind(
        "user", True, {"alice": "<ldap>", "bob": "<ldap>", "o'brien+x": "<ldap>"}, "alice", "bob", "MX415",
        ("o'brien+x", "IDTEST0", "alice"), ("ISPyB",), {"ISPyB": ISPYB_SAMPLES},
    ),
    "proposal": Kind(
        "proposal", False,
        {"mx415": "mx415-password", "idtest0": "idtest0-password", "opid30": "opid30-password"},
        "mx415", "mx415", "MX415", ("idtest0", "IDTEST0", "mx415"), ("ISPyB",), {"ISPyB": ISPYB_SAMPLES},
        "opid30", "refused",
    ),
}


def ispyb_fixture_with_ldap_people() -> dict[str, Any]:
    """The default ISPyB fixture plus ISPyB persons for two more of slapd's users.

    LDAP's bob on MX415 (alice's colleague) and o'brien+x (a DN-special name) on IDTEST0.
    """
    from mxcubecore_lims.testing.ispyb.fixture import DEFAULT_FIXTURE

    data = YAML(typ="safe").load(DEFAULT_FIXTURE.read_text(encoding="utf-8"))
    data["persons"] += [
        {"login": "bob", "password": "bob-password", "givenName": "Bob", "familyName": "Builder", "proposals": ["mx415"]},
        {"login": "o'brien+x", "password": "ob-password", "givenName": "Flann", "familyName": "O'Brien",
         "proposals": ["idtest0"]},
    ]
    return data


@pytest.fixture(scope="module")
def servers(slapd_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Emulated ISPyB and ICAT of this process, the session's slapd, and the site directory naming them."""
    if mxcubeweb is None:
        skip_or_fail("mxcubeweb is not installed (pip install 'mxcubecore-lims[web]')")
    from mxcubecore_lims.testing.icat import EmulatedIcat
    from mxcubecore_lims.testing.ispyb import EmulatedIspyb
    from mxcubecore_lims.testing.mxcubeweb import write_site_directory

    ispyb = EmulatedIspyb(fixture=ispyb_fixture_with_ldap_people()).start()
    icat = EmulatedIcat().start()
    data = tmp_path_factory.mktemp("data")
    site = write_site_directory(
        tmp_path_factory.mktemp("site"),
        DEMO,
        {"ispyb": ispyb.root, "icat": icat.url, "ldap": slapd_server.uri, "data": str(data)},
    )
    try:
        yield type("Servers", (), {"ispyb": ispyb, "icat": icat, "slapd": slapd_server, "site": site, "data": data})
    finally:
        ispyb.close()
        icat.close()


@pytest.fixture(scope="module", params=list(KINDS))
def web(request: pytest.FixtureRequest, servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """mxcubeweb with one of our LIMS objects in the lims role."""
    from mxcubecore_lims.testing.mxcubeweb import MxcubewebServer

    kind = KINDS[request.param]
    seed = servers.slapd.seed
    passwords = {n: seed.user(n).password if p == "<ldap>" else p for n, p in kind.passwords.items()}
    kind = dataclasses.replace(kind, passwords=passwords)
    state = tmp_path_factory.mktemp(f"state-{kind.lims}")
    server = MxcubewebServer(
        [servers.site, DEMO], kind.lims, state / "mxcubeweb.log", env={"MXCUBECORE_LIMS_STATE_DIR": str(state)}
    ).start()
    try:
        yield type("Web", (), {"server": server, "kind": kind, "servers": servers})
    finally:
        code = server.stop()
        assert code == 0, f"mxcubecore-lims web exited with {code} on SIGTERM:\n{server.log()}"


@pytest.fixture
def browsers(web: Any) -> Iterator[Callable[[], Any]]:
    """Opens browsers on the server; every one still logged in signs out afterwards."""
    opened: list[Any] = []

    def open_browser() -> Any:
        client = web.server.client()
        opened.append(client)
        return client

    yield open_browser
    # Observers first: the operator's sign-out must not leave them stranded.
    for client in sorted(opened, key=lambda c: c.login_info().get("user", {}).get("inControl", False)):
        if client.login_info()["loggedIn"]:
            client.signout()


def session_id_of(info: dict[str, Any], proposal_name: str) -> str:
    """The id of the session named ``proposal_name`` on ID-DEMO in ``login_info``."""
    names = {s["proposal_name"].replace("-", "").upper(): s for s in info["proposalList"] if s["beamline_name"] == "ID-DEMO"}
    wanted = proposal_name.replace("-", "").upper()
    assert wanted in names, f"{proposal_name} not offered: {sorted(names)}"
    return str(names[wanted]["session_id"])


def logged_in(browser: Any, login: tuple[str, str], session: str | None = None) -> dict[str, Any]:
    """Logs in (must succeed), chooses ``session`` if given; the login info."""
    assert browser.login(*login) == "", web_log_hint(browser)
    info = browser.login_info()
    if session is not None:
        response = browser.select_session(session_id_of(info, session))
        assert response.status_code == 200, response.text
        info = browser.login_info()
    return info


def web_log_hint(browser: Any) -> str:
    return f"login refused by {browser.url}"


# ---------------------------------------------------------------- login


def test_login_with_the_right_password_reports_user_sessions_and_lims(web: Any, browsers: Any) -> None:
    kind = web.kind
    browser = browsers()
    info = logged_in(browser, kind.login(kind.operator))
    assert info["loggedIn"] is True
    assert info["loginType"] == ("User" if kind.user_type else "Proposal")
    assert info["beamlineName"] == "ID-DEMO" and info["synchrotronName"] == "DEMO"
    assert [entry["name"] for entry in info["limsName"]] == list(kind.lims_names)
    assert info["user"]["inControl"] is True
    if kind.user_type:
        assert info["user"]["username"] == kind.operator
        assert info["user"]["fullname"] not in ("", kind.operator)  # the LIMS's full name
    else:
        assert info["user"]["username"].startswith(f"{kind.operator}-")  # one per login
    session_id_of(info, kind.session)  # offered
    for session in info["proposalList"]:
        assert {"session_id", "proposal_name", "code", "number", "is_scheduled_time"} <= set(session)


@pytest.mark.parametrize("who", ["wrong password", "unknown user"] + [f"injection {n}" for n in range(len(INJECTION_NAMES))])
def test_a_bad_login_is_refused_and_leaves_nobody_logged_in(web: Any, browsers: Any, who: str) -> None:
    login_id, password = web.kind.login(web.kind.operator)
    if who == "wrong password":
        password = "not-the-password"
    elif who == "unknown user":
        login_id = "nosuchuser" if web.kind.user_type else "mx99999"
    else:
        login_id = INJECTION_NAMES[int(who.split()[-1])]
    browser = browsers()
    assert browser.login(login_id, password) == "Authentication failed"
    assert browser.login_info()["loggedIn"] is False
    # The server still serves, and the right login still works.
    assert browsers().login(*web.kind.login(web.kind.operator)) == ""


# ------------------------------------------------- session, samples, sign-out


def test_choosing_a_session_then_samples_from_each_lims_then_signing_out(web: Any, browsers: Any) -> None:
    kind = web.kind
    browser = browsers()
    info = logged_in(browser, kind.login(kind.operator), kind.session)
    chosen = session_id_of(info, kind.session)
    assert str(info["selectedProposalID"]) != "None"
    # GET /lims/proposal: mxcubeweb calls a method it lacks; our web command adds it.
    proposal = browser.get("/lims/proposal")["Proposal"]
    assert proposal["session_id"] == chosen
    for lims_name in kind.lims_names:
        samples = browser.samples(lims_name)
        names = {s["sampleName"] for s in samples["sampleList"].values()}
        assert names == kind.samples[lims_name], lims_name
        for location, sample in samples["sampleList"].items():
            assert sample["limsID"], sample
            assert location == sample["sampleID"]
    browser.signout()
    assert browser.login_info()["loggedIn"] is False


def test_a_colleague_becomes_an_observer_and_an_outsider_is_refused(web: Any, browsers: Any) -> None:
    kind = web.kind
    operator = browsers()
    logged_in(operator, kind.login(kind.operator), kind.session)
    colleague = browsers()
    info = logged_in(colleague, kind.login(kind.colleague))
    assert info["user"]["inControl"] is False  # an observer
    assert operator.login_info()["user"]["inControl"] is True
    # An observer may not run the queue.
    assert colleague.http.put(colleague.url + "/mxcube/api/v0.1/queue/start", json={"sid": None}).status_code == 401
    # Staff: ICAT's instrument scientist sees every investigation on ID-DEMO and
    # joins as an observer; an in-house proposal is still another proposal.
    if kind.staff is not None:
        staff = browsers()
        if kind.staff_outcome == "observer":
            info = logged_in(staff, kind.login(kind.staff))
            assert info["user"]["inControl"] is False
            session_id_of(info, kind.session)
        else:
            assert staff.login(*kind.login(kind.staff)) == "Authentication failed"


def test_a_user_of_another_proposal_is_refused_while_one_is_active(web: Any, browsers: Any) -> None:
    kind = web.kind
    owner_login, owner_session, outsider = kind.other
    owner = browsers()
    logged_in(owner, kind.login(owner_login), owner_session)
    refused = browsers()
    assert refused.login(*kind.login(outsider)) == "Authentication failed"
    assert refused.login_info()["loggedIn"] is False
    # Once the proposal signs out, the beamline is free again.
    owner.signout()
    assert browsers().login(*kind.login(outsider)) == ""
