"""sssd-hf: SSSD-ECG and SSSD-ECG-nle as a Hugging Face diffusers pipeline.

Quick start::

    import torch
    from sssd_hf import SSSDECGPipeline
    pipe = SSSDECGPipeline.from_pretrained("path/or/hub-id")
    out = pipe(labels=["NORM", "AFIB"], generator=torch.Generator().manual_seed(0))
    out.ecgs  # (2, 12, 1000) millivolts, leads I, II, III, aVR, aVL, aVF, V1-V6

The classes below are imported on first use, so ``import sssd_hf`` (and every worker process
of the data tools) does not pay for importing torch and diffusers.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "SSSDECGModel": "sssd_hf.models.modeling_sssd_ecg",
    "SSSDECGModelOutput": "sssd_hf.models.modeling_sssd_ecg",
    "SSSDECGPipeline": "sssd_hf.pipelines.pipeline_sssd_ecg",
    "SSSDECGPipelineOutput": "sssd_hf.pipelines.pipeline_sssd_ecg",
    "SSSDECGScheduler": "sssd_hf.schedulers.scheduling_sssd_ecg",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sssd_hf' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
