"""The pinned ``suds`` works for both of its users: mxcubecore's ISPyB clients and python-icat.

mxcubecore depends on suds-py3 and python-icat on suds (formerly
suds-community); both install the module ``suds``. The project pins suds
1.2.0 and installs it last. These tests drive suds over a real HTTP socket
on loopback the way mxcubecore's ISPyB adapter does (basic-auth transport,
``asdict``, ``WebFault``), and exercise python-icat's suds-based pieces.
"""

from __future__ import annotations

import base64
import importlib.metadata
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from gevent.pywsgi import WSGIServer

pytestmark = pytest.mark.integration

NAMESPACE = "http://pin.test.mxcubecore-lims/"
WSDL = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"
             xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
             xmlns:xs="http://www.w3.org/2001/XMLSchema"
             xmlns:tns="{NAMESPACE}" targetNamespace="{NAMESPACE}" name="PinService">
  <types>
    <xs:schema targetNamespace="{NAMESPACE}" elementFormDefault="unqualified">
      <xs:element name="findProposal" type="tns:findProposal"/>
      <xs:element name="findProposalResponse" type="tns:findProposalResponse"/>
      <xs:complexType name="findProposal">
        <xs:sequence><xs:element name="arg0" type="xs:string" minOccurs="0"/></xs:sequence>
      </xs:complexType>
      <xs:complexType name="findProposalResponse">
        <xs:sequence><xs:element name="return" type="tns:proposal3VO" minOccurs="0"/></xs:sequence>
      </xs:complexType>
      <xs:complexType name="proposal3VO">
        <xs:sequence>
          <xs:element name="code" type="xs:string" minOccurs="0"/>
          <xs:element name="number" type="xs:string" minOccurs="0"/>
          <xs:element name="proposalId" type="xs:int" minOccurs="0"/>
        </xs:sequence>
      </xs:complexType>
    </xs:schema>
  </types>
  <message name="findProposal"><part name="parameters" element="tns:findProposal"/></message>
  <message name="findProposalResponse"><part name="parameters" element="tns:findProposalResponse"/></message>
  <portType name="Pin">
    <operation name="findProposal">
      <input message="tns:findProposal"/><output message="tns:findProposalResponse"/>
    </operation>
  </portType>
  <binding name="PinBinding" type="tns:Pin">
    <soap:binding transport="http://schemas.xmlsoap.org/soap/http" style="document"/>
    <operation name="findProposal">
      <soap:operation soapAction=""/>
      <input><soap:body use="literal"/></input><output><soap:body use="literal"/></output>
    </operation>
  </binding>
  <service name="PinService">
    <port name="PinPort" binding="tns:PinBinding"><soap:address location="LOCATION"/></port>
  </service>
</definitions>
"""

RESPONSE = f"""<?xml version="1.0"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>
<ns2:findProposalResponse xmlns:ns2="{NAMESPACE}"><return>
<code>MX</code><number>0415</number><proposalId>7</proposalId>
</return></ns2:findProposalResponse></S:Body></S:Envelope>"""

FAULT = """<?xml version="1.0"?>
<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><S:Fault>
<faultcode>S:Server</faultcode><faultstring>no such proposal</faultstring>
</S:Fault></S:Body></S:Envelope>"""

CREDENTIALS = "Basic " + base64.b64encode(b"ispyb-user:ispyb-pass").decode()


@pytest.fixture
def soap_server() -> Iterator[str]:
    """A one-operation SOAP service on an ephemeral loopback port."""
    received: list[bytes] = []

    def application(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["REQUEST_METHOD"] == "GET":
            host = environ["HTTP_HOST"]
            body = WSDL.replace("LOCATION", f"http://{host}/pin").encode()
            start_response("200 OK", [("Content-Type", "text/xml")])
            return [body]
        if environ.get("HTTP_AUTHORIZATION") != CREDENTIALS:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="pin"')])
            return [b""]
        request = environ["wsgi.input"].read()
        received.append(request)
        if b"<arg0>unknown</arg0>" in request:
            start_response("500 Internal Server Error", [("Content-Type", "text/xml")])
            return [FAULT.encode()]
        start_response("200 OK", [("Content-Type", "text/xml")])
        return [RESPONSE.encode()]

    server = WSGIServer(("127.0.0.1", 0), application, log=None)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/pin?wsdl"
    finally:
        server.stop()


def test_the_pinned_suds_is_the_one_on_disk() -> None:
    import suds

    assert importlib.metadata.version("suds") == "1.2.0"
    assert suds.__version__ == "1.2.0"


def test_mxcubecore_ispyb_modules_import_with_the_pinned_suds() -> None:
    from mxcubecore.HardwareObjects import ProposalTypeISPyBLims, UserTypeISPyBLims
    from mxcubecore.HardwareObjects.abstract import ISPyBDataAdapter

    assert ISPyBDataAdapter.Client is UserTypeISPyBLims.Client
    assert ProposalTypeISPyBLims.ProposalTypeISPyBLims is not None


def test_suds_as_mxcubecore_uses_it(soap_server: str) -> None:
    from suds import WebFault
    from suds.client import Client
    from suds.sudsobject import asdict
    from suds.transport.http import HttpAuthenticated

    # ISPyBDataAdapter builds its clients exactly like this.
    transport = HttpAuthenticated(username="ispyb-user", password="ispyb-pass", timeout=3)
    client = Client(soap_server, timeout=3, transport=transport, cache=None)
    with gevent.Timeout(10):
        proposal = client.service.findProposal("mx415")
    assert asdict(proposal) == {"code": "MX", "number": "0415", "proposalId": 7}
    with pytest.raises(WebFault) as caught, gevent.Timeout(10):
        client.service.findProposal("unknown")
    assert caught.value.fault.faultstring == "no such proposal"


def test_python_icat_suds_pieces_work_with_the_pinned_suds() -> None:
    import suds
    import suds.sax.date
    from icat.exception import ICATSessionError, translateError

    # python-icat maps a suds WebFault carrying ICAT's fault detail to its classes.
    fault = suds.sudsobject.Object()
    fault.faultstring = "Session id abc is not valid"
    fault.detail = suds.sudsobject.Object()
    fault.detail.IcatException = suds.sudsobject.Object()
    fault.detail.IcatException.type = "SESSION"
    fault.detail.IcatException.message = "Session id abc is not valid"
    fault.detail.IcatException.offset = -1
    error = translateError(suds.WebFault(fault, None))
    assert isinstance(error, ICATSessionError)
    assert suds.sax.date.DateTime("2024-05-01T10:00:00").value.year == 2024
