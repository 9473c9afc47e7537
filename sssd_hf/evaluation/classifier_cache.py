"""A disk cache of trained downstream classifiers, keyed by data fingerprint and settings.

A classifier trained by :func:`.train_classifier.fit_classifier` depends only on its training
set, its validation set (early stopping) and the training settings.  The TRTR baseline in
particular is the same for every synthetic set evaluated against the same real data, so
``sssd-ecg evaluate`` stores each trained classifier under

    <cache dir>/<key>/model/          save_pretrained folder (config.json, model.safetensors)
    <cache dir>/<key>/history.json    the checkpoints of the training run
    <cache dir>/<key>/meta.json       what the key was made from (readable)

where ``key`` is a SHA-256 over the signal and label bytes of both sets, their vocabulary,
rate and leads, and the settings.  Entries are written to a temporary folder and renamed, so
an interrupted run leaves no partial entry, and a re-run picks up the classifiers already
trained (an interrupted evaluation resumes at the protocol it was training).

The default folder is ``$SSSD_HF_CACHE/classifiers`` or ``~/.cache/sssd_hf/classifiers``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from ..utils import atomic_path
from .classifier import ECGClassifierModel
from .data import ECGSet

logger = logging.getLogger(__name__)

#: bump when a change to the training code makes old entries stale
CACHE_VERSION = 1


def default_cache_dir() -> str:
    """``$SSSD_HF_CACHE/classifiers``, else ``~/.cache/sssd_hf/classifiers``."""
    root = os.environ.get("SSSD_HF_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "sssd_hf")
    return os.path.join(root, "classifiers")


def fingerprint(ecgs: Optional[ECGSet]) -> str:
    """SHA-256 of the records of ``ecgs``: signal and label bytes, vocabulary, rate, leads ("none" for None)."""
    if ecgs is None:
        return "none"
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            [list(ecgs.label_names), ecgs.sampling_rate, list(ecgs.lead_names), list(ecgs.signal.shape)]
        ).encode()
    )
    digest.update(np.ascontiguousarray(ecgs.signal).tobytes())
    digest.update(np.ascontiguousarray(ecgs.labels).tobytes())
    return digest.hexdigest()


def cache_key(train: ECGSet, validation: Optional[ECGSet], settings: Dict) -> Tuple[str, Dict]:
    """``(key, description)`` of a training run; ``settings`` must be JSON-serialisable."""
    description = {
        "version": CACHE_VERSION,
        "train": fingerprint(train),
        "validation": fingerprint(validation),
        "train_name": train.name,
        "n_train": len(train),
        "validation_name": None if validation is None else validation.name,
        "settings": settings,
    }
    hashed = {k: v for k, v in description.items() if k not in ("train_name", "validation_name")}
    key = hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()[:32]
    return key, description


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No transformers progress bars ("Loading weights", "Writing model shards") in the evaluation log."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


class ClassifierCache:
    """Trained classifiers on disk under ``folder`` (see the module docstring)."""

    def __init__(self, folder: Optional[str] = None):
        self.folder = os.path.abspath(os.path.expanduser(folder or default_cache_dir()))

    def check_writable(self) -> None:
        """Create the folder; ``ValueError`` naming it when that is impossible (before any training)."""
        try:
            os.makedirs(self.folder, exist_ok=True)
        except OSError as exc:
            raise ValueError(
                f"classifier cache {self.folder} cannot be created ({exc}); use --cache-dir or --no-cache"
            ) from None
        if not os.access(self.folder, os.W_OK):
            raise ValueError(f"classifier cache {self.folder} is not writable; use --cache-dir or --no-cache")

    def load(self, key: str) -> Optional[Tuple[ECGClassifierModel, List[Dict]]]:
        """``(model in eval mode, history)`` stored under ``key``, or None (missing or unreadable entry)."""
        entry = os.path.join(self.folder, key)
        try:
            with open(os.path.join(entry, "history.json"), encoding="utf-8") as f:
                history = json.load(f)
            with _quiet_transformers():
                model = ECGClassifierModel.from_pretrained(os.path.join(entry, "model"))
        except FileNotFoundError:
            return None
        except Exception as exc:  # truncated weights (SafetensorError), bad JSON...: retrain and replace
            logger.warning(
                "classifier cache entry %s is unreadable (%s: %s); training again", entry, type(exc).__name__, exc
            )
            return None
        return model.eval(), history

    def store(self, key: str, model: ECGClassifierModel, history: List[Dict], description: Dict) -> str:
        """Write one entry atomically; returns its folder."""
        entry = os.path.join(self.folder, key)
        if os.path.isdir(entry):  # an unreadable entry (load returned None): replace it
            shutil.rmtree(entry, ignore_errors=True)
        with atomic_path(entry) as tmp:
            os.makedirs(tmp)
            with _quiet_transformers():
                model.save_pretrained(os.path.join(tmp, "model"))
            for name, value in (("history.json", history), ("meta.json", description)):
                with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                    json.dump(value, f, indent=2)
        return entry
