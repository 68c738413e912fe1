"""The emulated ICAT server (mxcubecore_lims.testing.icat) driven by python-icat.

python-icat 1.7 is the peer: every request goes through ``icat.client.Client``
(suds underneath), every query is an ``icat.query.Query`` or a raw JPQL
string, and every failure is checked as the python-icat exception class a
real ICAT server's fault maps to. The server's state is read back through
``server.store`` only where stored rows are the point.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from icat.client import Client
from icat.entity import Entity as IcatEntity
from icat.exception import (
    ICATNoObjectError,
    ICATObjectExistsError,
    ICATParameterError,
    ICATPrivilegesError,
    ICATSessionError,
    ICATValidationError,
    SearchAssertionError,
)
from icat.query import Query
from lxml import etree

from mxcubecore_lims.testing.icat import EmulatedIcat, IcatServerError
from mxcubecore_lims.testing.icat.schema import ENTITIES, ENTITY_NAMES

pytestmark = pytest.mark.integration

WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"

ALL_INVESTIGATIONS = {"MX-415", "MX-2345", "MX-3456", "MX-999", "IH-MX-1"}
MX415_SAMPLES = {"lyso-01", "lyso-02", "lyso-03", "thau-01", "thau-02", "thau-spare"}


# --------------------------------------------------------------------------
# helpers


def make_client(server: EmulatedIcat) -> Client:
    """A python-icat client as an application builds it (no WSDL cache)."""
    return Client(server.url, checkCert=False, cache=None)


def login(client: Client, user: str) -> str:
    """Logs ``user`` (plugin ``simple``, password ``<user>-pw``) in; the session id."""
    return client.login("simple", {"username": user, "password": f"{user}-pw"})


def release(client: Client) -> None:
    """Forgets a client without a logout call (its server may be gone)."""
    client.autoLogout = False
    client.cleanup()


def names(entities: list[Any]) -> set[str]:
    """The ``name`` of each entity object."""
    return {e.name for e in entities}


def one(client: Client, entity: str, **equal: str) -> IcatEntity:
    """The single ``entity`` whose attributes equal the given strings."""
    conditions = {key: f"= '{value}'" for key, value in equal.items()}
    return client.assertedSearch(Query(client, entity, conditions=conditions))[0]


def new_dataset(
    client: Client, investigation: IcatEntity, name: str, parameters: int = 0, files: int = 0
) -> IcatEntity:
    """An unsaved Dataset of type ``acquisition`` with cascaded children."""
    dataset_type = one(client, "DatasetType", name="acquisition")
    parameter_types = [one(client, "ParameterType", name=n) for n in ("MX_flux", "MX_wavelength")]
    dataset = client.new(
        "Dataset",
        name=name,
        complete=False,
        investigation=investigation,
        type=dataset_type,
        location=f"/data/{name}",
    )
    for index in range(parameters):
        dataset.parameters.append(client.new("DatasetParameter", type=parameter_types[index], numericValue=1.5 + index))
    for index in range(files):
        dataset.datafiles.append(
            client.new("Datafile", name=f"{name}_{index:04d}.cbf", location=f"/data/{name}/{index}")
        )
    return dataset


def row_counts(server: EmulatedIcat) -> dict[str, int]:
    """Rows per entity in the server's store."""
    return {name: server.store.count(name) for name in ENTITIES}


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def catalogue() -> Iterator[EmulatedIcat]:
    """One default-fixture server for the read-only tests of this module."""
    with EmulatedIcat() as server:
        yield server


@pytest.fixture(scope="module")
def reader(catalogue: EmulatedIcat) -> Iterator[Client]:
    """One client on :func:`catalogue`; tests log in as whom they need."""
    client = make_client(catalogue)
    yield client
    release(client)


@pytest.fixture
def client(icat_server: EmulatedIcat) -> Iterator[Client]:
    """A client on a private server (tests that write)."""
    client = make_client(icat_server)
    yield client
    release(client)


# --------------------------------------------------------------------------
# 1. connection: API version, entity classes, WSDL


def test_api_version_is_6_2_0(reader: Client) -> None:
    """python-icat reads the API version before any login."""
    assert reader.apiversion == "6.2.0"
    assert str(reader.getApiVersion()) == "6.2.0"


def test_entity_names_are_the_schema_table(reader: Client) -> None:
    """GetEntityNames lists exactly the emulated entities."""
    assert sorted(str(n) for n in reader.getEntityNames()) == sorted(ENTITY_NAMES)


@pytest.mark.parametrize("name", sorted(ENTITIES))
def test_typemap_class_matches_schema(reader: Client, name: str) -> None:
    """python-icat's entity class has the schema's attributes, relations and constraint."""
    spec = ENTITIES[name]
    cls = reader.typemap[spec.bean]
    assert cls.BeanName == name
    assert cls.InstAttr == {a.name for a in spec.attrs} | {"id"}
    assert cls.InstRel == {o.name for o in spec.ones}
    assert cls.InstMRel == {m.name for m in spec.manys}
    assert cls.Constraint == (spec.unique or ("id",))


def test_parameter_classes_derive_from_parameter(reader: Client) -> None:
    """The Parameter entity info lets python-icat build the parameter hierarchy."""
    parameter = reader.typemap["parameter"]
    for bean in ("datasetParameter", "sampleParameter", "investigationParameter"):
        assert issubclass(reader.typemap[bean], parameter)


def test_wsdl_names_icat_service_and_port(catalogue: EmulatedIcat, reader: Client) -> None:
    """?wsdl declares service ICATService / port ICATPort at the server's own address."""
    reply = requests.get(catalogue.service_url + "?wsdl", timeout=10)
    assert reply.status_code == 200
    wsdl = etree.fromstring(reply.content)
    services = wsdl.findall(f"{{{WSDL_NS}}}service")
    assert [s.get("name") for s in services] == ["ICATService"]
    ports = services[0].findall(f"{{{WSDL_NS}}}port")
    assert [p.get("name") for p in ports] == ["ICATPort"]
    address = ports[0].find(f"{{{SOAP_NS}}}address")
    assert address is not None and address.get("location") == catalogue.service_url
    # suds, inside python-icat, sees the same.
    assert [s.name for s in reader.wsdl.services] == ["ICATService"]
    assert [p.name for p in reader.wsdl.services[0].ports] == ["ICATPort"]


# --------------------------------------------------------------------------
# 2. login and sessions


def test_login_gives_user_name_and_lifetime(reader: Client) -> None:
    """A good password opens a session of the configured lifetime for plugin/name."""
    session = login(reader, "alice")
    assert session and reader.sessionId == session
    assert reader.getUserName() == "simple/alice"
    assert 119.0 < reader.getRemainingMinutes() <= 120.0


@pytest.mark.parametrize(
    ("plugin", "username", "password"),
    [
        ("simple", "alice", "wrong"),
        ("simple", "mallory", "mallory-pw"),
        ("ldap", "alice", "alice-pw"),
        ("simple", "alice", ""),
    ],
)
def test_bad_login_is_session_error(reader: Client, plugin: str, username: str, password: str) -> None:
    """A wrong password, an unknown user or an unknown plugin: ICATSessionError."""
    with pytest.raises(ICATSessionError):
        reader.login(plugin, {"username": username, "password": password})


def test_refresh_extends_the_session(icat_server_factory: Any) -> None:
    """refresh() restores the full lifetime of a session that has been ageing."""
    server = icat_server_factory(session_minutes=0.1)
    client = make_client(server)
    try:
        login(client, "alice")
        time.sleep(1.0)
        before = client.getRemainingMinutes()
        assert before < 0.1 - 0.01
        client.refresh()
        after = client.getRemainingMinutes()
        assert after > before + 0.01
        assert after <= 0.1
    finally:
        release(client)


def test_logout_ends_the_session(client: Client, icat_server: EmulatedIcat) -> None:
    """After logout the old session id is refused by every call."""
    session = login(client, "alice")
    assert [s.session_id for s in icat_server.store.sessions_of("simple/alice")] == [session]
    client.logout()
    assert icat_server.store.sessions_of("simple/alice") == []
    client.sessionId = session
    with pytest.raises(ICATSessionError):
        client.getUserName()
    with pytest.raises(ICATSessionError):
        client.search("SELECT o FROM Investigation o")
    with pytest.raises(ICATSessionError):
        client.refresh()


def test_expired_session_is_refused(client: Client, icat_server: EmulatedIcat) -> None:
    """A session past its expiry is a SESSION fault, also for refresh, and stays dead."""
    login(client, "alice")
    icat_server.store.expire_session(client.sessionId)
    with pytest.raises(ICATSessionError):
        client.getRemainingMinutes()
    with pytest.raises(ICATSessionError):
        client.refresh()
    with pytest.raises(ICATSessionError):
        client.search(Query(client, "Investigation"))
    login(client, "alice")  # a new login works again
    assert client.getUserName() == "simple/alice"


def test_short_lifetime_expires_by_itself(icat_server_factory: Any) -> None:
    """With session_minutes tiny, a session dies on its own."""
    server = icat_server_factory(session_minutes=0.002)  # 0.12 s
    client = make_client(server)
    try:
        login(client, "bob")
        time.sleep(0.3)
        with pytest.raises(ICATSessionError):
            client.getUserName()
    finally:
        release(client)


def test_unknown_session_id_is_session_error(reader: Client) -> None:
    """A made-up session id is refused."""
    login(reader, "alice")
    good = reader.sessionId
    reader.sessionId = "00000000-0000-0000-0000-000000000000"
    try:
        with pytest.raises(ICATSessionError):
            reader.getUserName()
    finally:
        reader.sessionId = good


# --------------------------------------------------------------------------
# 3. search


def test_condition_through_one_relation(reader: Client) -> None:
    """Samples selected by their investigation's name (a ONE path)."""
    login(reader, "alice")
    query = Query(reader, "Sample", conditions={"investigation.name": "= 'MX-415'"})
    assert names(reader.search(query)) == MX415_SAMPLES


def test_condition_through_many_relation(reader: Client) -> None:
    """Investigations selected by an instrument name (a MANY path), each once."""
    login(reader, "root")
    query = Query(
        reader,
        "Investigation",
        conditions={"investigationInstruments.instrument.name": "= 'ID-DEMO'"},
        order=["name"],
    )
    found = [i.name for i in reader.search(query)]
    assert found == sorted(["IH-MX-1", "MX-3456", "MX-415", "MX-999"])


def test_condition_on_a_many_relation_of_parameters(reader: Client) -> None:
    """Samples whose SampleParameter of a given type has a given value."""
    login(reader, "alice")
    query = Query(
        reader,
        "Sample",
        conditions={
            "parameters.type.name": "= 'SampleTrackingContainer_name'",
            "parameters.stringValue": "= 'DEMO-PUCK-02'",
        },
    )
    assert names(reader.search(query)) == {"thau-01", "thau-02"}


def test_in_and_like_conditions(reader: Client) -> None:
    """IN lists and LIKE patterns (case-sensitive, % wildcard)."""
    login(reader, "root")
    query = Query(reader, "Investigation", conditions={"name": "IN ('MX-415', 'MX-999', 'NOPE')"})
    assert names(reader.search(query)) == {"MX-415", "MX-999"}
    query = Query(reader, "Sample", conditions={"name": "LIKE 'lyso%'"})
    assert names(reader.search(query)) == {"lyso-01", "lyso-02", "lyso-03"}
    query = Query(reader, "Sample", conditions={"name": "LIKE 'LYSO%'"})
    assert reader.search(query) == []


def test_date_conditions_with_timestamp_literals(reader: Client) -> None:
    """{ts ...} literals compare with dates; two conditions on one field are ANDed."""
    login(reader, "root")
    week_ago = (datetime.now() - timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S")
    query = Query(reader, "Investigation", conditions={"startDate": f"< {{ts {week_ago}}}"})
    assert names(reader.search(query)) == {"MX-999"}
    # Tomorrow noon: after MX-2345's and MX-3456's ends (tomorrow 08:00), before
    # MX-415's (the day after, 08:00), whatever the time of day the test runs.
    tomorrow_noon = datetime.combine(datetime.now().date() + timedelta(days=1), datetime.min.time()) + timedelta(
        hours=12
    )
    soon = tomorrow_noon.strftime("%Y-%m-%d %H:%M:%S")
    query = Query(
        reader,
        "Investigation",
        conditions={"startDate": f"> {{ts {week_ago}}}", "endDate": [f"< {{ts {soon}}}"]},
    )
    assert names(reader.search(query)) == {"MX-2345", "MX-3456"}


def test_user_parameter_is_the_session_user(reader: Client) -> None:
    """:user stands for the logged-in user's name."""
    query_text = str(Query(reader, "Investigation", conditions={"investigationUsers.user.name": "= :user"}))
    login(reader, "bob")
    assert names(reader.search(query_text)) == {"MX-415", "MX-3456"}
    login(reader, "alice")
    assert names(reader.search(query_text)) == {"MX-415", "MX-2345", "MX-999"}


def test_order_by_ascending_and_descending(reader: Client) -> None:
    """ORDER BY sorts by date and by name in both directions."""
    login(reader, "root")
    by_start = reader.search(Query(reader, "Investigation", order=["startDate", "name"]))
    starts = [i.startDate for i in by_start]
    assert starts == sorted(starts) and by_start[0].name == "MX-999"
    descending = reader.search(Query(reader, "Investigation", order=[("name", "DESC")]))
    assert [i.name for i in descending] == sorted(ALL_INVESTIGATIONS, reverse=True)


def test_order_by_related_attribute(reader: Client) -> None:
    """ORDER BY a path through a ONE relation."""
    login(reader, "alice")
    query = Query(reader, "Sample", order=["investigation.name", ("name", "DESC")])
    assert [s.name for s in reader.search(query)] == ["insu-01", *sorted(MX415_SAMPLES, reverse=True)]


def test_limit_and_search_chunked(reader: Client) -> None:
    """LIMIT skip, count pages; searchChunked walks all pages in order."""
    login(reader, "root")
    ordered = sorted(ALL_INVESTIGATIONS)
    page = reader.search(Query(reader, "Investigation", order=["name"], limit=(1, 2)))
    assert [i.name for i in page] == ordered[1:3]
    beyond = reader.search(Query(reader, "Investigation", order=["name"], limit=(10, 5)))
    assert beyond == []
    chunked = reader.searchChunked(Query(reader, "Investigation", order=["name"]), chunksize=2)
    assert [i.name for i in chunked] == ordered
    skipped = reader.searchChunked(Query(reader, "Investigation", order=["name"]), skip=1, count=3, chunksize=2)
    assert [i.name for i in skipped] == ordered[1:4]


def test_include_nested_and_many(reader: Client) -> None:
    """INCLUDE fills nested ONE and MANY relations, and only those."""
    login(reader, "alice")
    query = Query(
        reader,
        "Investigation",
        conditions={"name": "= 'MX-415'"},
        includes=["type", "investigationUsers.user", "samples.parameters.type", "parameters.type"],
    )
    (investigation,) = reader.search(query)
    assert investigation.type.name == "MX"
    assert {(u.user.name, u.role) for u in investigation.investigationUsers} == {
        ("simple/alice", "Principal investigator"),
        ("simple/bob", "Collaborator"),
    }
    assert names(investigation.samples) == MX415_SAMPLES
    lyso = next(s for s in investigation.samples if s.name == "lyso-01")
    values = {p.type.name: p.stringValue or p.numericValue for p in lyso.parameters}
    assert values["SampleTrackingContainer_name"] == "DEMO-PUCK-01"
    assert values["SampleCrystal_cell_a"] == pytest.approx(79.1)
    assert [(p.type.name, p.stringValue) for p in investigation.parameters] == [("Id", "415")]
    # Not asked for: left out.
    assert investigation.facility is None
    assert investigation.investigationInstruments == []
    assert investigation.samples[0].investigation is None


def test_without_include_relations_are_empty(reader: Client) -> None:
    """A plain search returns attributes only."""
    login(reader, "alice")
    (investigation,) = reader.search(Query(reader, "Investigation", conditions={"name": "= 'MX-415'"}))
    assert investigation.title == "Lysozyme and thaumatin at ID-DEMO"
    assert investigation.visitId == "id-demo-415"
    assert investigation.type is None and investigation.samples == []
    assert investigation.createTime is not None and investigation.createId is not None


def test_single_and_multiple_attributes(reader: Client) -> None:
    """One attribute gives plain values, several give tuples (fieldSet)."""
    login(reader, "root")
    single = reader.search(Query(reader, "Investigation", attributes="visitId", order=["name"]))
    assert single == ["id-demo-ih1", "id-other-2345", "id-demo-3456", "id-demo-415", "id-demo-999"]
    pairs = reader.search(
        Query(
            reader,
            "Sample",
            attributes=["name", "investigation.name", "id"],
            conditions={"name": "LIKE 'thau-0%'"},
            order=["name"],
        )
    )
    assert [p[:2] for p in pairs] == [("thau-01", "MX-415"), ("thau-02", "MX-415")]
    assert all(isinstance(p, tuple) and isinstance(p[2], int) for p in pairs)


def test_attribute_through_left_join(reader: Client) -> None:
    """join_specs LEFT JOIN keeps investigations without samples (with a null)."""
    login(reader, "root")
    inner = reader.search(Query(reader, "Investigation", attributes=["name", "samples.name"], order=["name"]))
    assert {row[0] for row in inner} == {"MX-2345", "MX-415"}
    outer = reader.search(
        Query(
            reader,
            "Investigation",
            attributes=["name", "samples.name"],
            join_specs={"samples": "LEFT JOIN"},
            order=["name"],
        )
    )
    assert ("MX-3456", None) in outer and ("IH-MX-1", None) in outer
    assert len(outer) == len(inner) + 3


def test_aggregates(reader: Client) -> None:
    """COUNT, COUNT:DISTINCT, MIN and MAX."""
    login(reader, "root")
    assert reader.search(Query(reader, "Investigation", aggregate="COUNT")) == [5]
    assert reader.search(Query(reader, "Investigation", attributes="type.name", aggregate="COUNT")) == [5]
    assert reader.search(Query(reader, "Investigation", attributes="type.name", aggregate="COUNT:DISTINCT")) == [2]
    (first,) = reader.search(Query(reader, "Investigation", attributes="startDate", aggregate="MIN"))
    (last,) = reader.search(Query(reader, "Investigation", attributes="endDate", aggregate="MAX"))
    every = reader.search(Query(reader, "Investigation", includes=["type"]))
    assert first == min(i.startDate for i in every)
    assert last == max(i.endDate for i in every)
    (largest,) = reader.search(
        Query(
            reader,
            "SampleParameter",
            attributes="numericValue",
            aggregate="MAX",
            conditions={"type.name": "LIKE 'SampleCrystal_cell_%'"},
        )
    )
    assert largest == pytest.approx(90.0)


def test_count_respects_authorization(reader: Client) -> None:
    """COUNT counts only what the user may read."""
    login(reader, "alice")
    assert reader.search("SELECT COUNT(o) FROM Investigation o") == [3]
    login(reader, "nobody")
    assert reader.search("SELECT COUNT(o) FROM Sample o") == [0]


def test_raw_jpql_string(reader: Client) -> None:
    """A hand-written JPQL string with a JOIN, AND/OR and a parenthesis."""
    login(reader, "root")
    result = reader.search(
        "SELECT i.name FROM Investigation i JOIN i.investigationInstruments ii "
        "WHERE ii.instrument.name = 'ID-DEMO' AND (i.name LIKE 'MX-9%' OR i.visitId = 'id-demo-ih1') "
        "ORDER BY i.name"
    )
    assert result == ["IH-MX-1", "MX-999"]


def test_get_include_1(reader: Client) -> None:
    """get("Investigation INCLUDE 1", id) fills the ONE relations only."""
    login(reader, "alice")
    wanted = one(reader, "Investigation", name="MX-415")
    got = reader.get("Investigation INCLUDE 1", wanted.id)
    assert got.id == wanted.id and got.name == "MX-415"
    assert got.facility.name == "ESRF" and got.type.name == "MX"
    assert got.samples == [] and got.investigationUsers == []
    plain = reader.get("Investigation", wanted.id)
    assert plain.name == "MX-415" and plain.type is None


def test_get_missing_or_unreadable(reader: Client) -> None:
    """Get of an unknown id: ICATNoObjectError; of someone else's: ICATPrivilegesError."""
    login(reader, "root")
    hidden = one(reader, "Investigation", name="MX-3456")
    login(reader, "alice")
    with pytest.raises(ICATNoObjectError):
        reader.get("Investigation", 10_000_000)
    with pytest.raises(ICATPrivilegesError):
        reader.get("Investigation", hidden.id)


def test_asserted_search_and_search_matching(reader: Client) -> None:
    """AssertedSearch counts results; searchMatching finds by uniqueness constraint."""
    login(reader, "alice")
    with pytest.raises(SearchAssertionError):
        reader.assertedSearch(Query(reader, "Investigation", conditions={"name": "= 'MX-3456'"}))
    with pytest.raises(SearchAssertionError):
        reader.assertedSearch(Query(reader, "Investigation"), assertmax=2)
    assert len(reader.assertedSearch(Query(reader, "Investigation"), assertmin=3, assertmax=3)) == 3
    investigation = one(reader, "Investigation", name="MX-415")
    facility = one(reader, "Facility", name="ESRF")
    probe = reader.new("Investigation", facility=facility, name="MX-415", visitId="id-demo-415")
    assert reader.searchMatching(probe).id == investigation.id
    sample_probe = reader.new("Sample", investigation=investigation, name="lyso-02")
    found = reader.searchMatching(sample_probe, includes=["parameters"])
    assert found.name == "lyso-02" and len(found.parameters) == 6


@pytest.mark.parametrize(
    "query",
    [
        "SELECT o FROM Nonsense o",
        "SELECT o FROM Investigation o WHERE o.nosuch = 'x'",
        "SELECT o FROM Investigation o WHERE o.name = ",
        "SELECT o FROM Investigation o WHERE o.startDate < {ts not-a-date}",
        "SELECT o FROM Investigation o INCLUDE o.nosuch",
        "SELECT o FROM Investigation o LIMIT x",
        "SELECT o FROM Investigation o WHERE o.name = :nosuchparam",
    ],
)
def test_bad_query_is_parameter_error(reader: Client, query: str) -> None:
    """Unknown entities, fields, parameters and syntax errors: ICATParameterError."""
    login(reader, "root")
    with pytest.raises(ICATParameterError):
        reader.search(query)


# --------------------------------------------------------------------------
# 4. authorization


@pytest.mark.parametrize(
    ("user", "visible"),
    [
        ("alice", {"MX-415", "MX-2345", "MX-999"}),
        ("bob", {"MX-415", "MX-3456"}),
        ("staff", {"MX-415", "MX-3456", "MX-999", "IH-MX-1"}),
        ("nobody", set()),
        ("root", ALL_INVESTIGATIONS),
    ],
)
def test_visible_investigations(reader: Client, user: str, visible: set[str]) -> None:
    """Members see theirs, staff every one on their instrument, root all, nobody none."""
    login(reader, user)
    assert names(reader.search(Query(reader, "Investigation"))) == visible


@pytest.mark.parametrize("user", ["alice", "nobody"])
def test_reference_tables_readable_by_everyone(reader: Client, user: str) -> None:
    """Facility, instruments, types and users are readable with no investigation."""
    login(reader, user)
    assert names(reader.search(Query(reader, "Instrument"))) == {"ID-DEMO", "ID-OTHER"}
    assert names(reader.search(Query(reader, "Facility"))) == {"ESRF"}
    assert names(reader.search(Query(reader, "DatasetType"))) == {"acquisition", "processed"}
    assert names(reader.search(Query(reader, "InvestigationType"))) == {"MX", "IH-MX"}
    assert "MX_flux" in names(reader.search(Query(reader, "ParameterType")))
    assert "simple/root" in names(reader.search(Query(reader, "User")))
    scientists = reader.search(Query(reader, "InstrumentScientist", includes=["user", "instrument"]))
    assert [(s.user.name, s.instrument.name) for s in scientists] == [("simple/staff", "ID-DEMO")]


def test_samples_of_unreadable_investigations_are_invisible(reader: Client) -> None:
    """Bob sees MX-415's samples but not MX-2345's; nobody sees no sample or parameter."""
    login(reader, "bob")
    assert names(reader.search(Query(reader, "Sample"))) == MX415_SAMPLES
    login(reader, "alice")
    assert names(reader.search(Query(reader, "Sample"))) == MX415_SAMPLES | {"insu-01"}
    login(reader, "nobody")
    assert reader.search(Query(reader, "Sample")) == []
    assert reader.search(Query(reader, "SampleParameter")) == []
    assert reader.search(Query(reader, "InvestigationUser")) == []


def test_unreadable_related_rows_are_not_included(reader: Client) -> None:
    """INCLUDE never leaks rows: bob's MX-415 users include alice, but alice's other visits stay hidden."""
    login(reader, "bob")
    query = Query(
        reader,
        "User",
        conditions={"name": "= 'simple/alice'"},
        includes=["investigationUsers.investigation"],
    )
    (alice,) = reader.search(query)
    assert {iu.investigation.name for iu in alice.investigationUsers} == {"MX-415"}


def test_datasets_of_unreadable_investigations_are_invisible(client: Client, icat_server: EmulatedIcat) -> None:
    """A dataset bob writes in MX-3456 is not visible to alice, even by COUNT or get."""
    login(client, "bob")
    investigation = one(client, "Investigation", name="MX-3456")
    dataset = new_dataset(client, investigation, "bob-only", parameters=1, files=1)
    dataset.create()
    assert len(client.search(Query(client, "Datafile"))) == 1
    login(client, "alice")
    assert client.search(Query(client, "Dataset")) == []
    assert client.search(Query(client, "Datafile")) == []
    assert client.search("SELECT COUNT(o) FROM DatasetParameter o") == [0]
    with pytest.raises(ICATPrivilegesError):
        client.get("Dataset", dataset.id)
    login(client, "staff")  # instrument scientist of ID-DEMO
    assert names(client.search(Query(client, "Dataset"))) == {"bob-only"}


def test_member_creates_dataset_with_cascaded_children(client: Client, icat_server: EmulatedIcat) -> None:
    """Alice creates a Dataset in MX-415; its parameters and datafiles are stored with it."""
    login(client, "alice")
    investigation = one(client, "Investigation", name="MX-415")
    dataset = new_dataset(client, investigation, "scan_1", parameters=2, files=3)
    dataset_id = client.create(dataset)  # the id the server gave
    assert isinstance(dataset_id, int)
    stored = icat_server.store.get("Dataset", dataset_id)
    assert stored is not None
    assert stored["investigation"] == investigation.id and stored["name"] == "scan_1"
    assert stored["createId"] == "simple/alice"
    parameters = icat_server.store.children("Dataset", dataset_id, "parameters")
    assert sorted(p["numericValue"] for p in parameters) == [1.5, 2.5]
    files = icat_server.store.children("Dataset", dataset_id, "datafiles")
    assert sorted(f["name"] for f in files) == [f"scan_1_{i:04d}.cbf" for i in range(3)]
    # and python-icat reads it back whole
    got = client.get("Dataset INCLUDE 1", dataset_id)
    assert got.investigation.name == "MX-415" and got.type.name == "acquisition"
    again = client.search(
        Query(
            client,
            "Dataset",
            conditions={"id": f"= {dataset_id}"},
            includes=["datafiles", "parameters.type"],
        )
    )[0]
    assert len(again.datafiles) == 3
    assert {p.type.name for p in again.parameters} == {"MX_flux", "MX_wavelength"}


def test_member_cannot_write_elsewhere(client: Client, icat_server: EmulatedIcat) -> None:
    """alice: ICATPrivilegesError for a Dataset or a Sample in MX-3456, an Instrument."""
    before = row_counts(icat_server)
    login(client, "root")
    hidden = one(client, "Investigation", name="MX-3456")
    login(client, "alice")
    mine = one(client, "Investigation", name="MX-415")
    with pytest.raises(ICATPrivilegesError):
        new_dataset(client, hidden, "intruder", parameters=1, files=1).create()
    facility = one(client, "Facility", name="ESRF")
    with pytest.raises(ICATPrivilegesError):
        client.new("Instrument", name="ID-NEW", facility=facility).create()
    with pytest.raises(ICATPrivilegesError):
        client.new("Sample", name="extra", investigation=hidden).create()
    other = one(client, "Instrument", name="ID-OTHER")
    with pytest.raises(ICATPrivilegesError):
        client.new("InvestigationInstrument", investigation=mine, instrument=other).create()
    with pytest.raises(ICATPrivilegesError):
        client.new(
            "InvestigationUser",
            investigation=mine,
            user=one(client, "User", name="simple/nobody"),
            role="Collaborator",
        ).create()
    assert row_counts(icat_server) == before


def test_member_cannot_change_investigation_or_move_dataset_out(client: Client, icat_server: EmulatedIcat) -> None:
    """Alice may not update her investigation nor move her dataset to an unreadable one."""
    login(client, "root")
    hidden = one(client, "Investigation", name="MX-3456")
    login(client, "alice")
    investigation = client.get("Investigation INCLUDE 1", one(client, "Investigation", name="MX-415").id)
    investigation.title = "renamed"
    with pytest.raises(ICATPrivilegesError):
        investigation.update()
    dataset = new_dataset(client, investigation, "mine")
    dataset.create()
    moved = client.get("Dataset INCLUDE 1", dataset.id)
    moved.investigation = hidden
    with pytest.raises(ICATPrivilegesError):
        moved.update()
    assert icat_server.store.get("Dataset", dataset.id)["investigation"] == investigation.id
    assert icat_server.store.get("Investigation", investigation.id)["title"] != "renamed"


def test_nobody_cannot_create_anything(client: Client, icat_server: EmulatedIcat) -> None:
    """A user without investigations cannot create a Dataset in MX-415."""
    login(client, "root")
    investigation = one(client, "Investigation", name="MX-415")
    login(client, "nobody")
    with pytest.raises(ICATPrivilegesError):
        new_dataset(client, investigation, "x").create()
    assert icat_server.store.find("Dataset", name="x") == []


def test_staff_may_link_instruments_and_parameters_on_readable_investigations(
    client: Client, icat_server: EmulatedIcat
) -> None:
    """Staff (ID-DEMO scientist) adds ID-OTHER and an actualInstrument parameter to MX-415."""
    login(client, "staff")
    investigation = one(client, "Investigation", name="MX-415")
    other = one(client, "Instrument", name="ID-OTHER")
    link_id = client.create(client.new("InvestigationInstrument", investigation=investigation, instrument=other))
    stored = icat_server.store.get("InvestigationInstrument", link_id)
    assert stored is not None and stored["instrument"] == other.id
    parameter_type = client.assertedSearch(
        Query(
            client,
            "ParameterType",
            conditions={"name": "= 'actualInstrument'", "applicableToInvestigation": "= True"},
        )
    )[0]
    client.new(
        "InvestigationParameter", investigation=investigation, type=parameter_type, stringValue="ID-DEMO"
    ).create()
    refreshed = client.search(
        Query(
            client,
            "Investigation",
            conditions={"id": f"= {investigation.id}"},
            includes=["investigationInstruments.instrument", "parameters.type"],
        )
    )[0]
    assert {ii.instrument.name for ii in refreshed.investigationInstruments} == {"ID-DEMO", "ID-OTHER"}
    assert ("actualInstrument", "ID-DEMO") in {(p.type.name, p.stringValue) for p in refreshed.parameters}


def test_staff_take_over_an_investigation_onto_their_own_instrument_only(
    client: Client, icat_server: EmulatedIcat
) -> None:
    """auth.py: staff of ID-DEMO may link MX-2345 (on ID-OTHER) to ID-DEMO, not to another instrument."""
    login(client, "root")
    breakdown = one(client, "Investigation", name="MX-2345")
    other = one(client, "Instrument", name="ID-OTHER")
    third = client.new("Instrument", name="ID-THIRD", facility=one(client, "Facility", name="ESRF"))
    third.create()
    login(client, "staff")
    # Not readable to staff yet, and not their instrument: refused.
    with pytest.raises(ICATPrivilegesError):
        client.new("InvestigationInstrument", investigation=breakdown, instrument=third).create()
    demo = one(client, "Instrument", name="ID-DEMO")
    client.new("InvestigationInstrument", investigation=breakdown, instrument=demo).create()
    linked = {r["instrument"] for r in icat_server.store.find("InvestigationInstrument", investigation=breakdown.id)}
    assert linked == {demo.id, other.id}


def test_samples_are_created_by_the_investigation_only(client: Client, icat_server: EmulatedIcat) -> None:
    """Members and staff register samples of their investigation (a shipment); nobody else can."""
    login(client, "staff")
    investigation = one(client, "Investigation", name="MX-415")
    staff_sample = client.create(client.new("Sample", investigation=investigation, name="staff-sample"))
    assert icat_server.store.get("Sample", staff_sample)["name"] == "staff-sample"
    login(client, "nobody")
    with pytest.raises(ICATPrivilegesError):
        client.new("Sample", investigation=client.new("Investigation", id=investigation.id), name="x").create()


def test_root_writes_reference_tables(client: Client, icat_server: EmulatedIcat) -> None:
    """Root may create an Instrument."""
    login(client, "root")
    facility = one(client, "Facility", name="ESRF")
    new_id = client.create(client.new("Instrument", name="ID-NEW", facility=facility))
    assert icat_server.store.get("Instrument", new_id)["name"] == "ID-NEW"


def test_is_access_allowed(client: Client) -> None:
    """IsAccessAllowed agrees with what create does."""
    login(client, "alice")
    mine = one(client, "Investigation", name="MX-415")
    login(client, "root")
    hidden = one(client, "Investigation", name="MX-3456")
    login(client, "alice")
    dataset_type = one(client, "DatasetType", name="acquisition")
    ok = client.new("Dataset", name="a", complete=False, investigation=mine, type=dataset_type)
    bad = client.new("Dataset", name="b", complete=False, investigation=hidden, type=dataset_type)
    assert client.isAccessAllowed(ok, "CREATE") is True
    assert client.isAccessAllowed(bad, "CREATE") is False


# --------------------------------------------------------------------------
# 5. constraints and write semantics


@pytest.fixture
def writer(client: Client) -> Client:
    """The private client, logged in as alice."""
    login(client, "alice")
    return client


def test_not_null_is_validation_error(writer: Client, icat_server: EmulatedIcat) -> None:
    """A missing not-null attribute or relation: ICATValidationError, nothing stored."""
    investigation = one(writer, "Investigation", name="MX-415")
    dataset_type = one(writer, "DatasetType", name="acquisition")
    before = icat_server.store.count("Dataset")
    with pytest.raises(ICATValidationError):
        writer.new("Dataset", complete=False, investigation=investigation, type=dataset_type).create()
    with pytest.raises(ICATValidationError):
        writer.new("Dataset", name="no-type", complete=False, investigation=investigation).create()
    with pytest.raises(ICATValidationError):
        writer.new("Dataset", name="no-complete", investigation=investigation, type=dataset_type).create()
    assert icat_server.store.count("Dataset") == before


def test_string_too_long_is_validation_error(writer: Client) -> None:
    """A String longer than its column: ICATValidationError."""
    investigation = one(writer, "Investigation", name="MX-415")
    dataset = new_dataset(writer, investigation, "long")
    dataset.description = "x" * 256
    with pytest.raises(ICATValidationError):
        dataset.create()


def test_uniqueness_is_object_exists_error(writer: Client, icat_server: EmulatedIcat) -> None:
    """A second Dataset of the same name in the investigation: ICATObjectExistsError."""
    investigation = one(writer, "Investigation", name="MX-415")
    new_dataset(writer, investigation, "twice").create()
    with pytest.raises(ICATObjectExistsError):
        new_dataset(writer, investigation, "twice").create()
    assert len(icat_server.store.find("Dataset", name="twice")) == 1


def test_duplicate_cascaded_children_fail_whole_create(writer: Client, icat_server: EmulatedIcat) -> None:
    """Two parameters of one type in a new Dataset: the create fails and leaves nothing."""
    investigation = one(writer, "Investigation", name="MX-415")
    dataset = new_dataset(writer, investigation, "dup-params", parameters=1)
    dataset.parameters.append(writer.new("DatasetParameter", type=dataset.parameters[0].type, numericValue=9.0))
    before = row_counts(icat_server)
    with pytest.raises(ICATObjectExistsError):
        dataset.create()
    assert row_counts(icat_server) == before


def test_reference_to_missing_id_is_no_object_error(writer: Client, icat_server: EmulatedIcat) -> None:
    """A ONE relation naming an id that does not exist: ICATNoObjectError."""
    investigation = one(writer, "Investigation", name="MX-415")
    dataset = new_dataset(writer, investigation, "dangling")
    dataset.type = writer.new("DatasetType", id=10_000_000)
    with pytest.raises(ICATNoObjectError):
        dataset.create()
    assert icat_server.store.find("Dataset", name="dangling") == []


def test_create_many_is_atomic(writer: Client, icat_server: EmulatedIcat) -> None:
    """CreateMany whose second bean is bad stores none; the fault's offset names it."""
    investigation = one(writer, "Investigation", name="MX-415")
    before = row_counts(icat_server)
    good = new_dataset(writer, investigation, "many-1", parameters=1, files=1)
    bad = new_dataset(writer, investigation, "many-1")
    with pytest.raises(ICATObjectExistsError) as caught:
        writer.createMany([good, bad])
    assert caught.value.offset == 1
    assert row_counts(icat_server) == before
    ids = writer.createMany([new_dataset(writer, investigation, f"many-{i}", files=1) for i in range(3)])
    assert len(ids) == 3 and len(set(ids)) == 3
    assert {icat_server.store.get("Dataset", i)["name"] for i in ids} == {"many-0", "many-1", "many-2"}
    assert icat_server.store.count("Datafile") == before["Datafile"] + 3


def test_create_many_privileges_checked_per_bean(writer: Client, icat_server: EmulatedIcat) -> None:
    """A createMany with a forbidden second bean stores nothing."""
    mine = one(writer, "Investigation", name="MX-415")
    facility = one(writer, "Facility", name="ESRF")
    before = row_counts(icat_server)
    with pytest.raises(ICATPrivilegesError) as caught:
        writer.createMany([new_dataset(writer, mine, "ok"), writer.new("Instrument", name="X", facility=facility)])
    assert caught.value.offset == 1
    assert row_counts(icat_server) == before


def test_delete_cascades_to_parameters_and_datafiles(writer: Client, icat_server: EmulatedIcat) -> None:
    """Deleting a Dataset removes its DatasetParameters and Datafiles."""
    investigation = one(writer, "Investigation", name="MX-415")
    before = row_counts(icat_server)
    dataset = new_dataset(writer, investigation, "doomed", parameters=2, files=2)
    dataset.create()
    child_ids = [
        row["id"]
        for many in ("parameters", "datafiles")
        for row in icat_server.store.children("Dataset", dataset.id, many)
    ]
    assert len(child_ids) == 4
    writer.delete(writer.get("Dataset", dataset.id))
    assert icat_server.store.get("Dataset", dataset.id) is None
    assert all(icat_server.store.get(kind, i) is None for kind in ("DatasetParameter", "Datafile") for i in child_ids)
    assert row_counts(icat_server) == before
    with pytest.raises(ICATNoObjectError):
        writer.get("Dataset", dataset.id)


def test_delete_many(writer: Client, icat_server: EmulatedIcat) -> None:
    """DeleteMany removes every bean given; a missing one fails all and deletes none."""
    investigation = one(writer, "Investigation", name="MX-415")
    ids = writer.createMany([new_dataset(writer, investigation, f"d{i}", files=1) for i in range(3)])
    datasets = [writer.get("Dataset", i) for i in ids]
    ghost = writer.new("Dataset", id=10_000_000)
    with pytest.raises(ICATNoObjectError):
        writer.deleteMany([datasets[0], ghost])
    assert icat_server.store.get("Dataset", ids[0]) is not None
    writer.deleteMany(datasets[:2])
    assert [icat_server.store.get("Dataset", i) is None for i in ids] == [True, True, False]


def test_delete_someone_elses_row_is_refused(writer: Client, icat_server: EmulatedIcat) -> None:
    """Alice cannot delete a sample of her investigation (users may only create samples)."""
    sample = one(writer, "Sample", name="lyso-01")
    with pytest.raises(ICATPrivilegesError):
        writer.delete(sample)
    assert icat_server.store.get("Sample", sample.id) is not None


def test_update_changes_attributes_and_mod_time(writer: Client, icat_server: EmulatedIcat) -> None:
    """Update stores new values and a later modTime, keeping create metadata."""
    investigation = one(writer, "Investigation", name="MX-415")
    dataset = new_dataset(writer, investigation, "to-update", parameters=1, files=1)
    dataset.create()
    created = dict(icat_server.store.get("Dataset", dataset.id))
    time.sleep(0.01)
    fetched = writer.get("Dataset INCLUDE 1", dataset.id)
    fetched.description = "updated"
    fetched.complete = True
    fetched.update()
    stored = icat_server.store.get("Dataset", dataset.id)
    assert stored["description"] == "updated" and stored["complete"] is True
    assert stored["modTime"] > created["modTime"]
    assert stored["createTime"] == created["createTime"] and stored["createId"] == "simple/alice"
    assert stored["modId"] == "simple/alice"
    # MANY children are untouched by an update
    assert len(icat_server.store.children("Dataset", dataset.id, "datafiles")) == 1
    reread = writer.get("Dataset", dataset.id)
    assert reread.description == "updated" and reread.complete is True
    assert reread.modTime > reread.createTime


def test_update_to_duplicate_name_is_refused(writer: Client, icat_server: EmulatedIcat) -> None:
    """Renaming onto an existing Dataset name: ICATObjectExistsError, row unchanged."""
    investigation = one(writer, "Investigation", name="MX-415")
    new_dataset(writer, investigation, "first").create()
    second = new_dataset(writer, investigation, "second")
    second.create()
    fetched = writer.get("Dataset INCLUDE 1", second.id)
    fetched.name = "first"
    with pytest.raises(ICATObjectExistsError):
        fetched.update()
    assert icat_server.store.get("Dataset", second.id)["name"] == "second"


def test_validation_precedes_authorization_for_missing_investigation(writer: Client) -> None:
    """A non-root Dataset without investigation is a VALIDATION fault in icat.server."""
    dataset_type = one(writer, "DatasetType", name="acquisition")
    with pytest.raises(ICATValidationError):
        writer.new("Dataset", name="orphan", complete=False, type=dataset_type).create()


def test_uniqueness_precedes_authorization(writer: Client) -> None:
    """Alice re-creating the existing Instrument ID-DEMO: OBJECT_ALREADY_EXISTS in icat.server."""
    facility = one(writer, "Facility", name="ESRF")
    with pytest.raises(ICATObjectExistsError):
        writer.new("Instrument", name="ID-DEMO", facility=facility).create()


# --------------------------------------------------------------------------
# 6. persistence


def test_a_stopped_server_says_so_and_comes_back_on_its_port(icat_server_factory: Any) -> None:
    """After stop() the address is refused with IcatServerError; start() reuses the same port."""
    server = icat_server_factory()
    port = server.port
    server.stop()
    with pytest.raises(IcatServerError, match="not running"):
        _ = server.url
    server.start()
    assert server.port == port


def test_state_and_sessions_survive_a_restart(icat_server_factory: Any, tmp_path: Path) -> None:
    """On a db_path file, a restarted server keeps rows and sessions and loads no fixture twice."""
    database = tmp_path / "icat.sqlite"
    first = icat_server_factory(db_path=database)
    client = make_client(first)
    try:
        session = login(client, "alice")
        investigation = one(client, "Investigation", name="MX-415")
        dataset_id = client.create(new_dataset(client, investigation, "persisted", parameters=1, files=2))
        counts = row_counts(first)
    finally:
        release(client)
    first.close()

    second = icat_server_factory(db_path=database)
    assert row_counts(second) == counts
    assert second.store.count("Facility") == 1
    client = make_client(second)
    try:
        client.sessionId = session  # opened before the restart
        assert client.getUserName() == "simple/alice"
        got = client.get("Dataset INCLUDE 1", dataset_id)
        assert got.name == "persisted" and got.investigation.name == "MX-415"
        full = client.search(
            Query(
                client,
                "Dataset",
                conditions={"id": f"= {dataset_id}"},
                includes=["datafiles", "parameters"],
            )
        )[0]
        assert len(full.datafiles) == 2 and len(full.parameters) == 1
        # new ids do not collide with the persisted ones
        other = client.create(new_dataset(client, investigation, "after-restart"))
        assert other > dataset_id
    finally:
        release(client)


def test_failed_write_is_not_persisted(icat_server_factory: Any, tmp_path: Path) -> None:
    """A createMany rolled back in memory leaves no row in the file either."""
    database = tmp_path / "icat.sqlite"
    first = icat_server_factory(db_path=database)
    client = make_client(first)
    try:
        login(client, "alice")
        investigation = one(client, "Investigation", name="MX-415")
        with pytest.raises(ICATObjectExistsError):
            client.createMany(
                [
                    new_dataset(client, investigation, "dup", files=1),
                    new_dataset(client, investigation, "dup"),
                ]
            )
        counts = row_counts(first)
    finally:
        release(client)
    first.close()
    second = icat_server_factory(db_path=database)
    assert row_counts(second) == counts
    assert second.store.find("Dataset", name="dup") == []


def test_empty_catalogue_without_fixture(icat_server_factory: Any) -> None:
    """fixture=None: an empty catalogue in which root still logs in."""
    server = icat_server_factory(fixture=None)
    client = make_client(server)
    try:
        login(client, "root")
        assert client.search(Query(client, "Investigation")) == []
        assert client.search("SELECT COUNT(o) FROM Facility o") == [0]
    finally:
        release(client)


def test_default_logins_without_fixture_are_the_fixture_people(icat_server_factory: Any) -> None:
    """fixture=None and no authenticators: alice (a default-fixture person) can log in."""
    server = icat_server_factory(fixture=None)
    client = make_client(server)
    try:
        login(client, "alice")
        assert client.getUserName() == "simple/alice"
    finally:
        release(client)


# --------------------------------------------------------------------------
# 7. standalone command


def _command() -> list[str]:
    script = Path(sys.executable).parent / "mxcubecore-lims"
    if script.is_file():
        return [str(script), "emulate", "icat"]
    return [sys.executable, "-m", "mxcubecore_lims.testing.icat"]


def test_emulate_icat_command_serves_python_icat() -> None:
    """`mxcubecore-lims emulate icat --port 0` prints its URL, serves logins, exits 0 on SIGTERM."""
    process = subprocess.Popen(
        [*_command(), "--port", "0", "--host", "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    client: Client | None = None
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
            if line.startswith("url:"):
                break
        url_lines = [line for line in lines if line.startswith("url:")]
        assert url_lines, "".join(lines)
        url = url_lines[0].split("url:", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        client = Client(url, checkCert=False, cache=None)
        assert client.apiversion == "6.2.0"
        login(client, "alice")
        assert client.getUserName() == "simple/alice"
        assert names(client.search(Query(client, "Investigation"))) == {"MX-415", "MX-2345", "MX-999"}
        client.logout()
    finally:
        if client is not None:
            release(client)
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
    assert returncode == 0
