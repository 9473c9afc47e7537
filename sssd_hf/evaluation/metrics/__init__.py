"""Classification metrics of the SSSD-ECG evaluation as local ``evaluate`` modules.

``load_metric("roc_auc")`` returns ``evaluate.load(<folder of multilabel_roc_auc>)``: no network
is needed.  :func:`compute_metrics` runs all three modules (ROC-AUC, F1, G-mean) on one set of
predictions; it is what the downstream-classifier training uses for its checkpoint tracking and
what the report uses for the final numbers.
"""

from __future__ import annotations

import functools
import os
from typing import Dict, Optional, Sequence

import numpy as np

METRICS_DIR = os.path.dirname(os.path.abspath(__file__))

#: metric name -> folder of its ``evaluate`` module
MODULES: Dict[str, str] = {
    "roc_auc": "multilabel_roc_auc",
    "f1": "multilabel_f1",
    "g_mean": "multilabel_g_mean",
}


def module_path(name: str) -> str:
    """Folder of the ``evaluate`` module of metric ``name`` (``"roc_auc"``, ``"f1"``, ``"g_mean"``)."""
    if name not in MODULES:
        raise ValueError(f"unknown metric {name!r}; choose from {sorted(MODULES)}")
    return os.path.join(METRICS_DIR, MODULES[name])


@functools.lru_cache(maxsize=None)
def load_metric(name: str, config_name: str = "multilabel"):
    """``evaluate.load`` of the local module of metric ``name`` (works with ``HF_HUB_OFFLINE=1``; cached)."""
    import evaluate

    return evaluate.load(module_path(name), config_name)


def compute_metrics(
    references: np.ndarray,
    scores: np.ndarray,
    label_names: Sequence[str],
    names: Sequence[str] = ("roc_auc", "f1", "g_mean"),
    threshold: float = 0.5,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Dict[str, Dict]:
    """Run the ``evaluate`` modules ``names`` on (N, K) 0/1 ``references`` and (N, K) ``scores``.

    Returns ``{name: result of that module}`` (see :func:`.core.bootstrap_metric` for the layout).
    """
    references = np.asarray(references)
    scores = np.asarray(scores, dtype=np.float64)
    results: Dict[str, Dict] = {}
    for name in names:
        metric = load_metric(name)
        results[name] = metric.compute(predictions=scores, references=references.astype(np.int32),
                                       label_names=list(label_names), threshold=threshold,
                                       n_bootstrap=n_bootstrap, confidence=confidence, seed=seed)
    return results


def macro_values(results: Dict[str, Dict]) -> Dict[str, Optional[float]]:
    """``{name: macro value}`` from the output of :func:`compute_metrics`."""
    return {name: result[name] for name, result in results.items()}
