"""What ``tools/bench_ispyb.py`` puts in the emulated ISPyB, what it sends, and how it reads a pass back.

Not a benchmark itself. The set-up: the fixture (the shipped one with
``mx415`` given the samples asked for), the beamline configuration holding
both LIMS objects, ``TCP_NODELAY`` on the emulator's socket, and what the
emulator holds for the benchmark (:class:`Expected`). The dicts the collect
routines pass to a LIMS object. And :func:`check_pass`, which checks one
client's pass against the emulator's database.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlib import RefusedError

if TYPE_CHECKING:
    from bench_ispyb_clients import ClientUnderTest

PROPOSAL = "mx415"
PROPOSAL_PASSWORD = "mx415-password"
BEAMLINE = "ID-DEMO"
WS_USERNAME = "mxcube"
WS_PASSWORD = "ispyb-password"
DONE = "Data collection successful"

REPO = Path(__file__).resolve().parents[1]
DEMO_SESSION = REPO / "configuration" / "demo" / "session.xml"
STOCK_MODULE = "mxcubecore.HardwareObjects.ProposalTypeISPyBLims"
OUR_MODULE = "mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims"
SERVICE_NAMES = ("ToolsForShippingWebService", "ToolsForCollectionWebService", "ToolsForBLSampleWebService")


# --------------------------------------------------------------------------
# The emulator and the configuration
# --------------------------------------------------------------------------


def make_fixture(samples: int) -> dict[str, Any]:
    """The shipped fixture with mx415's samples replaced by ``samples`` generated ones.

    Samples alternate between the two mx415 crystals and fill 16-place pucks
    (all ``processing`` on ``ID-DEMO``); every seventh has its own
    diffraction plan. idtest0's puck and sample are kept.
    """
    from ruamel.yaml import YAML

    from mxcubecore_lims.testing.ispyb.fixture import DEFAULT_FIXTURE

    data = YAML(typ="safe").load(DEFAULT_FIXTURE.read_text("utf-8"))
    data["containers"] = [c for c in data["containers"] if c["code"] == "TEST-PUCK-01"]
    data["samples"] = [s for s in data["samples"] if s["container"] == "TEST-PUCK-01"]
    pucks = (samples + 15) // 16
    for puck in range(pucks):
        data["containers"].append(
            {
                "code": f"BENCH-PUCK-{puck + 1:03d}",
                "containerType": "Unipuck",
                "capacity": 16,
                "sampleChangerLocation": puck % 29 + 4,
                "beamlineLocation": BEAMLINE,
                "containerStatus": "processing",
                "dewarCode": f"BENCH-DEWAR-{puck // 29 + 1}",
                "shippingName": "bench-shipment",
            }
        )
    for index in range(samples):
        crystal = "lyso-p43212" if index % 2 == 0 else "thau-p41212"
        sample: dict[str, Any] = {
            "name": f"bench-{index + 1:04d}",
            "code": f"B{index + 1:04d}",
            "crystal": crystal,
            "container": f"BENCH-PUCK-{index // 16 + 1:03d}",
            "location": index % 16 + 1,
        }
        if index % 7 == 3:
            sample["diffractionPlan"] = {"experimentKind": "SAD", "minimalResolution": 2.0, "anomalousScatterer": "S"}
        data["samples"].append(sample)
    return data


def write_config(directory: Path, root: str) -> Path:
    """One beamline holding both LIMS objects (stock as ``lims``, ours as ``lims_ours``)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO_SESSION, directory / "session.xml")
    (directory / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\n"
        "objects:\n  session: session.xml\n  lims: lims.xml\n  lims_ours: lims_ours.xml\n",
        encoding="utf-8",
    )
    common = (
        f"<ws_root>{root}</ws_root><ws_username>{WS_USERNAME}</ws_username>"
        f"<ws_password>{WS_PASSWORD}</ws_password><authServerType>ispyb</authServerType>"
        "<base_result_url>http://127.0.0.1/ispyb/results</base_result_url>"
    )
    (directory / "lims.xml").write_text(f'<object class="{STOCK_MODULE}">{common}</object>\n', encoding="utf-8")
    (directory / "lims_ours.xml").write_text(
        f'<object class="{OUR_MODULE}"><object href="/session" role="session"/>{common}</object>\n',
        encoding="utf-8",
    )
    return directory


def set_nodelay(server: Any) -> None:
    """Sets TCP_NODELAY on the emulator's listening socket (accepted sockets inherit it on Linux).

    gevent's pywsgi writes a response's headers and body in two sends; with
    Nagle's algorithm on, a kept-alive connection then waits for the client's
    delayed ACK (about 40 ms) on every request. Production servers (ISPyB's
    WildFly/Undertow) set TCP_NODELAY; without it every keep-alive client
    (ours, the floor) would measure the emulator's socket, not itself.
    """
    import socket

    server._server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@dataclass
class Expected:
    """What the emulator holds for the benchmark, read from its database."""

    session_id: int
    proposal_id: int
    sample_ids: list[int]
    sample_names: list[str]


def expected_from(server: Any, samples: int) -> Expected:
    """What the emulator holds for the benchmark, read from its database."""
    store = server.store
    (proposal,) = [p for p in store.rows("Proposal") if (p["code"] + p["number"]).lower() == PROPOSAL]
    sessions = [
        s
        for s in store.rows("BLSession", proposalId=proposal["proposalId"], beamlineName=BEAMLINE)
        if s["comments"] == "Scheduled session"
    ]
    rows = [r for r in store.rows("BLSample") if str(r["name"]).startswith("bench-")]
    if len(rows) != samples or len(sessions) != 1:
        raise RefusedError(f"the emulator holds {len(rows)} bench samples and {len(sessions)} current sessions")
    return Expected(
        sessions[0]["sessionId"], proposal["proposalId"], [r["blSampleId"] for r in rows], [r["name"] for r in rows]
    )


@dataclass
class Sizes:
    """How much each pass reads and writes (the command line's sizes)."""

    samples: int
    collections: int
    images: int

    def images_of(self, index: int) -> list[int]:
        """Image numbers of collection ``index`` (images spread round robin)."""
        return [n // self.collections + 1 for n in range(self.images) if n % self.collections == index]


# --------------------------------------------------------------------------
# What the collect routines pass
# --------------------------------------------------------------------------


def collection_dict(session_id: int, group_id: int, number: int, prefix: str) -> dict[str, Any]:
    """A collection dict as AbstractCollect builds it (the conformance test's)."""
    return {
        "sessionId": session_id,
        "group_id": group_id,
        "experiment_type": "OSC",
        "status": "Running",
        "oscillation_sequence": [
            {
                "start": 10.0,
                "range": 0.1,
                "offset": 0.0,
                "overlap": 0.0,
                "number_of_images": 100,
                "start_image_number": 1,
                "number_of_passes": 1,
                "exposure_time": 0.04,
                "kappaStart": 0,
                "phiStart": 0,
            }
        ],
        "fileinfo": {
            "directory": f"/data/{PROPOSAL}/RAW_DATA/{prefix}",
            "prefix": prefix,
            "suffix": "cbf",
            "template": f"{prefix}_{number}_%04d.cbf",
            "run_number": number,
        },
        "wavelength": 0.9793,
        "resolution": 1.8,
        "detectorDistance": 250.5,
        "xBeam": 155.1,
        "yBeam": 163.9,
        "transmission": 50.0,
        "synchrotronMode": "7/8+1",
        "flux": 1.5e12,
        "collection_start_time": "2026-11-23 10:00:00",
        "ispyb_group_data_collections": True,
    }


def update_fields(collection_id: int, sample_id: int) -> dict[str, Any]:
    """What finalize/update adds to the dict."""
    return {
        "collection_id": collection_id,
        "status": DONE,
        "sample_reference": {"blSampleId": sample_id},
        "comments": "done",
        "flux_end": 1.1e12,
    }


def image_dict(collection_id: int, prefix: str, number: int) -> dict[str, Any]:
    """An image dict as AbstractCollect.store_image_in_lims sends it."""
    return {
        "dataCollectionId": collection_id,
        "fileName": f"{prefix}_{number:04d}.cbf",
        "fileLocation": f"/data/{PROPOSAL}/RAW_DATA/{prefix}",
        "imageNumber": number,
        "measuredIntensity": 1.5e12,
        "synchrotronCurrent": 200.0,
        "machineMessage": "ok",
        "temperature": 100.0,
    }


# --------------------------------------------------------------------------
# Checking a pass
# --------------------------------------------------------------------------


def check_pass(client: ClientUnderTest, server: Any, sizes: Sizes, expected: Expected) -> dict[str, int]:
    """Checks one pass against the database; returns what it stored.

    Raises:
        RefusedError: Something is missing or wrong.
    """
    state, who = client.state, client.label
    if str(state.session_id) != str(expected.session_id):
        raise RefusedError(f"{who}: selected session {state.session_id!r}, expected {expected.session_id}")
    if client.key == "floor":
        if state.sample_count != sizes.samples:
            raise RefusedError(f"{who}: {state.sample_count} samples, expected {sizes.samples}")
    else:
        ids = [int(s.get("sampleId", s.get("limsID", -1))) for s in state.samples]
        names = [s.get("sampleName") for s in state.samples]
        if (
            len(state.samples) != sizes.samples
            or sorted(ids) != sorted(expected.sample_ids)
            or sorted(names) != sorted(expected.sample_names)
        ):
            raise RefusedError(f"{who}: {len(state.samples)} samples (or wrong ids), expected {sizes.samples}")
    store = server.store
    collections = {r["dataCollectionId"]: r for r in store.rows("DataCollection", dataCollectionGroupId=state.group_id)}
    ids = state.collection_ids
    if len(ids) != sizes.collections or len(set(ids)) != len(ids) or not all(isinstance(i, int) and i > 0 for i in ids):
        raise RefusedError(f"{who}: {len(set(ids))} distinct collection ids, expected {sizes.collections}")
    for collection_id in ids:
        row = collections.get(collection_id)
        if row is None:
            raise RefusedError(f"{who}: collection {collection_id} is not in group {state.group_id}")
        if row["runStatus"] != DONE:
            raise RefusedError(f"{who}: collection {collection_id} has runStatus {row['runStatus']!r} after the update")
        if client.key != "floor" and row["imagePrefix"] != state.prefix:
            raise RefusedError(f"{who}: collection {collection_id} has prefix {row['imagePrefix']!r}")
    images = {r["imageId"]: r for r in store.rows("Image") if r["dataCollectionId"] in collections}
    if len(state.image_ids) != sizes.images or len(set(state.image_ids)) != sizes.images:
        raise RefusedError(f"{who}: {len(set(state.image_ids))} distinct image ids, expected {sizes.images}")
    for image_id, (collection_id, file_name) in zip(state.image_ids, state.image_targets, strict=False):
        row = images.get(image_id)
        if row is None or row["dataCollectionId"] != collection_id or (file_name and row["fileName"] != file_name):
            raise RefusedError(f"{who}: image {image_id} missing or not of collection {collection_id}")
    if len(collections) != sizes.collections or len(images) != sizes.images:
        raise RefusedError(
            f"{who}: the emulator holds {len(collections)} collections and {len(images)} images of this pass, "
            f"expected {sizes.collections} and {sizes.images}"
        )
    return {"collections": len(collections), "images": len(images)}
