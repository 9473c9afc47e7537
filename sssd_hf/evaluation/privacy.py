"""Privacy audit: does the synthetic set copy its generator's training records?

Distances are Euclidean between whole records (all leads and samples, in millivolts), divided by
sqrt(number of values), i.e. the root-mean-square sample difference in mV.

- **Distance to closest record (DCR).**  For every synthetic ECG, the distance to its nearest
  record of the real training set; the same for every held-out real ECG (test fold), which gives
  the distances expected from a fresh draw of the data distribution.
- **Memorisation rate.**  The fraction of synthetic ECGs closer to the training set than the
  ``alpha`` quantile of the held-out DCRs.  A generator that does not copy scores about ``alpha``;
  the set is *flagged* when the rate exceeds ``flag_factor * alpha`` (an effect size that the
  sampling noise of the quantile on a few thousand held-out records cannot reach) and a one-sided
  binomial test rejects "rate <= alpha" at ``flag_pvalue`` (so that a handful of records cannot).
- **Membership inference (distance threshold).**  An attacker who holds the synthetic set calls a
  candidate a training member when it lies close to some synthetic ECG.  Its ROC-AUC at telling
  training records (members) from held-out records (non-members) is 0.5 without leakage and
  approaches 1 when training records are reproduced.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
import torch
from scipy import stats
from tqdm.auto import tqdm

from .data import ECGSet, check_compatible
from .metrics.core import compute_metric


def flatten(ecgs: ECGSet) -> np.ndarray:
    """(N, C, L) signals -> (N, C * L) float32 rows for distance computations."""
    return ecgs.signal.reshape(len(ecgs), -1)


def nearest_neighbors(
    queries: np.ndarray,
    reference: np.ndarray,
    chunk_size: int = 256,
    device: Optional[str] = None,
    desc: str = "nearest neighbours",
) -> Tuple[np.ndarray, np.ndarray]:
    """Nearest row of ``reference`` (M, D) for each row of ``queries`` (N, D).

    Returns ``(distance (N,), index (N,))`` with distances in RMS units (Euclidean / sqrt(D)).
    Computed in chunks of ``chunk_size`` queries on ``device`` (default: CUDA when available).
    """
    if queries.ndim != 2 or reference.ndim != 2 or queries.shape[1] != reference.shape[1]:
        raise ValueError(f"queries {queries.shape} and reference {reference.shape} must be (N, D) and (M, D)")
    if len(reference) == 0:
        raise ValueError("the reference set is empty")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    ref = torch.as_tensor(reference, dtype=torch.float64, device=device)
    ref_sq = (ref * ref).sum(dim=1)
    distances, indices = [], []
    for start in tqdm(range(0, len(queries), chunk_size), desc=desc, leave=False, disable=None):
        q = torch.as_tensor(queries[start: start + chunk_size], dtype=torch.float64, device=device)
        d2 = (q * q).sum(dim=1, keepdim=True) + ref_sq[None, :] - 2.0 * q @ ref.T
        best, where = d2.clamp_min(0.0).min(dim=1)
        distances.append(best.sqrt().cpu().numpy())
        indices.append(where.cpu().numpy())
    scale = np.sqrt(queries.shape[1])
    return np.concatenate(distances) / scale, np.concatenate(indices)


def memorisation(
    dcr_synthetic: np.ndarray,
    dcr_holdout: np.ndarray,
    alpha: float = 0.05,
    flag_pvalue: float = 0.01,
    flag_factor: float = 2.0,
) -> Dict:
    """Memorisation rate of synthetic DCRs against the ``alpha`` quantile of held-out DCRs.

    Returns ``{"threshold", "alpha", "memorisation_rate", "n_below", "n_synthetic", "pvalue",
    "flagged", "median_dcr_synthetic", "median_dcr_holdout", "dcr_ratio"}`` where ``pvalue`` is the
    one-sided binomial test of ``n_below`` against ``alpha``, ``flagged`` means
    ``rate > flag_factor * alpha and pvalue < flag_pvalue``, and ``dcr_ratio`` is the ratio of the
    medians (about 1 without copying, near 0 for copies).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    threshold = float(np.quantile(dcr_holdout, alpha))
    below = int((dcr_synthetic <= threshold).sum())
    rate = below / len(dcr_synthetic)
    pvalue = float(stats.binomtest(below, len(dcr_synthetic), alpha, alternative="greater").pvalue)
    median_holdout = float(np.median(dcr_holdout))
    median_synthetic = float(np.median(dcr_synthetic))
    return {
        "threshold": threshold, "alpha": alpha, "memorisation_rate": rate, "n_below": below,
        "n_synthetic": int(len(dcr_synthetic)), "pvalue": pvalue, "flagged": bool(rate > flag_factor * alpha and pvalue < flag_pvalue),
        "median_dcr_synthetic": median_synthetic, "median_dcr_holdout": median_holdout,
        "dcr_ratio": median_synthetic / median_holdout if median_holdout > 0 else None,
    }


def membership_inference(
    members: np.ndarray,
    non_members: np.ndarray,
    synthetic: np.ndarray,
    n_bootstrap: int = 1000,
    seed: int = 0,
    device: Optional[str] = None,
) -> Dict:
    """Distance-threshold attack: score = minus the distance to the closest synthetic row.

    Args:
        members: (N1, D) training records; non_members: (N2, D) held-out records;
        synthetic: (M, D) released synthetic records.

    Returns ``{"roc_auc", "roc_auc_ci", "n_members", "n_non_members", "scores", "is_member"}``
    (``scores`` and ``is_member`` are arrays for plotting the ROC curve).
    """
    d_members, _ = nearest_neighbors(members, synthetic, device=device, desc="attack: members")
    d_non_members, _ = nearest_neighbors(non_members, synthetic, device=device, desc="attack: non-members")
    scores = -np.concatenate([d_members, d_non_members])
    is_member = np.concatenate([np.ones(len(d_members), int), np.zeros(len(d_non_members), int)])
    auc = compute_metric("roc_auc", is_member, scores, ["member"], n_bootstrap=n_bootstrap, seed=seed)
    return {"roc_auc": auc["roc_auc"], "roc_auc_ci": auc["roc_auc_ci"], "n_members": int(len(d_members)),
            "n_non_members": int(len(d_non_members)), "scores": scores, "is_member": is_member}


def privacy_audit(
    train: ECGSet,
    holdout: ECGSet,
    synthetic: ECGSet,
    alpha: float = 0.05,
    flag_pvalue: float = 0.01,
    n_closest: int = 6,
    n_bootstrap: int = 1000,
    seed: int = 0,
    device: Optional[str] = None,
) -> Dict:
    """The full audit of ``synthetic`` against the generator's ``train`` set and a real ``holdout``.

    ``holdout`` must not overlap ``train`` (the test fold of the same split).  Returns the
    :func:`memorisation` summary plus ``"membership_inference"`` (:func:`membership_inference`,
    members drawn at random from ``train``, as many as ``holdout`` has), ``"closest_pairs"``
    (``[{"synthetic_index", "train_index", "distance"}]`` for the ``n_closest`` synthetic ECGs
    nearest to training records) and the raw ``"dcr_synthetic"`` / ``"dcr_holdout"`` arrays.
    """
    check_compatible(train, synthetic)
    check_compatible(train, holdout)
    train_x, holdout_x, synthetic_x = flatten(train), flatten(holdout), flatten(synthetic)
    dcr_synthetic, nn_synthetic = nearest_neighbors(synthetic_x, train_x, device=device, desc="DCR: synthetic")
    dcr_holdout, _ = nearest_neighbors(holdout_x, train_x, device=device, desc="DCR: held-out real")
    if np.mean(dcr_holdout <= 1e-9) > 0.5:
        raise ValueError(f"{holdout.name} overlaps {train.name}: most held-out records are also training records; "
                         "the audit needs a held-out real set (the test fold)")
    result = memorisation(dcr_synthetic, dcr_holdout, alpha, flag_pvalue)
    rng = np.random.default_rng(seed)
    members = rng.choice(len(train), size=min(len(train), len(holdout)), replace=False)
    result["membership_inference"] = membership_inference(train_x[members], holdout_x, synthetic_x, n_bootstrap, seed, device)
    order = np.argsort(dcr_synthetic)[:n_closest]
    result["closest_pairs"] = [{"synthetic_index": int(i), "train_index": int(nn_synthetic[i]), "distance": float(dcr_synthetic[i])}
                               for i in order]
    result["dcr_synthetic"], result["dcr_holdout"] = dcr_synthetic, dcr_holdout
    return result
