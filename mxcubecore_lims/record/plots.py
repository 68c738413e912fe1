"""The report's pictures: plots of the session and snapshot thumbnails, as ``data:`` URIs.

Plots are drawn with matplotlib's object-oriented :class:`~matplotlib.figure.Figure`
API and never through pyplot: pyplot keeps global state (a current figure, a
GUI backend), which is neither thread nor greenlet safe inside a running
MXCuBE. A bare ``Figure`` renders to PNG with the Agg canvas whatever backend
is configured. Thumbnails are made with Pillow (a matplotlib dependency).

Everything is inlined as base64 so the report is one file that opens without
a network or the beamline's file system.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator
from PIL import Image, UnidentifiedImageError

from mxcubecore_lims.mxlims.reading import SessionSweep
from mxcubecore_lims.record.model import TimelineEvent

__all__ = ["THUMBNAIL_SIZE", "Plot", "Thumbnail", "session_plots", "thumbnail", "timeline_plot"]

#: Longest side of a snapshot thumbnail, in pixels.
THUMBNAIL_SIZE = 240

_FIGSIZE = (6.0, 2.5)
_DPI = 100
# Colour and marker both carry the outcome, so a black-and-white print still tells them apart.
_OK_STYLE = ("#1b7837", "o")
_FAILED_STYLE = ("#b2182b", "x")
_UNKNOWN_STYLE = ("#555555", "s")


@dataclass(frozen=True)
class Plot:
    """One plot, ready to inline.

    Attributes:
        key: Short name, used for the element id (``plot-<key>``).
        caption: What it shows, for the figure caption.
        alt: Text alternative for people who cannot see the image.
        uri: ``data:image/png;base64,...``.
    """

    key: str
    caption: str
    alt: str
    uri: str


@dataclass(frozen=True)
class Thumbnail:
    """A snapshot of a collection, shrunk for the report, or why it could not be.

    Attributes:
        path: The file as the LIMS, journal or directory named it.
        uri: ``data:image/jpeg;base64,...``, or None when it could not be read.
        reason: Why it could not be read (None when it could).
    """

    path: str
    uri: str | None
    reason: str | None = None


def thumbnail(path: str) -> Thumbnail:
    """Reads one snapshot and shrinks it to at most :data:`THUMBNAIL_SIZE` pixels.

    Args:
        path: The image file.

    Returns:
        The thumbnail; a file that is missing or not an image gives a thumbnail
        without ``uri`` and with the reason (a report is never lost to one bad file).
    """
    try:
        with Image.open(path) as image:
            # draft() lets the JPEG decoder scale down while decoding: snapshots are large.
            image.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            small = image.convert("RGB")  # JPEG has no alpha or palette
    except FileNotFoundError:
        return Thumbnail(path, None, "no such file")
    except PermissionError:
        return Thumbnail(path, None, "permission denied")
    except UnidentifiedImageError:
        return Thumbnail(path, None, "not an image Pillow knows")
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        return Thumbnail(path, None, f"{type(error).__name__}: {error}")
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=80)
    return Thumbnail(path, "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"))


def _local(moment: datetime) -> datetime:
    """Naive local time, so aware and naive moments share one axis."""
    return moment.astimezone().replace(tzinfo=None) if moment.tzinfo is not None else moment


class _TimeAxis:
    """A clock-time x axis: hours since the whole hour before the first moment.

    Plain numbers rather than matplotlib's date axis (``matplotlib.dates`` is
    untyped); ticks land on round clock times because the origin is a whole hour.
    """

    def __init__(self, moments: Sequence[datetime]) -> None:
        local = [_local(moment) for moment in moments]
        self.origin = min(local).replace(minute=0, second=0, microsecond=0)
        self.days = len({moment.date() for moment in local})

    def __call__(self, moment: datetime) -> float:
        return (_local(moment) - self.origin).total_seconds() / 3600

    def _tick(self, hours: float, _position: int | None = None) -> str:
        moment = self.origin + timedelta(hours=hours)
        return moment.strftime("%m-%d %H:%M" if self.days > 1 else "%H:%M")

    def apply(self, axes: Axes, what: str) -> None:
        """Puts clock-time ticks and the axis label on ``axes``."""
        # Hour steps of 1, 2, 2.5, 5 give 6, 12, 15, 30 minutes below an hour.
        axes.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        axes.xaxis.set_major_formatter(FuncFormatter(self._tick))
        day = "" if self.days > 1 else f" on {self.origin:%Y-%m-%d}"
        axes.set_xlabel(f"{what} (local time{day})")


def _png(figure: Figure) -> str:
    """The figure as a PNG data URI."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure() -> Figure:
    return Figure(figsize=_FIGSIZE, dpi=_DPI, layout="constrained")


def _style(ok: bool | None) -> tuple[str, str]:
    return _OK_STYLE if ok else _FAILED_STYLE if ok is False else _UNKNOWN_STYLE


def _label(sweep: SessionSweep) -> str:
    run = f"_{sweep.run_number}" if sweep.run_number is not None else ""
    return f"{sweep.prefix or sweep.lims_id}{run}"


def _across_session(
    key: str, sweeps: Sequence[SessionSweep], value: Callable[[SessionSweep], float | None], quantity: str
) -> Plot | None:
    """One value per collection against its start time (or its order when a start is missing)."""
    points = [(index, sweep, value(sweep)) for index, sweep in enumerate(sweeps, start=1)]
    known = [(index, sweep, y) for index, sweep, y in points if y is not None]
    if not known:
        return None
    by_time = all(sweep.start is not None for _, sweep, _ in known)
    clock = _TimeAxis([sweep.start for _, sweep, _ in known if sweep.start is not None]) if by_time else None
    figure = _figure()
    axes = figure.add_subplot()
    for outcome in (True, False, None):
        chosen = [(index, sweep, y) for index, sweep, y in known if sweep.succeeded is outcome]
        if not chosen:
            continue
        xs = [clock(sweep.start) if clock and sweep.start else float(index) for index, sweep, _ in chosen]
        label = {True: "succeeded", False: "failed", None: "status unknown"}[outcome]
        colour, marker = _style(outcome)
        axes.plot(xs, [y for _, _, y in chosen], linestyle="none", label=label, color=colour, marker=marker)
    if clock is not None:
        clock.apply(axes, "collection start")
    else:
        axes.set_xlabel("collection (in order)")
    axes.set_ylabel(quantity)
    name = quantity.split(" (")[0]
    axes.set_title(f"{name[0].upper()}{name[1:]} across the session")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small", loc="best")
    against = "start time" if by_time else "order of collection"
    caption = f"{quantity[0].upper()}{quantity[1:]} of each collection, by {against} ({len(known)} of {len(sweeps)} collections)."
    return Plot(key, caption, f"Scatter plot of {quantity} against {against}.", _png(figure))


def _images_per_collection(sweeps: Sequence[SessionSweep]) -> Plot | None:
    counts = [sweep.number_images if sweep.number_images is not None else len(sweep.images) or None for sweep in sweeps]
    if not any(count is not None for count in counts):
        return None
    figure = _figure()
    axes = figure.add_subplot()
    positions = list(range(1, len(sweeps) + 1))
    colours = [_style(sweep.succeeded)[0] for sweep in sweeps]
    axes.bar(positions, [count or 0 for count in counts], color=colours)
    # Names only while they fit; beyond that the order number is readable and the table names them.
    if len(sweeps) <= 12:
        axes.set_xticks(positions, [_label(sweep) for sweep in sweeps], rotation=30, ha="right", fontsize="small")
    axes.set_xlabel("collection (in order)")
    axes.set_ylabel("images")
    axes.set_title("Images per collection")
    axes.grid(True, axis="y", alpha=0.3)
    return Plot(
        "images",
        "Images in each collection, in order (green succeeded, red failed, grey unknown).",
        "Bar chart of the number of images in each collection.",
        _png(figure),
    )


def _energy(sweep: SessionSweep) -> float | None:
    if sweep.energy_kev is not None:
        return sweep.energy_kev
    return 12.3984 / sweep.wavelength if sweep.wavelength else None


def session_plots(sweeps: Sequence[SessionSweep]) -> tuple[list[Plot], list[str]]:
    """The plots of the session's collections.

    Args:
        sweeps: The collections, oldest first.

    Returns:
        The plots, and a note for each plot skipped because no collection has its value.
    """
    plots: list[Plot] = []
    notes: list[str] = []
    wanted: list[tuple[str, Callable[[], Plot | None]]] = [
        ("resolution", lambda: _across_session("resolution", sweeps, lambda s: s.resolution, "resolution (Å)")),
        ("exposure time", lambda: _across_session("exposure", sweeps, lambda s: s.exposure_time, "exposure time (s)")),
        ("transmission", lambda: _across_session("transmission", sweeps, lambda s: s.transmission, "transmission (%)")),
        ("energy", lambda: _across_session("energy", sweeps, _energy, "energy (keV)")),
        ("number of images", lambda: _images_per_collection(sweeps)),
    ]
    for name, draw in wanted:
        plot = draw()
        if plot is None:
            notes.append(f"No {name} plot: no collection has a {name}.")
        else:
            plots.append(plot)
    return plots, notes


def timeline_plot(events: Sequence[TimelineEvent]) -> Plot | None:
    """The session's events on one time axis, a row per kind; None when there are none."""
    if not events:
        return None
    kinds = list(dict.fromkeys(event.kind for event in events))
    figure = Figure(figsize=(_FIGSIZE[0], 0.6 + 0.35 * len(kinds)), dpi=_DPI, layout="constrained")
    axes = figure.add_subplot()
    clock = _TimeAxis([event.when for event in events])
    for outcome in (True, False, None):
        chosen = [event for event in events if event.ok is outcome]
        if chosen:
            label = {True: "ok", False: "failed", None: "not known"}[outcome]
            colour, marker = _style(outcome)
            xs = [clock(event.when) for event in chosen]
            ys = [kinds.index(event.kind) for event in chosen]
            axes.plot(xs, ys, linestyle="none", label=label, color=colour, marker=marker)
    axes.set_yticks(range(len(kinds)), kinds)
    axes.set_ylim(-0.6, len(kinds) - 0.4)
    clock.apply(axes, "time")
    axes.set_title("Session timeline")
    axes.grid(True, axis="x", alpha=0.3)
    axes.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return Plot(
        "timeline",
        "Events of the session by kind and time (circle ok, cross failed, square not known).",
        f"Timeline of {len(events)} events: " + ", ".join(kinds) + ".",
        _png(figure),
    )
