"""Privacy audit: does the synthetic set copy its generator's training records?

ECGs are compared as ECGs, not as vectors: a copy of a training record stays a copy when it is
shifted in time, inverted, scaled, offset or slightly noisy.  The similarity of two records
``a`` and ``b`` (12 leads each) is

    s(a, b) = max over lags |tau| <= 1 s of |sum_leads sum_t a(t) b(t + tau)| / sqrt(E_a(tau) E_b(tau))

after removing each lead's mean, where the sums and the energies ``E`` run over the samples the
two records share at that lag (at least 90 % of a 10 s record).  It is 1 for an exact copy
under any circular or cropped shift up to 1 s, any sign, gain and baseline offset, and stays
near 1 with added noise; it is computed for all pairs at once with FFTs, on records resampled to
at most 100 Hz.

- **Degenerate records.**  Synthetic ECGs that are flat (RMS below 10 uV after removing each
  lead's mean), mostly flat (half of the leads or more), or of non-physiological amplitude (above
  20 mV) are counted and reported as degenerate; they are not compared, so a generator that
  outputs flat lines is told so instead of being called a memoriser.
- **Memorisation rate.**  The fraction of (non-degenerate) synthetic ECGs that are more similar
  to their closest training record than the ``1 - alpha`` quantile of held-out real ECGs (the
  test fold: fresh draws from the same population) are to theirs.  Without copying it is about
  ``alpha``.  Its confidence interval is a percentile bootstrap that resamples both the held-out
  records (so the threshold varies) and the synthetic records.
- **Flagging** is the statistical decision of that interval: the set is flagged when the lower
  end of the ``1 - 2 * flag_pvalue`` interval (98 % for the default 0.01, a one-sided test at
  level ``flag_pvalue``) lies above ``alpha``.  A flagged set therefore never has an interval
  that contains the no-copying rate.
- **Membership inference.**  An attacker who holds the synthetic set calls a candidate a training
  member when some synthetic ECG is very similar to it.  The ROC-AUC of that score at telling
  training records (members) from held-out records (non-members), with its bootstrap interval,
  is 0.5 without leakage and approaches 1 when training records are reproduced.

Exact duplicates (a held-out record identical to a training record, a synthetic record identical
to a training record) are found by hashing each record's bytes, not by a tolerance on distances.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import fft as sfft
from scipy.signal import resample_poly

from .data import ECGSet, check_compatible
from .metrics.core import compute_metric

#: Largest time shift (s) under which a copy is still recognised.
MAX_LAG_SECONDS = 1.0
#: Records are compared at this rate or below (Hz); QRS-scale shapes survive, the cost falls 25x from 500 Hz.
ANALYSIS_RATE = 100.0
#: A record whose RMS over all leads (after per-lead mean removal) is below this is flat (mV).
FLAT_RMS_MV = 0.01
#: A lead whose RMS is below this is flat (mV); half of the leads or more flat makes the record degenerate.
FLAT_LEAD_RMS_MV = 0.005
#: Any sample further than this from its lead's mean is not a body-surface ECG (mV).
MAX_ABS_MV = 20.0
#: Smallest set sizes the audit accepts (records).
MIN_TRAIN, MIN_HOLDOUT, MIN_SYNTHETIC = 2, 5, 1


def record_hashes(ecgs: ECGSet) -> List[str]:
    """One hex digest per record of ``ecgs.signal`` (float32 bytes): equal digests = identical records."""
    signal = np.ascontiguousarray(ecgs.signal, dtype=np.float32)
    return [hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest() for row in signal]


def exact_overlap(a: ECGSet, b: ECGSet) -> np.ndarray:
    """Boolean (len(a),): which records of ``a`` are byte-identical to some record of ``b``."""
    known = set(record_hashes(b))
    return np.array([h in known for h in record_hashes(a)], dtype=bool)


def prepare(signal: np.ndarray, sampling_rate: float, analysis_rate: float = ANALYSIS_RATE) -> np.ndarray:
    """(N, C, L) mV -> (N, C, L') float32 at ``min(sampling_rate, analysis_rate)`` Hz with each lead's mean removed."""
    x = np.asarray(signal, dtype=np.float32)
    if sampling_rate > analysis_rate * 1.001:
        ratio = Fraction(float(analysis_rate) / float(sampling_rate)).limit_denominator(1000)
        x = resample_poly(x, ratio.numerator, ratio.denominator, axis=-1).astype(np.float32)
    return x - x.mean(axis=-1, keepdims=True)


def degenerate_reasons(signal: np.ndarray, sampling_rate: float) -> List[str]:
    """Why each record of ``signal`` (N, C, L) mV is no usable ECG, or ``""`` when it is one.

    Reasons: ``"flat"`` (RMS < :data:`FLAT_RMS_MV`), ``"flat leads"`` (half of the leads or more
    below :data:`FLAT_LEAD_RMS_MV`), ``"amplitude"`` (a sample more than :data:`MAX_ABS_MV` from
    its lead's mean).
    """
    centred = np.asarray(signal, dtype=np.float32) - np.asarray(signal, dtype=np.float32).mean(axis=-1, keepdims=True)
    lead_rms = np.sqrt((centred.astype(np.float64) ** 2).mean(axis=-1))  # (N, C)
    total_rms = np.sqrt((lead_rms ** 2).mean(axis=-1))
    flat_leads = (lead_rms < FLAT_LEAD_RMS_MV).sum(axis=-1)
    peak = np.abs(centred).max(axis=(-2, -1))
    reasons = []
    for rms, flat, top in zip(total_rms, flat_leads, peak):
        if rms < FLAT_RMS_MV:
            reasons.append("flat")
        elif 2 * flat >= signal.shape[1]:
            reasons.append("flat leads")
        elif top > MAX_ABS_MV:
            reasons.append("amplitude")
        else:
            reasons.append("")
    return reasons


def _lag_energies(x: np.ndarray, max_lag: int) -> Tuple[np.ndarray, np.ndarray]:
    """Energy (mV², summed over leads) of each (N, C, L) record over the samples it shares with a partner at each
    lag tau = -m..m: ``(as query a, as reference b)``, each (N, 2m + 1), for ``sum_t a(t) b(t + tau)``."""
    length = x.shape[-1]
    cumulative = np.concatenate([np.zeros((len(x), 1)), np.cumsum((x.astype(np.float64) ** 2).sum(axis=1), axis=-1)],
                                axis=-1)  # (N, L + 1)
    lags = np.arange(-max_lag, max_lag + 1)
    total = cumulative[:, -1:]
    as_query = np.where(lags >= 0, cumulative[:, length - np.clip(lags, 0, None)],
                        total - cumulative[:, np.clip(-lags, 0, None)])
    as_reference = np.where(lags >= 0, total - cumulative[:, np.clip(lags, 0, None)],
                            cumulative[:, length + np.clip(lags, None, 0)])
    return as_query, as_reference


def similarity_matrix(
    queries: np.ndarray,
    reference: np.ndarray,
    sampling_rate: float,
    max_lag_seconds: float = MAX_LAG_SECONDS,
    block_elements: int = 20_000_000,
    device: Optional[str] = None,
) -> np.ndarray:
    """Shift-, sign-, gain- and offset-invariant similarity of every query to every reference record.

    Args:
        queries: (N, C, L) and reference: (M, C, L) prepared records (:func:`prepare`: mean-free, mV).
        sampling_rate: Hz of the prepared records; ``max_lag_seconds`` sets the largest shift.
        block_elements: memory bound of one block of the computation (values of the lag-wise correlation).
        device: torch device (default: CUDA when available, else CPU).

    Returns:
        (N, M) float32 in [0, 1]: max over lags of the absolute normalised cross-correlation
        (see the module docstring); 0 where a record has no energy.
    """
    import torch

    if queries.ndim != 3 or reference.ndim != 3 or queries.shape[1:] != reference.shape[1:]:
        raise ValueError(f"queries {queries.shape} and reference {reference.shape} must be (N, C, L) and (M, C, L)")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    length = queries.shape[-1]
    max_lag = int(min(round(max_lag_seconds * sampling_rate), length // 10))
    n_fft = sfft.next_fast_len(length + max_lag, real=True)
    ea, _ = _lag_energies(queries, max_lag)
    _, eb = _lag_energies(reference, max_lag)
    lag_index = torch.as_tensor(np.arange(-max_lag, max_lag + 1) % n_fft, device=dev)
    with torch.no_grad():
        spec_r = torch.fft.rfft(torch.as_tensor(reference, dtype=torch.float32, device=dev), n=n_fft)  # (M, C, F)
        spec_r = spec_r.permute(2, 1, 0).contiguous()  # (F, C, M)
        eb_t = torch.as_tensor(eb.T, dtype=torch.float32, device=dev)  # (2m + 1, M)
        out = np.empty((len(queries), len(reference)), dtype=np.float32)
        block = max(1, int(block_elements // max(1, n_fft * len(reference))))
        for start in range(0, len(queries), block):
            q = torch.as_tensor(queries[start: start + block], dtype=torch.float32, device=dev)
            spec_q = torch.fft.rfft(q, n=n_fft).conj().permute(2, 0, 1)  # (F, k, C)
            cross = torch.bmm(spec_q, spec_r).permute(1, 2, 0)  # (k, M, F): conj(A_c) B_c summed over leads
            corr = torch.fft.irfft(cross, n=n_fft)[..., lag_index]  # (k, M, 2m + 1): sum_t a(t) b(t + tau)
            ea_t = torch.as_tensor(ea[start: start + block], dtype=torch.float32, device=dev)  # (k, 2m + 1)
            denominator = torch.sqrt(ea_t[:, None, :] * eb_t.T[None, :, :])
            ncc = torch.where(denominator > 0, corr.abs() / denominator.clamp_min(1e-30), torch.zeros_like(corr))
            out[start: start + len(q)] = ncc.amax(dim=-1).clamp(0.0, 1.0).cpu().numpy()
    return out


def _bootstrap_rate(best_synthetic: np.ndarray, best_holdout: np.ndarray, alpha: float, n_bootstrap: int,
                    confidence: float, rng: np.random.Generator):
    """Memorisation rate, its percentile interval and the bootstrap rates (threshold re-estimated each time)."""
    threshold = float(np.quantile(best_holdout, 1.0 - alpha))
    rate = float(np.mean(best_synthetic > threshold))
    if n_bootstrap <= 0:
        return threshold, rate, None, np.array([])
    h = best_holdout[rng.integers(0, len(best_holdout), (n_bootstrap, len(best_holdout)))]
    s = best_synthetic[rng.integers(0, len(best_synthetic), (n_bootstrap, len(best_synthetic)))]
    rates = (s > np.quantile(h, 1.0 - alpha, axis=1)[:, None]).mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    return threshold, rate, [float(np.quantile(rates, tail)), float(np.quantile(rates, 1.0 - tail))], rates


def memorisation(
    best_synthetic: np.ndarray,
    best_holdout: np.ndarray,
    alpha: float = 0.05,
    flag_pvalue: float = 0.01,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> Dict:
    """Memorisation statistics from each record's similarity to its closest training record.

    Args:
        best_synthetic: (S,) similarity of each non-degenerate synthetic ECG to its closest training record.
        best_holdout: (H,) the same for each held-out real ECG.
        alpha: share of held-out records above the threshold (the rate expected without copying).
        flag_pvalue: one-sided level of the decision; the interval has coverage ``1 - 2 * flag_pvalue``.

    Returns ``{"threshold", "alpha", "memorisation_rate", "memorisation_rate_ci", "ci_level",
    "n_above", "n_synthetic", "n_holdout", "pvalue", "flagged", "median_similarity_synthetic",
    "median_similarity_holdout"}``; ``pvalue`` is the bootstrap share of rates at or below ``alpha``
    and ``flagged`` means the interval lies above ``alpha``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0 < flag_pvalue < 0.5:
        raise ValueError(f"flag_pvalue must be in (0, 0.5), got {flag_pvalue}")
    best_synthetic, best_holdout = np.asarray(best_synthetic, float), np.asarray(best_holdout, float)
    if best_holdout.size < MIN_HOLDOUT or best_synthetic.size < MIN_SYNTHETIC:
        raise ValueError(f"memorisation needs at least {MIN_HOLDOUT} held-out and {MIN_SYNTHETIC} synthetic records, "
                         f"got {best_holdout.size} and {best_synthetic.size}")
    confidence = 1.0 - 2.0 * flag_pvalue
    threshold, rate, ci, rates = _bootstrap_rate(best_synthetic, best_holdout, alpha, n_bootstrap, confidence,
                                                 np.random.default_rng(seed))
    return {
        "threshold": threshold, "alpha": alpha, "memorisation_rate": rate, "memorisation_rate_ci": ci,
        "ci_level": confidence, "n_above": int((best_synthetic > threshold).sum()),
        "n_synthetic": int(best_synthetic.size),
        "n_holdout": int(best_holdout.size), "n_bootstrap": int(n_bootstrap),
        "pvalue": float(np.mean(rates <= alpha)) if rates.size else None,
        "flagged": bool(ci is not None and ci[0] > alpha),
        "median_similarity_synthetic": float(np.median(best_synthetic)),
        "median_similarity_holdout": float(np.median(best_holdout)),
    }


def membership_inference(member_scores: np.ndarray, non_member_scores: np.ndarray, n_bootstrap: int = 1000,
                         confidence: float = 0.95, seed: int = 0) -> Dict:
    """ROC-AUC of the attack score (similarity to the closest synthetic ECG) at telling members from non-members.

    Returns ``{"roc_auc", "roc_auc_ci", "ci_level", "n_members", "n_non_members", "scores", "is_member"}``
    (``scores`` and ``is_member`` are arrays for plotting the ROC curve).
    """
    scores = np.concatenate([member_scores, non_member_scores]).astype(np.float64)
    is_member = np.r_[np.ones(len(member_scores), int), np.zeros(len(non_member_scores), int)]
    auc = compute_metric("roc_auc", is_member, scores, ["member"], n_bootstrap=n_bootstrap, confidence=confidence,
                         seed=seed)
    return {"roc_auc": auc["roc_auc"], "roc_auc_ci": auc["roc_auc_ci"], "ci_level": confidence,
            "n_members": int(len(member_scores)), "n_non_members": int(len(non_member_scores)),
            "scores": scores, "is_member": is_member}


def _check_inputs(train: ECGSet, holdout: ECGSet, synthetic: ECGSet) -> None:
    check_compatible(train, synthetic)
    check_compatible(train, holdout)
    for ecgs, least in ((train, MIN_TRAIN), (holdout, MIN_HOLDOUT), (synthetic, MIN_SYNTHETIC)):
        if len(ecgs) < least:
            raise ValueError(f"{ecgs.name}: the privacy audit needs at least {least} records, got {len(ecgs)}")
    overlap = exact_overlap(holdout, train)
    if overlap.any():
        raise ValueError(f"{holdout.name} overlaps {train.name}: {int(overlap.sum())} of {len(holdout)} held-out "
                         "records are identical to training records; the audit needs a held-out real set "
                         "(the test fold)")
    bad = [r for r in degenerate_reasons(holdout.signal, holdout.sampling_rate) if r]
    if len(bad) * 2 > len(holdout):
        raise ValueError(f"{holdout.name}: {len(bad)} of {len(holdout)} held-out records are degenerate ({bad[0]}); "
                         "the held-out set must be real ECGs")


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
    leads: Optional[Sequence[str]] = None,
) -> Dict:
    """The full audit of ``synthetic`` against the generator's ``train`` set and a real ``holdout``.

    Args:
        train, holdout, synthetic: sets with the same leads, rate and length; ``holdout`` must not
            share records with ``train`` (checked exactly).
        alpha, flag_pvalue: see :func:`memorisation`.
        n_closest: how many (synthetic, training) pairs of highest similarity to return.
        leads: compare only these leads (default: all).
        device: torch device of the similarity computation (default: CUDA when available).

    Returns the :func:`memorisation` summary (``None`` values and ``"status": "degenerate"`` when
    every synthetic record is degenerate) plus ``"status"`` (``"flagged"``, ``"not flagged"`` or
    ``"degenerate"``), ``"degenerate"`` (``{"n", "rate", "rate_ci", "reasons"}``),
    ``"n_exact_copies"``, ``"membership_inference"`` (:func:`membership_inference`: members drawn
    at random from ``train``, as many as ``holdout`` has), ``"closest_pairs"``
    (``[{"synthetic_index", "train_index", "similarity"}]``) and the raw ``"similarity_synthetic"``
    / ``"similarity_holdout"`` arrays (closest-training-record similarities).
    """
    _check_inputs(train, holdout, synthetic)
    pick = (lambda s: s.signal) if leads is None else (lambda s: s.signal[:, [s.lead_names.index(n) for n in leads]])
    rate = min(train.sampling_rate, ANALYSIS_RATE)
    x_train, x_hold, x_syn = (prepare(pick(s), s.sampling_rate) for s in (train, holdout, synthetic))
    reasons = degenerate_reasons(synthetic.signal, synthetic.sampling_rate)
    kept = np.flatnonzero([not r for r in reasons])
    s_hold_train = similarity_matrix(x_hold, x_train, rate, device=device)
    s_syn_train = similarity_matrix(x_syn[kept], x_train, rate, device=device) if kept.size else None
    s_hold_syn = similarity_matrix(x_hold, x_syn[kept], rate, device=device) if kept.size else None
    n_copies = int(exact_overlap(synthetic, train).sum())
    return audit_from_similarities(s_syn_train, s_hold_train, s_hold_syn, reasons, n_copies, alpha, flag_pvalue,
                                   n_closest, n_bootstrap, seed)


def audit_from_similarities(
    synthetic_train: Optional[np.ndarray],
    holdout_train: np.ndarray,
    holdout_synthetic: Optional[np.ndarray],
    reasons: Sequence[str],
    n_exact_copies: int = 0,
    alpha: float = 0.05,
    flag_pvalue: float = 0.01,
    n_closest: int = 6,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> Dict:
    """The statistics of :func:`privacy_audit` from its similarity matrices (see there for the result).

    Args:
        synthetic_train: (S, T) :func:`similarity_matrix` of the S non-degenerate synthetic records
            (in order) to the T training records; ``None`` when every synthetic record is degenerate.
        holdout_train: (H, T) held-out records to training records.
        holdout_synthetic: (H, S) held-out records to the non-degenerate synthetic records (or ``None``).
        reasons: :func:`degenerate_reasons` of all synthetic records (``""`` for the S kept ones).
        n_exact_copies: synthetic records byte-identical to a training record.

    Lets a caller that audits many splits of one pool compute the similarities once.
    """
    rng = np.random.default_rng(seed)
    confidence = 1.0 - 2.0 * flag_pvalue
    kept = np.flatnonzero([not r for r in reasons])
    n_train, n_holdout = holdout_train.shape[1], holdout_train.shape[0]
    result: Dict = {"degenerate": _degenerate_summary(list(reasons), n_bootstrap, confidence, rng),
                    "n_exact_copies": int(n_exact_copies)}
    best_holdout = holdout_train.max(axis=1)
    if synthetic_train is None or not kept.size:
        result.update(status="degenerate", flagged=False, memorisation_rate=None, memorisation_rate_ci=None,
                      alpha=alpha, ci_level=confidence, n_synthetic=0, n_holdout=n_holdout, threshold=None,
                      pvalue=None, n_above=0, median_similarity_synthetic=None,
                      median_similarity_holdout=float(np.median(best_holdout)),
                      membership_inference=None, closest_pairs=[], similarity_synthetic=np.array([]),
                      similarity_holdout=best_holdout)
        return result
    if synthetic_train.shape != (kept.size, n_train) or holdout_synthetic.shape != (n_holdout, kept.size):
        shapes = (synthetic_train.shape, holdout_train.shape, holdout_synthetic.shape)
        raise ValueError(f"similarity matrices {shapes} "
                         f"do not match {kept.size} non-degenerate synthetic records")
    best_synthetic = synthetic_train.max(axis=1)
    result.update(memorisation(best_synthetic, best_holdout, alpha, flag_pvalue, n_bootstrap, seed))
    result["status"] = "flagged" if result["flagged"] else "not flagged"
    members = rng.choice(n_train, size=min(n_train, n_holdout), replace=False)
    result["membership_inference"] = membership_inference(synthetic_train[:, members].max(axis=0),
                                                          holdout_synthetic.max(axis=1), n_bootstrap, confidence, seed)
    nearest = synthetic_train.argmax(axis=1)
    order = np.argsort(-best_synthetic, kind="stable")[:n_closest]
    result["closest_pairs"] = [{"synthetic_index": int(kept[i]), "train_index": int(nearest[i]),
                                "similarity": float(best_synthetic[i])} for i in order]
    result["similarity_synthetic"], result["similarity_holdout"] = best_synthetic, best_holdout
    return result


def _degenerate_summary(reasons: List[str], n_bootstrap: int, confidence: float, rng: np.random.Generator) -> Dict:
    flags = np.array([bool(r) for r in reasons], dtype=float)
    ci = None
    if n_bootstrap > 0:
        rates = flags[rng.integers(0, len(flags), (n_bootstrap, len(flags)))].mean(axis=1)
        tail = (1.0 - confidence) / 2.0
        ci = [float(np.quantile(rates, tail)), float(np.quantile(rates, 1.0 - tail))]
    counts: Dict[str, int] = {}
    for r in reasons:
        if r:
            counts[r] = counts.get(r, 0) + 1
    return {"n": int(flags.sum()), "n_records": len(reasons), "rate": float(flags.mean()), "rate_ci": ci,
            "reasons": counts}
