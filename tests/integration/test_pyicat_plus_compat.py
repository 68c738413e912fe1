"""Compatibility with the route ESRF runs, both ways, with the real pyicat-plus (3.0.2, as mxcubecore 2.149 pins).

* pyicat-plus publishes: its ``IcatMetadataClient.send_metadata`` (what stock
  mxcubecore's ICATLIMS calls through ``IcatClient.store_dataset``) sends a
  dataset to ``/queue/icatIngest`` over STOMP 1.1 (stompest), with no login and
  no datafiles; our ingester stores it in ICAT, the files found in its directory.
* we publish: an ICATLIMS with ``delivery: broker`` sends its dataset to the same
  queue; pyicat-plus's own reader (``_icat_messaging.deserializers.xml``, the
  xsdata model of its schema; a private module of 3.0.2) reads it, with the same
  fields as pyicat-plus's own serializer writes for the same dataset.

pyicat-plus's client logs in to nothing, so the broker here has no authentication.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from mxcubecore import HardwareRepository as HWR
from pyicat_plus._icat_messaging.deserializers.xml import deserialize_message
from pyicat_plus.client.metadata import IcatMetadataClient, serialize_dataset_message

from mxcubecore_lims.broker.settings import BrokerSettings
from mxcubecore_lims.config.loader import load_beamline
from mxcubecore_lims.testing.burst import BrokerAccess, IngesterPool, beamline_config, ingester_config
from mxcubecore_lims.testing.collect_calls import collect, icat_investigation_id, icat_parameters, image_name

pytestmark = [pytest.mark.integration]


@pytest.fixture
def open_broker(activemq_factory: Any) -> Any:
    """A broker without authentication, as pyicat-plus's client expects."""
    return activemq_factory(users={})


def test_pyicat_plus_publishes_and_our_ingester_stores_the_dataset(
    tmp_path: Path, open_broker: Any, icat_server_factory: Any
) -> None:
    icat = icat_server_factory(db_path=tmp_path / "icat.sqlite")
    access = BrokerAccess(open_broker.stomp_url, None, None)
    pool = IngesterPool(ingester_config(tmp_path / "ingest.yaml", access, icat_url=icat.url), access, tmp_path)
    pool.start(1)
    data = tmp_path / "data" / "pyicat_run1"
    data.mkdir(parents=True)
    for n in (1, 2):
        (data / f"pyicat_1_{n:05d}.cbf").write_bytes(b"frame")
    client = IcatMetadataClient(queue_urls=[f"127.0.0.1:{open_broker.port}"], queue_name="icatIngest")
    try:
        # As mxcubecore's ICATLIMS fills it (ICATLIMS.py, store_dataset's metadata), briefly.
        client.send_metadata(
            beamline="id30a1",
            proposal="MX-415",
            dataset="pyicat_run1",
            path=str(data),
            metadata={"Sample_name": "lysozyme", "MX_wavelength": 0.9763, "MX_numberOfImages": 2},
        )
    finally:
        client.disconnect()
    deadline = time.monotonic() + 60
    while not icat.store.find("Dataset", name="pyicat_run1"):
        assert time.monotonic() < deadline, pool.log_of(0)[-3000:]
        time.sleep(0.2)
    assert pool.stop() == [0]
    (dataset,) = icat.store.find("Dataset", name="pyicat_run1")
    assert dataset["location"] == str(data)
    assert dataset["investigation"] == int(icat_investigation_id(icat))  # found by name (no investigationId sent)
    files = icat.store.children("Dataset", dataset["id"], "datafiles")
    assert sorted(f["name"] for f in files) == ["pyicat_1_00001.cbf", "pyicat_1_00002.cbf"]
    parameters = icat_parameters(icat, dataset["id"])
    assert parameters["MX_wavelength"] == pytest.approx(0.9763)
    assert "stored" in pool.log_of(0)


def _element_names(parsed: dict[str, Any]) -> set[str]:
    return {k for k in parsed if k != "parameter"}


def test_our_icat_datasets_are_what_pyicat_plus_publishes_and_reads(
    tmp_path: Path, open_broker: Any, icat_server_factory: Any, clean_repository: Any
) -> None:
    icat = icat_server_factory(db_path=tmp_path / "icat.sqlite")
    access = BrokerAccess(open_broker.stomp_url, None, None)
    config = beamline_config(tmp_path / "beamline", "icat", broker=access, icat_url=icat.url)
    load_beamline(config, strict=True)
    lims = HWR.beamline.lims
    lims.login("alice", "alice-pw", False)
    session = lims.set_active_session_by_id(icat_investigation_id(icat))
    (sample, *_) = lims.get_samples("ICAT")
    directory = tmp_path / "data" / "c007"
    directory.mkdir(parents=True)
    collect(lims, 7, directory, session.session_id, sample=sample)
    assert lims.outbox.wait_delivered(30)
    assert list(icat.store.rows("Dataset")) == [], "published, not written directly"

    connection = BrokerSettings.of([open_broker.stomp_url]).connection()
    connection.connect()
    connection.subscribe("/queue/icatIngest", ack="auto", prefetch=None)
    message = connection.receive(timeout=10)
    connection.disconnect()
    assert message is not None
    assert message.headers["persistent"] == "true"

    kind, ours = deserialize_message(message.body)  # pyicat-plus's own reader
    assert kind == "dataset"
    assert ours["name"] == "c007_1"
    assert ours["location"] == str(directory)
    assert ours["investigation"] == "mx-415" and ours["sample"]["name"] == sample["sampleName"]
    assert [f["location"] for f in ours["datafile"]] == [str(directory / image_name(7, n)) for n in (1, 2, 3)]
    values = {p["name"]: p["value"] for p in ours["parameter"]}
    assert values["investigationId"] == icat_investigation_id(icat)

    # pyicat-plus's own serializer, given the same dataset, writes the same elements and root parameters.
    theirs_body = serialize_dataset_message(
        beamline=ours["instrument"],
        proposal=ours["investigation"],
        dataset=ours["name"],
        path=ours["location"],
        metadata={
            "Sample_name": ours["sample"]["name"],
            "startDate": values["startDate"],
            "endDate": values["endDate"],
        },
    )
    kind, theirs = deserialize_message(theirs_body)
    assert _element_names(theirs) <= _element_names(ours)
    for element in ("investigation", "instrument", "name", "location", "sample", "complete"):
        assert ours[element] == theirs[element], element
    theirs_values = {p["name"]: p["value"] for p in theirs["parameter"]}
    for name in ("Sample_name", "datasetName", "proposal", "beamlineID", "location", "complete"):
        assert values[name] == theirs_values[name], name
    assert set(theirs_values) - {"startDate", "endDate"} <= set(values)
