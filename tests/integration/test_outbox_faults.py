"""Fault injection: the outbox journal under LIMS outages, slowness and restarts.

Each test drives a LIMS hardware object as mxcubecore's collect routines do
(store -> update -> update -> images -> finalize), breaks the emulated LIMS
mid-way (stopped, slow, or MXCuBE itself restarted), then reads the
emulator's database back: every collection must be there exactly once, with
its final values, and the journal must drain to nothing pending or failed.
"""

from __future__ import annotations

import collections
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Optional

import gevent
import pytest
from mxcubecore import HardwareRepository as HWR

from mxcubecore_lims.config.loader import load_beamline

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

DEMO = Path(__file__).resolve().parents[2] / "configuration" / "demo"

FAST_OUTBOX = {"outbox_call_timeout": "2", "outbox_retry_max": "1"}


# --------------------------------------------------------------------------
# helpers: building LIMS objects with our loader


def _xml(cls: str, roles: str, properties: dict[str, str]) -> str:
    body = "".join(f"<{key}>{value}</{key}>" for key, value in properties.items())
    return f'<object class="mxcubecore_lims.HardwareObjects.{cls}">{roles}{body}</object>'


def _beamline(config: Path) -> None:
    (config / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n  session: session.xml\n  lims: lims.xml\n",
        encoding="utf-8",
    )
    load_beamline(config, strict=True)


def _config_dir(tmp_path: Path, name: str) -> Path:
    config = tmp_path / name
    config.mkdir(exist_ok=True)
    shutil.copy(DEMO / "session.xml", config / "session.xml")
    return config


def ispyb_properties(server: Any, **keys: str) -> dict[str, str]:
    return {
        "ws_root": server.root,
        "ws_username": "mxcube",
        "ws_password": "ispyb-password",
        "authServerType": "ispyb",
        "read_timeout": "5",
        "connect_timeout": "2",
        **keys,
    }


def icat_properties(server: Any, **keys: str) -> dict[str, str]:
    return {
        "icat_url": server.url,
        "authentication_icat_plugin": "simple",
        "connect_timeout": "5",
        "read_timeout": "5",
        **keys,
    }


def make_ispyb_lims(tmp_path: Path, server: Any, config_name: str = "config", **keys: str) -> Any:
    """A ProposalTypeISPyBLims loaded by our loader (as test_ispyb_lims.make_lims)."""
    config = _config_dir(tmp_path, config_name)
    (config / "lims.xml").write_text(
        _xml("ProposalTypeISPyBLims", '<object href="/session" role="session"/>', ispyb_properties(server, **keys)),
        encoding="utf-8",
    )
    _beamline(config)
    return HWR.beamline.lims


def make_icat_lims(tmp_path: Path, server: Any, config_name: str = "config", **keys: str) -> Any:
    """An ICATLIMS loaded by our loader (as test_icat_lims.make_lims)."""
    config = _config_dir(tmp_path, config_name)
    (config / "lims.xml").write_text(
        _xml("ICATLIMS", '<object href="/session" role="session"/>', icat_properties(server, **keys)),
        encoding="utf-8",
    )
    _beamline(config)
    return HWR.beamline.lims


def make_esrf_lims(tmp_path: Path, icat: Any, ispyb: Any, **keys: str) -> Any:
    """An ESRFLIMS over an ICATLIMS (drac) and a ProposalTypeISPyBLims (ispyb), as /tmp/smoke_esrf.py."""
    config = _config_dir(tmp_path, "config")
    session = '<object href="/session" role="session"/>'
    (config / "lims-icat.xml").write_text(_xml("ICATLIMS", session, icat_properties(icat, **keys)), encoding="utf-8")
    (config / "lims-ispyb.xml").write_text(
        _xml("ProposalTypeISPyBLims", session, ispyb_properties(ispyb, **keys)), encoding="utf-8"
    )
    (config / "lims.xml").write_text(
        _xml("ESRFLIMS", session + '<object href="/lims-icat" role="drac"/><object href="/lims-ispyb" role="ispyb"/>', {}),
        encoding="utf-8",
    )
    _beamline(config)
    return HWR.beamline.lims


def ispyb_login(lims: Any) -> Any:
    lims.login("mx415", "mx415-password", False)
    return lims.set_active_session_by_id("mx415")


def icat_investigation_id(server: Any, name: str = "MX-415") -> str:
    (row,) = server.store.find("Investigation", name=name)
    return str(row["id"])


def icat_login(lims: Any, server: Any) -> tuple[Any, list[dict[str, Any]]]:
    """alice logged in, MX-415 active, its samples read (as test_icat_lims.alice_on_mx415)."""
    lims.login("alice", "alice-pw", False)
    session = lims.set_active_session_by_id(icat_investigation_id(server))
    return session, lims.get_samples("ICAT")


# --------------------------------------------------------------------------
# helpers: one collection as AbstractCollect stores it


def prefix_of(number: int) -> str:
    return f"c{number:03d}"


def wavelength_of(number: int) -> float:
    """A per-collection value set by the first update (checks final values)."""
    return round(0.9 + number * 1e-4, 6)


def collection_dict(
    number: int, directory: Path | str, session_id: Any, sample: Optional[dict[str, Any]] = None
) -> dict[str, Any]:
    """``current_dc_parameters`` at the start of collection ``number``."""
    prefix = prefix_of(number)
    dc: dict[str, Any] = {
        "sessionId": session_id,
        "experiment_type": "OSC",
        "status": "Running",
        "collection_start_time": "2026-11-23 10:00:00",
        "fileinfo": {
            "directory": str(directory),
            "prefix": prefix,
            "run_number": 1,
            "template": f"{prefix}_1_%05d.cbf",
            "suffix": "cbf",
        },
        "oscillation_sequence": [
            {"start": 0.0, "range": 0.1, "number_of_images": 3, "exposure_time": 0.04, "overlap": 0, "start_image_number": 1}
        ],
        "resolution": {"upper": 1.8},
    }
    if sample is not None:
        dc["sample_reference"] = {
            "blSampleId": sample["sampleId"],
            "sample_name": sample["sampleName"],
            "acronym": sample["proteinAcronym"],
        }
        dc["blSampleId"] = sample["sampleId"]
    else:
        dc["sample_reference"] = {"blSampleId": 1}
    return dc


def image_name(number: int, image: int) -> str:
    return f"{prefix_of(number)}_1_{image:05d}.cbf"


class CallTimer:
    """Durations of LIMS calls, by operation."""

    def __init__(self) -> None:
        self.durations: dict[str, list[float]] = collections.defaultdict(list)

    def __call__(self, operation: str, call: Callable[..., Any], *args: Any) -> Any:
        start = time.monotonic()
        try:
            return call(*args)
        finally:
            self.durations[operation].append(time.monotonic() - start)

    def longest(self) -> float:
        return max((max(values) for values in self.durations.values()), default=0.0)


def collect(
    lims: Any, number: int, directory: Path | str, session_id: Any, *, sample: Any = None,
    images: int = 3, timer: Optional[CallTimer] = None,
) -> Any:
    """store -> update -> update -> images -> status update -> finalize, as AbstractCollect."""
    timed = timer or (lambda operation, call, *args: call(*args))
    dc = collection_dict(number, directory, session_id, sample)
    collection_id, _ = timed("store", lims.store_data_collection, dc, None)
    assert isinstance(collection_id, int) and collection_id != 0
    dc["collection_id"] = collection_id
    dc.update(
        {
            "flux": 2.5e12,
            "wavelength": wavelength_of(number),
            "detectorDistance": 250.3,
            "resolution": 1.8,
            "transmission": 50.0,
            "xBeam": 210.1,
            "yBeam": 205.2,
        }
    )
    timed("update", lims.update_data_collection, dc)
    for n in range(1, images + 1):
        timed(
            "image",
            lims.store_image,
            {"dataCollectionId": collection_id, "fileName": image_name(number, n), "fileLocation": str(directory), "imageNumber": n},
        )
    dc.update({"flux_end": 2.4e12, "status": "Data collection successful"})
    timed("update", lims.update_data_collection, dc)
    timed("finalize", lims.finalize_data_collection, dc)
    return collection_id


def assert_drained(lims: Any, timeout: float) -> None:
    """Nothing pending, nothing failed, once the journal has drained."""
    assert lims.outbox.wait_delivered(timeout), lims.outbox_status()
    status = lims.outbox_status()
    assert (status["pending"], status["failed"]) == (0, 0), status


# --------------------------------------------------------------------------
# helpers: reading the emulators back


def assert_ispyb_has_each_once(server: Any, numbers: range, images: int) -> None:
    """Every collection exactly once, with its final values, and its images attached to it."""
    rows = server.store.rows("DataCollection")
    by_prefix = collections.Counter(row["imagePrefix"] for row in rows)
    duplicated = {prefix: count for prefix, count in by_prefix.items() if count != 1}
    assert not duplicated, f"collections stored more than once: {duplicated}"
    assert sorted(by_prefix) == sorted(prefix_of(n) for n in numbers)
    ids = {}
    for row in rows:
        number = int(row["imagePrefix"][1:])
        ids[row["dataCollectionId"]] = number
        assert row["runStatus"] == "Data collection successful", row["imagePrefix"]
        assert row["wavelength"] == pytest.approx(wavelength_of(number)), row["imagePrefix"]
        assert row["imageDirectory"] == f"/data/mx415/{prefix_of(number)}"
    image_rows = server.store.rows("Image")
    assert len(image_rows) == len(numbers) * images
    names = collections.Counter(row["fileName"] for row in image_rows)
    assert max(names.values()) == 1, "an image was stored twice"
    for row in image_rows:
        number = ids[row["dataCollectionId"]]  # attached to an existing collection...
        assert row["fileName"].startswith(prefix_of(number) + "_")  # ...the right one


# --------------------------------------------------------------------------
# 1. ISPyB burst with an outage in the middle


def test_ispyb_burst_of_300_collections_survives_an_outage(tmp_path: Path, ispyb_server_factory: Any) -> None:
    """300 collections in one greenlet; ISPyB stopped after 100, back after 180: all there exactly once."""
    server = ispyb_server_factory(db_path=tmp_path / "ispyb.sqlite")
    lims = make_ispyb_lims(tmp_path, server, **FAST_OUTBOX)
    session = ispyb_login(lims)
    timer = CallTimer()
    down_timer = CallTimer()
    provisional = []
    started = time.monotonic()
    for number in range(300):
        if number == 100:
            server.stop()
        if number == 180:
            assert lims.outbox_status()["pending"] > 0
            server.start()
        use = down_timer if 100 <= number < 180 else timer
        collection_id = collect(lims, number, f"/data/mx415/{prefix_of(number)}", session.session_id, timer=use)
        if 100 <= number < 180:
            provisional.append(collection_id)
    burst = time.monotonic() - started
    assert all(cid < 0 for cid in provisional), "ids given while ISPyB is down are provisional"
    assert_drained(lims, 60.0)
    assert_ispyb_has_each_once(server, range(300), images=3)
    assert len(server.store.rows("DataCollectionGroup")) == 300
    # While ISPyB was down no call waited for it (connection refused is quick; later ones only journal).
    assert down_timer.longest() < 2.5, down_timer.longest()
    print(f"burst {burst:.1f}s; longest call up {timer.longest():.2f}s, down {down_timer.longest():.2f}s")


def icat_parameters(server: Any, dataset_id: int) -> dict[str, Any]:
    """DatasetParameters of a dataset: type name -> value; a name twice fails."""
    values: dict[str, Any] = {}
    for row in server.store.children("Dataset", dataset_id, "parameters"):
        name = server.store.get("ParameterType", row["type"])["name"]
        assert name not in values, f"parameter {name} stored twice"
        values[name] = row["numericValue"] if row["stringValue"] is None else row["stringValue"]
    return values


def assert_icat_has_each_once(server: Any, numbers: range, images: int, data: Path) -> None:
    """Every collection one Dataset, its datafiles = its images, its final parameters."""
    datasets = server.store.rows("Dataset")
    by_name = collections.Counter(d["name"] for d in datasets)
    duplicated = {name: count for name, count in by_name.items() if count != 1}
    assert not duplicated, f"datasets stored more than once: {duplicated}"
    assert sorted(by_name) == sorted(f"{prefix_of(n)}_1" for n in numbers)
    local_ids = set()
    for dataset in datasets:
        number = int(dataset["name"][1:4])
        files = server.store.children("Dataset", dataset["id"], "datafiles")
        assert sorted(f["name"] for f in files) == [image_name(number, n) for n in range(1, images + 1)], dataset["name"]
        parameters = icat_parameters(server, dataset["id"])
        assert parameters["MX_status"] == "Data collection successful"
        assert parameters["MX_wavelength"] == pytest.approx(wavelength_of(number))
        assert parameters["MX_directory"] == str(data / prefix_of(number))
        assert parameters["MX_dataCollectionId"] > 0, "a provisional id reached ICAT"
        local_ids.add(parameters["MX_dataCollectionId"])
        assert (data / prefix_of(number) / "metadata.json").exists()
    assert len(local_ids) == len(datasets), "two datasets share an MX_dataCollectionId"


# --------------------------------------------------------------------------
# 2. ICAT burst with an outage in the middle


ICAT_BURST = 300


def test_icat_burst_of_300_collections_survives_an_outage(tmp_path: Path, icat_server_factory: Any) -> None:
    """300 collections (own directory each); ICAT stopped after 100, back after 180: one Dataset each."""
    server = icat_server_factory(db_path=tmp_path / "icat.sqlite")
    lims = make_icat_lims(tmp_path, server, **FAST_OUTBOX)
    session, samples = icat_login(lims, server)
    data = tmp_path / "data"
    down_timer = CallTimer()
    for number in range(ICAT_BURST):
        if number == 100:
            server.stop()
        if number == 180:
            assert lims.outbox_status()["pending"] > 0
            server.start()
        directory = data / prefix_of(number)
        directory.mkdir(parents=True)
        timer = down_timer if 100 <= number < 180 else None
        collect(lims, number, directory, session.session_id, sample=samples[0], timer=timer)
    assert down_timer.longest() < 2.5, down_timer.longest()
    assert_drained(lims, 60.0)
    assert_icat_has_each_once(server, range(ICAT_BURST), images=3, data=data)
    assert lims.pending_collections() == []


# --------------------------------------------------------------------------
# 3. ESRFLIMS: both LIMS down at once


def test_esrf_lims_both_down_mid_burst_every_collection_once_in_each(
    tmp_path: Path, icat_server_factory: Any, ispyb_server_factory: Any
) -> None:
    """ESRFLIMS (ICAT + ISPyB); both stopped after 40 of 120 collections, both back after 80."""
    icat = icat_server_factory(db_path=tmp_path / "icat.sqlite")
    ispyb = ispyb_server_factory(db_path=tmp_path / "ispyb.sqlite")
    lims = make_esrf_lims(tmp_path, icat, ispyb, **FAST_OUTBOX)
    manager = lims.login("alice", "alice-pw", False)
    (session,) = [s for s in manager.sessions if s.proposal_name == "MX-415"]
    lims.set_active_session_by_id(session.session_id)
    samples = lims.get_samples("ICAT")
    members = lims.members()
    data = tmp_path / "data"
    total = 120
    for number in range(total):
        if number == 40:
            icat.stop()
            ispyb.stop()
        if number == 80:
            assert members["drac"].outbox_status()["pending"] > 0
            assert members["ispyb"].outbox_status()["pending"] > 0
            icat.start()
            ispyb.start()
        directory = data / prefix_of(number)
        directory.mkdir(parents=True)
        collect(lims, number, directory, session.session_id, sample=samples[0])
    for member in members.values():
        assert_drained(member, 60.0)
    assert_icat_has_each_once(icat, range(total), images=3, data=data)
    rows = ispyb.store.rows("DataCollection")
    counts = collections.Counter(row["imagePrefix"] for row in rows)
    assert sorted(counts) == sorted(prefix_of(n) for n in range(total)) and set(counts.values()) == {1}
    for row in rows:
        number = int(row["imagePrefix"][1:])
        assert row["runStatus"] == "Data collection successful"
        assert row["wavelength"] == pytest.approx(wavelength_of(number))
    by_id = {row["dataCollectionId"]: int(row["imagePrefix"][1:]) for row in rows}
    images = ispyb.store.rows("Image")
    assert len(images) == 3 * total
    assert all(row["fileName"].startswith(prefix_of(by_id[row["dataCollectionId"]]) + "_") for row in images)
