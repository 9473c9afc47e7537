"""Distances between sets of ECGs in a feature space (the downstream classifier's embedding).

- :func:`frechet_distance`: the Frechet distance between Gaussians fitted to the two sets
  (the construction of the FID), ``|mu_x - mu_y|^2 + tr(C_x + C_y - 2 (C_x C_y)^(1/2))``.
- :func:`mmd`: squared maximum mean discrepancy with a Gaussian kernel whose bandwidth is the
  median pairwise distance of the pooled sample (biased V-statistic: exactly 0 for identical sets).

Both take (N, D) arrays, e.g. :func:`sssd_hf.evaluation.train_classifier.embed` outputs.

:func:`feature_distances` (the report's entry point) computes a statistic only where the sets are
large enough for it: the Frechet distance needs a covariance estimate, so at least
:data:`FRECHET_RECORDS_PER_DIMENSION` times as many records as feature dimensions in each set;
the MMD at least :data:`MIN_MMD_RECORDS` records per set.  Otherwise the value is ``None`` and a
``"<statistic>_not_computed"`` entry says why.  Both come with percentile-bootstrap intervals
(records of both sets resampled).
"""

from __future__ import annotations

import warnings
from typing import Dict, List, Optional

import numpy as np
from scipy import linalg


def _check_features(x: np.ndarray, y: np.ndarray, min_rows: int = 2):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"feature arrays must be (N, D) and (M, D) with the same D, got {x.shape} and {y.shape}")
    if len(x) < min_rows or len(y) < min_rows:
        raise ValueError(f"need at least {min_rows} rows in each feature array, got {len(x)} and {len(y)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("feature arrays contain NaN or infinite values")
    return x, y


def frechet_distance(x: np.ndarray, y: np.ndarray, eps: float = 1e-6) -> float:
    """Frechet distance between Gaussian fits of ``x`` (N, D) and ``y`` (M, D); >= 0, squared units.

    ``eps`` is added to the covariance diagonals when their product has no finite square root
    (singular covariances, e.g. N < D).
    """
    x, y = _check_features(x, y)
    mu_x, mu_y = x.mean(axis=0), y.mean(axis=0)
    cov_x, cov_y = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    with warnings.catch_warnings():  # singular products are handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        root = linalg.sqrtm(cov_x @ cov_y)
        if not np.isfinite(root).all():
            offset = eps * np.eye(cov_x.shape[0])
            root = linalg.sqrtm((cov_x + offset) @ (cov_y + offset))
    root = np.real(root)
    value = float(np.sum((mu_x - mu_y) ** 2) + np.trace(cov_x) + np.trace(cov_y) - 2.0 * np.trace(root))
    return max(value, 0.0)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def _kernel_mean(a: np.ndarray, b: np.ndarray, gamma: float, chunk: int = 2048) -> float:
    total = 0.0
    for i in range(0, len(a), chunk):
        total += np.exp(-gamma * _squared_distances(a[i: i + chunk], b)).sum()
    return total / (len(a) * len(b))


def median_bandwidth(x: np.ndarray, y: np.ndarray, max_points: int = 2000, seed: int = 0) -> float:
    """Median pairwise Euclidean distance of the pooled sample (at most ``max_points`` rows)."""
    pooled = np.concatenate([x, y])
    if len(pooled) > max_points:
        pooled = pooled[np.random.default_rng(seed).choice(len(pooled), max_points, replace=False)]
    d = np.sqrt(_squared_distances(pooled, pooled)[np.triu_indices(len(pooled), 1)])
    positive = d[d > 0]
    return float(np.median(positive)) if positive.size else 1.0


def mmd(
    x: np.ndarray, y: np.ndarray, bandwidth: Optional[float] = None, max_samples: int = 5000, seed: int = 0
) -> Dict[str, float]:
    """Squared MMD between ``x`` (N, D) and ``y`` (M, D) with kernel ``exp(-|a - b|^2 / (2 h^2))``.

    Sets larger than ``max_samples`` are randomly subsampled (seeded).  Returns
    ``{"mmd2": value >= 0, "bandwidth": h, "n_x": rows used, "n_y": rows used}``.
    """
    x, y = _check_features(x, y, min_rows=1)
    rng = np.random.default_rng(seed)
    if len(x) > max_samples:
        x = x[rng.choice(len(x), max_samples, replace=False)]
    if len(y) > max_samples:
        y = y[rng.choice(len(y), max_samples, replace=False)]
    h = float(bandwidth) if bandwidth else median_bandwidth(x, y, seed=seed)
    gamma = 1.0 / (2.0 * h * h)
    value = _kernel_mean(x, x, gamma) + _kernel_mean(y, y, gamma) - 2.0 * _kernel_mean(x, y, gamma)
    return {"mmd2": max(float(value), 0.0), "bandwidth": h, "n_x": int(len(x)), "n_y": int(len(y))}


#: The Frechet distance is computed only with at least this many records per feature dimension in each set.
FRECHET_RECORDS_PER_DIMENSION = 2
#: The MMD is computed only with at least this many records in each set.
MIN_MMD_RECORDS = 10


def _interval(values: List[float], confidence: float) -> Optional[List[float]]:
    if not values:
        return None
    lo, hi = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2])
    return [float(lo), float(hi)]


def feature_distances(
    reference: np.ndarray,
    candidate: np.ndarray,
    seed: int = 0,
    n_bootstrap: int = 0,
    confidence: float = 0.95,
) -> Dict:
    """Frechet distance and MMD² between two (N, D) feature arrays, where the sizes allow them.

    Returns ``{"frechet", "frechet_ci", "mmd2", "mmd2_ci", "bandwidth", "n_reference", "n_candidate",
    "dimensions", "n_bootstrap", "confidence"}`` plus ``"frechet_not_computed"`` / ``"mmd2_not_computed"``
    (the reason, with the minimum) where a value is ``None``.  Intervals resample the rows of both
    arrays ``n_bootstrap`` times (the MMD bandwidth is kept fixed).
    """
    reference, candidate = _check_features(reference, candidate, min_rows=1)
    n, d = min(len(reference), len(candidate)), reference.shape[1]
    out: Dict = {"frechet": None, "frechet_ci": None, "mmd2": None, "mmd2_ci": None, "bandwidth": None,
                 "n_reference": int(len(reference)), "n_candidate": int(len(candidate)), "dimensions": int(d),
                 "n_bootstrap": int(n_bootstrap), "confidence": float(confidence)}
    need = FRECHET_RECORDS_PER_DIMENSION * d
    do_frechet, do_mmd = n >= need, n >= MIN_MMD_RECORDS
    if not do_frechet:
        out["frechet_not_computed"] = (f"needs at least {need} records per set ({FRECHET_RECORDS_PER_DIMENSION} per "
                                       f"feature dimension, {d} dimensions); the smaller set has {n}")
    if not do_mmd:
        out["mmd2_not_computed"] = f"needs at least {MIN_MMD_RECORDS} records per set; the smaller set has {n}"
    if do_frechet:
        out["frechet"] = frechet_distance(reference, candidate)
    if do_mmd:
        first = mmd(reference, candidate, seed=seed)
        out["mmd2"], out["bandwidth"] = first["mmd2"], first["bandwidth"]
    rng = np.random.default_rng(seed)
    frechets, mmds = [], []
    for _ in range(n_bootstrap if (do_frechet or do_mmd) else 0):
        a = reference[rng.integers(0, len(reference), len(reference))]
        b = candidate[rng.integers(0, len(candidate), len(candidate))]
        if do_frechet:
            frechets.append(frechet_distance(a, b))
        if do_mmd:
            mmds.append(mmd(a, b, bandwidth=out["bandwidth"], seed=seed)["mmd2"])
    out["frechet_ci"], out["mmd2_ci"] = _interval(frechets, confidence), _interval(mmds, confidence)
    return out
