"""After the demo night: the session record through each LIMS type, and the report in a real browser.

The demo runs in this process (its servers on their demo ports, ISPyB down
for the middle third of the night). Once everything is delivered, the
record is built through ESRFLIMS, through its ICAT member and through its
ISPyB member: every collection and image must be in each, and the ids that
were provisional while ISPyB was away are shown as the ids they became.
Then headless Chromium opens the demo's report as a person would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mxcubecore_lims.record.builder import build_record
from mxcubecore_lims.record.model import SessionRecord
from mxcubecore_lims.record.writer import write_record

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_repository")]

DEMO = Path(__file__).resolve().parents[2] / "configuration" / "demo"
COLLECTIONS = 6


def seen_report_ids(ispyb: Any) -> list[tuple[int, Any]]:
    """(provisional id, real id) of every collection whose caller got a provisional id."""
    from mxcubecore_lims.outbox.records import DEFERRED_MARK

    return [
        (record.provisional[0], None)
        for record in ispyb.outbox.records()
        if record.kind == "data_collection" and record.provisional and record.progress.get(DEFERRED_MARK)
    ]


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from mxcubecore import HardwareRepository as HWR

    from mxcubecore_lims.demo.beamtime import run_beamtime

    seen: dict[str, Any] = {"records": {}}

    def after_night(lims: Any) -> None:
        members = lims.members()
        # The demo waits a minute for the replay; a loaded machine may need longer.
        for member in members.values():
            assert member.outbox.wait_delivered(240.0), member.outbox.status()
        seen["records"]["ESRFLIMS"] = build_record(lims)
        seen["records"]["ICATLIMS"] = build_record(members["drac"])
        seen["records"]["ISPyB"] = build_record(members["ispyb"])
        seen["waited"] = {
            provisional: members["ispyb"].outbox.real_id("collection", provisional)
            for provisional, _ in seen_report_ids(members["ispyb"])
        }

    lines: list[str] = []
    seen["report"] = run_beamtime(DEMO, collections=COLLECTIONS, out=lines.append, after_night=after_night)
    seen["lines"] = lines
    HWR.uninit_hardware_repository()
    return seen


@pytest.mark.parametrize("kind", ["ESRFLIMS", "ICATLIMS", "ISPyB"])
def test_every_collection_and_image_is_in_the_record(night: dict[str, Any], kind: str) -> None:
    record: SessionRecord = night["records"][kind]
    assert record.reading is not None, record.problems
    names = sorted(f"{s.prefix}_{s.run_number}" for s in record.collections)
    expected = sorted(d["name"] for d in night["report"].icat_datasets)
    assert names == expected and len(names) == COLLECTIONS
    for sweep in record.collections:
        assert len(sweep.images) == 3, (kind, sweep.lims_id, sweep.images)
        assert all(Path(p).name.startswith(f"{sweep.prefix}_{sweep.run_number}_") for p in sweep.images)
    assert not record.pending
    assert record.snapshots and all(Path(p).is_file() for paths in record.snapshots.values() for p in paths)


def test_provisional_ids_are_shown_as_the_ids_they_became(night: dict[str, Any]) -> None:
    waited = night["waited"]  # provisional -> ISPyB id, from the journal once all was delivered
    assert waited and all(real is not None for real in waited.values())
    assert set(waited) == {p for p, _ in night["report"].provisional_ids.values()}  # the demo's own account
    for kind in ("ESRFLIMS", "ISPyB"):
        record: SessionRecord = night["records"][kind]
        shown = {(d.provisional, d.real) for d in record.delivered_ids if d.lims == "ispyb" and d.kind == "collection"}
        assert set(waited.items()) == shown, kind
    ispyb_ids = {s.lims_id for s in night["records"]["ISPyB"].collections}
    assert {str(real) for real in waited.values()} <= ispyb_ids


def test_the_report_reads_right_in_a_real_browser(
    night: dict[str, Any], chromium: Any, artefact_dir: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    from mxcubecore_lims.testing.browser import save_screenshot

    report_file = night["report"].record_file
    assert report_file is not None and report_file.is_file()
    chromium.get(report_file.resolve().as_uri())
    rows = chromium.find_elements(By.CSS_SELECTOR, "table#collections tbody tr.collection")
    assert len(rows) == COLLECTIONS and all(r.is_displayed() for r in rows)
    shown = sorted(r.get_attribute("data-lims-id") or "" for r in rows)
    assert shown == sorted(s.lims_id for s in night["records"]["ESRFLIMS"].collections)
    box = chromium.find_element(By.ID, "collection-filter")
    assert box.is_displayed()
    box.send_keys("thau")
    visible = [r for r in rows if r.is_displayed()]
    assert visible and len(visible) < COLLECTIONS
    assert all("thau" in r.text for r in visible)
    box.clear()
    box.send_keys("no such sample anywhere")
    assert not [r for r in rows if r.is_displayed()]
    plots = chromium.find_elements(By.CSS_SELECTOR, "img.plot")
    assert len(plots) >= 4
    for plot in plots:
        width = chromium.execute_script("return arguments[0].naturalWidth", plot)
        height = chromium.execute_script("return arguments[0].naturalHeight", plot)
        assert width > 0 and height > 0, plot.get_attribute("alt")
    thumbnails = chromium.find_elements(By.CSS_SELECTOR, "img.snapshot")
    assert len(thumbnails) >= COLLECTIONS
    chromium.refresh()  # as a person opens it: every row shown
    screenshot = save_screenshot(chromium, artefact_dir / "session-record-demo-night.png")
    assert screenshot.stat().st_size > 10_000


def test_the_report_is_readable_without_javascript(night: dict[str, Any], chromium_factory: Any) -> None:
    from selenium.webdriver.common.by import By

    browser = chromium_factory(javascript=False)
    browser.get(night["report"].record_file.resolve().as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "table#collections tbody tr.collection")
    assert len(rows) == COLLECTIONS and all(r.is_displayed() for r in rows)
    assert not browser.find_element(By.ID, "collection-filter").is_displayed()  # no dead controls


def test_each_lims_type_writes_its_record(night: dict[str, Any], tmp_path: Path) -> None:
    for kind, record in night["records"].items():
        written = write_record(record, tmp_path / f"{kind}.html", tmp_path / f"{kind}.json")
        assert [p.name for p in written] == [f"{kind}.html", f"{kind}.json"]
        text = written[0].read_text(encoding="utf-8")
        assert all(f"{s.prefix}_{s.run_number}" in text for s in record.collections)
