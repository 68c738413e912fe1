"""ICAT ingestion messages in pyicat-plus's dataset XML: written by us, read by an ingester."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from mxcubecore_lims.errors import LimsDataError
from mxcubecore_lims.icat.messages import NAMESPACE, dataset_message, read_dataset_message
from mxcubecore_lims.icat.metadata import DatasetRecord

TNS = f"{{{NAMESPACE}}}"


def record(
    location: str = "/data/visitor/mx415/id-demo/lyso-01", sample: str | None = "lyso-01", complete: bool = True
) -> DatasetRecord:
    return DatasetRecord(
        name="lyso-01_1",
        location=location,
        start=datetime(2026, 12, 3, 22, 0, tzinfo=UTC),
        end=datetime(2026, 12, 3, 22, 5, tzinfo=UTC),
        complete=complete,
        sample_name=sample,
        parameters={"MX_numberOfImages": 3600, "MX_exposureTime": 0.01, "MX_beamShape": "ellipse\nwide"},
    )


def test_our_message_has_the_elements_pyicat_plus_writes_in_its_order() -> None:
    body = dataset_message(record(), "MX415", "ID-DEMO", investigation_id=162)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?><tns:dataset') and b"\n" not in body
    root = etree.fromstring(body)
    assert root.tag == f"{TNS}dataset" and root.get("complete") == "true"
    assert [c.tag[len(TNS) :] for c in root][:7] == [
        "investigation",
        "instrument",
        "name",
        "location",
        "startDate",
        "endDate",
        "sample",
    ]
    assert root.findtext(f"{TNS}investigation") == "mx415" and root.findtext(f"{TNS}instrument") == "id-demo"
    parameters = {p.findtext(f"{TNS}name"): p.findtext(f"{TNS}value") for p in root.findall(f"{TNS}parameter")}
    assert parameters["MX_numberOfImages"] == "3600" and parameters["MX_exposureTime"] == "0.01"
    assert parameters["MX_beamShape"] == "ellipse wide"  # no newline survives, as in pyicat-plus
    assert parameters["investigationId"] == "162" and parameters["Sample_name"] == "lyso-01"
    assert parameters["software"] == "mxcubecore-lims" and parameters["complete"] == "true"


def test_a_message_reads_back_as_the_dataset_it_describes() -> None:
    read = read_dataset_message(dataset_message(record(complete=False), "mx415", "id-demo", investigation_id=162))
    assert (read.proposal, read.beamline, read.name, read.location) == (
        "mx415",
        "id-demo",
        "lyso-01_1",
        "/data/visitor/mx415/id-demo/lyso-01",
    )
    assert read.start == datetime(2026, 12, 3, 22, 0, tzinfo=UTC)
    assert read.complete is False and read.sample_name == "lyso-01" and read.investigation_id == 162


def test_a_message_written_the_way_pyicat_plus_writes_it_is_read() -> None:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><tns:dataset xmlns:tns="{NAMESPACE}" complete="true">'
        "<tns:investigation>mx1234</tns:investigation><tns:instrument>id30a1</tns:instrument>"
        "<tns:name>lyso-A1_1</tns:name><tns:location>/data/mx1234/lyso-A1_1</tns:location>"
        "<tns:startDate>2025-03-04T10:11:12+01:00</tns:startDate>"
        "<tns:endDate>2025-03-04T10:15:00.123456Z</tns:endDate>"
        "<tns:sample><tns:name>lyso-A1</tns:name></tns:sample>"
        "<tns:parameter><tns:name>MX_transmission</tns:name><tns:value>10.0</tns:value></tns:parameter>"
        "</tns:dataset>"
    )
    read = read_dataset_message(body)
    assert read.investigation_id is None  # a message without investigationId: found by proposal and date
    assert read.end == datetime(2025, 3, 4, 10, 15, 0, 123456, tzinfo=UTC)
    assert read.parameters == {"MX_transmission": "10.0"}


@pytest.mark.parametrize(
    ("body", "element"),
    [
        (b"not xml <", "body"),
        (b"<other/>", "root"),
        (
            f'<tns:dataset xmlns:tns="{NAMESPACE}"><tns:investigation>mx1</tns:investigation></tns:dataset>'.encode(),
            "instrument",
        ),
        (
            f'<tns:dataset xmlns:tns="{NAMESPACE}"><tns:investigation>a</tns:investigation><tns:instrument>b'
            "</tns:instrument><tns:name>c</tns:name><tns:location>/d</tns:location>"
            "<tns:startDate>yesterday</tns:startDate></tns:dataset>".encode(),
            "startDate",
        ),
    ],
)
def test_a_bad_message_is_a_typed_error_naming_the_element(body: bytes, element: str) -> None:
    with pytest.raises(LimsDataError) as caught:
        read_dataset_message(body)
    assert caught.value.field == element


def test_a_dataset_without_directory_or_sample_cannot_be_sent() -> None:
    with pytest.raises(LimsDataError, match="location"):
        dataset_message(record(location=""), "mx415", "id-demo")
    with pytest.raises(LimsDataError, match="Sample_name"):
        dataset_message(record(sample=None), "mx415", "id-demo")
