"""Privacy audit: copies of training records are flagged, an independent real split is not."""

import numpy as np
import pytest

from sssd_hf.evaluation.data import ECGSet
from sssd_hf.evaluation.privacy import memorisation, nearest_neighbors, privacy_audit


def _noised_copies(train: ECGSet, std_mv: float = 0.01, seed: int = 0) -> ECGSet:
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(train), size=24, replace=False)
    signal = train.signal[picked] + rng.normal(0, std_mv, train.signal[picked].shape).astype(np.float32)
    return ECGSet(signal, train.labels[picked], train.label_names, train.sampling_rate, name="noised copies")


def test_nearest_neighbors_in_rms_millivolts():
    reference = np.zeros((3, 4))
    reference[1] = 1.0
    reference[2] = -2.0
    d, i = nearest_neighbors(np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.5], [-2.0, -2.0, -2.0, -2.0]]), reference)
    np.testing.assert_array_equal(i, [1, 0, 2])
    np.testing.assert_allclose(d, [0.0, 0.25, 0.0], atol=1e-12)  # sqrt(0.25 / 4) = 0.25 mV RMS


def test_noised_training_copies_are_flagged(real_train, real_test):
    audit = privacy_audit(real_train, real_test, _noised_copies(real_train), n_bootstrap=100)
    assert audit["flagged"]
    assert audit["memorisation_rate"] == 1.0 and audit["pvalue"] < 1e-10
    assert audit["dcr_ratio"] < 0.2
    assert audit["membership_inference"]["roc_auc"] > 0.8
    pairs = audit["closest_pairs"]
    assert len(pairs) == 6 and pairs[0]["distance"] == pytest.approx(0.01, rel=0.05)
    assert [p["distance"] for p in pairs] == sorted(p["distance"] for p in pairs)


def test_an_independent_real_split_is_not_flagged(real_train, real_test, independent):
    for holdout, synthetic in ((real_test, independent), (independent, real_test)):
        audit = privacy_audit(real_train, holdout, synthetic, n_bootstrap=100)
        assert not audit["flagged"]
        assert audit["memorisation_rate"] < 0.2
        assert audit["dcr_ratio"] > 0.6  # copies give < 0.2
        lo, hi = audit["membership_inference"]["roc_auc_ci"]
        assert lo < 0.5 < hi


def test_memorisation_statistics():
    holdout = np.linspace(1.0, 2.0, 101)
    assert memorisation(np.linspace(1.0, 2.0, 101), holdout)["flagged"] is False
    copies = memorisation(np.full(50, 0.001), holdout)
    assert copies["flagged"] and copies["n_below"] == 50 and copies["threshold"] == pytest.approx(1.05)
    # significant but small excess over alpha on a large set: below the effect-size bar
    slight = memorisation(np.r_[np.full(800, 1.0), np.full(9200, 1.5)], holdout)
    assert slight["pvalue"] < 1e-6 and slight["memorisation_rate"] == 0.08 and not slight["flagged"]
    with pytest.raises(ValueError, match="alpha"):
        memorisation(holdout, holdout, alpha=1.5)


def test_holdout_that_overlaps_training_is_rejected(real_train, independent):
    with pytest.raises(ValueError, match="overlaps"):
        privacy_audit(real_train, real_train, independent, n_bootstrap=0)


def test_incompatible_sets_are_rejected(real_train, real_test):
    short = ECGSet(real_test.signal[:, :, :500], real_test.labels, real_test.label_names, real_test.sampling_rate, name="short")
    with pytest.raises(ValueError, match="1000 samples per lead but short has 500"):
        privacy_audit(real_train, real_test, short)
