"""Noise schedulers.

The scheduler classes are imported on first use, so that importing :mod:`.samplers` (the
sampler registry the command line reads to build ``--help``) does not import torch/diffusers.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["SSSDECGScheduler", "SSSDECGSchedulerOutput"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(".scheduling_sssd_ecg", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
