"""Per-statement and macro f1 with bootstrap confidence intervals, as an ``evaluate`` module.

Load it offline with ``evaluate.load("<path to this folder>")`` (or with config name
``"binary"`` for a single statement).  The computation lives in
:mod:`sssd_hf.evaluation.metrics.core`.
"""

import evaluate

from sssd_hf.evaluation.metrics.core import compute_metric
from sssd_hf.evaluation.metrics.hub import metric_info

_DESCRIPTION = """\
F1 score (harmonic mean of precision and recall) of the thresholded scores;
undefined for a statement absent from both references and predictions.
Computed per ECG statement (label column) and macro-averaged over the statements where it is
defined, with percentile-bootstrap confidence intervals over records, as in the evaluation of
SSSD-ECG and SSSD-ECG-nle.
"""


class MultilabelF1(evaluate.Metric):
    """``evaluate`` wrapper of ``compute_metric("f1", ...)``."""

    def _info(self):
        return metric_info(self.config_name, _DESCRIPTION)

    def _compute(
        self, predictions, references, label_names=None, threshold=0.5, n_bootstrap=1000, confidence=0.95, seed=0
    ):
        return compute_metric("f1", references, predictions, label_names=label_names, threshold_value=threshold,
                              n_bootstrap=n_bootstrap, confidence=confidence, seed=seed)
