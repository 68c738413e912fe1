"""The session report as a person sees it: the HTML is parsed and read back, cell by cell."""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from PIL import Image

from mxcubecore_lims.mxlims.reading import (
    SessionInfo,
    SessionProcessing,
    SessionReading,
    SessionScan,
    SessionSweep,
)
from mxcubecore_lims.record.model import DeliveredId, JournalEntry, RobotEvent, SessionRecord
from mxcubecore_lims.record.report import COLLECTION_COLUMNS, render_report

EVIL = "<script>alert(1)</script>"
T0 = datetime(2024, 5, 14, 9, 30, 0)


def _sweeps(snapshot: Path, missing: Path) -> list[SessionSweep]:
    return [
        SessionSweep(
            lims_id="101",
            group_id="11",
            sample_id="7",
            experiment_type="OSC",
            start=T0,
            end=T0 + timedelta(minutes=3),
            succeeded=True,
            status="Data collection successful",
            axis_start=0.0,
            image_width=0.1,
            number_images=3,
            exposure_time=0.02,
            energy_kev=12.7,
            wavelength=0.9763,
            transmission=50.0,
            resolution=1.8,
            detector_distance=250.0,
            beam_size=(0.05, 0.03),
            directory="/data/mx415/lyso",
            prefix="lyso-01",
            run_number=1,
            images=tuple(f"/data/mx415/lyso/lyso-01_1_{i:04d}.cbf" for i in range(1, 4)),
            snapshots=(str(snapshot),),
        ),
        SessionSweep(
            lims_id="102",
            sample_id="8",
            experiment_type="OSC",
            start=T0 + timedelta(minutes=20),
            succeeded=False,
            status="Data collection failed",
            number_images=1800,
            exposure_time=0.01,
            wavelength=1.0,  # no energy: the report derives it
            transmission=10.0,
            resolution=2.5,
            detector_distance=300.0,
            directory="/data/mx415/evil",
            prefix="evil",
            run_number=2,
            images=tuple(f"/data/mx415/evil/evil_2_{i:05d}.cbf" for i in range(1, 451)),
            comments=EVIL,
        ),
        # Almost nothing known: the renderer must not stumble on it.
        SessionSweep(lims_id="103"),
    ]


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "lyso-01_1_snapshot.jpg"
    Image.new("RGB", (1024, 768), (40, 120, 200)).save(path, format="JPEG")
    return path


@pytest.fixture
def record(tmp_path: Path, snapshot: Path) -> SessionRecord:
    missing = tmp_path / "gone_snapshot.jpg"
    info = SessionInfo(session_id="42", proposal_code="mx415", beamline="ID30A-1", domain="esrf.fr", lims="ISPyB")
    reading = SessionReading(
        info=info,
        samples=[{"sampleId": 7, "sampleName": "lyso-01"}, {"sampleId": 8, "sampleName": EVIL}],
        sweeps=_sweeps(snapshot, missing),
        processings=[
            SessionProcessing(
                lims_id="900",
                input_ids=("101",),
                program="XDSAPP",
                succeeded=True,
                start=T0 + timedelta(minutes=5),
                space_group="P43212",
                unit_cell=(79.1, 79.1, 37.9, 90.0, 90.0, 90.0),
                shells={
                    "overall": {
                        "resolution_low": 39.5,
                        "resolution_high": 1.8,
                        "completeness": 99.7,
                        "multiplicity": 6.51,
                        "i_over_sig_i": 14.2,
                        "r_merge": 0.061,
                    }
                },
            )
        ],
        scans=[
            SessionScan(
                lims_id="55",
                kind="energy_scan",
                name="Se K",
                sample_id="7",
                start=T0 + timedelta(minutes=10),
                values={"element": "Se", "peakEnergy": 12.6578},
            )
        ],
        users=["Ada Lovelace", "Rosalind Franklin"],
        start=T0 - timedelta(minutes=30),
        end=T0 + timedelta(hours=8),
    )
    return SessionRecord(
        session_id="42",
        lims="ISPyB",
        reading=reading,
        pending=[
            JournalEntry(
                "ispyb", 12, "image", "pending", 3, "connection refused", T0 + timedelta(minutes=21), "image 3"
            ),
            JournalEntry(
                "ispyb",
                13,
                "data_collection",
                "failed",
                1,
                "LIMS refused: dataCollectionGroupId unknown",
                T0 + timedelta(minutes=22),
                "collection evil_2",
            ),
        ],
        delivered_ids=[DeliveredId("ispyb", "collection", -3, 1234), DeliveredId("ispyb", "image", -4, None)],
        robot_events=[
            RobotEvent(T0 - timedelta(minutes=2), "LOAD", "7", "SUCCESS"),
            RobotEvent(T0 + timedelta(minutes=18), "LOAD", "8", "ERROR", "gripper lost the pin"),
        ],
        snapshots={"101": [str(missing)]},
        problems={"robot actions": "ISPyB's SOAP cannot list them"},
        built_at=T0 + timedelta(hours=9),
    )


def select(element: lxml.html.HtmlElement, selector: str) -> list[lxml.html.HtmlElement]:
    """The elements a simple CSS selector finds: ``tag#id.class[attr=value]`` parts, descendants apart.

    The few selectors a browser test would use, as XPath (lxml's cssselect needs a package the
    project does not install).
    """
    steps = []
    for compound in selector.split():
        match = re.fullmatch(r"([a-z0-9]*)((?:[#.][\w-]+|\[[\w-]+(?:=\"?[^\]\"]*\"?)?\])*)", compound)
        assert match, f"unsupported selector {compound!r}"
        tests = []
        for part in re.findall(r"[#.][\w-]+|\[[^\]]+\]", match.group(2)):
            if part[0] == "#":
                tests.append(f"@id='{part[1:]}'")
            elif part[0] == ".":
                tests.append(f"contains(concat(' ', normalize-space(@class), ' '), ' {part[1:]} ')")
            else:
                name, _, value = part[1:-1].partition("=")
                tests.append(f"@{name}='{value.strip(chr(34))}'" if value else f"@{name}")
        steps.append((match.group(1) or "*") + "".join(f"[{test}]" for test in tests))
    return list(element.xpath(".//" + "//".join(steps)))


def parse(html: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(html)


def text(element: lxml.html.HtmlElement) -> str:
    return " ".join(element.text_content().split())


def decode(uri: str, prefix: str) -> Image.Image:
    assert uri.startswith(prefix), uri[:40]
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :], validate=True)))
    image.load()
    return image


def test_the_collections_table_has_one_row_per_collection_with_its_values(record: SessionRecord) -> None:
    page = parse(render_report(record))
    (table,) = select(page, "table#collections")
    headers = [text(th) for th in select(table, "thead th")]
    assert headers == [label for label, _ in COLLECTION_COLUMNS]
    assert {th.get("data-sort") for th in select(table, "thead th")} == {"number", "text", "date"}
    rows = select(table, "tbody tr.collection")
    assert [row.get("data-lims-id") for row in rows] == ["101", "102", "103"]
    cells = [[text(td) for td in select(row, "td")] for row in rows]
    assert cells[0] == [
        "2024-05-14 09:30:00",
        "lyso-01",
        "lyso-01_1",
        "OSC",
        "ok",
        "3 (3 held)",
        "0.02",
        "0.1",
        "12.7000",
        "0.9763",
        "50",
        "1.80",
        "250.0",
        "/data/mx415/lyso",
    ]
    assert cells[1][1] == EVIL
    assert cells[1][4] == "failed"
    assert cells[1][5] == "1800 (450 held)"
    assert cells[1][8] == "12.3984"  # from the 1.0 Å wavelength
    # The collection the LIMS knows nothing about: every value shows as missing.
    assert cells[2][2] == "details"
    assert [cell for i, cell in enumerate(cells[2]) if i not in (2, 4)] == ["–"] * 12
    assert cells[2][4] == "unknown"
    assert "status-failed" in rows[1].get("class")
    # Each row links to its detail block, which exists.
    for row in rows:
        (link,) = select(row, "a")
        assert page.get_element_by_id(link.get("href").removeprefix("#")).tag == "details"


def test_sort_keys_order_the_values_not_their_text(record: SessionRecord) -> None:
    page = parse(render_report(record))
    rows = select(page, "table#collections tbody tr")
    resolution = [label for label, _ in COLLECTION_COLUMNS].index("Resolution (Å)")
    assert [select(row, "td")[resolution].get("data-value") for row in rows] == ["1.8", "2.5", ""]
    assert select(rows[0], "td")[0].get("data-value") == "2024-05-14T09:30:00"


def test_the_filter_box_waits_for_the_script(record: SessionRecord) -> None:
    page = parse(render_report(record))
    (box,) = select(page, "#collection-filter-box")
    assert box.get("hidden") is not None
    (field,) = select(box, "input#collection-filter")
    assert field.get("type") == "search"
    (script,) = select(page, "script")
    assert "collection-filter-box" in script.text and "hidden = false" in script.text


def test_the_pending_section_lists_failed_and_waiting_writes(record: SessionRecord) -> None:
    page = parse(render_report(record))
    (section,) = select(page, "section#pending")
    failed = select(section, "tr.journal-entry.status-failed")
    waiting = select(section, "tr.journal-entry.status-pending")
    assert len(failed) == 1 and len(waiting) == 1
    assert "LIMS refused: dataCollectionGroupId unknown" in text(failed[0])
    assert text(select(failed[0], "td.status")[0]) == "failed"
    assert "collection evil_2" in text(failed[0])
    assert "connection refused" in text(waiting[0])
    assert not select(section, ".all-delivered")
    delivered = [[text(td) for td in select(row, "td")] for row in select(section, "tr.delivered-id.delivered")]
    assert delivered == [["ispyb", "collection", "provisional id -3 → delivered as 1234"]]
    waiting_ids = [[text(td) for td in select(row, "td")] for row in select(section, "tr.delivered-id.waiting")]
    assert waiting_ids == [["ispyb", "image", "provisional id -4 → still waiting"]]
    assert select(page, "dd[data-count=pending]")[0].text == "2"


def test_a_session_wholly_in_the_lims_says_so(record: SessionRecord) -> None:
    record.pending.clear()
    record.delivered_ids[:] = [DeliveredId("ispyb", "collection", -3, 1234)]
    page = parse(render_report(record))
    (note,) = select(page, "section#pending .all-delivered")
    assert text(note) == "Everything the beamline wrote is in the LIMS."


def test_problems_and_counts_are_in_the_summary(record: SessionRecord) -> None:
    page = parse(render_report(record))
    (problem,) = select(page, "section#problems li.problem")
    assert text(problem) == "robot actions: ISPyB's SOAP cannot list them"
    counts = {dd.get("data-count"): dd.text for dd in select(page, "#counts dd")}
    assert counts == {
        "samples": "2",
        "collections": "3",
        "images": "1803",
        "failed": "1",
        "processing": "1",
        "scans": "1",
        "pending": "2",
    }
    fields = {dd.get("data-field"): text(dd) for dd in select(page, "#summary dd[data-field]")}
    assert fields["proposal"] == "mx415" and fields["beamline"] == "ID30A-1"
    assert fields["users"] == "Ada Lovelace, Rosalind Franklin"
    assert fields["start"] == "2024-05-14 09:00:00"


def test_the_timeline_lists_every_dated_event_in_order(record: SessionRecord) -> None:
    page = parse(render_report(record))
    events = select(page, "ol#timeline-events li.event")
    assert len(events) == len(record.timeline()) == 8
    moments = [select(li, "time")[0].get("datetime") for li in events]
    assert moments == sorted(moments)
    failed_collection = [li for li in events if "evil_2" in text(li) and "kind-collection" in li.get("class")]
    assert text(select(failed_collection[0], ".outcome")[0]) == "failed"
    assert select(page, "#timeline img#plot-timeline")


def test_details_hold_snapshots_as_small_images_and_say_which_are_unreadable(
    record: SessionRecord, tmp_path: Path
) -> None:
    page = parse(render_report(record))
    detail = page.get_element_by_id("collection-101")
    (img,) = select(detail, "img.snapshot")
    thumbnail = decode(img.get("src"), "data:image/jpeg;base64,")
    assert thumbnail.format == "JPEG"
    assert max(thumbnail.size) <= 240 and thumbnail.size == (240, 180)
    assert img.get("alt")
    (missing,) = select(detail, ".snapshot-missing")
    assert text(missing).startswith(f"not readable: {tmp_path / 'gone_snapshot.jpg'}")
    # Its processing result, overall shell.
    (result,) = select(detail, "table.processing tbody tr")
    assert [text(td) for td in select(result, "td")] == [
        "XDSAPP",
        "ok",
        "P43212",
        "79.10 79.10 37.90 90.00 90.00 90.00",
        "39.50–1.80",
        "99.7",
        "6.51",
        "14.20",
        "0.061",
    ]
    assert len(select(detail, ".image-files li")) == 3


def test_a_long_image_list_is_collapsed_and_cut(record: SessionRecord) -> None:
    detail = parse(render_report(record)).get_element_by_id("collection-102")
    (files,) = select(detail, "details.image-files")
    assert text(select(files, "summary")[0]) == "450 image files"
    items = select(files, "li")
    assert len(items) == 201 and text(items[100]) == "… 250 more …"
    assert text(items[-1]) == "/data/mx415/evil/evil_2_00450.cbf"
    assert not select(detail, "table.processing") and not select(detail, "img.snapshot")


def test_plots_are_inline_pngs_with_captions(record: SessionRecord) -> None:
    page = parse(render_report(record))
    images = select(page, "section#plots img.plot")
    assert {img.get("id") for img in images} == {
        "plot-resolution",
        "plot-exposure",
        "plot-transmission",
        "plot-energy",
        "plot-images",
    }
    for img in images:
        png = decode(img.get("src"), "data:image/png;base64,")
        assert png.format == "PNG" and png.size == (600, 250)
        assert img.get("alt")
        assert text(select(img.getparent(), "figcaption")[0])
    assert not select(page, ".plot-note")


def test_a_plot_without_values_is_skipped_with_a_note(record: SessionRecord) -> None:
    assert record.reading is not None
    record.reading.sweeps[:] = [SessionSweep(lims_id="1", number_images=10), SessionSweep(lims_id="2")]
    page = parse(render_report(record))
    assert [img.get("id") for img in select(page, "section#plots img.plot")] == ["plot-images"]
    notes = [text(p) for p in select(page, "section#plots .plot-note")]
    assert "No resolution plot: no collection has a resolution." in notes and len(notes) == 4


def test_scans_robot_and_processing_tables(record: SessionRecord) -> None:
    page = parse(render_report(record))
    (scan,) = select(page, "table#scans tbody tr.scan")
    assert [text(td) for td in select(scan, "td")][:4] == ["energy scan", "Se K", "lyso-01", "2024-05-14 09:40:00"]
    assert "peakEnergy: 12.6578" in text(scan)
    robot = [[text(td) for td in select(tr, "td")] for tr in select(page, "table#robot-events tbody tr")]
    assert robot[1] == ["2024-05-14 09:48:00", "LOAD", EVIL, "ERROR", "gripper lost the pin"]
    (result,) = select(page, "table#processing tbody tr.processing-result")
    assert result.get("data-lims-id") == "900"
    (link,) = select(result, "a")
    assert link.get("href") == "#collection-101" and text(link) == "lyso-01_1"


def test_untrusted_text_is_shown_never_run(record: SessionRecord) -> None:
    html = render_report(record)
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = parse(html)
    assert len(select(page, "script")) == 1  # ours, at the end of the body
    assert "alert" not in select(page, "script")[0].text


def test_the_page_needs_no_network(record: SessionRecord) -> None:
    page = parse(render_report(record))
    for element in page.iter():
        for attribute in ("src", "href", "action", "data", "poster"):
            value = element.get(attribute) if isinstance(element.tag, str) else None
            if value is not None:
                assert value.startswith(("#", "data:")), f"<{element.tag} {attribute}={value[:60]}>"
    assert not select(page, "link")
    assert "url(" not in select(page, "style")[0].text and "@import" not in select(page, "style")[0].text
    (policy,) = select(page, 'meta[http-equiv="Content-Security-Policy"]')
    assert policy.get("content").startswith("default-src 'none'")


def test_accessibility_basics(record: SessionRecord) -> None:
    page = parse(render_report(record))
    assert page.get("lang") == "en"
    assert "mx415" in page.findtext(".//title")
    assert all(img.get("alt") for img in select(page, "img"))
    assert all(select(table, "caption") for table in select(page, "table"))


def test_print_styles_drop_the_filter_and_open_details(record: SessionRecord) -> None:
    page = parse(render_report(record))
    style = select(page, "style")[0].text
    assert "@media print" in style
    print_rules = style[style.index("@media print") :]
    assert "#collection-filter-box" in print_rules and "position: static" in print_rules
    assert "beforeprint" in select(page, "script")[0].text


def test_a_record_without_a_reading_shows_its_problems() -> None:
    record = SessionRecord(
        session_id="77",
        lims="ICAT",
        problems={"LIMS": "ICAT could not be read: ConnectionError: refused"},
        built_at=datetime(2024, 5, 14, 18, 0, tzinfo=UTC),
    )
    page = parse(render_report(record))
    assert [text(li) for li in select(page, "section#problems li.problem")] == [
        "LIMS: ICAT could not be read: ConnectionError: refused"
    ]
    assert not select(page, "table#collections") and not select(page, "section#plots img")
    assert "the LIMS could not be read" in text(select(page, "section#data-collections")[0])
    assert select(page, "dd[data-count=collections]")[0].text == "0"
    assert text(select(page, "dd[data-field=built]")[0]) == "2024-05-14 18:00:00 +0000"
    assert text(select(page, "section#pending .all-delivered")[0]) == "Everything the beamline wrote is in the LIMS."


def test_aware_and_naive_times_render_together(record: SessionRecord) -> None:
    assert record.reading is not None
    aware = SessionSweep(lims_id="104", prefix="late", start=datetime(2024, 5, 14, 16, 0, tzinfo=UTC), resolution=2.0)
    record.reading.sweeps.append(aware)
    page = parse(render_report(record))
    (row,) = select(page, "tr.collection[data-lims-id=104]")
    assert text(select(row, "td")[0]) == "2024-05-14 16:00:00 +0000"
    assert select(page, "img#plot-resolution") and len(select(page, "ol#timeline-events li")) == 9
