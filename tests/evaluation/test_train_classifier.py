"""Training with accelerate and the TRTR / TSTR / TRTS / augment protocols on simulated ECGs."""

import os

import numpy as np
import pytest

from sssd_hf.evaluation.data import ECGSet
from sssd_hf.evaluation.metrics import compute_metrics
from sssd_hf.evaluation.train_classifier import (
    TrainingConfig,
    augmentation_set,
    default_threads,
    fit_classifier,
    predict,
    run_protocols,
    split_validation,
)

TINY = dict(
    preset="tiny",
    epochs=10,
    batch_size=8,
    learning_rate=1e-2,
    eval_every=5,
    patience=0,
    n_bootstrap=50,
    cpu=True,
    progress="none",
)


@pytest.fixture(scope="module")
def protocols(real_train, real_test, independent):
    return run_protocols(
        ["TRTR", "TSTR", "TRTS", "augment"],
        real_train,
        real_test,
        independent,
        independent,
        TrainingConfig(**TINY),
        augment_statement="STACH",
    )


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
    # real training set less its 10 % validation hold-out (4 records), + the 8 synthetic STACH records
    assert protocols["augment"].n_train == 32 + 8 and protocols["TRTR"].n_train == 32
    assert protocols["TSTR"].validation_set == "real train (random 4 held out for validation)"


def test_training_on_noise_is_useless(real_train, real_test, noise, protocols):
    tstr_noise = run_protocols(["TSTR"], real_train, real_test, noise, training=TrainingConfig(**TINY))["TSTR"]
    assert tstr_noise.metrics["roc_auc"]["roc_auc"] < protocols["TRTR"].metrics["roc_auc"]["roc_auc"] - 0.2


def test_checkpoints_are_scored_with_the_evaluate_modules(real_train, independent):
    model, history = fit_classifier(real_train, TrainingConfig(**TINY), track=independent)
    assert [h["epoch"] for h in history] == [5, 10]
    assert all(
        set(h) == {"epoch", "step", "train_loss", "val_loss", "roc_auc", "f1", "g_mean", "elapsed_s", "best"}
        for h in history
    )
    assert history[-1]["step"] == 10 * 4  # 36 records, batch 8, drop_last
    best = [h for h in history if h["best"]]
    assert len(best) == 1  # the kept checkpoint: its validation AUC is the returned model's
    final = compute_metrics(independent.labels, predict(model, independent), independent.label_names, n_bootstrap=0)
    assert best[0]["roc_auc"] == pytest.approx(final["roc_auc"]["roc_auc"], abs=1e-12)
    assert best[0]["roc_auc"] == max(h["roc_auc"] for h in history)


def test_early_stopping_stops_and_keeps_the_best_checkpoint(real_train, independent):
    """Validation labels that carry no signal: the AUC stops improving and training ends early."""
    rng = np.random.default_rng(0)
    shuffled = ECGSet(
        independent.signal,
        independent.labels[rng.permutation(len(independent))],
        independent.label_names,
        name="shuffled labels",
    )
    training = TrainingConfig(**{**TINY, "epochs": 40, "eval_every": 1, "patience": 2})
    model, history = fit_classifier(real_train, training, track=shuffled)
    best = next(h for h in history if h["best"])
    assert len(history) < 40
    assert history[-1]["epoch"] == best["epoch"] + 2  # stopped after 2 checkpoints without a better AUC
    assert all(h["roc_auc"] <= best["roc_auc"] for h in history)
    scores = predict(model, shuffled)
    kept = compute_metrics(shuffled.labels, scores, shuffled.label_names, n_bootstrap=0)["roc_auc"]["roc_auc"]
    assert kept == pytest.approx(best["roc_auc"], abs=1e-12)


def test_per_epoch_lines_when_stderr_is_not_a_terminal(real_train, independent, capsys):
    fit_classifier(
        real_train,
        TrainingConfig(**{**TINY, "epochs": 2, "eval_every": 1, "progress": "auto"}),
        track=independent,
        desc="TSTR",
    )
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[TSTR] epoch")]
    assert len(lines) == 2
    assert lines[0].startswith("[TSTR] epoch 1/2: loss ") and "val AUC" in lines[0]
    assert "elapsed" in lines[0] and "left" in lines[0] and "last epoch" in lines[1]


def test_a_cached_real_baseline_is_trained_once(real_train, real_test, independent, noise, tmp_path, capsys):
    training = TrainingConfig(**{**TINY, "epochs": 2, "progress": "lines", "cache_dir": str(tmp_path)})
    first = run_protocols(["TRTR", "TSTR"], real_train, real_test, independent, training=training)
    assert "[TRTR] epoch 1/2" in capsys.readouterr().err
    second = run_protocols(["TRTR", "TSTR"], real_train, real_test, noise, training=training)
    err = capsys.readouterr().err
    assert "[TRTR] reusing the classifier trained earlier" in err and "[TRTR] epoch" not in err
    assert "[TSTR] epoch 1/2" in err  # another synthetic set: a new classifier
    assert second["TRTR"].from_cache and not first["TRTR"].from_cache and not second["TSTR"].from_cache
    np.testing.assert_array_equal(second["TRTR"].scores, first["TRTR"].scores)
    assert second["TRTR"].history == first["TRTR"].history
    assert len(os.listdir(tmp_path)) == 3  # TRTR, TSTR on independent, TSTR on noise
    other_seed = run_protocols(
        ["TRTR"], real_train, real_test, training=TrainingConfig(**{**training.__dict__, "seed": 1})
    )
    assert not other_seed["TRTR"].from_cache and len(os.listdir(tmp_path)) == 4


def test_an_unreadable_cache_entry_is_retrained(real_train, real_test, tmp_path):
    training = TrainingConfig(**{**TINY, "epochs": 1, "cache_dir": str(tmp_path)})
    run_protocols(["TRTR"], real_train, real_test, training=training)
    (entry,) = os.listdir(tmp_path)
    (tmp_path / entry / "model" / "model.safetensors").write_bytes(b"truncated")
    again = run_protocols(["TRTR"], real_train, real_test, training=training)["TRTR"]
    assert not again.from_cache
    assert run_protocols(["TRTR"], real_train, real_test, training=training)["TRTR"].from_cache
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp")]


def test_split_validation(real_train):
    rest, held = split_validation(real_train, 0.25, seed=3)
    assert len(held) == 9 and len(rest) == 27
    assert not set(map(bytes, held.signal[:, 0, :5])) & set(map(bytes, rest.signal[:, 0, :5]))
    assert split_validation(real_train, 0.0) == (real_train, None)
    with pytest.raises(ValueError, match="too few to hold out a validation set"):
        split_validation(real_train.subset([0, 1]), 0.4)


def test_threads_follow_the_free_cpus():
    assert 1 <= default_threads() <= len(os.sched_getaffinity(0))


def test_binary_task(real_train, real_test, independent):
    result = run_protocols(
        ["TSTR"], real_train, real_test, independent, training=TrainingConfig(**TINY), label_names=["STACH"]
    )["TSTR"]
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
    assert augmented.labels[len(real_train) :, augmented.label_names.index("SBRAD")].all()
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
    for bad, message in [
        (dict(patience=-1), "patience"),
        (dict(validation_fraction=0.5), "validation_fraction"),
        (dict(num_threads=0), "num_threads"),
        (dict(preset="resnet9000"), "unknown classifier preset"),
        (dict(progress="loud"), "progress"),
        (dict(learning_rate=float("nan")), "learning_rate"),
    ]:
        with pytest.raises(ValueError, match=message):
            TrainingConfig(**bad)


def test_predict_rejects_another_vocabulary(protocols, real_test):
    with pytest.raises(ValueError, match="with_vocabulary"):
        predict(protocols["TRTR"].model, real_test.with_vocabulary(["NORM", "STACH"]))
