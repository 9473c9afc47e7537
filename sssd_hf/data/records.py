"""Turn one WFDB record into fixed-length 12-lead windows, or say why it cannot be used.

Every reader in :mod:`sssd_hf.data` goes through :func:`load_windows`: read the record with
:func:`sssd_hf.data.wfdb_io.read_wfdb_record` (physical units converted to mV), pick the 12
standard leads whatever their capitalisation (``i``, ``avr``, ``AVR``), resample to the
target rate with a polyphase filter, cut windows and check each for NaN, flat lines and
implausible amplitudes.  A record that cannot be used raises :class:`RecordRejected` with a
one-line reason, so that a conversion run can list it in its report and carry on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from typing import List, Optional, Tuple

import numpy as np

from ..leads import STANDARD_LEADS, canonical_lead_name
from .wfdb_io import read_wfdb_record


class RecordRejected(Exception):
    """A record (or window) that cannot become an example; ``str(exc)`` is the reason."""


@dataclass(frozen=True)
class WindowSpec:
    """How records become examples.

    Attributes:
        sampling_rate: target rate in Hz; records at other rates are resampled.
        num_samples: window length in samples at ``sampling_rate`` (1000 = 10 s at 100 Hz).
        stride: samples between window starts; ``None`` takes only the first window.
        max_windows: at most this many windows per record (``None``: all that fit).
        flat_tolerance_mv: a lead whose peak-to-peak amplitude in a window is below this
            (mV) is a flat line.
        max_abs_mv: a window with any ``|sample|`` above this (mV) is rejected as implausible
            (typically a wrong physical unit in the header).
    """

    sampling_rate: float = 100.0
    num_samples: int = 1000
    stride: Optional[int] = None
    max_windows: Optional[int] = 1
    flat_tolerance_mv: float = 0.01
    max_abs_mv: float = 50.0

    def __post_init__(self):
        if self.sampling_rate <= 0 or self.num_samples <= 0:
            raise ValueError(
                f"sampling_rate and num_samples must be positive, got {self.sampling_rate}, {self.num_samples}"
            )
        if self.stride is not None and self.stride <= 0:
            raise ValueError(f"stride must be positive, got {self.stride}")
        if self.max_windows is not None and self.max_windows <= 0:
            raise ValueError(f"max_windows must be positive or None, got {self.max_windows}")


def read_twelve_leads(record_path: str | os.PathLike) -> Tuple[np.ndarray, float]:
    """Read a WFDB record's 12 standard leads.

    Returns ``(signal, sampling_rate)``: ``signal`` is float32 ``(12, N)`` in mV, leads in
    :data:`STANDARD_LEADS` order; other channels (Frank leads, ``MLII``...) are ignored.
    Raises :class:`RecordRejected` for missing or corrupt files, non-voltage units and
    missing or duplicated leads.
    """
    try:
        record = read_wfdb_record(record_path)
    except FileNotFoundError as exc:
        raise RecordRejected(f"missing file: {exc}") from None
    except ValueError as exc:
        raise RecordRejected(str(exc)) from None
    rows = {}
    for index, name in enumerate(record.lead_names):
        try:
            lead = canonical_lead_name(name)
        except ValueError:
            continue  # not one of the 12 standard leads
        if lead in rows:
            raise RecordRejected(f"lead {lead} appears twice ({record.lead_names})")
        rows[lead] = index
    missing = [lead for lead in STANDARD_LEADS if lead not in rows]
    if missing:
        raise RecordRejected(
            f"not a 12-lead ECG: missing lead(s) {', '.join(missing)} (record has {', '.join(record.lead_names)})"
        )
    signal = record.signal[[rows[lead] for lead in STANDARD_LEADS]]
    return np.ascontiguousarray(signal, dtype=np.float32), float(record.sampling_rate)


def resample(signal: np.ndarray, from_rate: float, to_rate: float) -> np.ndarray:
    """Resample ``(C, N)`` samples from ``from_rate`` to ``to_rate`` Hz along the last axis.

    Uses :func:`scipy.signal.resample_poly` (anti-aliasing FIR filter) with the signal
    extended linearly beyond its ends, which keeps the first and last samples free of filter
    transients; the ratio is taken as an exact fraction, e.g. 1000 -> 100 Hz keeps every 10th
    filtered sample.
    """
    ratio = Fraction(to_rate / from_rate).limit_denominator(1000)
    if ratio == 1:
        return signal
    if abs(float(ratio) - to_rate / from_rate) > 1e-6 * to_rate / from_rate:
        raise ValueError(f"cannot resample {from_rate} Hz to {to_rate} Hz with a small integer ratio")
    from scipy.signal import resample_poly

    return resample_poly(signal, ratio.numerator, ratio.denominator, axis=-1, padtype="line").astype(np.float32)


def window_starts(total: int, spec: WindowSpec) -> List[int]:
    """Start samples of the windows of ``spec.num_samples`` that fit in ``total`` samples."""
    last = total - spec.num_samples
    if last < 0:
        return []
    starts = [0] if spec.stride is None else list(range(0, last + 1, spec.stride))
    return starts if spec.max_windows is None else starts[: spec.max_windows]


def check_window(window: np.ndarray, spec: WindowSpec) -> None:
    """Raise :class:`RecordRejected` if a ``(12, L)`` mV window has NaN, a flat lead or an
    implausible amplitude."""
    bad = [STANDARD_LEADS[i] for i in np.flatnonzero(~np.isfinite(window).all(axis=1))]
    if bad:
        raise RecordRejected(f"NaN or infinite samples in lead(s) {', '.join(bad)}")
    flat = [STANDARD_LEADS[i] for i in np.flatnonzero(np.ptp(window, axis=1) < spec.flat_tolerance_mv)]
    if flat:
        raise RecordRejected(f"flat line (peak-to-peak < {spec.flat_tolerance_mv} mV) in lead(s) {', '.join(flat)}")
    peak = float(np.abs(window).max())
    if peak > spec.max_abs_mv:
        raise RecordRejected(f"implausible amplitude {peak:.1f} mV (> {spec.max_abs_mv} mV): check the physical units")


def load_windows(record_path: str | os.PathLike, spec: WindowSpec) -> Tuple[List[Tuple[int, np.ndarray]], List[str]]:
    """Read a record and cut it into checked 12-lead windows.

    Returns ``(windows, dropped)``: ``windows`` lists ``(start, signal)`` with ``start`` in
    samples at ``spec.sampling_rate`` and ``signal`` float32 ``(12, spec.num_samples)`` in mV;
    ``dropped`` gives a reason for each window that failed :func:`check_window`.  Raises
    :class:`RecordRejected` when the record yields no usable window.
    """
    signal, rate = read_twelve_leads(record_path)
    try:
        signal = resample(signal, rate, spec.sampling_rate)
    except ValueError as exc:
        raise RecordRejected(str(exc)) from None
    starts = window_starts(signal.shape[1], spec)
    if not starts:
        raise RecordRejected(
            f"too short: {signal.shape[1] / spec.sampling_rate:.2f} s < "
            f"{spec.num_samples / spec.sampling_rate:.2f} s window"
        )
    windows, dropped = [], []
    for start in starts:
        window = signal[:, start : start + spec.num_samples]
        try:
            check_window(window, spec)
        except RecordRejected as exc:
            dropped.append(f"window at {start / spec.sampling_rate:.2f} s: {exc}")
            continue
        windows.append((start, np.ascontiguousarray(window, dtype=np.float32)))
    if not windows:
        raise RecordRejected(dropped[0] if len(dropped) == 1 else "; ".join(dropped))
    return windows, dropped
