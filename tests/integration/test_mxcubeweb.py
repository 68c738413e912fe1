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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ruamel.yaml import YAML

from mxcubecore_lims.testing.pytest_plugin import skip_or_fail

pytestmark = pytest.mark.integration

try:  # mxcubeweb is the peer these tests talk to: CI must have it
    import mxcubeweb
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
        "esrf",
        True,
        ICAT_PASSWORDS,
        "alice",
        "bob",
        "MX-415",
        ("bob", "MX-3456", "alice"),
        ("ICAT", "ISPyB"),
        {"ICAT": ICAT_SAMPLES, "ISPyB": ISPYB_SAMPLES},
        "staff",
        "observer",
    ),
    "icat": Kind(
        "icat",
        True,
        ICAT_PASSWORDS,
        "alice",
        "bob",
        "MX-415",
        ("bob", "MX-3456", "alice"),
        ("ICAT",),
        {"ICAT": ICAT_SAMPLES},
        "staff",
        "observer",
    ),
    "user": Kind(
        "user",
        True,
        {"alice": "<ldap>", "bob": "<ldap>", "o'brien+x": "<ldap>"},
        "alice",
        "bob",
        "MX415",
        ("o'brien+x", "IDTEST0", "alice"),
        ("ISPyB",),
        {"ISPyB": ISPYB_SAMPLES},
    ),
    "proposal": Kind(
        "proposal",
        False,
        {"mx415": "mx415-password", "idtest0": "idtest0-password", "opid30": "opid30-password"},
        "mx415",
        "mx415",
        "MX415",
        ("idtest0", "IDTEST0", "mx415"),
        ("ISPyB",),
        {"ISPyB": ISPYB_SAMPLES},
        "opid30",
        "refused",
    ),
}


def ispyb_fixture_with_ldap_people() -> dict[str, Any]:
    """The default ISPyB fixture plus ISPyB persons for two more of slapd's users.

    LDAP's bob on MX415 (alice's colleague) and o'brien+x (a DN-special name) on IDTEST0.
    """
    from mxcubecore_lims.testing.ispyb.fixture import DEFAULT_FIXTURE

    data = YAML(typ="safe").load(DEFAULT_FIXTURE.read_text(encoding="utf-8"))
    data["persons"] += [
        {
            "login": "bob",
            "password": "bob-password",
            "givenName": "Bob",
            "familyName": "Builder",
            "proposals": ["mx415"],
        },
        {
            "login": "o'brien+x",
            "password": "ob-password",
            "givenName": "Flann",
            "familyName": "O'Brien",
            "proposals": ["idtest0"],
        },
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
        yield SimpleNamespace(ispyb=ispyb, icat=icat, slapd=slapd_server, site=site, data=data)
    finally:
        ispyb.close()
        icat.close()


@pytest.fixture(scope="module", params=list(KINDS))
def web(request: pytest.FixtureRequest, servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Mxcubeweb with one of our LIMS objects in the lims role."""
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
        yield SimpleNamespace(server=server, kind=kind, servers=servers)
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
    names = {
        s["proposal_name"].replace("-", "").upper(): s for s in info["proposalList"] if s["beamline_name"] == "ID-DEMO"
    }
    wanted = proposal_name.replace("-", "").upper()
    assert wanted in names, f"{proposal_name} not offered: {sorted(names)}"
    return str(names[wanted]["session_id"])


def logged_in(browser: Any, login: tuple[str, str], session: str | None = None) -> dict[str, Any]:
    """Logs in (must succeed), chooses ``session`` if given; the login info."""
    assert browser.login(*login) == "", f"{login[0]} refused by {browser.url}"
    info = browser.login_info()
    if session is not None:
        response = browser.select_session(session_id_of(info, session))
        assert response.status_code == 200, response.text
        info = browser.login_info()
    return info


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


@pytest.mark.parametrize(
    "who", ["wrong password", "unknown user"] + [f"injection {n}" for n in range(len(INJECTION_NAMES))]
)
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


def test_session_and_observer_changes_are_pushed_over_socketio(web: Any, browsers: Any) -> None:
    kind = web.kind
    operator = browsers()
    assert operator.login(*kind.login(kind.operator)) == ""
    with operator.listen() as pushed_to_operator:
        response = operator.select_session(session_id_of(operator.login_info(), kind.session))
        assert response.status_code == 200, response.text
        pushed_to_operator.wait_for("sessionsChanged")
        colleague = browsers()
        logged_in(colleague, kind.login(kind.colleague))
        with colleague.listen() as pushed_to_colleague:
            # The operator signs the observer out: mxcubeweb has our LIMS
            # object forget them (remove_user) and pushes forceSignout to
            # the observer's socket alone.
            operator.post("/ra/logout_user", {"username": colleague.login_info()["user"]["username"]})
            pushed_to_colleague.wait_for("forceSignout")
            assert "forceSignout" not in pushed_to_operator.names()
        assert colleague.login_info()["loggedIn"] is False
        assert operator.login_info()["user"]["inControl"] is True
        # Forgotten, not barred: the colleague comes back, then leaves, and
        # the operator's page is told the observers changed.
        logged_in(colleague, kind.login(kind.colleague))
        colleague.signout()
        pushed_to_operator.wait_for("observersChanged")


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


# ---------------------------------------------------- a collection through the queue


@dataclass(frozen=True)
class Queued:
    """What a test asked mxcubeweb to collect."""

    prefix: str
    sample_lims_id: int
    num_images: int = 5
    exp_time: float = 0.02
    osc_start: float = 10.0
    osc_range: float = 0.2
    transmission: float = 50.0

    @property
    def first_and_last_image(self) -> list[str]:
        """The files the collect routine stores: first and last (run 1, session.xml's precision 4)."""
        return [f"{self.prefix}_1_{1:04d}.cbf", f"{self.prefix}_1_{self.num_images:04d}.cbf"]


def queue_and_run(browser: Any, sample: dict[str, Any], prefix: str, timeout: float = 90.0) -> Queued:
    """Queues one data collection on ``sample`` through mxcubeweb's queue, runs it, waits for the end."""
    queued = Queued(prefix, int(sample["limsID"]))
    task = {
        "type": "DataCollection",
        "checked": True,
        "sampleID": sample["sampleID"],
        "parameters": {
            "first_image": 1,
            "num_images": queued.num_images,
            "osc_start": queued.osc_start,
            "osc_range": queued.osc_range,
            "exp_time": queued.exp_time,
            "transmission": queued.transmission,
            "energy": 12.7,
            "resolution": 2.0,
            "prefix": prefix,
            "subdir": f"{prefix}/",
            "shape": -1,
            "take_snapshots": 1,
            "shutterless": True,
        },
    }
    item = {
        key: sample[key]
        for key in ("sampleID", "location", "sampleName", "limsID", "defaultPrefix", "defaultSubDir", "proteinAcronym")
    }
    added = browser.post("/queue/", [{**item, "type": "Sample", "checked": True, "tasks": [task]}])
    assert [r["success"] for r in added["addResults"]] == [True], added["addResults"]
    browser.put("/queue/start", {"sid": sample["sampleID"]})
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = browser.get("/queue/queue_state")
        if state["queueStatus"] == "QueueStopped" and state["current"] == sample["sampleID"]:
            return queued
        time.sleep(0.5)
    raise AssertionError(f"the queue did not finish in {timeout} s: {state.get('queueStatus')}")


def operator_with_samples(web: Any, browsers: Any) -> tuple[Any, dict[str, Any]]:
    """The operator, logged in with the session chosen and samples synced; the first sample."""
    kind = web.kind
    browser = browsers()
    logged_in(browser, kind.login(kind.operator), kind.session)
    samples = browser.samples(kind.lims_names[0])
    first = samples["sampleOrder"][0]
    return browser, samples["sampleList"][first]


def wait_for(what: str, find: Callable[[], Any], timeout: float = 60.0, seen: Callable[[], Any] = lambda: "") -> Any:
    """Polls ``find`` until it returns something truthy; ``seen`` describes what is there instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what} not found within {timeout} s; found {seen()}")


def ispyb_collection(ispyb: Any, queued: Queued) -> dict[str, Any] | None:
    """The ISPyB DataCollection row of a queued collection, once it is complete."""
    rows = [r for r in ispyb.store.rows("DataCollection") if r.get("imagePrefix") == queued.prefix]
    assert len(rows) <= 1, rows
    if rows and rows[0].get("runStatus") == "Data collection successful":
        if len(ispyb.store.rows("Image", dataCollectionId=rows[0]["dataCollectionId"])) == 2:
            return rows[0]
    return None


def icat_dataset(icat: Any, queued: Queued) -> dict[str, Any] | None:
    """The ICAT Dataset of a queued collection, or None."""
    found = [d for d in icat.store.rows("Dataset") if str(d["name"]).startswith(f"{queued.prefix}_")]
    assert len(found) <= 1, found
    return found[0] if found else None


def ispyb_seen(web: Any) -> str:
    """The collections ISPyB holds, with their images, and the web server's log (for a failure)."""
    ispyb = web.servers.ispyb
    rows = [
        (r["imagePrefix"], r["runStatus"], len(ispyb.store.rows("Image", dataCollectionId=r["dataCollectionId"])))
        for r in ispyb.store.rows("DataCollection")
    ]
    return f"{rows}\n{web.server.log(40)}"


def icat_seen(web: Any) -> str:
    """The datasets ICAT holds and the web server's log (for a failure)."""
    return f"{[d['name'] for d in web.servers.icat.store.rows('Dataset')]}\n{web.server.log(40)}"


def assert_in_ispyb(web: Any, queued: Queued, row: dict[str, Any]) -> None:
    ispyb = web.servers.ispyb
    assert row["numberOfImages"] == queued.num_images
    assert row["startImageNumber"] == 1
    assert row["exposureTime"] == pytest.approx(queued.exp_time)
    assert row["axisStart"] == pytest.approx(queued.osc_start)
    assert row["axisRange"] == pytest.approx(queued.osc_range)
    assert str(row["imageDirectory"]).rstrip("/").endswith(queued.prefix)
    assert row["xtalSnapshotFullPath1"], "the sample view's snapshot"
    images = sorted(i["fileName"] for i in ispyb.store.rows("Image", dataCollectionId=row["dataCollectionId"]))
    assert images == queued.first_and_last_image
    group = ispyb.store.get("DataCollectionGroup", row["dataCollectionGroupId"])
    session = ispyb.store.get("BLSession", group["sessionId"])
    proposal = ispyb.store.get("Proposal", session["proposalId"])
    assert f"{proposal['code']}{proposal['number']}" == web.kind.session.replace("-", "")
    if web.kind.lims_names[0] == "ISPyB":  # sample ids go only to the LIMS they came from
        assert group["blSampleId"] == queued.sample_lims_id


def assert_in_icat(web: Any, queued: Queued, dataset: dict[str, Any]) -> None:
    from tests.integration.test_icat_lims import dataset_parameters

    icat = web.servers.icat
    investigation = icat.store.get("Investigation", dataset["investigation"])
    assert investigation["name"] == web.kind.session
    params = dataset_parameters(icat, dataset["id"])
    assert params["MX_numberOfImages"] == queued.num_images
    assert params["MX_exposureTime"] == pytest.approx(queued.exp_time)
    assert params["MX_axis_start"] == pytest.approx(queued.osc_start)
    assert params["MX_oscillationRange"] == pytest.approx(queued.osc_range)
    assert params["MX_axis_range"] == pytest.approx(queued.osc_range * queued.num_images)  # the whole sweep
    files = sorted(f["name"] for f in icat.store.children("Dataset", dataset["id"], "datafiles"))
    assert files == queued.first_and_last_image
    if web.kind.lims_names[0] == "ICAT":
        assert dataset["sample"] == queued.sample_lims_id


def holds(web: Any) -> tuple[bool, bool]:
    """(ISPyB, ICAT): which LIMS the kind writes to."""
    return web.kind.lims != "icat", web.kind.lims in ("esrf", "icat")


def test_a_collection_queued_in_mxcubeweb_reaches_the_lims(web: Any, browsers: Any) -> None:
    browser, sample = operator_with_samples(web, browsers)
    queued = queue_and_run(browser, sample, f"web-{web.kind.lims}")
    in_ispyb, in_icat = holds(web)
    if in_ispyb:
        found = wait_for(
            "ISPyB collection", lambda: ispyb_collection(web.servers.ispyb, queued), seen=lambda: ispyb_seen(web)
        )
        assert_in_ispyb(web, queued, found)
    if in_icat:
        found = wait_for("ICAT dataset", lambda: icat_dataset(web.servers.icat, queued), seen=lambda: icat_seen(web))
        assert_in_icat(web, queued, found)


def test_a_collection_run_while_the_lims_is_down_is_delivered_when_it_returns(web: Any, browsers: Any) -> None:
    in_ispyb, in_icat = holds(web)
    # ESRFLIMS: ISPyB goes down (ICAT, the authority, stays); the others lose their only LIMS.
    down = web.servers.ispyb if in_ispyb else web.servers.icat
    browser, sample = operator_with_samples(web, browsers)
    down.stop()
    try:
        queued = queue_and_run(browser, sample, f"down-{web.kind.lims}")
        # mxcubeweb keeps working: the queue finished, and it still answers.
        assert browser.login_info()["loggedIn"] is True
        assert browser.get("/queue/queue_state")["queueStatus"] == "QueueStopped"
        if down is web.servers.ispyb:
            assert ispyb_collection(web.servers.ispyb, queued) is None
        else:
            assert icat_dataset(web.servers.icat, queued) is None
    finally:
        down.start()
    if in_ispyb:
        found = wait_for(
            "ISPyB collection", lambda: ispyb_collection(web.servers.ispyb, queued), 90, lambda: ispyb_seen(web)
        )
        assert_in_ispyb(web, queued, found)
    if in_icat:
        found = wait_for("ICAT dataset", lambda: icat_dataset(web.servers.icat, queued), 90, lambda: icat_seen(web))
        assert_in_icat(web, queued, found)
