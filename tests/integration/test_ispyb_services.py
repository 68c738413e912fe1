"""Our zeep layer over the emulated ISPyB: calls, typed errors, a down server."""

from __future__ import annotations

from typing import Any

import pytest

from mxcubecore_lims.errors import (
    IspybCredentialsError,
    IspybFaultError,
    IspybUnavailableError,
    LimsConfigError,
    LimsUnavailableError,
)
from mxcubecore_lims.ispyb.services import IspybConnection, IspybServices

pytestmark = pytest.mark.integration


def services(server: Any, password: str = "ispyb-password", **more: Any) -> IspybServices:
    return IspybServices(IspybConnection(ws_root=server.root, username="mxcube", password=password, **more))


def test_each_service_answers_echo(ispyb_server: Any) -> None:
    ispyb = services(ispyb_server)
    for service in ("shipping", "collection", "sample"):
        assert ispyb.call(service, "echo")
    assert [op for _, op, _ in ispyb_server.calls].count("echo") == 3


def test_a_fault_is_a_typed_refusal_with_its_detail_not_server_down(ispyb_server: Any) -> None:
    ispyb = services(ispyb_server)
    group = ispyb.client("collection").get_type("ns0:dataCollectionGroupWS3VO")
    with pytest.raises(IspybFaultError) as caught:
        ispyb.call("collection", "storeOrUpdateDataCollectionGroup", group(sessionId=1, experimentType="Still"))
    assert not isinstance(caught.value, LimsUnavailableError)
    assert caught.value.operation == "storeOrUpdateDataCollectionGroup"
    assert "Still" in caught.value.detail


def test_wrong_web_service_password_is_a_configuration_error(ispyb_server: Any) -> None:
    ispyb = services(ispyb_server, password="wrong-7731")
    with pytest.raises(IspybCredentialsError) as caught:
        ispyb.call("shipping", "echo")
    assert isinstance(caught.value, LimsConfigError)
    assert "wrong-7731" not in str(caught.value)


def test_a_stopped_server_is_unavailable_and_used_again_once_back(ispyb_server: Any) -> None:
    ispyb = services(ispyb_server, connect_timeout=2, read_timeout=2)
    root = ispyb_server.root
    assert ispyb.call("collection", "echo")
    ispyb_server.stop()
    with pytest.raises(IspybUnavailableError) as caught:
        ispyb.call("collection", "echo")
    assert root in str(caught.value)
    ispyb_server.start()
    assert ispyb.call("collection", "echo")


def test_nothing_listening_is_unavailable_when_the_wsdl_is_first_needed() -> None:
    from mxcubecore_lims.testing.slapd import free_port

    ispyb = IspybServices(IspybConnection(ws_root=f"http://127.0.0.1:{free_port()}/ispyb/", connect_timeout=1))
    with pytest.raises(IspybUnavailableError):
        ispyb.call("sample", "echo")
