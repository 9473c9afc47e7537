"""Frechet distance and MMD, on toy features and in the classifier's embedding space."""

import numpy as np
import pytest

from sssd_hf.evaluation.feature_distance import feature_distances, frechet_distance, mmd
from sssd_hf.evaluation.train_classifier import TrainingConfig, embed, fit_classifier


def test_identical_sets():
    x = np.random.default_rng(0).normal(size=(200, 8))
    assert mmd(x, x.copy())["mmd2"] == 0.0
    assert frechet_distance(x, x.copy()) == pytest.approx(0.0, abs=1e-8)


def test_frechet_matches_the_closed_form_for_a_mean_shift():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 3))
    shifted = x + np.array([2.0, 0.0, 0.0])
    assert frechet_distance(x, shifted) == pytest.approx(4.0, rel=1e-6)  # identical covariances: |mu_x - mu_y|^2


def test_same_distribution_is_closer_than_a_different_one():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(300, 5)), rng.normal(size=(300, 5))
    far = rng.normal(loc=1.0, scale=2.0, size=(300, 5))
    near, away = feature_distances(a, b), feature_distances(a, far)
    assert near["frechet"] < 0.3 < away["frechet"]
    assert near["mmd2"] < 0.02 < away["mmd2"]


def test_singular_covariances_are_handled():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(5, 20)), rng.normal(size=(6, 20))  # N < D
    assert np.isfinite(frechet_distance(x, y))


@pytest.mark.parametrize(
    "x, y, message",
    [
        (np.zeros((5, 3)), np.zeros((5, 4)), "same D"),
        (np.zeros(5), np.zeros(5), r"\(N, D\)"),
        (np.full((5, 2), np.nan), np.zeros((5, 2)), "NaN"),
        (np.zeros((1, 2)), np.zeros((5, 2)), "at least 2 rows"),
    ],
)
def test_bad_inputs(x, y, message):
    with pytest.raises(ValueError, match=message):
        frechet_distance(x, y)


def test_embedding_space_separates_real_from_noise(real_train, real_test, independent, noise):
    training = TrainingConfig(preset="tiny", epochs=6, batch_size=8, learning_rate=1e-2, eval_every=0, cpu=True)
    model, history = fit_classifier(real_train, training)
    assert history == []  # no tracking set: no checkpoints
    assert model.embedding_dim == 16
    e_test, e_independent, e_noise = (embed(model, s) for s in (real_test, independent, noise))
    assert e_test.shape == (len(real_test), 16)
    real_vs_real = feature_distances(e_test, e_independent)
    real_vs_noise = feature_distances(e_test, e_noise)
    assert real_vs_real["frechet"] is None and "needs at least 32 records" in real_vs_real["frechet_not_computed"]
    assert frechet_distance(e_test, e_independent) < 0.25 * frechet_distance(e_test, e_noise)  # 24 records, 16 dims
    assert real_vs_real["mmd2"] < 0.25 * real_vs_noise["mmd2"]


def test_too_few_records_for_the_dimensions_are_not_computed():
    rng = np.random.default_rng(4)
    out = feature_distances(rng.normal(size=(30, 20)), rng.normal(size=(30, 20)), n_bootstrap=20)
    assert out["frechet"] is None and "needs at least 40 records per set" in out["frechet_not_computed"]
    assert out["mmd2"] is not None and out["mmd2_ci"][0] <= out["mmd2_ci"][1]
    tiny = feature_distances(rng.normal(size=(5, 3)), rng.normal(size=(6, 3)), n_bootstrap=20)
    assert tiny["mmd2"] is None and tiny["frechet"] is None and "at least 10 records" in tiny["mmd2_not_computed"]
    assert tiny["frechet_ci"] is None and tiny["n_reference"] == 5 and tiny["n_candidate"] == 6


def test_intervals_cover_the_value_and_shrink_with_size():
    rng = np.random.default_rng(5)
    small = feature_distances(rng.normal(size=(40, 3)), rng.normal(0.5, 1, size=(40, 3)), n_bootstrap=100)
    large = feature_distances(rng.normal(size=(400, 3)), rng.normal(0.5, 1, size=(400, 3)), n_bootstrap=100)
    for out in (small, large):
        assert out["frechet_ci"][0] <= out["frechet"] <= out["frechet_ci"][1]
    assert np.diff(large["frechet_ci"])[0] < np.diff(small["frechet_ci"])[0]
