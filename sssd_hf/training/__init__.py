"""Training SSSD-ECG / SSSD-ECG-nle with accelerate (library side of ``training/train_sssd_ecg.py``).

- :mod:`~sssd_hf.training.config`: YAML configs with command-line overrides, strictly checked.
- :mod:`~sssd_hf.training.data`: dataset adapters and the deterministic, sharded data order.
- :mod:`~sssd_hf.training.trainer`: the loop (mixed precision, accumulation, clipping, EMA, CFG dropout).
- :mod:`~sssd_hf.training.checkpoints`: atomic checkpoints and exact resumption.
- :mod:`~sssd_hf.training.export`: the pipeline folder with EMA weights and a model card.

Needs the ``train`` extra: ``pip install sssd-hf[train]``.
"""

from .checkpoints import CheckpointError
from .config import ConfigError, TrainConfig, load_config

__all__ = ["CheckpointError", "ConfigError", "TrainConfig", "load_config", "run_training"]


def run_training(config, resume=None, argv=None):
    """Train with ``config`` (a :class:`TrainConfig`) and export; returns the pipeline folder."""
    from .trainer import run_training as _run

    return _run(config, resume=resume, argv=argv)
