"""The ROC-AUC / F1 / G-mean evaluate modules and their bootstrap intervals."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import f1_score, roc_auc_score

from sssd_hf.evaluation.metrics import MODULES, compute_metrics, load_metric, module_path
from sssd_hf.evaluation.metrics.core import compute_metric

NAMES = ["AFIB", "NORM", "PVC", "SR", "1AVB"]


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(0)
    references = (rng.random((200, 5)) < 0.3).astype(int)
    scores = np.clip(0.35 * references + 0.75 * rng.random((200, 5)), 0, 1)
    scores[:, 2] = np.round(scores[:, 2], 1)  # ties
    return references, scores


def test_modules_load_offline_in_a_fresh_process(tmp_path):
    """evaluate.load(<folder>) with HF_HUB_OFFLINE=1 and an empty modules cache."""
    code = (
        "import json, evaluate\n"
        f"paths = {json.dumps({n: module_path(n) for n in MODULES})}\n"
        "out = {}\n"
        "for name, path in paths.items():\n"
        "    m = evaluate.load(path)\n"
        "    out[name] = m.compute(predictions=[[0.9, 0.1], [0.2, 0.8]], references=[[1, 0], [0, 1]],"
        " n_bootstrap=0)[name]\n"
        "print(json.dumps(out))\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_EVALUATE_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"),
               HF_HOME=str(tmp_path / "hf"))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"roc_auc": 1.0, "f1": 1.0, "g_mean": 1.0}


def test_agrees_with_scikit_learn(scored):
    references, scores = scored
    results = compute_metrics(references, scores, NAMES, n_bootstrap=0)
    assert results["roc_auc"]["roc_auc"] == pytest.approx(
        roc_auc_score(references, scores, average="macro"), abs=1e-12
    )
    assert results["f1"]["f1"] == pytest.approx(f1_score(references, scores >= 0.5, average="macro"), abs=1e-12)
    for k, code in enumerate(NAMES):
        assert results["roc_auc"]["per_label"][code]["roc_auc"] == pytest.approx(
            roc_auc_score(references[:, k], scores[:, k])
        )
        assert results["roc_auc"]["per_label"][code]["positives"] == references[:, k].sum()
        tp = np.sum((scores[:, k] >= 0.5) & (references[:, k] == 1))
        tn = np.sum((scores[:, k] < 0.5) & (references[:, k] == 0))
        expected = np.sqrt(tp / references[:, k].sum() * tn / (references[:, k] == 0).sum())
        assert results["g_mean"]["per_label"][code]["g_mean"] == pytest.approx(expected)


def test_identical_inputs_give_exactly_one(scored):
    references, _ = scored
    results = compute_metrics(references, references.astype(float), NAMES, n_bootstrap=30)
    for name, result in results.items():
        assert result[name] == 1.0
        assert result[f"{name}_ci"] == [1.0, 1.0]
        assert all(v[name] == 1.0 for v in result["per_label"].values())


def test_inverted_scores_give_zero(scored):
    references, _ = scored
    results = compute_metrics(references, 1.0 - references, NAMES, n_bootstrap=0)
    assert results["roc_auc"]["roc_auc"] == 0.0 and results["f1"]["f1"] == 0.0 and results["g_mean"]["g_mean"] == 0.0


def test_bootstrap_interval_brackets_the_estimate_and_is_seeded(scored):
    references, scores = scored
    a = compute_metric("roc_auc", references, scores, NAMES, n_bootstrap=200, seed=1)
    b = compute_metric("roc_auc", references, scores, NAMES, n_bootstrap=200, seed=1)
    lo, hi = a["roc_auc_ci"]
    assert lo < a["roc_auc"] < hi and hi - lo < 0.2
    assert a == b
    for entry in a["per_label"].values():
        assert entry["ci"][0] <= entry["roc_auc"] <= entry["ci"][1]


def test_undefined_statements_are_none_and_excluded_from_macro():
    references = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    scores = np.array([[0.9, 0.2], [0.1, 0.3], [0.8, 0.1], [0.3, 0.6]])
    result = compute_metric("roc_auc", references, scores, ["AFIB", "PVC"], n_bootstrap=0)
    assert result["per_label"]["PVC"]["roc_auc"] is None
    assert result["roc_auc"] == 1.0 and result["n_defined"] == 1
    assert result["skipped"] == {"PVC": "no positive records"}  # named, not silently averaged
    everyone = compute_metric("roc_auc", np.array([[1], [1]]), np.array([[0.2], [0.9]]), ["NORM"], n_bootstrap=0)
    assert everyone["roc_auc"] is None and everyone["skipped"] == {"NORM": "no negative records"}
    g = compute_metric("g_mean", references, scores, ["AFIB", "PVC"], n_bootstrap=0)
    assert g["per_label"]["PVC"]["g_mean"] is None
    f = compute_metric("f1", references, scores, ["AFIB", "PVC"], n_bootstrap=0)
    assert f["per_label"]["PVC"]["f1"] == 0.0  # one false positive: defined, and zero


def test_binary_configuration():
    metric = load_metric("roc_auc", "binary")
    out = metric.compute(predictions=[0.1, 0.4, 0.35, 0.8], references=[0, 0, 1, 1], n_bootstrap=0)
    assert out["roc_auc"] == pytest.approx(0.75)


@pytest.mark.parametrize(
    "references, predictions, message",
    [
        ([[1, 0]], [[0.5, 0.5, 0.5]], "same shape"),
        ([[1, 0]], [[np.nan, 0.5]], "NaN"),
        ([[2, 0]], [[0.5, 0.5]], "0/1"),
        (np.zeros((0, 2)), np.zeros((0, 2)), "empty"),
    ],
)
def test_bad_inputs(references, predictions, message):
    with pytest.raises(ValueError, match=message):
        compute_metric("roc_auc", references, predictions)


def test_unknown_metric_and_label_count():
    with pytest.raises(ValueError, match="unknown metric 'auprc'"):
        module_path("auprc")
    with pytest.raises(ValueError, match="2 label names for 3"):
        compute_metric("f1", np.zeros((2, 3)), np.zeros((2, 3)), ["AFIB", "NORM"])
