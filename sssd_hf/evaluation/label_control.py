"""Label control for rate-defined rhythm statements: is an ECG generated for ``SBRAD`` / ``SR`` /
``STACH`` a regular rhythm whose heart rate lies in that statement's definition?

R peaks come from :func:`sssd_hf.evaluation.physiology.detect_r_peaks` (NeuroKit2 cleaning and
peak detection on one lead, lead II by convention); the heart rate is ``60 / mean RR``.  A
detection counts as a *regular rhythm* with at least 4 beats and an RR coefficient of variation of
at most 0.15, because noise yields a few irregular "beats" whose low rate would otherwise pass for
bradycardia.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence

import numpy as np

from ..data.simulated import RATE_DEFINITIONS, rate_in_definition
from .physiology import detect_r_peaks

#: Position of lead II in :data:`sssd_hf.leads.STANDARD_LEADS`.
LEAD_II = 1


@dataclass(frozen=True)
class RhythmMeasurement:
    """R-peak statistics of one lead.

    Attributes:
        heart_rate: ``60 / mean RR`` in bpm (NaN with fewer than 2 R peaks).
        rr_cv: coefficient of variation of the RR intervals (NaN with fewer than 3 R peaks).
        num_beats: R peaks found.
    """

    heart_rate: float
    rr_cv: float
    num_beats: int

    MIN_BEATS = 4
    MAX_RR_CV = 0.15

    @property
    def regular(self) -> bool:
        return self.num_beats >= self.MIN_BEATS and bool(self.rr_cv <= self.MAX_RR_CV)


def measure_rhythm(lead: np.ndarray, sampling_rate: float = 100) -> RhythmMeasurement:
    """Heart rate and RR regularity of one lead (``(L,)`` mV sampled at ``sampling_rate`` Hz)."""
    _, peaks, _ = detect_r_peaks(lead, sampling_rate)
    rr = np.diff(peaks) / sampling_rate
    heart_rate = float(60.0 / rr.mean()) if rr.size >= 1 else float("nan")
    rr_cv = float(rr.std() / rr.mean()) if rr.size >= 2 else float("nan")
    return RhythmMeasurement(heart_rate, rr_cv, int(peaks.size))


def in_range(statement: str, rhythm: RhythmMeasurement) -> bool:
    """A regular rhythm whose rate meets ``statement``'s definition (SBRAD < 60, SR 60-100, STACH > 100 bpm)."""
    return rhythm.regular and bool(np.isfinite(rhythm.heart_rate)) and rate_in_definition(statement, rhythm.heart_rate)


def summarize(statement: str, rhythms: Sequence[RhythmMeasurement]) -> Dict[str, object]:
    """Per-statement label control: ``in_range`` (regular and in the definition), the rate-only
    fraction, the regular fraction and the heart-rate median and 10-90th percentiles (bpm)."""
    if statement not in RATE_DEFINITIONS:
        raise ValueError(f"{statement!r} is not a rate-defined statement; valid: {', '.join(RATE_DEFINITIONS)}")
    rates = np.array([r.heart_rate for r in rhythms], dtype=np.float64)
    rate_ok = [bool(np.isfinite(hr)) and rate_in_definition(statement, hr) for hr in rates]
    finite = rates[np.isfinite(rates)]
    return {
        "statement": statement,
        "n": len(rhythms),
        "in_range": float(np.mean([in_range(statement, r) for r in rhythms])) if rhythms else float("nan"),
        "rate_in_range_any_detection": float(np.mean(rate_ok)) if rhythms else float("nan"),
        "regular_rhythm": float(np.mean([r.regular for r in rhythms])) if rhythms else float("nan"),
        "heart_rate_median": float(np.median(finite)) if finite.size else None,
        "heart_rate_p10_p90": [float(np.percentile(finite, 10)), float(np.percentile(finite, 90))]
        if finite.size
        else None,
    }


def label_control(
    ecgs: np.ndarray, statements: Sequence[str], sampling_rate: float = 100
) -> Dict[str, Dict[str, object]]:
    """:func:`summarize` per rate-defined statement of ``statements`` (one per ECG of
    ``ecgs``, ``(N, 12, L)`` mV in standard lead order); other statements are skipped."""
    if len(ecgs) != len(statements):
        raise ValueError(f"got {len(ecgs)} ECGs but {len(statements)} statements")
    groups: Dict[str, list] = {}
    for ecg, code in zip(ecgs, statements):
        if code in RATE_DEFINITIONS:
            groups.setdefault(code, []).append(measure_rhythm(ecg[LEAD_II], sampling_rate))
    return {code: summarize(code, rhythms) for code, rhythms in groups.items()}
