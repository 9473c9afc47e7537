"""The one ECG plotting module of sssd-hf (Space, ``generate --plot`` and evaluation reports).

:func:`plot_ecg` draws a 12-lead ECG the way a clinician reads it on paper:

* ECG paper: a 1 mm minor grid and a 5 mm major grid in pink/red;
* 25 mm/s horizontally and, by default, the largest clinical gain of 10, 5 or 2.5 mm/mV at
  which every wave fits (each trace stays within one row height of its baseline and inside the
  grid); the gain used is printed under the grid and the calibration pulses are drawn at it;
* nothing is clipped silently: where a trace still leaves the grid (at 2.5 mm/mV, or at a gain
  the caller fixed) the clipped samples are drawn in red and the lead label says "clipped";
* the standard 3 x 4 layout, each column a quarter of the record (2.5 s of a 10 s ECG)::

      I    aVR  V1  V4
      II   aVL  V2  V5
      III  aVF  V3  V6

  followed by a full-length rhythm strip of lead II;
* a lead label at the start of every segment and a 1 mV x 200 ms calibration pulse at the left
  of every row.

The drawing is done in paper millimetres on one axes that fills the figure, whose size in
inches is the paper size, so the printed PNG has the true scale at any dpi.  Only the
object-oriented Matplotlib API with the Agg canvas is used: this module never imports
``pyplot`` and never changes the global backend or rcParams.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from .leads import STANDARD_LEADS, select_leads
from .utils import atomic_path

#: The standard 3 x 4 lead layout (rows of the printed page, left to right).
STANDARD_LAYOUT: Tuple[Tuple[str, ...], ...] = (
    ("I", "aVR", "V1", "V4"),
    ("II", "aVL", "V2", "V5"),
    ("III", "aVF", "V3", "V6"),
)

MM_PER_INCH = 25.4
MINOR_GRID_COLOR = "#f6c6c6"  # 1 mm lines: light pink
MAJOR_GRID_COLOR = "#e57373"  # 5 mm lines: red
CALIBRATION_MV = 1.0  # height of the calibration pulse in mV
CALIBRATION_SECONDS = 0.2  # width of the calibration pulse in s
_CALIBRATION_MARGIN_MM = 10.0  # paper left of the traces that holds the pulse
_RIGHT_MARGIN_MM = 5.0
_TITLE_BAND_MM = 10.0
_FOOTER_BAND_MM = 7.0
#: Gains tried by ``amplitude_gain="auto"``, largest first (mm/mV; the clinical 10 and its halvings).
AUTO_GAINS: Tuple[float, ...] = (10.0, 5.0, 2.5)
CLIPPED_COLOR = "#d00000"


@dataclass(frozen=True)
class PaperLayout:
    """Geometry of one printed ECG page, in paper millimetres (x right, y up).

    Attributes:
        seconds: duration drawn (s).
        column_seconds: duration of each of the 4 columns (s).
        paper_speed: mm per second.
        amplitude_gain: mm per millivolt.
        trace_x0: x of time 0 (mm); the calibration pulses sit left of it.
        grid_width: width of the gridded area (mm, a multiple of 5).
        grid_height: height of the gridded area (mm, a multiple of 5).
        row_height: vertical distance between two rows' baselines (mm).
        footer: height of the white band under the grid (mm).
        header: height of the white band above the grid (mm, 0 without a title).
    """

    seconds: float
    column_seconds: float
    paper_speed: float
    amplitude_gain: float
    trace_x0: float
    grid_width: float
    grid_height: float
    row_height: float
    footer: float
    header: float

    @property
    def width_mm(self) -> float:
        return self.grid_width

    @property
    def height_mm(self) -> float:
        return self.footer + self.grid_height + self.header

    def baseline(self, row: int) -> float:
        """y (mm) of the 0 mV line of ``row`` (0 = top row, 3 = rhythm strip)."""
        return self.grid_height - (row + 0.5) * self.row_height

    def x_of_time(self, seconds: np.ndarray | float) -> np.ndarray | float:
        """Paper x (mm) of a time in seconds from the start of the record."""
        return self.trace_x0 + np.asarray(seconds) * self.paper_speed

    def pixel_size(self, dpi: float) -> Tuple[int, int]:
        """(width, height) in pixels of the PNG saved at ``dpi`` (Agg truncates, as here)."""
        return (int((self.width_mm / MM_PER_INCH) * dpi), int((self.height_mm / MM_PER_INCH) * dpi))


def paper_layout(
    num_samples: int,
    sampling_rate: float,
    *,
    max_seconds: Optional[float] = 10.0,
    paper_speed: float = 25.0,
    amplitude_gain: float = 10.0,
    row_height_mm: float = 30.0,
    title: bool = False,
) -> PaperLayout:
    """Compute the page geometry for a record of ``num_samples`` samples at ``sampling_rate`` Hz.

    Only the first ``max_seconds`` seconds are drawn (all of it when ``None``).
    """
    for name, value in (("sampling_rate", sampling_rate), ("paper_speed", paper_speed),
                        ("amplitude_gain", amplitude_gain), ("row_height_mm", row_height_mm)):
        if not (isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    if max_seconds is not None and not (math.isfinite(max_seconds) and max_seconds > 0):
        raise ValueError(f"max_seconds must be positive or None, got {max_seconds!r}")
    seconds = num_samples / float(sampling_rate)
    if max_seconds is not None:
        seconds = min(seconds, float(max_seconds))
    trace_width = seconds * paper_speed
    grid_width = 5.0 * math.ceil((_CALIBRATION_MARGIN_MM + trace_width + _RIGHT_MARGIN_MM) / 5.0)
    rows = len(STANDARD_LAYOUT) + 1
    grid_height = 5.0 * math.ceil(rows * row_height_mm / 5.0)
    return PaperLayout(
        seconds=seconds,
        column_seconds=seconds / len(STANDARD_LAYOUT[0]),
        paper_speed=float(paper_speed),
        amplitude_gain=float(amplitude_gain),
        trace_x0=_CALIBRATION_MARGIN_MM,
        grid_width=grid_width,
        grid_height=grid_height,
        row_height=grid_height / rows,
        footer=_FOOTER_BAND_MM,
        header=_TITLE_BAND_MM if title else 0.0,
    )


def _check_signal(signal: np.ndarray, sampling_rate: float, lead_names: Sequence[str]) -> np.ndarray:
    """Validate a ``(C, L)`` signal in mV and return it as float64."""
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 2:
        raise ValueError(f"signal must have shape (leads, samples), got {signal.shape}")
    if signal.shape[0] != len(lead_names):
        raise ValueError(f"signal has {signal.shape[0]} leads but {len(lead_names)} lead names were given")
    columns = len(STANDARD_LAYOUT[0])
    if signal.shape[1] < 2 * columns:
        raise ValueError(f"signal has {signal.shape[1]} samples; at least {2 * columns} are needed to draw 4 columns")
    bad = [str(name) for name, row in zip(lead_names, signal) if not np.all(np.isfinite(row))]
    if bad:
        raise ValueError(f"signal contains NaN or infinite values in lead(s) {', '.join(bad)}")
    return signal


def _draw_grid(ax, layout: PaperLayout) -> None:
    """1 mm minor and 5 mm major lines over the gridded area (y from 0 to grid_height)."""
    width, height = layout.grid_width, layout.grid_height
    xs = np.arange(0, int(round(width)) + 1)
    ys = np.arange(0, int(round(height)) + 1)
    for major, color, lw, gid, z in ((False, MINOR_GRID_COLOR, 0.35, "grid-minor", 0),
                                     (True, MAJOR_GRID_COLOR, 0.7, "grid-major", 1)):
        keep_x = xs[(xs % 5 == 0) == major]
        keep_y = ys[(ys % 5 == 0) == major]
        segments = [((x, 0.0), (x, height)) for x in keep_x] + [((0.0, y), (width, y)) for y in keep_y]
        collection = LineCollection(segments, colors=color, linewidths=lw, zorder=z)
        collection.set_gid(gid)
        ax.add_collection(collection)


def _draw_calibration(ax, layout: PaperLayout, baseline: float, color: str, line_width: float) -> None:
    """A 1 mV high, 200 ms wide rectangular pulse left of the traces of one row."""
    height = CALIBRATION_MV * layout.amplitude_gain
    width = CALIBRATION_SECONDS * layout.paper_speed
    start = (layout.trace_x0 - width) / 2.0
    xs = [start - 1.5, start, start, start + width, start + width, start + width + 1.5]
    ys = [baseline, baseline, baseline + height, baseline + height, baseline, baseline]
    (line,) = ax.plot(xs, ys, color=color, linewidth=line_width, zorder=3, solid_joinstyle="miter")
    line.set_gid("calibration")


def _excursion_fits(values: np.ndarray, baseline: float, layout: PaperLayout, gain: float) -> bool:
    """Whether ``values`` (mV) drawn at ``gain`` mm/mV stay within a row height of ``baseline`` and inside the grid."""
    top = min(baseline + layout.row_height, layout.grid_height)
    bottom = max(baseline - layout.row_height, 0.0)
    y = baseline + values * gain
    return bool(y.max() <= top and y.min() >= bottom)


def choose_gain(segments: List[Tuple[np.ndarray, float]], layout: PaperLayout,
                gains: Sequence[float] = AUTO_GAINS) -> float:
    """The largest of ``gains`` (mm/mV) at which every ``(values mV, baseline mm)`` segment fits; else the smallest."""
    for gain in gains:
        if all(_excursion_fits(values, baseline, layout, gain) for values, baseline in segments):
            return float(gain)
    return float(min(gains))


def _draw_trace(ax, layout: PaperLayout, values: np.ndarray, start: int, sampling_rate: float,
                baseline: float, name: str, color: str, line_width: float) -> bool:
    """Draw ``values`` (mV) that begin at sample ``start`` on a row, with the lead label.

    Samples beyond the grid are drawn at its edge in :data:`CLIPPED_COLOR` (gid ``"clipped-<lead>"``) and
    the label says so.  Returns whether anything was clipped.
    """
    t = (start + np.arange(values.shape[0])) / sampling_rate
    x = layout.x_of_time(t)
    raw = baseline + values * layout.amplitude_gain
    y = np.clip(raw, 0.0, layout.grid_height)
    (line,) = ax.plot(x, y, color=color, linewidth=line_width, zorder=3)
    line.set_gid(f"trace-{name}")
    clipped = raw != y
    if clipped.any():
        (marks,) = ax.plot(np.where(clipped, x, np.nan), np.where(clipped, y, np.nan), color=CLIPPED_COLOR,
                           linewidth=2.0 * line_width, zorder=4)
        marks.set_gid(f"clipped-{name}")
    label_y = baseline + 0.3 * layout.row_height
    text = ax.text(x[0] + 1.0, label_y, name + (" (clipped)" if clipped.any() else ""), fontsize=9,
                   fontweight="bold", ha="left", va="bottom", zorder=4,
                   color=CLIPPED_COLOR if clipped.any() else "black",
                   bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.6, "pad": 0.5})
    text.set_gid(f"label-{name}")
    return bool(clipped.any())


def plot_ecg(
    signal: np.ndarray,
    sampling_rate: float,
    lead_names: Sequence[str] = STANDARD_LEADS,
    title: Optional[str] = None,
    *,
    rhythm_lead: str = "II",
    max_seconds: Optional[float] = 10.0,
    paper_speed: float = 25.0,
    amplitude_gain: Union[float, str] = "auto",
    row_height_mm: float = 30.0,
    dpi: float = 100.0,
    line_width: float = 0.7,
    color: str = "black",
) -> Figure:
    """Draw a 12-lead ECG on ECG paper and return the Matplotlib figure.

    Args:
        signal: ``(C, L)`` array in millivolts; ``C`` leads named by ``lead_names`` that must
            include the 12 standard leads (any order, any capitalisation); ``L`` samples.
        sampling_rate: samples per second (Hz).
        lead_names: names of the ``C`` rows of ``signal``.
        title: text printed above the grid (e.g. the statements), or ``None``.
        rhythm_lead: lead drawn over the full duration under the 3 x 4 block.
        max_seconds: only the first ``max_seconds`` s are drawn (``None``: all of it).
        paper_speed: mm per second (25 is the clinical standard).
        amplitude_gain: mm per millivolt, or ``"auto"`` (default): the largest of
            :data:`AUTO_GAINS` (10, 5, 2.5) at which the largest wave fits (:func:`choose_gain`).
            The gain used is printed under the grid (gid ``"scale"``) and set as ``fig.ecg_gain``.
        row_height_mm: distance between two rows' baselines in mm (rounded so that the grid
            ends on a 5 mm line).
        dpi: resolution of the figure; the page size in inches is the paper size.
        line_width: trace line width in points.
        color: trace colour.

    Returns:
        A :class:`matplotlib.figure.Figure` with an Agg canvas (not registered with pyplot).
        Artists carry gids for inspection: ``"grid-minor"``, ``"grid-major"``,
        ``"calibration"``, ``"trace-<lead>"``, ``"label-<lead>"``, ``"rhythm-<lead>"``,
        ``"clipped-<lead>"`` (samples drawn at the grid edge, in red) and ``"scale"``;
        ``fig.ecg_gain`` is the gain in mm/mV and ``fig.ecg_clipped`` the leads with clipped samples.

    Raises:
        ValueError: wrong shape, missing standard lead, NaN/inf samples, bad scale settings.
    """
    lead_names = list(lead_names)
    signal = _check_signal(signal, sampling_rate, lead_names)
    twelve = select_leads(signal, lead_names, STANDARD_LEADS)  # (12, L) in STANDARD_LEADS order
    rhythm = select_leads(signal, lead_names, [rhythm_lead])[0]
    by_name: Dict[str, np.ndarray] = dict(zip(STANDARD_LEADS, twelve))

    auto = isinstance(amplitude_gain, str)
    if auto and amplitude_gain != "auto":
        raise ValueError(f"amplitude_gain must be a positive number of mm/mV or 'auto', got {amplitude_gain!r}")
    layout = paper_layout(signal.shape[1], sampling_rate, max_seconds=max_seconds, paper_speed=paper_speed,
                          amplitude_gain=AUTO_GAINS[0] if auto else amplitude_gain, row_height_mm=row_height_mm,
                          title=bool(title))
    num = int(round(layout.seconds * sampling_rate))  # samples drawn
    columns = len(STANDARD_LAYOUT[0])
    bounds = [int(round(c * num / columns)) for c in range(columns + 1)]
    if auto:
        segments = [(by_name[name][bounds[col]:bounds[col + 1]], layout.baseline(row))
                    for row, names in enumerate(STANDARD_LAYOUT) for col, name in enumerate(names)]
        segments.append((rhythm[:num], layout.baseline(len(STANDARD_LAYOUT))))
        layout = dataclasses.replace(layout, amplitude_gain=choose_gain(segments, layout))

    fig = Figure(figsize=(layout.width_mm / MM_PER_INCH, layout.height_mm / MM_PER_INCH), dpi=dpi,
                 facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0.0, layout.width_mm)
    ax.set_ylim(-layout.footer, layout.grid_height + layout.header)
    ax.set_axis_off()
    _draw_grid(ax, layout)

    clipped: List[str] = []
    for row, names in enumerate(STANDARD_LAYOUT):
        baseline = layout.baseline(row)
        _draw_calibration(ax, layout, baseline, color, line_width)
        for col, name in enumerate(names):
            lo, hi = bounds[col], bounds[col + 1]
            if _draw_trace(ax, layout, by_name[name][lo:hi], lo, sampling_rate, baseline, name, color, line_width):
                clipped.append(name)
            if col > 0:  # short divider where two leads meet
                x = layout.x_of_time(lo / sampling_rate)
                ax.plot([x, x], [baseline - 2.5, baseline + 2.5], color=color, linewidth=line_width, zorder=3)
    rhythm_row = len(STANDARD_LAYOUT)
    baseline = layout.baseline(rhythm_row)
    _draw_calibration(ax, layout, baseline, color, line_width)
    rhythm_clipped = _draw_trace(ax, layout, rhythm[:num], 0, sampling_rate, baseline, rhythm_lead, color, line_width)
    next(a for a in reversed(ax.lines) if a.get_gid() == f"trace-{rhythm_lead}").set_gid(f"rhythm-{rhythm_lead}")
    if rhythm_clipped:
        clipped.append(f"rhythm {rhythm_lead}")

    gain = layout.amplitude_gain
    scale = f"{paper_speed:g} mm/s   {gain:g} mm/mV   {sampling_rate:g} Hz   {layout.seconds:g} s"
    if gain != 10.0:
        scale += "   (gain reduced to fit)" if auto else "   (gain set by caller)"
    if clipped:
        scale += f"   CLIPPED: {', '.join(clipped)}"
    text = ax.text(layout.grid_width - 2.0, -layout.footer / 2.0, scale, fontsize=8, ha="right", va="center",
                   color=CLIPPED_COLOR if clipped else "black")
    text.set_gid("scale")
    fig.ecg_gain, fig.ecg_clipped = gain, clipped
    if title:
        ax.text(2.0, layout.grid_height + layout.header / 2.0, title, fontsize=10, ha="left", va="center")
    return fig


def figure_to_png_bytes(fig: Figure, dpi: Optional[float] = None) -> bytes:
    """Render ``fig`` to PNG bytes (at ``dpi``, default the figure's own)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi if dpi is not None else fig.dpi, facecolor=fig.get_facecolor())
    return buffer.getvalue()


def save_ecg_png(
    signal: np.ndarray,
    path: str | os.PathLike,
    sampling_rate: float,
    lead_names: Sequence[str] = STANDARD_LEADS,
    title: Optional[str] = None,
    **kwargs,
) -> str:
    """Draw ``signal`` (``(C, L)`` mV) with :func:`plot_ecg` and write it atomically as a PNG.

    Extra keyword arguments go to :func:`plot_ecg`.  Returns the path written.
    """
    fig = plot_ecg(signal, sampling_rate, lead_names, title, **kwargs)
    data = figure_to_png_bytes(fig)
    path = os.fspath(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return path
