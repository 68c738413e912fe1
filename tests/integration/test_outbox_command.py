"""``mxcubecore-lims outbox status|replay`` on a real journal, against the emulated ISPyB.

Records are made to wait in-process (the loaded ISPyB LIMS object stores a
collection while the emulator is stopped); the journal is then closed and the
command runs as a subprocess (``python -m mxcubecore_lims.cli``) while the
emulator keeps serving in this process: the subprocess is waited for with
``gevent.subprocess`` so that the server greenlet answers meanwhile.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import gevent.subprocess
import pytest
from mxcubecore import HardwareRepository as HWR

from mxcubecore_lims.config.loader import load_beamline

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "configuration" / "demo"


# --------------------------------------------------------------------------
# helpers


def write_config(directory: Path, ws_root: str, journal: Path | None, outbox: bool = True) -> Path:
    """A beamline directory with one ProposalTypeISPyBLims whose journal is ``journal``."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO / "session.xml", directory / "session.xml")
    keys = {
        "ws_root": ws_root,
        "ws_username": "mxcube",
        "ws_password": "ispyb-password",
        "authServerType": "ispyb",
        "connect_timeout": "2",
        "read_timeout": "5",
        "outbox_call_timeout": "3",
    }
    if journal is not None:
        keys["outbox_file"] = str(journal)
    if not outbox:
        keys["outbox"] = "false"
    body = "".join(f"<{k}>{v}</{k}>" for k, v in keys.items())
    (directory / "lims.xml").write_text(
        '<object class="mxcubecore_lims.HardwareObjects.ProposalTypeISPyBLims">'
        f'<object href="/session" role="session"/>{body}</object>',
        encoding="utf-8",
    )
    (directory / "beamline.yaml").write_text(
        "class: mxcubecore.HardwareObjects.Beamline.Beamline\nobjects:\n  session: session.xml\n  lims: lims.xml\n",
        encoding="utf-8",
    )
    return directory


def collection_dict(session_id: Any, prefix: str) -> dict[str, Any]:
    return {
        "sessionId": session_id,
        "experiment_type": "OSC",
        "status": "Running",
        "collection_start_time": "2026-11-23 10:00:00",
        "fileinfo": {
            "directory": f"/data/mx415/{prefix}",
            "prefix": prefix,
            "run_number": 1,
            "template": f"{prefix}_1_%05d.cbf",
            "suffix": "cbf",
        },
        "oscillation_sequence": [
            {"start": 0.0, "range": 0.1, "number_of_images": 2, "exposure_time": 0.04, "start_image_number": 1}
        ],
        "sample_reference": {"blSampleId": None},
    }


def journal_waiting_records(tmp_path: Path, ispyb: Any, collections: int = 1) -> tuple[Path, Path, int]:
    """Stores collections (store, update, 2 images each) while ISPyB is stopped; returns (config, journal, pending).

    The object's journal is closed and the repository uninitialised afterwards;
    the emulator is left stopped.
    """
    journal = tmp_path / "journal" / "ispyb.outbox.sqlite"
    config = write_config(tmp_path / "config", ispyb.root, journal)
    load_beamline(config, strict=True)
    lims = HWR.beamline.lims
    lims.login("mx415", "mx415-password", False)
    session = lims.set_active_session_by_id("mx415")
    assert lims.outbox is not None and Path(lims.outbox.path) == journal
    ispyb.stop()
    for n in range(collections):
        dc = collection_dict(session.session_id, f"wait{n}")
        collection_id, _detector = lims.store_data_collection(dc)
        assert isinstance(collection_id, int) and collection_id < 0  # provisional
        dc.update(collection_id=collection_id, status="Data collection successful", wavelength=0.98)
        lims.update_data_collection(dc)
        for number in (1, 2):
            lims.store_image(
                {
                    "dataCollectionId": collection_id,
                    "fileName": f"wait{n}_1_{number:05d}.cbf",
                    "fileLocation": f"/data/mx415/wait{n}",
                    "imageNumber": number,
                }
            )
    status = lims.outbox_status()
    pending = status["pending"]
    assert pending >= 4 * collections and status["failed"] == 0
    lims.close_outbox()
    HWR.uninit_hardware_repository()
    return config, journal, pending


def run_command(*args: str, timeout: float = 120.0) -> gevent.subprocess.CompletedProcess:
    """``python -m mxcubecore_lims.cli ARGS`` in a subprocess; this process keeps serving meanwhile."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return gevent.subprocess.run(
        [sys.executable, "-m", "mxcubecore_lims.cli", *args],
        cwd=str(ROOT),
        env=env,
        stdout=gevent.subprocess.PIPE,
        stderr=gevent.subprocess.PIPE,
        text=True,
        timeout=timeout,
    )


def stored(ispyb: Any) -> tuple[int, int, int]:
    """(DataCollectionGroup, DataCollection, Image) row counts."""
    return tuple(len(ispyb.store.rows(t)) for t in ("DataCollectionGroup", "DataCollection", "Image"))  # type: ignore[return-value]


# --------------------------------------------------------------------------
# the module entry point


def test_python_dash_m_runs_the_command() -> None:
    """``python -m mxcubecore_lims.cli outbox --help`` works and names the actions."""
    result = run_command("outbox", "--help")
    assert result.returncode == 0, result.stderr
    assert "status" in result.stdout and "replay" in result.stdout and "--records" in result.stdout


# --------------------------------------------------------------------------
# status


def test_status_shows_pending_and_delivers_nothing(tmp_path: Path, ispyb_server: Any) -> None:
    """``status`` reports the waiting records and exits 1; even with ISPyB back up nothing is sent."""
    config, journal, pending = journal_waiting_records(tmp_path, ispyb_server)
    ispyb_server.start()  # ISPyB answers again: looking must still not deliver
    before = stored(ispyb_server)
    calls = len(ispyb_server.calls)
    result = run_command("outbox", "status", "--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"pending: {pending} " in result.stdout
    assert str(journal) in result.stdout
    assert "delivered now" not in result.stdout
    assert stored(ispyb_server) == before == (0, 0, 0)
    assert not [c for c in ispyb_server.calls[calls:] if c[1].startswith("store")]


def test_status_json_parses(tmp_path: Path, ispyb_server: Any) -> None:
    """``status --json`` prints one entry per LIMS object with counts and the journal file."""
    config, journal, pending = journal_waiting_records(tmp_path, ispyb_server)
    result = run_command("outbox", "status", "--config", str(config), "--json")
    assert result.returncode == 1, result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["class"] == "ProposalTypeISPyBLims"
    assert entry["file"] == str(journal)
    assert entry["pending"] == pending and entry["failed"] == 0
    assert entry["oldest_pending"] is not None
    assert "records" not in entry and "delivered_now" not in entry


def test_status_records_lists_the_waiting_records(tmp_path: Path, ispyb_server: Any) -> None:
    """``--records`` lists each waiting record (kind, status), in text and in JSON."""
    config, _journal, pending = journal_waiting_records(tmp_path, ispyb_server)
    result = run_command("outbox", "status", "--config", str(config), "--records", "--json")
    assert result.returncode == 1, result.stderr
    (entry,) = json.loads(result.stdout)
    records = entry["records"]
    assert len(records) == pending
    assert all(r["status"] == "pending" for r in records)
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "data_collection" and kinds.count("image") == 2
    text = run_command("outbox", "status", "--config", str(config), "--records")
    assert text.returncode == 1
    listed = [line for line in text.stdout.splitlines() if line.strip().startswith("#")]
    assert len(listed) == pending
    assert all(" pending " in line for line in listed)


# --------------------------------------------------------------------------
# replay


def test_replay_delivers_then_status_is_clean(tmp_path: Path, ispyb_server: Any) -> None:
    """After ISPyB restarts, ``replay`` delivers every record (exit 0); ``status`` then shows pending 0."""
    config, _journal, pending = journal_waiting_records(tmp_path, ispyb_server, collections=2)
    ispyb_server.start()
    assert stored(ispyb_server) == (0, 0, 0)
    result = run_command("outbox", "replay", "--config", str(config), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["delivered_now"] == pending and entry["pending"] == 0 and entry["failed"] == 0
    rows = ispyb_server.store.rows("DataCollection")
    assert sorted(r["imagePrefix"] for r in rows) == ["wait0", "wait1"]
    assert all(r["runStatus"] == "Data collection successful" for r in rows)
    ids = {r["imagePrefix"]: r["dataCollectionId"] for r in rows}
    images = ispyb_server.store.rows("Image")
    assert sorted((i["dataCollectionId"], i["fileName"]) for i in images) == sorted(
        (ids[f"wait{n}"], f"wait{n}_1_{k:05d}.cbf") for n in (0, 1) for k in (1, 2)
    )
    after = run_command("outbox", "status", "--config", str(config))
    assert after.returncode == 0, after.stdout + after.stderr
    assert "pending: 0 " in after.stdout
    # nothing delivered twice
    again = run_command("outbox", "replay", "--config", str(config))
    assert again.returncode == 0 and "delivered now: 0" in again.stdout
    assert len(ispyb_server.store.rows("DataCollection")) == 2 and len(ispyb_server.store.rows("Image")) == 4


def test_replay_while_ispyb_is_down_keeps_everything(tmp_path: Path, ispyb_server: Any) -> None:
    """``replay`` with ISPyB still stopped delivers nothing, exits 1 and loses nothing."""
    config, _journal, pending = journal_waiting_records(tmp_path, ispyb_server)
    result = run_command("outbox", "replay", "--config", str(config), "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["delivered_now"] == 0 and entry["pending"] == pending and entry["failed"] == 0
    assert entry["last_error"]
    ispyb_server.start()
    assert stored(ispyb_server) == (0, 0, 0)
    assert run_command("outbox", "replay", "--config", str(config)).returncode == 0
    assert len(ispyb_server.store.rows("DataCollection")) == 1


# --------------------------------------------------------------------------
# configurations without a journal


def test_no_outbox_in_the_configuration(tmp_path: Path, ispyb_server: Any) -> None:
    """A beamline whose LIMS object has ``outbox: false``: told so, exit 0."""
    config = write_config(tmp_path / "config", ispyb_server.root, None, outbox=False)
    result = run_command("outbox", "status", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "no LIMS object with an outbox" in result.stdout
