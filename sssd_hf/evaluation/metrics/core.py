"""Per-statement classification metrics with bootstrap confidence intervals (NumPy/SciPy only).

The three metrics of the SSSD-ECG papers, computed per statement (label column) and
macro-averaged over the statements where they are defined:

- ROC-AUC from scores, via the Mann-Whitney U statistic with average ranks for ties (identical to
  scikit-learn's ``roc_auc_score``); undefined (NaN) for a statement whose references are all
  positive or all negative.
- F1 = 2 TP / (2 TP + FP + FN) from thresholded scores; undefined when a statement is absent from
  both references and predictions.
- G-mean = sqrt(sensitivity x specificity) from thresholded scores; undefined when a statement has
  no positive or no negative references.

Confidence intervals use the percentile bootstrap over records: records are resampled with
replacement ``n_bootstrap`` times, the metric is recomputed, and the ``(1 - confidence) / 2`` and
``(1 + confidence) / 2`` quantiles are reported.  The ``evaluate`` modules next to this file wrap
these functions; the training code calls them through those modules.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence

import numpy as np
from scipy.stats import rankdata

PerLabelFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def as_label_matrix(references, predictions, label_names: Optional[Sequence[str]] = None):
    """Validate inputs; return ``(references (N, K) int, predictions (N, K) float, label_names)``.

    One-dimensional inputs are one binary statement (K = 1).
    """
    refs = np.asarray(references, dtype=np.float64)
    preds = np.asarray(predictions, dtype=np.float64)
    if refs.ndim == 1:
        refs = refs[:, None]
    if preds.ndim == 1:
        preds = preds[:, None]
    if refs.ndim != 2 or refs.shape != preds.shape:
        raise ValueError(
            f"references {np.shape(references)} and predictions {np.shape(predictions)} "
            "must have the same shape (N,) or (N, K)"
        )
    if refs.shape[0] == 0:
        raise ValueError("no records: references and predictions are empty")
    if not np.isfinite(preds).all():
        raise ValueError("predictions contain NaN or infinite values")
    if not np.isin(refs, (0, 1)).all():
        raise ValueError("references must be 0/1 (multi-hot or binary labels)")
    if label_names is None:
        label_names = [str(k) for k in range(refs.shape[1])]
    label_names = list(label_names)
    if len(label_names) != refs.shape[1]:
        raise ValueError(f"{len(label_names)} label names for {refs.shape[1]} label columns")
    return refs.astype(np.int64), preds, label_names


def roc_auc_per_label(references: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC-AUC of each column: (N, K) 0/1 references and (N, K) scores -> (K,), NaN if undefined."""
    positives = references.sum(axis=0).astype(np.float64)
    negatives = references.shape[0] - positives
    ranks = rankdata(scores, axis=0)  # average ranks for ties
    rank_sum = (ranks * references).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
    auc[(positives == 0) | (negatives == 0)] = np.nan
    return auc


def _confusion(references: np.ndarray, predicted: np.ndarray):
    tp = (references & predicted).sum(axis=0).astype(np.float64)
    fp = (~references.astype(bool) & predicted.astype(bool)).sum(axis=0).astype(np.float64)
    fn = (references.astype(bool) & ~predicted.astype(bool)).sum(axis=0).astype(np.float64)
    tn = references.shape[0] - tp - fp - fn
    return tp, fp, fn, tn


def f1_per_label(references: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """F1 of each column from 0/1 references and 0/1 predictions, (N, K) -> (K,); NaN if undefined."""
    tp, fp, fn, _ = _confusion(references, predicted)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), np.nan)


def g_mean_per_label(references: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """sqrt(sensitivity * specificity) of each column, (N, K) -> (K,); NaN if undefined."""
    tp, fp, fn, tn = _confusion(references, predicted)
    with np.errstate(invalid="ignore", divide="ignore"):
        sensitivity = tp / (tp + fn)
        specificity = tn / (tn + fp)
        return np.sqrt(sensitivity * specificity)


def threshold(scores: np.ndarray, value: float) -> np.ndarray:
    """0/1 predictions ``scores >= value`` (scores in [0, 1], e.g. sigmoid probabilities)."""
    return (scores >= value).astype(np.int64)


def _macro(per_label: np.ndarray) -> float:
    defined = per_label[~np.isnan(per_label)]
    return float(defined.mean()) if defined.size else float("nan")


def _interval(values: np.ndarray, confidence: float) -> list:
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return [None, None]
    lo, hi = np.quantile(defined, [(1 - confidence) / 2, (1 + confidence) / 2])
    return [float(lo), float(hi)]


def _none_if_nan(x: float):
    return None if x is None or np.isnan(x) else float(x)


def bootstrap_metric(
    name: str,
    per_label_fn: PerLabelFn,
    references: np.ndarray,
    predictions: np.ndarray,
    label_names: Sequence[str],
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Dict:
    """Per-label and macro values of ``per_label_fn`` with percentile-bootstrap intervals.

    Args:
        name: key of the macro value in the result, e.g. ``"roc_auc"``.
        per_label_fn: ``(references (N, K), predictions (N, K)) -> (K,)`` with NaN where undefined.
        references, predictions: (N, K) arrays as accepted by ``per_label_fn``.
        n_bootstrap: number of resamples (0 for no intervals).
        confidence: coverage of the intervals, in (0, 1).

    Returns:
        ``{name: macro, name + "_ci": [lo, hi] | None, "per_label": {code: {name, "ci", "positives"}},
        "n_defined": int, "n_records": N, "n_bootstrap": B, "confidence": c, "skipped": {code: reason}}``;
        undefined values are ``None`` (JSON null) and their statements are left out of the macro
        average, each named in ``"skipped"`` with the reason (no positive / no negative records).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n_bootstrap < 0:
        raise ValueError(f"n_bootstrap must be >= 0, got {n_bootstrap}")
    values = per_label_fn(references, predictions)
    result = {name: _none_if_nan(_macro(values)), f"{name}_ci": None, "per_label": {},
              "n_defined": int((~np.isnan(values)).sum()), "n_records": int(references.shape[0]),
              "n_bootstrap": int(n_bootstrap), "confidence": float(confidence)}
    label_ci = [None] * len(label_names)
    if n_bootstrap:
        rng = np.random.default_rng(seed)
        n = references.shape[0]
        samples = np.empty((n_bootstrap, references.shape[1]))
        for b in range(n_bootstrap):
            idx = rng.integers(0, n, n)
            samples[b] = per_label_fn(references[idx], predictions[idx])
        macros = np.array([_macro(row) for row in samples])
        result[f"{name}_ci"] = _interval(macros, confidence)
        label_ci = [_interval(samples[:, k], confidence) for k in range(samples.shape[1])]
    positives = references.sum(axis=0)
    result["skipped"] = {}
    for k, code in enumerate(label_names):
        result["per_label"][code] = {name: _none_if_nan(values[k]), "ci": label_ci[k], "positives": int(positives[k])}
        if np.isnan(values[k]):
            result["skipped"][code] = ("no positive records" if positives[k] == 0 else "no negative records"
                                       if positives[k] == references.shape[0] else "undefined on these records")
    return result


#: The metrics by name: ``(per-label function, needs thresholded predictions)``.
METRICS: Dict[str, tuple] = {
    "roc_auc": (roc_auc_per_label, False),
    "f1": (f1_per_label, True),
    "g_mean": (g_mean_per_label, True),
}


def compute_metric(
    name: str,
    references,
    predictions,
    label_names: Optional[Sequence[str]] = None,
    threshold_value: float = 0.5,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Dict:
    """Compute metric ``name`` (``"roc_auc"``, ``"f1"`` or ``"g_mean"``) with bootstrap intervals.

    ``predictions`` are scores in [0, 1] (probabilities); F1 and G-mean threshold them at
    ``threshold_value`` (hard 0/1 predictions pass through unchanged with the default 0.5).
    """
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose from {sorted(METRICS)}")
    fn, needs_threshold = METRICS[name]
    refs, preds, label_names = as_label_matrix(references, predictions, label_names)
    if needs_threshold:
        preds = threshold(preds, threshold_value)
    return bootstrap_metric(name, fn, refs, preds, label_names, n_bootstrap, confidence, seed)
