"""Shared pieces of the ``evaluate`` metric modules in this folder.

Each sub-folder (``multilabel_roc_auc``, ``multilabel_f1``, ``multilabel_g_mean``) is a complete
``evaluate`` module: ``evaluate.load(<folder>)`` loads it offline, and the folder can be pushed
as a Hub evaluation module (it needs ``sssd-hf`` installed, which provides this file and
:mod:`.core`).  Two configurations:

- ``"multilabel"`` (also the ``"default"`` configuration): ``predictions`` (N, K) scores in [0, 1],
  ``references`` (N, K) 0/1;
- ``"binary"``: ``predictions`` (N,) scores, ``references`` (N,) 0/1.
"""

from __future__ import annotations

import datasets
import evaluate

CITATION = """\
@article{alcaraz2023sssdecg,
  title   = {Diffusion-based conditional ECG generation with structured state space models},
  author  = {Alcaraz, Juan Miguel Lopez and Strodthoff, Nils},
  journal = {Computers in Biology and Medicine},
  volume  = {163},
  pages   = {107115},
  year    = {2023}
}
"""

KWARGS_DESCRIPTION = """
Args:
    predictions: scores in [0, 1] (e.g. sigmoid probabilities), shape (N, K) for "multilabel"
        or (N,) for "binary"; hard 0/1 predictions are accepted by F1 and G-mean.
    references: 0/1 labels of the same shape.
    label_names: optional K statement codes naming the columns (default "0", "1", ...).
    threshold: F1 and G-mean count a prediction as positive when score >= threshold (0.5).
    n_bootstrap: bootstrap resamples of the records for the confidence intervals (1000; 0 = none).
    confidence: coverage of the intervals (0.95).
    seed: seed of the bootstrap resampling (0).
Returns:
    {<metric>: macro average over the statements where it is defined,
     <metric>_ci: [low, high] percentile-bootstrap interval of the macro average (or None),
     per_label: {code: {<metric>: value or None, ci: [low, high], positives: int}},
     n_defined, n_records, n_bootstrap, confidence}
"""

CONFIG_NAMES = ("default", "multilabel", "binary")


def metric_info(config_name: str, description: str) -> evaluate.MetricInfo:
    """The ``MetricInfo`` shared by the modules, with features for ``config_name``."""
    if config_name not in CONFIG_NAMES:
        raise ValueError(f"unknown configuration {config_name!r}; choose from {list(CONFIG_NAMES)}")
    if config_name == "binary":
        features = datasets.Features({"predictions": datasets.Value("float64"), "references": datasets.Value("int32")})
    else:
        features = datasets.Features({
            "predictions": datasets.Sequence(datasets.Value("float64")),
            "references": datasets.Sequence(datasets.Value("int32")),
        })
    return evaluate.MetricInfo(
        description=description,
        citation=CITATION,
        inputs_description=KWARGS_DESCRIPTION,
        features=features,
        reference_urls=["https://github.com/AI4HealthUOL/SSSD-ECG", "https://arxiv.org/abs/2301.08227"],
    )
