"""Physiological plausibility: fiducial measurements and real-vs-synthetic distances.

Every record is delineated with :mod:`sssd_hf.evaluation.delineation` (a small segmentation network
applied to all standard leads together, validated against cardiologists' annotations of LUDB; the same
measurements as ``sssd-ecg measure``), giving per-record values of

======================  ======  ==========================================================
feature                 unit    definition
======================  ======  ==========================================================
``heart_rate``          bpm     60000 / mean RR interval (RR = successive QRS onsets)
``rr_sdnn``             ms      standard deviation of the RR intervals
``rr_rmssd``            ms      root mean square of successive RR differences
``pr_interval``         ms      median over beats of P onset -> QRS onset (NaN unless at
                                least half of the beats have a P wave)
``qrs_duration``        ms      median over beats of QRS onset -> QRS offset
``qt_interval``         ms      median over beats of QRS onset -> T offset
``qtc_bazett``          ms      QT / sqrt(mean RR in s)
``r_amplitude_<lead>``  mV      per lead: median over beats of the maximum within the QRS
                                complex minus the lead's median (baseline)
======================  ======  ==========================================================

Nothing is dropped silently: every record gets a ``status`` (``ok``, ``no_r_peaks`` when fewer
than 3 QRS complexes are found, ``delineation_failed``), and per-feature counts of missing values are
reported next to the distances.  Distributions are compared per statement with the 1-Wasserstein
distance (in the feature's unit, and divided by the real interquartile range) and the two-sample
Kolmogorov-Smirnov statistic.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from .data import ECGSet

#: Interval features (lead-independent) and their units.
INTERVAL_FEATURES: Dict[str, str] = {
    "heart_rate": "bpm",
    "rr_sdnn": "ms",
    "rr_rmssd": "ms",
    "pr_interval": "ms",
    "qrs_duration": "ms",
    "qt_interval": "ms",
    "qtc_bazett": "ms",
}
STATUSES: Tuple[str, ...] = ("ok", "no_r_peaks", "delineation_failed")


def feature_names(lead_names: Sequence[str]) -> List[str]:
    """All feature columns: the interval features then ``r_amplitude_<lead>`` for each lead."""
    return list(INTERVAL_FEATURES) + [f"r_amplitude_{lead}" for lead in lead_names]


def feature_unit(name: str) -> str:
    """Unit of a feature column (``"ms"``, ``"bpm"`` or ``"mV"``)."""
    return INTERVAL_FEATURES.get(name, "mV")


def _r_amplitudes(signal: np.ndarray, beats, sampling_rate: float) -> np.ndarray:
    """(C, L) mV and delineated beats (times in ms) -> (C,) median over beats of the maximum within
    the QRS complex (widened by half a sample each side) above the lead's median."""
    baseline = np.median(signal, axis=1)
    length = signal.shape[1]
    heights = []
    for beat in beats:
        start = max(0, int(np.floor(beat.qrs_onset * sampling_rate / 1000.0)))
        stop = min(length, int(np.ceil(beat.qrs_offset * sampling_rate / 1000.0)) + 1)
        if stop > start:
            heights.append(signal[:, start:stop].max(axis=1))
    return np.median(np.stack(heights), axis=0) - baseline


def detect_r_peaks(lead: np.ndarray, sampling_rate: float) -> Tuple[Optional[np.ndarray], np.ndarray, str]:
    """R peaks of one lead (``(L,)`` mV) with NeuroKit2 (``ecg_clean`` then ``ecg_peaks``).

    Returns ``(cleaned lead or None, peak sample indices (int64), error message or "")``; NeuroKit2's
    assorted errors on flat or odd signals become an empty peak array and the message.
    """
    import neurokit2 as nk

    rate = int(round(sampling_rate))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            cleaned = nk.ecg_clean(np.asarray(lead, dtype=np.float64), sampling_rate=rate)
            _, info = nk.ecg_peaks(cleaned, sampling_rate=rate)
        except Exception as exc:
            return None, np.zeros(0, dtype=np.int64), f"{type(exc).__name__}: {exc}"
    return cleaned, np.asarray(info["ECG_R_Peaks"], dtype=np.int64), ""


def _check_delineation_lead(lead_names: Sequence[str], delineation_lead: str) -> None:
    if delineation_lead not in list(lead_names):
        raise ValueError(f"delineation lead {delineation_lead!r} is not among the leads {list(lead_names)}")


def _row_from_delineation(signal: np.ndarray, sampling_rate: float, lead_names: Sequence[str],
                          result: Optional["Delineation"], error: str = "") -> Dict[str, object]:  # noqa: F821
    from .delineation import intervals

    row: Dict[str, object] = {name: float("nan") for name in feature_names(lead_names)}
    row.update(status="ok", error="")
    if result is None:
        row.update(status="delineation_failed", error=error)
        return row
    if len(result.beats) < 3:
        reason = "every lead is flat" if not result.leads_used else f"{len(result.beats)} QRS complex(es) found"
        row.update(status="no_r_peaks", error=reason)
        return row
    measured = intervals(result)
    rr = np.asarray(measured["rr_ms"], dtype=np.float64)
    row["heart_rate"] = measured["heart_rate_bpm"]
    row["rr_sdnn"] = float(rr.std(ddof=1)) if rr.size > 1 else float("nan")
    row["rr_rmssd"] = float(np.sqrt(np.mean(np.diff(rr) ** 2))) if rr.size > 1 else float("nan")
    row["pr_interval"] = measured["pr_ms"]
    row["qrs_duration"] = measured["qrs_ms"]
    row["qt_interval"] = measured["qt_ms"]
    row["qtc_bazett"] = measured["qtc_ms"]
    amplitudes = _r_amplitudes(np.asarray(signal, np.float64), result.beats, sampling_rate)
    for lead_name, value in zip(lead_names, amplitudes):
        row[f"r_amplitude_{lead_name}"] = float(value)
    return row


def measure_many(signals: np.ndarray, sampling_rate: float, lead_names: Sequence[str],
                 delineation_lead: str = "II") -> List[Dict[str, object]]:
    """:func:`measure_record` of each of ``signals`` ``(N, C, L)`` mV, delineated in one batch.

    Records that cannot be delineated at all (NaN samples, too short) get status ``delineation_failed``
    and the reason in ``error``; the others are measured together.
    """
    from .delineation import delineate_many, validate_record

    lead_names = list(lead_names)
    _check_delineation_lead(lead_names, delineation_lead)
    rows: List[Optional[Dict[str, object]]] = [None] * len(signals)
    good = []
    for i, signal in enumerate(signals):
        try:
            validate_record(signal, sampling_rate)
            good.append(i)
        except ValueError as exc:
            rows[i] = _row_from_delineation(signal, sampling_rate, lead_names, None, str(exc))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = delineate_many([signals[i] for i in good], sampling_rate, lead_names) if good else []
    for i, result in zip(good, results):
        rows[i] = _row_from_delineation(signals[i], sampling_rate, lead_names, result)
    return rows


def measure_record(
    signal: np.ndarray,
    sampling_rate: float,
    lead_names: Sequence[str],
    delineation_lead: str = "II",
) -> Dict[str, object]:
    """Fiducial measurements of one ECG (all its leads delineated together).

    Args:
        signal: (C, L) millivolts.
        sampling_rate: Hz.
        lead_names: the C lead names; ``delineation_lead`` must be one of them (it is the reference lead
            of the report; the delineation itself uses every lead that is not flat).

    Returns:
        ``{feature: value or NaN, "status": one of STATUSES, "error": message or ""}``.
    """
    return measure_many(np.asarray(signal)[None], sampling_rate, lead_names, delineation_lead)[0]


def _measure_chunk(args) -> List[Dict[str, object]]:
    signals, sampling_rate, lead_names, delineation_lead = args
    return measure_many(signals, sampling_rate, lead_names, delineation_lead)


def measure_records(
    ecgs: ECGSet,
    delineation_lead: str = "II",
    num_workers: int = 0,
    chunk_size: int = 32,
    desc: Optional[str] = None,
) -> pd.DataFrame:
    """Measurements of every record of ``ecgs`` (one row per record, columns of :func:`feature_names`
    plus ``status`` and ``error``), with a progress bar; ``num_workers`` > 0 uses processes."""
    _check_delineation_lead(ecgs.lead_names, delineation_lead)
    chunks = [(ecgs.signal[i: i + chunk_size], ecgs.sampling_rate, ecgs.lead_names, delineation_lead)
              for i in range(0, len(ecgs), chunk_size)]
    rows: List[Dict[str, object]] = []
    bar = tqdm(total=len(ecgs), desc=desc or f"delineate {ecgs.name}", disable=None)
    if num_workers > 0:
        with ProcessPoolExecutor(num_workers) as pool:
            for chunk_rows in pool.map(_measure_chunk, chunks):
                rows += chunk_rows
                bar.update(len(chunk_rows))
    else:
        for chunk in chunks:
            rows += _measure_chunk(chunk)
            bar.update(len(chunk[0]))
    bar.close()
    return pd.DataFrame(rows, columns=feature_names(ecgs.lead_names) + ["status", "error"])


def failure_summary(measurements: pd.DataFrame) -> Dict[str, object]:
    """Counts of records by status and of missing values by feature."""
    features = [c for c in measurements.columns if c not in ("status", "error")]
    return {
        "n_records": int(len(measurements)),
        "status": {s: int((measurements["status"] == s).sum()) for s in STATUSES},
        "missing": {f: int(measurements[f].isna().sum()) for f in features},
    }


def distribution_distance(real: np.ndarray, synthetic: np.ndarray) -> Dict[str, Optional[float]]:
    """Distances between two samples of one feature (NaNs ignored).

    Returns ``{"n_real", "n_synthetic", "real_median", "synthetic_median", "wasserstein",
    "wasserstein_iqr" (divided by the real interquartile range), "ks_statistic", "ks_pvalue"}``;
    distances are None when either sample has fewer than 2 values.
    """
    real = np.asarray(real, dtype=np.float64)
    synthetic = np.asarray(synthetic, dtype=np.float64)
    real, synthetic = real[np.isfinite(real)], synthetic[np.isfinite(synthetic)]
    out: Dict[str, Optional[float]] = {
        "n_real": int(real.size), "n_synthetic": int(synthetic.size),
        "real_median": float(np.median(real)) if real.size else None,
        "synthetic_median": float(np.median(synthetic)) if synthetic.size else None,
        "wasserstein": None, "wasserstein_iqr": None, "ks_statistic": None, "ks_pvalue": None,
    }
    if real.size < 2 or synthetic.size < 2:
        return out
    w = float(stats.wasserstein_distance(real, synthetic))
    iqr = float(np.subtract(*np.percentile(real, [75, 25])))
    with warnings.catch_warnings():  # "exact calculation unsuccessful, switching to asymp" on ties
        warnings.simplefilter("ignore", RuntimeWarning)
        ks = stats.ks_2samp(real, synthetic)
    out.update(wasserstein=w, wasserstein_iqr=w / iqr if iqr > 0 else None,
               ks_statistic=float(ks.statistic), ks_pvalue=float(ks.pvalue))
    return out


def compare_measurements(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    real_labels: Optional[ECGSet] = None,
    synthetic_labels: Optional[ECGSet] = None,
    statements: Sequence[str] = (),
    min_records: int = 5,
) -> Dict[str, Dict[str, Dict]]:
    """Per-group, per-feature distances between real and synthetic measurements.

    Groups are ``"all"`` and each of ``statements`` (records carrying that statement, taken from
    ``real_labels`` / ``synthetic_labels`` which must be row-aligned with the measurements);
    a statement with fewer than ``min_records`` records on either side is skipped (and listed
    under ``"skipped"``).  Returns ``{"groups": {group: {feature: distribution_distance}},
    "skipped": {statement: reason}}``.
    """
    features = [c for c in real.columns if c not in ("status", "error")]
    groups = {"all": (np.ones(len(real), bool), np.ones(len(synthetic), bool))}
    skipped: Dict[str, str] = {}
    for code in statements:
        r_mask = _statement_mask(real_labels, code, len(real))
        s_mask = _statement_mask(synthetic_labels, code, len(synthetic))
        if r_mask.sum() < min_records or s_mask.sum() < min_records:
            skipped[code] = f"{int(r_mask.sum())} real and {int(s_mask.sum())} synthetic records (< {min_records})"
            continue
        groups[code] = (r_mask, s_mask)
    result = {
        name: {f: distribution_distance(real.loc[r, f].to_numpy(), synthetic.loc[s, f].to_numpy()) for f in features}
        for name, (r, s) in groups.items()
    }
    return {"groups": result, "skipped": skipped}


def _statement_mask(labels: Optional[ECGSet], code: str, n: int) -> np.ndarray:
    if labels is None or len(labels) != n:
        raise ValueError(f"per-statement comparison needs labels aligned with the {n} measured records")
    if code not in labels.label_names:
        return np.zeros(n, bool)
    return labels.labels[:, labels.label_names.index(code)].astype(bool)


def summarize_distances(comparison: Dict, group: str = "all") -> Dict[str, Optional[float]]:
    """Mean over features of ``wasserstein_iqr`` and ``ks_statistic`` for one group (None if none defined)."""
    rows = comparison["groups"].get(group, {})

    def mean(key):
        values = [d[key] for d in rows.values() if d[key] is not None]
        return float(np.mean(values)) if values else None

    return {"mean_wasserstein_iqr": mean("wasserstein_iqr"), "mean_ks_statistic": mean("ks_statistic")}
