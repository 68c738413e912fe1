"""The emulated ISPyB SOAP server (mxcubecore_lims.testing.ispyb) over real sockets.

Clients are the real SOAP libraries: suds (as mxcubecore uses it: basic auth,
POST on the ``?wsdl`` URL) and zeep (strict schema validation of every
response), plus raw HTTP for the status codes and envelopes.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from lxml import etree
from suds import WebFault
from suds.client import Client
from suds.transport.http import HttpAuthenticated

from mxcubecore_lims.testing.ispyb import EmulatedIspyb
from mxcubecore_lims.testing.ispyb.schema import SERVICES

pytestmark = pytest.mark.integration

SHIPPING = "ToolsForShippingWebService"
COLLECTION = "ToolsForCollectionWebService"
SAMPLE = "ToolsForBLSampleWebService"
NS = {
    SHIPPING: "http://ispyb.ejb3.webservices.shipping",
    COLLECTION: "http://ispyb.ejb3.webservices.collection",
    SAMPLE: "http://ispyb.ejb3.webservices.sample",
}
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"


def suds_client(server: EmulatedIspyb, service: str, user="mxcube", password="ispyb-password"):
    """A suds client built the way mxcubecore's ISPyBDataAdapter builds it."""
    url = server.wsdl_url(service)
    client = Client(
        url,
        timeout=3,
        transport=HttpAuthenticated(username=user, password=password),
        cache=None,
    )
    client.set_options(cache=None, location=url)
    return client


def soap_post(server: EmulatedIspyb, service: str, body: str, auth=("mxcube", "ispyb-password")):
    envelope = (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}" xmlns:t="{NS[service]}"><soap:Body>{body}</soap:Body></soap:Envelope>'
    )
    return requests.post(
        server.wsdl_url(service),
        data=envelope.encode(),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
        auth=auth,
        timeout=5,
    )


# --------------------------------------------------------------------------
# WSDLs


@pytest.mark.parametrize("service", [SHIPPING, COLLECTION, SAMPLE])
def test_wsdl_is_served_without_credentials(ispyb_server: EmulatedIspyb, service: str) -> None:
    assert ispyb_server.root.startswith("http://127.0.0.1:")
    assert ispyb_server.root.endswith("/ispyb/ispyb-ws/ispybWS/")
    with urllib.request.urlopen(ispyb_server.wsdl_url(service), timeout=5) as response:
        assert response.status == 200
        doc = etree.fromstring(response.read())
    assert doc.get("targetNamespace") == NS[service]
    schema = doc.find(f"{{{WSDL_NS}}}types/{{{XS}}}schema")
    assert schema.get("targetNamespace") == NS[service]
    # no prefix ns0 bound anywhere (suds' factory.create("ns0:...") relies on it)
    assert "ns0" not in {p for el in doc.iter() for p in (el.nsmap or {})}
    port = doc.find(f"{{{WSDL_NS}}}service/{{{WSDL_NS}}}port")
    assert doc.find(f"{{{WSDL_NS}}}service").get("name") == "ispybWS"
    assert port.get("name") == f"{service}Port"
    ops = {op.get("name") for op in doc.find(f"{{{WSDL_NS}}}portType")}
    assert ops == set(SERVICES[service].operations)
    assert "echo" in ops
    assert "storeBLSampleHasEnergyScan" not in ops


def test_wsdl_element_names_and_order(ispyb_server: EmulatedIspyb) -> None:
    with urllib.request.urlopen(ispyb_server.wsdl_url(SHIPPING), timeout=5) as response:
        doc = etree.fromstring(response.read())
    types = {t.get("name"): t for t in doc.iter(f"{{{XS}}}complexType")}
    names = lambda t: [e.get("name") for e in types[t].iter(f"{{{XS}}}element")]  # noqa: E731
    assert names("findProposal") == ["arg0", "arg1"]
    assert names("findProposalsByLoginName") == ["loginName"]
    assert names("proposal3VO") == ["code", "externalId", "number", "proposalId", "title", "type"]
    ext = types["proposalWS3VO"].find(f".//{{{XS}}}extension")
    assert ext.get("base") == "tns:proposal3VO"
    assert names("proposalWS3VO") == ["personId"]
    for element in types["person3VO"].iter(f"{{{XS}}}element"):
        assert element.get("minOccurs") == "0"


# --------------------------------------------------------------------------
# authentication, faults, dispatch


def test_operation_without_credentials_is_401(ispyb_server: EmulatedIspyb) -> None:
    body = "<t:echo/>"
    for auth in (None, ("mxcube", "wrong"), ("nobody", "ispyb-password")):
        response = soap_post(ispyb_server, SHIPPING, body, auth=auth)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
    client = suds_client(ispyb_server, SHIPPING, password="wrong")
    with pytest.raises(Exception) as info:
        client.service.echo()
    assert not isinstance(info.value, WebFault)
    assert 401 in info.value.args[0]


def test_person_credentials_are_accepted(ispyb_server: EmulatedIspyb) -> None:
    response = soap_post(ispyb_server, SHIPPING, "<t:echo/>", auth=("alice", "alice-password"))
    assert response.status_code == 200


@pytest.mark.parametrize("service", [SHIPPING, COLLECTION, SAMPLE])
def test_echo_on_each_service(ispyb_server: EmulatedIspyb, service: str) -> None:
    assert suds_client(ispyb_server, service).service.echo() == "echo from server..."


def test_post_without_wsdl_query_is_accepted(ispyb_server: EmulatedIspyb) -> None:
    envelope = (
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
        f'<ns2:echo xmlns:ns2="{NS[SAMPLE]}"/></soap:Body></soap:Envelope>'
    )
    response = requests.post(ispyb_server.root + SAMPLE, data=envelope, auth=("mxcube", "ispyb-password"), timeout=5)
    assert response.status_code == 200
    reply = etree.fromstring(response.content)
    wrapper = reply.find(f"{{{SOAP_ENV}}}Body/{{{NS[SAMPLE]}}}echoResponse")
    assert wrapper.find("echo").text == "echo from server..."  # unqualified child


def test_fault_is_http_500_with_fault_envelope(ispyb_server: EmulatedIspyb) -> None:
    body = (
        "<t:storeOrUpdateDataCollectionGroup><dataCollectionGroup>"
        "<experimentType>Still</experimentType><sessionId>1</sessionId>"
        "</dataCollectionGroup></t:storeOrUpdateDataCollectionGroup>"
    )
    response = soap_post(ispyb_server, COLLECTION, body)
    assert response.status_code == 500
    reply = etree.fromstring(response.content)
    fault = reply.find(f"{{{SOAP_ENV}}}Body/{{{SOAP_ENV}}}Fault")
    assert fault.findtext("faultcode") == "soap:Server"
    assert "experimentType" in fault.findtext("faultstring")
    detail = fault.find(f"detail/{{{NS[COLLECTION]}}}Exception")
    assert "Still" in detail.findtext("message")
    assert ispyb_server.store.rows("DataCollectionGroup") == []
    with pytest.raises(WebFault):
        suds_client(ispyb_server, COLLECTION).service.storeOrUpdateDataCollectionGroup(
            {"sessionId": 1, "experimentType": "Imaging"}
        )


def test_unknown_operation_is_a_fault(ispyb_server: EmulatedIspyb) -> None:
    body = "<t:storeBLSampleHasEnergyScan><energyScanId>1</energyScanId></t:storeBLSampleHasEnergyScan>"
    response = soap_post(ispyb_server, COLLECTION, body)
    assert response.status_code == 500
    assert b"Fault" in response.content


# --------------------------------------------------------------------------
# Shipping


def test_find_proposal_and_login_lookups(ispyb_server: EmulatedIspyb) -> None:
    shipping = suds_client(ispyb_server, SHIPPING)
    proposal = shipping.service.findProposal("mx", "415")  # code matched case-insensitively
    assert (proposal.code, proposal.number, proposal.title, proposal.type) == (
        "MX",
        "415",
        "Lysozyme and thaumatin at ID-DEMO",
        "MX",
    )
    assert proposal.proposalId > 0 and proposal.personId > 0
    assert shipping.service.findProposal("mx", "999") is None

    by_login = shipping.service.findProposalByLoginAndBeamline("mx415", "ID-DEMO")
    assert by_login.proposalId == proposal.proposalId
    assert shipping.service.findProposalByLoginAndBeamline("nobody", "ID-DEMO") is None

    person = shipping.service.findPersonByLogin("mx415")
    assert (person.login, person.givenName, person.familyName) == ("mx415", "Ada", "Lovelace")
    assert not hasattr(person, "password")
    assert shipping.service.findPersonByLogin("nobody") is None
    assert shipping.service.findPersonByProposal("MX", "415").login == "mx415"

    lab = shipping.service.findLaboratoryByProposal("MX", "415")
    assert lab.laboratoryId == person.laboratoryId and lab.city == "Grenoble"
    assert shipping.service.findLaboratoryByCodeAndNumber("MX", 415).name == lab.name

    listed = json.loads(shipping.service.findProposalsByLoginName("alice"))
    assert sorted((p["code"], p["number"]) for p in listed) == [("IDTEST", "0"), ("MX", "415")]
    assert all(isinstance(p["proposalId"], str) for p in listed)
    assert json.loads(shipping.service.findProposalsByLoginName("nobody")) == []

    local = shipping.service.findPersonBySessionIdLocalContact(1)
    assert local.login == "opid30"


# --------------------------------------------------------------------------
# Collection


def test_session_search(ispyb_server: EmulatedIspyb) -> None:
    collection = suds_client(ispyb_server, COLLECTION)
    sessions = collection.service.findSessionsByProposalAndBeamLine("mx", "415", "id-demo")
    assert len(sessions) == 1  # the past and the other-beamline sessions are not current here
    session = sessions[0]
    assert session.proposalName == "mx415"
    assert session.beamlineName == "ID-DEMO"
    assert session.startDate.date() == datetime.now().date()
    assert session.endDate.date() == datetime.now().date() + timedelta(days=2)
    assert not hasattr(session, "nbReimbDewars")
    other = collection.service.findSessionsByProposalAndBeamLine("MX", "415", "ID-OTHER")
    assert [s.beamlineName for s in other] == ["ID-OTHER"]
    assert collection.service.findSessionsByProposalAndBeamLine("OPID", "30", "ID-DEMO") == []
    assert collection.service.findSessionsByProposalAndBeamLine("MX", "0415", "ID-DEMO") == []
    assert collection.service.findSession(session.sessionId).sessionId == session.sessionId
    assert collection.service.findSession(9999) is None


def test_store_session_rules(ispyb_server: EmulatedIspyb) -> None:
    collection = suds_client(ispyb_server, COLLECTION)
    start = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=2, hours=7, minutes=59, seconds=59)
    session_id = collection.service.storeOrUpdateSession(
        {
            "proposalId": 2,
            "beamlineName": "ID-DEMO",
            "scheduled": 0,
            "nbShifts": 17,
            "comments": "Session created by the BCM",
            "startDate": start,
            "endDate": end,
        }
    )
    row = ispyb_server.store.get("BLSession", session_id)
    assert row["nbShifts"] == 3  # forced, as ISPyB does
    assert row["startDate"] == start.isoformat()
    assert row["endDate"] == end.isoformat()
    assert row["lastUpdate"] == end.isoformat()
    assert row["proposalId"] == 2
    found = collection.service.findSessionsByProposalAndBeamLine("OPID", "30", "ID-DEMO")
    assert [s.sessionId for s in found] == [session_id]
    # no proposal: empty reply, no fault
    assert collection.service.storeOrUpdateSession({"beamlineName": "ID-DEMO"}) is None
    assert collection.service.storeOrUpdateSession({"proposalId": 0}) is None
    # start only: end = start + 1 day; nbShifts computed
    only_start = collection.service.storeOrUpdateSession({"proposalId": 2, "startDate": start})
    row = ispyb_server.store.get("BLSession", only_start)
    assert row["endDate"] == (start + timedelta(days=1)).isoformat()


def test_data_collection_chain(ispyb_server: EmulatedIspyb) -> None:
    collection = suds_client(ispyb_server, COLLECTION)
    svc = collection.service
    assert svc.storeOrUpdateDataCollectionGroup({"sessionId": 0, "experimentType": "OSC"}) is None
    assert svc.storeOrUpdateDataCollectionGroup({"sessionId": 1}) is None
    group_id = svc.storeOrUpdateDataCollectionGroup(
        {
            "sessionId": 1,
            "experimentType": "OSC",
            "comments": "first",
            "startTime": datetime(2000, 1, 1),
        }
    )
    group = ispyb_server.store.get("DataCollectionGroup", group_id)
    assert group["comments"] == " first"  # ISPyB appends to the (empty) old comment
    assert group["startTime"][:4] == str(datetime.now().year)  # set by the server
    assert (
        svc.storeOrUpdateDataCollectionGroup(
            {
                "dataCollectionGroupId": group_id,
                "sessionId": 1,
                "experimentType": "OSC",
                "comments": "again",
            }
        )
        == group_id
    )
    assert ispyb_server.store.get("DataCollectionGroup", group_id)["comments"] == " first again"

    assert svc.storeOrUpdateDataCollection({"dataCollectionGroupId": 0}) is None
    dc_id = svc.storeOrUpdateDataCollection(
        {
            "dataCollectionGroupId": group_id,
            "imagePrefix": "lyso",
            "numberOfImages": 100,
            "rotationAxis": "Omega",
        }
    )
    assert (
        svc.storeOrUpdateDataCollection(
            {"dataCollectionId": dc_id, "dataCollectionGroupId": group_id, "runStatus": "Successful"}
        )
        == dc_id
    )
    row = ispyb_server.store.get("DataCollection", dc_id)
    assert row["runStatus"] == "Successful" and row["printableForReport"] == 1
    with pytest.raises(WebFault):
        svc.storeOrUpdateDataCollection({"dataCollectionGroupId": group_id, "rotationAxis": "Chi"})
    assert svc.findDataCollection(dc_id).dataCollectionId == dc_id
    assert svc.findDataCollection(999) is None

    assert svc.storeOrUpdateImage({"fileName": "x.cbf"}) is None
    image_id = svc.storeOrUpdateImage({"dataCollectionId": dc_id, "fileName": "lyso_1_0001.cbf", "imageNumber": 1})
    assert ispyb_server.store.get("Image", image_id)["fileName"] == "lyso_1_0001.cbf"

    assert svc.storeRobotAction({"sessionId": 1, "robotActionId": 5}) is None
    assert svc.storeRobotAction({"actionType": "LOAD"}) is None
    action_id = svc.storeRobotAction({"sessionId": 1, "actionType": "LOAD", "containerLocation": 1})
    assert ispyb_server.store.get("RobotAction", action_id)["actionType"] == "LOAD"

    detector = svc.findDetectorByParam("", "DECTRIS", "EIGER2 X 9M", "Unbinned")
    assert detector.detectorId > 0 and detector.detectorSerialNumber == "E-18-0101"
    assert svc.findDetectorByParam("", "Nobody", "x", "") is None

    setup_id = svc.storeOrUpdateBeamLineSetup({"synchrotronName": "DEMO", "polarisation": 0.99})
    assert ispyb_server.store.get("BeamLineSetup", setup_id)["synchrotronName"] == "DEMO"
    scan_id = svc.storeOrUpdateEnergyScan({"sessionId": 1, "element": "Se", "edgeEnergy": "K"})
    assert ispyb_server.store.get("EnergyScan", scan_id)["element"] == "Se"
    spectrum_id = svc.storeOrUpdateXFEFluorescenceSpectrum({"sessionId": 1, "energy": 12.7})
    assert ispyb_server.store.get("XFEFluorescenceSpectrum", spectrum_id)["energy"] == 12.7
    assert svc.storeOrUpdateEnergyScan({"element": "Se"}) is None


# --------------------------------------------------------------------------
# BLSample


def test_sample_listing(ispyb_server: EmulatedIspyb) -> None:
    samples = suds_client(ispyb_server, SAMPLE)
    infos = samples.service.findSampleInfoLightForProposal(1, "ID-DEMO")
    assert len(infos) == 10
    first = infos[0]
    assert (first.sampleName, first.code, first.sampleLocation) == ("lyso-01", "LY01", "1")
    assert (first.containerCode, first.containerSampleChangerLocation) == ("DEMO-PUCK-01", "1")
    assert (first.proteinAcronym, first.crystalSpaceGroup, first.cellA) == ("lyso", "P43212", 79.1)
    assert first.diffractionPlan.experimentKind == "OSC" and first.experimentType == "OSC"
    assert [i.sampleName for i in infos if i.containerCode == "DEMO-PUCK-02"] == [f"thau-0{n}" for n in range(1, 6)]
    assert samples.service.findSampleInfoLightForProposal(999, "ID-DEMO") == []
    blsample = samples.service.findBLSample(first.sampleId)
    assert blsample.name == "lyso-01" and blsample.crystalId == first.crystalId
    assert samples.service.storeOrUpdateBLSample({"name": "x"}) is None
    new_id = samples.service.storeOrUpdateBLSample({"name": "new", "crystalId": first.crystalId, "containerId": 0})
    row = ispyb_server.store.get("BLSample", new_id)
    assert row["name"] == "new" and row["containerId"] is None


# --------------------------------------------------------------------------
# zeep


def test_zeep_reads_every_wsdl_and_calls_operations(ispyb_server: EmulatedIspyb) -> None:
    import zeep  # a declared dependency: never skipped
    from zeep.transports import Transport

    session = requests.Session()
    session.auth = ("mxcube", "ispyb-password")
    clients = {}
    for service in (SHIPPING, COLLECTION, SAMPLE):
        client = zeep.Client(ispyb_server.wsdl_url(service), transport=Transport(session=session))
        binding = client.service._binding
        listed = set(binding._operations)
        assert listed == set(SERVICES[service].operations)
        clients[service] = client
    assert clients[SHIPPING].service.echo() == "echo from server..."
    proposal = clients[SHIPPING].service.findProposal(arg0="MX", arg1="415")
    assert proposal.code == "MX" and proposal.personId > 0
    sessions = clients[COLLECTION].service.findSessionsByProposalAndBeamLine(
        code="MX", number="415", beamLineName="ID-DEMO"
    )
    assert [s.proposalName for s in sessions] == ["mx415"]
    assert sessions[0].startDate.tzinfo is not None
    infos = clients[SAMPLE].service.findSampleInfoLightForProposal(
        proposalId=proposal.proposalId, beamlineLocation="ID-DEMO"
    )
    assert len(infos) == 10 and infos[0].diffractionPlan.experimentKind == "OSC"
    person = clients[SHIPPING].service.findPersonByLogin(arg0="mx415")
    assert person.login == "mx415" and person.laboratoryId > 0
    lab = clients[SHIPPING].service.findLaboratoryByProposal(arg0="MX", arg1="415")
    assert lab.laboratoryId == person.laboratoryId
    assert clients[SHIPPING].service.findPersonByLogin(arg0="nobody") is None
    session_type = clients[COLLECTION].get_type("ns0:sessionWS3VO")
    start = datetime.now().replace(microsecond=0)
    new_session = clients[COLLECTION].service.storeOrUpdateSession(
        session_type(
            proposalId=proposal.proposalId,
            beamlineName="ID-ZEEP",
            startDate=start,
            endDate=start + timedelta(hours=16),
        )
    )
    found = clients[COLLECTION].service.findSession(sessionId=new_session)
    assert found.beamlineName == "ID-ZEEP" and found.nbShifts == 2  # (end - start) / 8 h
    assert found.startDate.replace(tzinfo=None) == start
    group_factory = clients[COLLECTION].get_type("ns0:dataCollectionGroupWS3VO")
    group_id = clients[COLLECTION].service.storeOrUpdateDataCollectionGroup(
        group_factory(sessionId=sessions[0].sessionId, experimentType="SAD")
    )
    assert isinstance(group_id, int) and group_id > 0
    with pytest.raises(zeep.exceptions.Fault):
        clients[COLLECTION].service.storeOrUpdateDataCollectionGroup(
            group_factory(sessionId=sessions[0].sessionId, experimentType="Still")
        )


# --------------------------------------------------------------------------
# persistence


def test_state_survives_restart_on_same_db_file(tmp_path: Path, ispyb_server_factory) -> None:
    db = tmp_path / "ispyb.sqlite"
    first = ispyb_server_factory(db_path=db)
    group_id = suds_client(first, COLLECTION).service.storeOrUpdateDataCollectionGroup(
        {"sessionId": 1, "experimentType": "OSC"}
    )
    proposals = len(first.store.rows("Proposal"))
    first.close()

    second = ispyb_server_factory(db_path=db)  # fixture not re-loaded into a non-empty DB
    assert len(second.store.rows("Proposal")) == proposals
    groups = second.store.rows("DataCollectionGroup")
    assert [r["dataCollectionGroupId"] for r in groups] == [group_id]
    dc_id = suds_client(second, COLLECTION).service.storeOrUpdateDataCollection(
        {"dataCollectionGroupId": group_id, "imagePrefix": "after-restart"}
    )
    assert second.store.get("DataCollection", dc_id)["imagePrefix"] == "after-restart"


def test_stop_and_start_reuses_port(ispyb_server: EmulatedIspyb) -> None:
    root = ispyb_server.root
    ispyb_server.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(root + SHIPPING + "?wsdl", timeout=2)
    ispyb_server.start()
    assert ispyb_server.root == root
    assert suds_client(ispyb_server, SHIPPING).service.echo() == "echo from server..."


def test_empty_fixture(ispyb_server_factory) -> None:
    server = ispyb_server_factory(fixture=None)
    assert server.store.rows("Proposal") == []
    assert suds_client(server, SHIPPING).service.findProposal("MX", "415") is None


def test_basic_header_sent_by_suds_on_wsdl_get_is_harmless(ispyb_server: EmulatedIspyb) -> None:
    token = base64.b64encode(b"mxcube:wrong").decode()
    request = urllib.request.Request(ispyb_server.wsdl_url(COLLECTION), headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


# --------------------------------------------------------------------------
# schema/handler coverage and fixtures


def test_every_operation_has_a_handler() -> None:
    from mxcubecore_lims.testing.ispyb.operations import HANDLERS

    declared = {(s.name, op) for s in SERVICES.values() for op in s.operations}
    assert declared == set(HANDLERS)


def test_relative_fixture_dates() -> None:
    from mxcubecore_lims.testing.ispyb.fixture import parse_date

    now = datetime(2026, 3, 10, 14, 30, 5)
    assert parse_date("today", now) == datetime(2026, 3, 10)
    assert parse_date("today+2", now) == datetime(2026, 3, 12)
    assert parse_date("today-30 08:00", now) == datetime(2026, 2, 8, 8, 0)
    assert parse_date("today+2 7:59:59", now) == datetime(2026, 3, 12, 7, 59, 59)
    assert parse_date("now", now) == now
    assert parse_date("now+1", now) == now + timedelta(days=1)
    assert parse_date("2024-06-15T00:00:00", now) == datetime(2024, 6, 15)


def test_fixture_errors_name_the_entry() -> None:
    from mxcubecore_lims.errors import LimsError
    from mxcubecore_lims.testing.ispyb.fixture import IspybFixtureError, load_fixture
    from mxcubecore_lims.testing.ispyb.store import Store

    store = Store()
    with pytest.raises(IspybFixtureError, match="unknown proposal 'mx1'") as info:
        load_fixture(store, {"sessions": [{"proposal": "mx1", "startDate": "today"}]})
    assert isinstance(info.value, LimsError)
    with pytest.raises(IspybFixtureError, match="bad date"):
        load_fixture(
            store,
            {
                "proposals": [{"code": "MX", "number": 1}],
                "sessions": [{"proposal": "mx1", "startDate": "tomorrow"}],
            },
        )


def test_custom_fixture_and_credentials(ispyb_server_factory) -> None:
    fixture = {
        "persons": [{"login": "bob", "password": "pw", "proposals": ["mx7", "fx9"]}],
        "proposals": [
            {"code": "MX", "number": "7", "title": "t", "type": "MX"},
            {"code": "FX", "number": "9", "title": "t", "type": "MX"},
        ],
        "sessions": [{"proposal": "mx7", "beamlineName": "BL1", "startDate": "today", "endDate": "today+1"}],
    }
    server = ispyb_server_factory(fixture=fixture, username="ws", password="secret")
    shipping = suds_client(server, SHIPPING, user="ws", password="secret")
    # an fx* proposal is always assigned, even after a match (reference §2.1)
    assert shipping.service.findProposalByLoginAndBeamline("bob", "BL1").code == "FX"
    # ifx maps to fx
    assert shipping.service.findProposal("ifx", "9").code == "FX"
    assert suds_client(server, SHIPPING, user="bob", password="pw").service.echo()


def test_standalone_process(tmp_path: Path) -> None:
    """``python -m mxcubecore_lims.testing.ispyb`` serves until stopped."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "mxcubecore_lims.testing.ispyb", "--db", str(tmp_path / "db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("ws_root: http://127.0.0.1:"), proc.stderr.read()
        root = line.split(" ", 1)[1]
        with urllib.request.urlopen(root + SHIPPING + "?wsdl", timeout=5) as response:
            assert response.status == 200
        response = requests.post(
            root + SHIPPING,
            data=(
                f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
                f'<ns2:findProposal xmlns:ns2="{NS[SHIPPING]}"><arg0>MX</arg0><arg1>415</arg1>'
                "</ns2:findProposal></soap:Body></soap:Envelope>"
            ),
            auth=("mxcube", "ispyb-password"),
            timeout=5,
        )
        assert response.status_code == 200 and b"<code>MX</code>" in response.content
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert (tmp_path / "db").exists()
