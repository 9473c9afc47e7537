"""Training with accelerate and the TRTR / TSTR / TRTS / augment protocols on simulated ECGs."""

import numpy as np
import pytest

from sssd_hf.evaluation.metrics import compute_metrics
from sssd_hf.evaluation.train_classifier import (
    TrainingConfig,
    augmentation_set,
    fit_classifier,
    predict,
    run_protocols,
)

TINY = dict(preset="tiny", epochs=10, batch_size=8, learning_rate=1e-2, eval_every=5, n_bootstrap=50, cpu=True)


@pytest.fixture(scope="module")
def protocols(real_train, real_test, independent):
    return run_protocols(["TRTR", "TSTR", "TRTS", "augment"], real_train, real_test, independent, independent,
                         TrainingConfig(**TINY), augment_statement="STACH")


def test_real_and_faithful_synthetic_training_both_work(protocols):
    for name in ("TRTR", "TSTR", "TRTS", "augment"):
        result = protocols[name]
        assert result.metrics["roc_auc"]["roc_auc"] > 0.85, (name, result.metrics["roc_auc"])
        lo, hi = result.metrics["roc_auc"]["roc_auc_ci"]
        assert lo <= result.metrics["roc_auc"]["roc_auc"] <= hi
        assert set(result.metrics) == {"roc_auc", "f1", "g_mean"}
        assert result.scores.shape == result.references.shape == (result.n_test, 4)
    assert protocols["TRTR"].test_set == "real test" and protocols["TSTR"].train_set == "independent"
    assert protocols["TRTS"].test_set == "independent" and protocols["TRTS"].model is protocols["TRTR"].model
    assert protocols["augment"].n_train == 36 + 8  # real training set + the 8 synthetic STACH records


def test_training_on_noise_is_useless(real_train, real_test, noise, protocols):
    tstr_noise = run_protocols(["TSTR"], real_train, real_test, noise, training=TrainingConfig(**TINY))["TSTR"]
    assert tstr_noise.metrics["roc_auc"]["roc_auc"] < protocols["TRTR"].metrics["roc_auc"]["roc_auc"] - 0.2


def test_checkpoints_are_scored_with_the_evaluate_modules(protocols, real_test):
    result = protocols["TSTR"]
    assert [h["epoch"] for h in result.history] == [5, 10]
    assert all(set(h) == {"epoch", "step", "train_loss", "roc_auc", "f1", "g_mean"} for h in result.history)
    assert result.history[-1]["step"] == 10 * 3  # 24 records, batch 8, drop_last
    final = compute_metrics(real_test.labels, predict(result.model, real_test), real_test.label_names, n_bootstrap=0)
    assert result.history[-1]["roc_auc"] == pytest.approx(final["roc_auc"]["roc_auc"], abs=1e-12)


def test_binary_task(real_train, real_test, independent):
    result = run_protocols(["TSTR"], real_train, real_test, independent, training=TrainingConfig(**TINY), label_names=["STACH"])["TSTR"]
    assert result.model.config.label_names == ["STACH"] and result.scores.shape == (24, 1)
    assert list(result.metrics["roc_auc"]["per_label"]) == ["STACH"]
    assert result.metrics["roc_auc"]["roc_auc"] > 0.9


def test_training_is_reproducible(real_train):
    training = TrainingConfig(**{**TINY, "epochs": 2})
    a, _ = fit_classifier(real_train, training)
    b, _ = fit_classifier(real_train, training)
    np.testing.assert_array_equal(predict(a, real_train), predict(b, real_train))
    assert a.config.input_mean == pytest.approx(real_train.signal.mean(axis=(0, 2)).tolist(), abs=1e-5)


def test_augmentation_set_adds_only_positives(real_train, independent):
    augmented = augmentation_set(real_train, independent, "SBRAD")
    assert len(augmented) == len(real_train) + 8
    assert augmented.labels[len(real_train):, augmented.label_names.index("SBRAD")].all()
    with pytest.raises(ValueError, match="no record labelled"):
        augmentation_set(real_train, independent.subset(range(8, 16)), "SBRAD")


def test_protocol_errors(real_train, real_test, independent):
    training = TrainingConfig(**TINY)
    with pytest.raises(ValueError, match="unknown protocol"):
        run_protocols(["TSRT"], real_train, real_test, training=training)
    with pytest.raises(ValueError, match="TSTR and augment need a synthetic training set"):
        run_protocols(["TSTR"], real_train, real_test, training=training)
    with pytest.raises(ValueError, match="TRTS needs a synthetic test set"):
        run_protocols(["TRTS"], real_train, real_test, independent, training=training)
    with pytest.raises(ValueError, match="augment protocol needs the statement"):
        run_protocols(["augment"], real_train, real_test, independent, training=training)
    with pytest.raises(ValueError, match="'AFIB' is not in the classifier vocabulary"):
        run_protocols(["augment"], real_train, real_test, independent, training=training, augment_statement="AFIB")
    short = independent.subset(range(4))
    short.signal = short.signal[:, :, :500]
    with pytest.raises(ValueError, match="1000 samples per lead but independent has 500"):
        run_protocols(["TSTR"], real_train, real_test, short, training=training)
    with pytest.raises(ValueError, match="epochs"):
        TrainingConfig(epochs=0)


def test_predict_rejects_another_vocabulary(protocols, real_test):
    with pytest.raises(ValueError, match="with_vocabulary"):
        predict(protocols["TRTR"].model, real_test.with_vocabulary(["NORM", "STACH"]))
