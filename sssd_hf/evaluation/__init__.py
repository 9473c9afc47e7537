"""Evaluation of synthetic ECGs: downstream utility, physiological plausibility and privacy.

- :mod:`.data`: the :class:`~.data.ECGSet` container and loaders (``.npz``, ``datasets`` folders,
  parquet).
- :mod:`.classifier`: the xresnet1d downstream classifier as a ``transformers`` model.
- :mod:`.train_classifier`: training with ``accelerate`` and the TRTR / TSTR / TRTS / augmentation
  protocols.
- :mod:`.metrics`: ROC-AUC, F1 and G-mean (per statement, macro, bootstrap intervals) as local
  ``evaluate`` modules.
- :mod:`.delineation`, :mod:`.measure`: the LUDB-validated delineator behind ``sssd-ecg measure``
  (heart rate, PR, QRS, QT, QTc); :mod:`.physiology`: those measurements real vs synthetic.
- :mod:`.feature_distance`: Frechet distance and MMD in the classifier's embedding space.
- :mod:`.privacy`: shift/gain/sign-invariant similarity to the closest training record,
  memorisation rate and membership inference with CIs, degenerate ECGs reported as such.
- :mod:`.plots`: the report's figures; :mod:`.report`: all of it in one HTML + JSON report;
  :mod:`.cli`: ``sssd-ecg evaluate``.

Submodules are imported on first use so that ``sssd-ecg`` starts quickly.
"""

import importlib

_SUBMODULES = (
    "data", "classifier", "train_classifier", "metrics", "delineation", "measure", "physiology",
    "feature_distance", "privacy", "plots", "report", "cli",
)


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
