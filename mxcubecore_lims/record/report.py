"""The session record as one self-contained HTML file, for the user and the beamline scientist.

:func:`render_report` turns a :class:`~mxcubecore_lims.record.model.SessionRecord`
into a static page, in the spirit of NexusLIMS's experiment records: what was
collected, what the LIMS does not hold yet, what went wrong, with plots and
snapshot thumbnails. The page needs no network and no server: its CSS and
JavaScript are inlined, its images are ``data:`` URIs, and a Content Security
Policy forbids fetching anything. JavaScript only adds sorting and filtering
of the collections table; without it the page reads the same.

Why these libraries: Jinja2 (Pallets) and matplotlib are long-lived, well kept
and already what the scientific Python world uses; both produce static output
(text, PNG) with nothing to serve or run in the browser, unlike plotting
libraries that ship a JavaScript runtime or fetch one from a CDN. Jinja2's
autoescaping is on for the whole template: sample names, comments and error
texts come from the LIMS and the outbox and are untrusted.

The HTML contract (ids and classes a browser test can rely on) is listed in
the template's opening comment.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from jinja2 import Environment, StrictUndefined, Template
from markupsafe import Markup

from mxcubecore_lims.mxlims.reading import SessionProcessing, SessionSweep
from mxcubecore_lims.record import plots
from mxcubecore_lims.record.model import SessionRecord

__all__ = ["COLLECTION_COLUMNS", "render_report"]

MISSING = "–"

#: The collections table's columns: header text and how its cells sort (``data-sort``).
COLLECTION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Start", "date"),
    ("Sample", "text"),
    ("Prefix_run", "text"),
    ("Experiment", "text"),
    ("Status", "text"),
    ("Images", "number"),
    ("Exposure (s)", "number"),
    ("Oscillation (°)", "number"),
    ("Energy (keV)", "number"),
    ("Wavelength (Å)", "number"),
    ("Transmission (%)", "number"),
    ("Resolution (Å)", "number"),
    ("Detector distance (mm)", "number"),
    ("Directory", "text"),
)

# A collection's image list beyond this shows its first and last files only: a
# session of thousands of CBF files would otherwise make the report megabytes of
# names that the file name template already tells.
_IMAGE_LIST_LIMIT = 200
# Field names that do not read as labels once their underscores are spaces.
_LABELS = {"lims_id": "LIMS id", "energy_kev": "energy", "number_images": "images", "succeeded": "outcome"}
_UNITS = {
    "axis_start": "°",
    "image_width": "°",
    "exposure_time": "s",
    "energy_kev": "keV",
    "wavelength": "Å",
    "transmission": "%",
    "resolution": "Å",
    "detector_distance": "mm",
    "beam_size": "mm",
}
_KEV_ANGSTROM = 12.3984


@dataclass(frozen=True)
class Cell:
    """One table cell: what it shows, what it sorts by, where it links, its class."""

    text: str
    sort: str = ""
    href: str | None = None
    css: str | None = None


@dataclass(frozen=True)
class CollectionView:
    """One collection as the report shows it: its table row and its detail block."""

    sweep: SessionSweep
    anchor: str
    status: str
    cells: list[Cell]
    parameters: list[tuple[str, str]]
    images: list[str]
    images_left_out: int
    thumbnails: list[plots.Thumbnail]
    results: list[SessionProcessing]


def when(moment: datetime | None) -> str:
    """A moment for people: seconds resolution, with its UTC offset when it has one."""
    if moment is None:
        return MISSING
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text} {moment.strftime('%z')}" if moment.tzinfo is not None else text


def sort_key(moment: datetime | None) -> str:
    """A moment as text that sorts in time order (local, naive), or empty."""
    if moment is None:
        return ""
    local = moment.astimezone().replace(tzinfo=None) if moment.tzinfo is not None else moment
    return local.isoformat()


def number(value: float | None, spec: str = ".4g") -> str:
    """A number for people, or the missing mark (a LIMS value that is no number is shown as it is)."""
    if value is None:
        return MISSING
    try:
        return format(float(value), spec)
    except (TypeError, ValueError):
        return str(value)


def _sortable(value: float | None) -> str:
    """A number's sort key (``data-value``): empty when missing or not a number."""
    try:
        return "" if value is None else repr(float(value))
    except (TypeError, ValueError):
        return ""


def status_of(succeeded: bool | None) -> str:
    """``ok``, ``failed`` or ``unknown``: as text, so it reads without colour."""
    return "ok" if succeeded else "failed" if succeeded is False else "unknown"


def anchor(kind: str, lims_id: str) -> str:
    """An element id for a LIMS object: ids cannot hold spaces, and a LIMS id may."""
    safe = "".join(c if c.isalnum() or c in "-_.:" else "_" for c in str(lims_id))
    return f"{kind}-{safe}"


def energy_of(sweep: SessionSweep) -> float | None:
    """The collection's energy in keV, from its wavelength when the LIMS gives no energy."""
    if sweep.energy_kev is not None:
        return sweep.energy_kev
    return _KEV_ANGSTROM / sweep.wavelength if sweep.wavelength else None


def _number_cell(value: float | None, spec: str = ".4g") -> Cell:
    return Cell(number(value, spec), _sortable(value))


def _text_cell(value: str | None) -> Cell:
    return Cell(value or MISSING, value or "")


def _collection_cells(record: SessionRecord, sweep: SessionSweep, link: str) -> list[Cell]:
    """The table row of one collection, in :data:`COLLECTION_COLUMNS` order."""
    run = f"_{sweep.run_number}" if sweep.run_number is not None else ""
    prefix_run = f"{sweep.prefix}{run}" if sweep.prefix else (run.lstrip("_") or None)
    sample = record.sample_name(sweep.sample_id) if sweep.sample_id is not None else None
    held = len(sweep.images)
    if sweep.number_images is None and not held:
        images = Cell(MISSING)
    else:
        shown = MISSING if sweep.number_images is None else str(sweep.number_images)
        images = Cell(
            f"{shown} ({held} held)", _sortable(sweep.number_images if sweep.number_images is not None else held)
        )
    return [
        Cell(when(sweep.start), sort_key(sweep.start)),
        _text_cell(sample),
        Cell(prefix_run or "details", prefix_run or "", link),
        _text_cell(sweep.experiment_type),
        Cell(status_of(sweep.succeeded), status_of(sweep.succeeded), css="status"),
        images,
        _number_cell(sweep.exposure_time),
        _number_cell(sweep.image_width),
        _number_cell(energy_of(sweep), ".4f"),
        _number_cell(sweep.wavelength, ".4f"),
        _number_cell(sweep.transmission, ".3g"),
        _number_cell(sweep.resolution, ".2f"),
        _number_cell(sweep.detector_distance, ".1f"),
        Cell(sweep.directory or MISSING, sweep.directory or "", css="path"),
    ]


def _value_text(value: Any) -> str:
    if value is None or value == "":
        return MISSING
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format(value, ".6g")
    if isinstance(value, tuple):
        return " × ".join(_value_text(part) for part in value)
    return str(value)


def _parameters(sweep: SessionSweep) -> list[tuple[str, str]]:
    """Every field of the collection, labelled with its unit (file lists are shown apart)."""
    rows: list[tuple[str, str]] = []
    for item in dataclasses.fields(sweep):
        if item.name in ("images", "snapshots"):
            continue
        label = _LABELS.get(item.name, item.name.replace("_", " "))
        if item.name in _UNITS:
            label += f" ({_UNITS[item.name]})"
        value = getattr(sweep, item.name)
        rows.append((label, status_of(value) if item.name == "succeeded" else _value_text(value)))
    if sweep.energy_kev is None and sweep.wavelength:
        rows.append(("energy (keV, from the wavelength)", number(energy_of(sweep), ".4f")))
    return rows


def _collection_view(record: SessionRecord, sweep: SessionSweep) -> CollectionView:
    link = anchor("collection", sweep.lims_id)
    paths = list(dict.fromkeys([*record.snapshots.get(sweep.lims_id, []), *sweep.snapshots]))
    images = list(sweep.images)
    left_out = max(0, len(images) - _IMAGE_LIST_LIMIT)
    if left_out:
        half = _IMAGE_LIST_LIMIT // 2
        images = [*images[:half], *images[-half:]]
    processed = reading.processings if (reading := record.reading) is not None else []
    return CollectionView(
        sweep=sweep,
        anchor=link,
        status=status_of(sweep.succeeded),
        cells=_collection_cells(record, sweep, "#" + link),
        parameters=_parameters(sweep),
        images=images,
        images_left_out=left_out,
        thumbnails=[plots.thumbnail(path) for path in paths],
        results=[result for result in processed if sweep.lims_id in result.input_ids],
    )


def _overall(result: SessionProcessing) -> dict[str, str]:
    """The overall shell of a processing result, formatted (missing statistics as the missing mark)."""
    shell = result.shells.get("overall", {})
    low, high = shell.get("resolution_low"), shell.get("resolution_high")
    resolution = f"{number(low, '.2f')}–{number(high, '.2f')}" if low is not None else number(high, ".2f")
    cell = " ".join(number(v, ".2f") for v in result.unit_cell) if result.unit_cell else MISSING
    return {
        "space_group": result.space_group or MISSING,
        "unit_cell": cell,
        "resolution": resolution,
        "completeness": number(shell.get("completeness"), ".1f"),
        "multiplicity": number(shell.get("multiplicity"), ".2f"),
        "i_over_sig_i": number(shell.get("i_over_sig_i"), ".2f"),
        "r_merge": number(shell.get("r_merge"), ".3f"),
    }


def _counts(record: SessionRecord, views: list[CollectionView]) -> list[tuple[str, str, int]]:
    """The summary's counts: key (``data-count``), label, value."""
    reading = record.reading
    images = sum(v.sweep.number_images if v.sweep.number_images is not None else len(v.sweep.images) for v in views)
    return [
        ("samples", "Samples", len(reading.samples) if reading else 0),
        ("collections", "Collections", len(views)),
        ("images", "Images", images),
        ("failed", "Failed collections", sum(v.status == "failed" for v in views)),
        ("processing", "Processing results", len(reading.processings) if reading else 0),
        ("scans", "Energy scans and XRF spectra", len(reading.scans) if reading else 0),
        ("pending", "Writes not in the LIMS yet", len(record.pending)),
    ]


def _resource(name: str) -> str:
    return resources.files("mxcubecore_lims.record").joinpath("templates", name).read_text(encoding="utf-8")


@cache
def _template() -> Template:
    # autoescape=True (not select_autoescape): the file is named .html.j2, and every
    # value in it is LIMS text that must be escaped whatever the file is called.
    environment = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(when=when, number=number, status=status_of, value=_value_text)
    environment.globals.update(anchor=anchor, overall=_overall, MISSING=MISSING)
    return environment.from_string(_resource("report.html.j2"))


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_report(record: SessionRecord) -> str:
    """The session record as one self-contained HTML page.

    Args:
        record: The session record (a record without a reading renders its problems).

    Returns:
        The HTML text (UTF-8 when written to a file).
    """
    reading = record.reading
    views = [_collection_view(record, sweep) for sweep in record.collections]
    session_plots, plot_notes = plots.session_plots(record.collections)
    events = record.timeline()
    style, script = _resource("report.css"), _resource("report.js")
    problems = {**(reading.unread if reading else {}), **record.problems}
    # Without the LIMS's session times, the collections' own bound the session (and say so).
    starts = [v.sweep.start for v in views if v.sweep.start is not None]
    ends = [moment for v in views if (moment := v.sweep.end or v.sweep.start) is not None]
    start, end = (reading.start, reading.end) if reading else (None, None)
    from_collections = start is None and end is None and bool(starts)
    if from_collections:
        start, end = min(starts, key=sort_key), max(ends, key=sort_key)
    return _template().render(
        record=record,
        reading=reading,
        info=reading.info if reading else None,
        start=start,
        end=end,
        times_from_collections=from_collections,
        counts=_counts(record, views),
        columns=COLLECTION_COLUMNS,
        collections=views,
        names={v.sweep.lims_id: v.cells[2].sort or v.sweep.lims_id for v in views},
        all_delivered=not record.pending and all(d.real is not None for d in record.delivered_ids),
        problems=problems,
        events=events,
        timeline_plot=plots.timeline_plot(events),
        plots=session_plots,
        plot_notes=plot_notes,
        style=Markup(style),  # noqa: S704 - our own package file, not LIMS text
        script=Markup(script),  # noqa: S704 - our own package file, not LIMS text
        csp=f"default-src 'none'; img-src data:; style-src {_csp_hash(style)}; script-src {_csp_hash(script)}",
    )
