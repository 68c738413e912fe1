"""The WSGI application of the emulated ICAT: HTTP routing, WSDL/XSD downloads and SOAP dispatch."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import gevent
from lxml import etree

from mxcubecore_lims.testing.icat.envelopes import SOAP_ENV, client_fault_xml, fault_xml, response_xml
from mxcubecore_lims.testing.icat.faults import FaultType, IcatFault
from mxcubecore_lims.testing.icat.operations import IcatService
from mxcubecore_lims.testing.icat.wsdl import NAMESPACE, OPERATIONS, wsdl_text, xsd_text

__all__ = ["SERVICE_PATH", "IcatApp"]

log = logging.getLogger(__name__)

SERVICE_PATH = "/ICATService/ICAT"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class IcatApp:
    """Serves ``SERVICE_PATH``: the WSDL and XSD by ``GET``, SOAP operations by ``POST``.

    Args:
        service: The operations a request's body element names.
    """

    def __init__(self, service: IcatService) -> None:
        self.service = service
        #: Seconds every POST waits before it runs (a slow server).
        self.latency = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Answer one HTTP request (the WSGI entry point).

        Args:
            environ: The WSGI environment.
            start_response: The WSGI callback for the status and headers.

        Returns:
            The response body.
        """
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "").lower()
        method = environ.get("REQUEST_METHOD", "GET")
        if path.rstrip("/") != SERVICE_PATH:
            return self._reply(start_response, "404 Not Found", b"not found", "text/plain")
        if method == "GET":
            if query.startswith("wsdl"):
                endpoint = f"http://{self._host(environ)}{SERVICE_PATH}"
                text = wsdl_text(endpoint)
            elif query.startswith("xsd"):
                text = xsd_text()
            else:
                return self._reply(start_response, "404 Not Found", b"add ?wsdl", "text/plain")
            return self._reply(start_response, "200 OK", text.encode(), "text/xml; charset=utf-8")
        if method != "POST":
            return self._reply(start_response, "405 Method Not Allowed", b"", "text/plain")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
        if self.latency:
            gevent.sleep(self.latency)  # a slow server, for timeout tests
        status, payload = self._soap(body)
        return self._reply(start_response, status, payload, "text/xml; charset=utf-8")

    @staticmethod
    def _host(environ: dict[str, Any]) -> str:
        return environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"

    @staticmethod
    def _reply(start_response: Any, status: str, body: bytes, ctype: str) -> list[bytes]:
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    def _soap(self, body: bytes) -> tuple[str, bytes]:
        fail = "500 Internal Server Error"
        try:
            envelope = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as exc:
            return fail, client_fault_xml(f"Unmarshalling Error: {exc}")
        soap_body = envelope.find(f"{{{SOAP_ENV}}}Body")
        request = None if soap_body is None else next(iter(soap_body), None)
        if request is None or not isinstance(request.tag, str):
            return fail, client_fault_xml("No SOAP body element")
        qname = etree.QName(request.tag)
        if qname.namespace != NAMESPACE or qname.localname not in OPERATIONS:
            return fail, client_fault_xml(f"Cannot find dispatch method for {{{qname.namespace}}}{qname.localname}")
        name = qname.localname
        self.service.calls.append((name, ""))
        try:
            result = getattr(self.service, name)(request)
        except IcatFault as fault:
            return fail, fault_xml(fault)
        except Exception as exc:  # a server bug must still reach the client as a fault
            log.exception("emulated ICAT: %s failed", name)
            return fail, fault_xml(IcatFault(FaultType.INTERNAL, f"{type(exc).__name__}: {exc}"))
        return "200 OK", response_xml(name, result)
