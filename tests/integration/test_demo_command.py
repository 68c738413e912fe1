"""The main job: `mxcubecore-lims demo` runs the emulated beamline and reports.

The command starts the emulated ISPyB, ICAT and slapd on their fixed demo
ports, logs people in, runs collections with an ISPyB outage in the middle
and must end with every collection in both LIMS and nothing left waiting.
``--describe`` only loads the graph and prints it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mxcubecore_lims.model import Session
from mxcubecore_lims.testing.pytest_plugin import require_activemq, require_slapd

DEMO = Path(__file__).resolve().parents[2] / "configuration" / "demo"

pytestmark = pytest.mark.integration


def _run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mxcubecore_lims.cli", "demo", *arguments],
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_demo_runs_the_night_and_reports_what_each_lims_holds() -> None:
    require_slapd()
    result = _run("--collections", "6")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # Progress, in order: servers, configuration, three logins, session, samples, outage.
    steps = [line.split()[3] for line in out.splitlines() if line.startswith("[")]
    assert steps[:3] == ["servers"] * 3
    for step in ("config", "login", "session", "samples", "collect", "fault", "outbox"):
        assert step in steps
    assert "proposal-type ISPyB: mx415 -> session(s) mx415 on ID-DEMO" in out
    assert "user-type ISPyB: alice (LDAP)" in out
    assert "ESRFLIMS (ICAT): alice -> Alice Martin" in out
    assert "ISPyB server stopped" in out and "ISPyB server back" in out
    # The report: six collections in each LIMS, the provisional ids mapped, nothing waiting.
    assert "ISPyB: 6 data collections in the session (run status: Data collection successful), 18 images" in out
    assert "ICAT:  6 datasets in MX-415, 18 datafiles" in out
    assert "6 metadata.json files" in out
    mapped = re.findall(r"provisional id (-\d+) -> ISPyB id (\d+)", out)
    assert mapped and all(int(real) > 0 for _, real in mapped)
    assert re.search(r"Outbox ispyb\s+delivered\s+\d+ records,\s+[1-9]\d* of them waited", out)
    assert "pending 0, failed 0" in out and "pending 1" not in out
    # MXLIMS: the shipment went in before the night, the results came out after it.
    assert "mxlims" in steps and steps.index("mxlims") < steps.index("collect")
    assert re.search(r"shipment \S+shipment\.mxlims\.json imported: ICAT MX-415: 8 samples; created 8 samples", out)
    (results,) = re.findall(r"results (\S+results\.mxlims\.json) \(6 collections\)", out)
    RESULTS.append(Path(results))
    # The night ends with its record, a page to open in a browser.
    (record,) = re.findall(r"Session record \(open in a browser\): (\S+session-record\.html)", out)
    page = Path(record).read_text(encoding="utf-8")
    assert page.count('<tr class="collection ') == 6


def test_demo_broker_runs_the_same_night_through_activemq_and_two_ingesters() -> None:
    require_slapd()
    require_activemq()
    result = _run("--broker", "--collections", "6")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "2 ingesters write ICAT and ISPyB" in out
    assert out.count("(published: the ingesters write it)") == 6
    assert "an ingester holds an ISPyB write until ISPyB answers; the beamline goes on" in out
    assert "ingesters wrote every collection to ISPyB and ICAT" in out
    # The same LIMS contents as the direct night, written by the ingesters.
    assert "ISPyB: 6 data collections in the session (run status: Data collection successful), 18 images" in out
    assert "ICAT:  6 datasets in MX-415, 18 datafiles" in out
    written = [int(n) for n in re.findall(r"ingester \d: (\d+) messages written, 0 dead-lettered", out)]
    # Per collection 7 ISPyB writes and one ICAT dataset, each taken by one of the two ingesters.
    assert len(written) == 2 and sum(written) == 6 * 8, out
    assert "ingesters stopped with SIGTERM: exit statuses [0, 0]" in out
    assert "pending 0, failed 0" in out and "pending 1" not in out


RESULTS: list[Path] = []


def test_the_demo_results_are_valid_mxlims_and_import_elsewhere_as_the_same_samples(
    tmp_path: Path, icat_server: Any, clean_repository: None
) -> None:
    import jsonschema
    from test_icat_lims import alice_on_mx415

    from mxcubecore_lims.mxlims.datasets import CollectionSweep
    from mxcubecore_lims.mxlims.document import load_document
    from mxcubecore_lims.mxlims.mounts import mounted_samples
    from mxcubecore_lims.mxlims.schema import document_schema

    if not RESULTS:  # run alone: run the night first
        test_demo_runs_the_night_and_reports_what_each_lims_holds()
    document = load_document(RESULTS[-1])
    jsonschema.Draft202012Validator(document_schema()).validate(document.to_json_data())
    collected = [s for _, s in document.of_type(CollectionSweep) if s.role == "Result"]
    assert len(collected) == 6 and all(s.number_images == 3 for s in collected)
    exported = {m.sample_name: m.legacy() for m in mounted_samples(document)}
    lims, _, before = alice_on_mx415(tmp_path, icat_server)
    report = lims.import_mxlims(document)
    assert report.created["sample"] == 8  # the shipment's pins; the fixture's samples are there already
    after = {s["sampleName"]: s for s in lims.get_samples("ICAT")}
    assert set(after) == set(exported) and len(after) == len(before) + 8
    for name, sample in exported.items():
        # ICAT keeps no shipping name, keeps the dewar under its parameter's name, and keeps the
        # puck's type and capacity, which a sample dict made from the document does not carry.
        mine = {
            k: v
            for k, v in after[name].items()
            if k not in ("sampleId", "limsID", "containerType", "containerCapacity")
        }
        if "SampleTrackingParcel_name" in mine:
            mine["dewarCode"] = mine.pop("SampleTrackingParcel_name")
        assert mine == {k: v for k, v in sample.items() if k != "shippingName"}, name


def test_describe_prints_the_object_graph_and_lims_state() -> None:
    result = _run("--describe")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "beamline               mxcubecore.HardwareObjects.Beamline.Beamline" in out
    assert "  session" in out and "session.xml:" in out
    assert "    omega" in out and "motors/omega.xml:" in out
    assert "session: beamline ID-DEMO" in out
    assert "LIMS /lims (ESRFLIMS)" in out and "LIMS /lims_icat (ICATLIMS)" in out
    assert "LIMS names: ICAT, ISPyB" in out
    assert "login type: user" in out and "beamline: ID-DEMO" in out
    assert "connected: False" in out


def test_the_report_shows_each_lims_object_state(tmp_path: Path, clean_repository: None) -> None:
    from mxcubecore_lims.demo import describe_beamline, load_demo

    config = tmp_path / "demo"
    shutil.copytree(DEMO, config)
    (config / "lims.xml").write_text(
        '<object class="MemoryLims"><object href="/session" role="session"/></object>', encoding="utf-8"
    )
    graph = load_demo(config)
    try:
        lims = graph.beamline.get_object_by_role("lims")
        lims.add_user("alice", [Session(session_id="s1"), Session(session_id="s2")])
        lims.set_active_session_by_id("s2")
        report = describe_beamline(graph)
    finally:
        graph.close()
    assert "LIMS /lims (MemoryLims)" in report
    assert "LIMS names: memory" in report
    assert "login type: user" in report
    assert "beamline: ID-DEMO" in report
    assert "users logged in: alice" in report
    assert "selectable sessions: 2" in report
    assert "active session: s2" in report
    assert "connected: True" in report
