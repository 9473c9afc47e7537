"""Privacy audit on real PTB-XL ECGs (tests/fixtures/ptbxl/ecg_pool_100hz.npz, 48 patients).

Copies of training records are flagged whatever their shift, sign, gain, offset or noise; an
independent real split is not flagged; flat lines are reported as degenerate, not memorised.
"""

import numpy as np
import pytest

from sssd_hf.evaluation.data import ECGSet
from sssd_hf.evaluation.privacy import (
    audit_from_similarities,
    degenerate_reasons,
    exact_overlap,
    memorisation,
    prepare,
    privacy_audit,
    similarity_matrix,
)

from ..conftest import load_ecg_pool

N_TRAIN, N_HOLDOUT = 24, 12


def _set(signal, name):
    return ECGSet(np.asarray(signal, np.float32), np.zeros((len(signal), 1), np.uint8), ["NORM"], 100, name=name)


@pytest.fixture(scope="module")
def pool():
    signal, _, _ = load_ecg_pool()
    return signal


@pytest.fixture(scope="module")
def split(pool):
    order = np.random.default_rng(0).permutation(len(pool))
    train, holdout, rest = order[:N_TRAIN], order[N_TRAIN: N_TRAIN + N_HOLDOUT], order[N_TRAIN + N_HOLDOUT:]
    return _set(pool[train], "train"), _set(pool[holdout], "holdout"), _set(pool[rest], "independent")


def _crop_shift(x, shift):
    """Drop the first ``shift`` samples and repeat the last ones: a non-circular time shift."""
    return np.concatenate([x[..., shift:], x[..., -shift:]], axis=-1)


COPIES = {
    "exact": lambda x, rng: x,
    "circular shift 0.37 s": lambda x, rng: np.roll(x, 37, axis=-1),
    "circular shift -1 s": lambda x, rng: np.roll(x, -100, axis=-1),
    "cropped shift 0.8 s": lambda x, rng: _crop_shift(x, 80),
    "sign flipped": lambda x, rng: -x,
    "scaled x0.3": lambda x, rng: 0.3 * x,
    "scaled x2.5 and offset 1.5 mV": lambda x, rng: 2.5 * x + 1.5,
    "noise 0.02 mV": lambda x, rng: x + rng.normal(0, 0.02, x.shape),
    "noise 0.05 mV, shifted, inverted": lambda x, rng: -np.roll(x, 25, axis=-1) + rng.normal(0, 0.05, x.shape),
}


def test_similarity_of_a_real_record_to_its_transformed_copies(pool):
    rng = np.random.default_rng(1)
    record = pool[:1]
    copies = np.concatenate([f(record, rng) for f in COPIES.values()])
    s = similarity_matrix(prepare(copies, 100), prepare(np.concatenate([record, pool[1:]]), 100), 100)
    assert (s[:, 0] > 0.93).all(), dict(zip(COPIES, s[:, 0].round(3)))
    assert s[: 7, 0].min() > 0.998  # noiseless copies: 1, up to the cropped copy's shifted lead means
    assert s[:, 1:].max() < 0.8  # other patients
    assert s.shape == (len(COPIES), len(pool)) and s.dtype == np.float32


@pytest.mark.parametrize("kind", list(COPIES))
def test_copies_of_training_records_are_flagged(split, kind):
    train, holdout, _ = split
    rng = np.random.default_rng(2)
    copies = _set(COPIES[kind](train.signal[:12].astype(np.float64), rng), kind)
    audit = privacy_audit(train, holdout, copies, n_bootstrap=200)
    assert audit["flagged"] and audit["status"] == "flagged"
    assert audit["memorisation_rate"] == 1.0 and audit["memorisation_rate_ci"][0] > audit["alpha"]
    assert audit["degenerate"]["n"] == 0
    pairs = audit["closest_pairs"]
    assert len(pairs) == 6
    assert all(p["train_index"] == p["synthetic_index"] for p in pairs)  # the copied record is found
    assert audit["membership_inference"]["roc_auc"] > 0.6
    assert audit["n_exact_copies"] == (12 if kind == "exact" else 0)


def test_an_independent_real_set_is_not_flagged_in_95_percent_of_random_splits(pool):
    flagged, consistent = 0, True
    for seed in range(20):
        order = np.random.default_rng(100 + seed).permutation(len(pool))
        train = _set(pool[order[:N_TRAIN]], "train")
        holdout = _set(pool[order[N_TRAIN: N_TRAIN + N_HOLDOUT]], "holdout")
        audit = privacy_audit(train, holdout, _set(pool[order[N_TRAIN + N_HOLDOUT:]], "independent"), n_bootstrap=200,
                              seed=seed)
        flagged += audit["flagged"]
        consistent &= audit["flagged"] == (audit["memorisation_rate_ci"][0] > audit["alpha"])
        lo, hi = audit["membership_inference"]["roc_auc_ci"]
        assert lo <= hi and audit["membership_inference"]["n_members"] == N_HOLDOUT
    assert flagged <= 1 and consistent  # >= 19 of 20 splits not flagged; the flag is the interval's decision


def test_flat_and_non_physiological_sets_are_degenerate_not_memorised(split):
    train, holdout, independent = split
    flat = np.zeros((6, 12, 1000))
    constant = np.full((6, 12, 1000), 0.7)
    mostly_flat = independent.signal[:6].copy()
    mostly_flat[:, :8] = 0.0
    huge = independent.signal[:6] * 100.0  # a centimetre-scale "ECG": wrong units
    assert degenerate_reasons(np.concatenate([flat, constant, mostly_flat, huge]), 100) == (
        ["flat"] * 12 + ["flat leads"] * 6 + ["amplitude"] * 6)
    audit = privacy_audit(train, holdout, _set(np.concatenate([flat, constant]), "flat lines"), n_bootstrap=100)
    assert audit["status"] == "degenerate" and audit["flagged"] is False and audit["memorisation_rate"] is None
    expected = {"n": 12, "n_records": 12, "rate": 1.0, "rate_ci": [1.0, 1.0], "reasons": {"flat": 12}}
    assert audit["degenerate"] == expected
    half_flat = _set(np.concatenate([flat, independent.signal]), "half flat")
    mixed = privacy_audit(train, holdout, half_flat, n_bootstrap=100)
    assert mixed["degenerate"]["n"] == 6 and mixed["n_synthetic"] == len(independent) and not mixed["flagged"]


def test_holdout_that_overlaps_training_is_rejected_exactly(split):
    train, holdout, independent = split
    assert exact_overlap(train, train).all() and not exact_overlap(holdout, train).any()
    with pytest.raises(ValueError, match="overlaps train: 24 of 24 held-out records"):
        privacy_audit(train, train, independent, n_bootstrap=0)
    one_shared = _set(np.concatenate([holdout.signal[:-1], train.signal[3:4]]), "holdout")
    with pytest.raises(ValueError, match="1 of 12 held-out records are identical"):
        privacy_audit(train, one_shared, independent, n_bootstrap=0)
    nudged = _set(train.signal + np.float32(1e-3), "nudged")  # not identical: a different record for hashing
    assert not exact_overlap(nudged, train).any()


def test_memorisation_decision_matches_its_interval():
    rng = np.random.default_rng(3)
    holdout = rng.uniform(0.2, 0.5, 200)
    fresh = memorisation(rng.uniform(0.2, 0.5, 200), holdout, n_bootstrap=500)
    assert not fresh["flagged"] and fresh["memorisation_rate_ci"][0] <= 0.05
    assert fresh["ci_level"] == pytest.approx(0.98)
    copies = memorisation(np.r_[np.full(40, 0.99), rng.uniform(0.2, 0.5, 160)], holdout, n_bootstrap=500)
    assert copies["flagged"] and copies["memorisation_rate_ci"][0] > 0.05 and copies["n_above"] >= 40
    assert copies["pvalue"] < 0.01 and copies["n_holdout"] == 200
    few = memorisation(np.full(2, 0.99), holdout, n_bootstrap=500)  # 2 of 2 above: the interval decides, not the rate
    assert few["memorisation_rate"] == 1.0 and few["flagged"] == (few["memorisation_rate_ci"][0] > 0.05)
    assert memorisation(np.full(5, 0.99), holdout, n_bootstrap=0)["flagged"] is False  # no interval, no decision
    with pytest.raises(ValueError, match="alpha"):
        memorisation(holdout, holdout, alpha=1.5)
    with pytest.raises(ValueError, match="at least 5 held-out"):
        memorisation(holdout, holdout[:3])


def test_bad_inputs_are_rejected(split):
    train, holdout, independent = split
    short = ECGSet(holdout.signal[:, :, :500], holdout.labels, holdout.label_names, 100, name="short")
    with pytest.raises(ValueError, match="1000 samples per lead but short has 500"):
        privacy_audit(train, holdout, short)
    with pytest.raises(ValueError, match="at least 5 records, got 3"):
        privacy_audit(train, holdout.subset([0, 1, 2], "tiny"), independent)
    flat_holdout = _set(np.zeros((12, 12, 1000)), "flat holdout")
    with pytest.raises(ValueError, match="12 of 12 held-out records are degenerate"):
        privacy_audit(train, flat_holdout, independent)
    with pytest.raises(ValueError, match=r"\(N, C, L\)"):
        similarity_matrix(np.zeros((2, 1000)), np.zeros((2, 12, 1000)), 100)


def test_500_hz_records_are_compared_at_100_hz(split):
    from scipy.signal import resample_poly

    train, holdout, _ = split
    up = lambda s: _set(resample_poly(s.signal, 5, 1, axis=-1), s.name)  # noqa: E731
    t5, h5 = up(train), up(holdout)
    t5.sampling_rate = h5.sampling_rate = 500.0
    copies = up(train.subset(range(8)))
    copies.sampling_rate = 500.0
    copies.signal = np.roll(copies.signal, 230, axis=-1)  # 0.46 s
    audit = privacy_audit(t5, h5, copies, n_bootstrap=100)
    assert audit["flagged"] and min(p["similarity"] for p in audit["closest_pairs"]) > 0.99


def test_audit_from_precomputed_similarities_matches_the_full_audit(split):
    train, holdout, independent = split
    x = {k: prepare(s.signal, 100) for k, s in (("t", train), ("h", holdout), ("s", independent))}
    reasons = degenerate_reasons(independent.signal, 100)
    direct = privacy_audit(train, holdout, independent, n_bootstrap=100, seed=3)
    again = audit_from_similarities(similarity_matrix(x["s"], x["t"], 100), similarity_matrix(x["h"], x["t"], 100),
                                    similarity_matrix(x["h"], x["s"], 100), reasons, 0, n_bootstrap=100, seed=3)
    assert again["memorisation_rate_ci"] == direct["memorisation_rate_ci"] and again["flagged"] == direct["flagged"]
    assert again["membership_inference"]["roc_auc"] == direct["membership_inference"]["roc_auc"]
    with pytest.raises(ValueError, match="do not match 12 non-degenerate synthetic records"):
        audit_from_similarities(similarity_matrix(x["s"][:5], x["t"], 100), similarity_matrix(x["h"], x["t"], 100),
                                similarity_matrix(x["h"], x["s"], 100), reasons)
