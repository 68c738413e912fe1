"""``CrimsWebService`` of the emulated ISPyB over real sockets, with zeep as the client.

The shipment is sent as CRIMS sends it: one JSON document (Gson field names) in
``storeShipping``; what it stored is read back from the store, from the
BLSample service (``findSampleInfoLightForProposal``) and from
``getDataCollectionFromShippingId`` and ``getAllDataCollectionFromShippingId``
(the same rows, one per image), which answer the ``crims`` login only.

The default fixture already holds one shipment (proposal mx415's
``demo-shipment``, dewar ``DEMO-DEWAR-1``, pucks DEMO-PUCK-01/02): tests take
baselines before acting and find what they stored by the id it answered.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from lxml import etree
from zeep.exceptions import Fault
from zeep.transports import Transport

from mxcubecore_lims.testing.ispyb import (
    CRIMS_PASSWORD,
    CRIMS_USERNAME,
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    EmulatedIspyb,
    Store,
)
from mxcubecore_lims.testing.ispyb.server import make_app

pytestmark = pytest.mark.integration

CRIMS = "CrimsWebService"
SAMPLE = "ToolsForBLSampleWebService"
COLLECTION = "ToolsForCollectionWebService"
NS = "http://ispyb.ejb3.webservices.sample"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
COUNTED = ("Shipping", "Dewar", "Container", "BLSample", "Crystal", "DiffractionPlan")
DUMPS = ("getDataCollectionFromShippingId", "getAllDataCollectionFromShippingId")
ServerFactory = Callable[..., EmulatedIspyb]


def client(
    server: EmulatedIspyb, service: str = CRIMS, user: str = DEFAULT_USERNAME, password: str = DEFAULT_PASSWORD
) -> zeep.Client:
    session = requests.Session()
    session.auth = (user, password)
    return zeep.Client(server.wsdl_url(service), transport=Transport(session=session))


def crims(server: EmulatedIspyb) -> zeep.Client:
    return client(server, user=CRIMS_USERNAME, password=CRIMS_PASSWORD)


def counts(server: EmulatedIspyb) -> dict[str, int]:
    return {table: len(server.store.rows(table)) for table in COUNTED}


def stored(server: EmulatedIspyb, table: str, key: Any) -> dict[str, Any]:
    """One row by primary key; it must exist."""
    row = server.store.get(table, key)
    assert row is not None, (table, key)
    return row


def next_shipping_id(server: EmulatedIspyb) -> int:
    """The id the next Shipping row gets (the fixture's shipment comes first)."""
    return max((r["shippingId"] for r in server.store.rows("Shipping")), default=0) + 1


def unknown_shipping_id(server: EmulatedIspyb) -> int:
    """An id no Shipping row has."""
    return next_shipping_id(server) + 1000


def dumped_shipping_id(answer: str) -> int:
    """The one ``Shipping_shippingId`` of a ``storeShipping`` answer."""
    (shipping_id,) = {r["Shipping_shippingId"] for r in json.loads(answer)}
    assert isinstance(shipping_id, int)
    return shipping_id


def wsdl_elements(server: EmulatedIspyb, service: str) -> dict[str, list[tuple[str | None, str | None]]]:
    """Each complex type of the service's WSDL: its elements' (name, type)."""
    with urllib.request.urlopen(server.wsdl_url(service), timeout=5) as response:
        doc = etree.fromstring(response.read())
    return {
        str(t.get("name")): [(e.get("name"), e.get("type")) for e in t.iter(f"{{{XS}}}element")]
        for t in doc.iter(f"{{{XS}}}complexType")
    }


def demo_shipping(server: EmulatedIspyb) -> dict[str, Any]:
    """The fixture's Shipping row (mx415's ``demo-shipment``)."""
    (shipping,) = server.store.rows("Shipping", shippingName="demo-shipment")
    return shipping


def lyso_crystal(name: str, **more: Any) -> dict[str, Any]:
    cell = {"cellA": 79.1, "cellB": 79.1, "cellC": 38.0, "cellAlpha": 90, "cellBeta": 90, "cellGamma": 90}
    return {"name": name, "spaceGroup": "P43212", **cell, "proteinVO": {"acronym": "LYSO"}, **more}


def puck(code: str, samples: list[dict[str, Any]], status: str = "processing", location: str = "1") -> dict[str, Any]:
    return {
        "code": code,
        "containerType": "Unipuck",
        "capacity": 16,
        "beamlineLocation": "ID-DEMO",
        "sampleChangerLocation": location,
        "containerStatus": status,
        "barcode": f"BC-{code}",
        "comments": "not a Container3VO field: ignored",
        "sampleVOs": samples,
    }


def shipment() -> dict[str, Any]:
    """Two dewars, three pucks, five samples (one with an unknown protein, one without crystal)."""
    first_dewar = {
        "code": "CRIMS-DEWAR-1",
        "barCode": "DW-0001",
        "type": "Dewar",
        "dewarStatus": "processing",
        "comments": "first dewar",
        "customsValue": 100,
        "isStorageDewar": False,
        "containerVOs": [
            puck(
                "CRIMS-PUCK-01",
                [
                    {
                        "name": "c-lyso-01",
                        "code": "CL01",
                        "location": 1,
                        "holderLength": 22.0,
                        "loopType": "Nylon",
                        "comments": "first sample",
                        "crystalVO": lyso_crystal(
                            "crims-lyso-a",
                            comments="from CRIMS",
                            diffractionPlanVO={"experimentKind": "SAD", "minimalResolution": 2.5},
                        ),
                        "diffractionPlanVO": {
                            "experimentKind": "OSC",
                            "minimalResolution": 1.6,
                            "requiredResolution": 1.4,
                            "exposureTime": 0.02,
                            "oscillationRange": 0.1,
                            "anomalousData": False,
                            "numberOfPositions": 1,
                            "aimedMultiplicity": 4,
                        },
                        "unknownKey": {"nested": [1, 2]},
                    },
                    {"name": "c-lyso-02", "location": "2", "crystalVO": lyso_crystal("crims-lyso-b")},
                ],
                location="4",
            ),
            puck(
                "CRIMS-PUCK-02",
                [
                    {
                        "name": "c-thau-01",
                        "location": 1,
                        "smiles": "CCO",
                        "crystalVO": {
                            "name": "crims-thau",
                            "spaceGroup": "P41212",
                            "proteinVO": {"acronym": "thau"},
                            "diffractionPlanVO": {"experimentKind": "MAD"},
                        },
                    },
                    {
                        "name": "c-unknown-01",
                        "location": 2,
                        "crystalVO": {"name": "x", "spaceGroup": "P1", "proteinVO": {"acronym": "nope"}},
                    },
                ],
                location="5",
            ),
        ],
    }
    second_dewar = {
        "code": "CRIMS-DEWAR-2",
        "barCode": "DW-0002",
        "containerVOs": [
            puck(
                "CRIMS-PUCK-03",
                [{"name": "c-loose-01", "location": 1, "diffractionPlanVO": {"experimentKind": "OSC"}}],
                status="at facility",
                location="6",
            )
        ],
    }
    return {
        "shippingName": "crims-shipment-1",
        "comments": "sent by CRIMS",
        "shippingType": "DewarTracking",
        "shippingStatus": "processing",
        "creationDate": "2001-01-01",
        "dewarVOs": [first_dewar, second_dewar],
    }


def store(server: EmulatedIspyb, document: Any, code: str = "MX", number: str = "415", **login: str) -> Any:
    text = document if isinstance(document, str) else json.dumps(document)
    return client(server, **login).service.storeShipping(proposalCode=code, proposalNumber=number, shipping=text)


# --------------------------------------------------------------------------
# the service


def test_wsdl_loads_in_zeep_with_the_operations(ispyb_server: EmulatedIspyb) -> None:
    zeep_client = client(ispyb_server)
    assert set(zeep_client.service._binding._operations) == {
        "echo",
        "storeShipping",
        "getDataCollectionFromShippingId",
        "getAllDataCollectionFromShippingId",
    }
    assert zeep_client.service.echo() == "echo from server..."
    with urllib.request.urlopen(ispyb_server.wsdl_url(CRIMS), timeout=5) as response:
        doc = etree.fromstring(response.read())
    assert doc.get("targetNamespace") == NS
    assert doc.find(f"{{{WSDL_NS}}}service").get("name") == "ispybWS"
    assert doc.find(f"{{{WSDL_NS}}}service/{{{WSDL_NS}}}port").get("name") == "CrimsWebServicePort"
    names = wsdl_elements(ispyb_server, CRIMS)
    assert names["storeShipping"] == [
        ("proposalCode", "xs:string"),
        ("proposalNumber", "xs:string"),
        ("shipping", "xs:string"),
    ]
    assert names["storeShippingResponse"] == [("return", "xs:string")]
    for operation in DUMPS:
        assert names[operation] == [("shippingId", "xs:string")]
        assert names[f"{operation}Response"] == [("return", "xs:string")]


def test_both_accounts_are_served_and_crims_can_be_left_out(ispyb_server_factory: ServerFactory) -> None:
    server = ispyb_server_factory(username="ws", password="secret")
    assert client(server, user="ws", password="secret").service.echo() == "echo from server..."
    assert client(server, SAMPLE, CRIMS_USERNAME, CRIMS_PASSWORD).service.echo() == "echo from server..."
    envelope = f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><t:echo xmlns:t="{NS}"/>'
    envelope += "</s:Body></s:Envelope>"
    without = ispyb_server_factory(crims_password=None)
    for target, expected in ((server, 200), (without, 401)):
        reply = requests.post(target.root + CRIMS, data=envelope, auth=(CRIMS_USERNAME, CRIMS_PASSWORD), timeout=5)
        assert reply.status_code == expected
    assert client(without).service.echo() == "echo from server..."  # mxcube still
    assert make_app(Store()).credentials == {DEFAULT_USERNAME: DEFAULT_PASSWORD, CRIMS_USERNAME: CRIMS_PASSWORD}


# --------------------------------------------------------------------------
# storeShipping


def test_store_shipping_creates_the_rows_links_and_answers_the_dump(ispyb_server: EmulatedIspyb) -> None:
    before = counts(ispyb_server)
    old_shippings = ispyb_server.store.rows("Shipping")
    started = datetime.now().replace(microsecond=0)
    answer = store(ispyb_server, shipment(), code="mx")  # code compared case-insensitively
    after = counts(ispyb_server)
    assert {t: after[t] - before[t] for t in COUNTED} == {
        "Shipping": 1,
        "Dewar": 2,
        "Container": 3,
        "BLSample": 5,
        "Crystal": 3,
        "DiffractionPlan": 4,  # two of samples, two of crystals
    }
    (shipping,) = [r for r in ispyb_server.store.rows("Shipping") if r not in old_shippings]
    assert shipping["shippingId"] == dumped_shipping_id(answer)
    assert ispyb_server.store.rows("Shipping")[: len(old_shippings)] == old_shippings  # the fixture's untouched
    assert shipping["proposalId"] == ispyb_server.store.rows("Proposal", code="MX")[0]["proposalId"]
    assert (shipping["shippingName"], shipping["comments"]) == ("crims-shipment-1", "sent by CRIMS")
    assert (shipping["shippingType"], shipping["shippingStatus"]) == ("DewarTracking", "processing")
    assert datetime.fromisoformat(shipping["creationDate"]) >= started  # set by the server, not the JSON
    dewars = ispyb_server.store.rows("Dewar", shippingId=shipping["shippingId"])
    assert [(d["code"], d["barCode"], d["customsValue"]) for d in dewars] == [
        ("CRIMS-DEWAR-1", "DW-0001", 100),
        ("CRIMS-DEWAR-2", "DW-0002", None),
    ]
    containers = [c for d in dewars for c in ispyb_server.store.rows("Container", dewarId=d["dewarId"])]
    assert [(c["code"], c["barcode"], c["capacity"]) for c in containers] == [
        (f"CRIMS-PUCK-0{n}", f"BC-CRIMS-PUCK-0{n}", 16) for n in (1, 2, 3)
    ]
    assert all(c["comments"] is None for c in containers)  # Container3VO has no comments field
    samples = {s["name"]: s for s in ispyb_server.store.rows("BLSample") if s["name"].startswith("c-")}
    lyso = samples["c-lyso-01"]
    assert (lyso["containerId"], lyso["location"], lyso["loopType"]) == (containers[0]["containerId"], "1", "Nylon")
    crystal = stored(ispyb_server, "Crystal", lyso["crystalId"])
    assert (crystal["name"], crystal["spaceGroup"], crystal["cellA"], crystal["comments"]) == (
        "crims-lyso-a",
        "P43212",
        79.1,
        "from CRIMS",
    )
    assert crystal["proteinId"] == ispyb_server.store.rows("Protein", acronym="lyso")[0]["proteinId"]
    assert stored(ispyb_server, "DiffractionPlan", crystal["diffractionPlanId"])["experimentKind"] == "SAD"
    plan = stored(ispyb_server, "DiffractionPlan", lyso["diffractionPlanId"])
    assert (plan["experimentKind"], plan["requiredResolution"], plan["anomalousData"]) == ("OSC", 1.4, 0)
    assert plan["aimedMultiplicity"] == 4.0 and isinstance(plan["aimedMultiplicity"], float)
    assert samples["c-thau-01"]["containerId"] == containers[1]["containerId"]
    # ISPyB links the container inside "if (crystalVO != null)": an unknown acronym
    # leaves the sample without crystal but in its container; no crystalVO, in none.
    assert samples["c-unknown-01"]["crystalId"] is None
    assert samples["c-unknown-01"]["containerId"] == containers[1]["containerId"]
    assert (samples["c-loose-01"]["crystalId"], samples["c-loose-01"]["containerId"]) == (None, None)
    assert samples["c-loose-01"]["diffractionPlanId"] is not None

    rows = json.loads(answer)
    assert [(r["Dewar_code"], r["Container_code"], r["BLSample_name"]) for r in rows] == [
        ("CRIMS-DEWAR-1", "CRIMS-PUCK-01", "c-lyso-01"),
        ("CRIMS-DEWAR-1", "CRIMS-PUCK-01", "c-lyso-02"),
        ("CRIMS-DEWAR-1", "CRIMS-PUCK-02", "c-thau-01"),
        ("CRIMS-DEWAR-1", "CRIMS-PUCK-02", "c-unknown-01"),
        ("CRIMS-DEWAR-2", "CRIMS-PUCK-03", None),  # its only sample has no container
    ]
    assert {r["Shipping_shippingId"] for r in rows} == {shipping["shippingId"]}
    assert rows[0]["Shipping_creationDate"] == shipping["creationDate"]
    assert rows[0]["BLSample_blSampleId"] == lyso["blSampleId"]
    assert rows[0]["Container_containerId"] == containers[0]["containerId"]
    assert [r["Crystal_spaceGroup"] for r in rows] == ["P43212", "P43212", "P41212", None, None]
    assert rows[0]["DataCollectionGroup_dataCollectionGroupId"] is None and "DataCollection_imageDirectory" in rows[0]
    assert all(len(r) == len(rows[0]) for r in rows)  # nulls are written (serializeNulls)


def test_new_samples_are_listed_by_find_sample_info_light_for_proposal(ispyb_server: EmulatedIspyb) -> None:
    proposal_id = ispyb_server.store.rows("Proposal", code="MX", number="415")[0]["proposalId"]
    samples = client(ispyb_server, SAMPLE).service
    listed_before = samples.findSampleInfoLightForProposal(proposalId=proposal_id, beamlineLocation="ID-DEMO")
    shipping = stored(ispyb_server, "Shipping", dumped_shipping_id(store(ispyb_server, shipment())))
    assert shipping["proposalId"] == proposal_id
    infos = samples.findSampleInfoLightForProposal(proposalId=proposal_id, beamlineLocation="ID-DEMO")
    by_name = {i.sampleName: i for i in infos}
    assert len(listed_before) == 10  # the fixture's
    assert len(infos) == len(listed_before) + 3  # and the three new ones with a crystal in a processing puck
    assert {"c-unknown-01", "c-loose-01"}.isdisjoint(by_name)
    lyso = by_name["c-lyso-01"]
    assert (lyso.shippingId, lyso.shippingName, lyso.shippingComments) == (
        shipping["shippingId"],
        "crims-shipment-1",
        "sent by CRIMS",
    )
    assert (lyso.dewarCode, lyso.containerCode, lyso.sampleLocation) == ("CRIMS-DEWAR-1", "CRIMS-PUCK-01", "1")
    assert lyso.dewarId == ispyb_server.store.rows("Dewar", code="CRIMS-DEWAR-1")[0]["dewarId"]
    assert (lyso.containerSampleChangerLocation, lyso.containerCapacity, lyso.code) == ("4", 16, "CL01")
    assert (lyso.crystalSpaceGroup, lyso.proteinAcronym, lyso.cellC) == ("P43212", "lyso", 38.0)
    assert lyso.diffractionPlan.experimentKind == "OSC"  # the sample's own plan
    assert (lyso.experimentType, lyso.minimalResolution) == ("OSC", 1.6)
    assert by_name["c-thau-01"].diffractionPlan.experimentKind == "MAD"  # its crystal's plan
    assert by_name["c-thau-01"].smiles == "CCO" and by_name["c-thau-01"].containerCode == "CRIMS-PUCK-02"
    fixture = by_name["lyso-01"]  # still in the fixture's own shipment
    assert (fixture.dewarCode, fixture.shippingName) == ("DEMO-DEWAR-1", "demo-shipment")
    assert fixture.shippingId == demo_shipping(ispyb_server)["shippingId"] != shipping["shippingId"]
    assert fixture.dewarId == ispyb_server.store.rows("Dewar", code="DEMO-DEWAR-1")[0]["dewarId"] != lyso.dewarId
    assert fixture.shippingComments is None


def test_only_processing_containers_on_the_beamline_are_listed(ispyb_server: EmulatedIspyb) -> None:
    def one(code: str, status: str, beamline: str) -> dict[str, Any]:
        container = puck(code, [{"name": f"s-{code}", "location": 1, "crystalVO": lyso_crystal(f"x-{code}")}], status)
        return {**container, "beamlineLocation": beamline}

    pucks = [one("P-OK", "processing", "id-demo"), one("P-AWAY", "at facility", "ID-DEMO")]
    pucks.append(one("P-OTHER", "processing", "ID-OTHER"))
    store(ispyb_server, {"shippingName": "filters", "dewarVOs": [{"code": "D", "containerVOs": pucks}]})
    listed = client(ispyb_server, SAMPLE).service.findSampleInfoLightForProposal(
        proposalId=1, beamlineLocation="ID-DEMO"
    )
    assert [i.containerCode for i in listed if i.sampleName.startswith("s-")] == ["P-OK"]
    away = ispyb_server.store.rows("Container", code="P-AWAY")[0]
    ispyb_server.store.update("Container", away["containerId"], {"containerStatus": "processing"})
    listed = client(ispyb_server, SAMPLE).service.findSampleInfoLightForProposal(
        proposalId=1, beamlineLocation="ID-DEMO"
    )
    assert [i.containerCode for i in listed if i.sampleName.startswith("s-")] == ["P-OK", "P-AWAY"]


def test_unknown_proposal_answers_empty_and_stores_nothing(ispyb_server: EmulatedIspyb) -> None:
    before = counts(ispyb_server)
    shippings = ispyb_server.store.rows("Shipping")
    assert store(ispyb_server, shipment(), number="999") is None
    assert store(ispyb_server, shipment(), code="ZZ") is None
    assert store(ispyb_server, shipment(), code="MX", number="0415") is None  # the number is compared as text
    assert counts(ispyb_server) == before
    assert ispyb_server.store.rows("Shipping") == shippings
    assert not ispyb_server.store.rows("Shipping", shippingName="crims-shipment-1")


def test_empty_or_null_document(ispyb_server: EmulatedIspyb) -> None:
    # Gson reads both as null: no proposal, an empty answer; a proposal, a NullPointerException.
    before = counts(ispyb_server)
    shippings = ispyb_server.store.rows("Shipping")
    for text in ("null", " "):
        assert store(ispyb_server, text, number="999") is None
        with pytest.raises(Fault, match="NullPointerException"):
            store(ispyb_server, text)
    assert ispyb_server.store.rows("Shipping") == shippings
    assert counts(ispyb_server) == before


def bad_third_container(document: dict[str, Any], **change: Any) -> dict[str, Any]:
    out = copy.deepcopy(document)
    third = out["dewarVOs"][1]["containerVOs"][0]
    third.update(change)
    for key in [k for k, v in change.items() if v is ...]:
        del third[key]
    return out


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"shippingName": "x", "dewarVOs": [', "MalformedJsonException"),
        ("[1, 2]", "Expected BEGIN_OBJECT but was BEGIN_ARRAY at path $"),
        ('"a string"', "Expected BEGIN_OBJECT but was STRING"),
        (bad_third_container(shipment(), capacity="sixteen"), 'For input string: "sixteen"'),
        (bad_third_container(shipment(), capacity=16.5), "Expected an int but was 16.5"),
        (bad_third_container(shipment(), sampleVOs={"name": "x"}), "Expected BEGIN_ARRAY but was BEGIN_OBJECT"),
        (bad_third_container(shipment(), code={"a": 1}), "Expected a string but was BEGIN_OBJECT"),
        (bad_third_container(shipment(), timeStamp="2024-01-05T10:00:00"), "as Date"),  # no zone
        ({"dewarVOs": [{"isStorageDewar": 1, "containerVOs": []}]}, "Expected a boolean but was NUMBER"),
        ({"dewarVOs": [{"containerVOs": [{"sampleVOs": [{"crystalVO": "x"}]}]}]}, "BEGIN_OBJECT but was STRING"),
    ],
)
def test_bad_json_is_a_fault_before_anything_is_stored(
    ispyb_server: EmulatedIspyb, document: Any, message: str
) -> None:
    before = counts(ispyb_server)
    with pytest.raises(Fault) as caught:
        store(ispyb_server, document)
    assert message in caught.value.message
    assert "JsonSyntaxException" in caught.value.message
    assert counts(ispyb_server) == before
    # Gson runs first: a bad document is a Fault even for an unknown proposal.
    with pytest.raises(Fault):
        store(ispyb_server, document, number="999")


def test_wrong_type_path_names_the_third_container(ispyb_server: EmulatedIspyb) -> None:
    with pytest.raises(Fault) as caught:
        store(ispyb_server, bad_third_container(shipment(), capacity="sixteen"))
    assert "$.dewarVOs[1].containerVOs[0].capacity" in caught.value.message


@pytest.mark.parametrize(
    "change",
    [
        {"sampleVOs": ...},  # missing: Java's for-each over null
        {"sampleVOs": [{"name": "ok"}, None]},  # a null element
        {"sampleVOs": [{"name": "long", "crystalVO": lyso_crystal("x", spaceGroup="P" * 21)}]},  # checkValues
    ],
)
def test_a_failure_half_way_rolls_everything_back(ispyb_server: EmulatedIspyb, change: dict[str, Any]) -> None:
    """The third container fails after the shipping, both dewars and the first two pucks were inserted."""
    before = counts(ispyb_server)
    first_free = next_shipping_id(ispyb_server)
    with pytest.raises(Fault) as caught:
        store(ispyb_server, bad_third_container(shipment(), **change))
    assert "NullPointerException" in caught.value.message or "spaceGroup" in caught.value.message
    assert counts(ispyb_server) == before
    # The ids rolled back are free again, and the same shipment then goes through whole.
    assert dumped_shipping_id(store(ispyb_server, shipment())) == first_free
    after = counts(ispyb_server)
    assert (after["Shipping"] - before["Shipping"], after["BLSample"] - before["BLSample"]) == (1, 5)


def test_gson_conversions(ispyb_server: EmulatedIspyb) -> None:
    document = {
        "shippingName": "a<b & 'c'",
        "deliveryAgentShippingDate": "Jan 5, 2024, 3:04:05 PM",
        "dateOfShippingToUser": "2024-02-01",
        "laboratoryId": "7",
        "dewarVOs": [
            {
                "code": 12,
                "isStorageDewar": "TRUE",
                "isReimbursed": "yes",
                "transportValue": 1e2,
                "containerVOs": [
                    {
                        "capacity": "16",
                        "sampleChangerLocation": 3,
                        "containerStatus": True,
                        "sampleVOs": [
                            {
                                "name": "conv",
                                "location": 2.5,
                                "holderLength": "22",
                                "isInSampleChanger": 200,
                                "crystalVO": {"cellA": "79.1", "proteinVO": {"acronym": "lyso"}},
                                "diffractionPlanVO": {"numberOfPositions": 2.0, "anomalousData": "true"},
                            }
                        ],
                    }
                ],
            }
        ],
    }
    text = json.dumps(document).replace('"location": 2.5,', '"location": 2.50,')  # Gson keeps a number's text
    answer = store(ispyb_server, text)
    assert "\\u003c" in answer and "\\u0026" in answer and "\\u0027" in answer  # Gson's HTML-safe escapes
    shipping = stored(ispyb_server, "Shipping", dumped_shipping_id(answer))
    assert json.loads(answer)[0]["Shipping_shippingName"] == shipping["shippingName"] == "a<b & 'c'"
    assert shipping["deliveryAgentShippingDate"] == "2024-01-05T15:04:05"
    assert shipping["dateOfShippingToUser"] == "2024-02-01T00:00:00"
    assert shipping["laboratoryId"] == 7
    (dewar,) = ispyb_server.store.rows("Dewar", shippingId=shipping["shippingId"])
    assert (dewar["code"], dewar["isStorageDewar"], dewar["isReimbursed"], dewar["transportValue"]) == ("12", 1, 0, 100)
    container = ispyb_server.store.rows("Container", dewarId=dewar["dewarId"])[0]
    assert (container["capacity"], container["sampleChangerLocation"], container["containerStatus"]) == (
        16,
        "3",
        "true",
    )
    sample = ispyb_server.store.rows("BLSample", name="conv")[0]
    assert (sample["location"], sample["holderLength"], sample["isInSampleChanger"]) == ("2.50", 22.0, -56)
    assert stored(ispyb_server, "Crystal", sample["crystalId"])["cellA"] == 79.1
    plan = stored(ispyb_server, "DiffractionPlan", sample["diffractionPlanId"])
    assert (plan["numberOfPositions"], plan["anomalousData"]) == (2, 1)


def test_store_shipping_answers_whoever_calls(ispyb_server: EmulatedIspyb) -> None:
    first = next_shipping_id(ispyb_server)
    as_crims = store(ispyb_server, shipment(), user=CRIMS_USERNAME, password=CRIMS_PASSWORD)
    as_mxcube = store(ispyb_server, shipment())
    assert dumped_shipping_id(as_crims) == first
    assert dumped_shipping_id(as_mxcube) == first + 1
    assert len(json.loads(as_crims)) == len(json.loads(as_mxcube)) == 5


# --------------------------------------------------------------------------
# the fixture's shipment


def test_the_fixture_shipment_is_listed_by_find_sample_info_light_for_proposal(ispyb_server: EmulatedIspyb) -> None:
    proposal_id = ispyb_server.store.rows("Proposal", code="MX", number="415")[0]["proposalId"]
    shipping = demo_shipping(ispyb_server)
    assert shipping["proposalId"] == proposal_id
    (dewar,) = ispyb_server.store.rows("Dewar", shippingId=shipping["shippingId"])
    assert dewar["code"] == "DEMO-DEWAR-1"
    pucks = ispyb_server.store.rows("Container", dewarId=dewar["dewarId"])
    assert [c["code"] for c in pucks] == ["DEMO-PUCK-01", "DEMO-PUCK-02"]
    assert ispyb_server.store.rows("Container", code="TEST-PUCK-01")[0]["dewarId"] is None  # no proposal given

    infos = client(ispyb_server, SAMPLE).service.findSampleInfoLightForProposal(
        proposalId=proposal_id, beamlineLocation="ID-DEMO"
    )
    assert sorted(i.sampleName for i in infos) == [f"{p}-0{n}" for p in ("lyso", "thau") for n in range(1, 6)]
    assert {(i.shippingId, i.shippingName, i.dewarCode, i.dewarId) for i in infos} == {
        (shipping["shippingId"], "demo-shipment", "DEMO-DEWAR-1", dewar["dewarId"])
    }
    assert {i.containerCode for i in infos} == {"DEMO-PUCK-01", "DEMO-PUCK-02"}
    # CRIMS sees the same shipment
    rows = json.loads(crims(ispyb_server).service.getDataCollectionFromShippingId(str(shipping["shippingId"])))
    assert sorted(r["BLSample_name"] for r in rows) == sorted(i.sampleName for i in infos)
    assert {(r["Shipping_shippingName"], r["Dewar_code"]) for r in rows} == {("demo-shipment", "DEMO-DEWAR-1")}


# --------------------------------------------------------------------------
# getDataCollectionFromShippingId, getAllDataCollectionFromShippingId


@pytest.mark.parametrize("operation", DUMPS)
def test_the_shipping_dumps_are_for_crims_only(ispyb_server: EmulatedIspyb, operation: str) -> None:
    shipping_id = str(dumped_shipping_id(store(ispyb_server, shipment())))
    with pytest.raises(Fault) as caught:
        getattr(client(ispyb_server).service, operation)(shippingId=shipping_id)
    assert caught.value.message == "Access not authorized to user: mxcube"
    # a person's own ISPyB credentials are no better
    with pytest.raises(Fault, match="Access not authorized to user: alice"):
        getattr(client(ispyb_server, user="alice", password="alice-password").service, operation)(shipping_id)
    assert len(json.loads(getattr(crims(ispyb_server).service, operation)(shippingId=shipping_id))) == 5


def collect_on(server: EmulatedIspyb, sample_id: int, prefixes: tuple[str, ...]) -> tuple[int, list[int]]:
    """A data collection group of the sample and one collection per prefix, stored as MXCuBE stores them."""
    collection = client(server, COLLECTION)
    group_type = collection.get_type("ns0:dataCollectionGroupWS3VO")
    dc_type = collection.get_type("ns0:dataCollectionWS3VO")
    group_id = collection.service.storeOrUpdateDataCollectionGroup(
        group_type(sessionId=1, blSampleId=sample_id, experimentType="OSC")
    )
    dc_ids = [
        collection.service.storeOrUpdateDataCollection(
            dc_type(dataCollectionGroupId=group_id, imageDirectory="/data/id-demo/mx415", imagePrefix=prefix)
        )
        for prefix in prefixes
    ]
    return group_id, dc_ids


def test_get_data_collection_from_shipping_id_joins_groups_and_collections(ispyb_server: EmulatedIspyb) -> None:
    shipping_id = dumped_shipping_id(store(ispyb_server, shipment()))
    sample_id = ispyb_server.store.rows("BLSample", name="c-lyso-01")[0]["blSampleId"]
    group_id, dc_ids = collect_on(ispyb_server, sample_id, ("lyso-a", "lyso-b"))
    rows = json.loads(crims(ispyb_server).service.getDataCollectionFromShippingId(shippingId=str(shipping_id)))
    assert len(rows) == 6  # c-lyso-01 now has one row per collection
    assert {r["Shipping_shippingId"] for r in rows} == {shipping_id}
    mine = [r for r in rows if r["BLSample_blSampleId"] == sample_id]
    assert [r["DataCollection_dataCollectionId"] for r in mine] == dc_ids
    assert [r["DataCollection_imagePrefix"] for r in mine] == ["lyso-a", "lyso-b"]
    assert {r["DataCollection_imageDirectory"] for r in mine} == {"/data/id-demo/mx415"}
    assert {(r["DataCollectionGroup_dataCollectionGroupId"], r["DataCollectionGroup_sessionId"]) for r in mine} == {
        (group_id, 1)
    }
    assert {r["DataCollectionGroup_blSampleId"] for r in mine} == {sample_id}
    others = [r for r in rows if r["BLSample_blSampleId"] != sample_id]
    assert all(r["DataCollection_dataCollectionId"] is None for r in others)
    assert mine[0]["Crystal_spaceGroup"] == "P43212" and mine[0]["BLSample_name"] == "c-lyso-01"
    assert not any(key.startswith("Image_") for key in rows[0])  # images are getAllDataCollectionFromShippingId's


def test_get_all_data_collection_from_shipping_id_adds_one_row_per_image(ispyb_server: EmulatedIspyb) -> None:
    shipping_id = str(dumped_shipping_id(store(ispyb_server, shipment())))
    sample_id = ispyb_server.store.rows("BLSample", name="c-lyso-01")[0]["blSampleId"]
    _, (imaged, bare) = collect_on(ispyb_server, sample_id, ("lyso-a", "lyso-b"))
    image_type = client(ispyb_server, COLLECTION).get_type("ns0:imageWS3VO")
    image_ids = [
        client(ispyb_server, COLLECTION).service.storeOrUpdateImage(
            image_type(dataCollectionId=imaged, fileName=name, fileLocation="/data/id-demo/mx415", imageNumber=n)
        )
        for n, name in enumerate(("lyso-a_0001.cbf", "lyso-a_0002.cbf"), start=1)
    ]
    assert len(ispyb_server.store.rows("Image", dataCollectionId=imaged)) == 2

    service = crims(ispyb_server).service
    plain = json.loads(service.getDataCollectionFromShippingId(shippingId=shipping_id))
    every = json.loads(service.getAllDataCollectionFromShippingId(shippingId=shipping_id))
    assert [r["DataCollection_dataCollectionId"] for r in plain].count(imaged) == 1  # still one row
    with_images = [r for r in every if r["DataCollection_dataCollectionId"] == imaged]
    assert [r["Image_fileName"] for r in with_images] == ["lyso-a_0001.cbf", "lyso-a_0002.cbf"]
    assert [r["Image_imageId"] for r in with_images] == image_ids
    assert {(r["Image_dataCollectionId"], r["Image_fileLocation"]) for r in with_images} == {
        (imaged, "/data/id-demo/mx415")
    }
    assert len(every) == len(plain) + 1  # the two images take the place of their collection's one row
    # every other row is the plain one, with null Image_ columns (nulls are written)
    rest = [r for r in every if r["DataCollection_dataCollectionId"] != imaged]
    assert [{k: v for k, v in r.items() if not k.startswith("Image_")} for r in rest] == [
        r for r in plain if r["DataCollection_dataCollectionId"] != imaged
    ]
    assert all(r["Image_imageId"] is None and r["Image_fileName"] is None for r in rest)
    assert any(r["DataCollection_dataCollectionId"] == bare for r in rest)
    image_keys = {k for k in every[0] if k.startswith("Image_")}
    assert {"Image_imageId", "Image_fileName", "Image_imageNumber"} <= image_keys
    assert all(set(r) == set(plain[0]) | image_keys for r in every)
    assert {k: v for k, v in with_images[0].items() if not k.startswith("Image_")} == next(
        r for r in plain if r["DataCollection_dataCollectionId"] == imaged
    )


@pytest.mark.parametrize("operation", DUMPS)
@pytest.mark.parametrize("shipping_id", ["abc", "1.0", "99999999999", " 1x"])
def test_non_numeric_shipping_id_is_a_fault(ispyb_server: EmulatedIspyb, operation: str, shipping_id: str) -> None:
    with pytest.raises(Fault, match="NumberFormatException"):
        getattr(crims(ispyb_server).service, operation)(shippingId=shipping_id)


@pytest.mark.parametrize("operation", DUMPS)
def test_unknown_shipping_id_is_an_empty_list(ispyb_server: EmulatedIspyb, operation: str) -> None:
    dump = getattr(crims(ispyb_server).service, operation)
    unknown = unknown_shipping_id(ispyb_server)
    assert dump(shippingId=str(unknown)) == "[]"
    assert dump(shippingId=f"+{unknown}") == "[]"
    assert dump(shippingId="-1") == "[]"
    # a sign is read as Integer.parseInt reads it: +<id> is that shipping
    known = str(demo_shipping(ispyb_server)["shippingId"])
    assert json.loads(dump(shippingId=f"+{known}")) == json.loads(dump(shippingId=known)) != []


# --------------------------------------------------------------------------
# findProteinAcronymsForProposal (ToolsForBLSampleWebService)


def test_find_protein_acronyms_for_proposal(ispyb_server: EmulatedIspyb) -> None:
    names = wsdl_elements(ispyb_server, SAMPLE)
    assert names["findProteinAcronymsForProposal"] == [
        ("proposalCode", "xs:string"),
        ("proposalNumber", "xs:string"),
    ]
    assert names["findProteinAcronymsForProposalResponse"] == [("listProteinAcronyms", "xs:string")]
    service = client(ispyb_server, SAMPLE).service  # mxcube: ISPyB's version checks no crims login
    for code in ("MX", "mx", "Mx"):
        assert service.findProteinAcronymsForProposal(proposalCode=code, proposalNumber="415") == ["lyso", "thau"]
    assert service.findProteinAcronymsForProposal("IDTEST", "0") == ["insu"]
    for code, number in (("MX", "999"), ("ZZ", "415"), ("MX", "0415"), ("OPID", "30")):
        found = service.findProteinAcronymsForProposal(proposalCode=code, proposalNumber=number)
        assert found is None or found == [], (code, number, found)


# --------------------------------------------------------------------------
# the store


def test_transaction_commits_or_rolls_back_with_savepoints() -> None:
    db = Store()
    with db.transaction():
        db.insert("Shipping", {"shippingName": "kept"})
    with pytest.raises(RuntimeError), db.transaction():
        db.insert("Shipping", {"shippingName": "gone"})
        raise RuntimeError("boom")
    with db.transaction():
        db.insert("Shipping", {"shippingName": "outer"})
        with pytest.raises(RuntimeError), db.transaction():
            db.insert("Shipping", {"shippingName": "inner"})
            raise RuntimeError("inner boom")
    assert [r["shippingName"] for r in db.rows("Shipping")] == ["kept", "outer"]
    db.close()


def test_an_older_database_file_gains_the_new_columns(tmp_path: Path, ispyb_server_factory: ServerFactory) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.execute('CREATE TABLE "Container" ("containerId" INTEGER PRIMARY KEY AUTOINCREMENT, "code", "dewarCode")')
        old.execute('INSERT INTO "Container" ("code", "dewarCode") VALUES (\'OLD-PUCK\', \'OLD-DEWAR\')')
        old.execute('CREATE TABLE "Crystal" ("crystalId" INTEGER PRIMARY KEY AUTOINCREMENT, "name")')
    old.close()
    server = ispyb_server_factory(db_path=path)
    row = server.store.rows("Container", code="OLD-PUCK")[0]
    assert row["dewarCode"] == "OLD-DEWAR" and row["dewarId"] is None and "barcode" in row
    assert json.loads(store(server, shipment()))[0]["Container_code"] == "CRIMS-PUCK-01"
